//! The errors of the SDK: [`Error`], [`ErrorKind`] and the predicates a
//! caller decides with. How the generated client's errors become them is in
//! [`convert`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::redact;

pub(crate) mod convert;

/// The class of an API error: the body's `type` (the vocabulary of UQPay's
/// Card Issuance v1.6 error guide), or, when the body has none (the legacy
/// flat 400, the rate limiter's 429, the gateway's 401), the class its HTTP
/// status implies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `invalid_request_error` (400): the request failed validation. Also
    /// the class of a legacy flat 400 (no `type`).
    InvalidRequest,
    /// `card_error` (400): a card rule was violated (`card_not_found`, a
    /// status change the card's status does not allow, ...).
    Card,
    /// `cardholder_error` (400): a cardholder rule was violated.
    Cardholder,
    /// `account_error` (400): an account, product or balance rule was violated.
    Account,
    /// `idempotency_error` (400): the idempotency key was used with another
    /// request.
    Idempotency,
    /// `unauthorized_error`: 401 (code `unauthorized_error`) or 403 (code
    /// `forbidden`).
    Unauthorized,
    /// 429 (the rate limiter's body has no `type`).
    RateLimit,
    /// `api_error` (500, and any 5xx): a problem on UQPay's side; safe to
    /// retry with the same idempotency key.
    Api,
    /// `not_found`, a type of UQPay's other business lines, or a 404 (an
    /// unknown route). Card Issuance answers an unknown card with a
    /// [`ErrorKind::Card`] `card_not_found` instead; see [`Error::is_not_found`].
    NotFound,
    /// A `type` this version of the SDK does not know, kept as sent.
    Other(Box<str>),
}

impl ErrorKind {
    /// Parses the body's `type`, falling back on the HTTP status.
    pub(crate) fn from_type_or_status(kind: Option<&str>, status: u16) -> Self {
        match kind {
            Some("invalid_request_error") => Self::InvalidRequest,
            Some("card_error") => Self::Card,
            Some("cardholder_error") => Self::Cardholder,
            Some("account_error") => Self::Account,
            Some("idempotency_error") => Self::Idempotency,
            Some("unauthorized_error") => Self::Unauthorized,
            Some("api_error") => Self::Api,
            Some("not_found") => Self::NotFound,
            Some(other) => Self::Other(other.into()),
            None => match status {
                401 | 403 => Self::Unauthorized,
                404 => Self::NotFound,
                429 => Self::RateLimit,
                500..=599 => Self::Api,
                _ => Self::InvalidRequest,
            },
        }
    }

