//! The page reader: turns a page of UQPay's API reference, as a browser
//! copies it from the Mintlify site (or as saved into `spec/docs/`), into a
//! description of the operation it documents. No network: the input is text.
//!
//! A page looks like this (labels in English or in Chinese, one item a line):
//!
//! ```text
//! POST                          <- the method, then the path in pieces
//! /
//! v1
//! ...
//! Assign Card                   <- the title
//! curl --request POST \         <- the request example (`--url`, `--data`)
//!   --url https://.../api/v1/issuing/cards/assign \
//!   --data '{ ... }'
//! { ... }                       <- the response example
//! Authorizations | 授权          <- sections: Headers | 请求头, Path Parameters |
//! x-auth-token                     路径参数, Query Parameters | 查询参数,
//! string                           Body | 请求体, Response | 响应
//! header
//! required | 必填                <- then, per field: name, type, location,
//! The API token ...                required, description, and the labelled
//! Maximum string length: 26        attributes below
//! Required range: x >= 0 | 必填范围: x >= 0
//! Available options: A, B | 可用选项: A, B
//! Example: "A" | 示例: "A"
//! ```
//!
//! A webhook page starts with `WEBHOOK` and the event type(s) instead of a
//! method and a path; its JSON example is the payload and its `Body` the
//! envelope.
//!
//! Nested fields are read when the page shows them with their parent's
//! path (`risk_controls.blocked_mcc`); a collapsed object (`risk_controls
//! object` with no children shown) is just that field.

use std::fmt;

use serde_json::Value;

/// What an endpoint page documents.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The operation, or the webhook events.
    pub target: Target,
    /// The page's title (`Assign Card`), when there is one.
    pub title: Option<String>,
    /// `Authorizations` / `授权`: the security headers.
    pub authorizations: Vec<Field>,
    /// `Headers` / `请求头`.
    pub headers: Vec<Field>,
    /// `Path Parameters` / `路径参数`.
    pub path_parameters: Vec<Field>,
    /// `Query Parameters` / `查询参数`.
    pub query_parameters: Vec<Field>,
    /// `Body` / `请求体`: the request body (the payload of a webhook).
    pub body: Option<Body>,
    /// `Response` / `响应`: each response shown.
    pub responses: Vec<Response>,
    /// The request example: the JSON of the curl `--data` (the payload
    /// example of a webhook page).
    pub request_example: Option<Value>,
    /// The response example (the JSON shown beside the curl).
    pub response_example: Option<Value>,
}

/// The operation or events a page documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An endpoint: method (upper case) and path (`/v1/issuing/cards/{id}`).
    Endpoint {
        /// `GET`, `POST`...
        method: String,
        /// The path below the server URL.
        path: String,
    },
    /// A webhook page: the event types it documents.
    Webhook {
        /// `card.update.succeeded`...
        events: Vec<String>,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Endpoint { method, path } => write!(f, "{method} {path}"),
            Target::Webhook { events } => write!(f, "webhook {}", events.join(", ")),
        }
    }
}

/// A request body (or webhook payload) section.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// `application/json`, when shown.
    pub media_type: Option<String>,
    /// Its fields, nested ones named by path.
    pub fields: Vec<Field>,
}

/// One response of the `Response` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// `200`.
    pub status: String,
    /// `application/json`, when shown.
    pub media_type: Option<String>,
    /// The text under the status line.
    pub description: String,
    /// Its fields, nested ones named by path.
    pub fields: Vec<Field>,
}

/// A field, header or parameter as the page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The name; a nested field's is its path (`risk_controls.blocked_mcc`).
    pub name: String,
    /// The type as shown: `string`, `string<uuid>`, `enum<string>`,
    /// `object[]`, `number | null`...
    pub type_label: String,
    /// Where an authorization goes (`header`), when shown.
    pub location: Option<String>,
    /// Marked `required` / `必填`.
    pub required: bool,
    /// The description, its lines joined by `\n`.
    pub description: String,
    /// `Available options` / `可用选项`.
    pub options: Vec<String>,
    /// `Maximum string length` (or the upper end of `Required string length`).
    pub max_length: Option<u64>,
    /// `Minimum string length` (or the lower end of `Required string length`).
    pub min_length: Option<u64>,
    /// `Required range` / `必填范围`.
    pub range: Option<Range>,
    /// `Default` / `默认值`, as shown.
    pub default: Option<String>,
    /// `Example` / `示例`: parsed as JSON, or the text as a JSON string.
    pub example: Option<Value>,
}

