//! The seam through which requests of the generated
//! [`Client`](crate::Client) are executed: the [`Transport`] a higher layer
//! plugs in, kept in the client's [`Inner`] value, and the functions the
//! generated code calls to build bodies and read answers. The generated
//! code hands every request to `ClientHooks::exec` (implemented in the
//! crate's `exec` module), which passes it to the transport, or straight
//! to `reqwest` when there is none. The `uqpay-issuing` crate plugs in a
//! transport that adds the `x-auth-token`, refreshes it on a 401 and
//! normalises error bodies.
//!
//! Where the generated code differs from progenitor's own output (the
//! generator's rewrites, each checked against progenitor's shapes): it
//! does not call the `pre` and `post` hooks (progenitor's defaults, which
//! do nothing), builds each request's headers in one map sized for all of
//! them, serialises the body with [`json_body`] and reads answers with
//! [`from_response`], which keeps their headers without a copy.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use progenitor_client::{Error, OperationInfo, ResponseValue};

/// A boxed future returned by [`Transport::execute`].
pub type TransportFuture<'a> =
    Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a>>;

/// Executes the requests the generated client builds.
pub trait Transport: Send + Sync + fmt::Debug + 'static {
    /// Sends `request` (built for the operation `info`) with `client` and
    /// returns its response. `info` is for the call itself, not for the
    /// future (which the generated code awaits after the request and `info`
    /// are out of its hands).
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> TransportFuture<'a>;
}

/// The extra state carried by the generated [`Client`](crate::Client): an optional
/// [`Transport`]. Cloning is cheap (one `Arc`).
#[derive(Clone, Debug, Default)]
pub struct Inner {
    transport: Option<Arc<dyn Transport>>,
}

impl Inner {
    /// Requests are executed by `transport`.
    pub fn with_transport(transport: Arc<dyn Transport>) -> Self {
        Self {
            transport: Some(transport),
        }
    }

    /// The transport, if one was set.
    pub fn transport(&self) -> Option<&Arc<dyn Transport>> {
        self.transport.as_ref()
    }
}

/// Reads an answer into a [`ResponseValue`], as progenitor's
/// `ResponseValue::from_response` does, except that the answer's headers
/// are moved into it rather than copied (the answer is consumed here: the
/// copy bought nothing). The generated code calls this (see the
/// generator's `fast_request_parts`).
#[doc(hidden)]
#[allow(clippy::result_large_err)] // progenitor's `Error`, as the generated methods return it
pub fn from_response<T: serde::de::DeserializeOwned, E>(
    mut response: reqwest::Response,
) -> impl Future<Output = Result<ResponseValue<T>, Error<E>>> + Send {
    use futures_util::FutureExt as _;
    // Not an `async fn` or block: the answer, read here, is then only in
    // the body's future, which `map` polls where it is (an `async` body
    // would keep room for the answer and for the body's future twice).
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    response.bytes().map(move |full| {
        let full = full.map_err(Error::ResponseBodyError)?;
        let inner =
            serde_json::from_slice(&full).map_err(|e| Error::InvalidResponsePayload(full, e))?;
        Ok(ResponseValue::new(inner, status, headers))
    })
}

/// A request's JSON body, serialised as reqwest's `RequestBuilder::json`
/// does; the generated code calls this (see the generator's
/// `one_header_map`), a failure being [`Error::InvalidRequest`].
#[doc(hidden)]
#[allow(clippy::result_large_err)] // progenitor's `Error`, as the generated methods return it
pub fn json_body<T: serde::Serialize + ?Sized, E>(body: &T) -> Result<Vec<u8>, Error<E>> {
    serde_json::to_vec(body).map_err(|error| Error::InvalidRequest(error.to_string()))
}
