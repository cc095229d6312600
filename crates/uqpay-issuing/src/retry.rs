//! Retries: the policy (which failures, how long to wait), and one logical
//! call (one idempotency key) from the builder to a typed result. The
//! resending itself happens in the transport, on the built request.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use progenitor_client::ResponseValue;
use rand::Rng as _;
use reqwest::header::HeaderMap;
use tracing::Instrument as _;
use uqpay_issuing_raw::types::{ApiError, ErrorCode};
use uuid::Uuid;

use crate::error::ErrorKind;
use crate::{redact, Client, Error};

/// How a client retries (see [`ClientBuilder`](crate::ClientBuilder)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
    pub(crate) jitter: Duration,
    pub(crate) max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            jitter: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): `base * 2^(retry-1)`
    /// capped at `cap`, plus up to `jitter`; or what `Retry-After` asked for.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(asked) = retry_after {
            return asked;
        }
        let exponential = self
            .base
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
            .min(self.cap);
        let jitter = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..self.jitter)
        };
        exponential + jitter
    }
}

/// Parses `Retry-After`: whole seconds, or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Turns the generated client's error into the SDK's, with the number of
/// attempts the transport made (1 when it did not say).
pub(crate) fn classify(
    error: progenitor_client::Error<ApiError>,
    key: Option<Uuid>,
    secrets: &[&str],
) -> (Error, u32) {
    use progenitor_client::Error as Raw;
    let plain = |error| (error, 1);
    match error {
        Raw::ErrorResponse(response) => {
            let status = response.status().as_u16();
            let attempts = attempts_of_response(response.headers());
            let body = response.into_inner();
            let message = body
                .message
                .or(body.error)
                .map(|m| redact::scrub(&m, secrets))
                .unwrap_or_default();
            let error = if status == 401 {
                Error::Unauthorized {
                    message,
                    idempotency_key: key,
                }
            } else {
                Error::Api {
                    status,
                    kind: ErrorKind::from_type_or_status(body.type_.as_deref(), status),
                    typed: body.type_.is_some(),
                    code: body.code.map(|code| match code {
                        ErrorCode::Text(text) => text,
                        ErrorCode::Number(number) => number.to_string(),
                    }),
                    message,
                    missing_fields: body.missing_fields,
                    idempotency_key: key,
                }
            };
            (error, attempts)
        }
        Raw::CommunicationError(e) | Raw::ResponseBodyError(e) | Raw::InvalidUpgrade(e) => {
            // The URL holds no secret, but the message reads better without it.
            let e = e.without_url();
            plain(if e.is_timeout() {
                Error::Timeout {
                    idempotency_key: key,
                }
            } else {
                Error::Network {
                    message: redact::scrub(&network_message(&e), secrets),
                    idempotency_key: key,
                    source: Some(Box::new(e)),
                }
            })
        }
        // Error answers always parse (the transport makes sure of it), so
        // this is a 200 whose body does not match the spec.
        Raw::InvalidResponsePayload(bytes, e) => plain(Error::Decode {
            status: 200,
            message: redact::scrub(&e.to_string(), secrets),
            body: redact::scrub(&String::from_utf8_lossy(&bytes), secrets),
            idempotency_key: key,
        }),
        Raw::UnexpectedResponse(response) => {
            let status = response.status().as_u16();
            let attempts = attempts_of_response(response.headers());
            let message = if response.status().is_redirection() {
                format!("HTTP {status}: redirects are not followed")
            } else {
                format!("unexpected HTTP {status}")
            };
            let error = Error::Api {
                status,
                kind: ErrorKind::from_type_or_status(None, status),
                typed: false,
                code: None,
                message,
                missing_fields: Vec::new(),
                idempotency_key: key,
            };
            (error, attempts)
        }
        Raw::InvalidRequest(reason) | Raw::Custom(reason) => plain(Error::validation(
            "request",
            redact::scrub(&reason, secrets),
        )),
    }
}

/// reqwest's message plus its causes (which say what actually broke).
pub(crate) fn network_message(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// One logical call: makes sure there is a token, sends the request built
/// by `call` (the transport resends it as the policy allows), and turns the
/// outcome into a typed result.
pub(crate) async fn send<T, F, Fut>(
    client: &Client,
    operation: &'static str,
    key: Uuid,
    call: F,
) -> Result<T, Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<ApiError>>>,
{
    let inner = &client.inner;
    let span = tracing::info_span!(
        "uqpay.call",
        operation,
        idempotency_key = %key,
        status = tracing::field::Empty,
        attempts = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    async {
        let started = Instant::now();
        inner.auth.ensure(&inner.raw).await?;
        // Boxed: the generated future is large, and keeping it out of line
        // keeps the call's own future small.
        let result = Box::pin(call()).await;
        let span = tracing::Span::current();
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        let error = match result {
            Ok(response) => {
                span.record("status", response.status().as_u16());
                span.record("attempts", attempts_of_response(response.headers()));
                return Ok(response.into_inner());
            }
            Err(error) => error,
        };
        let network = matches!(
            error,
            progenitor_client::Error::CommunicationError(_)
                | progenitor_client::Error::ResponseBodyError(_)
        );
        let (error, attempts) = inner
            .auth
            .with_secrets(|secrets| classify(error, Some(key), secrets));
        // The transport only gives up on a network error once every retry
        // was used.
        let attempts = if network {
            inner.retry.max_retries + 1
        } else {
            attempts
        };
        span.record("attempts", attempts);
        if let Some(status) = error.status() {
            span.record("status", status);
        }
        tracing::debug!(attempts, error = %error, "call failed");
        Err(give_up(error, attempts, key))
    }
    .instrument(span)
    .await
}

fn attempts_of_response(headers: &HeaderMap) -> u32 {
    headers
        .get(&crate::transport::ATTEMPTS)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(1)
}

/// The error to return: a retryable failure after retries wraps into
/// [`Error::RetriesExhausted`] (attempt count and key visible).
fn give_up(error: Error, attempts: u32, key: Uuid) -> Error {
    if error.is_retryable() && attempts > 1 {
        Error::RetriesExhausted {
            attempts,
            idempotency_key: key,
            last: Box::new(error),
        }
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            jitter: Duration::ZERO,
            ..RetryPolicy::default()
        };
        let delays: Vec<u64> = (1..=8)
            .map(|n| policy.delay(n, None).as_millis() as u64)
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        let jittery = RetryPolicy::default();
        for n in 1..5 {
            let d = jittery.delay(n, None);
            let floor = Duration::from_millis(500 * 2u64.pow(n - 1));
            assert!(d >= floor && d < floor + Duration::from_secs(1), "{d:?}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        let later = SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            "retry-after",
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let parsed = retry_after(&headers).unwrap();
        assert!(parsed > Duration::from_secs(100) && parsed <= Duration::from_secs(120));
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
