//! The SDK's side of the generated client's `exec` hook: it puts the token
//! on each request, and makes every error answer parse as UQPay's error body.

use std::sync::Arc;

use bytes::Bytes;
use progenitor_client::OperationInfo;
use reqwest::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use uqpay_issuing_raw::hooks::{Transport, TransportFuture};
use uqpay_issuing_raw::types::ApiError;

use crate::auth::Auth;
use crate::redact;

/// The operation that fetches tokens: it carries `x-client-id` /
/// `x-api-key` instead of `x-auth-token`.
pub(crate) const TOKEN_OPERATION: &str = "create_access_token";

static AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");
static API_KEY: HeaderName = HeaderName::from_static("x-api-key");
static API_VERSION: HeaderName = HeaderName::from_static("api-version");

#[derive(Debug)]
pub(crate) struct SdkTransport {
    pub(crate) auth: Arc<Auth>,
}

impl Transport for SdkTransport {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut request: reqwest::Request,
        info: &'a OperationInfo,
    ) -> TransportFuture<'a> {
        let headers = request.headers_mut();
        // progenitor adds the spec's version as `api-version`; UQPay does not
        // document such a header, so it is not sent.
        headers.remove(&API_VERSION);
        if info.operation_id == TOKEN_OPERATION {
            if let Some(key) = headers.get_mut(&API_KEY) {
                key.set_sensitive(true);
            }
        } else if let Some(token) = self.auth.current() {
            headers.insert(AUTH_TOKEN.clone(), token);
        }
        Box::pin(async move {
            let response = client.execute(request).await?;
            if response.status().is_client_error() || response.status().is_server_error() {
                normalize_error(response, &self.auth).await
            } else {
                Ok(response)
            }
        })
    }
}

/// Error answers must parse as [`ApiError`] so that the generated code keeps
/// their status: a body that does not (an HTML page from a proxy, an empty
/// 502) is replaced by `{"message": <the body, redacted>}`.
async fn normalize_error(
    response: reqwest::Response,
    auth: &Auth,
) -> reqwest::Result<reqwest::Response> {
    let status = response.status();
    let version = response.version();
    let mut headers = response.headers().clone();
    let body = response.bytes().await?;
    let body = if serde_json::from_slice::<ApiError>(&body).is_ok() {
        body
    } else {
        let text = String::from_utf8_lossy(&body);
        let message = if text.trim().is_empty() {
            format!("HTTP {status} with an empty body")
        } else {
            auth.with_secrets(|secrets| redact::scrub(&text, secrets))
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
