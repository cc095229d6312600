//! Where the `x-auth-token` comes from: a fixed token, or one fetched from
//! `POST /v1/connect/token`, cached, and refreshed before it expires (one
//! refresh at a time, however many calls wait for it).

use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret as _, SecretString};
use tracing::Instrument as _;

use crate::redact;
use crate::Error;

/// Refresh a fetched token this long before it expires (at most half its lifetime).
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

#[derive(Clone)]
pub(crate) struct Cached {
    header: HeaderValue,
    refresh_at: SystemTime,
}

pub(crate) enum Auth {
    Fixed {
        header: HeaderValue,
    },
    Credentials {
        client_id: String,
        api_key: SecretString,
        cached: RwLock<Option<Cached>>,
        refreshing: tokio::sync::Mutex<()>,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Fixed { .. } => f.write_str("Auth::Fixed([REDACTED])"),
            Auth::Credentials { client_id, .. } => f
                .debug_struct("Auth::Credentials")
                .field("client_id", client_id)
                .field("api_key", &"[REDACTED]")
                .finish_non_exhaustive(),
        }
    }
}

/// `Bearer <token>`, as every official UQPay SDK sends `x-auth-token` (and
/// UQPay's access-token page requires), marked sensitive.
pub(crate) fn bearer(token: &str) -> Result<HeaderValue, Error> {
    sensitive_header(&format!("Bearer {token}"), "token")
}

/// The token inside a `Bearer <token>` header (what must never be shown).
fn token_of(header: &HeaderValue) -> &str {
    let text = header.to_str().unwrap_or_default();
    text.strip_prefix("Bearer ").unwrap_or(text)
}

/// A header value that `Debug` prints as `Sensitive`.
pub(crate) fn sensitive_header(value: &str, what: &str) -> Result<HeaderValue, Error> {
    let mut header = HeaderValue::from_str(value)
        .map_err(|_| Error::Config(format!("the {what} is not a valid header value")))?;
    header.set_sensitive(true);
    Ok(header)
}

impl Auth {
    pub(crate) fn fixed(token: &SecretString) -> Result<Self, Error> {
        let token = token.expose_secret().trim();
        // A token given with its scheme is taken as it is.
        let token = match token.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => token,
        };
        if token.is_empty() {
            return Err(Error::Config("the token is empty".into()));
        }
        Ok(Auth::Fixed {
            header: bearer(token)?,
        })
    }

    pub(crate) fn credentials(client_id: String, api_key: SecretString) -> Result<Self, Error> {
        if client_id.trim().is_empty() || api_key.expose_secret().trim().is_empty() {
            return Err(Error::Config(
                "the client id and the API key must not be empty".into(),
            ));
        }
        sensitive_header(&client_id, "client id")?;
        sensitive_header(api_key.expose_secret(), "API key")?;
        Ok(Auth::Credentials {
            client_id,
            api_key,
            cached: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    /// Whether a refused token can be replaced by fetching a new one.
    pub(crate) fn can_refresh(&self) -> bool {
        matches!(self, Auth::Credentials { .. })
    }

    /// The token header to send now, if there is one (no fetching).
    pub(crate) fn current(&self) -> Option<HeaderValue> {
        match self {
            Auth::Fixed { header } => Some(header.clone()),
            Auth::Credentials { cached, .. } => read(cached).map(|c| c.header),
        }
    }

    /// Secrets to scrub from texts that end up in errors.
    pub(crate) fn with_secrets<R>(&self, f: impl FnOnce(&[&str]) -> R) -> R {
        match self {
            Auth::Fixed { header } => f(&[token_of(header)]),
            Auth::Credentials {
                api_key, cached, ..
            } => {
                let token = read(cached).map(|c| c.header);
                let token = token.as_ref().map(token_of).unwrap_or("");
                f(&[api_key.expose_secret(), token])
            }
        }
    }

    /// Makes sure a token valid for a while is cached (fetching one if not);
    /// the transport puts it on each request.
    pub(crate) async fn ensure(&self, raw: &uqpay_issuing_raw::Client) -> Result<(), Error> {
        let Auth::Credentials {
            client_id,
            api_key,
            cached,
            refreshing,
        } = self
        else {
            return Ok(());
        };
        let fresh = || {
            cached
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .is_some_and(|c| SystemTime::now() < c.refresh_at)
        };
        if fresh() {
            return Ok(());
        }
        // One refresh at a time; whoever waited re-checks the cache first.
        let _guard = refreshing.lock().await;
        if fresh() {
            return Ok(());
        }
        // Boxed: rare, and large (it holds a whole generated request future).
        let fetched = Box::pin(fetch(raw, client_id, api_key)).await?;
        *cached.write().unwrap_or_else(|e| e.into_inner()) = Some(fetched);
        Ok(())
    }

    /// Forgets `used` if it is still the cached token (after a 401), so the
    /// next [`Auth::ensure`] fetches a new one.
    pub(crate) fn invalidate(&self, used: &HeaderValue) {
        if let Auth::Credentials { cached, .. } = self {
            let mut slot = cached.write().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_some_and(|c| c.header == *used) {
                *slot = None;
            }
        }
    }
}

fn read(cached: &RwLock<Option<Cached>>) -> Option<Cached> {
    cached.read().unwrap_or_else(|e| e.into_inner()).clone()
}

async fn fetch(
    raw: &uqpay_issuing_raw::Client,
    client_id: &str,
    api_key: &SecretString,
) -> Result<Cached, Error> {
    let span = tracing::debug_span!("uqpay.token", client_id = %client_id);
    let result = raw
        .create_access_token()
        .x_client_id(client_id)
        .x_api_key(api_key.expose_secret())
        .send()
        .instrument(span)
        .await;
    let token = match result {
        Ok(token) => token.into_inner(),
        Err(progenitor_client::Error::ErrorResponse(response)) if response.status() == 401 => {
            let body = response.into_inner();
            let message = body.message.or(body.error).unwrap_or_default();
            return Err(Error::Unauthorized {
                message: redact::scrub(
                    &format!("the token endpoint refused the credentials: {message}"),
                    &[api_key.expose_secret()],
                ),
                idempotency_key: None,
            });
        }
        Err(other) => {
            let secrets = [api_key.expose_secret()];
            return Err(crate::retry::classify(other, None, &secrets).0);
        }
    };
    let now = SystemTime::now();
    let expires_at = UNIX_EPOCH + Duration::from_secs(u64::try_from(token.expired_at).unwrap_or(0));
    let lifetime = expires_at.duration_since(now).unwrap_or_default();
    let refresh_at = expires_at - REFRESH_MARGIN.min(lifetime / 2);
    tracing::debug!(
        lifetime_secs = lifetime.as_secs(),
        "fetched an access token"
    );
    Ok(Cached {
        header: bearer(&token.auth_token)?,
        refresh_at,
    })
}
