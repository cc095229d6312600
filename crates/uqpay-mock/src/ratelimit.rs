//! UQPay's rate limits (v1.6 rate-limiting guide), off unless asked for:
//! the token endpoint and the other authenticated calls each have a budget
//! per window (UQPay's: a minute); bursts inside the window are allowed;
//! past the budget the answer is a 429 `too_many_requests`.

use std::str::FromStr;
use std::time::Duration;

/// Rate limits: so many requests per window, the token endpoint and the
/// other calls counted apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimits {
    /// Requests to `POST /v1/connect/token` per window (`None`: unlimited).
    pub token: Option<u32>,
    /// Every other authenticated call (the card routes) per window.
    pub calls: u32,
    /// The window: fixed, aligned on the simulator's clock (UQPay: a minute).
    pub window: Duration,
}

impl RateLimits {
    /// Sandbox: 60 token requests and 500 other calls a minute.
    pub const SANDBOX: Self = Self {
        token: Some(60),
        calls: 500,
        window: Duration::from_secs(60),
    };
    /// Production: 100 token requests and 300 other calls a minute.
    pub const PRODUCTION: Self = Self {
        token: Some(100),
        calls: 300,
        window: Duration::from_secs(60),
    };

    /// `calls` card calls per `window` (at least 1 ms), the token endpoint
    /// unlimited: short windows let tests meet the limit in seconds.
    ///
    /// # Panics
    ///
    /// When `calls` is 0 (every card call would be refused) or `window` is
    /// zero.
    pub fn per_window(calls: u32, window: Duration) -> Self {
        Self {
            token: None,
            calls,
            window,
        }
        .checked()
        .unwrap_or_else(|why| panic!("invalid rate limit (RateLimits::per_window): {why}"))
    }

    /// Also limits the token endpoint to `token` requests per window.
    ///
    /// # Panics
    ///
    /// When `token` is 0 (every token request would be refused).
    pub fn with_token_limit(mut self, token: u32) -> Self {
        self.token = Some(token);
        self.checked().unwrap_or_else(|why| {
            panic!("invalid rate limit (RateLimits::with_token_limit): {why}")
        })
    }

    /// These limits, unless they would refuse every request of a budget
    /// or have no window (then why); a window under a millisecond counts as
    /// one.
    pub(crate) fn checked(self) -> Result<Self, &'static str> {
        if self.calls == 0 {
            return Err("a budget must be at least 1 card call a window \
                        (0 would refuse every card call)");
        }
        if self.token == Some(0) {
            return Err("the token endpoint's budget must be at least 1 \
                        request a window (0 would refuse every token request)");
        }
        if self.window.is_zero() {
            return Err("the window must be longer than zero");
        }
        Ok(Self {
            window: self.window.max(Duration::from_millis(1)),
            ..self
        })
    }
}

/// Parses a duration written `250ms`, `2s` or `1m`.
fn parse_window(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let number: u64 = number.parse().ok()?;
    let window = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" | "min" => Duration::from_secs(number.checked_mul(60)?),
        _ => return None,
    };
    (!window.is_zero()).then_some(window)
}

impl FromStr for RateLimits {
    type Err = String;

    /// `sandbox`, `production`, or `N/WINDOW[,token=M]` (N card calls per
    /// window, e.g. `6000/60s` or `100/1s,token=10`; the token endpoint is
    /// unlimited unless `token=` says).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s.to_ascii_lowercase().as_str() {
            "sandbox" => return Ok(Self::SANDBOX),
            "production" => return Ok(Self::PRODUCTION),
            _ => {}
        }
        let invalid = || {
            format!(
                "invalid rate limit {s:?} (expected sandbox, production or N/WINDOW[,token=M], \
                 e.g. 6000/60s or 100/1s,token=10)"
            )
        };
        let mut parts = s.split(',');
        let (calls, window) = parts
            .next()
            .and_then(|p| p.split_once('/'))
            .ok_or_else(invalid)?;
        let calls: u32 = calls.trim().parse().map_err(|_| invalid())?;
        let mut limits = Self {
            token: None,
            calls,
            window: parse_window(window).ok_or_else(invalid)?,
        };
        for part in parts {
            let token = part
                .trim()
                .strip_prefix("token=")
                .and_then(|n| n.parse().ok())
                .ok_or_else(invalid)?;
            limits.token = Some(token);
        }
        limits
            .checked()
            .map_err(|why| format!("invalid rate limit {s:?}: {why}"))
    }
}

