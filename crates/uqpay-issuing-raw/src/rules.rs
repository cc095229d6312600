//! Request rules the spec states but JSON Schema cannot express, written
//! once here so that the `uqpay-issuing` client (before sending) and the
//! `uqpay-mock` simulator (on receipt) apply exactly the same ones.

use serde_json::Value;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

use crate::constraints::METADATA_MAX_BYTES;
use crate::types::{Metadata, UpdateCardRequest};

/// The first character of `text` that the spec's `x-printable` refuses
/// (control, format, separator other than the space, private-use, surrogate
/// or unassigned), with its position in characters; `None` when every
/// character is printable.
///
/// ```
/// use uqpay_issuing_raw::rules::unprintable;
///
/// assert_eq!(unprintable("MARSHALL HU"), None);
/// assert_eq!(unprintable("MARSHALL\u{200B}HU"), Some((8, '\u{200B}')));
/// ```
pub fn unprintable(text: &str) -> Option<(usize, char)> {
    // Printable ASCII needs no table (the common case, checked per call).
    if text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return None;
    }
    text.chars().enumerate().find(|(_, c)| {
        !(' '..='~').contains(c)
            && matches!(
                c.general_category(),
                GeneralCategory::Control
                    | GeneralCategory::Format
                    | GeneralCategory::LineSeparator
                    | GeneralCategory::ParagraphSeparator
                    | GeneralCategory::PrivateUse
                    | GeneralCategory::Surrogate
                    | GeneralCategory::Unassigned
            )
    })
}

/// Why a `name_on_card` breaks the `x-printable` rule, naming the character
/// by its code point (it may be invisible) and position.
pub fn unprintable_reason(position: usize, c: char) -> String {
    format!(
        "must contain printable characters only, got U+{:04X} at position {position}",
        u32::from(c)
    )
}

impl UpdateCardRequest {
    /// An Update Card that changes nothing (every field left out).
    pub fn sets_nothing(&self) -> bool {
        self.card_limit.is_none()
            && self.name_on_card.is_none()
            && self.no_pin_payment_amount.is_none()
            && self.spending_controls.is_empty()
            && self.risk_controls.is_none()
            && self.metadata.is_none()
    }
}

impl Metadata {
    /// The size of the metadata as compact JSON when it is over the spec's
    /// `x-max-bytes` (3200), `None` when it fits. The exact size is only
    /// computed when a cheap upper bound does not already prove it small.
    pub fn oversize(&self) -> Option<usize> {
        let bound = self
            .iter()
            .map(|(k, v)| bound_of_str(k) + 1 + bound_of(v))
            .sum::<usize>()
            + self.len()
            + 1;
        if bound <= METADATA_MAX_BYTES {
            return None;
        }
        Some(json_size(&self.0)).filter(|size| *size > METADATA_MAX_BYTES)
    }
}

/// At least as long as the compact JSON of a string (every byte escaped as
/// `\uXXXX`, plus the quotes).
fn bound_of_str(text: &str) -> usize {
    text.len() * 6 + 2
}

/// At least as long as the compact JSON of `value`.
fn bound_of(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        // Exact (a Number may hold any number of digits with serde_json's
        // arbitrary_precision feature).
        Value::Number(number) => number.to_string().len(),
        Value::String(text) => bound_of_str(text),
        Value::Array(items) => items.iter().map(|v| bound_of(v) + 1).sum::<usize>() + 2,
        Value::Object(map) => {
            map.iter()
                .map(|(k, v)| bound_of_str(k) + 2 + bound_of(v))
                .sum::<usize>()
                + 2
        }
    }
}

/// The length of `value` serialised as compact JSON, without building it.
fn json_size(value: &impl serde::Serialize) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn printable_names_pass_and_invisible_characters_do_not() {
        for ok in [
            "MARSHALL HU",
            "Zoë O'Brien-Smith",
            "李小龍",
            "José Ñúñez",
            "A",
        ] {
            assert_eq!(unprintable(ok), None, "{ok:?}");
        }
        for (bad, at) in [
            ("A\nB", 1),
            ("\u{7}BELL", 0),
            ("ZERO\u{200B}WIDTH", 4),
            ("JOIN\u{200D}ER", 4),
            ("\u{202E}REVERSED", 0),
            ("SOFT\u{AD}HYPHEN", 4),
            ("BOM\u{FEFF}", 3),
            ("LINE\u{2028}SEP", 4),
            ("TAG\u{E0041}", 3),
            ("PRIVATE\u{E000}", 7),
            ("UNASSIGNED\u{0378}", 10),
        ] {
            assert_eq!(unprintable(bad).map(|(i, _)| i), Some(at), "{bad:?}");
        }
        assert_eq!(
            unprintable_reason(4, '\u{200B}'),
            "must contain printable characters only, got U+200B at position 4"
        );
    }

    #[test]
    fn the_size_bound_is_never_below_the_size() {
        let values = [
            json!(null),
            json!(true),
            json!(-12345678901234567i64),
            json!(1.5e300),
            json!(u64::MAX),
            json!("plain"),
            json!("\u{0}\u{1f}\"\\é😀"),
            json!([1, "two", [null, {"k": false}]]),
            json!({"a": {"b": {"c": ["\n", 2.25]}}, "": ""}),
        ];
        for value in values {
            let exact = serde_json::to_string(&value).unwrap().len();
            assert!(
                bound_of(&value) >= exact,
                "{value}: {} < {exact}",
                bound_of(&value)
            );
            assert_eq!(json_size(&value), exact);
        }
    }

    #[test]
    fn metadata_of_3200_bytes_fits_and_3201_does_not() {
        let fits = |filler: usize| {
            let value = "v".repeat(filler);
            Metadata(json!({"k": value}).as_object().unwrap().clone()).oversize()
        };
        let at_limit = METADATA_MAX_BYTES - r#"{"k":""}"#.len();
        assert_eq!(fits(at_limit), None);
        assert_eq!(fits(at_limit + 1), Some(METADATA_MAX_BYTES + 1));
        assert_eq!(fits(10), None);
    }
}
