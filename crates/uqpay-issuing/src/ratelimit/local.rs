//! The in-process limiter: a sliding window log with reservations
//! ([`Booking`]s that a cancelled call gives back), and the pace after a
//! 429 ([`Pacing`]). The algorithm is described in [the family's
//! docs](crate::ratelimit).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::ratelimit::RateLimit;

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
        // In u64: a cap near u32::MAX times 7 does not fit a u32.
        let lowered = (u64::from(self.cap(now)) * 7 / 10).max(1) as u32;
        self.lowered = Some((now, lowered));
        true
    }
}

/// The in-process limiter: the start times of the calls of the last window
/// and those reserved by calls waiting for them (in the future), in order.
#[derive(Debug)]
pub(crate) struct LocalLimiter {
    limit: RateLimit,
    state: Mutex<LocalState>,
}

#[derive(Debug)]
struct LocalState {
    starts: VecDeque<Instant>,
    /// No call starts before this (a limiter that starts full).
    not_before: Option<Instant>,
    pacing: Pacing,
}

/// A start time reserved by a waiting call. Dropped before [`keep`]
/// (the call was cancelled while it waited, or gave up), it gives the
/// start time back: a call that never went out holds no slot. The calls
/// waiting behind it keep their start times (nothing wakes them to move
/// up: a slot freed between two bookings is used once those ahead of it
/// went); a freed slot at the end of the queue is the next caller's.
///
/// [`keep`]: Booking::keep
#[must_use = "a booking dropped at once gives its slot back"]
#[derive(Debug)]
pub(crate) struct Booking<'a> {
    limiter: &'a LocalLimiter,
    at: Instant,
    /// How long the call waits for its start.
    pub(crate) wait: Duration,
}

impl Booking<'_> {
    /// The call goes out: the start is used.
    pub(crate) fn keep(self) {
        std::mem::forget(self);
    }

    /// Waits until the start time, then keeps it; dropped before, it gives
    /// the start time back.
    pub(crate) async fn wait(self) {
        if !self.wait.is_zero() {
            tracing::debug!(
                wait_ms = u64::try_from(self.wait.as_millis()).unwrap_or(u64::MAX),
                "waiting for the rate limit"
            );
            tokio::time::sleep(self.wait).await;
        }
        self.keep();
    }
}

impl Drop for Booking<'_> {
    fn drop(&mut self) {
        self.limiter.release(self.at);
    }
}

