//! Starting, inspecting, steering and stopping a simulator.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::app::{self, ConnectionKill, Hold, Shared};
use crate::clock::Clock;
use crate::faults::{Fault, FaultPlan};
use crate::ratelimit::{RateLimiter, RateLimits};
use crate::state::{Card, Route, RouteCounters, State};
use crate::tokens::{TokenPolicy, Tokens, DEFAULT_TOKEN_LIFETIME};
use crate::webhooks::{Delivery, WebhookConfig, Webhooks};

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
    /// sends is counted ([`RouteCounters::rate_limited`]).
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
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
    pub fn random_faults(mut self, rate: f64, kinds: Vec<Fault>) -> Self {
        self.fault_rate = rate;
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
            state: Mutex::new(State::default()),
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
            idempotency_capacity: self.idempotency_capacity,
        });
        tokio::spawn(serve(listener, app::router(shared.clone()), shutdown_rx));
        tracing::info!(%addr, "uqpay-mock listening");
        Ok(MockServer {
            addr,
            shared,
            tokens,
            shutdown,
        })
    }
}

/// Accepts connections until `shutdown` turns true; each connection gets its
/// own kill switch (used by the connection-dropping faults).
async fn serve(listener: TcpListener, router: axum::Router, mut shutdown: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of
                // spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let kill = Arc::new(Notify::new());
        let router = router
            .clone()
            .layer(axum::Extension(ConnectionKill(kill.clone())));
        let service = hyper::service::service_fn(move |request| router.clone().oneshot(request));
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                // Dropping the connection closes the socket without a response.
                _ = kill.notified() => tracing::debug!("connection dropped by a fault"),
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
        });
    }
}

/// A running simulator. Dropping it stops the server.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = uqpay_mock::MockServer::start().await.unwrap();
/// assert!(server.base_url().ends_with("/api"));
/// # }
/// ```
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tokens: Vec<String>,
    shutdown: watch::Sender<bool>,
}

/// Totals over every route, and the faults injected by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Counters per route.
    pub routes: BTreeMap<Route, RouteCounters>,
    /// Faults injected, by [`Fault::name`].
    pub faults: BTreeMap<String, u64>,
    /// Tokens issued by the token endpoint.
    pub tokens_issued: u64,
}

impl Stats {
    /// The 429s the rate limiter sent, on every route.
    pub fn rate_limited(&self) -> u64 {
        self.routes.values().map(|c| c.rate_limited).sum()
    }

