//! The rate limit of a fleet, kept in the Redis of its `RedisTokenStore`.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng as _;

use crate::auth::redis::entry::{from_unix_ms, millis, Stored};
use crate::auth::redis::scripts::SLOT_AND_READ;
use crate::auth::redis::store::RedisTokenStore;
use crate::auth::token::{AccessToken, Minter};
use crate::error::Error;
use crate::ratelimit::local::LocalLimiter;
use crate::ratelimit::local::Pacing;
use crate::ratelimit::RateLimit;

/// The rate limit of a fleet, kept in the Redis of its `RedisTokenStore`:
/// every replica's calls together stay within it. Each call's slot is taken
/// in the same round trip as its token read ([`SLOT_AND_READ`]). Redis
/// slow or unreachable: the replica keeps its share of the limit in
/// process (the limit divided by the replicas the last answer counted; the
/// whole limit if it never reached Redis), never no limit, and never fails
/// a call for it. Not knowing what the fleet sent in the window before, the
/// share starts after one window; and for one window after Redis answers
/// again (which does not know the slots taken meanwhile) calls keep to the
/// share as well as to the fleet's slots.
pub(crate) struct FleetLimiter {
    store: RedisTokenStore,
    limit: RateLimit,
    /// This replica's mark among the fleet's.
    replica: String,
    calls: std::sync::atomic::AtomicU64,
    state: Mutex<FleetState>,
}

struct FleetState {
    pacing: Pacing,
    /// Replicas counted by the last answer (0: none yet).
    replicas: u32,
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

impl FleetLimiter {
    pub(crate) fn new(store: RedisTokenStore, limit: RateLimit) -> Self {
        Self {
            store,
            limit,
            replica: uuid::Uuid::new_v4().to_string(),
            calls: std::sync::atomic::AtomicU64::new(0),
            state: Mutex::new(FleetState {
                pacing: Pacing::new(&limit),
                replicas: 0,
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
        let keys = self.store.keys(client_id);
        let slots = format!("{}:ratelimit", keys.token);
        let replicas = format!("{slots}:replicas");
        let window = millis(self.limit.kept_window());
        let started = Instant::now();
        let mut waited_share = false;
        loop {
            if self.store.degraded(client_id) {
                return self.fallback(within, started, true).await.map(|()| None);
            }
            // Just back from an outage: the share still holds for a window.
            let recovering = {
                let mut state = self.state();
                let window = self.limit.kept_window();
                match state.fell_back_at {
                    Some(at) if at.elapsed() < window => true,
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
                self.fallback(within, started, false).await?;
                waited_share = true;
            }
            let cap = self.state().pacing.cap(Instant::now());
            let member = format!(
                "{}:{}",
                self.replica,
                self.calls.fetch_add(1, Ordering::Relaxed)
            );
            // With a valid token at hand a slow Redis is not waited for.
            let inner = &self.store.inner;
            let limit = if self.store.held(client_id, refused).is_some() {
                inner.read_timeout.min(inner.operation_timeout)
            } else {
                inner.operation_timeout
            };
            let answer: Result<(u64, u32, String, u8, String), String> = self
                .store
                .run(limit, async |connection| {
                    SLOT_AND_READ
                        .key(&keys.token)
                        .key(&keys.lock)
                        .key(&keys.failure)
                        .key(&slots)
                        .key(&replicas)
                        .arg(window)
                        .arg(cap)
                        .arg(&member)
                        .arg(&self.replica)
                        .invoke_async(connection)
                        .await
                })
                .await;
            let (wait, fleet, token, locked, failure) = match answer {
                Ok(answer) => answer,
                Err(why) => {
                    tracing::warn!(
                        error = %why,
                        "Redis is out of reach for the fleet's rate limit; keeping this replica's share"
                    );
                    self.store.mark_degraded(client_id);
                    continue;
                }
            };
            {
                let mut state = self.state();
                if state.replicas != fleet && state.fell_back_at.is_none() {
                    state.replicas = fleet;
                    state.fallback = None;
                }
            }
            if wait > 0 {
                let wait = Duration::from_millis(wait);
                let left = within.map(|w| w.saturating_sub(started.elapsed()));
                if left.is_some_and(|left| wait > left) {
                    return Err(Error::RateLimitTimeout {
                        wait,
                        idempotency_key: None,
                    });
                }
                tracing::debug!(wait_ms = millis(wait), "waiting for the fleet's rate limit");
                // A little jitter, so that replicas told the same slot do
                // not all ask at the same instant.
                let jitter = rand::rng().random_range(Duration::ZERO..=Duration::from_millis(2));
                tokio::time::sleep(wait + jitter).await;
                continue;
            }
            // The slot is this call's; the token too, if it can be sent as
            // it is (no mint under way, none failing, not due for renewal).
            let now = SystemTime::now();
            let stored = Stored::parse((!token.is_empty()).then_some(token));
            let usable = stored.usable(now, refused).filter(|(entry, _)| {
                locked == 0 && failure.is_empty() && now < from_unix_ms(entry.renew_at_ms)
            });
            return Ok(usable.map(|(entry, token)| {
                self.store
                    .remember(client_id, token, from_unix_ms(entry.renew_at_ms));
                token.clone()
            }));
        }
    }

    /// The share of this replica, kept in process while Redis is out of reach.
    /// `outage`: Redis is out of reach now (not just back).
    async fn fallback(
        &self,
        within: Option<Duration>,
        started: Instant,
        outage: bool,
    ) -> Result<(), Error> {
        let left = within.map(|w| w.saturating_sub(started.elapsed()));
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
                return Err(Error::RateLimitTimeout {
                    wait,
                    idempotency_key: None,
                })
            }
        }
        Ok(())
    }
}
