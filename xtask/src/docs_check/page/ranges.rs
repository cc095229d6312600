//! Numeric ranges as the pages write them (`Required range: 0 <= x <= 100`)
//! and as the spec states them (`minimum`, `maximum`, exclusive or not).

use std::fmt;

use crate::docs_check::page::labels::unquote;

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
}
