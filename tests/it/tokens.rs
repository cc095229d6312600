//! Access tokens: fetched once for concurrent first calls, cached,
//! refreshed once after a 401 (however many calls met it), renewed early
//! without dropping a valid token, a failed fetch shared and remembered
//! briefly, clocks that disagree, a token voided by another client of the
//! same credentials, a mint task lost with its runtime or fed an absurd
//! expiry; and a wrong fixed token, which is final.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use uqpay_e2e::{assign_share_card, credentialed, fast_builder, pan, simulator};
use uqpay_e2e::{Script, ScriptedServer};
use uqpay_issuing::{AccessToken, CardMode, Error, InMemoryTokenStore};
use uqpay_mock::{MockServer, Route};
use uuid::Uuid;

use crate::support::{
    answer, assign, card_ok, minting_client, timed, token_answer, token_server, unix_now, update,
    MINTING_ID,
};

#[tokio::test]
async fn credentials_fetch_cache_and_refresh_the_token() {
    let (server, client) = credentialed("client-9", "key-9").await;
    // Concurrent first calls share one token fetch.
    let calls = (0..16).map(|i| {
        let client = client.clone();
        async move { assign(&client, &pan(100 + i), CardMode::Single).await }
    });
    futures::future::join_all(calls).await;
    assert_eq!(server.stats().tokens_issued, 1);

    // A refused (expired) token is refreshed once and the call retried once;
    // calls refused at the same time share one refresh.
    server.expire_issued_tokens();
    let calls = (0..8).map(|i| {
        let client = client.clone();
        async move { assign(&client, &pan(200 + i), CardMode::Single).await }
    });
    let cards = futures::future::join_all(calls).await;
    let card = cards[0];
    assert_eq!(server.stats().tokens_issued, 2);
    assert!(cards.iter().all(|card| server.card(*card).is_some()));
    let refused = server.counters(Route::AssignCard).refused;
    assert!((1..=8).contains(&refused), "{refused}");

    // Wrong credentials: a clear error, nothing sent to the card routes.
    let wrong = fast_builder(&server.base_url())
        .credentials("client-9", "not-the-key")
        .build()
        .unwrap();
    let before = server.card_requests_received();
    let error = wrong
        .update_card(card)
        .name_on_card("X")
        .send()
        .await
        .unwrap_err();
    // The token endpoint's refusal, as the cause of a token error: final.
    assert!(
        matches!(&error, Error::Token { source, .. } if matches!(**source, Error::Unauthorized { .. })),
        "{error:?}"
    );
    assert!(error.is_unauthorized() && !error.is_retryable(), "{error}");
    assert!(!error.to_string().contains("not-the-key"), "{error}");
    assert_eq!(server.card_requests_received(), before);
}

#[tokio::test]
async fn a_token_voided_by_another_client_is_refreshed_and_the_call_goes_through() {
    let server = MockServer::builder()
        .credentials("fleet", "fleet-key")
        .start()
        .await
        .unwrap();
    // Two clients on the same credentials, each with its own token cache.
    let first = fast_builder(&server.base_url())
        .credentials("fleet", "fleet-key")
        .build()
        .unwrap();
    let second = fast_builder(&server.base_url())
        .credentials("fleet", "fleet-key")
        .build()
        .unwrap();
    let card = assign(&first, &pan(300), CardMode::Share).await;
    // The second client's mint voids the first one's token (UQPay keeps one
    // live token per client id)...
    assign(&second, &pan(301), CardMode::Share).await;
    assert_eq!(server.stats().tokens_issued, 2);
    // ...so the first meets a 401, mints again, and its call succeeds.
    let refused_before = server.counters(Route::UpdateCard).refused;
    first
        .update_card(card)
        .name_on_card("AGAIN")
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.counters(Route::UpdateCard).refused,
        refused_before + 1
    );
    assert_eq!(server.stats().tokens_issued, 3);
}

