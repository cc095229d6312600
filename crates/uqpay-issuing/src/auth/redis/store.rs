//! [`RedisTokenStore`]: one live token per client id for a whole fleet of
//! replicas, kept in Redis (feature `redis`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng as _;

use crate::auth::redis::connection::{Connection, Failure, Redis};
use crate::auth::redis::entry::{from_unix_ms, millis, Keys, Snapshot, Stored};
use crate::auth::store::{InFlight, Shared, TokenFuture, TokenStore};
use crate::auth::token::{AccessToken, Minter};
use crate::error::Error;

/// The shortest mint lock: the lock is kept alive every third of its
/// lifetime while its mint runs, and a shorter one would be renewed faster
/// than a loaded Redis answers.
pub(crate) const MIN_LOCK_TTL: Duration = Duration::from_secs(1);

/// The live token of each client id, shared through Redis by every replica
/// that uses the same credentials: the fleet behaves like one client.
///
/// UQPay voids every token of a client id when a new one is minted (its
/// Card Issuance FAQ; its quickstart says Card Issuance tokens coexist:
/// this store is right under both). With a token per replica, each
/// replica's renewal would log all the others out; with this store:
///
/// - the token lives in Redis under `uqpay-issuing:token:<client_id>` (never
///   the API key), with a TTL at its expiry; it is the only secret written;
/// - one mint at a time across the fleet, under a lock with an expiry
///   (`SET NX PX`, 30 s by default). The mint runs on a task of its own:
///   whatever becomes of the call that started it (a deadline, a dropped
///   future), the token UQPay issues is written to Redis and the lock is
///   handed back with it in one step. The lock is kept alive while the mint
///   runs (every third of its lifetime), so a slow mint keeps it, and a
///   replica that crashes while minting blocks the others for one lock
///   lifetime at most;
/// - renewal before expiry (five minutes before, at most half the
///   lifetime) happens once per fleet, in the background: calls holding a
///   valid token keep going while it runs. Every call first reads the store
///   (one round trip: the token, the lock, a recent failure), so a replica
///   sends the renewed token as soon as it is stored; calls in flight at the
///   instant of a mint meet a 401 and are retried once with the new token;
/// - after a 401, the store is read again: the refused token is replaced by
///   the stored one if another replica already minted, and a new one is
///   minted only if the refused token is still the stored one (checked
///   again under the lock);
/// - a failed mint is remembered in Redis for a second, so the fleet does
///   not hammer a failing token endpoint;
/// - an entry this version cannot read (written by hand, by another
///   version, or holding a token that is no valid header value) counts as
///   absent: it is replaced under the lock (by the token this replica holds,
///   or a new one), and logged once.
///
/// **When Redis is slow or unreachable** the replica keeps using the token
/// it already holds, until that token expires or is refused: a call waits
/// for Redis at most [`read_timeout`](Self::read_timeout) when it holds a
/// valid token, and after a failed or slow read the replica leaves Redis
/// alone for one [`operation_timeout`](Self::operation_timeout). It never
/// mints without the fleet's lock (that would void the other replicas'
/// token and start the very thrash this store prevents). A call that needs
/// a new token meanwhile fails with an [`Error::Token`] whose cause is the
/// [`Error::TokenStore`] error ([`Error::last`] finds it), which is
/// retryable. When Redis comes back empty (restarted without persistence),
/// a replica writes back the token it holds rather than minting a new one.
///
/// ```no_run
/// # fn main() -> Result<(), uqpay_issuing::Error> {
/// use uqpay_issuing::{Client, RedisTokenStore};
///
/// let store = RedisTokenStore::new("redis://127.0.0.1:6379/")?;
/// let client = Client::builder()
///     .credentials("client-id", "api-key")
///     .token_store(store)
///     .build()?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisTokenStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) redis: Redis,
    /// Whether a single server's store also reads and writes version
    /// 0.1.0's keys.
    pub(crate) legacy_keys: bool,
    pub(crate) namespace: String,
    pub(crate) lock_ttl: Duration,
    pub(crate) operation_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) check_interval: Duration,
    pub(crate) poll: Duration,
    /// What this process holds, per client id.
    pub(crate) local: Mutex<HashMap<String, Local>>,
    /// Whether an unreadable entry was logged already.
    pub(crate) warned_unreadable: AtomicBool,
}

/// What this process holds for one client id.
#[derive(Default)]
pub(crate) struct Local {
    /// The token last read or written: served when the check interval
    /// allows, and while Redis is slow or unreachable.
    pub(crate) held: Option<Held>,
    /// The mint (or renewal) of this process in flight.
    pub(crate) minting: Option<InFlight<Minted>>,
    /// Until when Redis is left alone after a failed or slow read.
    pub(crate) degraded_until: Option<Instant>,
    /// Mints started, to tell one from the next.
    pub(crate) mints: u64,
}