    /// The wire name of the kind (`card_error`, ...); `rate_limit` for a 429.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(other) => other,
            known => known.known().unwrap_or_default(),
        }
    }

    /// The wire name of a kind this version knows; `None` for
    /// [`ErrorKind::Other`] (what the server sent, of unbounded variety).
    pub(crate) fn known(&self) -> Option<&'static str> {
        Some(match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::Card => "card_error",
            Self::Cardholder => "cardholder_error",
            Self::Account => "account_error",
            Self::Idempotency => "idempotency_error",
            Self::Unauthorized => "unauthorized_error",
            Self::RateLimit => "rate_limit",
            Self::Api => "api_error",
            Self::NotFound => "not_found",
            Self::Other(_) => return None,
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong. Messages and bodies kept in an error have
/// card numbers masked and tokens removed, so errors can be logged as they
/// are. Cheap to clone (shared sources), at most 128 bytes, `Send + Sync`,
/// `#[non_exhaustive]`.
///
/// | variant | when | retryable ([`Error::is_retryable`]) |
/// | --- | --- | --- |
/// | `Validation { field, reason }` | refused before anything was sent: the field as named on the wire (`name_on_card`, `spending_controls[1].amount`, `x-on-behalf-of`, ...), what is wrong and the limit | no |
/// | `Api { status, kind, typed, code, message, missing_fields, retry_after, attempts, idempotency_key }` | the API answered with an error: `kind` is the body's `type` (or what the status implies), `typed` whether the body had a `type`, `code` the body's code (numeric codes as text), `message` redacted, `missing_fields` the required fields the API listed, `retry_after` what its `Retry-After` asked for | 408, 429, 5xx and "request is processing" |
/// | `Unauthorized { message, attempts, idempotency_key }` | a 401: the API refused the token (after one new token, when the client mints its own), or the token endpoint refused the credentials (then inside a `Token`) | no |
/// | `Token { source, refused, attempts, idempotency_key }` | no token could be had: the token endpoint's error, or the token store's, is the `source`; `refused` the message of the 401 that asked for a new token, if one did | as its `source` |
/// | `TokenStore { message }` | the token store failed when a token was needed: Redis unreachable and no valid token held, a fleet mint that failed less than a second ago, a wait for another replica's mint that ran out. A call receives it as the `source` of a `Token` error (`last()` finds it) | yes |
/// | `Timeout { idempotency_key }` | an attempt (or the call's deadline) timed out | yes |
/// | `Network { message, idempotency_key, source }` | the connection failed or broke before a whole answer arrived (a body cut short, even of a 200) | yes |
/// | `Decode { status, message, body, attempts, idempotency_key }` | an answer that does not match the spec; `body` redacted and cut to 2 KiB (withheld for the token endpoint, whose answers hold tokens) | no |
/// | `RetriesExhausted { attempts, idempotency_key, last }` | the call gave up after more than one attempt while its last error was still retryable: the retries ran out, the deadline came before the next attempt, or a `Retry-After` was longer than [`ClientBuilder::max_retry_after`](crate::ClientBuilder::max_retry_after) (after a single attempt the error itself is returned) | as `last` |
/// | `RetryBudgetSpent { attempts, idempotency_key, last }` | the client's [`RetryBudget`](crate::RetryBudget) refused a retry (too many retries lately across the client) | as `last` (so yes) |
/// | `RateLimitTimeout { wait, idempotency_key }` | the next slot of the client's [`RateLimit`](crate::RateLimit) came after the call's deadline; nothing was sent for that attempt | yes |
/// | `Config(message)` | the client is misconfigured; also a proxy that answered 407 (to a `CONNECT` or a plain-HTTP request), sent once | no |
///
/// UQPay's answers follow its Card Issuance v1.6 error guide; [`Error::kind`]
/// is the body's `type`, or what the status implies when the body has none:
///
/// | UQPay answers | [`Error::kind`] | helpers | retried |
/// | --- | --- | --- | --- |
/// | 400 `invalid_request_error` (validation; field path in the message) | `InvalidRequest` | | no |
/// | 400 `card_error` / `card_not_found` (unknown card, or one of another account) | `Card` | `is_not_found()` | no |
/// | 400 `card_error` with another code (`card_already_assigned`, `invalid_status_transition`, `card_cancelled`, `card_limit_not_allowed`, ...) | `Card` | `code()` | no |
/// | 400 `cardholder_error`, `account_error` | `Cardholder`, `Account` | `code()` | no |
/// | 400 `idempotency_error` (the key was used with another request) | `Idempotency` | `is_idempotency_conflict()` | no |
/// | 400 legacy `{"code": 200, "message": "Request is processing, please try again later"}` (no `type`) | `InvalidRequest` | `is_processing()` | yes |
/// | other legacy 400 (`{"code": <number>, "message"}`, no `type`) | `InvalidRequest` | `code()` | no |
/// | 401 `unauthorized_error`, or the gateway's `{"error": ...}` | (`Error::Unauthorized`, no kind) | `is_unauthorized()` | one new token and one more attempt, with credentials |
/// | 403 `unauthorized_error` / `forbidden` | `Unauthorized` | `is_forbidden()` | no |
/// | 404 (an unknown route, nothing else) | `NotFound` | `is_not_found()` | no |
/// | 407 from a proxy | (`Error::Config`) | | no |
/// | 408 | `InvalidRequest` | | yes |
/// | 429 `{"code": "too_many_requests"}` (no `type`) | `RateLimit` | `is_rate_limited()`, `retry_after()` | yes |
/// | 500 `api_error`, and any 5xx (JSON or not) | `Api` | | yes |
/// | a redirect (3xx; never followed) | `InvalidRequest` ("redirects are not followed") | | no |
/// | a `type` this version does not know | `Other(type)` | `code()` | by status |
///
/// An error answer whose body is not UQPay's JSON (an HTML page from a proxy,
/// an empty 502) keeps its status, with the body (redacted, cut) as its
/// message. UQPay documents no 409; an unknown card is a 400, never a 404.
/// `is_processing()` recognises UQPay's sentence only in the legacy envelope
/// (400, no `type`), never a quote of it inside another error's message.
///
/// The helpers look through `RetriesExhausted`, `RetryBudgetSpent` and `Token`
/// to the final error ([`Error::last`]): [`Error::status`] (401 for
/// `Unauthorized`), [`Error::kind`], [`Error::code`], [`Error::retry_after`],
/// [`Error::is_not_found`] (`card_not_found`, a 404, or a `not_found` type),
/// [`Error::is_forbidden`], [`Error::is_idempotency_conflict`],
/// [`Error::is_rate_limited`], [`Error::is_processing`],
/// [`Error::is_timeout`] (`Timeout` or `RateLimitTimeout`),
/// [`Error::is_unauthorized`]. [`Error::is_retryable`] says whether sending the
/// same request again (same idempotency key) may succeed; for
/// `RetriesExhausted`, `RetryBudgetSpent` and `Token` it is that of the cause,
/// so a job queue can tell a transient outage from a refusal with it alone.
/// [`Error::is_retry_budget_spent`] and [`Error::is_validation`] test the
/// outer variant. [`Error::idempotency_key`] is the key every attempt carried
/// (`None` for `retrieve_card`, which sends none, for errors raised before a
/// key was chosen, and for `TokenStore`). [`Error::attempts`] is how many
/// attempts the call made, counted where they happen, whatever the server
/// says: 0 when refused before sending (`Validation`, `Config`,
/// `RateLimitTimeout`), 1 for a bare `Timeout`, `Network` or `TokenStore`; a
/// failed token fetch counts as an attempt.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request was refused before anything was sent.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The field, as named on the wire (`name_on_card`, `spending_controls[1].amount`, ...).
        field: String,
        /// What is wrong with it, and the limit (card numbers masked).
        reason: String,
    },

    /// The API answered with an error.
    #[error("{}", display_api(*status, kind, code.as_deref(), message, missing_fields, idempotency_key.as_ref(), *attempts))]
    Api {
        /// The HTTP status.
        status: u16,
        /// The body's `type` (or what the status implies).
        kind: ErrorKind,
        /// Whether the body carried a `type` (the current envelope); false
        /// for the legacy flat 400, the rate limiter's 429 and the
        /// gateway's `{"error": ...}`.
        typed: bool,
        /// The body's `code` (`card_not_found`, ...; numeric codes as text);
        /// also [`Error::code`].
        code: Option<Box<str>>,
        /// The body's `message` (or the gateway's `error`), redacted.
        message: String,
        /// The required fields the request left out, if the API listed them.
        missing_fields: Box<[String]>,
        /// What the answer's `Retry-After` asked for, if it said.
        retry_after: Option<Duration>,
        /// How many attempts the call made (this answer was the last).
        attempts: u32,
        /// The idempotency key of the call.
        idempotency_key: Option<Uuid>,
    },

    /// The API refused the token (401), after one refresh when the client
    /// mints its own tokens; or the token endpoint refused the credentials
    /// (then inside an [`Error::Token`]).
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// Why, redacted.
        message: String,
        /// How many attempts the call made.
        attempts: u32,
        /// The idempotency key of the call, if it got that far.
        idempotency_key: Option<Uuid>,
    },

    /// No access token could be obtained: the token endpoint failed (its
    /// error is the `source`), or the token store did. Retryable when the
    /// cause is.
    #[error("cannot get an access token{}: {source}", refused.as_ref().map(|m| format!(" (after the API refused the previous one: {m})")).unwrap_or_default())]
    Token {
        /// What went wrong at the token endpoint or in the token store.
        #[source]
        source: Box<Error>,
        /// The message of the 401 that asked for a new token, if one did.
        refused: Option<String>,
        /// How many attempts the call made.
        attempts: u32,
        /// The idempotency key of the call, if it got that far.
        idempotency_key: Option<Uuid>,
    },

    /// The token store could not be read or written (for example Redis is
    /// unreachable) when a token was needed. Retryable.
    #[error("token store: {message}")]
    TokenStore {
        /// What failed, with no secret in it.
        message: String,
    },

    /// The request (or the call's deadline) timed out.
    #[error("the request timed out{}", key_suffix(idempotency_key.as_ref()))]
    Timeout {
        /// The idempotency key of the call.
        idempotency_key: Option<Uuid>,
    },

    /// The connection failed or broke before a whole answer arrived.
    #[error("network error: {message}{}", key_suffix(idempotency_key.as_ref()))]
    Network {
        /// What happened, redacted.
        message: String,
        /// The idempotency key of the call.
        idempotency_key: Option<Uuid>,
        /// The underlying error.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },

    /// A response could not be understood.
    #[error("cannot decode the response (HTTP {status}): {message}; body: {body}")]
    Decode {
        /// The HTTP status.
        status: u16,
        /// Why it could not be decoded, redacted.
        message: String,
        /// The body, redacted and cut to 2 KiB (withheld for the token
        /// endpoint, whose bodies hold tokens).
        body: String,
        /// How many attempts the call made.
        attempts: u32,
        /// The idempotency key of the call.
        idempotency_key: Option<Uuid>,
    },

    /// The call gave up while its last error was still retryable: the
    /// retries ran out, the call's deadline came, or the API asked for a
    /// longer wait than the client accepts.
    #[error("gave up after {attempts} attempts{}: {last}", key_suffix(idempotency_key.as_ref()))]
    RetriesExhausted {
        /// How many attempts the call made.
        attempts: u32,
        /// The idempotency key every attempt carried (`None` for a read,
        /// which carries none).
        idempotency_key: Option<Uuid>,
        /// The error of the last attempt.
        #[source]
        last: Box<Error>,
    },

    /// The call's retry was refused by the client's
    /// [`RetryBudget`](crate::RetryBudget): too many retries lately across
    /// the client (the service is failing), so the call ends at once
    /// instead of adding load. Retryable (as its last error): try the job
    /// again later.
    #[error("the retry budget is spent (too many retries across the client lately); gave up after {attempts} attempt(s){}: {last}", key_suffix(idempotency_key.as_ref()))]
    RetryBudgetSpent {
        /// How many attempts the call made.
        attempts: u32,
        /// The idempotency key every attempt carried.
        idempotency_key: Option<Uuid>,
        /// The error of the last attempt.
        #[source]
        last: Box<Error>,
    },

    /// The call waited for its slot of the client's
    /// [`RateLimit`](crate::RateLimit) and the next slot came after the
    /// call's deadline. Nothing was sent for that attempt. Retryable.
    #[error("timed out waiting for the rate limit: the next slot was {}ms away, past the call's deadline{}", wait.as_millis(), key_suffix(idempotency_key.as_ref()))]
    RateLimitTimeout {
        /// How long the call would have had to wait for its slot.
        wait: Duration,
        /// The idempotency key of the call.
        idempotency_key: Option<Uuid>,
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
    attempts: u32,
) -> String {
    let mut text = format!("UQPay API error {status} {kind}");
    if let Some(code) = code {
        text.push_str(&format!(" [{code}]"));
    }
    text.push_str(&format!(": {message}"));
    if !missing.is_empty() {
        text.push_str(&format!(" (missing: {})", missing.join(", ")));
    }
    if attempts > 1 {
        text.push_str(&format!(" after {attempts} attempts"));
    }
    text.push_str(&key_suffix(key));
    text
}

impl Error {
    /// A validation error; card numbers in the reason are masked.
    pub(crate) fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Validation {
            field: redact::redact(&field.into()),
            reason: redact::redact(&reason.into()),
        }
    }

    /// The final error, unwrapping [`Error::RetriesExhausted`] and
    /// [`Error::Token`] (whose cause it returns).
    pub fn last(&self) -> &Error {
        match self {
            Self::RetriesExhausted { last, .. } | Self::RetryBudgetSpent { last, .. } => {
                last.last()
            }
            Self::Token { source, .. } => source.last(),
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

    /// What the (last) answer's `Retry-After` asked for, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.last() {
            Self::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The idempotency key of the call, if it got that far.
    pub fn idempotency_key(&self) -> Option<Uuid> {
        match self {
            Self::RetriesExhausted {
                idempotency_key, ..
            }
            | Self::RetryBudgetSpent {
                idempotency_key, ..
            }
            | Self::RateLimitTimeout {
                idempotency_key, ..
            }
            | Self::Api {
                idempotency_key, ..
            }
            | Self::Unauthorized {
                idempotency_key, ..
            }
            | Self::Token {
                idempotency_key, ..
            }
            | Self::Timeout { idempotency_key }
            | Self::Network {
                idempotency_key, ..
            }
            | Self::Decode {
                idempotency_key, ..
            } => *idempotency_key,
            Self::Validation { .. } | Self::Config(_) | Self::TokenStore { .. } => None,
        }
    }

    /// How many attempts the call made (0 when it was refused before
    /// sending; a failed token fetch counts as an attempt).
    pub fn attempts(&self) -> u32 {
        match self {
            Self::RetriesExhausted { attempts, .. }
            | Self::RetryBudgetSpent { attempts, .. }
            | Self::Api { attempts, .. }
            | Self::Unauthorized { attempts, .. }
            | Self::Token { attempts, .. }
            | Self::Decode { attempts, .. } => *attempts,
            Self::Validation { .. } | Self::Config(_) | Self::RateLimitTimeout { .. } => 0,
            Self::Timeout { .. } | Self::Network { .. } | Self::TokenStore { .. } => 1,
        }
    }

    /// Records the attempts and key of the call on an error of one attempt.
    pub(crate) fn with_call(mut self, count: u32, key: Option<Uuid>) -> Self {
        match &mut self {
            Self::Api {
                attempts,
                idempotency_key,
                ..
            }
            | Self::Unauthorized {
                attempts,
                idempotency_key,
                ..
            }
            | Self::Token {
                attempts,
                idempotency_key,
                ..
            }
            | Self::Decode {
                attempts,
                idempotency_key,
                ..
            } => {
                *attempts = count;
                *idempotency_key = key;
            }
            Self::Timeout { idempotency_key }
            | Self::RateLimitTimeout {
                idempotency_key, ..
            }
            | Self::Network {
                idempotency_key, ..
            } => {
                *idempotency_key = key;
            }
            Self::RetriesExhausted { .. }
            | Self::RetryBudgetSpent { .. }
            | Self::Validation { .. }
            | Self::Config(_)
            | Self::TokenStore { .. } => {}
        }
        self
    }

    /// The card does not exist for this account (or is deactivated):
    /// UQPay's 400 `card_error` / `card_not_found`. Also true for a
    /// `not_found` type (other business lines) and a 404.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some("card_not_found")
            || self.status() == Some(404)
            || self.kind() == Some(&ErrorKind::NotFound)
    }

    /// A 403 (`unauthorized_error` with code `forbidden`): the credentials
    /// lack the permission (or belong to the other environment).
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403) || self.code() == Some("forbidden")
    }

    /// The idempotency key was already used with a different request (400
    /// `idempotency_error`). Not retryable: the request must change key or
    /// go back to what it was.
    pub fn is_idempotency_conflict(&self) -> bool {
        self.kind() == Some(&ErrorKind::Idempotency)
    }

    /// A 429.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// UQPay's "Request is processing, please try again later": the first
    /// request with this idempotency key has not finished yet (retryable).
    /// Recognised by what UQPay sends: a 400 in the legacy envelope (no
    /// `type`) whose message is that sentence, never by the phrase inside
    /// another error's message.
    pub fn is_processing(&self) -> bool {
        match self.last() {
            Self::Api {
                status: 400,
                typed: false,
                message,
                ..
            } => is_processing_message(message),
            _ => false,
        }
    }

    /// The request (or the wait for a rate-limit slot) timed out: a
    /// [`Error::Timeout`] or [`Error::RateLimitTimeout`], as the last error.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.last(),
            Self::Timeout { .. } | Self::RateLimitTimeout { .. }
        )
    }

    /// The client's retry budget refused a retry ([`Error::RetryBudgetSpent`]).
    pub fn is_retry_budget_spent(&self) -> bool {
        matches!(self, Self::RetryBudgetSpent { .. })
    }

    /// A validation error raised before sending.
    pub fn is_validation(&self) -> bool {
        matches!(self, Self::Validation { .. })
    }

    /// The body's `code` of the (last) API error (`card_not_found`,
    /// `card_already_assigned`, ...; numeric codes as text).
    pub fn code(&self) -> Option<&str> {
        match self.last() {
            Self::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// A 401: the API refused the token, or the token endpoint the
    /// credentials.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self.last(), Self::Unauthorized { .. })
    }

    /// Whether sending the same request again (same idempotency key) may
    /// succeed: network errors, timeouts, 408, 429, 5xx, "request is
    /// processing", and a token that could not be obtained for one of these
    /// reasons (or because the token store was unreachable). Never another
    /// 4xx (a rule violation, an idempotency conflict, a refused token).
    /// For [`Error::RetriesExhausted`] and [`Error::Token`], that of the
    /// cause: a job queue can tell a transient outage from a permanent
    /// refusal with this alone.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RetriesExhausted { last, .. } | Self::RetryBudgetSpent { last, .. } => {
                last.is_retryable()
            }
            Self::RateLimitTimeout { .. } => true,
            Self::Token { source, .. } => source.is_retryable(),
            Self::Timeout { .. } | Self::Network { .. } | Self::TokenStore { .. } => true,
            Self::Api { status, .. } => {
                matches!(status, 408 | 429 | 500..=599) || self.is_processing()
            }
            Self::Validation { .. }
            | Self::Unauthorized { .. }
            | Self::Decode { .. }
            | Self::Config(_) => false,
        }
    }
}

/// UQPay's "Request is processing, please try again later" (case and the
/// punctuation after the phrase aside).
pub(crate) fn is_processing_message(message: &str) -> bool {
    const PHRASE: &str = "request is processing";
    let message = message.trim_start();
    message.len() >= PHRASE.len()
        && message.is_char_boundary(PHRASE.len())
        && message[..PHRASE.len()].eq_ignore_ascii_case(PHRASE)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod size {
    /// Small enough for callers' `Result<_, Error>` to pass clippy's
    /// `result_large_err` (128 bytes).
    #[test]
    fn an_error_is_at_most_128_bytes() {
        assert!(
            std::mem::size_of::<super::Error>() <= 128,
            "{}",
            std::mem::size_of::<super::Error>()
        );
    }
}