#[tokio::test]
async fn a_wrong_fixed_token_is_unauthorized_and_not_retried() {
    let server = simulator().await;
    let client = fast_builder(&server.base_url())
        .token("wrong-token")
        .max_retries(3)
        .build()
        .unwrap();
    let error = client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
    assert_eq!(error.status(), Some(401));
    assert_eq!(server.card_requests_received(), 1);
}

// ---------------------------------------------------------------------------
// A failed fetch is shared, and remembered

/// A server whose token endpoint answers 503 and whose card endpoints
/// answer 200.
async fn token_endpoint_down() -> ScriptedServer {
    ScriptedServer::start(|seen| {
        if seen.is_token_request() {
            answer(
                503,
                r#"{"type":"api_error","code":"api_error","message":"down"}"#,
            )
        } else {
            card_ok()
        }
    })
    .await
}

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
    // The ten calls must fit in the second a failure is remembered.
    let _timed = timed().await;
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
async fn a_failed_refresh_after_a_401_is_reported_as_such_and_retryable() {
    let minted = Arc::new(AtomicUsize::new(0));
    let counter = minted.clone();
    let server = ScriptedServer::start(move |seen| {
        if seen.is_token_request() {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Script::Answer(token_answer("tok-first", unix_now() + 1800))
            } else {
                answer(503, r#"{"type":"api_error","code":"api_error","message":"token service down"}"#)
            }
        } else {
            answer(401, r#"{"type":"unauthorized_error","code":"unauthorized_error","message":"token expired"}"#)
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
// Expiry, renewal and clocks

#[tokio::test]
async fn a_token_that_has_already_expired_is_not_minted_again_for_every_call() {
    // The token endpoint's clock and ours disagree: its tokens look expired.
    let server = ScriptedServer::start(|seen| {
        if seen.is_token_request() {
            Script::Answer(token_answer("tok-skewed", 1_000_000_000))
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

#[tokio::test]
async fn a_valid_token_is_used_while_its_renewal_fails() {
    let server = token_endpoint_down().await;
    // A token with a minute left: inside its renewal window.
    let store = InMemoryTokenStore::new();
    let expires = SystemTime::now() + Duration::from_secs(60);
    store.insert(
        MINTING_ID,
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

// ---------------------------------------------------------------------------
// The mint task

#[test]
fn a_mint_cancelled_with_its_runtime_is_started_again() {
    // The server runs on a runtime of its own, as a shared test fixture would.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (server, minted) = server_runtime.block_on(token_server(|n| match n {
        0 => Script::Hang,
        _ => Script::Answer(token_answer("tok-again", unix_now() + 1800)),
    }));
    // A client shared by two tests, each on its own runtime (as a `static`
    // client shared by several #[tokio::test]s is).
    let client = minting_client(&server).max_retries(0).build().unwrap();
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    first.block_on(async {
        let call = tokio::time::timeout(Duration::from_millis(300), update(&client)).await;
        assert!(call.is_err(), "the mint hangs; the first test gives up");
    });
    // The first test ends: its runtime, and the mint task on it, are gone.
    drop(first);
    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    second.block_on(async {
        update(&client).await.unwrap();
        update(&client).await.unwrap();
    });
    assert_eq!(minted.load(Ordering::SeqCst), 2);
    drop(server);
}

#[tokio::test]
async fn a_panicking_token_answer_does_not_break_the_client_for_good() {
    // Defect 5 made the mint task panic; this pins what a dead mint task
    // must not do: leave the store unable to mint again.
    let (server, minted) = token_server(|n| match n {
        // The largest expiry there is, with a Date an hour behind ours.
        0 => Script::Answer(token_answer("tok-far", i64::MAX as u64).with_header(
            "date",
            &httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(3600)),
        )),
        _ => Script::Answer(token_answer("tok-near", unix_now() + 1800)),
    })
    .await;
    let client = minting_client(&server).max_retries(0).build().unwrap();
    update(&client).await.unwrap();
    update(&client).await.unwrap();
    // The far token is used (its lifetime clamped), not minted per call.
    assert_eq!(minted.load(Ordering::SeqCst), 1);
    assert!(server
        .card_requests()
        .iter()
        .all(|s| s.header("x-auth-token") == "Bearer tok-far"));
}
