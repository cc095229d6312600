//! Card orders and how they settle.
//!
//! Each card operation creates an order (`card_order_id`) at the
//! [`Desk`]. The request is answered at once; the order settles after the
//! configured delay (at once by default): its effect is applied to the card
//! then, and the event that reports it is published (`card.create.*` for
//! Assign Card, `card.update.*` for Update Card, `card.status.update.*` for
//! Update Card Status). A failed order changes nothing (a failed assignment
//! leaves a FAILED card and frees the number) and publishes the `*.failed`
//! event.
//!
//! A cancellation settles to PRE_CANCEL; the card becomes CANCELLED when
//! the pre-cancel period has passed on the simulator's clock (UQPay's
//! lifecycle guide: 30 days; 0 by default here), each step with its own
//! `card.status.update.succeeded`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use uqpay_issuing_raw::types::{CardState, UpdateCardRequest};
use uuid::Uuid;

use crate::events::{self, Outcome, Published};
use crate::state::{Card, State};

/// What an order changes when it succeeds.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    /// The card assigned by Assign Card becomes ACTIVE.
    Assign,
    /// An Update Card body, applied as a whole.
    Update(Box<UpdateCardRequest>),
    /// A new status (and its reason).
    Status {
        target: CardState,
        reason: Option<String>,
    },
}

/// An order waiting to settle.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub(crate) order_id: String,
    pub(crate) card_id: Uuid,
    pub(crate) change: Change,
    /// Whether it fails when it settles (decided when it is created).
    pub(crate) fails: bool,
}

/// Where an operation places its orders: settled on the spot when orders
/// take no time, kept to be scheduled otherwise.
#[derive(Debug)]
pub(crate) struct Desk<'a> {
    /// How many of the next orders fail (counted down as they are placed).
    failing: &'a AtomicUsize,
    /// Whether orders settle later (a non-zero order delay).
    delayed: bool,
    pre_cancel_period: Duration,
    now: SystemTime,
    /// Events of orders settled on the spot, to publish after the reply.
    events: Vec<Published>,
    /// Orders to settle after the delay.
    scheduled: Vec<Order>,
}

impl<'a> Desk<'a> {
    /// A desk for the operations of `now`: the next orders fail while
    /// `failing` is above zero; orders settle at once when `order_delay` is
    /// zero.
    pub(crate) fn new(
        failing: &'a AtomicUsize,
        order_delay: Duration,
        pre_cancel_period: Duration,
        now: SystemTime,
    ) -> Self {
        Self {
            failing,
            delayed: !order_delay.is_zero(),
            pre_cancel_period,
            now,
            events: Vec::new(),
            scheduled: Vec::new(),
        }
    }

    /// When the operation happens (the simulator's clock).
    pub(crate) fn now(&self) -> SystemTime {
        self.now
    }

    /// A new order for `change` of `card_id`; its id.
    pub(crate) fn place(&mut self, state: &mut State, card_id: Uuid, change: Change) -> String {
        let order_id = Uuid::new_v4().to_string();
        let fails = self
            .failing
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
        if self.delayed {
            self.scheduled.push(order);
        } else {
            let settled = settle(state, order, self.now, self.pre_cancel_period);
            self.events.extend(settled);
        }
        order_id
    }

    /// The events of the orders settled on the spot, and the orders to
    /// settle later.
    pub(crate) fn into_parts(self) -> (Vec<Published>, Vec<Order>) {
        (self.events, self.scheduled)
    }
}

