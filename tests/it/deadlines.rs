//! Deadlines and timeouts: the deadline bounds the whole call (token wait,
//! attempts, backoff), the per-call and per-attempt timeouts cut a hanging
//! answer, whatever timeout `configure_http` sets or removes.
//!
//! Timing slack: a call bounded by a deadline `d` must end before
//! `d + SLACK` (500 ms: the scheduler of a loaded 2-core CI machine, the
//! reading of a timed-out answer); the defects it guards against overshot
//! by seconds. The tests that measure take [`timed`].

use std::time::{Duration, Instant};

use uqpay_e2e::TOKEN;
use uqpay_e2e::{assign_share_card, fast_builder, Canned, FixedServer, Script, ScriptedServer};
use uqpay_issuing::{Client, Error};
use uuid::Uuid;

use crate::support::{minting_client, timed, token_answer, unix_now};

#[tokio::test]
async fn the_deadline_bounds_the_whole_call() {
    let _timed = timed().await;
    let server = FixedServer::start(Canned::json(503, r#"{"message":"busy"}"#)).await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.base_url())
        .retry_backoff(Duration::from_millis(100), Duration::from_millis(100))
        .retry_jitter(Duration::ZERO)
        .max_retries(1000)
        .build()
        .unwrap();
    let error = client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .deadline(Duration::from_millis(550))
        .send()
        .await
        .unwrap_err();
    // 100 ms between attempts: at most 6 fit in 550 ms, however fast the
    // server; the retry budget of 1000 was not what stopped it.
    let sent = server.seen().len();
    assert!((2..=6).contains(&sent), "{sent} attempts");
    assert!(matches!(error, Error::RetriesExhausted { attempts, .. } if attempts as usize == sent));
    assert!(error.is_retryable());
}

#[tokio::test]
async fn the_per_call_timeout_cuts_a_hanging_answer() {
    let server = ScriptedServer::start(|_| Script::Hang).await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let error = client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .timeout(Duration::from_millis(200))
        .max_retries(1)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error.last(), Error::Timeout { .. }), "{error:?}");
    assert_eq!(error.attempts(), 2);
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn a_timeout_set_in_configure_http_applies() {
    let server = ScriptedServer::start(|_| Script::Hang).await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.base_url())
        .max_retries(0)
        .configure_http(|http| http.timeout(Duration::from_millis(200)))
        .build()
        .unwrap();
    let error = assign_share_card(&client, 4).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error:?}");
}

// ---------------------------------------------------------------------------
// The deadline bounds the call, whatever the HTTP client says

/// How far past its deadline a call may end.
const SLACK: Duration = Duration::from_millis(500);

/// A server whose token endpoint answers after `token_delay` and whose card
/// endpoints never answer.
async fn hanging_card_server(token_delay: Duration) -> ScriptedServer {
    ScriptedServer::start(move |seen| {
        if seen.is_token_request() {
            Script::Delay(token_delay, token_answer("tok-h", unix_now() + 1800))
        } else {
            Script::Hang
        }
    })
    .await
}

/// Runs `call`, failing the test if it is still running after `limit`;
/// how long it took.
async fn within<T>(limit: Duration, call: impl std::future::Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(limit, call)
        .await
        .unwrap_or_else(|_| panic!("the call was still running after {limit:?}"));
    (outcome, started.elapsed())
}

/// Makes a call with `deadline`, asserts it ended (retryably) by the
/// deadline and its slack. Fails the test if the call is still running 5 s
/// after the deadline.
async fn ends_by(client: &Client, deadline: Duration) {
    let call = client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .deadline(deadline)
        .send();
    let (result, took) = within(deadline + Duration::from_secs(5), call).await;
    let error = result.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(took < deadline + SLACK, "the call took {took:?}");
}

#[tokio::test]
async fn the_deadline_bounds_the_token_wait_and_the_request_together() {
    let _timed = timed().await;
    let server = hanging_card_server(Duration::from_millis(2500)).await;
    let client = minting_client(&server).build().unwrap();
    ends_by(&client, Duration::from_secs(3)).await;
    assert_eq!(server.token_requests(), 1);
}

#[tokio::test]
async fn the_attempt_timeout_holds_whatever_timeout_configure_http_sets() {
    let _timed = timed().await;
    let server = ScriptedServer::start(|_| Script::Hang).await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .timeout(Duration::from_secs(1))
        .configure_http(|http| http.timeout(Duration::from_secs(12)))
        .build()
        .unwrap();
    ends_by(&client, Duration::from_secs(3)).await;
    // Attempts of 1 s each (the client's timeout), not one of 12 s.
    assert!(server.seen().len() >= 2, "{} attempts", server.seen().len());
}

#[tokio::test]
async fn the_deadline_holds_when_configure_http_removes_every_timeout() {
    let _timed = timed().await;
    let server = ScriptedServer::start(|_| Script::Hang).await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .timeout(Duration::from_secs(2))
        .configure_http(|_| reqwest::Client::builder())
        .build()
        .unwrap();
    ends_by(&client, Duration::from_secs(4)).await;
}
