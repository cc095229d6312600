//! Retries: one committed change per logical call whatever the fault (the
//! same idempotency key on every attempt), what exhausted retries report,
//! `Retry-After` (honoured, or too long to wait), backoff against the
//! deadline, attempts counted where they happen, and the retry budget that
//! bounds the retries of a whole client during an outage.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal_macros::dec;
use uqpay_e2e::{assign_request, client, client_of, fast_builder, pan, simulator};
use uqpay_e2e::{Canned, FixedServer, Script, ScriptedServer, TOKEN, UPDATE_CARD_RESPONSE};
use uqpay_issuing::{CardMode, CardState, CardStatus, Client, Error, RetryBudget};
use uqpay_mock::{Fault, Route};
use uuid::Uuid;

use crate::support::{answer, answer_with, assign, burst, card_ok, spawn_freeze, timed, update};

#[tokio::test]
async fn every_fault_kind_is_retried_to_exactly_one_commit() {
    let server = simulator().await;
    let client = client(&server, 3);
    let card = assign(&client, &pan(8), CardMode::Share).await;
    let faults = Fault::all();
    assert_eq!(faults.len(), 7);
    for (i, fault) in faults.into_iter().enumerate() {
        server.fail_next(2, fault);
        let key = Uuid::new_v4();
        let received = server.requests_received(Route::UpdateCard);
        let limit = dec!(100) + uqpay_issuing::Decimal::from(i as u32);
        client
            .update_card(card)
            .card_limit(limit)
            .idempotency_key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(
            server.requests_received(Route::UpdateCard) - received,
            3,
            "{fault:?}: two faulted attempts and one that went through"
        );
        assert_eq!(server.commits_for_key(key), 1, "{fault:?}");
        assert_eq!(server.card(card).unwrap().card_limit.unwrap().get(), limit);
    }
    assert_eq!(server.card(card).unwrap().updates, 7);

    // A drop after commit on Assign Card: one card, not two.
    server.fail_next(1, Fault::DropAfterCommit);
    let assigned = assign_request(&client, &pan(9), CardMode::Single)
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.card_by_number(&pan(9)).unwrap().card_id,
        assigned.card_id
    );
    assert_eq!(server.cards().len(), 2);
    assert_eq!(server.counters(Route::AssignCard).replayed, 1);
}

