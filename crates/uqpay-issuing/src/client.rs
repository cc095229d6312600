//! [`Client`], the handle services keep, and [`Environment`]. How a
//! client is configured and built is in [`builder`].

use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

use crate::call::Handle;
use crate::cards::assign::AssignCard;
use crate::cards::retrieve::RetrieveCard;
use crate::cards::status::UpdateCardStatus;
use crate::cards::update::UpdateCard;
use crate::error::Error;
use crate::retry::budget::RetryBudget;

pub(crate) mod builder;

/// UQPay's environments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `https://api-sandbox.uqpaytech.com/api`
    Sandbox,
    /// `https://api.uqpay.com/api` (the host every official UQPay SDK uses;
    /// an older page named `api.uqpaytech.com`).
    Production,
}

impl Environment {
    /// The base URL of the environment.
    pub fn base_url(self) -> &'static str {
        match self {
            Environment::Sandbox => "https://api-sandbox.uqpaytech.com/api",
            Environment::Production => "https://api.uqpay.com/api",
        }
    }
}

impl std::str::FromStr for Environment {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sandbox" => Ok(Environment::Sandbox),
            "production" | "prod" => Ok(Environment::Production),
            other => Err(Error::Config(format!(
                "unknown environment {other:?} (expected sandbox or production)"
            ))),
        }
    }
}

/// A client of UQPay's card-issuing API.
///
/// Cheap to clone (one `Arc`): clones share the connection pool and the
/// token cache. `Send + Sync`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = uqpay_mock::MockServer::start().await?;
/// use uqpay_issuing::{CardMode, Client};
///
/// let client = Client::builder()
///     .token(server.token())
///     .base_url(server.base_url())
///     .build()?;
/// let card = client
///     .assign_card()
///     .cardholder_id(uuid::Uuid::new_v4())
///     .card_number("4096360800133951")
///     .card_currency("USD")
///     .card_mode(CardMode::Single)
///     .send()
///     .await?;
/// println!("assigned card {}", card.card_id);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Handle>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let handle = &self.inner;
        f.debug_struct("Client")
            .field("base_url", &handle.base_url)
            .field("auth", &handle.auth)
            .field("defaults", &handle.defaults)
            .finish()
    }
}

impl Client {
    /// Assigns a card number to a cardholder (`POST /v1/issuing/cards/assign`).
    pub fn assign_card(&self) -> AssignCard {
        AssignCard::new(self.inner.clone())
    }

    /// Activates, freezes or cancels a card (`POST /v1/issuing/cards/{id}/status`).
    pub fn update_card_status(&self, card_id: Uuid) -> UpdateCardStatus {
        UpdateCardStatus::new(self.inner.clone(), card_id)
    }

    /// Updates a card's limit, name, controls and metadata (`POST /v1/issuing/cards/{id}`).
    pub fn update_card(&self, card_id: Uuid) -> UpdateCard {
        UpdateCard::new(self.inner.clone(), card_id)
    }

    /// Reads a card back (`GET /v1/issuing/cards/{id}`): its status, limits,
    /// balance, controls and metadata, with exact money.
    pub fn retrieve_card(&self, card_id: Uuid) -> RetrieveCard {
        RetrieveCard::new(self.inner.clone(), card_id)
    }

    /// The retry budget the client's calls share (see
    /// [`ClientBuilder::retry_budget`](crate::ClientBuilder::retry_budget)).
    pub fn retry_budget(&self) -> &RetryBudget {
        &self.inner.budget
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The generated low-level client this one wraps. Its requests carry
    /// the client's token (from its token store) and never follow a
    /// redirect, but that is all: no validation, no retries, no refresh
    /// after a 401, and you set the `x-idempotency-key` yourself.
    pub fn raw(&self) -> &uqpay_issuing_raw::Client {
        &self.inner.raw
    }

    /// The client made of `handle` (what [`ClientBuilder::build`](crate::ClientBuilder::build) built).
    pub(crate) fn from_handle(handle: Handle) -> Self {
        Self {
            inner: Arc::new(handle),
        }
    }

    #[cfg(test)]
    pub(crate) fn handle(&self) -> &Handle {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_and_errors_can_cross_threads() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        fn error<T: std::error::Error + Send + Sync + 'static>() {}
        shareable::<Client>();
        error::<Error>();
        fn send_future<F: std::future::Future + Send + 'static>(_: F) {}
        let client = Client::builder()
            .token("t")
            .base_url("http://127.0.0.1:1/api")
            .build()
            .unwrap();
        // The calls' futures can be spawned on a multi-threaded runtime.
        send_future(client.update_card(Uuid::nil()).name_on_card("X").send());
        send_future(client.assign_card().send());
        send_future(client.update_card_status(Uuid::nil()).send());
        // Clones share one client (one connection pool, one token cache).
        let clone = client.clone();
        assert!(Arc::ptr_eq(&client.inner, &clone.inner));
        assert_eq!(Arc::strong_count(&client.inner), 2);
    }
}
