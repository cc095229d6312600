//! The JSON Schema of the hand-written string types (`CardNumber`,
//! `ActivationCode`...), for their `JsonSchema` impls.

/// The JSON schema of a string with no further rule (the hand-written
/// string types' `JsonSchema`).
pub(crate) fn plain_string_schema() -> schemars::schema::Schema {
    schemars::schema::SchemaObject {
        instance_type: Some(schemars::schema::InstanceType::String.into()),
        ..Default::default()
    }
    .into()
}
