//! Idempotency keys: replays, reused keys, keys in flight, and keys that
//! stay free when their request never ran.

use reqwest::StatusCode;
use serde_json::json;
use uqpay_mock::{Route, PROCESSING_MESSAGE};
use uuid::Uuid;

use crate::support::{api, assign_body, pan, ACCT_B, AUTH, HOLDER};

#[tokio::test]
async fn the_same_key_and_body_replays_byte_for_byte_without_changing_state() {
    let api = api().await;
    let key = Uuid::new_v4();
    let body = assign_body(&pan(5), "SINGLE");
    let first = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    let second = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(first.bytes, second.bytes);
    assert_eq!(api.server.cards().len(), 1);
    assert_eq!(api.server.commits_for_key(key), 1);
    assert_eq!(api.server.replays_for_key(key), 1);
    let counters = api.server.counters(Route::AssignCard);
    assert_eq!(
        (counters.received, counters.committed, counters.replayed),
        (2, 1, 1)
    );

    // Replays of a status change do not change the card twice.
    let card: Uuid = first.json()["card_id"].as_str().unwrap().parse().unwrap();
    let key = Uuid::new_v4();
    let path = format!("/v1/issuing/cards/{card}/status");
    let freeze = json!({"card_status": "FROZEN"});
    for _ in 0..3 {
        assert_eq!(
            api.call(&path, key, None, &freeze).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(api.server.card(card).unwrap().status_history.len(), 2);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_an_idempotency_error() {
    let api = api().await;
    let key = Uuid::new_v4();
    let body = assign_body(&pan(6), "SINGLE");
    assert_eq!(
        api.call("/v1/issuing/cards/assign", key, None, &body)
            .await
            .status,
        StatusCode::OK
    );
    let mut other = body.clone();
    other["card_number"] = json!(pan(7));
    let answer = api
        .call("/v1/issuing/cards/assign", key, None, &other)
        .await;
    assert_eq!(
        answer.error(StatusCode::BAD_REQUEST, "idempotency_error")["code"],
        "idempotency_key_reused"
    );
    // Another account, same body: also another request.
    let answer = api
        .call("/v1/issuing/cards/assign", key, Some(ACCT_B), &body)
        .await;
    answer.error(StatusCode::BAD_REQUEST, "idempotency_error");
    assert!(api.server.card_by_number(&pan(7)).is_none());
    assert_eq!(api.server.cards().len(), 1);
}

#[tokio::test]
async fn a_key_still_in_flight_answers_that_the_request_is_processing() {
    let api = api().await;
    let card = api.assign(&pan(8)).await;
    api.server.hold_requests();
    let key = Uuid::new_v4();
    let path = format!("/v1/issuing/cards/{card}/status");
    let body = json!({"card_status": "FROZEN"});
    let first = api.spawn_call(&path, key, &body);
    api.server.wait_for_held(1).await;
    let second = api.call(&path, key, None, &body).await;
    // The gateway's legacy 400: no type, numeric code 200.
    let error = second.untyped(StatusCode::BAD_REQUEST);
    assert_eq!(error, json!({"code": 200, "message": PROCESSING_MESSAGE}));
    assert!(PROCESSING_MESSAGE
        .to_lowercase()
        .contains("request is processing"));
    assert_eq!(
        api.server.card(card).unwrap().card_status.to_string(),
        "ACTIVE"
    );
    api.server.release();
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(
        api.server.card(card).unwrap().card_status.to_string(),
        "FROZEN"
    );
    assert_eq!(api.server.commits_for_key(key), 1);
}

#[tokio::test]
async fn the_idempotency_key_must_be_a_uuid() {
    let api = api().await;
    let path = "/v1/issuing/cards/assign";
    let body = assign_body(&pan(9), "SINGLE").to_string();
    let missing = api.send(path, &[("x-auth-token", AUTH)], &body).await;
    let error = missing.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    assert_eq!(error["missing_fields"], json!(["x-idempotency-key"]));
    let bad = api
        .send(
            path,
            &[("x-auth-token", AUTH), ("x-idempotency-key", "123")],
            &body,
        )
        .await;
    let error = bad.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("x-idempotency-key"));
    assert!(api.server.cards().is_empty());
}

#[tokio::test]
async fn a_refused_request_does_not_burn_its_key() {
    let api = api().await;
    let key = Uuid::new_v4();
    let mut body = json!({"cardholder_id": HOLDER, "card_number": pan(10), "card_currency": "usd", "card_mode": "SINGLE"});
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    body["card_currency"] = json!("USD");
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn a_held_request_whose_client_goes_away_frees_its_key() {
    let api = api().await;
    let card = api.assign(&pan(51)).await;
    api.server.hold_requests();
    let key = Uuid::new_v4();
    let path = format!("/v1/issuing/cards/{card}/status");
    let body = json!({"card_status": "FROZEN"});
    let abandoned = api.spawn_call(&path, key, &body);
    api.server.wait_for_held(1).await;
    // The client gives up: its connection closes while the request is held.
    abandoned.abort();
    let _ = abandoned.await;
    api.server.wait_for_held_at_most(0).await;
    api.server.release();
    // The request never ran; the key is free and its retry goes through.
    assert_eq!(api.server.commits_for_key(key), 0);
    let retry = api.call(&path, key, None, &body).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.json());
    assert_eq!(api.server.commits_for_key(key), 1);
}
