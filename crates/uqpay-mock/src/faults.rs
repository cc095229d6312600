//! Fault injection: what can go wrong between a client and the API.

use std::collections::VecDeque;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One injected fault. Faults apply to the card routes only (the token
/// endpoint always answers), before authentication and validation, as a
/// gateway in front of the API would.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `429 Too Many Requests` with a `Retry-After` header (whole seconds,
    /// rounded up) and the rate limiter's `too_many_requests` body. Nothing
    /// is processed.
    RateLimited {
        /// The value of the `Retry-After` header.
        retry_after: Duration,
    },
    /// A 5xx (500, 502, 503 or 504) with an `api_error` body. Nothing is
    /// processed.
    ServerError(u16),
    /// The gateway's "Request is processing, please try again later" (the
    /// legacy 400 with `code: 200`), as if another request with the same
    /// key were in flight. Nothing is processed.
    RequestProcessing,
    /// The connection is closed before the request is processed: the client
    /// sees a network error and nothing changed.
    DropBeforeProcessing,
    /// The request is processed and committed, then the connection is closed
    /// instead of answering: the client sees a network error although the
    /// state changed. A retry with the same idempotency key replays the
    /// committed response.
    DropAfterCommit,
}

impl Fault {
    /// Every kind of fault, once: 429, 500, 502, 503, "request is
    /// processing", both drops.
    pub fn all() -> Vec<Fault> {
        vec![
            Fault::RateLimited {
                retry_after: Duration::ZERO,
            },
            Fault::ServerError(500),
            Fault::ServerError(502),
            Fault::ServerError(503),
            Fault::RequestProcessing,
            Fault::DropBeforeProcessing,
            Fault::DropAfterCommit,
        ]
    }

    /// A short name used in counters and logs (`rate_limited`, `server_error_503`, ...).
    pub fn name(&self) -> String {
        match self {
            Fault::RateLimited { .. } => "rate_limited".into(),
            Fault::ServerError(status) => format!("server_error_{status}"),
            Fault::RequestProcessing => "request_processing".into(),
            Fault::DropBeforeProcessing => "drop_before_processing".into(),
            Fault::DropAfterCommit => "drop_after_commit".into(),
        }
    }
}

/// `rate` if it is a fraction of requests: a number from 0 to 1 (NaN is
/// not; nor is a rate over 1, which used to be clamped to 1 in silence).
///
/// # Panics
///
/// When it is not, with a message that says so.
pub(crate) fn check_rate(rate: f64) -> f64 {
    assert!(
        (0.0..=1.0).contains(&rate),
        "random fault rate must be a number from 0 to 1, got {rate}"
    );
    rate
}

/// Which requests get a fault: first the queued ones (one per request, in
/// order), then, with probability `rate`, one picked uniformly from `kinds`
/// by an RNG seeded with `seed` (the same seed and request order give the
/// same faults).
#[derive(Debug)]
pub(crate) struct FaultPlan {
    queued: VecDeque<Fault>,
    rate: f64,
    kinds: Vec<Fault>,
    rng: StdRng,
}

impl FaultPlan {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            queued: VecDeque::new(),
            rate: 0.0,
            kinds: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub(crate) fn push(&mut self, fault: Fault, times: usize) {
        self.queued.extend(std::iter::repeat_n(fault, times));
    }

    /// From now on a fraction `rate` of requests get one of `kinds`.
    ///
    /// # Panics
    ///
    /// When `rate` is not a number from 0 to 1 (see [`check_rate`]).
    pub(crate) fn set_random(&mut self, rate: f64, kinds: Vec<Fault>) {
        self.rate = check_rate(rate);
        self.kinds = kinds;
    }

    pub(crate) fn reseed(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    pub(crate) fn clear(&mut self) {
        self.queued.clear();
        self.rate = 0.0;
        self.kinds.clear();
    }

    /// The fault for the next request, if any.
    pub(crate) fn next(&mut self) -> Option<Fault> {
        if let Some(fault) = self.queued.pop_front() {
            return Some(fault);
        }
        if self.kinds.is_empty() || self.rate <= 0.0 {
            return None;
        }
        if self.rng.random_bool(self.rate) {
            let index = self.rng.random_range(0..self.kinds.len());
            Some(self.kinds[index])
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_faults_come_first_then_seeded_random_ones() {
        let mut plan = FaultPlan::new(7);
        plan.push(Fault::DropBeforeProcessing, 2);
        plan.set_random(0.5, Fault::all());
        assert_eq!(plan.next(), Some(Fault::DropBeforeProcessing));
        assert_eq!(plan.next(), Some(Fault::DropBeforeProcessing));
        let first: Vec<_> = (0..200).map(|_| plan.next()).collect();
        let mut again = FaultPlan::new(7);
        again.set_random(0.5, Fault::all());
        let second: Vec<_> = (0..200).map(|_| again.next()).collect();
        assert_eq!(first, second, "the same seed gives the same faults");
        let hits = first.iter().filter(|f| f.is_some()).count();
        assert!((60..=140).contains(&hits), "{hits} of 200 at rate 0.5");
        plan.clear();
        assert_eq!(plan.next(), None);
    }

    #[test]
    fn a_rate_is_a_number_from_0_to_1() {
        for rate in [0.0, -0.0, 0.25, 1.0] {
            assert_eq!(check_rate(rate), rate);
        }
        for rate in [
            f64::NAN,
            -0.1,
            1.000001,
            7.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let refused = std::panic::catch_unwind(|| check_rate(rate));
            assert!(refused.is_err(), "{rate}");
        }
        let mut plan = FaultPlan::new(1);
        plan.set_random(1.0, vec![Fault::RequestProcessing]);
        assert!((0..50).all(|_| plan.next() == Some(Fault::RequestProcessing)));
    }
}
