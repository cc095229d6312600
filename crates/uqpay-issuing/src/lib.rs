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
//! - **Validation before the wire**: every documented limit is checked
//!   before a byte is sent ([Validation](#validation)).
//! - **Exact money**: amounts are [`Decimal`]s and go on the wire as the
//!   digits they hold.
//! - **Idempotent retries**: one `x-idempotency-key` per call, reused by
//!   every retry, so a retry never assigns or changes a card twice
//!   ([Retries and idempotency](#retries-and-idempotency)).
//! - **Tokens**: a fixed token, or credentials whose token is fetched,
//!   cached, renewed before it expires and, after a 401, replaced once;
//!   shared by a fleet with `RedisTokenStore` (feature `redis`).
//! - **Typed errors** ([`Error`]) in the vocabulary of UQPay's v1.6 error
//!   guide ([`ErrorKind`]), with helpers such as [`Error::is_not_found`]
//!   and [`Error::is_retryable`].
//! - **No leaks**: the token, the API key and card numbers never appear in
//!   `Debug`, `Display`, errors or logs ([Secrets](#secrets)).
//! - **Rate limits and deadlines**: [`RateLimit`] keeps UQPay's limit
//!   without provoking 429s, a [`RetryBudget`] caps retries during an
//!   outage, and every setting can be overridden per call
//!   ([`ClientBuilder`]'s "Defaults and per-call overrides").
//! - **Forward compatible**: unknown fields are ignored and unknown statuses
//!   are kept ([`ReportedCardStatus::Unknown`]).
//!
//! # Validation
//!
//! `send()` refuses invalid input before a byte is sent, with
//! [`Error::Validation`] naming the field (as on the wire, with its index in a
//! list: `spending_controls[1].amount`, `risk_controls.blocked_mcc[0]`), the
//! problem and the limit. Every limit is read from the spec, through the
//! generated types and `raw::constraints`; the simulator applies the same
//! rules (`raw::rules`), so what the client accepts it accepts.
//!
//! - `cardholder_id`, `card_number`, `card_currency`, `card_mode` (Assign
//!   Card) and `card_status` (Update Card Status) are required.
//! - `card_number`: 12 to 19 ASCII digits (no Luhn check: UQPay's own example
//!   fails one). The error never quotes it.
//! - `card_currency`: 3 uppercase letters (ISO 4217 form, e.g. `USD`).
//! - `name_on_card`: 1 to 26 characters, counted as Unicode scalar values (as
//!   JSON Schema counts them, not bytes), printable ones only (the spec's
//!   `x-printable`): no control or format characters (zero-width spaces and
//!   joiners, direction overrides, soft hyphens), no line or paragraph
//!   separators, no private-use, surrogate or unassigned code points; the
//!   error names the code point and its position. Spaces, including the
//!   no-break space, are allowed.
//! - `update_reason`: at most 100 characters.
//! - `card_limit`, `no_pin_payment_amount`, every spending control's
//!   `amount`: `>= 0`, as [`Decimal`], so NaN and infinities cannot even be
//!   written; `-0` is sent as `0`.
//! - MCCs (`allowed_mcc`, `blocked_mcc`): exactly 4 digits each.
//! - `metadata`: a JSON object (`metadata_json` refuses anything else) of at
//!   most 3200 bytes of JSON.
//! - An `update_card` that sets nothing is refused (`field` `update_card`).
//! - `x-on-behalf-of` (client default or per call): 1 to 64 visible ASCII
//!   characters, a sub-account's UUID or a short id such as `CB4488338944`;
//!   empty, blank, spaces, control characters, more than 64 characters, and
//!   anything that looks like a card number (12 or more digits in a row) are
//!   refused (the client's default by `build()`, a call's by `send()`).
//!
//! The builders' `body()` returns the validated body without sending it.
//!
//! Amounts follow one grammar, from the spec, wherever they are read (the
//! simulator's requests, answers, webhooks): request amounts are JSON numbers
//! (never strings, never negative); reported amounts are JSON numbers or
//! strings matching the spec's `^-?[0-9]+(\.[0-9]+)?$`. `"1_000"`, `" 12 "`,
//! `"+5"`, `".5"`, `"5."` or `"2000USD"` are refused, never read some lax way
//! (UQPay's own `"2000USD"` no-PIN amount in Retrieve Card is kept as text in
//! [`Card::no_pin_payment_amount`](Card::no_pin_payment_amount)).
//!
//! # Retries and idempotency
//!
//! - **One logical call, one `x-idempotency-key`** (a UUID v4, or yours with
//!   `.idempotency_key(..)`), sent unchanged on every attempt: a retry resends
//!   the very same request, byte for byte (the body is built once and passed
//!   by reference). UQPay replays the first answer for a key it has seen (for
//!   24 hours), so a retry after a lost answer never assigns or changes a card
//!   twice; the same key with another body is a 400 `idempotency_error`, not
//!   retried. `retrieve_card`, a read, sends no key and is retried the same
//!   way.
//! - **Retried**: connection errors, timeouts, 408, 429, 5xx, and UQPay's
//!   "request is processing" (the legacy 400 sent while the first request
//!   with the key is in flight), up to `max_retries` (default 2; `0` sends one
//!   attempt, plus one after a refused token), with exponential backoff (500 ms doubling to 30 s,
//!   [`ClientBuilder::retry_backoff`]; the arithmetic saturates, so any
//!   durations are safe) plus up to 1 s of jitter
//!   ([`ClientBuilder::retry_jitter`]), or exactly what `Retry-After` asks
//!   (seconds or HTTP date). A `Retry-After` longer than
//!   [`ClientBuilder::max_retry_after`] (default 60 s), or too large to read,
//!   ends the call with the error; one that is neither a number nor a date is
//!   ignored.
//! - A response body that breaks off (even of a 200) is a network error,
//!   retried with the same key: the API replays the committed answer.
//! - **Never retried**: validation errors, card, cardholder and account rule
//!   violations, idempotency conflicts, any other 4xx, redirects (never
//!   followed), a proxy's 407, responses that do not decode.
//! - **Bounds**: no retry sleeps past the call's deadline; every retry takes
//!   tokens from the client's [`RetryBudget`] (a call it refuses ends with
//!   [`Error::RetryBudgetSpent`]); with a [`RateLimit`], every attempt takes a
//!   slot. After more than one attempt, a retryable failure is returned as
//!   [`Error::RetriesExhausted`] with the attempts, the key and the last
//!   error.
//! - **Tokens**: with credentials, a 401 gets a new token and one more
//!   attempt (not counted as a retry, not paid from the budget), or the token
//!   another caller already minted. If the new token cannot be had, the error
//!   says so ([`Error::Token`], retryable when the token endpoint's failure
//!   is), with the 401's message as context. With a fixed token, a 401 is
//!   final.
//! - Tokens live in a [`TokenStore`] ([`InMemoryTokenStore`] by default;
//!   `RedisTokenStore` for a fleet). One mint at a time per client id, on its
//!   own task: every caller that needs a token gets that mint's result, token
//!   or error, and a caller that gives up does not cancel it for the others;
//!   a failed mint is remembered for a second so a burst of calls does not
//!   hammer the token endpoint. A valid token is used until it expires; it is
//!   renewed in the background 5 minutes (at most half its lifetime) before,
//!   and a failed renewal costs no call anything. Expiry is read against the
//!   token answer's `Date` (the lifetime UQPay gives, a second less, trusted
//!   for at least 60 s and at most 2 hours), so a skewed clock neither keeps
//!   an expired token nor mints one per call.
//! - The token goes out as `x-auth-token: Bearer <token>`, as every official
//!   UQPay SDK sends it.
//! - `x-on-behalf-of` is a sub-account's account_id: the endpoint pages say a
//!   plain string, UQPay's FAQ a UUID, and UQPay's own tools pass short ids
//!   such as `CB4488338944`, so both are accepted (1 to 64 visible ASCII
//!   characters). It is left out, never sent empty, when no account is set.
//! - Redirects are never followed: the token only goes to the configured
//!   host. Plain `http://` is accepted for loopback hosts only unless
//!   [`ClientBuilder::allow_http`]`(true)`, and a base URL with a user name or
//!   password is refused.
//!
//! # Secrets
//!
//! The token, the API key and card numbers never appear in `Debug`,
//! `Display`, errors or `tracing` output (tests capture everything at TRACE
//! level to prove it, including from a server that echoes them into retried
//! errors). Every text that leaves the SDK is scrubbed ([`redact`]):
//!
//! - any run of 12 to 19 digits, written plainly or in groups of up to 6
//!   digits separated by single spaces or dashes (`4096 3608 0013 3951`),
//!   keeps only its first 6 and last 4 digits (`409636******3951`,
//!   `4096 36** **** 3951`); longer runs are masked entirely; UUIDs (card ids,
//!   idempotency keys) are left as they are;
//! - JWT-shaped words (three base64url segments joined by dots), the
//!   credentials after `Basic ` or `Bearer `, and the value of an
//!   `authorization` or `proxy-authorization` header written out (a proxy or
//!   server page echoing the request) become `[REDACTED]`;
//! - the token the request carried and the API key become `[REDACTED]`
//!   wherever they appear in a message or body the SDK keeps;
//! - kept bodies are cut to 2 KiB; bodies of the token endpoint are never
//!   kept.
//!
//! [`CardNumber`] shows `409636******3951` in `Debug` and `Display` (only
//! `Serialize`, onto the wire, and `expose()` give the number); Retrieve Card's
//! number comes masked already. The headers carrying the token and the API
//! key are marked sensitive. [`AccessToken`], [`Minter`], `ClientBuilder`,
//! `Client` and the webhook `Verifier` never show a secret in `Debug`.
//! `x-on-behalf-of` values that look like a card number are refused, since
//! proxies log headers.
//!
//! Each call runs in a `tracing` span `uqpay.call` with the operation,
//! idempotency key, attempt count and status; spans and metrics carry no URL
//! with an id, no header and no message. Free text you send yourself
//! (`update_reason`, `metadata`) is yours to keep clean: it is never logged,
//! but the API echoes `update_reason` in its response.

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
