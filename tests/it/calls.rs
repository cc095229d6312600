//! The calls as they should go: each operation against the simulator and
//! what it stored, the on-behalf-of account (a default and per call, UUIDs
//! and short ids), Retrieve Card reading the card back, and the exact
//! bytes a call puts on the wire.

use std::time::Duration;

use rust_decimal_macros::dec;
use uqpay_e2e::{
    assign_request, client, fast_builder, header_text, pan, sdk_full_update, simulator, Canned,
    FixedServer, TOKEN, UPDATE_CARD_RESPONSE,
};
use uqpay_issuing::{
    CardMode, CardState, CardStatus, Client, Error, ErrorKind, OrderState, SpendingInterval,
};
use uqpay_mock::MockServer;
use uuid::Uuid;

use crate::support::{assign, timed};

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
async fn short_account_ids_reach_the_simulator_and_malformed_ones_are_refused_before_the_wire() {
    let server = simulator().await;
    let client = client(&server, 0);
    // A short account id, as UQPay's own tools pass them.
    let card = assign_request(&client, &pan(77), CardMode::Share)
        .on_behalf_of("CB4488338944")
        .send()
        .await
        .unwrap()
        .card_id;
    client
        .retrieve_card(card)
        .on_behalf_of("CB4488338944")
        .send()
        .await
        .unwrap();
    // Another account does not see it; a UUID account still works.
    let other = client
        .retrieve_card(card)
        .on_behalf_of("18523f72-f4de-4f9c-bb8e-ec7d1c4f32be")
        .send()
        .await
        .unwrap_err();
    assert!(other.is_not_found(), "{other}");
    assert!(client
        .retrieve_card(card)
        .send()
        .await
        .unwrap_err()
        .is_not_found());
    let sent = server.card_requests_received();
    for bad in [
        "",
        "   ",
        "CB44\u{7}88",
        "CB 4488",
        &"A".repeat(65),
        "CB4488338944\n",
    ] {
        let error = client
            .retrieve_card(card)
            .on_behalf_of(bad)
            .send()
            .await
            .unwrap_err();
        match &error {
            Error::Validation { field, .. } => assert_eq!(field, "x-on-behalf-of"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert_eq!(server.card_requests_received(), sent, "nothing was sent");
    assert!(Client::builder()
        .token(TOKEN)
        .base_url(server.base_url())
        .on_behalf_of(" ")
        .build()
        .is_err());
}

#[tokio::test]
async fn retrieve_card_reads_the_card_back_exactly() {
    // The card must be read within the 200 ms its order takes to settle.
    let _timed = timed().await;
    let server = MockServer::builder()
        .token(TOKEN)
        .order_delay(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let client = client(&server, 0);
    let assigned = assign_request(&client, "4096360800135668", CardMode::Share)
        .send()
        .await
        .unwrap();
    // Before the order settles the card is PENDING.
    let card = client.retrieve_card(assigned.card_id).send().await.unwrap();
    assert_eq!(card.card_status, CardState::Pending);
    assert_eq!(card.card_limit, None);
    let settled = loop {
        let card = client.retrieve_card(assigned.card_id).send().await.unwrap();
        if card.card_status == CardState::Active {
            break card;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(settled.card_number.unwrap().to_string(), "************5668");
    client
        .update_card(assigned.card_id)
        .card_limit(dec!(12345678901234.56))
        .no_pin_payment_amount(dec!(100))
        .send()
        .await
        .unwrap();
    let card = loop {
        let card = client.retrieve_card(assigned.card_id).send().await.unwrap();
        if card.card_limit.is_some() {
            break card;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Exact: a number with more digits than an f64 keeps, read as sent.
    assert_eq!(card.card_limit, Some(dec!(12345678901234.56)));
    assert_eq!(card.available_balance, Some(dec!(12345678901234.56)));
    assert_eq!(card.no_pin_payment_amount.as_deref(), Some("100USD"));
    assert_eq!(card.consumed(), Some(dec!(0.00)));
    assert_eq!(card.card_status.to_string(), "ACTIVE");
    // An unknown card: UQPay's 400 card_not_found, which is_not_found() knows.
    let error = client
        .retrieve_card(Uuid::new_v4())
        .send()
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(error.status(), Some(400));
    assert!(matches!(error, Error::Api { .. }));
    // A read carries no idempotency key.
    assert_eq!(error.idempotency_key(), None);
}

// ---------------------------------------------------------------------------
// On the wire

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
    let headers = header_text(&seen.headers);
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

/// What the SDK puts on the wire for an `update_card`: each header once
/// (the generator builds them in one map, hyper states the length), the
/// length that of the body sent.
#[tokio::test]
async fn a_call_sends_each_header_once_and_the_length_of_its_body() {
    let server = FixedServer::start(Canned::json(200, UPDATE_CARD_RESPONSE)).await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.base_url())
        .max_retries(0)
        .build()
        .unwrap();
    sdk_full_update(&client, Uuid::new_v4()).await;
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "one request");
    let request = &seen[0];
    for name in [
        "host",
        "accept",
        "content-type",
        "content-length",
        "user-agent",
        "x-auth-token",
        "x-idempotency-key",
    ] {
        assert_eq!(
            request.headers.get_all(name).iter().count(),
            1,
            "{name} once in {:?}",
            request.headers
        );
    }
    assert_eq!(
        request.header("content-length"),
        request.body.len().to_string()
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["name_on_card"], "MARSHALL HU");
}
