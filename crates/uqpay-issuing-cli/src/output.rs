//! What the CLI prints: data on stdout (a table on a terminal, JSON when
//! piped, or what `-o` asks), messages and progress on stderr; colour only
//! on a terminal and never with `NO_COLOR`. Every text printed goes through
//! [`redact`]: a card number shows at most its first 6 and last 4 digits,
//! whatever the API or a file put in it, and a URL's password never shows.

use std::io::{IsTerminal as _, Write as _};

use serde_json::{Map, Value};

use crate::redis_url;

/// `text` as it may be shown: card numbers masked, tokens removed
/// ([`uqpay_issuing::redact`]) and the user-info (a password) of every URL
/// masked.
pub fn redact(text: &str) -> String {
    redis_url::mask_in_text(&uqpay_issuing::redact(text))
}

/// How data is written on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned `key  value` lines (the default on a terminal).
    Table,
    /// Pretty-printed JSON (the default when stdout is not a terminal).
    Json,
    /// One JSON object per line.
    Ndjson,
}

/// The printer of one command.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    format: Format,
    color: bool,
}

impl Output {
    /// `-o` if given, else a table on a terminal and JSON otherwise.
    pub fn new(choice: Option<Format>) -> Self {
        let terminal = std::io::stdout().is_terminal();
        let format = choice.unwrap_or(if terminal {
            Format::Table
        } else {
            Format::Json
        });
        Self {
            format,
            color: terminal && color_allowed(),
        }
    }

    /// Prints one record (an object) on stdout.
    pub fn record(&self, value: &Value) {
        let value = scrub(value);
        let text = match self.format {
            Format::Json => serde_json::to_string_pretty(&value).unwrap_or_default(),
            Format::Ndjson => serde_json::to_string(&value).unwrap_or_default(),
            Format::Table => table(&value, self.color),
        };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    /// Prints one line of a stream (events): `line` on a table, the object
    /// as one line of JSON otherwise.
    pub fn stream(&self, line: &str, value: &Value) {
        let text = match self.format {
            Format::Table => redact(line),
            Format::Json | Format::Ndjson => {
                serde_json::to_string(&scrub(value)).unwrap_or_default()
            }
        };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }
}

/// A message for the operator, on stderr.
pub fn message(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{}", redact(text));
}

/// A warning, on stderr.
pub fn warn(text: &str) {
    let prefix = if std::io::stderr().is_terminal() && color_allowed() {
        "\x1b[33mwarning:\x1b[0m"
    } else {
        "warning:"
    };
    message(&format!("{prefix} {text}"));
}

/// An error, on stderr.
pub fn error(text: &str) {
    let prefix = if std::io::stderr().is_terminal() && color_allowed() {
        "\x1b[31merror:\x1b[0m"
    } else {
        "error:"
    };
    message(&format!("{prefix} {text}"));
}

/// Colour is allowed unless `NO_COLOR` is set to anything non-empty
/// (<https://no-color.org>).
pub fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `value` with every string redacted.
pub fn scrub(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(redact(s)),
        Value::Array(items) => Value::Array(items.iter().map(scrub).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (redact(k), scrub(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// An object as aligned `key  value` lines, nested keys joined with dots.
fn table(value: &Value, color: bool) -> String {
    let mut rows = Vec::new();
    flatten("", value, &mut rows);
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(key, value)| {
            let pad = " ".repeat(width - key.chars().count());
            if color {
                format!("\x1b[1m{key}\x1b[0m{pad}  {value}")
            } else {
                format!("{key}{pad}  {value}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn flatten(prefix: &str, value: &Value, rows: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if map.is_empty() && !prefix.is_empty() {
                rows.push((prefix.to_owned(), "{}".into()));
            }
            for (key, value) in map {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&key, value, rows);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let text = items.iter().map(scalar).collect::<Vec<_>>().join(",");
            rows.push((prefix.to_owned(), text));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), item, rows);
            }
        }
        other => rows.push((prefix.to_owned(), scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_flatten_and_align() {
        let text = table(
            &json!({"card_id": "c1", "risk": {"enable_3ds": "Y"}, "mcc": ["5999", "6011"],
                    "controls": [{"amount": "1", "interval": "DAILY"}], "limit": null}),
            false,
        );
        assert!(text.contains("card_id               c1"), "{text}");
        assert!(text.contains("risk.enable_3ds       Y"), "{text}");
        assert!(text.contains("mcc                   5999,6011"), "{text}");
        assert!(text.contains("controls[0].interval  DAILY"), "{text}");
        assert!(text.contains("limit                 -"), "{text}");
    }

    #[test]
    fn card_numbers_are_masked() {
        let value = scrub(&json!({"n": "4096360800133951", "list": ["5550710000000001"]}));
        let text = value.to_string();
        assert!(!text.contains("4096360800133951") && !text.contains("5550710000000001"));
        assert!(text.contains("409636******3951"));
    }
}
