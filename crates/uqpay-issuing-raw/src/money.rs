//! Exact, non-negative decimal money.
//!
//! The API writes amounts as JSON numbers (`2100.02`), and some endpoints as
//! strings (`"2100.02"`). Going through `f64` would let a binary float decide
//! the last digit of somebody's card limit, so [`Amount`] never does: it
//! serialises the decimal's own digits as the JSON number token and reads the
//! token's text back into a [`Decimal`].
//!
//! # The grammar of amounts
//!
//! One grammar, from the spec, for every amount read anywhere (the
//! simulator's requests, the SDK's responses and webhooks):
//!
//! - [`Amount`] (the request schema's `Amount`, `type: number, minimum:
//!   0`): a JSON number (RFC 8259: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`),
//!   not negative; never a string.
//! - [`Money`] (the spec's `Money`, as UQPay reports amounts): a JSON number,
//!   or a string matching the spec's `^-?[0-9]+(\.[0-9]+)?$` exactly.
//!
//! So `"1_000"`, `" 12 "`, `"+5"`, `".5"`, `"5."`, `"1e2"` (as a string),
//! `"2000USD"` and the empty string are refused, wherever they come from.
//! Parsing text with [`FromStr`] follows the same grammar (a number's, or
//! for [`Money`] also the string form's).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// An amount of money: an exact decimal, never negative.
///
/// Serialise it (and the request types holding it) with
/// `serde_json::to_string` / `to_vec` / `to_writer`, which keep every digit.
/// `serde_json::to_value` builds a `Value`, whose numbers are `f64` unless
/// serde_json's `arbitrary_precision` feature is on: it would round.
///
/// ```
/// use std::str::FromStr;
/// use uqpay_issuing_raw::money::Amount;
///
/// let limit = Amount::from_str("2100.02").unwrap();
/// assert_eq!(serde_json::to_string(&limit).unwrap(), "2100.02");
/// assert!(Amount::from_str("-0.01").is_err());
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(Decimal);

/// Why a value is not an [`Amount`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AmountError {
    /// The value is below zero.
    Negative(Decimal),
    /// The text is not a decimal number.
    NotANumber(String),
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Negative(value) => write!(f, "must be >= 0, got {value}"),
            Self::NotANumber(text) => {
                write!(f, "must be a decimal number, got {text:?}")
            }
        }
    }
}

impl std::error::Error for AmountError {}

impl Amount {
    /// Zero.
    pub const ZERO: Self = Self(Decimal::ZERO);

    /// An amount of `value`; refuses negative values. `-0` becomes `0`.
    pub fn new(value: Decimal) -> Result<Self, AmountError> {
        if value.is_zero() {
            // `-0.00` becomes `0.00`: same scale, no sign.
            let mut zero = Decimal::ZERO;
            zero.rescale(value.scale());
            Ok(Self(zero))
        } else if value.is_sign_negative() {
            Err(AmountError::Negative(value))
        } else {
            Ok(Self(value))
        }
    }

    /// The decimal value.
    pub fn get(self) -> Decimal {
        self.0
    }
}

impl TryFrom<Decimal> for Amount {
    type Error = AmountError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Amount> for Decimal {
    fn from(value: Amount) -> Self {
        value.0
    }
}

impl FromStr for Amount {
    type Err = AmountError;

    /// Parses a JSON number's text: decimal (`2100.02`) or scientific
    /// (`1e2`) notation, nothing around it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !is_json_number(text) {
            return Err(AmountError::NotANumber(text.to_owned()));
        }
        Self::new(parse_number(text)?)
    }
}

/// Whether `text` is a JSON number (RFC 8259, section 6).
pub fn is_json_number(text: &str) -> bool {
    let mut bytes = text.as_bytes();
    let digits = |bytes: &mut &[u8]| {
        let n = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        *bytes = &bytes[n..];
        n
    };
    if let [b'-', rest @ ..] = bytes {
        bytes = rest;
    }
    match bytes {
        [b'0', rest @ ..] => bytes = rest,
        [b'1'..=b'9', ..] => {
            digits(&mut bytes);
        }
        _ => return false,
    }
    if let [b'.', rest @ ..] = bytes {
        bytes = rest;
        if digits(&mut bytes) == 0 {
            return false;
        }
    }
    if let [b'e' | b'E', rest @ ..] = bytes {
        bytes = rest;
        if let [b'+' | b'-', rest @ ..] = bytes {
            bytes = rest;
        }
        if digits(&mut bytes) == 0 {
            return false;
        }
    }
    bytes.is_empty()
}

