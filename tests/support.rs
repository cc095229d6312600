//! Shared helpers of the end-to-end tests and benchmarks.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri};
use axum::response::Response;
use uqpay_issuing::{Client, ClientBuilder};
use uqpay_mock::MockServer;

/// The token the test simulators accept.
pub const TOKEN: &str = "e2e-secret-token-0123456789";

/// The `x-auth-token` header carrying [`TOKEN`], as UQPay requires it.
pub const AUTH_HEADER: &str = "Bearer e2e-secret-token-0123456789";

/// A simulator accepting [`TOKEN`].
pub async fn simulator() -> MockServer {
    MockServer::builder().token(TOKEN).start().await.unwrap()
}

/// A client builder for `server` with [`TOKEN`] and fast retries (1 ms
/// doubling to 8 ms, no jitter), so retry tests take milliseconds.
pub fn fast_builder(base_url: &str) -> ClientBuilder {
    Client::builder()
        .base_url(base_url)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(8))
        .retry_jitter(Duration::ZERO)
        .timeout(Duration::from_secs(10))
}

/// A client of `server` with [`TOKEN`], fast retries and `max_retries`.
pub fn client(server: &MockServer, max_retries: u32) -> Client {
    client_of(&server.base_url(), max_retries)
}

/// A client of any server at `base_url` with [`TOKEN`], fast retries and
/// `max_retries`.
pub fn client_of(base_url: &str, max_retries: u32) -> Client {
    fast_builder(base_url)
        .token(TOKEN)
        .max_retries(max_retries)
        .build()
        .unwrap()
}

/// A card number that is distinct for each `n`.
pub fn pan(n: u64) -> String {
    format!("4096{n:012}")
}

/// An Assign Card request of the USD card `number` in `mode` to a new
/// cardholder, ready to send (or to change first).
pub fn assign_request(
    client: &Client,
    number: &str,
    mode: uqpay_issuing::CardMode,
) -> uqpay_issuing::AssignCard {
    client
        .assign_card()
        .cardholder_id(uuid::Uuid::new_v4())
        .card_number(number)
        .card_currency("USD")
        .card_mode(mode)
}

/// Assigns the SHARE card [`pan`]`(n)` to a new cardholder; its id.
pub async fn assign_share_card(
    client: &Client,
    n: u64,
) -> Result<uuid::Uuid, uqpay_issuing::Error> {
    assign_request(client, &pan(n), uqpay_issuing::CardMode::Share)
        .send()
        .await
        .map(|card| card.card_id)
}

/// A fleet replica's client of `base_url`: its own `store`, the shared
/// credentials, five retries 5 to 50 ms apart with 5 ms of jitter.
pub fn replica_client(
    base_url: &str,
    client_id: &str,
    api_key: &str,
    store: impl uqpay_issuing::TokenStore,
) -> Client {
    fast_builder(base_url)
        .credentials(client_id, api_key)
        .token_store(store)
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(50))
        .retry_jitter(Duration::from_millis(5))
        .max_retries(5)
        .build()
        .unwrap()
}

/// A simulator that mints tokens for `client_id` / `api_key`, and a client
/// of it with those credentials (fast retries).
pub async fn credentialed(client_id: &str, api_key: &str) -> (MockServer, Client) {
    let server = MockServer::builder()
        .credentials(client_id, api_key)
        .start()
        .await
        .unwrap();
    let client = fast_builder(&server.base_url())
        .credentials(client_id, api_key)
        .build()
        .unwrap();
    (server, client)
}

// ---------------------------------------------------------------------------
// Capturing tracing output

/// Everything written by a `tracing` subscriber, for inspection.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// The text captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// A subscriber recording every event and span field at TRACE level into this capture.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        let capture = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_writer(move || capture.clone())
            .finish()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// A server that answers every request the same way

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

// ---------------------------------------------------------------------------
// Benchmarks

/// The body the benchmark server answers (UQPay's Update Card example).
pub const UPDATE_CARD_RESPONSE: &str = r#"{"card_id":"c0cef051-29c5-4796-b86a-cd5b684bfad7","card_order_id":"c0cef051-29c5-4796-b86a-cd5ee34bfad7","card_status":"ACTIVE","order_status":"SUCCESS"}"#;

