//! The comparison of a page's fields with the spec's schemas, one kind of
//! difference at a time, and the record of each difference: acknowledged
//! when a spec node on its way carries an `x-docs-deviation` of its kind
//! naming what the page says, reported otherwise.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use crate::docs_check::compare::describe::{describe, normal_label, Desc};
use crate::docs_check::compare::difference::{Acknowledged, Difference, Kind, Place, Report};
use crate::docs_check::compare::spec::{escape, Spec};
use crate::docs_check::page::model::Field;

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

/// A comparison under way: the spec, and the report it fills.
pub struct Ctx<'a> {
    /// The spec compared with.
    pub spec: &'a Spec,
    /// What was found so far.
    pub report: Report,
}

impl Ctx<'_> {
    /// Records a difference, acknowledged if a node of `chain` carries a
    /// deviation of its kind.
    pub fn differ(
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
    pub fn differ_value(
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
    pub fn field(
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
            if let Some((_, message)) = self
                .spec
                .schemas
                .validate(&desc.schema, example)
                .into_iter()
                .next()
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
    pub fn object(&mut self, place: Place, fields: &[Field], root: &Desc) {
        let names: BTreeSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        // Page fields, each against the spec's schema at its path.
        // (A set, and each field's own parents looked up in it: a page of
        // many unknown fields costs no more than their number.)
        let mut missing_parents: BTreeSet<&str> = BTreeSet::new();
        for field in fields {
            let segments: Vec<&str> = field.name.split('.').collect();
            if field
                .name
                .match_indices('.')
                .any(|(at, _)| missing_parents.contains(&field.name[..at]))
            {
                continue;
            }
            let Some(parent) = self.walk(root, &segments[..segments.len() - 1]) else {
                continue; // its parent is reported
            };
            let name = segments[segments.len() - 1];
            match parent.properties.iter().find(|(n, _, _)| n == name) {
                Some((_, node, pointer)) => {
                    let desc = describe(self.spec, node, pointer);
                    let required = parent.required.iter().any(|r| r == name);
                    self.field(place, &field.name, field, &desc, required, &[]);
                }
                None => {
                    missing_parents.insert(&field.name);
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
        let mut seen: BTreeSet<&str> = BTreeSet::from([""]);
        for name in &names {
            if let Some((parent, _)) = name.rsplit_once('.') {
                if seen.insert(parent) {
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
                    let d = describe(self.spec, node, pointer);
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
    pub fn walk(&self, root: &Desc, segments: &[&str]) -> Option<Desc> {
        let mut current = root.clone();
        for segment in segments {
            let (_, node, pointer) = current.properties.iter().find(|(n, _, _)| n == segment)?;
            current = describe(self.spec, node, pointer);
        }
        Some(current)
    }

    pub fn example(&mut self, place: Place, example: &Value, schema: &Value, chain: &[String]) {
        // One difference per path, with every error the validator gives there.
        let mut errors: Vec<(String, String)> = Vec::new();
        for (path, message) in self.spec.schemas.validate(schema, example) {
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
pub fn json_pointer(path: &str) -> String {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::docs_check::compare::compare;
    use crate::docs_check::compare::difference::{Kind, Place};
    use crate::docs_check::rendering::{parse_page, render, snapshot, spec, LANGS};

    /// A deviation acknowledges its kind only: the page's card_status carries
    /// acknowledged `type` and `extra-values` differences, and a status the
    /// page adds is still reported.
    #[test]
    fn a_deviation_does_not_hide_another_kind_of_difference_at_its_field() {
        let spec = spec();
        let text = snapshot("assign-card.txt");
        for lang in LANGS {
            let rendered = render(&text, lang);
            let page = parse_page(&rendered, "assign-card");
            let base = compare(&spec, &page);
            let kinds: BTreeSet<Kind> = base
                .acknowledged
                .iter()
                .filter(|a| {
                    a.difference.field == "card_status" && a.difference.place == Place::Response
                })
                .map(|a| a.difference.kind)
                .collect();
            assert_eq!(kinds, BTreeSet::from([Kind::Type, Kind::ExtraValues]));
            let changed = rendered.replacen("STOLEN,\n", "STOLEN,\nSUSPENDED,\n", 1);
            assert_ne!(changed, rendered);
            let report = compare(&spec, &parse_page(&changed, "assign-card"));
            assert_eq!(report.differences.len(), 1, "{:#?}", report.differences);
            let line = report.differences[0].to_string();
            assert_eq!(
                line,
                "assign_card (POST /v1/issuing/cards/assign): response card_status: enum value only on the page: \
                 page SUSPENDED (of PENDING, ACTIVE, FROZEN, BLOCKED, CANCELLED, LOST, STOLEN, SUSPENDED, FAILED); \
                 spec PENDING, ACTIVE, FROZEN, BLOCKED, PRE_CANCEL, CANCELLED, LOST, STOLEN, FAILED"
            );
        }
    }

    /// A deviation names what the page says: when the page says something
    /// else at that field, the difference is reported again.
    #[test]
    fn a_deviation_acknowledges_only_what_the_page_said() {
        let spec = spec();
        let text = snapshot("assign-card.txt");
        for lang in LANGS {
            let rendered = render(&text, lang);
            let base = compare(&spec, &parse_page(&rendered, "assign-card"));
            // The spec's 64 is acknowledged against a page that states no limit...
            assert!(base
                .acknowledged
                .iter()
                .any(|a| a.difference.field == "x-on-behalf-of"
                    && a.difference.kind == Kind::MaxLength));
            // ...not against a page that states another one.
            let changed = rendered.replacen(
                "x-on-behalf-of\nstring\n",
                "x-on-behalf-of\nstring\n\nMaximum string length: 40\n",
                1,
            );
            assert_ne!(changed, rendered);
            let report = compare(&spec, &parse_page(&changed, "assign-card"));
            let found: Vec<String> = report.differences.iter().map(ToString::to_string).collect();
            assert_eq!(
                found,
                ["assign_card (POST /v1/issuing/cards/assign): header x-on-behalf-of: maximum length: page 40; spec 64"]
            );
        }
    }

    /// Nested fields shown with their parent's path are compared too.
    #[test]
    fn expanded_child_attributes_are_compared() {
        let spec = spec();
        let text = snapshot("update-card.txt");
        let children = "risk_controls\nobject\n\nUser-customized risk control settings.\n\nShow child attributes\n\n\
                        risk_controls.enable_3ds\nenum<string>\n\nEnable 3DS.\n\nAvailable options: Y, N\n\n\
                        risk_controls.allow_3ds_transactions\nenum<string>\n\nAvailable options: Y, N\n\n\
                        risk_controls.allowed_mcc\nstring[] | null\n\nAllowed MCCs.\n\n\
                        risk_controls.blocked_mcc\nstring[]\n\nBlocked MCCs.\n\n";
        let expanded = text.replacen("risk_controls\nobject\n", children, 1);
        assert_ne!(expanded, text);
        for lang in LANGS {
            let report = compare(&spec, &parse_page(&render(&expanded, lang), "update-card"));
            let found: Vec<String> = report.differences.iter().map(ToString::to_string).collect();
            assert_eq!(
                found,
                ["update_card (POST /v1/issuing/cards/{id}): request body risk_controls.blocked_mcc: type: page string[]; spec string[] | null"],
            );
        }
    }

    #[test]
    fn json_pointers_of_field_paths() {
        assert_eq!(
            super::json_pointer("risk_controls.blocked_mcc[0]"),
            "/risk_controls/blocked_mcc/0"
        );
        assert_eq!(super::json_pointer("a[1][2]"), "/a/1/2");
    }
}