/// Whether `text` is an amount in UQPay's string form, the spec's
/// `^-?[0-9]+(\.[0-9]+)?$`.
pub fn is_decimal_text(text: &str) -> bool {
    let text = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && fraction.is_none_or(all_digits)
}

/// The exact value of text already checked by [`is_json_number`] or
/// [`is_decimal_text`] (too many digits for a [`Decimal`] is an error).
fn parse_number(text: &str) -> Result<Decimal, AmountError> {
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text)
    };
    parsed.map_err(|_| AmountError::NotANumber(text.to_owned()))
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The decimal's digits as `Decimal`'s `Display` writes them (`-` sign,
/// integer part, and `scale` fraction digits), written into a buffer on the
/// stack: amounts are serialised on every call.
struct Digits {
    buffer: [u8; 32],
    at: usize,
}

impl Digits {
    fn of(value: Decimal) -> Self {
        // 29 digits at most, a sign, a point and a leading zero.
        let mut buffer = [0u8; 32];
        let mut at = buffer.len();
        // Money fits in 64 bits; beyond, `Display` (which writes the same
        // digits) is fast enough for amounts nobody has.
        let Ok(mut mantissa) = u64::try_from(value.mantissa().unsigned_abs()) else {
            let text = value.to_string();
            at -= text.len();
            buffer[at..].copy_from_slice(text.as_bytes());
            return Self { buffer, at };
        };
        let scale = value.scale() as usize;
        let mut written = 0;
        while mantissa > 0 || written <= scale {
            if written == scale && scale > 0 {
                at -= 1;
                buffer[at] = b'.';
            }
            at -= 1;
            buffer[at] = b'0' + (mantissa % 10) as u8;
            mantissa /= 10;
            written += 1;
        }
        if value.is_sign_negative() && !value.is_zero() {
            at -= 1;
            buffer[at] = b'-';
        }
        Self { buffer, at }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buffer[self.at..]).expect("ASCII digits")
    }
}

#[cfg(test)]
fn digits(value: Decimal) -> String {
    Digits::of(value).as_str().to_owned()
}

/// A JSON number token written as it is.
///
/// This is serde_json's own protocol for `RawValue` (a one-field struct
/// named `$serde_json::private::RawValue`), without `RawValue`'s allocation
/// and re-parsing of text we wrote ourselves. Every serializer treats it
/// exactly as it treats a `RawValue`. It is checked once against
/// serde_json before use ([`raw_tokens_work`]); if serde_json ever stopped
/// honouring it, amounts would go through `RawValue` instead.
struct RawNumber<'a>(&'a str);

/// serde_json's `RawValue` marker (`serde_json::raw::TOKEN`).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl Serialize for RawNumber<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut raw = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, self.0)?;
        raw.end()
    }
}

/// Whether serde_json writes a [`RawNumber`] as the bare token (checked once).
fn raw_tokens_work() -> bool {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WORKS.get_or_init(|| {
        serde_json::to_string(&RawNumber("0.01")).ok().as_deref() == Some("0.01")
            && serde_json::to_value(RawNumber("0.01")).is_ok_and(|v| v.as_f64() == Some(0.01))
    })
}

/// Serialises `value`'s exact digits as a JSON number token.
fn serialize_exact<S: Serializer>(value: Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    let digits = Digits::of(value);
    if raw_tokens_work() {
        return RawNumber(digits.as_str()).serialize(serializer);
    }
    let token = RawValue::from_string(digits.as_str().to_owned())
        .map_err(|e| serde::ser::Error::custom(format!("amount {value}: {e}")))?;
    token.serialize(serializer)
}

