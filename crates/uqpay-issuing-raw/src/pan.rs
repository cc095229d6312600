//! Card numbers (PANs) that do not leak.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A card number: 12 to 19 ASCII digits (no Luhn check: UQPay's own
/// documented example `4096360800133951` does not pass one).
///
/// `Debug` and `Display` show only the first 6 and last 4 digits
/// (`409636******3951`); the full number is only ever written by
/// `Serialize` (onto the wire) and by [`CardNumber::expose`].
///
/// ```
/// use uqpay_issuing_raw::pan::CardNumber;
///
/// let pan: CardNumber = "4096360800133951".parse().unwrap();
/// assert_eq!(format!("{pan}"), "409636******3951");
/// assert_eq!(format!("{pan:?}"), "CardNumber(409636******3951)");
/// assert_eq!(pan.expose(), "4096360800133951");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CardNumber(String);

/// The fewest digits a card number has (the spec's `CardNumber.minLength`).
pub const MIN_DIGITS: usize = crate::constraints::CARD_NUMBER_MIN_LENGTH;
/// The most digits a card number has (the spec's `CardNumber.maxLength`).
pub const MAX_DIGITS: usize = crate::constraints::CARD_NUMBER_MAX_LENGTH;

/// Why a text is not a [`CardNumber`]. Never contains the text itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardNumberError {
    /// Not 12 to 19 characters long.
    Length(usize),
    /// Contains a character that is not an ASCII digit.
    NotDigits,
}

impl fmt::Display for CardNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(n) => write!(
                f,
                "must be {MIN_DIGITS} to {MAX_DIGITS} digits, got {n} characters"
            ),
            Self::NotDigits => write!(f, "must contain only the digits 0-9"),
        }
    }
}

impl std::error::Error for CardNumberError {}

impl CardNumber {
    /// Validates `number`.
    pub fn new(number: impl Into<String>) -> Result<Self, CardNumberError> {
        let number = number.into();
        if !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardNumberError::NotDigits);
        }
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&number.len()) {
            return Err(CardNumberError::Length(number.chars().count()));
        }
        Ok(Self(number))
    }

    /// The full card number. Everything that prints it is PCI scope.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The number with all but its first 6 and last 4 digits masked.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks all but the first 6 and last 4 characters of `number` with `*`
/// (shorter texts are masked entirely but for their last 4 characters, and
/// texts of 4 characters or fewer entirely).
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        0..=4 => (0, 0),
        5..=10 => (0, 4),
        _ => (6, 4),
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
        .collect()
}

impl FromStr for CardNumber {
    type Err = CardNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for CardNumber {
    type Error = CardNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<&str> for CardNumber {
    type Error = CardNumberError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({})", self.masked())
    }
}

impl Serialize for CardNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CardNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(text).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for CardNumber {
    fn schema_name() -> String {
        "CardNumber".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            string: Some(Box::new(schemars::schema::StringValidation {
                min_length: Some(MIN_DIGITS as u32),
                max_length: Some(MAX_DIGITS as u32),
                pattern: Some(crate::constraints::CARD_NUMBER_PATTERN.to_owned()),
            })),
            ..Default::default()
        }
        .into()
    }
}

/// A card number as UQPay reports it, normally masked already
/// (`************5668`, `40963608****8664`). `Debug` and `Display` show it
/// as it came if it is masked, and masked to its first 6 and last 4 digits
/// if it is not (a full number must never be printed).
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MaskedCardNumber(String);

impl MaskedCardNumber {
    /// A reported card number.
    pub fn new(number: impl Into<String>) -> Self {
        Self(number.into())
    }

    /// The text as it came. It is masked when UQPay masks it; printing it
    /// yourself is your call.
    pub fn as_sent(&self) -> &str {
        &self.0
    }

    /// The last 4 characters (the digits every mask keeps).
    pub fn last4(&self) -> &str {
        let start = self.0.char_indices().rev().nth(3).map_or(0, |(i, _)| i);
        &self.0[start..]
    }

    /// What may be shown: the text if it is masked (no run of more than 10
    /// digits), else its mask.
    fn shown(&self) -> std::borrow::Cow<'_, str> {
        let longest_run = self
            .0
            .split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        if longest_run > 10 {
            std::borrow::Cow::Owned(mask(&self.0))
        } else {
            std::borrow::Cow::Borrowed(&self.0)
        }
    }
}

impl fmt::Display for MaskedCardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

impl fmt::Debug for MaskedCardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskedCardNumber({})", self.shown())
    }
}

impl FromStr for MaskedCardNumber {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl schemars::JsonSchema for MaskedCardNumber {
    fn schema_name() -> String {
        "MaskedCardNumber".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        crate::schema::plain_string_schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_but_six_and_four() {
        assert_eq!(mask("4096360800133951"), "409636******3951");
        assert_eq!(mask("409636080013"), "409636**0013");
        assert_eq!(mask("4096360800133951123"), "409636*********1123");
        assert_eq!(mask("12345"), "*2345");
        assert_eq!(mask("1234"), "****");
    }

    #[test]
    fn reported_numbers_print_masked_whatever_came() {
        let masked = MaskedCardNumber::new("40963608****8664");
        assert_eq!(masked.to_string(), "40963608****8664");
        assert_eq!(masked.last4(), "8664");
        let full = MaskedCardNumber::new("4096360800138664");
        assert_eq!(full.to_string(), "409636******8664");
        assert!(!format!("{full:?}").contains("4096360800138664"));
        assert_eq!(full.as_sent(), "4096360800138664");
    }

    #[test]
    fn boundaries() {
        assert!(CardNumber::new("1".repeat(11)).is_err());
        assert!(CardNumber::new("1".repeat(12)).is_ok());
        assert!(CardNumber::new("1".repeat(19)).is_ok());
        assert!(CardNumber::new("1".repeat(20)).is_err());
        assert_eq!(
            CardNumber::new("4096 3608 0013 3951"),
            Err(CardNumberError::NotDigits)
        );
        assert_eq!(
            CardNumber::new("٤٠٩٦٣٦٠٨٠٠١٣"),
            Err(CardNumberError::NotDigits)
        );
    }

    #[test]
    fn errors_and_debug_never_hold_the_number() {
        let pan = "4096360800133951";
        let card = CardNumber::new(pan).unwrap();
        assert!(!format!("{card:?}").contains(pan));
        assert!(!format!("{card}").contains(pan));
        let err = serde_json::from_str::<CardNumber>("\"40963608001339511234\"").unwrap_err();
        assert!(!err.to_string().contains("40963608001339511234"));
    }
}
