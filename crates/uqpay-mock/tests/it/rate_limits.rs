//! Rate limits (opt-in): UQPay's per-minute budgets, and short windows for
//! tests.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use uqpay_mock::{MockServer, RateLimits, Route, RATE_LIMITED_MESSAGE};
use uuid::Uuid;

use crate::support::{api_with, pan, AUTH, TOKEN};

#[tokio::test]
async fn sandbox_rate_limits_answer_429_past_each_budget() {
    let api = api_with(
        MockServer::builder()
            .token(TOKEN)
            .rate_limits(RateLimits::SANDBOX),
    )
    .await;
    // The token endpoint: 60 a minute.
    let (id, key) = api.server.credentials();
    let headers = [
        ("x-client-id", id.to_owned()),
        ("x-api-key", key.to_owned()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mint = || api.send("/v1/connect/token", &headers, "");
    let mut statuses = Vec::new();
    for _ in 0..61 {
        statuses.push(mint().await.status);
    }
    assert!(statuses[..60].iter().all(|s| *s == StatusCode::OK));
    let limited = mint().await;
    let body = limited.untyped(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "too_many_requests");
    assert_eq!(body["message"], RATE_LIMITED_MESSAGE);
    assert!(limited.headers.get("retry-after").is_none());
    // Card calls: 500 a minute, counted apart.
    for i in 0..500 {
        let answer = api
            .update(Uuid::new_v4(), json!({"name_on_card": "X"}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "call {i}");
    }
    let limited = api
        .update(Uuid::new_v4(), json!({"name_on_card": "X"}))
        .await;
    limited.untyped(StatusCode::TOO_MANY_REQUESTS);
    // The next minute, both budgets are back.
    api.server.advance_clock(Duration::from_secs(60));
    assert_eq!(mint().await.status, StatusCode::OK);
    assert_eq!(api.assign_with(AUTH, &pan(52)).await.status, StatusCode::OK);
    let stats = api.server.stats();
    // The 61st and 62nd token requests, the 501st card call.
    assert_eq!(stats.routes[&Route::Token].rate_limited, 2);
    assert_eq!(stats.routes[&Route::UpdateCard].rate_limited, 1);
    assert_eq!(stats.rate_limited(), 3);
}

#[tokio::test]
async fn a_limit_per_short_window_for_tests_that_meet_it_in_seconds() {
    let window = Duration::from_millis(400);
    let api = api_with(
        MockServer::builder()
            .token(TOKEN)
            .rate_limits(RateLimits::per_window(5, window)),
    )
    .await;
    // Wait for the start of a window so that the burst fits in one.
    let now = api
        .server
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = Duration::from_millis((now.as_millis() % window.as_millis()) as u64);
    tokio::time::sleep(window - into).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            api.update(Uuid::new_v4(), json!({"name_on_card": "X"}))
                .await
                .status,
        );
    }
    // 5 pass the limiter (and find no card), 2 are limited.
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(limited, 2, "{statuses:?}");
    assert_eq!(api.server.stats().rate_limited(), 2);
    // The next window lets calls through again; the token endpoint is not limited.
    tokio::time::sleep(window).await;
    assert_eq!(
        api.update(Uuid::new_v4(), json!({"name_on_card": "X"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
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

/// Issue 25.11: a budget of 0 calls used to be taken, and every card call
/// was answered 429.
#[test]
fn a_budget_of_no_calls_or_no_time_is_refused() {
    let message = panic_message(|| {
        RateLimits::per_window(0, Duration::from_secs(1));
    });
    assert!(message.contains("at least 1"), "{message}");
    let message = panic_message(|| {
        RateLimits::per_window(5, Duration::ZERO);
    });
    assert!(message.contains("window"), "{message}");
    let message = panic_message(|| {
        RateLimits::per_window(5, Duration::from_secs(1)).with_token_limit(0);
    });
    assert!(message.contains("at least 1"), "{message}");
    // Built by hand, they are refused by the builder.
    for limits in [
        RateLimits {
            calls: 0,
            ..RateLimits::PRODUCTION
        },
        RateLimits {
            token: Some(0),
            ..RateLimits::PRODUCTION
        },
        RateLimits {
            window: Duration::ZERO,
            ..RateLimits::PRODUCTION
        },
    ] {
        let message = panic_message(|| {
            let _ = MockServer::builder().rate_limits(limits);
        });
        assert!(message.contains("rate limit"), "{limits:?}: {message}");
    }
    // The parser says so instead of panicking.
    for text in ["0/1s", "0/250ms,token=5", "10/1s,token=0"] {
        let error = text.parse::<RateLimits>().unwrap_err();
        assert!(error.contains("at least 1"), "{text}: {error}");
    }
    // Sub-millisecond windows still count as a millisecond.
    assert_eq!(
        RateLimits::per_window(1, Duration::from_micros(10)).window,
        Duration::from_millis(1)
    );
}
