//! Idempotency: one key, one commit. A caller's key replays the first
//! answer (and refuses another body), every attempt of a call carries the
//! same key and bytes through 503, 401 and refresh, 429 and 200, an
//! idempotency error is final, and sixty-four concurrent calls with one key
//! commit once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rust_decimal_macros::dec;
use uqpay_e2e::{assign_request, client, client_of, pan, simulator};
use uqpay_e2e::{Canned, FixedServer, Script, ScriptedServer, Seen};
use uqpay_issuing::CardMode;
use uqpay_mock::Route;
use uuid::Uuid;

use crate::support::{
    answer, assign, card_ok, minting_client, spawn_freeze, token_answer, unix_now, update,
};

#[tokio::test]
async fn a_caller_supplied_idempotency_key_replays_instead_of_repeating() {
    let server = simulator().await;
    let client = client(&server, 0);
    let card = assign(&client, &pan(2), CardMode::Share).await;
    let key = Uuid::new_v4();
    let update = || {
        client
            .update_card(card)
            .card_limit(dec!(10))
            .idempotency_key(key)
    };
    let first = update().send().await.unwrap();
    let second = update().send().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(server.card(card).unwrap().updates, 1);
    assert_eq!(server.commits_for_key(key), 1);
    assert_eq!(server.replays_for_key(key), 1);
    // The same key with another body is refused, and not retried.
    let before = server.card_requests_received();
    let error = client
        .update_card(card)
        .card_limit(dec!(11))
        .idempotency_key(key)
        .send()
        .await
        .unwrap_err();
    assert!(error.is_idempotency_conflict(), "{error}");
    assert_eq!(error.idempotency_key(), Some(key));
    assert_eq!(server.card_requests_received(), before + 1);
}

#[tokio::test]
async fn one_key_and_one_body_through_503_401_refresh_429_and_200() {
    let step = Arc::new(AtomicUsize::new(0));
    let counter = step.clone();
    let server = ScriptedServer::start(move |seen: &Seen| {
        if seen.is_token_request() {
            let n = counter.load(Ordering::SeqCst);
            return Script::Answer(token_answer(&format!("tok-{n}"), unix_now() + 1800));
        }
        match counter.fetch_add(1, Ordering::SeqCst) {
            0 => answer(503, r#"{"type":"api_error","code":"api_error","message":"busy"}"#),
            1 => answer(401, r#"{"type":"unauthorized_error","code":"unauthorized_error","message":"token expired"}"#),
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
    let client = client(&server, 50);
    let card = assign_request(&client, &pan(4), CardMode::Single)
        .send()
        .await
        .unwrap()
        .card_id;
    let key = Uuid::new_v4();
    let calls: Vec<_> = (0..64).map(|_| spawn_freeze(&client, card, key)).collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap().unwrap());
    }
    assert!(answers.iter().all(|a| *a == answers[0]));
    assert_eq!(server.commits_for_key(key), 1);
    assert_eq!(server.card(card).unwrap().status_history.len(), 2);
    assert!(server.counters(Route::UpdateCardStatus).received >= 64);
}