/// A numeric range such as `x >= 0` or `0 <= x <= 100`.
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    /// The lower bound.
    pub min: Option<Bound>,
    /// The upper bound.
    pub max: Option<Bound>,
}

/// One end of a [`Range`].
#[derive(Clone, Debug, PartialEq)]
pub struct Bound {
    /// The number.
    pub value: f64,
    /// Its text as written (`0`, `0.01`).
    pub text: String,
    /// `>=` / `<=` (true) or `>` / `<` (false).
    pub inclusive: bool,
}

impl Range {
    /// Whether both describe the same set of numbers.
    pub fn same(&self, other: &Range) -> bool {
        fn same(a: &Option<Bound>, b: &Option<Bound>) -> bool {
            match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => a.value == b.value && a.inclusive == b.inclusive,
                _ => false,
            }
        }
        same(&self.min, &other.min) && same(&self.max, &other.max)
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = |b: &Bound| if b.inclusive { "<=" } else { "<" };
        match (&self.min, &self.max) {
            (Some(min), Some(max)) => {
                write!(f, "{} {} x {} {}", min.text, op(min), op(max), max.text)
            }
            (Some(min), None) => write!(
                f,
                "x {} {}",
                if min.inclusive { ">=" } else { ">" },
                min.text
            ),
            (None, Some(max)) => write!(f, "x {} {}", op(max), max.text),
            (None, None) => f.write_str("any"),
        }
    }
}

/// Why a page cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PageError(pub String);

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

const REQUIRED: &[&str] = &["required", "必填"];
const EXAMPLE: &[&str] = &["example:", "examples:", "示例:", "示例："];
const OPTIONS: &[&str] = &["available options:", "可用选项:", "可用选项："];
const RANGE: &[&str] = &["required range:", "必填范围:", "必填范围："];
const DEFAULT: &[&str] = &["default:", "默认值:", "默认值："];
const MAX_LENGTH: &[&str] = &["maximum string length:", "最大字符串长度:"];
const MIN_LENGTH: &[&str] = &["minimum string length:", "最小字符串长度:"];
const LENGTH: &[&str] = &["required string length:", "必填字符串长度:"];
/// Lines Mintlify shows around nested fields; they carry nothing.
const NOISE: &[&str] = &[
    "show child attributes",
    "hide child attributes",
    "显示子属性",
    "隐藏子属性",
    "deprecated",
    "已弃用",
];
const LOCATIONS: &[&str] = &["header", "query", "path", "cookie"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Authorizations,
    Headers,
    Path,
    Query,
    Body,
    Response,
    Other,
}

/// The text with invisible characters removed and each line trimmed at its end.
fn normalise(text: &str) -> Vec<String> {
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

fn section_of(line: &str) -> Option<Section> {
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

fn is_name(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty()
        && line.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']' | '$' | '@')
        })
        && section_of(line).is_none()
}

/// The value of a labelled line (`Example: 5`), if `line` starts with one of `labels`.
fn labelled<'a>(line: &'a str, labels: &[&str]) -> Option<&'a str> {
    let trimmed = line.trim();
    let lower = trimmed.to_lowercase();
    labels.iter().find_map(|label| {
        lower
            .starts_with(label)
            .then(|| trimmed[label.len()..].trim())
    })
}

fn unquote(text: &str) -> &str {
    text.trim().trim_matches('`').trim()
}

