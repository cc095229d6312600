//! Rust SDK for UQPay's card-issuing API.
//!
//! Assign cards to cardholders, freeze / unfreeze / cancel them, and set
//! their limits, spending controls, risk controls and metadata:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), uqpay_issuing::Error> {
//! # let server = uqpay_mock::MockServer::start().await.unwrap();
//! use std::time::Duration;
//! use rust_decimal_macros::dec;
//! use uqpay_issuing::{CardMode, CardStatus, Client, SpendingInterval};
//!
//! let client = Client::builder()
//!     .token(server.token())               // or .credentials(client_id, api_key), or Client::from_env()
//!     .base_url(server.base_url())         // or .environment(Environment::Sandbox)
//!     .max_retries(3)
//!     .timeout(Duration::from_secs(30))
//!     .build()?;
//!
//! let card = client
//!     .assign_card()
//!     .cardholder_id(uuid::Uuid::new_v4())
//!     .card_number("4096360800133951")
//!     .card_currency("USD")
//!     .card_mode(CardMode::Share)
//!     .send()
//!     .await?;
//!
//! client
//!     .update_card(card.card_id)
//!     .card_limit(dec!(2100.02))               // exact decimal money, never a float
//!     .name_on_card("MARSHALL HU")
//!     .spending_control(dec!(100.03), SpendingInterval::PerTransaction)
//!     .enable_3ds(true)
//!     .blocked_mcc(["5999", "6011"])
//!     .metadata("order", "A-17")
//!     .send()
//!     .await?;
//!
//! client
//!     .update_card_status(card.card_id)
//!     .card_status(CardStatus::Frozen)
//!     .update_reason("suspected fraud")
//!     .send()
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What it does for you
//!
//! - **Validation before the wire.** Every documented limit (name_on_card
//!   1-26 characters, update_reason <= 100, amounts >= 0, card numbers of
//!   12-19 digits, 3-letter currencies, 4-digit MCCs, metadata <= 3200 bytes)
//!   is checked before a byte is sent; [`Error::Validation`] names the field,
//!   the problem and the limit.
//! - **Exact money.** Amounts are [`Decimal`]s and go on the wire as the
//!   digits they hold.
//! - **Idempotency and retries.** Each call gets one `x-idempotency-key`
//!   (a UUID v4, or yours via `.idempotency_key(..)`), reused by every retry.
//!   Network errors, timeouts, 408, 429, 5xx and the API's "request is
//!   processing" answer are retried with exponential backoff and jitter
//!   (or as `Retry-After` says); card, cardholder and account rule
//!   violations, idempotency conflicts and other 4xx are not. Redirects are
//!   never followed.
//! - **Tokens.** Sent as `x-auth-token: Bearer <token>`, as UQPay requires.
//!   A fixed token, or credentials: the token is fetched,
//!   cached, refreshed before it expires (one refresh at a time), and on a
//!   401 refreshed once and the call retried once.
//! - **Typed errors** ([`Error`]) in the vocabulary of UQPay's v1.6 error
//!   guide ([`ErrorKind`]: `card_error`, `idempotency_error`, ...), with
//!   helpers such as [`Error::is_not_found`] (UQPay's 400 `card_not_found`)
//!   and [`Error::is_retryable`].
//! - **No leaks.** The token and card numbers never appear in `Debug`,
//!   `Display`, errors or `tracing` output; card numbers show as
//!   `409636******3951`.
//! - **Forward compatible.** Unknown fields are ignored and unknown statuses
//!   are kept ([`ReportedCardStatus::Unknown`]).
//!
//! Every call runs in a `tracing` span `uqpay.call` with the operation,
//! idempotency key, attempt count and status.

#![deny(missing_docs)]
// On docs.rs (`--cfg docsrs`, nightly): items behind a feature say which.
#![cfg_attr(docsrs, feature(doc_cfg))]

// Layer order (`cargo xtask layers` checks it): each module uses only the
// modules listed below it; none uses the root's re-exports.
//
//   client      Client, Environment; client/builder: ClientBuilder, from_env
//   cards       the request builders (they hold the call handle) and their validation
//   call        one logical call: the handle, the only retry loop, the rate limiter it waits for
//   options     the client's defaults and a call's overrides, and how they layer
//   transport   one HTTP exchange (the generated client's hook), the reqwest client
//   auth        fixed token or credentials; token (AccessToken, Minter), store
//               (TokenStore, in process), redis (the fleet's store and rate limit)
//   ratelimit   RateLimit; local: the in-process limiter, its bookings and pace
//   retry       policy (backoff, Retry-After bounds) and budget (RetryBudget)
//   webhooks    the verifier of UQPay's events, and the events
//   telemetry   span names and attributes, metrics
//   error       Error, ErrorKind; convert: from the generated client's errors
//   redact      masking card numbers and tokens
//   testing     (tests only) servers that answer late, or never
mod auth;
mod call;
mod cards;
mod client;
mod error;
mod options;
mod ratelimit;
mod redact;
mod retry;
mod telemetry;
#[cfg(test)]
mod testing;
mod transport;
pub mod webhooks;

pub use auth::store::{InMemoryTokenStore, TokenFuture, TokenStore};
pub use auth::token::{AccessToken, Minter};
pub use cards::assign::AssignCard;
pub use cards::retrieve::{Card, RetrieveCard};
pub use cards::status::UpdateCardStatus;
pub use cards::update::UpdateCard;
pub use client::builder::ClientBuilder;
pub use client::{Client, Environment};
pub use error::{Error, ErrorKind};
pub use ratelimit::RateLimit;
pub use redact::redact;
pub use retry::budget::RetryBudget;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use auth::redis::store::RedisTokenStore;

pub use rust_decimal::Decimal;
pub use uqpay_issuing_raw::money::Amount;
pub use uqpay_issuing_raw::pan::CardNumber;
pub use uqpay_issuing_raw::types::{
    AssignCardResponse, CardMode, CardState, CardStatus, OrderState, ReportedCardStatus,
    ReportedOrderStatus, SpendingInterval, UpdateCardResponse, UpdateCardStatusResponse,
};

/// The generated low-level client and all its types.
pub use uqpay_issuing_raw as raw;
