//! The rate limit of a fleet, kept in the Redis of its `RedisTokenStore`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng as _;

use crate::auth::redis::connection::Failure;
use crate::auth::redis::entry::{from_unix_ms, millis, Stored};
use crate::auth::redis::scripts::SLOT_AND_READ;
use crate::auth::redis::store::RedisTokenStore;
use crate::auth::token::{AccessToken, Minter};
use crate::error::Error;
use crate::ratelimit::local::{LocalLimiter, Pacing};
use crate::ratelimit::RateLimit;

/// The rate limit of a fleet, kept in the Redis of its `RedisTokenStore`:
/// every replica's calls together stay within it.
///
/// - **One round trip a call.** A call's slot is taken in the same round
///   trip as its token read ([`SLOT_AND_READ`]), keyed by the limit's
///   window (`...:ratelimit:<window ms>`), so that replicas configured with
///   another window (a rolling deploy that changes it) keep their own log
///   instead of erasing each other's. The round trip waits up to the
///   store's `operation_timeout` (the slot has to come from Redis), and
///   never past the call's deadline.
/// - **Waiters queue in process.** The calls of one replica take turns
///   (first come, first served): only the one whose turn it is asks Redis,
///   and a granted call says when the next slot frees (from the same
///   answer), so that the next one sleeps until then instead of asking
///   early. A queue of any length costs about one script run a call; a
///   cancelled caller just leaves the queue (nothing is booked in Redis).
///   A call whose deadline comes before the next slot fails at once.
/// - **Its own count when the log is lost.** Each replica counts its own
///   grants. When Redis knows fewer calls in the window than this replica
///   alone made (the log was flushed, or Redis restarted without
///   persistence, or it missed the grants made in process during an
///   outage), the replica keeps, for one window, to its share of the limit
///   on its own count (the limit divided by the replicas that took slots in
///   the last two windows): no second burst goes through. Otherwise a
///   replica may take any free slot of the fleet's limit.
/// - **Redis out of reach:** the replica keeps its share of the limit in
///   process (the whole limit if it never reached Redis), never no limit.
///   Not knowing what the fleet sent in the window before, the share starts
///   after one window; its grants count as the replica's own, so that when
///   Redis answers again (not knowing them) the replica keeps to its share
///   for the rest of the window. Errors meanwhile say that Redis did not
///   answer.
pub(crate) struct FleetLimiter {
    store: RedisTokenStore,
    limit: RateLimit,
    /// This replica's mark among the fleet's.
    replica: String,
    calls: AtomicU64,
    /// Whose turn it is to ask Redis (tokio's mutex is fair: first come,
    /// first served).
    turn: tokio::sync::Mutex<()>,
    state: Mutex<FleetState>,
}

struct FleetState {
    pacing: Pacing,
    /// Replicas counted by the last answer (0: none yet).
    replicas: u32,
    /// When the next slot frees, as the last answer said (a waiter's, or
    /// the one after the last grant).
    next_slot: Option<Instant>,
    /// This replica's grants (from Redis, or from the share in process) of
    /// the last window.
    granted: VecDeque<Instant>,
    /// Until when this replica keeps to its share on its own count (Redis
    /// lost grants of the window).
    lost_until: Option<Instant>,
    /// Since when the call whose turn it is waits for Redis.
    asking_since: Option<Instant>,
    /// Why Redis was last out of reach.
    last_failure: String,
    /// The share kept in process while Redis is out of reach.
    fallback: Option<Arc<LocalLimiter>>,
}

impl fmt::Debug for FleetLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetLimiter")
            .field("store", &self.store)
            .field("limit", &self.limit)
            .finish()
    }
}

/// The answer of [`SLOT_AND_READ`]: `(wait ms (0: granted), replicas, token
/// or "", locked 0/1, failure or "", ms until the next slot after a grant,
/// the 0.1.0 token or "", the calls the log held in the window before this
/// one)`.
type SlotAnswer = (u64, u32, String, u8, String, u64, String, u64);

