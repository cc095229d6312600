//! The simulator's state: cards, card numbers, idempotency records, counters.

use std::collections::HashMap;

use std::time::SystemTime;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use uuid::Uuid;

use uqpay_issuing_raw::money::Amount;
use uqpay_issuing_raw::pan::CardNumber;
use uqpay_issuing_raw::types::{CardMode, CardState, Metadata, RiskControls, SpendingControl};

/// The routes of the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Route {
    /// `POST /api/v1/connect/token`
    Token,
    /// `POST /api/v1/issuing/cards/assign`
    AssignCard,
    /// `POST /api/v1/issuing/cards/{id}/status`
    UpdateCardStatus,
    /// `POST /api/v1/issuing/cards/{id}`
    UpdateCard,
    /// `GET /api/v1/issuing/cards/{id}`
    RetrieveCard,
}

impl Route {
    /// Every route.
    pub const ALL: [Route; 5] = [
        Route::Token,
        Route::AssignCard,
        Route::UpdateCardStatus,
        Route::UpdateCard,
        Route::RetrieveCard,
    ];

    /// The spec's operationId of the route.
    pub fn operation_id(self) -> &'static str {
        match self {
            Route::Token => "create_access_token",
            Route::AssignCard => "assign_card",
            Route::UpdateCardStatus => "update_card_status",
            Route::UpdateCard => "update_card",
            Route::RetrieveCard => "retrieve_card",
        }
    }
}

/// A card as the simulator stores it. `Debug` shows the card number masked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Card {
    /// The card's id.
    pub card_id: Uuid,
    /// The connected account that owns it (`None`: the master account).
    pub account: Option<String>,
    /// The cardholder it is assigned to.
    pub cardholder_id: Uuid,
    /// The card number.
    #[serde(skip)]
    pub card_number: CardNumber,
    /// The card's currency.
    pub card_currency: String,
    /// SINGLE or SHARE.
    pub card_mode: CardMode,
    /// The card's current status.
    pub card_status: CardState,
    /// The id of the card order created by Assign Card.
    pub card_order_id: String,
    /// When the card was assigned (UTC+8, as the API reports it).
    pub create_time: DateTime<FixedOffset>,
    /// The credit limit (SHARE cards only).
    pub card_limit: Option<Amount>,
    /// The name embossed on the card.
    pub name_on_card: Option<String>,
    /// The no-PIN payment amount.
    pub no_pin_payment_amount: Option<Amount>,
    /// The spending controls (replaced as a whole by each Update Card that sets them).
    pub spending_controls: Vec<SpendingControl>,
    /// The risk controls (each member set by an Update Card replaces the stored one).
    pub risk_controls: RiskControls,
    /// The metadata (replaced as a whole).
    pub metadata: Option<Metadata>,
    /// Every status change: the new status and its reason.
    pub status_history: Vec<(CardState, Option<String>)>,
    /// How many Update Card calls were applied.
    pub updates: u32,
    /// The reason given with the last status change.
    pub update_reason: Option<String>,
    /// The card's order that has not settled yet, if any.
    #[serde(skip)]
    pub pending_order: Option<String>,
    /// The last Update Card Status order (the source of the events that
    /// complete a cancellation).
    #[serde(skip)]
    pub status_order_id: Option<String>,
    /// When a PRE_CANCEL card becomes CANCELLED (the simulator's clock).
    #[serde(skip)]
    pub cancel_at: Option<SystemTime>,
}

/// The stored outcome of an idempotency key.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    InFlight,
    Done { reply: crate::reply::Reply },
}

/// What identifies "the same request" for an idempotency key: a SHA-256
/// of the account, route, path and body bytes. A digest, not the bytes: a
/// record must not keep a slice of the connection's read buffer alive (it
/// pinned ~10 KiB per committed request), and 32 bytes tell requests apart
/// as surely as the bytes themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub(crate) fn of(account: Option<&str>, route: Route, path: &str, body: &[u8]) -> Self {
        use sha2::Digest as _;
        let mut digest = sha2::Sha256::new();
        // Each part length-prefixed, so that no two requests hash alike by
        // moving bytes from one part to the next.
        for part in [
            account.unwrap_or("").as_bytes(),
            &[u8::from(account.is_some())],
            route.operation_id().as_bytes(),
            path.as_bytes(),
            body,
        ] {
            digest.update((part.len() as u64).to_le_bytes());
            digest.update(part);
        }
        Self(digest.finalize().into())
    }
}

#[derive(Clone, Debug)]
pub(crate) struct IdempotencyRecord {
    pub(crate) fingerprint: Fingerprint,
    pub(crate) outcome: Outcome,
    /// When the key was first seen (the record lives 24 hours from then).
    pub(crate) recorded_at: SystemTime,
    pub(crate) commits: u32,
    pub(crate) replays: u32,
}

/// Per-route counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RouteCounters {
    /// Requests that reached the route (faulted, refused and replayed ones included).
    pub received: u64,
    /// Requests whose effect was committed to the state.
    pub committed: u64,
    /// Requests answered by replaying a stored response.
    pub replayed: u64,
    /// Requests refused before any processing (auth, validation, idempotency).
    pub refused: u64,
    /// Of those, refused for their token (401).
    pub unauthorized: u64,
    /// Requests that got an injected fault.
    pub faulted: u64,
    /// Requests refused with a 429 by the rate limiter (injected 429s are
    /// counted as faults).
    pub rate_limited: u64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) cards: HashMap<Uuid, Card>,
    pub(crate) card_numbers: HashMap<String, Uuid>,
    pub(crate) idempotency: HashMap<Uuid, IdempotencyRecord>,
    /// The keys in the order their records were made, with when: the
    /// oldest are dropped first (past 24 hours, or over the capacity).
    pub(crate) idempotency_order: std::collections::VecDeque<(SystemTime, Uuid)>,
    pub(crate) counters: HashMap<Route, RouteCounters>,
    pub(crate) faults_injected: HashMap<String, u64>,
}

impl State {
    /// Records `record` for `key`, then drops the records past the 24-hour
    /// window at `now`, and the oldest settled ones beyond `capacity`.
    pub(crate) fn record_key(
        &mut self,
        key: Uuid,
        record: IdempotencyRecord,
        now: SystemTime,
        capacity: usize,
    ) {
        self.idempotency_order.push_back((record.recorded_at, key));
        self.idempotency.insert(key, record);
        while let Some(&(at, oldest)) = self.idempotency_order.front() {
            let expired = now
                .duration_since(at)
                .is_ok_and(|age| age >= crate::app::IDEMPOTENCY_TTL);
            if !expired && self.idempotency.len() <= capacity {
                break;
            }
            self.idempotency_order.pop_front();
            // Only the record made at that time (the key may have been
            // recorded again since), and never one still in flight.
            if let Some(record) = self.idempotency.get(&oldest) {
                if record.recorded_at == at && matches!(record.outcome, Outcome::Done { .. }) {
                    self.idempotency.remove(&oldest);
                }
            }
        }
    }

    pub(crate) fn counters(&mut self, route: Route) -> &mut RouteCounters {
        self.counters.entry(route).or_default()
    }
}
