//! The comparison behind `cargo xtask docs-check`: a page of UQPay's API
//! reference (read by [`crate::page`]) against the spec's operation of the
//! same method and path (or, for a webhook page, the envelope with the
//! `data` schema the spec's `x-webhooks` names for the event).
//!
//! Compared, field by field (headers, path and query parameters, the
//! authorization header, request body and response fields as far as the
//! page shows them): a field on one side only, its type and format,
//! required or not, enum values, maximum and minimum length, numeric range,
//! and every example the page gives (a field's `Example:`, the curl
//! `--data`, the response example, a webhook's payload) validated by a JSON
//! Schema validator against the spec's schema, converted from OpenAPI 3.0.
//!
//! A deliberate difference is acknowledged in the spec, next to the field,
//! by an `x-docs-deviation` map from the kind of difference (see
//! [`Kind::key`]) to what it acknowledges and why:
//!
//! ```yaml
//! x-docs-deviation:
//!   type:
//!     "string": The pages say string; the spec reads a UUID because ...
//!   extra-values:
//!     PRE_CANCEL: Sent by UQPay though the page does not list it ...
//!   only-in-spec: Why the spec has a field the page does not show.
//! ```
//!
//! A keyed entry names what the page says (its type, `required` or
//! `optional`, its length or range, `none`) or, for enum values, the value;
//! so if the page changes again at that field, or another kind of
//! difference appears there, it is reported. Nothing else silences a
//! difference.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::page::{self, Bound, Field, Page, Range, Target};

/// Where `docs-check` finds the snapshots, relative to the workspace root.
pub const DOCS_DIR: &str = "spec/docs";

/// The extension that acknowledges a difference.
pub const DEVIATION: &str = "x-docs-deviation";

/// The kinds of difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A field, header or parameter (or a whole body, response, operation)
    /// on the page only.
    OnlyOnPage,
    /// On the spec's side only.
    OnlyInSpec,
    /// The type or the format differs (`string` / `string<uuid>`).
    Type,
    /// Required on one side only.
    Required,
    /// Enum values the page lists and the spec does not.
    MissingValues,
    /// Enum values the spec lists and the page does not.
    ExtraValues,
    /// `Maximum string length` / `maxLength`.
    MaxLength,
    /// `Minimum string length` / `minLength`.
    MinLength,
    /// `Required range` / `minimum`, `maximum`.
    Range,
    /// An example of the page that the spec's schema refuses.
    Example,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 10] = [
        Kind::OnlyOnPage,
        Kind::OnlyInSpec,
        Kind::Type,
        Kind::Required,
        Kind::MissingValues,
        Kind::ExtraValues,
        Kind::MaxLength,
        Kind::MinLength,
        Kind::Range,
        Kind::Example,
    ];

    /// Its key in an `x-docs-deviation` map.
    pub fn key(self) -> &'static str {
        match self {
            Kind::OnlyOnPage => "only-on-page",
            Kind::OnlyInSpec => "only-in-spec",
            Kind::Type => "type",
            Kind::Required => "required",
            Kind::MissingValues => "missing-values",
            Kind::ExtraValues => "extra-values",
            Kind::MaxLength => "max-length",
            Kind::MinLength => "min-length",
            Kind::Range => "range",
            Kind::Example => "example",
        }
    }

    /// Whether a deviation of this kind names what it acknowledges (a map
    /// from the page's side, or the enum value, to the reason) rather than
    /// just giving the reason: every kind but a field on one side only and
    /// a refused example.
    pub fn keyed(self) -> bool {
        !matches!(self, Kind::OnlyOnPage | Kind::OnlyInSpec | Kind::Example)
    }

    fn from_key(key: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.key() == key)
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::OnlyOnPage => "only on the page",
            Kind::OnlyInSpec => "only in the spec",
            Kind::Type => "type",
            Kind::Required => "required",
            Kind::MissingValues => "enum value only on the page",
            Kind::ExtraValues => "enum value only in the spec",
            Kind::MaxLength => "maximum length",
            Kind::MinLength => "minimum length",
            Kind::Range => "range",
            Kind::Example => "example refused by the spec",
        }
    }
}

