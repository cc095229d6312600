//! [`RedisTokenStore`]: one live token per client id for a whole fleet of
//! replicas, kept in Redis (feature `redis`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::token::{AccessToken, Minter};
use crate::token_store::{renew_at, TokenFuture, TokenStore, FAILURE_MEMORY};
use crate::Error;

/// The live token of each client id, shared through Redis by every replica
/// that uses the same credentials: the fleet behaves like one client.
///
/// UQPay voids every token of a client id when a new one is minted. With a
/// token per replica, each replica's renewal would log all the others out;
/// with this store:
///
/// - the token lives in Redis under `uqpay-issuing:token:<client_id>` (never
///   the API key), with a TTL at its expiry; it is the only secret written;
/// - one mint at a time across the fleet, under a lock with an expiry
///   (`SET NX PX`, 30 s by default), so a replica that crashes while
///   minting blocks the others for that long at most; the others wait for
///   the new token and use it;
/// - renewal before expiry (five minutes before, at most half the
///   lifetime) happens once per fleet. Every call first reads the store
///   (one round trip: the token, the lock, a recent failure); while a
///   replica mints, the others wait for the new token instead of sending
///   the old one, so 401s come only from calls already in flight at the
///   instant of a mint;
/// - after a 401, the store is read again: the refused token is replaced by
///   the stored one if another replica already minted, and a new one is
///   minted only if the refused token is still the stored one;
/// - a failed mint is remembered in Redis for a second, so the fleet does
///   not hammer a failing token endpoint.
///
/// **When Redis is unreachable** the replica keeps using the token it
/// already holds, until that token expires or is refused; it never mints
/// without the fleet's lock (that would void the other replicas' token and
/// start the very thrash this store prevents). A call that needs a new
/// token meanwhile fails with [`Error::TokenStore`], which is retryable.
/// When Redis comes back empty (restarted without persistence), a replica
/// writes back the token it holds rather than minting a new one.
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
pub struct RedisTokenStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    namespace: String,
    lock_ttl: Duration,
    operation_timeout: Duration,
    check_interval: Duration,
    poll: Duration,
    /// What this process last read or wrote, per client id: served when the
    /// check interval allows, and when Redis is unreachable.
    local: Mutex<HashMap<String, Local>>,
}

