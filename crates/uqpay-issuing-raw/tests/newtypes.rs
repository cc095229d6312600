//! The generated newtypes enforce the spec's constraints.

use uqpay_issuing_raw::constraints;
use uqpay_issuing_raw::types::{CurrencyCode, Mcc, NameOnCard, UpdateReason};

#[test]
fn name_on_card_is_at_most_26_characters() {
    assert_eq!(constraints::NAME_ON_CARD_MAX_LENGTH, 26);
    assert!(NameOnCard::try_from("A".repeat(26)).is_ok());
    let err = NameOnCard::try_from("A".repeat(27)).unwrap_err();
    assert!(err.to_string().contains("26"), "{err}");
    // Characters, not bytes: 26 two-byte and 26 four-byte characters fit.
    assert!(NameOnCard::try_from("É".repeat(26)).is_ok());
    assert!(NameOnCard::try_from("😀".repeat(26)).is_ok());
    assert!(NameOnCard::try_from("É".repeat(27)).is_err());
    assert!(NameOnCard::try_from("").is_err());
    // Deserialisation applies the same rule.
    let json = format!("\"{}\"", "B".repeat(27));
    assert!(serde_json::from_str::<NameOnCard>(&json).is_err());
}

#[test]
fn update_reason_is_at_most_100_characters() {
    assert!(UpdateReason::try_from("r".repeat(100)).is_ok());
    assert!(UpdateReason::try_from("ř".repeat(100)).is_ok());
    assert!(UpdateReason::try_from("r".repeat(101)).is_err());
    assert!(UpdateReason::try_from("").is_ok());
}

#[test]
fn currency_and_mcc_patterns() {
    assert!(CurrencyCode::try_from("USD").is_ok());
    for bad in ["usd", "US", "USDT", "U$D", ""] {
        assert!(CurrencyCode::try_from(bad).is_err(), "{bad}");
    }
    assert!(Mcc::try_from("5999").is_ok());
    for bad in ["599", "59999", "59a9", ""] {
        assert!(Mcc::try_from(bad).is_err(), "{bad}");
    }
}
