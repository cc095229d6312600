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

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::Mac as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use uqpay_issuing_raw::signature;

pub use uqpay_issuing_raw::events::{EventData, EVENT_TYPES};

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-wk-signature";
/// The header carrying the timestamp the signature covers.
pub const TIMESTAMP_HEADER: &str = "x-wk-timestamp";
/// How far an event's timestamp may be from now, either way, by default
/// (the tolerance of UQPay's SDKs).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// A timestamp of this value or more is in milliseconds (as UQPay's Go and
/// Python SDKs decide).
const MILLISECONDS_FROM: u64 = 1_000_000_000_000;

/// The `x-wk-signature` UQPay would send with `body` at `timestamp`: the
/// lowercase hex of HMAC-SHA512 keyed by `secret` over the body followed
/// by the timestamp's text. For testing your own handlers.
///
/// ```
/// use uqpay_issuing::webhooks::{sign, Verifier};
///
/// let body = br#"{"event_type":"card.activation.status","event_id":"e1","source_id":"c1","data":{}}"#;
/// let now = std::time::SystemTime::now()
///     .duration_since(std::time::UNIX_EPOCH)
///     .unwrap()
///     .as_secs()
///     .to_string();
/// let signature = sign("whsec_test", body, &now);
/// let event = Verifier::new("whsec_test").verify(body, &signature, &now).unwrap();
/// assert_eq!(event.event_type.as_str(), "card.activation.status");
/// ```
pub fn sign(
    secret: impl AsRef<[u8]>,
    body: impl AsRef<[u8]>,
    timestamp: impl AsRef<str>,
) -> String {
    signature::sign(secret.as_ref(), body.as_ref(), timestamp.as_ref())
}

