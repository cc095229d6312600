//! The simulator driven by a plain HTTP client, one rule at a time.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use uqpay_mock::{Fault, MockServer, Route, PROCESSING_MESSAGE};
use uuid::Uuid;

const TOKEN: &str = "test-token";
/// How UQPay's clients send it.
const AUTH: &str = "Bearer test-token";
const ACCT_A: &str = "18523f72-f4de-4f9c-bb8e-ec7d1c4f32be";
const ACCT_B: &str = "6f0c7a52-2b7e-4a0e-9d55-3c6d1b0f9e11";
const HOLDER: &str = "5135e6cc-28b6-4889-81dc-3b86a09e1395";

struct Api {
    server: MockServer,
    http: reqwest::Client,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    /// Asserts the status and UQPay's error shape, returns the body.
    fn error(&self, status: StatusCode, kind: &str) -> Value {
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
    fn card_error(&self, code: &str) -> Value {
        let body = self.error(StatusCode::BAD_REQUEST, "card_error");
        assert_eq!(body["code"], code, "{body}");
        body
    }

    /// Asserts UQPay's answer for an unknown card (or one of another account).
    fn card_not_found(&self) {
        let body = self.card_error("card_not_found");
        assert_eq!(body["message"], "card not found or deactivated");
    }

    /// Asserts an envelope without `type` (legacy, rate limiter), returns the body.
    fn untyped(&self, status: StatusCode) -> Value {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert!(body.get("type").is_none(), "{body}");
        assert!(body["message"].is_string(), "{body}");
        body
    }
}

async fn api() -> Api {
    api_with(MockServer::builder().token(TOKEN)).await
}

async fn api_with(builder: uqpay_mock::MockServerBuilder) -> Api {
    Api {
        server: builder.start().await.unwrap(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

fn pan(n: u64) -> String {
    format!("40963608{n:08}")
}

/// A valid Assign Card body for `number`.
fn assign_body(number: &str, mode: &str) -> Value {
    json!({"cardholder_id": HOLDER, "card_number": number, "card_currency": "USD", "card_mode": mode})
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    async fn send(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
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
    async fn try_assign(&self, key: Uuid, body: &Value) -> reqwest::Result<reqwest::Response> {
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
    fn spawn_call(
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
    async fn call(&self, path: &str, key: Uuid, account: Option<&str>, body: &Value) -> Answer {
        let key = key.to_string();
        let mut headers = vec![("x-auth-token", AUTH), ("x-idempotency-key", key.as_str())];
        if let Some(account) = account {
            headers.push(("x-on-behalf-of", account));
        }
        self.send(path, &headers, &body.to_string()).await
    }

    async fn assign_as(&self, account: Option<&str>, number: &str, mode: &str) -> Uuid {
        let body = json!({"cardholder_id": HOLDER, "card_number": number, "card_currency": "USD", "card_mode": mode});
        let answer = self
            .call("/v1/issuing/cards/assign", Uuid::new_v4(), account, &body)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
        answer.json()["card_id"].as_str().unwrap().parse().unwrap()
    }

    async fn assign(&self, number: &str) -> Uuid {
        self.assign_as(None, number, "SHARE").await
    }

    async fn set_status(&self, card: Uuid, status: &str) -> Answer {
        self.call(
            &format!("/v1/issuing/cards/{card}/status"),
            Uuid::new_v4(),
            None,
            &json!({"card_status": status, "update_reason": "test"}),
        )
        .await
    }

    async fn update(&self, card: Uuid, body: Value) -> Answer {
        self.call(
            &format!("/v1/issuing/cards/{card}"),
            Uuid::new_v4(),
            None,
            &body,
        )
        .await
    }
}

// ---------------------------------------------------------------------------
// Happy paths and the docs' examples

#[tokio::test]
async fn the_docs_examples_work_end_to_end() {
    let api = api().await;
    let body: Value =
        serde_json::from_str(uqpay_issuing_raw::examples::ASSIGN_CARD_REQUEST).unwrap();
    let answer = api
        .call("/v1/issuing/cards/assign", Uuid::new_v4(), None, &body)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let assigned = answer.json();
    assert_eq!(assigned["card_status"], "ACTIVE");
    assert_eq!(assigned["order_status"], "PENDING");
    assert!(assigned["create_time"]
        .as_str()
        .unwrap()
        .ends_with("+08:00"));
    let card_id: Uuid = assigned["card_id"].as_str().unwrap().parse().unwrap();

    // SINGLE cards take no card_limit: drop it from the docs' example.
    let mut update: Value =
        serde_json::from_str(uqpay_issuing_raw::examples::UPDATE_CARD_REQUEST).unwrap();
    update.as_object_mut().unwrap().remove("card_limit");
    let answer = api.update(card_id, update).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
    assert_eq!(answer.json()["order_status"], "SUCCESS");

    let card = api.server.card(card_id).unwrap();
    assert_eq!(card.name_on_card.as_deref(), Some("MARSHALL HU"));
    assert_eq!(card.no_pin_payment_amount.unwrap().to_string(), "100");
    assert_eq!(card.spending_controls[0].amount.to_string(), "100.03");
    let blocked: Vec<String> = card
        .risk_controls
        .blocked_mcc
        .iter()
        .flatten()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(blocked, ["5999", "6011"]);
    assert_eq!(card.metadata.unwrap()["key1"], "value1");
    assert_eq!(card.card_number.expose(), "4096360800133951");
    assert!(!format!("{:?}", api.server.card(card_id).unwrap()).contains("4096360800133951"));
}

#[tokio::test]
async fn card_limit_is_stored_exactly_on_share_cards() {
    let api = api().await;
    let card = api.assign(&pan(1)).await;
    let answer = api
        .update(
            card,
            json!({"card_limit": 2100.02, "no_pin_payment_amount": 0}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let stored = api.server.card(card).unwrap();
    assert_eq!(stored.card_limit.unwrap().to_string(), "2100.02");
    assert_eq!(stored.no_pin_payment_amount.unwrap().to_string(), "0");
    assert_eq!(stored.updates, 1);
}

// ---------------------------------------------------------------------------
// Auth

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let api = api().await;
    let body = json!({"card_status": "FROZEN"}).to_string();
    let path = format!("/v1/issuing/cards/{}/status", Uuid::new_v4());
    let key = Uuid::new_v4().to_string();
    for headers in [
        vec![("x-idempotency-key", key.as_str())],
        vec![
            ("x-idempotency-key", key.as_str()),
            ("x-auth-token", "wrong"),
        ],
        vec![("x-idempotency-key", key.as_str()), ("x-auth-token", "")],
    ] {
        let answer = api.send(&path, &headers, &body).await;
        answer.error(StatusCode::UNAUTHORIZED, "unauthorized_error");
    }
    // The fixed token with the "Bearer " scheme is accepted (and the card
    // does not exist).
    let answer = api
        .send(
            &path,
            &[("x-idempotency-key", key.as_str()), ("x-auth-token", AUTH)],
            &body,
        )
        .await;
    answer.card_not_found();
    assert_eq!(api.server.counters(Route::UpdateCardStatus).refused, 3);
}

#[tokio::test]
async fn a_bare_token_is_refused_unless_the_simulator_accepts_it() {
    let strict = api().await;
    let card = strict.assign(&pan(30)).await;
    let key = Uuid::new_v4().to_string();
    let path = format!("/v1/issuing/cards/{card}/status");
    let body = json!({"card_status": "FROZEN"}).to_string();
    let headers = [("x-auth-token", TOKEN), ("x-idempotency-key", key.as_str())];
    let refused = strict.send(&path, &headers, &body).await;
    let error = refused.error(StatusCode::UNAUTHORIZED, "unauthorized_error");
    assert_eq!(error["code"], "unauthorized_error");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("invalid auth token format"));
    assert_eq!(
        strict.server.card(card).unwrap().card_status.to_string(),
        "ACTIVE"
    );

    let lenient = api_with(MockServer::builder().token(TOKEN).accept_bare_token(true)).await;
    let card = lenient.assign(&pan(31)).await;
    let path = format!("/v1/issuing/cards/{card}/status");
    let answer = lenient.send(&path, &headers, &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
}

#[tokio::test]
async fn the_token_endpoint_issues_expiring_jwt_shaped_tokens() {
    let api = api_with(MockServer::builder().credentials("cid", "key")).await;
    let bad = api
        .send(
            "/v1/connect/token",
            &[("x-client-id", "cid"), ("x-api-key", "nope")],
            "",
        )
        .await;
    bad.error(StatusCode::UNAUTHORIZED, "unauthorized_error");
    let missing = api
        .send("/v1/connect/token", &[("x-client-id", "cid")], "")
        .await;
    let body = missing.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    assert_eq!(body["missing_fields"], json!(["x-api-key"]));

    let answer = api
        .send(
            "/v1/connect/token",
            &[("x-client-id", "cid"), ("x-api-key", "key")],
            "",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let issued = answer.json();
    let token = issued["auth_token"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3, "JWT-shaped");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // UQPay's tokens live 30 minutes.
    let expired_at = issued["expired_at"].as_u64().unwrap();
    assert!(
        (now + 1799..=now + 1801).contains(&expired_at),
        "{expired_at}"
    );
    let bearer = format!("Bearer {token}");

    let path = "/v1/issuing/cards/assign";
    let body = assign_body(&pan(2), "SINGLE").to_string();
    let key = Uuid::new_v4().to_string();
    let headers = [
        ("x-auth-token", bearer.as_str()),
        ("x-idempotency-key", key.as_str()),
    ];
    assert_eq!(api.send(path, &headers, &body).await.status, StatusCode::OK);

    api.server.expire_issued_tokens();
    let key = Uuid::new_v4().to_string();
    let body = assign_body(&pan(3), "SINGLE").to_string();
    let headers = [
        ("x-auth-token", bearer.as_str()),
        ("x-idempotency-key", key.as_str()),
    ];
    let expired = api.send(path, &headers, &body).await;
    let body_json = expired.error(StatusCode::UNAUTHORIZED, "unauthorized_error");
    assert!(body_json["message"].as_str().unwrap().contains("expired"));
    assert!(api.server.card_by_number(&pan(3)).is_none());
}

#[tokio::test]
async fn zero_lifetime_tokens_are_refused() {
    let api = api_with(MockServer::builder().token_lifetime(Duration::ZERO)).await;
    let (id, key) = api.server.credentials();
    let (id, key) = (id.to_owned(), key.to_owned());
    let issued = api
        .send(
            "/v1/connect/token",
            &[("x-client-id", &id), ("x-api-key", &key)],
            "",
        )
        .await
        .json();
    let token = format!("Bearer {}", issued["auth_token"].as_str().unwrap());
    let idem = Uuid::new_v4().to_string();
    let answer = api
        .send(
            "/v1/issuing/cards/assign",
            &[("x-auth-token", &token), ("x-idempotency-key", &idem)],
            "{}",
        )
        .await;
    answer.error(StatusCode::UNAUTHORIZED, "unauthorized_error");
}

impl Api {
    /// Mints a token with the simulator's credentials; returns `Bearer <token>`.
    async fn mint(&self) -> String {
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
    async fn assign_with(&self, auth: &str, number: &str) -> Answer {
        let key = Uuid::new_v4().to_string();
        let body = assign_body(number, "SINGLE").to_string();
        self.send(
            "/v1/issuing/cards/assign",
            &[("x-auth-token", auth), ("x-idempotency-key", &key)],
            &body,
        )
        .await
    }
}

#[tokio::test]
async fn minting_a_token_voids_every_earlier_token_of_the_client_id() {
    let api = api().await;
    let first = api.mint().await;
    assert_eq!(
        api.assign_with(&first, &pan(40)).await.status,
        StatusCode::OK
    );
    let second = api.mint().await;
    let refused = api.assign_with(&first, &pan(41)).await;
    let error = refused.error(StatusCode::UNAUTHORIZED, "unauthorized_error");
    assert!(error["message"].as_str().unwrap().contains("newer token"));
    assert!(api.server.card_by_number(&pan(41)).is_none());
    assert_eq!(
        api.assign_with(&second, &pan(41)).await.status,
        StatusCode::OK
    );
    // Fixed tokens are not issued tokens: a mint leaves them alone.
    assert_eq!(api.assign_with(AUTH, &pan(42)).await.status, StatusCode::OK);
    assert_eq!(api.server.stats().tokens_issued, 2);
}

#[tokio::test]
async fn issued_tokens_expire_after_30_minutes_of_the_simulators_clock() {
    let api = api().await;
    let token = api.mint().await;
    api.server.advance_clock(Duration::from_secs(29 * 60));
    assert_eq!(
        api.assign_with(&token, &pan(43)).await.status,
        StatusCode::OK
    );
    api.server.advance_clock(Duration::from_secs(60));
    let expired = api.assign_with(&token, &pan(44)).await;
    let error = expired.error(StatusCode::UNAUTHORIZED, "unauthorized_error");
    assert_eq!(error["message"], "token expired");
}

#[tokio::test]
async fn a_huge_token_lifetime_saturates_instead_of_panicking() {
    let api = api_with(MockServer::builder().token_lifetime(Duration::from_secs(u64::MAX))).await;
    let token = api.mint().await;
    assert_eq!(
        api.assign_with(&token, &pan(45)).await.status,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------
// Account scoping

#[tokio::test]
async fn cards_are_scoped_to_the_account_that_assigned_them() {
    let api = api().await;
    let card = api.assign_as(Some(ACCT_A), &pan(4), "SHARE").await;
    let path = format!("/v1/issuing/cards/{card}/status");
    let body = json!({"card_status": "FROZEN"});
    // Another account, or the master account: UQPay's "card not found or
    // deactivated", not a 404.
    for account in [Some(ACCT_B), None] {
        let answer = api.call(&path, Uuid::new_v4(), account, &body).await;
        answer.card_not_found();
    }
    let answer = api.call(&path, Uuid::new_v4(), Some(ACCT_A), &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    let stored = api.server.card(card).unwrap();
    assert_eq!(stored.account.as_deref(), Some(ACCT_A));
    assert_eq!(stored.card_status.to_string(), "FROZEN");
}

#[tokio::test]
async fn on_behalf_of_is_a_uuid_or_a_short_id_and_never_empty() {
    let api = api().await;
    let body = assign_body(&pan(46), "SINGLE");
    for account in [
        "",
        " ",
        "acct_A",
        "not-a-uuid",
        "CB4",
        "CB 4488338944",
        &"A".repeat(33),
    ] {
        let answer = api
            .call(
                "/v1/issuing/cards/assign",
                Uuid::new_v4(),
                Some(account),
                &body,
            )
            .await;
        let error = answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .starts_with("x-on-behalf-of"),
            "{account:?}: {error}"
        );
    }
    assert!(api.server.cards().is_empty());
    // A short id (as UQPay's MCP server passes them) is an account; a UUID
    // in capitals is the same account as in lower case.
    let short = api.assign_as(Some("CB4488338944"), &pan(47), "SHARE").await;
    assert_eq!(
        api.server.card(short).unwrap().account.as_deref(),
        Some("CB4488338944")
    );
    let upper = ACCT_A.to_ascii_uppercase();
    let card = api.assign_as(Some(&upper), &pan(48), "SHARE").await;
    assert_eq!(
        api.server.card(card).unwrap().account.as_deref(),
        Some(ACCT_A)
    );
    let path = format!("/v1/issuing/cards/{short}/status");
    let freeze = json!({"card_status": "FROZEN"});
    api.call(&path, Uuid::new_v4(), Some(ACCT_A), &freeze)
        .await
        .card_not_found();
    let frozen = api
        .call(&path, Uuid::new_v4(), Some("CB4488338944"), &freeze)
        .await;
    assert_eq!(frozen.status, StatusCode::OK, "{}", frozen.json());
}

#[tokio::test]
async fn tokens_are_voided_by_the_next_one_or_coexist_as_configured() {
    for (policy, first_still_valid) in [
        (uqpay_mock::TokenPolicy::Void, false),
        (uqpay_mock::TokenPolicy::Coexist, true),
    ] {
        let api = api_with(MockServer::builder().token_policy(policy)).await;
        let (id, key) = api.server.credentials();
        let headers = [("x-client-id", id), ("x-api-key", key)];
        let mint = || async {
            let answer = api.send("/v1/connect/token", &headers, "").await;
            format!("Bearer {}", answer.json()["auth_token"].as_str().unwrap())
        };
        let first = mint().await;
        let second = mint().await;
        assert_eq!(
            api.assign_with(&first, &pan(49)).await.status == StatusCode::OK,
            first_still_valid,
            "{policy:?}"
        );
        assert_eq!(
            api.assign_with(&second, &pan(50)).await.status,
            StatusCode::OK
        );
    }
}

// ---------------------------------------------------------------------------
// Idempotency

#[tokio::test]
async fn the_same_key_and_body_replays_byte_for_byte_without_changing_state() {
    let api = api().await;
    let key = Uuid::new_v4();
    let body = assign_body(&pan(5), "SINGLE");
    let first = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    let second = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(first.bytes, second.bytes);
    assert_eq!(api.server.cards().len(), 1);
    assert_eq!(api.server.commits_for_key(key), 1);
    assert_eq!(api.server.replays_for_key(key), 1);
    let counters = api.server.counters(Route::AssignCard);
    assert_eq!(
        (counters.received, counters.committed, counters.replayed),
        (2, 1, 1)
    );

    // Replays of a status change do not change the card twice.
    let card: Uuid = first.json()["card_id"].as_str().unwrap().parse().unwrap();
    let key = Uuid::new_v4();
    let path = format!("/v1/issuing/cards/{card}/status");
    let freeze = json!({"card_status": "FROZEN"});
    for _ in 0..3 {
        assert_eq!(
            api.call(&path, key, None, &freeze).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(api.server.card(card).unwrap().status_history.len(), 2);
}

#[tokio::test]
async fn the_same_key_with_another_request_is_an_idempotency_error() {
    let api = api().await;
    let key = Uuid::new_v4();
    let body = assign_body(&pan(6), "SINGLE");
    assert_eq!(
        api.call("/v1/issuing/cards/assign", key, None, &body)
            .await
            .status,
        StatusCode::OK
    );
    let mut other = body.clone();
    other["card_number"] = json!(pan(7));
    let answer = api
        .call("/v1/issuing/cards/assign", key, None, &other)
        .await;
    assert_eq!(
        answer.error(StatusCode::BAD_REQUEST, "idempotency_error")["code"],
        "idempotency_key_reused"
    );
    // Another account, same body: also another request.
    let answer = api
        .call("/v1/issuing/cards/assign", key, Some(ACCT_B), &body)
        .await;
    answer.error(StatusCode::BAD_REQUEST, "idempotency_error");
    assert!(api.server.card_by_number(&pan(7)).is_none());
    assert_eq!(api.server.cards().len(), 1);
}

#[tokio::test]
async fn a_key_still_in_flight_answers_that_the_request_is_processing() {
    let api = api().await;
    let card = api.assign(&pan(8)).await;
    api.server.hold_requests();
    let key = Uuid::new_v4();
    let path = format!("/v1/issuing/cards/{card}/status");
    let body = json!({"card_status": "FROZEN"});
    let first = api.spawn_call(&path, key, &body);
    api.server.wait_for_held(1).await;
    let second = api.call(&path, key, None, &body).await;
    // The gateway's legacy 400: no type, numeric code 200.
    let error = second.untyped(StatusCode::BAD_REQUEST);
    assert_eq!(error, json!({"code": 200, "message": PROCESSING_MESSAGE}));
    assert!(PROCESSING_MESSAGE
        .to_lowercase()
        .contains("request is processing"));
    assert_eq!(
        api.server.card(card).unwrap().card_status.to_string(),
        "ACTIVE"
    );
    api.server.release();
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(
        api.server.card(card).unwrap().card_status.to_string(),
        "FROZEN"
    );
    assert_eq!(api.server.commits_for_key(key), 1);
}

#[tokio::test]
async fn the_idempotency_key_must_be_a_uuid() {
    let api = api().await;
    let path = "/v1/issuing/cards/assign";
    let body = assign_body(&pan(9), "SINGLE").to_string();
    let missing = api.send(path, &[("x-auth-token", AUTH)], &body).await;
    let error = missing.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    assert_eq!(error["missing_fields"], json!(["x-idempotency-key"]));
    let bad = api
        .send(
            path,
            &[("x-auth-token", AUTH), ("x-idempotency-key", "123")],
            &body,
        )
        .await;
    let error = bad.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("x-idempotency-key"));
    assert!(api.server.cards().is_empty());
}

#[tokio::test]
async fn a_refused_request_does_not_burn_its_key() {
    let api = api().await;
    let key = Uuid::new_v4();
    let mut body = json!({"cardholder_id": HOLDER, "card_number": pan(10), "card_currency": "usd", "card_mode": "SINGLE"});
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    body["card_currency"] = json!("USD");
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------
// Validation: each rule names its field and changes nothing.

async fn assert_refused(api: &Api, path: &str, body: &str, field: &str) {
    let before = api.server.cards();
    let key = Uuid::new_v4().to_string();
    let answer = api
        .send(
            path,
            &[("x-auth-token", AUTH), ("x-idempotency-key", &key)],
            body,
        )
        .await;
    let error = answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    let message = error["message"].as_str().unwrap();
    let named = message.contains(field)
        || error["missing_fields"]
            .as_array()
            .is_some_and(|m| m.iter().any(|f| f == field));
    assert!(named, "{body}: the error does not name {field}: {error}");
    assert_eq!(api.server.cards(), before, "{body} changed state");
}

#[tokio::test]
async fn invalid_assign_requests_are_refused_naming_the_field() {
    let api = api().await;
    let path = "/v1/issuing/cards/assign";
    let ok = assign_body(&pan(11), "SINGLE");
    let with = |field: &str, value: Value| {
        let mut body = ok.clone();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = ok.clone();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    assert_refused(&api, path, &with("card_mode", json!("DOUBLE")), "card_mode").await;
    assert_refused(&api, path, &with("card_mode", json!(1)), "card_mode").await;
    assert_refused(
        &api,
        path,
        &with("cardholder_id", json!("not-a-uuid")),
        "cardholder_id",
    )
    .await;
    assert_refused(
        &api,
        path,
        &with("card_number", json!("4096")),
        "card_number",
    )
    .await;
    assert_refused(
        &api,
        path,
        &with("card_number", json!("4".repeat(20))),
        "card_number",
    )
    .await;
    assert_refused(
        &api,
        path,
        &with("card_number", json!("40963608001339ab")),
        "card_number",
    )
    .await;
    assert_refused(
        &api,
        path,
        &with("card_number", json!(4096360800133951u64)),
        "card_number",
    )
    .await;
    assert_refused(
        &api,
        path,
        &with("card_currency", json!("US")),
        "card_currency",
    )
    .await;
    for field in ["cardholder_id", "card_number", "card_currency", "card_mode"] {
        assert_refused(&api, path, &without(field), field).await;
    }
    // Not JSON, not an object, empty.
    for body in ["{\"card_mode\": ", "[1,2]", "", "null"] {
        let key = Uuid::new_v4().to_string();
        let answer = api
            .send(
                path,
                &[("x-auth-token", AUTH), ("x-idempotency-key", &key)],
                body,
            )
            .await;
        answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    }
    assert!(api.server.cards().is_empty());
    assert_eq!(api.server.requests_committed(Route::AssignCard), 0);
}

#[tokio::test]
async fn invalid_updates_are_refused_naming_the_field() {
    let api = api().await;
    let card = api.assign(&pan(12)).await;
    let path = format!("/v1/issuing/cards/{card}");
    let cases = [
        (json!({"name_on_card": "A".repeat(27)}), "name_on_card"),
        (json!({"name_on_card": ""}), "name_on_card"),
        (json!({"card_limit": -0.01}), "card_limit"),
        (json!({"card_limit": "lots"}), "card_limit"),
        (json!({"card_limit": true}), "card_limit"),
        // The spec's Amount is a JSON number: no string, however numeric,
        // and none of the forms a lax decimal parser takes.
        (json!({"card_limit": "100"}), "card_limit"),
        (json!({"card_limit": "1_000"}), "card_limit"),
        (json!({"card_limit": " 12 "}), "card_limit"),
        (json!({"card_limit": "+5"}), "card_limit"),
        (json!({"card_limit": ".5"}), "card_limit"),
        (
            json!({"spending_controls": [{"amount": "1_000", "interval": "DAILY"}]}),
            "spending_controls[0].amount",
        ),
        (
            json!({"no_pin_payment_amount": -1}),
            "no_pin_payment_amount",
        ),
        (
            json!({"spending_controls": [{"amount": -5, "interval": "PER_TRANSACTION"}]}),
            "spending_controls[0].amount",
        ),
        (
            json!({"spending_controls": [{"amount": 5, "interval": "HOURLY"}]}),
            "spending_controls[0].interval",
        ),
        (
            json!({"spending_controls": [{"amount": 5}]}),
            "spending_controls[0]",
        ),
        (
            json!({"risk_controls": {"enable_3ds": "YES"}}),
            "risk_controls.enable_3ds",
        ),
        (
            json!({"risk_controls": {"blocked_mcc": ["599"]}}),
            "risk_controls.blocked_mcc[0]",
        ),
        (
            json!({"risk_controls": {"allowed_mcc": ["59x9"]}}),
            "risk_controls.allowed_mcc[0]",
        ),
        (json!({"metadata": "a string"}), "metadata"),
        (json!({"metadata": {"k": "v".repeat(3200)}}), "metadata"),
        (json!({}), "card_limit"),
    ];
    for (body, field) in cases {
        assert_refused(&api, &path, &body.to_string(), field).await;
    }
    let stored = api.server.card(card).unwrap();
    assert_eq!(stored.updates, 0);
    // The boundaries just inside are accepted.
    let answer = api
        .update(
            card,
            json!({"name_on_card": "Ä".repeat(26), "card_limit": 0, "metadata": {"k": "v".repeat(3192)}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json());
}

#[tokio::test]
async fn invalid_status_updates_are_refused_naming_the_field() {
    let api = api().await;
    let card = api.assign(&pan(13)).await;
    let path = format!("/v1/issuing/cards/{card}/status");
    for (body, field) in [
        (json!({"card_status": "LOST"}), "card_status"),
        (json!({"card_status": "frozen"}), "card_status"),
        (json!({"update_reason": "x"}), "card_status"),
        (
            json!({"card_status": "FROZEN", "update_reason": "r".repeat(101)}),
            "update_reason",
        ),
    ] {
        assert_refused(&api, &path, &body.to_string(), field).await;
    }
    let answer = api
        .call(
            &path,
            Uuid::new_v4(),
            None,
            &json!({"card_status": "FROZEN", "update_reason": "r".repeat(100)}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn a_bad_uuid_in_the_path_is_400_and_an_unknown_card_a_card_error() {
    let api = api().await;
    let key = Uuid::new_v4().to_string();
    let headers = [("x-auth-token", AUTH), ("x-idempotency-key", key.as_str())];
    let answer = api
        .send(
            "/v1/issuing/cards/not-a-uuid",
            &headers,
            r#"{"name_on_card":"A"}"#,
        )
        .await;
    let error = answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    assert!(error["message"].as_str().unwrap().starts_with("id:"));
    let answer = api
        .send(
            "/v1/issuing/cards/123/status",
            &headers,
            r#"{"card_status":"FROZEN"}"#,
        )
        .await;
    answer.error(StatusCode::BAD_REQUEST, "invalid_request_error");
    let answer = api
        .update(Uuid::new_v4(), json!({"name_on_card": "A"}))
        .await;
    answer.card_not_found();
    // 404 means an unknown route, nothing else.
    let answer = api.send("/v1/nowhere", &headers, "{}").await;
    let error = answer.untyped(StatusCode::NOT_FOUND);
    assert_eq!(error["code"], 404);
}

#[tokio::test]
async fn huge_bodies_get_a_413_with_the_error_body() {
    let api = api().await;
    let card = api.assign(&pan(14)).await;
    let huge = json!({"metadata": {"k": "v".repeat(1 << 20)}}).to_string();
    let key = Uuid::new_v4().to_string();
    let answer = api
        .send(
            &format!("/v1/issuing/cards/{card}"),
            &[("x-auth-token", AUTH), ("x-idempotency-key", &key)],
            &huge,
        )
        .await;
    answer.error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error");
    assert_eq!(api.server.card(card).unwrap().updates, 0);
}

// ---------------------------------------------------------------------------
// State rules

#[tokio::test]
async fn a_card_number_is_assigned_once() {
    let api = api().await;
    api.assign(&pan(15)).await;
    let body = json!({"cardholder_id": Uuid::new_v4(), "card_number": pan(15), "card_currency": "EUR", "card_mode": "SINGLE"});
    let answer = api
        .call(
            "/v1/issuing/cards/assign",
            Uuid::new_v4(),
            Some(ACCT_B),
            &body,
        )
        .await;
    let error = answer.card_error("card_already_assigned");
    assert!(
        !error.to_string().contains(&pan(15)),
        "the PAN leaks: {error}"
    );
    assert_eq!(api.server.cards().len(), 1);
}

#[tokio::test]
async fn the_card_lifecycle() {
    let api = api().await;
    let card = api.assign(&pan(16)).await;
    let status = |api: &Api| api.server.card(card).unwrap().card_status.to_string();
    assert_eq!(api.set_status(card, "FROZEN").await.status, StatusCode::OK);
    assert_eq!(status(&api), "FROZEN");
    assert_eq!(api.set_status(card, "ACTIVE").await.status, StatusCode::OK);
    assert_eq!(status(&api), "ACTIVE");
    assert_eq!(
        api.set_status(card, "CANCELLED").await.status,
        StatusCode::OK
    );
    assert_eq!(status(&api), "CANCELLED");
    for target in ["ACTIVE", "FROZEN", "CANCELLED"] {
        api.set_status(card, target)
            .await
            .card_error("invalid_status_transition");
    }
    api.update(card, json!({"name_on_card": "LATE"}))
        .await
        .card_error("card_cancelled");
    let stored = api.server.card(card).unwrap();
    // A cancellation goes through PRE_CANCEL (with no pre-cancel period
    // configured, straight on to CANCELLED).
    let history: Vec<String> = stored
        .status_history
        .iter()
        .map(|(status, _)| status.to_string())
        .collect();
    assert_eq!(
        history,
        ["ACTIVE", "FROZEN", "ACTIVE", "PRE_CANCEL", "CANCELLED"]
    );
    assert_eq!(stored.updates, 0);

    // A frozen card can be cancelled directly.
    let other = api.assign(&pan(17)).await;
    assert_eq!(api.set_status(other, "FROZEN").await.status, StatusCode::OK);
    assert_eq!(
        api.set_status(other, "CANCELLED").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn card_limit_on_a_single_card_is_refused() {
    let api = api().await;
    let card = api.assign_as(None, &pan(18), "SINGLE").await;
    let error = api
        .update(card, json!({"card_limit": 10}))
        .await
        .card_error("card_limit_not_allowed");
    assert!(error["message"].as_str().unwrap().contains("card_limit"));
    assert_eq!(api.server.card(card).unwrap().card_limit, None);
}

#[tokio::test]
async fn updates_replace_fields_and_merge_risk_controls() {
    let api = api().await;
    let card = api.assign(&pan(19)).await;
    let first = json!({
        "spending_controls": [{"amount": 1, "interval": "DAILY"}, {"amount": 2, "interval": "MONTHLY"}],
        "risk_controls": {"enable_3ds": "Y", "blocked_mcc": ["5999"]},
        "metadata": {"a": 1}
    });
    assert_eq!(api.update(card, first).await.status, StatusCode::OK);
    let second = json!({
        "spending_controls": [{"amount": 3, "interval": "ALL_TIME"}],
        "risk_controls": {"allow_3ds_transactions": "N"},
        "metadata": {"b": 2}
    });
    assert_eq!(api.update(card, second).await.status, StatusCode::OK);
    let stored = api.server.card(card).unwrap();
    assert_eq!(stored.spending_controls.len(), 1);
    assert_eq!(stored.spending_controls[0].amount.to_string(), "3");
    let risk = serde_json::to_value(&stored.risk_controls).unwrap();
    assert_eq!(
        risk,
        json!({"enable_3ds": "Y", "allow_3ds_transactions": "N", "blocked_mcc": ["5999"]})
    );
    assert_eq!(
        serde_json::to_value(stored.metadata).unwrap(),
        json!({"b": 2})
    );
    assert_eq!(stored.updates, 2);
}

// ---------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn rate_limiting_answers_429_with_retry_after_and_processes_nothing() {
    let api = api().await;
    api.server.fail_next(
        1,
        Fault::RateLimited {
            retry_after: Duration::from_millis(1500),
        },
    );
    let body = assign_body(&pan(20), "SINGLE");
    let key = Uuid::new_v4();
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    let error = answer.untyped(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error["code"], "too_many_requests");
    assert_eq!(answer.headers["retry-after"], "2");
    assert!(api.server.cards().is_empty());
    // The key was not consumed: the retry commits.
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(api.server.stats().faults["rate_limited"], 1);
}

#[tokio::test]
async fn server_errors_are_5xx_with_the_error_body() {
    let api = api().await;
    for status in [500, 502, 503] {
        api.server.fail_next(1, Fault::ServerError(status));
        let body = assign_body(&pan(21), "SINGLE");
        let answer = api
            .call("/v1/issuing/cards/assign", Uuid::new_v4(), None, &body)
            .await;
        answer.error(StatusCode::from_u16(status).unwrap(), "api_error");
        assert!(api.server.cards().is_empty());
    }
    assert_eq!(api.server.counters(Route::AssignCard).faulted, 3);
}

#[tokio::test]
async fn the_processing_fault_answers_like_an_in_flight_key_and_processes_nothing() {
    let api = api().await;
    api.server.fail_next(1, Fault::RequestProcessing);
    let key = Uuid::new_v4();
    let body = assign_body(&pan(47), "SINGLE");
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(
        answer.untyped(StatusCode::BAD_REQUEST),
        json!({"code": 200, "message": PROCESSING_MESSAGE})
    );
    assert!(api.server.cards().is_empty());
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn a_connection_dropped_before_processing_changes_nothing() {
    let api = api().await;
    api.server.fail_next(1, Fault::DropBeforeProcessing);
    let key = Uuid::new_v4();
    let body = assign_body(&pan(22), "SINGLE");
    let result = api.try_assign(key, &body).await;
    let error = result.expect_err("the connection is closed without an answer");
    assert!(!error.is_status());
    assert!(api.server.cards().is_empty());
    assert_eq!(api.server.commits_for_key(key), 0);
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(api.server.commits_for_key(key), 1);
}

#[tokio::test]
async fn a_connection_dropped_after_commit_changed_state_and_the_retry_replays() {
    let api = api().await;
    api.server.fail_next(1, Fault::DropAfterCommit);
    let key = Uuid::new_v4();
    let body = assign_body(&pan(23), "SINGLE");
    let result = api.try_assign(key, &body).await;
    assert!(result.is_err(), "the client sees no answer");
    let card = api
        .server
        .card_by_number(&pan(23))
        .expect("but the card was assigned");
    assert_eq!(api.server.commits_for_key(key), 1);
    let answer = api.call("/v1/issuing/cards/assign", key, None, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["card_id"], card.card_id.to_string());
    assert_eq!(api.server.commits_for_key(key), 1);
    assert_eq!(api.server.replays_for_key(key), 1);
    assert_eq!(api.server.cards().len(), 1);
}

#[tokio::test]
async fn random_faults_follow_the_seed_and_are_counted() {
    async fn run(seed: u64) -> (Vec<u16>, uqpay_mock::Stats) {
        let api = api_with(
            MockServer::builder()
                .token(TOKEN)
                .seed(seed)
                .random_faults(0.5, vec![Fault::ServerError(503), Fault::ServerError(500)]),
        )
        .await;
        let mut statuses = Vec::new();
        for i in 0..40 {
            let body = assign_body(&pan(100 + i), "SINGLE");
            let answer = api
                .call("/v1/issuing/cards/assign", Uuid::new_v4(), None, &body)
                .await;
            statuses.push(answer.status.as_u16());
        }
        (statuses, api.server.stats())
    }
    let (first, stats) = run(9).await;
    let (second, _) = run(9).await;
    assert_eq!(first, second, "the same seed faults the same requests");
    let faulted = first.iter().filter(|s| **s >= 500).count() as u64;
    assert!((8..=32).contains(&faulted), "{faulted} of 40 at rate 0.5");
    let counters = stats.routes[&Route::AssignCard];
    assert_eq!(counters.received, 40);
    assert_eq!(counters.faulted, faulted);
    assert_eq!(counters.committed, 40 - faulted);
    assert_eq!(stats.faults.values().sum::<u64>(), faulted);
}

// ---------------------------------------------------------------------------
// Time: idempotency records live 24 hours

#[tokio::test]
async fn an_idempotency_key_is_forgotten_after_24_hours() {
    let api = api().await;
    let card = api.assign(&pan(50)).await;
    let key = Uuid::new_v4();
    let path = format!("/v1/issuing/cards/{card}");
    let body = json!({"name_on_card": "FIRST"});
    let first = api.call(&path, key, None, &body).await;
    assert_eq!(first.status, StatusCode::OK);
    // Just under a day later: a replay, nothing applied again.
    api.server
        .advance_clock(uqpay_mock::IDEMPOTENCY_TTL - Duration::from_secs(1));
    let replay = api.call(&path, key, None, &body).await;
    assert_eq!(replay.bytes, first.bytes);
    assert_eq!(api.server.card(card).unwrap().updates, 1);
    assert_eq!(api.server.replays_for_key(key), 1);
    // A day later the key is new: the same request runs again, and another
    // body with it is no longer an idempotency error.
    api.server.advance_clock(Duration::from_secs(1));
    let again = api.call(&path, key, None, &body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(api.server.card(card).unwrap().updates, 2);
    assert_eq!(api.server.commits_for_key(key), 2);
    api.server.advance_clock(uqpay_mock::IDEMPOTENCY_TTL);
    let other = api
        .call(&path, key, None, &json!({"name_on_card": "SECOND"}))
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.json());
    assert_eq!(
        api.server.card(card).unwrap().name_on_card.as_deref(),
        Some("SECOND")
    );
}

#[tokio::test]
async fn a_held_request_whose_client_goes_away_frees_its_key() {
    let api = api().await;
    let card = api.assign(&pan(51)).await;
    api.server.hold_requests();
    let key = Uuid::new_v4();
    let path = format!("/v1/issuing/cards/{card}/status");
    let body = json!({"card_status": "FROZEN"});
    let abandoned = api.spawn_call(&path, key, &body);
    api.server.wait_for_held(1).await;
    // The client gives up: its connection closes while the request is held.
    abandoned.abort();
    let _ = abandoned.await;
    api.server.wait_for_held_at_most(0).await;
    api.server.release();
    // The request never ran; the key is free and its retry goes through.
    assert_eq!(api.server.commits_for_key(key), 0);
    let retry = api.call(&path, key, None, &body).await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.json());
    assert_eq!(api.server.commits_for_key(key), 1);
}

// ---------------------------------------------------------------------------
// Rate limits (opt-in)

#[tokio::test]
async fn sandbox_rate_limits_answer_429_past_each_budget() {
    let api = api_with(
        MockServer::builder()
            .token(TOKEN)
            .rate_limits(uqpay_mock::RateLimits::SANDBOX),
    )
    .await;
    // The token endpoint: 60 a minute.
    let (id, key) = api.server.credentials();
    let headers = [
        ("x-client-id", id.to_owned()),
        ("x-api-key", key.to_owned()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mint = || api.send("/v1/connect/token", &headers, "");
    let mut statuses = Vec::new();
    for _ in 0..61 {
        statuses.push(mint().await.status);
    }
    assert!(statuses[..60].iter().all(|s| *s == StatusCode::OK));
    let limited = mint().await;
    let body = limited.untyped(StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "too_many_requests");
    assert_eq!(body["message"], uqpay_mock::RATE_LIMITED_MESSAGE);
    assert!(limited.headers.get("retry-after").is_none());
    // Card calls: 500 a minute, counted apart.
    for i in 0..500 {
        let answer = api
            .update(Uuid::new_v4(), json!({"name_on_card": "X"}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "call {i}");
    }
    let limited = api
        .update(Uuid::new_v4(), json!({"name_on_card": "X"}))
        .await;
    limited.untyped(StatusCode::TOO_MANY_REQUESTS);
    // The next minute, both budgets are back.
    api.server.advance_clock(Duration::from_secs(60));
    assert_eq!(mint().await.status, StatusCode::OK);
    assert_eq!(api.assign_with(AUTH, &pan(52)).await.status, StatusCode::OK);
    let stats = api.server.stats();
    // The 61st and 62nd token requests, the 501st card call.
    assert_eq!(stats.routes[&Route::Token].rate_limited, 2);
    assert_eq!(stats.routes[&Route::UpdateCard].rate_limited, 1);
    assert_eq!(stats.rate_limited(), 3);
}

#[tokio::test]
async fn a_limit_per_short_window_for_tests_that_meet_it_in_seconds() {
    let window = Duration::from_millis(400);
    let api = api_with(
        MockServer::builder()
            .token(TOKEN)
            .rate_limits(uqpay_mock::RateLimits::per_window(5, window)),
    )
    .await;
    // Wait for the start of a window so that the burst fits in one.
    let now = api
        .server
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = Duration::from_millis((now.as_millis() % window.as_millis()) as u64);
    tokio::time::sleep(window - into).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            api.update(Uuid::new_v4(), json!({"name_on_card": "X"}))
                .await
                .status,
        );
    }
    // 5 pass the limiter (and find no card), 2 are limited.
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(limited, 2, "{statuses:?}");
    assert_eq!(api.server.stats().rate_limited(), 2);
    // The next window lets calls through again; the token endpoint is not limited.
    tokio::time::sleep(window).await;
    assert_eq!(
        api.update(Uuid::new_v4(), json!({"name_on_card": "X"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}