#[derive(Clone)]
struct Local {
    token: AccessToken,
    renew_at: SystemTime,
    generation: u64,
    checked: Instant,
}

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

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

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
                check_interval: Duration::ZERO,
                poll: Duration::from_millis(20),
                local: Mutex::new(HashMap::new()),
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

    /// How long the mint lock is held at most (default 30 s): a replica
    /// that dies while minting blocks the others for this long at most.
    /// Keep it above the client's timeout, so a slow mint keeps its lock.
    pub fn lock_ttl(self, ttl: Duration) -> Self {
        self.configure(|inner| inner.lock_ttl = ttl)
    }

    /// The time limit of each Redis command (default 1 s); past it Redis
    /// counts as unreachable.
    pub fn operation_timeout(self, timeout: Duration) -> Self {
        self.configure(|inner| inner.operation_timeout = timeout)
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

    fn remember(
        &self,
        client_id: &str,
        token: &AccessToken,
        renew_at: SystemTime,
        generation: u64,
    ) {
        self.local().insert(
            client_id.to_owned(),
            Local {
                token: token.clone(),
                renew_at,
                generation,
                checked: Instant::now(),
            },
        );
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

    /// One command, within the operation timeout.
    async fn run<T>(
        &self,
        command: impl std::future::Future<Output = Result<T, redis::RedisError>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.inner.operation_timeout, command).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(crate::redact::redact(&error.to_string())),
            Err(_) => Err(format!(
                "no answer within {:?}",
                self.inner.operation_timeout
            )),
        }
    }

    /// The stored token (if any, and decodable), whether a mint holds the
    /// lock, and a recent mint failure: one round trip.
    async fn read(
        &self,
        keys: &Keys,
    ) -> Result<(Option<(Entry, AccessToken)>, bool, Option<String>), String> {
        let mut connection = self.run(self.connection()).await?;
        let (token, lock, failure): (Option<String>, Option<String>, Option<String>) = self
            .run(
                redis::cmd("MGET")
                    .arg(&keys.token)
                    .arg(&keys.lock)
                    .arg(&keys.failure)
                    .query_async(&mut connection),
            )
            .await?;
        let entry = token
            .and_then(|text| serde_json::from_str::<Entry>(&text).ok())
            .and_then(|entry| {
                let token =
                    AccessToken::new(entry.token.clone(), from_unix_ms(entry.expires_at_ms))
                        .ok()?;
                Some((entry, token))
            });
        Ok((entry, lock.is_some(), failure))
    }

    /// Writes `token` as the client id's live token, expiring with it.
    async fn write(
        &self,
        keys: &Keys,
        token: &AccessToken,
        renew_at: SystemTime,
        generation: u64,
        only_if_absent: bool,
    ) -> Result<bool, String> {
        let expires_at_ms = unix_ms(token.expires_at());
        let entry = Entry {
            token: token.expose().to_owned(),
            expires_at_ms,
            renew_at_ms: unix_ms(renew_at),
            generation,
        };
        let text = serde_json::to_string(&entry).expect("an entry serialises");
        let mut connection = self.run(self.connection()).await?;
        let mut command = redis::cmd("SET");
        command
            .arg(&keys.token)
            .arg(text)
            .arg("PXAT")
            .arg(expires_at_ms);
        if only_if_absent {
            command.arg("NX");
        }
        let written: Option<String> = self.run(command.query_async(&mut connection)).await?;
        Ok(written.is_some())
    }

    /// Tries to take the mint lock; its owner tag when it did.
    async fn lock(&self, keys: &Keys) -> Result<Option<String>, String> {
        let owner = uuid::Uuid::new_v4().to_string();
        let mut connection = self.run(self.connection()).await?;
        let ttl = u64::try_from(self.inner.lock_ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let taken: Option<String> = self
            .run(
                redis::cmd("SET")
                    .arg(&keys.lock)
                    .arg(&owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async(&mut connection),
            )
            .await?;
        Ok(taken.map(|_| owner))
    }

    /// Releases the lock if this replica still owns it.
    async fn unlock(&self, keys: &Keys, owner: &str) {
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
        );
        if let Ok(mut connection) = self.run(self.connection()).await {
            let released: Result<i64, String> = self
                .run(
                    script
                        .key(&keys.lock)
                        .arg(owner)
                        .invoke_async(&mut connection),
                )
                .await;
            if let Err(error) = released {
                tracing::warn!(%error, "could not release the token lock; it expires on its own");
            }
        }
    }

    /// Records a failed mint for a second, for the whole fleet.
    async fn record_failure(&self, keys: &Keys, error: &Error) {
        if let Ok(mut connection) = self.run(self.connection()).await {
            let millis = u64::try_from(FAILURE_MEMORY.as_millis()).unwrap_or(1000);
            let _: Result<(), String> = self
                .run(
                    redis::cmd("SET")
                        .arg(&keys.failure)
                        .arg(error.to_string())
                        .arg("PX")
                        .arg(millis)
                        .query_async(&mut connection),
                )
                .await;
        }
    }

    /// Mints under the lock (taken by the caller), stores the result,
    /// releases the lock.
    async fn mint(
        &self,
        minter: &Minter,
        keys: &Keys,
        owner: &str,
        generation: u64,
    ) -> Result<AccessToken, Error> {
        let minted = minter.mint().await;
        let result = match minted {
            Ok(token) => {
                let renew = renew_at(SystemTime::now(), token.expires_at());
                if let Err(error) = self.write(keys, &token, renew, generation, false).await {
                    // The token is valid (and the fleet's old one void): use
                    // it here; the others will see a 401 and Redis again.
                    tracing::warn!(%error, "minted a token but could not store it in Redis");
                }
                self.remember(minter.client_id(), &token, renew, generation);
                tracing::debug!(generation, "minted the fleet's token");
                Ok(token)
            }
            Err(error) => {
                self.record_failure(keys, &error).await;
                Err(error)
            }
        };
        self.unlock(keys, owner).await;
        result
    }

    /// Redis could not be read: the token this replica holds, if it is
    /// still good; an error otherwise (never a mint without the lock).
    fn unreachable(
        &self,
        client_id: &str,
        refused: Option<&AccessToken>,
        why: String,
    ) -> Result<AccessToken, Error> {
        let held = self.local().get(client_id).map(|l| l.token.clone());
        if refused.is_some() && held.as_ref() == refused {
            // Refused by the API: never offer it again.
            self.local().remove(client_id);
        }
        match held {
            Some(token) if token.is_valid_at(SystemTime::now()) && Some(&token) != refused => {
                tracing::warn!(error = %why, "Redis is unreachable; using the token this replica holds");
                Ok(token)
            }
            _ => Err(Error::TokenStore {
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
        let give_up_at = Instant::now() + self.inner.lock_ttl + Duration::from_secs(1);
        loop {
            let (entry, locked, failure) = match self.read(&keys).await {
                Ok(read) => read,
                Err(why) => return self.unreachable(client_id, refused, why),
            };
            let now = SystemTime::now();
            let usable = entry
                .as_ref()
                .filter(|(_, token)| token.is_valid_at(now) && Some(token) != refused);
            let generation = entry.as_ref().map_or(0, |(e, _)| e.generation);
            if let Some((entry, token)) = usable {
                let renew = from_unix_ms(entry.renew_at_ms);
                self.remember(client_id, token, renew, entry.generation);
                // Renew when due, once for the fleet; wait while a mint is
                // in flight (it will void this token), use this one while a
                // renewal has just failed.
                let renew_now = now >= renew && failure.is_none();
                if !locked && !renew_now {
                    return Ok(token.clone());
                }
                if !locked {
                    match self.lock(&keys).await {
                        Ok(Some(owner)) => {
                            return match self.mint(minter, &keys, &owner, generation + 1).await {
                                Ok(token) => Ok(token),
                                // The renewal failed; the old token is still good.
                                Err(_) => Ok(token.clone()),
                            };
                        }
                        Ok(None) => {}
                        Err(why) => return self.unreachable(client_id, refused, why),
                    }
                }
            } else {
                if entry.is_none() {
                    // Redis lost the token (restarted empty): put back the
                    // one this replica holds rather than mint (which would
                    // void it everywhere).
                    let held = self.local().get(client_id).cloned();
                    if let Some(held) =
                        held.filter(|l| l.token.is_valid_at(now) && Some(&l.token) != refused)
                    {
                        match self
                            .write(&keys, &held.token, held.renew_at, held.generation, true)
                            .await
                        {
                            Ok(_) => continue,
                            Err(why) => return self.unreachable(client_id, refused, why),
                        }
                    }
                }
                if let Some(message) = failure.filter(|_| !locked) {
                    return Err(Error::TokenStore {
                        message: format!("a token mint failed less than a second ago: {message}"),
                    });
                }
                if !locked {
                    match self.lock(&keys).await {
                        Ok(Some(owner)) => {
                            return self.mint(minter, &keys, &owner, generation + 1).await
                        }
                        Ok(None) => {}
                        Err(why) => return self.unreachable(client_id, refused, why),
                    }
                }
            }
            // Another replica is minting: wait for its token.
            if Instant::now() >= give_up_at {
                return Err(Error::TokenStore {
                    message: "timed out waiting for another replica's token mint".into(),
                });
            }
            let jitter = rand::rng().random_range(Duration::ZERO..=self.inner.poll);
            tokio::time::sleep(self.inner.poll + jitter).await;
        }
    }
}

impl TokenStore for RedisTokenStore {
    fn current(&self, minter: &Minter) -> Option<AccessToken> {
        if self.inner.check_interval.is_zero() {
            return None;
        }
        let local = self.local();
        let held = local.get(minter.client_id())?;
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
