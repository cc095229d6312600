//! A simulator on a runtime of its own, for synchronous code (property
//! tests, benchmarks) that makes its calls with `block_on`.

use uqpay_issuing::Client;
use uqpay_mock::MockServer;

use crate::clients::{client, simulator, AUTH_HEADER};

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
    /// POSTs `body` as it is to `path` (`/v1/...`) of the simulator, as
    /// JSON with the suite's token and a new idempotency key; the status
    /// and the text of the answer.
    pub fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
        self.runtime.block_on(async {
            let response = self
                .http
                .post(format!("{}{path}", self.server.base_url()))
                .header("x-auth-token", AUTH_HEADER)
                .header("x-idempotency-key", uuid::Uuid::new_v4().to_string())
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("the simulator answers");
            (response.status().as_u16(), response.text().await.unwrap())
        })
    }

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