/// Starts, on a runtime of its own (one worker thread), a minimal loopback
/// server that reads each request's body and answers 200 with
/// [`UPDATE_CARD_RESPONSE`]. Returns its base URL (`http://127.0.0.1:PORT/api`)
/// and the runtime (the server stops when it is dropped).
pub fn start_fixed_200_server() -> (String, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(|body: Bytes| async move {
            let _ = body;
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                UPDATE_CARD_RESPONSE,
            )
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    (format!("http://{addr}/api"), runtime)
}

/// Starts a simulator on a runtime of its own (`workers` threads) with one
/// SHARE card; returns it, the card and the runtime.
pub fn start_simulator_on_own_runtime(
    workers: usize,
) -> (MockServer, uuid::Uuid, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    let (server, card) = runtime.block_on(async {
        let server = simulator().await;
        let card = client(&server, 0)
            .assign_card()
            .cardholder_id(uuid::Uuid::new_v4())
            .card_number("4096360800133951")
            .card_currency("USD")
            .card_mode(uqpay_issuing::CardMode::Share)
            .send()
            .await
            .unwrap()
            .card_id;
        (server, card)
    });
    (server, card, runtime)
}

/// One `update_card` with every field set, through the SDK (what the
/// overhead benchmark and its profiling target measure).
pub async fn sdk_full_update(client: &Client, card: uuid::Uuid) {
    use rust_decimal_macros::dec;
    client
        .update_card(card)
        .card_limit(dec!(2100.02))
        .name_on_card("MARSHALL HU")
        .no_pin_payment_amount(dec!(100))
        .spending_control(
            dec!(100.03),
            uqpay_issuing::SpendingInterval::PerTransaction,
        )
        .enable_3ds(true)
        .allow_3ds_transactions(true)
        .blocked_mcc(["5999", "6011"])
        .metadata("key1", "value1")
        .metadata("key2", "value2")
        .send()
        .await
        .unwrap();
}

/// What a hand-written client parses the answer into.
#[allow(dead_code)]
#[derive(serde::Deserialize)]
struct HandWrittenResponse {
    card_id: String,
    card_order_id: String,
    card_status: String,
    order_status: String,
}

/// The same request as [`sdk_full_update`], written by hand with reqwest and
/// serde_json: the baseline of the overhead benchmark.
pub async fn hand_written_full_update(http: &reqwest::Client, base_url: &str, card: uuid::Uuid) {
    let body = serde_json::json!({
        "card_limit": 2100.02,
        "name_on_card": "MARSHALL HU",
        "no_pin_payment_amount": 100,
        "spending_controls": [{"amount": 100.03, "interval": "PER_TRANSACTION"}],
        "risk_controls": {
            "enable_3ds": "Y",
            "allow_3ds_transactions": "Y",
            "blocked_mcc": ["5999", "6011"]
        },
        "metadata": {"key1": "value1", "key2": "value2"}
    });
    let response = http
        .post(format!("{base_url}/v1/issuing/cards/{card}"))
        .header("x-auth-token", AUTH_HEADER)
        .header("x-idempotency-key", uuid::Uuid::new_v4().to_string())
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let bytes = response.bytes().await.unwrap();
    let _: HandWrittenResponse = serde_json::from_slice(&bytes).unwrap();
}

/// A reqwest client configured like the SDK's (no redirects, 30 s, nodelay).
pub fn hand_written_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
        .unwrap()
}

/// For property tests, which are synchronous: a simulator with one SHARE
/// card on a runtime of its own, a client of it (no retries) and a plain
/// HTTP client to send it raw bytes.
pub struct SyncWorld {
    /// The runtime the simulator runs on; `block_on` it to make calls.
    pub runtime: tokio::runtime::Runtime,
    /// The simulator.
    pub server: MockServer,
    /// A client of the simulator (no retries).
    pub client: Client,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    /// A SHARE card assigned on the simulator.
    pub card: uuid::Uuid,
}

impl SyncWorld {
    /// Starts it (two runtime threads).
    pub fn new() -> Self {
        let (server, card, runtime) = start_simulator_on_own_runtime(2);
        let client = runtime.block_on(async { client(&server, 0) });
        Self {
            runtime,
            server,
            client,
            http: reqwest::Client::new(),
            card,
        }
    }
}

impl Default for SyncWorld {
    fn default() -> Self {
        Self::new()
    }
}

