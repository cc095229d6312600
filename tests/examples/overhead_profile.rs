//! Runs `update_card` calls through the SDK (`sdk`) or by hand with reqwest
//! (`raw`) against the minimal loopback server, one at a time or, with the
//! `64` suffix (`sdk64`, `raw64`), in batches of 64 concurrent calls: a
//! target for profilers (`perf record`, `valgrind --tool=callgrind`).
//!
//! ```sh
//! cargo run --release -p uqpay-e2e --example overhead_profile -- sdk64 64000
//! ```

use std::time::{Duration, Instant};

use rust_decimal_macros::dec;
use uqpay_e2e::{start_fixed_200_server, TOKEN};
use uqpay_issuing::{Client, SpendingInterval};
use uuid::Uuid;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "sdk".into());
    let n: u32 = args.next().map_or(10_000, |n| n.parse().unwrap());
    let (base_url, _server) = start_fixed_200_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let card = Uuid::new_v4();
    let (batch, sdk_mode) = match mode.strip_suffix("64") {
        Some(kind) => (64, kind == "sdk"),
        None => (1, mode == "sdk"),
    };
    let elapsed = rt.block_on(async {
        let sdk = Client::builder()
            .token(TOKEN)
            .base_url(&base_url)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let raw = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .unwrap();
        let started = Instant::now();
        for _ in 0..n / batch {
            let calls = (0..batch).map(|_| async {
                if sdk_mode {
                    sdk_call(&sdk, card).await
                } else {
                    raw_call(&raw, &base_url, card).await
                }
            });
            futures::future::join_all(calls).await;
        }
        started.elapsed()
    });
    println!(
        "{mode}: {n} calls, {:.2} µs per call",
        elapsed.as_secs_f64() * 1e6 / f64::from(n)
    );
}

async fn sdk_call(sdk: &Client, card: Uuid) {
    sdk.update_card(card)
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

async fn raw_call(raw: &reqwest::Client, base_url: &str, card: Uuid) {
    let body = serde_json::json!({
        "card_limit": 2100.02, "name_on_card": "MARSHALL HU", "no_pin_payment_amount": 100,
        "spending_controls": [{"amount": 100.03, "interval": "PER_TRANSACTION"}],
        "risk_controls": {"enable_3ds": "Y", "allow_3ds_transactions": "Y", "blocked_mcc": ["5999", "6011"]},
        "metadata": {"key1": "value1", "key2": "value2"}
    });
    let response = raw
        .post(format!("{base_url}/v1/issuing/cards/{card}"))
        .header("x-auth-token", TOKEN)
        .header("x-idempotency-key", Uuid::new_v4().to_string())
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
        .unwrap();
    let bytes = response.bytes().await.unwrap();
    let _: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
}
