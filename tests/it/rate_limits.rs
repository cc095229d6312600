//! UQPay's rate limit kept by one process: a run at the limit meets no 429
//! and takes the time the limit says (bounds in `support`), a wait that
//! would pass the deadline fails at once, a 429 slows the pace, and calls
//! cancelled while they wait give their slots back. (Across a fleet:
//! `fleet::rate_limit`.) Every test here measures time and takes
//! [`timed`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use uqpay_e2e::{assign_share_card, client, fast_builder, Canned, FixedServer, ScriptedServer};
use uqpay_e2e::{TOKEN, UPDATE_CARD_RESPONSE};
use uqpay_issuing::{Error, RateLimit};
use uqpay_mock::{MockServer, RateLimits};
use uuid::Uuid;

use crate::support::{
    a_fresh_call_goes, allowed, answer, burst, card_ok, floor_time, timed, update,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_keeps_the_limit_without_a_429() {
    let _timed = timed().await;
    let limit = RateLimit::new(400, Duration::from_secs(1));
    let server = MockServer::builder()
        .token(TOKEN)
        .rate_limits(RateLimits::per_window(400, Duration::from_secs(1)))
        .start()
        .await
        .unwrap();
    let card = assign_share_card(&client(&server, 0), 1).await.unwrap();
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .rate_limit(limit)
        .build()
        .unwrap();
    // The assignment took a slot of the simulator's window: start afresh.
    tokio::time::sleep(limit.per() * 2).await;
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (client, next) = (client.clone(), next.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                while next.fetch_add(1, Ordering::SeqCst) < 2000 {
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
    let _timed = timed().await;
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
    let _timed = timed().await;
    // Another system on the account: the first calls of the burst meet a
    // 429 from the server, though the client keeps its own limit.
    let n = Arc::new(AtomicUsize::new(0));
    let counter = n.clone();
    let server = ScriptedServer::start(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) < 3 {
            answer(
                429,
                r#"{"code":"too_many_requests","message":"Too many requests"}"#,
            )
        } else {
            card_ok()
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
    let _timed = timed().await;
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
    a_fresh_call_goes(&client, Uuid::new_v4()).await;
    assert_eq!(server.seen().len(), 3, "two calls, then the fresh one");
}
