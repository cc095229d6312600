//! uqpay-issuing against uqpay-mock over real sockets: happy paths, every
//! validation rule at its boundaries, retries through every fault, errors.

use std::time::{Duration, Instant};

use rust_decimal_macros::dec;
use uqpay_e2e::{
    assign_request, client, client_of, credentialed, fast_builder, pan, simulator, Canned,
    FixedServer, TOKEN,
};
use uqpay_issuing::{
    CardMode, CardState, CardStatus, Client, Error, ErrorKind, OrderState, ReportedCardStatus,
    SpendingInterval,
};
use uqpay_mock::{Fault, MockServer, Route};
use uuid::Uuid;

async fn assign(client: &Client, number: &str, mode: CardMode) -> Uuid {
    assign_request(client, number, mode)
        .send()
        .await
        .expect("assign")
        .card_id
}

// ---------------------------------------------------------------------------
// Happy paths

#[tokio::test]
async fn assign_update_and_change_status() {
    let server = simulator().await;
    let client = client(&server, 2);
    let holder = Uuid::new_v4();
    let assigned = client
        .assign_card()
        .cardholder_id(holder)
        .card_number("4096360800133951")
        .card_currency("USD")
        .card_mode(CardMode::Share)
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.card_status, CardState::Active);
    assert_eq!(assigned.order_status, OrderState::Pending);
    // The +08:00 offset is kept.
    assert_eq!(assigned.create_time.offset().local_minus_utc(), 8 * 3600);

    let updated = client
        .update_card(assigned.card_id)
        .card_limit(dec!(2100.02))
        .name_on_card("MARSHALL HU")
        .no_pin_payment_amount(dec!(100))
        .spending_control(dec!(100.03), SpendingInterval::PerTransaction)
        .spending_control(dec!(12345678901234567.89), SpendingInterval::AllTime)
        .enable_3ds(true)
        .allow_3ds_transactions(false)
        .allowed_mcc(["5411"])
        .blocked_mcc(["5999", "6011"])
        .metadata("key1", "value1")
        .metadata("nested", serde_json::json!({"a": [1, 2]}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.card_id, assigned.card_id);
    assert_eq!(updated.order_status, OrderState::Success);

    let card = server.card(assigned.card_id).unwrap();
    assert_eq!(card.cardholder_id, holder);
    assert_eq!(card.card_number.expose(), "4096360800133951");
    // Exact money: the digits sent are the digits stored.
    assert_eq!(card.card_limit.unwrap().to_string(), "2100.02");
    assert_eq!(card.no_pin_payment_amount.unwrap().to_string(), "100");
    let controls: Vec<(String, String)> = card
        .spending_controls
        .iter()
        .map(|c| (c.amount.to_string(), c.interval.to_string()))
        .collect();
    assert_eq!(
        controls,
        [
            ("100.03".to_owned(), "PER_TRANSACTION".to_owned()),
            ("12345678901234567.89".to_owned(), "ALL_TIME".to_owned())
        ]
    );
    let risk = serde_json::to_value(&card.risk_controls).unwrap();
    assert_eq!(
        risk,
        serde_json::json!({"enable_3ds": "Y", "allow_3ds_transactions": "N",
                           "allowed_mcc": ["5411"], "blocked_mcc": ["5999", "6011"]})
    );
    assert_eq!(card.name_on_card.as_deref(), Some("MARSHALL HU"));
    assert_eq!(
        serde_json::to_value(card.metadata.unwrap()).unwrap(),
        serde_json::json!({"key1": "value1", "nested": {"a": [1, 2]}})
    );

    for (status, state) in [
        (CardStatus::Frozen, CardState::Frozen),
        (CardStatus::Active, CardState::Active),
        (CardStatus::Cancelled, CardState::Cancelled),
    ] {
        let changed = client
            .update_card_status(assigned.card_id)
            .card_status(status)
            .update_reason("e2e")
            .send()
            .await
            .unwrap();
        assert_eq!(changed.update_reason.as_deref(), Some("e2e"));
        assert_eq!(server.card(assigned.card_id).unwrap().card_status, state);
    }
}

