//! Orders that settle, Retrieve Card answering from the state, and signed
//! webhook deliveries with redelivery, driven by a plain HTTP client and a
//! receiver written here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use uqpay_issuing_raw::signature;
use uqpay_mock::{MockServer, MockServerBuilder, Route};
use uuid::Uuid;

const TOKEN: &str = "orders-token";
const AUTH: &str = "Bearer orders-token";
const SECRET: &str = "whsec_orders";

/// What the receiver got: each delivery's headers and body.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

impl Received {
    fn events(&self) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_slice(body).unwrap())
            .collect()
    }
}

/// A webhook receiver on a free port; it refuses the first `refuse`
/// deliveries with a 500.
async fn receiver(refuse: usize) -> (String, Received) {
    let received = Received::default();
    let log = received.clone();
    let refused = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            let refused = refused.clone();
            async move {
                let mut count = refused.lock().unwrap();
                log.0.lock().unwrap().push((headers, body));
                if *count < refuse {
                    *count += 1;
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

struct Api {
    server: MockServer,
    http: reqwest::Client,
}

impl Api {
    async fn start(builder: MockServerBuilder) -> Self {
        Self {
            server: builder.token(TOKEN).start().await.unwrap(),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.server.base_url()))
            .header("x-auth-token", AUTH)
            .header("x-idempotency-key", Uuid::new_v4().to_string())
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn get(&self, card: &str, account: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .get(format!(
                "{}/v1/issuing/cards/{card}",
                self.server.base_url()
            ))
            .header("x-auth-token", AUTH);
        if let Some(account) = account {
            request = request.header("x-on-behalf-of", account);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn assign(&self, number: &str, mode: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/issuing/cards/assign",
                json!({"cardholder_id": Uuid::new_v4(), "card_number": number, "card_currency": "USD", "card_mode": mode}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

#[tokio::test]
async fn retrieve_card_answers_from_the_state_with_the_number_masked() {
    let api = Api::start(MockServer::builder()).await;
    let assigned = api.assign("4096360800135668", "SHARE").await;
    let card = assigned["card_id"].as_str().unwrap();
    let (status, _) = api
        .post(
            &format!("/v1/issuing/cards/{card}"),
            json!({"card_limit": 2100.02, "no_pin_payment_amount": 100,
                   "spending_controls": [{"amount": 100.03, "interval": "PER_TRANSACTION"}],
                   "risk_controls": {"blocked_mcc": ["5999"]}, "metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.get(card, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["card_id"], card);
    assert_eq!(body["card_status"], "ACTIVE");
    assert_eq!(body["card_number"], "************5668");
    assert!(!body.to_string().contains("4096360800135668"));
    assert_eq!(body["card_bin"], "40963608");
    assert_eq!(body["card_scheme"], "VISA");
    // The documented forms: the limit a number, the balance a string, the
    // no-PIN amount with its currency glued on.
    assert_eq!(body["card_limit"].to_string(), "2100.02");
    assert_eq!(body["available_balance"], "2100.02");
    assert_eq!(body["no_pin_payment_amount"], "100USD");
    assert_eq!(body["spending_controls"][0]["amount"], "100.03");
    assert_eq!(body["risk_controls"]["blocked_mcc"], json!(["5999"]));
    assert_eq!(body["metadata"], json!({"k": "v"}));
    assert_eq!(api.server.counters(Route::RetrieveCard).received, 1);

    // Unknown, or another account's: UQPay's card_not_found.
    for (id, account) in [
        (Uuid::new_v4().to_string(), None),
        (
            card.to_owned(),
            Some("6f0c7a52-2b7e-4a0e-9d55-3c6d1b0f9e11"),
        ),
    ] {
        let (status, body) = api.get(&id, account).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], "card_not_found", "{body}");
    }
    let (status, body) = api.get("not-a-uuid", None).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request_error"))
    );
}

#[tokio::test]
async fn orders_settle_after_the_delay_and_retrieve_shows_the_old_state_before() {
    let api = Api::start(MockServer::builder().order_delay(Duration::from_millis(300))).await;
    let assigned = api.assign("4096360800131111", "SHARE").await;
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
async fn every_order_publishes_its_signed_event_and_redelivers_until_acknowledged() {
    let (url, received) = receiver(3).await;
    let api = Api::start(MockServer::builder().webhook(&url, SECRET)).await;
    let assigned = api.assign("4096360800132222", "SHARE").await;
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
async fn failed_orders_change_nothing_and_publish_the_failed_event() {
    let (url, _received) = receiver(0).await;
    let api = Api::start(MockServer::builder().webhook(&url, SECRET)).await;
    api.server.fail_next_orders(1);
    let assigned = api.assign("4096360800133333", "SHARE").await;
    let failed_card = assigned["card_id"].as_str().unwrap().to_owned();
    assert_eq!(api.get(&failed_card, None).await.1["card_status"], "FAILED");
    // The number is free again.
    let again = api.assign("4096360800133333", "SHARE").await;
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

#[tokio::test]
async fn a_cancellation_waits_out_its_pre_cancel_period_on_the_simulators_clock() {
    let (url, _received) = receiver(0).await;
    let api = Api::start(
        MockServer::builder()
            .webhook(&url, SECRET)
            .pre_cancel_period(Duration::from_secs(30 * 24 * 3600)),
    )
    .await;
    let card = api.assign("4096360800134444", "SINGLE").await["card_id"]
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

#[tokio::test]
async fn an_event_out_of_attempts_is_kept_and_can_be_redelivered() {
    let (url, received) = receiver(2).await;
    let api = Api::start(
        MockServer::builder()
            .webhook(&url, SECRET)
            .webhook_redelivery(2, Duration::from_millis(1), Duration::from_millis(1)),
    )
    .await;
    api.assign("4096360800135555", "SHARE").await;
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
