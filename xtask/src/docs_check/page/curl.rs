//! The request example: a curl command (shell quoting, `\` line
//! continuations), of which the method, the URL and the `--data` JSON are
//! read.

use serde_json::Value;

use crate::docs_check::page::model::PageError;

/// What a page's curl command says.
#[derive(Debug)]
pub struct Curl {
    /// `--request` / `-X`, upper case.
    pub method: Option<String>,
    /// `--url`, or the first word that is a URL.
    pub url: Option<String>,
    /// The URL's path below the server's `/api`.
    pub path: Option<String>,
    /// The `--data` JSON.
    pub data: Option<Value>,
    /// The line after the command.
    pub end: usize,
}

/// The path of a curl URL below the server's `/api` (or the whole path).
pub fn api_path(url_path: &str) -> String {
    match url_path.find("/v") {
        Some(at) if url_path[..at].ends_with("/api") || at == 0 => url_path[at..].to_owned(),
        _ => url_path.to_owned(),
    }
}

/// Reads the curl command starting at line `at` (shell quoting, `\` line continuations).
pub fn read_curl(lines: &[String], at: usize) -> Result<Curl, PageError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn method_url_and_data_over_continued_lines() {
        let page = lines(
            "title\ncurl --request post \\\n  --url https://h/api/v1/cards/x?y=1 \\\n  \
             --header 'x-auth-token: t' \\\n  --data '{\n  \"a\": 1\n}'\n{\"answer\": 2}",
        );
        let curl = read_curl(&page, 1).unwrap();
        assert_eq!(curl.method.as_deref(), Some("POST"));
        assert_eq!(curl.path.as_deref(), Some("/v1/cards/x"));
        assert_eq!(curl.data, Some(serde_json::json!({"a": 1})));
        assert_eq!(page[curl.end], "{\"answer\": 2}");
    }

    #[test]
    fn broken_commands() {
        let err = read_curl(&lines("curl --url 'https://h/api/v1"), 0).unwrap_err();
        assert!(err.0.contains("unterminated quote"), "{err}");
        let err = read_curl(&lines("curl --data '{nope'"), 0).unwrap_err();
        assert!(err.0.contains("the curl --data is not JSON"), "{err}");
        assert_eq!(api_path("/api/v1/x"), "/v1/x");
        assert_eq!(api_path("/other"), "/other");
    }
}
