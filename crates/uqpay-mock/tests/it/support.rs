//! What the behaviour modules share: a simulator with a plain HTTP client
//! ([`Api`]), the answers' checks ([`Answer`]), valid bodies, and a webhook
//! receiver.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uqpay_mock::{MockServer, MockServerBuilder};
use uuid::Uuid;

/// The fixed token the simulators of these tests accept.
pub const TOKEN: &str = "test-token";
/// How UQPay's clients send it.
pub const AUTH: &str = "Bearer test-token";
/// A connected account.
pub const ACCT_A: &str = "18523f72-f4de-4f9c-bb8e-ec7d1c4f32be";
/// Another connected account.
pub const ACCT_B: &str = "6f0c7a52-2b7e-4a0e-9d55-3c6d1b0f9e11";
/// A cardholder.
pub const HOLDER: &str = "5135e6cc-28b6-4889-81dc-3b86a09e1395";
/// The secret webhook deliveries are signed with.
pub const SECRET: &str = "whsec_orders";

/// A running simulator and a client for it.
pub struct Api {
    pub server: MockServer,
    pub http: reqwest::Client,
}

/// An answer as it came: status, headers, body bytes.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    /// Asserts the status and UQPay's error shape, returns the body.
    pub fn error(&self, status: StatusCode, kind: &str) -> Value {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert_eq!(body["type"], kind, "{body}");
        assert!(body["message"].is_string(), "{body}");
        assert!(body["code"].is_string(), "{body}");
        assert_eq!(
            self.headers["content-type"], "application/json",
            "error bodies are JSON"
        );
        body
    }

    /// Asserts a 400 `card_error` with `code`, returns the body.
    pub fn card_error(&self, code: &str) -> Value {
        let body = self.error(StatusCode::BAD_REQUEST, "card_error");
        assert_eq!(body["code"], code, "{body}");
        body
    }

    /// Asserts UQPay's answer for an unknown card (or one of another account).
    pub fn card_not_found(&self) {
        let body = self.card_error("card_not_found");
        assert_eq!(body["message"], "card not found or deactivated");
    }

    /// Asserts an envelope without `type` (legacy, rate limiter), returns the body.
    pub fn untyped(&self, status: StatusCode) -> Value {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert!(body.get("type").is_none(), "{body}");
        assert!(body["message"].is_string(), "{body}");
        body
    }
}

/// A simulator accepting [`TOKEN`].
pub async fn api() -> Api {
    api_with(MockServer::builder().token(TOKEN)).await
}

