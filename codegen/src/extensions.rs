//! The spec's extensions and the code generated from them: `x-max-bytes`
//! and `x-printable` (the `constraints` module), `x-webhooks` (the
//! `events` module), the generator's own fast types (the `fast` module:
//! simple patterns and open enums), and `x-docs-deviation` (read by
//! `docs-check`, never by the generator).

use quote::quote;

use crate::error::Error;

/// The items of the `constraints` file (a generated file of its own, so
/// that the hand-written types the generated code uses can read the limits
/// without a circle): every documented limit of a component schema
/// as a constant, so that the hand-written layers (the ergonomic client's
/// validation, the simulator) read their limits from the spec instead of
/// writing them down a second time.
///
/// For a schema `NameOnCard` with `maxLength: 26` this emits
/// `pub const NAME_ON_CARD_MAX_LENGTH: usize = 26;`; likewise `_MIN_LENGTH`,
/// `_PATTERN` (`&str`), `_MINIMUM` (`&str`, the decimal text) and, from the
/// extensions, `_MAX_BYTES` (`x-max-bytes`) and `_PRINTABLE` (`x-printable`).
pub fn constraints(spec: &openapiv3::OpenAPI) -> proc_macro2::TokenStream {
    use openapiv3::{ReferenceOr, SchemaKind, Type};

    let mut items = Vec::new();
    let schemas = spec.components.iter().flat_map(|c| c.schemas.iter());
    for (name, schema) in schemas {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        let prefix = screaming_snake(name);
        let mut push = |suffix: &str, doc: String, value: proc_macro2::TokenStream, ty| {
            let ident = quote::format_ident!("{prefix}_{suffix}");
            items.push(quote! {
                #[doc = #doc]
                pub const #ident: #ty = #value;
            });
        };
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) => {
                if let Some(max) = string.max_length {
                    let doc = format!("`{name}`: at most {max} characters (`maxLength`).");
                    push("MAX_LENGTH", doc, usize_literal(max), quote!(usize));
                }
                if let Some(min) = string.min_length {
                    let doc = format!("`{name}`: at least {min} characters (`minLength`).");
                    push("MIN_LENGTH", doc, usize_literal(min), quote!(usize));
                }
                if let Some(pattern) = &string.pattern {
                    let doc = format!("`{name}`: the regular expression it matches (`pattern`).");
                    push("PATTERN", doc, quote!(#pattern), quote!(&str));
                }
            }
            SchemaKind::Type(Type::Number(number)) => {
                if let Some(min) = number.minimum {
                    let text = min.to_string();
                    let doc = format!("`{name}`: the smallest value allowed (`minimum`).");
                    push("MINIMUM", doc, quote!(#text), quote!(&str));
                }
            }
            _ => {}
        }
        if schema.schema_data.extensions.get("x-printable") == Some(&serde_json::Value::Bool(true))
        {
            let doc = format!(
                "`{name}`: printable characters only (`x-printable`; checked by `rules::unprintable`)."
            );
            push("PRINTABLE", doc, quote!(true), quote!(bool));
        }
        if let Some(max) = schema.schema_data.extensions.get("x-max-bytes") {
            if let Some(max) = max.as_u64() {
                let doc =
                    format!("`{name}`: at most {max} bytes of serialised JSON (`x-max-bytes`).");
                push("MAX_BYTES", doc, usize_literal(max as usize), quote!(usize));
            }
        }
    }
    quote! {
        #(#items)*
    }
}

/// The `events` module, from the spec's top-level `x-webhooks` extension (a
/// map of event type to the component schema of its `data`): an
/// `EventData` enum with one variant per schema (named after it, less a
/// `Data` suffix) plus `Unknown(serde_json::Value)`, and the function that
/// parses an event's data by its type.
pub fn events(spec: &openapiv3::OpenAPI) -> Result<proc_macro2::TokenStream, Error> {
    let Some(map) = spec.extensions.get("x-webhooks") else {
        return Ok(proc_macro2::TokenStream::new());
    };
    let map = map
        .as_object()
        .ok_or_else(|| Error::Webhooks("must be a map of event type to schema name".into()))?;
    let schemas = spec.components.as_ref().map(|c| &c.schemas);
    // Schemas in order of first appearance, each with its event types.
    let mut variants: Vec<(String, Vec<String>)> = Vec::new();
    for (event_type, schema) in map {
        let schema = schema
            .as_str()
            .ok_or_else(|| Error::Webhooks(format!("{event_type}: the schema must be a name")))?;
        if !schemas.is_some_and(|s| s.contains_key(schema)) {
            return Err(Error::Webhooks(format!(
                "{event_type}: no component schema {schema}"
            )));
        }
        match variants.iter_mut().find(|(name, _)| name == schema) {
            Some((_, types)) => types.push(event_type.clone()),
            None => variants.push((schema.to_owned(), vec![event_type.clone()])),
        }
    }
    let table = map.iter().map(|(event_type, schema)| {
        let schema = schema.as_str().unwrap_or_default();
        quote! { (#event_type, #schema) }
    });
    let mut enum_variants = Vec::new();
    let mut arms = Vec::new();
    for (schema, types) in &variants {
        let variant = quote::format_ident!("{}", schema.strip_suffix("Data").unwrap_or(schema));
        let ty = quote::format_ident!("{schema}");
        let doc = format!("The data of {}.", types.join(", "));
        enum_variants.push(quote! {
            #[doc = #doc]
            #variant(super::types::#ty)
        });
        arms.push(quote! {
            #(#types)|* => <super::types::#ty as ::serde::Deserialize>::deserialize(deserializer).map(Self::#variant)
        });
    }
    Ok(quote! {
        /// The webhook events the spec names (its `x-webhooks` map), with
        /// their typed data.
        pub mod events {
            /// Each event type the spec names, with the schema of its `data`.
            pub const EVENT_TYPES: &[(&str, &str)] = &[#(#table),*];

            /// The `data` of an event: typed for the event types the spec
            /// names, the JSON as sent for any other.
            #[derive(Clone, Debug, PartialEq)]
            pub enum EventData {
                #(#enum_variants,)*
                /// An event type this version does not know: its `data` as sent.
                Unknown(::serde_json::Value),
            }

            impl EventData {
                /// Parses `data` (the JSON text of the event's `data`) as
                /// the data of `event_type`.
                pub fn from_json(event_type: &str, data: &str) -> ::std::result::Result<Self, ::serde_json::Error> {
                    let mut deserializer = ::serde_json::Deserializer::from_str(data);
                    let parsed = Self::deserialize_as(event_type, &mut deserializer)?;
                    deserializer.end()?;
                    Ok(parsed)
                }

                /// Deserializes the data of `event_type` from `deserializer`
                /// (for example the value of an envelope's `data` field,
                /// parsed in the same pass as the envelope).
                pub fn deserialize_as<'de, D>(event_type: &str, deserializer: D) -> ::std::result::Result<Self, D::Error>
                where
                    D: ::serde::Deserializer<'de>,
                {
                    match event_type {
                        #(#arms,)*
                        _ => <::serde_json::Value as ::serde::Deserialize>::deserialize(deserializer).map(Self::Unknown),
                    }
                }
            }
        }
    })
}

/// The generator's own types (see the crate docs), and the schema names
/// they replace.
pub struct FastTypes {
    /// The types, to go into the `types` module beside typify's (which
    /// they use, and which use them).
    pub items: proc_macro2::TokenStream,
    /// The `fast` module: the same types under the path they had when they
    /// were a module of their own (`uqpay_issuing_raw::fast::...`).
    pub tokens: proc_macro2::TokenStream,
    /// Each replaced schema's name.
    pub replacements: Vec<String>,
}

/// The inclusive character ranges of a class, and its repetition bounds.
type SimplePattern = (Vec<(char, char)>, usize, Option<usize>);

/// A pattern of the form `^[CLASS]{n}$`, `^[CLASS]{n,m}$`, `^[CLASS]+$` or
/// `^[CLASS]*$` (CLASS: characters and ranges, no negation, no escapes).
fn simple_pattern(pattern: &str) -> Option<SimplePattern> {
    let body = pattern.strip_prefix("^[")?.strip_suffix('$')?;
    let (class, quantifier) = body.split_once(']')?;
    let chars: Vec<char> = class.chars().collect();
    if chars.is_empty() || chars.iter().any(|c| matches!(c, '^' | '\\' | '[' | ']')) {
        return None;
    }
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' {
            if chars[i] > chars[i + 2] {
                return None;
            }
            ranges.push((chars[i], chars[i + 2]));
            i += 3;
        } else {
            ranges.push((chars[i], chars[i]));
            i += 1;
        }
    }
    let (min, max) = match quantifier {
        "+" => (1, None),
        "*" => (0, None),
        q => {
            let inner = q.strip_prefix('{')?.strip_suffix('}')?;
            match inner.split_once(',') {
                None => {
                    let n = inner.parse().ok()?;
                    (n, Some(n))
                }
                Some((n, m)) => (n.parse().ok()?, Some(m.parse().ok()?)),
            }
        }
    };
    Some((ranges, min, max))
}

/// The schemas that get a fast type, and the types.
pub fn fast_types(spec: &openapiv3::OpenAPI) -> FastTypes {
    use openapiv3::{ReferenceOr, SchemaKind, Type};
    let mut tokens = Vec::new();
    let mut replacements = Vec::new();
    let schemas = spec.components.iter().flat_map(|c| c.schemas.iter());
    for (name, schema) in schemas {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        let ident = quote::format_ident!("{name}");
        let doc = schema.schema_data.description.clone().unwrap_or_default();
        match &schema.schema_kind {
            SchemaKind::Type(Type::String(string)) if string.enumeration.is_empty() => {
                let Some(pattern) = &string.pattern else {
                    continue;
                };
                let Some((ranges, min, max)) = simple_pattern(pattern) else {
                    continue;
                };
                let min = min.max(string.min_length.unwrap_or(0));
                let max = match (max, string.max_length) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                tokens.push(pattern_type(&ident, &doc, pattern, &ranges, min, max));
                replacements.push(name.clone());
            }
            SchemaKind::OneOf { one_of } => {
                let Some(known) = open_enum_known(one_of) else {
                    continue;
                };
                let known = quote::format_ident!("{known}");
                tokens.push(open_enum_type(&ident, &doc, &known));
                replacements.push(name.clone());
            }
            _ => {}
        }
    }
    let names = replacements
        .iter()
        .map(|name| quote::format_ident!("{name}"));
    FastTypes {
        items: quote! {
            #(#tokens)*
        },
        tokens: quote! {
            /// The generator's own types where typify's are slow on every
            /// call (see `codegen/src/settings.rs`): compiled pattern checks
            /// and open enums. They live in `types`, beside typify's types
            /// (which they use, and which use them); here under the path
            /// they have always had.
            pub mod fast {
                pub use super::types::{#(#names),*};
            }
        },
        replacements,
    }
}

/// `oneOf: [{allOf: [$ref Known]}, {type: string, not: {enum: [...]}}]`:
/// the name of `Known`.
fn open_enum_known(one_of: &[openapiv3::ReferenceOr<openapiv3::Schema>]) -> Option<String> {
    use openapiv3::{ReferenceOr, SchemaKind, Type};
    let [ReferenceOr::Item(known), ReferenceOr::Item(other)] = one_of else {
        return None;
    };
    let SchemaKind::AllOf { all_of } = &known.schema_kind else {
        return None;
    };
    let [ReferenceOr::Reference { reference }] = &all_of[..] else {
        return None;
    };
    let is_other_string = matches!(&other.schema_kind, SchemaKind::Type(Type::String(_)))
        || matches!(&other.schema_kind, SchemaKind::Any(any) if any.typ.as_deref() == Some("string"));
    if !is_other_string {
        return None;
    }
    reference
        .strip_prefix("#/components/schemas/")
        .map(str::to_owned)
}

fn pattern_type(
    ident: &proc_macro2::Ident,
    doc: &str,
    pattern: &str,
    ranges: &[(char, char)],
    min: usize,
    max: Option<usize>,
) -> proc_macro2::TokenStream {
    let arms = ranges.iter().map(|(a, b)| quote! { #a..=#b });
    let ascii = ranges.iter().all(|(_, b)| b.is_ascii());
    // With an ASCII class, a matching text has as many bytes as characters.
    let count = if ascii {
        quote! { value.len() }
    } else {
        quote! { value.chars().count() }
    };
    let max_check = match max {
        Some(max) => quote! { && #count <= #max },
        None => quote! {},
    };
    let error = format!("doesn't match pattern \"{pattern}\" or its length limits");
    quote! {
        #[doc = #doc]
        #[derive(::serde::Serialize, Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
        #[serde(transparent)]
        pub struct #ident(::std::string::String);

        impl #ident {
            /// Whether `value` matches the schema's pattern and length limits.
            pub fn is_valid(value: &str) -> bool {
                value.chars().all(|c| matches!(c, #(#arms)|*)) && #count >= #min #max_check
            }
        }

        impl ::std::ops::Deref for #ident {
            type Target = ::std::string::String;
            fn deref(&self) -> &::std::string::String {
                &self.0
            }
        }

        impl ::std::convert::From<#ident> for ::std::string::String {
            fn from(value: #ident) -> Self {
                value.0
            }
        }

        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::convert::TryFrom<::std::string::String> for #ident {
            type Error = ConversionError;
            fn try_from(value: ::std::string::String) -> ::std::result::Result<Self, ConversionError> {
                if Self::is_valid(&value) {
                    Ok(Self(value))
                } else {
                    Err(#error.into())
                }
            }
        }

        impl ::std::convert::TryFrom<&str> for #ident {
            type Error = ConversionError;
            fn try_from(value: &str) -> ::std::result::Result<Self, ConversionError> {
                if Self::is_valid(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(#error.into())
                }
            }
        }

        impl ::std::str::FromStr for #ident {
            type Err = ConversionError;
            fn from_str(value: &str) -> ::std::result::Result<Self, ConversionError> {
                value.try_into()
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                Self::try_from(::std::string::String::deserialize(deserializer)?)
                    .map_err(|e| <D::Error as ::serde::de::Error>::custom(e.to_string()))
            }
        }

        impl ::schemars::JsonSchema for #ident {
            fn schema_name() -> ::std::string::String {
                stringify!(#ident).to_owned()
            }
            fn json_schema(_: &mut ::schemars::gen::SchemaGenerator) -> ::schemars::schema::Schema {
                ::schemars::schema::SchemaObject {
                    instance_type: Some(::schemars::schema::InstanceType::String.into()),
                    string: Some(Box::new(::schemars::schema::StringValidation {
                        pattern: Some(#pattern.to_owned()),
                        ..Default::default()
                    })),
                    ..Default::default()
                }
                .into()
            }
        }
    }
}

fn open_enum_type(
    ident: &proc_macro2::Ident,
    doc: &str,
    known: &proc_macro2::Ident,
) -> proc_macro2::TokenStream {
    // No derived equality: a documented status compares equal however it
    // is spelled (`Known(Active)` == `Unknown("active")`); the raw crate's
    // `status` module implements `PartialEq`, `Eq` and `Hash` that way.
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug)]
        pub enum #ident {
            /// A value the spec documents.
            Known(super::types::#known),
            /// A value added after the spec was written, as sent.
            Unknown(::std::string::String),
        }

        impl ::std::convert::From<super::types::#known> for #ident {
            fn from(value: super::types::#known) -> Self {
                Self::Known(value)
            }
        }

        impl ::std::convert::From<&str> for #ident {
            fn from(value: &str) -> Self {
                match value.parse() {
                    Ok(known) => Self::Known(known),
                    Err(_) => Self::Unknown(value.to_owned()),
                }
            }
        }

        impl ::std::str::FromStr for #ident {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok(value.into())
            }
        }

        impl ::serde::Serialize for #ident {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error> {
                match self {
                    Self::Known(known) => known.serialize(serializer),
                    Self::Unknown(other) => serializer.serialize_str(other),
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                struct Visitor;
                impl<'de> ::serde::de::Visitor<'de> for Visitor {
                    type Value = #ident;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: ::serde::de::Error>(self, value: &str) -> ::std::result::Result<#ident, E> {
                        Ok(value.into())
                    }
                    fn visit_string<E: ::serde::de::Error>(self, value: ::std::string::String) -> ::std::result::Result<#ident, E> {
                        Ok(match value.parse() {
                            Ok(known) => #ident::Known(known),
                            Err(_) => #ident::Unknown(value),
                        })
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }

        impl ::schemars::JsonSchema for #ident {
            fn schema_name() -> ::std::string::String {
                stringify!(#ident).to_owned()
            }
            fn json_schema(_: &mut ::schemars::gen::SchemaGenerator) -> ::schemars::schema::Schema {
                ::schemars::schema::SchemaObject {
                    instance_type: Some(::schemars::schema::InstanceType::String.into()),
                    ..Default::default()
                }
                .into()
            }
        }
    }
}

fn usize_literal(value: usize) -> proc_macro2::TokenStream {
    let literal = proc_macro2::Literal::usize_unsuffixed(value);
    quote!(#literal)
}

/// `NameOnCard` -> `NAME_ON_CARD`.
fn screaming_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_patterns_are_recognised_and_the_rest_left_to_regress() {
        assert_eq!(
            simple_pattern("^[0-9]{4}$"),
            Some((vec![('0', '9')], 4, Some(4)))
        );
        assert_eq!(
            simple_pattern("^[A-Za-z_]{1,26}$"),
            Some((vec![('A', 'Z'), ('a', 'z'), ('_', '_')], 1, Some(26)))
        );
        assert_eq!(
            simple_pattern("^[0-9]+$"),
            Some((vec![('0', '9')], 1, None))
        );
        for other in [
            "^-?[0-9]+(\\.[0-9]+)?$",
            "^[^0-9]{4}$",
            "[0-9]{4}",
            "^[0-9]{4}",
            "^[9-0]{4}$",
            "^[\\d]{4}$",
            "^[0-9]{a}$",
        ] {
            assert_eq!(simple_pattern(other), None, "{other}");
        }
    }
}
