//! UQPay's per-minute rate limits (v1.6 rate-limiting guide), off unless
//! asked for: the token endpoint and the other authenticated calls each
//! have a budget per clock minute; bursts inside the minute are allowed;
//! past the budget the answer is a 429 `too_many_requests`.

use std::str::FromStr;

/// The limits of one of UQPay's environments, in requests per minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimits {
    /// `POST /v1/connect/token`.
    pub token_per_minute: u32,
    /// Every other authenticated call (the card routes).
    pub calls_per_minute: u32,
}

impl RateLimits {
    /// Sandbox: 60 token requests and 500 other calls a minute.
    pub const SANDBOX: Self = Self {
        token_per_minute: 60,
        calls_per_minute: 500,
    };
    /// Production: 100 token requests and 300 other calls a minute.
    pub const PRODUCTION: Self = Self {
        token_per_minute: 100,
        calls_per_minute: 300,
    };
}

impl FromStr for RateLimits {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sandbox" => Ok(Self::SANDBOX),
            "production" => Ok(Self::PRODUCTION),
            other => Err(format!(
                "unknown rate limit {other:?} (expected sandbox or production)"
            )),
        }
    }
}

/// Which budget a request draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Budget {
    Token,
    Calls,
}

/// Fixed one-minute windows, counted per budget.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: RateLimits,
    minute: u64,
    token: u32,
    calls: u32,
}

impl RateLimiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            minute: 0,
            token: 0,
            calls: 0,
        }
    }

    /// Counts a request at `now` (unix seconds); false when it is over the budget.
    pub(crate) fn admit(&mut self, budget: Budget, now: u64) -> bool {
        let minute = now / 60;
        if minute != self.minute {
            self.minute = minute;
            self.token = 0;
            self.calls = 0;
        }
        let (used, limit) = match budget {
            Budget::Token => (&mut self.token, self.limits.token_per_minute),
            Budget::Calls => (&mut self.calls, self.limits.calls_per_minute),
        };
        if *used >= limit {
            return false;
        }
        *used += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_budget_resets_every_minute() {
        let mut limiter = RateLimiter::new(RateLimits::SANDBOX);
        let start = 1_800_000_000 / 60 * 60;
        for _ in 0..60 {
            assert!(limiter.admit(Budget::Token, start));
        }
        assert!(!limiter.admit(Budget::Token, start + 59));
        // The other budget is separate.
        for _ in 0..500 {
            assert!(limiter.admit(Budget::Calls, start + 30));
        }
        assert!(!limiter.admit(Budget::Calls, start + 30));
        assert!(limiter.admit(Budget::Token, start + 60));
        assert!(limiter.admit(Budget::Calls, start + 60));
        assert_eq!("production".parse(), Ok(RateLimits::PRODUCTION));
        assert!("staging".parse::<RateLimits>().is_err());
    }
}
