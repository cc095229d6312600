//! The simulator's clock, moved forward by tests: idempotency records live
//! 24 hours, issued tokens 30 minutes, a pre-cancel period its length.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use uqpay_mock::{MockServer, IDEMPOTENCY_TTL};
use uuid::Uuid;

use crate::support::{api, pan, receiver, Api, SECRET};

#[tokio::test]
async fn an_idempotency_key_is_forgotten_after_24_hours() {
    let api = api().await;
    let card = api.assign(&pan(50)).await;
    let key = Uuid::new_v4();
    let path = format!("/v1/issuing/cards/{card}");
    let body = json!({"name_on_card": "FIRST"});
    let first = api.call(&path, key, None, &body).await;
    assert_eq!(first.status, StatusCode::OK);
    // Just under a day later: a replay, nothing applied again.
    api.server
        .advance_clock(IDEMPOTENCY_TTL - Duration::from_secs(1));
    let replay = api.call(&path, key, None, &body).await;
    assert_eq!(replay.bytes, first.bytes);
    assert_eq!(api.server.card(card).unwrap().updates, 1);
    assert_eq!(api.server.replays_for_key(key), 1);
    // A day later the key is new: the same request runs again, and another
    // body with it is no longer an idempotency error.
    api.server.advance_clock(Duration::from_secs(1));
    let again = api.call(&path, key, None, &body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(api.server.card(card).unwrap().updates, 2);
    assert_eq!(api.server.commits_for_key(key), 2);
    api.server.advance_clock(IDEMPOTENCY_TTL);
    let other = api
        .call(&path, key, None, &json!({"name_on_card": "SECOND"}))
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.json());
    assert_eq!(
        api.server.card(card).unwrap().name_on_card.as_deref(),
        Some("SECOND")
    );
}

#[tokio::test]
async fn issued_tokens_expire_after_30_minutes_of_the_simulators_clock() {
    let api = api().await;
    let token = api.mint().await;
    api.server.advance_clock(Duration::from_secs(29 * 60));
    assert_eq!(
        api.assign_with(&token, &pan(43)).await.status,
        StatusCode::OK
    );
    api.server.advance_clock(Duration::from_secs(60));
    let expired = api.assign_with(&token, &pan(44)).await;
    let error = expired.error(StatusCode::UNAUTHORIZED, "unauthorized_error");
    assert_eq!(error["message"], "token expired");
}

#[tokio::test]
async fn a_cancellation_waits_out_its_pre_cancel_period_on_the_simulators_clock() {
    let (url, _received) = receiver(0).await;
    let api = Api::start(
        MockServer::builder()
            .webhook(&url, SECRET)
            .pre_cancel_period(Duration::from_secs(30 * 24 * 3600)),
    )
    .await;
    let card = api.assign_card("4096360800134444", "SINGLE").await["card_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, cancelled) = api
        .post(
            &format!("/v1/issuing/cards/{card}/status"),
            json!({"card_status": "CANCELLED"}),
        )
        .await;
    assert_eq!(api.get(&card, None).await.1["card_status"], "PRE_CANCEL");
    // Nothing more can happen to it.
    let (status, body) = api
        .post(
            &format!("/v1/issuing/cards/{card}/status"),
            json!({"card_status": "ACTIVE"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_status_transition"))
    );
    api.server
        .advance_clock(Duration::from_secs(29 * 24 * 3600));
    assert_eq!(api.get(&card, None).await.1["card_status"], "PRE_CANCEL");
    api.server.advance_clock(Duration::from_secs(24 * 3600));
    assert_eq!(api.get(&card, None).await.1["card_status"], "CANCELLED");
    api.server.wait_for_deliveries().await;
    let statuses: Vec<(String, String)> = api
        .server
        .deliveries()
        .iter()
        .skip(1)
        .map(|d| {
            let event: Value = serde_json::from_slice(&d.body).unwrap();
            (
                event["data"]["card_status"].as_str().unwrap().to_owned(),
                d.source_id.clone(),
            )
        })
        .collect();
    let order = cancelled["card_order_id"].as_str().unwrap().to_owned();
    assert_eq!(
        statuses,
        [
            ("PRE_CANCEL".to_owned(), order.clone()),
            ("CANCELLED".to_owned(), order)
        ]
    );
}
