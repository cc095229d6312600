//! One mint at a time across the fleet: the lock (`SET NX PX`, kept alive
//! while the mint runs), the mint on a task of its own, and the lock handed
//! back with the token (or the failure) in one step.

use std::time::{Duration, SystemTime};

use crate::auth::redis::connection::Failure;
use crate::auth::redis::entry::{from_unix_ms, millis, Entry, Keys, Stored};
use crate::auth::redis::scripts::{EXTEND, HAND_BACK, LOCK_AND_READ};
use crate::auth::redis::store::{Held, Minted, RedisTokenStore, SharedMint};
use crate::auth::store::{renew_at, InFlight, FAILURE_MEMORY};
use crate::auth::token::{AccessToken, Minter};
use crate::error::Error;

/// How handing the lock back went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handed {
    /// Written (or nothing to write), the lock released.
    Stored,
    /// The lock was lost meanwhile and a newer entry is stored: it is kept.
    Superseded,
    /// Redis could not be reached (the lock expires on its own).
    Unreachable,
}

impl RedisTokenStore {
    /// Takes the mint lock and reads the token in one step: the owner tag
    /// and what is stored, or `None` when another replica holds the lock.
    pub(crate) async fn lock_and_read(
        &self,
        keys: &Keys,
    ) -> Result<Option<(String, Stored)>, Failure> {
        let owner = uuid::Uuid::new_v4().to_string();
        let ttl = millis(self.inner.lock_ttl);
        let mut script = LOCK_AND_READ.key(&keys.token);
        script.key(&keys.lock);
        if let Some(legacy) = &keys.legacy {
            script.key(&legacy.token).key(&legacy.lock);
        }
        script.arg(&owner).arg(ttl);
        let (taken, token, legacy): (i64, String, String) = self
            .run(self.inner.operation_timeout, async |connection| {
                script.invoke_async(connection).await
            })
            .await?;
        self.inner.redis.wrote();
        let parse = |text: String| Stored::parse((!text.is_empty()).then_some(text));
        Ok((taken == 1).then(|| (owner, Stored::newest(parse(token), parse(legacy)))))
    }

    /// Keeps the lock alive every third of its lifetime; never returns
    /// (dropped when the mint ends).
    pub(crate) async fn keep_locked(&self, keys: &Keys, owner: &str) {
        let ttl = millis(self.inner.lock_ttl);
        loop {
            tokio::time::sleep(self.inner.lock_ttl / 3).await;
            let extended: Result<i64, Failure> = self
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
    pub(crate) async fn hand_back(
        &self,
        keys: &Keys,
        owner: &str,
        entry: Option<&Entry>,
        failure: Option<&Error>,
    ) -> Handed {
        let text = entry
            .map(|e| serde_json::to_string(e).expect("an entry serialises"))
            .unwrap_or_default();
        let expires_at_ms = entry.map_or(0, |e| e.expires_at_ms);
        let generation = entry.map_or(0, |e| e.generation);
        let failure = failure.map(ToString::to_string).unwrap_or_default();
        let memory = millis(FAILURE_MEMORY);
        let mut last = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50) * attempt).await;
            }
            let handed: Result<i64, Failure> = self
                .run(self.inner.operation_timeout, async |connection| {
                    let mut script = HAND_BACK.key(&keys.token);
                    script.key(&keys.lock).key(&keys.failure);
                    if let Some(legacy) = &keys.legacy {
                        script.key(&legacy.token);
                    }
                    script
                        .arg(owner)
                        .arg(&text)
                        .arg(expires_at_ms)
                        .arg(&failure)
                        .arg(memory)
                        .arg(generation)
                        .invoke_async(connection)
                        .await
                })
                .await;
            match handed {
                Ok(0) => {
                    tracing::warn!(
                        "the token mint lost its lock and another replica stored a newer \
                         token meanwhile; keeping that one"
                    );
                    return Handed::Superseded;
                }
                Ok(_) => {
                    self.inner.redis.wrote();
                    return Handed::Stored;
                }
                Err(error) => last = error.to_string(),
            }
        }
        tracing::warn!(
            error = %last,
            "could not store the fleet's token in Redis; the lock expires on its own"
        );
        Handed::Unreachable
    }

    /// Starts the mint task of `client_id` (or joins the one in flight).
    pub(crate) fn start_mint(
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
    pub(crate) async fn mint_under_lock(
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
                if why.is_unreachable() {
                    self.mark_degraded(client_id);
                }
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
                if self.hand_back(keys, &owner, Some(&entry), None).await == Handed::Superseded {
                    return Minted::Busy;
                }
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
                if self.hand_back(keys, &owner, Some(&entry), None).await == Handed::Superseded {
                    // Another replica minted under the lock this mint lost:
                    // its token is the fleet's (read it again).
                    return Minted::Busy;
                }
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
}
