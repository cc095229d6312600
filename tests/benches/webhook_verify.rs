//! `webhook_verify`: verifying and parsing UQPay's published
//! `card.update.succeeded` event with `uqpay_issuing::webhooks::Verifier`,
//! against the same work written by hand as a careful engineer would: the
//! HMAC-SHA512 key prepared once, the signature hex-decoded and compared in
//! constant time, the body parsed with serde_json into a struct of the
//! event (amounts kept as JSON values).
//!
//! ```sh
//! cargo bench -p uqpay-e2e --bench webhook_verify
//! ```

use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use hmac::{Hmac, Mac};
use sha2::Sha512;
use uqpay_issuing::webhooks::{sign, Verifier};

const SECRET: &str = "whsec_test_secret";
const TIMESTAMP: &str = "1711077773";

/// The event, as a hand-written receiver would model it.
#[allow(dead_code)]
#[derive(serde::Deserialize)]
struct HandEvent {
    version: String,
    event_name: String,
    event_type: String,
    event_id: String,
    source_id: String,
    data: HandData,
}

#[allow(dead_code)]
#[derive(serde::Deserialize)]
struct HandData {
    card_id: String,
    card_order_id: String,
    order_status: String,
    card_status: String,
    card_number: String,
    card_limit: serde_json::Value,
    available_balance: serde_json::Value,
    card_currency: String,
    metadata: serde_json::Value,
    risk_control: serde_json::Value,
    spending_controls: Vec<serde_json::Value>,
    cardholder: serde_json::Value,
}

fn bench(c: &mut Criterion) {
    let body = uqpay_issuing::raw::examples::UPDATE_CARD_SUCCEEDED_WEBHOOK
        .as_bytes()
        .to_vec();
    let signature = sign(SECRET, &body, TIMESTAMP);
    let now = UNIX_EPOCH + Duration::from_secs(1_711_077_773);

    let verifier = Verifier::new(SECRET);
    let key = Hmac::<Sha512>::new_from_slice(SECRET.as_bytes()).unwrap();

    let mut group = c.benchmark_group("webhook_verify/card.update.succeeded");
    group.bench_function("sdk", |b| {
        b.iter(|| {
            verifier
                .verify_at(&body, &signature, TIMESTAMP, now)
                .unwrap()
        })
    });
    group.bench_function("hand_written", |b| {
        b.iter(|| {
            let mut expected = [0u8; 64];
            hex::decode_to_slice(&signature, &mut expected).unwrap();
            let mut mac = key.clone();
            mac.update(&body);
            mac.update(TIMESTAMP.as_bytes());
            mac.verify_slice(&expected).unwrap();
            serde_json::from_slice::<HandEvent>(&body).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
