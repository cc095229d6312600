//! [`UpdateCardStatus`]: `POST /v1/issuing/cards/{id}/status`.

use std::sync::Arc;

use uqpay_issuing_raw::constraints as limits;
use uqpay_issuing_raw::types::{
    CardStatus, UpdateCardStatusRequest, UpdateCardStatusResponse, UpdateReason,
};
use uuid::Uuid;

use crate::call::{Call, Handle};
use crate::cards::validate::{chars, required};
use crate::cards::Common;
use crate::error::Error;

/// Activates, freezes or cancels a card. Built by [`Client::update_card_status`](crate::Client::update_card_status).
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until .send() is awaited"]
pub struct UpdateCardStatus {
    common: Common,
    card_id: Uuid,
    card_status: Option<CardStatus>,
    update_reason: Option<String>,
}

impl UpdateCardStatus {
    pub(crate) fn new(handle: Arc<Handle>, card_id: Uuid) -> Self {
        Self {
            common: Common::new(handle),
            card_id,
            card_status: None,
            update_reason: None,
        }
    }

    /// The new status: ACTIVE, FROZEN or CANCELLED (required). CANCELLED is final.
    pub fn card_status(mut self, status: CardStatus) -> Self {
        self.card_status = Some(status);
        self
    }

    /// Why the status changes, at most 100 characters.
    pub fn update_reason(mut self, reason: impl Into<String>) -> Self {
        self.update_reason = Some(reason.into());
        self
    }

    common_setters!();

    /// The body that would be sent, validated.
    pub fn body(&self) -> Result<UpdateCardStatusRequest, Error> {
        let card_status = required(self.card_status, "card_status")?;
        let update_reason = self
            .update_reason
            .as_deref()
            .map(|reason| {
                UpdateReason::try_from(reason).map_err(|_| {
                    Error::validation(
                        "update_reason",
                        format!(
                            "must be at most {} characters, got {}",
                            limits::UPDATE_REASON_MAX_LENGTH,
                            chars(reason)
                        ),
                    )
                })
            })
            .transpose()?;
        Ok(UpdateCardStatusRequest {
            card_status,
            update_reason,
        })
    }

    /// Validates and sends the request, retrying with the same idempotency key.
    #[allow(clippy::manual_async_fn)] // see the comment in the body
    pub fn send(
        self,
    ) -> impl std::future::Future<Output = Result<UpdateCardStatusResponse, Error>> + Send {
        // The builder's fields are used where the future captured them (an
        // `async fn` would carry them twice).
        async move {
            let card_id = self.card_id;
            send_call!(
                self.common,
                "update_card_status",
                self.body()?,
                |raw, key, account, body| raw.update_card_status(&card_id, key, account, body)
            )
        }
    }
}
