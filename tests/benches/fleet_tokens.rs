//! `fleet_tokens`: eight replicas (separate clients and token stores) on
//! one set of credentials against the simulator, which voids every token
//! when a new one is minted, as UQPay does; token lifetime 3 s (renewed
//! several times in the run); 2,000 Update Card calls, 25 ms apart per
//! replica. With `RedisTokenStore` and with the in-process store. Then
//! what the per-call read of the store costs: one replica, 1,000 calls back
//! to back, each store. The Redis rows twice: a single server, and a Redis
//! Cluster of six nodes (three masters, `RedisTokenStore::cluster`).
//!
//! ```sh
//! cargo bench -p uqpay-e2e --bench fleet_tokens    # needs redis-server on the PATH
//! ```

use std::time::{Duration, Instant};

use uqpay_e2e::{replica, FleetReport, RedisCluster, RedisServer};
use uqpay_issuing::{Client, InMemoryTokenStore, RedisTokenStore, TokenStore};
use uqpay_mock::MockServer;

const LIFETIME: Duration = Duration::from_secs(3);

fn client(server: &MockServer, store: impl TokenStore) -> Client {
    uqpay_e2e::replica_client(&server.base_url(), "bench-client", "bench-key", store)
}

async fn simulator() -> MockServer {
    MockServer::builder()
        .credentials("bench-client", "bench-key")
        .token_lifetime(LIFETIME)
        .start()
        .await
        .unwrap()
}

async fn fleet<S: TokenStore>(store: impl Fn() -> S) -> (FleetReport, u64, u64, Duration) {
    let server = simulator().await;
    let started = Instant::now();
    let replicas: Vec<_> = (0..8u64)
        .map(|i| {
            tokio::spawn(replica(
                client(&server, store()),
                7000 + i,
                250,
                Duration::from_millis(25),
            ))
        })
        .collect();
    let mut report = FleetReport::default();
    for replica in replicas {
        report.merge(replica.await.unwrap());
    }
    let stats = server.stats();
    (
        report,
        stats.tokens_issued,
        stats.card_total(|c| c.unauthorized),
        started.elapsed(),
    )
}

fn row(label: &str, (report, mints, unauthorized, elapsed): &(FleetReport, u64, u64, Duration)) {
    println!(
        "| {label} | {} | {mints} | {unauthorized} | {} | {} µs | {} µs | {:.1} s |",
        report.calls,
        report.failed(),
        report.quantile_us(0.5),
        report.quantile_us(0.99),
        elapsed.as_secs_f64()
    );
}

async fn back_to_back(store: impl TokenStore) -> FleetReport {
    let server = simulator().await;
    replica(client(&server, store), 7100, 1000, Duration::ZERO).await
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `cargo bench --no-run` probes
    }
    let redis = RedisServer::start();
    println!("| store | calls | mints | 401s | failed calls | p50 | p99 | run |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let cluster = RedisCluster::start();
    let with_redis = fleet(|| RedisTokenStore::new(&redis.url()).unwrap()).await;
    row("RedisTokenStore", &with_redis);
    let on_cluster = fleet(|| RedisTokenStore::cluster(cluster.seeds()).unwrap()).await;
    row("RedisTokenStore::cluster", &on_cluster);
    let in_process = fleet(InMemoryTokenStore::new).await;
    row("in-process (one per replica)", &in_process);
    let memory = back_to_back(InMemoryTokenStore::new()).await;
    let shared = back_to_back(RedisTokenStore::new(&redis.url()).unwrap()).await;
    let clustered = back_to_back(RedisTokenStore::cluster(cluster.seeds()).unwrap()).await;
    let median = |report: &FleetReport| report.quantile_us(0.5);
    println!(
        "\nper-call store read, one replica, 1,000 calls back to back: in-process p50 {} µs, \
         Redis p50 {} µs (the read costs {} µs at the median), Redis Cluster p50 {} µs \
         ({} µs)",
        median(&memory),
        median(&shared),
        median(&shared).saturating_sub(median(&memory)),
        median(&clustered),
        median(&clustered).saturating_sub(median(&memory)),
    );
}
