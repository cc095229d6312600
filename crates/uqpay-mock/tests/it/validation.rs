//! Validation: each rule names its field and changes nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uqpay_mock::Route;
use uuid::Uuid;

use crate::support::{api, assign_body, pan, Api, AUTH};

async fn assert_refused(api: &Api, path: &str, body: &str, field: &str) {
    let before = api.server.cards();
    let key = Uuid::new_v4().to_string();
    let answer = api
        .send(
            path,
            &[("x-auth-token", AUTH), ("x-idempotency-key", &key)],
            body,
        )
        .await;
    let error = answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    let message = error["message"].as_str().unwrap();
    let named = message.contains(field)
        || error["missing_fields"]
            .as_array()
            .is_some_and(|m| m.iter().any(|f| f == field));
    assert!(named, "{body}: the error does not name {field}: {error}");
    assert_eq!(api.server.cards(), before, "{body} changed state");
}

#[tokio::test]
async fn invalid_assign_requests_are_refused_naming_the_field() {
    let api = api().await;
    let path = "/v1/issuing/cards/assign";
    let ok = assign_body(&pan(11), "SINGLE");
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    assert_refused(&api, path, &with("card_mode", json!("DOUBLE")), "card_mode").await;
    assert_refused(&api, path, &with("card_mode", json!(1)), "card_mode").await;
    assert_refused(
        &api,
        path,
        &with("cardholder_id", json!("not-a-uuid")),
        "cardholder_id",
    )
    .await;
    assert_refused(
        &api,
        path,
        &with("card_number", json!("4096")),
        "card_number",
    )
    .await;
    assert_refused(
        &api,
        path,
        &with("card_number", json!("4".repeat(20))),
        "card_number",
    )
    .await;
    assert_refused(
        &api,
        path,
        &with("card_number", json!("40963608001339ab")),
        "card_number",
    )
    .await;
    assert_refused(
        &api,
        path,
        &with("card_number", json!(4096360800133951u64)),
        "card_number",
    )
    .await;
    assert_refused(
        &api,
        path,
        &with("card_currency", json!("US")),
        "card_currency",
    )
    .await;
    for field in ["cardholder_id", "card_number", "card_currency", "card_mode"] {
        assert_refused(&api, path, &without(field), field).await;
    }
    // Not JSON, not an object, empty.
    for body in ["{\"card_mode\": ", "[1,2]", "", "null"] {
        let key = Uuid::new_v4().to_string();
        let answer = api
            .send(
                path,
                &[("x-auth-token", AUTH), ("x-idempotency-key", &key)],
                body,
            )
            .await;
        answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    }
    assert!(api.server.cards().is_empty());
    assert_eq!(api.server.requests_committed(Route::AssignCard), 0);
}

