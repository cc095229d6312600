//! Where the live token of a client id is kept, and who may mint the next
//! one: [`TokenStore`], with the in-process default [`InMemoryTokenStore`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::FutureExt as _;

use crate::auth::token::{AccessToken, Minter};
use crate::error::Error;

/// The future a [`TokenStore`] answers with.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<AccessToken, Error>> + Send + 'a>>;

/// Where the live token of a client id lives and who may mint the next one.
///
/// UQPay keeps one live token per client id: minting a new one voids every
/// earlier one, in every process that holds it. A store therefore decides,
/// for all the clients that share it, when [`Minter::mint`] is called:
///
/// - [`InMemoryTokenStore`] (the default) for one process: one mint at a time
///   per client id, shared by every waiter;
/// - `RedisTokenStore` (feature `redis`) for several replicas on the same
///   credentials: one mint at a time across the fleet.
///
/// A store is asked for a token before every attempt of every call; it must
/// answer at once when it can ([`TokenStore::current`]).
pub trait TokenStore: fmt::Debug + Send + Sync + 'static {
    /// A token usable right now for `minter`'s client id, without waiting or
    /// I/O, if the store has one at hand; `None` sends the call to
    /// [`TokenStore::token`]. (The default: never.)
    fn current(&self, minter: &Minter) -> Option<AccessToken> {
        let _ = minter;
        None
    }

    /// A token for `minter`'s client id. `refused` is the token a call just
    /// sent and the API refused with a 401: return another one, minting it
    /// only if `refused` is still the live token (another client may have
    /// replaced it already). A token that is valid but due for renewal is
    /// returned as it is (renew it on the side): a call never waits for a
    /// mint it does not need.
    fn token<'a>(&'a self, minter: &'a Minter, refused: Option<&'a AccessToken>)
        -> TokenFuture<'a>;
}

/// Renew a token this long before it expires (at most half its lifetime).
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// How long a failed mint is remembered: calls in the meantime get its error
/// at once instead of each hitting the token endpoint again.
pub(crate) const FAILURE_MEMORY: Duration = Duration::from_secs(1);

/// When to renew a token that expires at `expires_at`, minted at `now`.
pub(crate) fn renew_at(now: SystemTime, expires_at: SystemTime) -> SystemTime {
    let lifetime = expires_at.duration_since(now).unwrap_or_default();
    expires_at - REFRESH_MARGIN.min(lifetime / 2)
}

/// A task's result, awaited by every caller that needs it; `None` when the
/// task died without one (its runtime shut down, or it panicked).
pub(crate) type Shared<T> =
    futures_util::future::Shared<Pin<Box<dyn Future<Output = Option<T>> + Send>>>;

/// A mint in flight (of either store): its task, and its result shared by
/// every caller waiting for it.
pub(crate) struct InFlight<T> {
    /// Tells this mint from a later one of the same client id.
    pub(crate) id: u64,
    pub(crate) result: Shared<T>,
    pub(crate) task: tokio::task::AbortHandle,
}

impl<T: Clone + Send + Sync + 'static> InFlight<T> {
    /// Runs `work` on a task of its own, in the span of the call that
    /// started it: whatever becomes of its callers (a deadline, a dropped
    /// future), it runs to the end.
    pub(crate) fn spawn(id: u64, work: impl Future<Output = T> + Send + 'static) -> Self {
        let task = tokio::spawn(tracing::Instrument::instrument(
            work,
            tracing::Span::current(),
        ));
        let abort = task.abort_handle();
        let result: Pin<Box<dyn Future<Output = Option<T>> + Send>> =
            Box::pin(async move { task.await.ok() });
        Self {
            id,
            result: result.shared(),
            task: abort,
        }
    }
}

type SharedMint = Shared<Result<AccessToken, Error>>;

/// The live token of each client id, kept in this process: the default
/// [`TokenStore`].
///
/// - A valid token is used until it expires; five minutes before (at most
///   half its lifetime) it is renewed in the background, and a failed
///   renewal costs no call anything.
/// - One mint at a time per client id, run on its own task: every caller
///   that needs a token awaits the same mint and gets its result, token or
///   error; a caller that gives up does not cancel it for the others. A
///   mint whose task dies (the runtime it was started on shuts down, as a
///   `#[tokio::test]`'s does under a client shared between tests, or it
///   panics) is forgotten and started again by the next caller.
/// - A failed mint is remembered for a second: a burst of calls meanwhile
///   gets its error at once instead of hammering the token endpoint.
/// - After a 401, the refused token is replaced only if it is still the
///   live one.
///
/// Share one (it is a cheap clone) between several [`Client`](crate::Client)s
/// of the same process to make them one token holder. For several processes
/// on the same credentials, use `RedisTokenStore`.
#[derive(Clone, Default)]
pub struct InMemoryTokenStore {
    shared: Arc<Mutex<HashMap<String, Slot>>>,
}

