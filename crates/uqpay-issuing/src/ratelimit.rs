//! UQPay's rate limits, kept by the client: [`RateLimit`]; the in-process
//! limiter ([`local`]) that makes calls wait for a slot instead of
//! provoking a 429. The fleet's limiter, which keeps one limit for several
//! replicas in Redis, lives with the Redis token store
//! (`auth::redis::fleet`): it takes its slot in the same round trip as the
//! token read.
//!
//! # The algorithm: a sliding window log, with reservations
//!
//! UQPay counts calls per minute per account and allows bursts inside the
//! minute. The limiter keeps the start times of the last `n` calls it let
//! through; a call may start when fewer than `n` started in the last window,
//! else when the oldest of those leaves the window. So no window of that
//! length, aligned anywhere (UQPay's fixed minutes included), ever holds
//! more than `n` calls, and a burst of `n` goes at once. A waiting call
//! reserves its start time, so waiters go in order without waking each
//! other. The reservation is a [`Booking`]: a call that is cancelled while
//! it waits (its future dropped: a caller's timeout, `tokio::select!`, a
//! client that went away) gives its start time back, so the calls that
//! never went out hold no slot. The window the client keeps is the limit's plus a margin (a
//! fiftieth of it, at least 20 ms, at most 2 s) for the time requests take
//! to reach UQPay, which varies.
//!
//! # After a 429 anyway
//!
//! Another system on the same account can still make UQPay answer 429. The
//! limiter then lowers the calls it lets through per window to 70 % (at
//! most once every tenth of a window, so that a burst of 429s counts once),
//! and recovers linearly to the whole limit over one window without 429s:
//! additive increase, multiplicative decrease, as the AWS SDK's adaptive
//! mode paces sends after throttling.

use std::time::Duration;

/// A rate limit: at most `requests` calls per window of `per`, bursts
/// inside the window allowed (as UQPay allows them). Windows are kept
/// between 1 ms and [`RateLimit::MAX_WINDOW`] (one day).
///
/// ```
/// use std::time::Duration;
/// use uqpay_issuing::{Client, RateLimit};
///
/// let client = Client::builder()
///     .token("...")
///     .rate_limit(RateLimit::production())   // 300 card calls a minute
///     .build()
///     .unwrap();
/// assert_eq!(RateLimit::per_minute(300), RateLimit::production());
/// assert_eq!(RateLimit::new(5, Duration::from_secs(1)).requests(), 5);
/// # let _ = client;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    requests: u32,
    per: Duration,
}

impl RateLimit {
    /// The longest window a limit keeps: one day. UQPay's limits are per
    /// minute; a longer window given to [`RateLimit::new`] is cut to this.
    pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

    /// At most `requests` calls per `per` (at least 1 call, a window of
    /// 1 ms to [`RateLimit::MAX_WINDOW`]).
    pub fn new(requests: u32, per: Duration) -> Self {
        Self {
            requests: requests.max(1),
            per: per.clamp(Duration::from_millis(1), Self::MAX_WINDOW),
        }
    }

    /// At most `requests` calls a minute.
    pub fn per_minute(requests: u32) -> Self {
        Self::new(requests, Duration::from_secs(60))
    }

    /// UQPay's production limit of the authenticated endpoints (the card
    /// calls): 300 a minute per account (its v1.6 rate-limiting guide).
    pub fn production() -> Self {
        Self::per_minute(300)
    }

    /// UQPay's sandbox limit of the authenticated endpoints: 500 a minute.
    pub fn sandbox() -> Self {
        Self::per_minute(500)
    }

    /// UQPay's production limit of the token endpoint: 100 a minute.
    pub fn production_token_endpoint() -> Self {
        Self::per_minute(100)
    }

    /// UQPay's sandbox limit of the token endpoint: 60 a minute.
    pub fn sandbox_token_endpoint() -> Self {
        Self::per_minute(60)
    }

    /// The calls allowed per window.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// The window.
    pub fn per(&self) -> Duration {
        self.per
    }

    /// The window the client keeps: the limit's, plus a margin for the
    /// time requests take to reach the server (a fiftieth, 20 ms to 2 s).
    pub(crate) fn kept_window(&self) -> Duration {
        let margin = (self.per / 50).clamp(Duration::from_millis(20), Duration::from_secs(2));
        self.per.saturating_add(margin)
    }

    /// This limit shared by `replicas` (at least one call per window each).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn share(&self, replicas: u32) -> Self {
        Self::new(self.requests / replicas.max(1), self.per)
    }
}

pub(crate) mod local;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_windows() {
        assert_eq!(RateLimit::production(), RateLimit::per_minute(300));
        assert_eq!(RateLimit::sandbox().requests(), 500);
        assert_eq!(RateLimit::production_token_endpoint().requests(), 100);
        assert_eq!(RateLimit::sandbox_token_endpoint().requests(), 60);
        assert_eq!(
            RateLimit::production().kept_window(),
            Duration::from_millis(61_200)
        );
        assert_eq!(
            RateLimit::new(10, Duration::from_millis(100)).kept_window(),
            Duration::from_millis(120)
        );
        assert_eq!(RateLimit::new(0, Duration::ZERO).requests(), 1);
        assert_eq!(RateLimit::production().share(8).requests(), 37);
        assert_eq!(
            RateLimit::new(3, Duration::from_secs(1))
                .share(8)
                .requests(),
            1
        );
    }
}
