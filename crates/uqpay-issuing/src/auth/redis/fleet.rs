//! The rate limit of a fleet, kept in the Redis of its `RedisTokenStore`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
///   instead of erasing each other's.
/// - **Waiters queue in process.** The calls of one replica take turns
///   (first come, first served): only the one whose turn it is asks Redis,
///   and a granted call says when the next slot frees (from the same
///   answer), so that the next one sleeps until then instead of asking
///   early. A queue of any length costs about one script run a call; a
///   cancelled caller just leaves the queue (nothing is booked in Redis).
///   A call whose deadline comes before the earliest slot it can get (the
///   next slot, one window more for each limit's worth of calls queued
///   ahead of it) fails at once.
/// - **Its own count too.** Each replica also counts its own grants and
///   never goes past its share of a window on that count (the limit divided
///   by the replicas that took slots in the last two windows), so a Redis
///   that loses the log (a flush, a restart without persistence) cannot
///   let a whole second burst through.
/// - **Redis slow or unreachable:** the replica keeps its share of the
///   limit in process (the whole limit if it never reached Redis), never no
///   limit. Not knowing what the fleet sent in the window before, the share
///   starts after one window; and for one window after Redis answers again
///   (which does not know the slots taken meanwhile) calls keep to the share
///   as well as to the fleet's slots. Each round trip is bounded by what is
///   left of the call's deadline as well as by the store's timeouts: a call
///   whose deadline passes while Redis says nothing fails with an error that
///   says so.
pub(crate) struct FleetLimiter {
    store: RedisTokenStore,
    limit: RateLimit,
    /// This replica's mark among the fleet's.
    replica: String,
    calls: AtomicU64,
    /// Whose turn it is to ask Redis (tokio's mutex is fair: first come,
    /// first served).
    turn: tokio::sync::Mutex<()>,
    /// Calls waiting for their turn or holding it.
    queued: AtomicUsize,
    state: Mutex<FleetState>,
}

struct FleetState {
    pacing: Pacing,
    /// Replicas counted by the last answer (0: none yet).
    replicas: u32,
    /// When the next slot frees, as the last answer said (a waiter's, or
    /// the one after the last grant).
    next_slot: Option<Instant>,
    /// This replica's grants of the last window.
    granted: VecDeque<Instant>,
    /// The share kept in process while Redis is out of reach.
    fallback: Option<Arc<LocalLimiter>>,
    /// When the share was last used: for one window after Redis comes
    /// back, calls keep to it too (Redis does not know the slots taken
    /// meanwhile, and would let a whole burst through at once).
    fell_back_at: Option<Instant>,
}

impl fmt::Debug for FleetLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetLimiter")
            .field("store", &self.store)
            .field("limit", &self.limit)
            .finish()
    }
}

/// A call in the replica's queue (counted while it waits or holds the turn).
struct InQueue<'a>(&'a AtomicUsize);

impl<'a> InQueue<'a> {
    fn join(queued: &'a AtomicUsize) -> (Self, usize) {
        let ahead = queued.fetch_add(1, Ordering::Relaxed);
        (Self(queued), ahead)
    }
}

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The answer of [`SLOT_AND_READ`]: `(wait ms (0: granted), replicas, token
/// or "", locked 0/1, failure or "", ms until the next slot after a grant,
/// the 0.1.0 token or "")`.
type SlotAnswer = (u64, u32, String, u8, String, u64, String);

