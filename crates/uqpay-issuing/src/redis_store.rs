//! [`RedisTokenStore`]: one live token per client id for a whole fleet of
//! replicas, kept in Redis (feature `redis`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::token::{AccessToken, Minter};
use crate::token_store::{renew_at, InFlight, Shared, TokenFuture, TokenStore, FAILURE_MEMORY};
use crate::Error;

/// The shortest mint lock: the lock is kept alive every third of its
/// lifetime while its mint runs, and a shorter one would be renewed faster
/// than a loaded Redis answers.
const MIN_LOCK_TTL: Duration = Duration::from_secs(1);

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
/// a new token meanwhile fails with [`Error::TokenStore`], which is
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
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    namespace: String,
    lock_ttl: Duration,
    operation_timeout: Duration,
    read_timeout: Duration,
    check_interval: Duration,
    poll: Duration,
    /// What this process holds, per client id.
    local: Mutex<HashMap<String, Local>>,
    /// Whether an unreadable entry was logged already.
    warned_unreadable: AtomicBool,
}

/// What this process holds for one client id.
#[derive(Default)]
struct Local {
    /// The token last read or written: served when the check interval
    /// allows, and while Redis is slow or unreachable.
    held: Option<Held>,
    /// The mint (or renewal) of this process in flight.
    minting: Option<InFlight<Minted>>,
    /// Until when Redis is left alone after a failed or slow read.
    degraded_until: Option<Instant>,
    /// Mints started, to tell one from the next.
    mints: u64,
}

#[derive(Clone)]
struct Held {
    token: AccessToken,
    renew_at: SystemTime,
    checked: Instant,
}

/// How a mint task ended.
#[derive(Clone)]
enum Minted {
    /// The fleet's token (new, or found under the lock).
    Token(AccessToken),
    /// The mint failed.
    Failed(Error),
    /// Another replica holds the lock: read the store again.
    Busy,
}

/// A mint task's result, awaited by every caller of this process that needs
/// it; `None` when the task died without one (its runtime shut down).
type SharedMint = Shared<Minted>;

/// The stored token of a client id.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    token: String,
    expires_at_ms: u64,
    /// When the fleet renews it.
    renew_at_ms: u64,
    /// Counts the mints of the client id.
    generation: u64,
}

impl Entry {
    fn of(token: &AccessToken, renew_at: SystemTime, generation: u64) -> Self {
        Self {
            token: token.expose().to_owned(),
            expires_at_ms: unix_ms(token.expires_at()),
            renew_at_ms: unix_ms(renew_at),
            generation,
        }
    }
}

/// What the token key holds.
enum Stored {
    Missing,
    /// Something this version cannot use, and why.
    Unreadable(&'static str),
    Entry(Entry, AccessToken),
}

impl Stored {
    fn parse(text: Option<String>) -> Self {
        let Some(text) = text else {
            return Self::Missing;
        };
        let Ok(entry) = serde_json::from_str::<Entry>(&text) else {
            return Self::Unreadable("not an entry of this version");
        };
        match AccessToken::new(entry.token.clone(), from_unix_ms(entry.expires_at_ms)) {
            Ok(token) => Self::Entry(entry, token),
            Err(_) => Self::Unreadable("its token is not a valid header value"),
        }
    }

    fn generation(&self) -> u64 {
        match self {
            Self::Entry(entry, _) => entry.generation,
            _ => 0,
        }
    }

    /// The stored token if it can be sent now (valid, not `refused`).
    fn usable(
        &self,
        now: SystemTime,
        refused: Option<&AccessToken>,
    ) -> Option<(&Entry, &AccessToken)> {
        match self {
            Self::Entry(entry, token) if token.is_valid_at(now) && Some(token) != refused => {
                Some((entry, token))
            }
            _ => None,
        }
    }
}

/// One read of the store: the token key, whether a mint holds the lock, a
/// recent mint failure.
struct Snapshot {
    stored: Stored,
    locked: bool,
    failure: Option<String>,
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Takes the lock (`KEYS[2]`, owner `ARGV[1]`, `ARGV[2]` ms) if it is free,
/// and reads the token (`KEYS[1]`) in the same step: `{1, token or ""}`, or
/// `{0, ""}` when another replica holds the lock.
static LOCK_AND_READ: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then \
           return {1, redis.call('GET', KEYS[1]) or ''} \
         end \
         return {0, ''}",
    )
});

/// Extends the lock (`KEYS[1]`) by `ARGV[2]` ms if `ARGV[1]` still owns it.
static EXTEND: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then \
           return redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
         end \
         return 0",
    )
});

