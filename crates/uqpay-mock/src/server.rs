//! Inspecting, steering and stopping a running simulator: the
//! [`MockServer`] handle, and the loop that accepts its connections
//! (configuring and starting one is `builder`'s).

pub(crate) mod builder;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::control::ConnectionKill;
use crate::faults::{check_rate, Fault};
use crate::shared::Shared;
use crate::state::{Card, Route, RouteCounters};
use crate::webhooks::Delivery;

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
        self.shared.state().idempotency.commits(key)
    }

    /// How many times the stored response of this key was replayed.
    pub fn replays_for_key(&self, key: Uuid) -> u32 {
        self.shared.state().idempotency.replays(key)
    }

    /// How many idempotency records the simulator keeps right now.
    pub fn idempotency_records(&self) -> usize {
        self.shared.state().idempotency.len()
    }

    /// Idempotency keys whose request changed state more than once.
    pub fn keys_committed_more_than_once(&self) -> Vec<Uuid> {
        self.shared.state().idempotency.committed_more_than_once()
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

    /// From now on a fraction `rate` (0..=1) of card requests get one of
    /// `kinds`.
    ///
    /// # Panics
    ///
    /// When `rate` is not a number from 0 to 1 (NaN, a negative rate, a
    /// rate over 1); the faults set before stay.
    pub fn set_random_faults(&self, rate: f64, kinds: Vec<Fault>) {
        let rate = check_rate(rate);
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
    /// idempotency records (kept [`IDEMPOTENCY_TTL`](crate::idempotency::IDEMPOTENCY_TTL))
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

    /// Every event published so far (the last `event_capacity` settled
    /// ones, see `MockServerBuilder::event_capacity`, and all those still
    /// being delivered), in order, with how its delivery went.
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

/// Accepts connections until `shutdown` turns true; each connection gets its
/// own kill switch (used by the connection-dropping faults).
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) {
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
                tokio::time::sleep(Duration::from_millis(10)).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_total_the_card_routes_without_the_token_route() {
        let counters = |received, rate_limited| RouteCounters {
            received,
            rate_limited,
            ..RouteCounters::default()
        };
        let stats = Stats {
            routes: [
                (Route::Token, counters(100, 1)),
                (Route::AssignCard, counters(3, 2)),
                (Route::RetrieveCard, counters(4, 0)),
            ]
            .into_iter()
            .collect(),
            ..Stats::default()
        };
        assert_eq!(stats.card_total(|c| c.received), 7);
        assert_eq!(stats.rate_limited(), 3, "the token route's too");
    }

    #[tokio::test]
    async fn a_server_answers_until_it_is_shut_down() {
        let server = MockServer::start().await.unwrap();
        let url = format!("{}/v1/nowhere", server.base_url());
        let http = reqwest::Client::new();
        let answer = http.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::NOT_FOUND);
        server.shutdown();
        // New connections are no longer accepted once the loop has seen
        // the shutdown; a fresh client has no pooled connection.
        let refused = loop {
            match reqwest::Client::new().get(&url).send().await {
                Err(e) => break e,
                Ok(_) => tokio::task::yield_now().await,
            }
        };
        assert!(refused.is_connect() || refused.is_request(), "{refused}");
    }
}
