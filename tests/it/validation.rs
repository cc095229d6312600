//! Validation: every rule refused before the wire, at its boundaries on
//! both sides (lengths in characters, amounts, card numbers, currencies,
//! MCCs, metadata, account ids, invisible characters), and the simulator
//! refusing the same inputs sent raw. `agreement`: property tests that the
//! client and the simulator agree on random and boundary inputs.

mod agreement;

use rust_decimal_macros::dec;
use uqpay_e2e::{assign_request, assign_share_card, client, fast_builder, pan, simulator};
use uqpay_e2e::{AUTH_HEADER, TOKEN};
use uqpay_issuing::{CardMode, CardStatus, Error, SpendingInterval};
use uqpay_mock::MockServer;
use uuid::Uuid;

use crate::support::assign;

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

#[tokio::test]
async fn names_with_invisible_characters_are_refused_by_client_and_simulator() {
    let server = simulator().await;
    let client = client(&server, 0);
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
            .header("x-auth-token", AUTH_HEADER)
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
