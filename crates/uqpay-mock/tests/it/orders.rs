//! Orders: settled after the order delay (Retrieve Card shows the card as
//! it was until then), or failed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use uqpay_mock::MockServer;

use crate::support::{receiver, Api, SECRET};

#[tokio::test]
async fn orders_settle_after_the_delay_and_retrieve_shows_the_old_state_before() {
    let api = Api::start(MockServer::builder().order_delay(Duration::from_millis(300))).await;
    let assigned = api.assign_card("4096360800131111", "SHARE").await;
    let card = assigned["card_id"].as_str().unwrap().to_owned();
    // Answered at once, the card PENDING until its order settles.
    assert_eq!(assigned["card_status"], "PENDING");
    assert_eq!(assigned["order_status"], "PENDING");
    assert_eq!(api.get(&card, None).await.1["card_status"], "PENDING");
    // Another order on the card while this one is in flight is refused.
    let (status, body) = api
        .post(
            &format!("/v1/issuing/cards/{card}/status"),
            json!({"card_status": "FROZEN"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "card_order_in_progress", "{body}");
    wait_until(&api, &card, |c| c["card_status"] == "ACTIVE").await;

    let (status, body) = api
        .post(
            &format!("/v1/issuing/cards/{card}"),
            json!({"card_limit": 50}),
        )
        .await;
    assert_eq!(
        (status, body["order_status"].as_str()),
        (StatusCode::OK, Some("PENDING"))
    );
    assert!(
        api.get(&card, None).await.1.get("card_limit").is_none(),
        "applied before it settled"
    );
    wait_until(&api, &card, |c| c["card_limit"] == 50).await;
}

/// Polls Retrieve Card until `done` (the order delay is a few hundred ms).
async fn wait_until(api: &Api, card: &str, done: impl Fn(&Value) -> bool) {
    for _ in 0..200 {
        if done(&api.get(card, None).await.1) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the order never settled: {}", api.get(card, None).await.1);
}

#[tokio::test]
async fn failed_orders_change_nothing_and_publish_the_failed_event() {
    let (url, _received) = receiver(0).await;
    let api = Api::start(MockServer::builder().webhook(&url, SECRET)).await;
    api.server.fail_next_orders(1);
    let assigned = api.assign_card("4096360800133333", "SHARE").await;
    let failed_card = assigned["card_id"].as_str().unwrap().to_owned();
    assert_eq!(api.get(&failed_card, None).await.1["card_status"], "FAILED");
    // The number is free again.
    let again = api.assign_card("4096360800133333", "SHARE").await;
    let card = again["card_id"].as_str().unwrap().to_owned();
    api.server.fail_next_orders(2);
    api.post(
        &format!("/v1/issuing/cards/{card}"),
        json!({"name_on_card": "NEVER"}),
    )
    .await;
    api.post(
        &format!("/v1/issuing/cards/{card}/status"),
        json!({"card_status": "FROZEN"}),
    )
    .await;
    let stored = api.server.card(card.parse().unwrap()).unwrap();
    assert_eq!(stored.name_on_card, None);
    assert_eq!(stored.card_status.to_string(), "ACTIVE");
    api.server.wait_for_deliveries().await;
    let types: Vec<(String, String)> = api
        .server
        .deliveries()
        .iter()
        .map(|d| {
            let event: Value = serde_json::from_slice(&d.body).unwrap();
            (
                d.event_type.clone(),
                event["data"]["card_status"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("card.create.failed".to_owned(), "FAILED".to_owned()),
            ("card.create.succeeded".to_owned(), "ACTIVE".to_owned()),
            ("card.update.failed".to_owned(), "ACTIVE".to_owned()),
            ("card.status.update.failed".to_owned(), "ACTIVE".to_owned()),
        ]
    );
}
