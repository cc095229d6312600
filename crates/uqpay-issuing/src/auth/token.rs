//! Access tokens, and the [`Minter`] that gets new ones from
//! `POST /v1/connect/token`. Where the live token is kept, and who may mint
//! the next one, is the business of a [`TokenStore`](crate::TokenStore).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret as _, SecretString};
use tracing::Instrument as _;

use crate::error::convert::from_raw;
use crate::error::Error;
use crate::ratelimit::local::LocalLimiter;
use crate::telemetry::metrics::Metrics;

/// How long a token is trusted when the token endpoint says it has already
/// expired (a clock far off, or a bug on either side): long enough not to
/// mint one per call, short enough to notice. A 401 replaces it at once.
const MIN_TRUSTED_LIFETIME: Duration = Duration::from_secs(60);

/// The longest lifetime a minted token is trusted for, whatever the token
/// endpoint says (UQPay's tokens live 30 minutes): an absurd `expired_at`
/// (or a `Date` far behind it) is clamped here instead of overflowing a
/// clock, and the token is renewed well before. A token that really lives
/// longer is only renewed sooner than it needs; one that dies sooner is
/// replaced after its first 401.
pub(crate) const MAX_TRUSTED_LIFETIME: Duration = Duration::from_secs(2 * 3600);

/// An access token from `POST /v1/connect/token` and when it stops being
/// valid (on this machine's clock). Cheap to clone. `Debug` never shows it.
#[derive(Clone)]
pub struct AccessToken {
    inner: Arc<TokenInner>,
}

struct TokenInner {
    value: SecretString,
    /// `Bearer <token>`, marked sensitive.
    header: HeaderValue,
    expires_at: SystemTime,
}

impl AccessToken {
    /// A token with its expiry on this machine's clock (for a
    /// [`TokenStore`](crate::TokenStore) that keeps tokens elsewhere).
    /// Fails if the token cannot be sent in a header.
    pub fn new(value: impl Into<String>, expires_at: SystemTime) -> Result<Self, Error> {
        let value = value.into();
        let mut header = HeaderValue::from_str(&format!("Bearer {value}"))
            .map_err(|_| Error::Config("the token is not a valid header value".into()))?;
        header.set_sensitive(true);
        Ok(Self {
            inner: Arc::new(TokenInner {
                value: SecretString::from(value),
                header,
                expires_at,
            }),
        })
    }

    /// The token itself. Everything that prints it leaks a credential.
    pub fn expose(&self) -> &str {
        self.inner.value.expose_secret()
    }

    /// When it stops being valid, on this machine's clock.
    pub fn expires_at(&self) -> SystemTime {
        self.inner.expires_at
    }

    /// Whether it is still valid at `now`.
    pub fn is_valid_at(&self, now: SystemTime) -> bool {
        now < self.inner.expires_at
    }

    /// The `x-auth-token` header value (`Bearer <token>`), marked sensitive.
    pub(crate) fn header(&self) -> &HeaderValue {
        &self.inner.header
    }
}

impl PartialEq for AccessToken {
    /// The same token (its value), whatever the expiry recorded with it.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.expose() == other.expose()
    }
}

impl Eq for AccessToken {}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"[REDACTED]")
            .field(
                "expires_at",
                &httpdate::fmt_http_date(self.inner.expires_at),
            )
            .finish()
    }
}

/// Mints new tokens with a client id and API key (`POST /v1/connect/token`).
///
/// UQPay keeps one live token per client id: every mint voids the tokens
/// minted before it, wherever they are in use. A [`TokenStore`](crate::TokenStore)
/// decides when to call [`Minter::mint`] so that this does not hurt. Cheap
/// to clone; `Debug` shows the client id only.
#[derive(Clone)]
pub struct Minter {
    inner: Arc<MinterInner>,
}

struct MinterInner {
    raw: uqpay_issuing_raw::Client,
    client_id: String,
    api_key: SecretString,
    timeout: Duration,
    /// The token endpoint's rate limit, if the client keeps it.
    limiter: Option<LocalLimiter>,
    metrics: Metrics,
}

impl fmt::Debug for Minter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Minter")
            .field("client_id", &self.inner.client_id)
            .field("api_key", &"[REDACTED]")
            .finish()
    }
}

impl Minter {
    /// A minter sending through `raw` (whose transport marks the API key
    /// sensitive, bounds each request by `timeout` and follows no redirect).
    pub(crate) fn new(
        raw: uqpay_issuing_raw::Client,
        client_id: String,
        api_key: SecretString,
        timeout: Duration,
        limiter: Option<LocalLimiter>,
        metrics: Metrics,
    ) -> Self {
        Self {
            inner: Arc::new(MinterInner {
                raw,
                client_id,
                api_key,
                timeout,
                limiter,
                metrics,
            }),
        }
    }

    /// The time limit of one mint (the client's
    /// [`timeout`](crate::ClientBuilder::timeout)): a mint never takes longer.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The client id tokens are minted for (what a shared store keys them by;
    /// never the API key).
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The API key, to scrub from texts.
    pub(crate) fn api_key(&self) -> &str {
        self.inner.api_key.expose_secret()
    }

    /// Mints a new token, voiding the earlier ones of the client id.
    ///
    /// Its expiry is taken on this machine's clock: the lifetime UQPay gives
    /// (`expired_at` minus the answer's `Date`) from now, so that a clock off
    /// by minutes neither keeps an expired token nor mints one per call.
    pub async fn mint(&self) -> Result<AccessToken, Error> {
        let span = tracing::info_span!(
            "uqpay.token.mint",
            otel.kind = "client",
            uqpay.result = tracing::field::Empty,
        );
        let minted = self.mint_in().instrument(span.clone()).await;
        span.record("uqpay.result", if minted.is_ok() { "ok" } else { "error" });
        self.inner.metrics.mint(minted.is_ok());
        minted
    }

