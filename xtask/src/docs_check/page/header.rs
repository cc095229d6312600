//! The top of a page: the method and the path (Mintlify shows them one
//! piece a line: `POST`, `/`, `v1`, ...), or `WEBHOOK` and the event types;
//! then the title.

use crate::docs_check::page::labels::{is_name, METHODS};
use crate::docs_check::page::model::Target;

/// The method and path (or WEBHOOK and events) at the top, the title, and
/// the index of the line after them.
pub fn read_header(lines: &[String]) -> (Option<Target>, Option<String>, usize) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn the_path_in_pieces_and_the_title() {
        let (target, title, after) = read_header(&lines(
            "POST\n/\nv1\n/\ncards\n/\n{id}\n\nUpdate Card\ncurl",
        ));
        assert_eq!(
            target,
            Some(Target::Endpoint {
                method: "POST".into(),
                path: "/v1/cards/{id}".into()
            })
        );
        assert_eq!(title.as_deref(), Some("Update Card"));
        assert_eq!(after, 9);
    }

    #[test]
    fn a_webhook_and_its_events() {
        let (target, title, _) = read_header(&lines(
            "WEBHOOK card.update.succeeded\ncard.update.failed\nCard Updated\n{",
        ));
        assert_eq!(
            target,
            Some(Target::Webhook {
                events: vec!["card.update.succeeded".into(), "card.update.failed".into()]
            })
        );
        assert_eq!(title.as_deref(), Some("Card Updated"));
        assert_eq!(read_header(&lines("Some notes\nGET the cards")).0, None);
    }
}
