//! Backpressure (issue 17): the retry budget during an outage, and UQPay's
//! rate limits kept by one process and by a fleet sharing one Redis.
//!
//! Time bounds: a run of `N` calls under a limit of `n` per window `w`
//! cannot end before `(N / n - 1) * w` (the first burst goes at once, each
//! later one waits a window). What the limit allows is that, plus the time
//! the last burst takes to run, which is the client's speed, not the
//! limit's: measured in the same run as the time the first `n` calls (a
//! burst the limiter does not slow) took to complete. The run must end
//! within 10 % of that (the client keeps a margin of a fiftieth of the
//! window, at least 20 ms, per window).

use std::sync::Arc;
use std::time::{Duration, Instant};

use uqpay_e2e::{
    assign_share_card, fast_builder, Canned, FixedServer, RedisServer, TOKEN, UPDATE_CARD_RESPONSE,
};
use uqpay_issuing::{Client, Error, RateLimit, RedisTokenStore, RetryBudget};
use uqpay_mock::{MockServer, RateLimits};
use uuid::Uuid;

/// The tests that measure time run one at a time (the others of this file
/// may run beside them).
static TIMED: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn update(client: &Client) -> Result<(), Error> {
    client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .send()
        .await
        .map(|_| ())
}

/// Runs `calls` calls on `tasks` tasks at once; their results.
async fn burst(client: &Client, calls: usize, tasks: usize) -> Vec<Result<(), Error>> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (client, next) = (client.clone(), next.clone());
            tokio::spawn(async move {
                let mut results = Vec::new();
                while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < calls {
                    results.push(update(&client).await);
                }
                results
            })
        })
        .collect();
    let mut results = Vec::new();
    for worker in workers {
        results.extend(worker.await.unwrap());
    }
    results
}

// ---------------------------------------------------------------------------
// The retry budget

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_an_outage_the_budget_bounds_the_retries_and_refills_after() {
    let server = FixedServer::start(Canned::json(
        503,
        r#"{"type":"api_error","code":"api_error","message":"down"}"#,
    ))
    .await;
    // Default settings (2 retries, 500 ms backoff with 1 s of jitter, the
    // default budget), except the token and the server.
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let budget = client.retry_budget().clone();
    assert_eq!(budget.capacity(), Some(500));
    let results = burst(&client, 1000, 64).await;
    let sent = server.seen().len();
    // The bound: one attempt per call, plus what 500 tokens pay for at 5 a
    // retry. Without the budget: 3,000.
    println!("outage: 1000 calls, {sent} attempts on the wire");
    assert!(sent <= 1000 + 500 / 5, "{sent} attempts for 1000 calls");
    assert!(sent > 1000, "retries were made while the budget lasted");
    let spent = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.is_retry_budget_spent()))
        .count();
    assert!(spent > 0, "calls ended for the spent budget");
    for result in &results {
        let error = result.as_ref().unwrap_err();
        assert!(error.is_retryable(), "{error}");
        assert_eq!(error.status(), Some(503), "{error}");
    }
    let spent_error = results
        .iter()
        .find_map(|r| r.as_ref().err().filter(|e| e.is_retry_budget_spent()))
        .unwrap();
    assert!(
        spent_error.to_string().contains("retry budget is spent"),
        "{spent_error}"
    );
    assert!(budget.available() < 5);
    // The service recovers: calls succeed at their first attempt, each
    // refilling the budget by one.
    server.set(Canned::json(200, UPDATE_CARD_RESPONSE));
    let before = (server.seen().len(), budget.available());
    for _ in 0..50 {
        update(&client).await.unwrap();
    }
    assert_eq!(server.seen().len(), before.0 + 50, "one attempt each");
    assert_eq!(budget.available(), before.1 + 50);
}

