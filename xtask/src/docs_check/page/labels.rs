//! The words a page is read by, in both label languages: section headings,
//! labelled lines (`Example:` / `示例:`), the `required` marker, type
//! labels, field names; and the page's text as lines, invisible characters
//! removed.

/// A section of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Authorizations,
    Headers,
    Path,
    Query,
    Body,
    Response,
    Other,
}

/// The section headings, in both label languages.
const SECTIONS: &[(&str, Section)] = &[
    ("authorizations", Section::Authorizations),
    ("authorization", Section::Authorizations),
    ("授权", Section::Authorizations),
    ("headers", Section::Headers),
    ("请求头", Section::Headers),
    ("path parameters", Section::Path),
    ("路径参数", Section::Path),
    ("query parameters", Section::Query),
    ("查询参数", Section::Query),
    ("body", Section::Body),
    ("请求体", Section::Body),
    ("response", Section::Response),
    ("responses", Section::Response),
    ("响应", Section::Response),
    ("cookies", Section::Other),
    ("cookie parameters", Section::Other),
    ("cookie参数", Section::Other),
];

pub const REQUIRED: &[&str] = &["required", "必填"];
pub const EXAMPLE: &[&str] = &["example:", "examples:", "示例:", "示例："];
pub const OPTIONS: &[&str] = &["available options:", "可用选项:", "可用选项："];
pub const RANGE: &[&str] = &["required range:", "必填范围:", "必填范围："];
pub const DEFAULT: &[&str] = &["default:", "默认值:", "默认值："];
pub const MAX_LENGTH: &[&str] = &["maximum string length:", "最大字符串长度:"];
pub const MIN_LENGTH: &[&str] = &["minimum string length:", "最小字符串长度:"];
pub const LENGTH: &[&str] = &["required string length:", "必填字符串长度:"];
/// Lines Mintlify shows around nested fields; they carry nothing.
pub const NOISE: &[&str] = &[
    "show child attributes",
    "hide child attributes",
    "显示子属性",
    "隐藏子属性",
    "deprecated",
    "已弃用",
];
pub const LOCATIONS: &[&str] = &["header", "query", "path", "cookie"];
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// The text with invisible characters removed and each line trimmed at its end.
pub fn normalise(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .map(|line| {
            line.chars()
                .filter(|c| {
                    !matches!(
                        c,
                        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
                    )
                })
                .map(|c| if c == '\u{A0}' { ' ' } else { c })
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect()
}

/// The section a heading line starts.
pub fn section_of(line: &str) -> Option<Section> {
    let line = line.trim().to_lowercase();
    SECTIONS
        .iter()
        .find(|(label, _)| *label == line)
        .map(|(_, section)| *section)
}

/// Whether `line` is a type as Mintlify shows one: `string`, `string<uuid>`,
/// `enum<string>`, `object[]`, `integer<int64>`, `string[] | null`...
pub fn is_type_label(line: &str) -> bool {
    const BASES: &[&str] = &[
        "string", "number", "integer", "boolean", "object", "array", "null", "any", "file", "enum",
    ];
    let line = line.trim();
    !line.is_empty()
        && line.split('|').all(|part| {
            let part = part.trim();
            let mut rest = part;
            while let Some(inner) = rest.strip_suffix("[]") {
                rest = inner;
            }
            let (base, format) = match rest.split_once('<') {
                Some((base, format)) => match format.strip_suffix('>') {
                    Some(format) => (base, Some(format)),
                    None => return false,
                },
                None => (rest, None),
            };
            BASES.contains(&base)
                && format.is_none_or(|f| {
                    !f.is_empty()
                        && f.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                })
        })
}

/// Whether `line` can be a field's name (and is no section heading).
pub fn is_name(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty()
        && line.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']' | '$' | '@')
        })
        && section_of(line).is_none()
}

/// The value of a labelled line (`Example: 5`), if `line` starts with one of `labels`.
pub fn labelled<'a>(line: &'a str, labels: &[&str]) -> Option<&'a str> {
    let trimmed = line.trim();
    let lower = trimmed.to_lowercase();
    labels.iter().find_map(|label| {
        lower
            .starts_with(label)
            .then(|| trimmed[label.len()..].trim())
    })
}

/// Whether `line` starts with any attribute label.
pub fn is_labelled(line: &str) -> bool {
    [
        EXAMPLE, OPTIONS, RANGE, DEFAULT, MAX_LENGTH, MIN_LENGTH, LENGTH,
    ]
    .iter()
    .any(|labels| labelled(line, labels).is_some())
}

/// The text without the backquotes around it.
pub fn unquote(text: &str) -> &str {
    text.trim().trim_matches('`').trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_labels() {
        for label in [
            "string",
            "string<uuid>",
            "enum<string>",
            "object[]",
            "integer<int64>",
            "string[] | null",
            "number | string",
        ] {
            assert!(is_type_label(label), "{label}");
        }
        for other in [
            "Card number.",
            "header",
            "必填",
            "string<",
            "SINGLE,",
            "text",
        ] {
            assert!(!is_type_label(other), "{other}");
        }
    }
}