/// Applies a settled order to the state; returns the events it publishes.
pub(crate) fn settle(
    state: &mut State,
    order: Order,
    now: SystemTime,
    pre_cancel_period: Duration,
) -> Vec<Published> {
    let Some(card) = state.cards.get_mut(&order.card_id) else {
        return Vec::new();
    };
    if card.pending_order.as_deref() == Some(order.order_id.as_str()) {
        card.pending_order = None;
    }
    let outcome = Outcome::of(order.fails);
    match order.change {
        Change::Assign => {
            if order.fails {
                card.card_status = CardState::Failed;
                let number = card.card_number.expose().to_owned();
                state.card_numbers.remove(&number);
            } else {
                card.card_status = CardState::Active;
            }
            card.status_history.push((card.card_status, None));
            let card = &state.cards[&order.card_id];
            vec![events::card_created(card, &order.order_id, outcome)]
        }
        Change::Update(request) => {
            if !order.fails {
                apply_update(card, *request);
            }
            vec![events::card_updated(card, &order.order_id, outcome)]
        }
        Change::Status { target, reason } => {
            if order.fails {
                return vec![events::status_updated(
                    card,
                    &order.order_id,
                    outcome,
                    reason,
                    now,
                )];
            }
            let reached = if target == CardState::Cancelled {
                card.cancel_at = Some(now + pre_cancel_period);
                CardState::PreCancel
            } else {
                target
            };
            card.card_status = reached;
            card.status_history.push((reached, reason.clone()));
            card.update_reason = reason.clone();
            let mut events = vec![events::status_updated(
                card,
                &order.order_id,
                outcome,
                reason,
                now,
            )];
            events.extend(complete_cancellation(card, &order.order_id, now));
            events
        }
    }
}

/// Cancels the cards whose pre-cancel period is over at `now`.
pub(crate) fn complete_cancellations(state: &mut State, now: SystemTime) -> Vec<Published> {
    let mut events = Vec::new();
    for card in state.cards.values_mut() {
        let order = card.status_order_id.clone().unwrap_or_default();
        events.extend(complete_cancellation(card, &order, now));
    }
    events
}

fn complete_cancellation(card: &mut Card, order_id: &str, now: SystemTime) -> Option<Published> {
    let due = card.cancel_at.is_some_and(|at| at <= now);
    if card.card_status != CardState::PreCancel || !due {
        return None;
    }
    card.cancel_at = None;
    card.card_status = CardState::Cancelled;
    let reason = card.update_reason.clone();
    card.status_history
        .push((CardState::Cancelled, reason.clone()));
    Some(events::status_updated(
        card,
        order_id,
        Outcome::Succeeded,
        reason,
        now,
    ))
}

