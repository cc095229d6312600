//! The SDK's side of the generated client's `exec` hook: every request the
//! generated code builds goes through [`SdkTransport::execute`], which
//!
//! - puts the `x-auth-token` on it (and marks credentials sensitive);
//! - sends it, and resends the very same request (same bytes, same
//!   `x-idempotency-key`) on network errors, timeouts, 408, 429, 5xx and the
//!   API's "request is processing" answer, with backoff or `Retry-After`;
//! - on a 401, when the client fetches its own tokens, refreshes the token
//!   once and resends once;
//! - makes every error answer parse as UQPay's error body, so that the
//!   generated code keeps its status.
//!
//! Retrying the built `reqwest::Request` (a cheap clone: the body is shared
//! bytes) rather than rebuilding it means a retry cannot differ from the
//! first attempt by a single byte, and costs no copy of the typed body.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use progenitor_client::OperationInfo;
use reqwest::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use uqpay_issuing_raw::hooks::{Transport, TransportFuture};
use uqpay_issuing_raw::types::ApiError;

use crate::auth::Auth;
use crate::client::ClientInner;
use crate::error::is_processing_message;
use crate::redact;
use crate::retry::{retry_after, RetryPolicy};

/// The operation that fetches tokens: it carries `x-client-id` /
/// `x-api-key` instead of `x-auth-token`.
pub(crate) const TOKEN_OPERATION: &str = "create_access_token";

/// Set on the final response when it took more than one attempt.
pub(crate) static ATTEMPTS: HeaderName = HeaderName::from_static("x-uqpay-sdk-attempts");

static AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");
static API_KEY: HeaderName = HeaderName::from_static("x-api-key");
static API_VERSION: HeaderName = HeaderName::from_static("api-version");

#[derive(Debug)]
pub(crate) struct SdkTransport {
    pub(crate) auth: Arc<Auth>,
    pub(crate) policy: RetryPolicy,
    /// The client this transport belongs to (to fetch tokens with).
    pub(crate) client: Weak<ClientInner>,
}

/// What one attempt came to.
enum Outcome {
    /// Done: hand it to the generated code.
    Final(reqwest::Response),
    /// Worth sending again, after `wait` (or the backoff).
    Retry {
        failed: Failed,
        wait: Option<Duration>,
        summary: String,
    },
    /// The token was refused.
    Unauthorized(reqwest::Response),
}

/// A retryable failure: an answer (429, 5xx, ...) or no answer at all.
enum Failed {
    Answer(reqwest::Response),
    Network(reqwest::Error),
}

impl Failed {
    /// What the generated code gets when no retry follows.
    fn into_result(self, attempts: u32) -> reqwest::Result<reqwest::Response> {
        match self {
            Failed::Answer(response) => Ok(mark(response, attempts)),
            Failed::Network(error) => Err(error),
        }
    }
}

impl Transport for SdkTransport {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut request: reqwest::Request,
        info: &'a OperationInfo,
    ) -> TransportFuture<'a> {
        let token_operation = info.operation_id == TOKEN_OPERATION;
        let headers = request.headers_mut();
        // progenitor adds the spec's version as `api-version`; UQPay does not
        // document such a header, so it is not sent.
        headers.remove(&API_VERSION);
        if token_operation {
            if let Some(key) = headers.get_mut(&API_KEY) {
                key.set_sensitive(true);
            }
        } else if let Some(token) = self.auth.current() {
            headers.insert(AUTH_TOKEN.clone(), token);
        }
        Box::pin(self.send(client, request, token_operation))
    }
}

impl SdkTransport {
    async fn send(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
        token_operation: bool,
    ) -> reqwest::Result<reqwest::Response> {
        let may_resend =
            self.policy.max_retries > 0 || (!token_operation && self.auth.can_refresh());
        let mut attempts: u32 = 0;
        let mut refreshed = false;
        loop {
            attempts += 1;
            // A copy for the next attempt (the body bytes are shared); none
            // when no attempt can follow, or for a streaming body.
            let next = if may_resend {
                request.try_clone()
            } else {
                None
            };
            let started = Instant::now();
            let outcome = self.attempt(client.execute(request).await).await;
            let latency_ms = started.elapsed().as_millis() as u64;
            let retries_used = attempts - u32::from(refreshed);
            let (failed, wait, summary) = match outcome {
                Outcome::Final(response) => return Ok(mark(response, attempts)),
                Outcome::Unauthorized(response) => {
                    let can_refresh =
                        !token_operation && !refreshed && self.auth.can_refresh() && next.is_some();
                    let refused = next
                        .as_ref()
                        .and_then(|r| r.headers().get(&AUTH_TOKEN).cloned());
                    if !can_refresh || !self.refresh_token(refused).await {
                        return Ok(mark(response, attempts));
                    }
                    refreshed = true;
                    tracing::info!(
                        attempt = attempts,
                        latency_ms,
                        "token refused, refreshing it once"
                    );
                    let mut again = next.expect("checked above");
                    if let Some(token) = self.auth.current() {
                        again.headers_mut().insert(AUTH_TOKEN.clone(), token);
                    }
                    request = again;
                    continue;
                }
                Outcome::Retry {
                    failed,
                    wait,
                    summary,
                } => (failed, wait, summary),
            };
            let Some(next) = next.filter(|_| retries_used <= self.policy.max_retries) else {
                tracing::debug!(attempt = attempts, latency_ms, error = %summary, "giving up");
                return failed.into_result(attempts);
            };
            if let Some(asked) = wait.filter(|w| *w > self.policy.max_retry_after) {
                tracing::warn!(
                    ?asked,
                    "Retry-After is longer than the client waits; giving up"
                );
                return failed.into_result(attempts);
            }
            let delay = self.policy.delay(retries_used, wait);
            tracing::info!(
                attempt = attempts,
                latency_ms,
                error = %summary,
                ?delay,
                "attempt failed, retrying with the same idempotency key"
            );
            drop(failed);
            tokio::time::sleep(delay).await;
            request = next;
        }
    }