#[tokio::test]
async fn a_disabled_budget_retries_every_call_and_a_quiet_service_never_spends_it() {
    let server = FixedServer::start(Canned::json(503, r#"{"message":"down"}"#)).await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .retry_budget(RetryBudget::disabled())
        .build()
        .unwrap();
    let results = burst(&client, 200, 16).await;
    assert_eq!(server.seen().len(), 600, "200 calls, 3 attempts each");
    assert!(results
        .iter()
        .all(|r| r.as_ref().unwrap_err().status() == Some(503)));
    // A quiet service: a call in ten needs one retry (and succeeds), forever.
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = n.clone();
    let server = uqpay_e2e::ScriptedServer::start(move |_| {
        let i = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if i.is_multiple_of(11) {
            uqpay_e2e::Script::Answer(Canned::json(503, r#"{"message":"blip"}"#))
        } else {
            uqpay_e2e::Script::Answer(Canned::json(200, UPDATE_CARD_RESPONSE))
        }
    })
    .await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .retry_budget(RetryBudget::new(20))
        .build()
        .unwrap();
    for result in burst(&client, 2000, 8).await {
        result.unwrap();
    }
    assert!(client.retry_budget().available() > 0);
}

// ---------------------------------------------------------------------------
// The rate limit, one process

/// The shortest a run of `calls` may take under `limit`.
fn floor_time(calls: u32, limit: RateLimit) -> Duration {
    limit.per() * (calls.div_ceil(limit.requests()) - 1)
}

/// What `limit` allows for a run whose calls completed at `done` (from its
/// start): the floor, plus what the first burst took (the client's speed).
/// The run's length, the burst's and the allowed time.
fn allowed(limit: RateLimit, mut done: Vec<Duration>) -> (Duration, Duration, Duration) {
    done.sort();
    let took = *done.last().unwrap();
    let burst = done[limit.requests() as usize - 1];
    (took, burst, floor_time(done.len() as u32, limit) + burst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_keeps_the_limit_without_a_429() {
    let _timed = TIMED.lock().await;
    let limit = RateLimit::new(400, Duration::from_secs(1));
    let server = MockServer::builder()
        .token(TOKEN)
        .rate_limits(RateLimits::per_window(400, Duration::from_secs(1)))
        .start()
        .await
        .unwrap();
    let card = assign_share_card(&uqpay_e2e::client(&server, 0), 1)
        .await
        .unwrap();
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .rate_limit(limit)
        .build()
        .unwrap();
    // The assignment took a slot of the simulator's window: start afresh.
    tokio::time::sleep(limit.per() * 2).await;
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (client, next) = (client.clone(), next.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2000 {
                    client
                        .update_card(card)
                        .name_on_card("BULK")
                        .send()
                        .await
                        .unwrap();
                    done.push(started.elapsed());
                }
                done
            })
        })
        .collect();
    let mut done = Vec::new();
    for worker in workers {
        done.extend(worker.await.unwrap());
    }
    let floor = floor_time(2000, limit);
    let (took, burst, allowed) = allowed(limit, done);
    println!(
        "one process: 2000 calls at {}/{:?} in {took:?} (floor {floor:?}, a burst {burst:?}: \
         {allowed:?} allowed), {} 429s",
        limit.requests(),
        limit.per(),
        server.stats().rate_limited()
    );
    assert_eq!(server.stats().rate_limited(), 0, "no call met a 429");
    assert!(took >= floor, "faster than the limit allows: {took:?}");
    assert!(took <= allowed.mul_f64(1.1), "{took:?} against {allowed:?}");
}

#[tokio::test]
async fn a_wait_past_the_deadline_fails_at_once_and_says_so() {
    let server = FixedServer::start(Canned::json(200, UPDATE_CARD_RESPONSE)).await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .rate_limit(RateLimit::new(1, Duration::from_secs(30)))
        .build()
        .unwrap();
    update(&client).await.unwrap();
    let started = Instant::now();
    let error = client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .deadline(Duration::from_secs(2))
        .send()
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "it did not wait for nothing"
    );
    assert!(matches!(error, Error::RateLimitTimeout { .. }), "{error:?}");
    assert!(error.is_timeout() && error.is_retryable());
    assert!(error.to_string().contains("rate limit"), "{error}");
    assert!(error.idempotency_key().is_some());
    assert_eq!(server.seen().len(), 1, "nothing sent for the second call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_429_the_client_slows_down() {
    // Another system on the account: the first calls of the burst meet a
    // 429 from the server, though the client keeps its own limit.
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = n.clone();
    let server = uqpay_e2e::ScriptedServer::start(move |_| {
        if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 3 {
            uqpay_e2e::Script::Answer(Canned::json(
                429,
                r#"{"code":"too_many_requests","message":"Too many requests"}"#,
            ))
        } else {
            uqpay_e2e::Script::Answer(Canned::json(200, UPDATE_CARD_RESPONSE))
        }
    })
    .await;
    let limit = RateLimit::new(20, Duration::from_secs(1));
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .rate_limit(limit)
        .max_retries(3)
        .build()
        .unwrap();
    // The first call meets the 429s (retried within its budget).
    update(&client).await.unwrap();
    // Now a burst of 20: at full pace they would all start at once; slowed
    // to 70 %, some wait for the next window.
    let started = Instant::now();
    for result in burst(&client, 20, 20).await {
        result.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the pace did not slow after the 429s: {:?}",
        started.elapsed()
    );
}

/// Calls cancelled while they wait for the rate limit (a caller's timeout,
/// `tokio::select!`, a client that went away) keep no slot: a call made
/// after they are gone goes as soon as the calls that went out allow.
#[tokio::test]
async fn cancelled_waiters_give_their_slots_back() {
    let server = FixedServer::start(Canned::json(200, UPDATE_CARD_RESPONSE)).await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .rate_limit(RateLimit::new(2, Duration::from_secs(1)))
        .build()
        .unwrap();
    update(&client).await.unwrap();
    update(&client).await.unwrap();
    let cancelled = futures::future::join_all(
        (0..100).map(|_| tokio::time::timeout(Duration::from_millis(50), update(&client))),
    )
    .await;
    assert!(
        cancelled.iter().all(Result::is_err),
        "every waiter cancelled"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fresh = client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .deadline(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        fresh.is_ok(),
        "the cancelled waiters held the slots: {fresh:?}"
    );
    assert_eq!(server.seen().len(), 3, "two calls, then the fresh one");
}

/// The same with a fleet's limiter while Redis is out of reach: the share
/// each replica keeps in process gives cancelled waiters' slots back too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_waiters_give_their_slots_back_in_the_fleet_fallback() {
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
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fresh = client
        .update_card(card)
        .name_on_card("X")
        .deadline(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        fresh.is_ok(),
        "the cancelled waiters held the slots: {fresh:?}"
    );
    assert!(
        received() <= sent_before + 2,
        "at most one waiter and the fresh call sent"
    );
}

// ---------------------------------------------------------------------------
// The rate limit, across a fleet

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
    let _timed = TIMED.lock().await;
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
    let _timed = TIMED.lock().await;
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
