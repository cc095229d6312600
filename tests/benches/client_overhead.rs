//! `client_overhead`: one `update_card` with a full body through the SDK
//! versus the same request written by hand with reqwest + serde_json
//! (configured as the SDK is: a 30 s timeout, no redirects, TCP_NODELAY),
//! both against the same minimal loopback server (fixed 200 body, its own
//! runtime thread, warm connections). One call at a time, and 64 at once;
//! each on a current-thread runtime and on the default multi-thread runtime
//! (`#[tokio::main]`'s, what services run).
//!
//! ```sh
//! cargo bench -p uqpay-e2e --bench client_overhead
//! ```

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::join_all;
use uqpay_e2e::{
    hand_written_client, hand_written_full_update, sdk_full_update, start_fixed_200_server, TOKEN,
};
use uqpay_issuing::Client;
use uuid::Uuid;

const CARD: Uuid = Uuid::from_u128(0xc0ce_f051_29c5_4796_b86a_cd5b_684b_fad7);

fn runtimes() -> [(&'static str, tokio::runtime::Runtime); 2] {
    [
        (
            "current_thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
        (
            "multi_thread",
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let (base_url, _server) = start_fixed_200_server();
    for (flavor, rt) in runtimes() {
        let sdk = rt.block_on(async {
            Client::builder()
                .token(TOKEN)
                .base_url(&base_url)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap()
        });
        let raw = rt.block_on(async { hand_written_client() });

        let mut single = c.benchmark_group(format!("client_overhead/{flavor}/one_call"));
        single.measurement_time(Duration::from_secs(8));
        single.bench_function("sdk", |b| {
            b.to_async(&rt).iter(|| sdk_full_update(&sdk, CARD))
        });
        single.bench_function("hand_written", |b| {
            b.to_async(&rt)
                .iter(|| hand_written_full_update(&raw, &base_url, CARD))
        });
        single.finish();

        let mut concurrent = c.benchmark_group(format!("client_overhead/{flavor}/64_concurrent"));
        concurrent.throughput(Throughput::Elements(64));
        concurrent.measurement_time(Duration::from_secs(8));
        concurrent.bench_function("sdk", |b| {
            b.to_async(&rt)
                .iter(|| join_all((0..64).map(|_| sdk_full_update(&sdk, CARD))))
        });
        concurrent.bench_function("hand_written", |b| {
            b.to_async(&rt)
                .iter(|| join_all((0..64).map(|_| hand_written_full_update(&raw, &base_url, CARD))))
        });
        concurrent.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
