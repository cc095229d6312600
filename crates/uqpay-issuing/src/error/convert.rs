//! How the generated client's errors become the SDK's [`Error`]: UQPay's
//! error bodies (typed, legacy flat, the gateway's), transport failures,
//! and the `Retry-After` an answer carries.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use progenitor_client::ResponseValue;
use reqwest::header::HeaderMap;
use uqpay_issuing_raw::types::{ApiError, ErrorCode};

use crate::error::{Error, ErrorKind};
use crate::redact;

/// Turns an error of the generated client into the SDK's (one attempt:
/// `attempts` 1, no key; the call adds both). Every text kept is scrubbed
/// of `secrets` (tokens, the API key) and of card numbers.
pub(crate) fn from_raw(error: progenitor_client::Error<ApiError>, secrets: &[&str]) -> Error {
    use progenitor_client::Error as Raw;
    match error {
        Raw::ErrorResponse(response) => from_error_response(response, secrets),
        Raw::CommunicationError(e) | Raw::ResponseBodyError(e) | Raw::InvalidUpgrade(e) => {
            network(e, secrets)
        }
        // Error answers always parse (the transport makes sure of it), so
        // this is a 200 whose body does not match the spec.
        Raw::InvalidResponsePayload(bytes, e) => Error::Decode {
            status: 200,
            message: redact::scrub(&e.to_string(), secrets),
            body: redact::scrub(&String::from_utf8_lossy(&bytes), secrets),
            attempts: 1,
            idempotency_key: None,
        },
        Raw::UnexpectedResponse(response) => {
            let status = response.status().as_u16();
            let message = if response.status().is_redirection() {
                format!("HTTP {status}: redirects are not followed")
            } else {
                format!("unexpected HTTP {status}")
            };
            Error::Api {
                status,
                kind: ErrorKind::from_type_or_status(None, status),
                typed: false,
                code: None,
                message,
                missing_fields: Box::default(),
                retry_after: None,
                attempts: 1,
                idempotency_key: None,
            }
        }
        Raw::InvalidRequest(reason) | Raw::Custom(reason) => {
            Error::validation("request", redact::scrub(&reason, secrets))
        }
    }
}

fn from_error_response(response: ResponseValue<ApiError>, secrets: &[&str]) -> Error {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = response.into_inner();
    let message = body
        .message
        .or(body.error)
        .map(|m| redact::scrub(&m, secrets))
        .unwrap_or_default();
    if status == 407 {
        // Not UQPay's answer: the proxy's, refusing its credentials. Fixed
        // in the configuration, never by sending again.
        return Error::Config(format!(
            "the HTTP proxy answered 407 Proxy Authentication Required: check the proxy \
             and its credentials given to configure_http ({message})"
        ));
    }
    if status == 401 {
        return Error::Unauthorized {
            message,
            attempts: 1,
            idempotency_key: None,
        };
    }
    Error::Api {
        status,
        kind: ErrorKind::from_type_or_status(body.type_.as_deref(), status),
        typed: body.type_.is_some(),
        code: body.code.map(|code| match code {
            ErrorCode::Text(text) => redact::scrub(&text, secrets).into(),
            ErrorCode::Number(number) => number.to_string().into(),
        }),
        message,
        missing_fields: body.missing_fields.into(),
        retry_after,
        attempts: 1,
        idempotency_key: None,
    }
}

/// A transport error as [`Error::Timeout`] or [`Error::Network`].
pub(crate) fn network(error: reqwest::Error, secrets: &[&str]) -> Error {
    // The URL holds no secret, but the message reads better without it.
    let error = error.without_url();
    if error.is_timeout() {
        return Error::Timeout {
            idempotency_key: None,
        };
    }
    let message = network_message(&error);
    // hyper-util's tunnel error for a CONNECT answered 407.
    if message.contains("proxy authorization required") {
        return Error::Config(
            "the HTTPS proxy refused the tunnel with 407 Proxy Authentication Required: \
             check the proxy and its credentials given to configure_http"
                .into(),
        );
    }
    Error::Network {
        message: redact::scrub(&message, secrets),
        idempotency_key: None,
        source: Some(Arc::new(error)),
    }
}

/// reqwest's message plus its causes (which say what actually broke).
fn network_message(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
/// Parses `Retry-After`: whole seconds, or an HTTP date (a date in the past
/// is no wait). A number of seconds too large to represent is the longest
/// wait there is (so the call gives up rather than retrying at once); a
/// value that is neither is ignored.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // Too large to parse: the longest wait, which no client accepts.
        headers.insert("retry-after", "99999999999999999999999".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::MAX));
        assert!(matches!(
            crate::retry::policy::RetryPolicy::default().next(1, retry_after(&headers)),
            crate::retry::policy::Next::RetryAfterTooLong(_)
        ));
    }
}
