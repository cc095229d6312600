//! Cards as the API shows them: the projections of a stored [`Card`] that
//! Retrieve Card and the webhook payloads are made of (masked numbers,
//! amounts as strings, the cardholder summary).

use uqpay_issuing_raw::money::Money;
use uqpay_issuing_raw::pan::MaskedCardNumber;
use uqpay_issuing_raw::types::{
    CardholderSummary, ReportedCardStatus, ReportedRiskControls, ReportedSpendingControl,
};

use crate::state::Card;

/// The card product every simulated card belongs to.
pub(crate) const PRODUCT_ID: &str = "3bd1656b-e691-4aab-a76a-3ead39e7a6f6";

/// A card as Retrieve Card answers it: the documented field forms (the
/// limit a number, the balance and amounts strings, the no-PIN amount with
/// its currency glued on), the number masked to its last 4 digits.
pub(crate) fn retrieved(card: &Card) -> uqpay_issuing_raw::types::Card {
    let number = card.card_number.expose();
    uqpay_issuing_raw::types::Card {
        card_id: card.card_id,
        card_bin: Some(bin(card)),
        card_scheme: Some(scheme(card).into()),
        card_number: Some(MaskedCardNumber::new(format!(
            "{}{}",
            "*".repeat(number.len() - 4),
            &number[number.len() - 4..]
        ))),
        form_factor: Some("PHYSICAL".into()),
        mode_type: Some(card.card_mode.to_string()),
        card_limit: card.card_limit.map(|l| Money::number(l.get())),
        available_balance: Some(Money::text(available_balance(card))),
        consumed_amount: Some("0.00".into()),
        no_pin_payment_amount: card
            .no_pin_payment_amount
            .map(|a| format!("{}{}", a.get(), card.card_currency)),
        cardholder: Some(cardholder(card)),
        card_status: ReportedCardStatus::Known(card.card_status),
        card_currency: Some(card.card_currency.clone()),
        card_product_id: Some(PRODUCT_ID.into()),
        spending_controls: Some(reported_controls(card)),
        risk_controls: Some(reported_risk(card)),
        metadata: Some(metadata(card)),
        update_reason: card.update_reason.clone(),
    }
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
pub(crate) fn webhook_number(card: &Card) -> MaskedCardNumber {
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

/// The card's metadata as a JSON object (`{}` when it has none).
pub(crate) fn metadata(card: &Card) -> serde_json::Value {
    card.metadata
        .as_ref()
        .map(|m| serde_json::Value::Object(m.0.clone()))
        .unwrap_or_else(|| serde_json::json!({}))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use chrono::DateTime;
    use uqpay_issuing_raw::pan::CardNumber;
    use uqpay_issuing_raw::types::{CardMode, CardState, RiskControls};
    use uuid::Uuid;

    /// A SHARE card with `number`, as Assign Card leaves it once settled.
    pub(crate) fn card(number: &str) -> Card {
        Card {
            card_id: Uuid::new_v4(),
            account: None,
            cardholder_id: Uuid::new_v4(),
            card_number: CardNumber::new(number).unwrap(),
            card_currency: "USD".into(),
            card_mode: CardMode::Share,
            card_status: CardState::Active,
            card_order_id: "order-1".into(),
            create_time: DateTime::parse_from_rfc3339("2027-01-15T16:00:00+08:00").unwrap(),
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
        }
    }

    #[test]
    fn retrieve_card_masks_the_number_and_writes_amounts_as_documented() {
        let mut card = card("4096360800135668");
        card.card_limit = Some("2100.02".parse().unwrap());
        card.no_pin_payment_amount = Some("100".parse().unwrap());
        let shown = serde_json::to_value(retrieved(&card)).unwrap();
        assert_eq!(shown["card_number"], "************5668");
        assert!(!shown.to_string().contains("4096360800135668"));
        assert_eq!(shown["card_bin"], "40963608");
        assert_eq!(shown["card_scheme"], "VISA");
        assert_eq!(shown["card_limit"].to_string(), "2100.02");
        assert_eq!(shown["available_balance"], "2100.02");
        assert_eq!(shown["no_pin_payment_amount"], "100USD");
        assert_eq!(shown["metadata"], serde_json::json!({}));
        assert_eq!(shown["card_product_id"], PRODUCT_ID);
    }

    #[test]
    fn schemes_bins_and_webhook_masks() {
        for (number, expected) in [
            ("4096360800135668", "VISA"),
            ("5196360800135668", "MASTERCARD"),
            ("2296360800135668", "MASTERCARD"),
            ("6296360800135668", "UNIONPAY"),
            ("3796360800135668", "VISA"),
        ] {
            assert_eq!(scheme(&card(number)), expected, "{number}");
        }
        let card = card("409636080013566");
        assert_eq!(bin(&card), "40963608");
        assert_eq!(webhook_number(&card).as_sent(), "40963608****3566");
        assert_eq!(available_balance(&card), rust_decimal::Decimal::ZERO);
    }
}
