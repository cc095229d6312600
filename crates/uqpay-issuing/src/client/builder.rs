//! [`ClientBuilder`]: a client's configuration, from code or from the
//! environment, and how [`build`](ClientBuilder::build) turns it into the
//! call handle (HTTP client, transport, auth, limiter, defaults).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use uqpay_issuing_raw::hooks::Inner;

use crate::auth::store::{InMemoryTokenStore, TokenStore};
use crate::auth::token::{AccessToken, Minter};
use crate::auth::Auth;
use crate::call::{Handle, Limiter};
use crate::cards::validate::parse_on_behalf_of;
use crate::client::{Client, Environment};
use crate::error::Error;
use crate::options::Defaults;
use crate::ratelimit::local::LocalLimiter;
use crate::ratelimit::RateLimit;
use crate::retry::budget::RetryBudget;
use crate::retry::policy::RetryPolicy;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::Server;
use crate::transport::{self, ConfigureHttp, SdkTransport};

impl Client {
    /// Configures a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured from the environment:
    ///
    /// - `UQPAY_CLIENT_ID` + `UQPAY_API_KEY` (tokens fetched and refreshed),
    ///   or `UQPAY_API_TOKEN` (a fixed token);
    /// - `UQPAY_BASE_URL`, or `UQPAY_ENVIRONMENT` (`sandbox` | `production`);
    /// - optionally `UQPAY_ON_BEHALF_OF`.
    ///
    /// A missing or invalid variable is an [`Error::Config`] naming it.
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::from_env_with(|name| std::env::var(name).ok())?.build()
    }
}

