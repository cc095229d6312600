//! Values that are secrets in UQPay's payloads.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A physical card's activation code (from the `card.activation.code`
/// webhook). `Debug` and `Display` never show it; [`ActivationCode::expose`]
/// does.
///
/// ```
/// let code: uqpay_issuing_raw::secret::ActivationCode = "57609685".parse().unwrap();
/// assert_eq!(format!("{code:?}"), "ActivationCode([REDACTED])");
/// assert_eq!(code.expose(), "57609685");
/// ```
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActivationCode(String);

impl ActivationCode {
    /// The code itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActivationCode([REDACTED])")
    }
}

impl fmt::Display for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl FromStr for ActivationCode {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl schemars::JsonSchema for ActivationCode {
    fn schema_name() -> String {
        "ActivationCode".to_owned()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        crate::schema::plain_string_schema()
    }
}
