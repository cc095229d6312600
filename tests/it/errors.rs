//! UQPay's errors, as its error guide and SDKs record them: every
//! documented shape mapped to its kind, code and helpers (retryable, not
//! found, forbidden, rate limited, processing), the legacy "processing"
//! answer, and the simulator's card rules as final 400 card errors.

use rust_decimal_macros::dec;
use uqpay_e2e::{assign_request, client, pan, simulator, Canned};
use uqpay_issuing::{CardMode, CardStatus, Error, ErrorKind};
use uqpay_mock::Route;
use uuid::Uuid;

use crate::support::{answer_with, assign};

#[tokio::test]
async fn every_documented_error_shape_maps_to_its_kind_and_helpers() {
    struct Case {
        status: u16,
        body: &'static str,
        kind: Option<ErrorKind>,
        code: Option<&'static str>,
        retryable: bool,
    }
    let cases = [
        Case {
            status: 400,
            body: r#"{"type":"card_error","code":"card_not_found","message":"card not found or deactivated"}"#,
            kind: Some(ErrorKind::Card),
            code: Some("card_not_found"),
            retryable: false,
        },
        Case {
            status: 400,
            body: r#"{"type":"account_error","code":"insufficient_balance","message":"no money"}"#,
            kind: Some(ErrorKind::Account),
            code: Some("insufficient_balance"),
            retryable: false,
        },
        Case {
            status: 400,
            body: r#"{"type":"cardholder_error","code":"kyc_insufficient","message":"m","missing_fields":["date_of_birth"]}"#,
            kind: Some(ErrorKind::Cardholder),
            code: Some("kyc_insufficient"),
            retryable: false,
        },
        // The legacy flat 400: numeric code, no type.
        Case {
            status: 400,
            body: r#"{"code":10001,"message":"parameter error"}"#,
            kind: Some(ErrorKind::InvalidRequest),
            code: Some("10001"),
            retryable: false,
        },
        Case {
            status: 403,
            body: r#"{"type":"unauthorized_error","code":"forbidden","message":"no permission"}"#,
            kind: Some(ErrorKind::Unauthorized),
            code: Some("forbidden"),
            retryable: false,
        },
        Case {
            status: 429,
            body: r#"{"code":"too_many_requests","message":"Too many requests have been made to the api."}"#,
            kind: Some(ErrorKind::RateLimit),
            code: Some("too_many_requests"),
            retryable: true,
        },
        Case {
            status: 500,
            body: r#"{"type":"api_error","code":"api_error","message":"boom"}"#,
            kind: Some(ErrorKind::Api),
            code: Some("api_error"),
            retryable: true,
        },
    ];
    for case in cases {
        let (_server, result) = answer_with(Canned::json(case.status, case.body), 0).await;
        let error = result.unwrap_err();
        assert_eq!(error.status(), Some(case.status), "{}", case.body);
        assert_eq!(error.kind(), case.kind.as_ref(), "{}", case.body);
        assert_eq!(error.code(), case.code, "{}", case.body);
        assert_eq!(error.is_retryable(), case.retryable, "{}", case.body);
        assert_eq!(
            error.is_not_found(),
            case.code == Some("card_not_found"),
            "{}",
            case.body
        );
        assert_eq!(error.is_forbidden(), case.status == 403, "{}", case.body);
        assert_eq!(error.is_rate_limited(), case.status == 429, "{}", case.body);
        assert!(!error.is_processing(), "{}", case.body);
    }
    // The gateway's 401 `{"error": ...}` with a fixed token: Unauthorized.
    let (_server, result) = answer_with(Canned::json(401, r#"{"error":"invalid token"}"#), 2).await;
    let error = result.unwrap_err();
    assert!(matches!(&error, Error::Unauthorized { message, .. } if message == "invalid token"));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn the_legacy_processing_answer_is_retried_and_a_quoted_one_is_not() {
    let processing = r#"{"code":200,"message":"Request is processing, please try again later"}"#;
    let (server, result) = answer_with(Canned::json(400, processing), 2).await;
    let error = result.unwrap_err();
    assert!(error.is_processing() && error.is_retryable(), "{error}");
    assert_eq!(server.seen().len(), 3, "retried twice");
    assert_eq!(error.attempts(), 3);
    let quoted = r#"{"type":"invalid_request_error","code":"invalid_request_error","message":"request is processing"}"#;
    let (server, result) = answer_with(Canned::json(400, quoted), 2).await;
    let error = result.unwrap_err();
    assert!(!error.is_processing() && !error.is_retryable(), "{error}");
    assert_eq!(server.seen().len(), 1, "not retried");
}

#[tokio::test]
async fn card_rule_violations_are_400_card_errors_and_not_retried() {
    let server = simulator().await;
    let client = client(&server, 5);
    let card = assign(&client, &pan(12), CardMode::Single).await;
    let error = assign_request(&client, &pan(12), CardMode::Single)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
    assert_eq!(error.kind(), Some(&ErrorKind::Card));
    assert_eq!(error.code(), Some("card_already_assigned"));
    assert!(!error.is_retryable() && !error.is_not_found());
    assert_eq!(error.attempts(), 1);
    assert_eq!(server.requests_received(Route::AssignCard), 2);
    // card_limit on a SINGLE card, a status change a cancelled card does not
    // allow, an update of a cancelled card: each a specific card_error.
    let error = client
        .update_card(card)
        .card_limit(dec!(1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("card_limit_not_allowed"), "{error}");
    client
        .update_card_status(card)
        .card_status(CardStatus::Cancelled)
        .send()
        .await
        .unwrap();
    let error = client
        .update_card_status(card)
        .card_status(CardStatus::Active)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("invalid_status_transition"), "{error}");
    let error = client
        .update_card(card)
        .name_on_card("LATE")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("card_cancelled"), "{error}");
    // Nor is an unknown card retried: a 400, recognised as not found.
    let before = server.requests_received(Route::UpdateCard);
    let error = client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .send()
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(server.requests_received(Route::UpdateCard), before + 1);
}
