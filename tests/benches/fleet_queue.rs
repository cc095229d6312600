//! `fleet_queue`: how many Redis scripts the fleet's rate limit runs per
//! call when calls queue for it (issue 25.3). One replica, a fleet limit of
//! 20 calls a second against the simulator limited the same, `N` Update
//! Card calls started at once (N = 100, 400, 2,000: 5 s, 20 s and 100 s of
//! queue); the scripts counted by Redis (`INFO commandstats`: `EVALSHA` and
//! `EVAL`), the run's time beside what the limit allows.
//!
//! ```sh
//! cargo bench -p uqpay-e2e --bench fleet_queue    # needs redis-server; about 2.5 minutes
//! ```

use std::time::{Duration, Instant};

use uqpay_e2e::{assign_share_card, fast_builder, RedisServer};
use uqpay_issuing::{RateLimit, RedisTokenStore};
use uqpay_mock::{MockServer, RateLimits};

const PER_SECOND: u32 = 20;

/// Runs `calls` queued calls; (script runs, 429s, failures, elapsed).
async fn queue(calls: usize) -> (u64, u64, usize, Duration) {
    let redis = RedisServer::start();
    let server = MockServer::builder()
        .credentials("queue-client", "queue-key")
        .rate_limits(RateLimits::per_window(PER_SECOND, Duration::from_secs(1)))
        .start()
        .await
        .unwrap();
    let client = fast_builder(&server.base_url())
        .credentials("queue-client", "queue-key")
        .token_store(RedisTokenStore::new(&redis.url()).unwrap())
        .rate_limit(RateLimit::new(PER_SECOND, Duration::from_secs(1)))
        .max_retries(5)
        .build()
        .unwrap();
    let card = assign_share_card(&client, 9900).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = redis.script_runs();
    let started = Instant::now();
    let tasks: Vec<_> = (0..calls)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.update_card(card).name_on_card("Q").send().await })
        })
        .collect();
    let mut failed = 0;
    for task in tasks {
        if task.await.unwrap().is_err() {
            failed += 1;
        }
    }
    let elapsed = started.elapsed();
    (
        redis.script_runs() - before,
        server.stats().rate_limited(),
        failed,
        elapsed,
    )
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `cargo bench --no-run` probes
    }
    println!("| queued calls | script runs | per call | 429s | failed | run | the limit allows |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for calls in [100, 400, 2000] {
        let (runs, limited, failed, elapsed) = queue(calls).await;
        // The first window's burst goes at once, then a window per 20.
        let floor = (calls as f64 / f64::from(PER_SECOND) - 1.0).max(0.0);
        println!(
            "| {calls} | {runs} | {:.2} | {limited} | {failed} | {:.1} s | >= {floor:.1} s |",
            runs as f64 / calls as f64,
            elapsed.as_secs_f64(),
        );
    }
}
