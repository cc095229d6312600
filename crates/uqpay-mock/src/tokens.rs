//! Access tokens: fixed ones configured up front, and JWT-shaped ones issued
//! by `POST /v1/connect/token`, which expire and are voided by the next one
//! issued to the same client id (UQPay keeps one live token per client id).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;

/// How long issued tokens live unless configured otherwise: UQPay's 30 minutes.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Whether a new token voids the earlier ones of its client id. UQPay's
/// Card Issuance FAQ says it does ("generating a new token immediately
/// invalidates all previously issued tokens"); its v1.6 quickstart says Card
/// Issuance tokens coexist. Which one holds cannot be settled from UQPay's
/// published material, so the simulator offers both; a client must be right
/// under either.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TokenPolicy {
    /// A new token voids every earlier token of the client id (the default:
    /// the harsher of the two).
    #[default]
    Void,
    /// Tokens live out their lifetime whatever is minted after them.
    Coexist,
}

impl std::str::FromStr for TokenPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "void" => Ok(Self::Void),
            "coexist" => Ok(Self::Coexist),
            other => Err(format!(
                "unknown token policy {other:?} (expected void or coexist)"
            )),
        }
    }
}

/// Why a token was refused (each a 401 `unauthorized_error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// No `x-auth-token`, or an empty one.
    Missing,
    /// A token without the `Bearer ` scheme (refused unless bare tokens are accepted).
    BareToken,
    /// Never issued.
    Unknown,
    /// Past its `expired_at`.
    Expired,
    /// A newer token was issued to the same client id.
    Voided,
}

impl TokenError {
    /// The message of the 401. "invalid auth token format" is the wording
    /// UQPay's FAQ quotes for a token without `Bearer `; "token expired" is
    /// what UQPay's SDKs look for before re-minting. The message for a
    /// superseded token is undocumented: this one is our choice.
    pub(crate) fn message(self) -> &'static str {
        match self {
            TokenError::Missing => "x-auth-token is required",
            TokenError::BareToken => "invalid auth token format: send x-auth-token: Bearer <token>",
            TokenError::Unknown => "invalid token",
            TokenError::Expired => "token expired",
            TokenError::Voided => {
                "token is no longer valid: a newer token was issued for this client id"
            }
        }
    }
}

#[derive(Debug)]
struct Issued {
    expired_at: u64,
    voided: bool,
}

#[derive(Debug)]
pub(crate) struct Tokens {
    fixed: HashSet<String>,
    issued: HashMap<String, Issued>,
    /// The live token of each client id.
    latest: HashMap<String, String>,
    pub(crate) lifetime: Duration,
    accept_bare: bool,
    policy: TokenPolicy,
    minted: u64,
}

impl Tokens {
    pub(crate) fn new(
        fixed: impl IntoIterator<Item = String>,
        lifetime: Duration,
        accept_bare: bool,
        policy: TokenPolicy,
    ) -> Self {
        Self {
            fixed: fixed.into_iter().collect(),
            issued: HashMap::new(),
            latest: HashMap::new(),
            lifetime,
            accept_bare,
            policy,
            minted: 0,
        }
    }

    /// Issues a JWT-shaped token for `client_id` at `now` (unix seconds),
    /// voiding every earlier token of that client id under
    /// [`TokenPolicy::Void`]; returns it and its expiry (unix seconds,
    /// saturating).
    pub(crate) fn issue(&mut self, client_id: &str, now: u64) -> (String, u64) {
        let expired_at = now.saturating_add(self.lifetime.as_secs());
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
        if let Some(previous) = self.latest.insert(client_id.to_owned(), token.clone()) {
            if let Some(previous) = self.issued.get_mut(&previous) {
                previous.voided = self.policy == TokenPolicy::Void;
            }
        }
        // Forget tokens that died more than a day ago (they would be
        // refused as unknown instead of expired: the same 401).
        self.issued
            .retain(|_, t| t.expired_at.saturating_add(86_400) > now);
        self.issued.insert(
            token.clone(),
            Issued {
                expired_at,
                voided: false,
            },
        );
        self.minted += 1;
        (token, expired_at)
    }

