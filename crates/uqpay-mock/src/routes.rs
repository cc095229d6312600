//! The simulator's routes under `/api`: the token endpoint
//! ([`token`]) and the card routes ([`cards`]); any other path is UQPay's
//! 404.

pub(crate) mod cards;
pub(crate) mod token;

use std::sync::Arc;

use axum::routing::post;
use axum::Router;

use crate::reply::Reply;
use crate::routes::cards::{assign_card, retrieve_card, update_card, update_card_status};
use crate::routes::token::issue_token;
use crate::shared::Shared;

/// The router of one simulator (each connection adds its
/// [`ConnectionKill`](crate::control::ConnectionKill)).
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/connect/token", post(issue_token))
        .route("/api/v1/issuing/cards/assign", post(assign_card))
        .route(
            "/api/v1/issuing/cards/{id}/status",
            post(update_card_status),
        )
        .route(
            "/api/v1/issuing/cards/{id}",
            post(update_card).get(retrieve_card),
        )
        .fallback(|| async { Reply::no_route() })
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use serde_json::{json, Value};
    use tokio::sync::Notify;
    use tower::ServiceExt as _;
    use uuid::Uuid;

    use crate::control::ConnectionKill;
    use crate::shared::tests::{shared, TOKEN};
    use crate::state::Route;

    /// Sends one request to the router (no socket); the status and the JSON
    /// body (`null` when empty).
    async fn send(
        shared: &Arc<Shared>,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::from(body.to_owned())).unwrap();
        let router =
            router(shared.clone()).layer(axum::Extension(ConnectionKill(Arc::new(Notify::new()))));
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, body)
    }

    fn card_headers(key: &str) -> [(&'static str, String); 2] {
        [
            ("x-auth-token", format!("Bearer {TOKEN}")),
            ("x-idempotency-key", key.to_owned()),
        ]
    }

    #[tokio::test]
    async fn unknown_routes_get_the_legacy_404() {
        let shared = shared(None);
        for path in ["/v1/issuing/cards/assign", "/api/v1/nowhere", "/"] {
            let (status, body) = send(&shared, Method::POST, path, &[], "{}").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(body, json!({"code": 404, "message": "404 page not found"}));
        }
    }

    #[tokio::test]
    async fn the_token_route_issues_tokens_to_the_credentials_only() {
        let shared = shared(None);
        let path = "/api/v1/connect/token";
        let (status, body) = send(
            &shared,
            Method::POST,
            path,
            &[("x-client-id", "client"), ("x-api-key", "key")],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["auth_token"].as_str().unwrap().split('.').count(), 3);
        for (headers, expected) in [
            (
                vec![("x-client-id", "other"), ("x-api-key", "key")],
                StatusCode::BAD_REQUEST,
            ),
            (
                vec![("x-client-id", "client"), ("x-api-key", "nope")],
                StatusCode::UNAUTHORIZED,
            ),
            (vec![("x-client-id", "client")], StatusCode::BAD_REQUEST),
        ] {
            let (status, body) = send(&shared, Method::POST, path, &headers, "").await;
            assert_eq!(status, expected, "{headers:?}: {body}");
        }
        let counters = shared.state().counters[&Route::Token];
        assert_eq!(
            (counters.received, counters.committed, counters.refused),
            (4, 1, 3)
        );
        assert_eq!(shared.tokens().issued_count(), 1);
    }

    #[tokio::test]
    async fn the_card_routes_assign_update_and_retrieve() {
        let shared = shared(None);
        let key = Uuid::new_v4().to_string();
        let headers = card_headers(&key);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = json!({"cardholder_id": Uuid::new_v4(), "card_number": "4096360800131111",
            "card_currency": "USD", "card_mode": "SHARE"});
        let (status, assigned) = send(
            &shared,
            Method::POST,
            "/api/v1/issuing/cards/assign",
            &headers,
            &body.to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{assigned}");
        assert_eq!(assigned["card_status"], "ACTIVE");
        let card = assigned["card_id"].as_str().unwrap().to_owned();

        let key = Uuid::new_v4().to_string();
        let update = card_headers(&key);
        let update: Vec<(&str, &str)> = update.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, updated) = send(
            &shared,
            Method::POST,
            &format!("/api/v1/issuing/cards/{card}"),
            &update,
            r#"{"card_limit": 12.5}"#,
        )
        .await;
        assert_eq!(
            (status, updated["order_status"].as_str()),
            (StatusCode::OK, Some("SUCCESS"))
        );

        let key = Uuid::new_v4().to_string();
        let freeze = card_headers(&key);
        let freeze: Vec<(&str, &str)> = freeze.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, frozen) = send(
            &shared,
            Method::POST,
            &format!("/api/v1/issuing/cards/{card}/status"),
            &freeze,
            r#"{"card_status": "FROZEN", "update_reason": "r"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{frozen}");
        assert_eq!(frozen["update_reason"], "r");

        let auth = format!("Bearer {TOKEN}");
        let (status, retrieved) = send(
            &shared,
            Method::GET,
            &format!("/api/v1/issuing/cards/{card}"),
            &[("x-auth-token", &auth)],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{retrieved}");
        assert_eq!(retrieved["card_status"], "FROZEN");
        assert_eq!(retrieved["card_limit"].to_string(), "12.5");
        assert_eq!(retrieved["card_number"], "************1111");

        let state = shared.state();
        for route in [
            Route::AssignCard,
            Route::UpdateCard,
            Route::UpdateCardStatus,
        ] {
            assert_eq!(state.counters[&route].committed, 1, "{route:?}");
        }
        assert_eq!(state.counters[&Route::RetrieveCard].received, 1);
    }

    #[tokio::test]
    async fn a_bad_card_id_is_refused_and_counted_before_anything_else() {
        let shared = shared(None);
        let key = Uuid::new_v4().to_string();
        let headers = card_headers(&key);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for (method, path, route) in [
            (Method::POST, "/api/v1/issuing/cards/123", Route::UpdateCard),
            (
                Method::POST,
                "/api/v1/issuing/cards/123/status",
                Route::UpdateCardStatus,
            ),
            (
                Method::GET,
                "/api/v1/issuing/cards/123",
                Route::RetrieveCard,
            ),
        ] {
            let (status, body) = send(&shared, method, path, &headers, "{}").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(body["message"], "id: must be a UUID, got \"123\"");
            let counters = shared.state().counters[&route];
            assert_eq!((counters.received, counters.refused), (1, 1), "{route:?}");
        }
        // A card nobody assigned: UQPay's card_not_found.
        let path = format!("/api/v1/issuing/cards/{}", Uuid::new_v4());
        let (status, body) = send(&shared, Method::GET, &path, &headers, "").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("card_not_found"))
        );
    }
}