/// Reads a page. `text` is the page as copied or saved.
pub fn parse(text: &str) -> Result<Page, PageError> {
    let lines = normalise(text);
    let first_section = lines
        .iter()
        .position(|l| section_of(l).is_some())
        .unwrap_or(lines.len());
    let curl_at = lines[..first_section]
        .iter()
        .position(|l| l.trim_start().starts_with("curl "));
    let head_end = curl_at.unwrap_or(first_section);

    let (header_target, title, after_header) = read_header(&lines[..head_end]);
    let curl = match curl_at {
        Some(at) => Some(read_curl(&lines, at)?),
        None => None,
    };
    // The JSON shown beside the request: after the curl, or (no curl) after the header.
    let examples_from = match &curl {
        Some(curl) => curl.end,
        None => after_header,
    };
    let example = first_json(&lines[examples_from.min(first_section)..first_section])?;

    let target = match (header_target, &curl) {
        (Some(Target::Endpoint { method, path }), Some(curl)) => {
            if let Some(curl_method) = &curl.method {
                if *curl_method != method {
                    return Err(PageError(format!(
                        "the page's header says {method} but its curl says --request {curl_method}"
                    )));
                }
            }
            if let Some(url_path) = &curl.path {
                if !url_path.ends_with(&path) {
                    return Err(PageError(format!(
                        "the page's header says {path} but its curl --url is {}",
                        curl.url.as_deref().unwrap_or_default()
                    )));
                }
            }
            Target::Endpoint { method, path }
        }
        (Some(target), _) => target,
        (None, Some(curl)) => match (&curl.path, &curl.method) {
            (Some(path), method) => Target::Endpoint {
                method: method
                    .clone()
                    .unwrap_or_else(|| if curl.data.is_some() { "POST" } else { "GET" }.to_owned()),
                path: api_path(path),
            },
            (None, _) => return Err(PageError(
                "not an endpoint page: its curl has no --url and there is no method and path line"
                    .into(),
            )),
        },
        (None, None) => return Err(PageError(
            "not an endpoint page: no method and path (a line GET/POST/... followed by the path, \
                 or a curl --url) and no WEBHOOK line"
                .into(),
        )),
    };

    let mut page = Page {
        target,
        title,
        authorizations: Vec::new(),
        headers: Vec::new(),
        path_parameters: Vec::new(),
        query_parameters: Vec::new(),
        body: None,
        responses: Vec::new(),
        request_example: None,
        response_example: None,
    };
    match (&page.target, curl) {
        (Target::Webhook { .. }, _) => page.request_example = example,
        (Target::Endpoint { .. }, Some(curl)) => {
            page.request_example = curl.data;
            page.response_example = example;
        }
        (Target::Endpoint { .. }, None) => page.response_example = example,
    }
    if first_section == lines.len() {
        return Err(PageError(format!(
            "not an endpoint page: {} but none of the sections (Authorizations, Headers, \
             Path Parameters, Query Parameters, Body, Response or 授权, 请求头, 路径参数, \
             查询参数, 请求体, 响应)",
            page.target
        )));
    }
    read_sections(&lines[first_section..], &mut page)?;
    Ok(page)
}

/// The path of a curl URL below the server's `/api` (or the whole path).
fn api_path(url_path: &str) -> String {
    match url_path.find("/v") {
        Some(at) if url_path[..at].ends_with("/api") || at == 0 => url_path[at..].to_owned(),
        _ => url_path.to_owned(),
    }
}

/// The method and path (or WEBHOOK and events) at the top, the title, and
/// the index of the line after them.
fn read_header(lines: &[String]) -> (Option<Target>, Option<String>, usize) {
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        if word == "WEBHOOK" || word == "Webhook" {
            let mut events: Vec<String> = rest.split_whitespace().map(str::to_owned).collect();
            i += 1;
            while i < lines.len() {
                let l = lines[i].trim();
                if l.is_empty() {
                    i += 1;
                } else if l.contains('.') && is_name(l) && !l.starts_with('.') {
                    events.push(l.to_owned());
                    i += 1;
                } else {
                    break;
                }
            }
            if events.is_empty() {
                return (None, None, 0);
            }
            let (title, after) = title_at(lines, i);
            return (Some(Target::Webhook { events }), title, after);
        }
        if METHODS.contains(&word) && (rest.is_empty() || rest.starts_with('/')) {
            let mut path = rest.trim().to_owned();
            i += 1;
            loop {
                // Skip the blank lines between the pieces, but not past the end.
                let mut j = i;
                while j < lines.len() && lines[j].trim().is_empty() {
                    j += 1;
                }
                let Some(l) = lines.get(j).map(|l| l.trim()) else {
                    break;
                };
                let joins = l.starts_with('/') || path.ends_with('/');
                if joins && !l.contains(char::is_whitespace) && !l.starts_with("curl") {
                    path.push_str(l);
                    i = j + 1;
                } else {
                    break;
                }
            }
            if path.starts_with('/') && path.len() > 1 {
                let (title, after) = title_at(lines, i);
                return (
                    Some(Target::Endpoint {
                        method: word.to_owned(),
                        path,
                    }),
                    title,
                    after,
                );
            }
        }
        i += 1;
    }
    (None, None, 0)
}

