//! Configuring a simulator and starting it: [`MockServerBuilder`], and its
//! defaults.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::control::Hold;
use crate::faults::{check_rate, Fault, FaultPlan};
use crate::ratelimit::{RateLimiter, RateLimits};
use crate::routes::router;
use crate::server::{serve, MockServer};
use crate::shared::Shared;
use crate::state::State;
use crate::tokens::{TokenPolicy, Tokens, DEFAULT_TOKEN_LIFETIME};
use crate::webhooks::{WebhookConfig, Webhooks};

/// The token a simulator accepts when none is configured.
pub const DEFAULT_TOKEN: &str = "mock-token";
/// The client id a simulator issues tokens to when none is configured.
pub const DEFAULT_CLIENT_ID: &str = "mock-client-id";
/// The API key a simulator issues tokens to when none is configured.
pub const DEFAULT_API_KEY: &str = "mock-api-key";

/// How many idempotency records a simulator keeps at most, unless
/// configured otherwise (about 0.5 GB of them; see
/// [`MockServerBuilder::idempotency_capacity`]).
pub const DEFAULT_IDEMPOTENCY_CAPACITY: usize = 1_000_000;

/// How many settled events ([`MockServer::deliveries`]) a simulator keeps
/// at most, unless configured otherwise (about 0.1 GB of them).
pub const DEFAULT_EVENT_CAPACITY: usize = 100_000;

/// Configures a [`MockServer`] before it starts.
#[derive(Debug, Clone)]
pub struct MockServerBuilder {
    addr: SocketAddr,
    tokens: Vec<String>,
    client_id: String,
    api_key: String,
    token_lifetime: Duration,
    accept_bare_token: bool,
    token_policy: TokenPolicy,
    rate_limits: Option<RateLimits>,
    idempotency_capacity: usize,
    event_capacity: usize,
    seed: u64,
    fault_rate: f64,
    fault_kinds: Vec<Fault>,
    webhook: Option<WebhookConfig>,
    order_delay: Duration,
    pre_cancel_period: Duration,
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tokens: Vec::new(),
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            api_key: DEFAULT_API_KEY.to_owned(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            accept_bare_token: false,
            token_policy: TokenPolicy::Void,
            rate_limits: None,
            idempotency_capacity: DEFAULT_IDEMPOTENCY_CAPACITY,
            event_capacity: DEFAULT_EVENT_CAPACITY,
            seed: 0,
            fault_rate: 0.0,
            fault_kinds: Vec::new(),
            webhook: None,
            order_delay: Duration::ZERO,
            pre_cancel_period: Duration::ZERO,
        }
    }
}