const ACCT_A: &str = "18523f72-f4de-4f9c-bb8e-ec7d1c4f32be";
const ACCT_B: &str = "6f0c7a52-2b7e-4a0e-9d55-3c6d1b0f9e11";

#[tokio::test]
async fn on_behalf_of_defaults_and_overrides() {
    let server = simulator().await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .on_behalf_of(ACCT_A)
        .build()
        .unwrap();
    let card = assign(&client, &pan(1), CardMode::Single).await;
    assert_eq!(
        server.card(card).unwrap().account,
        Some(ACCT_A.parse().unwrap())
    );
    // For another account the card does not exist: UQPay's 400 card_error
    // card_not_found, which is_not_found() recognises.
    let error = client
        .update_card_status(card)
        .card_status(CardStatus::Frozen)
        .on_behalf_of(ACCT_B)
        .send()
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.kind(), Some(&ErrorKind::Card));
    assert_eq!(error.code(), Some("card_not_found"));
    // The default account can.
    client
        .update_card_status(card)
        .card_status(CardStatus::Frozen)
        .send()
        .await
        .unwrap();
}

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

// ---------------------------------------------------------------------------
// Validation: refused before the wire, boundaries on both sides

/// Asserts `result` is a validation error on `field`, and that the
/// simulator received nothing for it.
async fn refused<T: std::fmt::Debug>(
    server: &MockServer,
    field: &str,
    call: impl std::future::Future<Output = Result<T, Error>>,
) -> String {
    let before = server.card_requests_received();
    let error = call.await.expect_err("validation error");
    assert_eq!(
        server.card_requests_received(),
        before,
        "{field}: a refused request reached the server"
    );
    match &error {
        Error::Validation { field: f, reason } => {
            assert_eq!(f, field, "{error}");
            assert!(error.to_string().contains(field));
            reason.clone()
        }
        other => panic!("expected a validation error on {field}, got {other:?}"),
    }
}

