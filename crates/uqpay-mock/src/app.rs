//! The HTTP side: routing, the request pipeline and the three operations.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use chrono::{FixedOffset, Timelike as _, Utc};
use serde::de::DeserializeOwned;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use uqpay_issuing_raw::constraints;
use uqpay_issuing_raw::types::{
    AccessToken, ApiError, AssignCardRequest, AssignCardResponse, CardMode, CardState, CardStatus,
    ErrorCode, OrderState, ReportedCardStatus, ReportedOrderStatus, RiskControls,
    UpdateCardRequest, UpdateCardResponse, UpdateCardStatusRequest, UpdateCardStatusResponse,
};

use crate::faults::{Fault, FaultPlan};
use crate::state::{Card, Fingerprint, IdempotencyRecord, Outcome, Route, State};
use crate::tokens::Tokens;

/// The largest request body the simulator reads; larger ones get a 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How much of a too-large body is still read (and thrown away) so that the
/// 413 reaches a client that is still sending; past this the connection is
/// simply closed.
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// The message of the answer to a key whose first request is still being
/// processed (UQPay's SDKs retry when a message contains "request is processing").
pub const PROCESSING_MESSAGE: &str =
    "The request is processing; retry later with the same x-idempotency-key.";

/// Shared state of one running simulator.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) tokens: Mutex<Tokens>,
    pub(crate) faults: Mutex<FaultPlan>,
    pub(crate) client_id: String,
    pub(crate) api_key: String,
    pub(crate) hold: Hold,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultPlan> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A gate that holds card requests after they are marked in flight and
/// before they are processed, so that tests can observe "in flight"
/// deterministically.
#[derive(Debug)]
pub(crate) struct Hold {
    closed: watch::Sender<bool>,
    held: AtomicUsize,
    arrived: Notify,
}

impl Hold {
    pub(crate) fn new() -> Self {
        Self {
            closed: watch::channel(false).0,
            held: AtomicUsize::new(0),
            arrived: Notify::new(),
        }
    }

    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
    }

    pub(crate) fn open(&self) {
        self.closed.send_replace(false);
    }

    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    pub(crate) async fn wait_for_held(&self, n: usize) {
        loop {
            let notified = self.arrived.notified();
            if self.held() >= n {
                return;
            }
            notified.await;
        }
    }

    async fn pass(&self) {
        let mut rx = self.closed.subscribe();
        if !*rx.borrow_and_update() {
            return;
        }
        self.held.fetch_add(1, Ordering::SeqCst);
        self.arrived.notify_waiters();
        let _ = rx.wait_for(|closed| !closed).await;
        self.held.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Closes the connection the request came on (set per connection by the server).
#[derive(Clone, Debug)]
pub(crate) struct ConnectionKill(pub(crate) Arc<Notify>);

impl ConnectionKill {
    /// Closes the connection, then never returns: the response is never written.
    async fn drop_connection(&self) -> Response {
        self.0.notify_one();
        std::future::pending::<Response>().await
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/connect/token", post(token))
        .route("/api/v1/issuing/cards/assign", post(assign_card))
        .route(
            "/api/v1/issuing/cards/{id}/status",
            post(update_card_status),
        )
        .route("/api/v1/issuing/cards/{id}", post(update_card))
        .fallback(|| async {
            Reply::error(
                StatusCode::NOT_FOUND,
                "not_found",
                "resource_not_found",
                "no such route".into(),
            )
        })
        .with_state(shared)
}

// ---------------------------------------------------------------------------
// Replies

/// A JSON reply: status and body bytes (what the idempotency store keeps).
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    status: StatusCode,
    body: Bytes,
}

impl Reply {
    fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Self {
        let bytes = serde_json::to_vec(body).expect("response types serialise");
        Self {
            status,
            body: Bytes::from(bytes),
        }
    }

    /// An error in UQPay's shape.
    pub(crate) fn error(status: StatusCode, kind: &str, code: &str, message: String) -> Self {
        Self::error_with_missing(status, kind, code, message, Vec::new())
    }

    fn error_with_missing(
        status: StatusCode,
        kind: &str,
        code: &str,
        message: String,
        missing_fields: Vec<String>,
    ) -> Self {
        let body = ApiError {
            type_: Some(kind.to_owned()),
            code: Some(ErrorCode::Text(code.to_owned())),
            message: Some(message),
            missing_fields,
            error: None,
        };
        Self::json(status, &body)
    }

    fn bad_request(message: String) -> Self {
        Self::error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_request",
            message,
        )
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after } => {
            let mut response = Reply::error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limited",
                "too many requests".into(),
            )
            .into_response();
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
            response
        }
        Fault::ServerError(status) => Reply::error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "api_error",
            "internal_error",
            "the server had a problem handling the request".into(),
        )
        .into_response(),
        Fault::DropBeforeProcessing | Fault::DropAfterCommit => {
            unreachable!("drops close the connection instead of answering")
        }
    }
}