impl FleetLimiter {
    pub(crate) fn new(store: RedisTokenStore, limit: RateLimit) -> Self {
        Self {
            store,
            limit,
            replica: uuid::Uuid::new_v4().to_string(),
            calls: AtomicU64::new(0),
            turn: tokio::sync::Mutex::new(()),
            state: Mutex::new(FleetState {
                pacing: Pacing::new(&limit),
                replicas: 0,
                next_slot: None,
                granted: VecDeque::new(),
                lost_until: None,
                asking_since: None,
                last_failure: String::new(),
                fallback: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FleetState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A 429 came anyway: this replica lowers the cap it asks Redis for.
    pub(crate) fn throttled(&self) -> bool {
        self.state().pacing.throttled(Instant::now())
    }

    /// When the next slot frees, if the last answer said it is later than
    /// `now`.
    fn next_slot(&self, now: Instant) -> Option<Instant> {
        self.state().next_slot.filter(|at| *at > now)
    }

    /// Forgets this replica's grants older than the window ending at `now`.
    fn prune(&self, state: &mut FleetState, now: Instant) {
        let window = self.limit.kept_window();
        while state
            .granted
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= window)
        {
            state.granted.pop_front();
        }
    }

    /// The share of the limit this replica keeps when on its own.
    fn share(state: &FleetState, now: Instant) -> usize {
        (state.pacing.cap(now) / state.replicas.max(1)).max(1) as usize
    }

    /// Records a grant of this replica at `now` (from Redis, or from the
    /// share in process).
    fn record(&self, state: &mut FleetState, now: Instant) {
        self.prune(state, now);
        state.granted.push_back(now);
    }

    /// How long this replica waits on its own count: nothing unless Redis
    /// lost grants of the window; then until fewer than its share of the
    /// window's calls are its own.
    fn own_wait(&self, now: Instant) -> Duration {
        let mut state = self.state();
        if state.lost_until.is_none_or(|until| now >= until) {
            state.lost_until = None;
            return Duration::ZERO;
        }
        self.prune(&mut state, now);
        let share = Self::share(&state, now);
        if state.granted.len() < share {
            return Duration::ZERO;
        }
        let oldest = state.granted[state.granted.len() - share];
        (oldest + self.limit.kept_window()).saturating_duration_since(now)
    }

    /// A slot was granted at `now`; Redis's log held `known` calls of the
    /// window before it. If this replica alone made more in the window (a
    /// little less than a window, so that the two clocks' edges do not
    /// count), Redis lost some: keep to the share on the own count for a
    /// window.
    fn granted(&self, now: Instant, known: u64) {
        let window = self.limit.kept_window();
        let edge = (window / 20).max(Duration::from_millis(100));
        let mut state = self.state();
        self.prune(&mut state, now);
        let recent = state
            .granted
            .iter()
            .filter(|at| now.saturating_duration_since(**at) + edge < window)
            .count() as u64;
        if recent > known {
            if state.lost_until.is_none() {
                tracing::warn!(
                    known,
                    own = recent,
                    "Redis knows fewer calls of the window than this replica made: \
                     keeping to this replica's share for a window"
                );
            }
            state.lost_until = now.checked_add(window);
        }
        self.record(&mut state, now);
    }

    /// Waits for a slot of the fleet's limit (at most `within`); the token
    /// to send when the same read found a usable one.
    pub(crate) async fn acquire(
        &self,
        minter: Option<&Minter>,
        refused: Option<&AccessToken>,
        within: Option<Duration>,
    ) -> Result<Option<AccessToken>, Error> {
        let Some(minter) = minter else {
            return Ok(None);
        };
        let client_id = minter.client_id();
        let started = Instant::now();
        let deadline = within.and_then(|w| started.checked_add(w));
        loop {
            if self.store.degraded(client_id) {
                match self.fallback(client_id, deadline).await? {
                    Fallback::Granted => return Ok(None),
                    // Redis may answer again: ask it.
                    Fallback::RedisBack => continue,
                }
            }
            // The next slot is past the deadline: fail at once.
            let now = Instant::now();
            if let (Some(deadline), Some(next)) = (deadline, self.next_slot(now)) {
                if next > deadline {
                    return Err(Error::RateLimitTimeout {
                        wait: next - now,
                        idempotency_key: None,
                    });
                }
            }
            let turn = match deadline {
                None => self.turn.lock().await,
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline.into(), self.turn.lock()).await {
                        Ok(turn) => turn,
                        Err(_) => return Err(self.no_turn_in_time()),
                    }
                }
            };
            let slot = self.with_turn(minter, refused, deadline).await;
            drop(turn);
            match slot {
                Slot::Granted(token) => return Ok(token),
                Slot::Failed(error) => return Err(error),
                // Out of reach: the share in process (after the turn is
                // handed on, so that the others fall back too).
                Slot::Unreachable => continue,
            }
        }
    }

    /// The deadline passed while the call waited for its turn: because the
    /// call whose turn it is still waits for Redis, or for a slot.
    fn no_turn_in_time(&self) -> Error {
        let now = Instant::now();
        let state = self.state();
        if let Some(since) = state.asking_since {
            return Error::TokenStore {
                message: format!(
                    "Redis has not answered the fleet's rate limit for {}ms; the call's \
                     deadline passed while it waited",
                    now.saturating_duration_since(since).as_millis()
                ),
            };
        }
        Error::RateLimitTimeout {
            wait: state
                .next_slot
                .map_or(Duration::ZERO, |at| at.saturating_duration_since(now)),
            idempotency_key: None,
        }
    }

    /// The turn of a call: waits as long as its own count (after Redis lost
    /// grants), the slot the last answer announced, and then Redis, say.
    async fn with_turn(
        &self,
        minter: &Minter,
        refused: Option<&AccessToken>,
        deadline: Option<Instant>,
    ) -> Slot {
        let client_id = minter.client_id();
        let keys = self.store.keys(client_id);
        let window = millis(self.limit.kept_window());
        let (slots, replicas) = (keys.slots(window), keys.replicas(window));
        loop {
            if self.store.degraded(client_id) {
                return Slot::Unreachable;
            }
            // What is known here already: the next slot the last answer
            // announced, and this replica's own count after a lost log.
            let now = Instant::now();
            let announced = self
                .next_slot(now)
                .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
            let wait = self.own_wait(now).max(announced);
            if !wait.is_zero() {
                if let Err(error) = self.sleep(wait, deadline).await {
                    return Slot::Failed(error);
                }
                continue;
            }
            let cap = self.state().pacing.cap(Instant::now());
            let member = format!(
                "{}:{}",
                self.replica,
                self.calls.fetch_add(1, Ordering::Relaxed)
            );
            // The slot has to come from Redis: up to the store's operation
            // timeout, and never past the call's deadline.
            let operation = self.store.inner.operation_timeout;
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let limit = left.map_or(operation, |left| operation.min(left));
            self.state().asking_since = Some(Instant::now());
            let answer: Result<SlotAnswer, Failure> = self
                .store
                .run(limit, async |connection| {
                    let mut script = SLOT_AND_READ.key(&keys.token);
                    script
                        .key(&keys.lock)
                        .key(&keys.failure)
                        .key(&slots)
                        .key(&replicas);
                    if let Some(legacy) = &keys.legacy {
                        script.key(&legacy.token).key(&legacy.lock);
                    }
                    script
                        .arg(window)
                        .arg(cap)
                        .arg(&member)
                        .arg(&self.replica)
                        .invoke_async(connection)
                        .await
                })
                .await;
            self.state().asking_since = None;
            let (wait, fleet, token, locked, failure, next, legacy, known) = match answer {
                Ok(answer) => {
                    self.store.inner.redis.wrote();
                    answer
                }
                Err(Failure::Misconfigured(message)) => {
                    return Slot::Failed(Error::Config(message));
                }
                Err(Failure::TimedOut(_)) if left.is_some_and(|left| left < operation) => {
                    return Slot::Failed(Error::TokenStore {
                        message: format!(
                            "Redis did not answer within the {}ms left before the call's \
                             deadline; no slot of the fleet's rate limit was taken",
                            left.unwrap_or_default().as_millis()
                        ),
                    });
                }
                Err(why) => {
                    tracing::warn!(
                        error = %why,
                        "Redis is out of reach for the fleet's rate limit; keeping this replica's share"
                    );
                    self.store.mark_degraded(client_id);
                    self.state().last_failure = why.to_string();
                    return Slot::Unreachable;
                }
            };
            let now = Instant::now();
            {
                let mut state = self.state();
                state.replicas = fleet;
                // Redis answers: the next outage starts its share afresh.
                state.fallback = None;
                let until = if wait > 0 { wait } else { next };
                state.next_slot = (until > 0)
                    .then(|| now.checked_add(Duration::from_millis(until)))
                    .flatten();
            }
            if wait > 0 {
                tracing::debug!(wait_ms = wait, "waiting for the fleet's rate limit");
                // A little jitter, so that replicas told the same slot do
                // not all ask at the same instant.
                let jitter = rand::rng().random_range(Duration::ZERO..=Duration::from_millis(2));
                if let Err(error) = self
                    .sleep(Duration::from_millis(wait) + jitter, deadline)
                    .await
                {
                    return Slot::Failed(error);
                }
                continue;
            }
            self.granted(now, known);
            // The slot is this call's; the token too, if it can be sent as
            // it is (no mint under way, none failing, not due for renewal).
            let now = SystemTime::now();
            let parse = |text: String| Stored::parse((!text.is_empty()).then_some(text));
            let stored = Stored::newest(parse(token), parse(legacy));
            let usable = stored.usable(now, refused).filter(|(entry, _)| {
                locked == 0 && failure.is_empty() && now < from_unix_ms(entry.renew_at_ms)
            });
            return Slot::Granted(usable.map(|(entry, token)| {
                self.store
                    .remember(client_id, token, from_unix_ms(entry.renew_at_ms));
                token.clone()
            }));
        }
    }

    /// Sleeps `wait`, or fails at once when that passes the deadline.
    async fn sleep(&self, wait: Duration, deadline: Option<Instant>) -> Result<(), Error> {
        if deadline.is_some_and(|d| Instant::now().checked_add(wait).is_none_or(|at| at > d)) {
            return Err(Error::RateLimitTimeout {
                wait,
                idempotency_key: None,
            });
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// The share of this replica, kept in process while Redis is out of
    /// reach; its grants count as the replica's own. A call waiting for its
    /// share asks Redis again (giving its slot of the share back) as soon as
    /// Redis is no longer left alone.
    async fn fallback(
        &self,
        client_id: &str,
        deadline: Option<Instant>,
    ) -> Result<Fallback, Error> {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let (share, why) = {
            let mut state = self.state();
            let share = self.limit.share(state.replicas.max(1));
            // Full at first: what the fleet sent in the last window is
            // unknown here, so the share starts after one window.
            let limiter = state
                .fallback
                .get_or_insert_with(|| Arc::new(LocalLimiter::full(share, Instant::now())))
                .clone();
            (limiter, state.last_failure.clone())
        };
        // A call cancelled while it waits gives its slot of the share back.
        let booking = match share.reserve(Instant::now(), left) {
            Ok(booking) => booking,
            Err(wait) => {
                let why = if why.is_empty() { "no answer" } else { &why };
                return Err(Error::TokenStore {
                    message: format!(
                        "Redis did not answer for the fleet's rate limit ({why}), and this \
                         replica's share of the limit has no slot before the call's deadline \
                         (the next is {}ms away)",
                        wait.as_millis()
                    ),
                });
            }
        };
        let start = Instant::now() + booking.wait;
        loop {
            match self.store.degraded_until(client_id) {
                // Redis is to be asked again before the slot comes.
                Some(until) if until < start => {
                    tokio::time::sleep_until(until.into()).await;
                }
                None if Instant::now() < start => return Ok(Fallback::RedisBack),
                _ => break,
            }
        }
        booking.wait().await;
        // Redis does not know this grant: it is this replica's own (pruned
        // here too: an outage may last many windows).
        let mut state = self.state();
        self.record(&mut state, Instant::now());
        Ok(Fallback::Granted)
    }
}

/// How a wait for the share in process ended.
enum Fallback {
    Granted,
    /// Redis is no longer left alone: the slot was given back, ask Redis.
    RedisBack,
}

/// How a call's turn ended.
enum Slot {
    /// A slot, and the token the same read found, if it can be sent as it is.
    Granted(Option<AccessToken>),
    Failed(Error),
    /// Redis is out of reach: the share in process.
    Unreachable,
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::auth::redis::store::RedisTokenStore;
    use crate::client::Client;
    use crate::error::Error;
    use crate::ratelimit::RateLimit;
    use crate::testing::{late_server, silent_server, token_answer, update, UPDATE_CARD};

    /// A Redis that accepts connections and never answers, and a call with
    /// a deadline of 200 ms: the fleet's round trip is cut at the deadline
    /// (not at the store's 3 s), and the error says Redis did not answer.
    #[tokio::test]
    async fn a_frozen_redis_does_not_push_a_call_past_its_deadline() {
        let redis = silent_server().await;
        let api = late_server(Duration::ZERO, |path| {
            if path.ends_with("/connect/token") {
                token_answer()
            } else {
                UPDATE_CARD.into()
            }
        })
        .await;
        let store = RedisTokenStore::new(&format!("redis://{redis}/"))
            .unwrap()
            .operation_timeout(Duration::from_secs(3));
        let client = Client::builder()
            .credentials("client", "key")
            .base_url(api)
            .token_store(store)
            .rate_limit(RateLimit::new(10, Duration::from_secs(1)))
            .build()
            .unwrap();
        let started = Instant::now();
        let error = update(&client, |call| call.deadline(Duration::from_millis(200)))
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(took < Duration::from_millis(1500), "the call took {took:?}");
        let text = error.to_string();
        assert!(text.contains("Redis did not answer"), "{text}");
        assert!(
            matches!(error.last(), Error::TokenStore { .. }),
            "{error:?}"
        );
    }
}
