//! The request builders of the three card operations, and their validation.
//!
//! Every limit comes from the spec, through the generated types (which
//! enforce them) and the generated `constraints` module (which states them in
//! the error messages).

use std::fmt;

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use uqpay_issuing_raw::constraints as limits;
use uqpay_issuing_raw::money::Amount;
use uqpay_issuing_raw::pan::{CardNumber, CardNumberError};
use uqpay_issuing_raw::rules;
use uqpay_issuing_raw::types::{
    AccountId, AssignCardRequest, AssignCardResponse, CardMode, CardStatus, CardholderId,
    CurrencyCode, Mcc, Metadata, NameOnCard, RiskControls, SpendingControl, SpendingInterval,
    UpdateCardRequest, UpdateCardResponse, UpdateCardStatusRequest, UpdateCardStatusResponse,
    UpdateReason, YesNo,
};
use uuid::Uuid;

use crate::call::{Call, Overrides};
use crate::card::Card;
use crate::{Client, Error};

/// What every request builder carries besides its body.
#[derive(Clone)]
struct Common {
    client: Client,
    idempotency_key: Option<Uuid>,
    on_behalf_of: Option<String>,
    overrides: Overrides,
}

impl Common {
    fn new(client: Client) -> Self {
        Self {
            client,
            idempotency_key: None,
            on_behalf_of: None,
            overrides: Overrides::default(),
        }
    }

    /// The account of this call: its own, or the client's default.
    fn account(&self) -> Result<Option<AccountId>, Error> {
        match self.on_behalf_of.as_deref() {
            Some(account) => parse_on_behalf_of(account).map(Some),
            None => Ok(self.client.handle().defaults.on_behalf_of.clone()),
        }
    }

    /// The key of this call (the caller's, or a new v4) and the account.
    fn resolve(&self) -> Result<(Uuid, Option<AccountId>), Error> {
        let account = self.account()?;
        Ok((self.idempotency_key.unwrap_or_else(Uuid::new_v4), account))
    }
}

impl fmt::Debug for Common {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Common")
            .field("idempotency_key", &self.idempotency_key)
            .field("on_behalf_of", &self.on_behalf_of)
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// `x-on-behalf-of` is the account_id of a connected sub-account: a UUID
/// (UQPay's FAQ) or a short id such as `CB4488338944` (what UQPay's own MCP
/// server passes; the endpoint pages say a plain string). Refusing all but
/// UUIDs would lock out users of short ids with no workaround, so any
/// visible ASCII value of 1 to 64 characters goes (the spec's `AccountId`);
/// empty, whitespace, control characters, over-long values and anything
/// that looks like a card number (12 or more digits in a row) are refused
/// before the wire (an empty one is refused by UQPay; leave the header out
/// to act as the master account).
pub(crate) fn parse_on_behalf_of(account: &str) -> Result<AccountId, Error> {
    // A card number typed into the wrong field must not go out in a header
    // (proxies log headers): no account id has 12 or more digits in a row.
    if crate::redact::redact(account) != account {
        return Err(Error::validation(
            "x-on-behalf-of",
            "looks like a card number; an account id is a sub-account's UUID or a short id \
             such as CB4488338944",
        ));
    }
    AccountId::try_from(account).map_err(|_| {
        let problem = if account.trim().is_empty() {
            "must not be empty or blank (leave it out to act as the master account)".to_owned()
        } else if account.len() > limits::ACCOUNT_ID_MAX_LENGTH {
            format!(
                "must be at most {} characters, got {}",
                limits::ACCOUNT_ID_MAX_LENGTH,
                account.chars().count()
            )
        } else {
            let (at, c) = account
                .chars()
                .enumerate()
                .find(|(_, c)| !matches!(c, '!'..='~'))
                .expect("an invalid value of valid length has an invalid character");
            let what = if c.is_whitespace() {
                "a space"
            } else if c.is_control() {
                "a control character"
            } else {
                "not visible ASCII"
            };
            format!("character {} is {what} (U+{:04X})", at + 1, u32::from(c))
        };
        Error::validation(
            "x-on-behalf-of",
            format!(
                "{problem}; an account id is visible ASCII: a sub-account's UUID or a short id \
                 such as CB4488338944"
            ),
        )
    })
}

/// The setters of the builders of the card changes: the call's idempotency
/// key, and those of every call ([`call_setters`]).
macro_rules! common_setters {
    () => {
        /// Uses this idempotency key instead of a new random one. Retries of
        /// the call always reuse the call's key; reusing a key for a later
        /// call replays the first call's answer (or is refused if the
        /// request differs).
        pub fn idempotency_key(mut self, key: Uuid) -> Self {
            self.common.idempotency_key = Some(key);
            self
        }

        call_setters!();
    };
}

/// The setters every request builder has: the account, and the call's own
/// time limits and retry budget.
macro_rules! call_setters {
    () => {
        /// Acts on behalf of this connected account (`x-on-behalf-of`: the
        /// sub-account's account_id, a UUID or a short id such as
        /// `CB4488338944`), overriding the client's default. An empty or
        /// blank value, control characters or more than 64 characters are
        /// refused before the wire.
        pub fn on_behalf_of(mut self, account_id: impl Into<String>) -> Self {
            self.common.on_behalf_of = Some(account_id.into());
            self
        }

        /// The time limit of each attempt of this call (from sending the
        /// request to the last byte of the answer), instead of the client's
        /// [`timeout`](crate::ClientBuilder::timeout).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.overrides.timeout = Some(timeout);
            self
        }

        /// How many times this call is retried after a retryable failure,
        /// instead of the client's [`max_retries`](crate::ClientBuilder::max_retries);
        /// `0` sends one attempt (plus one after a refused token, when the
        /// client mints its own tokens).
        pub fn max_retries(mut self, max_retries: u32) -> Self {
            self.common.overrides.max_retries = Some(max_retries);
            self
        }

        /// The time limit of the whole call, attempts, token waits and
        /// backoff included, instead of the client's
        /// [`deadline`](crate::ClientBuilder::deadline): no attempt starts
        /// or waits past it, and a running attempt is cut at it.
        pub fn deadline(mut self, deadline: std::time::Duration) -> Self {
            self.common.overrides.deadline = Some(deadline);
            self
        }
    };
}

