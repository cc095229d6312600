//! Scrubbing card numbers and tokens out of every text that leaves the SDK:
//! error messages, bodies kept in errors, and `tracing` output.

use uqpay_issuing_raw::pan;

/// Texts longer than this are cut (after redaction) when kept in an error.
pub(crate) const MAX_KEPT_TEXT: usize = 2048;

/// The most of an error page carried (unredacted, inside the SDK only) to
/// the place that scrubs and cuts it to [`MAX_KEPT_TEXT`].
pub(crate) const MAX_CARRIED_TEXT: usize = 16 * 1024;

/// `text` cut to at most `max` bytes, on a character boundary.
pub(crate) fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The most digits a group of a written-out card number has (`4096 3608
/// 0013 3951`, Amex's `3714 496353 98431`): longer groups are numbers of
/// their own, not parts of one.
const MAX_GROUP_DIGITS: usize = 6;

/// Masks every possible card number and every JWT-shaped word:
///
/// - a run of 12 to 19 digits, written plainly (`4096360800133951`) or in
///   groups of up to 6 digits separated by single spaces or dashes
///   (`4096 3608 0013 3951`, `4096-3608-0013-3951`), keeps only its first 6
///   and last 4 digits;
/// - longer runs are masked entirely;
/// - a word of three base64url segments joined by dots (a JWT) becomes
///   `[REDACTED]`;
/// - the credentials after `Basic ` or `Bearer `, and the value of any
///   `authorization:` or `proxy-authorization:` header written out (a proxy
///   or server page echoing the request), become `[REDACTED]`.
///
/// ```
/// use uqpay_issuing::redact;
///
/// assert_eq!(redact("card 4096360800133951 refused"), "card 409636******3951 refused");
/// assert_eq!(redact("card 4096 3608 0013 3951"), "card 4096 36** **** 3951");
/// assert_eq!(
///     redact("token eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl expired"),
///     "token [REDACTED] expired"
/// );
/// assert_eq!(
///     redact("proxy-authorization: Basic dXNlcjpwYXNz\r\nhost: x"),
///     "proxy-authorization: [REDACTED]\r\nhost: x"
/// );
/// ```
pub fn redact(text: &str) -> String {
    let text = mask_jwts(&mask_credentials(text));
    // UUIDs (card ids, idempotency keys) are not card numbers, even when a
    // segment happens to be all digits: copied as they are.
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some((start, end)) = find_uuid(rest) {
        out.push_str(&mask_digit_runs(&rest[..start]));
        out.push_str(&rest[start..end]);
        rest = &rest[end..];
    }
    out.push_str(&mask_digit_runs(rest));
    out
}

/// The byte range of the first UUID (8-4-4-4-12 hex digits, not inside a
/// longer word) in `text`.
fn find_uuid(text: &str) -> Option<(usize, usize)> {
    const LEN: usize = 36;
    let bytes = text.as_bytes();
    let boundary = |i: usize| i == 0 || i >= bytes.len() || !bytes[i].is_ascii_alphanumeric();
    (0..bytes.len().saturating_sub(LEN - 1))
        .filter(|&i| {
            bytes[i].is_ascii_hexdigit() && boundary(i.wrapping_sub(1)) && boundary(i + LEN)
        })
        .find(|&i| {
            bytes[i..i + LEN].iter().enumerate().all(|(k, b)| match k {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
        })
        .map(|i| (i, i + LEN))
}

/// The byte offset of the first ASCII-case-insensitive `needle` in `text`
/// at or after `from`.
fn find_ignore_case(text: &str, needle: &str, from: usize) -> Option<usize> {
    let (bytes, needle) = (text.as_bytes(), needle.as_bytes());
    (from..=bytes.len().checked_sub(needle.len())?)
        .find(|&i| bytes[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

/// Masks header-borne credentials: the value of `authorization` /
/// `proxy-authorization` headers (to the end of the line), and the
/// credentials after the `Basic` and `Bearer` schemes wherever they appear.
fn mask_credentials(text: &str) -> String {
    // Cheap test first: most texts have none of these words.
    let lower_has = |word: &str| find_ignore_case(text, word, 0).is_some();
    if !(lower_has("authorization") || lower_has("basic ") || lower_has("bearer ")) {
        return text.to_owned();
    }
    let mut masked: Vec<(usize, usize)> = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = find_ignore_case(text, "authorization", from) {
        let mut i = at + "authorization".len();
        // `authorization: value`, `"authorization": "value"`, `authorization=value`.
        while i < bytes.len() && matches!(bytes[i], b' ' | b'"' | b'\'') {
            i += 1;
        }
        if i < bytes.len() && matches!(bytes[i], b':' | b'=') {
            i += 1;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'"' | b'\'') {
                i += 1;
            }
            let end = bytes[i..]
                .iter()
                .position(|b| matches!(b, b'\r' | b'\n' | b'"' | b'\'' | b'<' | b','))
                .map_or(bytes.len(), |n| i + n);
            if end > i {
                masked.push((i, end));
            }
        }
        from = i.max(at + 1);
    }
    for scheme in ["basic ", "bearer "] {
        let mut from = 0;
        while let Some(at) = find_ignore_case(text, scheme, from) {
            let start = at + scheme.len();
            let end = bytes[start..]
                .iter()
                .position(|b| {
                    !(b.is_ascii_alphanumeric()
                        || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_' | b'.' | b'~'))
                })
                .map_or(bytes.len(), |n| start + n);
            // A credential, not a word of prose ("basic rules"): 8 bytes or more.
            if end - start >= 8 && text[start..end] != *"[REDACTED]" {
                masked.push((start, end));
            }
            from = end.max(start);
        }
    }
    if masked.is_empty() {
        return text.to_owned();
    }
    masked.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in masked {
        if start < copied {
            // Inside a range already masked.
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str("[REDACTED]");
        copied = end;
    }
    out.push_str(&text[copied..]);
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Replaces JWT-shaped words by `[REDACTED]`.
fn mask_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest.find(is_token_char).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c| !is_token_char(c)).unwrap_or(rest.len());
        let word = &rest[..end];
        if looks_like_jwt(word) {
            out.push_str("[REDACTED]");
        } else {
            out.push_str(word);
        }
        rest = &rest[end..];
    }
    out
}

fn looks_like_jwt(word: &str) -> bool {
    let mut parts = 0;
    for part in word.split('.') {
        parts += 1;
        if part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    parts == 3 && word.len() >= 24
}

/// One maximal stretch of digit groups joined by single spaces or dashes,
/// as byte ranges of the groups.
fn digit_groups(bytes: &[u8], start: usize) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut at = start;
    loop {
        let end = at
            + bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        groups.push((at, end));
        // Another group follows a single separator directly.
        match (bytes.get(end), bytes.get(end + 1)) {
            (Some(b' ' | b'-'), Some(next)) if next.is_ascii_digit() => at = end + 1,
            _ => return groups,
        }
    }
}

/// Masks card-number-like digit runs (see [`redact`]).
fn mask_digit_runs(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut groups = digit_groups(bytes, i);
        // Grouped only if every group is short; otherwise each long group
        // stands alone (two plain numbers separated by a space are two).
        if groups.len() > 1 && groups.iter().any(|(s, e)| e - s > MAX_GROUP_DIGITS) {
            groups.truncate(1);
        }
        let digits: usize = groups.iter().map(|(s, e)| e - s).sum();
        let end = groups.last().map_or(i, |g| g.1);
        if digits >= pan::MIN_DIGITS {
            out.push_str(&text[copied..i]);
            let keep_head = if digits <= pan::MAX_DIGITS { 6 } else { 0 };
            let keep_tail = if digits <= pan::MAX_DIGITS { 4 } else { 0 };
            let mut seen = 0;
            for (k, &b) in bytes[i..end].iter().enumerate() {
                if b.is_ascii_digit() {
                    let keep = seen < keep_head || seen >= digits - keep_tail;
                    out.push(if keep { b as char } else { '*' });
                    seen += 1;
                } else {
                    out.push(bytes[i + k] as char);
                }
            }
            copied = end;
        }
        i = end.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

/// Redacts `text`, replaces each of `secrets` (tokens, the API key) by
/// `[REDACTED]`, and cuts the result to [`MAX_KEPT_TEXT`] bytes.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        if text.contains(secret) {
            text = text.replace(secret, "[REDACTED]");
        }
    }
    let mut text = redact(&text);
    if text.len() > MAX_KEPT_TEXT {
        text.truncate(cut(&text, MAX_KEPT_TEXT).len());
        text.push_str("...[truncated]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_card_numbers_of_every_length() {
        assert_eq!(redact("409636080013"), "409636**0013");
        assert_eq!(redact("4096360800133951123"), "409636*********1123");
        assert_eq!(
            redact("a 12345678901 b"),
            "a 12345678901 b",
            "11 digits are kept"
        );
        assert_eq!(redact("40963608001339511234"), "********************");
        assert_eq!(
            redact(r#"{"card_number":"4096360800133951"}"#),
            r#"{"card_number":"409636******3951"}"#
        );
        assert_eq!(redact("x4096360800133951y"), "x409636******3951y");
        // A digit run that only looks like a UUID's tail is still masked.
        assert_eq!(redact("1234-123456789012"), "1234-123456**9012");
    }

    #[test]
    fn masks_card_numbers_written_in_groups() {
        assert_eq!(redact("4096 3608 0013 3951"), "4096 36** **** 3951");
        assert_eq!(redact("4096-3608-0013-3951"), "4096-36**-****-3951");
        assert_eq!(redact("3714 496353 98431"), "3714 49**** *8431");
        assert_eq!(
            redact("cards 4096 3608 0013 3951 and 5555-4444-3333-2222."),
            "cards 4096 36** **** 3951 and 5555-44**-****-2222."
        );
        // Two written-out numbers in a row are more than 19 digits: all masked.
        assert_eq!(
            redact("4096 3608 0013 3951 5555 4444 3333 2222"),
            "**** **** **** **** **** **** **** ****"
        );
        // The rule errs on the safe side: three 4-digit amounts in a row
        // are 12 digits in groups.
        assert_eq!(redact("limits 1000 2000 3000"), "limits 1000 20** 3000");
        // Two plain numbers separated by a space stay two numbers.
        assert_eq!(
            redact("4096360800133951 5555444433332222"),
            "409636******3951 555544******2222"
        );
    }

    #[test]
    fn keeps_uuids_dates_and_ordinary_text() {
        for text in [
            "card c0cef051-29c5-4796-b86a-cd5b684bfad7 not found (code 10001)",
            "ünïcödé 2100.02",
            "2024-05-09 15:52:23",
            "+65 8668 3306",
            "limits 1000 2000",
            "12345678-1234-5678-9abc-123456789012",
            "key 12345678-1234-4234-8234-123456789012, card 11111111-2222-3333-4444-555555555555",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn masks_jwts_and_known_secrets() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MTF9.dGhpcyBpcyBhIHNpZ25hdHVyZQ";
        assert_eq!(redact(&format!("bad token {jwt}")), "bad token [REDACTED]");
        assert_eq!(
            scrub("token s3cr3t-t0ken rejected", &["s3cr3t-t0ken"]),
            "token [REDACTED] rejected"
        );
        assert_eq!(
            scrub("x-auth-token: Bearer s3cr3t-t0ken", &["s3cr3t-t0ken"]),
            "x-auth-token: Bearer [REDACTED]"
        );
        let echoed = "POST / HTTP/1.1\r\nProxy-Authorization: Basic ZWdyZXNzOnB3\r\n\
                      x-auth-token: Bearer opaque-token-1234\r\n\r\n";
        let text = redact(echoed);
        assert!(
            !text.contains("ZWdyZXNzOnB3") && !text.contains("opaque-token-1234"),
            "{text}"
        );
        assert!(text.contains("x-auth-token: Bearer [REDACTED]"), "{text}");
        assert_eq!(
            redact(r#"{"authorization": "Negotiate abc def", "a": 1}"#),
            r#"{"authorization": "[REDACTED]", "a": 1}"#
        );
        assert_eq!(redact("basic rules apply"), "basic rules apply");
        let long = "é".repeat(MAX_KEPT_TEXT);
        let cut = scrub(&long, &[]);
        assert!(cut.len() <= MAX_KEPT_TEXT + 20 && cut.ends_with("[truncated]"));
    }
}