/// Configures a [`Client`].
///
/// # Defaults and per-call overrides
///
/// Every call takes its settings from the client ([`ClientBuilder`]) unless
/// its request builder overrides them; a call's value wins over the client's
/// for each setting it sets.
///
/// | setting | `ClientBuilder` (default) | per call (every request builder) | what it bounds |
/// | --- | --- | --- | --- |
/// | attempt timeout | `.timeout(d)` (30 s) | `.timeout(d)` | each attempt: the wait for a token, then the request to the last byte of the answer |
/// | deadline | `.deadline(d)` (none) | `.deadline(d)` | the whole call: attempts, backoff, token waits, rate-limit waits; no attempt starts and no backoff sleeps past it, a running attempt is cut at it |
/// | retries | `.max_retries(n)` (2) | `.max_retries(n)` | retries after a retryable failure; `0` sends one attempt (plus one after a refused token, when the client mints its own tokens) |
/// | account | `.on_behalf_of(id)` (none: the header is left out) | `.on_behalf_of(id)` | `x-on-behalf-of`; checked by `build()` for the client's, by `send()` for a call's |
/// | idempotency key | (a new UUID v4 per call) | `.idempotency_key(uuid)` (card changes only, not `retrieve_card`, a read) | the key every attempt of the call carries |
/// | backoff | `.retry_backoff(base, cap)` (500 ms, 30 s), `.retry_jitter(d)` (1 s) | | before retry `n`: `base * 2^(n-1)` capped at `cap`, plus a random delay below the jitter; saturating arithmetic |
/// | `Retry-After` | `.max_retry_after(d)` (60 s) | | the longest `Retry-After` (seconds or HTTP date) waited for instead of the backoff; a longer one, or one too large to read, ends the call with the error; one that is neither a number nor a date is ignored |
/// | retry budget | `.retry_budget(b)` ([`RetryBudget::default`](crate::RetryBudget::default): 500 tokens, 5 a retry, 10 after a timeout, +1 a first-attempt success) | | retries across the client and its clones |
/// | rate limit | `.rate_limit(l)` (off) | | slots for every attempt; the fleet's with a `RedisTokenStore` |
/// | token endpoint rate limit | `.token_rate_limit(l)` (off) | | mints, each waiting at most the client's timeout |
/// | connect timeout | `.connect_timeout(d)` (the attempt timeout, at most 10 s) | | establishing a connection |
///
/// How they layer:
///
/// - An attempt's limit is the smaller of the attempt timeout and what is left
///   of the deadline; the wait for a token counts against it. The wait for a
///   rate-limit slot does not: it is bounded by the deadline only (a bulk
///   job's calls may queue longer than one attempt's timeout), and a slot
///   further away than the deadline fails the call at once with
///   [`Error::RateLimitTimeout`](crate::Error::RateLimitTimeout).
/// - A token mint is bounded by the client's timeout, whatever the call's.
/// - A timeout set in [`ClientBuilder::configure_http`] bounds every request
///   as reqwest applies it, and the call's own limit bounds each attempt
///   beside it: the smaller of the two ends the attempt (removing the timeout
///   there removes only reqwest's).
/// - A call with `.deadline(d)` ends by `d` (the tests allow 500 ms of
///   scheduling slack, with a hanging server, a slow token endpoint and an
///   HTTP client without any timeout).
///
/// Typical: a checkout path `.timeout(Duration::from_secs(2)).max_retries(0)`,
/// a back-office batch `.timeout(Duration::from_secs(60)).max_retries(5)`.
#[derive(Default)]
pub struct ClientBuilder {
    token: Option<SecretString>,
    credentials: Option<(String, SecretString)>,
    token_store: Option<Arc<dyn TokenStore>>,
    base_url: Option<String>,
    environment: Option<Environment>,
    on_behalf_of: Option<String>,
    retry: RetryPolicy,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    deadline: Option<Duration>,
    configure_http: Option<ConfigureHttp>,
    allow_http: bool,
    retry_budget: Option<RetryBudget>,
    rate_limit: Option<RateLimit>,
    token_rate_limit: Option<RateLimit>,
    /// The token store, when it is a `RedisTokenStore` (it can keep the
    /// rate limit for the whole fleet).
    #[cfg(feature = "redis")]
    fleet_store: Option<crate::auth::redis::store::RedisTokenStore>,
    #[cfg(feature = "opentelemetry")]
    meter: Option<opentelemetry::metrics::Meter>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(id, _)| (id, "[REDACTED]")),
            )
            .field("token_store", &self.token_store)
            .field("base_url", &self.base_url)
            .field("environment", &self.environment)
            .field("on_behalf_of", &self.on_behalf_of)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field(
                "configure_http",
                &self.configure_http.as_ref().map(|_| ".."),
            )
            .finish()
    }
}

