//! A stateful simulator of UQPay's card-issuing API, over real HTTP.
//!
//! It serves the three card endpoints and the token endpoint under `/api`,
//! exactly as `spec/uqpay-issuing.yaml` describes them, so that tests,
//! examples and users' own test suites run against real sockets with no
//! credentials:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use uqpay_mock::{Fault, MockServer};
//!
//! let server = MockServer::builder().token("secret").seed(42).start().await.unwrap();
//! let url = format!("{}/v1/issuing/cards/assign", server.base_url());
//! server.fail_next(1, Fault::ServerError(503));
//! # let _ = url;
//! # }
//! ```
//!
//! # Behaviour
//!
//! Where UQPay documents a behaviour the simulator follows it; where the docs
//! are silent it does what a card issuer does, as written here.
//!
//! - **Auth.** Card requests need `x-auth-token`: one of the configured fixed
//!   tokens, or an unexpired token issued by `POST /api/v1/connect/token`
//!   (headers `x-client-id`, `x-api-key`; JWT-shaped tokens whose payload
//!   names `entity_id` and `client_id`; configurable lifetime). A leading
//!   `Bearer ` is accepted. Missing, unknown or expired: 401
//!   `unauthorized_error`.
//! - **Accounts.** `x-on-behalf-of` names the connected account a request
//!   acts for (absent or empty: the master account). A card belongs to the
//!   account that assigned it; any other account, master included, gets 404.
//! - **Idempotency.** `x-idempotency-key` must be a UUID (400 otherwise).
//!   Validation runs first and is not recorded against the key (a corrected
//!   request may reuse it). Once a request starts executing, its outcome,
//!   success or error, is stored: the same key with the same request (same
//!   account, route, card and body bytes) replays it byte for byte without
//!   touching state; with a different request it is a 400 `idempotency_error`;
//!   while the first request is still executing, a 409 `idempotency_error`
//!   whose message says the request is processing (UQPay's SDKs retry it).
//! - **Validation** mirrors the spec through the generated types: unknown
//!   enum values, `name_on_card` over 26 characters, `update_reason` over 100,
//!   negative or non-numeric amounts, card numbers other than 12-19 digits,
//!   MCCs other than 4 digits, metadata over 3200 bytes of JSON, malformed
//!   JSON, wrong types and bad UUIDs are a 400 `invalid_request_error` whose
//!   message starts with the field's path; missing required fields are
//!   listed in `missing_fields`. Bodies over 64 KiB get a 413. An Update Card
//!   that sets nothing is a 400. Nothing invalid changes state.
//! - **Cards.** A card number can be assigned once (409 `conflict_error`
//!   after that). New cards are ACTIVE. ACTIVE <-> FROZEN; any status ->
//!   CANCELLED; CANCELLED is final (status changes and updates: 409).
//!   `card_limit` on a SINGLE card is a 400 (the docs: "leave empty when
//!   card mode is SINGLE").
//! - **Orders.** Assign Card and Update Card Status answer with the order as
//!   just created (`PENDING`, as in UQPay's examples); Update Card answers
//!   `SUCCESS`. The simulator applies every change at once, so the stored
//!   order status is `SUCCESS`.
//! - **Update Card** replaces each field it sets: `spending_controls` and
//!   `metadata` as a whole, `risk_controls` member by member.
//! - **Faults** ([`Fault`]) are injected before anything else, on card
//!   routes only: 429 with `Retry-After`, 5xx, a dropped connection before
//!   processing, and a dropped connection after the request was committed.
//!   Queued faults ([`MockServer::fail_next`]) come first, then random ones
//!   drawn by a seeded RNG.
//! - Amounts are read exactly (no float on the way), as numbers or numeric
//!   strings.

mod app;
mod faults;
mod server;
mod state;
mod tokens;

pub use app::{MAX_BODY_BYTES, PROCESSING_MESSAGE};
pub use faults::Fault;
pub use server::{
    MockServer, MockServerBuilder, Stats, DEFAULT_API_KEY, DEFAULT_CLIENT_ID, DEFAULT_TOKEN,
};
pub use state::{Card, Route, RouteCounters};