fn title_at(lines: &[String], mut i: usize) -> (Option<String>, usize) {
    while i < lines.len() && lines[i].trim().is_empty() {
        i += 1;
    }
    match lines.get(i).map(|l| l.trim()) {
        Some(l) if !l.starts_with('{') && !l.starts_with('[') && !l.starts_with("curl") => {
            (Some(l.to_owned()), i + 1)
        }
        _ => (None, i),
    }
}

struct Curl {
    method: Option<String>,
    url: Option<String>,
    path: Option<String>,
    data: Option<Value>,
    /// The line after the command.
    end: usize,
}

/// Reads the curl command starting at line `at` (shell quoting, `\` line continuations).
fn read_curl(lines: &[String], at: usize) -> Result<Curl, PageError> {
    let text = lines[at..].join("\n");
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    let mut consumed_lines = 0;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') => consumed_lines += 1,
                Some(other) => {
                    word.push(other);
                    in_word = true;
                }
                None => break,
            },
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\n') => {
                            consumed_lines += 1;
                            word.push('\n');
                        }
                        Some(other) => word.push(other),
                        None => {
                            return Err(PageError(
                                "the curl command has an unterminated quote".into(),
                            ))
                        }
                    }
                }
            }
            '\n' => {
                consumed_lines += 1;
                break;
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    let mut curl = Curl {
        method: None,
        url: None,
        path: None,
        data: None,
        end: at + consumed_lines,
    };
    let mut iter = words.into_iter().skip(1);
    while let Some(word) = iter.next() {
        match word.as_str() {
            "--request" | "-X" => curl.method = iter.next().map(|m| m.to_uppercase()),
            "--url" => curl.url = iter.next(),
            "--header" | "-H" => {
                iter.next();
            }
            "--data" | "-d" | "--data-raw" | "--data-binary" => {
                let data = iter.next().unwrap_or_default();
                let value = serde_json::from_str(&data).map_err(|e| {
                    PageError(format!(
                        "the curl --data is not JSON ({e}): {}",
                        data.trim()
                    ))
                })?;
                curl.data = Some(value);
            }
            other if other.starts_with("http://") || other.starts_with("https://") => {
                curl.url = Some(other.to_owned());
            }
            _ => {}
        }
    }
    if let Some(url) = &curl.url {
        let without_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let path = without_scheme
            .find('/')
            .map_or("/", |at| &without_scheme[at..]);
        let path = path.split(['?', '#']).next().unwrap_or(path);
        curl.path = Some(api_path(path));
    }
    Ok(curl)
}

