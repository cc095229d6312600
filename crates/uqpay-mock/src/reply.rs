//! The simulator's answers: JSON bodies with their status, and every error
//! in the vocabulary of UQPay's Card Issuance v1.6 error guide. The codes
//! come from the spec's `KnownErrorCode` (which says which ones UQPay
//! documents and which ones this project chose); this file only decides
//! which answer each situation gets.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use uqpay_issuing_raw::types::{ApiError, ErrorCode, ErrorType, KnownErrorCode};
use uuid::Uuid;

/// The message of the answer to a key whose first request is still being
/// processed: the wording of UQPay's gateway as its SDKs' tests record it
/// (they retry when a message contains "request is processing").
pub const PROCESSING_MESSAGE: &str = "Request is processing, please try again later";

/// The message of UQPay's rate limiter (its rate-limiting guide).
pub const RATE_LIMITED_MESSAGE: &str = "Too many requests have been made to the api. Please refer to the Developer Center for more information";

/// A JSON reply: status and body bytes (what the idempotency store keeps).
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    pub(crate) retry_after: Option<u64>,
}

impl Reply {
    pub(crate) fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Self {
        let bytes = serde_json::to_vec(body).expect("response types serialise");
        Self {
            status,
            body: Bytes::from(bytes),
            retry_after: None,
        }
    }

    pub(crate) fn ok<T: serde::Serialize>(body: &T) -> Self {
        Self::json(StatusCode::OK, body)
    }

    /// Envelope A: `{"type", "code", "message"}` (and `missing_fields`).
    fn typed(
        status: StatusCode,
        kind: ErrorType,
        code: KnownErrorCode,
        message: String,
        missing_fields: Vec<String>,
    ) -> Self {
        Self::json(
            status,
            &ApiError {
                type_: Some(kind.to_string()),
                code: Some(ErrorCode::Text(code.to_string())),
                message: Some(message),
                missing_fields,
                error: None,
            },
        )
    }

    /// 400 `invalid_request_error`: the message starts with the field path.
    pub(crate) fn invalid(message: String) -> Self {
        Self::invalid_missing(message, Vec::new())
    }

    /// 400 `invalid_request_error` listing the missing required fields.
    pub(crate) fn invalid_missing(message: String, missing_fields: Vec<String>) -> Self {
        Self::typed(
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequestError,
            KnownErrorCode::InvalidRequestError,
            message,
            missing_fields,
        )
    }

    /// 400 `card_error` with one of the card codes.
    pub(crate) fn card_error(code: KnownErrorCode, message: String) -> Self {
        Self::typed(
            StatusCode::BAD_REQUEST,
            ErrorType::CardError,
            code,
            message,
            Vec::new(),
        )
    }

    /// 400 `card_error` / `card_not_found`, UQPay's answer for an unknown card
    /// and for a card of another account alike.
    pub(crate) fn card_not_found(_card_id: Uuid) -> Self {
        Self::card_error(
            KnownErrorCode::CardNotFound,
            "card not found or deactivated".into(),
        )
    }

    /// 400 `idempotency_error`: the key was used with another request.
    pub(crate) fn idempotency_key_reused() -> Self {
        Self::typed(
            StatusCode::BAD_REQUEST,
            ErrorType::IdempotencyError,
            KnownErrorCode::IdempotencyKeyReused,
            "this x-idempotency-key was already used with a different request".into(),
            Vec::new(),
        )
    }

    /// 401 `unauthorized_error`.
    pub(crate) fn unauthorized(message: &str) -> Self {
        Self::typed(
            StatusCode::UNAUTHORIZED,
            ErrorType::UnauthorizedError,
            KnownErrorCode::UnauthorizedError,
            message.to_owned(),
            Vec::new(),
        )
    }

    /// 5xx `api_error` (safe to retry with the same key).
    pub(crate) fn api_error(status: u16) -> Self {
        Self::typed(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ErrorType::ApiError,
            KnownErrorCode::ApiError,
            "the server had a problem handling the request; retry with the same x-idempotency-key"
                .into(),
            Vec::new(),
        )
    }

    /// The legacy flat 400 (no `type`, numeric `code`).
    fn legacy(code: i64, message: &str) -> Self {
        Self::json(
            StatusCode::BAD_REQUEST,
            &ApiError {
                code: Some(ErrorCode::Number(code)),
                message: Some(message.to_owned()),
                ..ApiError::default()
            },
        )
    }

    /// The answer while the first request of a key is in flight: the legacy
    /// 400 with `code: 200` (as recorded in UQPay's SDKs' tests).
    pub(crate) fn processing() -> Self {
        Self::legacy(200, PROCESSING_MESSAGE)
    }

    /// 429 from the rate limiter: `{"code": "too_many_requests", "message"}`,
    /// no `type`; with a `Retry-After` when given.
    pub(crate) fn too_many_requests(retry_after: Option<u64>) -> Self {
        let mut reply = Self::json(
            StatusCode::TOO_MANY_REQUESTS,
            &ApiError {
                code: Some(ErrorCode::Text(KnownErrorCode::TooManyRequests.to_string())),
                message: Some(RATE_LIMITED_MESSAGE.to_owned()),
                ..ApiError::default()
            },
        );
        reply.retry_after = retry_after;
        reply
    }

    /// 413 (not in UQPay's docs; a gateway's answer to a huge body).
    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self::typed(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorType::InvalidRequestError,
            KnownErrorCode::InvalidRequestError,
            format!("the request body is larger than {limit} bytes"),
            Vec::new(),
        )
    }

    /// 404 for an unknown route, in the Account Center's envelope
    /// (`{"code": 404, "message"}`): UQPay documents 404 for nothing else.
    pub(crate) fn no_route() -> Self {
        let mut reply = Self::legacy(404, "404 page not found");
        reply.status = StatusCode::NOT_FOUND;
        reply
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(reply: &Reply) -> serde_json::Value {
        serde_json::from_slice(&reply.body).unwrap()
    }

    #[test]
    fn errors_are_in_uqpays_envelopes() {
        let invalid = Reply::invalid_missing("missing".into(), vec!["card_mode".into()]);
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            json(&invalid),
            serde_json::json!({"type": "invalid_request_error", "code": "invalid_request_error",
                "message": "missing", "missing_fields": ["card_mode"]})
        );
        let not_found = json(&Reply::card_not_found(Uuid::new_v4()));
        assert_eq!(
            (&not_found["type"], &not_found["code"]),
            (&"card_error".into(), &"card_not_found".into())
        );
        assert_eq!(Reply::unauthorized("no").status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            Reply::api_error(503).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            Reply::api_error(42).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            json(&Reply::idempotency_key_reused())["type"],
            "idempotency_error"
        );
        assert_eq!(
            Reply::payload_too_large(10).status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }

    #[test]
    fn the_gateways_answers_have_no_type() {
        assert_eq!(
            json(&Reply::processing()),
            serde_json::json!({"code": 200, "message": PROCESSING_MESSAGE})
        );
        let no_route = Reply::no_route();
        assert_eq!(no_route.status, StatusCode::NOT_FOUND);
        assert_eq!(json(&no_route)["code"], 404);
        let limited = Reply::too_many_requests(None);
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            json(&limited),
            serde_json::json!({"code": "too_many_requests", "message": RATE_LIMITED_MESSAGE})
        );
    }

    #[test]
    fn a_response_is_json_with_its_retry_after() {
        let response = Reply::too_many_requests(Some(2)).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["retry-after"], "2");
        let response = Reply::ok(&serde_json::json!({})).into_response();
        assert!(response.headers().get("retry-after").is_none());
    }
}
