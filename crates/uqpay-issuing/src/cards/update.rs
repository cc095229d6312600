//! [`UpdateCard`]: `POST /v1/issuing/cards/{id}`, and the validation of its
//! body.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use uqpay_issuing_raw::constraints as limits;
use uqpay_issuing_raw::rules;
use uqpay_issuing_raw::types::{
    Metadata, NameOnCard, RiskControls, SpendingControl, SpendingInterval, UpdateCardRequest,
    UpdateCardResponse,
};
use uuid::Uuid;

use crate::call::{Call, Handle};
use crate::cards::validate::{amount, chars, json_type, mccs, yes_no};
use crate::cards::Common;
use crate::error::Error;

/// Updates a card's limit, name, no-PIN amount, spending controls, risk
/// controls and metadata. Built by [`Client::update_card`](crate::Client::update_card). Fields not set
/// are left unchanged; at least one must be set.
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until .send() is awaited"]
pub struct UpdateCard {
    common: Common,
    card_id: Uuid,
    /// Boxed: the builder moves through every setter, and the fields are
    /// most of its size.
    fields: Box<UpdateCardFields>,
}

/// The body fields of an [`UpdateCard`], as set (not yet validated).
#[derive(Debug, Clone, Default)]
struct UpdateCardFields {
    card_limit: Option<Decimal>,
    name_on_card: Option<String>,
    no_pin_payment_amount: Option<Decimal>,
    spending_controls: Vec<(Decimal, SpendingInterval)>,
    enable_3ds: Option<bool>,
    allow_3ds_transactions: Option<bool>,
    allowed_mcc: Option<Vec<String>>,
    blocked_mcc: Option<Vec<String>>,
    metadata: Option<Result<Map<String, Value>, String>>,
}

impl UpdateCard {
    pub(crate) fn new(handle: Arc<Handle>, card_id: Uuid) -> Self {
        Self {
            common: Common::new(handle),
            card_id,
            fields: Box::default(),
        }
    }

    /// The card's total credit limit in its currency, >= 0, sent exactly
    /// (`dec!(2100.02)` goes on the wire as `2100.02`). The API refuses it
    /// for SINGLE cards.
    pub fn card_limit(mut self, limit: impl Into<Decimal>) -> Self {
        self.fields.card_limit = Some(limit.into());
        self
    }

    /// The name embossed on the card: 1 to 26 characters (Unicode scalar
    /// values), printable ones only: control, format (zero-width, direction
    /// overrides, soft hyphens...), separator, private-use and unassigned
    /// characters are refused.
    pub fn name_on_card(mut self, name: impl Into<String>) -> Self {
        self.fields.name_on_card = Some(name.into());
        self
    }

    /// The largest payment allowed without a PIN, >= 0 (0 opts out of
    /// PIN-less payments).
    pub fn no_pin_payment_amount(mut self, amount: impl Into<Decimal>) -> Self {
        self.fields.no_pin_payment_amount = Some(amount.into());
        self
    }

    /// Adds a spending control: at most `amount` (>= 0) per `interval`. Call
    /// it once per control; the controls sent replace the card's.
    pub fn spending_control(
        mut self,
        amount: impl Into<Decimal>,
        interval: SpendingInterval,
    ) -> Self {
        self.fields
            .spending_controls
            .push((amount.into(), interval));
        self
    }

    /// Turns 3-D Secure on or off (`risk_controls.enable_3ds`, `Y` / `N`).
    pub fn enable_3ds(mut self, enable: bool) -> Self {
        self.fields.enable_3ds = Some(enable);
        self
    }

    /// Allows or refuses 3-D Secure transactions (`risk_controls.allow_3ds_transactions`).
    pub fn allow_3ds_transactions(mut self, allow: bool) -> Self {
        self.fields.allow_3ds_transactions = Some(allow);
        self
    }

    /// The merchant category codes (4 digits each) the card may be used at.
    pub fn allowed_mcc<I, S>(mut self, codes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields.allowed_mcc = Some(codes.into_iter().map(Into::into).collect());
        self
    }

