//! A stateful simulator of UQPay's card-issuing API, over real HTTP.
//!
//! It serves the card endpoints (Assign Card, Update Card Status, Update
//! Card, Retrieve Card) and the token endpoint under `/api`,
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
//! Where UQPay documents a behaviour the simulator follows it (the sources
//! are in the project's `uqpay-docs` notes); where the docs are silent it
//! does what a card issuer does, as written here. Every error is in the
//! vocabulary of UQPay's Card Issuance v1.6 error guide; the codes are the
//! spec's `KnownErrorCode`, which says which ones are UQPay's and which
//! ones this project chose.
//!
//! - **Tokens.** Card requests need `x-auth-token: Bearer <token>`: one of
//!   the configured fixed tokens, or a token issued by
//!   `POST /api/v1/connect/token` (headers `x-client-id`, `x-api-key`;
//!   JWT-shaped, payload naming `entity_id` and `client_id`; `expired_at` in
//!   Unix seconds). Issued tokens live 30 minutes (configurable), and issuing
//!   one voids every earlier token of the client id at once, as UQPay's Card
//!   Issuance FAQ says ([`TokenPolicy::Void`], the default; its quickstart
//!   says they coexist: [`TokenPolicy::Coexist`],
//!   [`MockServerBuilder::token_policy`]).
//!   A token without `Bearer ` is refused ("invalid auth token format")
//!   unless [`MockServerBuilder::accept_bare_token`] is set. Missing,
//!   bare, unknown, expired or voided: 401 `unauthorized_error`. An unknown
//!   client id at the token endpoint is a 400 "Invalid client id", a wrong
//!   API key a 401.
//! - **Accounts.** `x-on-behalf-of` is the account_id of a connected
//!   sub-account: a UUID (UQPay's FAQ; any spelling of it is the same
//!   account) or a short id of 4 to 32 ASCII letters and digits
//!   (`CB4488338944`, as UQPay's own MCP server passes them); an empty or
//!   other value is a 400 `invalid_request_error` (any such id is accepted
//!   as an account: no registry of sub-accounts is kept). A card belongs to
//!   the account that assigned it; for any other account, master included,
//!   it does not exist.
//! - **Idempotency.** `x-idempotency-key` must be a UUID (400 otherwise).
//!   Validation runs first and is not recorded against the key (a corrected
//!   request may reuse it). Once a request starts executing, its outcome,
//!   success or error, is kept for 24 hours ([`IDEMPOTENCY_TTL`], on the
//!   simulator's clock, which tests move with [`MockServer::advance_clock`]):
//!   the same key with the same request (same account, route, card and body
//!   bytes) replays it byte for byte without touching state; with a
//!   different request it is a 400 `idempotency_error` /
//!   `idempotency_key_reused`; while the first request is still executing,
//!   the legacy 400 `{"code": 200, "message": "Request is processing, please
//!   try again later"}` that UQPay's SDKs retry. After 24 hours the key is
//!   new again. A held request whose client disconnects frees its key. A
//!   record keeps a SHA-256 of the request, not its bytes, and the stored
//!   answer; records past the 24 hours are dropped as new ones come, and
//!   beyond [`MockServerBuilder::idempotency_capacity`] (a million by
//!   default) the oldest settled ones go first. Likewise the event log
//!   ([`MockServer::deliveries`]) keeps the last
//!   [`MockServerBuilder::event_capacity`] settled events (100,000 by
//!   default). Cards are never dropped.
//! - **Validation** mirrors the spec through the generated types: unknown
//!   enum values, `name_on_card` over 26 characters, `update_reason` over 100,
//!   negative or non-numeric amounts, card numbers other than 12-19 digits,
//!   MCCs other than 4 digits, metadata over 3200 bytes of JSON, a
//!   `name_on_card` with control or format characters, malformed
//!   JSON, wrong types and bad UUIDs are a 400 `invalid_request_error` whose
//!   message starts with the field's path; missing required fields are
//!   listed in `missing_fields`. Bodies over 64 KiB get a 413. An Update Card
//!   that sets nothing is a 400. Nothing invalid changes state.
//! - **Cards.** An unknown card, or a card of another account: 400
//!   `card_error` / `card_not_found` ("card not found or deactivated"). A card
//!   number can be assigned once (then 400 `card_error` /
//!   `card_already_assigned`). ACTIVE <-> FROZEN; ACTIVE, FROZEN or BLOCKED
//!   -> CANCELLED (through PRE_CANCEL); PRE_CANCEL and CANCELLED are final (a
//!   status change is 400 `invalid_status_transition`, an update 400
//!   `card_cancelled`).
//!   `card_limit` on a SINGLE card is a 400 `card_limit_not_allowed` (the
//!   docs: "leave empty when card mode is SINGLE"). No answer is a 409; a
//!   404 means an unknown route.
//! - **Orders.** Each card operation creates an order (`card_order_id`) and
//!   is answered at once; the order settles after
//!   [`MockServerBuilder::order_delay`] (default 0: before the answer). Its
//!   effect is applied then (Retrieve Card shows the card as it was until
//!   then) and its event is published: Assign Card -> `card.create.*`
//!   (source_id = the order), Update Card -> `card.update.*` (the order also
//!   as `data.card_order_id`, `order_status` in lower case as UQPay sends
//!   it), Update Card Status -> `card.status.update.*`. Assign Card and
//!   Update Card Status answer `order_status: PENDING` (UQPay's examples);
//!   Update Card `SUCCESS` when its order settled at once, `PENDING`
//!   otherwise. An assigned card is PENDING until its order settles, then
//!   ACTIVE (the simulator has no Activate Card step). Another order on a
//!   card whose order has not settled is a 400 `card_order_in_progress`.
//!   [`MockServer::fail_next_orders`] makes orders fail: nothing changes (a
//!   failed assignment leaves a FAILED card and frees its number) and the
//!   `*.failed` event is published. A cancellation settles to PRE_CANCEL
//!   and becomes CANCELLED after [`MockServerBuilder::pre_cancel_period`] of
//!   the simulator's clock (UQPay: 30 days; default 0), each step with its
//!   own event.
//! - **Webhooks** ([`MockServerBuilder::webhook`]): each event is POSTed as
//!   JSON with `x-wk-timestamp` (Unix seconds, the real clock) and
//!   `x-wk-signature` (hex HMAC-SHA512 over the body followed by the
//!   timestamp, keyed by the secret: UQPay's SDKs' algorithm). A non-2xx
//!   answer or a failed connection is redelivered with backoff, the same
//!   `event_id` and body every time, up to 10 attempts (configurable); an
//!   event out of attempts stays in [`MockServer::deliveries`] and
//!   [`MockServer::redeliver_failed`] sends it again. One card's events are
//!   delivered in order, one after the other.
//! - **Retrieve Card** answers from the state in the documented forms: the
//!   limit a JSON number, the balance and control amounts strings, the
//!   no-PIN amount with its currency glued on (`"100USD"`), the number
//!   masked to its last 4 digits. The balance is the limit (no money
//!   moves).
//! - **Update Card** replaces each field it sets: `spending_controls` and
//!   `metadata` as a whole, `risk_controls` member by member.
//! - **Rate limits** ([`MockServerBuilder::rate_limits`], off by default):
//!   UQPay's per-minute budgets for the token endpoint and for the other
//!   calls, or any budget per window ([`RateLimits::per_window`], for tests
//!   that meet the limit in seconds), in fixed windows on the simulator's
//!   clock; bursts inside a window are allowed; past the budget, 429
//!   `{"code": "too_many_requests", ...}` with no `type` and no
//!   `Retry-After` (none is documented), counted in
//!   [`RouteCounters::rate_limited`].
//! - **Faults** ([`Fault`]) are injected before anything else, on card
//!   routes only: 429 with `Retry-After`, 5xx `api_error`, "request is
//!   processing", a dropped connection before processing, and a dropped
//!   connection after the request was committed. Queued faults
//!   ([`MockServer::fail_next`]) come first, then random ones drawn by a
//!   seeded RNG.
//! - Amounts are read exactly (no float on the way), as numbers or numeric
//!   strings.

