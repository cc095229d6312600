//! The layer order a crate root states in a comment block:
//!
//! ```text
//! // Layer order (`cargo xtask layers` checks it): each module uses only the
//! // modules listed below it; none uses the root's re-exports.
//! //
//! //   client      Client, Environment; ClientBuilder
//! //   cards       the request builders
//! //   call        one logical call
//! ```
//!
//! A `//` (or `//!`) comment line containing `Layer order` starts it; the
//! comment lines after it up to an empty one continue its sentence; after
//! empty comment lines, each list line's text (after the `//`) is two or
//! more spaces, a module's name and, optionally, white space and a
//! description. The list ends at the first other comment line, or at a
//! line that is no comment; except that a line indented deeper than the
//! names, and not itself of the list's form (`//               (TokenStore,
//! in process)`), continues the description above it.

/// A root's layer order: module names, top (uses the others) to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// The names in the order listed.
    pub names: Vec<String>,
    /// The line (1-based) the block starts at.
    pub line: usize,
}

impl Order {
    /// Where `name` is listed (0 at the top), if it is (the first time).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// The text of a `//`, `//!` or `///` comment line, after its marker.
fn comment(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("//")?;
    Some(rest.strip_prefix(['!', '/']).unwrap_or(rest))
}

/// A list line's module name and the column it starts at.
fn entry(text: &str) -> Option<(&str, usize)> {
    let indent = text.len() - text.trim_start_matches(' ').len();
    let rest = &text[indent..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    let after = &rest[end..];
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    (indent >= 2 && identifier && (after.is_empty() || after.starts_with(char::is_whitespace)))
        .then_some((name, indent))
}

/// The layer order stated in `source` (a crate root's text), if it states one.
pub fn parse(source: &str) -> Option<Order> {
    let mut lines = source.lines().enumerate();
    let start = lines
        .by_ref()
        .find(|(_, line)| comment(line).is_some_and(|text| text.contains("Layer order")))?
        .0;
    #[derive(PartialEq)]
    enum Phase {
        Sentence,
        Blank,
        List,
    }
    let mut phase = Phase::Sentence;
    let mut names = Vec::new();
    let mut column = None;
    for (_, line) in lines {
        let Some(text) = comment(line) else {
            break;
        };
        if let Some((name, indent)) = entry(text) {
            phase = Phase::List;
            column = Some(column.map_or(indent, |column: usize| column.min(indent)));
            names.push(name.to_owned());
            continue;
        }
        let blank = text.trim().is_empty();
        match phase {
            Phase::Sentence if blank => phase = Phase::Blank,
            Phase::Sentence => {}
            Phase::Blank if blank => {}
            Phase::Blank => break,
            Phase::List => {
                let indent = text.len() - text.trim_start_matches(' ').len();
                if blank || column.is_none_or(|column| indent <= column) {
                    break;
                }
            }
        }
    }
    Some(Order {
        names,
        line: start + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(source: &str) -> Vec<String> {
        parse(source).expect("a block").names
    }

    #[test]
    fn the_block_as_written_in_the_crates() {
        let source = "//! Crate docs.\n\n\
            // Layer order (`cargo xtask layers` checks it): each module uses only the\n\
            // modules listed below it; none uses the root's re-exports.\n\
            //\n\
            //   client      Client, Environment; ClientBuilder\n\
            //   cards       the request builders\n\
            //   call        one logical call\n\
            //   auth        fixed token or credentials; token (AccessToken, Minter), store\n\
            //               (TokenStore, in process), redis (the fleet's store)\n\
            //   error\n\
            mod auth;\n\
            //   not_listed  after the block\n";
        let order = parse(source).unwrap();
        assert_eq!(order.names, ["client", "cards", "call", "auth", "error"]);
        assert_eq!(order.line, 3);
        assert_eq!(order.position("call"), Some(2));
        assert_eq!(order.position("nope"), None);
    }

    #[test]
    fn where_the_list_ends() {
        // At an empty comment line, at a line of another form, at code.
        assert_eq!(names("// Layer order:\n//   a\n//\n//   b\n"), ["a"]);
        assert_eq!(
            names("// Layer order:\n//   a\n// b is not listed\n//   c\n"),
            ["a"]
        );
        assert_eq!(
            names("//! Layer order:\n//!\n//!   a  x\n//!   b\nfn f() {}\n"),
            ["a", "b"]
        );
        // A deeper line that looks like a name is a name (the list's form wins).
        assert_eq!(names("// Layer order:\n//   a\n//     b\n"), ["a", "b"]);
        // One space is not a list line; nor is a name followed by punctuation.
        assert_eq!(
            names("// Layer order:\n//\n// a\n//   b\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            names("// Layer order:\n//\n//   a: x\n"),
            Vec::<String>::new()
        );
        assert_eq!(parse("// no block here\nmod a;\n"), None);
        assert_eq!(parse("let s = \"Layer order\";\n"), None);
    }
}
