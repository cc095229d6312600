//! UQPay's rate limits, kept by the client: [`RateLimit`], and the
//! in-process limiter that makes calls wait for a slot instead of provoking
//! a 429.
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
//! other. The window the client keeps is the limit's plus a margin (a
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

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A rate limit: at most `requests` calls per window of `per`, bursts
/// inside the window allowed (as UQPay allows them).
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
    /// At most `requests` calls per `per` (at least 1 call per 1 ms).
    pub fn new(requests: u32, per: Duration) -> Self {
        Self {
            requests: requests.max(1),
            per: per.max(Duration::from_millis(1)),
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

/// The calls let through per window after 429s: lowered to 70 % at each
/// (counted once per tenth of a window), recovering linearly to the whole
/// limit over one window.
#[derive(Debug)]
pub(crate) struct Pacing {
    limit: u32,
    window: Duration,
    lowered: Option<(Instant, u32)>,
}

impl Pacing {
    pub(crate) fn new(limit: &RateLimit) -> Self {
        Self {
            limit: limit.requests,
            window: limit.kept_window(),
            lowered: None,
        }
    }

    /// The calls let through per window at `now`.
    pub(crate) fn cap(&self, now: Instant) -> u32 {
        let Some((at, to)) = self.lowered else {
            return self.limit;
        };
        let since = now.saturating_duration_since(at);
        if since >= self.window {
            return self.limit;
        }
        let regained = f64::from(self.limit - to) * since.as_secs_f64() / self.window.as_secs_f64();
        (to + regained as u32).min(self.limit)
    }

    /// A 429 came at `now`; whether the pace was lowered (false when it was
    /// lowered less than a tenth of a window ago).
    pub(crate) fn throttled(&mut self, now: Instant) -> bool {
        if let Some((at, _)) = self.lowered {
            if now.saturating_duration_since(at) < self.window / 10 {
                return false;
            }
        }
        let lowered = (self.cap(now) * 7 / 10).max(1);
        self.lowered = Some((now, lowered));
        true
    }
}

/// The in-process limiter: the start times of the last calls (some in the
/// future: reserved by calls waiting for them), oldest first.
#[derive(Debug)]
pub(crate) struct LocalLimiter {
    limit: RateLimit,
    state: Mutex<LocalState>,
}

#[derive(Debug)]
struct LocalState {
    starts: VecDeque<Instant>,
    pacing: Pacing,
}

impl LocalLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new(LocalState {
                starts: VecDeque::with_capacity(limit.requests.min(4096) as usize),
                pacing: Pacing::new(&limit),
            }),
        }
    }

    /// A limiter whose window is full at `now`, as if `limit.requests()`
    /// calls had just started: the first call waits a window. For a replica
    /// that takes over its share of a fleet's limit when Redis goes out of
    /// reach, without knowing what the fleet sent in the last window.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn full(limit: RateLimit, now: Instant) -> Self {
        let limiter = Self::new(limit);
        limiter
            .state()
            .starts
            .extend(std::iter::repeat_n(now, limit.requests as usize));
        limiter
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LocalState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves the next slot at `now`: how long to wait for it. When the
    /// wait would be longer than `within`, nothing is reserved and the wait
    /// is the error.
    pub(crate) fn reserve(
        &self,
        now: Instant,
        within: Option<Duration>,
    ) -> Result<Duration, Duration> {
        let window = self.limit.kept_window();
        let mut state = self.state();
        let cap = state.pacing.cap(now) as usize;
        let starts = &mut state.starts;
        let start = if starts.len() < cap {
            now
        } else {
            let oldest = starts[starts.len() - cap];
            (oldest + window).max(now)
        };
        let wait = start - now;
        if within.is_some_and(|within| wait > within) {
            return Err(wait);
        }
        // Kept sorted (a recovering pace can place a start before a
        // reservation made while it was lower).
        let at = starts.partition_point(|s| *s <= start);
        starts.insert(at, start);
        while starts.len() > self.limit.requests as usize {
            starts.pop_front();
        }
        Ok(wait)
    }

    /// Waits for a slot: at once when one is free, else until the slot it
    /// reserves; fails at once (reserving nothing) when that is further
    /// away than `within`.
    pub(crate) async fn wait(&self, within: Option<Duration>) -> Result<(), crate::Error> {
        match self.reserve(Instant::now(), within) {
            Ok(wait) if wait.is_zero() => Ok(()),
            Ok(wait) => {
                tracing::debug!(
                    wait_ms = wait.as_millis() as u64,
                    "waiting for the rate limit"
                );
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Err(wait) => Err(crate::Error::RateLimitTimeout {
                wait,
                idempotency_key: None,
            }),
        }
    }

    /// A 429 came anyway: lower the pace for a while.
    pub(crate) fn throttled(&self, now: Instant) -> bool {
        self.state().pacing.throttled(now)
    }
}

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

    /// Whatever the arrival times, no window of the limit's length holds
    /// more than `n` starts, and a burst of `n` goes at once.
    #[test]
    fn no_window_ever_holds_more_than_the_limit() {
        let limit = RateLimit::new(5, Duration::from_secs(1));
        let limiter = LocalLimiter::new(limit);
        let t0 = Instant::now();
        let mut starts = Vec::new();
        let mut waits = Vec::new();
        let mut state: u64 = 7;
        let mut now = t0;
        for i in 0..200 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // A burst first, then arrivals 0-63 ms apart.
            if i >= 5 {
                now += Duration::from_millis(state >> 58);
            }
            let wait = limiter.reserve(now, None).unwrap();
            waits.push(wait);
            starts.push(now + wait);
        }
        assert!(
            waits[..5].iter().all(Duration::is_zero),
            "a burst of 5 goes at once"
        );
        assert!(!waits[5].is_zero(), "the sixth waits");
        starts.sort();
        for (i, start) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .take_while(|s| **s - *start < limit.kept_window())
                .count();
            assert!(in_window <= 5, "{in_window} starts in one window");
        }
        // 200 calls at 5 per window: about 39 windows.
        let span = *starts.last().unwrap() - starts[0];
        assert!(span >= limit.kept_window() * 39, "{span:?}");
    }

    #[test]
    fn a_full_limiter_makes_the_first_call_wait_a_window() {
        let limit = RateLimit::new(3, Duration::from_secs(1));
        let now = Instant::now();
        let limiter = LocalLimiter::full(limit, now);
        assert_eq!(limiter.reserve(now, None), Ok(limit.kept_window()));
    }

    #[test]
    fn a_wait_past_the_time_left_reserves_nothing() {
        let limiter = LocalLimiter::new(RateLimit::new(2, Duration::from_secs(10)));
        let now = Instant::now();
        assert_eq!(limiter.reserve(now, None), Ok(Duration::ZERO));
        assert_eq!(limiter.reserve(now, None), Ok(Duration::ZERO));
        let wait = limiter
            .reserve(now, Some(Duration::from_secs(1)))
            .unwrap_err();
        assert_eq!(wait, Duration::from_millis(10_200));
        // Nothing was reserved: the next caller gets the same slot.
        assert_eq!(
            limiter.reserve(now, None),
            Ok(Duration::from_millis(10_200))
        );
    }

    #[test]
    fn a_429_slows_the_pace_which_recovers_over_a_window() {
        let limit = RateLimit::new(100, Duration::from_secs(1));
        let mut pacing = Pacing::new(&limit);
        let now = Instant::now();
        assert_eq!(pacing.cap(now), 100);
        assert!(pacing.throttled(now));
        assert_eq!(pacing.cap(now), 70);
        // A burst of 429s counts once.
        assert!(!pacing.throttled(now + Duration::from_millis(50)));
        assert!(pacing.throttled(now + Duration::from_millis(200)));
        let lowered = pacing.cap(now + Duration::from_millis(200));
        assert!(lowered < 70, "{lowered}");
        let half = pacing.cap(now + Duration::from_millis(200) + limit.kept_window() / 2);
        assert!(half > lowered && half < 100, "{half}");
        assert_eq!(pacing.cap(now + Duration::from_secs(3)), 100);
        for _ in 0..50 {
            pacing = Pacing {
                lowered: Some((now, 1)),
                ..pacing
            };
            assert!(pacing.cap(now) >= 1);
        }
    }
}
