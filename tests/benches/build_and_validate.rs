//! `build_and_validate`: building, validating and serialising an
//! `update_card` body with every field set; no network.
//!
//! ```sh
//! cargo bench -p uqpay-e2e --bench build_and_validate
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use rust_decimal_macros::dec;
use uqpay_issuing::{Client, SpendingInterval};
use uuid::Uuid;

fn bench(c: &mut Criterion) {
    let client = Client::builder()
        .token("bench-token")
        .base_url("http://127.0.0.1:9/api")
        .build()
        .unwrap();
    let card = Uuid::new_v4();
    c.bench_function("build_and_validate/update_card_all_fields", |b| {
        b.iter(|| {
            let body = client
                .update_card(card)
                .card_limit(dec!(2100.02))
                .name_on_card("MARSHALL HU")
                .no_pin_payment_amount(dec!(100))
                .spending_control(dec!(100.03), SpendingInterval::PerTransaction)
                .spending_control(dec!(5000), SpendingInterval::Monthly)
                .enable_3ds(true)
                .allow_3ds_transactions(true)
                .allowed_mcc(["5411"])
                .blocked_mcc(["5999", "6011"])
                .metadata("key1", "value1")
                .metadata("key2", "value2")
                .body()
                .unwrap();
            serde_json::to_vec(&body).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
