//! A fleet on one set of credentials: replicas with separate clients and
//! token stores (and, once, separate OS processes) against the simulator,
//! which voids every token when a new one is minted, as UQPay does. With
//! `RedisTokenStore` the fleet behaves like one client; with the in-process
//! store the same run is measured beside it (the thrash the fleet is
//! spared). Each test starts its own redis-server, and runs under both
//! readings of UQPay's docs: a new token voids the earlier ones (the Card
//! Issuance FAQ) or they coexist (the v1.6 quickstart); the client needs no
//! setting to be right under either.

use std::time::{Duration, Instant};

use uqpay_e2e::{assign_share_card, error_kind, replica, FleetReport, RedisServer};
use uqpay_issuing::{Client, InMemoryTokenStore, RedisTokenStore, TokenStore};
use uqpay_mock::{MockServer, Route, TokenPolicy};

use crate::support::paced;

const CLIENT_ID: &str = "fleet-client";

const API_KEY: &str = "fleet-key";

/// Shortened from UQPay's 30 minutes so that it expires (is renewed) twice
/// and more during a run.
const LIFETIME: Duration = Duration::from_secs(3);

const REPLICAS: u64 = 8;

const CALLS_PER_REPLICA: usize = 250;

const PACE: Duration = Duration::from_millis(25);

const POLICIES: [TokenPolicy; 2] = [TokenPolicy::Void, TokenPolicy::Coexist];

async fn simulator(policy: TokenPolicy) -> MockServer {
    MockServer::builder()
        .credentials(CLIENT_ID, API_KEY)
        .token_lifetime(LIFETIME)
        .token_policy(policy)
        .start()
        .await
        .unwrap()
}

fn replica_client(server: &MockServer, store: impl TokenStore) -> Client {
    uqpay_e2e::replica_client(&server.base_url(), CLIENT_ID, API_KEY, store)
}

/// What the simulator saw during a run.
struct Seen {
    mints: u64,
    unauthorized: u64,
    elapsed: Duration,
}

impl Seen {
    fn of(server: &MockServer, started: Instant) -> Self {
        let stats = server.stats();
        Self {
            mints: stats.tokens_issued,
            unauthorized: stats.card_total(|c| c.unauthorized),
            elapsed: started.elapsed(),
        }
    }

    /// The token's renewal periods the run spanned: the mints one client
    /// would have made. A client renews at half the lifetime it counts,
    /// which is a second less than UQPay's (its times are whole seconds).
    fn windows(&self) -> u64 {
        let period = (LIFETIME.as_secs_f64() - 1.0) / 2.0;
        (self.elapsed.as_secs_f64() / period).ceil() as u64
    }
}

fn print(label: &str, policy: TokenPolicy, report: &FleetReport, seen: &Seen) {
    println!(
        "fleet_tokens {label} ({policy:?}): {} calls, {} failed {:?}, {} mints ({} renewal windows), {} 401s, \
         p50 {} us, p99 {} us, {:.1} s",
        report.calls,
        report.failed(),
        report.failures,
        seen.mints,
        seen.windows(),
        seen.unauthorized,
        report.quantile_us(0.5),
        report.quantile_us(0.99),
        seen.elapsed.as_secs_f64()
    );
}