/// Why an event was refused. Never contains the secret; names what was
/// wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The verifier's secret is empty (UQPay signs nothing without one, so
    /// nothing can be verified).
    #[error("the webhook secret is empty")]
    EmptySecret,
    /// A required header is absent (or empty).
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is malformed.
    #[error("invalid header {header}: {reason}")]
    InvalidHeader {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The timestamp is older than the tolerance (a replay, or a delivery
    /// that waited too long).
    #[error("the timestamp is {}s old, more than the {}s tolerated", age.as_secs(), tolerance.as_secs())]
    TimestampTooOld {
        /// How old it is.
        age: Duration,
        /// The tolerance.
        tolerance: Duration,
    },
    /// The timestamp is further in the future than the tolerance.
    #[error("the timestamp is {}s in the future, more than the {}s tolerated", ahead.as_secs(), tolerance.as_secs())]
    TimestampInFuture {
        /// How far ahead it is.
        ahead: Duration,
        /// The tolerance.
        tolerance: Duration,
    },
    /// The signature does not match the body, the timestamp and the secret.
    #[error("the signature does not match")]
    InvalidSignature,
    /// The (authentic) body is not an event this version can read.
    #[error("the event cannot be read: {0}")]
    InvalidPayload(String),
}

/// Verifies UQPay's webhook deliveries and parses them into [`Event`]s.
///
/// `Debug` never shows the secret. Cheap to clone; share one (e.g. in an
/// `Arc`) between requests.
#[derive(Clone)]
pub struct Verifier {
    key: signature::Key,
    empty: bool,
    tolerance: Duration,
    /// `uqpay.webhook.verifications` by `uqpay.webhook.result`.
    #[cfg(feature = "opentelemetry")]
    verifications: opentelemetry::metrics::Counter<u64>,
}

impl WebhookError {
    /// The class of the failure, as the verifications counter names it:
    /// `bad_signature`, `stale_timestamp` (too old or in the future),
    /// `no_secret`, or `malformed` (headers or body).
    pub fn class(&self) -> &'static str {
        match self {
            Self::InvalidSignature => "bad_signature",
            Self::TimestampTooOld { .. } | Self::TimestampInFuture { .. } => "stale_timestamp",
            Self::EmptySecret => "no_secret",
            Self::MissingHeader(_) | Self::InvalidHeader { .. } | Self::InvalidPayload(_) => {
                "malformed"
            }
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("secret", &"[REDACTED]")
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl Verifier {
    /// A verifier for the endpoint's `secret` (its bytes are the HMAC key,
    /// as given: a `whsec_` prefix is part of it), with the default
    /// tolerance of 300 seconds.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref();
        Self {
            key: signature::key(secret),
            empty: secret.is_empty(),
            tolerance: DEFAULT_TOLERANCE,
            #[cfg(feature = "opentelemetry")]
            verifications: verifications(&crate::telemetry::global_meter()),
        }
    }

    /// Counts verifications with `meter` (feature `opentelemetry`; default:
    /// the global meter provider's `uqpay-issuing` meter, taken by
    /// [`Verifier::new`]): `uqpay.webhook.verifications`, by
    /// `uqpay.webhook.result` (`ok`, `bad_signature`, `stale_timestamp`,
    /// `malformed`, `no_secret`).
    #[cfg(feature = "opentelemetry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    pub fn meter(mut self, meter: &opentelemetry::metrics::Meter) -> Self {
        self.verifications = verifications(meter);
        self
    }

    /// Counts the outcome of one verification.
    fn record<T>(&self, result: Result<T, WebhookError>) -> Result<T, WebhookError> {
        #[cfg(feature = "opentelemetry")]
        {
            let class = match &result {
                Ok(_) => "ok",
                Err(error) => error.class(),
            };
            self.verifications.add(
                1,
                &[opentelemetry::KeyValue::new("uqpay.webhook.result", class)],
            );
        }
        result
    }

    /// How far the timestamp may be from now, either way (default 300 s).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery from its headers (`x-wk-signature`,
    /// `x-wk-timestamp`) and raw body, then parses it.
    pub fn verify_headers(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Event, WebhookError> {
        let header = |name: &'static str| {
            let value = headers.get(name).ok_or(WebhookError::MissingHeader(name))?;
            value.to_str().map_err(|_| WebhookError::InvalidHeader {
                header: name,
                reason: "not visible ASCII".into(),
            })
        };
        let (signature, timestamp) = match (header(SIGNATURE_HEADER), header(TIMESTAMP_HEADER)) {
            (Ok(signature), Ok(timestamp)) => (signature, timestamp),
            (Err(error), _) | (_, Err(error)) => return self.record(Err(error)),
        };
        self.verify(body, signature, timestamp)
    }

    /// Verifies a delivery: `body` as received (before any parsing), and
    /// the `x-wk-signature` and `x-wk-timestamp` header values; then parses
    /// it.
    pub fn verify(
        &self,
        body: &[u8],
        signature: &str,
        timestamp: &str,
    ) -> Result<Event, WebhookError> {
        self.verify_at(body, signature, timestamp, SystemTime::now())
    }

    /// [`Verifier::verify`] as if it were `now` (for tests).
    pub fn verify_at(
        &self,
        body: &[u8],
        signature: &str,
        timestamp: &str,
        now: SystemTime,
    ) -> Result<Event, WebhookError> {
        self.record(
            self.check(body, signature, timestamp, now)
                .and_then(|()| Event::parse(body)),
        )
    }

    /// Checks the timestamp and the signature only (for a handler that
    /// parses the body itself).
    pub fn check_at(
        &self,
        body: &[u8],
        signature: &str,
        timestamp: &str,
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        self.record(self.check(body, signature, timestamp, now))
    }

    fn check(
        &self,
        body: &[u8],
        signature: &str,
        timestamp: &str,
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        if self.empty {
            return Err(WebhookError::EmptySecret);
        }
        if signature.is_empty() {
            return Err(WebhookError::MissingHeader(SIGNATURE_HEADER));
        }
        let sent_at = parse_timestamp(timestamp)?;
        match now.duration_since(sent_at) {
            Ok(age) if age > self.tolerance => {
                return Err(WebhookError::TimestampTooOld {
                    age,
                    tolerance: self.tolerance,
                })
            }
            Err(ahead) if ahead.duration() > self.tolerance => {
                return Err(WebhookError::TimestampInFuture {
                    ahead: ahead.duration(),
                    tolerance: self.tolerance,
                })
            }
            _ => {}
        }
        let mut expected = [0u8; 64];
        if signature.len() != 2 * expected.len() {
            return Err(WebhookError::InvalidHeader {
                header: SIGNATURE_HEADER,
                reason: format!(
                    "expected {} hexadecimal digits (HMAC-SHA512), got {} characters",
                    2 * expected.len(),
                    signature.chars().count()
                ),
            });
        }
        hex::decode_to_slice(signature, &mut expected).map_err(|_| {
            WebhookError::InvalidHeader {
                header: SIGNATURE_HEADER,
                reason: "not hexadecimal".into(),
            }
        })?;
        signature::mac(&self.key, body, timestamp)
            .verify_slice(&expected)
            .map_err(|_| WebhookError::InvalidSignature)
    }
}

#[cfg(feature = "opentelemetry")]
fn verifications(meter: &opentelemetry::metrics::Meter) -> opentelemetry::metrics::Counter<u64> {
    meter
        .u64_counter("uqpay.webhook.verifications")
        .with_unit("{verification}")
        .with_description("Webhook deliveries verified, by result.")
        .build()
}

/// `x-wk-timestamp`: Unix seconds, or milliseconds from 10^12 on.
fn parse_timestamp(text: &str) -> Result<SystemTime, WebhookError> {
    if text.is_empty() {
        return Err(WebhookError::MissingHeader(TIMESTAMP_HEADER));
    }
    let invalid = |reason: String| WebhookError::InvalidHeader {
        header: TIMESTAMP_HEADER,
        reason,
    };
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "expected Unix seconds or milliseconds (digits), got {} characters that are not all digits",
            text.chars().count()
        )));
    }
    let value: u64 = text
        .parse()
        .map_err(|_| invalid(format!("{} digits is out of range", text.len())))?;
    let since_epoch = if value >= MILLISECONDS_FROM {
        Duration::from_millis(value)
    } else {
        Duration::from_secs(value)
    };
    UNIX_EPOCH
        .checked_add(since_epoch)
        .ok_or_else(|| invalid("out of range".into()))
}

