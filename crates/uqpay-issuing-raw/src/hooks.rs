//! How requests of the generated [`Client`] are executed.
//!
//! The generated code hands every request to `ClientHooks::exec`; the
//! implementation below passes it to the [`Transport`] stored in the
//! client's [`Inner`] value, or straight to `reqwest` when there is none.
//! The `uqpay-issuing` crate plugs in a transport that adds the
//! `x-auth-token`, refreshes it on a 401 and normalises error bodies.
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

use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo, ResponseValue};

use crate::Client;

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

/// The extra state carried by the generated [`Client`]: an optional
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

impl Client {
    /// A client of `baseurl` whose `reqwest::Client` never follows a
    /// redirect, with [`Client::new`]'s 15-second timeouts.
    ///
    /// Prefer it to [`Client::new`], which keeps reqwest's default policy
    /// (up to 10 redirects, stripping only the standard `Authorization`,
    /// `Cookie` and `Proxy-Authorization` headers): an `x-auth-token` put on
    /// every request (e.g. as a default header) would follow a redirect to
    /// another host. The `uqpay-issuing` crate builds its client this way too.
    pub fn new_without_redirects(baseurl: &str, inner: Inner) -> Self {
        let dur = std::time::Duration::from_secs(15);
        let client = reqwest::ClientBuilder::new()
            .connect_timeout(dur)
            .timeout(dur)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a reqwest client with these settings always builds");
        Self::new_with_client(baseurl, client, inner)
    }
}

/// `pre` and `post` are progenitor's defaults (nothing), and the generated
/// code does not call them (the generator's `lean_hooks` removes the calls,
/// so that a request is not kept in the future across a hook that does
/// nothing): what a request needs goes in `exec`, through the [`Transport`].
impl ClientHooks<Inner> for Client {
    /// Hands the request to the transport (or to reqwest) at once: the
    /// future returned holds the transport's, not the request.
    #[allow(refining_impl_trait)]
    fn exec(&self, request: reqwest::Request, info: &OperationInfo) -> TransportFuture<'_> {
        match self.inner().transport() {
            Some(transport) => transport.execute(self.client(), request, info),
            None => Box::pin(self.client().execute(request)),
        }
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
