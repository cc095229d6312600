//! The sections below the examples (`Authorizations`, `Headers`, `Path
//! Parameters`, `Query Parameters`, `Body`, `Response`, in either label
//! language), each read into the page.

use crate::docs_check::page::fields::{field_starts, paragraph, read_fields};
use crate::docs_check::page::labels::{section_of, Section};
use crate::docs_check::page::model::{Body, Page, PageError, Response};

/// Reads the sections of `lines` (which start with a section heading) into `page`.
pub fn read_sections(lines: &[String], page: &mut Page) -> Result<(), PageError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(
            status_line("200 - application/json"),
            Some(("200".into(), Some("application/json".into())))
        );
        assert_eq!(status_line("4XX"), Some(("4XX".into(), None)));
        assert_eq!(status_line("default"), Some(("default".into(), None)));
        assert_eq!(status_line("200 - the card"), None);
        assert_eq!(status_line("600"), None);
    }
}
