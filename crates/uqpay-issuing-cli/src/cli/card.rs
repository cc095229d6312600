//! `card ...`: the arguments of the card commands. The values of the enum
//! flags (`--card-mode`, `--to`, the spending intervals, Y/N) come from the
//! spec's generated types.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use rust_decimal::Decimal;
use uqpay_issuing::raw::types::YesNo;
use uqpay_issuing::{CardMode, CardStatus, SpendingInterval};
use uuid::Uuid;

use crate::cli::call::CallArgs;
use crate::enums;

/// The card commands.
#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Read a card back (Retrieve Card).
    Get {
        /// The card's id.
        card_id: Uuid,
        #[command(flatten)]
        call: CallArgs,
    },
    /// Assign a card number to a cardholder (Assign Card). The card number is
    /// read from stdin, or from --card-number-file: never from a flag or an
    /// argument (they show in `ps` and in shell histories).
    Assign(AssignArgs),
    /// Set a card's status (Update Card Status).
    Status {
        /// The card's id.
        card_id: Uuid,
        /// The new status.
        #[arg(long, value_parser = enums::parser::<CardStatus>())]
        to: CardStatus,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Freeze a card (status FROZEN).
    Freeze {
        /// The card's id.
        card_id: Uuid,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Unfreeze a card (status ACTIVE).
    Unfreeze {
        /// The card's id.
        card_id: Uuid,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Cancel a card (status CANCELLED: final).
    Cancel {
        /// The card's id.
        card_id: Uuid,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Change a card's limit, name, no-PIN amount, spending controls, risk
    /// controls or metadata (Update Card): fields not given are unchanged.
    Update(UpdateArgs),
}

/// The arguments of a status change.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// Why (at most 100 characters; UQPay echoes it back).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The idempotency key (a UUID): give the key of an earlier run to
    /// reconcile it (UQPay replays the first answer for 24 hours).
    #[arg(long, value_name = "UUID")]
    pub idempotency_key: Option<Uuid>,
    #[command(flatten)]
    pub call: CallArgs,
}

/// `card assign`.
#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The cardholder.
    #[arg(long, value_name = "UUID")]
    pub cardholder_id: Uuid,
    /// The card's currency (3 uppercase letters, e.g. USD).
    #[arg(long, value_name = "CUR")]
    pub card_currency: String,
    /// The card's mode.
    #[arg(long, value_parser = enums::parser::<CardMode>())]
    pub card_mode: CardMode,
    /// Read the card number from this file (default: stdin).
    #[arg(long, value_name = "FILE")]
    pub card_number_file: Option<PathBuf>,
    /// The idempotency key (a UUID): give the key of an earlier run to
    /// reconcile it (UQPay replays the first answer for 24 hours).
    #[arg(long, value_name = "UUID")]
    pub idempotency_key: Option<Uuid>,
    #[command(flatten)]
    pub call: CallArgs,
}

/// `card update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The card's id.
    pub card_id: Uuid,
    /// The card's credit limit (>= 0, exact decimal; not for SINGLE cards).
    #[arg(long, value_name = "AMOUNT")]
    pub card_limit: Option<Decimal>,
    /// The name on the card (1 to 26 printable characters).
    #[arg(long, value_name = "NAME")]
    pub name_on_card: Option<String>,
    /// The largest payment without a PIN (>= 0).
    #[arg(long, value_name = "AMOUNT")]
    pub no_pin_payment_amount: Option<Decimal>,
    /// A spending control, AMOUNT:INTERVAL (repeatable; the controls given
    /// replace the card's). INTERVAL is one of the spec's spending intervals
    /// (listed in the error for a wrong one).
    #[arg(long = "spending-control", value_name = "AMOUNT:INTERVAL", value_parser = parse_spending_control)]
    pub spending_controls: Vec<(Decimal, SpendingInterval)>,
    /// Turn 3-D Secure on or off.
    #[arg(long = "enable-3ds", value_parser = enums::parser::<YesNo>())]
    pub enable_3ds: Option<YesNo>,
    /// Allow or refuse 3-D Secure transactions.
    #[arg(long = "allow-3ds-transactions", value_parser = enums::parser::<YesNo>())]
    pub allow_3ds_transactions: Option<YesNo>,
    /// A merchant category code the card may be used at (4 digits; repeatable or comma-separated).
    #[arg(long = "allowed-mcc", value_name = "MCC", value_delimiter = ',')]
    pub allowed_mcc: Vec<String>,
    /// A merchant category code the card is refused at (4 digits; repeatable or comma-separated).
    #[arg(long = "blocked-mcc", value_name = "MCC", value_delimiter = ',')]
    pub blocked_mcc: Vec<String>,
    /// A metadata entry, KEY=VALUE (repeatable; the metadata given replaces the card's).
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_metadata)]
    pub metadata: Vec<(String, String)>,
    /// The whole Update Card body as JSON, from a file or `-` (stdin),
    /// instead of the field flags.
    #[arg(long, value_name = "FILE|-", conflicts_with_all = [
        "card_limit", "name_on_card", "no_pin_payment_amount", "spending_controls",
        "enable_3ds", "allow_3ds_transactions", "allowed_mcc", "blocked_mcc", "metadata",
    ])]
    pub json_body: Option<String>,
    /// The idempotency key (a UUID): give the key of an earlier run to
    /// reconcile it (UQPay replays the first answer for 24 hours).
    #[arg(long, value_name = "UUID")]
    pub idempotency_key: Option<Uuid>,
    #[command(flatten)]
    pub call: CallArgs,
}

/// `AMOUNT:INTERVAL`.
fn parse_spending_control(text: &str) -> Result<(Decimal, SpendingInterval), String> {
    let (amount, interval) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("expected AMOUNT:INTERVAL, e.g. 100:{}", first_interval()))?;
    let amount: Decimal = amount
        .trim()
        .parse()
        .map_err(|_| format!("{amount:?} is not a decimal amount"))?;
    let interval: SpendingInterval = interval.trim().parse().map_err(|_| {
        format!(
            "{interval:?} is not a spending interval ({})",
            enums::listed::<SpendingInterval>()
        )
    })?;
    Ok((amount, interval))
}

fn first_interval() -> String {
    enums::values::<SpendingInterval>()
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// `KEY=VALUE`.
fn parse_metadata(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE".to_owned())?;
    if key.is_empty() {
        return Err("the key is empty (expected KEY=VALUE)".into());
    }
    Ok((key.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_controls_and_metadata() {
        let (amount, interval) = parse_spending_control("100.03:DAILY").unwrap();
        assert_eq!(amount.to_string(), "100.03");
        assert_eq!(interval, SpendingInterval::Daily);
        let error = parse_spending_control("5:HOURLY").unwrap_err();
        assert!(error.contains("PER_TRANSACTION"), "{error}");
        assert!(parse_spending_control("5").is_err());
        assert_eq!(
            parse_metadata("order=A=17"),
            Ok(("order".into(), "A=17".into()))
        );
        assert!(parse_metadata("=x").is_err());
    }
}