#[tokio::test]
async fn exhausted_retries_report_the_attempts_and_the_key() {
    let server = simulator().await;
    let client = client(&server, 2);
    let card = assign(&client, &pan(10), CardMode::Single).await;
    server.fail_next(10, Fault::ServerError(503));
    let error = client
        .update_card_status(card)
        .card_status(CardStatus::Frozen)
        .send()
        .await
        .unwrap_err();
    match &error {
        Error::RetriesExhausted {
            attempts,
            idempotency_key,
            last,
        } => {
            assert_eq!(*attempts, 3);
            assert_eq!(last.status(), Some(503));
            assert_eq!(last.idempotency_key(), *idempotency_key);
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert!(error.to_string().contains("3 attempts"), "{error}");
    assert_eq!(server.requests_received(Route::UpdateCardStatus), 3);
    assert_eq!(server.card(card).unwrap().card_status, CardState::Active);
}

#[tokio::test]
async fn exhausted_retries_of_a_503_are_retryable() {
    let (server, result) = answer_with(
        Canned::json(
            503,
            r#"{"type":"api_error","code":"api_error","message":"busy"}"#,
        ),
        2,
    )
    .await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, Error::RetriesExhausted { attempts: 3, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn max_retries_zero_disables_retries() {
    let server = simulator().await;
    let client = client(&server, 0);
    server.fail_next(1, Fault::ServerError(502));
    let error = assign_request(&client, &pan(11), CardMode::Single)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Api { status: 502, .. }), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(server.card_requests_received(), 1);
}

#[tokio::test]
async fn attempts_are_counted_where_they_happen() {
    // A 200 whose body breaks off: a network error, retried with the same
    // key (the API replays the committed answer), each attempt counted once.
    let server =
        ScriptedServer::start(|_| Script::Truncate(Canned::json(200, UPDATE_CARD_RESPONSE), 20))
            .await;
    let client = client_of(&server.base_url(), 2);
    let error = update(&client).await.unwrap_err();
    assert_eq!(server.seen().len(), 3);
    assert_eq!(error.attempts(), 3, "{error}");
    let once = client_of(&server.base_url(), 0);
    let before = server.seen().len();
    let error = update(&once).await.unwrap_err();
    assert_eq!(server.seen().len() - before, 1);
    assert_eq!(error.attempts(), 1, "{error}");

    // 503, then 404: two attempts, the last answer returned.
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    let server = ScriptedServer::start(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            answer(503, r#"{"message":"busy"}"#)
        } else {
            answer(404, r#"{"code":404,"message":"404 page not found"}"#)
        }
    })
    .await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .build()
        .unwrap();
    let error = update(&client).await.unwrap_err();
    assert_eq!(error.status(), Some(404));
    assert_eq!(error.attempts(), 2, "{error}");
    assert_eq!(server.seen().len(), 2);

    // A header claiming attempts is nobody's business but the server's.
    let server = FixedServer::start(
        Canned::json(
            400,
            r#"{"type":"card_error","code":"card_not_found","message":"m"}"#,
        )
        .with_header("x-uqpay-sdk-attempts", "7"),
    )
    .await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .build()
        .unwrap();
    assert_eq!(update(&client).await.unwrap_err().attempts(), 1);
}

#[tokio::test]
async fn a_request_still_processing_is_retried_until_it_completes() {
    let server = simulator().await;
    let client = client(&server, 50);
    let card = assign(&client, &pan(15), CardMode::Single).await;
    let key = Uuid::new_v4();
    server.hold_requests();
    let first = spawn_freeze(&client, card, key);
    server.wait_for_held(1).await;
    let second = spawn_freeze(&client, card, key);
    // Wait until the second call has been told "processing" at least once.
    while server.counters(Route::UpdateCardStatus).refused == 0 {
        tokio::task::yield_now().await;
    }
    server.release();
    let first = first.await.unwrap().unwrap();
    let second = second.await.unwrap().unwrap();
    assert_eq!(first, second);
    assert_eq!(server.commits_for_key(key), 1);
    assert_eq!(server.card(card).unwrap().status_history.len(), 2);
}

// ---------------------------------------------------------------------------
// Retry-After and backoff

#[tokio::test]
async fn retry_after_is_honoured() {
    let _timed = timed().await;
    let server = simulator().await;
    let client = client(&server, 2);
    server.fail_next(
        1,
        Fault::RateLimited {
            retry_after: Duration::from_secs(1),
        },
    );
    let started = Instant::now();
    assign(&client, &pan(13), CardMode::Single).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried before Retry-After: {:?}",
        started.elapsed()
    );
    // A Retry-After longer than the client is willing to wait ends the call.
    let impatient = fast_builder(&server.base_url())
        .token(TOKEN)
        .max_retry_after(Duration::from_millis(500))
        .build()
        .unwrap();
    server.fail_next(
        1,
        Fault::RateLimited {
            retry_after: Duration::from_secs(30),
        },
    );
    let error = assign_request(&impatient, &pan(14), CardMode::Single)
        .send()
        .await
        .unwrap_err();
    assert!(error.is_rate_limited(), "{error}");
}

#[tokio::test]
async fn a_retry_after_too_large_to_read_ends_the_call() {
    let (server, result) = answer_with(
        Canned::json(429, r#"{"code":"too_many_requests","message":"slow down"}"#)
            .with_header("retry-after", "99999999999999999999999"),
        3,
    )
    .await;
    let error = result.unwrap_err();
    assert!(error.is_rate_limited(), "{error}");
    assert_eq!(error.retry_after(), Some(Duration::MAX));
    assert_eq!(server.seen().len(), 1, "no immediate retry");
}

#[tokio::test]
async fn the_largest_backoff_neither_panics_nor_outlives_the_deadline() {
    let server = FixedServer::start(Canned::json(503, r#"{"message":"busy"}"#)).await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.base_url())
        .retry_backoff(Duration::MAX, Duration::MAX)
        .retry_jitter(Duration::MAX)
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let error = update(&client).await.unwrap_err();
    // The first backoff would end after the deadline: the call gives up.
    assert_eq!(error.status(), Some(503), "{error}");
    assert_eq!(server.seen().len(), 1);
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
    let n = Arc::new(AtomicUsize::new(0));
    let counter = n.clone();
    let server = ScriptedServer::start(move |_| {
        let i = counter.fetch_add(1, Ordering::SeqCst);
        if i.is_multiple_of(11) {
            answer(503, r#"{"message":"blip"}"#)
        } else {
            card_ok()
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