/// The type of an event, as sent (`card.update.succeeded`, or one this
/// version does not know).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EventType(String);

impl EventType {
    /// The event type as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the spec names it (so that its data is typed).
    pub fn is_known(&self) -> bool {
        EVENT_TYPES.iter().any(|(known, _)| *known == self.0)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl PartialEq<str> for EventType {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for EventType {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// An event UQPay sent: its envelope as sent, and its data, typed for the
/// card lifecycle events.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The payload's API version (`V1.6.0`).
    pub version: String,
    /// The category (`ISSUING`).
    pub event_name: String,
    /// The event (`card.update.succeeded`, ...).
    pub event_type: EventType,
    /// Unique per event and the same on every redelivery: deduplicate on it.
    pub event_id: String,
    /// The card order (create, update, status events) or the card
    /// (activation events) the event is about.
    pub source_id: String,
    /// The payload.
    pub data: EventData,
}

/// The envelope, with its data left unparsed until the type is known.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    version: String,
    #[serde(default)]
    event_name: String,
    event_type: String,
    event_id: String,
    #[serde(default)]
    source_id: String,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

impl Event {
    /// Parses a body **without verifying it** (for bodies verified
    /// elsewhere, and tests). Use a [`Verifier`] for anything received.
    pub fn parse(body: &[u8]) -> Result<Event, WebhookError> {
        // One pass when `event_type` comes before `data` (as UQPay sends
        // it); anything else, and every error, goes through the two-pass
        // parse below, which also words the errors.
        match serde_json::from_slice::<OnePass>(body) {
            Ok(OnePass(event)) => Ok(event),
            Err(_) => Self::parse_in_two_passes(body),
        }
    }

    /// The envelope with its data left raw, then the data by its type.
    fn parse_in_two_passes(body: &[u8]) -> Result<Event, WebhookError> {
        let envelope: Envelope<'_> = serde_json::from_slice(body)
            .map_err(|e| WebhookError::InvalidPayload(payload_error(&e)))?;
        let data = envelope.data.map_or("{}", RawValue::get);
        let data = EventData::from_json(&envelope.event_type, data).map_err(|e| {
            WebhookError::InvalidPayload(format!(
                "the data of {} event {}: {}",
                envelope.event_type,
                envelope.event_id,
                payload_error(&e)
            ))
        })?;
        Ok(Event {
            version: envelope.version,
            event_name: envelope.event_name,
            event_type: EventType(envelope.event_type),
            event_id: envelope.event_id,
            source_id: envelope.source_id,
            data,
        })
    }
}

/// An event parsed in one pass: the envelope's fields, and `data` parsed
/// by its type as it is read (`event_type` having come first). Fails,
/// without saying why, on anything else (the caller falls back).
struct OnePass(Event);

/// The envelope's fields (any other is skipped).
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Version,
    EventName,
    EventType,
    EventId,
    SourceId,
    Data,
    #[serde(other)]
    Other,
}

/// The data of `event_type`, parsed where it stands.
struct DataOf<'t>(&'t str);

impl<'de> serde::de::DeserializeSeed<'de> for DataOf<'_> {
    type Value = EventData;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<EventData, D::Error> {
        // A null `data` is left to the two-pass parse (which reads it as `{}`).
        deserializer.deserialize_option(self)
    }
}