// ---------------------------------------------------------------------------
// Token endpoint

async fn token(AxumState(shared): AxumState<Arc<Shared>>, headers: HeaderMap) -> Reply {
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
    let refused = if !missing.is_empty() {
        Some(Reply::error_with_missing(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "missing_header",
            format!("missing required header(s): {}", missing.join(", ")),
            missing,
        ))
    } else if client_id != Some(shared.client_id.as_str())
        || api_key != Some(shared.api_key.as_str())
    {
        Some(Reply::error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_error",
            "invalid_credentials",
            "invalid x-client-id or x-api-key".into(),
        ))
    } else {
        None
    };
    if let Some(reply) = refused {
        shared.state().counters(Route::Token).refused += 1;
        return reply;
    }
    let (auth_token, expired_at) = shared.tokens().issue(&shared.client_id);
    shared.state().counters(Route::Token).committed += 1;
    Reply::json(
        StatusCode::OK,
        &AccessToken {
            auth_token,
            expired_at: i64::try_from(expired_at).unwrap_or(i64::MAX),
        },
    )
}

// ---------------------------------------------------------------------------
// The card pipeline: faults, auth, headers, body, idempotency, operation.

/// The result of an operation: the reply, and whether it changed state.
struct Executed {
    reply: Reply,
    committed: bool,
}

impl Executed {
    fn committed<T: serde::Serialize>(body: &T) -> Self {
        Self {
            reply: Reply::json(StatusCode::OK, body),
            committed: true,
        }
    }

    fn refused(reply: Reply) -> Self {
        Self {
            reply,
            committed: false,
        }
    }
}

/// Parsed headers common to every card operation.
struct Call {
    account: Option<String>,
    key: Uuid,
}

fn check_headers(shared: &Shared, headers: &HeaderMap) -> Result<Call, Reply> {
    let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok());
    if let Err(e) = shared.tokens().check(token) {
        return Err(Reply::error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_error",
            "unauthorized",
            e.message().into(),
        ));
    }
    let account = match headers.get("x-on-behalf-of").map(|v| v.to_str()) {
        None => None,
        Some(Ok(v)) if v.trim().is_empty() => None,
        Some(Ok(v)) => Some(v.trim().to_owned()),
        Some(Err(_)) => {
            return Err(Reply::bad_request(
                "x-on-behalf-of: must be visible ASCII".into(),
            ))
        }
    };
    let key = match headers.get("x-idempotency-key") {
        None => {
            return Err(Reply::error_with_missing(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "missing_header",
                "x-idempotency-key is required".into(),
                vec!["x-idempotency-key".into()],
            ))
        }
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .ok_or_else(|| Reply::bad_request("x-idempotency-key: must be a UUID".into()))?,
    };
    Ok(Call { account, key })
}

