//! [`Verifier`]: checks a delivery's timestamp, then its signature in
//! constant time, and only then parses the event; [`sign`] makes the
//! signature UQPay would send.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::Mac as _;
use uqpay_issuing_raw::signature;

use crate::webhooks::error::WebhookError;
use crate::webhooks::event::Event;

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
            verifications: verifications(&crate::telemetry::metrics::global_meter()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use uqpay_issuing_raw::events::EventData;

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
}
