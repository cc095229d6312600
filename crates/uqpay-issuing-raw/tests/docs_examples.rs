//! The request and response examples of UQPay's endpoint pages (kept verbatim
//! under `data/`) parse into the generated types and serialise back
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
    let path = format!("{}/data/{name}", env!("CARGO_MANIFEST_DIR"));
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
    assert_eq!(
        without_nulls(original),
        without_nulls(again),
        "{name} does not round-trip"
    );
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

#[test]
fn retrieve_card_example() {
    use uqpay_issuing_raw::types::Card;
    let card: Card = round_trip("retrieve_card.response.json");
    assert_eq!(
        card.card_status,
        ReportedCardStatus::Known(CardState::Active)
    );
    // Money from JSON numbers, exact.
    assert_eq!(card.card_limit.unwrap().to_string(), "2100.02");
    assert_eq!(card.available_balance.unwrap().to_string(), "2000.05");
    assert_eq!(
        card.spending_controls.as_ref().unwrap()[0]
            .amount
            .unwrap()
            .to_string(),
        "100.03"
    );
    // As sent: the glued currency, the consumed amount, the zone-less date.
    assert_eq!(card.no_pin_payment_amount.as_deref(), Some("2000USD"));
    assert_eq!(card.consumed_amount.as_deref(), Some("51.00"));
    let holder = card.cardholder.as_ref().unwrap();
    assert_eq!(holder.create_time.as_deref(), Some("2024-05-09 15:52:23"));
    assert_eq!(holder.number_of_cards, Some(1));
    assert_eq!(
        card.card_number.as_ref().unwrap().to_string(),
        "************5668"
    );
    // A card without anything but its id and status still parses.
    let minimal: Card = serde_json::from_str(
        r#"{"card_id":"c0cef051-29c5-4796-b86a-cd5b684bfad7","card_status":"PRE_CANCEL","metadata":"","spending_controls":null}"#,
    )
    .unwrap();
    assert_eq!(minimal.card_status.to_string(), "PRE_CANCEL");
    assert_eq!(minimal.card_status.known(), Some(CardState::PreCancel));
}

/// Every published event parses into the envelope and its typed data, and
/// serialises back to the same JSON.
#[test]
fn webhook_examples() {
    use uqpay_issuing_raw::events::EventData;
    use uqpay_issuing_raw::types::WebhookEvent;
    let dir = format!("{}/data/webhooks", env!("CARGO_MANIFEST_DIR"));
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let event: WebhookEvent = round_trip(&format!("webhooks/{name}"));
        let data = serde_json::to_string(event.data.as_ref().unwrap()).unwrap();
        let text = fixture(&format!("webhooks/{name}"));
        let raw: Value = serde_json::from_str(&text).unwrap();
        let data_text = raw["data"].to_string();
        let typed = EventData::from_json(&event.event_type, &data_text)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!matches!(typed, EventData::Unknown(_)), "{name}");
        // Typed, it writes back the same data (numbers and strings kept).
        let back: Value = match &typed {
            EventData::CardCreated(d) => serde_json::to_value(d),
            EventData::CardUpdated(d) => serde_json::to_value(d),
            EventData::CardStatusUpdated(d) => serde_json::to_value(d),
            EventData::ActivationCode(d) => serde_json::to_value(d),
            EventData::ActivationStatus(d) => serde_json::to_value(d),
            EventData::Unknown(v) => Ok(v.clone()),
        }
        .unwrap();
        assert_eq!(without_nulls(raw["data"].clone()), back, "{name}");
        let _ = data;
        seen.push((name, typed));
    }
    assert_eq!(seen.len(), 6);
    for (name, typed) in &seen {
        match typed {
            EventData::CardStatusUpdated(d) => {
                assert_eq!(d.card_status.as_ref().unwrap().to_string(), "CANCELLED");
                assert_eq!(d.update_reason.as_deref(), Some(" card test"));
                assert_eq!(d.available_balance.unwrap().to_string(), "500");
            }
            EventData::CardUpdated(d) => {
                assert!(d.order_status.is_some(), "{name}");
                let limit = d.card_limit.unwrap().to_string();
                assert!(limit == "1000" || limit == "2100.02", "{name}: {limit}");
            }
            EventData::ActivationCode(d) => {
                let code = d.activation_code.as_ref().unwrap();
                assert_eq!(code.expose(), "57609685");
                assert!(!format!("{typed:?}").contains("57609685"));
            }
            _ => {}
        }
    }
}

#[test]
fn unknown_event_types_keep_their_data() {
    use uqpay_issuing_raw::events::EventData;
    let data =
        EventData::from_json("card.recharge.succeeded", r#"{"amount":"10","x":[1]}"#).unwrap();
    assert_eq!(
        data,
        EventData::Unknown(serde_json::json!({"amount": "10", "x": [1]}))
    );
}
