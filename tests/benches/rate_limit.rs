//! `rate_limit`: what keeping UQPay's rate limit costs a call when no call
//! has to wait (a limit far above the load), in process and for a fleet in
//! Redis. Against the simulator (credentials, so that the Redis store is
//! used), one client, calls back to back, the four configurations in
//! alternating rounds of 200 calls (the host drifts); medians per call.
//!
//! - no limit, in-process token store (the baseline);
//! - `ClientBuilder::rate_limit`, in-process limiter;
//! - `RedisTokenStore`, no limit: each call reads the store (`MGET`);
//! - `RedisTokenStore` with the limit: each call runs the script that
//!   takes the fleet's slot and reads the token in the same round trip;
//! - the last two on a Redis Cluster of six nodes (`RedisTokenStore::cluster`).
//!
//! ```sh
//! cargo bench -p uqpay-e2e --bench rate_limit    # needs redis-server on the PATH
//! ```

use std::time::{Duration, Instant};

use uqpay_e2e::{assign_share_card, fast_builder, RedisCluster, RedisServer};
use uqpay_issuing::{Client, InMemoryTokenStore, RateLimit, RedisTokenStore};
use uqpay_mock::MockServer;

const ROUNDS: usize = 15;
const CALLS: usize = 200;

fn limit() -> RateLimit {
    // Never reached: the cost of keeping it, not of waiting for it.
    RateLimit::new(1_000_000, Duration::from_secs(1))
}

struct Config {
    label: &'static str,
    client: Client,
    card: uuid::Uuid,
    per_call_us: Vec<f64>,
}

async fn config(
    label: &'static str,
    server: &MockServer,
    builder: uqpay_issuing::ClientBuilder,
    n: u64,
) -> Config {
    let client = builder.build().unwrap();
    let card = assign_share_card(&client, n).await.unwrap();
    Config {
        label,
        client,
        card,
        per_call_us: Vec::new(),
    }
    .warm(server)
    .await
}

impl Config {
    async fn warm(self, _server: &MockServer) -> Self {
        for _ in 0..50 {
            self.call().await;
        }
        self
    }

    async fn call(&self) {
        self.client
            .update_card(self.card)
            .name_on_card("BENCH")
            .send()
            .await
            .unwrap();
    }

    async fn round(&mut self) {
        let started = Instant::now();
        for _ in 0..CALLS {
            self.call().await;
        }
        self.per_call_us
            .push(started.elapsed().as_secs_f64() * 1e6 / CALLS as f64);
    }

    fn median(&self) -> f64 {
        let mut sorted = self.per_call_us.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `cargo bench --no-run` probes
    }
    let redis = RedisServer::start();
    let cluster = RedisCluster::start();
    let server = MockServer::builder()
        .credentials("bench-client", "bench-key")
        .start()
        .await
        .unwrap();
    let builder = || fast_builder(&server.base_url()).credentials("bench-client", "bench-key");
    let store = InMemoryTokenStore::new();
    let mut configs = vec![
        config(
            "no limit, in-process store",
            &server,
            builder().token_store(store.clone()),
            1,
        )
        .await,
        config(
            "in-process limiter",
            &server,
            builder().token_store(store.clone()).rate_limit(limit()),
            2,
        )
        .await,
        config(
            "Redis store, no limit (MGET)",
            &server,
            builder().token_store(RedisTokenStore::new(&redis.url()).unwrap()),
            3,
        )
        .await,
        config(
            "Redis store + fleet limit (one script)",
            &server,
            builder()
                .token_store(RedisTokenStore::new(&redis.url()).unwrap())
                .rate_limit(limit()),
            4,
        )
        .await,
        config(
            "Redis Cluster store, no limit (MGET)",
            &server,
            builder().token_store(RedisTokenStore::cluster(cluster.seeds()).unwrap()),
            5,
        )
        .await,
        config(
            "Redis Cluster store + fleet limit (one script)",
            &server,
            builder()
                .token_store(RedisTokenStore::cluster(cluster.seeds()).unwrap())
                .rate_limit(limit()),
            6,
        )
        .await,
    ];
    for _ in 0..ROUNDS {
        for config in &mut configs {
            config.round().await;
        }
    }
    println!("| configuration | per call (median of {ROUNDS} rounds of {CALLS}) |");
    println!("| --- | --- |");
    for config in &configs {
        println!("| {} | {:.1} µs |", config.label, config.median());
    }
    println!(
        "\nin-process limiter: {:+.1} µs per call; fleet limit in Redis: {:+.1} µs per call \
         over the store's own read",
        configs[1].median() - configs[0].median(),
        configs[3].median() - configs[2].median()
    );
    println!(
        "on a cluster: the store's read {:+.1} µs per call over a single server's, the fleet \
         limit {:+.1} µs over the cluster store's own read",
        configs[4].median() - configs[2].median(),
        configs[5].median() - configs[4].median()
    );
}
