//! `simulator_throughput`: Update Card requests per second the simulator
//! sustains with 64 concurrent connections (each request a new idempotency
//! key, so each one is validated, recorded and applied).
//!
//! ```sh
//! cargo bench -p uqpay-e2e --bench simulator_throughput
//! ```

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::join_all;
use uqpay_e2e::{start_simulator_on_own_runtime, AUTH_HEADER};
use uuid::Uuid;

const BODY: &str = r#"{"card_limit":2100.02,"name_on_card":"MARSHALL HU","no_pin_payment_amount":100,"spending_controls":[{"amount":100.03,"interval":"PER_TRANSACTION"}],"risk_controls":{"enable_3ds":"Y","allow_3ds_transactions":"Y","blocked_mcc":["5999","6011"]},"metadata":{"key1":"value1","key2":"value2"}}"#;

fn bench(c: &mut Criterion) {
    let (server, card, _server_runtime) = start_simulator_on_own_runtime(1);
    let url = format!("{}/v1/issuing/cards/{card}", server.base_url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = rt.block_on(async {
        reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap()
    });
    let call = || async {
        let response = http
            .post(&url)
            .header("x-auth-token", AUTH_HEADER)
            .header("x-idempotency-key", Uuid::new_v4().to_string())
            .header("content-type", "application/json")
            .body(BODY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    };
    let mut group = c.benchmark_group("simulator_throughput");
    group.throughput(Throughput::Elements(64));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("update_card_64_concurrent", |b| {
        b.to_async(&rt).iter(|| join_all((0..64).map(|_| call())))
    });
    group.finish();
    println!(
        "simulator committed {} updates",
        server.requests_committed(uqpay_mock::Route::UpdateCard)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