/// A simulator configured by `builder` (which says which tokens it accepts).
pub async fn api_with(builder: MockServerBuilder) -> Api {
    Api {
        server: builder.start().await.unwrap(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// Card number `n` (16 digits, the docs' BIN).
pub fn pan(n: u64) -> String {
    format!("40963608{n:08}")
}

/// A valid Assign Card body for `number`.
pub fn assign_body(number: &str, mode: &str) -> Value {
    json!({"cardholder_id": HOLDER, "card_number": number, "card_currency": "USD", "card_mode": mode})
}

impl Api {
    /// A simulator configured by `builder`, accepting [`TOKEN`] too.
    pub async fn start(builder: MockServerBuilder) -> Self {
        api_with(builder.token(TOKEN)).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    pub async fn send(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the simulator answers");
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            bytes: response.bytes().await.unwrap().to_vec(),
        }
    }

    /// Sends `body` to the card-assign route with the test token and `key`;
    /// the connection may be dropped (an error instead of an answer).
    pub async fn try_assign(&self, key: Uuid, body: &Value) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(self.url("/v1/issuing/cards/assign"))
            .header("x-auth-token", AUTH)
            .header("x-idempotency-key", key.to_string())
            .json(body)
            .send()
            .await
    }

    /// Sends like [`Api::call`] (no account) on a task of its own, for a
    /// request that is held, or abandoned, while the test goes on.
    pub fn spawn_call(
        &self,
        path: &str,
        key: Uuid,
        body: &Value,
    ) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
        let request = self
            .http
            .post(self.url(path))
            .header("x-auth-token", AUTH)
            .header("x-idempotency-key", key.to_string())
            .header("content-type", "application/json")
            .body(body.to_string());
        tokio::spawn(request.send())
    }

    /// Sends with the test token and the given key / account.
    pub async fn call(&self, path: &str, key: Uuid, account: Option<&str>, body: &Value) -> Answer {
        let key = key.to_string();
        let mut headers = vec![("x-auth-token", AUTH), ("x-idempotency-key", key.as_str())];
        if let Some(account) = account {
            headers.push(("x-on-behalf-of", account));
        }
        self.send(path, &headers, &body.to_string()).await
    }

    pub async fn assign_as(&self, account: Option<&str>, number: &str, mode: &str) -> Uuid {
        let body = json!({"cardholder_id": HOLDER, "card_number": number, "card_currency": "USD", "card_mode": mode});
        let answer = self
            .call("/v1/issuing/cards/assign", Uuid::new_v4(), account, &body)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
        answer.json()["card_id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn assign(&self, number: &str) -> Uuid {
        self.assign_as(None, number, "SHARE").await
    }

    pub async fn set_status(&self, card: Uuid, status: &str) -> Answer {
        self.call(
            &format!("/v1/issuing/cards/{card}/status"),
            Uuid::new_v4(),
            None,
            &json!({"card_status": status, "update_reason": "test"}),
        )
        .await
    }

    pub async fn update(&self, card: Uuid, body: Value) -> Answer {
        self.call(
            &format!("/v1/issuing/cards/{card}"),
            Uuid::new_v4(),
            None,
            &body,
        )
        .await
    }

    /// Mints a token with the simulator's credentials; returns `Bearer <token>`.
    pub async fn mint(&self) -> String {
        let (id, key) = self.server.credentials();
        let (id, key) = (id.to_owned(), key.to_owned());
        let answer = self
            .send(
                "/v1/connect/token",
                &[("x-client-id", &id), ("x-api-key", &key)],
                "",
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
        format!("Bearer {}", answer.json()["auth_token"].as_str().unwrap())
    }

    /// Sends a valid Assign Card of `number` with the token `auth`.
    pub async fn assign_with(&self, auth: &str, number: &str) -> Answer {
        let key = Uuid::new_v4().to_string();
        let body = assign_body(number, "SINGLE").to_string();
        self.send(
            "/v1/issuing/cards/assign",
            &[("x-auth-token", auth), ("x-idempotency-key", &key)],
            &body,
        )
        .await
    }

    /// POSTs `body` to `path` with the test token and a new key; the status
    /// and the JSON answer.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let answer = self.call(path, Uuid::new_v4(), None, &body).await;
        (answer.status, answer.json())
    }

    /// Retrieve Card of `card` as `account`; the status and the JSON answer.
    pub async fn get(&self, card: &str, account: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .get(self.url(&format!("/v1/issuing/cards/{card}")))
            .header("x-auth-token", AUTH);
        if let Some(account) = account {
            request = request.header("x-on-behalf-of", account);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    /// Assigns `number` as a `mode` card to a new cardholder; the answer.
    pub async fn assign_card(&self, number: &str, mode: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/issuing/cards/assign",
                json!({"cardholder_id": Uuid::new_v4(), "card_number": number, "card_currency": "USD", "card_mode": mode}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// What the receiver got: each delivery's headers and body.
#[derive(Clone, Default)]
pub struct Received(pub Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

impl Received {
    pub fn events(&self) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_slice(body).unwrap())
            .collect()
    }
}

/// A webhook receiver on a free port; it refuses the first `refuse`
/// deliveries with a 500.
pub async fn receiver(refuse: usize) -> (String, Received) {
    let received = Received::default();
    let log = received.clone();
    let refused = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            let refused = refused.clone();
            async move {
                let mut count = refused.lock().unwrap();
                log.0.lock().unwrap().push((headers, body));
                if *count < refuse {
                    *count += 1;
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}