/// The first JSON object or array that starts a line in `lines` (a line
/// that only looks like one, in a code sample of another language, is
/// skipped; an error only when nothing parses).
fn first_json(lines: &[String]) -> Result<Option<Value>, PageError> {
    let mut first_error = None;
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim_start();
        if l.starts_with('{') || l.starts_with('[') {
            let text = lines[i..].join("\n");
            let mut stream =
                serde_json::Deserializer::from_str(text.trim_start()).into_iter::<Value>();
            match stream.next() {
                Some(Ok(value)) => return Ok(Some(value)),
                Some(Err(e)) => {
                    first_error.get_or_insert_with(|| {
                        PageError(format!(
                            "the example that starts with `{}` is not JSON: {e}",
                            l.chars().take(40).collect::<String>()
                        ))
                    });
                }
                None => {}
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

fn read_sections(lines: &[String], page: &mut Page) -> Result<(), PageError> {
    let mut i = 0;
    while i < lines.len() {
        let Some(section) = section_of(&lines[i]) else {
            i += 1;
            continue;
        };
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && section_of(&lines[end]).is_none() {
            end += 1;
        }
        let body = &lines[start..end];
        match section {
            Section::Authorizations => page.authorizations.extend(read_fields(body)?),
            Section::Headers => page.headers.extend(read_fields(body)?),
            Section::Path => page.path_parameters.extend(read_fields(body)?),
            Section::Query => page.query_parameters.extend(read_fields(body)?),
            Section::Body => {
                let (media_type, rest) = media_type(body);
                let fields = read_fields(rest)?;
                match &mut page.body {
                    Some(existing) => existing.fields.extend(fields),
                    None => page.body = Some(Body { media_type, fields }),
                }
            }
            Section::Response => page.responses.extend(read_responses(body)?),
            Section::Other => {}
        }
        i = end;
    }
    Ok(())
}

/// A leading `application/json` line.
fn media_type(lines: &[String]) -> (Option<String>, &[String]) {
    let mut i = 0;
    while i < lines.len() && lines[i].trim().is_empty() {
        i += 1;
    }
    match lines.get(i).map(|l| l.trim()) {
        Some(l) if is_media_type(l) => (Some(l.to_owned()), &lines[i + 1..]),
        _ => (None, lines),
    }
}

fn is_media_type(line: &str) -> bool {
    let Some((a, b)) = line.split_once('/') else {
        return false;
    };
    !a.is_empty()
        && !b.is_empty()
        && !line.contains(char::is_whitespace)
        && a.chars().all(|c| c.is_ascii_alphabetic())
}

/// `200`, `200 - application/json`, `4XX`, `default`.
fn status_line(line: &str) -> Option<(String, Option<String>)> {
    let line = line.trim();
    let (status, rest) = match line.split_once(" - ") {
        Some((status, rest)) => (status.trim(), Some(rest.trim())),
        None => (line, None),
    };
    let is_status = (status.len() == 3
        && status.starts_with(|c: char| ('1'..='5').contains(&c))
        && status[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || c == 'X' || c == 'x'))
        || status == "default";
    if !is_status {
        return None;
    }
    match rest {
        Some(rest) if !is_media_type(rest) => None,
        rest => Some((status.to_owned(), rest.map(str::to_owned))),
    }
}

fn read_responses(lines: &[String]) -> Result<Vec<Response>, PageError> {
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| status_line(&lines[i]).is_some() && !field_starts(lines, i))
        .collect();
    let mut responses = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(lines.len());
        let (status, mut media) = status_line(&lines[start]).expect("a status line");
        let mut rest = &lines[start + 1..end];
        if media.is_none() {
            let (m, r) = media_type(rest);
            media = m;
            rest = r;
        }
        let first_field = (0..rest.len())
            .find(|&i| field_starts(rest, i))
            .unwrap_or(rest.len());
        let description = paragraph(&rest[..first_field]);
        responses.push(Response {
            status,
            media_type: media,
            description,
            fields: read_fields(&rest[first_field..])?,
        });
    }
    Ok(responses)
}

fn paragraph(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn next_non_blank(lines: &[String], from: usize) -> Option<usize> {
    (from..lines.len()).find(|&j| !lines[j].trim().is_empty())
}

/// Whether a field starts at line `i`: a name followed by a type.
fn field_starts(lines: &[String], i: usize) -> bool {
    is_name(&lines[i])
        && next_non_blank(lines, i + 1).is_some_and(|j| j == i + 1 && is_type_label(&lines[j]))
}

fn read_fields(lines: &[String]) -> Result<Vec<Field>, PageError> {
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| field_starts(lines, i))
        .collect();
    let mut fields = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(lines.len());
        fields.push(read_field(&lines[start..end])?);
    }
    Ok(fields)
}

fn read_field(lines: &[String]) -> Result<Field, PageError> {
    let name = lines[0].trim().replace("[]", "");
    let mut field = Field {
        name: name.clone(),
        type_label: lines[1].split_whitespace().collect::<Vec<_>>().join(" "),
        location: None,
        required: false,
        description: String::new(),
        options: Vec::new(),
        max_length: None,
        min_length: None,
        range: None,
        default: None,
        example: None,
    };
    let mut description = Vec::new();
    let mut i = 2;
    // The location and the required marker come right after the type.
    while let Some(j) = next_non_blank(lines, i) {
        let l = lines[j].trim();
        if LOCATIONS.contains(&l) && field.location.is_none() && !field.required {
            field.location = Some(l.to_owned());
        } else if REQUIRED.contains(&l.to_lowercase().as_str()) {
            field.required = true;
        } else {
            break;
        }
        i = j + 1;
    }
    let bad =
        |what: &str, value: &str| PageError(format!("field {name}: cannot read {what} `{value}`"));
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || NOISE.contains(&line.to_lowercase().as_str()) {
            continue;
        }
        if let Some(rest) = labelled(line, EXAMPLE) {
            let (value, next) = example_value(lines, rest, i);
            field.example = value;
            i = next;
        } else if let Some(rest) = labelled(line, OPTIONS) {
            let (options, next) = options(lines, rest, i);
            field.options = options;
            i = next;
        } else if let Some(rest) = labelled(line, RANGE) {
            let (text, next) = value_at(lines, rest, i);
            field.range = Some(parse_range(&text).ok_or_else(|| bad("the range", &text))?);
            i = next;
        } else if let Some(rest) = labelled(line, DEFAULT) {
            let (text, next) = value_at(lines, rest, i);
            field.default = Some(text);
            i = next;
        } else if let Some(rest) = labelled(line, MAX_LENGTH) {
            let (text, next) = value_at(lines, rest, i);
            field.max_length = Some(text.parse().map_err(|_| bad("the maximum length", &text))?);
            i = next;
        } else if let Some(rest) = labelled(line, MIN_LENGTH) {
            let (text, next) = value_at(lines, rest, i);
            field.min_length = Some(text.parse().map_err(|_| bad("the minimum length", &text))?);
            i = next;
        } else if let Some(rest) = labelled(line, LENGTH) {
            let (text, next) = value_at(lines, rest, i);
            let (min, max) = text
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
                .ok_or_else(|| bad("the string length", &text))?;
            field.min_length = Some(min);
            field.max_length = Some(max);
            i = next;
        } else {
            description.push(line.to_owned());
        }
    }
    field.description = description.join("\n");
    Ok(field)
}

