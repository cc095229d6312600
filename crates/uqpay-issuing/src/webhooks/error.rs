//! [`WebhookError`]: why a delivery was refused.

use std::time::Duration;

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
