//! The JSON in a page's text: the example beside the request (the first
//! object or array that starts a line and parses) and a field's example
//! written over several lines.
//!
//! Both are found in time linear in the text, whatever the page: no
//! candidate is copied out of the text, and a candidate whose fate the
//! parse of an earlier one already decided is not parsed again. The
//! reasoning, for a parse that starts at line `p` and fails at byte `f`:
//! every byte before `f` was valid JSON in its place, and a JSON string
//! never spans lines, so every later candidate `q` before `f` starts a
//! value nested in `p`'s. If that value's bracket closes before `f`, it
//! parses (the parse of `p` just read it); if it is still open at `f`, its
//! own parse reads the same bytes and fails at `f` too, unless the error
//! was the parser's nesting limit (128), which a deeper start has more of.
//! There, success is monotone along the still-open values (an outer one
//! that parses holds an inner one that parses), so the innermost decides
//! for all of them when it fails, and a bisection finds the outermost that
//! parses when it does.

use std::cell::Cell;
use std::io;

use serde_json::Value;

use crate::docs_check::page::model::PageError;

thread_local! {
    /// Bytes handed to the JSON parser on this thread (the work the tests bound).
    static BYTES_READ: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    BYTES_READ.with(|read| read.set(read.get().saturating_add(bytes)));
}

/// The bytes handed to the JSON parser on this thread so far.
#[cfg(test)]
pub fn bytes_read() -> usize {
    BYTES_READ.with(Cell::get)
}

