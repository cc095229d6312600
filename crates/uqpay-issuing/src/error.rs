//! The errors of the SDK.

use std::fmt;

use uuid::Uuid;

/// The class of an API error: the body's `type`, or, when the body has none,
/// the class its HTTP status implies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `invalid_request_error` (400): the request is malformed or invalid.
    InvalidRequest,
    /// `idempotency_error`: the idempotency key was reused with another
    /// request (400), or its first request is still processing.
    Idempotency,
    /// `unauthorized_error` (401).
    Unauthorized,
    /// `forbidden` (403).
    Forbidden,
    /// `not_found` (404).
    NotFound,
    /// `conflict_error` (409): the request conflicts with the resource's state.
    Conflict,
    /// `rate_limit_error` (429).
    RateLimit,
    /// `api_error` (5xx): a problem on UQPay's side.
    Api,
    /// A `type` this version of the SDK does not know, kept as sent.
    Other(String),
}

impl ErrorKind {
    /// Parses the body's `type`, falling back on the HTTP status.
    pub(crate) fn from_type_or_status(kind: Option<&str>, status: u16) -> Self {
        match kind {
            Some("invalid_request_error") => Self::InvalidRequest,
            Some("idempotency_error") => Self::Idempotency,
            Some("unauthorized_error") => Self::Unauthorized,
            Some("forbidden") | Some("forbidden_error") => Self::Forbidden,
            Some("not_found") | Some("not_found_error") => Self::NotFound,
            Some("conflict_error") => Self::Conflict,
            Some("rate_limit_error") => Self::RateLimit,
            Some("api_error") => Self::Api,
            Some(other) => Self::Other(other.to_owned()),
            None => match status {
                401 => Self::Unauthorized,
                403 => Self::Forbidden,
                404 => Self::NotFound,
                409 => Self::Conflict,
                429 => Self::RateLimit,
                500..=599 => Self::Api,
                _ => Self::InvalidRequest,
            },
        }
    }

    /// The wire name of the kind (`invalid_request_error`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::Idempotency => "idempotency_error",
            Self::Unauthorized => "unauthorized_error",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict_error",
            Self::RateLimit => "rate_limit_error",
            Self::Api => "api_error",
            Self::Other(other) => other,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong. Messages and bodies kept in an error have
/// card numbers masked and tokens removed, so errors can be logged as they
/// are.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request was refused before anything was sent.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The field, as named on the wire (`name_on_card`, `spending_controls[1].amount`, ...).
        field: String,
        /// What is wrong with it, and the limit.
        reason: String,
    },

    /// The API answered with an error.
    #[error("{}", display_api(*status, kind, code.as_deref(), message, missing_fields, idempotency_key.as_ref()))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The body's `type` (or what the status implies).
        kind: ErrorKind,
        /// The body's `code` (numeric codes as text).
        code: Option<String>,
        /// The body's `message` (or the gateway's `error`), redacted.
        message: String,
        /// The required fields the request left out, if the API listed them.
        missing_fields: Vec<String>,
        /// The idempotency key of the call.
        idempotency_key: Option<Uuid>,
    },

    /// The token was refused (after one refresh, when the client fetches its
    /// own tokens), or the credentials were refused by the token endpoint.
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// Why, redacted.
        message: String,
        /// The idempotency key of the call, if it got that far.
        idempotency_key: Option<Uuid>,
    },

    /// The request timed out.
    #[error("the request timed out{}", key_suffix(idempotency_key.as_ref()))]
    Timeout {
        /// The idempotency key of the call.
        idempotency_key: Option<Uuid>,
    },

    /// The connection failed or broke before an answer arrived.
    #[error("network error: {message}{}", key_suffix(idempotency_key.as_ref()))]
    Network {
        /// What happened.
        message: String,
        /// The idempotency key of the call.
        idempotency_key: Option<Uuid>,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A response could not be understood.
    #[error("cannot decode the response (HTTP {status}): {message}; body: {body}")]
    Decode {
        /// The HTTP status.
        status: u16,
        /// Why it could not be decoded, redacted.
        message: String,
        /// The body, redacted and cut to 2 KiB.
        body: String,
        /// The idempotency key of the call.
        idempotency_key: Option<Uuid>,
    },

    /// Every attempt failed with a retryable error.
    #[error("gave up after {attempts} attempts (idempotency key {idempotency_key}): {last}")]
    RetriesExhausted {
        /// How many requests were sent.
        attempts: u32,
        /// The idempotency key every attempt carried.
        idempotency_key: Uuid,
        /// The error of the last attempt.
        #[source]
        last: Box<Error>,
    },

    /// The client is misconfigured.
    #[error("configuration error: {0}")]
    Config(String),
}

fn key_suffix(key: Option<&Uuid>) -> String {
    key.map(|k| format!(" (idempotency key {k})"))
        .unwrap_or_default()
}

fn display_api(
    status: u16,
    kind: &ErrorKind,
    code: Option<&str>,
    message: &str,
    missing: &[String],
    key: Option<&Uuid>,
) -> String {
    let mut text = format!("UQPay API error {status} {kind}");
    if let Some(code) = code {
        text.push_str(&format!(" [{code}]"));
    }
    text.push_str(&format!(": {message}"));
    if !missing.is_empty() {
        text.push_str(&format!(" (missing: {})", missing.join(", ")));
    }
    text.push_str(&key_suffix(key));
    text
}

