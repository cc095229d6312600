//! `docs-check` against the snapshots in spec/docs/: every snapshot, in both
//! label languages (Chinese, as UQPay's zh pages are copied; English, as the
//! en pages are, with the zero-width anchor lines Mintlify puts before each
//! field), reads the same and agrees with the spec; each kind of drift,
//! made to each snapshot where it applies, is reported as exactly that one
//! difference, with the field named; a page that is not an endpoint page is
//! exit 2.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use uqpay_codegen::docs::{compare, run, snapshots, Kind, Place, Report, Spec};
use uqpay_codegen::page::{self, is_type_label, Field, Page, Target};
use uqpay_codegen::{workspace_root, SPEC_PATH};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lang {
    Chinese,
    English,
}

const LANGS: [Lang; 2] = [Lang::Chinese, Lang::English];

/// Labels that make up a whole line: (Chinese, English).
const LINE_LABELS: &[(&str, &str)] = &[
    ("跳转到主要内容", "Skip to main content"),
    ("授权", "Authorizations"),
    ("请求头", "Headers"),
    ("路径参数", "Path Parameters"),
    ("查询参数", "Query Parameters"),
    ("请求体", "Body"),
    ("响应", "Response"),
    ("必填", "required"),
];

/// Labels that start a line.
const PREFIX_LABELS: &[(&str, &str)] = &[
    ("必填范围:", "Required range:"),
    ("示例:", "Example:"),
    ("可用选项:", "Available options:"),
];

fn label(lang: Lang, english: &str) -> &'static str {
    LINE_LABELS
        .iter()
        .chain(PREFIX_LABELS)
        .find(|(_, en)| *en == english)
        .map(|(zh, en)| if lang == Lang::Chinese { *zh } else { *en })
        .unwrap_or_else(|| panic!("no label {english}"))
}

/// The page with its labels in `lang` (descriptions untouched). English
/// pages also get Mintlify's zero-width anchor line before each field.
fn render(text: &str, lang: Lang) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let mut rendered = line.to_string();
        if let Some(pair) = LINE_LABELS
            .iter()
            .find(|(zh, en)| trimmed == *zh || trimmed == *en)
        {
            rendered = if lang == Lang::Chinese {
                pair.0
            } else {
                pair.1
            }
            .to_owned();
        } else if let Some((pair, rest)) = PREFIX_LABELS.iter().find_map(|pair| {
            trimmed
                .strip_prefix(pair.0)
                .or_else(|| trimmed.strip_prefix(pair.1))
                .map(|rest| (pair, rest))
        }) {
            let label = if lang == Lang::Chinese {
                pair.0
            } else {
                pair.1
            };
            rendered = format!("{label}{rest}");
        }
        let starts_field = !trimmed.is_empty()
            && !trimmed.contains(' ')
            && lines.get(i + 1).is_some_and(|next| is_type_label(next));
        if lang == Lang::English && starts_field {
            out.push("\u{200B}".to_owned());
        }
        out.push(rendered);
    }
    out.join("\n") + "\n"
}

fn spec() -> Spec {
    Spec::load(&workspace_root().join(SPEC_PATH)).expect("the spec loads")
}

