//! Access tokens: fixed ones configured up front, and JWT-shaped ones issued
//! by `POST /v1/connect/token` that expire.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    Missing,
    Unknown,
    Expired,
}

impl TokenError {
    pub(crate) fn message(self) -> &'static str {
        match self {
            TokenError::Missing => "x-auth-token is required",
            TokenError::Unknown => "invalid x-auth-token",
            TokenError::Expired => "x-auth-token has expired",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Tokens {
    fixed: HashSet<String>,
    issued: HashMap<String, u64>,
    pub(crate) lifetime: Duration,
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Tokens {
    pub(crate) fn new(fixed: impl IntoIterator<Item = String>, lifetime: Duration) -> Self {
        Self {
            fixed: fixed.into_iter().collect(),
            issued: HashMap::new(),
            lifetime,
        }
    }

    /// Issues a JWT-shaped token for `client_id`; returns it and its expiry
    /// (unix seconds).
    pub(crate) fn issue(&mut self, client_id: &str) -> (String, u64) {
        let now = now_unix();
        let expired_at = now + self.lifetime.as_secs();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = serde_json::json!({
            "entity_id": format!("mock-entity-{client_id}"),
            "client_id": client_id,
            "jti": uuid::Uuid::new_v4(),
            "iat": now,
            "exp": expired_at,
        });
        let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
        let mut signature = [0u8; 32];
        rand::rng().fill_bytes(&mut signature);
        let token = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(signature));
        self.issued.insert(token.clone(), expired_at);
        (token, expired_at)
    }

    /// Checks the `x-auth-token` header value (a leading `Bearer ` is
    /// accepted, as UQPay's own SDKs send one).
    pub(crate) fn check(&self, header: Option<&str>) -> Result<(), TokenError> {
        let token = header
            .map(|h| h.strip_prefix("Bearer ").unwrap_or(h).trim())
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Missing)?;
        if self.fixed.contains(token) {
            return Ok(());
        }
        match self.issued.get(token) {
            Some(&expired_at) if now_unix() < expired_at => Ok(()),
            Some(_) => Err(TokenError::Expired),
            None => Err(TokenError::Unknown),
        }
    }

    /// Makes every issued token expire now (fixed tokens stay valid).
    pub(crate) fn expire_all(&mut self) {
        for expiry in self.issued.values_mut() {
            *expiry = 0;
        }
    }

    pub(crate) fn issued_count(&self) -> usize {
        self.issued.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_are_jwt_shaped_and_expire() {
        let mut tokens = Tokens::new(["fixed".to_owned()], Duration::from_secs(3600));
        let (token, expired_at) = tokens.issue("client-1");
        assert!(expired_at >= now_unix() + 3599);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["client_id"], "client-1");
        assert_eq!(payload["exp"], expired_at);
        assert_eq!(tokens.check(Some(&token)), Ok(()));
        assert_eq!(tokens.check(Some(&format!("Bearer {token}"))), Ok(()));
        assert_eq!(tokens.check(Some("fixed")), Ok(()));
        assert_eq!(tokens.check(Some("other")), Err(TokenError::Unknown));
        assert_eq!(tokens.check(None), Err(TokenError::Missing));
        tokens.expire_all();
        assert_eq!(tokens.check(Some(&token)), Err(TokenError::Expired));
        assert_eq!(tokens.check(Some("fixed")), Ok(()));
    }

    #[test]
    fn zero_lifetime_tokens_are_born_expired() {
        let mut tokens = Tokens::new([], Duration::ZERO);
        let (token, _) = tokens.issue("c");
        assert_eq!(tokens.check(Some(&token)), Err(TokenError::Expired));
    }
}
