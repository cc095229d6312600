//! Tokens: fixed and issued ones, the `Bearer` scheme, the token endpoint,
//! expiry, and a new token voiding (or not) the earlier ones.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use uqpay_mock::{MockServer, Route, TokenPolicy};
use uuid::Uuid;

use crate::support::{api, api_with, assign_body, pan, AUTH, TOKEN};

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
async fn a_huge_token_lifetime_saturates_instead_of_panicking() {
    let api = api_with(MockServer::builder().token_lifetime(Duration::from_secs(u64::MAX))).await;
    let token = api.mint().await;
    assert_eq!(
        api.assign_with(&token, &pan(45)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn tokens_are_voided_by_the_next_one_or_coexist_as_configured() {
    for (policy, first_still_valid) in [(TokenPolicy::Void, false), (TokenPolicy::Coexist, true)] {
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
