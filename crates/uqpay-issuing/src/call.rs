//! One logical call: the only retry loop of the SDK.
//!
//! For each attempt the call takes a token from the [`Auth`] (the store's
//! live one, or a new one after a 401), hands it and the attempt's time
//! limit to the transport ([`ATTEMPT`]), sends the request the operation
//! builds (with the same idempotency key every time), and turns the answer
//! into a typed result or an [`Error`]. A retryable error ([`Error::is_retryable`])
//! is retried after the policy's backoff or `Retry-After`, within the
//! call's retry budget and deadline; a 401 gets one new token and one more
//! attempt (not counted as a retry) when the client mints its own tokens.
//! Attempts and timing are counted here, where they happen.

use std::future::Future;
use std::time::{Duration, Instant};

use progenitor_client::ResponseValue;
use tracing::Instrument as _;
use uqpay_issuing_raw::types::ApiError;
use uuid::Uuid;

#[cfg(feature = "redis")]
use crate::auth::redis::fleet::FleetLimiter;
use crate::auth::token::AccessToken;
use crate::auth::Auth;
use crate::error::convert::from_raw;
use crate::error::Error;
use crate::options::{Defaults, Overrides};
use crate::ratelimit::local::LocalLimiter;
use crate::retry::budget::RetryBudget;
use crate::retry::policy::Next;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::{self, Server};
use crate::transport::{Attempt, ATTEMPT};

/// Everything a call needs from its client. Builders hold it in an `Arc`.
#[derive(Debug)]
pub(crate) struct Handle {
    pub(crate) raw: uqpay_issuing_raw::Client,
    pub(crate) auth: std::sync::Arc<Auth>,
    pub(crate) defaults: Defaults,
    pub(crate) base_url: String,
    /// Caps the retries of all the client's calls.
    pub(crate) budget: RetryBudget,
    /// Keeps UQPay's rate limit, if the client was given one.
    pub(crate) limiter: Option<Limiter>,
    /// `server.address` / `server.port` of the base URL, for telemetry.
    pub(crate) server: Server,
    /// The metrics (feature `opentelemetry`; nothing otherwise).
    pub(crate) metrics: Metrics,
    /// The HTTP client was configured by the caller (`configure_http`): its
    /// own timeout stays on every request, and each attempt is bounded by a
    /// timer of the call's beside it (the smaller ends the attempt).
    pub(crate) own_timer: bool,
}

/// Where a call gets its slot of the rate limit.
#[derive(Debug)]
pub(crate) enum Limiter {
    /// In this process.
    Local(LocalLimiter),
    /// For the whole fleet, in the Redis of its token store (taken in the
    /// same round trip as the token read).
    #[cfg(feature = "redis")]
    Fleet(FleetLimiter),
}

impl Limiter {
    /// Waits for a slot, at most `within` (the time left before the
    /// deadline; a longer wait fails at once with
    /// [`Error::RateLimitTimeout`]). The fleet's limiter may bring back the
    /// token to send (read in the same round trip), other than `refused`.
    #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
    async fn acquire(
        &self,
        auth: &Auth,
        refused: Option<&AccessToken>,
        within: Option<Duration>,
        metrics: &Metrics,
    ) -> Result<Option<AccessToken>, Error> {
        let started = Instant::now();
        let acquired = match self {
            Limiter::Local(local) => local.wait(within).await.map(|()| None),
            #[cfg(feature = "redis")]
            Limiter::Fleet(fleet) => fleet.acquire(auth.minter(), refused, within).await,
        };
        // A wait (the fast path takes microseconds).
        let waited = started.elapsed();
        if waited >= Duration::from_millis(1) {
            metrics.rate_limit_wait(waited);
        }
        acquired
    }

    /// A 429 came anyway (another system on the account): slow down.
    fn throttled(&self) {
        let lowered = match self {
            Limiter::Local(local) => local.throttled(Instant::now()),
            #[cfg(feature = "redis")]
            Limiter::Fleet(fleet) => fleet.throttled(),
        };
        if lowered {
            tracing::info!("UQPay answered 429 despite the rate limit; slowing down for a while");
        }
    }
}

/// A call about to run: its operation, key and settings.
pub(crate) struct Call<'a> {
    pub(crate) handle: &'a Handle,
    pub(crate) operation: &'static str,
    /// The idempotency key every attempt carries (`None` for a read).
    pub(crate) key: Option<Uuid>,
    pub(crate) overrides: &'a Overrides,
}

