//! Loopback HTTP servers that answer as a test says and record what they
//! received: [`ScriptedServer`] (an answer per request) and [`FixedServer`]
//! (one answer for all, changeable).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri};
use axum::response::Response;

/// A body of UQPay's Update Card 200 (its documentation's example): what
/// the benchmark server and the scripted card endpoints answer.
pub const UPDATE_CARD_RESPONSE: &str = r#"{"card_id":"c0cef051-29c5-4796-b86a-cd5b684bfad7","card_order_id":"c0cef051-29c5-4796-b86a-cd5ee34bfad7","card_status":"ACTIVE","order_status":"SUCCESS"}"#;

/// A request as a scripted server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The method.
    pub method: Method,
    /// The path and query.
    pub uri: Uri,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Seen {
    /// The text of a header ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Whether this is a request to the token endpoint.
    pub fn is_token_request(&self) -> bool {
        self.uri.path().ends_with("/v1/connect/token")
    }
}

/// What a [`FixedServer`] answers.
#[derive(Clone, Debug)]
pub struct Canned {
    /// The status.
    pub status: StatusCode,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl Canned {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(body.to_owned()),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        for (name, value) in &self.headers {
            response.headers_mut().insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        response
    }
}

/// What a [`ScriptedServer`] does with one request.
#[derive(Clone, Debug)]
pub enum Script {
    /// Answers.
    Answer(Canned),
    /// Never answers (the connection stays open).
    Hang,
    /// Answers after a delay.
    Delay(std::time::Duration, Canned),
    /// Sends the status, headers and the first `n` bytes of the body, then
    /// breaks the connection.
    Truncate(Canned, usize),
}

type Responder = Arc<dyn Fn(&Seen) -> Script + Send + Sync>;

/// A loopback HTTP server that answers each request as a script says and
/// records what it received. Stops when dropped.
pub struct ScriptedServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedServer {
    /// Starts a server answering each request with `script(request)`.
    pub async fn start(script: impl Fn(&Seen) -> Script + Send + Sync + 'static) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Responder = Arc::new(script);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let record = seen.clone();
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let record = record.clone();
            let script = script.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                let seen = Seen {
                    method: parts.method,
                    uri: parts.uri,
                    headers: parts.headers,
                    body,
                };
                let action = script(&seen);
                record.lock().unwrap().push(seen);
                match action {
                    Script::Answer(canned) => canned.into_response(),
                    Script::Hang => std::future::pending().await,
                    Script::Delay(delay, canned) => {
                        tokio::time::sleep(delay).await;
                        canned.into_response()
                    }
                    Script::Truncate(canned, n) => {
                        let head = canned.body.slice(..n.min(canned.body.len()));
                        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                            Ok(head),
                            Err(std::io::Error::other("the connection breaks")),
                        ];
                        let mut response = Canned {
                            body: Bytes::new(),
                            ..canned
                        }
                        .into_response();
                        *response.body_mut() = Body::from_stream(futures::stream::iter(chunks));
                        response
                    }
                }
            }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, seen, task }
    }

    /// `http://127.0.0.1:PORT/api`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests received so far by the token endpoint.
    pub fn token_requests(&self) -> usize {
        self.seen().iter().filter(|s| s.is_token_request()).count()
    }

    /// The requests received so far by the card endpoints.
    pub fn card_requests(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| !s.is_token_request())
            .collect()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback HTTP server answering every request with the same response
/// (which [`FixedServer::set`] changes) and recording what it received.
pub struct FixedServer {
    server: ScriptedServer,
    canned: Arc<Mutex<Canned>>,
}

impl FixedServer {
    /// Starts a server answering `canned` to everything.
    pub async fn start(canned: Canned) -> Self {
        let canned = Arc::new(Mutex::new(canned));
        let answer = canned.clone();
        let server =
            ScriptedServer::start(move |_| Script::Answer(answer.lock().unwrap().clone())).await;
        Self { server, canned }
    }

    /// Answers `canned` from now on.
    pub fn set(&self, canned: Canned) {
        *self.canned.lock().unwrap() = canned;
    }

    /// `http://127.0.0.1:PORT/api`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.server.origin()
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.server.seen()
    }
}

/// A map of headers as lowercase name -> value text (for assertions).
pub fn header_text(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect()
}