/// Runs `REPLICAS` replicas at once, each with the store `store(i)`.
async fn run<S: TokenStore>(server: &MockServer, store: impl Fn(u64) -> S) -> (FleetReport, Seen) {
    let started = Instant::now();
    let replicas: Vec<_> = (0..REPLICAS)
        .map(|i| {
            let client = replica_client(server, store(i));
            tokio::spawn(replica(client, 9000 + i, CALLS_PER_REPLICA, PACE))
        })
        .collect();
    let mut report = FleetReport::default();
    for replica in replicas {
        report.merge(replica.await.unwrap());
    }
    (report, Seen::of(server, started))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_replicas_share_one_token_through_redis_and_thrash_without_it() {
    let _paced = paced().await;
    for policy in POLICIES {
        let redis = RedisServer::start();
        let server = simulator(policy).await;
        let (report, seen) = run(&server, |_| RedisTokenStore::new(&redis.url()).unwrap()).await;
        print("redis", policy, &report, &seen);
        assert_eq!(report.calls, 2000);
        assert_eq!(report.failed(), 0, "{policy:?}: {:?}", report.failures);
        // The token expired (was renewed) at least twice; once per renewal
        // window for the whole fleet, not once per replica.
        assert!(seen.mints >= 3, "{policy:?}: {} mints", seen.mints);
        assert!(
            seen.mints <= seen.windows() + 1,
            "{policy:?}: {} mints for {} windows",
            seen.mints,
            seen.windows()
        );
        // 401s only from calls in flight when a mint voided their token: at
        // most one per replica per mint; none when tokens coexist.
        match policy {
            TokenPolicy::Void => assert!(
                seen.unauthorized <= REPLICAS * seen.mints,
                "{} 401s",
                seen.unauthorized
            ),
            TokenPolicy::Coexist => assert_eq!(seen.unauthorized, 0),
        }

        let server = simulator(policy).await;
        let (in_process, thrash) = run(&server, |_| InMemoryTokenStore::new()).await;
        print("in-process", policy, &in_process, &thrash);
        // A token per replica: several times the fleet's mints, whichever
        // the policy (and the token endpoint's 60 / 100 a minute nearer).
        assert!(
            thrash.mints > 2 * seen.mints,
            "{policy:?}: the in-process stores minted {} times, Redis {}",
            thrash.mints,
            seen.mints
        );
        match policy {
            TokenPolicy::Void => assert!(thrash.unauthorized > seen.unauthorized),
            TokenPolicy::Coexist => {
                assert_eq!(thrash.unauthorized, 0);
                assert_eq!(in_process.failed(), 0, "{:?}", in_process.failures);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_os_processes_share_one_token_through_redis() {
    let _paced = paced().await;
    for policy in POLICIES {
        four_os_processes(policy).await;
    }
}

async fn four_os_processes(policy: TokenPolicy) {
    let redis = RedisServer::start();
    let server = simulator(policy).await;
    let started = Instant::now();
    let workers: Vec<_> = (0..4u64)
        .map(|i| {
            std::process::Command::new(env!("CARGO_BIN_EXE_fleet-worker"))
                .args([
                    server.base_url(),
                    redis.url(),
                    CLIENT_ID.into(),
                    API_KEY.into(),
                    (9100 + i).to_string(),
                    "500".into(),
                    "12".into(),
                ])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut report = FleetReport::default();
    for worker in workers {
        let output = tokio::task::spawn_blocking(move || worker.wait_with_output().unwrap())
            .await
            .unwrap();
        assert!(output.status.success());
        report.merge(serde_json::from_slice(&output.stdout).unwrap());
    }
    let seen = Seen::of(&server, started);
    print("redis, 4 processes", policy, &report, &seen);
    assert_eq!(report.calls, 2000);
    assert_eq!(report.failed(), 0, "{:?}", report.failures);
    assert!(
        seen.mints >= 3 && seen.mints <= seen.windows() + 1,
        "{} mints",
        seen.mints
    );
    assert!(seen.unauthorized <= 4 * seen.mints);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_rereads_the_store_and_mints_only_if_the_refused_token_is_still_stored() {
    for policy in POLICIES {
        let redis = RedisServer::start();
        let server = MockServer::builder()
            .credentials(CLIENT_ID, API_KEY)
            .token_policy(policy)
            .start()
            .await
            .unwrap();
        let a = replica_client(&server, RedisTokenStore::new(&redis.url()).unwrap());
        let b = replica_client(&server, RedisTokenStore::new(&redis.url()).unwrap());
        let card_a = replica(a.clone(), 9200, 1, Duration::ZERO).await;
        let card_b = replica(b.clone(), 9201, 1, Duration::ZERO).await;
        assert_eq!((card_a.failed(), card_b.failed()), (0, 0));
        assert_eq!(server.stats().tokens_issued, 1, "one token for both");
        // A client outside the fleet mints: under Void the fleet's token is
        // void now, under Coexist it still works.
        let outsider = replica_client(&server, InMemoryTokenStore::new());
        replica(outsider, 9202, 0, Duration::ZERO).await;
        assert_eq!(server.stats().tokens_issued, 2);
        // A: under Void, meets a 401, finds its refused token still stored,
        // mints; under Coexist, no 401 and no mint.
        assert_eq!(replica(a, 9203, 1, Duration::ZERO).await.failed(), 0);
        let after_a = match policy {
            TokenPolicy::Void => 3,
            TokenPolicy::Coexist => 2,
        };
        assert_eq!(server.stats().tokens_issued, after_a, "{policy:?}");
        let unauthorized = server.counters(Route::UpdateCard).unauthorized;
        // B reads the store before its call: A's token, no 401, no mint.
        assert_eq!(replica(b, 9204, 1, Duration::ZERO).await.failed(), 0);
        assert_eq!(server.stats().tokens_issued, after_a);
        assert_eq!(
            server.counters(Route::UpdateCard).unauthorized,
            unauthorized
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_a_replica_keeps_its_token_and_fails_clearly_without_one() {
    let _paced = paced().await;
    for policy in POLICIES {
        redis_outage(policy).await;
    }
}

async fn redis_outage(policy: TokenPolicy) {
    let mut redis = RedisServer::start();
    let server = simulator(policy).await;
    let client = replica_client(&server, RedisTokenStore::new(&redis.url()).unwrap());
    let card = assign_share_card(&client, 9300).await.unwrap();
    // Calls, one after the other, for ~8 s; Redis dies after 1 s and comes
    // back (empty) after 5 s. Each call is recorded with its outcome.
    let started = Instant::now();
    let calls = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        while started.elapsed() < Duration::from_secs(8) {
            let at = started.elapsed();
            let result = client.update_card(card).name_on_card("OUTAGE").send().await;
            outcomes.push((at, result.map(|_| ()).map_err(|e| error_kind(&e))));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        outcomes
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed = started.elapsed();
    redis.kill();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let restarted = started.elapsed();
    redis.restart();
    let outcomes = calls.await.unwrap();

    let down = |at: &Duration| *at > killed && *at < restarted;
    // Every call accounted for: it succeeded, or failed with the documented
    // token-store error (retryable); nothing else.
    for (at, outcome) in &outcomes {
        if let Err(kind) = outcome {
            assert!(
                down(at),
                "a call failed outside the outage: {kind} at {at:?}"
            );
            assert!(kind.contains("token store"), "{kind}");
        }
    }
    // While Redis was down the held token kept serving until it expired...
    let served_while_down = outcomes
        .iter()
        .filter(|(at, o)| down(at) && o.is_ok())
        .count();
    assert!(
        served_while_down > 0,
        "no call was served from the held token"
    );
    // ...then calls that needed a new token failed clearly...
    let refused_while_down = outcomes
        .iter()
        .filter(|(at, o)| down(at) && o.is_err())
        .count();
    assert!(
        refused_while_down > 0,
        "the token never expired during the outage"
    );
    // ...and once Redis was back, calls succeeded again.
    let after: Vec<_> = outcomes
        .iter()
        .filter(|(at, _)| *at > restarted + Duration::from_millis(500))
        .collect();
    assert!(!after.is_empty() && after.iter().all(|(_, o)| o.is_ok()));
    println!(
        "redis outage ({policy:?}): {} calls, {served_while_down} served from the held token \
         while down, {refused_while_down} refused with Error::TokenStore, {} mints",
        outcomes.len(),
        server.stats().tokens_issued
    );
}