/// Reads the whole request body (see [`DRAIN_LIMIT`]).
async fn read_body(mut body: Body) -> Result<Bytes, Reply> {
    use http_body_util::BodyExt as _;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| Reply::bad_request(format!("cannot read the request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY_BYTES {
                chunks.push(data);
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(Reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "payload_too_large",
            format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    // Usually one chunk: no copy.
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().expect("one chunk"),
        _ => chunks.concat().into(),
    })
}

/// Parses a JSON body into `T`, naming the field of the first problem.
fn parse_body<T: DeserializeOwned + schemars::JsonSchema>(
    bytes: Bytes,
) -> Result<(T, Bytes), Reply> {
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Reply::bad_request(format!("the request body is not valid JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(Reply::bad_request(
            "the request body must be a JSON object".into(),
        ));
    };
    let schema = schemars::schema_for!(T);
    let missing: Vec<String> = schema
        .schema
        .object
        .as_ref()
        .map(|o| {
            o.required
                .iter()
                .filter(|field| !object.contains_key(*field))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if !missing.is_empty() {
        return Err(Reply::error_with_missing(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "missing_field",
            format!("missing required field(s): {}", missing.join(", ")),
            missing,
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        Reply::bad_request(format!(
            "{path}: {}",
            strip_location(&e.inner().to_string())
        ))
    })?;
    Ok((parsed, bytes))
}

/// serde_json appends " at line L column C"; the field name says more.
fn strip_location(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(index) => &message[..index],
        None => message,
    }
}

/// What a card route hands to the pipeline.
struct Incoming {
    route: Route,
    path: String,
    headers: HeaderMap,
    body: Body,
}

/// Runs one card operation through the whole pipeline: fault injection,
/// authentication, header and body validation, idempotency, then `execute`
/// under the state lock.
async fn pipeline<T>(
    shared: Arc<Shared>,
    kill: ConnectionKill,
    incoming: Incoming,
    validate: impl FnOnce(&T) -> Result<(), Reply>,
    execute: impl FnOnce(&mut State, Option<&str>, T) -> Executed,
) -> Response
where
    T: DeserializeOwned + schemars::JsonSchema,
{
    let route = incoming.route;
    shared.state().counters(route).received += 1;

    let fault = shared.faults().next();
    if let Some(fault) = fault {
        {
            let mut state = shared.state();
            state.counters(route).faulted += 1;
            *state.faults_injected.entry(fault.name()).or_default() += 1;
        }
        tracing::debug!(?route, fault = %fault.name(), "injecting fault");
        match fault {
            Fault::DropBeforeProcessing => return kill.drop_connection().await,
            Fault::DropAfterCommit => {}
            other => return fault_response(other),
        }
    }

    let body = read_body(incoming.body).await;
    let checked = check_headers(&shared, &incoming.headers).and_then(|call| {
        let (request, bytes) = parse_body::<T>(body?)?;
        validate(&request)?;
        Ok((call, request, bytes))
    });
    let (call, request, bytes) = match checked {
        Ok(checked) => checked,
        Err(reply) => {
            shared.state().counters(route).refused += 1;
            return reply.into_response();
        }
    };

    let fingerprint = Fingerprint {
        account: call.account.clone(),
        route,
        path: incoming.path,
        body: bytes,
    };
    // Idempotency: replay, conflict, in flight, or a new key.
    let replay = {
        let mut state = shared.state();
        match state.idempotency.get_mut(&call.key) {
            Some(record) if record.fingerprint != fingerprint => Err(Reply::error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                "idempotency_key_reused",
                "this x-idempotency-key was already used with a different request".into(),
            )),
            Some(record) => match &record.outcome {
                Outcome::InFlight => Err(Reply::error(
                    StatusCode::CONFLICT,
                    "idempotency_error",
                    "request_processing",
                    PROCESSING_MESSAGE.into(),
                )),
                Outcome::Done { status, body } => {
                    record.replays += 1;
                    Ok(Some(Reply {
                        status: *status,
                        body: body.clone(),
                    }))
                }
            },
            None => {
                state.idempotency.insert(
                    call.key,
                    IdempotencyRecord {
                        fingerprint,
                        outcome: Outcome::InFlight,
                        commits: 0,
                        replays: 0,
                    },
                );
                Ok(None)
            }
        }
    };
    match replay {
        Err(reply) => {
            shared.state().counters(route).refused += 1;
            return reply.into_response();
        }
        Ok(Some(reply)) => {
            shared.state().counters(route).replayed += 1;
            return finish(reply, fault, &kill).await;
        }
        Ok(None) => {}
    }

    shared.hold.pass().await;

    let reply = {
        let mut state = shared.state();
        let executed = execute(&mut state, call.account.as_deref(), request);
        let record = state
            .idempotency
            .get_mut(&call.key)
            .expect("in-flight records are never removed");
        record.outcome = Outcome::Done {
            status: executed.reply.status,
            body: executed.reply.body.clone(),
        };
        if executed.committed {
            record.commits += 1;
            state.counters(route).committed += 1;
        }
        executed.reply
    };
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

fn now_utc8() -> chrono::DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    let now = Utc::now().with_timezone(&offset);
    now.with_nanosecond(0).unwrap_or(now)
}

fn not_found(card_id: Uuid) -> Executed {
    Executed::refused(Reply::error(
        StatusCode::NOT_FOUND,
        "not_found",
        "card_not_found",
        format!("card {card_id} not found"),
    ))
}

fn conflict(code: &str, message: String) -> Executed {
    Executed::refused(Reply::error(
        StatusCode::CONFLICT,
        "conflict_error",
        code,
        message,
    ))
}

/// The card `card_id` if `account` owns it.
fn owned_card<'a>(
    state: &'a mut State,
    account: Option<&str>,
    card_id: Uuid,
) -> Option<&'a mut Card> {
    state
        .cards
        .get_mut(&card_id)
        .filter(|card| card.account.as_deref() == account)
}