/// Which budget a request draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Budget {
    Token,
    Calls,
}

/// Fixed windows, counted per budget.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: RateLimits,
    window: u128,
    token: u32,
    calls: u32,
}

impl RateLimiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            window: 0,
            token: 0,
            calls: 0,
        }
    }

    /// Counts a request at `now` (since the Unix epoch, on the simulator's
    /// clock); false when it is over the budget.
    pub(crate) fn admit(&mut self, budget: Budget, now: Duration) -> bool {
        let window = now.as_millis() / self.limits.window.as_millis().max(1);
        if window != self.window {
            self.window = window;
            self.token = 0;
            self.calls = 0;
        }
        let (used, limit) = match budget {
            Budget::Token => match self.limits.token {
                Some(limit) => (&mut self.token, limit),
                None => return true,
            },
            Budget::Calls => (&mut self.calls, self.limits.calls),
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
    fn each_budget_resets_every_window() {
        let mut limiter = RateLimiter::new(RateLimits::SANDBOX);
        let start = Duration::from_secs(1_800_000_000 / 60 * 60);
        for _ in 0..60 {
            assert!(limiter.admit(Budget::Token, start));
        }
        assert!(!limiter.admit(Budget::Token, start + Duration::from_secs(59)));
        // The other budget is separate.
        for _ in 0..500 {
            assert!(limiter.admit(Budget::Calls, start + Duration::from_secs(30)));
        }
        assert!(!limiter.admit(Budget::Calls, start + Duration::from_secs(30)));
        assert!(limiter.admit(Budget::Token, start + Duration::from_secs(60)));
        assert!(limiter.admit(Budget::Calls, start + Duration::from_secs(60)));
    }

    #[test]
    fn short_windows_and_their_syntax() {
        assert_eq!("production".parse(), Ok(RateLimits::PRODUCTION));
        assert_eq!("Sandbox".parse(), Ok(RateLimits::SANDBOX));
        assert_eq!(
            "6000/60s".parse(),
            Ok(RateLimits::per_window(6000, Duration::from_secs(60)))
        );
        assert_eq!(
            "100/250ms,token=10".parse(),
            Ok(RateLimits::per_window(100, Duration::from_millis(250)).with_token_limit(10))
        );
        assert_eq!(
            "5/2m".parse::<RateLimits>().unwrap().window,
            Duration::from_secs(120)
        );
        for bad in [
            "staging",
            "100",
            "100/",
            "100/0s",
            "x/1s",
            "100/1h",
            "100/1s,tok=3",
            "0/1s",
            "5/1s,token=0",
        ] {
            assert!(bad.parse::<RateLimits>().is_err(), "{bad}");
        }
        assert_eq!(
            "0/1s".parse::<RateLimits>(),
            Err(
                "invalid rate limit \"0/1s\": a budget must be at least 1 card call a window \
                 (0 would refuse every card call)"
                    .to_owned()
            )
        );
        let mut limiter = RateLimiter::new(RateLimits::per_window(3, Duration::from_millis(100)));
        let at = Duration::from_millis(1_800_000_000_000);
        assert!((0..3).all(|_| limiter.admit(Budget::Calls, at)));
        assert!(!limiter.admit(Budget::Calls, at + Duration::from_millis(99)));
        assert!(limiter.admit(Budget::Calls, at + Duration::from_millis(100)));
        // The token endpoint is unlimited unless said.
        assert!((0..1000).all(|_| limiter.admit(Budget::Token, at)));
    }

    #[test]
    fn limits_that_refuse_everything_are_refused() {
        let refused = |f: fn() -> RateLimits| std::panic::catch_unwind(f).is_err();
        assert!(refused(|| RateLimits::per_window(
            0,
            Duration::from_secs(1)
        )));
        assert!(refused(|| RateLimits::per_window(1, Duration::ZERO)));
        assert!(refused(|| RateLimits::SANDBOX.with_token_limit(0)));
        assert!(RateLimits {
            calls: 0,
            ..RateLimits::SANDBOX
        }
        .checked()
        .is_err());
        assert_eq!(RateLimits::SANDBOX.checked(), Ok(RateLimits::SANDBOX));
        assert_eq!(
            RateLimits::per_window(1, Duration::from_micros(1)).window,
            Duration::from_millis(1)
        );
    }
}
