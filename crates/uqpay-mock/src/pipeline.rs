//! The way of a card request: faults first, then the rate limit, the
//! headers ([`headers`]), the body ([`body`]), the operation's own checks
//! and the idempotency records; then the operation itself, under the state
//! lock, and the answer (or the connection closed, when a fault says so).

pub(crate) mod body;
pub(crate) mod headers;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::control::ConnectionKill;
use crate::faults::Fault;
use crate::idempotency::{Fingerprint, Seen};
use crate::orders::Desk;
use crate::pipeline::body::{parse_body, read_body};
use crate::pipeline::headers::check_headers;
use crate::ratelimit::Budget;
use crate::reply::Reply;
use crate::shared::Shared;
use crate::state::{Route, State};

/// What a card route hands to the pipeline.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) route: Route,
    /// The path under `/api` (part of what makes two requests the same).
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
}

/// The result of an operation: the reply, and whether it changed state.
#[derive(Debug)]
pub(crate) struct Executed {
    pub(crate) reply: Reply,
    pub(crate) committed: bool,
}

impl Executed {
    /// The operation changed state and answers `body` with a 200.
    pub(crate) fn committed<T: serde::Serialize>(body: &T) -> Self {
        Self {
            reply: Reply::ok(body),
            committed: true,
        }
    }

    /// The operation refused the request with `reply`; nothing changed.
    pub(crate) fn refused(reply: Reply) -> Self {
        Self {
            reply,
            committed: false,
        }
    }
}

/// Removes an idempotency record still marked in flight when the request
/// that marked it goes away without an outcome (its client disconnected
/// while it was held): the request never ran, so the key is free again.
struct InFlight<'a> {
    shared: &'a Shared,
    key: Uuid,
    settled: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.shared.state().idempotency.release(self.key);
        }
    }
}

/// A request of `route` arrives: it is counted, the clock ticks, and the
/// next queued or random fault, if any, is counted and returned.
pub(crate) fn arrive(shared: &Shared, route: Route) -> Option<Fault> {
    shared.state().counters(route).received += 1;
    shared.tick();
    let fault = shared.faults().next()?;
    let mut state = shared.state();
    state.counters(route).faulted += 1;
    *state.faults_injected.entry(fault.name()).or_default() += 1;
    tracing::debug!(?route, fault = %fault.name(), "injecting fault");
    Some(fault)
}

/// A request of `route` refused with `reply`: counted (as unauthorized too
/// for a 401) and answered.
pub(crate) fn refuse(shared: &Shared, route: Route, reply: Reply) -> Response {
    let mut state = shared.state();
    let counters = state.counters(route);
    counters.refused += 1;
    counters.unauthorized += u64::from(reply.status == StatusCode::UNAUTHORIZED);
    drop(state);
    reply.into_response()
}

/// The answer of a fault that answers (the drops close the connection
/// instead).
pub(crate) fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after } => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            Reply::too_many_requests(Some(seconds)).into_response()
        }
        Fault::ServerError(status) => Reply::api_error(status).into_response(),
        Fault::RequestProcessing => Reply::processing().into_response(),
        Fault::DropBeforeProcessing | Fault::DropAfterCommit => {
            unreachable!("drops close the connection instead of answering")
        }
    }
}

