//! The generator's compiled pattern checks (`fast::Mcc`, `fast::CurrencyCode`)
//! accept exactly what the spec's regular expressions and length limits
//! accept (checked against the `regex` crate on random and boundary input),
//! and the open enums parse known values, keep unknown ones, and write both
//! back as sent.

use proptest::prelude::*;
use uqpay_issuing_raw::constraints;
use uqpay_issuing_raw::types::{
    CardState, CurrencyCode, Mcc, OrderState, ReportedCardStatus, ReportedOrderStatus,
};

fn agrees(
    pattern: &str,
    min: usize,
    max: usize,
    text: &str,
    fast: bool,
) -> Result<(), TestCaseError> {
    let regex = regex::Regex::new(pattern).unwrap();
    let count = text.chars().count();
    let expected = regex.is_match(text) && (min..=max).contains(&count);
    prop_assert_eq!(fast, expected, "{:?} against {}", text, pattern);
    Ok(())
}

fn strings() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,6}",
        "[A-Z]{0,5}",
        "[0-9A-Za-z]{0,6}",
        "\\PC{0,6}",
        "[٠-٩０-９ⅠⅡ]{1,5}",
        Just("5999\n".to_owned()),
        Just("\n5999".to_owned()),
    ]
}

/// Text shaped like amounts, right and wrong.
fn amounts() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{0,4}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{0,2})?",
        "[-+ ._0-9eE]{0,7}",
        "[0-9]{1,3}[_, ][0-9]{3}",
        "\\PC{0,5}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    /// The amount grammar of `money` (hand-written, on every amount read)
    /// against RFC 8259's number grammar and the spec's `Money` pattern.
    #[test]
    fn amount_grammars_agree_with_their_definitions(text in amounts()) {
        let json_number = regex::Regex::new(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$").unwrap();
        prop_assert_eq!(uqpay_issuing_raw::money::is_json_number(&text), json_number.is_match(&text), "{:?}", text);
        let spec = regex::Regex::new("^-?[0-9]+(\\.[0-9]+)?$").unwrap();
        prop_assert_eq!(uqpay_issuing_raw::money::is_decimal_text(&text), spec.is_match(&text), "{:?}", text);
    }

    #[test]
    fn mcc_checks_agree_with_the_spec(text in strings()) {
        agrees(constraints::MCC_PATTERN, constraints::MCC_MIN_LENGTH, constraints::MCC_MAX_LENGTH, &text, Mcc::try_from(text.as_str()).is_ok())?;
    }

    #[test]
    fn currency_checks_agree_with_the_spec(text in strings()) {
        agrees(
            constraints::CURRENCY_CODE_PATTERN,
            constraints::CURRENCY_CODE_MIN_LENGTH,
            constraints::CURRENCY_CODE_MAX_LENGTH,
            &text,
            CurrencyCode::try_from(text.clone()).is_ok(),
        )?;
    }
}

#[test]
fn open_enums_parse_known_values_and_keep_the_others() {
    let known: ReportedCardStatus = serde_json::from_str("\"PRE_CANCEL\"").unwrap();
    assert_eq!(known, ReportedCardStatus::Known(CardState::PreCancel));
    let other: ReportedOrderStatus = serde_json::from_str("\"success\"").unwrap();
    assert_eq!(other, ReportedOrderStatus::Unknown("success".into()));
    assert_eq!(serde_json::to_string(&other).unwrap(), "\"success\"");
    assert_eq!(serde_json::to_string(&known).unwrap(), "\"PRE_CANCEL\"");
    assert!(serde_json::from_str::<ReportedCardStatus>("1").is_err());
    let owned: ReportedOrderStatus = serde_json::from_value(serde_json::json!("SUCCESS")).unwrap();
    assert_eq!(owned, ReportedOrderStatus::Known(OrderState::Success));
}