#![deny(missing_docs)]

// Layer order (`cargo xtask layers` checks it): each module uses only the
// modules listed below it; none uses the root's re-exports.
//
//   cli          the binary's flags (ServeArgs) onto the builder: made-up credentials, faults by name
//   server       MockServer, the builder: starts everything below
//   routes       the router and its handlers: the token endpoint, the card routes
//   pipeline     a card request's way: faults, rate limit, headers, body, idempotency, answer
//   shared       one running simulator's parts behind their locks; orders settled later
//   webhooks     delivering events: signed POSTs, redelivery, the event log
//   orders       card orders: placed at the desk, settled, cancellations completed
//   events       the webhook payloads of settled orders
//   views        card -> wire projections (Retrieve Card, the events' parts)
//   state        cards, card numbers, per-route counters, the idempotency records
//   idempotency  the 24-hour window, fingerprints, records, eviction, in-flight checks
//   control      held requests and killed connections
//   ratelimit    UQPay's rate limits, in fixed windows
//   tokens       fixed and issued access tokens, their expiry and voiding
//   faults       injected faults: queued ones, then seeded random ones
//   reply        the answers, in UQPay's error vocabulary
//   clock        the simulator's clock, and times as the API writes them
//

pub mod cli;
mod clock;
mod control;
mod events;
mod faults;
mod idempotency;
mod orders;
mod pipeline;
mod ratelimit;
mod reply;
mod routes;
mod server;
mod shared;
mod state;
mod tokens;
mod views;
mod webhooks;

pub use faults::Fault;
pub use idempotency::IDEMPOTENCY_TTL;
pub use pipeline::body::MAX_BODY_BYTES;
pub use ratelimit::RateLimits;
pub use reply::{PROCESSING_MESSAGE, RATE_LIMITED_MESSAGE};
pub use server::builder::{
    MockServerBuilder, DEFAULT_API_KEY, DEFAULT_CLIENT_ID, DEFAULT_EVENT_CAPACITY,
    DEFAULT_IDEMPOTENCY_CAPACITY, DEFAULT_TOKEN,
};
pub use server::{MockServer, Stats};
pub use state::{Card, Route, RouteCounters};
pub use tokens::{TokenPolicy, DEFAULT_TOKEN_LIFETIME};
pub use webhooks::Delivery;
