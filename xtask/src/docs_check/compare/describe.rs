//! What a spec schema says, in the page's terms: its type label as the
//! page would show it (`string<uuid>`, `enum<string> | string`,
//! `object[]`, `number | null`), its enum values, lengths and range, its
//! properties, and the spec nodes whose deviations apply to it.

use serde_json::{Map, Value};

use crate::docs_check::compare::spec::{escape, Spec};
use crate::docs_check::page::ranges::{Bound, Range};

/// A spec schema described the way a page shows a field.
#[derive(Clone, Debug, Default)]
pub struct Desc {
    /// `string<uuid>`, `enum<string> | string`, `object[]`, `number | null`...
    pub label: String,
    pub values: Option<Vec<String>>,
    pub max_length: Option<u64>,
    pub min_length: Option<u64>,
    pub range: Option<Range>,
    /// The object's properties (for an array: its items'), with their pointers.
    pub properties: Vec<(String, Value, String)>,
    pub required: Vec<String>,
    /// The pointers of the nodes whose deviations apply.
    pub chain: Vec<String>,
    /// The schema itself, for validation.
    pub schema: Value,
}

/// Describes the schema `node` found at `pointer` in `spec`.
pub fn describe(spec: &Spec, node: &Value, pointer: &str) -> Desc {
    Describer { spec }.describe(node, pointer)
}

/// Pointer resolution for the descriptions.
struct Describer<'a> {
    spec: &'a Spec,
}

impl Describer<'_> {
    fn describe(&self, node: &Value, pointer: &str) -> Desc {
        let mut chain = Vec::new();
        let flat = self.flatten(node, pointer, &mut chain, 0);
        let mut desc = self.describe_flat(&flat, &chain);
        desc.chain = chain;
        desc.schema = node.clone();
        desc
    }

    /// The schema with `$ref`s followed and `allOf` members merged in (the
    /// node's own keywords first), recording each node visited.
    fn flatten(
        &self,
        node: &Value,
        pointer: &str,
        chain: &mut Vec<String>,
        depth: usize,
    ) -> Map<String, Value> {
        chain.push(pointer.to_owned());
        let Some(map) = node.as_object() else {
            return Map::new();
        };
        if depth > 32 {
            return map.clone();
        }
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            return match self.spec.target(reference) {
                Some((target, at)) => self.flatten(target, &at, chain, depth + 1),
                None => Map::new(),
            };
        }
        let mut out: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| k.as_str() != "allOf")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(all) = map.get("allOf").and_then(Value::as_array) {
            for (i, member) in all.iter().enumerate() {
                let member =
                    self.flatten(member, &format!("{pointer}/allOf/{i}"), chain, depth + 1);
                for (key, value) in member {
                    match (key.as_str(), out.get_mut(&key)) {
                        ("properties", Some(Value::Object(props))) => {
                            if let Value::Object(more) = value {
                                for (k, v) in more {
                                    props.entry(k).or_insert(v);
                                }
                            }
                        }
                        ("required", Some(Value::Array(required))) => {
                            if let Value::Array(more) = value {
                                required.extend(more);
                            }
                        }
                        (_, Some(_)) => {}
                        (_, None) => {
                            out.insert(key, value);
                        }
                    }
                }
            }
        }
        out
    }

    fn describe_flat(&self, flat: &Map<String, Value>, chain: &[String]) -> Desc {
        let mut desc = Desc::default();
        let string = |key: &str| flat.get(key).and_then(Value::as_str).map(str::to_owned);
        let ty = string("type");
        let format = string("format");
        let nullable = flat.get("nullable") == Some(&Value::Bool(true));
        desc.max_length = flat.get("maxLength").and_then(Value::as_u64);
        desc.min_length = flat.get("minLength").and_then(Value::as_u64);
        desc.range = spec_range(flat);
        if let Some(values) = flat.get("enum").and_then(Value::as_array) {
            desc.values = Some(values.iter().map(value_text).collect());
        }
        let mut label = if desc.values.is_some() {
            format!("enum<{}>", ty.as_deref().unwrap_or("string"))
        } else if ty.as_deref() == Some("array") {
            let items = flat.get("items").cloned().unwrap_or(Value::Null);
            let owner = chain.last().cloned().unwrap_or_default();
            let mut items_chain = Vec::new();
            let items_flat = self.flatten(&items, &format!("{owner}/items"), &mut items_chain, 1);
            let items_desc = self.describe_flat(&items_flat, &items_chain);
            desc.properties = items_desc.properties;
            desc.required = items_desc.required;
            let base = items_desc.label.replace(" | null", "");
            if base.contains(" | ") {
                format!("({base})[]")
            } else {
                format!("{base}[]")
            }
        } else if let Some(ty) = &ty {
            match &format {
                Some(format) => format!("{ty}<{format}>"),
                None => ty.clone(),
            }
        } else if flat.contains_key("properties") || flat.contains_key("additionalProperties") {
            "object".to_owned()
        } else if let Some(branches) = flat
            .get("oneOf")
            .or_else(|| flat.get("anyOf"))
            .and_then(Value::as_array)
        {
            let described: Vec<Desc> = branches
                .iter()
                .map(|b| {
                    let mut c = Vec::new();
                    let f = self.flatten(b, "", &mut c, 1);
                    self.describe_flat(&f, &c)
                })
                .collect();
            // The open enum: one branch the known values, the other any
            // other string (`not: {enum: [...]}`).
            let open = described.len() == 2
                && described.iter().filter(|d| d.values.is_some()).count() == 1
                && branches.iter().any(|b| b.get("not").is_some());
            if open {
                let known = described.iter().find(|d| d.values.is_some()).expect("one");
                desc.values = known.values.clone();
                format!("{} | string", known.label)
            } else {
                let mut labels: Vec<String> = described.into_iter().map(|d| d.label).collect();
                labels.sort();
                labels.dedup();
                labels.join(" | ")
            }
        } else {
            "any".to_owned()
        };
        if desc.properties.is_empty() {
            if let Some(props) = flat.get("properties").and_then(Value::as_object) {
                let owner = chain.last().cloned().unwrap_or_default();
                desc.properties = props
                    .iter()
                    .map(|(name, node)| {
                        (
                            name.clone(),
                            node.clone(),
                            format!("{owner}/properties/{}", escape(name)),
                        )
                    })
                    .collect();
            }
            if let Some(required) = flat.get("required").and_then(Value::as_array) {
                desc.required = required.iter().map(value_text).collect();
            }
        }
        if nullable {
            label.push_str(" | null");
        }
        desc.label = label;
        desc
    }
}

pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn spec_range(flat: &Map<String, Value>) -> Option<Range> {
    let bound = |key: &str, exclusive: &str| {
        let value = flat.get(key)?;
        let number = value.as_f64()?;
        let excl = flat.get(exclusive);
        Some(Bound {
            value: number,
            text: value.to_string(),
            inclusive: !matches!(excl, Some(Value::Bool(true))),
        })
    };
    let mut range = Range {
        min: bound("minimum", "exclusiveMinimum"),
        max: bound("maximum", "exclusiveMaximum"),
    };
    // JSON Schema's numeric exclusive bounds.
    if let Some(v) = flat.get("exclusiveMinimum").filter(|v| v.is_number()) {
        range.min = v.as_f64().map(|value| Bound {
            value,
            text: v.to_string(),
            inclusive: false,
        });
    }
    if let Some(v) = flat.get("exclusiveMaximum").filter(|v| v.is_number()) {
        range.max = v.as_f64().map(|value| Bound {
            value,
            text: v.to_string(),
            inclusive: false,
        });
    }
    (range.min.is_some() || range.max.is_some()).then_some(range)
}

/// A type label with its alternatives in a fixed order.
pub fn normal_label(label: &str) -> String {
    let mut parts: Vec<String> = label
        .split('|')
        .map(|p| p.split_whitespace().collect::<String>())
        .filter(|p| !p.is_empty())
        .collect();
    parts.sort();
    parts.dedup();
    parts.join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec::parse(
            r##"
components:
  schemas:
    Mcc: {type: string, pattern: "^[0-9]{4}$"}
    Status:
      oneOf:
        - {type: string, enum: [A, B]}
        - {type: string, not: {enum: [A, B]}}
    Card:
      allOf:
        - {$ref: "#/components/schemas/Base"}
        - type: object
          required: [status]
          properties:
            status: {$ref: "#/components/schemas/Status"}
            blocked: {type: array, nullable: true, items: {$ref: "#/components/schemas/Mcc"}}
            limit: {type: number, minimum: 0, exclusiveMinimum: true}
    Base:
      type: object
      required: [id]
      properties:
        id: {type: string, format: uuid, maxLength: 36}
"##,
        )
        .unwrap()
    }

    #[test]
    fn schemas_read_as_the_page_shows_them() {
        let spec = spec();
        let card = describe(
            &spec,
            &serde_json::json!({"$ref": "#/components/schemas/Card"}),
            "/x",
        );
        assert_eq!(card.label, "object");
        assert_eq!(card.required, ["id", "status"]);
        let mut names: Vec<&str> = card.properties.iter().map(|p| p.0.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["blocked", "id", "limit", "status"]);
        let field = |name: &str| {
            let (_, node, at) = card.properties.iter().find(|p| p.0 == name).unwrap();
            describe(&spec, node, at)
        };
        let status = field("status");
        assert_eq!(status.label, "enum<string> | string");
        assert_eq!(
            status.values.as_deref(),
            Some(&["A".to_owned(), "B".to_owned()][..])
        );
        assert_eq!(field("blocked").label, "string[] | null");
        assert_eq!(field("limit").range.unwrap().to_string(), "x > 0");
        let id = field("id");
        assert_eq!(
            (id.label.as_str(), id.max_length),
            ("string<uuid>", Some(36))
        );
        assert_eq!(
            describe(
                &spec,
                &serde_json::json!({"$ref": "#/components/schemas/Base"}),
                "/y"
            )
            .properties[0]
                .2,
            "/components/schemas/Base/properties/id",
            "each property's pointer, whose deviations apply"
        );
        assert_eq!(normal_label("string | null"), normal_label("null|string"));
    }
}