impl<'a> Call<'a> {
    /// Runs the call: `attempt` builds and sends one request with the
    /// handle's raw client (it is called again, identically, for each retry).
    ///
    /// The call's span is the explicit parent of what the call logs and of
    /// its attempt spans, rather than wrapping the whole loop in an
    /// `Instrumented` future: one future layer less to build, move and poll
    /// through on every wakeup, on the path of every call.
    ///
    /// Not an `async fn`: an `async fn` moves its arguments into locals of
    /// its future beside the captured ones (the future carries both), where
    /// this block uses `self` and `attempt` where they were captured.
    #[allow(clippy::manual_async_fn)] // see above: the future is smaller
    pub(crate) fn run<T, F, Fut>(
        self,
        mut attempt: F,
    ) -> impl Future<Output = Result<T, Error>> + use<'a, T, F, Fut>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<ApiError>>>,
    {
        async move {
            let span = tracing::info_span!(
                "uqpay.call",
                operation = self.operation,
                idempotency_key = tracing::field::Empty,
                status = tracing::field::Empty,
                attempts = tracing::field::Empty,
                outcome = tracing::field::Empty,
                latency_ms = tracing::field::Empty,
            );
            if let Some(key) = self.key {
                span.record("idempotency_key", tracing::field::display(key));
            }
            let handle = self.handle;
            let defaults = &handle.defaults;
            let policy = &defaults.policy;
            let max_retries = self.overrides.max_retries.unwrap_or(policy.max_retries);
            let started = Instant::now();
            let deadline = self
                .overrides
                .deadline
                .or(defaults.deadline)
                .and_then(|d| started.checked_add(d));
            let mut attempts: u32 = 0;
            let mut retries: u32 = 0;
            let mut refused: Option<(AccessToken, String)> = None;
            let mut refreshed = false;
            // The retry budget's tokens this call's retries took.
            let mut taken: u32 = 0;
            // The time limit of each attempt (the token wait included): the
            // call's, or the client's, and never past the deadline. It is always
            // set on the request, whatever the HTTP client was configured with.
            let timeout = self.overrides.timeout.unwrap_or(defaults.timeout);
            let outcome = loop {
                // A slot of the rate limit, waited for within the deadline (not
                // the attempt's timeout: a bulk job's calls may queue longer).
                let mut prefetched = None;
                if let Some(limiter) = &handle.limiter {
                    let within = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    let refused_token = refused.as_ref().map(|(token, _)| token);
                    let wait = tracing::info_span!(parent: &span, "uqpay.rate_limit.wait");
                    // Boxed: a client with a rate limit pays for it; the
                    // others' calls keep a smaller future.
                    let acquired = Box::pin(
                        limiter
                            .acquire(&handle.auth, refused_token, within, &handle.metrics)
                            .instrument(wait),
                    )
                    .await;
                    match acquired {
                        Ok(token) => prefetched = token,
                        Err(error) => break Err(error),
                    }
                }
                attempts += 1;
                let limit = match deadline {
                    Some(deadline) => {
                        let remaining = deadline.saturating_duration_since(Instant::now());
                        if remaining.is_zero() {
                            break Err(Error::Timeout {
                                idempotency_key: self.key,
                            });
                        }
                        timeout.min(remaining)
                    }
                    None => timeout,
                };
                let result = self
                    .attempt(
                        &mut attempt,
                        limit,
                        refused.take(),
                        prefetched,
                        attempts - 1,
                        &span,
                    )
                    .await;
                let (error, token) = match result {
                    Ok(value) => break Ok(value),
                    Err(failed) => failed,
                };
                if error.is_rate_limited() {
                    if let Some(limiter) = &handle.limiter {
                        limiter.throttled();
                    }
                }
                // A refused token: one new token and one more attempt.
                if matches!(error, Error::Unauthorized { .. })
                    && handle.auth.can_refresh()
                    && !refreshed
                {
                    if let Some(token) = token {
                        tracing::info!(parent: &span, attempt = attempts, "token refused, getting another one");
                        handle.metrics.token_refused();
                        refreshed = true;
                        refused = Some((token, error.to_string()));
                        continue;
                    }
                }
                if !error.is_retryable() || retries >= max_retries {
                    break Err(error);
                }
                let wait = match policy.next(retries + 1, error.retry_after()) {
                    Next::RetryAfter(wait) => wait,
                    Next::RetryAfterTooLong(asked) => {
                        tracing::info!(
                            parent: &span,
                            asked_secs = asked.as_secs(),
                            "the API asks for a longer wait than the client accepts; giving up"
                        );
                        break Err(error);
                    }
                };
                if deadline
                    .is_some_and(|d| Instant::now().checked_add(wait).is_none_or(|at| at >= d))
                {
                    tracing::info!(
                        parent: &span,
                        "the call's deadline comes before the next attempt; giving up"
                    );
                    break Err(error);
                }
                let cost = handle.budget.cost_of(&error);
                if !handle.budget.try_take(cost) {
                    tracing::warn!(
                        parent: &span,
                        attempt = attempts,
                        error = %error,
                        "the retry budget is spent (the service is failing); not retrying"
                    );
                    handle.metrics.budget_refused(self.operation);
                    break Err(Error::RetryBudgetSpent {
                        attempts,
                        idempotency_key: self.key,
                        last: Box::new(error.with_call(attempts, self.key)),
                    });
                }
                taken += cost;
                retries += 1;
                handle.metrics.retry(self.operation, &error);
                tracing::info!(
                    parent: &span,
                    attempt = attempts,
                    error = %error,
                    delay_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "attempt failed, retrying with the same idempotency key"
                );
                // Boxed: only a retry pays for the timer's room in the future.
                Box::pin(tokio::time::sleep(wait)).await;
            };
            let took = started.elapsed();
            span.record("attempts", attempts);
            span.record(
                "latency_ms",
                u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            );
            match outcome {
                Ok(response) => {
                    handle.budget.succeeded(taken);
                    span.record("status", response.status().as_u16());
                    span.record("outcome", "ok");
                    handle.metrics.call(self.operation, Ok(()), took);
                    Ok(response.into_inner())
                }
                Err(error) => {
                    if let Some(status) = error.status() {
                        span.record("status", status);
                    }
                    tracing::debug!(parent: &span, attempts, error = %error, "call failed");
                    let error = give_up(error, attempts, self.key);
                    if !span.is_disabled() || handle.metrics.on() {
                        let outcome = telemetry::outcome(Err(&error));
                        span.record("outcome", tracing::field::display(&outcome));
                        handle.metrics.call(self.operation, Err(&error), took);
                    }
                    Err(error)
                }
            }
        }
    }