/// Hands the lock (`KEYS[2]`, owner `ARGV[1]`) back, with the token entry
/// (`KEYS[1]` = `ARGV[2]`, expiring at `ARGV[3]` unix ms) written first
/// when `ARGV[2]` is not empty, or the failure (`KEYS[3]` = `ARGV[4]`, for
/// `ARGV[5]` ms) when `ARGV[4]` is not empty.
static HAND_BACK: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3]) end \
         if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end \
         if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end \
         return 1",
    )
});

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.inner.client.get_connection_info();
        f.debug_struct("RedisTokenStore")
            .field("server", &info.addr().to_string())
            .field("namespace", &self.inner.namespace)
            .finish()
    }
}

/// The keys of one client id.
#[derive(Clone)]
struct Keys {
    token: String,
    lock: String,
    failure: String,
}

impl RedisTokenStore {
    /// A store on the Redis server at `url` (`redis://host:port/db`, or
    /// `rediss://` with the `redis` crate's TLS features). Connects on
    /// first use; fails only if the URL is malformed.
    pub fn new(url: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(|e| {
            Error::Config(format!(
                "invalid Redis URL: {}",
                crate::redact::redact(&e.to_string())
            ))
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                connection: OnceCell::new(),
                namespace: "uqpay-issuing".into(),
                lock_ttl: Duration::from_secs(30),
                operation_timeout: Duration::from_secs(1),
                read_timeout: Duration::from_millis(100),
                check_interval: Duration::ZERO,
                poll: Duration::from_millis(20),
                local: Mutex::new(HashMap::new()),
                warned_unreadable: AtomicBool::new(false),
            }),
        })
    }

    fn configure(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("configured before it is cloned or used");
        change(inner);
        self
    }

    /// The prefix of the keys (default `uqpay-issuing`): keys are
    /// `<prefix>:token:<client_id>`, `...:lock` and `...:failed`.
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

    fn keys(&self, client_id: &str) -> Keys {
        let token = format!("{}:token:{client_id}", self.inner.namespace);
        Keys {
            lock: format!("{token}:lock"),
            failure: format!("{token}:failed"),
            token,
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashMap<String, Local>> {
        self.inner.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember(&self, client_id: &str, token: &AccessToken, renew_at: SystemTime) {
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
    fn held(&self, client_id: &str, refused: Option<&AccessToken>) -> Option<Held> {
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
    fn degraded(&self, client_id: &str) -> bool {
        self.local()
            .get(client_id)
            .and_then(|l| l.degraded_until)
            .is_some_and(|until| Instant::now() < until)
    }

    fn mark_degraded(&self, client_id: &str) {
        let until = Instant::now().checked_add(self.inner.operation_timeout);
        self.local()
            .entry(client_id.to_owned())
            .or_default()
            .degraded_until = until;
    }

    async fn connection(&self) -> Result<ConnectionManager, redis::RedisError> {
        let inner = &self.inner;
        inner
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(inner.operation_timeout))
                    .set_response_timeout(Some(inner.operation_timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                ConnectionManager::new_with_config(inner.client.clone(), config).await
            })
            .await
            .cloned()
    }

    /// One command (and the connection it needs) within `limit`.
    async fn run<T>(
        &self,
        limit: Duration,
        command: impl AsyncFnOnce(&mut ConnectionManager) -> Result<T, redis::RedisError>,
    ) -> Result<T, String> {
        let attempt = async {
            let mut connection = self.connection().await?;
            command(&mut connection).await
        };
        match tokio::time::timeout(limit, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(crate::redact::redact(&error.to_string())),
            Err(_) => Err(format!("no answer within {limit:?}")),
        }
    }

    /// The token, whether a mint holds the lock, and a recent mint failure:
    /// one round trip.
    async fn read(&self, keys: &Keys, limit: Duration) -> Result<Snapshot, String> {
        let (token, lock, failure): (Option<String>, Option<String>, Option<String>) = self
            .run(limit, async |connection| {
                redis::cmd("MGET")
                    .arg(&keys.token)
                    .arg(&keys.lock)
                    .arg(&keys.failure)
                    .query_async(connection)
                    .await
            })
            .await?;
        Ok(Snapshot {
            stored: Stored::parse(token),
            locked: lock.is_some(),
            failure,
        })
    }

    /// Takes the mint lock and reads the token in one step: the owner tag
    /// and what is stored, or `None` when another replica holds the lock.
    async fn lock_and_read(&self, keys: &Keys) -> Result<Option<(String, Stored)>, String> {
        let owner = uuid::Uuid::new_v4().to_string();
        let ttl = millis(self.inner.lock_ttl);
        let (taken, token): (i64, String) = self
            .run(self.inner.operation_timeout, async |connection| {
                LOCK_AND_READ
                    .key(&keys.token)
                    .key(&keys.lock)
                    .arg(&owner)
                    .arg(ttl)
                    .invoke_async(connection)
                    .await
            })
            .await?;
        Ok((taken == 1).then(|| {
            let token = (!token.is_empty()).then_some(token);
            (owner, Stored::parse(token))
        }))
    }

    /// Keeps the lock alive every third of its lifetime; never returns
    /// (dropped when the mint ends).
    async fn keep_locked(&self, keys: &Keys, owner: &str) {
        let ttl = millis(self.inner.lock_ttl);
        loop {
            tokio::time::sleep(self.inner.lock_ttl / 3).await;
            let extended: Result<i64, String> = self
                .run(self.inner.operation_timeout, async |connection| {
                    EXTEND
                        .key(&keys.lock)
                        .arg(owner)
                        .arg(ttl)
                        .invoke_async(connection)
                        .await
                })
                .await;
            match extended {
                Ok(1) => {}
                Ok(_) => {
                    tracing::warn!("the token mint lock was lost while minting");
                    return std::future::pending().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "could not extend the token mint lock");
                }
            }
        }
    }

    /// Releases the lock, writing the token entry or the failure first, in
    /// one step; tried three times (a minted token must reach the fleet).
    async fn hand_back(
        &self,
        keys: &Keys,
        owner: &str,
        entry: Option<&Entry>,
        failure: Option<&Error>,
    ) {
        let text = entry
            .map(|e| serde_json::to_string(e).expect("an entry serialises"))
            .unwrap_or_default();
        let expires_at_ms = entry.map_or(0, |e| e.expires_at_ms);
        let failure = failure.map(ToString::to_string).unwrap_or_default();
        let memory = millis(FAILURE_MEMORY);
        let mut last = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50) * attempt).await;
            }
            let handed: Result<i64, String> = self
                .run(self.inner.operation_timeout, async |connection| {
                    HAND_BACK
                        .key(&keys.token)
                        .key(&keys.lock)
                        .key(&keys.failure)
                        .arg(owner)
                        .arg(&text)
                        .arg(expires_at_ms)
                        .arg(&failure)
                        .arg(memory)
                        .invoke_async(connection)
                        .await
                })
                .await;
            match handed {
                Ok(_) => return,
                Err(error) => last = error,
            }
        }
        tracing::warn!(
            error = %last,
            "could not store the fleet's token in Redis; the lock expires on its own"
        );
    }

    /// Starts the mint task of `client_id` (or joins the one in flight).
    fn start_mint(
        &self,
        minter: &Minter,
        keys: &Keys,
        seen: u64,
        refused: Option<&AccessToken>,
        reuse: Option<Held>,
    ) -> SharedMint {
        let client_id = minter.client_id().to_owned();
        let mut locals = self.local();
        let local = locals.entry(client_id.clone()).or_default();
        if let Some(mint) = &local.minting {
            if !mint.task.is_finished() {
                return mint.result.clone();
            }
        }
        local.mints += 1;
        let id = local.mints;
        let store = self.clone();
        let minter = minter.clone();
        let keys = keys.clone();
        let refused = refused.cloned();
        let mint = InFlight::spawn(id, async move {
            let minted = store
                .mint_under_lock(&minter, &keys, seen, refused.as_ref(), reuse)
                .await;
            let mut locals = store.local();
            if let Some(local) = locals.get_mut(minter.client_id()) {
                if local.minting.as_ref().is_some_and(|m| m.id == id) {
                    local.minting = None;
                }
            }
            minted
        });
        let result = mint.result.clone();
        local.minting = Some(mint);
        result
    }

    /// The mint task: takes the lock; under it, uses a token another replica
    /// stored meanwhile, or writes back `reuse` (the token this replica
    /// holds) over a missing or unreadable entry, or mints; then hands the
    /// lock back with the result. `seen` is the generation the caller read.
    async fn mint_under_lock(
        &self,
        minter: &Minter,
        keys: &Keys,
        seen: u64,
        refused: Option<&AccessToken>,
        reuse: Option<Held>,
    ) -> Minted {
        let client_id = minter.client_id();
        let (owner, stored) = match self.lock_and_read(keys).await {
            Ok(Some(taken)) => taken,
            Ok(None) => return Minted::Busy,
            Err(why) => {
                self.mark_degraded(client_id);
                return match self.unreachable(client_id, refused, why) {
                    Ok(token) => Minted::Token(token),
                    Err(error) => Minted::Failed(error),
                };
            }
        };
        let now = SystemTime::now();
        // Stored by another replica since the caller read the store (or
        // not due after all): use it.
        if let Some((entry, token)) = stored.usable(now, refused) {
            if entry.generation != seen || now < from_unix_ms(entry.renew_at_ms) {
                let token = token.clone();
                self.remember(client_id, &token, from_unix_ms(entry.renew_at_ms));
                self.hand_back(keys, &owner, None, None).await;
                return Minted::Token(token);
            }
        }
        let generation = seen.max(stored.generation()) + 1;
        if let (Stored::Missing | Stored::Unreadable(_), Some(held)) = (&stored, reuse) {
            if held.token.is_valid_at(now) && Some(&held.token) != refused {
                // Put back the token this replica holds rather than mint
                // (which would void it everywhere).
                let entry = Entry::of(&held.token, held.renew_at, generation);
                self.hand_back(keys, &owner, Some(&entry), None).await;
                self.remember(client_id, &held.token, held.renew_at);
                tracing::info!(
                    generation,
                    "wrote the token this replica holds back to Redis"
                );
                return Minted::Token(held.token);
            }
        }
        let minted = tokio::select! {
            minted = minter.mint() => minted,
            () = self.keep_locked(keys, &owner) => unreachable!("keep_locked never returns"),
        };
        match minted {
            Ok(token) => {
                let renew = renew_at(SystemTime::now(), token.expires_at());
                let entry = Entry::of(&token, renew, generation);
                self.hand_back(keys, &owner, Some(&entry), None).await;
                self.remember(client_id, &token, renew);
                tracing::debug!(generation, "minted the fleet's token");
                Minted::Token(token)
            }
            Err(error) => {
                self.hand_back(keys, &owner, None, Some(&error)).await;
                Minted::Failed(error)
            }
        }
    }

    /// Redis could not be read: the token this replica holds, if it is
    /// still good; an error otherwise (never a mint without the lock).
    fn unreachable(
        &self,
        client_id: &str,
        refused: Option<&AccessToken>,
        why: String,
    ) -> Result<AccessToken, Error> {
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

    async fn token_for(
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
                    self.mark_degraded(client_id);
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

/// Takes a slot of the fleet's rate limit and reads the token, in one step
/// (one round trip per call for both).
///
/// A sliding window log per client id in a sorted set (`KEYS[4]`): the
/// start times, on Redis's clock, of the calls of the last window
/// (`ARGV[1]` ms). A call gets a slot when fewer than the cap (`ARGV[2]`)
/// started in the window, and is told how long to wait otherwise (until
/// the oldest of the last `cap` leaves it). Each replica (`ARGV[4]`) marks
/// itself in another sorted set (`KEYS[5]`) so that every answer says how
/// many replicas took slots in the last two windows: its share of the limit
/// if Redis becomes unreachable. Then the token, the lock and a recent
/// failure, as the store's read (`KEYS[1..3]`).
///
/// Returns `{wait ms (0: granted), replicas, token or "", locked 0/1,
/// failure or ""}`.
static SLOT_AND_READ: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 2 * window)
redis.call('ZADD', KEYS[5], now, ARGV[4])
redis.call('PEXPIRE', KEYS[5], 2 * window)
local replicas = redis.call('ZCARD', KEYS[5])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[4])
local wait = 0
if used < cap then
  redis.call('ZADD', KEYS[4], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[4], window)
