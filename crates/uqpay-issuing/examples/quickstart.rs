//! Quickstart: assign a card, set its limits and controls, freeze,
//! unfreeze and cancel it, and see a validation error caught before the wire.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With no configuration it starts the embedded simulator (`uqpay-mock`) on a
//! loopback port. To run against UQPay's sandbox instead, set
//! `UQPAY_BASE_URL` (or `UQPAY_ENVIRONMENT=sandbox`) and `UQPAY_API_TOKEN`
//! (or `UQPAY_CLIENT_ID` + `UQPAY_API_KEY`), and `UQPAY_CARD_NUMBER` to a
//! card number of your inventory.

use rust_decimal_macros::dec;
use uqpay_issuing::{CardMode, CardStatus, Client, Error, ErrorKind, SpendingInterval};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let configured = ["UQPAY_BASE_URL", "UQPAY_ENVIRONMENT"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    // Kept alive until the end of main: dropping it stops the simulator.
    let mut _simulator = None;
    let client = if configured {
        println!("using the API configured in the environment");
        Client::from_env()?
    } else {
        let server = uqpay_mock::MockServer::start().await?;
        println!("started the embedded simulator at {}", server.base_url());
        let client = Client::builder()
            .token(server.token())
            .base_url(server.base_url())
            .build()?;
        _simulator = Some(server);
        client
    };
    let card_number =
        std::env::var("UQPAY_CARD_NUMBER").unwrap_or_else(|_| "4096360800133951".to_owned());

    // 1. Assign a card to a cardholder.
    let card = client
        .assign_card()
        .cardholder_id(uuid::Uuid::new_v4())
        .card_number(&card_number)
        .card_currency("USD")
        .card_mode(CardMode::Share)
        .send()
        .await?;
    println!(
        "1. assigned card {} (status {}, order {}, created {})",
        card.card_id, card.card_status, card.order_status, card.create_time
    );

    // 2. Limits, name, controls and metadata, in one exact-money update.
    let updated = client
        .update_card(card.card_id)
        .card_limit(dec!(2100.02))
        .name_on_card("MARSHALL HU")
        .no_pin_payment_amount(dec!(100))
        .spending_control(dec!(100.03), SpendingInterval::PerTransaction)
        .spending_control(dec!(500), SpendingInterval::Daily)
        .enable_3ds(true)
        .allow_3ds_transactions(true)
        .blocked_mcc(["5999", "6011"])
        .metadata("key1", "value1")
        .metadata("key2", "value2")
        .send()
        .await?;
    println!(
        "2. updated limits and controls (order {})",
        updated.order_status
    );

    // 3. Freeze, unfreeze, cancel.
    for (step, status, reason) in [
        (3, CardStatus::Frozen, "suspected fraud"),
        (4, CardStatus::Active, "customer confirmed the purchases"),
        (5, CardStatus::Cancelled, "card replaced"),
    ] {
        let changed = client
            .update_card_status(card.card_id)
            .card_status(status)
            .update_reason(reason)
            .send()
            .await?;
        println!(
            "{step}. set status {status} (order {}, reason {:?})",
            changed.order_status,
            changed.update_reason.unwrap_or_default()
        );
    }

    // 6. Invalid input is refused before anything is sent.
    let refused = client
        .update_card(card.card_id)
        .name_on_card("A NAME FAR TOO LONG TO EMBOSS")
        .send()
        .await;
    match refused {
        Err(Error::Validation { field, reason }) => {
            println!("6. refused before sending: {field}: {reason}");
        }
        other => return Err(format!("expected a validation error, got {other:?}").into()),
    }

    // 7. And the API's own refusals are typed errors.
    match client
        .update_card_status(card.card_id)
        .card_status(CardStatus::Active)
        .send()
        .await
    {
        // A cancelled card cannot come back: UQPay answers a 400 card_error.
        Err(error) if error.kind() == Some(&ErrorKind::Card) => {
            println!("7. the API refused: {error}")
        }
        other => return Err(format!("expected a card_error, got {other:?}").into()),
    }
    println!("done");
    Ok(())
}
