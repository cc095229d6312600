//! The options of a call and how they layer: the client's defaults
//! ([`Defaults`], set on the [`ClientBuilder`](crate::ClientBuilder)) and
//! what one call overrides ([`Overrides`], set on its request builder).
//!
//! Every call takes its settings from the client ([`ClientBuilder`](crate::ClientBuilder)) unless
//! its request builder overrides them; a call's value wins over the client's
//! for each setting it sets.
//!
//! | setting | `ClientBuilder` (default) | per call (every request builder) | what it bounds |
//! | --- | --- | --- | --- |
//! | attempt timeout | `.timeout(d)` (30 s) | `.timeout(d)` | each attempt: the wait for a token, then the request to the last byte of the answer |
//! | deadline | `.deadline(d)` (none) | `.deadline(d)` | the whole call: attempts, backoff, token waits, rate-limit waits; no attempt starts and no backoff sleeps past it, a running attempt is cut at it |
//! | retries | `.max_retries(n)` (2) | `.max_retries(n)` | retries after a retryable failure; `0` sends one attempt (plus one after a refused token, when the client mints its own tokens) |
//! | account | `.on_behalf_of(id)` (none: the header is left out) | `.on_behalf_of(id)` | `x-on-behalf-of`; checked by `build()` for the client's, by `send()` for a call's |
//! | idempotency key | (a new UUID v4 per call) | `.idempotency_key(uuid)` (card changes only, not `retrieve_card`, a read) | the key every attempt of the call carries |
//! | backoff | `.retry_backoff(base, cap)` (500 ms, 30 s), `.retry_jitter(d)` (1 s) | | before retry `n`: `base * 2^(n-1)` capped at `cap`, plus a random delay below the jitter; saturating arithmetic |
//! | `Retry-After` | `.max_retry_after(d)` (60 s) | | the longest `Retry-After` (seconds or HTTP date) waited for instead of the backoff; a longer one, or one too large to read, ends the call with the error; one that is neither a number nor a date is ignored |
//! | retry budget | `.retry_budget(b)` ([`RetryBudget::default`](crate::RetryBudget::default): 500 tokens, 5 a retry, 10 after a timeout, +1 a first-attempt success) | | retries across the client and its clones |
//! | rate limit | `.rate_limit(l)` (off) | | slots for every attempt; the fleet's with a `RedisTokenStore` |
//! | token endpoint rate limit | `.token_rate_limit(l)` (off) | | mints, each waiting at most the client's timeout |
//! | connect timeout | `.connect_timeout(d)` (the attempt timeout, at most 10 s) | | establishing a connection |
//!
//! How they layer:
//!
//! - An attempt's limit is the smaller of the attempt timeout and what is left
//!   of the deadline; the wait for a token counts against it. The wait for a
//!   rate-limit slot does not: it is bounded by the deadline only (a bulk
//!   job's calls may queue longer than one attempt's timeout), and a slot
//!   further away than the deadline fails the call at once with
//!   [`Error::RateLimitTimeout`](crate::Error::RateLimitTimeout).
//! - A token mint is bounded by the client's timeout, whatever the call's.
//! - A timeout set in [`ClientBuilder::configure_http`](crate::ClientBuilder::configure_http) bounds every request
//!   as reqwest applies it, and the call's own limit bounds each attempt
//!   beside it: the smaller of the two ends the attempt (removing the timeout
//!   there removes only reqwest's).
//! - A call with `.deadline(d)` ends by `d` (the tests allow 500 ms of
//!   scheduling slack, with a hanging server, a slow token endpoint and an
//!   HTTP client without any timeout).
//!
//! Typical: a checkout path `.timeout(Duration::from_secs(2)).max_retries(0)`,
//! a back-office batch `.timeout(Duration::from_secs(60)).max_retries(5)`.

use std::time::Duration;

use crate::retry::policy::RetryPolicy;

/// The client's settings for every call.
#[derive(Clone, Debug)]
pub(crate) struct Defaults {
    pub(crate) policy: RetryPolicy,
    /// The time limit of one attempt (the HTTP client's own timeout).
    pub(crate) timeout: Duration,
    /// The time limit of a whole call (retries and waits included).
    pub(crate) deadline: Option<Duration>,
    /// The default `x-on-behalf-of`.
    pub(crate) on_behalf_of: Option<uqpay_issuing_raw::types::AccountId>,
}

/// What one call overrides (set on its builder).
#[derive(Clone, Debug, Default)]
pub(crate) struct Overrides {
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_retries: Option<u32>,
    pub(crate) deadline: Option<Duration>,
}
