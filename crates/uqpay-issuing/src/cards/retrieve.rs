//! [`RetrieveCard`]: `GET /v1/issuing/cards/{id}`, and the [`Card`] it
//! reads back, with exact money.

use std::sync::Arc;

use rust_decimal::Decimal;
use uqpay_issuing_raw::pan::MaskedCardNumber;
use uqpay_issuing_raw::types::{
    CardholderSummary, ReportedCardStatus, ReportedRiskControls, ReportedSpendingControl,
};
use uuid::Uuid;

use crate::call::{Call, Handle};
use crate::cards::Common;
use crate::error::Error;

/// Reads a card back. Built by [`Client::retrieve_card`](crate::Client::retrieve_card).
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until .send() is awaited"]
pub struct RetrieveCard {
    common: Common,
    card_id: Uuid,
}

impl RetrieveCard {
    pub(crate) fn new(handle: Arc<Handle>, card_id: Uuid) -> Self {
        Self {
            common: Common::new(handle),
            card_id,
        }
    }

    call_setters!();

    /// Sends the request (a read: retried like the others, with no
    /// idempotency key). An unknown card, or one of another account, is an
    /// error for which [`Error::is_not_found`] is true (UQPay's 400
    /// `card_error` / `card_not_found`).
    #[allow(clippy::manual_async_fn)] // see the comment in the body
    pub fn send(self) -> impl std::future::Future<Output = Result<Card, Error>> + Send {
        // The builder's fields are used where the future captured them (an
        // `async fn` would carry them twice).
        async move {
            let account = self.common.account()?;
            let handle = &*self.common.handle;
            let raw = &handle.raw;
            let card_id = self.card_id;
            let card = Call {
                handle,
                operation: "retrieve_card",
                key: None,
                overrides: &self.common.overrides,
            }
            .run(|| raw.retrieve_card(&card_id, account.as_ref()))
            .await?;
            Ok(Card::from(card))
        }
    }
}

/// A card as Retrieve Card reports it (`GET /v1/issuing/cards/{id}`).
///
/// Money is exact: `card_limit` and `available_balance` are [`Decimal`]s read
/// from the JSON number or string UQPay sent (`2100.02` stays `2100.02`);
/// everything UQPay writes in a form of its own is kept as sent
/// (`no_pin_payment_amount` is `"2000USD"`, `consumed_amount` `"51.00"`, the
/// cardholder's dates have no zone). Only `card_id` and `card_status` are
/// always there; a status this version does not know is kept
/// ([`ReportedCardStatus::Unknown`]). The card number comes masked.
///
/// (Built from the generated [`raw::types::Card`](uqpay_issuing_raw::types::Card),
/// whose money is [`Money`](uqpay_issuing_raw::money::Money).)
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Card {
    /// Unique identifier for the card.
    pub card_id: Uuid,
    /// The card's status; `Display` gives the wire value (`PRE_CANCEL` included).
    pub card_status: ReportedCardStatus,
    /// The card's limit, in its currency.
    pub card_limit: Option<Decimal>,
    /// The card's available balance, in its currency.
    pub available_balance: Option<Decimal>,
    /// How much of the limit has been used, as sent (`"51.00"`);
    /// [`Card::consumed`] reads it as a decimal.
    pub consumed_amount: Option<String>,
    /// The no-PIN payment amount as UQPay writes it here, the currency glued
    /// on (`"2000USD"`).
    pub no_pin_payment_amount: Option<String>,
    /// The card's currency.
    pub card_currency: Option<String>,
    /// The card number, masked (`************5668`).
    pub card_number: Option<MaskedCardNumber>,
    /// The card's BIN.
    pub card_bin: Option<String>,
    /// VISA, MASTERCARD, UNIONPAY...
    pub card_scheme: Option<String>,
    /// VIRTUAL or PHYSICAL.
    pub form_factor: Option<String>,
    /// SINGLE or SHARE.
    pub mode_type: Option<String>,
    /// The card product.
    pub card_product_id: Option<String>,
    /// The cardholder.
    pub cardholder: Option<CardholderSummary>,
    /// The spending controls (their amounts exact, as
    /// [`Money`](uqpay_issuing_raw::money::Money)).
    pub spending_controls: Vec<ReportedSpendingControl>,
    /// The risk controls.
    pub risk_controls: Option<ReportedRiskControls>,
    /// The metadata, as sent (an object, or whatever UQPay sent instead).
    pub metadata: Option<serde_json::Value>,
    /// The reason recorded with the last status change.
    pub update_reason: Option<String>,
}

impl Card {
    /// `consumed_amount` as an exact decimal, when it is one.
    pub fn consumed(&self) -> Option<Decimal> {
        self.consumed_amount
            .as_deref()
            .and_then(|text| text.trim().parse().ok())
    }
}

impl From<uqpay_issuing_raw::types::Card> for Card {
    fn from(card: uqpay_issuing_raw::types::Card) -> Self {
        Self {
            card_id: card.card_id,
            card_status: card.card_status,
            card_limit: card.card_limit.map(|m| m.get()),
            available_balance: card.available_balance.map(|m| m.get()),
            consumed_amount: card.consumed_amount,
            no_pin_payment_amount: card.no_pin_payment_amount,
            card_currency: card.card_currency,
            card_number: card.card_number,
            card_bin: card.card_bin,
            card_scheme: card.card_scheme,
            form_factor: card.form_factor,
            mode_type: card.mode_type,
            card_product_id: card.card_product_id,
            cardholder: card.cardholder,
            spending_controls: card.spending_controls.unwrap_or_default(),
            risk_controls: card.risk_controls,
            metadata: card.metadata,
            update_reason: card.update_reason,
        }
    }
}