// ---------------------------------------------------------------------------
// A Redis server of the test's own

/// A `redis-server` started by a test on a free loopback port (no
/// persistence), stopped when dropped. Needs Debian's `redis-server`
/// (`.ci/run` installs it; locally: `apt-get install redis-server`).
pub struct RedisServer {
    port: u16,
    child: Option<std::process::Child>,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self { port, child: None };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills it (as a crash would: no shutdown, nothing saved).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes it (SIGSTOP): connections stay open, nothing is answered,
    /// as a Redis stuck on a slow command or a saturated host.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the server is running");
        let status = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} failed");
    }

    /// Runs one command with `redis-cli` (installed with redis-server) and
    /// returns its output (`--raw`: values as they are, nil as an empty
    /// line), trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--raw"])
            .args(args)
            .output()
            .expect("cannot run redis-cli (Debian: apt-get install redis-tools)");
        assert!(output.status.success(), "redis-cli {args:?} failed");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// How many commands the server has processed so far (`INFO stats`).
    pub fn commands_processed(&self) -> u64 {
        self.cli(&["INFO", "stats"])
            .lines()
            .find_map(|line| line.trim().strip_prefix("total_commands_processed:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("INFO stats has total_commands_processed")
    }

    /// Starts it again on the same port, empty, and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("cannot start redis-server: install it (Debian: apt-get install redis-server)");
        self.child = Some(child);
        // Wait until it accepts connections (it starts in milliseconds).
        for _ in 0..500 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server did not start on port {}", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// A fleet of replicas on one set of credentials

/// What the calls of one or more replicas came to.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FleetReport {
    /// Calls made.
    pub calls: usize,
    /// Calls that succeeded.
    pub ok: usize,
    /// Failed calls by kind of error (`Display` of the variant, shortened).
    pub failures: std::collections::BTreeMap<String, usize>,
    /// Latency of each call, in microseconds.
    pub latencies_us: Vec<u64>,
}

impl FleetReport {
    /// Adds `other`'s calls to these.
    pub fn merge(&mut self, other: FleetReport) {
        self.calls += other.calls;
        self.ok += other.ok;
        for (kind, n) in other.failures {
            *self.failures.entry(kind).or_default() += n;
        }
        self.latencies_us.extend(other.latencies_us);
    }

    /// Failed calls.
    pub fn failed(&self) -> usize {
        self.failures.values().sum()
    }

    /// The `q`-quantile (0..=1) of the latencies, in microseconds.
    pub fn quantile_us(&self, q: f64) -> u64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return 0;
        }
        let index = ((sorted.len() - 1) as f64 * q).round() as usize;
        sorted[index]
    }
}

/// The kind of an error, for counting.
pub fn error_kind(error: &uqpay_issuing::Error) -> String {
    use uqpay_issuing::Error;
    match error {
        Error::RetriesExhausted { last, .. } => format!("exhausted: {}", error_kind(last)),
        Error::Token { source, .. } => format!("token: {}", error_kind(source)),
        Error::TokenStore { .. } => "token store".into(),
        Error::Unauthorized { .. } => "unauthorized".into(),
        Error::Api { status, .. } => format!("api {status}"),
        Error::Timeout { .. } => "timeout".into(),
        Error::Network { .. } => "network".into(),
        other => format!("{other}"),
    }
}

/// One replica: assigns a card (number `pan(n)`), then makes `calls`
/// Update Card calls on it, one after the other, `pace` apart.
pub async fn replica(client: Client, n: u64, calls: usize, pace: Duration) -> FleetReport {
    let mut report = FleetReport::default();
    let card = loop {
        match assign_share_card(&client, n).await {
            Ok(card) => break card,
            Err(error) => {
                *report
                    .failures
                    .entry(format!("assign: {}", error_kind(&error)))
                    .or_default() += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    for i in 0..calls {
        let started = std::time::Instant::now();
        let result = client
            .update_card(card)
            .name_on_card(format!("REPLICA {n} CALL {i}"))
            .send()
            .await;
        report.calls += 1;
        report
            .latencies_us
            .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        match result {
            Ok(_) => report.ok += 1,
            Err(error) => *report.failures.entry(error_kind(&error)).or_default() += 1,
        }
        tokio::time::sleep(pace).await;
    }
    report
}
