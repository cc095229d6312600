//! The events a settled order publishes, as UQPay's webhooks carry them
//! (v1.6): `card.create.*` for Assign Card, `card.update.*` for Update
//! Card, `card.status.update.*` for Update Card Status, each `succeeded` or
//! `failed`. Every amount in them is a string: no float on the way.

use std::time::SystemTime;

use uqpay_issuing_raw::money::Money;
use uqpay_issuing_raw::types::{
    CardCreatedData, CardStatusUpdatedData, CardUpdatedData, ReportedCardStatus,
    ReportedOrderStatus, WebhookEvent,
};
use uuid::Uuid;

use crate::clock::api_time;
use crate::state::Card;
use crate::views::{
    available_balance, bin, cardholder, metadata, reported_controls, reported_risk, scheme,
    webhook_number, PRODUCT_ID,
};

/// How an order ended, as the event type's last part says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `*.succeeded`
    Succeeded,
    /// `*.failed`
    Failed,
}

impl Outcome {
    /// `failed` when `fails`, else `succeeded`.
    pub(crate) fn of(fails: bool) -> Self {
        if fails {
            Self::Failed
        } else {
            Self::Succeeded
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// An event to publish, and the card it is about.
#[derive(Clone, Debug)]
pub(crate) struct Published {
    pub(crate) event: WebhookEvent,
    pub(crate) card_id: String,
}

impl Published {
    fn new(event_type: String, source_id: &str, data: serde_json::Value) -> Self {
        let card_id = data["card_id"].as_str().unwrap_or_default().to_owned();
        Self {
            card_id,
            event: WebhookEvent {
                version: "V1.6.0".into(),
                event_name: "ISSUING".into(),
                event_type,
                event_id: Uuid::new_v4().to_string(),
                source_id: source_id.into(),
                data: Some(data),
            },
        }
    }
}

/// `card.create.*` of order `order_id`: the v1.6 payload
/// (`card_available_balance`, `spending_limits`, `risk_control`).
pub(crate) fn card_created(card: &Card, order_id: &str, outcome: Outcome) -> Published {
    let data = CardCreatedData {
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
    };
    Published::new(
        format!("card.create.{}", outcome.name()),
        order_id,
        to_value(&data),
    )
}

/// `card.update.*` of order `order_id`: the order and the card after it
/// (`order_status` in lower case, as UQPay sends it here).
pub(crate) fn card_updated(card: &Card, order_id: &str, outcome: Outcome) -> Published {
    let status = match outcome {
        Outcome::Failed => "failed",
        Outcome::Succeeded => "success",
    };
    let no_pin = card
        .no_pin_payment_amount
        .map(|a| format!("{}{}", a.get(), card.card_currency))
        .unwrap_or_else(|| card.card_currency.clone());
    let data = CardUpdatedData {
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
    };
    Published::new(
        format!("card.update.{}", outcome.name()),
        order_id,
        to_value(&data),
    )
}

/// `card.status.update.*` of order `order_id`: the card's status (as it is
/// now) and `reason`, at `now` on the simulator's clock.
pub(crate) fn status_updated(
    card: &Card,
    order_id: &str,
    outcome: Outcome,
    reason: Option<String>,
    now: SystemTime,
) -> Published {
    let data = CardStatusUpdatedData {
        card_id: Some(card.card_id.to_string()),
        card_number: Some(webhook_number(card)),
        card_status: Some(ReportedCardStatus::Known(card.card_status)),
        update_reason: reason,
        update_time: Some(api_time(now).to_rfc3339()),
        available_balance: Some(Money::text(available_balance(card))),
        currency: Some(card.card_currency.clone()),
    };
    Published::new(
        format!("card.status.update.{}", outcome.name()),
        order_id,
        to_value(&data),
    )
}

fn to_value<T: serde::Serialize>(data: &T) -> serde_json::Value {
    // Every amount in an event is a string (Money::text): no float on the way.
    serde_json::to_value(data).expect("event data serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::time::{Duration, UNIX_EPOCH};

    use uqpay_issuing_raw::types::CardState;

    use crate::views::tests::card;

    #[test]
    fn each_event_names_its_order_card_and_outcome() {
        let mut card = card("4096360800132222");
        card.card_limit = Some("10.5".parse().unwrap());
        let created = card_created(&card, "order-1", Outcome::Succeeded);
        assert_eq!(created.event.event_type, "card.create.succeeded");
        assert_eq!(created.event.source_id, "order-1");
        assert_eq!(created.card_id, card.card_id.to_string());
        assert_eq!(
            (
                created.event.version.as_str(),
                created.event.event_name.as_str()
            ),
            ("V1.6.0", "ISSUING")
        );
        let data = created.event.data.as_ref().unwrap();
        assert_eq!(data["card_number"], "40963608****2222");
        assert_eq!(data["card_available_balance"], "10.5");
        assert_eq!(data["card_status"], "ACTIVE");

        let updated = card_updated(&card, "order-2", Outcome::Failed);
        assert_eq!(updated.event.event_type, "card.update.failed");
        let data = updated.event.data.as_ref().unwrap();
        assert_eq!(data["order_status"], "failed");
        assert_eq!(data["card_order_id"], "order-2");
        assert_eq!(data["card_limit"], "10.5");
        assert_eq!(data["no_pin_payment_amount"], "USD");
        assert_eq!(
            card_updated(&card, "o", Outcome::Succeeded)
                .event
                .data
                .unwrap()["order_status"],
            "success"
        );

        card.card_status = CardState::Frozen;
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let status = status_updated(&card, "order-3", Outcome::of(false), Some("r".into()), at);
        assert_eq!(status.event.event_type, "card.status.update.succeeded");
        let data = status.event.data.as_ref().unwrap();
        assert_eq!(data["card_status"], "FROZEN");
        assert_eq!(data["update_reason"], "r");
        assert_eq!(data["update_time"], "2027-01-15T16:00:00+08:00");
        assert_ne!(status.event.event_id, created.event.event_id);
        assert_eq!(Outcome::of(true), Outcome::Failed);
    }
}
