//! Each kind of drift, made to each snapshot where it applies, in both
//! label languages, is reported as exactly that one difference, with the
//! field named.

use std::collections::BTreeSet;

use crate::docs_check::compare::compare;
use crate::docs_check::compare::difference::{Kind, Place};
use crate::docs_check::page::labels::is_type_label;
use crate::docs_check::page::model::{Field, Page, Target};
use crate::docs_check::rendering::{
    acknowledged, label, pages, parse_page, render, spec, Lang, LANGS, LINE_LABELS,
};

// ---------------------------------------------------------------------------
// Drift, one kind at a time

/// A page section, as the test finds it in the text.
#[derive(Clone, Copy, Debug)]
enum Section {
    Authorizations,
    Headers,
    Path,
    Body,
    Response,
}

impl Section {
    fn heading(self, lang: Lang) -> &'static str {
        label(
            lang,
            match self {
                Section::Authorizations => "Authorizations",
                Section::Headers => "Headers",
                Section::Path => "Path Parameters",
                Section::Body => "Body",
                Section::Response => "Response",
            },
        )
    }

    fn fields(self, page: &Page) -> Vec<Field> {
        match self {
            Section::Authorizations => page.authorizations.clone(),
            Section::Headers => page.headers.clone(),
            Section::Path => page.path_parameters.clone(),
            Section::Body => page
                .body
                .as_ref()
                .map(|b| b.fields.clone())
                .unwrap_or_default(),
            Section::Response => page
                .responses
                .first()
                .map(|r| r.fields.clone())
                .unwrap_or_default(),
        }
    }

    fn place(self, page: &Page) -> Place {
        match (self, &page.target) {
            (Section::Authorizations, _) => Place::Authorization,
            (Section::Headers, _) => Place::Header,
            (Section::Path, _) => Place::Path,
            (Section::Body, Target::Webhook { .. }) => Place::Payload,
            (Section::Body, _) => Place::Request,
            (Section::Response, _) => Place::Response,
        }
    }
}

const ALL_SECTIONS: [Section; 5] = [
    Section::Body,
    Section::Response,
    Section::Headers,
    Section::Path,
    Section::Authorizations,
];

fn is_heading(line: &str) -> bool {
    let line = line.trim();
    LINE_LABELS[1..7]
        .iter()
        .any(|(zh, en)| line == *zh || line == *en)
}

fn starts_field(lines: &[String], i: usize) -> bool {
    let line = lines[i].trim();
    !line.is_empty()
        && !line.contains(' ')
        && !is_heading(line)
        && lines.get(i + 1).is_some_and(|next| is_type_label(next))
}

/// The lines `[start, end)` of field `name` in `section`.
fn field_block(lines: &[String], section: Section, lang: Lang, name: &str) -> (usize, usize) {
    let heading = lines
        .iter()
        .position(|l| l.trim() == section.heading(lang))
        .unwrap_or_else(|| panic!("no {section:?} heading"));
    let start = (heading + 1..lines.len())
        .find(|&i| lines[i].trim() == name && starts_field(lines, i))
        .unwrap_or_else(|| panic!("no field {name} in {section:?}"));
    let end = (start + 2..lines.len())
        .find(|&i| starts_field(lines, i) || is_heading(&lines[i]))
        .unwrap_or(lines.len());
    (start, end)
}

/// One mutation of a page, and the one difference it must cause.
struct Drift {
    what: &'static str,
    text: String,
    place: Place,
    field: String,
    kind: Kind,
}