impl ClientBuilder {
    /// Sends this fixed token (`x-auth-token: Bearer <token>`) on every call.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(SecretString::from(token.into()));
        self
    }

    /// Mints tokens from `POST /v1/connect/token` with these credentials and
    /// keeps them in the [`token_store`](Self::token_store) (by default one
    /// in this process): a token is renewed before it expires, and after a
    /// 401 the call gets a new one and is sent once more.
    pub fn credentials(mut self, client_id: impl Into<String>, api_key: impl Into<String>) -> Self {
        self.credentials = Some((client_id.into(), SecretString::from(api_key.into())));
        self
    }

    /// Keeps the live token of the credentials in `store` (default: an
    /// [`InMemoryTokenStore`] of this client's own). UQPay voids every token
    /// when a new one is minted for the client id, so replicas on the same
    /// credentials must share one store (`RedisTokenStore`, feature
    /// `redis`). Needs [`credentials`](Self::credentials).
    pub fn token_store(mut self, store: impl TokenStore) -> Self {
        #[cfg(feature = "redis")]
        {
            let any: &dyn std::any::Any = &store;
            self.fleet_store = any
                .downcast_ref::<crate::auth::redis::store::RedisTokenStore>()
                .cloned();
        }
        self.token_store = Some(Arc::new(store));
        self
    }

    /// Caps the client's retries with `budget` (default
    /// [`RetryBudget::default`]: the AWS SDK's standard numbers, 500 tokens,
    /// 5 a retry, 10 a retry after a timeout, +1 a first-attempt success);
    /// [`RetryBudget::disabled`] switches it off. Clones of the client share
    /// it; give the same budget to several clients to share it between them.
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.retry_budget = Some(budget);
        self
    }

    /// Keeps UQPay's rate limit of the card endpoints (e.g.
    /// [`RateLimit::production`], 300 a minute): calls wait for a slot
    /// instead of provoking a 429 (bursts inside the window go at once; a
    /// wait never goes past the call's deadline: the call then fails at once
    /// with [`Error::RateLimitTimeout`]). After a 429 anyway (another system
    /// on the account) the client slows down, then recovers. Every attempt
    /// takes a slot. With a `RedisTokenStore` as the
    /// [`token_store`](Self::token_store), the limit is kept for the whole
    /// fleet in its Redis (see `RedisTokenStore`); otherwise in this process
    /// (clones of the client share it). Off by default.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Records the client's metrics with `meter` (feature `opentelemetry`;
    /// default: the global meter provider's `uqpay-issuing` meter, taken
    /// when the client is built, so install the provider first). The
    /// instruments and their attributes are listed in the project's
    /// telemetry guide (`docs/telemetry.md`).
    #[cfg(feature = "opentelemetry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    pub fn meter(mut self, meter: opentelemetry::metrics::Meter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Keeps UQPay's rate limit of the token endpoint (e.g.
    /// [`RateLimit::production_token_endpoint`], 100 a minute) in this
    /// process: a mint waits for a slot, at most the client's timeout. Off
    /// by default (mints are rare: one at a time, at most once a second
    /// after a failure).
    pub fn token_rate_limit(mut self, limit: RateLimit) -> Self {
        self.token_rate_limit = Some(limit);
        self
    }

    /// Sends requests to this base URL (e.g. a simulator's `http://127.0.0.1:PORT/api`).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// Sends requests to one of UQPay's environments (default: sandbox).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// Acts on behalf of this connected account by default (`x-on-behalf-of`):
    /// the sub-account's account_id, a UUID or a short id such as
    /// `CB4488338944`. An empty or blank value, control characters or more
    /// than 64 characters are refused by [`build`](Self::build) with an
    /// [`Error::Validation`] naming `x-on-behalf-of` (UQPay refuses an empty
    /// value; leave it out to act as the master account).
    pub fn on_behalf_of(mut self, account_id: impl Into<String>) -> Self {
        self.on_behalf_of = Some(account_id.into());
        self
    }

    /// How many times a failed call is retried (default 2; 0 disables
    /// retries). Each request builder can override it (`.max_retries(n)`).
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.retry.max_retries = max_retries;
        self
    }

    /// The first backoff delay and the most it doubles to (default 500 ms
    /// and 30 s). Any durations are accepted (the arithmetic saturates).
    pub fn retry_backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.retry.base = base;
        self.retry.cap = cap.max(base);
        self
    }

    /// The most random delay added to each backoff (default 1 s).
    pub fn retry_jitter(mut self, jitter: Duration) -> Self {
        self.retry.jitter = jitter;
        self
    }

    /// The longest `Retry-After` the client waits for; a longer one (or one
    /// too large to read) ends the call with the error (default 60 s).
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.retry.max_retry_after = max;
        self
    }

    /// The time limit of each attempt, from sending the request to the last
    /// byte of the answer (default 30 s). Each request builder can override
    /// it (`.timeout(d)`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The time limit to establish a connection (default: the request timeout, at most 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The time limit of a whole call: its attempts, the waits between them
    /// and the wait for a token (default: none, only the per-attempt
    /// timeout and the retry budget bound a call). Each request builder can
    /// override it (`.deadline(d)`).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Adjusts the HTTP client: egress proxies, private root certificates,
    /// connection pool sizes, a local address, HTTP/2 settings...
    ///
    /// `configure` gets a `reqwest::ClientBuilder` with the SDK's defaults
    /// already set (the connect timeout, `TCP_NODELAY`, the user agent) and
    /// may change any of them; then the SDK's invariant is applied on top:
    /// redirects are never followed, so the token never leaves for another
    /// host. The SDK bounds each attempt of a call itself (the
    /// [`timeout`](Self::timeout), a call's `.timeout(..)`, what is left of
    /// its deadline); a timeout set here bounds every request as well, as
    /// reqwest applies it, and the smaller of the two ends the attempt (no
    /// timeout is preset on the builder, so a call's own `.timeout(..)` may
    /// be longer than the client's). Requests sent through
    /// [`Client::raw`] carry only the timeout set here.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pem = include_bytes!("../../tests/data/example-ca.pem");
    /// let ca = reqwest::Certificate::from_pem(pem)?;
    /// let client = uqpay_issuing::Client::builder()
    ///     .token("...")
    ///     .configure_http(move |http| {
    ///         http.proxy(reqwest::Proxy::https("http://egress.internal:3128").unwrap())
    ///             .add_root_certificate(ca.clone())
    ///             .pool_max_idle_per_host(32)
    ///     })
    ///     .build()?;
    /// # let _ = client;
    /// # Ok(())
    /// # }
    /// ```
    pub fn configure_http<F>(mut self, configure: F) -> Self
    where
        F: Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static,
    {
        self.configure_http = Some(Arc::new(configure));
        self
    }

    /// Allows a plain `http://` base URL on a host other than loopback (the
    /// token then crosses the network unencrypted). Loopback hosts are always
    /// allowed.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Builds the client. Fails if neither (or both) a token and credentials
    /// are set, a token store is set without credentials, the base URL is
    /// unusable, or the default `x-on-behalf-of` is malformed.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = match (self.base_url, self.environment) {
            (Some(url), _) => url,
            (None, environment) => environment
                .unwrap_or(Environment::Sandbox)
                .base_url()
                .to_owned(),
        };
        let base_url = check_base_url(&base_url, self.allow_http)?;
        let on_behalf_of = self
            .on_behalf_of
            .as_deref()
            .map(parse_on_behalf_of)
            .transpose()?;
        let timeout = self.timeout.unwrap_or(Duration::from_secs(30));
        let connect_timeout = self
            .connect_timeout
            .unwrap_or(timeout.min(Duration::from_secs(10)));
        #[cfg(feature = "opentelemetry")]
        let metrics = Metrics::new(
            &self
                .meter
                .clone()
                .unwrap_or_else(crate::telemetry::metrics::global_meter),
        );
        #[cfg(not(feature = "opentelemetry"))]
        let metrics = Metrics;
        let (http, http_timeout) =
            transport::http_client(timeout, connect_timeout, self.configure_http.as_ref())
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let raw = |transport: SdkTransport| {
            uqpay_issuing_raw::Client::new_with_client(
                &base_url,
                http.clone(),
                Inner::with_transport(Arc::new(transport)),
            )
        };
        let auth =
            match (self.token, self.credentials, self.token_store) {
                (Some(token), None, None) => Auth::Fixed(fixed_token(&token)?),
                (None, Some((client_id, api_key)), store) => {
                    if client_id.trim().is_empty() || api_key.expose_secret().trim().is_empty() {
                        return Err(Error::Config(
                            "the client id and the API key must not be empty".into(),
                        ));
                    }
                    for (value, what) in [
                        (client_id.as_str(), "client id"),
                        (api_key.expose_secret(), "API key"),
                    ] {
                        reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                            Error::Config(format!("the {what} is not a valid header value"))
                        })?;
                    }
                    Auth::Credentials {
                        minter: Minter::new(
                            raw(SdkTransport::for_minting(http_timeout)),
                            client_id,
                            api_key,
                            timeout,
                            self.token_rate_limit.map(LocalLimiter::new),
                            metrics.clone(),
                        ),
                        store: store.unwrap_or_else(|| Arc::new(InMemoryTokenStore::new())),
                    }
                }
                (Some(_), None, Some(_)) => return Err(Error::Config(
                    "a token store keeps minted tokens: it needs .credentials(..), not .token(..)"
                        .into(),
                )),
                (None, None, _) => {
                    return Err(Error::Config(
                        "no authentication: set .token(..) or .credentials(..)".into(),
                    ))
                }
                (Some(_), Some(_), _) => {
                    return Err(Error::Config(
                        "set either .token(..) or .credentials(..), not both".into(),
                    ))
                }
            };
        let limiter = self.rate_limit.map(|limit| {
            #[cfg(feature = "redis")]
            if let (Some(store), Auth::Credentials { .. }) = (&self.fleet_store, &auth) {
                return Limiter::Fleet(crate::auth::redis::fleet::FleetLimiter::new(
                    store.clone(),
                    limit,
                ));
            }
            Limiter::Local(LocalLimiter::new(limit))
        });
        let auth = Arc::new(auth);
        let handle = Handle {
            raw: raw(SdkTransport::new(auth.clone(), http_timeout)),
            own_timer: http_timeout.is_none(),
            auth,
            defaults: Defaults {
                policy: self.retry,
                timeout,
                deadline: self.deadline,
                on_behalf_of,
            },
            server: Server::of(&base_url),
            base_url,
            budget: self.retry_budget.unwrap_or_default(),
            limiter,
            metrics,
        };
        Ok(Client::from_handle(handle))
    }

    /// The builder [`Client::from_env`] uses, reading variables through `var`.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Result<ClientBuilder, Error> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut builder = ClientBuilder::default();
        builder = match (
            var("UQPAY_CLIENT_ID"),
            var("UQPAY_API_KEY"),
            var("UQPAY_API_TOKEN"),
        ) {
            (Some(id), Some(key), _) => builder.credentials(id, key),
            (Some(_), None, None) => {
                return Err(Error::Config(
                    "UQPAY_API_KEY is not set (UQPAY_CLIENT_ID is)".into(),
                ))
            }
            (None, Some(_), None) => {
                return Err(Error::Config(
                    "UQPAY_CLIENT_ID is not set (UQPAY_API_KEY is)".into(),
                ))
            }
            (_, _, Some(token)) => builder.token(token),
            (None, None, None) => {
                return Err(Error::Config(
                    "set UQPAY_CLIENT_ID and UQPAY_API_KEY, or UQPAY_API_TOKEN".into(),
                ))
            }
        };
        builder = match (var("UQPAY_BASE_URL"), var("UQPAY_ENVIRONMENT")) {
            (Some(url), _) => builder.base_url(url),
            (None, Some(environment)) => {
                builder.environment(environment.parse().map_err(|_| {
                    Error::Config(format!(
                        "UQPAY_ENVIRONMENT must be sandbox or production, got {environment:?}"
                    ))
                })?)
            }
            (None, None) => {
                return Err(Error::Config(
                    "set UQPAY_ENVIRONMENT (sandbox | production) or UQPAY_BASE_URL".into(),
                ))
            }
        };
        if let Some(account) = var("UQPAY_ON_BEHALF_OF") {
            builder = builder.on_behalf_of(account);
        }
        Ok(builder)
    }
}