/// A label's value: the rest of its line, or the next non-blank line.
fn value_at(lines: &[String], rest: &str, i: usize) -> (String, usize) {
    if !unquote(rest).is_empty() {
        return (unquote(rest).to_owned(), i);
    }
    match next_non_blank(lines, i) {
        Some(j) => (unquote(&lines[j]).to_owned(), j + 1),
        None => (String::new(), i),
    }
}

/// An example: JSON (possibly over several lines), else the text.
fn example_value(lines: &[String], rest: &str, i: usize) -> (Option<Value>, usize) {
    let (start_text, from) = if !unquote(rest).is_empty() {
        (unquote(rest).to_owned(), i)
    } else {
        match next_non_blank(lines, i) {
            Some(j) => (lines[j].trim().to_owned(), j + 1),
            None => return (None, i),
        }
    };
    if let Ok(value) = serde_json::from_str::<Value>(&start_text) {
        return (Some(value), from);
    }
    if start_text.starts_with('{') || start_text.starts_with('[') {
        // A multi-line JSON example: take lines until it parses.
        let mut text = start_text.clone();
        for (k, line) in lines.iter().enumerate().skip(from) {
            text.push('\n');
            text.push_str(line);
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                return (Some(value), k + 1);
            }
        }
    }
    (Some(Value::String(start_text)), from)
}

/// `Available options: A, B` or one option a line, each but the last ending with a comma.
fn options(lines: &[String], rest: &str, mut i: usize) -> (Vec<String>, usize) {
    let mut options = Vec::new();
    let mut more = true;
    let push = |text: &str, options: &mut Vec<String>| -> bool {
        let text = text.trim();
        let continues = text.ends_with(',') || text.is_empty();
        for option in text.split(',') {
            let option = unquote(option).trim_matches('"');
            if !option.is_empty() {
                options.push(option.to_owned());
            }
        }
        continues
    };
    if !unquote(rest).is_empty() {
        more = push(rest, &mut options);
    }
    while more {
        let Some(j) = next_non_blank(lines, i) else {
            break;
        };
        let line = lines[j].trim();
        if is_labelled(line) || field_starts(lines, j) {
            break;
        }
        more = push(line, &mut options);
        i = j + 1;
    }
    (options, i)
}

fn is_labelled(line: &str) -> bool {
    [
        EXAMPLE, OPTIONS, RANGE, DEFAULT, MAX_LENGTH, MIN_LENGTH, LENGTH,
    ]
    .iter()
    .any(|labels| labelled(line, labels).is_some())
}