/// Where on the page a difference is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// The operation itself (or a webhook event).
    Operation,
    /// `Authorizations`.
    Authorization,
    /// `Headers`.
    Header,
    /// `Path Parameters`.
    Path,
    /// `Query Parameters`.
    Query,
    /// `Body` of a request.
    Request,
    /// `Body` of a webhook page (the payload).
    Payload,
    /// `Response`.
    Response,
    /// The curl `--data`.
    RequestExample,
    /// The webhook payload example.
    PayloadExample,
    /// The response example.
    ResponseExample,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Place::Operation => "operation",
            Place::Authorization => "authorization",
            Place::Header => "header",
            Place::Path => "path parameter",
            Place::Query => "query parameter",
            Place::Request => "request body",
            Place::Payload => "payload",
            Place::Response => "response",
            Place::RequestExample => "request example",
            Place::PayloadExample => "payload example",
            Place::ResponseExample => "response example",
        })
    }
}

/// One difference between a page and the spec.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    /// The operation (`update_card (POST /v1/issuing/cards/{id})`).
    pub operation: String,
    /// Where.
    pub place: Place,
    /// The field's path (`risk_controls.blocked_mcc`); empty for the place itself.
    pub field: String,
    /// What differs.
    pub kind: Kind,
    /// The page's side.
    pub page: String,
    /// The spec's side.
    pub spec: String,
    /// What an `x-docs-deviation` of this kind names to acknowledge it: the
    /// page's side (its type, `optional`, `none`...), or the enum value;
    /// none for a field on one side only and for a refused example.
    pub value: Option<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.operation, self.place)?;
        if !self.field.is_empty() {
            write!(f, " {}", self.field)?;
        }
        write!(
            f,
            ": {}: page {}; spec {}",
            self.kind.describe(),
            self.page,
            self.spec
        )
    }
}

/// A difference the spec acknowledges with an `x-docs-deviation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    /// The difference.
    pub difference: Difference,
    /// The deviation's reason.
    pub reason: String,
    /// The JSON pointer of the spec node that carries it.
    pub at: String,
}

/// The result of comparing one page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The operation compared.
    pub operation: String,
    /// What differs and is not acknowledged.
    pub differences: Vec<Difference>,
    /// What differs and is acknowledged.
    pub acknowledged: Vec<Acknowledged>,
    /// The spec operations (or webhook events) this page covered, as
    /// `operationId`s (or event types).
    pub covers: Vec<String>,
}

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
    defs: Value,
}

impl Spec {
    /// Parses the spec's text (YAML or JSON).
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        let document: Value = serde_yaml::from_str(text)?;
        let mut deviations = BTreeMap::new();
        collect_deviations(&document, String::new(), &mut deviations)?;
        let mut defs = Map::new();
        if let Some(schemas) = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                defs.insert(name.clone(), to_json_schema(schema));
            }
        }
        Ok(Spec {
            document,
            deviations,
            defs: Value::Object(defs),
        })
    }

    /// Reads and parses the spec at `path`.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| SpecError::Read(path.to_path_buf(), e))?;
        Spec::parse(&text)
    }

    fn get(&self, pointer: &str) -> Option<&Value> {
        self.document.pointer(pointer)
    }

    /// The node a `$ref` names, with its pointer.
    fn target(&self, reference: &str) -> Option<(&Value, String)> {
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

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

// ---------------------------------------------------------------------------
// OpenAPI 3.0 schema -> JSON Schema (2020-12)

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

impl Spec {
    /// The errors of validating `instance` against `schema` (an OpenAPI
    /// schema of this spec): (field path, message).
    fn validate(&self, schema: &Value, instance: &Value) -> Vec<(String, String)> {
        let root = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [to_json_schema(schema)],
            "$defs": self.defs,
        });
        let validator = match jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
        {
            Ok(validator) => validator,
            Err(e) => return vec![(String::new(), format!("the spec's schema is invalid: {e}"))],
        };
        validator
            .iter_errors(instance)
            .map(|e| (field_path(e.instance_path().as_str()), e.to_string()))
            .collect()
    }
}

