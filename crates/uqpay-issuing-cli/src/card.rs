//! `card ...`: one call of the SDK each, its answer printed, its error
//! turned into an exit code (a change whose outcome is unknown is exit 5,
//! with the idempotency key to reconcile with).

use std::io::{IsTerminal as _, Read as _};
use std::path::Path;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};
use uqpay_issuing::raw::money::Amount;
use uqpay_issuing::raw::types::{SpendingInterval, YesNo};
use uqpay_issuing::{Card, CardStatus, Client, UpdateCard};
use uuid::Uuid;

use crate::cli::call::call_options;
use crate::cli::card::{AssignArgs, CardCommand, ChangeArgs, UpdateArgs};
use crate::exit::{self, Failure};
use crate::output::{self, Output};

/// Runs a card command; the exit code.
pub async fn run(client: &Client, command: CardCommand, out: Output) -> Result<u8, Failure> {
    match command {
        CardCommand::Get { card_id, call } => {
            let card = call_options!(client.retrieve_card(card_id), &call)
                .send()
                .await
                .map_err(|e| Failure::read(&e))?;
            out.record(&card_json(&card));
        }
        CardCommand::Assign(args) => assign(client, args, out).await?,
        CardCommand::Status {
            card_id,
            to,
            change,
        } => status(client, card_id, to, change, out).await?,
        CardCommand::Freeze { card_id, change } => {
            status(client, card_id, CardStatus::Frozen, change, out).await?
        }
        CardCommand::Unfreeze { card_id, change } => {
            status(client, card_id, CardStatus::Active, change, out).await?
        }
        CardCommand::Cancel { card_id, change } => {
            status(client, card_id, CardStatus::Cancelled, change, out).await?
        }
        CardCommand::Update(args) => update(client, args, out).await?,
    }
    Ok(exit::OK)
}

async fn assign(client: &Client, args: AssignArgs, out: Output) -> Result<(), Failure> {
    let number = read_card_number(args.card_number_file.as_deref())?;
    let key = reported_key(args.idempotency_key);
    let request = call_options!(client.assign_card(), &args.call)
        .cardholder_id(args.cardholder_id)
        .card_number(number)
        .card_currency(args.card_currency)
        .card_mode(args.card_mode)
        .idempotency_key(key);
    request.body().map_err(|e| Failure::read(&e))?;
    let answer = request.send().await.map_err(|e| Failure::write(&e))?;
    out.record(&with_key(serde_json::to_value(&answer), key));
    Ok(())
}

async fn status(
    client: &Client,
    card_id: Uuid,
    to: CardStatus,
    change: ChangeArgs,
    out: Output,
) -> Result<(), Failure> {
    let key = reported_key(change.idempotency_key);
    let mut request = call_options!(client.update_card_status(card_id), &change.call)
        .card_status(to)
        .idempotency_key(key);
    if let Some(reason) = change.reason {
        request = request.update_reason(reason);
    }
    request.body().map_err(|e| Failure::read(&e))?;
    let answer = request.send().await.map_err(|e| Failure::write(&e))?;
    out.record(&with_key(serde_json::to_value(&answer), key));
    Ok(())
}

async fn update(client: &Client, args: UpdateArgs, out: Output) -> Result<(), Failure> {
    let key = reported_key(args.idempotency_key);
    let mut request =
        call_options!(client.update_card(args.card_id), &args.call).idempotency_key(key);
    request = match &args.json_body {
        Some(source) => from_json_body(request, &read_source(source)?)?,
        None => from_flags(request, &args),
    };
    request.body().map_err(|e| Failure::read(&e))?;
    let answer = request.send().await.map_err(|e| Failure::write(&e))?;
    out.record(&with_key(serde_json::to_value(&answer), key));
    Ok(())
}

/// The caller's key, or a new one: chosen here so that it can be printed
/// with the answer and in a reconcile message.
fn reported_key(key: Option<Uuid>) -> Uuid {
    key.unwrap_or_else(Uuid::new_v4)
}

fn with_key(answer: Result<Value, serde_json::Error>, key: Uuid) -> Value {
    let mut value = answer.unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("idempotency_key".into(), Value::String(key.to_string()));
    }
    value
}

fn from_flags(mut request: UpdateCard, args: &UpdateArgs) -> UpdateCard {
    if let Some(limit) = args.card_limit {
        request = request.card_limit(limit);
    }
    if let Some(name) = &args.name_on_card {
        request = request.name_on_card(name.clone());
    }
    if let Some(amount) = args.no_pin_payment_amount {
        request = request.no_pin_payment_amount(amount);
    }
    for (amount, interval) in &args.spending_controls {
        request = request.spending_control(*amount, *interval);
    }
    if let Some(yes) = args.enable_3ds {
        request = request.enable_3ds(yes == YesNo::Y);
    }
    if let Some(yes) = args.allow_3ds_transactions {
        request = request.allow_3ds_transactions(yes == YesNo::Y);
    }
    if !args.allowed_mcc.is_empty() {
        request = request.allowed_mcc(args.allowed_mcc.clone());
    }
    if !args.blocked_mcc.is_empty() {
        request = request.blocked_mcc(args.blocked_mcc.clone());
    }
    for (key, value) in &args.metadata {
        request = request.metadata(key.clone(), value.clone());
    }
    request
}