    /// The merchant category codes (4 digits each) the card is refused at.
    pub fn blocked_mcc<I, S>(mut self, codes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields.blocked_mcc = Some(codes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets one metadata entry (call it once per key). The metadata sent
    /// replaces the card's, and may be at most 3200 bytes of JSON.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        let map = match self.fields.metadata.take() {
            Some(Ok(map)) => Ok(map),
            Some(Err(e)) => Err(e),
            None => Ok(Map::new()),
        };
        self.fields.metadata = Some(map.map(|mut map| {
            map.insert(key.into(), value.into());
            map
        }));
        self
    }

    /// Sets the whole metadata object (must be a JSON object).
    pub fn metadata_json(mut self, metadata: Value) -> Self {
        self.fields.metadata = Some(match metadata {
            Value::Object(map) => Ok(map),
            other => Err(format!("must be a JSON object, got {}", json_type(&other))),
        });
        self
    }

    common_setters!();

    /// The body that would be sent, validated (the builder is kept).
    pub fn body(&self) -> Result<UpdateCardRequest, Error> {
        (*self.fields).clone().into_body()
    }

    /// The body that would be sent, validated, consuming the builder.
    pub fn into_body(self) -> Result<UpdateCardRequest, Error> {
        (*self.fields).into_body()
    }

    /// Validates and sends the request, retrying with the same idempotency key.
    #[allow(clippy::manual_async_fn)] // see the comment in the body
    pub fn send(
        self,
    ) -> impl std::future::Future<Output = Result<UpdateCardResponse, Error>> + Send {
        // The builder's fields are used where the future captured them (an
        // `async fn` would carry them twice).
        async move {
            let card_id = self.card_id;
            send_call!(
                self.common,
                "update_card",
                (*self.fields).into_body()?,
                |raw, key, account, body| raw.update_card(&card_id, key, account, body)
            )
        }
    }
}