#[derive(Clone)]
pub(crate) struct Held {
    pub(crate) token: AccessToken,
    pub(crate) renew_at: SystemTime,
    pub(crate) checked: Instant,
}

/// How a mint task ended.
#[derive(Clone)]
pub(crate) enum Minted {
    /// The fleet's token (new, or found under the lock).
    Token(AccessToken),
    /// The mint failed.
    Failed(Error),
    /// Another replica holds the lock: read the store again.
    Busy,
}

/// A mint task's result, awaited by every caller of this process that needs
/// it; `None` when the task died without one (its runtime shut down).
pub(crate) type SharedMint = Shared<Minted>;

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTokenStore")
            .field("server", &self.inner.redis.describe())
            .field("namespace", &self.inner.namespace)
            .finish()
    }
}

impl RedisTokenStore {
    /// A store on the Redis server at `url` (`redis://host:port/db`, or
    /// `rediss://` with the `redis` crate's TLS features). Connects on
    /// first use; fails only if the URL is malformed. For a Redis Cluster
    /// (ElastiCache or Memorystore in cluster mode included), use
    /// [`cluster`](Self::cluster).
    pub fn new(url: &str) -> Result<Self, Error> {
        let redis = Redis::single(url).map_err(|e| {
            Error::Config(format!(
                "invalid Redis URL: {}",
                crate::redact::redact(&e.to_string())
            ))
        })?;
        Ok(Self::on(redis))
    }