    /// Sorts one attempt's result into final, retryable or unauthorized.
    async fn attempt(&self, result: reqwest::Result<reqwest::Response>) -> Outcome {
        let network = |error: reqwest::Error| {
            let summary = self.auth.with_secrets(|secrets| {
                redact::scrub(&crate::retry::network_message(&error), secrets)
            });
            Outcome::Retry {
                failed: Failed::Network(error),
                wait: None,
                summary,
            }
        };
        let response = match result {
            Ok(response) => response,
            Err(error) => return network(error),
        };
        let status = response.status();
        if !(status.is_client_error() || status.is_server_error()) {
            return Outcome::Final(response);
        }
        let wait = retry_after(response.headers());
        let (response, body) = match normalize_error(response, &self.auth).await {
            Ok(normalized) => normalized,
            // The answer broke off while its body was read.
            Err(error) => return network(error),
        };
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Outcome::Unauthorized(response);
        }
        let message = body.message.as_deref().unwrap_or_default();
        // UQPay's "request is processing": a 400 in the legacy envelope.
        let processing =
            status.as_u16() == 400 && body.type_.is_none() && is_processing_message(message);
        let retryable = matches!(status.as_u16(), 408 | 429 | 500..=599) || processing;
        if !retryable {
            return Outcome::Final(response);
        }
        let summary = format!(
            "HTTP {} {}: {message}",
            status.as_u16(),
            body.type_.as_deref().unwrap_or_default()
        );
        Outcome::Retry {
            failed: Failed::Answer(response),
            wait,
            summary,
        }
    }

    /// Forgets the refused token (unless another call already replaced it)
    /// and makes sure there is a fresh one; false if that failed.
    async fn refresh_token(&self, refused: Option<HeaderValue>) -> bool {
        let Some(client) = self.client.upgrade() else {
            return false;
        };
        if let Some(refused) = refused {
            self.auth.invalidate(&refused);
        }
        match self.auth.ensure(&client.raw).await {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(%error, "could not refresh the token");
                false
            }
        }
    }
}

/// Notes on `response` how many attempts it took (read by the call's error).
fn mark(mut response: reqwest::Response, attempts: u32) -> reqwest::Response {
    if attempts > 1 {
        response
            .headers_mut()
            .insert(ATTEMPTS.clone(), HeaderValue::from(attempts));
    }
    response
}

/// Error answers must parse as [`ApiError`] so that the generated code keeps
/// their status: a body that does not (an HTML page from a proxy, an empty
/// 502) is replaced by `{"message": <the body, redacted>}`. Returns the
/// rebuilt response and the parsed body.
async fn normalize_error(
    response: reqwest::Response,
    auth: &Auth,
) -> reqwest::Result<(reqwest::Response, ApiError)> {
    let status = response.status();
    let version = response.version();
    let mut headers = response.headers().clone();
    let body = response.bytes().await?;
    let (body, parsed) = match serde_json::from_slice::<ApiError>(&body) {
        Ok(parsed) => (body, parsed),
        Err(_) => {
            let text = String::from_utf8_lossy(&body);
            let message = if text.trim().is_empty() {
                format!("HTTP {status} with an empty body")
            } else {
                auth.with_secrets(|secrets| redact::scrub(&text, secrets))
            };
            let replacement = ApiError {
                message: Some(message),
                ..ApiError::default()
            };
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            let bytes = serde_json::to_vec(&replacement).expect("ApiError serialises");
            (Bytes::from(bytes), replacement)
        }
    };
    headers.remove(CONTENT_LENGTH);
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok((reqwest::Response::from(rebuilt), parsed))
}
