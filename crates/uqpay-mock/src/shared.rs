//! One running simulator's parts, shared by its handlers and its
//! `MockServer` handle: the state and the
//! tokens behind their locks, the fault plan, the rate limiter, the clock,
//! the gate for held requests, the webhooks, and how orders settle.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::Clock;
use crate::control::Hold;
use crate::faults::FaultPlan;
use crate::orders::{self, Desk, Order};
use crate::ratelimit::{Budget, RateLimiter};
use crate::state::{Route, State};
use crate::tokens::Tokens;
use crate::webhooks::Webhooks;

/// Shared state of one running simulator.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) tokens: Mutex<Tokens>,
    pub(crate) faults: Mutex<FaultPlan>,
    pub(crate) limiter: Option<Mutex<RateLimiter>>,
    pub(crate) clock: Clock,
    pub(crate) client_id: String,
    pub(crate) api_key: String,
    pub(crate) hold: Hold,
    pub(crate) webhooks: Arc<Webhooks>,
    pub(crate) order_delay: Duration,
    pub(crate) pre_cancel_period: Duration,
    /// How many of the next orders fail.
    pub(crate) failing_orders: AtomicUsize,
}

impl Shared {
    /// The state, locked (a panic elsewhere does not poison it for good).
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tokens, locked.
    pub(crate) fn tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fault plan, locked.
    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultPlan> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Completes the cancellations whose pre-cancel period is over, and
    /// publishes their events.
    pub(crate) fn tick(&self) {
        let now = self.clock.now();
        let events = orders::complete_cancellations(&mut self.state(), now);
        self.webhooks.publish(events);
    }

    /// Whether the rate limiter (if any) lets this request of `route`
    /// through; a refusal is counted (the 429s the simulator sent).
    pub(crate) fn admit(&self, budget: Budget, route: Route) -> bool {
        let Some(limiter) = &self.limiter else {
            return true;
        };
        let now = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let admitted = limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(budget, now);
        if !admitted {
            self.state().counters(route).rate_limited += 1;
        }
        admitted
    }

    /// Where the operations of `now` place their orders.
    pub(crate) fn desk(&self, now: SystemTime) -> Desk<'_> {
        Desk::new(
            &self.failing_orders,
            self.order_delay,
            self.pre_cancel_period,
            now,
        )
    }

    /// Settles `order` after the simulator's order delay, on its own task.
    pub(crate) fn schedule(self: &Arc<Self>, order: Order) {
        self.webhooks.order_placed();
        let shared = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(shared.order_delay).await;
            let now = shared.clock.now();
            let events = orders::settle(&mut shared.state(), order, now, shared.pre_cancel_period);
            shared.webhooks.publish(events);
            shared.webhooks.order_settled();
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use tokio::sync::watch;
    use uqpay_issuing_raw::types::CardState;

    use crate::ratelimit::RateLimits;
    use crate::tokens::{TokenPolicy, DEFAULT_TOKEN_LIFETIME};

    /// The token the simulators of the unit tests accept.
    pub(crate) const TOKEN: &str = "unit-token";

    /// A simulator's parts as the builder's defaults make them (token
    /// [`TOKEN`], credentials `client` / `key`), with `limits`; no server.
    pub(crate) fn shared(limits: Option<RateLimits>) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(State::new(1000)),
            tokens: Mutex::new(Tokens::new(
                [TOKEN.to_owned()],
                DEFAULT_TOKEN_LIFETIME,
                false,
                TokenPolicy::Void,
            )),
            faults: Mutex::new(FaultPlan::new(0)),
            limiter: limits.map(|l| Mutex::new(RateLimiter::new(l))),
            clock: Clock::default(),
            client_id: "client".into(),
            api_key: "key".into(),
            hold: Hold::new(),
            webhooks: Arc::new(Webhooks::new(None, 100, watch::channel(false).1)),
            order_delay: Duration::ZERO,
            pre_cancel_period: Duration::ZERO,
            failing_orders: AtomicUsize::new(0),
        })
    }

    #[test]
    fn refusals_of_the_rate_limiter_are_counted_per_route() {
        // One call a day (a window the test cannot straddle but by a few
        // microseconds in 86,400 seconds).
        let shared = shared(Some(RateLimits::per_window(1, Duration::from_secs(86_400))));
        assert!(shared.admit(Budget::Calls, Route::UpdateCard));
        assert!(!shared.admit(Budget::Calls, Route::UpdateCard));
        assert_eq!(shared.state().counters(Route::UpdateCard).rate_limited, 1);
        assert_eq!(shared.state().counters(Route::AssignCard).rate_limited, 0);
        // The token endpoint is unlimited unless said.
        assert!((0..5).all(|_| shared.admit(Budget::Token, Route::Token)));
        let unlimited = self::shared(None);
        assert!((0..5).all(|_| unlimited.admit(Budget::Calls, Route::UpdateCard)));
    }

    #[tokio::test]
    async fn a_tick_completes_the_cancellations_that_are_due() {
        let shared = shared(None);
        let mut card = crate::views::tests::card("4096360800134444");
        card.card_status = CardState::PreCancel;
        card.cancel_at = Some(shared.clock.now() + Duration::from_secs(60));
        let id = card.card_id;
        shared.state().cards.insert(id, card);
        shared.tick();
        assert_eq!(shared.state().cards[&id].card_status, CardState::PreCancel);
        shared.clock.advance(Duration::from_secs(60));
        shared.tick();
        assert_eq!(shared.state().cards[&id].card_status, CardState::Cancelled);
        let published: Vec<String> = shared
            .webhooks
            .deliveries()
            .into_iter()
            .map(|d| d.event_type)
            .collect();
        assert_eq!(published, ["card.status.update.succeeded"]);
    }
}
