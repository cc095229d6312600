//! Scrubbing card numbers and tokens out of text that ends up in errors and
//! logs (server messages, undecodable bodies).

use uqpay_issuing_raw::pan;

/// Texts longer than this are cut (after redaction) when kept in an error.
pub(crate) const MAX_KEPT_TEXT: usize = 2048;

/// Masks every run of 12 to 19 ASCII digits (a possible card number) to its
/// first 6 and last 4 digits, and every JWT-shaped word (three base64url
/// segments joined by dots) entirely.
///
/// ```
/// assert_eq!(
///     uqpay_issuing::redact("card 4096360800133951 refused"),
///     "card 409636******3951 refused"
/// );
/// assert_eq!(
///     uqpay_issuing::redact("token eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl expired"),
///     "token [REDACTED] expired"
/// );
/// ```
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        // The next "word": a maximal run of token characters.
        let start = rest.find(|c: char| is_token_char(c)).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        let word = &rest[..end];
        out.push_str(&redact_word(word));
        rest = &rest[end..];
    }
    out
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn redact_word(word: &str) -> String {
    if looks_like_jwt(word) {
        return "[REDACTED]".to_owned();
    }
    // Mask digit runs of card-number length inside the word.
    let mut out = String::with_capacity(word.len());
    let bytes = word.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let run_end = bytes[i..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(bytes.len(), |p| i + p);
            let run = &word[i..run_end];
            if (pan::MIN_DIGITS..=pan::MAX_DIGITS).contains(&run.len()) {
                out.push_str(&pan::mask(run));
            } else if run.len() > pan::MAX_DIGITS {
                out.push_str(&"*".repeat(run.len()));
            } else {
                out.push_str(run);
            }
            i = run_end;
        } else {
            let next = bytes[i..]
                .iter()
                .position(u8::is_ascii_digit)
                .map_or(bytes.len(), |p| i + p);
            out.push_str(&word[i..next]);
            i = next;
        }
    }
    out
}

fn looks_like_jwt(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && word.len() >= 24
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Redacts `text`, replaces each of `secrets` by `[REDACTED]`, and cuts the
/// result to [`MAX_KEPT_TEXT`] bytes.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret, "[REDACTED]");
    }
    let mut text = redact(&text);
    if text.len() > MAX_KEPT_TEXT {
        let mut cut = MAX_KEPT_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
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
    }

    #[test]
    fn keeps_uuids_and_ordinary_text() {
        let text = "card c0cef051-29c5-4796-b86a-cd5b684bfad7 not found (code 10001)";
        assert_eq!(redact(text), text);
        assert_eq!(redact("ünïcödé 2100.02"), "ünïcödé 2100.02");
    }

    #[test]
    fn masks_jwts_and_known_secrets() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MTF9.dGhpcyBpcyBhIHNpZ25hdHVyZQ";
        assert_eq!(redact(&format!("bad token {jwt}")), "bad token [REDACTED]");
        assert_eq!(
            scrub("token s3cr3t-t0ken rejected", &["s3cr3t-t0ken"]),
            "token [REDACTED] rejected"
        );
        let long = "é".repeat(MAX_KEPT_TEXT);
        let cut = scrub(&long, &[]);
        assert!(cut.len() <= MAX_KEPT_TEXT + 20 && cut.ends_with("[truncated]"));
    }
}