/// The first JSON object or array that starts a line in `lines` (a line
/// that only looks like one, in a code sample of another language, is
/// skipped; an error only when nothing parses: the first candidate's).
pub fn first_json(lines: &[String]) -> Result<Option<Value>, PageError> {
    let mut finder = Finder::new(lines);
    let mut first_error = None;
    let mut next = 0;
    while next < finder.starts.len() {
        let failure = match finder.attempt(next) {
            Outcome::Parsed(value) => return Ok(Some(value)),
            Outcome::Failed(failure) => failure,
        };
        if first_error.is_none() {
            first_error = failure.error.as_ref().map(|e| finder.error(next, e));
        }
        match finder.after(next, failure) {
            Step::Try(candidate) => next = candidate,
            Step::Found(value) => return Ok(Some(value)),
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

/// The candidates of [`first_json`] and what is known of them.
struct Finder<'a> {
    lines: &'a [String],
    /// The lines joined by `\n`.
    text: String,
    /// Where each line starts in `text`.
    line_starts: Vec<usize>,
    /// Each candidate: its line, and where its `{` or `[` is in `text`.
    starts: Vec<(usize, usize)>,
    /// Where each candidate's bracket closes (brackets counted outside
    /// strings, a string never going past its line), if it does.
    ends: Vec<Option<usize>>,
}

enum Outcome {
    Parsed(Value),
    Failed(Failure),
}

/// Where a parse failed.
struct Failure {
    /// The byte the parser refused, in `text`.
    at: usize,
    /// The parser's nesting limit, rather than a syntax error.
    nesting: bool,
    error: Option<serde_json::Error>,
}

/// What to do after a failed parse.
enum Step {
    /// Parse this candidate next (`starts.len()`: none is left).
    Try(usize),
    /// The first candidate that parses, parsed.
    Found(Value),
}

impl<'a> Finder<'a> {
    fn new(lines: &'a [String]) -> Finder<'a> {
        let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        let mut line_starts = Vec::with_capacity(lines.len());
        let mut starts = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            line_starts.push(text.len());
            let trimmed = line.trim_start();
            if trimmed.starts_with('{') || trimmed.starts_with('[') {
                starts.push((i, text.len() + line.len() - trimmed.len()));
            }
            text.push_str(line);
        }
        let mut ends = vec![None; starts.len()];
        let mut open: Vec<Option<usize>> = Vec::new();
        let mut candidate = 0;
        for (i, line) in lines.iter().enumerate() {
            let (mut in_string, mut escaped) = (false, false);
            for (k, byte) in line.bytes().enumerate() {
                if in_string {
                    match byte {
                        _ if escaped => escaped = false,
                        b'\\' => escaped = true,
                        b'"' => in_string = false,
                        _ => {}
                    }
                    continue;
                }
                match byte {
                    b'"' => in_string = true,
                    b'{' | b'[' => {
                        let at = line_starts[i] + k;
                        let is_candidate = starts.get(candidate).is_some_and(|s| s.1 == at);
                        open.push(is_candidate.then_some(candidate));
                        candidate += usize::from(is_candidate);
                    }
                    b'}' | b']' => {
                        if let Some(Some(c)) = open.pop() {
                            ends[c] = Some(line_starts[i] + k);
                        }
                    }
                    _ => {}
                }
            }
        }
        Finder {
            lines,
            text,
            line_starts,
            starts,
            ends,
        }
    }

    /// Parses the value candidate `c` starts.
    fn attempt(&mut self, c: usize) -> Outcome {
        let (line, start) = self.starts[c];
        let mut stream =
            serde_json::Deserializer::from_str(&self.text[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                count(stream.byte_offset());
                Outcome::Parsed(value)
            }
            Some(Err(error)) => {
                // The error's line and column are counted from `start`;
                // its column is that of the byte refused (1 = the first).
                let first_line = error.line().max(1) - 1;
                let line_start = match first_line {
                    0 => start,
                    n => self
                        .line_starts
                        .get(line + n)
                        .copied()
                        .unwrap_or(self.text.len()),
                };
                let at = (line_start + error.column().saturating_sub(1)).min(self.text.len());
                count(at + 1 - start);
                Outcome::Failed(Failure {
                    at,
                    nesting: error.to_string().contains("recursion limit exceeded"),
                    error: Some(error),
                })
            }
            None => Outcome::Failed(Failure {
                at: start,
                nesting: false,
                error: None,
            }),
        }
    }

    /// The message of candidate `c`'s failure.
    fn error(&self, c: usize, error: &serde_json::Error) -> PageError {
        let line = self.lines[self.starts[c].0].trim_start();
        PageError(format!(
            "the example that starts with `{}` is not JSON: {error}",
            line.chars().take(40).collect::<String>()
        ))
    }

    /// After candidate `k` failed: the next candidate that may parse, or
    /// the first one that does (see the module's docs for why the others
    /// need no parse).
    fn after(&mut self, mut k: usize, mut failure: Failure) -> Step {
        loop {
            let bad = failure.at;
            let inside_end = (k + 1..self.starts.len())
                .find(|&j| self.starts[j].1 >= bad)
                .unwrap_or(self.starts.len());
            let closed = |j: usize| self.ends[j].is_some_and(|end| end <= bad);
            let first_closed = (k + 1..inside_end).find(|&j| closed(j));
            if !failure.nesting {
                return Step::Try(first_closed.unwrap_or(inside_end));
            }
            let still_open: Vec<usize> = (k + 1..inside_end).filter(|&j| !closed(j)).collect();
            let Some(&innermost) = still_open.last() else {
                return Step::Try(first_closed.unwrap_or(inside_end));
            };
            match self.attempt(innermost) {
                Outcome::Failed(inner) => {
                    // Every still-open one fails: the first closed one is next.
                    if let Some(j) = first_closed {
                        return Step::Try(j);
                    }
                    k = innermost;
                    failure = inner;
                }
                Outcome::Parsed(value) => {
                    // The outermost still-open candidate before the first
                    // closed one that parses, by bisection.
                    let before: Vec<usize> = still_open
                        .into_iter()
                        .filter(|&j| first_closed.is_none_or(|closed| j < closed))
                        .collect();
                    let known = before.last() == Some(&innermost);
                    let (mut lo, mut hi) = (0, before.len() - usize::from(known));
                    let mut best = known.then_some(value);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        match self.attempt(before[mid]) {
                            Outcome::Parsed(value) => {
                                hi = mid;
                                best = Some(value);
                            }
                            Outcome::Failed(_) => lo = mid + 1,
                        }
                    }
                    return match (best, first_closed) {
                        (Some(value), _) => Step::Found(value),
                        (None, Some(j)) => Step::Try(j),
                        (None, None) => Step::Try(inside_end),
                    };
                }
            }
        }
    }
}

/// A JSON example written over several lines: `first` (which starts with
/// `{` or `[`) and the lines of `rest` after it, taken until the text
/// parses as one JSON value. Returns the value and how many lines of
/// `rest` it took; none when no such text parses.
pub fn continued_json(first: &str, rest: &[String]) -> Option<(Value, usize)> {
    let mut reader = Joined {
        first,
        rest,
        segment: 0,
        offset: 0,
    };
    let mut stream = serde_json::Deserializer::from_reader(&mut reader).into_iter::<Value>();
    let parsed = stream.next();
    let end = stream.byte_offset();
    drop(stream);
    count(reader.delivered());
    let value = parsed?.ok()?;
    // The value ends in segment `s` (0 is `first`), at `offset` into it;
    // the text holding it must have nothing but white space after it.
    let (mut s, mut from) = (0, 0);
    loop {
        let len = reader.segment(s)?.len();
        if end <= from + len {
            break;
        }
        from += len + 1;
        s += 1;
    }
    let offset = end - from;
    let blank = |text: &str| text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r'));
    let after = &reader.segment(s)?[offset..];
    match s {
        0 => (blank(after) && blank(rest.first()?)).then_some((value, 1)),
        s => blank(after).then_some((value, s)),
    }
}

/// `first` and the lines of `rest`, joined by `\n`, read lazily: the
/// parser reads only as far as it gets.
struct Joined<'a> {
    first: &'a str,
    rest: &'a [String],
    /// The segment being read: 0 is `first`, `k + 1` is `rest[k]`.
    segment: usize,
    /// How far into it (its length: the `\n` after it is next).
    offset: usize,
}

