//! One HTTP exchange, as the generated client's `exec` hook runs it:
//!
//! - the `x-auth-token` the call picked for this attempt (handed down in
//!   [`ATTEMPT`], so the call knows exactly which token a 401 refused), and
//!   the attempt's time limit, go on the request;
//! - the API key is marked sensitive (progenitor's `api-version` header,
//!   not UQPay's, is removed by the generator);
//! - an error answer whose body is not UQPay's JSON (an HTML page from a
//!   proxy, an empty 502) gets a JSON body in UQPay's shape, so that the
//!   generated code keeps its status.
//!
//! Nothing here retries or decides anything: that is the call's job. This
//! module also builds the `reqwest::Client`: the user's settings, then the
//! SDK's invariants on top (redirects are never followed).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use progenitor_client::OperationInfo;
use reqwest::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use uqpay_issuing_raw::hooks::{Transport, TransportFuture};
use uqpay_issuing_raw::types::ApiError;

use crate::auth::Auth;
use crate::redact;

/// The operation that mints tokens: it carries `x-client-id` / `x-api-key`
/// instead of `x-auth-token`.
const TOKEN_OPERATION: &str = "create_access_token";

static AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");
static API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// What the call decided for one attempt.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    /// `Bearer <token>`, sensitive.
    pub(crate) token: HeaderValue,
    /// The attempt's time limit (what is left of it after the token
    /// wait), set on the request whatever the HTTP client's own timeout.
    pub(crate) timeout: Duration,
}

tokio::task_local! {
    /// The attempt in progress on this task (set by the call around the
    /// generated request's future).
    pub(crate) static ATTEMPT: Attempt;
}

/// The SDK's side of the generated client's `exec` hook.
#[derive(Debug, Default)]
pub(crate) struct SdkTransport {
    /// For requests made through [`Client::raw`](crate::Client::raw), which
    /// carry no attempt: the token to send comes from here.
    raw_auth: Option<Arc<Auth>>,
    /// The time limit of a token request (for the minting transport).
    mint_timeout: Option<Duration>,
    /// The timeout the HTTP client itself enforces, when the SDK built it
    /// (no `configure_http`): an attempt whose limit is exactly that needs
    /// no limit of its own on the request (which would cost every call an
    /// extensions map). `None` when the caller configured the HTTP client:
    /// its requests then keep the client's own timeout (which a limit set on
    /// the request would replace), and the call bounds each attempt with a
    /// timer of its own, so the smaller of the two ends it.
    http_timeout: Option<Duration>,
}

impl SdkTransport {
    /// A transport for the card requests of a client (and its raw requests).
    /// `http_timeout`: the timeout the HTTP client is sure to enforce, as
    /// [`http_client`] returns it.
    pub(crate) fn new(auth: Arc<Auth>, http_timeout: Option<Duration>) -> Self {
        Self {
            raw_auth: Some(auth),
            mint_timeout: None,
            http_timeout,
        }
    }

    /// A transport for the token endpoint only, each request within
    /// `timeout` when the SDK built the HTTP client (`None`: the caller
    /// configured it, its own timeout stays, and the minter bounds the mint
    /// with a timer of its own).
    pub(crate) fn for_minting(timeout: Option<Duration>) -> Self {
        Self {
            raw_auth: None,
            mint_timeout: timeout,
            http_timeout: None,
        }
    }
}

