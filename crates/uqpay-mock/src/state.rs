//! The simulator's state: cards, card numbers, idempotency records, counters.

use std::collections::HashMap;
use std::time::SystemTime;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use uuid::Uuid;

use uqpay_issuing_raw::money::Amount;
use uqpay_issuing_raw::pan::CardNumber;
use uqpay_issuing_raw::types::{CardMode, CardState, Metadata, RiskControls, SpendingControl};

use crate::idempotency::Records;

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

/// Everything a simulator keeps, behind one lock: a card operation's
/// change and its idempotency record are made together.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) cards: HashMap<Uuid, Card>,
    /// The assigned card numbers and their cards.
    pub(crate) card_numbers: HashMap<String, Uuid>,
    pub(crate) idempotency: Records,
    pub(crate) counters: HashMap<Route, RouteCounters>,
    /// Faults injected, by [`Fault::name`](crate::faults::Fault::name).
    pub(crate) faults_injected: HashMap<String, u64>,
}

impl State {
    /// No cards; at most `idempotency_capacity` idempotency records kept.
    pub(crate) fn new(idempotency_capacity: usize) -> Self {
        Self {
            cards: HashMap::new(),
            card_numbers: HashMap::new(),
            idempotency: Records::new(idempotency_capacity),
            counters: HashMap::new(),
            faults_injected: HashMap::new(),
        }
    }

    /// The counters of `route`.
    pub(crate) fn counters(&mut self, route: Route) -> &mut RouteCounters {
        self.counters.entry(route).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_start_at_zero_per_route() {
        let mut state = State::new(0);
        state.counters(Route::AssignCard).received += 2;
        state.counters(Route::AssignCard).committed += 1;
        state.counters(Route::Token).refused += 1;
        assert_eq!(
            state.counters[&Route::AssignCard],
            RouteCounters {
                received: 2,
                committed: 1,
                ..RouteCounters::default()
            }
        );
        assert_eq!(state.counters(Route::Token).refused, 1);
        assert_eq!(
            state.counters(Route::RetrieveCard),
            &RouteCounters::default()
        );
        assert_eq!(state.idempotency.len(), 0);
    }

    #[test]
    fn every_route_has_its_operation_id() {
        let ids: Vec<&str> = Route::ALL.iter().map(|r| r.operation_id()).collect();
        assert_eq!(
            ids,
            [
                "create_access_token",
                "assign_card",
                "update_card_status",
                "update_card",
                "retrieve_card"
            ]
        );
    }
}