impl Error {
    pub(crate) fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The final error, unwrapping [`Error::RetriesExhausted`].
    pub fn last(&self) -> &Error {
        match self {
            Self::RetriesExhausted { last, .. } => last.last(),
            other => other,
        }
    }

    /// The HTTP status of the (last) answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self.last() {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            Self::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }

    /// The kind of API error, if the API answered with one.
    pub fn kind(&self) -> Option<&ErrorKind> {
        match self.last() {
            Self::Api { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// The idempotency key of the call, if it got that far.
    pub fn idempotency_key(&self) -> Option<Uuid> {
        match self {
            Self::RetriesExhausted {
                idempotency_key, ..
            } => Some(*idempotency_key),
            Self::Api {
                idempotency_key, ..
            }
            | Self::Unauthorized {
                idempotency_key, ..
            }
            | Self::Timeout { idempotency_key }
            | Self::Network {
                idempotency_key, ..
            }
            | Self::Decode {
                idempotency_key, ..
            } => *idempotency_key,
            Self::Validation { .. } | Self::Config(_) => None,
        }
    }

    /// How many requests were sent for the call (1 unless it was retried).
    pub fn attempts(&self) -> u32 {
        match self {
            Self::RetriesExhausted { attempts, .. } => *attempts,
            Self::Validation { .. } | Self::Config(_) => 0,
            _ => 1,
        }
    }

    /// A 404: the card (or cardholder) does not exist for this account.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || self.kind() == Some(&ErrorKind::NotFound)
    }

    /// A 409 or a `conflict_error`: the request conflicts with the card's
    /// state (a number assigned twice, a cancelled card changed, ...).
    pub fn is_conflict(&self) -> bool {
        self.kind() == Some(&ErrorKind::Conflict)
            || (self.status() == Some(409) && !self.is_processing())
    }

    /// The idempotency key was already used with a different request.
    pub fn is_idempotency_conflict(&self) -> bool {
        self.kind() == Some(&ErrorKind::Idempotency) && !self.is_processing()
    }

    /// A 429.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429) || self.kind() == Some(&ErrorKind::RateLimit)
    }

    /// The API's "request is processing" answer: the first request with
    /// this idempotency key has not finished yet.
    pub fn is_processing(&self) -> bool {
        match self.last() {
            Self::Api { message, .. } => is_processing_message(message),
            _ => false,
        }
    }

    /// A validation error raised before sending.
    pub fn is_validation(&self) -> bool {
        matches!(self, Self::Validation { .. })
    }

    /// Whether sending the same request again (same idempotency key) may
    /// succeed: network errors, timeouts, 408, 429, 5xx and "request is
    /// processing". Never 409 conflicts, idempotency conflicts, other 4xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Network { .. } => true,
            Self::Api { status, .. } => {
                matches!(status, 408 | 429 | 500..=599) || self.is_processing()
            }
            _ => false,
        }
    }
}

/// The text UQPay's SDKs look for to retry an in-flight idempotency key.
pub(crate) fn is_processing_message(message: &str) -> bool {
    message
        .to_ascii_lowercase()
        .contains("request is processing")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, kind: Option<&str>, message: &str) -> Error {
        Error::Api {
            status,
            kind: ErrorKind::from_type_or_status(kind, status),
            code: None,
            message: message.into(),
            missing_fields: vec![],
            idempotency_key: None,
        }
    }

    #[test]
    fn classification() {
        assert!(api(409, Some("conflict_error"), "taken").is_conflict());
        assert!(!api(409, Some("conflict_error"), "taken").is_retryable());
        let processing = api(409, Some("idempotency_error"), "The request is processing");
        assert!(processing.is_processing() && processing.is_retryable());
        assert!(!processing.is_conflict() && !processing.is_idempotency_conflict());
        let reused = api(400, Some("idempotency_error"), "reused");
        assert!(reused.is_idempotency_conflict() && !reused.is_retryable());
        assert!(api(429, None, "slow down").is_rate_limited());
        assert!(api(503, None, "").is_retryable());
        assert!(api(408, None, "").is_retryable());
        assert!(!api(400, None, "").is_retryable());
        assert!(api(404, None, "").is_not_found());
        assert_eq!(
            ErrorKind::from_type_or_status(Some("brand_new_error"), 400),
            ErrorKind::Other("brand_new_error".into())
        );
    }

    #[test]
    fn display_is_informative() {
        let key = Uuid::nil();
        let error = Error::RetriesExhausted {
            attempts: 3,
            idempotency_key: key,
            last: Box::new(Error::Api {
                status: 503,
                kind: ErrorKind::Api,
                code: Some("internal_error".into()),
                message: "busy".into(),
                missing_fields: vec![],
                idempotency_key: Some(key),
            }),
        };
        let text = error.to_string();
        assert!(text.contains("3 attempts"), "{text}");
        assert!(
            text.contains("503 api_error [internal_error]: busy"),
            "{text}"
        );
        assert_eq!(error.status(), Some(503));
        assert_eq!(error.attempts(), 3);
        assert_eq!(error.idempotency_key(), Some(key));
        assert_eq!(
            Error::validation("name_on_card", "must be at most 26 characters, got 27").to_string(),
            "invalid name_on_card: must be at most 26 characters, got 27"
        );
    }
}
