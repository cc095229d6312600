//! The HTTP side: routing, the request pipeline and the card operations.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use chrono::{DateTime, FixedOffset, Timelike as _};
use serde::de::DeserializeOwned;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use uqpay_issuing_raw::types::{
    AccessToken, AssignCardRequest, AssignCardResponse, CardMode, CardState, CardStatus,
    KnownErrorCode, OrderState, ReportedCardStatus, ReportedOrderStatus, RiskControls,
    UpdateCardRequest, UpdateCardResponse, UpdateCardStatusRequest, UpdateCardStatusResponse,
};
use uqpay_issuing_raw::{constraints, rules};

use crate::clock::Clock;
use crate::faults::{Fault, FaultPlan};
use crate::orders::{self, Change, Order, Published};
use crate::ratelimit::{Budget, RateLimiter};
use crate::reply::Reply;
use crate::state::{Card, Fingerprint, IdempotencyRecord, Outcome, Route, State};
use crate::tokens::Tokens;
use crate::webhooks::Webhooks;

/// The largest request body the simulator reads; larger ones get a 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long the outcome of an idempotency key is kept (UQPay's FAQ: 24
/// hours); after that the key is new again.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// How much of a too-large body is still read (and thrown away) so that the
/// 413 reaches a client that is still sending; past this the connection is
/// simply closed.
const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// Shared state of one running simulator.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) tokens: Mutex<Tokens>,
    pub(crate) faults: Mutex<FaultPlan>,
    pub(crate) limiter: Option<Mutex<RateLimiter>>,
    pub(crate) clock: Clock,
    pub(crate) client_id: String,
    pub(crate) api_key: String,
    pub(crate) hold: Hold,
    pub(crate) webhooks: Arc<Webhooks>,
    pub(crate) order_delay: Duration,
    pub(crate) pre_cancel_period: Duration,
    /// How many of the next orders fail.
    pub(crate) failing_orders: AtomicUsize,
    /// The most idempotency records kept.
    pub(crate) idempotency_capacity: usize,
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

    /// Completes the cancellations whose pre-cancel period is over, and
    /// publishes their events.
    pub(crate) fn tick(&self) {
        let now = self.clock.now();
        let events = orders::complete_cancellations(&mut self.state(), now);
        self.webhooks.publish(events);
    }

    /// Whether the rate limiter (if any) lets this request of `route`
    /// through; a refusal is counted (the 429s the simulator sent).
    fn admit(&self, budget: Budget, route: Route) -> bool {
        let Some(limiter) = &self.limiter else {
            return true;
        };
        let now = self
            .clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let admitted = limiter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(budget, now);
        if !admitted {
            self.state().counters(route).rate_limited += 1;
        }
        admitted
    }
}

/// A gate that holds card requests after they are marked in flight and
/// before they are processed, so that tests can observe "in flight"
/// deterministically.
#[derive(Debug)]
pub(crate) struct Hold {
    closed: watch::Sender<bool>,
    held: AtomicUsize,
    changed: Notify,
}