    /// The sum of a counter over the card routes (the token route excluded).
    pub fn card_total(&self, counter: impl Fn(&RouteCounters) -> u64) -> u64 {
        self.routes
            .iter()
            .filter(|(route, _)| **route != Route::Token)
            .map(|(_, c)| counter(c))
            .sum()
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

    /// The base URL clients use, e.g. `http://127.0.0.1:38917/api`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The socket address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A token the simulator accepts (the first configured one).
    pub fn token(&self) -> &str {
        &self.tokens[0]
    }

    /// The credentials the token endpoint issues tokens to.
    pub fn credentials(&self) -> (&str, &str) {
        (&self.shared.client_id, &self.shared.api_key)
    }

    // -- inspection ---------------------------------------------------------

    /// The stored state of a card, whichever account owns it.
    pub fn card(&self, card_id: Uuid) -> Option<Card> {
        self.shared.state().cards.get(&card_id).cloned()
    }

    /// The card a number is assigned to.
    pub fn card_by_number(&self, card_number: &str) -> Option<Card> {
        let state = self.shared.state();
        let id = state.card_numbers.get(card_number)?;
        state.cards.get(id).cloned()
    }

    /// Every card, in no particular order.
    pub fn cards(&self) -> Vec<Card> {
        self.shared.state().cards.values().cloned().collect()
    }

    /// How many times the request of this idempotency key changed state
    /// (0 or 1, unless something is badly wrong).
    pub fn commits_for_key(&self, key: Uuid) -> u32 {
        self.shared
            .state()
            .idempotency
            .get(&key)
            .map_or(0, |r| r.commits)
    }

    /// How many times the stored response of this key was replayed.
    pub fn replays_for_key(&self, key: Uuid) -> u32 {
        self.shared
            .state()
            .idempotency
            .get(&key)
            .map_or(0, |r| r.replays)
    }

    /// How many idempotency records the simulator keeps right now.
    pub fn idempotency_records(&self) -> usize {
        self.shared.state().idempotency.len()
    }

    /// Idempotency keys whose request changed state more than once.
    pub fn keys_committed_more_than_once(&self) -> Vec<Uuid> {
        self.shared
            .state()
            .idempotency
            .iter()
            .filter(|(_, r)| r.commits > 1)
            .map(|(k, _)| *k)
            .collect()
    }

    /// The counters of one route.
    pub fn counters(&self, route: Route) -> RouteCounters {
        self.shared
            .state()
            .counters
            .get(&route)
            .copied()
            .unwrap_or_default()
    }

    /// Requests received by `route` (faulted and refused ones included).
    pub fn requests_received(&self, route: Route) -> u64 {
        self.counters(route).received
    }

    /// Requests to `route` whose effect was committed.
    pub fn requests_committed(&self, route: Route) -> u64 {
        self.counters(route).committed
    }

    /// Requests received by all card routes.
    pub fn card_requests_received(&self) -> u64 {
        self.stats().card_total(|c| c.received)
    }

    /// Every counter at once.
    pub fn stats(&self) -> Stats {
        let state = self.shared.state();
        Stats {
            routes: Route::ALL
                .iter()
                .map(|r| (*r, state.counters.get(r).copied().unwrap_or_default()))
                .collect(),
            faults: state
                .faults_injected
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            tokens_issued: self.shared.tokens().issued_count(),
        }
    }

    // -- steering -----------------------------------------------------------

    /// The next `times` card requests get `fault` (before any random fault).
    pub fn fail_next(&self, times: usize, fault: Fault) {
        self.shared.faults().push(fault, times);
    }

    /// From now on a fraction `rate` of card requests get one of `kinds`.
    pub fn set_random_faults(&self, rate: f64, kinds: Vec<Fault>) {
        self.shared.faults().set_random(rate, kinds);
    }

    /// Restarts the fault RNG from `seed`.
    pub fn reseed_faults(&self, seed: u64) {
        self.shared.faults().reseed(seed);
    }

    /// No more faults, queued or random.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Makes every token issued so far expire now.
    pub fn expire_issued_tokens(&self) {
        self.shared.tokens().expire_all();
    }

    /// Moves the simulator's clock forward by `by`: tokens expire and
    /// idempotency records (kept [`IDEMPOTENCY_TTL`](crate::IDEMPOTENCY_TTL))
    /// are forgotten as if that much time had passed. Tokens issued after
    /// this carry an `expired_at` that far ahead of the real clock (a client
    /// sees a server clock that runs ahead of its own).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
        self.shared.tick();
    }

    /// The next `n` card orders fail when they settle: nothing changes (a
    /// failed assignment leaves a FAILED card and frees its number) and the
    /// `*.failed` event is published.
    pub fn fail_next_orders(&self, n: usize) {
        self.shared
            .failing_orders
            .fetch_add(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every event published so far (the last
    /// [`event_capacity`](MockServerBuilder::event_capacity) settled ones,
    /// and all those still being delivered), in order, with how its
    /// delivery went.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.webhooks.deliveries()
    }

    /// Waits until every order placed so far has settled and every event
    /// published is delivered, or given up on after its attempts.
    pub async fn wait_for_deliveries(&self) {
        self.shared.webhooks.settled().await;
    }

    /// Sends again the events that ran out of attempts.
    pub fn redeliver_failed(&self) {
        self.shared.webhooks.redeliver_failed();
    }

    /// The simulator's clock (the system time, plus what
    /// [`MockServer::advance_clock`] added).
    pub fn now(&self) -> std::time::SystemTime {
        self.shared.clock.now()
    }

    /// Holds every new card request once it is marked in flight, until
    /// [`MockServer::release`]. With [`MockServer::wait_for_held`] a test can
    /// put a request "in flight" deterministically.
    pub fn hold_requests(&self) {
        self.shared.hold.close();
    }

    /// Lets held requests (and every later one) through.
    pub fn release(&self) {
        self.shared.hold.open();
    }

    /// Waits until at least `n` requests are held.
    pub async fn wait_for_held(&self, n: usize) {
        self.shared.hold.wait_until(|held| held >= n).await;
    }

    /// Waits until at most `n` requests are held (held requests leave when
    /// released, or when their client goes away).
    pub async fn wait_for_held_at_most(&self, n: usize) {
        self.shared.hold.wait_until(|held| held <= n).await;
    }

    /// How many requests are held right now.
    pub fn held(&self) -> usize {
        self.shared.hold.held()
    }

    /// Stops accepting connections and closes open ones.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
