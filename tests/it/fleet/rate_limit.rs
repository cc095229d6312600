//! UQPay's rate limit kept by a fleet sharing one Redis (issue 17): eight
//! replicas keep one limit without a 429 (and, each keeping the whole
//! limit for itself, exceed it), a Redis outage mid-run loses no call, and
//! while Redis is out of reach each replica keeps its share, from which
//! cancelled waiters give their slots back. Time bounds as in `support`.
//! Every test here measures time and takes [`timed`].

use std::time::{Duration, Instant};

use uqpay_e2e::{assign_share_card, fast_builder, RedisServer};
use uqpay_issuing::{Client, RateLimit, RedisTokenStore};
use uqpay_mock::{MockServer, RateLimits};

use crate::support::{a_fresh_call_goes, allowed, floor_time, timed};

const CLIENT_ID: &str = "bp-client";

const API_KEY: &str = "bp-key";

const REPLICAS: usize = 8;

const CALLS: usize = 250;

fn fleet_limit() -> RateLimit {
    RateLimit::new(250, Duration::from_millis(500))
}

async fn limited_simulator() -> MockServer {
    MockServer::builder()
        .credentials(CLIENT_ID, API_KEY)
        .rate_limits(RateLimits::per_window(250, Duration::from_millis(500)))
        .start()
        .await
        .unwrap()
}

/// 8 replicas (clients of their own, `store(i)`), each assigning a card and
/// making 250 Update Card calls back to back; failed calls and how long it
/// took (the assignments excluded).
async fn fleet_run(
    server: &MockServer,
    store: impl Fn() -> RedisTokenStore,
    during: impl std::future::Future<Output = ()>,
) -> (usize, Vec<Duration>) {
    fleet_run_with(server, |builder| builder.token_store(store()), during).await
}

/// [`fleet_run`] with each replica's builder finished by `store`.
async fn fleet_run_with(
    server: &MockServer,
    store: impl Fn(uqpay_issuing::ClientBuilder) -> uqpay_issuing::ClientBuilder,
    during: impl std::future::Future<Output = ()>,
) -> (usize, Vec<Duration>) {
    let clients: Vec<Client> = (0..REPLICAS)
        .map(|_| {
            store(fast_builder(&server.base_url()).credentials(CLIENT_ID, API_KEY))
                .rate_limit(fleet_limit())
                .max_retries(5)
                .build()
                .unwrap()
        })
        .collect();
    let mut cards = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        cards.push(assign_share_card(client, 5000 + i as u64).await.unwrap());
    }
    // A fresh window for the measured run.
    tokio::time::sleep(fleet_limit().per() * 2).await;
    let started = Instant::now();
    let replicas: Vec<_> = clients
        .into_iter()
        .zip(cards)
        .map(|(client, card)| {
            tokio::spawn(async move {
                let mut failed = 0;
                let mut done = Vec::new();
                for _ in 0..CALLS {
                    let call = client.update_card(card).name_on_card("FLEET").send();
                    if let Err(error) = call.await {
                        if failed == 0 {
                            eprintln!("the first failed call of a replica: {error}");
                        }
                        failed += 1;
                    }
                    done.push(started.elapsed());
                }
                (failed, done)
            })
        })
        .collect();
    during.await;
    let mut failed = 0;
    let mut done = Vec::new();
    for replica in replicas {
        let (f, d) = replica.await.unwrap();
        failed += f;
        done.extend(d);
    }
    (failed, done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_keeps_one_limit_through_redis() {
    let _timed = timed().await;
    let calls = (REPLICAS * CALLS) as u32;
    let floor = floor_time(calls, fleet_limit());

    // The shared limiter.
    let redis = RedisServer::start();
    let server = limited_simulator().await;
    let before = server.stats().rate_limited();
    let (failed, done) = fleet_run(
        &server,
        || RedisTokenStore::new(&redis.url()).unwrap(),
        async {},
    )
    .await;
    let (took, burst, allowed) = allowed(fleet_limit(), done);
    let limited = server.stats().rate_limited() - before;
    println!(
        "fleet, shared limit: {calls} calls in {took:?} (floor {floor:?}, a burst {burst:?}: \
         {allowed:?} allowed), {limited} 429s, {failed} failed"
    );
    assert_eq!(failed, 0);
    assert_eq!(limited, 0, "no 429 with the fleet's limit");
    assert!(took >= floor, "{took:?}");
    assert!(took <= allowed.mul_f64(1.1), "{took:?} against {allowed:?}");

    // Each replica keeping the whole limit for itself (in-process token
    // stores, on a simulator where tokens coexist so that they do not void
    // each other): the fleet pushes at eight times the limit.
    let server = MockServer::builder()
        .credentials(CLIENT_ID, API_KEY)
        .token_policy(uqpay_mock::TokenPolicy::Coexist)
        .rate_limits(RateLimits::per_window(250, Duration::from_millis(500)))
        .start()
        .await
        .unwrap();
    let (failed, done) = fleet_run_with(
        &server,
        |builder| builder.token_store(uqpay_issuing::InMemoryTokenStore::new()),
        async {},
    )
    .await;
    let limited = server.stats().rate_limited();
    let took = done.iter().max().unwrap();
    println!(
        "fleet, a limit per replica: {calls} calls in {took:?}, {limited} 429s, {failed} failed"
    );
    assert!(
        limited > 0,
        "a limit per replica lets the fleet exceed UQPay's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_mid_run_loses_no_call() {
    let _timed = timed().await;
    let mut redis = RedisServer::start();
    let url = redis.url();
    let server = limited_simulator().await;
    let (failed, done) = fleet_run(&server, || RedisTokenStore::new(&url).unwrap(), async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        redis.kill();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        redis.restart();
    })
    .await;
    println!(
        "fleet, Redis down 0.8 s to 2.3 s: {} calls in {:?}, {} 429s, {failed} failed",
        REPLICAS * CALLS,
        done.iter().max().unwrap(),
        server.stats().rate_limited()
    );
    assert_eq!(failed, 0, "no call lost");
}

/// The same with a fleet's limiter while Redis is out of reach: the share
/// each replica keeps in process gives cancelled waiters' slots back too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_waiters_give_their_slots_back_in_the_fleet_fallback() {
    let _timed = timed().await;
    let mut redis = RedisServer::start();
    let server = MockServer::builder()
        .credentials(CLIENT_ID, API_KEY)
        .start()
        .await
        .unwrap();
    let store = RedisTokenStore::new(&redis.url())
        .unwrap()
        // Left alone for 5 s after a failure: the whole test in the fallback.
        .operation_timeout(Duration::from_secs(5));
    let client = fast_builder(&server.base_url())
        .credentials(CLIENT_ID, API_KEY)
        .token_store(store)
        .rate_limit(RateLimit::new(2, Duration::from_secs(1)))
        .build()
        .unwrap();
    let card = assign_share_card(&client, 9100).await.unwrap();
    let update = || client.update_card(card).name_on_card("X").send();
    redis.kill();
    // Into the fallback: the share starts full, this call waits a window.
    update().await.unwrap();
    let received = || server.stats().card_total(|c| c.received);
    let sent_before = received();
    let waiters = futures::future::join_all(
        (0..100).map(|_| tokio::time::timeout(Duration::from_millis(50), update())),
    )
    .await;
    let went = waiters.iter().filter(|w| w.is_ok()).count();
    assert!(went <= 1, "one slot of the share was free: {went} went");
    a_fresh_call_goes(&client, card).await;
    assert!(
        received() <= sent_before + 2,
        "at most one waiter and the fresh call sent"
    );
}