/// Applies an Update Card to `card` (already checked to be updatable).
pub(crate) fn apply_update(card: &mut Card, request: UpdateCardRequest) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::UNIX_EPOCH;

    use crate::views::tests::card;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    /// A state with one PENDING card; its id.
    fn state_with_card(number: &str) -> (State, Uuid) {
        let mut state = State::new(10);
        let mut card = card(number);
        card.card_status = CardState::Pending;
        let id = card.card_id;
        state.card_numbers.insert(number.to_owned(), id);
        state.cards.insert(id, card);
        (state, id)
    }

    fn types(events: &[Published]) -> Vec<&str> {
        events.iter().map(|e| e.event.event_type.as_str()).collect()
    }

    #[test]
    fn orders_settle_at_once_without_a_delay_and_later_with_one() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let failing = AtomicUsize::new(0);
        let (mut state, id) = state_with_card("4096360800131111");
        let mut desk = Desk::new(&failing, Duration::ZERO, Duration::ZERO, now);
        let order_id = desk.place(&mut state, id, Change::Assign);
        assert_eq!(state.cards[&id].card_status, CardState::Active);
        assert_eq!(state.cards[&id].pending_order, None);
        let (events, scheduled) = desk.into_parts();
        assert_eq!(types(&events), ["card.create.succeeded"]);
        assert_eq!(events[0].event.source_id, order_id);
        assert!(scheduled.is_empty());

        let mut desk = Desk::new(&failing, Duration::from_millis(1), Duration::ZERO, now);
        let order_id = desk.place(
            &mut state,
            id,
            Change::Status {
                target: CardState::Frozen,
                reason: None,
            },
        );
        assert_eq!(state.cards[&id].card_status, CardState::Active, "not yet");
        assert_eq!(
            state.cards[&id].pending_order.as_deref(),
            Some(order_id.as_str())
        );
        assert_eq!(
            state.cards[&id].status_order_id.as_deref(),
            Some(order_id.as_str())
        );
        let (events, scheduled) = desk.into_parts();
        assert!(events.is_empty());
        let [order] = <[Order; 1]>::try_from(scheduled).unwrap();
        let events = settle(&mut state, order, now, Duration::ZERO);
        assert_eq!(types(&events), ["card.status.update.succeeded"]);
        assert_eq!(state.cards[&id].card_status, CardState::Frozen);
        assert_eq!(state.cards[&id].pending_order, None);
    }

    #[test]
    fn a_failed_assignment_leaves_a_failed_card_and_frees_its_number() {
        let now = UNIX_EPOCH;
        let failing = AtomicUsize::new(1);
        let (mut state, id) = state_with_card("4096360800133333");
        let mut desk = Desk::new(&failing, Duration::ZERO, Duration::ZERO, now);
        desk.place(&mut state, id, Change::Assign);
        assert_eq!(failing.load(Ordering::SeqCst), 0, "one failure used up");
        assert_eq!(state.cards[&id].card_status, CardState::Failed);
        assert!(state.card_numbers.is_empty());
        assert_eq!(types(&desk.into_parts().0), ["card.create.failed"]);
    }

    #[test]
    fn a_cancellation_waits_out_its_pre_cancel_period() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (mut state, id) = state_with_card("4096360800134444");
        state.cards.get_mut(&id).unwrap().card_status = CardState::Active;
        let order = Order {
            order_id: "cancel".into(),
            card_id: id,
            change: Change::Status {
                target: CardState::Cancelled,
                reason: Some("lost".into()),
            },
            fails: false,
        };
        state.cards.get_mut(&id).unwrap().status_order_id = Some("cancel".into());
        let events = settle(&mut state, order, now, 30 * DAY);
        assert_eq!(types(&events), ["card.status.update.succeeded"]);
        assert_eq!(state.cards[&id].card_status, CardState::PreCancel);
        assert!(complete_cancellations(&mut state, now + 29 * DAY).is_empty());
        let events = complete_cancellations(&mut state, now + 30 * DAY);
        assert_eq!(types(&events), ["card.status.update.succeeded"]);
        assert_eq!(events[0].event.source_id, "cancel");
        assert_eq!(
            events[0].event.data.as_ref().unwrap()["update_reason"],
            "lost"
        );
        let card = &state.cards[&id];
        assert_eq!(card.card_status, CardState::Cancelled);
        assert_eq!(
            card.status_history,
            [
                (CardState::PreCancel, Some("lost".into())),
                (CardState::Cancelled, Some("lost".into()))
            ]
        );
        assert!(
            complete_cancellations(&mut state, now + 60 * DAY).is_empty(),
            "once"
        );
    }

    #[test]
    fn an_update_replaces_what_it_sets_and_merges_risk_controls() {
        let mut card = card("4096360800135555");
        let first: UpdateCardRequest = serde_json::from_value(serde_json::json!({
            "name_on_card": "A", "risk_controls": {"enable_3ds": "Y", "blocked_mcc": ["5999"]},
            "spending_controls": [{"amount": 1, "interval": "DAILY"}]
        }))
        .unwrap();
        apply_update(&mut card, first);
        let second: UpdateCardRequest = serde_json::from_value(serde_json::json!({
            "risk_controls": {"allow_3ds_transactions": "N"}, "metadata": {"k": "v"}
        }))
        .unwrap();
        apply_update(&mut card, second);
        assert_eq!(card.name_on_card.as_deref(), Some("A"));
        assert_eq!(card.spending_controls.len(), 1, "kept when not set");
        assert_eq!(
            serde_json::to_value(&card.risk_controls).unwrap(),
            serde_json::json!({"enable_3ds": "Y", "allow_3ds_transactions": "N", "blocked_mcc": ["5999"]})
        );
        assert_eq!(card.updates, 2);
    }
}
