//! For the tests: the snapshots in `spec/docs/` and the spec, and each
//! page rendered in either label language (Chinese, as UQPay's zh pages are
//! copied; English, as the en pages are, with the zero-width anchor lines
//! Mintlify puts before each field).

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::docs_check::compare::difference::{Kind, Place, Report};
use crate::docs_check::compare::spec::Spec;
use crate::docs_check::page::labels::is_type_label;
use crate::docs_check::page::model::Page;
use crate::docs_check::page::parse;
use crate::docs_check::snapshots;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Chinese,
    English,
}

pub const LANGS: [Lang; 2] = [Lang::Chinese, Lang::English];

/// Labels that make up a whole line: (Chinese, English).
pub const LINE_LABELS: &[(&str, &str)] = &[
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
pub const PREFIX_LABELS: &[(&str, &str)] = &[
    ("必填范围:", "Required range:"),
    ("示例:", "Example:"),
    ("可用选项:", "Available options:"),
];

pub fn label(lang: Lang, english: &str) -> &'static str {
    LINE_LABELS
        .iter()
        .chain(PREFIX_LABELS)
        .find(|(_, en)| *en == english)
        .map(|(zh, en)| if lang == Lang::Chinese { *zh } else { *en })
        .unwrap_or_else(|| panic!("no label {english}"))
}

/// The page with its labels in `lang` (descriptions untouched). English
/// pages also get Mintlify's zero-width anchor line before each field.
pub fn render(text: &str, lang: Lang) -> String {
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

/// The workspace root.
pub fn root() -> PathBuf {
    uqpay_codegen::workspace_root()
}

/// The spec, loaded.
pub fn spec() -> Spec {
    Spec::load(&root().join(uqpay_codegen::SPEC_PATH)).expect("the spec loads")
}

/// The text of the snapshot `name` (`update-card.txt`).
pub fn snapshot(name: &str) -> String {
    std::fs::read_to_string(root().join("spec/docs").join(name)).unwrap()
}

/// Every snapshot: (file name, text).
pub fn pages() -> Vec<(String, String)> {
    let files = snapshots(&root()).expect("spec/docs/ lists");
    assert!(files.len() >= 10, "snapshots: {files:?}");
    files
        .into_iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

/// The page `text` (called `what` if it does not read).
pub fn parse_page(text: &str, what: &str) -> Page {
    parse(text).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"))
}

/// (place, field, kind) of each acknowledged difference.
pub fn acknowledged(report: &Report) -> BTreeSet<(Place, String, Kind)> {
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
