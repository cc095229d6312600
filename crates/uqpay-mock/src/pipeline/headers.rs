//! The headers of a card request: the token, the account it acts for
//! (`x-on-behalf-of`) and its idempotency key.

use axum::http::HeaderMap;
use uuid::Uuid;

use crate::reply::Reply;
use crate::shared::Shared;

/// Parsed headers common to every card operation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Call {
    /// The account it acts for (`None`: the master account).
    pub(crate) account: Option<String>,
    /// Its idempotency key.
    pub(crate) key: Uuid,
}

/// The token, the account, then the idempotency key of a card operation.
pub(crate) fn check_headers(shared: &Shared, headers: &HeaderMap) -> Result<Call, Reply> {
    let account = check_auth(shared, headers)?;
    let key = match headers.get("x-idempotency-key") {
        None => {
            return Err(Reply::invalid_missing(
                "x-idempotency-key is required".into(),
                vec!["x-idempotency-key".into()],
            ))
        }
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .ok_or_else(|| Reply::invalid("x-idempotency-key: must be a UUID".into()))?,
    };
    Ok(Call { account, key })
}

/// The token, then the account a request acts for.
pub(crate) fn check_auth(shared: &Shared, headers: &HeaderMap) -> Result<Option<String>, Reply> {
    let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok());
    if let Err(e) = shared.tokens().check(token, shared.clock.unix_secs()) {
        return Err(Reply::unauthorized(e.message()));
    }
    match headers.get("x-on-behalf-of") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(account_id)
            .map(Some)
            .ok_or_else(|| {
                Reply::invalid(
                    "x-on-behalf-of: must be the account_id of a connected sub-account, a UUID \
                     or a short id of 4 to 32 letters and digits (omit the header to act as \
                     the master account)"
                        .into(),
                )
            }),
    }
}

/// The account an `x-on-behalf-of` value names: a UUID (in its canonical
/// lowercase form, so that any spelling of it is the same account), or a
/// short id of 4 to 32 ASCII letters and digits (`CB4488338944`, as UQPay's
/// MCP server passes them). UQPay's FAQ refuses an empty or malformed value;
/// anything else is refused here. Any such id is accepted as an account:
/// the simulator keeps no registry of sub-accounts.
pub(crate) fn account_id(value: &str) -> Option<String> {
    if let Ok(uuid) = Uuid::try_parse(value) {
        return Some(uuid.to_string());
    }
    ((4..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::{HeaderValue, StatusCode};

    use crate::shared::tests::{shared, TOKEN};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn message(reply: &Reply) -> serde_json::Value {
        serde_json::from_slice(&reply.body).unwrap()
    }

    #[test]
    fn an_account_is_a_uuid_in_any_spelling_or_a_short_id() {
        let uuid = "18523f72-f4de-4f9c-bb8e-ec7d1c4f32be";
        assert_eq!(account_id(uuid).as_deref(), Some(uuid));
        assert_eq!(account_id(&uuid.to_uppercase()).as_deref(), Some(uuid));
        assert_eq!(account_id("CB4488338944").as_deref(), Some("CB4488338944"));
        assert_eq!(account_id("abcd").as_deref(), Some("abcd"));
        assert_eq!(account_id(&"Z".repeat(32)).map(|a| a.len()), Some(32));
        // 32 hex digits are a UUID in its simple form: the same account as
        // the hyphenated one.
        assert_eq!(
            account_id("18523f72f4de4f9cbb8eec7d1c4f32be").as_deref(),
            Some(uuid)
        );
        for bad in [
            "",
            " ",
            "CB4",
            "acct_A",
            "not-a-uuid",
            "CB 4488338944",
            &"A".repeat(33),
        ] {
            assert_eq!(account_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_call_needs_a_token_then_a_uuid_key() {
        let shared = shared(None);
        let bearer = format!("Bearer {TOKEN}");
        let key = "5135e6cc-28b6-4889-81dc-3b86a09e1395";

        let refused = check_headers(&shared, &headers(&[("x-idempotency-key", key)])).unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        let refused = check_headers(&shared, &headers(&[("x-auth-token", TOKEN)])).unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "no Bearer scheme");

        let missing = check_headers(&shared, &headers(&[("x-auth-token", &bearer)])).unwrap_err();
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            message(&missing)["missing_fields"],
            serde_json::json!(["x-idempotency-key"])
        );
        let bad = headers(&[("x-auth-token", &bearer), ("x-idempotency-key", "123")]);
        let refused = check_headers(&shared, &bad).unwrap_err();
        assert_eq!(
            message(&refused)["message"],
            "x-idempotency-key: must be a UUID"
        );

        let good = headers(&[("x-auth-token", &bearer), ("x-idempotency-key", key)]);
        assert_eq!(
            check_headers(&shared, &good).unwrap(),
            Call {
                account: None,
                key: key.parse().unwrap()
            }
        );
        let mut other = good.clone();
        other.insert("x-on-behalf-of", HeaderValue::from_static("CB4488338944"));
        assert_eq!(
            check_headers(&shared, &other).unwrap().account.as_deref(),
            Some("CB4488338944")
        );
        other.insert("x-on-behalf-of", HeaderValue::from_static(""));
        let refused = check_headers(&shared, &other).unwrap_err();
        assert!(message(&refused)["message"]
            .as_str()
            .unwrap()
            .starts_with("x-on-behalf-of:"));
    }
}