/// A token given by the user, never expiring on our side (a 401 is final);
/// one given with its `Bearer ` scheme is taken as it is.
fn fixed_token(token: &SecretString) -> Result<AccessToken, Error> {
    let token = token.expose_secret().trim();
    let token = match token.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => token,
    };
    if token.is_empty() {
        return Err(Error::Config("the token is empty".into()));
    }
    let forever = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    AccessToken::new(token, forever)
}

/// `https://` anywhere; `http://` on loopback (or anywhere with `allow_http`).
fn check_base_url(base_url: &str, allow_http: bool) -> Result<String, Error> {
    let url = reqwest::Url::parse(base_url)
        .map_err(|e| Error::Config(format!("invalid base URL {base_url:?}: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback || allow_http => {}
        "http" => {
            return Err(Error::Config(format!(
                "refusing to send the token over plain http to {}; use https, or .allow_http(true)",
                url.host_str().unwrap_or_default()
            )))
        }
        other => return Err(Error::Config(format!("unsupported URL scheme {other:?}"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "the base URL must not contain credentials".into(),
        ));
    }
    Ok(base_url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn config_error(result: Result<ClientBuilder, Error>) -> String {
        match result {
            Err(Error::Config(message)) => message,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn from_env_names_the_missing_variable() {
        assert!(config_error(ClientBuilder::from_env_with(env(&[]))).contains("UQPAY_API_TOKEN"));
        assert!(config_error(ClientBuilder::from_env_with(env(&[(
            "UQPAY_CLIENT_ID",
            "c"
        )])))
        .contains("UQPAY_API_KEY"));
        assert!(config_error(ClientBuilder::from_env_with(env(&[(
            "UQPAY_API_TOKEN",
            "t"
        )])))
        .contains("UQPAY_ENVIRONMENT"));
        assert!(config_error(ClientBuilder::from_env_with(env(&[
            ("UQPAY_API_TOKEN", "t"),
            ("UQPAY_ENVIRONMENT", "staging")
        ])))
        .contains("UQPAY_ENVIRONMENT"));
    }

    const ACCOUNT: &str = "18523f72-f4de-4f9c-bb8e-ec7d1c4f32be";

    #[test]
    fn from_env_builds_each_configuration() {
        let client = ClientBuilder::from_env_with(env(&[
            ("UQPAY_API_TOKEN", "t"),
            ("UQPAY_ENVIRONMENT", "production"),
            ("UQPAY_ON_BEHALF_OF", ACCOUNT),
        ]))
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(client.base_url(), "https://api.uqpay.com/api");
        assert_eq!(
            client
                .handle()
                .defaults
                .on_behalf_of
                .as_deref()
                .map(String::as_str),
            Some(ACCOUNT)
        );
        let client = ClientBuilder::from_env_with(env(&[
            ("UQPAY_CLIENT_ID", "c"),
            ("UQPAY_API_KEY", "k"),
            ("UQPAY_BASE_URL", "http://127.0.0.1:9/api/"),
        ]))
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9/api");
        assert!(client.handle().auth.can_refresh());
    }

    #[test]
    fn base_urls() {
        assert!(check_base_url("https://api.uqpay.com/api", false).is_ok());
        assert!(check_base_url("http://localhost:8080/api", false).is_ok());
        assert!(check_base_url("http://[::1]:8080/api", false).is_ok());
        assert!(check_base_url("http://mock:8080/api", false).is_err());
        assert!(check_base_url("http://mock:8080/api", true).is_ok());
        assert!(check_base_url("ftp://x/api", true).is_err());
        assert!(check_base_url("https://user:pw@x/api", false).is_err());
        assert!(check_base_url("not a url", false).is_err());
    }

    #[test]
    fn build_needs_exactly_one_kind_of_auth() {
        let err = Client::builder().build().unwrap_err();
        assert!(err.to_string().contains(".token"));
        let err = Client::builder()
            .token("t")
            .credentials("c", "k")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("not both"));
        assert!(Client::builder().token(" ").build().is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let builder = Client::builder()
            .credentials("client-1", "api-key-SECRET")
            .base_url("http://127.0.0.1:1/api");
        assert!(!format!("{builder:?}").contains("SECRET"));
        let client = builder.build().unwrap();
        let text = format!("{client:?}");
        assert!(
            !text.contains("SECRET") && text.contains("client-1"),
            "{text}"
        );
        let client = Client::builder()
            .token("tok-SECRET")
            .base_url("http://127.0.0.1:1/api")
            .build()
            .unwrap();
        assert!(!format!("{client:?}").contains("SECRET"));
    }
}