impl MockServerBuilder {
    /// Listen on `addr` (default `127.0.0.1:0`, a free port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Accept `token` as `x-auth-token` (may be called several times). With
    /// none, [`DEFAULT_TOKEN`] is accepted.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.tokens.push(token.into());
        self
    }

    /// Issue tokens from `POST /v1/connect/token` to these credentials
    /// (default [`DEFAULT_CLIENT_ID`] / [`DEFAULT_API_KEY`]).
    pub fn credentials(mut self, client_id: impl Into<String>, api_key: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self.api_key = api_key.into();
        self
    }

    /// How long issued tokens live (default 30 minutes, as UQPay's; zero:
    /// born expired). Issuing a token voids every earlier token of the
    /// client id, as UQPay does.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Also accept `x-auth-token: <token>` without the `Bearer ` scheme
    /// (refused with a 401 by default, as UQPay's gateway does), for testing
    /// older code.
    pub fn accept_bare_token(mut self, accept: bool) -> Self {
        self.accept_bare_token = accept;
        self
    }

    /// Whether a new token voids the earlier ones of its client id
    /// ([`TokenPolicy::Void`], the default, as UQPay's Card Issuance FAQ
    /// says) or they coexist ([`TokenPolicy::Coexist`], as its v1.6
    /// quickstart says).
    pub fn token_policy(mut self, policy: TokenPolicy) -> Self {
        self.token_policy = policy;
        self
    }

    /// Apply rate limits: UQPay's per-minute ones ([`RateLimits::SANDBOX`]
    /// or [`RateLimits::PRODUCTION`]) or any budget per window
    /// ([`RateLimits::per_window`]); off by default. Each 429 the limiter
    /// sends is counted ([`RouteCounters::rate_limited`](crate::state::RouteCounters::rate_limited)).
    ///
    /// # Panics
    ///
    /// When `limits` would refuse every request of a budget (0 card calls,
    /// or a token budget of 0) or has a zero window: limits written out
    /// field by field are checked here as [`RateLimits::per_window`] checks
    /// its own.
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        let limits = limits.checked().unwrap_or_else(|why| {
            panic!("invalid rate limit (MockServerBuilder::rate_limits): {why}")
        });
        self.rate_limits = Some(limits);
        self
    }

    /// The most idempotency records kept (default
    /// [`DEFAULT_IDEMPOTENCY_CAPACITY`]). Records are dropped once past the
    /// 24-hour window on the simulator's clock, and beyond this many the
    /// oldest settled ones go first: a key older than that is executed anew
    /// instead of replayed (a long run's bound on memory: each record takes
    /// a few hundred bytes).
    pub fn idempotency_capacity(mut self, capacity: usize) -> Self {
        self.idempotency_capacity = capacity.max(1);
        self
    }

    /// The most events kept in [`MockServer::deliveries`] (default
    /// [`DEFAULT_EVENT_CAPACITY`]): beyond it the oldest settled ones
    /// (delivered, or given up on) are dropped; events still being
    /// delivered are always kept.
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Deliver the events of settled orders to `url`, signed with `secret`
    /// as UQPay signs them (`x-wk-timestamp`, `x-wk-signature`), redelivered
    /// on any non-2xx answer or connection failure.
    pub fn webhook(mut self, url: impl Into<String>, secret: impl Into<String>) -> Self {
        self.webhook = Some(WebhookConfig {
            url: url.into(),
            secret: secret.into(),
            max_attempts: 10,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
        });
        self
    }

    /// How many times an event is sent before it is given up on (default
    /// 10), and the first wait between attempts, doubling up to `max`
    /// (default 50 ms and 2 s). Needs [`webhook`](Self::webhook).
    pub fn webhook_redelivery(mut self, max_attempts: u32, first: Duration, max: Duration) -> Self {
        if let Some(config) = &mut self.webhook {
            config.max_attempts = max_attempts.max(1);
            config.backoff = first;
            config.max_backoff = max.max(first);
        }
        self
    }

    /// How long each card order takes to settle (default 0: at once, before
    /// the request is answered). Until it settles, Retrieve Card shows the
    /// card as it was and another order on the card is refused.
    pub fn order_delay(mut self, delay: Duration) -> Self {
        self.order_delay = delay;
        self
    }

    /// How long a cancelled card stays PRE_CANCEL before it becomes
    /// CANCELLED, on the simulator's clock (UQPay: 30 days; default 0).
    pub fn pre_cancel_period(mut self, period: Duration) -> Self {
        self.pre_cancel_period = period;
        self
    }

    /// The seed of the fault RNG (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Inject a fault into a fraction `rate` (0..=1) of card requests, one
    /// picked uniformly from `kinds` by the seeded RNG.
    ///
    /// # Panics
    ///
    /// When `rate` is not a number from 0 to 1 (NaN, a negative rate, a
    /// rate over 1).
    pub fn random_faults(mut self, rate: f64, kinds: Vec<Fault>) -> Self {
        self.fault_rate = check_rate(rate);
        self.fault_kinds = kinds;
        self
    }

    /// Binds the address and starts serving on the current tokio runtime.
    pub async fn start(self) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(self.addr).await?;
        let addr = listener.local_addr()?;
        let tokens = if self.tokens.is_empty() {
            vec![DEFAULT_TOKEN.to_owned()]
        } else {
            self.tokens
        };
        let mut faults = FaultPlan::new(self.seed);
        faults.set_random(self.fault_rate, self.fault_kinds);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let webhooks = Arc::new(Webhooks::new(
            self.webhook,
            self.event_capacity,
            shutdown_rx.clone(),
        ));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(self.idempotency_capacity)),
            tokens: Mutex::new(Tokens::new(
                tokens.clone(),
                self.token_lifetime,
                self.accept_bare_token,
                self.token_policy,
            )),
            faults: Mutex::new(faults),
            limiter: self.rate_limits.map(|l| Mutex::new(RateLimiter::new(l))),
            clock: Clock::default(),
            client_id: self.client_id,
            api_key: self.api_key,
            hold: Hold::new(),
            webhooks,
            order_delay: self.order_delay,
            pre_cancel_period: self.pre_cancel_period,
            failing_orders: Default::default(),
        });
        tokio::spawn(serve(listener, router(shared.clone()), shutdown_rx));
        tracing::info!(%addr, "uqpay-mock listening");
        Ok(MockServer {
            addr,
            shared,
            tokens,
            shutdown,
        })
    }
}

impl MockServer {
    /// Starts a simulator with the default configuration on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// A builder for a configured simulator.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_would_keep_nothing_are_raised_to_one() {
        let builder = MockServerBuilder::default()
            .idempotency_capacity(0)
            .event_capacity(0)
            .webhook("http://127.0.0.1:9/hook", "s")
            .webhook_redelivery(0, Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(
            (builder.idempotency_capacity, builder.event_capacity),
            (1, 1)
        );
        let webhook = builder.webhook.unwrap();
        assert_eq!(webhook.max_attempts, 1);
        assert_eq!(
            webhook.max_backoff,
            Duration::from_secs(2),
            "never below the first"
        );
        // Redelivery settings need a webhook.
        let without =
            MockServerBuilder::default().webhook_redelivery(3, Duration::ZERO, Duration::ZERO);
        assert!(without.webhook.is_none());
    }

    #[tokio::test]
    async fn with_no_token_configured_the_default_one_is_accepted() {
        let server = MockServer::start().await.unwrap();
        assert_eq!(server.token(), DEFAULT_TOKEN);
        assert_eq!(server.credentials(), (DEFAULT_CLIENT_ID, DEFAULT_API_KEY));
        let server = MockServer::builder()
            .token("a")
            .token("b")
            .start()
            .await
            .unwrap();
        assert_eq!(server.token(), "a");
    }
}