/// The Update Card body of `--json-body`: its fields as the API names
/// them; amounts read exactly (never through a float).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBody {
    card_limit: Option<Amount>,
    name_on_card: Option<String>,
    no_pin_payment_amount: Option<Amount>,
    spending_controls: Option<Vec<JsonControl>>,
    risk_controls: Option<JsonRisk>,
    metadata: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonControl {
    amount: Amount,
    interval: SpendingInterval,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRisk {
    enable_3ds: Option<YesNo>,
    allow_3ds_transactions: Option<YesNo>,
    allowed_mcc: Option<Vec<String>>,
    blocked_mcc: Option<Vec<String>>,
}

fn from_json_body(mut request: UpdateCard, text: &str) -> Result<UpdateCard, Failure> {
    let body: JsonBody =
        serde_json::from_str(text).map_err(|e| Failure::usage(format!("--json-body: {e}")))?;
    let decimal = |a: Amount| -> Decimal { a.get() };
    if let Some(limit) = body.card_limit {
        request = request.card_limit(decimal(limit));
    }
    if let Some(name) = body.name_on_card {
        request = request.name_on_card(name);
    }
    if let Some(amount) = body.no_pin_payment_amount {
        request = request.no_pin_payment_amount(decimal(amount));
    }
    for control in body.spending_controls.into_iter().flatten() {
        request = request.spending_control(decimal(control.amount), control.interval);
    }
    if let Some(risk) = body.risk_controls {
        if let Some(yes) = risk.enable_3ds {
            request = request.enable_3ds(yes == YesNo::Y);
        }
        if let Some(yes) = risk.allow_3ds_transactions {
            request = request.allow_3ds_transactions(yes == YesNo::Y);
        }
        if let Some(codes) = risk.allowed_mcc {
            request = request.allowed_mcc(codes);
        }
        if let Some(codes) = risk.blocked_mcc {
            request = request.blocked_mcc(codes);
        }
    }
    if let Some(metadata) = body.metadata {
        request = request.metadata_json(metadata);
    }
    Ok(request)
}

/// A file's text, or stdin's for `-`.
fn read_source(source: &str) -> Result<String, Failure> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(source)
        .map_err(|e| Failure::usage(format!("cannot read {source}: {e}")))
}

/// The card number, from its file or stdin (one line; spaces and dashes
/// between digit groups allowed). Never echoed.
fn read_card_number(file: Option<&Path>) -> Result<String, Failure> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Failure::usage(format!(
                "cannot read the card number file {}: {e}",
                path.display()
            ))
        })?,
        None => {
            if std::io::stdin().is_terminal() {
                output::message("card number (then Enter):");
            }
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| {
                Failure::usage(format!("cannot read the card number from stdin: {e}"))
            })?;
            line
        }
    };
    let number: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    if number.is_empty() {
        return Err(Failure::usage(
            "no card number: give it on stdin or with --card-number-file FILE",
        ));
    }
    Ok(number)
}

/// A card as JSON (its number comes masked from the API).
pub fn card_json(card: &Card) -> Value {
    let to_value = |v: Result<Value, serde_json::Error>| v.unwrap_or(Value::Null);
    json!({
        "card_id": card.card_id,
        "card_status": card.card_status.to_string(),
        "card_number": card.card_number.as_ref().map(|n| n.to_string()),
        "card_currency": card.card_currency,
        "card_limit": card.card_limit.map(|d| d.to_string()),
        "available_balance": card.available_balance.map(|d| d.to_string()),
        "consumed_amount": card.consumed_amount,
        "no_pin_payment_amount": card.no_pin_payment_amount,
        "card_bin": card.card_bin,
        "card_scheme": card.card_scheme,
        "form_factor": card.form_factor,
        "mode_type": card.mode_type,
        "card_product_id": card.card_product_id,
        "cardholder": to_value(serde_json::to_value(&card.cardholder)),
        "spending_controls": to_value(serde_json::to_value(&card.spending_controls)),
        "risk_controls": to_value(serde_json::to_value(&card.risk_controls)),
        "metadata": card.metadata,
        "update_reason": card.update_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_keep_amounts_exact_and_refuse_unknown_fields() {
        let client = Client::builder().token("t").build().unwrap();
        let request = from_json_body(
            client.update_card(Uuid::nil()),
            r#"{"card_limit": 2100.02, "spending_controls": [{"amount": 100.03, "interval": "DAILY"}],
                "risk_controls": {"enable_3ds": "Y", "blocked_mcc": ["5999"]}, "metadata": {"a": "b"}}"#,
        )
        .unwrap();
        let body = serde_json::to_string(&request.body().unwrap()).unwrap();
        assert!(
            body.contains("2100.02") && body.contains("100.03"),
            "{body}"
        );
        let unknown = from_json_body(client.update_card(Uuid::nil()), r#"{"card_limt": 1}"#);
        assert!(unknown.unwrap_err().message.contains("card_limt"));
    }
}
