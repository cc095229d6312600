//! How requests of the generated [`Client`] are executed: its
//! `ClientHooks::exec` hands each one to the [`Transport`](crate::hooks::Transport)
//! in the client's [`Inner`] value, or straight to `reqwest` when there is
//! none; and a constructor whose `reqwest::Client` never follows a
//! redirect.

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};

use crate::generated::Client;
use crate::hooks::{Inner, TransportFuture};

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
/// nothing): what a request needs goes in `exec`, through the [`Transport`](crate::hooks::Transport).
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
