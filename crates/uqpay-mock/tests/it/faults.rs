//! Injected faults: queued and seeded random ones, what each answers (or
//! drops) and what it leaves processed.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use uqpay_mock::{Fault, MockServer, Route, Stats, PROCESSING_MESSAGE};
use uuid::Uuid;

use crate::support::{api, api_with, assign_body, pan, TOKEN};

#[tokio::test]
async fn rate_limiting_answers_429_with_retry_after_and_processes_nothing() {
    let api = api().await;
    api.server.fail_next(
        1,
        Fault::RateLimited {
            retry_after: Duration::from_millis(1500),
        },
    );
    let body = assign_body(&pan(20), "SINGLE");
    let key = Uuid::new_v4();
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    let error = answer.untyped(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error["code"], "too_many_requests");
    assert_eq!(answer.headers["retry-after"], "2");
    assert!(api.server.cards().is_empty());
    // The key was not consumed: the retry commits.
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(api.server.stats().faults["rate_limited"], 1);
}

#[tokio::test]
async fn server_errors_are_5xx_with_the_error_body() {
    let api = api().await;
    for status in [500, 502, 503] {
        api.server.fail_next(1, Fault::ServerError(status));
        let body = assign_body(&pan(21), "SINGLE");
        let answer = api
            .call("/v1/issuing/cards/assign", Uuid::new_v4(), None, &body)
            .await;
        answer.error(StatusCode::from_u16(status).unwrap(), "api_error");
        assert!(api.server.cards().is_empty());
    }
    assert_eq!(api.server.counters(Route::AssignCard).faulted, 3);
}

#[tokio::test]
async fn the_processing_fault_answers_like_an_in_flight_key_and_processes_nothing() {
    let api = api().await;
    api.server.fail_next(1, Fault::RequestProcessing);
    let key = Uuid::new_v4();
    let body = assign_body(&pan(47), "SINGLE");
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(
        answer.untyped(StatusCode::BAD_REQUEST),
        json!({"code": 200, "message": PROCESSING_MESSAGE})
    );
    assert!(api.server.cards().is_empty());
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn a_connection_dropped_before_processing_changes_nothing() {
    let api = api().await;
    api.server.fail_next(1, Fault::DropBeforeProcessing);
    let key = Uuid::new_v4();
    let body = assign_body(&pan(22), "SINGLE");
    let result = api.try_assign(key, &body).await;
    let error = result.expect_err("the connection is closed without an answer");
    assert!(!error.is_status());
    assert!(api.server.cards().is_empty());
    assert_eq!(api.server.commits_for_key(key), 0);
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(api.server.commits_for_key(key), 1);
}

#[tokio::test]
async fn a_connection_dropped_after_commit_changed_state_and_the_retry_replays() {
    let api = api().await;
    api.server.fail_next(1, Fault::DropAfterCommit);
    let key = Uuid::new_v4();
    let body = assign_body(&pan(23), "SINGLE");
    let result = api.try_assign(key, &body).await;
    assert!(result.is_err(), "the client sees no answer");
    let card = api
        .server
        .card_by_number(&pan(23))
        .expect("but the card was assigned");
    assert_eq!(api.server.commits_for_key(key), 1);
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["card_id"], card.card_id.to_string());
    assert_eq!(api.server.commits_for_key(key), 1);
    assert_eq!(api.server.replays_for_key(key), 1);
    assert_eq!(api.server.cards().len(), 1);
}

#[tokio::test]
async fn random_faults_follow_the_seed_and_are_counted() {
    async fn run(seed: u64) -> (Vec<u16>, Stats) {
        let api = api_with(
            MockServer::builder()
                .token(TOKEN)
                .seed(seed)
                .random_faults(0.5, vec![Fault::ServerError(503), Fault::ServerError(500)]),
        )
        .await;
        let mut statuses = Vec::new();
        for i in 0..40 {
            let body = assign_body(&pan(100 + i), "SINGLE");
            let answer = api
                .call("/v1/issuing/cards/assign", Uuid::new_v4(), None, &body)
                .await;
            statuses.push(answer.status.as_u16());
        }
        (statuses, api.server.stats())
    }
    let (first, stats) = run(9).await;
    let (second, _) = run(9).await;
    assert_eq!(first, second, "the same seed faults the same requests");
    let faulted = first.iter().filter(|s| **s >= 500).count() as u64;
    assert!((8..=32).contains(&faulted), "{faulted} of 40 at rate 0.5");
    let counters = stats.routes[&Route::AssignCard];
    assert_eq!(counters.received, 40);
    assert_eq!(counters.faulted, faulted);
    assert_eq!(counters.committed, 40 - faulted);
    assert_eq!(stats.faults.values().sum::<u64>(), faulted);
}

/// What `f` panicked with (it must panic).
fn panic_message(f: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .expect_err("refused with a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Issue 25.11: a NaN rate used to be taken, and then every card request
/// panicked in its handler (the connection dropped); a rate over 1 was
/// silently clamped.
#[tokio::test]
async fn a_fault_rate_outside_0_to_1_is_refused() {
    let api = api().await;
    for rate in [f64::NAN, -0.1, 1.5, 7.0, f64::INFINITY, f64::NEG_INFINITY] {
        let message = panic_message(|| api.server.set_random_faults(rate, Fault::all()));
        assert!(
            message.contains("fault rate") && message.contains("0 to 1"),
            "{rate}: {message}"
        );
        let message = panic_message(|| {
            let _ = MockServer::builder().random_faults(rate, Fault::all());
        });
        assert!(message.contains("fault rate"), "{rate}: {message}");
    }
    // Nothing was set: card requests are answered, none faulted.
    let answer = api
        .call(
            "/v1/issuing/cards/assign",
            Uuid::new_v4(),
            None,
            &assign_body(&pan(60), "SINGLE"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(api.server.stats().faults.is_empty());
    // The bounds are rates: 1 faults every request, 0 none.
    api.server
        .set_random_faults(1.0, vec![Fault::ServerError(503)]);
    let answer = api
        .call(
            "/v1/issuing/cards/assign",
            Uuid::new_v4(),
            None,
            &assign_body(&pan(61), "SINGLE"),
        )
        .await;
    answer.error(StatusCode::SERVICE_UNAVAILABLE, "api_error");
    api.server.set_random_faults(0.0, Fault::all());
    let answer = api
        .call(
            "/v1/issuing/cards/assign",
            Uuid::new_v4(),
            None,
            &assign_body(&pan(61), "SINGLE"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}