impl Hold {
    pub(crate) fn new() -> Self {
        Self {
            closed: watch::channel(false).0,
            held: AtomicUsize::new(0),
            changed: Notify::new(),
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

    /// Waits until the number of held requests satisfies `done`.
    pub(crate) async fn wait_until(&self, done: impl Fn(usize) -> bool) {
        loop {
            let notified = self.changed.notified();
            if done(self.held()) {
                return;
            }
            notified.await;
        }
    }

    pub(crate) async fn pass(&self) {
        let mut rx = self.closed.subscribe();
        if !*rx.borrow_and_update() {
            return;
        }
        /// Counts the request out however it leaves (released, or dropped
        /// because its client went away).
        struct Held<'a>(&'a Hold);
        impl Drop for Held<'_> {
            fn drop(&mut self) {
                self.0.held.fetch_sub(1, Ordering::SeqCst);
                self.0.changed.notify_waiters();
            }
        }
        self.held.fetch_add(1, Ordering::SeqCst);
        let _held = Held(self);
        self.changed.notify_waiters();
        let _ = rx.wait_for(|closed| !closed).await;
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
        .route(
            "/api/v1/issuing/cards/{id}",
            post(update_card).get(retrieve_card),
        )
        .fallback(|| async { Reply::no_route() })
        .with_state(shared)
}

fn fault_response(fault: Fault) -> Response {
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

// ---------------------------------------------------------------------------
// The card pipeline: faults, rate limit, auth, headers, body, idempotency,
// operation.

/// The result of an operation: the reply, and whether it changed state.
pub(crate) struct Executed {
    reply: Reply,
    committed: bool,
}

impl Executed {
    fn committed<T: serde::Serialize>(body: &T) -> Self {
        Self {
            reply: Reply::ok(body),
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

/// Where an operation places its order: settled on the spot when orders
/// take no time, scheduled otherwise.
pub(crate) struct Desk<'a> {
    shared: &'a Shared,
    now: SystemTime,
    /// Events of orders settled on the spot, to publish after the reply.
    events: Vec<Published>,
    /// Orders to settle after the delay.
    scheduled: Vec<Order>,
}

impl Desk<'_> {
    /// A new order id, for `change` of `card_id`.
    fn place(&mut self, state: &mut State, card_id: Uuid, change: Change) -> String {
        let order_id = Uuid::new_v4().to_string();
        let fails = self
            .shared
            .failing_orders
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let order = Order {
            order_id: order_id.clone(),
            card_id,
            change,
            fails,
        };
        if let Some(card) = state.cards.get_mut(&card_id) {
            card.pending_order = Some(order_id.clone());
            if matches!(order.change, Change::Status { .. }) {
                card.status_order_id = Some(order_id.clone());
            }
        }
        if self.shared.order_delay.is_zero() {
            let settled = orders::settle(state, order, self.now, self.shared.pre_cancel_period);
            self.events.extend(settled);
        } else {
            self.scheduled.push(order);
        }
        order_id
    }
}

/// Parsed headers common to every card operation.
struct Call {
    account: Option<String>,
    key: Uuid,
}

fn check_headers(shared: &Shared, headers: &HeaderMap) -> Result<Call, Reply> {
    let account = check_auth(shared, headers)?;
    let key = match headers.get("x-idempotency-key") {
        None => {
            return Err(Reply::invalid_missing(
                "x-idempotency-key is required".into(),
                vec!["x-idempotency-key".into()],
            ))
        }
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .ok_or_else(|| Reply::invalid("x-idempotency-key: must be a UUID".into()))?,
    };
    Ok(Call { account, key })
}

/// The token, then the account a request acts for.
fn check_auth(shared: &Shared, headers: &HeaderMap) -> Result<Option<String>, Reply> {
    let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok());
    if let Err(e) = shared.tokens().check(token, shared.clock.unix_secs()) {
        return Err(Reply::unauthorized(e.message()));
    }
    match headers.get("x-on-behalf-of") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(account_id)
            .map(Some)
            .ok_or_else(|| {
                Reply::invalid(
                    "x-on-behalf-of: must be the account_id of a connected sub-account, a UUID \
                     or a short id of 4 to 32 letters and digits (omit the header to act as \
                     the master account)"
                        .into(),
                )
            }),
    }
}

/// The account an `x-on-behalf-of` value names: a UUID (in its canonical
/// lowercase form, so that any spelling of it is the same account), or a
/// short id of 4 to 32 ASCII letters and digits (`CB4488338944`, as UQPay's
/// MCP server passes them). UQPay's FAQ refuses an empty or malformed value;
/// anything else is refused here. Any such id is accepted as an account:
/// the simulator keeps no registry of sub-accounts.
pub(crate) fn account_id(value: &str) -> Option<String> {
    if let Ok(uuid) = Uuid::try_parse(value) {
        return Some(uuid.to_string());
    }
    ((4..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| value.to_owned())
}

/// Reads the whole request body (see [`DRAIN_LIMIT`]).
async fn read_body(mut body: Body) -> Result<Bytes, Reply> {
    use http_body_util::BodyExt as _;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| Reply::invalid(format!("cannot read the request body: {e}")))?;
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
        return Err(Reply::payload_too_large(MAX_BODY_BYTES));
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
        .map_err(|e| Reply::invalid(format!("the request body is not valid JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(Reply::invalid(
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
        return Err(Reply::invalid_missing(
            format!("missing required field(s): {}", missing.join(", ")),
            missing,
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    let parsed: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        Reply::invalid(format!(
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
        if self.settled {
            return;
        }
        let mut state = self.shared.state();
        if matches!(
            state.idempotency.get(&self.key).map(|r| &r.outcome),
            Some(Outcome::InFlight)
        ) {
            state.idempotency.remove(&self.key);
        }
    }
}

/// What the idempotency store says about a request.
enum Seen {
    /// A new key (or one whose record expired): go ahead.
    New,
    /// The stored outcome, to replay.
    Replay(Reply),
    /// Refused (another request with this key, or the first still in flight).
    Refused(Reply),
}

fn check_idempotency(
    state: &mut State,
    key: Uuid,
    fingerprint: Fingerprint,
    now: SystemTime,
    capacity: usize,
) -> Seen {
    if let Some(record) = state.idempotency.get_mut(&key) {
        let expired = matches!(record.outcome, Outcome::Done { .. })
            && now
                .duration_since(record.recorded_at)
                .is_ok_and(|age| age >= IDEMPOTENCY_TTL);
        if !expired {
            if record.fingerprint != fingerprint {
                return Seen::Refused(Reply::idempotency_key_reused());
            }
            return match &record.outcome {
                Outcome::InFlight => Seen::Refused(Reply::processing()),
                Outcome::Done { reply } => {
                    record.replays += 1;
                    Seen::Replay(reply.clone())
                }
            };
        }
    }
    let commits = state.idempotency.get(&key).map_or(0, |r| r.commits);
    state.record_key(
        key,
        IdempotencyRecord {
            fingerprint,
            outcome: Outcome::InFlight,
            recorded_at: now,
            commits,
            replays: 0,
        },
        now,
        capacity,
    );
    Seen::New
}

/// A request of `route` arrives: it is counted, the clock ticks, and the
/// next queued or random fault, if any, is counted and returned.
fn arrive(shared: &Shared, route: Route) -> Option<Fault> {
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
fn refuse(shared: &Shared, route: Route, reply: Reply) -> Response {
    let mut state = shared.state();
    let counters = state.counters(route);
    counters.refused += 1;
    counters.unauthorized += u64::from(reply.status == axum::http::StatusCode::UNAUTHORIZED);
    drop(state);
    reply.into_response()
}

/// Runs one card operation through the whole pipeline: fault injection,
/// rate limit, authentication, header and body validation, idempotency,
/// then `execute` under the state lock.
async fn pipeline<T>(
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

    let fingerprint = Fingerprint::of(call.account.as_deref(), route, &incoming.path, &bytes);
    let now = shared.clock.now();
    let seen = check_idempotency(
        &mut shared.state(),
        call.key,
        fingerprint,
        now,
        shared.idempotency_capacity,
    );
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

    let mut desk = Desk {
        shared: &shared,
        now,
        events: Vec::new(),
        scheduled: Vec::new(),
    };
    let reply = {
        let mut state = shared.state();
        let executed = execute(&mut state, &mut desk, call.account, request);
        let record = state
            .idempotency
            .get_mut(&call.key)
            .expect("in-flight records are only removed by their own request");
        record.outcome = Outcome::Done {
            reply: executed.reply.clone(),
        };
        if executed.committed {
            record.commits += 1;
            state.counters(route).committed += 1;
        }
        in_flight.settled = true;
        executed.reply
    };
    drop(in_flight);
    let Desk {
        events, scheduled, ..
    } = desk;
    shared.webhooks.publish(events);
    for order in scheduled {
        schedule(shared.clone(), order);
    }
    tracing::debug!(?route, status = %reply.status, "processed");
    finish(reply, fault, &kill).await
}

/// Settles `order` after the simulator's order delay, on its own task.
fn schedule(shared: Arc<Shared>, order: Order) {
    shared.webhooks.order_placed();
    tokio::spawn(async move {
        tokio::time::sleep(shared.order_delay).await;
        let now = shared.clock.now();
        let events = orders::settle(&mut shared.state(), order, now, shared.pre_cancel_period);
        shared.webhooks.publish(events);
        shared.webhooks.order_settled();
    });
}

/// Answers, or closes the connection when the fault says so.
async fn finish(reply: Reply, fault: Option<Fault>, kill: &ConnectionKill) -> Response {
    if fault == Some(Fault::DropAfterCommit) {
        return kill.drop_connection().await;
    }
    reply.into_response()
}

/// `now` as the API reports times: UTC+8, whole seconds.
pub(crate) fn api_time(now: SystemTime) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    let now = DateTime::<chrono::Utc>::from(now).with_timezone(&offset);
    now.with_nanosecond(0).unwrap_or(now)
}

/// The card `card_id` if `account` owns it.
fn owned_card<'a>(
    state: &'a mut State,
    account: &Option<String>,
    card_id: Uuid,
) -> Option<&'a mut Card> {
    state
        .cards
        .get_mut(&card_id)
        .filter(|card| card.account == *account)
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
        Reply::invalid(format!("id: must be a UUID, got {id:?}"))
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

/// A card operation on a card that has an order in flight is refused: its
/// earlier order must complete first.
fn order_in_progress(card: &Card) -> Option<Executed> {
    card.pending_order.as_ref().map(|order| {
        Executed::refused(Reply::card_error(
            KnownErrorCode::CardOrderInProgress,
            format!("the card's order {order} has not completed yet; retry when it has"),
        ))
    })
}

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
        |state, desk, account, request| {
            let number = request.card_number.expose().to_owned();
            if state.card_numbers.contains_key(&number) {
                return Executed::refused(Reply::card_error(
                    KnownErrorCode::CardAlreadyAssigned,
                    format!(
                        "card_number: {} is already assigned",
                        request.card_number.masked()
                    ),
                ));
            }
            let card_id = Uuid::new_v4();
            let card = Card {
                card_id,
                account,
                cardholder_id: *request.cardholder_id,
                card_number: request.card_number,
                card_currency: request.card_currency.to_string(),
                card_mode: request.card_mode,
                card_status: CardState::Pending,
                card_order_id: String::new(),
                create_time: api_time(desk.now),
                card_limit: None,
                name_on_card: None,
                no_pin_payment_amount: None,
                spending_controls: Vec::new(),
                risk_controls: RiskControls::default(),
                metadata: None,
                status_history: Vec::new(),
                updates: 0,
                update_reason: None,
                pending_order: None,
                status_order_id: None,
                cancel_at: None,
            };
            state.card_numbers.insert(number, card_id);
            state.cards.insert(card_id, card);
            let order_id = desk.place(state, card_id, Change::Assign);
            let card = state.cards.get_mut(&card_id).expect("just inserted");
            card.card_order_id = order_id.clone();
            Executed::committed(&AssignCardResponse {
                card_id,
                card_order_id: order_id,
                create_time: card.create_time,
                // ACTIVE once its order settled (at once unless orders are
                // delayed), PENDING before.
                card_status: ReportedCardStatus::Known(card.card_status),
                // The order as just created, as in UQPay's example.
                order_status: ReportedOrderStatus::Known(OrderState::Pending),
            })
        },
    )
    .await
}

/// ACTIVE <-> FROZEN; ACTIVE or FROZEN -> CANCELLED; PRE_CANCEL, CANCELLED,
/// FAILED and PENDING (an order in flight) allow no change.
pub(crate) fn transition_allowed(from: CardState, to: CardState) -> bool {
    matches!(
        (from, to),
        (
            CardState::Active | CardState::Frozen,
            CardState::Active | CardState::Frozen | CardState::Cancelled
        ) | (CardState::Blocked, CardState::Cancelled)
    )
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
        move |state, desk, account, request| {
            let Some(card) = owned_card(state, &account, card_id) else {
                return Executed::refused(Reply::card_not_found(card_id));
            };
            if let Some(refused) = order_in_progress(card) {
                return refused;
            }
            let target = match request.card_status {
                CardStatus::Active => CardState::Active,
                CardStatus::Frozen => CardState::Frozen,
                CardStatus::Cancelled => CardState::Cancelled,
            };
            if !transition_allowed(card.card_status, target) {
                return Executed::refused(Reply::card_error(
                    KnownErrorCode::InvalidStatusTransition,
                    format!(
                        "card_status: a {} card cannot become {target}",
                        card.card_status
                    ),
                ));
            }
            let reason = request.update_reason.map(String::from);
            let change = Change::Status {
                target,
                reason: reason.clone(),
            };
            let order_id = desk.place(state, card_id, change);
            Executed::committed(&UpdateCardStatusResponse {
                card_id,
                card_order_id: order_id,
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
        return Err(Reply::invalid(
            "the request sets no field: give at least one of card_limit, name_on_card, \
             no_pin_payment_amount, spending_controls, risk_controls, metadata"
                .into(),
        ));
    }
    if let Some((at, c)) = request
        .name_on_card
        .as_ref()
        .filter(|_| constraints::NAME_ON_CARD_PRINTABLE)
        .and_then(|name| rules::unprintable(name))
    {
        return Err(Reply::invalid(format!(
            "name_on_card: {}",
            rules::unprintable_reason(at, c)
        )));
    }
    if let Some(size) = request.metadata.as_ref().and_then(|m| m.oversize()) {
        return Err(Reply::invalid(format!(
            "metadata: must be at most {} bytes of JSON, got {size}",
            constraints::METADATA_MAX_BYTES
        )));
    }
    Ok(())
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
        move |state, desk, account, request: UpdateCardRequest| {
            let Some(card) = owned_card(state, &account, card_id) else {
                return Executed::refused(Reply::card_not_found(card_id));
            };
            if let Some(refused) = order_in_progress(card) {
                return refused;
            }
            if matches!(
                card.card_status,
                CardState::Cancelled | CardState::PreCancel | CardState::Failed
            ) {
                return Executed::refused(Reply::card_error(
                    KnownErrorCode::CardCancelled,
                    format!(
                        "card {card_id} is {} and can no longer be updated",
                        card.card_status
                    ),
                ));
            }
            if request.card_limit.is_some() && card.card_mode == CardMode::Single {
                return Executed::refused(Reply::card_error(
                    KnownErrorCode::CardLimitNotAllowed,
                    "card_limit: must be left empty for a SINGLE card".into(),
                ));
            }
            let order_id = desk.place(state, card_id, Change::Update(Box::new(request)));
            let settled = state.cards[&card_id].pending_order.is_none();
            Executed::committed(&UpdateCardResponse {
                card_id,
                card_order_id: order_id,
                card_status: ReportedCardStatus::Known(state.cards[&card_id].card_status),
                // SUCCESS as in UQPay's example when the order settled at
                // once; PENDING while it waits.
                order_status: ReportedOrderStatus::Known(if settled {
                    OrderState::Success
                } else {
                    OrderState::Pending
                }),
            })
        },
    )
    .await
}

/// `GET /v1/issuing/cards/{id}`: the card from the simulator's state (as it
/// is: an order not settled yet has not changed it), its number masked.
async fn retrieve_card(
    AxumState(shared): AxumState<Arc<Shared>>,
    Extension(kill): Extension<ConnectionKill>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let route = Route::RetrieveCard;
    if let Some(fault) = arrive(&shared, route) {
        match fault {
            Fault::DropBeforeProcessing | Fault::DropAfterCommit => {
                return kill.drop_connection().await
            }
            other => return fault_response(other),
        }
    }
    let answer = if !shared.admit(Budget::Calls, Route::RetrieveCard) {
        Err(Reply::too_many_requests(None))
    } else {
        check_auth(&shared, &headers).and_then(|account| {
            let card_id = Uuid::parse_str(&id)
                .map_err(|_| Reply::invalid(format!("id: must be a UUID, got {id:?}")))?;
            let state = shared.state();
            let card = state
                .cards
                .get(&card_id)
                .filter(|card| card.account == account)
                .ok_or_else(|| Reply::card_not_found(card_id))?;
            Ok(Reply::ok(&retrieved(card)))
        })
    };
    match answer {
        Ok(reply) => reply.into_response(),
        Err(reply) => refuse(&shared, route, reply),
    }
}

/// A card as Retrieve Card answers it: the documented field forms (the
/// limit a number, the balance and amounts strings, the no-PIN amount with
/// its currency glued on), the number masked to its last 4 digits.
fn retrieved(card: &Card) -> uqpay_issuing_raw::types::Card {
    use uqpay_issuing_raw::money::Money;
    let number = card.card_number.expose();
    uqpay_issuing_raw::types::Card {
        card_id: card.card_id,
        card_bin: Some(orders::bin(card)),
        card_scheme: Some(orders::scheme(card).into()),
        card_number: Some(uqpay_issuing_raw::pan::MaskedCardNumber::new(format!(
            "{}{}",
            "*".repeat(number.len() - 4),
            &number[number.len() - 4..]
        ))),
        form_factor: Some("PHYSICAL".into()),
        mode_type: Some(card.card_mode.to_string()),
        card_limit: card.card_limit.map(|l| Money::number(l.get())),
        available_balance: Some(Money::text(orders::available_balance(card))),
        consumed_amount: Some("0.00".into()),
        no_pin_payment_amount: card
            .no_pin_payment_amount
            .map(|a| format!("{}{}", a.get(), card.card_currency)),
        cardholder: Some(orders::cardholder(card)),
        card_status: ReportedCardStatus::Known(card.card_status),
        card_currency: Some(card.card_currency.clone()),
        card_product_id: Some(orders::PRODUCT_ID.into()),
        spending_controls: Some(orders::reported_controls(card)),
        risk_controls: Some(orders::reported_risk(card)),
        metadata: Some(
            card.metadata
                .as_ref()
                .map(|m| serde_json::Value::Object(m.0.clone()))
                .unwrap_or_else(|| serde_json::json!({})),
        ),
        update_reason: card.update_reason.clone(),
    }
}
