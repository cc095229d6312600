//! The request and response examples of UQPay's endpoint pages (kept verbatim
//! under `tests/fixtures/`) parse into the generated types and serialise back
//! to the same JSON.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use uqpay_issuing_raw::types::{
    AssignCardRequest, AssignCardResponse, CardMode, CardState, CardStatus, OrderState,
    ReportedCardStatus, ReportedOrderStatus, SpendingInterval, UpdateCardRequest,
    UpdateCardResponse, UpdateCardStatusRequest, UpdateCardStatusResponse, YesNo,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `null` members mean "not set" in the docs' examples; the generated types
/// leave unset optional members out. Drop them before comparing.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Parses the fixture into `T`, serialises it back and checks that the JSON
/// is the same, number tokens included (compared as text, so that `2100.02`
/// coming back as `2100.0199999` would fail).
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let text = fixture(name);
    let parsed: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let back = serde_json::to_string(&parsed).unwrap();
    let original: Value = serde_json::from_str(&text).unwrap();
    let again: Value = serde_json::from_str(&back).unwrap();
    assert_eq!(without_nulls(original), again, "{name} does not round-trip");
    // Every number token of the fixture reappears verbatim.
    for token in ["2100.02", "100.03"] {
        if text.contains(token) {
            assert!(
                back.contains(token),
                "{name}: {token} changed on the way back: {back}"
            );
        }
    }
    parsed
}

#[test]
fn assign_card_examples() {
    let request: AssignCardRequest = round_trip("assign_card.request.json");
    assert_eq!(request.card_mode, CardMode::Single);
    assert_eq!(request.card_number.expose(), "4096360800133951");
    assert_eq!(request.card_currency.as_str(), "USD");

    let response: AssignCardResponse = round_trip("assign_card.response.json");
    assert_eq!(
        response.card_status,
        ReportedCardStatus::Known(CardState::Active)
    );
    assert_eq!(
        response.order_status,
        ReportedOrderStatus::Known(OrderState::Pending)
    );
    assert_eq!(
        response.card_id.to_string(),
        "c0cef051-29c5-4796-b86a-cd5b684bfad7"
    );
    // The +08:00 offset is kept, not converted to UTC.
    assert_eq!(response.create_time.offset().local_minus_utc(), 8 * 3600);
    assert_eq!(
        response.create_time.to_rfc3339(),
        "2024-03-21T17:17:32+08:00"
    );
}

#[test]
fn update_card_status_examples() {
    let request: UpdateCardStatusRequest = round_trip("update_card_status.request.json");
    assert_eq!(request.card_status, CardStatus::Frozen);
    assert_eq!(
        request.update_reason.as_deref().map(|r| r.as_str()),
        Some("<string>")
    );

    let response: UpdateCardStatusResponse = round_trip("update_card_status.response.json");
    assert_eq!(
        response.order_status,
        ReportedOrderStatus::Known(OrderState::Pending)
    );
    assert_eq!(response.update_reason.as_deref(), Some("<string>"));
}

#[test]
fn update_card_examples() {
    let request: UpdateCardRequest = round_trip("update_card.request.json");
    assert_eq!(request.card_limit.unwrap().to_string(), "2100.02");
    assert_eq!(request.no_pin_payment_amount.unwrap().to_string(), "100");
    assert_eq!(
        request.name_on_card.as_deref().map(|n| n.as_str()),
        Some("MARSHALL HU")
    );
    assert_eq!(request.spending_controls.len(), 1);
    assert_eq!(request.spending_controls[0].amount.to_string(), "100.03");
    assert_eq!(
        request.spending_controls[0].interval,
        SpendingInterval::PerTransaction
    );
    let risk = request.risk_controls.as_ref().unwrap();
    assert_eq!(risk.enable_3ds, Some(YesNo::Y));
    assert_eq!(risk.allowed_mcc, None);
    let blocked: Vec<&str> = risk
        .blocked_mcc
        .iter()
        .flatten()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(blocked, ["5999", "6011"]);
    assert_eq!(request.metadata.as_ref().unwrap()["key2"], "value2");

    let response: UpdateCardResponse = round_trip("update_card.response.json");
    assert_eq!(
        response.order_status,
        ReportedOrderStatus::Known(OrderState::Success)
    );
}

#[test]
fn unknown_statuses_and_fields_still_parse() {
    let body = r#"{
        "card_id": "c0cef051-29c5-4796-b86a-cd5b684bfad7",
        "card_order_id": "x",
        "card_status": "SUSPENDED_BY_NETWORK",
        "order_status": "QUEUED",
        "a_field_from_the_future": {"nested": true}
    }"#;
    let response: UpdateCardResponse = serde_json::from_str(body).unwrap();
    match &response.card_status {
        ReportedCardStatus::Unknown(raw) => assert_eq!(raw.as_str(), "SUSPENDED_BY_NETWORK"),
        other => panic!("expected Unknown, got {other:?}"),
    }
    match &response.order_status {
        ReportedOrderStatus::Unknown(raw) => assert_eq!(raw.as_str(), "QUEUED"),
        other => panic!("expected Unknown, got {other:?}"),
    }
    // Re-serialised, the unknown value is kept as it came.
    let back = serde_json::to_value(&response).unwrap();
    assert_eq!(back["card_status"], "SUSPENDED_BY_NETWORK");
}

#[test]
fn all_three_error_shapes_parse() {
    use uqpay_issuing_raw::types::{ApiError, ErrorCode};
    let current: ApiError = serde_json::from_str(
        r#"{"type":"invalid_request_error","code":"invalid_request","message":"bad","missing_fields":["card_mode"]}"#,
    )
    .unwrap();
    assert_eq!(current.type_.as_deref(), Some("invalid_request_error"));
    assert_eq!(
        current.code,
        Some(ErrorCode::Text("invalid_request".into()))
    );
    assert_eq!(current.missing_fields, ["card_mode"]);
    let older: ApiError = serde_json::from_str(r#"{"code":10001,"message":"bad"}"#).unwrap();
    assert_eq!(older.code, Some(ErrorCode::Number(10001)));
    let gateway: ApiError = serde_json::from_str(r#"{"error":"invalid token"}"#).unwrap();
    assert_eq!(gateway.error.as_deref(), Some("invalid token"));
}
