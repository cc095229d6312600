//! The overhead benchmarks' two sides: one full `update_card` through the
//! SDK, and the same request written by hand with reqwest and serde_json
//! (the baseline), both against a minimal loopback server.

use std::time::Duration;

use axum::body::Bytes;
use uqpay_issuing::Client;

use crate::clients::AUTH_HEADER;
use crate::servers::UPDATE_CARD_RESPONSE;

/// Starts, on a runtime of its own (one worker thread), a minimal loopback
/// server that reads each request's body and answers 200 with
/// [`UPDATE_CARD_RESPONSE`]. Returns its base URL (`http://127.0.0.1:PORT/api`)
/// and the runtime (the server stops when it is dropped).
pub fn start_fixed_200_server() -> (String, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(|body: Bytes| async move {
            let _ = body;
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                UPDATE_CARD_RESPONSE,
            )
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    (format!("http://{addr}/api"), runtime)
}

/// One `update_card` with every field set, through the SDK (what the
/// overhead benchmark and its profiling target measure).
pub async fn sdk_full_update(client: &Client, card: uuid::Uuid) {
    use rust_decimal_macros::dec;
    client
        .update_card(card)
        .card_limit(dec!(2100.02))
        .name_on_card("MARSHALL HU")
        .no_pin_payment_amount(dec!(100))
        .spending_control(
            dec!(100.03),
            uqpay_issuing::SpendingInterval::PerTransaction,
        )
        .enable_3ds(true)
        .allow_3ds_transactions(true)
        .blocked_mcc(["5999", "6011"])
        .metadata("key1", "value1")
        .metadata("key2", "value2")
        .send()
        .await
        .unwrap();
}

/// What a hand-written client parses the answer into.
#[allow(dead_code)]
#[derive(serde::Deserialize)]
struct HandWrittenResponse {
    card_id: String,
    card_order_id: String,
    card_status: String,
    order_status: String,
}

/// The same request as [`sdk_full_update`], written by hand with reqwest and
/// serde_json: the baseline of the overhead benchmark.
pub async fn hand_written_full_update(http: &reqwest::Client, base_url: &str, card: uuid::Uuid) {
    let body = serde_json::json!({
        "card_limit": 2100.02,
        "name_on_card": "MARSHALL HU",
        "no_pin_payment_amount": 100,
        "spending_controls": [{"amount": 100.03, "interval": "PER_TRANSACTION"}],
        "risk_controls": {
            "enable_3ds": "Y",
            "allow_3ds_transactions": "Y",
            "blocked_mcc": ["5999", "6011"]
        },
        "metadata": {"key1": "value1", "key2": "value2"}
    });
    let response = http
        .post(format!("{base_url}/v1/issuing/cards/{card}"))
        .header("x-auth-token", AUTH_HEADER)
        .header("x-idempotency-key", uuid::Uuid::new_v4().to_string())
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let bytes = response.bytes().await.unwrap();
    let _: HandWrittenResponse = serde_json::from_slice(&bytes).unwrap();
}

/// A reqwest client configured like the SDK's (no redirects, 30 s, nodelay).
pub fn hand_written_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
        .unwrap()
}
