//! The retry policy: how long to wait before the next attempt, given the
//! `Retry-After` an answer asked for. Pure functions of durations;
//! which errors are retried is [`Error::is_retryable`](crate::Error::is_retryable),
//! and the loop that applies both is the call's.

use std::time::Duration;

use rand::Rng as _;

/// How a call retries (set on the [`ClientBuilder`](crate::ClientBuilder),
/// `max_retries` also per call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
    pub(crate) jitter: Duration,
    pub(crate) max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// UQPay's Python SDK's: 2 retries, 500 ms doubling to 30 s plus up to
    /// 1 s of jitter; `Retry-After` honoured up to 60 s.
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

/// What to do after a retryable failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Wait this long, then send the same request again.
    RetryAfter(Duration),
    /// The API asked for a longer wait than the client accepts.
    RetryAfterTooLong(Duration),
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): what `Retry-After`
    /// asked for (refused past `max_retry_after`), else `base * 2^(retry-1)`
    /// capped at `cap`, plus up to `jitter`. Never overflows.
    pub(crate) fn next(&self, retry: u32, retry_after: Option<Duration>) -> Next {
        if let Some(asked) = retry_after {
            if asked > self.max_retry_after {
                return Next::RetryAfterTooLong(asked);
            }
            return Next::RetryAfter(asked);
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
        Next::RetryAfter(exponential.saturating_add(jitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(next: Next) -> Duration {
        match next {
            Next::RetryAfter(d) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            jitter: Duration::ZERO,
            ..RetryPolicy::default()
        };
        let delays: Vec<u64> = (1..=8)
            .map(|n| wait(policy.next(n, None)).as_millis() as u64)
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(
            policy.next(1, Some(Duration::from_secs(7))),
            Next::RetryAfter(Duration::from_secs(7))
        );
        assert_eq!(
            policy.next(1, Some(Duration::from_secs(61))),
            Next::RetryAfterTooLong(Duration::from_secs(61))
        );
        let jittery = RetryPolicy::default();
        for n in 1..5 {
            let d = wait(jittery.next(n, None));
            let floor = Duration::from_millis(500 * 2u64.pow(n - 1));
            assert!(d >= floor && d < floor + Duration::from_secs(1), "{d:?}");
        }
    }

    #[test]
    fn the_largest_settings_saturate_instead_of_panicking() {
        let policy = RetryPolicy {
            base: Duration::MAX,
            cap: Duration::MAX,
            jitter: Duration::MAX,
            ..RetryPolicy::default()
        };
        for retry in [1, 2, 40, u32::MAX] {
            assert_eq!(wait(policy.next(retry, None)), Duration::MAX);
        }
    }
}