/// A simulator limited to `n` card calls per `window`, with the fleet's
/// credentials, and a replica of it keeping the same limit through `redis`.
async fn limited_pair(
    redis: &RedisServer,
    n: u32,
    window: Duration,
    store: impl FnOnce(RedisTokenStore) -> RedisTokenStore,
) -> (MockServer, Client) {
    let server = MockServer::builder()
        .credentials(CLIENT_ID, API_KEY)
        .rate_limits(RateLimits::per_window(n, window))
        .start()
        .await
        .unwrap();
    let client = fast_builder(&server.base_url())
        .credentials(CLIENT_ID, API_KEY)
        .token_store(store(RedisTokenStore::new(&redis.url()).unwrap()))
        .rate_limit(RateLimit::new(n, window))
        .max_retries(5)
        .build()
        .unwrap();
    (server, client)
}

/// Runs `calls` Update Cards of `card` at once; the failures.
async fn queued(client: &Client, card: uuid::Uuid, calls: usize) -> usize {
    let calls = (0..calls).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.update_card(card).name_on_card("Q").send().await })
    });
    let mut failed = 0;
    for call in calls.collect::<Vec<_>>() {
        if call.await.unwrap().is_err() {
            failed += 1;
        }
    }
    failed
}

/// Waiters on the fleet's limit do not poll Redis as a herd (issue 25.3):
/// one replica, 50 per second, 200 calls queued at once: about one script
/// run per call (it was 10 to 13, growing with the queue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_calls_run_about_one_script_each() {
    let _timed = timed().await;
    let redis = RedisServer::start();
    let (server, client) = limited_pair(&redis, 50, Duration::from_secs(1), |store| store).await;
    let card = assign_share_card(&client, 7100).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = redis.script_runs();
    let calls = 200;
    assert_eq!(queued(&client, card, calls).await, 0, "no call lost");
    let runs = redis.script_runs() - before;
    println!(
        "200 queued calls at 50/s: {runs} script runs ({:.2} a call)",
        runs as f64 / calls as f64
    );
    assert!(
        runs <= 2 * calls as u64,
        "{runs} script runs for {calls} calls"
    );
    assert_eq!(server.stats().rate_limited(), 0, "no call met a 429");
}

