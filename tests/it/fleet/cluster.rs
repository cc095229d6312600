//! The fleet on a Redis Cluster (issue 27): six `redis-server` processes of
//! the test's own (three masters, three replicas, a node timeout of 1 s),
//! the replicas' stores made with `RedisTokenStore::cluster`. One mint and
//! one rate limit for the fleet as on a single server; every original
//! master killed in turn while the replicas call (no call lost, at most one
//! mint per failover); the slot of the fleet's keys moved mid-run; a
//! configuration the cluster refuses is an error that says so.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use uqpay_e2e::{assign_share_card, fast_builder, RedisCluster};
use uqpay_issuing::{Client, Error, RateLimit, RedisTokenStore};
use uqpay_mock::{MockServer, RateLimits};
use uuid::Uuid;

use crate::support::paced;

const CLIENT_ID: &str = "cluster-client";
const API_KEY: &str = "cluster-key";
const REPLICAS: usize = 4;

/// The fleet's limit, and the simulator's: 20 calls a second.
fn limit() -> RateLimit {
    RateLimit::new(20, Duration::from_secs(1))
}

async fn limited_simulator() -> MockServer {
    MockServer::builder()
        .credentials(CLIENT_ID, API_KEY)
        .rate_limits(RateLimits::per_window(20, Duration::from_secs(1)))
        .start()
        .await
        .unwrap()
}

/// `REPLICAS` clients, each with a store of its own on the cluster.
fn replicas(server: &MockServer, cluster: &RedisCluster) -> Vec<Client> {
    (0..REPLICAS)
        .map(|_| {
            fast_builder(&server.base_url())
                .credentials(CLIENT_ID, API_KEY)
                .token_store(RedisTokenStore::cluster(cluster.seeds()).unwrap())
                .rate_limit(limit())
                .max_retries(5)
                .build()
                .unwrap()
        })
        .collect()
}

/// The slot of the fleet's keys.
fn fleet_slot(cluster: &RedisCluster) -> u16 {
    cluster.slot_of(&format!("uqpay-issuing:{{{CLIENT_ID}}}:token"))
}

/// What the replicas' calls came to.
#[derive(Default)]
struct Outcome {
    calls: AtomicUsize,
    failed: AtomicUsize,
    slowest_ms: AtomicUsize,
}

