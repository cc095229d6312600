//! The validation the builders share: the account header, required
//! fields, money, merchant category codes. Every refusal is an
//! [`Error::Validation`] naming the field, the problem and the limit.

use rust_decimal::Decimal;
use serde_json::Value;
use uqpay_issuing_raw::constraints as limits;
use uqpay_issuing_raw::money::Amount;
use uqpay_issuing_raw::types::{AccountId, Mcc, YesNo};

use crate::error::Error;
use crate::redact::redact;

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
    if redact(account) != account {
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

pub(crate) fn chars(text: &str) -> usize {
    text.chars().count()
}

pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::validation(field, "is required"))
}

pub(crate) fn amount(value: Decimal, field: impl FnOnce() -> String) -> Result<Amount, Error> {
    Amount::new(value).map_err(|e| Error::validation(field(), e.to_string()))
}

pub(crate) fn mccs(values: Vec<String>, field: &str) -> Result<Vec<Mcc>, Error> {
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

pub(crate) fn yes_no(value: bool) -> YesNo {
    if value {
        YesNo::Y
    } else {
        YesNo::N
    }
}

pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<impl std::fmt::Debug, Error>) -> String {
        match result {
            Err(Error::Validation { field, reason }) => format!("{field}: {reason}"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn account_ids_are_uuids_or_short_ids_and_never_card_numbers() {
        assert!(parse_on_behalf_of("18523f72-f4de-4f9c-bb8e-ec7d1c4f32be").is_ok());
        assert!(parse_on_behalf_of("CB4488338944").is_ok());
        assert!(reason(parse_on_behalf_of("")).contains("empty"));
        assert!(reason(parse_on_behalf_of("  ")).contains("blank"));
        assert!(reason(parse_on_behalf_of("CB 44")).contains("a space"));
        assert!(reason(parse_on_behalf_of("CB\u{1}")).contains("control character"));
        assert!(reason(parse_on_behalf_of(&"A".repeat(65))).contains("at most 64"));
        let pan = reason(parse_on_behalf_of("4096360800133951"));
        assert!(pan.contains("looks like a card number"), "{pan}");
        assert!(
            !pan.contains("4096360800133951"),
            "the PAN is not quoted: {pan}"
        );
    }

    #[test]
    fn mccs_are_four_digits_and_named_by_index() {
        assert_eq!(
            mccs(vec!["5999".into(), "6011".into()], "m").unwrap().len(),
            2
        );
        let bad = reason(mccs(
            vec!["5999".into(), "59a9".into()],
            "risk_controls.allowed_mcc",
        ));
        assert!(bad.starts_with("risk_controls.allowed_mcc[1]: "), "{bad}");
        assert!(bad.contains("\"59a9\""), "{bad}");
        assert!(reason(mccs(vec!["12345".into()], "m")).contains("exactly 4 digits"));
    }

    #[test]
    fn amounts_are_zero_or_more_and_required_fields_are_named() {
        assert!(amount(Decimal::ZERO, || "card_limit".into()).is_ok());
        assert!(amount(Decimal::new(210002, 2), || "card_limit".into()).is_ok());
        assert!(
            reason(amount(Decimal::NEGATIVE_ONE, || "card_limit".into()))
                .starts_with("card_limit: ")
        );
        assert_eq!(
            reason(required::<u8>(None, "card_mode")),
            "card_mode: is required"
        );
        assert_eq!(required(Some(3), "x").unwrap(), 3);
        assert_eq!(chars("Ünïcödé"), 7);
        assert_eq!(yes_no(true), YesNo::Y);
        assert_eq!(json_type(&Value::Null), "null");
    }
}