impl<'de> serde::de::Visitor<'de> for DataOf<'_> {
    type Value = EventData;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the data of a ")?;
        f.write_str(self.0)?;
        f.write_str(" event")
    }

    fn visit_some<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<EventData, D::Error> {
        EventData::deserialize_as(self.0, deserializer)
    }
}

impl<'de> Deserialize<'de> for OnePass {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OnePassVisitor)
    }
}

struct OnePassVisitor;

impl<'de> serde::de::Visitor<'de> for OnePassVisitor {
    type Value = OnePass;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event with its event_type before its data")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<OnePass, A::Error> {
        use serde::de::Error as _;
        let mut fields: [Option<String>; 5] = Default::default();
        let mut data = None;
        while let Some(field) = map.next_key::<Field>()? {
            let slot = match field {
                Field::Version => 0,
                Field::EventName => 1,
                Field::EventType => 2,
                Field::EventId => 3,
                Field::SourceId => 4,
                Field::Data => {
                    let Some(event_type) = fields[2].as_deref() else {
                        return Err(A::Error::custom("data before event_type"));
                    };
                    if data.is_some() {
                        return Err(A::Error::duplicate_field("data"));
                    }
                    data = Some(map.next_value_seed(DataOf(event_type))?);
                    continue;
                }
                Field::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    continue;
                }
            };
            if fields[slot].is_some() {
                return Err(A::Error::custom("a duplicate field"));
            }
            fields[slot] = Some(map.next_value()?);
        }
        let [version, event_name, event_type, event_id, source_id] = fields;
        let (Some(event_type), Some(event_id), Some(data)) = (event_type, event_id, data) else {
            return Err(A::Error::custom("a missing field"));
        };
        Ok(OnePass(Event {
            version: version.unwrap_or_default(),
            event_name: event_name.unwrap_or_default(),
            event_type: EventType(event_type),
            event_id,
            source_id: source_id.unwrap_or_default(),
            data,
        }))
    }
}

