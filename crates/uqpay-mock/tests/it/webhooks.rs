//! Webhooks: every settled order's event, signed as UQPay signs it,
//! redelivered until acknowledged, kept when out of attempts.

use std::time::Duration;

use axum::body::Bytes;
use serde_json::{json, Value};
use uqpay_issuing_raw::signature;
use uqpay_mock::MockServer;

use crate::support::{receiver, Api, SECRET};

#[tokio::test]
async fn every_order_publishes_its_signed_event_and_redelivers_until_acknowledged() {
    let (url, received) = receiver(3).await;
    let api = Api::start(MockServer::builder().webhook(&url, SECRET)).await;
    let assigned = api.assign_card("4096360800132222", "SHARE").await;
    let card = assigned["card_id"].as_str().unwrap().to_owned();
    let order = assigned["card_order_id"].as_str().unwrap().to_owned();
    let (_, updated) = api
        .post(
            &format!("/v1/issuing/cards/{card}"),
            json!({"card_limit": 10.5}),
        )
        .await;
    let (_, frozen) = api
        .post(
            &format!("/v1/issuing/cards/{card}/status"),
            json!({"card_status": "FROZEN", "update_reason": "r"}),
        )
        .await;
    api.server.wait_for_deliveries().await;

    let deliveries = api.server.deliveries();
    assert_eq!(deliveries.len(), 3);
    assert!(deliveries.iter().all(|d| d.delivered));
    // The first three attempts were refused: redelivered, 6 posts in all.
    assert_eq!(deliveries.iter().map(|d| d.attempts).sum::<u32>(), 6);
    let got = received.0.lock().unwrap().clone();
    assert_eq!(got.len(), 6);
    for (headers, body) in &got {
        let timestamp = headers["x-wk-timestamp"].to_str().unwrap();
        assert!(timestamp.len() == 10 && timestamp.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(
            headers["x-wk-signature"].to_str().unwrap(),
            signature::sign(SECRET.as_bytes(), body, timestamp),
        );
        assert_eq!(headers["content-type"], "application/json");
    }
    // The same event_id and body on every attempt of an event.
    for delivery in &deliveries {
        let bodies: Vec<&Bytes> = got
            .iter()
            .map(|(_, b)| b)
            .filter(|b| {
                serde_json::from_slice::<Value>(b).unwrap()["event_id"] == delivery.event_id
            })
            .collect();
        assert_eq!(bodies.len() as u32, delivery.attempts);
        assert!(bodies.iter().all(|b| **b == delivery.body));
    }
    let events: Vec<Value> = deliveries
        .iter()
        .map(|d| serde_json::from_slice(&d.body).unwrap())
        .collect();
    assert_eq!(events[0]["event_type"], "card.create.succeeded");
    assert_eq!(events[0]["source_id"], order.as_str());
    assert_eq!(events[0]["data"]["card_status"], "ACTIVE");
    assert_eq!(events[0]["data"]["card_number"], "40963608****2222");
    assert_eq!(events[1]["event_type"], "card.update.succeeded");
    assert_eq!(events[1]["source_id"], updated["card_order_id"]);
    assert_eq!(events[1]["data"]["card_order_id"], updated["card_order_id"]);
    assert_eq!(events[1]["data"]["order_status"], "success");
    assert_eq!(events[1]["data"]["card_limit"], "10.5");
    assert_eq!(events[2]["event_type"], "card.status.update.succeeded");
    assert_eq!(events[2]["source_id"], frozen["card_order_id"]);
    assert_eq!(events[2]["data"]["card_status"], "FROZEN");
    assert_eq!(events[2]["data"]["update_reason"], "r");
    assert!(received
        .events()
        .iter()
        .all(|e| e["version"] == "V1.6.0" && e["event_name"] == "ISSUING"));
}

#[tokio::test]
async fn an_event_out_of_attempts_is_kept_and_can_be_redelivered() {
    let (url, received) = receiver(2).await;
    let api = Api::start(
        MockServer::builder()
            .webhook(&url, SECRET)
            .webhook_redelivery(2, Duration::from_millis(1), Duration::from_millis(1)),
    )
    .await;
    api.assign_card("4096360800135555", "SHARE").await;
    api.server.wait_for_deliveries().await;
    let delivery = &api.server.deliveries()[0];
    assert!(delivery.gave_up && !delivery.delivered && delivery.attempts == 2);
    api.server.redeliver_failed();
    api.server.wait_for_deliveries().await;
    let delivery = &api.server.deliveries()[0];
    assert!(delivery.delivered, "{delivery:?}");
    let ids: Vec<Value> = received
        .events()
        .iter()
        .map(|e| e["event_id"].clone())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|id| *id == ids[0]), "one event, one id");
}
