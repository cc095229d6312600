//! The spec's schemas as JSON Schema (2020-12), and the validation of the
//! pages' examples against them.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::{Map, Value};

/// Keywords of OpenAPI's schema object that JSON Schema does not have (or
/// that only annotate).
const OPENAPI_ONLY: &[&str] = &[
    "nullable",
    "discriminator",
    "readOnly",
    "writeOnly",
    "xml",
    "externalDocs",
    "example",
    "deprecated",
];

/// Converts an OpenAPI 3.0 schema to JSON Schema: `$ref`s into
/// `#/components/schemas` point into `$defs`, `nullable: true` becomes a
/// type union with `null`, a boolean `exclusiveMinimum`/`exclusiveMaximum`
/// becomes the number form, OpenAPI-only keywords and `x-` extensions are
/// dropped.
pub fn to_json_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        let reference = match reference.strip_prefix("#/components/schemas/") {
            Some(name) => format!("#/$defs/{name}"),
            None => reference.to_owned(),
        };
        return serde_json::json!({ "$ref": reference });
    }
    let mut out = Map::new();
    for (key, value) in map {
        if key.starts_with("x-") || OPENAPI_ONLY.contains(&key.as_str()) {
            continue;
        }
        let converted = match key.as_str() {
            "properties" | "patternProperties" => Value::Object(
                value
                    .as_object()
                    .map(|props| {
                        props
                            .iter()
                            .map(|(name, s)| (name.clone(), to_json_schema(s)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            "items" | "not" | "additionalProperties" => to_json_schema(value),
            "allOf" | "oneOf" | "anyOf" => Value::Array(
                value
                    .as_array()
                    .map(|items| items.iter().map(to_json_schema).collect())
                    .unwrap_or_default(),
            ),
            "exclusiveMinimum" | "exclusiveMaximum" if value.is_boolean() => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if map.get(flag) == Some(&Value::Bool(true)) {
            if let Some(value) = out.remove(bound) {
                out.insert(flag.to_owned(), value);
            }
        }
    }
    if map.get("nullable") == Some(&Value::Bool(true)) {
        if let Some(Value::Array(values)) = out.get_mut("enum") {
            if !values.contains(&Value::Null) {
                values.push(Value::Null);
            }
        }
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), serde_json::json!([t, "null"]));
            }
            Some(_) => {}
            None => {
                return serde_json::json!({ "anyOf": [Value::Object(out), { "type": "null" }] });
            }
        }
    }
    Value::Object(out)
}

/// The spec's component schemas converted to JSON Schema, which every
/// schema validated refers to, and the validators built so far.
pub struct Schemas {
    defs: Value,
    /// A validator per schema (by its JSON text): a page that gives the same
    /// field's example a thousand times builds its validator once.
    validators: RefCell<HashMap<String, Rc<Result<jsonschema::Validator, String>>>>,
}

impl Schemas {
    /// The component schemas of `document` (an OpenAPI 3.0 document).
    pub fn new(document: &Value) -> Schemas {
        let mut defs = Map::new();
        if let Some(schemas) = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                defs.insert(name.clone(), to_json_schema(schema));
            }
        }
        Schemas {
            defs: Value::Object(defs),
            validators: RefCell::default(),
        }
    }

    /// The errors of validating `instance` against `schema` (an OpenAPI
    /// schema of this spec): (field path, message).
    pub fn validate(&self, schema: &Value, instance: &Value) -> Vec<(String, String)> {
        let key = schema.to_string();
        let cached = self.validators.borrow().get(&key).cloned();
        let validator = match cached {
            Some(validator) => validator,
            None => {
                let root = serde_json::json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "allOf": [to_json_schema(schema)],
                    "$defs": self.defs,
                });
                let built = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .map_err(|e| e.to_string());
                let built = Rc::new(built);
                self.validators.borrow_mut().insert(key, built.clone());
                built
            }
        };
        match validator.as_ref() {
            Ok(validator) => validator
                .iter_errors(instance)
                .map(|e| (field_path(e.instance_path().as_str()), e.to_string()))
                .collect(),
            Err(e) => vec![(String::new(), format!("the spec's schema is invalid: {e}"))],
        }
    }
}

/// `/risk_controls/blocked_mcc/0` -> `risk_controls.blocked_mcc[0]`.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_schemas_become_json_schema() {
        let converted = to_json_schema(&serde_json::json!({
            "type": "array",
            "nullable": true,
            "x-docs-deviation": {"type": "why"},
            "example": [1],
            "items": {"$ref": "#/components/schemas/Mcc", "x-docs-deviation": {"type": "why"}},
        }));
        assert_eq!(
            converted,
            serde_json::json!({"type": ["array", "null"], "items": {"$ref": "#/$defs/Mcc"}})
        );
        let converted = to_json_schema(
            &serde_json::json!({"type": "number", "minimum": 0, "exclusiveMinimum": true}),
        );
        assert_eq!(
            converted,
            serde_json::json!({"type": "number", "exclusiveMinimum": 0})
        );
        let converted =
            to_json_schema(&serde_json::json!({"oneOf": [{"type": "string"}], "nullable": true}));
        assert_eq!(
            converted,
            serde_json::json!({"anyOf": [{"oneOf": [{"type": "string"}]}, {"type": "null"}]})
        );
    }

    #[test]
    fn examples_are_validated_against_the_spec_s_schemas() {
        let schemas = Schemas::new(&serde_json::json!({"components": {"schemas": {
            "Mcc": {"type": "string", "pattern": "^[0-9]{4}$"},
        }}}));
        let schema = serde_json::json!({"type": "object", "properties": {
            "blocked_mcc": {"type": "array", "items": {"$ref": "#/components/schemas/Mcc"}},
        }});
        let good = serde_json::json!({"blocked_mcc": ["5999"]});
        let bad = serde_json::json!({"blocked_mcc": ["5999", "59990"]});
        assert_eq!(schemas.validate(&schema, &good), []);
        for _ in 0..2 {
            let errors = schemas.validate(&schema, &bad);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].0, "blocked_mcc[1]");
        }
        assert_eq!(schemas.validators.borrow().len(), 1);
        assert_eq!(
            field_path("/risk_controls/blocked_mcc/0"),
            "risk_controls.blocked_mcc[0]"
        );
    }
}