/// Each replica calls back to back (each call with a 10 s deadline) until
/// `stop`; what their calls came to.
async fn call_until(
    clients: &[Client],
    card: Uuid,
    stop: Arc<AtomicBool>,
    during: impl std::future::Future<Output = ()>,
) -> Arc<Outcome> {
    let outcome = Arc::new(Outcome::default());
    let tasks: Vec<_> = clients
        .iter()
        .cloned()
        .map(|client| {
            let (stop, outcome) = (stop.clone(), outcome.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let call = client
                        .update_card(card)
                        .name_on_card("CLUSTER")
                        .deadline(Duration::from_secs(10))
                        .send()
                        .await;
                    let took = started.elapsed().as_millis() as usize;
                    outcome.slowest_ms.fetch_max(took, Ordering::SeqCst);
                    outcome.calls.fetch_add(1, Ordering::SeqCst);
                    if let Err(error) = call {
                        eprintln!("a call failed: {error}");
                        outcome.failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    during.await;
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.unwrap();
    }
    outcome
}

/// Four replicas, 100 calls, a fleet limit of 20 a second against the
/// simulator limited the same: one mint, no 429, no failure, at least 4 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_a_cluster_mints_once_and_keeps_one_limit() {
    let _paced = paced().await;
    let cluster = RedisCluster::start();
    let server = limited_simulator().await;
    let clients = replicas(&server, &cluster);
    let card = assign_share_card(&clients[0], 8100).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .cloned()
        .map(|client| {
            tokio::spawn(async move {
                let mut failed = 0;
                for _ in 0..25 {
                    if client
                        .update_card(card)
                        .name_on_card("C")
                        .send()
                        .await
                        .is_err()
                    {
                        failed += 1;
                    }
                }
                failed
            })
        })
        .collect();
    let mut failed = 0;
    for task in tasks {
        failed += task.await.unwrap();
    }
    let took = started.elapsed();
    let stats = server.stats();
    println!(
        "cluster: 100 calls in {took:?}, {} mint(s), {} 429s, {failed} failed",
        stats.tokens_issued,
        stats.rate_limited()
    );
    assert_eq!(failed, 0);
    assert_eq!(stats.tokens_issued, 1, "one mint for the fleet");
    assert_eq!(stats.rate_limited(), 0, "no 429");
    assert!(took >= Duration::from_secs(4), "{took:?}");
}

/// Each original master killed in turn (SIGKILL) while four replicas call:
/// no call lost, at most one mint per failover; the time the cluster takes
/// to promote a replica, and the slowest call, printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_master_killed_in_turn_loses_no_call() {
    let _paced = paced().await;
    let mut cluster = RedisCluster::start();
    let server = limited_simulator().await;
    let clients = replicas(&server, &cluster);
    let card = assign_share_card(&clients[0], 8200).await.unwrap();
    let originals: Vec<u16> = cluster.masters().iter().map(|m| m.port).collect();
    assert_eq!(originals.len(), 3);
    let owner = cluster.master_of(fleet_slot(&cluster)).port;
    let stop = Arc::new(AtomicBool::new(false));
    let mut failovers = Vec::new();
    let outcome = call_until(&clients, card, stop, async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        for port in &originals {
            cluster.kill(*port);
            let took = cluster.wait_until_ok(Duration::from_secs(30));
            failovers.push((*port, took));
            // Calls go on for a while on the new master.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    })
    .await;
    let stats = server.stats();
    let calls = outcome.calls.load(Ordering::SeqCst);
    let failed = outcome.failed.load(Ordering::SeqCst);
    for (port, took) in &failovers {
        let theirs = if *port == owner {
            " (the fleet's slot)"
        } else {
            ""
        };
        println!("master {port}{theirs} killed: the cluster was whole again after {took:?}");
    }
    println!(
        "{calls} calls, {failed} failed, {} mint(s), slowest call {} ms",
        stats.tokens_issued,
        outcome.slowest_ms.load(Ordering::SeqCst)
    );
    assert!(calls > 20, "the replicas called throughout ({calls})");
    assert_eq!(failed, 0, "no call lost");
    assert!(
        stats.tokens_issued <= 1 + originals.len() as u64,
        "at most one mint per failover: {}",
        stats.tokens_issued
    );
}

/// The slot of the fleet's keys moved to another master mid-run (`CLUSTER
/// SETSLOT`, keys migrated): the client follows the redirections, no call
/// is lost, no token minted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_moved_mid_run_loses_no_call() {
    let _paced = paced().await;
    let cluster = RedisCluster::start();
    let server = limited_simulator().await;
    let clients = replicas(&server, &cluster);
    let card = assign_share_card(&clients[0], 8300).await.unwrap();
    let slot = fleet_slot(&cluster);
    let before = cluster.master_of(slot).port;
    let stop = Arc::new(AtomicBool::new(false));
    let outcome = call_until(&clients, card, stop, async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = cluster.move_slot(slot);
        assert_ne!(now, before);
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    assert_ne!(cluster.master_of(slot).port, before, "the slot moved");
    assert_eq!(outcome.failed.load(Ordering::SeqCst), 0, "no call lost");
    assert_eq!(
        server.stats().tokens_issued,
        1,
        "the token moved with its slot"
    );
}

/// What the cluster refuses is a configuration error that says so, never
/// "unreachable": a namespace whose own braces make an empty hash tag
/// (`{}`: the keys of a client id then hash apart, CROSSSLOT), and a node
/// of the cluster addressed as a single server (MOVED).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_cluster_refuses_is_a_configuration_error() {
    let _paced = paced().await;
    let cluster = RedisCluster::start();
    let server = MockServer::builder()
        .credentials(CLIENT_ID, API_KEY)
        .start()
        .await
        .unwrap();
    let call = |store: RedisTokenStore| {
        let client = fast_builder(&server.base_url())
            .credentials(CLIENT_ID, API_KEY)
            .token_store(store)
            .build()
            .unwrap();
        async move {
            client
                .update_card(Uuid::new_v4())
                .name_on_card("X")
                .send()
                .await
                .unwrap_err()
        }
    };
    let braces = RedisTokenStore::cluster(cluster.seeds())
        .unwrap()
        .namespace("{}");
    let error = call(braces).await;
    let text = error.to_string();
    assert!(matches!(error.last(), Error::Config(_)), "{error:?}");
    assert!(!error.is_retryable(), "{error}");
    assert!(text.contains("different slots"), "{text}");
    assert!(!text.contains("unreachable"), "{text}");
    // A node that does not serve the fleet's slot, addressed alone.
    let slot = fleet_slot(&cluster);
    let other = cluster
        .masters()
        .into_iter()
        .find(|m| !m.slots.iter().any(|(a, b)| (*a..=*b).contains(&slot)))
        .unwrap();
    let single = RedisTokenStore::new(&format!("redis://127.0.0.1:{}/", other.port)).unwrap();
    let error = call(single).await;
    let text = error.to_string();
    assert!(matches!(error.last(), Error::Config(_)), "{error:?}");
    assert!(text.contains("RedisTokenStore::cluster"), "{text}");
}