/// Runs one card operation through the whole pipeline: fault injection,
/// rate limit, authentication, header and body validation (`validate`:
/// the operation's own checks of the body), idempotency, then `execute`
/// under the state lock.
pub(crate) async fn run<T>(
    shared: Arc<Shared>,
    kill: ConnectionKill,
    incoming: Incoming,
    validate: impl FnOnce(&T) -> Result<(), Reply>,
    execute: impl FnOnce(&mut State, &mut Desk<'_>, Option<String>, T) -> Executed,
) -> Response
where
    T: DeserializeOwned + schemars::JsonSchema,
{
    let route = incoming.route;
    let fault = arrive(&shared, route);
    if let Some(fault) = fault {
        match fault {
            Fault::DropBeforeProcessing => return kill.drop_connection().await,
            Fault::DropAfterCommit => {}
            other => return fault_response(other),
        }
    }

    let body = read_body(incoming.body).await;
    let checked = if shared.admit(Budget::Calls, route) {
        check_headers(&shared, &incoming.headers).and_then(|call| {
            let (request, bytes) = parse_body::<T>(body?)?;
            validate(&request)?;
            Ok((call, request, bytes))
        })
    } else {
        Err(Reply::too_many_requests(None))
    };
    let (call, request, bytes) = match checked {
        Ok(checked) => checked,
        Err(reply) => return refuse(&shared, route, reply),
    };

    let fingerprint = Fingerprint::of(
        call.account.as_deref(),
        route.operation_id(),
        &incoming.path,
        &bytes,
    );
    let now = shared.clock.now();
    let seen = shared.state().idempotency.check(call.key, fingerprint, now);
    match seen {
        Seen::Refused(reply) => {
            shared.state().counters(route).refused += 1;
            return reply.into_response();
        }
        Seen::Replay(reply) => {
            shared.state().counters(route).replayed += 1;
            return finish(reply, fault, &kill).await;
        }
        Seen::New => {}
    }
    let mut in_flight = InFlight {
        shared: &shared,
        key: call.key,
        settled: false,
    };

    shared.hold.pass().await;

    let mut desk = shared.desk(now);
    let reply = {
        let mut state = shared.state();
        let executed = execute(&mut state, &mut desk, call.account, request);
        state
            .idempotency
            .settle(call.key, executed.reply.clone(), executed.committed);
        if executed.committed {
            state.counters(route).committed += 1;
        }
        in_flight.settled = true;
        executed.reply
    };
    drop(in_flight);
    let (events, scheduled) = desk.into_parts();
    shared.webhooks.publish(events);
    for order in scheduled {
        shared.schedule(order);
    }
    tracing::debug!(?route, status = %reply.status, "processed");
    finish(reply, fault, &kill).await
}

/// Answers, or closes the connection when the fault says so.
async fn finish(reply: Reply, fault: Option<Fault>, kill: &ConnectionKill) -> Response {
    if fault == Some(Fault::DropAfterCommit) {
        return kill.drop_connection().await;
    }
    reply.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use axum::http::HeaderValue;
    use tokio::sync::Notify;
    use uqpay_issuing_raw::types::UpdateCardStatusRequest;

    use crate::shared::tests::{shared, TOKEN};

    const PATH: &str = "/v1/issuing/cards/x/status";

    fn incoming(key: Uuid, token: &str, body: &'static str) -> Incoming {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-auth-token",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        headers.insert(
            "x-idempotency-key",
            HeaderValue::from_str(&key.to_string()).unwrap(),
        );
        Incoming {
            route: Route::UpdateCardStatus,
            path: PATH.into(),
            headers,
            body: Body::from(body),
        }
    }

    fn kill() -> ConnectionKill {
        ConnectionKill(Arc::new(Notify::new()))
    }

    /// Runs `incoming` through the pipeline with an operation that counts
    /// its runs in `runs` and answers with the status asked for.
    async fn call(
        shared: &Arc<Shared>,
        incoming: Incoming,
        runs: &AtomicUsize,
    ) -> (StatusCode, String) {
        let response = run(
            shared.clone(),
            kill(),
            incoming,
            |request: &UpdateCardStatusRequest| match request
                .update_reason
                .as_ref()
                .map(|r| r.as_str())
            {
                Some("invalid") => Err(Reply::invalid(
                    "update_reason: refused by the operation".into(),
                )),
                _ => Ok(()),
            },
            |_state, _desk, _account, request: UpdateCardStatusRequest| {
                let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                match request.update_reason.as_ref().map(|r| r.as_str()) {
                    Some("refuse") => {
                        Executed::refused(Reply::invalid(format!("refused, run {n}")))
                    }
                    _ => Executed::committed(&serde_json::json!({ "run": n })),
                }
            },
        )
        .await;
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn an_operation_runs_once_per_key_and_its_answer_is_replayed() {
        let shared = shared(None);
        let runs = AtomicUsize::new(0);
        let key = Uuid::new_v4();
        let body = r#"{"card_status": "FROZEN"}"#;
        let first = call(&shared, incoming(key, TOKEN, body), &runs).await;
        assert_eq!(first, (StatusCode::OK, r#"{"run":1}"#.to_owned()));
        let again = call(&shared, incoming(key, TOKEN, body), &runs).await;
        assert_eq!(again, first, "replayed byte for byte");
        let other = call(
            &shared,
            incoming(key, TOKEN, r#"{"card_status": "ACTIVE"}"#),
            &runs,
        )
        .await;
        assert_eq!(other.0, StatusCode::BAD_REQUEST);
        assert!(other.1.contains("idempotency_key_reused"), "{}", other.1);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let state = shared.state();
        let counters = state.counters[&Route::UpdateCardStatus];
        assert_eq!(
            (
                counters.received,
                counters.committed,
                counters.replayed,
                counters.refused
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(state.idempotency.commits(key), 1);
    }

    #[tokio::test]
    async fn refusals_before_the_operation_leave_the_key_free() {
        let shared = shared(None);
        let runs = AtomicUsize::new(0);
        let key = Uuid::new_v4();
        let unauthorized = call(
            &shared,
            incoming(key, "wrong", r#"{"card_status": "FROZEN"}"#),
            &runs,
        )
        .await;
        assert_eq!(unauthorized.0, StatusCode::UNAUTHORIZED);
        let invalid = call(
            &shared,
            incoming(key, TOKEN, r#"{"card_status": "LOST"}"#),
            &runs,
        )
        .await;
        assert_eq!(invalid.0, StatusCode::BAD_REQUEST);
        assert!(invalid.1.contains("card_status: "), "{}", invalid.1);
        let validated = call(
            &shared,
            incoming(
                key,
                TOKEN,
                r#"{"card_status": "FROZEN", "update_reason": "invalid"}"#,
            ),
            &runs,
        )
        .await;
        assert!(
            validated.1.contains("refused by the operation"),
            "{}",
            validated.1
        );
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        assert_eq!(shared.state().idempotency.len(), 0, "nothing recorded");
        let counters = shared.state().counters[&Route::UpdateCardStatus];
        assert_eq!((counters.refused, counters.unauthorized), (3, 1));
        // The key is free: the corrected request runs.
        let ok = call(
            &shared,
            incoming(key, TOKEN, r#"{"card_status": "FROZEN"}"#),
            &runs,
        )
        .await;
        assert_eq!(ok.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_refusal_by_the_operation_is_kept_for_the_key_and_changes_no_commit() {
        let shared = shared(None);
        let runs = AtomicUsize::new(0);
        let key = Uuid::new_v4();
        let body = r#"{"card_status": "FROZEN", "update_reason": "refuse"}"#;
        let first = call(&shared, incoming(key, TOKEN, body), &runs).await;
        assert_eq!(first.0, StatusCode::BAD_REQUEST);
        assert_eq!(
            call(&shared, incoming(key, TOKEN, body), &runs).await,
            first
        );
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(shared.state().idempotency.commits(key), 0);
        assert_eq!(
            shared.state().counters[&Route::UpdateCardStatus].committed,
            0
        );
    }

    #[tokio::test]
    async fn queued_faults_answer_before_anything_else_and_are_counted() {
        let shared = shared(None);
        let runs = AtomicUsize::new(0);
        shared.faults().push(Fault::ServerError(503), 1);
        shared.faults().push(
            Fault::RateLimited {
                retry_after: Duration::from_millis(1500),
            },
            1,
        );
        let key = Uuid::new_v4();
        let body = r#"{"card_status": "FROZEN"}"#;
        let (status, text) = call(&shared, incoming(key, TOKEN, body), &runs).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.contains("api_error"), "{text}");
        // Even an unauthenticated request gets the fault.
        let (status, _) = call(&shared, incoming(key, "wrong", body), &runs).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(runs.load(Ordering::SeqCst), 0);
        let state = shared.state();
        assert_eq!(state.counters[&Route::UpdateCardStatus].faulted, 2);
        assert_eq!(state.faults_injected["server_error_503"], 1);
        assert_eq!(state.faults_injected["rate_limited"], 1);
    }

    #[tokio::test]
    async fn fault_answers_round_retry_after_up_to_whole_seconds() {
        let retry_after = |retry_after| {
            fault_response(Fault::RateLimited { retry_after }).headers()["retry-after"].clone()
        };
        assert_eq!(retry_after(Duration::from_millis(1500)), "2");
        assert_eq!(retry_after(Duration::from_secs(1)), "1");
        assert_eq!(retry_after(Duration::ZERO), "0");
        assert_eq!(
            fault_response(Fault::ServerError(502)).status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            fault_response(Fault::RequestProcessing).status(),
            StatusCode::BAD_REQUEST
        );
        let refused = refuse(&shared(None), Route::Token, Reply::unauthorized("no"));
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
}
