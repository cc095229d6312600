//! The retry budget: a token bucket shared by a client (and its clones)
//! that caps how many retries the client sends when the service is failing.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::error::Error;

/// A token bucket that caps retries, shared by a [`Client`](crate::Client)
/// and its clones (and by several clients, if given to each).
///
/// Every retry takes tokens from it; a call that succeeds at its first
/// attempt puts one back, and a call that succeeds after retries gives back
/// what its retries took. When the bucket cannot pay for a retry, the call
/// ends at once with [`Error::RetryBudgetSpent`] (retryable: the job can be
/// tried again later) instead of adding load to a service that is failing.
/// A first attempt never needs the budget, and a 401 answered by one new
/// token is not a retry.
///
/// The default numbers are those of the AWS SDK's standard retry mode
/// (smithy-rs), the most widely deployed budget of the anchors: capacity
/// 500, 5 tokens per retry, 10 per retry after a timeout (a timed-out
/// attempt held a connection for its whole limit, and retried timeouts are
/// what piles load onto an overloaded service), +1 per first-attempt
/// success. With them:
///
/// - during an outage (every call failing) a client sends at most
///   `capacity / cost` = 100 retries, then one attempt per call, until
///   calls succeed again: 1,000 calls cost at most 1,100 requests instead of
///   the 3,000 that `max_retries = 2` would send;
/// - a quiet service never empties it: it drains only while more than one
///   call in six needs a retry, for hundreds of calls in a row;
/// - once the service is back, each first-attempt success refills it by one.
///
/// ```
/// use uqpay_issuing::{Client, RetryBudget};
///
/// let budget = RetryBudget::new(200).retry_cost(10);
/// let client = Client::builder().token("...").retry_budget(budget.clone()).build().unwrap();
/// assert_eq!(budget.available(), 200);
/// // Or no budget at all: every call retries up to max_retries.
/// let unbounded = Client::builder().token("...").retry_budget(RetryBudget::disabled()).build();
/// # let _ = (client, unbounded);
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None`: no budget (every retry allowed).
    capacity: Option<u32>,
    available: AtomicU32,
    retry_cost: u32,
    timeout_cost: u32,
    success_reward: u32,
}

impl Default for RetryBudget {
    /// The AWS SDK's standard numbers: 500, 5 per retry, 10 per retry of a
    /// timeout, +1 per first-attempt success.
    fn default() -> Self {
        Self::new(500)
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.capacity {
            None => f.write_str("RetryBudget(disabled)"),
            Some(capacity) => f
                .debug_struct("RetryBudget")
                .field("available", &self.available())
                .field("capacity", &capacity)
                .field("retry_cost", &self.inner.retry_cost)
                .field("timeout_cost", &self.inner.timeout_cost)
                .finish(),
        }
    }
}

impl RetryBudget {
    /// A full budget of `capacity` tokens, with the default costs (5 per
    /// retry, 10 per retry after a timeout, +1 per first-attempt success).
    pub fn new(capacity: u32) -> Self {
        Self::build(Some(capacity), 5, 10, 1)
    }

    /// No budget: every retryable failure is retried up to `max_retries`.
    pub fn disabled() -> Self {
        Self::build(None, 0, 0, 0)
    }

    fn build(capacity: Option<u32>, retry_cost: u32, timeout_cost: u32, reward: u32) -> Self {
        Self {
            inner: Arc::new(Inner {
                capacity,
                available: AtomicU32::new(capacity.unwrap_or(0)),
                retry_cost,
                timeout_cost,
                success_reward: reward,
            }),
        }
    }

    fn with(self, change: impl FnOnce(&mut (u32, u32, u32))) -> Self {
        let inner = &self.inner;
        let mut costs = (inner.retry_cost, inner.timeout_cost, inner.success_reward);
        change(&mut costs);
        let budget = Self::build(inner.capacity, costs.0, costs.1, costs.2);
        budget
            .inner
            .available
            .store(self.available(), Ordering::Relaxed);
        budget
    }

    /// The tokens a retry takes (default 5).
    pub fn retry_cost(self, cost: u32) -> Self {
        self.with(|c| c.0 = cost)
    }

    /// The tokens a retry after a timeout takes (default 10).
    pub fn timeout_cost(self, cost: u32) -> Self {
        self.with(|c| c.1 = cost)
    }

    /// The tokens a first-attempt success puts back (default 1).
    pub fn success_reward(self, reward: u32) -> Self {
        self.with(|c| c.2 = reward)
    }

    /// The tokens left (for a disabled budget, 0).
    pub fn available(&self) -> u32 {
        self.inner.available.load(Ordering::Relaxed)
    }

    /// The most tokens it holds (`None` when disabled).
    pub fn capacity(&self) -> Option<u32> {
        self.inner.capacity
    }

    /// What a retry after `error` costs.
    pub(crate) fn cost_of(&self, error: &Error) -> u32 {
        if error.is_timeout() {
            self.inner.timeout_cost
        } else {
            self.inner.retry_cost
        }
    }

    /// Takes `cost` tokens for a retry; false when there are not enough
    /// (nothing is taken then). A disabled budget always pays.
    pub(crate) fn try_take(&self, cost: u32) -> bool {
        if self.inner.capacity.is_none() {
            return true;
        }
        self.inner
            .available
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(cost)
            })
            .is_ok()
    }

    /// A call succeeded: it gives back what its retries took (`taken`), or
    /// the reward when it needed none. Never past the capacity.
    pub(crate) fn succeeded(&self, taken: u32) {
        let Some(capacity) = self.inner.capacity else {
            return;
        };
        let back = if taken == 0 {
            self.inner.success_reward
        } else {
            taken
        };
        // The common case (a full bucket, first-try successes) is one load:
        // no write, so concurrent calls share the cache line.
        if back == 0 || self.inner.available.load(Ordering::Relaxed) >= capacity {
            return;
        }
        let _ = self
            .inner
            .available
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                Some(left.saturating_add(back).min(capacity))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout() -> Error {
        Error::Timeout {
            idempotency_key: None,
        }
    }

    fn unavailable() -> Error {
        Error::TokenStore {
            message: "down".into(),
        }
    }

    #[test]
    fn retries_take_successes_give_back() {
        let budget = RetryBudget::new(20);
        assert_eq!(budget.cost_of(&unavailable()), 5);
        assert_eq!(budget.cost_of(&timeout()), 10);
        assert!(budget.try_take(10) && budget.try_take(5));
        assert_eq!(budget.available(), 5);
        assert!(!budget.try_take(10), "not enough: nothing taken");
        assert_eq!(budget.available(), 5);
        budget.succeeded(0);
        assert_eq!(budget.available(), 6);
        budget.succeeded(10);
        assert_eq!(budget.available(), 16);
        budget.succeeded(10);
        assert_eq!(budget.available(), 20, "never past the capacity");
    }

    #[test]
    fn a_disabled_budget_always_pays_and_the_costs_are_settable() {
        let none = RetryBudget::disabled();
        assert!((0..1000).all(|_| none.try_take(5)));
        assert_eq!(none.capacity(), None);
        let custom = RetryBudget::new(100)
            .retry_cost(14)
            .timeout_cost(20)
            .success_reward(2);
        assert_eq!(custom.cost_of(&unavailable()), 14);
        assert_eq!(custom.cost_of(&timeout()), 20);
        assert!(custom.try_take(20));
        custom.succeeded(0);
        assert_eq!(custom.available(), 82);
        // Clones share one bucket.
        let clone = custom.clone();
        assert!(clone.try_take(2));
        assert_eq!(custom.available(), 80);
    }
}