/// The pipeline input of a route on one card: parses the `{id}` path
/// segment (a bad one is refused, and counted, at once).
fn card_incoming(
    shared: &Shared,
    route: Route,
    id: &str,
    headers: HeaderMap,
    body: Body,
) -> Result<(Uuid, Incoming), Reply> {
    let card_id = Uuid::parse_str(id).map_err(|_| {
        let mut state = shared.state();
        let counters = state.counters(route);
        counters.received += 1;
        counters.refused += 1;
        Reply::bad_request(format!("id: must be a UUID, got {id:?}"))
    })?;
    let path = match route {
        Route::UpdateCardStatus => format!("/v1/issuing/cards/{card_id}/status"),
        _ => format!("/v1/issuing/cards/{card_id}"),
    };
    let incoming = Incoming {
        route,
        path,
        headers,
        body,
    };
    Ok((card_id, incoming))
}

// ---------------------------------------------------------------------------
// Operations

async fn assign_card(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(kill): Extension<ConnectionKill>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let incoming = Incoming {
        route: Route::AssignCard,
        path: "/v1/issuing/cards/assign".to_owned(),
        headers,
        body,
    };
    pipeline(
        shared,
        kill,
        incoming,
        |_: &AssignCardRequest| Ok(()),
        |state, account, request| {
            let number = request.card_number.expose().to_owned();
            if state.card_numbers.contains_key(&number) {
                return conflict(
                    "card_already_assigned",
                    format!(
                        "card number {} is already assigned",
                        request.card_number.masked()
                    ),
                );
            }
            let card_id = Uuid::new_v4();
            let card = Card {
                card_id,
                account: account.map(str::to_owned),
                cardholder_id: *request.cardholder_id,
                card_number: request.card_number,
                card_currency: request.card_currency.to_string(),
                card_mode: request.card_mode,
                card_status: CardState::Active,
                card_order_id: Uuid::new_v4().to_string(),
                order_status: OrderState::Success,
                create_time: now_utc8(),
                card_limit: None,
                name_on_card: None,
                no_pin_payment_amount: None,
                spending_controls: Vec::new(),
                risk_controls: RiskControls::default(),
                metadata: None,
                status_history: vec![(CardState::Active, None)],
                updates: 0,
            };
            let response = AssignCardResponse {
                card_id,
                card_order_id: card.card_order_id.clone(),
                create_time: card.create_time,
                card_status: ReportedCardStatus::Known(CardState::Active),
                // Answered as just created (as in UQPay's example); the
                // stored order completes at once.
                order_status: ReportedOrderStatus::Known(OrderState::Pending),
            };
            state.card_numbers.insert(number, card_id);
            state.cards.insert(card_id, card);
            Executed::committed(&response)
        },
    )
    .await
}

/// ACTIVE <-> FROZEN; anything but CANCELLED -> CANCELLED; CANCELLED is final.
pub(crate) fn transition_allowed(from: CardState, to: CardState) -> bool {
    match (from, to) {
        (CardState::Cancelled, _) => false,
        (_, CardState::Cancelled) => true,
        (CardState::Active | CardState::Frozen, CardState::Active | CardState::Frozen) => true,
        _ => false,
    }
}