impl LocalLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new(LocalState {
                starts: VecDeque::with_capacity(limit.requests.min(4096) as usize),
                not_before: None,
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
        limiter.state().not_before = now.checked_add(limit.kept_window());
        limiter
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LocalState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves the next slot at `now`: the booking, which says how long to
    /// wait for it. When the wait would be longer than `within`, nothing is
    /// reserved and the wait is the error.
    pub(crate) fn reserve(
        &self,
        now: Instant,
        within: Option<Duration>,
    ) -> Result<Booking<'_>, Duration> {
        let window = self.limit.kept_window();
        let mut state = self.state();
        // Starts that left the window count no more.
        while state
            .starts
            .front()
            .is_some_and(|s| s.checked_add(window).is_none_or(|end| end <= now))
        {
            state.starts.pop_front();
        }
        let cap = state.pacing.cap(now) as usize;
        let mut start = now.max(state.not_before.unwrap_or(now));
        if state.starts.len() >= cap {
            let oldest = state.starts[state.starts.len() - cap];
            // The window is at most a day: no Instant overflows.
            start = start.max(oldest.checked_add(window).unwrap_or(oldest));
        }
        let wait = start - now;
        if within.is_some_and(|within| wait > within) {
            return Err(wait);
        }
        // Kept sorted (a recovering pace can place a start before a
        // reservation made while it was lower).
        let starts = &mut state.starts;
        let at = starts.partition_point(|s| *s <= start);
        starts.insert(at, start);
        Ok(Booking {
            limiter: self,
            at: start,
            wait,
        })
    }

    /// Gives a reserved start time back.
    fn release(&self, at: Instant) {
        let mut state = self.state();
        let starts = &mut state.starts;
        let first = starts.partition_point(|s| *s < at);
        if starts.get(first) == Some(&at) {
            starts.remove(first);
        }
    }

    /// Waits for a slot: at once when one is free, else until the slot it
    /// reserves; fails at once (reserving nothing) when that is further
    /// away than `within`. Cancelled while it waits, it gives the slot back.
    pub(crate) async fn wait(&self, within: Option<Duration>) -> Result<(), Error> {
        match self.reserve(Instant::now(), within) {
            Ok(booking) => {
                booking.wait().await;
                Ok(())
            }
            Err(wait) => Err(Error::RateLimitTimeout {
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

    /// Reserves a slot at `now` and keeps it (the call goes out).
    fn take(
        limiter: &LocalLimiter,
        now: Instant,
        within: Option<Duration>,
    ) -> Result<Duration, Duration> {
        limiter.reserve(now, within).map(|booking| {
            let wait = booking.wait;
            booking.keep();
            wait
        })
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
            let wait = take(&limiter, now, None).unwrap();
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
        assert_eq!(take(&limiter, now, None), Ok(limit.kept_window()));
    }

    #[test]
    fn a_wait_past_the_time_left_reserves_nothing() {
        let limiter = LocalLimiter::new(RateLimit::new(2, Duration::from_secs(10)));
        let now = Instant::now();
        assert_eq!(take(&limiter, now, None), Ok(Duration::ZERO));
        assert_eq!(take(&limiter, now, None), Ok(Duration::ZERO));
        let wait = take(&limiter, now, Some(Duration::from_secs(1))).unwrap_err();
        assert_eq!(wait, Duration::from_millis(10_200));
        // Nothing was reserved: the next caller gets the same slot.
        assert_eq!(take(&limiter, now, None), Ok(Duration::from_millis(10_200)));
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

    #[test]
    fn a_booking_dropped_before_its_start_gives_the_slot_back() {
        let limit = RateLimit::new(2, Duration::from_secs(1));
        let limiter = LocalLimiter::new(limit);
        let now = Instant::now();
        take(&limiter, now, None).unwrap();
        take(&limiter, now, None).unwrap();
        // 100 waiters book the slots of the next 50 windows, then are
        // cancelled (their bookings dropped while they wait).
        for _ in 0..100 {
            let booking = limiter.reserve(now, None).unwrap();
            assert!(!booking.wait.is_zero());
            drop(booking);
        }
        // Nothing of theirs is left: the next call waits one window, not 50.
        assert_eq!(take(&limiter, now, None), Ok(limit.kept_window()));
        // And once the window has passed, it goes at once.
        let later = now + limit.kept_window() * 2;
        assert_eq!(take(&limiter, later, None), Ok(Duration::ZERO));
    }

    #[test]
    fn a_cancelled_booking_between_others_leaves_theirs_in_place() {
        let limit = RateLimit::new(1, Duration::from_secs(1));
        let limiter = LocalLimiter::new(limit);
        let now = Instant::now();
        let window = limit.kept_window();
        take(&limiter, now, None).unwrap();
        let first = limiter.reserve(now, None).unwrap();
        let second = limiter.reserve(now, None).unwrap();
        assert_eq!((first.wait, second.wait), (window, window * 2));
        // The first waiter goes away; the second keeps its place (waiters
        // are not woken to move up), and a newcomer queues behind it.
        drop(first);
        let third = limiter.reserve(now, None).unwrap();
        assert_eq!(third.wait, window * 3);
        // When the two behind are cancelled too, the next call gets the
        // slot right after the one call that went out.
        drop(third);
        drop(second);
        assert_eq!(take(&limiter, now, None), Ok(window));
    }

    #[tokio::test]
    async fn a_waiter_cancelled_by_a_timeout_gives_its_slot_back() {
        let limit = RateLimit::new(2, Duration::from_secs(1));
        let limiter = LocalLimiter::new(limit);
        limiter.wait(None).await.unwrap();
        limiter.wait(None).await.unwrap();
        let cancelled = futures_util::future::join_all(
            (0..100).map(|_| tokio::time::timeout(Duration::from_millis(50), limiter.wait(None))),
        )
        .await;
        assert!(
            cancelled.iter().all(Result::is_err),
            "all cancelled while they wait"
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // A fresh call with 5 s to spare: the 100 cancelled callers hold no
        // slot, so it goes at once.
        let booking = limiter
            .reserve(Instant::now(), Some(Duration::from_secs(5)))
            .expect("no slot is held by a cancelled caller");
        assert!(
            booking.wait < Duration::from_millis(100),
            "{:?}",
            booking.wait
        );
        booking.keep();
    }

    #[test]
    fn absurd_limits_neither_panic_nor_wrap() {
        // A huge cap lowered after a 429: 70 % of it, not a wrapped product.
        let limit = RateLimit::new(u32::MAX, Duration::from_secs(60));
        let mut pacing = Pacing::new(&limit);
        let now = Instant::now();
        assert!(pacing.throttled(now));
        assert_eq!(pacing.cap(now), (u64::from(u32::MAX) * 7 / 10) as u32);
        let limit = RateLimit::new(1_000_000_000, Duration::from_secs(60));
        let mut pacing = Pacing::new(&limit);
        assert!(pacing.throttled(now));
        assert_eq!(pacing.cap(now), 700_000_000);
        // A window of Duration::MAX is cut to a day; a second call waits it.
        let limit = RateLimit::new(1, Duration::MAX);
        assert_eq!(limit.per(), RateLimit::MAX_WINDOW);
        let limiter = LocalLimiter::new(limit);
        assert_eq!(take(&limiter, now, None), Ok(Duration::ZERO));
        assert_eq!(take(&limiter, now, None), Ok(limit.kept_window()));
        // A limiter that starts full does not allocate a slot per request.
        let limiter = LocalLimiter::full(RateLimit::new(u32::MAX, Duration::from_secs(1)), now);
        assert!(limiter.state().starts.is_empty());
    }
}
