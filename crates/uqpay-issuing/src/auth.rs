//! Where a call's `x-auth-token` comes from: a fixed token, or credentials
//! whose tokens a [`TokenStore`] keeps ([`store`]: in process; [`redis`]:
//! shared by a fleet, feature `redis`) and a [`Minter`] mints ([`token`]).

use std::fmt;
use std::sync::Arc;

use crate::auth::store::TokenStore;
use crate::auth::token::{AccessToken, Minter};
use crate::error::Error;

#[cfg(feature = "redis")]
pub(crate) mod redis;
pub(crate) mod store;
pub(crate) mod token;

pub(crate) enum Auth {
    /// A token given by the user; never refreshed.
    Fixed(AccessToken),
    /// Tokens minted with credentials, kept by a store.
    Credentials {
        minter: Minter,
        store: Arc<dyn TokenStore>,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Fixed(_) => f.write_str("Auth::Fixed([REDACTED])"),
            Auth::Credentials { minter, store } => f
                .debug_struct("Auth::Credentials")
                .field("minter", minter)
                .field("store", store)
                .finish(),
        }
    }
}

impl Auth {
    /// Whether a refused token can be replaced by another.
    pub(crate) fn can_refresh(&self) -> bool {
        matches!(self, Auth::Credentials { .. })
    }

    /// A token to send now, if one is at hand without waiting.
    pub(crate) fn current(&self) -> Option<AccessToken> {
        match self {
            Auth::Fixed(token) => Some(token.clone()),
            Auth::Credentials { minter, store } => store.current(minter),
        }
    }

    /// A token to send, other than `refused` when the API just refused it.
    /// Errors are the token endpoint's or the store's, unwrapped.
    pub(crate) async fn token(&self, refused: Option<&AccessToken>) -> Result<AccessToken, Error> {
        match self {
            Auth::Fixed(token) => Ok(token.clone()),
            Auth::Credentials { minter, store } => {
                if refused.is_none() {
                    if let Some(token) = store.current(minter) {
                        return Ok(token);
                    }
                }
                store.token(minter, refused).await
            }
        }
    }

    /// The minter, when the client mints its own tokens.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn minter(&self) -> Option<&Minter> {
        match self {
            Auth::Fixed(_) => None,
            Auth::Credentials { minter, .. } => Some(minter),
        }
    }

    /// The API key, if any (to scrub from texts; tokens are scrubbed by the call).
    pub(crate) fn api_key(&self) -> Option<&str> {
        match self {
            Auth::Fixed(_) => None,
            Auth::Credentials { minter, .. } => Some(minter.api_key()),
        }
    }
}