#[derive(Default)]
struct Slot {
    live: Option<(AccessToken, SystemTime)>,
    minting: Option<InFlight<Result<AccessToken, Error>>>,
    failure: Option<(Instant, Error)>,
    mints: u64,
}

impl Slot {
    /// Forgets a mint whose task ended without recording its result (the
    /// task records it before it ends, so an ended task still in the slot
    /// died: cancelled with its runtime, or panicked).
    fn reap(&mut self) {
        if self.minting.as_ref().is_some_and(|m| m.task.is_finished()) {
            tracing::warn!("the token mint task stopped without a result; a new mint will start");
            self.minting = None;
        }
    }
}

impl fmt::Debug for InMemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots = self.lock();
        f.debug_struct("InMemoryTokenStore")
            .field("client_ids", &slots.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl InMemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `token` the live token of `client_id` (for example one saved
    /// before a restart). It is used until it expires and renewed five
    /// minutes before, as if it had UQPay's 30-minute lifetime.
    pub fn insert(&self, client_id: impl Into<String>, token: AccessToken) {
        let renew = token
            .expires_at()
            .checked_sub(REFRESH_MARGIN)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut slots = self.lock();
        let slot = slots.entry(client_id.into()).or_default();
        slot.live = Some((token, renew));
        slot.failure = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a mint on its own task (it finishes even if every caller
    /// stops waiting) and records it as the client id's mint in flight.
    fn start_mint(&self, slot: &mut Slot, minter: &Minter) -> SharedMint {
        slot.mints += 1;
        let id = slot.mints;
        let store = self.clone();
        let minter = minter.clone();
        let mint = InFlight::spawn(id, async move {
            let result = minter.mint().await;
            store.finish(minter.client_id(), id, &result);
            result
        });
        let result = mint.result.clone();
        slot.minting = Some(mint);
        result
    }

    fn finish(&self, client_id: &str, id: u64, result: &Result<AccessToken, Error>) {
        let mut slots = self.lock();
        let slot = slots.entry(client_id.to_owned()).or_default();
        if slot.minting.as_ref().is_some_and(|m| m.id == id) {
            slot.minting = None;
        }
        match result {
            Ok(token) => {
                let renew = renew_at(SystemTime::now(), token.expires_at());
                slot.live = Some((token.clone(), renew));
                slot.failure = None;
            }
            Err(error) => {
                tracing::warn!(%error, "could not mint an access token");
                slot.failure = Some((Instant::now(), error.clone()));
            }
        }
    }

    /// The live token if valid at `now`, renewing it on the side when due.
    fn live(&self, slot: &mut Slot, minter: &Minter, now: SystemTime) -> Option<AccessToken> {
        slot.reap();
        let (token, renew) = slot.live.as_ref()?;
        if !token.is_valid_at(now) {
            return None;
        }
        let token = token.clone();
        let failed_lately = slot
            .failure
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < FAILURE_MEMORY);
        if now >= *renew && slot.minting.is_none() && !failed_lately {
            tracing::debug!("renewing the access token before it expires");
            // Nobody waits for it: the task finishes on its own.
            let _renewal = self.start_mint(slot, minter);
        }
        Some(token)
    }
}

impl TokenStore for InMemoryTokenStore {
    fn current(&self, minter: &Minter) -> Option<AccessToken> {
        let mut slots = self.lock();
        let slot = slots.get_mut(minter.client_id())?;
        self.live(slot, minter, SystemTime::now())
    }

    fn token<'a>(
        &'a self,
        minter: &'a Minter,
        refused: Option<&'a AccessToken>,
    ) -> TokenFuture<'a> {
        Box::pin(async move {
            // Twice at most: a mint whose task died is started again once.
            for _ in 0..2 {
                let mint = {
                    let mut slots = self.lock();
                    let slot = slots.entry(minter.client_id().to_owned()).or_default();
                    if refused.is_some() && slot.live.as_ref().map(|(t, _)| t) == refused {
                        slot.live = None;
                    }
                    if let Some(token) = self.live(slot, minter, SystemTime::now()) {
                        return Ok(token);
                    }
                    match (&slot.minting, &slot.failure) {
                        (Some(mint), _) => mint.result.clone(),
                        (None, Some((at, error))) if at.elapsed() < FAILURE_MEMORY => {
                            return Err(error.clone());
                        }
                        (None, _) => self.start_mint(slot, minter),
                    }
                };
                if let Some(result) = mint.await {
                    return result;
                }
            }
            Err(Error::TokenStore {
                message: "the token mint stopped twice without a result".into(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_five_minutes_early_at_most_half_the_lifetime() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            renew_at(now, now + Duration::from_secs(1800)),
            now + Duration::from_secs(1500)
        );
        assert_eq!(
            renew_at(now, now + Duration::from_secs(60)),
            now + Duration::from_secs(30)
        );
        assert_eq!(renew_at(now, now), now);
    }
}