    /// One attempt within `limit`: a token (waited for within the limit),
    /// then the request with what is left of it, in a span (child of
    /// `call`) named as OpenTelemetry's HTTP client conventions name it
    /// (`POST /v1/issuing/cards/{id}`, kind client, their attributes);
    /// `resend` is how many attempts came before it. On failure, the error
    /// and the token the request carried.
    async fn attempt<T, F, Fut>(
        &self,
        attempt: &mut F,
        limit: Duration,
        refused: Option<(AccessToken, String)>,
        prefetched: Option<AccessToken>,
        resend: u32,
        call: &tracing::Span,
    ) -> Result<ResponseValue<T>, (Error, Option<AccessToken>)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<ResponseValue<T>, progenitor_client::Error<ApiError>>>,
    {
        let handle = self.handle;
        let route = telemetry::route(self.operation);
        let server = &handle.server;
        let span = tracing::info_span!(
            parent: call,
            "uqpay.attempt",
            otel.name = route.name,
            otel.kind = "client",
            http.request.method = route.method,
            server.address = server.address.as_str(),
            server.port = server.port,
            url.template = route.template,
            http.request.resend_count = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        if resend > 0 {
            span.record("http.request.resend_count", resend);
        }
        // After a 401 the store is asked for another token, not the current one.
        // A token the rate limiter read with its slot is fresh.
        let current = match prefetched {
            Some(token) => Some(token),
            None if refused.is_none() => handle.auth.current(),
            None => None,
        };
        let (token, timeout) = match current {
            Some(token) => (token, limit),
            // Out of line and boxed: the timer and the span are for the
            // calls that wait for a token, not part of every call's future.
            None => match Box::pin(self.wait_for_token(limit, refused, &span)).await {
                Ok(waited) => waited,
                Err(error) => {
                    fail(&span, &error);
                    return Err((error, None));
                }
            },
        };
        let context = Attempt {
            token: token.header().clone(),
            timeout,
        };
        let sent = handle.metrics.on().then(Instant::now);
        // Not boxed: the generated future (1.6 KB) in a box of its own per
        // attempt is a chunk beyond glibc's per-thread cache (1,032 B),
        // taken and given back through the allocator's slow path on every
        // call, which costs more than its room in the call's future
        // (callgrind, one at a time: 222.7k -> 220.6k cost units a call).
        // Built in the branch that awaits it, so that it is not moved again.
        let result = if handle.own_timer {
            // Out of line and boxed: only a configured HTTP client pays for
            // the timer.
            Box::pin(bounded(timeout, ATTEMPT.scope(context, attempt())).instrument(span.clone()))
                .await
        } else if span.is_disabled() {
            ATTEMPT
                .scope(context, attempt())
                .await
                .map_err(Bounded::Raw)
        } else {
            ATTEMPT
                .scope(context, attempt())
                .instrument(span.clone())
                .await
                .map_err(Bounded::Raw)
        };
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                span.record("http.response.status_code", status);
                if let Some(sent) = sent {
                    handle
                        .metrics
                        .attempt(&route, server, Some(status), None, sent.elapsed());
                }
                Ok(response)
            }
            Err(failed) => {
                let error = match failed {
                    Bounded::Raw(raw) => {
                        let api_key = handle.auth.api_key().unwrap_or_default();
                        from_raw(raw, &[token.expose(), api_key])
                    }
                    Bounded::TimedOut => Error::Timeout {
                        idempotency_key: None,
                    },
                };
                fail(&span, &error);
                if let Some(sent) = sent {
                    let status = error.status();
                    handle
                        .metrics
                        .attempt(&route, server, status, Some(&error), sent.elapsed());
                }
                Err((error, Some(token)))
            }
        }
    }

    /// Waits (within `limit`) for a token other than `refused`: the token
    /// and what is left of the limit.
    async fn wait_for_token(
        &self,
        limit: Duration,
        refused: Option<(AccessToken, String)>,
        attempt: &tracing::Span,
    ) -> Result<(AccessToken, Duration), Error> {
        let started = Instant::now();
        let wanted = self.handle.auth.token(refused.as_ref().map(|(t, _)| t));
        let waited = tokio::time::timeout(limit, wanted)
            .instrument(tracing::info_span!(parent: attempt, "uqpay.token.wait"))
            .await
            .unwrap_or(Err(Error::Timeout {
                idempotency_key: None,
            }));
        let left = limit.saturating_sub(started.elapsed());
        match waited {
            Ok(token) if !left.is_zero() => Ok((token, left)),
            Ok(_) => Err(Error::Timeout {
                idempotency_key: None,
            }),
            Err(cause) => Err(Error::Token {
                source: Box::new(cause),
                refused: refused.map(|(_, message)| message),
                attempts: 1,
                idempotency_key: None,
            }),
        }
    }
}