    async fn mint_in(&self) -> Result<AccessToken, Error> {
        let inner = &self.inner;
        let secrets = [self.api_key()];
        if let Some(limiter) = &inner.limiter {
            limiter.wait(Some(inner.timeout)).await?;
        }
        // The spec's header types (non-empty strings): made per mint, so
        // that the key is held only by the secret string between mints.
        let (client_id, api_key) = match (
            uqpay_issuing_raw::types::CreateAccessTokenXClientId::try_from(
                inner.client_id.as_str(),
            ),
            uqpay_issuing_raw::types::CreateAccessTokenXApiKey::try_from(self.api_key()),
        ) {
            (Ok(client_id), Ok(api_key)) => (client_id, api_key),
            _ => {
                return Err(Error::Config(
                    "the client id and the API key must not be empty".into(),
                ))
            }
        };
        // Bounded here as well as on the request: a caller's configured HTTP
        // client keeps its own timeout (the smaller of the two ends a mint).
        let minting = inner.raw.create_access_token(&api_key, &client_id);
        let Ok(result) = tokio::time::timeout(inner.timeout, minting).await else {
            return Err(Error::Timeout {
                idempotency_key: None,
            });
        };
        let response = match result {
            Ok(response) => response,
            // The token endpoint's answer holds the token: never kept.
            Err(progenitor_client::Error::InvalidResponsePayload(_, e)) => {
                return Err(Error::Decode {
                    status: 200,
                    message: format!(
                        "the token endpoint's answer does not decode ({})",
                        e.classify_as_str()
                    ),
                    body: "[withheld: the token endpoint's answers hold tokens]".into(),
                    attempts: 1,
                    idempotency_key: None,
                })
            }
            Err(other) => return Err(from_raw(other, &secrets)),
        };
        let now = SystemTime::now();
        let server_now = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        let body = response.into_inner();
        let lifetime = trusted_lifetime(body.expired_at, server_now.unwrap_or(now));
        let expires_at = now
            .checked_add(lifetime)
            .unwrap_or(now + MIN_TRUSTED_LIFETIME);
        tracing::debug!(lifetime_secs = lifetime.as_secs(), "minted an access token");
        AccessToken::new(body.auth_token, expires_at).map_err(|_| Error::Decode {
            status: 200,
            message: "the token endpoint gave a token that is not a valid header value".into(),
            body: "[withheld: the token endpoint's answers hold tokens]".into(),
            attempts: 1,
            idempotency_key: None,
        })
    }
}

/// How long a token whose `expired_at` (Unix seconds, UQPay's clock) was
/// given at `server_now` is trusted from now on this machine's clock: the
/// lifetime UQPay gives, a second less (both are whole seconds), at least
/// [`MIN_TRUSTED_LIFETIME`] (an already expired token) and at most
/// [`MAX_TRUSTED_LIFETIME`]. Checked arithmetic: any `expired_at` and any
/// `Date` are safe.
fn trusted_lifetime(expired_at: i64, server_now: SystemTime) -> Duration {
    let expires = u64::try_from(expired_at)
        .ok()
        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)));
    let lifetime = expires
        .and_then(|at| at.duration_since(server_now).ok())
        .unwrap_or_default()
        .saturating_sub(Duration::from_secs(1));
    if lifetime.is_zero() {
        tracing::warn!(
            expired_at,
            "the token endpoint gave a token that has already expired; trusting it for {}s",
            MIN_TRUSTED_LIFETIME.as_secs()
        );
        MIN_TRUSTED_LIFETIME
    } else if lifetime > MAX_TRUSTED_LIFETIME {
        tracing::warn!(
            expired_at,
            "the token endpoint gave a token said to live {}s; trusting it for {}s",
            lifetime.as_secs(),
            MAX_TRUSTED_LIFETIME.as_secs()
        );
        MAX_TRUSTED_LIFETIME
    } else {
        lifetime
    }
}

/// serde_json's category of a decode error, without its text (which may
/// quote the token).
trait Classify {
    fn classify_as_str(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_as_str(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "unexpected field types",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_expiry_and_date_give_a_sane_lifetime() {
        let unix = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        // Whole seconds, as a `Date` header gives them.
        let now = UNIX_EPOCH + Duration::from_secs(unix(SystemTime::now()) as u64);
        assert_eq!(
            trusted_lifetime(unix(now) + 1800, now),
            Duration::from_secs(1799)
        );
        for (expired_at, date) in [
            (i64::MAX, now - Duration::from_secs(3600)),
            (i64::MAX, UNIX_EPOCH),
            (unix(now) + 10 * 86_400, now),
        ] {
            assert_eq!(trusted_lifetime(expired_at, date), MAX_TRUSTED_LIFETIME);
        }
        for expired_at in [i64::MIN, -1, 0, unix(now) - 5] {
            assert_eq!(trusted_lifetime(expired_at, now), MIN_TRUSTED_LIFETIME);
        }
    }

    #[test]
    fn tokens_compare_by_value_and_never_print() {
        let later = SystemTime::now() + Duration::from_secs(60);
        let a = AccessToken::new("tok-SECRET", later).unwrap();
        let b = AccessToken::new("tok-SECRET", SystemTime::now()).unwrap();
        let c = AccessToken::new("tok-OTHER", later).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(!format!("{a:?}").contains("SECRET"));
        assert!(format!("{:?}", a.header()).contains("Sensitive"));
        assert_eq!(a.header().to_str().unwrap(), "Bearer tok-SECRET");
        assert!(a.is_valid_at(SystemTime::now()) && !b.is_valid_at(later));
        assert!(AccessToken::new("bad\ntoken", later).is_err());
    }
}