impl FleetLimiter {
    pub(crate) fn new(store: RedisTokenStore, limit: RateLimit) -> Self {
        Self {
            store,
            limit,
            replica: uuid::Uuid::new_v4().to_string(),
            calls: AtomicU64::new(0),
            turn: tokio::sync::Mutex::new(()),
            queued: AtomicUsize::new(0),
            state: Mutex::new(FleetState {
                pacing: Pacing::new(&limit),
                replicas: 0,
                next_slot: None,
                granted: VecDeque::new(),
                fallback: None,
                fell_back_at: None,
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

    /// The earliest a call with `ahead` calls queued before it can start:
    /// the next slot, and one window more for each limit's worth of calls
    /// ahead (no window holds more than the limit).
    fn earliest(&self, ahead: usize, now: Instant) -> Option<Instant> {
        let state = self.state();
        let next = state.next_slot.filter(|at| *at > now)?;
        let cap = state.pacing.cap(now).max(1) as usize;
        let windows = u32::try_from(ahead / cap).unwrap_or(u32::MAX);
        next.checked_add(self.limit.kept_window().saturating_mul(windows))
    }

    /// How long this replica waits on its own count: until fewer than its
    /// share of the window's calls are its own.
    fn own_wait(&self, now: Instant) -> Duration {
        let window = self.limit.kept_window();
        let mut state = self.state();
        while state
            .granted
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= window)
        {
            state.granted.pop_front();
        }
        let share = (state.pacing.cap(now) / state.replicas.max(1)).max(1) as usize;
        if state.granted.len() < share {
            return Duration::ZERO;
        }
        let oldest = state.granted[state.granted.len() - share];
        (oldest + window).saturating_duration_since(now)
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
        if self.store.degraded(client_id) {
            return self.fallback(deadline, true, None).await.map(|()| None);
        }
        let (_queued, ahead) = InQueue::join(&self.queued);
        // Behind a queue that cannot reach the deadline: fail at once.
        if let (Some(deadline), Some(earliest)) = (deadline, self.earliest(ahead, started)) {
            if earliest > deadline {
                return Err(Error::RateLimitTimeout {
                    wait: earliest - started,
                    idempotency_key: None,
                });
            }
        }
        let turn = match deadline {
            None => self.turn.lock().await,
            Some(deadline) => {
                match tokio::time::timeout_at(deadline.into(), self.turn.lock()).await {
                    Ok(turn) => turn,
                    Err(_) => {
                        let now = Instant::now();
                        let wait = self.earliest(0, now).map_or(Duration::ZERO, |at| at - now);
                        return Err(Error::RateLimitTimeout {
                            wait,
                            idempotency_key: None,
                        });
                    }
                }
            }
        };
        let slot = self.with_turn(minter, refused, deadline).await;
        drop(turn);
        match slot {
            Slot::Granted(token) => Ok(token),
            Slot::Failed(error) => Err(error),
            // Out of reach: the share in process (after the turn is handed
            // on, so that the others fall back too).
            Slot::Unreachable(why) => self
                .fallback(deadline, true, Some(&why))
                .await
                .map(|()| None),
        }
    }

    /// The turn of a call: waits as long as its own count, the slot the
    /// last answer announced, and then Redis, say.
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
        let mut waited_share = false;
        loop {
            if self.store.degraded(client_id) {
                return Slot::Unreachable("Redis was left alone after a failure".into());
            }
            // Just back from an outage: the share still holds for a window.
            let recovering = {
                let mut state = self.state();
                match state.fell_back_at {
                    Some(at) if at.elapsed() < self.limit.kept_window() => true,
                    Some(_) => {
                        state.fell_back_at = None;
                        false
                    }
                    None => false,
                }
            };
            if recovering && !waited_share {
                // Before the fleet's slot, so that the slot Redis records
                // is when the call goes.
                if let Err(error) = self.fallback(deadline, false, None).await {
                    return Slot::Failed(error);
                }
                waited_share = true;
            }
            // What is known here already: this replica's own count, and the
            // next slot the last answer announced.
            let now = Instant::now();
            let announced = self
                .state()
                .next_slot
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
            // With a valid token at hand a slow Redis is not waited for;
            // and never past the call's deadline.
            let inner = &self.store.inner;
            let store_limit = if self.store.held(client_id, refused).is_some() {
                inner.read_timeout.min(inner.operation_timeout)
            } else {
                inner.operation_timeout
            };
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let limit = left.map_or(store_limit, |left| store_limit.min(left));
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
            let (wait, fleet, token, locked, failure, next, legacy) = match answer {
                Ok(answer) => answer,
                Err(Failure::Misconfigured(message)) => {
                    return Slot::Failed(Error::Config(message));
                }
                Err(why) if left.is_some_and(|left| left < store_limit) => {
                    return Slot::Failed(Error::TokenStore {
                        message: format!(
                            "Redis did not answer within the {}ms left before the call's \
                             deadline ({why}); no slot of the fleet's rate limit was taken",
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
                    return Slot::Unreachable(why.to_string());
                }
            };
            let now = Instant::now();
            {
                let mut state = self.state();
                if state.replicas != fleet && state.fell_back_at.is_none() {
                    state.replicas = fleet;
                    state.fallback = None;
                }
                let until = if wait > 0 { wait } else { next };
                state.next_slot = (until > 0)
                    .then(|| now.checked_add(Duration::from_millis(until)))
                    .flatten();
                if wait == 0 {
                    state.granted.push_back(now);
                }
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

    /// The share of this replica, kept in process while Redis is out of reach.
    /// `outage`: Redis is out of reach now (not just back); `why`: what it
    /// said (or did not), for the error when the share has no slot in time.
    async fn fallback(
        &self,
        deadline: Option<Instant>,
        outage: bool,
        why: Option<&str>,
    ) -> Result<(), Error> {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let share = {
            let mut state = self.state();
            let share = self.limit.share(state.replicas.max(1));
            if outage {
                state.fell_back_at = Some(Instant::now());
            }
            // Full at first: what the fleet sent in the last window is
            // unknown here, so the share starts after one window.
            state
                .fallback
                .get_or_insert_with(|| Arc::new(LocalLimiter::full(share, Instant::now())))
                .clone()
        };
        // A call cancelled while it waits gives its slot of the share back.
        let reserved = share.reserve(Instant::now(), left);
        match reserved {
            Ok(booking) => booking.wait().await,
            Err(wait) => {
                return Err(match why {
                    Some(why) => Error::TokenStore {
                        message: format!(
                            "Redis did not answer for the fleet's rate limit ({why}), and this \
                             replica's share of the limit has no slot before the call's deadline \
                             (the next is {}ms away)",
                            wait.as_millis()
                        ),
                    },
                    None => Error::RateLimitTimeout {
                        wait,
                        idempotency_key: None,
                    },
                })
            }
        }
        Ok(())
    }
}

/// How a call's turn ended.
enum Slot {
    /// A slot, and the token the same read found, if it can be sent as it is.
    Granted(Option<AccessToken>),
    Failed(Error),
    /// Redis is out of reach (why): the share in process.
    Unreachable(String),
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