/// An attempt within `limit` by the call's own timer: a limit that passes
/// is the timeout reqwest would have reported.
async fn bounded<T>(
    limit: Duration,
    attempt: impl Future<Output = Result<ResponseValue<T>, progenitor_client::Error<ApiError>>>,
) -> Result<ResponseValue<T>, Bounded> {
    match tokio::time::timeout(limit, attempt).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(raw)) => Err(Bounded::Raw(raw)),
        Err(_) => Err(Bounded::TimedOut),
    }
}

/// How a bounded attempt failed. (As large as the generated client's error
/// it carries, as the unbounded attempt's result is: nothing to box.)
#[allow(clippy::large_enum_variant)]
enum Bounded {
    Raw(progenitor_client::Error<ApiError>),
    TimedOut,
}

/// Records a failed attempt on its span: the status (if an answer came),
/// `error.type` and the ERROR status.
fn fail(span: &tracing::Span, error: &Error) {
    if span.is_disabled() {
        return;
    }
    if let Some(status) = error.status() {
        span.record("http.response.status_code", status);
    }
    span.record(
        "error.type",
        tracing::field::display(telemetry::error_type(error)),
    );
    span.record("otel.status_code", "ERROR");
}

/// The error to return: a retryable failure after several attempts wraps
/// into [`Error::RetriesExhausted`] (attempts and key visible); any other
/// carries the call's attempt count and key.
fn give_up(error: Error, attempts: u32, key: Option<Uuid>) -> Error {
    if matches!(error, Error::RetryBudgetSpent { .. }) {
        return error;
    }
    if error.is_retryable() && attempts > 1 {
        Error::RetriesExhausted {
            attempts,
            idempotency_key: key,
            last: Box::new(error.with_call(attempts, key)),
        }
    } else {
        error.with_call(attempts, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable() -> Error {
        Error::Timeout {
            idempotency_key: None,
        }
    }

    #[test]
    fn a_retryable_failure_after_retries_is_wrapped_with_its_attempts_and_key() {
        let key = Uuid::new_v4();
        let error = give_up(unavailable(), 3, Some(key));
        match &error {
            Error::RetriesExhausted {
                attempts,
                idempotency_key,
                last,
            } => {
                assert_eq!((*attempts, *idempotency_key), (3, Some(key)));
                assert!(matches!(**last, Error::Timeout { .. }));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(error.attempts(), 3);
        assert_eq!(error.idempotency_key(), Some(key));
        assert!(error.is_retryable() && error.is_timeout());
    }

    #[test]
    fn a_single_attempt_or_a_final_error_is_returned_as_it_is() {
        let key = Uuid::new_v4();
        let once = give_up(unavailable(), 1, Some(key));
        assert!(matches!(once, Error::Timeout { .. }));
        assert_eq!(once.idempotency_key(), Some(key));
        let invalid = give_up(Error::validation("name_on_card", "too long"), 2, Some(key));
        assert!(matches!(invalid, Error::Validation { .. }));
        let spent = Error::RetryBudgetSpent {
            attempts: 4,
            idempotency_key: Some(key),
            last: Box::new(unavailable()),
        };
        assert!(matches!(
            give_up(spent, 4, Some(key)),
            Error::RetryBudgetSpent { attempts: 4, .. }
        ));
    }
}
