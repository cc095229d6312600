//! Clients of a simulator with the suite's token, and the requests they
//! send most.

use std::time::Duration;

use uqpay_issuing::{Client, ClientBuilder};
use uqpay_mock::MockServer;

/// The token the test simulators accept.
pub const TOKEN: &str = "e2e-secret-token-0123456789";

/// The `x-auth-token` header carrying [`TOKEN`], as UQPay requires it.
pub const AUTH_HEADER: &str = "Bearer e2e-secret-token-0123456789";

/// A simulator accepting [`TOKEN`].
pub async fn simulator() -> MockServer {
    MockServer::builder().token(TOKEN).start().await.unwrap()
}

/// A client builder for `server` with [`TOKEN`] and fast retries (1 ms
/// doubling to 8 ms, no jitter), so retry tests take milliseconds.
pub fn fast_builder(base_url: &str) -> ClientBuilder {
    Client::builder()
        .base_url(base_url)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(8))
        .retry_jitter(Duration::ZERO)
        .timeout(Duration::from_secs(10))
}

/// A client of `server` with [`TOKEN`], fast retries and `max_retries`.
pub fn client(server: &MockServer, max_retries: u32) -> Client {
    client_of(&server.base_url(), max_retries)
}

/// A client of any server at `base_url` with [`TOKEN`], fast retries and
/// `max_retries`.
pub fn client_of(base_url: &str, max_retries: u32) -> Client {
    fast_builder(base_url)
        .token(TOKEN)
        .max_retries(max_retries)
        .build()
        .unwrap()
}

/// A simulator that mints tokens for `client_id` / `api_key`, and a client
/// of it with those credentials (fast retries).
pub async fn credentialed(client_id: &str, api_key: &str) -> (MockServer, Client) {
    let server = MockServer::builder()
        .credentials(client_id, api_key)
        .start()
        .await
        .unwrap();
    let client = fast_builder(&server.base_url())
        .credentials(client_id, api_key)
        .build()
        .unwrap();
    (server, client)
}

/// A card number that is distinct for each `n`.
pub fn pan(n: u64) -> String {
    format!("4096{n:012}")
}

/// An Assign Card request of the USD card `number` in `mode` to a new
/// cardholder, ready to send (or to change first).
pub fn assign_request(
    client: &Client,
    number: &str,
    mode: uqpay_issuing::CardMode,
) -> uqpay_issuing::AssignCard {
    client
        .assign_card()
        .cardholder_id(uuid::Uuid::new_v4())
        .card_number(number)
        .card_currency("USD")
        .card_mode(mode)
}

/// Assigns the SHARE card [`pan`]`(n)` to a new cardholder; its id.
pub async fn assign_share_card(
    client: &Client,
    n: u64,
) -> Result<uuid::Uuid, uqpay_issuing::Error> {
    assign_request(client, &pan(n), uqpay_issuing::CardMode::Share)
        .send()
        .await
        .map(|card| card.card_id)
}
