//! Card orders and how they settle.
//!
//! Each card operation creates an order (`card_order_id`). The request is
//! answered at once; the order settles after the configured delay (at once
//! by default): its effect is applied to the card then, and the event that
//! reports it is published (`card.create.*` for Assign Card, `card.update.*`
//! for Update Card, `card.status.update.*` for Update Card Status). A failed
//! order changes nothing (a failed assignment leaves a FAILED card and frees
//! the number) and publishes the `*.failed` event.
//!
//! A cancellation settles to PRE_CANCEL; the card becomes CANCELLED when
//! the pre-cancel period has passed on the simulator's clock (UQPay's
//! lifecycle guide: 30 days; 0 by default here), each step with its own
//! `card.status.update.succeeded`.

use std::time::{Duration, SystemTime};

use uqpay_issuing_raw::money::Money;
use uqpay_issuing_raw::pan::MaskedCardNumber;
use uqpay_issuing_raw::types::{
    CardCreatedData, CardState, CardStatusUpdatedData, CardUpdatedData, CardholderSummary,
    ReportedCardStatus, ReportedOrderStatus, ReportedRiskControls, ReportedSpendingControl,
    UpdateCardRequest, WebhookEvent,
};
use uuid::Uuid;

use crate::state::{Card, State};

/// The card product every simulated card belongs to.
pub(crate) const PRODUCT_ID: &str = "3bd1656b-e691-4aab-a76a-3ead39e7a6f6";

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

/// An event to publish, and the card it is about.
#[derive(Clone, Debug)]
pub(crate) struct Published {
    pub(crate) event: WebhookEvent,
    pub(crate) card_id: String,
}