else
  local oldest = redis.call('ZRANGE', KEYS[4], used - cap, used - cap, 'WITHSCORES')
  wait = tonumber(oldest[2]) + window - now
  if wait < 1 then wait = 1 end
end
local v = redis.call('MGET', KEYS[1], KEYS[2], KEYS[3])
return {wait, replicas, v[1] or '', v[2] and 1 or 0, v[3] or ''}
",
    )
});

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
    limit: crate::ratelimit::RateLimit,
    /// This replica's mark among the fleet's.
    replica: String,
    calls: std::sync::atomic::AtomicU64,
    state: Mutex<FleetState>,
}

struct FleetState {
    pacing: crate::ratelimit::Pacing,
    /// Replicas counted by the last answer (0: none yet).
    replicas: u32,
    /// The share kept in process while Redis is out of reach.
    fallback: Option<Arc<crate::ratelimit::LocalLimiter>>,
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
    pub(crate) fn new(store: RedisTokenStore, limit: crate::ratelimit::RateLimit) -> Self {
        Self {
            store,
            limit,
            replica: uuid::Uuid::new_v4().to_string(),
            calls: std::sync::atomic::AtomicU64::new(0),
            state: Mutex::new(FleetState {
                pacing: crate::ratelimit::Pacing::new(&limit),
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
        auth: &crate::auth::Auth,
        refused: Option<&AccessToken>,
        within: Option<Duration>,
    ) -> Result<Option<AccessToken>, Error> {
        let Some(minter) = auth.minter() else {
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
                .get_or_insert_with(|| {
                    Arc::new(crate::ratelimit::LocalLimiter::full(share, Instant::now()))
                })
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
