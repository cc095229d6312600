//! The request builders of the card operations: what every builder shares
//! ([`Common`]: the call handle, the idempotency key, the account and the
//! per-call overrides; the setters every builder has), one module per
//! operation ([`assign`], [`status`], [`update`], [`retrieve`]) and the
//! validation they share ([`validate`]).
//!
//! Every limit comes from the spec, through the generated types (which
//! enforce them) and the generated `constraints` module (which states them in
//! the error messages). The builders hold the call handle, not the
//! [`Client`](crate::Client): client -> cards -> call, one way.

use std::fmt;
use std::sync::Arc;

use uqpay_issuing_raw::types::AccountId;
use uuid::Uuid;

use crate::call::Handle;
use crate::cards::validate::parse_on_behalf_of;
use crate::error::Error;
use crate::options::Overrides;

/// What every request builder carries besides its body.
#[derive(Clone)]
pub(crate) struct Common {
    pub(crate) handle: Arc<Handle>,
    pub(crate) idempotency_key: Option<Uuid>,
    pub(crate) on_behalf_of: Option<String>,
    pub(crate) overrides: Overrides,
}

impl Common {
    pub(crate) fn new(handle: Arc<Handle>) -> Self {
        Self {
            handle,
            idempotency_key: None,
            on_behalf_of: None,
            overrides: Overrides::default(),
        }
    }

    /// The account of this call: its own, or the client's default.
    pub(crate) fn account(&self) -> Result<Option<AccountId>, Error> {
        match self.on_behalf_of.as_deref() {
            Some(account) => parse_on_behalf_of(account).map(Some),
            None => Ok(self.handle.defaults.on_behalf_of.clone()),
        }
    }

    /// The key of this call (the caller's, or a new v4) and the account.
    pub(crate) fn resolve(&self) -> Result<(Uuid, Option<AccountId>), Error> {
        let account = self.account()?;
        Ok((self.idempotency_key.unwrap_or_else(Uuid::new_v4), account))
    }
}

impl fmt::Debug for Common {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Common")
            .field("idempotency_key", &self.idempotency_key)
            .field("on_behalf_of", &self.on_behalf_of)
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// The setters of the builders of the card changes: the call's idempotency
/// key, and those of every call ([`call_setters`]).
macro_rules! common_setters {
    () => {
        /// Uses this idempotency key instead of a new random one. Retries of
        /// the call always reuse the call's key; reusing a key for a later
        /// call replays the first call's answer (or is refused if the
        /// request differs).
        pub fn idempotency_key(mut self, key: Uuid) -> Self {
            self.common.idempotency_key = Some(key);
            self
        }

        call_setters!();
    };
}

/// The setters every request builder has: the account, and the call's own
/// time limits and retry budget.
macro_rules! call_setters {
    () => {
        /// Acts on behalf of this connected account (`x-on-behalf-of`: the
        /// sub-account's account_id, a UUID or a short id such as
        /// `CB4488338944`), overriding the client's default. An empty or
        /// blank value, control characters or more than 64 characters are
        /// refused before the wire.
        pub fn on_behalf_of(mut self, account_id: impl Into<String>) -> Self {
            self.common.on_behalf_of = Some(account_id.into());
            self
        }

        /// The time limit of each attempt of this call (from sending the
        /// request to the last byte of the answer), instead of the client's
        /// [`timeout`](crate::ClientBuilder::timeout).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.overrides.timeout = Some(timeout);
            self
        }

        /// How many times this call is retried after a retryable failure,
        /// instead of the client's [`max_retries`](crate::ClientBuilder::max_retries);
        /// `0` sends one attempt (plus one after a refused token, when the
        /// client mints its own tokens).
        pub fn max_retries(mut self, max_retries: u32) -> Self {
            self.common.overrides.max_retries = Some(max_retries);
            self
        }

        /// The time limit of the whole call, attempts, token waits and
        /// backoff included, instead of the client's
        /// [`deadline`](crate::ClientBuilder::deadline): no attempt starts
        /// or waits past it, and a running attempt is cut at it.
        pub fn deadline(mut self, deadline: std::time::Duration) -> Self {
            self.common.overrides.deadline = Some(deadline);
            self
        }
    };
}

/// Sends a validated body with the generated method called by `$send` (an
/// expression of `raw`, the raw client, and of `key`, `account` and `body`,
/// the call's idempotency key, account and body, by reference): one
/// idempotency key for the call, and every attempt sends the very same
/// body, passed by reference (nothing is copied for a retry).
macro_rules! send_call {
    ($common:expr, $operation:literal, $body:expr, |$raw:ident, $key:ident, $account:ident, $b:ident| $send:expr) => {{
        let body = $body;
        let (key, account) = $common.resolve()?;
        let handle = &*$common.handle;
        let $raw = &handle.raw;
        let ($key, $account, $b) = (&key, account.as_ref(), &body);
        Call {
            handle,
            operation: $operation,
            key: Some(key),
            overrides: &$common.overrides,
        }
        .run(|| $send)
        .await
    }};
}

pub(crate) mod assign;
pub(crate) mod retrieve;
pub(crate) mod status;
pub(crate) mod update;
pub(crate) mod validate;
