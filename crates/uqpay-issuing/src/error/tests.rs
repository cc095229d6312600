//! The unit tests of [`Error`](super::Error): the documented vocabulary, the
//! predicates, what `Display` says.

use super::*;

fn api(status: u16, kind: Option<&str>, code: Option<&str>, message: &str) -> Error {
    Error::Api {
        status,
        kind: ErrorKind::from_type_or_status(kind, status),
        typed: kind.is_some(),
        code: code.map(Into::into),
        message: message.into(),
        missing_fields: Box::default(),
        retry_after: None,
        attempts: 1,
        idempotency_key: None,
    }
}

#[test]
fn the_documented_vocabulary() {
    let missing = api(
        400,
        Some("card_error"),
        Some("card_not_found"),
        "card not found or deactivated",
    );
    assert!(missing.is_not_found() && !missing.is_retryable());
    assert_eq!(missing.kind(), Some(&ErrorKind::Card));
    assert_eq!(missing.code(), Some("card_not_found"));
    for (kind, expected) in [
        ("invalid_request_error", ErrorKind::InvalidRequest),
        ("cardholder_error", ErrorKind::Cardholder),
        ("account_error", ErrorKind::Account),
        ("idempotency_error", ErrorKind::Idempotency),
        ("unauthorized_error", ErrorKind::Unauthorized),
        ("api_error", ErrorKind::Api),
    ] {
        assert_eq!(ErrorKind::from_type_or_status(Some(kind), 400), expected);
        assert_eq!(expected.as_str(), kind);
    }
    assert_eq!(
        ErrorKind::from_type_or_status(Some("brand_new_error"), 400),
        ErrorKind::Other("brand_new_error".into())
    );
    let processing = api(
        400,
        None,
        Some("200"),
        "Request is processing, please try again later",
    );
    assert!(processing.is_processing() && processing.is_retryable());
    assert!(!processing.is_idempotency_conflict());
    let reused = api(
        400,
        Some("idempotency_error"),
        Some("idempotency_key_reused"),
        "x",
    );
    assert!(reused.is_idempotency_conflict() && !reused.is_retryable());
    let limited = api(429, None, Some("too_many_requests"), "Too many requests");
    assert!(limited.is_rate_limited() && limited.is_retryable());
    assert_eq!(limited.kind(), Some(&ErrorKind::RateLimit));
    let forbidden = api(403, Some("unauthorized_error"), Some("forbidden"), "no");
    assert!(forbidden.is_forbidden() && !forbidden.is_retryable());
    assert!(api(500, Some("api_error"), None, "").is_retryable());
    assert!(api(503, None, None, "").is_retryable());
    assert!(api(408, None, None, "").is_retryable());
    assert!(!api(400, None, None, "").is_retryable());
    assert!(api(404, None, None, "").is_not_found());
}

#[test]
fn processing_is_recognised_by_what_uqpay_sends_not_by_a_quote() {
    // A validation error that quotes the phrase is not "processing".
    let quoted = api(
        400,
        Some("invalid_request_error"),
        Some("invalid_request_error"),
        "request is processing",
    );
    assert!(!quoted.is_processing() && !quoted.is_retryable());
    let inside = api(400, None, Some("1"), "your request is processing? no");
    assert!(!inside.is_processing());
    let other_status = api(409, None, None, "Request is processing");
    assert!(!other_status.is_processing());
}

#[test]
fn exhausted_retries_are_as_retryable_as_their_last_error() {
    let exhausted = |last: Error| Error::RetriesExhausted {
        attempts: 3,
        idempotency_key: Some(Uuid::nil()),
        last: Box::new(last),
    };
    assert!(exhausted(api(503, None, None, "")).is_retryable());
    assert!(exhausted(Error::Timeout {
        idempotency_key: None
    })
    .is_retryable());
    assert!(!exhausted(api(400, Some("card_error"), None, "")).is_retryable());
}

#[test]
fn token_errors_delegate_to_their_cause() {
    let outage = Error::Token {
        source: Box::new(api(503, Some("api_error"), None, "down")),
        refused: Some("token expired".into()),
        attempts: 1,
        idempotency_key: None,
    };
    assert!(outage.is_retryable());
    assert_eq!(outage.status(), Some(503));
    let text = outage.to_string();
    assert!(
        text.contains("token expired") && text.contains("down"),
        "{text}"
    );
    let refused = Error::Token {
        source: Box::new(Error::Unauthorized {
            message: "bad key".into(),
            attempts: 1,
            idempotency_key: None,
        }),
        refused: None,
        attempts: 1,
        idempotency_key: None,
    };
    assert!(!refused.is_retryable() && refused.is_unauthorized());
    assert!(Error::TokenStore {
        message: "redis down".into()
    }
    .is_retryable());
}

#[test]
fn validation_reasons_never_quote_a_card_number() {
    for pan in [
        "4096360800133951",
        "4096 3608 0013 3951",
        "4096-3608-0013-3951",
    ] {
        let error = Error::validation("card_currency", format!("got {pan:?}"));
        assert!(!error.to_string().contains(pan), "{error}");
        assert!(!format!("{error:?}").contains(pan), "{error:?}");
    }
}

#[test]
fn display_is_informative() {
    let key = Uuid::nil();
    let error = Error::RetriesExhausted {
        attempts: 3,
        idempotency_key: Some(key),
        last: Box::new(Error::Api {
            status: 503,
            kind: ErrorKind::Api,
            typed: true,
            code: Some("internal_error".into()),
            message: "busy".into(),
            missing_fields: Box::default(),
            retry_after: None,
            attempts: 3,
            idempotency_key: Some(key),
        }),
    };
    let text = error.to_string();
    assert!(text.contains("3 attempts"), "{text}");
    assert!(
        text.contains("503 api_error [internal_error]: busy"),
        "{text}"
    );
    assert_eq!(error.status(), Some(503));
    assert_eq!(error.attempts(), 3);
    assert_eq!(error.idempotency_key(), Some(key));
    assert_eq!(
        Error::validation("name_on_card", "must be at most 26 characters, got 27").to_string(),
        "invalid name_on_card: must be at most 26 characters, got 27"
    );
}