    /// Checks the `x-auth-token` header value at `now` (unix seconds).
    pub(crate) fn check(&self, header: Option<&str>, now: u64) -> Result<(), TokenError> {
        let value = header.map(str::trim).filter(|h| !h.is_empty());
        let value = value
            .filter(|v| !v.eq_ignore_ascii_case("bearer"))
            .ok_or(TokenError::Missing)?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ if self.accept_bare => value,
            _ => return Err(TokenError::BareToken),
        };
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if self.fixed.contains(token) {
            return Ok(());
        }
        match self.issued.get(token) {
            Some(issued) if issued.voided => Err(TokenError::Voided),
            Some(issued) if now >= issued.expired_at => Err(TokenError::Expired),
            Some(_) => Ok(()),
            None => Err(TokenError::Unknown),
        }
    }

    /// Makes every issued token expire now (fixed tokens stay valid).
    pub(crate) fn expire_all(&mut self) {
        for issued in self.issued.values_mut() {
            issued.expired_at = 0;
        }
    }

    /// How many tokens the token endpoint issued.
    pub(crate) fn issued_count(&self) -> u64 {
        self.minted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[test]
    fn issued_tokens_are_jwt_shaped_and_expire() {
        let mut tokens = Tokens::new(
            ["fixed".to_owned()],
            DEFAULT_TOKEN_LIFETIME,
            false,
            TokenPolicy::Void,
        );
        let (token, expired_at) = tokens.issue("client-1", NOW);
        assert_eq!(expired_at, NOW + 1800);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["client_id"], "client-1");
        assert_eq!(payload["exp"], expired_at);
        assert_eq!(tokens.check(Some(&bearer(&token)), NOW), Ok(()));
        assert_eq!(tokens.check(Some(&format!("bearer  {token}")), NOW), Ok(()));
        assert_eq!(tokens.check(Some(&bearer("fixed")), NOW), Ok(()));
        assert_eq!(
            tokens.check(Some(&bearer("other")), NOW),
            Err(TokenError::Unknown)
        );
        assert_eq!(tokens.check(None, NOW), Err(TokenError::Missing));
        assert_eq!(tokens.check(Some("Bearer "), NOW), Err(TokenError::Missing));
        assert_eq!(
            tokens.check(Some(&bearer(&token)), NOW + 1800),
            Err(TokenError::Expired)
        );
        tokens.expire_all();
        assert_eq!(
            tokens.check(Some(&bearer(&token)), NOW),
            Err(TokenError::Expired)
        );
        assert_eq!(tokens.check(Some(&bearer("fixed")), NOW), Ok(()));
    }

    #[test]
    fn bare_tokens_are_refused_unless_accepted() {
        let strict = Tokens::new(
            ["fixed".to_owned()],
            DEFAULT_TOKEN_LIFETIME,
            false,
            TokenPolicy::Void,
        );
        assert_eq!(strict.check(Some("fixed"), NOW), Err(TokenError::BareToken));
        assert!(TokenError::BareToken
            .message()
            .contains("invalid auth token format"));
        let lenient = Tokens::new(
            ["fixed".to_owned()],
            DEFAULT_TOKEN_LIFETIME,
            true,
            TokenPolicy::Void,
        );
        assert_eq!(lenient.check(Some("fixed"), NOW), Ok(()));
        assert_eq!(lenient.check(Some("Bearer fixed"), NOW), Ok(()));
    }

    #[test]
    fn a_new_token_voids_the_earlier_ones_of_its_client_id_only() {
        let mut tokens = Tokens::new([], DEFAULT_TOKEN_LIFETIME, false, TokenPolicy::Void);
        let (first, _) = tokens.issue("a", NOW);
        let (other, _) = tokens.issue("b", NOW);
        let (second, _) = tokens.issue("a", NOW + 1);
        assert_eq!(
            tokens.check(Some(&bearer(&first)), NOW + 2),
            Err(TokenError::Voided)
        );
        assert_eq!(tokens.check(Some(&bearer(&second)), NOW + 2), Ok(()));
        assert_eq!(tokens.check(Some(&bearer(&other)), NOW + 2), Ok(()));
        assert_eq!(tokens.issued_count(), 3);
        // Under the other reading of UQPay's docs, they coexist.
        let mut coexisting = Tokens::new([], DEFAULT_TOKEN_LIFETIME, false, TokenPolicy::Coexist);
        let (first, _) = coexisting.issue("a", NOW);
        let (second, _) = coexisting.issue("a", NOW + 1);
        assert_eq!(coexisting.check(Some(&bearer(&first)), NOW + 2), Ok(()));
        assert_eq!(coexisting.check(Some(&bearer(&second)), NOW + 2), Ok(()));
        assert_eq!("coexist".parse(), Ok(TokenPolicy::Coexist));
        assert!("maybe".parse::<TokenPolicy>().is_err());
    }

    #[test]
    fn zero_lifetime_tokens_are_born_expired_and_huge_ones_saturate() {
        let mut tokens = Tokens::new([], Duration::ZERO, false, TokenPolicy::Void);
        let (token, _) = tokens.issue("c", NOW);
        assert_eq!(
            tokens.check(Some(&bearer(&token)), NOW),
            Err(TokenError::Expired)
        );
        let mut forever = Tokens::new([], Duration::from_secs(u64::MAX), false, TokenPolicy::Void);
        let (token, expired_at) = forever.issue("c", NOW);
        assert_eq!(expired_at, u64::MAX);
        assert_eq!(forever.check(Some(&bearer(&token)), NOW), Ok(()));
    }
}