#[tokio::test]
async fn name_on_card_is_1_to_26_characters() {
    let server = simulator().await;
    let client = client(&server, 0);
    let card = assign(&client, &pan(3), CardMode::Share).await;
    for ok in ["A".repeat(26), "É".repeat(26), "😀".repeat(26), "A".into()] {
        client
            .update_card(card)
            .name_on_card(ok.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
    for bad in ["A".repeat(27), "É".repeat(27), String::new()] {
        let reason = refused(
            &server,
            "name_on_card",
            client.update_card(card).name_on_card(bad.clone()).send(),
        )
        .await;
        assert!(reason.contains("26"), "{reason}");
        assert!(
            reason.contains(&bad.chars().count().to_string()),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn update_reason_is_at_most_100_characters() {
    let server = simulator().await;
    let client = client(&server, 0);
    let card = assign(&client, &pan(4), CardMode::Single).await;
    client
        .update_card_status(card)
        .card_status(CardStatus::Frozen)
        .update_reason("ř".repeat(100))
        .send()
        .await
        .unwrap();
    let reason = refused(
        &server,
        "update_reason",
        client
            .update_card_status(card)
            .card_status(CardStatus::Active)
            .update_reason("r".repeat(101))
            .send(),
    )
    .await;
    assert!(reason.contains("100") & reason.contains("101"), "{reason}");
    refused(
        &server,
        "card_status",
        client.update_card_status(card).update_reason("x").send(),
    )
    .await;
}

#[tokio::test]
async fn amounts_are_zero_or_more() {
    let server = simulator().await;
    let client = client(&server, 0);
    let card = assign(&client, &pan(5), CardMode::Share).await;
    client
        .update_card(card)
        .card_limit(dec!(0))
        .no_pin_payment_amount(dec!(0))
        .spending_control(dec!(0), SpendingInterval::Daily)
        .send()
        .await
        .unwrap();
    let stored = server.card(card).unwrap();
    assert_eq!(stored.card_limit.unwrap().to_string(), "0");
    let minus = dec!(-0.01);
    let reason = refused(
        &server,
        "card_limit",
        client.update_card(card).card_limit(minus).send(),
    )
    .await;
    assert!(
        reason.contains(">= 0") & reason.contains("-0.01"),
        "{reason}"
    );
    refused(
        &server,
        "no_pin_payment_amount",
        client.update_card(card).no_pin_payment_amount(minus).send(),
    )
    .await;
    refused(
        &server,
        "spending_controls[1].amount",
        client
            .update_card(card)
            .spending_control(dec!(1), SpendingInterval::Weekly)
            .spending_control(minus, SpendingInterval::Weekly)
            .send(),
    )
    .await;
    // -0 is zero, not negative.
    client
        .update_card(card)
        .card_limit(dec!(-0.00))
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.card(card).unwrap().card_limit.unwrap().to_string(),
        "0.00"
    );
}

#[tokio::test]
async fn card_numbers_are_12_to_19_digits_without_luhn() {
    let server = simulator().await;
    let client = client(&server, 0);
    for (i, ok) in ["409636080013", "4096360800133951123", "4096360800133951"]
        .iter()
        .enumerate()
    {
        let card = assign(&client, ok, CardMode::Single).await;
        assert_eq!(server.card(card).unwrap().card_number.expose(), *ok, "{i}");
    }
    for bad in [
        "40963608001",
        "40963608001339511234",
        "4096-3608-0013-3951",
        "",
        "４０９６３６０８００１３",
    ] {
        let reason = refused(
            &server,
            "card_number",
            assign_request(&client, bad, CardMode::Single).send(),
        )
        .await;
        let digits: String = bad.chars().filter(char::is_ascii_digit).collect();
        assert!(
            digits.len() < 8 || !reason.contains(&digits),
            "the number leaks: {reason}"
        );
    }
}

#[tokio::test]
async fn assign_card_requires_every_field_and_checks_the_currency() {
    let server = simulator().await;
    let client = client(&server, 0);
    let full = || assign_request(&client, &pan(6), CardMode::Single);
    for bad in ["usd", "US", "USDT", "U5D"] {
        let reason = refused(&server, "card_currency", full().card_currency(bad).send()).await;
        assert!(reason.contains('3'), "{reason}");
    }
    let builder = client.assign_card();
    refused(&server, "cardholder_id", builder.send()).await;
    refused(
        &server,
        "card_number",
        client.assign_card().cardholder_id(Uuid::new_v4()).send(),
    )
    .await;
    refused(
        &server,
        "card_currency",
        client
            .assign_card()
            .cardholder_id(Uuid::new_v4())
            .card_number(pan(6))
            .send(),
    )
    .await;
    refused(
        &server,
        "card_mode",
        client
            .assign_card()
            .cardholder_id(Uuid::new_v4())
            .card_number(pan(6))
            .card_currency("EUR")
            .send(),
    )
    .await;
    full().send().await.unwrap();
}

#[tokio::test]
async fn mccs_metadata_and_empty_updates() {
    let server = simulator().await;
    let client = client(&server, 0);
    let card = assign(&client, &pan(7), CardMode::Share).await;
    for bad in ["599", "59999", "59a9"] {
        refused(
            &server,
            "risk_controls.blocked_mcc[1]",
            client.update_card(card).blocked_mcc(["5999", bad]).send(),
        )
        .await;
        refused(
            &server,
            "risk_controls.allowed_mcc[0]",
            client.update_card(card).allowed_mcc([bad]).send(),
        )
        .await;
    }
    // Metadata: 3200 bytes of JSON pass, 3201 do not.
    let at_limit = "v".repeat(3200 - r#"{"k":""}"#.len());
    client
        .update_card(card)
        .metadata("k", at_limit.clone())
        .send()
        .await
        .unwrap();
    let reason = refused(
        &server,
        "metadata",
        client
            .update_card(card)
            .metadata("k", format!("{at_limit}v"))
            .send(),
    )
    .await;
    assert!(
        reason.contains("3200") & reason.contains("3201"),
        "{reason}"
    );
    refused(
        &server,
        "metadata",
        client
            .update_card(card)
            .metadata_json(serde_json::json!(["not", "an", "object"]))
            .send(),
    )
    .await;
    client
        .update_card(card)
        .metadata_json(serde_json::json!({"replaced": true}))
        .send()
        .await
        .unwrap();
    refused(&server, "update_card", client.update_card(card).send()).await;
    let too_long = "A".repeat(65);
    for bad in ["bad\naccount", "acct A", "", " ", too_long.as_str()] {
        let reason = refused(
            &server,
            "x-on-behalf-of",
            client
                .update_card(card)
                .name_on_card("X")
                .on_behalf_of(bad)
                .send(),
        )
        .await;
        assert!(reason.contains("account id"), "{reason}");
    }
    // A well-formed id the simulator knows no account for goes out and is
    // refused there, as UQPay would (the SDK does not guess id formats).
    let error = client
        .update_card(card)
        .name_on_card("X")
        .on_behalf_of("acct_A")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
    // A misconfigured default is refused when the client is built.
    let error = fast_builder(&server.base_url())
        .token(TOKEN)
        .on_behalf_of("acct\tA")
        .build()
        .unwrap_err();
    assert!(
        matches!(&error, Error::Validation { field, .. } if field == "x-on-behalf-of"),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------
// Retries: one committed change per logical call, whatever the fault

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
async fn card_rule_violations_are_400_card_errors_and_not_retried() {
    let server = simulator().await;
    let client = client(&server, 5);
    let card = assign(&client, &pan(12), CardMode::Single).await;
    let error = assign_request(&client, &pan(12), CardMode::Single)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
    assert_eq!(error.kind(), Some(&ErrorKind::Card));
    assert_eq!(error.code(), Some("card_already_assigned"));
    assert!(!error.is_retryable() && !error.is_not_found());
    assert_eq!(error.attempts(), 1);
    assert_eq!(server.requests_received(Route::AssignCard), 2);
    // card_limit on a SINGLE card, a status change a cancelled card does not
    // allow, an update of a cancelled card: each a specific card_error.
    let error = client
        .update_card(card)
        .card_limit(dec!(1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("card_limit_not_allowed"), "{error}");
    client
        .update_card_status(card)
        .card_status(CardStatus::Cancelled)
        .send()
        .await
        .unwrap();
    let error = client
        .update_card_status(card)
        .card_status(CardStatus::Active)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("invalid_status_transition"), "{error}");
    let error = client
        .update_card(card)
        .name_on_card("LATE")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("card_cancelled"), "{error}");
    // Nor is an unknown card retried: a 400, recognised as not found.
    let before = server.requests_received(Route::UpdateCard);
    let error = client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .send()
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(server.requests_received(Route::UpdateCard), before + 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
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
async fn a_request_still_processing_is_retried_until_it_completes() {
    let server = simulator().await;
    let client = client(&server, 50);
    let card = assign(&client, &pan(15), CardMode::Single).await;
    let key = Uuid::new_v4();
    server.hold_requests();
    let first = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .update_card_status(card)
                .card_status(CardStatus::Frozen)
                .idempotency_key(key)
                .send()
                .await
        }
    });
    server.wait_for_held(1).await;
    let second = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .update_card_status(card)
                .card_status(CardStatus::Frozen)
                .idempotency_key(key)
                .send()
                .await
        }
    });
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
// Authentication

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
// Odd answers

/// Sends a minimal Update Card to a server that answers `canned`.
async fn answer_with(
    canned: Canned,
    max_retries: u32,
) -> (
    FixedServer,
    Result<uqpay_issuing::UpdateCardResponse, Error>,
) {
    let server = FixedServer::start(canned).await;
    let client = client_of(&server.base_url(), max_retries);
    let result = client
        .update_card(Uuid::new_v4())
        .name_on_card("X")
        .send()
        .await;
    (server, result)
}

#[tokio::test]
async fn an_unknown_card_status_is_preserved() {
    let body = r#"{"card_id":"c0cef051-29c5-4796-b86a-cd5b684bfad7","card_order_id":"o",
        "card_status":"SUSPENDED_BY_SCHEME","order_status":"QUEUED","brand_new_field":1}"#;
    let (_server, response) = answer_with(Canned::json(200, body), 2).await;
    let response = response.unwrap();
    match &response.card_status {
        ReportedCardStatus::Unknown(raw) => assert_eq!(raw.as_str(), "SUSPENDED_BY_SCHEME"),
        other => panic!("expected Unknown, got {other:?}"),
    }
    assert_eq!(response.card_status.to_string(), "SUSPENDED_BY_SCHEME");
    assert_eq!(response.order_status.to_string(), "QUEUED");
}

#[tokio::test]
async fn an_undecodable_success_is_a_decode_error_with_the_redacted_body() {
    let body = r#"{"card_id":"not-a-uuid","note":"card 4096360800133951"}"#;
    let (server, result) = answer_with(Canned::json(200, body), 2).await;
    let error = result.unwrap_err();
    match &error {
        Error::Decode { status, body, .. } => {
            assert_eq!(*status, 200);
            assert!(body.contains("409636******3951"), "{body}");
            assert!(!body.contains("4096360800133951"), "{body}");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    assert_eq!(server.seen().len(), 1, "a decode error is not retried");
}

#[tokio::test]
async fn html_error_pages_keep_their_status_and_are_retried() {
    let html = Canned {
        status: axum::http::StatusCode::BAD_GATEWAY,
        headers: vec![("content-type".into(), "text/html".into())],
        body: "<html><body>502 Bad Gateway</body></html>".into(),
    };
    let (server, result) = answer_with(html, 1).await;
    let error = result.unwrap_err();
    assert_eq!(error.status(), Some(502), "{error:?}");
    assert_eq!(error.attempts(), 2);
    assert!(error.to_string().contains("502 Bad Gateway"), "{error}");
    assert_eq!(server.seen().len(), 2);
    // Every attempt carried the same idempotency key.
    let keys: Vec<_> = server
        .seen()
        .iter()
        .map(|s| s.headers["x-idempotency-key"].clone())
        .collect();
    assert_eq!(keys[0], keys[1]);
    assert_eq!(
        keys[0].to_str().unwrap(),
        error.idempotency_key().unwrap().to_string()
    );
}

#[tokio::test]
async fn the_wire_format_is_exactly_the_documented_one() {
    let body = r#"{"card_id":"c0cef051-29c5-4796-b86a-cd5b684bfad7","card_order_id":"o","card_status":"ACTIVE","order_status":"SUCCESS"}"#;
    let server = FixedServer::start(Canned::json(200, body)).await;
    let client = fast_builder(&server.base_url())
        .token(TOKEN)
        .build()
        .unwrap();
    let card = Uuid::new_v4();
    client
        .update_card(card)
        .card_limit(dec!(2100.02))
        .no_pin_payment_amount(dec!(100))
        .spending_control(dec!(100.03), SpendingInterval::PerTransaction)
        .enable_3ds(true)
        .send()
        .await
        .unwrap();
    let seen = &server.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri.path(), format!("/api/v1/issuing/cards/{card}"));
    let text = std::str::from_utf8(&seen.body).unwrap();
    assert!(text.contains(r#""card_limit":2100.02"#), "{text}");
    assert!(text.contains(r#""amount":100.03"#), "{text}");
    assert!(text.contains(r#""no_pin_payment_amount":100"#), "{text}");
    assert!(text.contains(r#""enable_3ds":"Y""#), "{text}");
    let headers = uqpay_e2e::header_text(&seen.headers);
    assert_eq!(headers["x-auth-token"], format!("Bearer {TOKEN}"));
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        Uuid::parse_str(&headers["x-idempotency-key"])
            .unwrap()
            .get_version_num()
            == 4
    );
    assert!(!headers.contains_key("x-on-behalf-of"));
    assert!(!headers.contains_key("api-version"));
}

// ---------------------------------------------------------------------------
// UQPay's error shapes, as its error guide and SDKs record them

#[tokio::test]
async fn every_documented_error_shape_maps_to_its_kind_and_helpers() {
    struct Case {
        status: u16,
        body: &'static str,
        kind: Option<ErrorKind>,
        code: Option<&'static str>,
        retryable: bool,
    }
    let cases = [
        Case {
            status: 400,
            body: r#"{"type":"card_error","code":"card_not_found","message":"card not found or deactivated"}"#,
            kind: Some(ErrorKind::Card),
            code: Some("card_not_found"),
            retryable: false,
        },
        Case {
            status: 400,
            body: r#"{"type":"account_error","code":"insufficient_balance","message":"no money"}"#,
            kind: Some(ErrorKind::Account),
            code: Some("insufficient_balance"),
            retryable: false,
        },
        Case {
            status: 400,
            body: r#"{"type":"cardholder_error","code":"kyc_insufficient","message":"m","missing_fields":["date_of_birth"]}"#,
            kind: Some(ErrorKind::Cardholder),
            code: Some("kyc_insufficient"),
            retryable: false,
        },
        // The legacy flat 400: numeric code, no type.
        Case {
            status: 400,
            body: r#"{"code":10001,"message":"parameter error"}"#,
            kind: Some(ErrorKind::InvalidRequest),
            code: Some("10001"),
            retryable: false,
        },
        Case {
            status: 403,
            body: r#"{"type":"unauthorized_error","code":"forbidden","message":"no permission"}"#,
            kind: Some(ErrorKind::Unauthorized),
            code: Some("forbidden"),
            retryable: false,
        },
        Case {
            status: 429,
            body: r#"{"code":"too_many_requests","message":"Too many requests have been made to the api."}"#,
            kind: Some(ErrorKind::RateLimit),
            code: Some("too_many_requests"),
            retryable: true,
        },
        Case {
            status: 500,
            body: r#"{"type":"api_error","code":"api_error","message":"boom"}"#,
            kind: Some(ErrorKind::Api),
            code: Some("api_error"),
            retryable: true,
        },
    ];
    for case in cases {
        let (_server, result) = answer_with(Canned::json(case.status, case.body), 0).await;
        let error = result.unwrap_err();
        assert_eq!(error.status(), Some(case.status), "{}", case.body);
        assert_eq!(error.kind(), case.kind.as_ref(), "{}", case.body);
        assert_eq!(error.code(), case.code, "{}", case.body);
        assert_eq!(error.is_retryable(), case.retryable, "{}", case.body);
        assert_eq!(
            error.is_not_found(),
            case.code == Some("card_not_found"),
            "{}",
            case.body
        );
        assert_eq!(error.is_forbidden(), case.status == 403, "{}", case.body);
        assert_eq!(error.is_rate_limited(), case.status == 429, "{}", case.body);
        assert!(!error.is_processing(), "{}", case.body);
    }
    // The gateway's 401 `{"error": ...}` with a fixed token: Unauthorized.
    let (_server, result) = answer_with(Canned::json(401, r#"{"error":"invalid token"}"#), 2).await;
    let error = result.unwrap_err();
    assert!(matches!(&error, Error::Unauthorized { message, .. } if message == "invalid token"));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn the_legacy_processing_answer_is_retried_and_a_quoted_one_is_not() {
    let processing = r#"{"code":200,"message":"Request is processing, please try again later"}"#;
    let (server, result) = answer_with(Canned::json(400, processing), 2).await;
    let error = result.unwrap_err();
    assert!(error.is_processing() && error.is_retryable(), "{error}");
    assert_eq!(server.seen().len(), 3, "retried twice");
    assert_eq!(error.attempts(), 3);
    let quoted = r#"{"type":"invalid_request_error","code":"invalid_request_error","message":"request is processing"}"#;
    let (server, result) = answer_with(Canned::json(400, quoted), 2).await;
    let error = result.unwrap_err();
    assert!(!error.is_processing() && !error.is_retryable(), "{error}");
    assert_eq!(server.seen().len(), 1, "not retried");
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