/// serde_json's message, card numbers masked (it may quote the body).
fn payload_error(error: &serde_json::Error) -> String {
    crate::redact::redact(&error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// UQPay's published card.activation.code example, and its signatures as
    /// computed by Python's hmac and `openssl dgst -sha512 -hmac` (the
    /// project's webhook notes).
    const BODY: &str = r#"{"version":"V1.6.0","event_name":"ISSUING","event_type":"card.activation.code","event_id":"78ca1f8a-cf8a-42a4-ae0b-9b2acebe600b","source_id":"ba4bdf3e-c2b7-4197-9487-dc269e77b2c0","data":{"activation_code":"57609685","card_id":"ba4bdf3e-c2b7-4197-9487-dc269e77b2c0","card_number":"40963608****5859"}}"#;
    const SECRET: &str = "whsec_test_secret";
    const SIG_SECONDS: &str = "712cd7a854678f336576843f7db36f06a3508051e7be199606f435783c6b52b4f3899f5ca52431af09aafa97ddcf05d69079b444a0a8f16017cde78ce863c031";
    const SIG_MILLIS: &str = "586551a223219f1f5073720bf9fcc7edf6b6c04ea7d8a97f26c20a2c3d9db578657ebde070e22aedeb84c25696d88404397077fa5752d5025e17d12b12c4fec9";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn known_answers() {
        assert_eq!(BODY.len(), 300);
        assert_eq!(sign(SECRET, BODY, "1711077773"), SIG_SECONDS);
        assert_eq!(sign(SECRET, BODY, "1711077773000"), SIG_MILLIS);
        // The docs' literal reading (the body alone) is not what UQPay signs.
        assert!(sign(SECRET, BODY, "").starts_with("b35bcdc8180017d4"));
    }

    #[test]
    fn verifies_seconds_and_milliseconds_and_upper_case_hex() {
        let verifier = Verifier::new(SECRET);
        let now = at(1_711_077_773 + 10);
        let event = verifier
            .verify_at(BODY.as_bytes(), SIG_SECONDS, "1711077773", now)
            .unwrap();
        assert_eq!(event.event_type, "card.activation.code");
        assert_eq!(event.event_id, "78ca1f8a-cf8a-42a4-ae0b-9b2acebe600b");
        assert!(matches!(event.data, EventData::ActivationCode(_)));
        assert!(!format!("{event:?}").contains("57609685"));
        verifier
            .verify_at(BODY.as_bytes(), SIG_MILLIS, "1711077773000", now)
            .unwrap();
        verifier
            .verify_at(
                BODY.as_bytes(),
                &SIG_SECONDS.to_uppercase(),
                "1711077773",
                now,
            )
            .unwrap();
    }

    #[test]
    fn refuses_what_is_not_exactly_right() {
        let verifier = Verifier::new(SECRET);
        let now = at(1_711_077_773);
        let check =
            |body: &str, sig: &str, ts: &str| verifier.verify_at(body.as_bytes(), sig, ts, now);
        let tampered = BODY.replace("57609685", "57609686");
        assert_eq!(
            check(&tampered, SIG_SECONDS, "1711077773"),
            Err(WebhookError::InvalidSignature)
        );
        assert_eq!(
            Verifier::new("whsec_other").verify_at(BODY.as_bytes(), SIG_SECONDS, "1711077773", now),
            Err(WebhookError::InvalidSignature)
        );
        // The timestamp is covered: the same signature with another is refused.
        assert_eq!(
            check(BODY, SIG_SECONDS, "1711077774"),
            Err(WebhookError::InvalidSignature)
        );
        assert_eq!(
            check(BODY, "", "1711077773"),
            Err(WebhookError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            check(BODY, SIG_SECONDS, ""),
            Err(WebhookError::MissingHeader(TIMESTAMP_HEADER))
        );
        for (sig, why) in [
            (&SIG_SECONDS[..64], "got 64 characters"),
            (&format!("{SIG_SECONDS}00")[..], "got 130 characters"),
            (&SIG_SECONDS.replace('a', "g")[..], "not hexadecimal"),
            ("é".repeat(64).as_str(), "not hexadecimal"),
        ] {
            match check(BODY, sig, "1711077773") {
                Err(WebhookError::InvalidHeader { header, reason }) => {
                    assert_eq!(header, SIGNATURE_HEADER);
                    assert!(reason.contains(why), "{reason}");
                }
                other => panic!("{sig}: {other:?}"),
            }
        }
        for ts in [
            "17110777.73",
            "-1711077773",
            "1711077773s",
            "99999999999999999999999",
        ] {
            assert!(
                matches!(
                    check(BODY, SIG_SECONDS, ts),
                    Err(WebhookError::InvalidHeader {
                        header: TIMESTAMP_HEADER,
                        ..
                    })
                ),
                "{ts}"
            );
        }
        assert_eq!(
            Verifier::new("").verify_at(BODY.as_bytes(), SIG_SECONDS, "1711077773", now),
            Err(WebhookError::EmptySecret)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_refused_before_the_mac() {
        let verifier = Verifier::new(SECRET).tolerance(Duration::from_secs(300));
        let sent = 1_711_077_773;
        // Just inside either way.
        for now in [at(sent + 300), at(sent - 300)] {
            verifier
                .verify_at(BODY.as_bytes(), SIG_SECONDS, "1711077773", now)
                .unwrap();
        }
        assert_eq!(
            verifier.verify_at(BODY.as_bytes(), SIG_SECONDS, "1711077773", at(sent + 301)),
            Err(WebhookError::TimestampTooOld {
                age: Duration::from_secs(301),
                tolerance: Duration::from_secs(300)
            })
        );
        assert_eq!(
            verifier.verify_at(BODY.as_bytes(), SIG_SECONDS, "1711077773", at(sent - 301)),
            Err(WebhookError::TimestampInFuture {
                ahead: Duration::from_secs(301),
                tolerance: Duration::from_secs(300)
            })
        );
        // A stale timestamp is refused even with a wrong signature: the
        // window is checked first.
        assert!(matches!(
            verifier.verify_at(
                BODY.as_bytes(),
                &"0".repeat(128),
                "1711077773",
                at(sent + 1000)
            ),
            Err(WebhookError::TimestampTooOld { .. })
        ));
    }

    #[test]
    fn headers_and_debug() {
        let verifier = Verifier::new("whsec_SECRET_VALUE");
        assert!(!format!("{verifier:?}").contains("SECRET_VALUE"));
        let mut headers = http::HeaderMap::new();
        assert_eq!(
            verifier.verify_headers(&headers, BODY.as_bytes()),
            Err(WebhookError::MissingHeader(SIGNATURE_HEADER))
        );
        headers.insert(SIGNATURE_HEADER, SIG_SECONDS.parse().unwrap());
        assert_eq!(
            verifier.verify_headers(&headers, BODY.as_bytes()),
            Err(WebhookError::MissingHeader(TIMESTAMP_HEADER))
        );
        headers.insert(
            TIMESTAMP_HEADER,
            http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        assert!(matches!(
            verifier.verify_headers(&headers, BODY.as_bytes()),
            Err(WebhookError::InvalidHeader {
                header: TIMESTAMP_HEADER,
                ..
            })
        ));
    }

    #[test]
    fn authentic_bodies_that_are_not_events_are_payload_errors() {
        for body in ["", "[]", "{\"event_type\":\"card.update.succeeded\"}", "{\"event_type\":\"card.update.succeeded\",\"event_id\":\"e\",\"data\":{\"card_limit\":true}}"] {
            assert!(matches!(Event::parse(body.as_bytes()), Err(WebhookError::InvalidPayload(_))), "{body}");
        }
        let unknown = Event::parse(
            br#"{"event_type":"card.recharge.succeeded","event_id":"e","data":{"amount":"1"}}"#,
        )
        .unwrap();
        assert!(!unknown.event_type.is_known());
        assert!(matches!(unknown.data, EventData::Unknown(_)));
    }

    /// The one-pass parse and the two-pass one (the reference) agree on
    /// every published example; where the one pass cannot (data first, a
    /// null data, errors), `parse` gives the two-pass answer.
    #[test]
    fn the_one_pass_parse_agrees_with_the_two_pass_one() {
        let mut seen = 0;
        for (_, body) in uqpay_issuing_raw::examples::WEBHOOKS {
            let body = body.as_bytes();
            let reference = Event::parse_in_two_passes(body).unwrap();
            let OnePass(one) = serde_json::from_slice(body).unwrap();
            assert_eq!(one, reference);
            assert!(!matches!(one.data, EventData::Unknown(_)));
            seen += 1;
        }
        assert!(seen >= 5, "fixtures read: {seen}");
        for body in [
            // data before event_type: not one pass, same event.
            r#"{"data":{"card_id":"c","card_status":"FROZEN"},"event_type":"card.status.update.succeeded","event_id":"e"}"#,
            // a null data reads as {}.
            r#"{"event_type":"card.recharge.succeeded","event_id":"e","data":null}"#,
            r#"{"event_type":"card.recharge.succeeded","event_id":"e"}"#,
            // unknown fields are skipped, missing optional ones are empty.
            r#"{"event_type":"card.update.succeeded","x":[1,{"y":2}],"event_id":"e","data":{"card_id":"c"},"z":null}"#,
        ] {
            let reference = Event::parse_in_two_passes(body.as_bytes()).unwrap();
            assert_eq!(Event::parse(body.as_bytes()).unwrap(), reference, "{body}");
        }
        let null =
            Event::parse(br#"{"event_type":"card.recharge.succeeded","event_id":"e","data":null}"#)
                .unwrap();
        assert_eq!(null.data, EventData::Unknown(serde_json::json!({})));
        for body in [
            r#"{"event_type":"card.update.succeeded","event_id":"e","event_id":"f","data":{}}"#,
            r#"{"event_type":"card.update.succeeded","event_id":"e","data":{},"data":{}}"#,
            r#"{"event_type":"card.update.succeeded","event_id":"e","data":{}} x"#,
            r#"{"event_type":"card.update.succeeded","data":{}}"#,
        ] {
            assert!(
                serde_json::from_slice::<OnePass>(body.as_bytes()).is_err(),
                "{body}"
            );
            assert!(
                Event::parse_in_two_passes(body.as_bytes()).is_err(),
                "{body}"
            );
            assert!(
                matches!(
                    Event::parse(body.as_bytes()),
                    Err(WebhookError::InvalidPayload(_))
                ),
                "{body}"
            );
        }
    }
}