/// A Redis that loses the fleet's log (a flush, a restart without
/// persistence) does not let a second burst through (issue 25.8): each
/// replica also keeps to its share of the window on its own count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_log_does_not_let_a_second_burst_through() {
    let _timed = timed().await;
    let redis = RedisServer::start();
    let window = Duration::from_secs(3);
    let (server, client) = limited_pair(&redis, 5, window, |store| store).await;
    // 1 + 4 calls: the window is full.
    let card = assign_share_card(&client, 7200).await.unwrap();
    let started = Instant::now();
    for _ in 0..4 {
        client
            .update_card(card)
            .name_on_card("A")
            .send()
            .await
            .unwrap();
    }
    let logs = redis.cli(&["KEYS", "*ratelimit*"]);
    for key in logs.lines().filter(|k| !k.is_empty()) {
        redis.cli(&["DEL", key]);
    }
    assert!(
        redis.cli(&["KEYS", "*ratelimit*"]).is_empty(),
        "the log is gone"
    );
    for _ in 0..5 {
        client
            .update_card(card)
            .name_on_card("B")
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        server.stats().rate_limited(),
        0,
        "the second burst went before the window ended"
    );
    assert!(started.elapsed() >= window, "{:?}", started.elapsed());
}

/// Replicas configured with different windows (a rolling deploy that
/// changes it) keep separate logs: one never erases the other's entries
/// (issue 25.9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_different_windows_do_not_erase_each_others_log() {
    let _timed = timed().await;
    let redis = RedisServer::start();
    let server = MockServer::builder()
        .credentials(CLIENT_ID, API_KEY)
        .start()
        .await
        .unwrap();
    let replica = |limit: RateLimit| {
        fast_builder(&server.base_url())
            .credentials(CLIENT_ID, API_KEY)
            .token_store(RedisTokenStore::new(&redis.url()).unwrap())
            .rate_limit(limit)
            .build()
            .unwrap()
    };
    let a = replica(RateLimit::new(4, Duration::from_secs(10)));
    let b = replica(RateLimit::new(4, Duration::from_millis(500)));
    let card = assign_share_card(&a, 7300).await.unwrap();
    for _ in 0..3 {
        a.update_card(card).name_on_card("A").send().await.unwrap();
    }
    // B's call (whose cleanup drops entries older than its 500 ms).
    tokio::time::sleep(Duration::from_millis(700)).await;
    b.update_card(card).name_on_card("B").send().await.unwrap();
    let a_log = format!("uqpay-issuing:{{{CLIENT_ID}}}:ratelimit:10200");
    assert_eq!(redis.cli(&["ZCARD", &a_log]), "4", "A's window is intact");
    // So A's fifth call waits for its window (past a 1 s deadline).
    let fifth = a
        .update_card(card)
        .name_on_card("A")
        .deadline(Duration::from_secs(1))
        .send()
        .await
        .unwrap_err();
    assert!(fifth.is_timeout(), "{fifth}");
}

/// A busy replica may take the fleet's free slots: its own count holds it
/// to its share only when Redis lost grants of the window. Limit 10 a
/// second, replica B makes one call, then replica A 20 at once: A needs two
/// windows (the fleet's limit), not four (a share of 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_replica_takes_the_free_slots_of_the_fleet() {
    let _timed = timed().await;
    let redis = RedisServer::start();
    let window = Duration::from_secs(1);
    let (server, a) = limited_pair(&redis, 10, window, |store| store).await;
    let b = fast_builder(&server.base_url())
        .credentials(CLIENT_ID, API_KEY)
        .token_store(RedisTokenStore::new(&redis.url()).unwrap())
        .rate_limit(RateLimit::new(10, window))
        .build()
        .unwrap();
    let card = assign_share_card(&a, 7400).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    b.update_card(card).name_on_card("B").send().await.unwrap();
    let started = Instant::now();
    assert_eq!(queued(&a, card, 20).await, 0);
    let took = started.elapsed();
    println!("A's 20 calls with B idle: {took:?}");
    assert!(
        took < window * 3,
        "A was held to a share of the limit with the fleet's slots free: {took:?}"
    );
    assert_eq!(server.stats().rate_limited(), 0);
}

/// A Redis that stops answering for less than the store's operation
/// timeout (300 ms of 1 s) neither fails the call that waits for it nor
/// stalls the calls after it for a window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_redis_pause_neither_fails_nor_stalls_calls() {
    let _timed = timed().await;
    let redis = RedisServer::start();
    let (_server, client) = limited_pair(&redis, 10, Duration::from_secs(10), |store| store).await;
    let card = assign_share_card(&client, 7500).await.unwrap();
    redis.pause();
    let during = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .update_card(card)
                .name_on_card("P")
                .deadline(Duration::from_secs(5))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.resume();
    let during = during.await.unwrap();
    assert!(during.is_ok(), "the call during the pause: {during:?}");
    let started = Instant::now();
    let after = client
        .update_card(card)
        .name_on_card("Q")
        .deadline(Duration::from_secs(5))
        .send()
        .await;
    assert!(after.is_ok(), "the call after the pause: {after:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the next call stalled: {:?}",
        started.elapsed()
    );
}
