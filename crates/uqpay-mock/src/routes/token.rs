//! `POST /v1/connect/token`: a token for the simulator's credentials.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::HeaderMap;
use uqpay_issuing_raw::types::AccessToken;

use crate::ratelimit::Budget;
use crate::reply::Reply;
use crate::shared::Shared;
use crate::state::Route;

/// Issues a token to the credentials in `x-client-id` and `x-api-key`
/// (under the token endpoint's own rate limit; no faults here).
pub(crate) async fn issue_token(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
) -> Reply {
    shared.state().counters(Route::Token).received += 1;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    let (client_id, api_key) = (header("x-client-id"), header("x-api-key"));
    let missing: Vec<String> = [("x-client-id", client_id), ("x-api-key", api_key)]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| name.to_owned())
        .collect();
    let refused = if !shared.admit(Budget::Token, Route::Token) {
        Some(Reply::too_many_requests(None))
    } else if !missing.is_empty() {
        Some(Reply::invalid_missing(
            format!("missing required header(s): {}", missing.join(", ")),
            missing,
        ))
    } else if client_id != Some(shared.client_id.as_str()) {
        // UQPay's FAQ: a client id unknown to the environment is a 400
        // "Invalid client id".
        Some(Reply::invalid("Invalid client id".into()))
    } else if api_key != Some(shared.api_key.as_str()) {
        Some(Reply::unauthorized("invalid x-api-key"))
    } else {
        None
    };
    if let Some(reply) = refused {
        shared.state().counters(Route::Token).refused += 1;
        return reply;
    }
    let now = shared.clock.unix_secs();
    let (auth_token, expired_at) = shared.tokens().issue(&shared.client_id, now);
    shared.state().counters(Route::Token).committed += 1;
    Reply::ok(&AccessToken {
        auth_token,
        expired_at: i64::try_from(expired_at).unwrap_or(i64::MAX),
    })
}
