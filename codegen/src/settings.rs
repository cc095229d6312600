//! progenitor's settings for the raw crate: the positional interface, the
//! hooks, the extra derives, and the schemas mapped onto hand-written types
//! (see the crate's docs for the table).

use progenitor::{GenerationSettings, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use quote::quote;

use crate::extensions::fast_types;

/// The progenitor settings the raw crate is generated with (the spec
/// decides which schemas get the generator's own fast types).
pub fn settings(spec: &openapiv3::OpenAPI) -> GenerationSettings {
    let mut settings = GenerationSettings::new();
    for name in fast_types(spec).replacements {
        settings.with_replacement(
            name.as_str(),
            format!("crate::generated::types::{name}").as_str(),
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        );
    }
    settings
        // Positional: parameters as arguments, the body by reference (no
        // builder state converted back and forth, no body copied per
        // retry, a smaller future).
        .with_interface(InterfaceStyle::Positional)
        .with_tag(TagStyle::Merged)
        // The raw crate implements `ClientHooks` for `Client` by hand
        // (src/hooks.rs): it lets the ergonomic crate plug in its transport.
        .with_hooks(HooksMode::Expected)
        .with_inner_type(quote! { crate::hooks::Inner })
        .with_derive("PartialEq")
        .with_derive("schemars::JsonSchema")
        .with_replacement(
            "Amount",
            "crate::money::Amount",
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        )
        .with_replacement(
            "Money",
            "crate::money::Money",
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        )
        .with_replacement(
            "CardNumber",
            "crate::pan::CardNumber",
            [TypeImpl::FromStr].into_iter(),
        )
        .with_replacement(
            "MaskedCardNumber",
            "crate::pan::MaskedCardNumber",
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        )
        .with_replacement(
            "ActivationCode",
            "crate::secret::ActivationCode",
            [TypeImpl::FromStr].into_iter(),
        )
        .with_replacement(
            "Timestamp",
            "chrono::DateTime<chrono::FixedOffset>",
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        );
    settings
}