impl UpdateCardFields {
    fn into_body(self) -> Result<UpdateCardRequest, Error> {
        let card_limit = self
            .card_limit
            .map(|v| amount(v, || "card_limit".into()))
            .transpose()?;
        let name_on_card = self
            .name_on_card
            .map(|name| {
                if limits::NAME_ON_CARD_PRINTABLE {
                    if let Some((at, c)) = rules::unprintable(&name) {
                        return Err(Error::validation(
                            "name_on_card",
                            rules::unprintable_reason(at, c),
                        ));
                    }
                }
                // Counted only when the bytes could be too many: a name of
                // at most 26 bytes has at most 26 characters, and can only
                // fail by being empty.
                let length = if name.len() > limits::NAME_ON_CARD_MAX_LENGTH {
                    chars(&name)
                } else {
                    0
                };
                NameOnCard::try_from(name).map_err(|_| {
                    Error::validation(
                        "name_on_card",
                        format!(
                            "must be {} to {} characters, got {}",
                            limits::NAME_ON_CARD_MIN_LENGTH,
                            limits::NAME_ON_CARD_MAX_LENGTH,
                            length
                        ),
                    )
                })
            })
            .transpose()?;
        let no_pin_payment_amount = self
            .no_pin_payment_amount
            .map(|v| amount(v, || "no_pin_payment_amount".into()))
            .transpose()?;
        let spending_controls = self
            .spending_controls
            .into_iter()
            .enumerate()
            .map(|(i, (value, interval))| {
                Ok(SpendingControl {
                    amount: amount(value, || format!("spending_controls[{i}].amount"))?,
                    interval,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let risk_set = self.enable_3ds.is_some()
            || self.allow_3ds_transactions.is_some()
            || self.allowed_mcc.is_some()
            || self.blocked_mcc.is_some();
        let risk_controls = if risk_set {
            Some(RiskControls {
                enable_3ds: self.enable_3ds.map(yes_no),
                allow_3ds_transactions: self.allow_3ds_transactions.map(yes_no),
                allowed_mcc: self
                    .allowed_mcc
                    .map(|codes| mccs(codes, "risk_controls.allowed_mcc"))
                    .transpose()?,
                blocked_mcc: self
                    .blocked_mcc
                    .map(|codes| mccs(codes, "risk_controls.blocked_mcc"))
                    .transpose()?,
            })
        } else {
            None
        };
        let metadata = match self.metadata {
            None => None,
            Some(Err(reason)) => return Err(Error::validation("metadata", reason)),
            Some(Ok(map)) => {
                let metadata = Metadata(map);
                if let Some(size) = metadata.oversize() {
                    return Err(Error::validation(
                        "metadata",
                        format!(
                            "must be at most {} bytes of JSON, got {size}",
                            limits::METADATA_MAX_BYTES
                        ),
                    ));
                }
                Some(metadata)
            }
        };
        let body = UpdateCardRequest {
            card_limit,
            name_on_card,
            no_pin_payment_amount,
            spending_controls,
            risk_controls,
            metadata,
        };
        if body.sets_nothing() {
            return Err(Error::validation(
                "update_card",
                "no field is set; an update must change at least one of card_limit, \
                 name_on_card, no_pin_payment_amount, spending_controls, risk_controls, metadata",
            ));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uqpay_issuing_raw::types::YesNo;

    fn fields() -> UpdateCardFields {
        UpdateCardFields::default()
    }

    fn refused(fields: UpdateCardFields) -> String {
        match fields.into_body() {
            Err(Error::Validation { field, reason }) => format!("{field}: {reason}"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn an_update_must_set_something() {
        assert!(refused(fields()).starts_with("update_card: no field is set"));
        let body = UpdateCardFields {
            enable_3ds: Some(false),
            ..fields()
        }
        .into_body()
        .unwrap();
        assert_eq!(
            body.risk_controls.unwrap().enable_3ds,
            Some(YesNo::N),
            "a risk switch alone is an update"
        );
    }

    #[test]
    fn names_are_1_to_26_printable_characters() {
        let name = |n: &str| UpdateCardFields {
            name_on_card: Some(n.into()),
            ..fields()
        };
        assert!(name(&"A".repeat(26)).into_body().is_ok());
        assert!(
            name(&"É".repeat(26)).into_body().is_ok(),
            "counted in characters"
        );
        assert_eq!(
            refused(name(&"A".repeat(27))),
            "name_on_card: must be 1 to 26 characters, got 27"
        );
        assert!(refused(name("")).starts_with("name_on_card: must be 1 to 26"));
        assert!(refused(name("A\u{200B}B")).starts_with("name_on_card: "));
    }

    #[test]
    fn amounts_are_named_by_field_and_index() {
        let controls = UpdateCardFields {
            spending_controls: vec![
                (Decimal::ONE, SpendingInterval::Daily),
                (Decimal::NEGATIVE_ONE, SpendingInterval::PerTransaction),
            ],
            ..fields()
        };
        assert!(refused(controls).starts_with("spending_controls[1].amount: "));
        let limit = UpdateCardFields {
            card_limit: Some(Decimal::new(-1, 2)),
            ..fields()
        };
        assert!(refused(limit).starts_with("card_limit: "));
        let exact = UpdateCardFields {
            card_limit: Some(Decimal::new(210002, 2)),
            ..fields()
        }
        .into_body()
        .unwrap();
        assert_eq!(
            serde_json::to_string(&exact).unwrap(),
            r#"{"card_limit":2100.02}"#,
            "sent as the digits it holds"
        );
    }

    #[test]
    fn metadata_is_an_object_of_at_most_3200_bytes() {
        let big = UpdateCardFields {
            metadata: Some(Ok(serde_json::json!({ "k": "x".repeat(3300) })
                .as_object()
                .unwrap()
                .clone())),
            ..fields()
        };
        assert!(refused(big).contains("at most 3200 bytes"));
        let not_an_object = UpdateCardFields {
            metadata: Some(Err(format!(
                "must be a JSON object, got {}",
                json_type(&Value::from(3))
            ))),
            ..fields()
        };
        assert_eq!(
            refused(not_an_object),
            "metadata: must be a JSON object, got a number"
        );
    }
}