#[tokio::test]
async fn invalid_updates_are_refused_naming_the_field() {
    let api = api().await;
    let card = api.assign(&pan(12)).await;
    let path = format!("/v1/issuing/cards/{card}");
    let cases = [
        (json!({"name_on_card": "A".repeat(27)}), "name_on_card"),
        (json!({"name_on_card": ""}), "name_on_card"),
        (json!({"card_limit": -0.01}), "card_limit"),
        (json!({"card_limit": "lots"}), "card_limit"),
        (json!({"card_limit": true}), "card_limit"),
        // The spec's Amount is a JSON number: no string, however numeric,
        // and none of the forms a lax decimal parser takes.
        (json!({"card_limit": "100"}), "card_limit"),
        (json!({"card_limit": "1_000"}), "card_limit"),
        (json!({"card_limit": " 12 "}), "card_limit"),
        (json!({"card_limit": "+5"}), "card_limit"),
        (json!({"card_limit": ".5"}), "card_limit"),
        (
            json!({"spending_controls": [{"amount": "1_000", "interval": "DAILY"}]}),
            "spending_controls[0].amount",
        ),
        (
            json!({"no_pin_payment_amount": -1}),
            "no_pin_payment_amount",
        ),
        (
            json!({"spending_controls": [{"amount": -5, "interval": "PER_TRANSACTION"}]}),
            "spending_controls[0].amount",
        ),
        (
            json!({"spending_controls": [{"amount": 5, "interval": "HOURLY"}]}),
            "spending_controls[0].interval",
        ),
        (
            json!({"spending_controls": [{"amount": 5}]}),
            "spending_controls[0]",
        ),
        (
            json!({"risk_controls": {"enable_3ds": "YES"}}),
            "risk_controls.enable_3ds",
        ),
        (
            json!({"risk_controls": {"blocked_mcc": ["599"]}}),
            "risk_controls.blocked_mcc[0]",
        ),
        (
            json!({"risk_controls": {"allowed_mcc": ["59x9"]}}),
            "risk_controls.allowed_mcc[0]",
        ),
        (json!({"metadata": "a string"}), "metadata"),
        (json!({"metadata": {"k": "v".repeat(3200)}}), "metadata"),
        (json!({}), "card_limit"),
    ];
    for (body, field) in cases {
        assert_refused(&api, &path, &body.to_string(), field).await;
    }
    let stored = api.server.card(card).unwrap();
    assert_eq!(stored.updates, 0);
    // The boundaries just inside are accepted.
    let answer = api
        .update(
            card,
            json!({"name_on_card": "Ä".repeat(26), "card_limit": 0, "metadata": {"k": "v".repeat(3192)}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
}

#[tokio::test]
async fn invalid_status_updates_are_refused_naming_the_field() {
    let api = api().await;
    let card = api.assign(&pan(13)).await;
    let path = format!("/v1/issuing/cards/{card}/status");
    for (body, field) in [
        (json!({"card_status": "LOST"}), "card_status"),
        (json!({"card_status": "frozen"}), "card_status"),
        (json!({"update_reason": "x"}), "card_status"),
        (
            json!({"card_status": "FROZEN", "update_reason": "r".repeat(101)}),
            "update_reason",
        ),
    ] {
        assert_refused(&api, &path, &body.to_string(), field).await;
    }
    let answer = api
        .call(
            &path,
            Uuid::new_v4(),
            None,
            &json!({"card_status": "FROZEN", "update_reason": "r".repeat(100)}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn a_bad_uuid_in_the_path_is_400_and_an_unknown_card_a_card_error() {
    let api = api().await;
    let key = Uuid::new_v4().to_string();
    let headers = [("x-auth-token", AUTH), ("x-idempotency-key", key.as_str())];
    let answer = api
        .send(
            "/v1/issuing/cards/not-a-uuid",
            &headers,
            r#"{"name_on_card":"A"}"#,
        )
        .await;
    let error = answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    assert!(error["message"].as_str().unwrap().starts_with("id:"));
    let answer = api
        .send(
            "/v1/issuing/cards/123/status",
            &headers,
            r#"{"card_status":"FROZEN"}"#,
        )
        .await;
    answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    let answer = api
        .update(Uuid::new_v4(), json!({"name_on_card": "A"}))
        .await;
    answer.card_not_found();
    // 404 means an unknown route, nothing else.
    let answer = api.send("/v1/nowhere", &headers, "{}").await;
    let error = answer.untyped(StatusCode::NOT_FOUND);
    assert_eq!(error["code"], 404);
}

#[tokio::test]
async fn huge_bodies_get_a_413_with_the_error_body() {
    let api = api().await;
    let card = api.assign(&pan(14)).await;
    let huge = json!({"metadata": {"k": "v".repeat(1 << 20)}}).to_string();
    let key = Uuid::new_v4().to_string();
    let answer = api
        .send(
            &format!("/v1/issuing/cards/{card}"),
            &[("x-auth-token", AUTH), ("x-idempotency-key", &key)],
            &huge,
        )
        .await;
    answer.error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error");
    assert_eq!(api.server.card(card).unwrap().updates, 0);
}
