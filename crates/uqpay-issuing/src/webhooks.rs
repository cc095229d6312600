//! Receiving UQPay's webhooks: how each card order ended.
//!
//! UQPay POSTs every event as JSON with two headers: `x-wk-timestamp` (Unix
//! seconds, or milliseconds from its newer "Webhook Hub") and
//! `x-wk-signature`, the lowercase hex of HMAC-SHA512 keyed by the
//! endpoint's secret over the raw body immediately followed by the
//! timestamp's text, as UQPay's four official SDKs compute it. A
//! [`Verifier`] checks both, the timestamp first (a replay outside the
//! tolerance is refused before any MAC is computed), the signature in
//! constant time, and only then parses the event.
//!
//! An axum handler that verifies and dispatches:
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::body::Bytes;
//! use axum::extract::State;
//! use axum::http::{HeaderMap, StatusCode};
//! use axum::routing::post;
//! use uqpay_issuing::webhooks::{EventData, Verifier};
//!
//! async fn receive(
//!     State(verifier): State<Arc<Verifier>>,
//!     headers: HeaderMap,
//!     body: Bytes,
//! ) -> StatusCode {
//!     let event = match verifier.verify_headers(&headers, &body) {
//!         Ok(event) => event,
//!         // Not from UQPay, or replayed: refuse it (it says why, and
//!         // never shows the secret).
//!         Err(error) => {
//!             tracing::warn!(%error, "refused a webhook");
//!             return StatusCode::BAD_REQUEST;
//!         }
//!     };
//!     // UQPay redelivers until it gets a 2xx, with the same event_id:
//!     // deduplicate on it (here: a log line).
//!     tracing::info!(event_id = %event.event_id, event_type = %event.event_type, "event");
//!     match event.data {
//!         EventData::CardCreated(card) => {
//!             // source_id is the card_order_id that Assign Card returned.
//!             let _ = (event.source_id, card.card_id, card.card_status);
//!         }
//!         EventData::CardUpdated(update) => {
//!             let _ = (update.card_order_id, update.order_status, update.card_limit);
//!         }
//!         EventData::CardStatusUpdated(status) => {
//!             // PRE_CANCEL, then CANCELLED when a cancellation completes.
//!             let _ = status.card_status.map(|s| s.to_string());
//!         }
//!         EventData::ActivationCode(code) => {
//!             // A secret: its Debug shows [REDACTED]; expose() to use it.
//!             let _ = code.activation_code.as_ref().map(|c| c.expose().len());
//!         }
//!         EventData::ActivationStatus(_) | EventData::Unknown(_) => {}
//!     }
//!     StatusCode::OK
//! }
//!
//! let verifier = Arc::new(Verifier::new("whsec_your_endpoint_secret"));
//! let app: axum::Router = axum::Router::new()
//!     .route("/uqpay/webhooks", post(receive))
//!     .with_state(verifier);
//! # let _ = app;
//! ```

mod error;
mod event;
mod verify;

pub use self::error::WebhookError;
pub use self::event::{Event, EventType};
pub use self::verify::{sign, Verifier, DEFAULT_TOLERANCE, SIGNATURE_HEADER, TIMESTAMP_HEADER};
pub use uqpay_issuing_raw::events::{EventData, EVENT_TYPES};
