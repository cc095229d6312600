//! The token store's URLs (`redis://`, `rediss://`) and their password.
//!
//! A URL's user-info (`user:password@`) is masked wherever a URL is shown:
//! in the output, in every message and error ([`mask_in_text`], applied by
//! [`crate::exit::Failure`] and [`crate::output`]) and in `Debug`
//! ([`StoreUrl`]). No flag and no profile may carry the password
//! ([`has_password`]): it comes from `UQPAY_TOKEN_STORE_PASSWORD` or the
//! file `UQPAY_TOKEN_STORE_PASSWORD_FILE` names, and is put into the URLs
//! in memory only ([`with_password`]).

use std::fmt;

/// What a masked user-info shows.
const MASK: &str = "***";

/// A token store URL, possibly holding the password: shown (`Debug`,
/// `Display`) with its user-info masked.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl(String);

impl StoreUrl {
    /// A URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, password included, to hand to the SDK.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", mask(&self.0))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask(&self.0))
    }
}

/// Where the authority of a URL starting at `text` (just after its `://`)
/// ends.
fn authority_end(text: &str) -> usize {
    text.find(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '/' | '?' | '#' | '"' | '\'' | ',' | ';' | ')' | ']' | '>' | '}'
            )
    })
    .unwrap_or(text.len())
}

/// The user-info of `url` (what comes before the `@` of its authority), if any.
fn userinfo(url: &str) -> Option<&str> {
    let start = url.find("://")? + 3;
    let authority = &url[start..start + authority_end(&url[start..])];
    authority.rfind('@').map(|at| &authority[..at])
}

/// `url` with its user-info, if it has one, masked: `redis://***@host:6379`.
pub fn mask(url: &str) -> String {
    mask_in_text(url)
}

/// `text` with the user-info of every URL in it masked.
pub fn mask_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = at + 3;
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let end = authority_end(tail);
        match tail[..end].rfind('@') {
            Some(user_end) => {
                out.push_str(MASK);
                out.push_str(&tail[user_end..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Whether `url` carries a password (`redis://:pw@host`, `redis://user:pw@host`).
pub fn has_password(url: &str) -> bool {
    userinfo(url).is_some_and(|info| info.split_once(':').is_some_and(|(_, pw)| !pw.is_empty()))
}

/// `url` with `password` (percent-encoded) put into its user-info, keeping
/// a user name it has: `redis://host` gives `redis://:PASSWORD@host`.
/// `None` when it has no `scheme://`.
pub fn with_password(url: &str, password: &str) -> Option<String> {
    let start = url.find("://")? + 3;
    let (scheme, tail) = url.split_at(start);
    let encoded = percent_encode(password);
    let end = authority_end(tail);
    Some(match tail[..end].rfind('@') {
        Some(at) => {
            let user = tail[..at].split(':').next().unwrap_or_default();
            format!("{scheme}{user}:{encoded}{}", &tail[at..])
        }
        None => format!("{scheme}:{encoded}@{tail}"),
    })
}

/// Every byte but the unreserved characters of RFC 3986 as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_masked_wherever_a_url_shows() {
        assert_eq!(mask("redis://:pw@r1:6379"), "redis://***@r1:6379");
        assert_eq!(mask("rediss://ops:pw@r1:6380/0"), "rediss://***@r1:6380/0");
        assert_eq!(mask("redis://r1:6379"), "redis://r1:6379");
        assert_eq!(
            mask_in_text("cannot reach redis://:s3cret@r1:6379, rediss://u:p@r2/1 (x)"),
            "cannot reach redis://***@r1:6379, rediss://***@r2/1 (x)"
        );
        assert_eq!(mask_in_text("no url: a@b"), "no url: a@b");
        let url = StoreUrl::new("redis://:s3cret@r1:6379");
        assert!(!format!("{url:?} {url}").contains("s3cret"));
        assert_eq!(url.expose(), "redis://:s3cret@r1:6379");
    }

    #[test]
    fn passwords_are_found_and_put_in() {
        assert!(has_password("redis://:pw@r1:6379"));
        assert!(has_password("redis://user:pw@r1"));
        assert!(!has_password("redis://user@r1"));
        assert!(!has_password("redis://r1:6379"));
        assert!(!has_password("redis://r1:6379/0?x=a:b@c"));
        assert_eq!(
            with_password("redis://r1:6379", "p@ss:w/rd").as_deref(),
            Some("redis://:p%40ss%3Aw%2Frd@r1:6379")
        );
        assert_eq!(
            with_password("rediss://ops@r1:6380/0", "pw").as_deref(),
            Some("rediss://ops:pw@r1:6380/0")
        );
        assert_eq!(with_password("r1:6379", "pw"), None);
    }
}