fn pages() -> Vec<(String, String)> {
    let files = snapshots(&workspace_root()).expect("spec/docs/ lists");
    assert!(files.len() >= 10, "snapshots: {files:?}");
    files
        .into_iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

fn parse(text: &str, what: &str) -> Page {
    page::parse(text).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"))
}

/// (place, field, kind) of each acknowledged difference.
fn acknowledged(report: &Report) -> BTreeSet<(Place, String, Kind)> {
    report
        .acknowledged
        .iter()
        .map(|a| {
            (
                a.difference.place,
                a.difference.field.clone(),
                a.difference.kind,
            )
        })
        .collect()
}

#[test]
fn every_snapshot_reads_the_same_in_both_languages_and_agrees_with_the_spec() {
    let spec = spec();
    for (name, text) in pages() {
        let chinese = parse(&render(&text, Lang::Chinese), &name);
        let english = parse(&render(&text, Lang::English), &name);
        assert_eq!(
            chinese, english,
            "{name}: the two renderings read differently"
        );
        assert!(
            chinese.body.is_some() || !chinese.responses.is_empty(),
            "{name}: no body and no response read"
        );
        let report = compare(&spec, &chinese);
        assert!(
            report.differences.is_empty(),
            "{name}: {:#?}",
            report.differences
        );
        assert!(!report.covers.is_empty(), "{name} covers no operation");
    }
}

#[test]
fn the_endpoint_pages_read_as_their_operations() {
    let text = std::fs::read_to_string(workspace_root().join("spec/docs/update-card.txt")).unwrap();
    for lang in LANGS {
        let page = parse(&render(&text, lang), "update-card");
        assert_eq!(
            page.target,
            Target::Endpoint {
                method: "POST".into(),
                path: "/v1/issuing/cards/{id}".into()
            }
        );
        assert_eq!(page.title.as_deref(), Some("Update Card"));
        assert_eq!(page.authorizations[0].name, "x-auth-token");
        assert_eq!(page.authorizations[0].location.as_deref(), Some("header"));
        let headers: Vec<(&str, &str, bool)> = page
            .headers
            .iter()
            .map(|h| (h.name.as_str(), h.type_label.as_str(), h.required))
            .collect();
        assert_eq!(
            headers,
            [
                ("x-on-behalf-of", "string", false),
                ("x-idempotency-key", "string<uuid>", true)
            ]
        );
        let body = page.body.as_ref().unwrap();
        assert_eq!(body.media_type.as_deref(), Some("application/json"));
        let field = |name: &str| body.fields.iter().find(|f| f.name == name).unwrap();
        assert_eq!(field("name_on_card").max_length, Some(26));
        assert_eq!(
            field("card_limit").range.as_ref().unwrap().to_string(),
            "x >= 0"
        );
        assert_eq!(
            field("card_limit").example,
            Some(serde_json::json!(2100.02))
        );
        assert_eq!(field("spending_controls").type_label, "object[]");
        assert_eq!(
            field("metadata").example,
            Some(serde_json::json!({"key1": "value1", "key2": "value2"}))
        );
        let data = page.request_example.as_ref().unwrap();
        assert_eq!(
            data["risk_controls"]["blocked_mcc"],
            serde_json::json!(["5999", "6011"])
        );
        assert_eq!(
            page.response_example.as_ref().unwrap()["order_status"],
            "SUCCESS"
        );
        let response = &page.responses[0];
        assert_eq!(response.status, "200");
        let order_status = response
            .fields
            .iter()
            .find(|f| f.name == "order_status")
            .unwrap();
        assert_eq!(
            order_status.options,
            ["PENDING", "PROCESSING", "SUCCESS", "FAILED"]
        );
        assert!(order_status.required);
    }
}

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
            let page = parse(&rendered, &name);
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
                let changed = parse(&drift.text, &what);
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

/// A deviation acknowledges its kind only: the page's card_status carries
/// acknowledged `type` and `extra-values` differences, and a status the
/// page adds is still reported.
#[test]
fn a_deviation_does_not_hide_another_kind_of_difference_at_its_field() {
    let spec = spec();
    let text = std::fs::read_to_string(workspace_root().join("spec/docs/assign-card.txt")).unwrap();
    for lang in LANGS {
        let rendered = render(&text, lang);
        let page = parse(&rendered, "assign-card");
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
        let report = compare(&spec, &parse(&changed, "assign-card"));
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
    let text = std::fs::read_to_string(workspace_root().join("spec/docs/assign-card.txt")).unwrap();
    for lang in LANGS {
        let rendered = render(&text, lang);
        let base = compare(&spec, &parse(&rendered, "assign-card"));
        // The spec's 64 is acknowledged against a page that states no limit...
        assert!(base.acknowledged.iter().any(
            |a| a.difference.field == "x-on-behalf-of" && a.difference.kind == Kind::MaxLength
        ));
        // ...not against a page that states another one.
        let changed = rendered.replacen(
            "x-on-behalf-of\nstring\n",
            "x-on-behalf-of\nstring\n\nMaximum string length: 40\n",
            1,
        );
        assert_ne!(changed, rendered);
        let report = compare(&spec, &parse(&changed, "assign-card"));
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
    let text = std::fs::read_to_string(workspace_root().join("spec/docs/update-card.txt")).unwrap();
    let children = "risk_controls\nobject\n\nUser-customized risk control settings.\n\nShow child attributes\n\n\
                    risk_controls.enable_3ds\nenum<string>\n\nEnable 3DS.\n\nAvailable options: Y, N\n\n\
                    risk_controls.allow_3ds_transactions\nenum<string>\n\nAvailable options: Y, N\n\n\
                    risk_controls.allowed_mcc\nstring[] | null\n\nAllowed MCCs.\n\n\
                    risk_controls.blocked_mcc\nstring[]\n\nBlocked MCCs.\n\n";
    let expanded = text.replacen("risk_controls\nobject\n", children, 1);
    assert_ne!(expanded, text);
    for lang in LANGS {
        let report = compare(&spec, &parse(&render(&expanded, lang), "update-card"));
        let found: Vec<String> = report.differences.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            ["update_card (POST /v1/issuing/cards/{id}): request body risk_controls.blocked_mcc: type: page string[]; spec string[] | null"],
        );
    }
}

// ---------------------------------------------------------------------------
// The command's exit codes

fn run_on(pages: &[PathBuf], spec_path: &Path) -> (u8, String) {
    let mut out = Vec::new();
    let code = run(&workspace_root(), spec_path, pages, &mut out);
    (code, String::from_utf8(out).unwrap())
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("docs-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn unchanged_snapshots_exit_0_and_list_the_acknowledged_deviations() {
    let (code, out) = run_on(&[], &workspace_root().join(SPEC_PATH));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 difference(s)"), "{out}");
    let acknowledged = out
        .lines()
        .filter(|l| l.contains(": acknowledged: "))
        .count();
    assert!(acknowledged > 20, "{out}");
    assert!(out.contains(
        "spec/docs/assign-card.txt: acknowledged: assign_card (POST /v1/issuing/cards/assign): header x-on-behalf-of: maximum length: page none; spec 64 -- "
    ), "{out}");
    assert!(
        !out.contains("note: no page"),
        "every operation and event has a page: {out}"
    );
}

#[test]
fn a_drifted_page_exits_1_with_one_line_naming_the_field_and_both_values() {
    let text = std::fs::read_to_string(workspace_root().join("spec/docs/update-card.txt")).unwrap();
    let drifted = text.replacen("Maximum string length: 26", "Maximum string length: 24", 1);
    assert_ne!(drifted, text);
    for lang in LANGS {
        let page = temp(
            &format!("update-card-{lang:?}.txt"),
            &render(&drifted, lang),
        );
        let (code, out) = run_on(
            std::slice::from_ref(&page),
            &workspace_root().join(SPEC_PATH),
        );
        assert_eq!(code, 1, "{out}");
        let differences: Vec<&str> = out
            .lines()
            .filter(|l| !l.contains("acknowledged") && !l.starts_with("docs-check:"))
            .collect();
        assert_eq!(
            differences,
            [format!(
                "{}: update_card (POST /v1/issuing/cards/{{id}}): request body name_on_card: maximum length: page 24; spec 26",
                page.display()
            )],
            "{out}"
        );
    }
}

#[test]
fn a_page_that_is_not_an_endpoint_page_exits_2_naming_the_file() {
    let notes = temp(
        "notes.txt",
        "# Updates to the notes\n\nNo machine-readable spec is published.\n",
    );
    let (code, out) = run_on(
        std::slice::from_ref(&notes),
        &workspace_root().join(SPEC_PATH),
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!(
            "{}: cannot read the page: not an endpoint page",
            notes.display()
        )),
        "{out}"
    );
    // The docs' own README is no page either; a missing file neither.
    let readme = workspace_root().join("spec/docs/README.md");
    assert_eq!(run_on(&[readme], &workspace_root().join(SPEC_PATH)).0, 2);
    let (code, out) = run_on(
        &[PathBuf::from("/nonexistent/page.txt")],
        &workspace_root().join(SPEC_PATH),
    );
    assert_eq!(code, 2);
    assert!(
        out.contains("/nonexistent/page.txt: cannot read the page"),
        "{out}"
    );
    // A header whose path disagrees with the curl URL.
    let text = std::fs::read_to_string(workspace_root().join("spec/docs/assign-card.txt")).unwrap();
    let broken = temp(
        "broken.txt",
        &text.replacen("cards/assign \\", "cards/assigned \\", 1),
    );
    let (code, out) = run_on(&[broken], &workspace_root().join(SPEC_PATH));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("curl --url"), "{out}");
}

#[test]
fn a_deviation_no_page_shows_any_more_fails_the_full_check() {
    let text = std::fs::read_to_string(workspace_root().join(SPEC_PATH)).unwrap();
    let anchor = "    CardMode:\n      type: string\n";
    assert!(text.contains(anchor));
    let stale = text.replacen(
        anchor,
        "    CardMode:\n      type: string\n      x-docs-deviation:\n        max-length:\n          none: no page shows this\n",
        1,
    );
    let spec = temp("stale.yaml", &stale);
    let (code, out) = run_on(&[], &spec);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("x-docs-deviation at /components/schemas/CardMode: acknowledges a `max-length none` difference that no page shows"), "{out}");
    // A malformed deviation makes the spec unusable.
    let malformed = temp(
        "malformed.yaml",
        &text.replacen(
            anchor,
            "    CardMode:\n      type: string\n      x-docs-deviation: just a reason\n",
            1,
        ),
    );
    let (code, out) = run_on(&[], &malformed);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("must be a map from the kind of difference"),
        "{out}"
    );
}

/// The examples are really validated: a value of the wrong type deep in the
/// request example is reported at its path.
#[test]
fn nested_example_values_are_validated() {
    let spec = spec();
    let text = std::fs::read_to_string(workspace_root().join("spec/docs/update-card.txt")).unwrap();
    let changed = text.replacen("      \"5999\",", "      \"59990\",", 1);
    assert_ne!(changed, text);
    let report = compare(&spec, &parse(&changed, "update-card"));
    let found: Vec<(Place, &str, Kind)> = report
        .differences
        .iter()
        .map(|d| (d.place, d.field.as_str(), d.kind))
        .collect();
    assert_eq!(
        found,
        [(
            Place::RequestExample,
            "risk_controls.blocked_mcc[0]",
            Kind::Example
        )],
        "{:#?}",
        report.differences
    );
    let _: &Value = page::parse(&changed)
        .unwrap()
        .request_example
        .as_ref()
        .unwrap();
}