async fn update_card_status(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(kill): Extension<ConnectionKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (card_id, incoming) =
        match card_incoming(&shared, Route::UpdateCardStatus, &id, headers, body) {
            Ok(parsed) => parsed,
            Err(reply) => return reply.into_response(),
        };
    pipeline(
        shared,
        kill,
        incoming,
        |_: &UpdateCardStatusRequest| Ok(()),
        move |state, account, request| {
            let Some(card) = owned_card(state, account, card_id) else {
                return not_found(card_id);
            };
            let target = match request.card_status {
                CardStatus::Active => CardState::Active,
                CardStatus::Frozen => CardState::Frozen,
                CardStatus::Cancelled => CardState::Cancelled,
            };
            if !transition_allowed(card.card_status, target) {
                return conflict(
                    "invalid_status_transition",
                    format!(
                        "card_status: a {} card cannot become {target}",
                        card.card_status
                    ),
                );
            }
            let reason = request.update_reason.map(String::from);
            card.card_status = target;
            card.order_status = OrderState::Success;
            card.status_history.push((target, reason.clone()));
            Executed::committed(&UpdateCardStatusResponse {
                card_id,
                card_order_id: card.card_order_id.clone(),
                order_status: ReportedOrderStatus::Known(OrderState::Pending),
                update_reason: reason,
            })
        },
    )
    .await
}

/// Update Card checks that need only the body.
fn validate_update_card(request: &UpdateCardRequest) -> Result<(), Reply> {
    if request.sets_nothing() {
        return Err(Reply::bad_request(
            "the request sets no field: give at least one of card_limit, name_on_card, \
             no_pin_payment_amount, spending_controls, risk_controls, metadata"
                .into(),
        ));
    }
    if let Some(size) = request.metadata.as_ref().and_then(|m| m.oversize()) {
        return Err(Reply::bad_request(format!(
            "metadata: must be at most {} bytes of JSON, got {size}",
            constraints::METADATA_MAX_BYTES
        )));
    }
    Ok(())
}

/// Applies an Update Card to `card` (already checked to be updatable).
fn apply_update(card: &mut Card, request: UpdateCardRequest) {
    if let Some(limit) = request.card_limit {
        card.card_limit = Some(limit);
    }
    if let Some(name) = request.name_on_card {
        card.name_on_card = Some(name.to_string());
    }
    if let Some(amount) = request.no_pin_payment_amount {
        card.no_pin_payment_amount = Some(amount);
    }
    if !request.spending_controls.is_empty() {
        card.spending_controls = request.spending_controls;
    }
    if let Some(risk) = request.risk_controls {
        let stored = &mut card.risk_controls;
        stored.enable_3ds = risk.enable_3ds.or(stored.enable_3ds);
        stored.allow_3ds_transactions = risk
            .allow_3ds_transactions
            .or(stored.allow_3ds_transactions);
        if risk.allowed_mcc.is_some() {
            stored.allowed_mcc = risk.allowed_mcc;
        }
        if risk.blocked_mcc.is_some() {
            stored.blocked_mcc = risk.blocked_mcc;
        }
    }
    if let Some(metadata) = request.metadata {
        card.metadata = Some(metadata);
    }
    card.updates += 1;
    card.order_status = OrderState::Success;
}

async fn update_card(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(kill): Extension<ConnectionKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (card_id, incoming) = match card_incoming(&shared, Route::UpdateCard, &id, headers, body) {
        Ok(parsed) => parsed,
        Err(reply) => return reply.into_response(),
    };
    pipeline(
        shared,
        kill,
        incoming,
        validate_update_card,
        move |state, account, request: UpdateCardRequest| {
            let Some(card) = owned_card(state, account, card_id) else {
                return not_found(card_id);
            };
            if card.card_status == CardState::Cancelled {
                return conflict(
                    "card_cancelled",
                    format!("card {card_id} is cancelled and can no longer be updated"),
                );
            }
            if request.card_limit.is_some() && card.card_mode == CardMode::Single {
                return Executed::refused(Reply::bad_request(
                    "card_limit: must be left empty for a SINGLE card".into(),
                ));
            }
            apply_update(card, request);
            Executed::committed(&UpdateCardResponse {
                card_id,
                card_order_id: card.card_order_id.clone(),
                card_status: ReportedCardStatus::Known(card.card_status),
                order_status: ReportedOrderStatus::Known(OrderState::Success),
            })
        },
    )
    .await
}