impl Serialize for Amount {
    /// Writes the decimal's digits as a JSON number token, unrounded.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Whole amounts written as integers are exact and cheap.
        if self.0.scale() == 0 {
            if let Ok(whole) = u64::try_from(self.0.mantissa()) {
                return serializer.serialize_u64(whole);
            }
        }
        serialize_exact(self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for Amount {
    /// Reads a JSON number token exactly (never a string: the spec's
    /// `Amount` is `type: number`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let token = raw.get();
        if !is_json_number(token) {
            return Err(D::Error::custom(format!(
                "expected a non-negative JSON number, got {}",
                describe(token)
            )));
        }
        token.parse().map_err(D::Error::custom)
    }
}

/// What a JSON token that is not the number asked for is, for messages.
fn describe(token: &str) -> String {
    if token.starts_with('"') {
        format!("the string {token}")
    } else {
        token.to_owned()
    }
}

impl schemars::JsonSchema for Amount {
    fn schema_name() -> String {
        "Amount".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::Number.into()),
            number: Some(Box::new(schemars::schema::NumberValidation {
                minimum: Some(0.0),
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn serialises_the_exact_digits() {
        for (value, wire) in [
            (dec!(2100.02), "2100.02"),
            (dec!(100), "100"),
            (dec!(100.00), "100.00"),
            (dec!(0.1), "0.1"),
            (
                dec!(79228162514264337593543950335),
                "79228162514264337593543950335",
            ),
        ] {
            let amount = Amount::new(value).unwrap();
            assert_eq!(serde_json::to_string(&amount).unwrap(), wire);
            let back: Amount = serde_json::from_str(wire).unwrap();
            assert_eq!(back.get(), value);
            assert_eq!(back.get().scale(), value.scale());
        }
    }

    #[test]
    fn reads_numbers_without_float_rounding_and_never_strings() {
        // 0.1 + 0.2 style values and more digits than an f64 holds.
        let back: Amount = serde_json::from_str("12345678901234567.89").unwrap();
        assert_eq!(back.get(), dec!(12345678901234567.89));
        let back: Amount = serde_json::from_str("1e2").unwrap();
        assert_eq!(back.get(), dec!(100));
        // The spec's Amount is `type: number`.
        let error = serde_json::from_str::<Amount>("\"100.03\"").unwrap_err();
        assert!(error.to_string().contains("the string"), "{error}");
    }

    #[test]
    fn the_grammar_refuses_what_the_spec_refuses() {
        for text in [
            "1_000", " 12 ", "12 ", "+5", ".5", "5.", "", "-", "01", "1e", "1e+", "0x10", "١٢",
        ] {
            assert!(text.parse::<Amount>().is_err(), "{text:?}");
            assert!(!is_json_number(text), "{text:?}");
        }
        for text in ["0", "0.5", "12", "1e2", "1E-2", "2100.02", "-0"] {
            assert!(is_json_number(text), "{text:?}");
        }
        for text in [
            "1_000", " 12 ", "+5", ".5", "5.", "", "-", "1e2", "2000USD", "1,000",
        ] {
            assert!(!is_decimal_text(text), "{text:?}");
            let quoted = format!("{text:?}");
            assert!(serde_json::from_str::<Money>(&quoted).is_err(), "{quoted}");
        }
        for text in ["0", "007", "-12.50", "1000", "2100.02"] {
            assert!(is_decimal_text(text), "{text:?}");
        }
    }

    #[test]
    fn refuses_negatives_and_non_numbers() {
        assert_eq!(
            Amount::new(dec!(-0.01)),
            Err(AmountError::Negative(dec!(-0.01)))
        );
        assert!(serde_json::from_str::<Amount>("-0.01").is_err());
        assert!(serde_json::from_str::<Amount>("\"abc\"").is_err());
        assert!(serde_json::from_str::<Amount>("true").is_err());
        assert!(serde_json::from_str::<Amount>("null").is_err());
        assert!("NaN".parse::<Amount>().is_err());
        assert!("inf".parse::<Amount>().is_err());
    }

    #[test]
    fn digits_are_what_display_writes() {
        let mut values = vec![
            Decimal::ZERO,
            dec!(0.00),
            dec!(0.1),
            dec!(0.001),
            dec!(1),
            dec!(10),
            dec!(100.00),
            dec!(2100.02),
            dec!(-2100.02),
            dec!(-0.5),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(1, 28),
            Decimal::new(-1, 28),
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mantissa = i64::from_ne_bytes(state.to_ne_bytes());
            values.push(Decimal::new(mantissa, (state % 29) as u32));
        }
        for value in values {
            assert_eq!(digits(value), value.to_string(), "{value:?}");
        }
    }

    #[test]
    fn raw_tokens_are_honoured_by_serde_json() {
        assert!(raw_tokens_work());
        // Exact through a `Value` too (serde_json's `raw_value` feature).
        let amount = Amount::new(dec!(2100.02)).unwrap();
        let in_value = serde_json::to_value(serde_json::json!({ "a": amount })).unwrap();
        assert_eq!(in_value.to_string(), r#"{"a":2100.02}"#);
        let in_array = serde_json::to_string(&[amount, Amount::new(dec!(0.10)).unwrap()]).unwrap();
        assert_eq!(in_array, "[2100.02,0.10]");
    }

    #[test]
    fn negative_zero_is_zero() {
        let zero = Amount::new(dec!(-0.00)).unwrap();
        assert!(!zero.get().is_sign_negative());
        assert_eq!(serde_json::to_string(&zero).unwrap(), "0.00");
    }
}

/// An amount of money as UQPay reports it: exact, possibly negative (a
/// balance), read from a JSON number (`2100.02`) or a string holding one
/// (`"2100.02"`), never through a binary float. It is written back in the
/// form it came in (a number or a string), so a payload round-trips.
///
/// ```
/// use uqpay_issuing_raw::money::Money;
/// use rust_decimal::Decimal;
///
/// let from_number: Money = serde_json::from_str("2100.02").unwrap();
/// let from_text: Money = serde_json::from_str("\"2100.02\"").unwrap();
/// assert_eq!(from_number, from_text);
/// assert_eq!(from_text.get(), Decimal::new(210002, 2));
/// assert_eq!(serde_json::to_string(&from_text).unwrap(), "\"2100.02\"");
/// ```
#[derive(Clone, Copy, Default)]
pub struct Money {
    value: Decimal,
    as_text: bool,
}

impl Money {
    /// `value`, written as a JSON number.
    pub fn number(value: Decimal) -> Self {
        Self {
            value,
            as_text: false,
        }
    }

    /// `value`, written as a JSON string (as UQPay's v1.6 webhooks do).
    pub fn text(value: Decimal) -> Self {
        Self {
            value,
            as_text: true,
        }
    }

    /// The decimal value.
    pub fn get(self) -> Decimal {
        self.value
    }
}

impl PartialEq for Money {
    /// The same amount, whichever form it came in.
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Money {}

impl From<Money> for Decimal {
    fn from(value: Money) -> Self {
        value.value
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}

impl FromStr for Money {
    type Err = AmountError;

    /// Parses a JSON number's text, or UQPay's string form
    /// (`^-?[0-9]+(\.[0-9]+)?$`), signed, nothing around it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !(is_json_number(text) || is_decimal_text(text)) {
            return Err(AmountError::NotANumber(text.to_owned()));
        }
        parse_number(text).map(Self::number)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.as_text {
            return serializer.serialize_str(Digits::of(self.value).as_str());
        }
        serialize_exact(self.value, serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let token = raw.get();
        if token.starts_with('"') {
            let text = serde_json::from_str::<String>(token).map_err(D::Error::custom)?;
            if !is_decimal_text(&text) {
                return Err(D::Error::custom(format!(
                    "expected an amount (a number, or a string of digits with an optional \
                     sign and decimal part), got {token}"
                )));
            }
            return parse_number(&text)
                .map(Self::text)
                .map_err(D::Error::custom);
        }
        if is_json_number(token) {
            return parse_number(token)
                .map(Self::number)
                .map_err(D::Error::custom);
        }
        Err(D::Error::custom(format!(
            "expected an amount (a number or a numeric string), got {token}"
        )))
    }
}

impl schemars::JsonSchema for Money {
    fn schema_name() -> String {
        "Money".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        use schemars::schema::{InstanceType, SchemaObject, SingleOrVec};
        SchemaObject {
            instance_type: Some(SingleOrVec::Vec(vec![
                InstanceType::Number,
                InstanceType::String,
            ])),
            ..Default::default()
        }
        .into()
    }
}

#[cfg(test)]
mod money_tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn reads_both_forms_exactly_and_writes_them_back() {
        for (wire, value) in [
            ("2100.02", dec!(2100.02)),
            ("\"1000\"", dec!(1000)),
            ("\"-12.50\"", dec!(-12.50)),
            ("12345678901234567.89", dec!(12345678901234567.89)),
            ("\"12345678901234567.89\"", dec!(12345678901234567.89)),
        ] {
            let money: Money = serde_json::from_str(wire).unwrap();
            assert_eq!(money.get(), value, "{wire}");
            assert_eq!(money.get().scale(), value.scale(), "{wire}");
            assert_eq!(serde_json::to_string(&money).unwrap(), wire);
        }
        for bad in ["\"\"", "\"2000USD\"", "true", "null", "{}"] {
            assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad}");
        }
    }
}
