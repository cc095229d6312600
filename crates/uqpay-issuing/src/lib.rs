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

// The modules and their one-way arrows (each uses only modules below it):
//
//   client      Client, ClientBuilder: builds the handle, hands out builders
//   cards       the request builders and their validation   -> call, card
//   card        the Card of Retrieve Card
//   webhooks    the verifier of UQPay's events (stands alone: error, raw)
//   call        one logical call, the only retry loop       -> transport, auth, retry,
//               budget, ratelimit, redis_store (the fleet's limiter)
//   transport   one HTTP exchange (the generated client's hook)  -> auth (raw requests)
//   auth        fixed token or credentials + store          -> token_store, token
//   token_store where the live token is kept                -> token
//   redis_store the fleet's store and limit (feature `redis`) -> token_store, token, ratelimit
//   token       AccessToken, Minter (the token endpoint)    -> ratelimit, error
//   budget      the retry budget (a token bucket)           -> error
//   ratelimit   RateLimit, the in-process limiter           -> error
//   error       Error, and the generated client's errors    -> retry (Retry-After), redact
//   telemetry   span names and attributes, metrics          -> error
//   retry       backoff and Retry-After
//   redact      masking card numbers and tokens
mod auth;
mod budget;
mod call;
mod card;
mod cards;
mod client;
mod error;
mod ratelimit;
mod redact;
#[cfg(feature = "redis")]
mod redis_store;
mod retry;
mod telemetry;
mod token;
mod token_store;
mod transport;
pub mod webhooks;

pub use budget::RetryBudget;
pub use card::Card;
pub use cards::{AssignCard, RetrieveCard, UpdateCard, UpdateCardStatus};
pub use client::{Client, ClientBuilder, Environment};
pub use error::{Error, ErrorKind};
pub use ratelimit::RateLimit;
pub use redact::redact;
pub use token::{AccessToken, Minter};
pub use token_store::{InMemoryTokenStore, TokenFuture, TokenStore};

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_store::RedisTokenStore;

pub use rust_decimal::Decimal;
pub use uqpay_issuing_raw::money::Amount;
pub use uqpay_issuing_raw::pan::CardNumber;
pub use uqpay_issuing_raw::types::{
    AssignCardResponse, CardMode, CardState, CardStatus, OrderState, ReportedCardStatus,
    ReportedOrderStatus, SpendingInterval, UpdateCardResponse, UpdateCardStatusResponse,
};

/// The generated low-level client and all its types.
pub use uqpay_issuing_raw as raw;
