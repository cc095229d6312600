//! [`AssignCard`]: `POST /v1/issuing/cards/assign`.

use std::sync::Arc;

use uqpay_issuing_raw::pan::{CardNumber, CardNumberError};
use uqpay_issuing_raw::types::{
    AssignCardRequest, AssignCardResponse, CardMode, CardholderId, CurrencyCode,
};
use uuid::Uuid;

use crate::call::{Call, Handle};
use crate::cards::validate::required;
use crate::cards::Common;
use crate::error::Error;

/// Assigns a card number to a cardholder. Built by [`Client::assign_card`](crate::Client::assign_card).
///
/// `Debug` shows the card number masked.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until .send() is awaited"]
pub struct AssignCard {
    common: Common,
    cardholder_id: Option<Uuid>,
    card_number: Option<Result<CardNumber, CardNumberError>>,
    card_currency: Option<String>,
    card_mode: Option<CardMode>,
}

impl AssignCard {
    pub(crate) fn new(handle: Arc<Handle>) -> Self {
        Self {
            common: Common::new(handle),
            cardholder_id: None,
            card_number: None,
            card_currency: None,
            card_mode: None,
        }
    }

    /// The cardholder to assign the card to (required).
    pub fn cardholder_id(mut self, cardholder_id: Uuid) -> Self {
        self.cardholder_id = Some(cardholder_id);
        self
    }

    /// The card number, 12 to 19 digits (required). It is never printed:
    /// `Debug`, errors and logs show at most its first 6 and last 4 digits.
    pub fn card_number(mut self, card_number: impl Into<String>) -> Self {
        self.card_number = Some(CardNumber::new(card_number));
        self
    }

    /// The card's currency, three uppercase letters such as `USD` (required).
    pub fn card_currency(mut self, currency: impl Into<String>) -> Self {
        self.card_currency = Some(currency.into());
        self
    }

    /// SINGLE or SHARE (required).
    pub fn card_mode(mut self, mode: CardMode) -> Self {
        self.card_mode = Some(mode);
        self
    }

    common_setters!();

    /// The body that would be sent, validated.
    pub fn body(&self) -> Result<AssignCardRequest, Error> {
        let cardholder_id = required(self.cardholder_id, "cardholder_id")?;
        let card_number = required(self.card_number.clone(), "card_number")?
            .map_err(|e| Error::validation("card_number", e.to_string()))?;
        let currency = required(self.card_currency.as_deref(), "card_currency")?;
        let card_currency = CurrencyCode::try_from(currency).map_err(|_| {
            Error::validation(
                "card_currency",
                format!("must be 3 uppercase letters (ISO 4217), got {currency:?}"),
            )
        })?;
        let card_mode = required(self.card_mode, "card_mode")?;
        Ok(AssignCardRequest {
            cardholder_id: CardholderId(cardholder_id),
            card_number,
            card_currency,
            card_mode,
        })
    }

    /// Validates and sends the request, retrying with the same idempotency key.
    #[allow(clippy::manual_async_fn)] // see the comment in the body
    pub fn send(
        self,
    ) -> impl std::future::Future<Output = Result<AssignCardResponse, Error>> + Send {
        // The builder's fields are used where the future captured them (an
        // `async fn` would carry them twice).
        async move {
            send_call!(
                self.common,
                "assign_card",
                self.body()?,
                |raw, key, account, body| raw.assign_card(key, account, body)
            )
        }
    }
}