/// `/risk_controls/blocked_mcc/0` -> `risk_controls.blocked_mcc[0]`.
fn field_path(pointer: &str) -> String {
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

// ---------------------------------------------------------------------------
// What a spec schema says, in the page's terms

/// A spec schema described the way a page shows a field.
#[derive(Clone, Debug, Default)]
struct Desc {
    /// `string<uuid>`, `enum<string> | string`, `object[]`, `number | null`...
    label: String,
    values: Option<Vec<String>>,
    max_length: Option<u64>,
    min_length: Option<u64>,
    range: Option<Range>,
    /// The object's properties (for an array: its items'), with their pointers.
    properties: Vec<(String, Value, String)>,
    required: Vec<String>,
    /// The pointers of the nodes whose deviations apply.
    chain: Vec<String>,
    /// The schema itself, for validation.
    schema: Value,
}

impl Spec {
    /// Describes the schema `node` found at `pointer`.
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
            return match self.target(reference) {
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

fn value_text(value: &Value) -> String {
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
fn normal_label(label: &str) -> String {
    let mut parts: Vec<String> = label
        .split('|')
        .map(|p| p.split_whitespace().collect::<String>())
        .filter(|p| !p.is_empty())
        .collect();
    parts.sort();
    parts.dedup();
    parts.join(" | ")
}

fn shown(value: Option<impl fmt::Display>) -> String {
    value.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        format!("{}...", text.chars().take(77).collect::<String>())
    } else {
        text
    }
}

// ---------------------------------------------------------------------------
// The comparison

struct Ctx<'a> {
    spec: &'a Spec,
    report: Report,
}

impl Ctx<'_> {
    /// Records a difference, acknowledged if a node of `chain` carries a
    /// deviation of its kind.
    fn differ(
        &mut self,
        place: Place,
        field: &str,
        kind: Kind,
        page: String,
        spec: String,
        chain: &[String],
    ) {
        // What a keyed deviation names: the page's side.
        let key = kind.keyed().then(|| page.clone());
        self.differ_value(place, field, kind, key.as_deref(), page, spec, chain);
    }

    /// As `differ`, with what a deviation must name to acknowledge it (the
    /// enum value, for the two value kinds).
    #[allow(clippy::too_many_arguments)]
    fn differ_value(
        &mut self,
        place: Place,
        field: &str,
        kind: Kind,
        value: Option<&str>,
        page: String,
        spec: String,
        chain: &[String],
    ) {
        let difference = Difference {
            operation: self.report.operation.clone(),
            place,
            field: field.to_owned(),
            kind,
            page,
            spec,
            value: value.map(str::to_owned),
        };
        let deviation = chain.iter().find_map(|at| {
            self.spec
                .deviations
                .get(&(at.clone(), kind, difference.value.clone()))
                .map(|reason| (at.clone(), reason.clone()))
        });
        match deviation {
            Some((at, reason)) => self.report.acknowledged.push(Acknowledged {
                difference,
                reason,
                at,
            }),
            None => self.report.differences.push(difference),
        }
    }

    /// Compares one field with the spec's schema of it.
    fn field(
        &mut self,
        place: Place,
        path: &str,
        field: &Field,
        desc: &Desc,
        required: bool,
        extra_chain: &[String],
    ) {
        let chain: Vec<String> = extra_chain.iter().chain(&desc.chain).cloned().collect();
        if normal_label(&field.type_label) != normal_label(&desc.label) {
            self.differ(
                place,
                path,
                Kind::Type,
                field.type_label.clone(),
                desc.label.clone(),
                &chain,
            );
        }
        if field.required != required {
            let word = |r: bool| if r { "required" } else { "optional" }.to_owned();
            self.differ(
                place,
                path,
                Kind::Required,
                word(field.required),
                word(required),
                &chain,
            );
        }
        // Enum values, one difference per value. A spec field without an
        // enum (an open string) lists none: each option the page lists is
        // then a value only on the page.
        if !field.options.is_empty() {
            let values: Vec<String> = desc.values.clone().unwrap_or_default();
            let page: BTreeSet<&String> = field.options.iter().collect();
            let spec: BTreeSet<&String> = values.iter().collect();
            let list = |v: &[String]| {
                if v.is_empty() {
                    "no enum".to_owned()
                } else {
                    v.join(", ")
                }
            };
            for missing in field.options.iter().filter(|v| !spec.contains(v)) {
                self.differ_value(
                    place,
                    path,
                    Kind::MissingValues,
                    Some(missing),
                    format!("{missing} (of {})", list(&field.options)),
                    list(&values),
                    &chain,
                );
            }
            for extra in values.iter().filter(|v| !page.contains(v)) {
                self.differ_value(
                    place,
                    path,
                    Kind::ExtraValues,
                    Some(extra),
                    list(&field.options),
                    format!("{extra} (of {})", list(&values)),
                    &chain,
                );
            }
        }
        if field.max_length != desc.max_length {
            self.differ(
                place,
                path,
                Kind::MaxLength,
                shown(field.max_length),
                shown(desc.max_length),
                &chain,
            );
        }
        if field.min_length != desc.min_length {
            self.differ(
                place,
                path,
                Kind::MinLength,
                shown(field.min_length),
                shown(desc.min_length),
                &chain,
            );
        }
        let same_range = match (&field.range, &desc.range) {
            (None, None) => true,
            (Some(a), Some(b)) => a.same(b),
            _ => false,
        };
        if !same_range {
            self.differ(
                place,
                path,
                Kind::Range,
                shown(field.range.as_ref()),
                shown(desc.range.as_ref()),
                &chain,
            );
        }
        if let Some(example) = &field.example {
            if let Some((_, message)) = self.spec.validate(&desc.schema, example).into_iter().next()
            {
                self.differ(
                    place,
                    path,
                    Kind::Example,
                    compact(example),
                    message,
                    &chain,
                );
            }
        }
    }

    /// Compares the fields a page shows for an object with the spec's
    /// schema of it: top-level fields, and the children of every field
    /// whose children the page shows (`parent.child`).
    fn object(&mut self, place: Place, fields: &[Field], root: &Desc) {
        let names: BTreeSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        // Page fields, each against the spec's schema at its path.
        let mut missing_parents: Vec<String> = Vec::new();
        for field in fields {
            let segments: Vec<&str> = field.name.split('.').collect();
            let parent_path = segments[..segments.len() - 1].join(".");
            if missing_parents
                .iter()
                .any(|p| field.name.starts_with(&format!("{p}.")))
            {
                continue;
            }
            let Some(parent) = self.walk(root, &segments[..segments.len() - 1]) else {
                continue; // its parent is reported
            };
            let name = segments[segments.len() - 1];
            match parent.properties.iter().find(|(n, _, _)| n == name) {
                Some((_, node, pointer)) => {
                    let desc = self.spec.describe(node, pointer);
                    let required = parent.required.iter().any(|r| r == name);
                    self.field(place, &field.name, field, &desc, required, &[]);
                }
                None => {
                    let _ = parent_path;
                    missing_parents.push(field.name.clone());
                    self.differ(
                        place,
                        &field.name,
                        Kind::OnlyOnPage,
                        field.type_label.clone(),
                        "no such field".into(),
                        &[],
                    );
                }
            }
        }
        // Spec fields the page does not show, at the top and under every
        // parent whose children the page shows.
        let mut parents: Vec<String> = vec![String::new()];
        for name in &names {
            if let Some((parent, _)) = name.rsplit_once('.') {
                if !parents.iter().any(|p| p == parent) {
                    parents.push(parent.to_owned());
                }
            }
        }
        for parent in parents {
            let segments: Vec<&str> = if parent.is_empty() {
                Vec::new()
            } else {
                parent.split('.').collect()
            };
            let Some(desc) = self.walk(root, &segments) else {
                continue;
            };
            for (name, node, pointer) in &desc.properties {
                let path = if parent.is_empty() {
                    name.clone()
                } else {
                    format!("{parent}.{name}")
                };
                if !names.contains(path.as_str()) {
                    let d = self.spec.describe(node, pointer);
                    self.differ(
                        place,
                        &path,
                        Kind::OnlyInSpec,
                        "no such field".into(),
                        d.label.clone(),
                        &d.chain,
                    );
                }
            }
        }
    }

    /// The spec's description of the field at `segments` below `root`.
    fn walk(&self, root: &Desc, segments: &[&str]) -> Option<Desc> {
        let mut current = root.clone();
        for segment in segments {
            let (_, node, pointer) = current.properties.iter().find(|(n, _, _)| n == segment)?;
            current = self.spec.describe(node, pointer);
        }
        Some(current)
    }

    fn example(&mut self, place: Place, example: &Value, schema: &Value, chain: &[String]) {
        // One difference per path, with every error the validator gives there.
        let mut errors: Vec<(String, String)> = Vec::new();
        for (path, message) in self.spec.validate(schema, example) {
            match errors.iter_mut().find(|(p, _)| *p == path) {
                Some((_, messages)) => {
                    messages.push_str("; ");
                    messages.push_str(&message);
                }
                None => errors.push((path, message)),
            }
        }
        for (path, message) in errors {
            let at = if path.is_empty() {
                example.clone()
            } else {
                example
                    .pointer(&json_pointer(&path))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            self.differ(place, &path, Kind::Example, compact(&at), message, chain);
        }
    }
}

/// `a.b[0]` -> `/a/b/0`.
fn json_pointer(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('.') {
        let (name, indexes) = part
            .split_once('[')
            .map_or((part, ""), |(n, rest)| (n, rest));
        if !name.is_empty() {
            out.push('/');
            out.push_str(&escape(name));
        }
        for index in indexes.split('[') {
            let index = index.trim_end_matches(']');
            if !index.is_empty() {
                out.push('/');
                out.push_str(index);
            }
        }
    }
    out
}

/// A parameter of the spec: (name, location, required, schema node, schema
/// pointer, parameter pointer).
struct Param {
    name: String,
    location: String,
    required: bool,
    schema: Value,
    schema_at: String,
    at: String,
}

/// Compares a page with the spec.
pub fn compare(spec: &Spec, page: &Page) -> Report {
    match &page.target {
        Target::Endpoint { method, path } => compare_endpoint(spec, page, method, path),
        Target::Webhook { events } => compare_webhook(spec, page, events),
    }
}

fn template(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out.trim_end_matches('/').to_owned()
}

fn compare_endpoint(spec: &Spec, page: &Page, method: &str, path: &str) -> Report {
    let mut ctx = Ctx {
        spec,
        report: Report::default(),
    };
    let lower = method.to_lowercase();
    let found = spec
        .document
        .get("paths")
        .and_then(Value::as_object)
        .and_then(|paths| {
            paths
                .iter()
                .find(|(p, item)| template(p) == template(path) && item.get(&lower).is_some())
                .map(|(p, item)| (p.clone(), item))
        });
    let Some((spec_path, item)) = found else {
        ctx.report.operation = format!("{method} {path}");
        ctx.differ(
            Place::Operation,
            "",
            Kind::OnlyOnPage,
            format!("{method} {path}"),
            "no such operation".into(),
            &[],
        );
        return ctx.report;
    };
    let op = &item[&lower];
    let op_at = format!("/paths/{}/{lower}", escape(&spec_path));
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    ctx.report.operation = format!("{id} ({method} {spec_path})");
    ctx.report.covers.push(id);
    let op_chain = vec![op_at.clone()];

    // Parameters: the path item's, then the operation's (which override).
    let mut params: Vec<Param> = Vec::new();
    let lists = [
        (
            item.get("parameters"),
            format!("/paths/{}/parameters", escape(&spec_path)),
        ),
        (op.get("parameters"), format!("{op_at}/parameters")),
    ];
    for (list, list_at) in lists {
        for (i, param) in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let (param, at) = match param.get("$ref").and_then(Value::as_str) {
                Some(reference) => match spec.target(reference) {
                    Some((p, at)) => (p, at),
                    None => continue,
                },
                None => (param, format!("{list_at}/{i}")),
            };
            let name = param
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let location = param
                .get("in")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            params.retain(|p| !(p.name == name && p.location == location));
            params.push(Param {
                required: param.get("required") == Some(&Value::Bool(true)),
                schema: param.get("schema").cloned().unwrap_or(Value::Null),
                schema_at: format!("{at}/schema"),
                name,
                location,
                at,
            });
        }
    }
    for (place, location, fields) in [
        (Place::Header, "header", &page.headers),
        (Place::Path, "path", &page.path_parameters),
        (Place::Query, "query", &page.query_parameters),
    ] {
        let header = location == "header";
        let same = |a: &str, b: &str| {
            if header {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        for field in fields {
            match params
                .iter()
                .find(|p| p.location == location && same(&p.name, &field.name))
            {
                Some(param) => {
                    let desc = spec.describe(&param.schema, &param.schema_at);
                    ctx.field(
                        place,
                        &field.name,
                        field,
                        &desc,
                        param.required,
                        std::slice::from_ref(&param.at),
                    );
                }
                None => ctx.differ(
                    place,
                    &field.name,
                    Kind::OnlyOnPage,
                    field.type_label.clone(),
                    "no such parameter".into(),
                    &[],
                ),
            }
        }
        for param in params.iter().filter(|p| p.location == location) {
            if !fields.iter().any(|f| same(&param.name, &f.name)) {
                let desc = spec.describe(&param.schema, &param.schema_at);
                let chain: Vec<String> = std::iter::once(param.at.clone())
                    .chain(desc.chain)
                    .collect();
                ctx.differ(
                    place,
                    &param.name,
                    Kind::OnlyInSpec,
                    "no such parameter".into(),
                    desc.label,
                    &chain,
                );
            }
        }
    }

    // Authorizations: the security schemes the operation requires.
    let security = op.get("security").or_else(|| spec.document.get("security"));
    let requirements: Vec<&Map<String, Value>> = security
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    let auth_required = !requirements.is_empty() && requirements.iter().all(|r| !r.is_empty());
    let mut schemes: Vec<(String, String, String)> = Vec::new(); // (header name, in, pointer)
    for requirement in &requirements {
        for name in requirement.keys() {
            let at = format!("/components/securitySchemes/{}", escape(name));
            if let Some(scheme) = spec.get(&at) {
                let key = scheme
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(name)
                    .to_owned();
                let location = scheme
                    .get("in")
                    .and_then(Value::as_str)
                    .unwrap_or("header")
                    .to_owned();
                if !schemes.iter().any(|(k, _, _)| *k == key) {
                    schemes.push((key, location, at));
                }
            }
        }
    }
    for field in &page.authorizations {
        match schemes
            .iter()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(&field.name))
        {
            Some((_, location, at)) => {
                let chain = vec![at.clone()];
                let page_location = field.location.clone().unwrap_or_else(|| "header".into());
                if normal_label(&field.type_label) != "string" || page_location != *location {
                    ctx.differ(
                        Place::Authorization,
                        &field.name,
                        Kind::Type,
                        format!("{} in {page_location}", field.type_label),
                        format!("string in {location}"),
                        &chain,
                    );
                }
                if field.required != auth_required {
                    let word = |r: bool| if r { "required" } else { "optional" }.to_owned();
                    ctx.differ(
                        Place::Authorization,
                        &field.name,
                        Kind::Required,
                        word(field.required),
                        word(auth_required),
                        &chain,
                    );
                }
            }
            None => ctx.differ(
                Place::Authorization,
                &field.name,
                Kind::OnlyOnPage,
                field.type_label.clone(),
                "no such security scheme".into(),
                &[],
            ),
        }
    }
    for (key, location, at) in &schemes {
        if !page
            .authorizations
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(key))
        {
            ctx.differ(
                Place::Authorization,
                key,
                Kind::OnlyInSpec,
                "no such header".into(),
                format!("string in {location}"),
                std::slice::from_ref(at),
            );
        }
    }

    // The request body.
    let body_schema = op
        .pointer("/requestBody/content/application~1json/schema")
        .map(|s| {
            (
                s.clone(),
                format!("{op_at}/requestBody/content/application~1json/schema"),
            )
        });
    match (&page.body, &body_schema) {
        (Some(body), Some((schema, at))) => {
            let desc = spec.describe(schema, at);
            ctx.object(Place::Request, &body.fields, &desc);
        }
        (Some(body), None) => ctx.differ(
            Place::Request,
            "",
            Kind::OnlyOnPage,
            body.media_type.clone().unwrap_or_else(|| "a body".into()),
            "no request body".into(),
            &op_chain,
        ),
        (None, Some(_)) => ctx.differ(
            Place::Request,
            "",
            Kind::OnlyInSpec,
            "no body".into(),
            "application/json".into(),
            &op_chain,
        ),
        (None, None) => {}
    }
    if let (Some(example), Some((schema, _))) = (&page.request_example, &body_schema) {
        ctx.example(Place::RequestExample, example, schema, &op_chain);
    }

    // The responses (the successful ones: errors are the error guide's).
    let response_schema = |status: &str| -> Option<(Value, String)> {
        let mut node = op.get("responses")?.get(status)?;
        let mut at = format!("{op_at}/responses/{}", escape(status));
        if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let (target, target_at) = spec.target(reference)?;
            node = target;
            at = target_at;
        }
        let schema = node.pointer("/content/application~1json/schema")?;
        Some((
            schema.clone(),
            format!("{at}/content/application~1json/schema"),
        ))
    };
    for response in page.responses.iter().filter(|r| r.status.starts_with('2')) {
        match response_schema(&response.status) {
            Some((schema, at)) => {
                let desc = spec.describe(&schema, &at);
                ctx.object(Place::Response, &response.fields, &desc);
            }
            None => ctx.differ(
                Place::Response,
                &response.status,
                Kind::OnlyOnPage,
                format!(
                    "{} {}",
                    response.status,
                    response.media_type.clone().unwrap_or_default()
                ),
                "no such JSON response".into(),
                &op_chain,
            ),
        }
    }
    if let Some(example) = &page.response_example {
        let status = page
            .responses
            .iter()
            .map(|r| r.status.as_str())
            .find(|s| s.starts_with('2'))
            .unwrap_or("200");
        if let Some((schema, _)) = response_schema(status) {
            ctx.example(Place::ResponseExample, example, &schema, &op_chain);
        }
    }
    ctx.report
}

