//! The defects found by trying to break the client (scripted servers that
//! hang, refuse tokens and answer oddly), one test each; and what was
//! verified then and must stay so. (Secrets echoed into logs: secrets.rs.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rust_decimal_macros::dec;
use uqpay_e2e::{
    assign_request, assign_share_card, client_of, credentialed, fast_builder, pan, simulator,
    Canned, FixedServer, Script, ScriptedServer, Seen, TOKEN, UPDATE_CARD_RESPONSE,
};
use uqpay_issuing::{
    AccessToken, CardMode, CardStatus, Client, Error, InMemoryTokenStore, UpdateCardResponse,
};
use uqpay_mock::Route;
use uuid::Uuid;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token answer of the token endpoint.
fn token_answer(token: &str, expired_at: u64) -> Script {
    Script::Answer(Canned::json(
        200,
        &format!(r#"{{"auth_token":"{token}","expired_at":{expired_at}}}"#),
    ))
}

fn card_ok() -> Script {
    Script::Answer(Canned::json(200, UPDATE_CARD_RESPONSE))
}

fn status(code: u16, body: &str) -> Script {
    Script::Answer(Canned::json(code, body))
}

/// A client with credentials (fast retries) of a scripted server.
fn minting_client(server: &ScriptedServer) -> uqpay_issuing::ClientBuilder {
    fast_builder(&server.base_url()).credentials("client-h", "key-h")
}

/// A server whose token endpoint answers 503 and whose card endpoints
/// answer 200.
async fn token_endpoint_down() -> ScriptedServer {
    ScriptedServer::start(|seen| {
        if seen.is_token_request() {
            status(
                503,
                r#"{"type":"api_error","code":"api_error","message":"down"}"#,
            )
        } else {
            card_ok()
        }
    })
    .await
}

async fn update(client: &Client) -> Result<UpdateCardResponse, Error> {
    client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .send()
        .await
}

// ---------------------------------------------------------------------------
// 2. Token fetch failures are shared

#[tokio::test]
async fn a_hanging_token_endpoint_is_waited_on_once_by_every_caller() {
    let server = ScriptedServer::start(|seen| {
        if seen.is_token_request() {
            Script::Hang
        } else {
            card_ok()
        }
    })
    .await;
    let client = minting_client(&server)
        .timeout(Duration::from_secs(1))
        .max_retries(0)
        .build()
        .unwrap();
    let calls = (0..5).map(|_| update(&client));
    let results = futures::future::join_all(calls).await;
    // One fetch for the five callers, and the same outcome for each.
    assert_eq!(server.token_requests(), 1);
    for result in results {
        let error = result.unwrap_err();
        assert!(
            matches!(&error, Error::Token { source, .. } if matches!(**source, Error::Timeout { .. })),
            "{error:?}"
        );
        assert!(error.is_retryable());
    }
    assert!(server.card_requests().is_empty());
}

#[tokio::test]
async fn a_failed_fetch_is_remembered_briefly_instead_of_hammered() {
    let server = token_endpoint_down().await;
    let client = minting_client(&server).max_retries(0).build().unwrap();
    // A burst of calls, one after the other, within the memory of the failure.
    for _ in 0..10 {
        let error = update(&client).await.unwrap_err();
        assert_eq!(error.status(), Some(503), "{error}");
        assert!(error.is_retryable());
    }
    assert_eq!(server.token_requests(), 1);
}

#[tokio::test]
async fn a_token_that_has_already_expired_is_not_minted_again_for_every_call() {
    // The token endpoint's clock and ours disagree: its tokens look expired.
    let server = ScriptedServer::start(|seen| {
        if seen.is_token_request() {
            token_answer("tok-skewed", 1_000_000_000)
        } else {
            card_ok()
        }
    })
    .await;
    let client = minting_client(&server).build().unwrap();
    for _ in 0..5 {
        update(&client).await.unwrap();
    }
    assert_eq!(server.token_requests(), 1);
    assert!(server
        .card_requests()
        .iter()
        .all(|s| s.header("x-auth-token") == "Bearer tok-skewed"));
}

#[tokio::test]
async fn a_server_clock_an_hour_ahead_does_not_keep_an_expired_token() {
    // The simulator's clock runs an hour ahead: its tokens' expired_at is
    // 90 minutes ahead of ours, but they live 30 minutes. The client reads
    // the lifetime against the answer's Date.
    let (server, client) = credentialed("c", "k").await;
    server.advance_clock(Duration::from_secs(3600));
    let card = assign_share_card(&client, 1).await.unwrap();
    // 31 minutes later on the server, the token has expired there; the
    // client mints a new one (after one 401) and the call goes through.
    server.advance_clock(Duration::from_secs(31 * 60));
    client
        .update_card(card)
        .name_on_card("LATER")
        .send()
        .await
        .unwrap();
    assert_eq!(server.stats().tokens_issued, 2);
}

// ---------------------------------------------------------------------------
// 3. A valid token is not dropped when its early renewal fails

#[tokio::test]
async fn a_valid_token_is_used_while_its_renewal_fails() {
    let server = token_endpoint_down().await;
    // A token with a minute left: inside its renewal window.
    let store = InMemoryTokenStore::new();
    let expires = SystemTime::now() + Duration::from_secs(60);
    store.insert(
        "client-h",
        AccessToken::new("tok-still-good", expires).unwrap(),
    );
    let client = minting_client(&server)
        .token_store(store)
        .max_retries(0)
        .build()
        .unwrap();
    for _ in 0..3 {
        update(&client).await.unwrap();
    }
    let cards = server.card_requests();
    assert_eq!(cards.len(), 3);
    assert!(cards
        .iter()
        .all(|s| s.header("x-auth-token") == "Bearer tok-still-good"));
    // The renewal was tried (in the background), and failed, costing no call.
    assert!(server.token_requests() >= 1);
}

// ---------------------------------------------------------------------------
// 4. A failed refresh after a 401 is the refresh failure

#[tokio::test]
async fn a_failed_refresh_after_a_401_is_reported_as_such_and_retryable() {
    let minted = Arc::new(AtomicUsize::new(0));
    let counter = minted.clone();
    let server = ScriptedServer::start(move |seen| {
        if seen.is_token_request() {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                token_answer("tok-first", unix_now() + 1800)
            } else {
                status(503, r#"{"type":"api_error","code":"api_error","message":"token service down"}"#)
            }
        } else {
            status(401, r#"{"type":"unauthorized_error","code":"unauthorized_error","message":"token expired"}"#)
        }
    })
    .await;
    let client = minting_client(&server).max_retries(0).build().unwrap();
    let error = update(&client).await.unwrap_err();
    // Two attempts (the refused one, then the one that needed a new token),
    // so inside a RetriesExhausted: the refresh failure, not an "unauthorized".
    let Error::RetriesExhausted {
        attempts: 2, last, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    match &**last {
        Error::Token {
            source, refused, ..
        } => {
            assert_eq!(source.status(), Some(503), "{error}");
            assert!(
                refused.as_deref().unwrap().contains("token expired"),
                "{error}"
            );
        }
        other => panic!("expected the refresh failure, got {other:?}"),
    }
    assert!(error.is_retryable(), "{error}");
    assert_eq!(error.status(), Some(503));
    assert_eq!(minted.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------
// 5. Tokens never in errors

#[tokio::test]
async fn an_undecodable_token_answer_keeps_no_body() {
    let server = ScriptedServer::start(|seen| {
        if seen.is_token_request() {
            status(
                200,
                r#"{"auth_token":"tok-in-a-bad-answer","expired_at":"soon"}"#,
            )
        } else {
            card_ok()
        }
    })
    .await;
    let client = minting_client(&server).max_retries(0).build().unwrap();
    let error = update(&client).await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(matches!(error.last(), Error::Decode { .. }), "{text}");
    assert!(!text.contains("tok-in-a-bad-answer"), "{text}");
}

#[tokio::test]
async fn a_refused_opaque_token_echoed_by_the_api_is_scrubbed() {
    let minted = Arc::new(AtomicUsize::new(0));
    let counter = minted.clone();
    let server = ScriptedServer::start(move |seen| {
        if seen.is_token_request() {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                token_answer("opaque-tok-123456", unix_now() + 1800)
            } else {
                status(503, r#"{"message":"down"}"#)
            }
        } else {
            let sent = seen.header("x-auth-token").to_owned();
            status(
                401,
                &format!(r#"{{"type":"unauthorized_error","code":"unauthorized_error","message":"token {sent} is invalid"}}"#),
            )
        }
    })
    .await;
    let client = minting_client(&server).max_retries(0).build().unwrap();
    let error = update(&client).await.unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(text.contains("[REDACTED]"), "{text}");
    assert!(!text.contains("opaque-tok-123456"), "{text}");
    // And with a fixed token, the same.
    let server = FixedServer::start(Canned::json(
        401,
        r#"{"type":"unauthorized_error","code":"unauthorized_error","message":"fixed-secret-token-999 rejected"}"#,
    ))
    .await;
    let client = fast_builder(&server.base_url())
        .token("fixed-secret-token-999")
        .build()
        .unwrap();
    let error = update(&client).await.unwrap_err();
    assert!(!format!("{error} {error:?}").contains("fixed-secret-token-999"));
}

// ---------------------------------------------------------------------------
// 6. Exhausted retries are as retryable as their last error

#[tokio::test]
async fn exhausted_retries_of_a_503_are_retryable() {
    let server = FixedServer::start(Canned::json(
        503,
        r#"{"type":"api_error","code":"api_error","message":"busy"}"#,
    ))
    .await;
    let client = client_of(&server.base_url(), 2);
    let error = update(&client).await.unwrap_err();
    assert!(
        matches!(error, Error::RetriesExhausted { attempts: 3, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(server.seen().len(), 3);
}

// ---------------------------------------------------------------------------
// 8. A card number in the wrong field is masked

#[tokio::test]
async fn a_card_number_typed_into_the_wrong_field_is_masked() {
    let server = simulator().await;
    let client = uqpay_e2e::client(&server, 0);
    for typed in [
        "4096360800133951",
        "4096 3608 0013 3951",
        "4096-3608-0013-3951",
    ] {
        let errors = [
            client
                .update_card(Uuid::new_v4())
                .blocked_mcc([typed])
                .send()
                .await
                .unwrap_err(),
            client
                .assign_card()
                .cardholder_id(Uuid::new_v4())
                .card_number(pan(1))
                .card_currency(typed)
                .card_mode(CardMode::Single)
                .send()
                .await
                .unwrap_err(),
            client
                .update_card(Uuid::new_v4())
                .name_on_card(typed)
                .on_behalf_of(typed)
                .send()
                .await
                .unwrap_err(),
        ];
        for error in errors {
            assert!(error.is_validation(), "{error}");
            let text = format!("{error} {error:?}");
            assert!(!text.contains(typed), "{typed} leaks: {text}");
        }
    }
    assert_eq!(server.card_requests_received(), 0);
}

// ---------------------------------------------------------------------------
// 9. The smaller ones

#[tokio::test]
async fn a_retry_after_too_large_to_read_ends_the_call() {
    let server = FixedServer::start(
        Canned::json(429, r#"{"code":"too_many_requests","message":"slow down"}"#)
            .with_header("retry-after", "99999999999999999999999"),
    )
    .await;
    let client = client_of(&server.base_url(), 3);
    let error = update(&client).await.unwrap_err();
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

#[tokio::test]
async fn the_deadline_bounds_the_whole_call() {
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
            status(503, r#"{"message":"busy"}"#)
        } else {
            status(404, r#"{"code":404,"message":"404 page not found"}"#)
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
async fn names_with_invisible_characters_are_refused_by_client_and_simulator() {
    let server = simulator().await;
    let client = uqpay_e2e::client(&server, 0);
    let card = assign_share_card(&client, 2).await.unwrap();
    for bad in [
        "MARSHALL\u{200B}HU",
        "TAB\tNAME",
        "\u{202E}UH LLAHSRAM",
        "BELL\u{7}",
    ] {
        let error = client
            .update_card(card)
            .name_on_card(bad)
            .send()
            .await
            .unwrap_err();
        match &error {
            Error::Validation { field, reason } => {
                assert_eq!(field, "name_on_card");
                assert!(reason.contains("printable"), "{reason}");
            }
            other => panic!("{bad:?}: {other:?}"),
        }
        // The simulator refuses the same name sent raw.
        let answer = reqwest::Client::new()
            .post(format!("{}/v1/issuing/cards/{card}", server.base_url()))
            .header("x-auth-token", uqpay_e2e::AUTH_HEADER)
            .header("x-idempotency-key", Uuid::new_v4().to_string())
            .json(&serde_json::json!({ "name_on_card": bad }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{bad:?}");
    }
    // Accents, CJK and apostrophes are printable; length is in characters.
    for ok in ["Zoë O'Brien", "李小龍", &"É".repeat(26)] {
        client
            .update_card(card)
            .name_on_card(ok)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
    assert_eq!(server.card(card).unwrap().updates, 3);
}

// ---------------------------------------------------------------------------
// Verified then, and must stay so

#[tokio::test]
async fn one_key_and_one_body_through_503_401_refresh_429_and_200() {
    let step = Arc::new(AtomicUsize::new(0));
    let counter = step.clone();
    let server = ScriptedServer::start(move |seen: &Seen| {
        if seen.is_token_request() {
            let n = counter.load(Ordering::SeqCst);
            return token_answer(&format!("tok-{n}"), unix_now() + 1800);
        }
        match counter.fetch_add(1, Ordering::SeqCst) {
            0 => status(503, r#"{"type":"api_error","code":"api_error","message":"busy"}"#),
            1 => status(401, r#"{"type":"unauthorized_error","code":"unauthorized_error","message":"token expired"}"#),
            2 => Script::Answer(
                Canned::json(429, r#"{"code":"too_many_requests","message":"slow"}"#)
                    .with_header("retry-after", "0"),
            ),
            _ => card_ok(),
        }
    })
    .await;
    let client = minting_client(&server).max_retries(3).build().unwrap();
    let key = Uuid::new_v4();
    client
        .update_card(Uuid::nil())
        .card_limit(dec!(2100.02))
        .metadata("k", "v")
        .idempotency_key(key)
        .send()
        .await
        .unwrap();
    let cards = server.card_requests();
    assert_eq!(cards.len(), 4);
    for seen in &cards {
        assert_eq!(seen.header("x-idempotency-key"), key.to_string());
        assert_eq!(
            seen.body, cards[0].body,
            "every attempt sends the same bytes"
        );
    }
    // The 401 got a new token; the attempts after it carried it.
    assert_eq!(server.token_requests(), 2);
    assert_ne!(
        cards[1].header("x-auth-token"),
        cards[2].header("x-auth-token")
    );
    assert_eq!(
        cards[2].header("x-auth-token"),
        cards[3].header("x-auth-token")
    );
}

#[tokio::test]
async fn twenty_concurrent_401s_share_one_refresh() {
    let (server, client) = credentialed("c20", "k20").await;
    let card = assign_share_card(&client, 3).await.unwrap();
    // The token expires; twenty calls meet a 401 each, then wait (held
    // after authentication) with whatever token they got next.
    server.expire_issued_tokens();
    server.hold_requests();
    let refused_before = server.counters(Route::UpdateCard).refused;
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .update_card(card)
                    .name_on_card(format!("N{i}"))
                    .send()
                    .await
            })
        })
        .collect();
    server.wait_for_held(20).await;
    server.release();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(
        server.counters(Route::UpdateCard).refused - refused_before,
        20
    );
    assert_eq!(server.stats().tokens_issued, 2);
}

#[tokio::test]
async fn max_retries_zero_sends_one_request_and_idempotency_errors_are_final() {
    let server = FixedServer::start(Canned::json(
        400,
        r#"{"type":"idempotency_error","code":"idempotency_key_reused","message":"reused"}"#,
    ))
    .await;
    let client = client_of(&server.base_url(), 5);
    let error = update(&client).await.unwrap_err();
    assert!(error.is_idempotency_conflict() && !error.is_retryable());
    assert_eq!(server.seen().len(), 1);
    server.set(Canned::json(503, r#"{"message":"busy"}"#));
    let error = client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .max_retries(0)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.attempts(), 1);
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_calls_with_one_key_commit_once() {
    let server = simulator().await;
    let client = uqpay_e2e::client(&server, 50);
    let card = assign_request(&client, &pan(4), CardMode::Single)
        .send()
        .await
        .unwrap()
        .card_id;
    let key = Uuid::new_v4();
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .update_card_status(card)
                    .card_status(CardStatus::Frozen)
                    .idempotency_key(key)
                    .send()
                    .await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap().unwrap());
    }
    assert!(answers.iter().all(|a| *a == answers[0]));
    assert_eq!(server.commits_for_key(key), 1);
    assert_eq!(server.card(card).unwrap().status_history.len(), 2);
    assert!(server.counters(Route::UpdateCardStatus).received >= 64);
}