fn lines_of(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn joined(lines: &[String]) -> String {
    lines.join("\n") + "\n"
}

/// Whether the unchanged page already differs from the spec in `kind` at
/// that field (then the mutation would be acknowledged or undo it).
fn has(baseline: &BTreeSet<(Place, String, Kind)>, place: Place, field: &str, kind: Kind) -> bool {
    baseline.contains(&(place, field.to_owned(), kind))
}

/// Finds the first field, in the sections' order, that `pick` accepts.
fn pick(
    page: &Page,
    sections: &[Section],
    mut accept: impl FnMut(Place, &Field) -> bool,
) -> Option<(Section, Field)> {
    for &section in sections {
        let place = section.place(page);
        if let Some(field) = section.fields(page).into_iter().find(|f| accept(place, f)) {
            return Some((section, field));
        }
    }
    None
}

const NEW_FIELD: &str = "docs_check_new_field";

/// Every drift that applies to the page `text` (in `lang`).
fn drifts(
    text: &str,
    lang: Lang,
    page: &Page,
    baseline: &BTreeSet<(Place, String, Kind)>,
) -> Vec<Drift> {
    let lines = lines_of(text);
    let mut out = Vec::new();
    let required = label(lang, "required");

    // A field on the page only (body or response).
    if let Some((section, field)) = pick(page, &[Section::Body, Section::Response], |_, _| true) {
        let (start, _) = field_block(&lines, section, lang, &field.name);
        let mut l = lines.clone();
        l.splice(
            start..start,
            [
                NEW_FIELD.to_owned(),
                "string".into(),
                String::new(),
                "A field the spec does not have.".into(),
                String::new(),
            ],
        );
        out.push(Drift {
            what: "field only on the page",
            text: joined(&l),
            place: section.place(page),
            field: NEW_FIELD.into(),
            kind: Kind::OnlyOnPage,
        });
    }
    // A field in the spec only: the page drops one.
    if let Some((section, field)) = pick(page, &[Section::Body, Section::Response], |place, f| {
        !has(baseline, place, &f.name, Kind::OnlyInSpec)
    }) {
        let (start, end) = field_block(&lines, section, lang, &field.name);
        let mut l = lines.clone();
        l.drain(start..end);
        out.push(Drift {
            what: "field only in the spec",
            text: joined(&l),
            place: section.place(page),
            field: field.name,
            kind: Kind::OnlyInSpec,
        });
    }
    // A header on the page only, and one in the spec only.
    if !page.headers.is_empty() {
        let (start, _) = field_block(&lines, Section::Headers, lang, &page.headers[0].name);
        let mut l = lines.clone();
        l.splice(
            start..start,
            [
                "x-docs-check".to_owned(),
                "string".into(),
                String::new(),
                "A header the spec does not have.".into(),
                String::new(),
            ],
        );
        out.push(Drift {
            what: "header only on the page",
            text: joined(&l),
            place: Place::Header,
            field: "x-docs-check".into(),
            kind: Kind::OnlyOnPage,
        });
        let header = page.headers.last().unwrap();
        let (start, end) = field_block(&lines, Section::Headers, lang, &header.name);
        let mut l = lines.clone();
        l.drain(start..end);
        out.push(Drift {
            what: "header only in the spec",
            text: joined(&l),
            place: Place::Header,
            field: header.name.clone(),
            kind: Kind::OnlyInSpec,
        });
    }
    // A parameter on the page only (a new query parameter), and one in the spec only.
    if let Target::Endpoint { .. } = page.target {
        let at = lines
            .iter()
            .position(|l| {
                l.trim() == Section::Response.heading(lang)
                    || l.trim() == Section::Body.heading(lang)
            })
            .expect("a body or response heading");
        let mut l = lines.clone();
        l.splice(
            at..at,
            [
                label(lang, "Query Parameters").to_owned(),
                String::new(),
                "page_size".into(),
                "integer".into(),
                String::new(),
                "A parameter the spec does not have.".into(),
                String::new(),
            ],
        );
        out.push(Drift {
            what: "parameter only on the page",
            text: joined(&l),
            place: Place::Query,
            field: "page_size".into(),
            kind: Kind::OnlyOnPage,
        });
    }
    if let Some(param) = page.path_parameters.first() {
        let (start, end) = field_block(&lines, Section::Path, lang, &param.name);
        let mut l = lines.clone();
        l.drain(start..end);
        out.push(Drift {
            what: "parameter only in the spec",
            text: joined(&l),
            place: Place::Path,
            field: param.name.clone(),
            kind: Kind::OnlyInSpec,
        });
    }
    // The type changed.
    if let Some((section, field)) = pick(page, &ALL_SECTIONS, |place, f| {
        !f.type_label.contains('<') && !has(baseline, place, &f.name, Kind::Type)
    }) {
        let (start, _) = field_block(&lines, section, lang, &field.name);
        let mut l = lines.clone();
        l[start + 1] = if field.type_label == "string" {
            "boolean"
        } else {
            "string"
        }
        .into();
        out.push(Drift {
            what: "type changed",
            text: joined(&l),
            place: section.place(page),
            field: field.name,
            kind: Kind::Type,
        });
    }
    // The format changed.
    if let Some((section, field)) = pick(page, &ALL_SECTIONS, |place, f| {
        f.type_label.contains('<')
            && !f.type_label.starts_with("enum")
            && !has(baseline, place, &f.name, Kind::Type)
    }) {
        let (start, _) = field_block(&lines, section, lang, &field.name);
        let mut l = lines.clone();
        l[start + 1] = field.type_label.split('<').next().unwrap().to_owned();
        out.push(Drift {
            what: "format changed",
            text: joined(&l),
            place: section.place(page),
            field: field.name,
            kind: Kind::Type,
        });
    }
    // Required changed.
    if let Some((section, field)) = pick(page, &ALL_SECTIONS, |place, f| {
        !has(baseline, place, &f.name, Kind::Required)
    }) {
        let (start, end) = field_block(&lines, section, lang, &field.name);
        let mut l = lines.clone();
        if field.required {
            let at = (start + 2..end)
                .find(|&i| l[i].trim() == required)
                .expect("the required line");
            l.remove(at);
        } else {
            let after_type = start + 2;
            let at = if field.location.is_some() {
                after_type + 1
            } else {
                after_type
            };
            l.insert(at, required.to_owned());
        }
        out.push(Drift {
            what: "required changed",
            text: joined(&l),
            place: section.place(page),
            field: field.name,
            kind: Kind::Required,
        });
    }
    // An enum value added, and one removed.
    let options_label = label(lang, "Available options:");
    // (Values are acknowledged one by one: a new value is reported even
    // beside acknowledged ones.)
    if let Some((section, field)) = pick(page, &ALL_SECTIONS, |_, f| !f.options.is_empty()) {
        let (start, end) = field_block(&lines, section, lang, &field.name);
        let mut l = lines.clone();
        let at = (start..end)
            .find(|&i| l[i].trim().starts_with(options_label))
            .expect("the options line");
        l.insert(at + 1, "DOCS_CHECK_VALUE,".into());
        out.push(Drift {
            what: "enum value added",
            text: joined(&l),
            place: section.place(page),
            field: field.name,
            kind: Kind::MissingValues,
        });
    }
    if let Some((section, field)) = pick(page, &ALL_SECTIONS, |place, f| {
        // Every option of the page is the spec's too (none acknowledged as
        // only on the page), so the removed one is left only in the spec.
        f.options.len() > 1 && !has(baseline, place, &f.name, Kind::MissingValues)
    }) {
        let (start, end) = field_block(&lines, section, lang, &field.name);
        let mut l = lines.clone();
        let at = (start..end)
            .find(|&i| l[i].trim().starts_with(options_label))
            .expect("the options line");
        assert!(l[at + 1].trim().ends_with(','), "one option a line");
        l.remove(at + 1);
        out.push(Drift {
            what: "enum value removed",
            text: joined(&l),
            place: section.place(page),
            field: field.name,
            kind: Kind::ExtraValues,
        });
    }
    // The maximum length changed.
    if let Some((section, field)) = pick(page, &ALL_SECTIONS, |place, f| {
        f.max_length.is_some_and(|m| m > 1) && !has(baseline, place, &f.name, Kind::MaxLength)
    }) {
        let (start, end) = field_block(&lines, section, lang, &field.name);
        let mut l = lines.clone();
        let at = (start..end)
            .find(|&i| l[i].trim().starts_with("Maximum string length:"))
            .expect("the length line");
        l[at] = format!("Maximum string length: {}", field.max_length.unwrap() - 1);
        out.push(Drift {
            what: "maximum length changed",
            text: joined(&l),
            place: section.place(page),
            field: field.name,
            kind: Kind::MaxLength,
        });
    }
    // The range changed.
    let range_label = label(lang, "Required range:");
    if let Some((section, field)) = pick(page, &ALL_SECTIONS, |place, f| {
        f.range.is_some() && !has(baseline, place, &f.name, Kind::Range)
    }) {
        let (start, end) = field_block(&lines, section, lang, &field.name);
        let mut l = lines.clone();
        let at = (start..end)
            .find(|&i| l[i].trim().starts_with(range_label))
            .expect("the range line");
        let new = if field.range.as_ref().unwrap().to_string() == "x >= 7" {
            "x >= 8"
        } else {
            "x >= 7"
        };
        l[at] = format!("{range_label} {new}");
        out.push(Drift {
            what: "range changed",
            text: joined(&l),
            place: section.place(page),
            field: field.name,
            kind: Kind::Range,
        });
    }
    // The request example (or webhook payload) and the response example,
    // each with one value the spec's schema refuses.
    let webhook = matches!(page.target, Target::Webhook { .. });
    let data_at = lines.iter().position(|l| l.contains("--data"));
    let first_object = |from: usize| (from..lines.len()).find(|&i| lines[i] == "{");
    let request_block = match (webhook, data_at) {
        (true, _) => first_object(0),
        (false, Some(at)) => first_object(at),
        (false, None) => None,
    }
    .map(|start| {
        (
            start,
            (start..lines.len()).find(|&i| lines[i] == "}").unwrap() + 1,
        )
    });
    let response_block = if webhook {
        None
    } else {
        let from = request_block.map_or_else(
            || {
                lines
                    .iter()
                    .position(|l| l.trim_start().starts_with("curl"))
                    .unwrap()
            },
            |(_, end)| end,
        );
        first_object(from).map(|start| {
            (
                start,
                (start..lines.len()).find(|&i| lines[i] == "}").unwrap() + 1,
            )
        })
    };
    for (block, example, section, place, what) in [
        (
            request_block,
            &page.request_example,
            Section::Body,
            if webhook {
                Place::PayloadExample
            } else {
                Place::RequestExample
            },
            "request example refused",
        ),
        (
            response_block,
            &page.response_example,
            Section::Response,
            Place::ResponseExample,
            "response example refused",
        ),
    ] {
        let (Some((start, end)), Some(example)) = (block, example) else {
            continue;
        };
        let fields = section.fields(page);
        // A top-level value whose page type is plain: swap its JSON type.
        let Some((key, value)) = example
            .as_object()
            .unwrap()
            .iter()
            .find_map(|(key, value)| {
                let field = fields.iter().find(|f| &f.name == key)?;
                let label = field.type_label.as_str();
                let plain = ["string", "number", "integer", "boolean", "enum"]
                    .iter()
                    .any(|t| label.starts_with(t));
                plain.then(|| {
                    let swapped = if value.is_string() {
                        serde_json::json!(12345)
                    } else {
                        serde_json::json!("docs-check")
                    };
                    (key.clone(), swapped)
                })
            })
        else {
            continue;
        };
        let mut changed = example.clone();
        changed[&key] = value;
        let mut l = lines.clone();
        l.splice(
            start..end,
            serde_json::to_string_pretty(&changed)
                .unwrap()
                .lines()
                .map(str::to_owned),
        );
        out.push(Drift {
            what,
            text: joined(&l),
            place,
            field: key,
            kind: Kind::Example,
        });
    }
    out
}

#[test]
fn each_kind_of_drift_is_reported_as_exactly_that_difference_in_both_languages() {
    let spec = spec();
    let mut applied: BTreeSet<&'static str> = BTreeSet::new();
    let mut count = 0;
    for (name, text) in pages() {
        for lang in LANGS {
            let rendered = render(&text, lang);
            let page = parse_page(&rendered, &name);
            let base = compare(&spec, &page);
            assert!(
                base.differences.is_empty(),
                "{name}: {:#?}",
                base.differences
            );
            let baseline = acknowledged(&base);
            let drifts = drifts(&rendered, lang, &page, &baseline);
            assert!(
                drifts.len() >= 5,
                "{name} ({lang:?}): only {} drifts apply",
                drifts.len()
            );
            for drift in drifts {
                let what = format!("{name} ({lang:?}), {}", drift.what);
                let changed = parse_page(&drift.text, &what);
                assert_ne!(
                    changed, page,
                    "{what}: the mutation changed nothing the reader sees"
                );
                let report = compare(&spec, &changed);
                let found: Vec<(Place, &str, Kind)> = report
                    .differences
                    .iter()
                    .map(|d| (d.place, d.field.as_str(), d.kind))
                    .collect();
                assert_eq!(
                    found,
                    [(drift.place, drift.field.as_str(), drift.kind)],
                    "{what}: {:#?}",
                    report.differences
                );
                let difference = &report.differences[0];
                let line = difference.to_string();
                assert!(line.contains(&report.operation), "{what}: {line}");
                assert!(line.contains(&drift.field), "{what}: {line}");
                assert!(
                    line.contains("page ") && line.contains("; spec "),
                    "{what}: {line}"
                );
                // No acknowledged difference appears; only those of the
                // mutated field may go.
                let now = acknowledged(&report);
                assert!(now.is_subset(&baseline), "{what}: {now:?}");
                for gone in baseline.difference(&now) {
                    assert_eq!(gone.1, drift.field, "{what}: {gone:?} went");
                }
                applied.insert(drift.what);
                count += 1;
            }
        }
    }
    for what in [
        "field only on the page",
        "field only in the spec",
        "header only on the page",
        "header only in the spec",
        "parameter only on the page",
        "parameter only in the spec",
        "type changed",
        "format changed",
        "required changed",
        "enum value added",
        "enum value removed",
        "maximum length changed",
        "range changed",
        "request example refused",
        "response example refused",
    ] {
        assert!(applied.contains(what), "no snapshot had the drift {what}");
    }
    assert!(count > 150, "only {count} drifts checked");
}