fn compare_webhook(spec: &Spec, page: &Page, events: &[String]) -> Report {
    let mut ctx = Ctx {
        spec,
        report: Report {
            operation: format!("webhook {}", events.join(", ")),
            ..Report::default()
        },
    };
    let map = spec.document.get("x-webhooks").and_then(Value::as_object);
    let mut schemas: Vec<String> = Vec::new();
    for event in events {
        match map.and_then(|m| m.get(event)).and_then(Value::as_str) {
            Some(schema) => {
                ctx.report.covers.push(event.clone());
                if !schemas.iter().any(|s| s == schema) {
                    schemas.push(schema.to_owned());
                }
            }
            None => ctx.differ(
                Place::Operation,
                event,
                Kind::OnlyOnPage,
                "a webhook event".into(),
                "not in x-webhooks".into(),
                &[],
            ),
        }
    }
    let envelope_at = "/components/schemas/WebhookEvent";
    let Some(envelope) = spec.get(envelope_at) else {
        ctx.differ(
            Place::Operation,
            "",
            Kind::OnlyOnPage,
            "a webhook payload".into(),
            "no WebhookEvent schema".into(),
            &[],
        );
        return ctx.report;
    };
    for schema in schemas {
        // The envelope with `data` typed by the event's schema.
        let mut payload = envelope.clone();
        let data = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
        if let Some(props) = payload.get_mut("properties").and_then(Value::as_object_mut) {
            let own = props.get("data").cloned().unwrap_or(Value::Null);
            let mut merged = data.clone();
            if let Some(deviation) = own.get(DEVIATION) {
                merged[DEVIATION] = deviation.clone();
            }
            props.insert("data".into(), merged);
        }
        let mut desc = spec.describe(&payload, envelope_at);
        // `data`'s deviations are the envelope's `data` property's.
        for p in &mut desc.properties {
            if p.0 == "data" {
                p.2 = format!("{envelope_at}/properties/data");
            }
        }
        if let Some(body) = &page.body {
            ctx.object(Place::Payload, &body.fields, &desc);
        }
        if let Some(example) = &page.request_example {
            ctx.example(
                Place::PayloadExample,
                example,
                &payload,
                &[envelope_at.to_owned()],
            );
        }
    }
    ctx.report
}

