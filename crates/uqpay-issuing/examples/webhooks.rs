//! Receiving webhooks: the embedded simulator delivers the signed events of
//! the card orders this program places to a receiver in the same process,
//! which verifies each with `uqpay_issuing::webhooks::Verifier` and prints
//! it.
//!
//! ```sh
//! cargo run --example webhooks
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use rust_decimal_macros::dec;
use uqpay_issuing::webhooks::{EventData, Verifier};
use uqpay_issuing::{CardMode, CardStatus, Client};

const SECRET: &str = "whsec_example_secret";

/// The receiver: verify, then handle (here: print). Anything that does not
/// verify is refused.
async fn receive(
    State(verifier): State<Arc<Verifier>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let event = match verifier.verify_headers(&headers, &body) {
        Ok(event) => event,
        Err(error) => {
            println!("   refused a delivery: {error}");
            return StatusCode::BAD_REQUEST;
        }
    };
    let what = match &event.data {
        EventData::CardCreated(card) => format!(
            "card {} is {}",
            card.card_id.as_deref().unwrap_or("?"),
            card.card_status
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        ),
        EventData::CardUpdated(update) => format!(
            "update order {} ended {}, limit now {}",
            update.card_order_id.as_deref().unwrap_or("?"),
            update
                .order_status
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            update.card_limit.map(|l| l.to_string()).unwrap_or_default()
        ),
        EventData::CardStatusUpdated(status) => format!(
            "card status now {}",
            status
                .card_status
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        ),
        other => format!("{other:?}"),
    };
    println!(
        "   verified {} ({}): {what}",
        event.event_type, event.event_id
    );
    StatusCode::OK
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. A receiver on a free loopback port.
    let verifier = Arc::new(Verifier::new(SECRET));
    let app = axum::Router::new()
        .route("/uqpay/webhooks", axum::routing::post(receive))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/uqpay/webhooks", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("1. receiving webhooks at {url}");

    // 2. The simulator, delivering to it; orders take 50 ms to settle.
    let server = uqpay_mock::MockServer::builder()
        .webhook(&url, SECRET)
        .order_delay(Duration::from_millis(50))
        .start()
        .await?;
    let client = Client::builder()
        .token(server.token())
        .base_url(server.base_url())
        .build()?;
    println!("2. simulator at {}", server.base_url());

    // 3. Orders: each answered at once, its outcome delivered later.
    let card = client
        .assign_card()
        .cardholder_id(uuid::Uuid::new_v4())
        .card_number("4096360800133951")
        .card_currency("USD")
        .card_mode(CardMode::Share)
        .send()
        .await?;
    println!(
        "3. assigned card {} (order {} {})",
        card.card_id, card.card_order_id, card.order_status
    );
    // The card's next order waits for this one to settle: read it back.
    while client.retrieve_card(card.card_id).send().await?.card_status
        != uqpay_issuing::CardState::Active
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let order = client
        .update_card(card.card_id)
        .card_limit(dec!(2100.02))
        .send()
        .await?;
    println!(
        "   update order {} {}",
        order.card_order_id, order.order_status
    );
    while client
        .retrieve_card(card.card_id)
        .send()
        .await?
        .card_limit
        .is_none()
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let order = client
        .update_card_status(card.card_id)
        .card_status(CardStatus::Cancelled)
        .update_reason("example")
        .send()
        .await?;
    println!(
        "   cancel order {} {}",
        order.card_order_id, order.order_status
    );

    // 4. Wait until every order has settled and its events are delivered.
    server.wait_for_deliveries().await;
    let deliveries = server.deliveries();
    println!(
        "4. {} events delivered and verified ({} attempts)",
        deliveries.iter().filter(|d| d.delivered).count(),
        deliveries.iter().map(|d| d.attempts).sum::<u32>()
    );
    if deliveries.len() != 4 || !deliveries.iter().all(|d| d.delivered) {
        return Err(format!("expected 4 delivered events, got {deliveries:?}").into());
    }
    Ok(())
}