impl Joined<'_> {
    fn segment(&self, i: usize) -> Option<&str> {
        match i {
            0 => Some(self.first),
            i => self.rest.get(i - 1).map(String::as_str),
        }
    }

    /// The bytes read so far.
    fn delivered(&self) -> usize {
        let before: usize = (0..self.segment)
            .map(|i| self.segment(i).map_or(0, |s| s.len() + 1))
            .sum();
        before + self.offset
    }
}

impl io::Read for Joined<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(segment) = self.segment(self.segment) else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        if self.offset < segment.len() {
            let n = buf.len().min(segment.len() - self.offset);
            buf[..n].copy_from_slice(&segment.as_bytes()[self.offset..self.offset + n]);
            self.offset += n;
            return Ok(n);
        }
        if self.segment(self.segment + 1).is_none() {
            return Ok(0);
        }
        buf[0] = b'\n';
        self.segment += 1;
        self.offset = 0;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader before it was made linear: each candidate joined with
    /// the rest of the text and parsed in turn.
    fn first_json_quadratic(lines: &[String]) -> Result<Option<Value>, PageError> {
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
        first_error.map_or(Ok(None), Err)
    }

    /// The multi-line example before: lines added one at a time until the text parses.
    fn continued_json_quadratic(first: &str, rest: &[String]) -> Option<(Value, usize)> {
        let mut text = first.to_owned();
        for (k, line) in rest.iter().enumerate() {
            text.push('\n');
            text.push_str(line);
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                return Some((value, k + 1));
            }
        }
        None
    }

    /// A small deterministic generator (no dependency for a test).
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) % n as u64) as usize
        }
    }

    /// Lines that open, close, nest, break and hide brackets in strings.
    const PIECES: &[&str] = &[
        "{",
        "[",
        "}",
        "]",
        "{\"a\": 1}",
        "[1,",
        "1,",
        "2",
        "\"x\"",
        "{\"a\":",
        "{\"s\": \"{[\\\"\"}",
        "\"]}\"",
        "x",
        "",
        "  {",
        "]}",
        "},",
        "[[[",
        "]]]",
        "{\"k\": [",
        "{\"a\": 1}x",
        "[1] trailing",
        "\u{3000}[2]",
        "Example:",
    ];

    fn random_lines(rng: &mut Lcg, n: usize, deep: bool) -> Vec<String> {
        (0..n)
            .map(|_| {
                if deep && rng.below(3) > 0 {
                    ["[", "[1,", "{\"k\": ["][rng.below(3)].to_owned()
                } else {
                    PIECES[rng.below(PIECES.len())].to_owned()
                }
            })
            .collect()
    }

    fn lines(text: &str) -> Vec<String> {
        text.split('\n').map(str::to_owned).collect()
    }

    #[test]
    fn the_first_json_is_the_one_the_quadratic_reader_found() {
        let mut rng = Lcg(7);
        for case in 0..6000 {
            let deep = case % 4 == 0;
            let n = if deep {
                100 + rng.below(300)
            } else {
                1 + rng.below(14)
            };
            let page = random_lines(&mut rng, n, deep);
            assert_eq!(
                first_json(&page),
                first_json_quadratic(&page),
                "case {case}: {page:?}"
            );
        }
        // Past the nesting limit, values nested in the outermost parse.
        for depth in [126, 127, 128, 129, 200, 400] {
            for tail in ["]", "x", ""] {
                let mut page: Vec<String> = vec!["[".to_owned(); depth];
                page.push("{\"a\": [1]}".into());
                page.push(tail.into());
                page.extend(vec!["]".to_owned(); depth / 2]);
                assert_eq!(
                    first_json(&page),
                    first_json_quadratic(&page),
                    "depth {depth}, tail {tail:?}"
                );
            }
        }
    }

    #[test]
    fn a_continued_example_is_the_one_the_quadratic_reader_found() {
        let mut rng = Lcg(11);
        for case in 0..6000 {
            let deep = case % 4 == 0;
            let first = ["{", "[", "[1,", "{\"a\":", "{\"a\": 1}", "[ ", "{}x"][rng.below(7)];
            let n = if deep {
                100 + rng.below(200)
            } else {
                rng.below(10)
            };
            let rest = random_lines(&mut rng, n, deep);
            assert_eq!(
                continued_json(first, &rest),
                continued_json_quadratic(first, &rest),
                "case {case}: {first:?} {rest:?}"
            );
        }
    }

    /// The parser's work on pages made to be slow: bounded by a small
    /// multiple of the text, however many candidates it has (the quadratic
    /// reader read 15,000 lines of `{` 15,000 times).
    #[test]
    fn hostile_text_is_read_in_linear_work() {
        let shapes: [(&str, String); 5] = [
            ("every line an open brace", "{\n".repeat(30_000)),
            ("every line an open bracket", "[\n".repeat(30_000)),
            (
                "nested arrays of long lines",
                format!("[{}\n", "1,".repeat(200)).repeat(2_000),
            ),
            (
                "nested arrays that fail deep inside",
                format!("{}x\n", "[\n".repeat(120)).repeat(200),
            ),
            (
                "opened and never closed between values",
                "{\"k\": [\n1,\n".repeat(10_000),
            ),
        ];
        for (what, text) in shapes {
            let page = lines(&text);
            let before = bytes_read();
            let found = first_json(&page);
            let work = bytes_read() - before;
            assert!(
                work <= 3 * text.len(),
                "{what}: {work} bytes parsed for a text of {}",
                text.len()
            );
            assert!(found.is_err(), "{what}: {found:?}");
        }
        // The example of a field: each `Example: {` line starts a parse.
        let rest = lines(&"{\n".repeat(30_000));
        let before = bytes_read();
        for start in 0..rest.len() {
            assert_eq!(continued_json("{", &rest[start..]), None);
        }
        let work = bytes_read() - before;
        assert!(
            work <= 8 * rest.len(),
            "{work} bytes parsed for {} lines",
            rest.len()
        );
    }

    #[test]
    fn an_example_is_found_past_lines_that_only_look_like_json() {
        let page = lines("{ not json\n[x]\n  {\"a\": [1, 2]}\n{\"b\": 2}");
        assert_eq!(
            first_json(&page),
            Ok(Some(serde_json::json!({"a": [1, 2]})))
        );
        let err = first_json(&lines("{ nope\n[also not")).unwrap_err();
        assert!(
            err.0
                .starts_with("the example that starts with `{ nope` is not JSON: "),
            "{err}"
        );
        assert_eq!(first_json(&lines("no json\nat all")), Ok(None));
        assert_eq!(
            continued_json("{", &lines("\"a\": 1\n}\nafter")),
            Some((serde_json::json!({"a": 1}), 2))
        );
        assert_eq!(continued_json("{", &lines("\"a\": 1\n} x\nafter")), None);
    }
}