    /// A store on a Redis Cluster, given its seed nodes (`redis://host:port`
    /// URLs: any of the cluster's nodes; the others are discovered). The
    /// cluster client follows `MOVED` and `ASK` redirections and refreshes
    /// the slot map after a failover or a reshard. Every setting works as
    /// on a single server, and the keys are the same: all keys of a client
    /// id share one hash tag (`<namespace>:{<client id>}:...`), so they lie
    /// in one slot and every script runs on one node. Connects on first
    /// use; fails only if no node is given or a URL is malformed.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), uqpay_issuing::Error> {
    /// use uqpay_issuing::{Client, RedisTokenStore};
    ///
    /// // ElastiCache in cluster mode: its configuration endpoint is a seed.
    /// let store = RedisTokenStore::cluster([
    ///     "redis://clustercfg.uqpay-fleet.abc123.use1.cache.amazonaws.com:6379",
    /// ])?;
    /// let client = Client::builder()
    ///     .credentials("client-id", "api-key")
    ///     .token_store(store)
    ///     .build()?;
    /// # let _ = client;
    /// # Ok(())
    /// # }
    /// ```
    pub fn cluster<I, S>(nodes: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nodes = nodes
            .into_iter()
            .map(|url| {
                redis::IntoConnectionInfo::into_connection_info(url.as_ref()).map_err(|e| {
                    Error::Config(format!(
                        "invalid Redis URL: {}",
                        crate::redact::redact(&e.to_string())
                    ))
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        if nodes.is_empty() {
            return Err(Error::Config(
                "a Redis Cluster needs at least one seed node".into(),
            ));
        }
        Ok(Self::on(Redis::cluster(nodes)))
    }

    fn on(redis: Redis) -> Self {
        Self {
            inner: Arc::new(Inner {
                redis,
                legacy_keys: true,
                namespace: "uqpay-issuing".into(),
                lock_ttl: Duration::from_secs(30),
                operation_timeout: Duration::from_secs(1),
                read_timeout: Duration::from_millis(100),
                check_interval: Duration::ZERO,
                poll: Duration::from_millis(20),
                local: Mutex::new(HashMap::new()),
                warned_unreadable: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) fn configure(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("configured before it is cloned or used");
        change(inner);
        self
    }

    /// The prefix of the keys (default `uqpay-issuing`): the keys of a
    /// client id are `<prefix>:{<client_id>}:token`, `:lock`, `:failed` and
    /// the rate limit's `:ratelimit:<window ms>` (and `:replicas`). Leave
    /// braces out of it: the braces around the client id are the keys' hash
    /// tag on a cluster.
    pub fn namespace(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.configure(|inner| inner.namespace = prefix)
    }

    /// How long the mint lock lives without being renewed (default 30 s):
    /// a replica that dies while minting blocks the others for this long at
    /// most. A mint that runs longer keeps its lock (it is extended every
    /// third of this while the mint runs; the mint itself is bounded by the
    /// client's timeout), so this need not exceed the timeout. Values under
    /// 1 s are raised to 1 s.
    pub fn lock_ttl(self, ttl: Duration) -> Self {
        if ttl < MIN_LOCK_TTL {
            tracing::warn!(
                asked_ms = millis(ttl),
                "lock_ttl under 1 s would be renewed faster than a loaded Redis answers; using 1 s"
            );
        }
        self.configure(|inner| inner.lock_ttl = ttl.max(MIN_LOCK_TTL))
    }

    /// The time limit of each Redis command (default 1 s); past it Redis
    /// counts as unreachable, and is left alone this long before it is
    /// asked again by a replica that holds a valid token.
    pub fn operation_timeout(self, timeout: Duration) -> Self {
        self.configure(|inner| inner.operation_timeout = timeout)
    }

    /// How long a call waits for its read of the store when this replica
    /// holds a valid token (default 100 ms; a healthy Redis answers in well
    /// under a millisecond on a local network): past it the held token is
    /// used. A replica that holds no valid token waits up to the
    /// [`operation_timeout`](Self::operation_timeout).
    pub fn read_timeout(self, timeout: Duration) -> Self {
        self.configure(|inner| inner.read_timeout = timeout)
    }

    /// How long a token read from Redis is used without reading it again
    /// (default 0: every call reads the store first, one round trip, so a
    /// replica never sends a token another replica has replaced). A longer
    /// interval saves the round trip at the price of 401s (each answered by
    /// one retry with the new token) after another replica renews.
    pub fn check_interval(self, interval: Duration) -> Self {
        self.configure(|inner| inner.check_interval = interval)
    }

    /// Whether a store on a single server also reads and writes the keys of
    /// version 0.1.0 (`<namespace>:token:<client id>` and its `:lock`), so
    /// that a fleet upgraded from 0.1.0 replica by replica keeps sharing one
    /// token (default: true; a cluster never does, 0.1.0 did not work there).
    /// Turn it off once no 0.1.0 replica is left, or behind a proxy that
    /// needs every key of a script in one slot (Envoy's or twemproxy's Redis
    /// proxy in front of a cluster): the 0.1.0 keys lie in other slots.
    pub fn legacy_keys(self, on: bool) -> Self {
        self.configure(|inner| inner.legacy_keys = on)
    }

    pub(crate) fn keys(&self, client_id: &str) -> Keys {
        Keys::of(
            &self.inner.namespace,
            client_id,
            self.inner.legacy_keys && !self.inner.redis.is_cluster(),
        )
    }

    /// One command (and the connection it needs) within `limit`.
    pub(crate) async fn run<T>(
        &self,
        limit: Duration,
        command: impl AsyncFnOnce(&mut Connection) -> Result<T, redis::RedisError>,
    ) -> Result<T, Failure> {
        self.inner
            .redis
            .run(limit, self.inner.operation_timeout, command)
            .await
    }

    pub(crate) fn local(&self) -> std::sync::MutexGuard<'_, HashMap<String, Local>> {
        self.inner.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn remember(&self, client_id: &str, token: &AccessToken, renew_at: SystemTime) {
        let mut local = self.local();
        let local = local.entry(client_id.to_owned()).or_default();
        local.held = Some(Held {
            token: token.clone(),
            renew_at,
            checked: Instant::now(),
        });
    }

    /// The token this replica holds, if it can be sent now (valid, not
    /// `refused`); a refused one is forgotten.
    pub(crate) fn held(&self, client_id: &str, refused: Option<&AccessToken>) -> Option<Held> {
        let mut local = self.local();
        let local = local.get_mut(client_id)?;
        let held = local.held.as_ref()?;
        if refused.is_some() && Some(&held.token) == refused {
            local.held = None;
            return None;
        }
        held.token
            .is_valid_at(SystemTime::now())
            .then(|| held.clone())
    }

    /// Whether Redis is being left alone after a failed or slow read.
    pub(crate) fn degraded(&self, client_id: &str) -> bool {
        self.degraded_until(client_id).is_some()
    }

    /// Until when Redis is left alone after a failed or slow read, if it is.
    pub(crate) fn degraded_until(&self, client_id: &str) -> Option<Instant> {
        self.local()
            .get(client_id)
            .and_then(|l| l.degraded_until)
            .filter(|until| Instant::now() < *until)
    }

    pub(crate) fn mark_degraded(&self, client_id: &str) {
        let until = Instant::now().checked_add(self.inner.operation_timeout);
        self.local()
            .entry(client_id.to_owned())
            .or_default()
            .degraded_until = until;
    }

    /// The token, whether a mint holds the lock, and a recent mint failure:
    /// one round trip.
    pub(crate) async fn read(&self, keys: &Keys, limit: Duration) -> Result<Snapshot, Failure> {
        let mut mget = redis::cmd("MGET");
        mget.arg(&keys.token).arg(&keys.lock).arg(&keys.failure);
        if let Some(legacy) = &keys.legacy {
            mget.arg(&legacy.token).arg(&legacy.lock);
        }
        let values: Vec<Option<String>> = self
            .run(limit, async |connection| mget.query_async(connection).await)
            .await?;
        let mut values = values.into_iter();
        let mut next = || values.next().flatten();
        let (token, lock, failure) = (next(), next(), next());
        let (legacy_token, legacy_lock) = (next(), next());
        Ok(Snapshot {
            stored: Stored::newest(Stored::parse(token), Stored::parse(legacy_token)),
            locked: lock.is_some() || legacy_lock.is_some(),
            failure,
        })
    }

    /// Redis could not be read: the token this replica holds, if it is
    /// still good; an error otherwise (never a mint without the lock).
    pub(crate) fn unreachable(
        &self,
        client_id: &str,
        refused: Option<&AccessToken>,
        why: Failure,
    ) -> Result<AccessToken, Error> {
        if let Failure::Misconfigured(message) = why {
            return Err(Error::Config(message));
        }
        match self.held(client_id, refused) {
            Some(held) => {
                tracing::warn!(error = %why, "Redis is unreachable; using the token this replica holds");
                Ok(held.token)
            }
            None => Err(Error::TokenStore {
                message: format!(
                    "Redis is unreachable ({why}) and this replica holds no valid token; \
                     it does not mint one without the fleet's lock"
                ),
            }),
        }
    }

    pub(crate) async fn token_for(
        &self,
        minter: &Minter,
        refused: Option<&AccessToken>,
    ) -> Result<AccessToken, Error> {
        let client_id = minter.client_id();
        let keys = self.keys(client_id);
        let inner = &self.inner;
        let give_up_at = inner
            .lock_ttl
            .checked_add(minter.timeout())
            .and_then(|wait| Instant::now().checked_add(wait + Duration::from_secs(1)));
        loop {
            let held = self.held(client_id, refused);
            if let Some(held) = held.as_ref().filter(|_| self.degraded(client_id)) {
                return Ok(held.token.clone());
            }
            // With a valid token at hand a slow Redis is not waited for.
            let limit = if held.is_some() {
                inner.read_timeout.min(inner.operation_timeout)
            } else {
                inner.operation_timeout
            };
            let snapshot = match self.read(&keys, limit).await {
                Ok(snapshot) => snapshot,
                Err(why) => {
                    if why.is_unreachable() {
                        self.mark_degraded(client_id);
                    }
                    return self.unreachable(client_id, refused, why);
                }
            };
            let now = SystemTime::now();
            if let Some((entry, token)) = snapshot.stored.usable(now, refused) {
                let renew = from_unix_ms(entry.renew_at_ms);
                self.remember(client_id, token, renew);
                // Due for renewal: once for the fleet, in the background;
                // this call goes on with the valid token.
                if now >= renew && !snapshot.locked && snapshot.failure.is_none() {
                    tracing::debug!("renewing the fleet's token before it expires");
                    let _renewal = self.start_mint(minter, &keys, entry.generation, None, None);
                }
                return Ok(token.clone());
            }
            if let Stored::Unreadable(why) = &snapshot.stored {
                if !inner.warned_unreadable.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        key = %keys.token,
                        "the token entry in Redis cannot be read ({why}); replacing it under the lock"
                    );
                }
            }
            if !snapshot.locked {
                if let Some(message) = snapshot.failure {
                    return Err(Error::TokenStore {
                        message: format!("a token mint failed less than a second ago: {message}"),
                    });
                }
                let seen = snapshot.stored.generation();
                match self
                    .start_mint(minter, &keys, seen, refused, held.clone())
                    .await
                {
                    Some(Minted::Token(token)) => return Ok(token),
                    Some(Minted::Failed(error)) => return Err(error),
                    // Another replica took the lock first, or the task died
                    // with its runtime: read the store again (after a pause).
                    Some(Minted::Busy) | None => {}
                }
            } else if let Some(held) = held {
                // Another replica is minting: keep going with the token at
                // hand (a 401 after the mint brings the new one).
                return Ok(held.token);
            }
            if give_up_at.is_some_and(|at| Instant::now() >= at) {
                return Err(Error::TokenStore {
                    message: "timed out waiting for another replica's token mint".into(),
                });
            }
            let jitter = rand::rng().random_range(Duration::ZERO..=inner.poll);
            tokio::time::sleep(inner.poll + jitter).await;
        }
    }
}

impl TokenStore for RedisTokenStore {
    fn current(&self, minter: &Minter) -> Option<AccessToken> {
        if self.inner.check_interval.is_zero() {
            return None;
        }
        let local = self.local();
        let held = local.get(minter.client_id())?.held.as_ref()?;
        (held.checked.elapsed() < self.inner.check_interval
            && held.token.is_valid_at(SystemTime::now()))
        .then(|| held.token.clone())
    }

    fn token<'a>(
        &'a self,
        minter: &'a Minter,
        refused: Option<&'a AccessToken>,
    ) -> TokenFuture<'a> {
        Box::pin(self.token_for(minter, refused))
    }
}
