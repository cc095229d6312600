//! A section's fields: each a name line followed by a type line, then the
//! location and `required` marker, the description, and the labelled
//! attributes (example, options, range, default, lengths).

use serde_json::Value;

use crate::docs_check::page::json::continued_json;
use crate::docs_check::page::labels::{
    is_labelled, is_name, is_type_label, labelled, unquote, DEFAULT, EXAMPLE, LENGTH, LOCATIONS,
    MAX_LENGTH, MIN_LENGTH, NOISE, OPTIONS, RANGE, REQUIRED,
};
use crate::docs_check::page::model::{Field, PageError};
use crate::docs_check::page::ranges::parse_range;

/// The non-blank lines, trimmed, joined by `\n`.
pub fn paragraph(lines: &[String]) -> String {
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
pub fn field_starts(lines: &[String], i: usize) -> bool {
    is_name(&lines[i])
        && next_non_blank(lines, i + 1).is_some_and(|j| j == i + 1 && is_type_label(&lines[j]))
}

/// Every field of `lines`.
pub fn read_fields(lines: &[String]) -> Result<Vec<Field>, PageError> {
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
        if let Some((value, taken)) = continued_json(&start_text, &lines[from..]) {
            return (Some(value), from + taken);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_field_with_its_attributes() {
        let fields = read_fields(&lines(
            "card_mode\nenum<string>\nrequired\nThe mode.\n\nAvailable options:\nSINGLE,\nSHARE\n\
             Example:\n\"SINGLE\"\n\
             metadata\nobject\nExample:\n{\n  \"a\": 1\n}\nMore text.\n\
             name\nstring\nRequired string length: 1 - 26\nDefault: x",
        ))
        .unwrap();
        assert_eq!(fields.len(), 3);
        assert!(fields[0].required);
        assert_eq!(fields[0].options, ["SINGLE", "SHARE"]);
        assert_eq!(fields[0].example, Some(serde_json::json!("SINGLE")));
        assert_eq!(fields[0].description, "The mode.");
        assert_eq!(fields[1].example, Some(serde_json::json!({"a": 1})));
        assert_eq!(fields[1].description, "More text.");
        assert_eq!(
            (fields[2].min_length, fields[2].max_length),
            (Some(1), Some(26))
        );
        assert_eq!(fields[2].default.as_deref(), Some("x"));
    }

    #[test]
    fn an_unreadable_attribute_names_the_field() {
        let err = read_fields(&lines("size\nnumber\nRequired range: big")).unwrap_err();
        assert_eq!(err.0, "field size: cannot read the range `big`");
        // An example that starts like JSON and never parses is its text.
        let fields = read_fields(&lines("a\nobject\nExample: {\nnot json\n")).unwrap();
        assert_eq!(fields[0].example, Some(serde_json::json!("{")));
        assert_eq!(fields[0].description, "not json");
    }
}