// ---------------------------------------------------------------------------
// The command

/// The snapshots in `root/spec/docs/` (every `.txt` file), sorted.
pub fn snapshots(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join(DOCS_DIR))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    pages.sort();
    Ok(pages)
}

/// `cargo xtask docs-check [PAGE...]`: checks `pages` (every snapshot when
/// empty) against the spec at `spec_path`, writes one line per difference
/// and per acknowledged deviation to `out`, and returns the exit code: 0
/// when nothing differs, 1 when something does (or, checking every
/// snapshot, when a deviation acknowledges nothing any more), 2 when a page
/// or the spec cannot be read.
pub fn run(root: &Path, spec_path: &Path, pages: &[PathBuf], out: &mut dyn Write) -> u8 {
    let all = pages.is_empty();
    let mut print = |line: String| {
        let _ = writeln!(out, "{line}");
    };
    let spec = match Spec::load(spec_path) {
        Ok(spec) => spec,
        Err(e) => {
            print(format!("error: {e}"));
            return 2;
        }
    };
    let pages = if all {
        match snapshots(root) {
            Ok(pages) if !pages.is_empty() => pages,
            Ok(_) => {
                print(format!("error: no page snapshots (*.txt) in {DOCS_DIR}/"));
                return 2;
            }
            Err(e) => {
                print(format!("error: cannot list {DOCS_DIR}/: {e}"));
                return 2;
            }
        }
    } else {
        pages.to_vec()
    };
    let mut unreadable = 0;
    let mut differences = 0;
    let mut acknowledged = 0;
    let mut used: BTreeSet<Deviation> = BTreeSet::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    for file in &pages {
        let name = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        let text = match std::fs::read(file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => {
                    print(format!("{name}: cannot read the page: not UTF-8 text"));
                    unreadable += 1;
                    continue;
                }
            },
            Err(e) => {
                print(format!("{name}: cannot read the page: {e}"));
                unreadable += 1;
                continue;
            }
        };
        let page = match page::parse(&text) {
            Ok(page) => page,
            Err(e) => {
                print(format!("{name}: cannot read the page: {e}"));
                unreadable += 1;
                continue;
            }
        };
        let report = compare(&spec, &page);
        covered.extend(report.covers.iter().cloned());
        for ack in &report.acknowledged {
            used.insert((
                ack.at.clone(),
                ack.difference.kind,
                ack.difference.value.clone(),
            ));
            print(format!(
                "{name}: acknowledged: {} -- {}",
                ack.difference, ack.reason
            ));
        }
        for difference in &report.differences {
            print(format!("{name}: {difference}"));
        }
        acknowledged += report.acknowledged.len();
        differences += report.differences.len();
    }
    let mut stale = 0;
    if all && unreadable == 0 {
        for (deviation, reason) in &spec.deviations {
            if !used.contains(deviation) {
                let (at, kind, value) = deviation;
                stale += 1;
                let what = match value {
                    Some(value) => format!("`{} {value}`", kind.key()),
                    None => format!("`{}`", kind.key()),
                };
                print(format!(
                    "{}: {DEVIATION} at {at}: acknowledges a {what} difference that no page shows any more ({reason}); remove it",
                    crate::SPEC_PATH,
                ));
            }
        }
        let mut unchecked: Vec<String> = Vec::new();
        for item in spec
            .document
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|p| p.values())
        {
            for op in item.as_object().into_iter().flat_map(|o| o.values()) {
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    if !covered.contains(id) {
                        unchecked.push(id.to_owned());
                    }
                }
            }
        }
        for event in spec
            .document
            .get("x-webhooks")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.keys())
        {
            if !covered.contains(event) {
                unchecked.push(event.clone());
            }
        }
        if !unchecked.is_empty() {
            print(format!(
                "note: no page in {DOCS_DIR}/ for {}",
                unchecked.join(", ")
            ));
        }
    }
    let summary = format!(
        "docs-check: {} page(s) against {}: {differences} difference(s), {acknowledged} acknowledged deviation(s){}{}",
        pages.len(),
        crate::SPEC_PATH,
        if stale > 0 { format!(", {stale} stale deviation(s)") } else { String::new() },
        if unreadable > 0 { format!(", {unreadable} unreadable page(s)") } else { String::new() },
    );
    print(summary);
    if unreadable > 0 {
        2
    } else if differences > 0 || stale > 0 {
        1
    } else {
        0
    }
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
    fn paths_and_pointers() {
        assert_eq!(
            field_path("/risk_controls/blocked_mcc/0"),
            "risk_controls.blocked_mcc[0]"
        );
        assert_eq!(
            json_pointer("risk_controls.blocked_mcc[0]"),
            "/risk_controls/blocked_mcc/0"
        );
        assert_eq!(template("/v1/cards/{id}/status"), "/v1/cards/{}/status");
    }
}
