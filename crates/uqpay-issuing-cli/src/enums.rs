//! The values the spec's enums accept, read from the generated types
//! themselves (their JSON Schema, which typify derives from the spec), so a
//! value added to the spec shows in `--help` and is accepted after
//! `cargo xtask codegen`, with nothing written here by hand.

use std::str::FromStr;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use schemars::schema::{Schema, SchemaObject};
use schemars::JsonSchema;

/// Every value `T` accepts on the wire, in the spec's order.
pub fn values<T: JsonSchema>() -> Vec<String> {
    let root = schemars::schema_for!(T);
    let mut out = Vec::new();
    collect(&root.schema, &mut out);
    out
}

fn collect(schema: &SchemaObject, out: &mut Vec<String>) {
    for value in schema.enum_values.iter().flatten() {
        if let Some(text) = value.as_str() {
            out.push(text.to_owned());
        }
    }
    if let Some(text) = schema.const_value.as_ref().and_then(|v| v.as_str()) {
        out.push(text.to_owned());
    }
    if let Some(sub) = &schema.subschemas {
        for list in [&sub.one_of, &sub.any_of].into_iter().flatten() {
            for item in list {
                if let Schema::Object(object) = item {
                    collect(object, out);
                }
            }
        }
    }
}

/// A clap parser that accepts exactly `T`'s values (listed in `--help` and
/// in completions) and yields a `T`.
pub fn parser<T>() -> impl TypedValueParser<Value = T>
where
    T: JsonSchema + FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Display,
{
    PossibleValuesParser::new(values::<T>())
        .try_map(|text| text.parse::<T>().map_err(|e| format!("{text:?}: {e}")))
}

/// `values::<T>()` joined for a message: `SINGLE, SHARE`.
pub fn listed<T: JsonSchema>() -> String {
    values::<T>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use uqpay_issuing::raw::types::YesNo;
    use uqpay_issuing::{CardMode, CardStatus, SpendingInterval};

    /// Every listed value parses into its type, and prints back as itself.
    fn round_trip<T>()
    where
        T: JsonSchema + FromStr + std::fmt::Display,
        T::Err: std::fmt::Debug,
    {
        let values = values::<T>();
        assert!(!values.is_empty());
        for value in values {
            assert_eq!(value.parse::<T>().unwrap().to_string(), value);
        }
    }

    #[test]
    fn the_generated_enums_list_their_values() {
        assert_eq!(values::<CardMode>(), ["SINGLE", "SHARE"]);
        assert!(values::<CardStatus>().contains(&"FROZEN".to_owned()));
        assert!(values::<SpendingInterval>().contains(&"PER_TRANSACTION".to_owned()));
        round_trip::<CardMode>();
        round_trip::<CardStatus>();
        round_trip::<SpendingInterval>();
        round_trip::<YesNo>();
    }
}
