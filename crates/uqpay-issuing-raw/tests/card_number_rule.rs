//! `CardNumber` is hand-written (its `Debug` masks the number), so its rule
//! is checked here against the spec's `CardNumber` schema, as generated
//! into `constraints`: it accepts exactly what the pattern and lengths accept.

use proptest::prelude::*;
use uqpay_issuing_raw::constraints::{
    CARD_NUMBER_MAX_LENGTH, CARD_NUMBER_MIN_LENGTH, CARD_NUMBER_PATTERN,
};
use uqpay_issuing_raw::pan::CardNumber;

fn spec_accepts(text: &str) -> bool {
    let pattern = regex::Regex::new(CARD_NUMBER_PATTERN).unwrap();
    let length = text.chars().count();
    pattern.is_match(text) && (CARD_NUMBER_MIN_LENGTH..=CARD_NUMBER_MAX_LENGTH).contains(&length)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn card_number_accepts_what_the_spec_accepts(text in prop_oneof![
        "[0-9]{0,24}",
        "[0-9 -]{10,22}",
        "[0-9a-f]{12,19}",
        "[٠-٩0-9]{10,20}",
        any::<String>(),
    ]) {
        prop_assert_eq!(CardNumber::new(text.clone()).is_ok(), spec_accepts(&text), "{:?}", text);
    }
}
