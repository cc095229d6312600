//! `client_overhead`: one `update_card` with a full body through the SDK
//! versus the same request written by hand with reqwest + serde_json, both
//! against the same minimal loopback server (fixed 200 body, warm
//! connections). Alone, and 64 calls at once.
//!
//! ```sh
//! cargo bench -p uqpay-e2e --bench client_overhead
//! ```

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::join_all;
use rust_decimal_macros::dec;
use serde::Deserialize;
use uqpay_e2e::{start_fixed_200_server, TOKEN};
use uqpay_issuing::{Client, SpendingInterval};
use uuid::Uuid;

const CARD: Uuid = Uuid::from_u128(0xc0ce_f051_29c5_4796_b86a_cd5b_684b_fad7);

/// What a hand-written client would parse the answer into.
#[allow(dead_code)]
#[derive(Deserialize)]
struct HandWrittenResponse {
    card_id: String,
    card_order_id: String,
    card_status: String,
    order_status: String,
}

fn sdk_client(base_url: &str) -> Client {
    Client::builder()
        .token(TOKEN)
        .base_url(base_url)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
        .unwrap()
}

async fn sdk_call(client: &Client) {
    client
        .update_card(CARD)
        .card_limit(dec!(2100.02))
        .name_on_card("MARSHALL HU")
        .no_pin_payment_amount(dec!(100))
        .spending_control(dec!(100.03), SpendingInterval::PerTransaction)
        .enable_3ds(true)
        .allow_3ds_transactions(true)
        .blocked_mcc(["5999", "6011"])
        .metadata("key1", "value1")
        .metadata("key2", "value2")
        .send()
        .await
        .unwrap();
}

async fn raw_call(http: &reqwest::Client, base_url: &str) {
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
        .post(format!("{base_url}/v1/issuing/cards/{CARD}"))
        .header("x-auth-token", TOKEN)
        .header("x-idempotency-key", Uuid::new_v4().to_string())
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let bytes = response.bytes().await.unwrap();
    let _: HandWrittenResponse = serde_json::from_slice(&bytes).unwrap();
}

fn bench(c: &mut Criterion) {
    let (base_url, _server) = start_fixed_200_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sdk = rt.block_on(async { sdk_client(&base_url) });
    let raw = rt.block_on(async { raw_client() });

    let mut single = c.benchmark_group("client_overhead/one_call");
    single.measurement_time(Duration::from_secs(8));
    single.bench_function("sdk", |b| b.to_async(&rt).iter(|| sdk_call(&sdk)));
    single.bench_function("raw_reqwest", |b| {
        b.to_async(&rt).iter(|| raw_call(&raw, &base_url))
    });
    single.finish();

    let mut concurrent = c.benchmark_group("client_overhead/64_concurrent");
    concurrent.throughput(Throughput::Elements(64));
    concurrent.measurement_time(Duration::from_secs(8));
    concurrent.bench_function("sdk", |b| {
        b.to_async(&rt)
            .iter(|| join_all((0..64).map(|_| sdk_call(&sdk))))
    });
    concurrent.bench_function("raw_reqwest", |b| {
        b.to_async(&rt)
            .iter(|| join_all((0..64).map(|_| raw_call(&raw, &base_url))))
    });
    concurrent.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