/// `x >= 0`, `x > 0`, `x <= 100`, `0 <= x <= 100`, `1 <= x`.
pub fn parse_range(text: &str) -> Option<Range> {
    let text = unquote(text).replace(' ', "");
    let number = |s: &str| -> Option<Bound> {
        Some(Bound {
            value: s.parse().ok()?,
            text: s.to_owned(),
            inclusive: true,
        })
    };
    let parts: Vec<&str> = text.split('x').collect();
    let [left, right] = parts[..] else {
        return None;
    };
    let mut range = Range {
        min: None,
        max: None,
    };
    // Left of x: "0<=" or "0<" (a lower bound), or nothing.
    if !left.is_empty() {
        let (value, inclusive) = if let Some(v) = left.strip_suffix("<=") {
            (v, true)
        } else if let Some(v) = left.strip_suffix('<') {
            (v, false)
        } else if let Some(v) = left.strip_suffix(">=") {
            range.max = Some(number(v)?);
            ("", true)
        } else {
            return None;
        };
        if !value.is_empty() {
            range.min = Some(Bound {
                inclusive,
                ..number(value)?
            });
        }
    }
    if !right.is_empty() {
        let (op, value) = ["<=", ">=", "<", ">"]
            .iter()
            .find_map(|op| right.strip_prefix(op).map(|v| (*op, v)))?;
        let bound = Bound {
            inclusive: op.ends_with('='),
            ..number(value)?
        };
        if op.starts_with('>') {
            range.min = Some(bound);
        } else {
            range.max = Some(bound);
        }
    }
    (range.min.is_some() || range.max.is_some()).then_some(range)
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

    #[test]
    fn ranges() {
        assert_eq!(parse_range("x >= 0").unwrap().to_string(), "x >= 0");
        assert_eq!(
            parse_range("`0 <= x <= 100`").unwrap().to_string(),
            "0 <= x <= 100"
        );
        assert_eq!(parse_range("x > 0.01").unwrap().to_string(), "x > 0.01");
        assert_eq!(parse_range("x < 5").unwrap().to_string(), "x < 5");
        assert!(parse_range("x >= 0")
            .unwrap()
            .same(&parse_range("0 <= x").unwrap()));
        assert!(!parse_range("x >= 0")
            .unwrap()
            .same(&parse_range("x > 0").unwrap()));
        assert!(parse_range("between 1 and 2").is_none());
    }

    #[test]
    fn a_small_page_in_english() {
        let page = parse(
            "GET\n/\nv1\n/\nthings\n/\n{id}\nRetrieve Thing\n\
             curl --request GET \\\n  --url https://api.example.com/api/v1/things/{id} \\\n  --header 'x-auth-token: <api-key>'\n\
             {\n  \"id\": \"a\"\n}\n\
             Authorizations\n\u{200B}\nx-auth-token\nstring\nheader\nrequired\nThe token.\n\
             Path Parameters\n\u{200B}\nid\nstring<uuid>\nrequired\nThe id.\n\nExample:\n\"71fdb0fe-9682-457a-9361-e8868694f12f\"\n\
             Response\n200 - application/json\nThe thing.\n\
             id\nstring\nrequired\nIts id.\n\nMaximum string length: 26\n\
             kind\nenum<string>\nAvailable options: A, B\n\
             size\nnumber\nRequired range: 0 <= x <= 10\nExample:\n5\n",
        )
        .unwrap();
        assert_eq!(
            page.target,
            Target::Endpoint {
                method: "GET".into(),
                path: "/v1/things/{id}".into()
            }
        );
        assert_eq!(page.title.as_deref(), Some("Retrieve Thing"));
        assert_eq!(page.response_example, Some(serde_json::json!({"id": "a"})));
        assert_eq!(page.request_example, None);
        assert_eq!(page.authorizations[0].location.as_deref(), Some("header"));
        assert!(page.authorizations[0].required);
        assert_eq!(page.path_parameters[0].type_label, "string<uuid>");
        let response = &page.responses[0];
        assert_eq!(response.status, "200");
        assert_eq!(response.media_type.as_deref(), Some("application/json"));
        assert_eq!(response.description, "The thing.");
        assert_eq!(response.fields[0].max_length, Some(26));
        assert_eq!(response.fields[1].options, ["A", "B"]);
        assert!(!response.fields[1].required);
        assert_eq!(
            response.fields[2].range.as_ref().unwrap().to_string(),
            "0 <= x <= 10"
        );
        assert_eq!(response.fields[2].example, Some(serde_json::json!(5)));
    }

    #[test]
    fn not_an_endpoint_page() {
        let err = parse("# Notes\n\nSome research notes.\n").unwrap_err();
        assert!(err.0.contains("not an endpoint page"), "{err}");
        let err = parse("POST\n/\nv1\n/\nthings\nThing\n").unwrap_err();
        assert!(err.0.contains("none of the sections"), "{err}");
    }
}