impl Transport for SdkTransport {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut request: reqwest::Request,
        info: &OperationInfo,
    ) -> TransportFuture<'a> {
        let token_operation = info.operation_id == TOKEN_OPERATION;
        let attempt = if token_operation {
            if let Some(key) = request.headers_mut().get_mut(&API_KEY) {
                key.set_sensitive(true);
            }
            // A mint is bounded like an attempt, whatever the HTTP
            // client's own timeout.
            if let Some(limit) = self.mint_timeout {
                *request.timeout_mut() = Some(limit);
            }
            None
        } else {
            ATTEMPT.try_with(Attempt::clone).ok()
        };
        match attempt {
            Some(attempt) => {
                // No `content-length` here: hyper states it while it writes
                // the request, on the connection's task, in the map the
                // generated code sized for it (`one_header_map`), so that
                // nothing is regrown there (a map regrown on another thread
                // than the one that allocated it cost a fifth of the
                // throughput of 64 concurrent calls on the multi-thread
                // runtime); stated here, hyper would parse it back.
                request
                    .headers_mut()
                    .insert(AUTH_TOKEN.clone(), attempt.token);
                // Set only when it differs from the timeout of the client the
                // SDK built; never on a client the caller configured (it would
                // replace the caller's timeout: the call's own timer bounds
                // the attempt there).
                if self.http_timeout.is_some_and(|t| t != attempt.timeout) {
                    *request.timeout_mut() = Some(attempt.timeout);
                }
                // The request goes to reqwest before the future is built:
                // the boxed future holds only reqwest's (small) one.
                let pending = client.execute(request);
                Box::pin(async move { checked(pending.await?).await })
            }
            None => Box::pin(async move {
                if !token_operation {
                    self.raw_token(&mut request).await;
                }
                checked(client.execute(request).await?).await
            }),
        }
    }
}

/// An error answer goes through [`normalize_error`] (out of line: it is the
/// rare path, and its future is large).
async fn checked(response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        return Box::pin(normalize_error(response)).await;
    }
    Ok(response)
}

impl SdkTransport {
    /// A request of the raw client: the token the store has (no retry, no
    /// refresh after a 401: the raw client is the escape hatch).
    async fn raw_token(&self, request: &mut reqwest::Request) {
        let Some(auth) = &self.raw_auth else { return };
        match auth.token(None).await {
            Ok(token) => {
                request
                    .headers_mut()
                    .insert(AUTH_TOKEN.clone(), token.header().clone());
            }
            Err(error) => {
                tracing::warn!(%error, "no access token for a raw request; sending it without one");
            }
        }
    }
}

/// Error answers must parse as [`ApiError`] so that the generated code keeps
/// their status: a body that does not (an HTML page from a proxy, an empty
/// 502) is replaced by `{"message": <the body, redacted>}`.
async fn normalize_error(response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    let version = response.version();
    let mut headers = response.headers().clone();
    let body = response.bytes().await?;
    let body = if serde_json::from_slice::<ApiError>(&body).is_ok() {
        body
    } else {
        let text = String::from_utf8_lossy(&body);
        // Not scrubbed here: the call scrubs every message it keeps, the
        // secrets it holds first, then cuts it to 2 KiB (cutting first could
        // split a token and leave its prefix unrecognised). Bounded so that
        // a huge page is not carried whole until then.
        let message = if text.trim().is_empty() {
            format!("HTTP {status} with an empty body")
        } else {
            redact::cut(&text, redact::MAX_CARRIED_TEXT).to_owned()
        };
        let replacement = ApiError {
            message: Some(message),
            ..ApiError::default()
        };
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Bytes::from(serde_json::to_vec(&replacement).expect("ApiError serialises"))
    };
    headers.remove(CONTENT_LENGTH);
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok(reqwest::Response::from(rebuilt))
}

/// The user's adjustments of the `reqwest::ClientBuilder`.
pub(crate) type ConfigureHttp =
    Arc<dyn Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync>;

