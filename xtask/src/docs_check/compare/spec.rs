//! The spec as `docs-check` reads it: the raw document (so that extensions
//! beside a `$ref`, which OpenAPI tools ignore, are seen), its
//! `x-docs-deviation`s, and its schemas for validation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::docs_check::compare::difference::Kind;
use crate::docs_check::compare::schema::Schemas;

/// The extension that acknowledges a difference.
pub const DEVIATION: &str = "x-docs-deviation";

/// Why the spec cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// Not YAML/JSON.
    #[error("the spec does not parse: {0}")]
    Parse(#[from] serde_yaml::Error),
    /// An `x-docs-deviation` that is not a map of kind to reason.
    #[error("{DEVIATION} at {at}: {message}")]
    Deviation {
        /// Where.
        at: String,
        /// What is wrong.
        message: String,
    },
}

/// Where a deviation is and what it acknowledges: the node's JSON pointer,
/// the kind, and for `missing-values` / `extra-values` the one enum value.
pub type Deviation = (String, Kind, Option<String>);

/// The spec as `docs-check` reads it: the raw document (so that extensions
/// beside a `$ref`, which OpenAPI tools ignore, are seen), its deviations,
/// and its component schemas converted to JSON Schema.
pub struct Spec {
    /// The document.
    pub document: Value,
    /// Every deviation -> its reason.
    pub deviations: BTreeMap<Deviation, String>,
    /// Its component schemas, for validating examples.
    pub schemas: Schemas,
}

impl Spec {
    /// Parses the spec's text (YAML or JSON).
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        let document: Value = serde_yaml::from_str(text)?;
        let mut deviations = BTreeMap::new();
        collect_deviations(&document, String::new(), &mut deviations)?;
        let schemas = Schemas::new(&document);
        Ok(Spec {
            document,
            deviations,
            schemas,
        })
    }

    /// Reads and parses the spec at `path`.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| SpecError::Read(path.to_path_buf(), e))?;
        Spec::parse(&text)
    }

    /// The node at a JSON pointer.
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.document.pointer(pointer)
    }

    /// The node a `$ref` names, with its pointer.
    pub fn target(&self, reference: &str) -> Option<(&Value, String)> {
        let pointer = reference.strip_prefix('#')?;
        self.get(pointer).map(|v| (v, pointer.to_owned()))
    }
}

fn collect_deviations(
    value: &Value,
    pointer: String,
    out: &mut BTreeMap<Deviation, String>,
) -> Result<(), SpecError> {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == DEVIATION {
                    let bad = |message: String| SpecError::Deviation {
                        at: pointer.clone(),
                        message,
                    };
                    let entries = child.as_object().ok_or_else(|| {
                        bad(format!(
                            "must be a map from the kind of difference it acknowledges ({}) to the reason",
                            Kind::ALL.map(Kind::key).join(", ")
                        ))
                    })?;
                    for (kind, reason) in entries {
                        let kind = Kind::from_key(kind).ok_or_else(|| {
                            bad(format!(
                                "unknown kind `{kind}` (one of {})",
                                Kind::ALL.map(Kind::key).join(", ")
                            ))
                        })?;
                        let text = |reason: &Value, what: &str| {
                            reason
                                .as_str()
                                .filter(|r| !r.trim().is_empty())
                                .map(|r| r.trim().to_owned())
                                .ok_or_else(|| {
                                    bad(format!("{what}: the reason must be a non-empty string"))
                                })
                        };
                        if kind.keyed() {
                            let values = reason.as_object().ok_or_else(|| {
                                bad(format!(
                                    "{}: must be a map from what it acknowledges (what the page says: \
                                     its type, `required` or `optional`, its length or range, `none`; \
                                     for enum values, each value) to the reason",
                                    kind.key()
                                ))
                            })?;
                            for (value, reason) in values {
                                let reason = text(reason, &format!("{} {value}", kind.key()))?;
                                out.insert((pointer.clone(), kind, Some(value.clone())), reason);
                            }
                        } else {
                            let reason = text(reason, kind.key())?;
                            out.insert((pointer.clone(), kind, None), reason);
                        }
                    }
                } else {
                    collect_deviations(child, format!("{pointer}/{}", escape(key)), out)?;
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_deviations(child, format!("{pointer}/{i}"), out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A key as a JSON pointer segment.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviations_are_read_by_kind_and_what_they_acknowledge() {
        let spec = Spec::parse(
            "components:\n  schemas:\n    A/B:\n      type: string\n      x-docs-deviation:\n        \
             type:\n          string<uuid>: why\n        extra-values:\n          X: because\n        \
             only-in-spec: reason\n",
        )
        .unwrap();
        let at = "/components/schemas/A~1B".to_owned();
        let found: Vec<(&Deviation, &String)> = spec.deviations.iter().collect();
        assert_eq!(
            found,
            [
                (&(at.clone(), Kind::OnlyInSpec, None), &"reason".to_owned()),
                (
                    &(at.clone(), Kind::Type, Some("string<uuid>".into())),
                    &"why".to_owned()
                ),
                (
                    &(at.clone(), Kind::ExtraValues, Some("X".into())),
                    &"because".to_owned()
                ),
            ]
        );
        assert_eq!(
            spec.target("#/components/schemas/A~1B").unwrap().1,
            "/components/schemas/A~1B"
        );
    }

    #[test]
    fn a_malformed_deviation_is_refused() {
        for (yaml, message) in [
            (
                "x-docs-deviation: why",
                "must be a map from the kind of difference",
            ),
            ("x-docs-deviation:\n  kind: why", "unknown kind `kind`"),
            (
                "x-docs-deviation:\n  type: why",
                "type: must be a map from what it acknowledges",
            ),
            (
                "x-docs-deviation:\n  only-on-page: \"\"",
                "the reason must be a non-empty string",
            ),
        ] {
            let err = Spec::parse(yaml).err().expect(yaml).to_string();
            assert!(err.contains(message), "{yaml}: {err}");
        }
    }
}