/// Sends a validated body with the generated method called by `$send` (an
/// expression of `raw`, the raw client, and of `key`, `account` and `body`,
/// the call's idempotency key, account and body, by reference): one
/// idempotency key for the call, and every attempt sends the very same
/// body, passed by reference (nothing is copied for a retry).
macro_rules! send_call {
    ($common:expr, $operation:literal, $body:expr, |$raw:ident, $key:ident, $account:ident, $b:ident| $send:expr) => {{
        let body = $body;
        let (key, account) = $common.resolve()?;
        let handle = $common.client.handle();
        let $raw = &handle.raw;
        let ($key, $account, $b) = (&key, account.as_ref(), &body);
        Call {
            handle,
            operation: $operation,
            key: Some(key),
            overrides: &$common.overrides,
        }
        .run(|| $send)
        .await
    }};
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::validation(field, "is required"))
}

fn amount(value: Decimal, field: impl FnOnce() -> String) -> Result<Amount, Error> {
    Amount::new(value).map_err(|e| Error::validation(field(), e.to_string()))
}

fn mccs(values: Vec<String>, field: &str) -> Result<Vec<Mcc>, Error> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, code)| {
            // Checked before the conversion so that the error can quote it.
            let valid =
                code.len() == limits::MCC_MAX_LENGTH && code.bytes().all(|b| b.is_ascii_digit());
            let quoted = if valid {
                String::new()
            } else {
                format!("{code:?}")
            };
            Mcc::try_from(code).map_err(|_| {
                Error::validation(
                    format!("{field}[{i}]"),
                    format!(
                        "must be exactly {} digits, got {quoted}",
                        limits::MCC_MAX_LENGTH
                    ),
                )
            })
        })
        .collect()
}

fn yes_no(value: bool) -> YesNo {
    if value {
        YesNo::Y
    } else {
        YesNo::N
    }
}

// ---------------------------------------------------------------------------
// Assign Card

/// Assigns a card number to a cardholder. Built by [`Client::assign_card`].
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
    pub(crate) fn new(client: Client) -> Self {
        Self {
            common: Common::new(client),
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

// ---------------------------------------------------------------------------
// Update Card Status

/// Activates, freezes or cancels a card. Built by [`Client::update_card_status`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until .send() is awaited"]
pub struct UpdateCardStatus {
    common: Common,
    card_id: Uuid,
    card_status: Option<CardStatus>,
    update_reason: Option<String>,
}

impl UpdateCardStatus {
    pub(crate) fn new(client: Client, card_id: Uuid) -> Self {
        Self {
            common: Common::new(client),
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

// ---------------------------------------------------------------------------
// Update Card

/// Updates a card's limit, name, no-PIN amount, spending controls, risk
/// controls and metadata. Built by [`Client::update_card`]. Fields not set
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
    pub(crate) fn new(client: Client, card_id: Uuid) -> Self {
        Self {
            common: Common::new(client),
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

// ---------------------------------------------------------------------------
// Retrieve Card

/// Reads a card back. Built by [`Client::retrieve_card`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until .send() is awaited"]
pub struct RetrieveCard {
    common: Common,
    card_id: Uuid,
}

impl RetrieveCard {
    pub(crate) fn new(client: Client, card_id: Uuid) -> Self {
        Self {
            common: Common::new(client),
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
            let handle = self.common.client.handle();
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

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