/// Builds the HTTP client: the SDK's defaults (a connect timeout,
/// `TCP_NODELAY`, the user agent, and the request `timeout` unless the
/// caller configures the client), then the user's `configure` (which may
/// change any of them and add proxies, root certificates, pool settings, a
/// local address, a timeout of its own...), then the SDK's invariant on
/// top: redirects are never followed, so the token never reaches another
/// host. Also returns the timeout the client is sure to enforce on every
/// request: `timeout`, or none when `configure` had the builder. A client
/// the caller configured carries only the timeout the caller set: the SDK
/// bounds each of its attempts with a timer of its own (a call's own
/// `.timeout(..)` may then be longer than the client's), and a timeout
/// preset here would cap every call at the client's.
pub(crate) fn http_client(
    timeout: Duration,
    connect_timeout: Duration,
    configure: Option<&ConfigureHttp>,
) -> Result<(reqwest::Client, Option<Duration>), reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("uqpay-issuing-rs/", env!("CARGO_PKG_VERSION")));
    let enforced = match configure {
        Some(configure) => {
            builder = configure(builder);
            None
        }
        None => {
            builder = builder.timeout(timeout);
            Some(timeout)
        }
    };
    let client = builder
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    Ok((client, enforced))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::client::Client;
    use crate::error::Error;
    use crate::testing::{late_server, token_answer, update, TOKEN, UPDATE_CARD};

    /// A timeout set in `configure_http` bounds each attempt, beside the
    /// client's own (30 s by default): the smaller wins.
    #[tokio::test]
    async fn a_timeout_set_in_configure_http_bounds_each_attempt() {
        let base_url = late_server(Duration::from_millis(1500), |_| UPDATE_CARD.into()).await;
        let client = Client::builder()
            .token(TOKEN)
            .base_url(base_url)
            .max_retries(0)
            .configure_http(|http| http.timeout(Duration::from_millis(200)))
            .build()
            .unwrap();
        let result = update(&client, |call| call).await;
        assert!(
            matches!(result, Err(Error::Timeout { .. })),
            "the answer after 1.5 s came within the 200 ms set in configure_http: {result:?}"
        );
    }

    /// And the SDK's limit of an attempt holds when it is the smaller one.
    #[tokio::test]
    async fn the_call_timeout_bounds_an_attempt_under_a_longer_configured_one() {
        let base_url = late_server(Duration::from_millis(1500), |_| UPDATE_CARD.into()).await;
        let client = Client::builder()
            .token(TOKEN)
            .base_url(base_url)
            .max_retries(0)
            .timeout(Duration::from_millis(200))
            .configure_http(|http| http.timeout(Duration::from_secs(30)))
            .build()
            .unwrap();
        let result = update(&client, |call| call).await;
        assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
        // Without a limit that cuts it, the late answer is the call's.
        let result = update(&client, |call| call.timeout(Duration::from_secs(5))).await;
        assert!(result.is_ok(), "{result:?}");
    }

    /// A mint is bounded the same way.
    #[tokio::test]
    async fn a_timeout_set_in_configure_http_bounds_a_mint() {
        let base_url = late_server(Duration::from_millis(1500), |path| {
            if path.ends_with("/connect/token") {
                token_answer()
            } else {
                UPDATE_CARD.into()
            }
        })
        .await;
        let client = Client::builder()
            .credentials("client", "key")
            .base_url(base_url)
            .max_retries(0)
            .configure_http(|http| http.timeout(Duration::from_millis(200)))
            .build()
            .unwrap();
        let error = update(&client, |call| call).await.unwrap_err();
        match &error {
            Error::Token { source, .. } => {
                assert!(matches!(**source, Error::Timeout { .. }), "{error:?}")
            }
            other => panic!("expected the mint to time out: {other:?}"),
        }
    }

    /// A call's own `.timeout(..)` holds when it is longer than the
    /// client's, with a configured HTTP client too (`configure_http` that
    /// sets no timeout of its own does not cap the call at the client's).
    #[tokio::test]
    async fn a_call_timeout_longer_than_the_clients_holds_with_a_configured_client() {
        let base_url = late_server(Duration::from_millis(1500), |_| UPDATE_CARD.into()).await;
        let client = Client::builder()
            .token(TOKEN)
            .base_url(base_url)
            .max_retries(0)
            .timeout(Duration::from_millis(500))
            .configure_http(|http| http.pool_max_idle_per_host(8))
            .build()
            .unwrap();
        let result = update(&client, |call| call.timeout(Duration::from_secs(5))).await;
        assert!(
            result.is_ok(),
            "the call's 5 s were cut at the client's 500 ms: {result:?}"
        );
        let result = update(&client, |call| call).await;
        assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    }
}