impl Published {
    fn new(event_type: &str, source_id: &str, data: serde_json::Value) -> Self {
        let card_id = data["card_id"].as_str().unwrap_or_default().to_owned();
        Self {
            card_id,
            event: WebhookEvent {
                version: "V1.6.0".into(),
                event_name: "ISSUING".into(),
                event_type: event_type.into(),
                event_id: Uuid::new_v4().to_string(),
                source_id: source_id.into(),
                data: Some(data),
            },
        }
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
    let outcome = if order.fails { "failed" } else { "succeeded" };
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
            vec![Published::new(
                &format!("card.create.{outcome}"),
                &order.order_id,
                to_value(&created_data(card)),
            )]
        }
        Change::Update(request) => {
            if !order.fails {
                apply_update(card, *request);
            }
            vec![Published::new(
                &format!("card.update.{outcome}"),
                &order.order_id,
                to_value(&updated_data(card, &order.order_id, outcome)),
            )]
        }
        Change::Status { target, reason } => {
            if order.fails {
                return vec![status_event(card, &order.order_id, outcome, reason, now)];
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
            let mut events = vec![status_event(card, &order.order_id, outcome, reason, now)];
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
    Some(status_event(card, order_id, "succeeded", reason, now))
}

fn status_event(
    card: &Card,
    order_id: &str,
    outcome: &str,
    reason: Option<String>,
    now: SystemTime,
) -> Published {
    let data = CardStatusUpdatedData {
        card_id: Some(card.card_id.to_string()),
        card_number: Some(webhook_number(card)),
        card_status: Some(ReportedCardStatus::Known(card.card_status)),
        update_reason: reason,
        update_time: Some(crate::app::api_time(now).to_rfc3339()),
        available_balance: Some(Money::text(available_balance(card))),
        currency: Some(card.card_currency.clone()),
    };
    Published::new(
        &format!("card.status.update.{outcome}"),
        order_id,
        to_value(&data),
    )
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

fn to_value<T: serde::Serialize>(data: &T) -> serde_json::Value {
    // Every amount in an event is a string (Money::text): no float on the way.
    serde_json::to_value(data).expect("event data serialises")
}

/// The card's balance: its limit (the simulator moves no money).
pub(crate) fn available_balance(card: &Card) -> rust_decimal::Decimal {
    card.card_limit.map(|l| l.get()).unwrap_or_default()
}

/// The BIN: the first 8 digits, as UQPay's examples show.
pub(crate) fn bin(card: &Card) -> String {
    card.card_number.expose().chars().take(8).collect()
}

/// The scheme of the card's number (its first digit).
pub(crate) fn scheme(card: &Card) -> &'static str {
    match card.card_number.expose().as_bytes().first() {
        Some(b'4') => "VISA",
        Some(b'5' | b'2') => "MASTERCARD",
        Some(b'6') => "UNIONPAY",
        _ => "VISA",
    }
}

/// The card number as webhooks mask it: BIN8, `****`, last 4.
fn webhook_number(card: &Card) -> MaskedCardNumber {
    let number = card.card_number.expose();
    MaskedCardNumber::new(format!("{}****{}", bin(card), &number[number.len() - 4..]))
}

/// The cardholder as the events report it.
pub(crate) fn cardholder(card: &Card) -> CardholderSummary {
    CardholderSummary {
        cardholder_id: Some(card.cardholder_id.to_string()),
        cardholder_status: Some("SUCCESS".into()),
        create_time: Some(card.create_time.to_rfc3339()),
        ..CardholderSummary::default()
    }
}

/// The card's spending controls as UQPay reports them (amounts as strings).
pub(crate) fn reported_controls(card: &Card) -> Vec<ReportedSpendingControl> {
    card.spending_controls
        .iter()
        .map(|c| ReportedSpendingControl {
            amount: Some(Money::text(c.amount.get())),
            interval: Some(c.interval.to_string()),
        })
        .collect()
}

/// The card's risk controls as UQPay reports them.
pub(crate) fn reported_risk(card: &Card) -> ReportedRiskControls {
    let risk = &card.risk_controls;
    ReportedRiskControls {
        enable_3ds: risk.enable_3ds.map(|v| v.to_string()),
        allow_3ds_transactions: risk.allow_3ds_transactions.map(|v| v.to_string()),
        allowed_mcc: risk
            .allowed_mcc
            .as_ref()
            .map(|codes| codes.iter().map(|c| c.to_string()).collect()),
        blocked_mcc: risk
            .blocked_mcc
            .as_ref()
            .map(|codes| codes.iter().map(|c| c.to_string()).collect()),
    }
}

fn metadata(card: &Card) -> serde_json::Value {
    card.metadata
        .as_ref()
        .map(|m| serde_json::Value::Object(m.0.clone()))
        .unwrap_or_else(|| serde_json::json!({}))
}

/// card.create.*: the v1.6 payload (`card_available_balance`,
/// `spending_limits`, `risk_control`).
fn created_data(card: &Card) -> CardCreatedData {
    CardCreatedData {
        card_id: Some(card.card_id.to_string()),
        card_bin: Some(bin(card)),
        card_number: Some(webhook_number(card)),
        card_product_id: Some(PRODUCT_ID.into()),
        card_scheme: Some(scheme(card).into()),
        card_status: Some(ReportedCardStatus::Known(card.card_status)),
        card_available_balance: Some(Money::text(available_balance(card))),
        cardholder: Some(cardholder(card)),
        form_factor: Some("PHYSICAL".into()),
        mode_type: Some(card.card_mode.to_string()),
        metadata: Some(metadata(card)),
        risk_control: Some(reported_risk(card)),
        spending_limits: Some(reported_controls(card)),
        ..CardCreatedData::default()
    }
}

/// card.update.*: the order and the card after it (`order_status` in lower
/// case, as UQPay sends it here).
fn updated_data(card: &Card, order_id: &str, outcome: &str) -> CardUpdatedData {
    let status = if outcome == "failed" {
        "failed"
    } else {
        "success"
    };
    let no_pin = card
        .no_pin_payment_amount
        .map(|a| format!("{}{}", a.get(), card.card_currency))
        .unwrap_or_else(|| card.card_currency.clone());
    CardUpdatedData {
        card_id: Some(card.card_id.to_string()),
        card_order_id: Some(order_id.into()),
        // Lower case, as UQPay sends it here (not a known status).
        order_status: Some(ReportedOrderStatus::Unknown(status.to_owned())),
        card_bin: Some(bin(card)),
        card_number: Some(webhook_number(card)),
        card_currency: Some(card.card_currency.clone()),
        card_limit: Some(Money::text(
            card.card_limit.map(|l| l.get()).unwrap_or_default(),
        )),
        available_balance: Some(Money::text(available_balance(card))),
        card_product_id: Some(PRODUCT_ID.into()),
        card_scheme: Some(scheme(card).into()),
        card_status: Some(ReportedCardStatus::Known(card.card_status)),
        cardholder: Some(cardholder(card)),
        form_factor: Some("PHYSICAL".into()),
        mode_type: Some(card.card_mode.to_string()),
        metadata: Some(metadata(card)),
        no_pin_payment_amount: Some(no_pin),
        risk_control: Some(reported_risk(card)),
        spending_controls: Some(reported_controls(card)),
        ..CardUpdatedData::default()
    }
}
