//! `cargo xtask docs-check [PAGE...]`: holds `spec/uqpay-issuing.yaml` to
//! UQPay's API reference. Each page, as a browser copies it (or as saved in
//! `spec/docs/`), is read by [`page`] and compared by [`compare`](mod@compare) with the
//! spec's operation of the same method and path (or the webhook events it
//! documents); every difference is listed unless an `x-docs-deviation` in
//! the spec acknowledges it.
//!
//! Exit codes: 0 when nothing differs (acknowledged deviations listed), 1
//! when something does (or, checking every snapshot, when a deviation
//! acknowledges nothing any more), 2 when a page or the spec cannot be
//! read. A page over [`MAX_PAGE_BYTES`] is not read (exit 2): the reader
//! is linear in a page's size, and no page of the reference comes near it.

pub mod compare;
pub mod page;
#[cfg(test)]
mod rendering;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use uqpay_codegen::SPEC_PATH;

use crate::docs_check::compare::compare;
use crate::docs_check::compare::spec::{Deviation, Spec, DEVIATION};
use crate::docs_check::page::parse;

/// Where `docs-check` finds the snapshots, relative to the workspace root.
pub const DOCS_DIR: &str = "spec/docs";

/// The largest page read: 4 MiB (the saved pages are 1 to 5 KB; a whole
/// reference page as a browser copies it, tens of KB).
pub const MAX_PAGE_BYTES: u64 = 4 << 20;

/// The text of the page `file`: refused, before a byte is read, when its
/// size is over [`MAX_PAGE_BYTES`] (and when more than that can be read,
/// whatever its size said), or when it is not UTF-8.
fn read_page(file: &Path) -> Result<String, String> {
    let over = |size: String| {
        format!(
            "it is {size} bytes, over the limit of a page ({} MiB, {MAX_PAGE_BYTES} bytes)",
            MAX_PAGE_BYTES >> 20
        )
    };
    let handle = File::open(file).map_err(|e| e.to_string())?;
    let size = handle.metadata().map_err(|e| e.to_string())?.len();
    if size > MAX_PAGE_BYTES {
        return Err(over(size.to_string()));
    }
    let mut bytes = Vec::new();
    handle
        .take(MAX_PAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_PAGE_BYTES {
        return Err(over(format!("more than {MAX_PAGE_BYTES}")));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
}

/// The snapshots in `root/spec/docs/` (every `.txt` file), sorted.
pub fn snapshots(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join(DOCS_DIR))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    pages.sort();
    Ok(pages)
}

/// `cargo xtask docs-check [PAGE...]`: checks `pages` (every snapshot when
/// empty) against the spec at `spec_path`, writes one line per difference
/// and per acknowledged deviation to `out`, and returns the exit code: 0
/// when nothing differs, 1 when something does (or, checking every
/// snapshot, when a deviation acknowledges nothing any more), 2 when a page
/// or the spec cannot be read.
pub fn run(root: &Path, spec_path: &Path, pages: &[PathBuf], out: &mut dyn Write) -> u8 {
    let all = pages.is_empty();
    let mut print = |line: String| {
        let _ = writeln!(out, "{line}");
    };
    let spec = match Spec::load(spec_path) {
        Ok(spec) => spec,
        Err(e) => {
            print(format!("error: {e}"));
            return 2;
        }
    };
    let pages = if all {
        match snapshots(root) {
            Ok(pages) if !pages.is_empty() => pages,
            Ok(_) => {
                print(format!("error: no page snapshots (*.txt) in {DOCS_DIR}/"));
                return 2;
            }
            Err(e) => {
                print(format!("error: cannot list {DOCS_DIR}/: {e}"));
                return 2;
            }
        }
    } else {
        pages.to_vec()
    };
    let mut unreadable = 0;
    let mut differences = 0;
    let mut acknowledged = 0;
    let mut used: BTreeSet<Deviation> = BTreeSet::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    for file in &pages {
        let name = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        let text = match read_page(file) {
            Ok(text) => text,
            Err(e) => {
                print(format!("{name}: cannot read the page: {e}"));
                unreadable += 1;
                continue;
            }
        };
        let page = match parse(&text) {
            Ok(page) => page,
            Err(e) => {
                print(format!("{name}: cannot read the page: {e}"));
                unreadable += 1;
                continue;
            }
        };
        let report = compare(&spec, &page);
        covered.extend(report.covers.iter().cloned());
        for ack in &report.acknowledged {
            used.insert((
                ack.at.clone(),
                ack.difference.kind,
                ack.difference.value.clone(),
            ));
            print(format!(
                "{name}: acknowledged: {} -- {}",
                ack.difference, ack.reason
            ));
        }
        for difference in &report.differences {
            print(format!("{name}: {difference}"));
        }
        acknowledged += report.acknowledged.len();
        differences += report.differences.len();
    }
    let mut stale = 0;
    if all && unreadable == 0 {
        for (deviation, reason) in &spec.deviations {
            if !used.contains(deviation) {
                let (at, kind, value) = deviation;
                stale += 1;
                let what = match value {
                    Some(value) => format!("`{} {value}`", kind.key()),
                    None => format!("`{}`", kind.key()),
                };
                print(format!(
                    "{}: {DEVIATION} at {at}: acknowledges a {what} difference that no page shows any more ({reason}); remove it",
                    SPEC_PATH,
                ));
            }
        }
        let mut unchecked: Vec<String> = Vec::new();
        for item in spec
            .document
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|p| p.values())
        {
            for op in item.as_object().into_iter().flat_map(|o| o.values()) {
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    if !covered.contains(id) {
                        unchecked.push(id.to_owned());
                    }
                }
            }
        }
        for event in spec
            .document
            .get("x-webhooks")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.keys())
        {
            if !covered.contains(event) {
                unchecked.push(event.clone());
            }
        }
        if !unchecked.is_empty() {
            print(format!(
                "note: no page in {DOCS_DIR}/ for {}",
                unchecked.join(", ")
            ));
        }
    }
    let summary = format!(
        "docs-check: {} page(s) against {}: {differences} difference(s), {acknowledged} acknowledged deviation(s){}{}",
        pages.len(),
        SPEC_PATH,
        if stale > 0 { format!(", {stale} stale deviation(s)") } else { String::new() },
        if unreadable > 0 { format!(", {unreadable} unreadable page(s)") } else { String::new() },
    );
    print(summary);
    if unreadable > 0 {
        2
    } else if differences > 0 || stale > 0 {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docs_check::rendering::{render, root, LANGS};

    fn run_on(pages: &[PathBuf], spec_path: &Path) -> (u8, String) {
        let mut out = Vec::new();
        let code = run(&root(), spec_path, pages, &mut out);
        (code, String::from_utf8(out).unwrap())
    }

    fn temp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("docs-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn unchanged_snapshots_exit_0_and_list_the_acknowledged_deviations() {
        let (code, out) = run_on(&[], &root().join(SPEC_PATH));
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(" 0 difference(s)"), "{out}");
        let acknowledged = out
            .lines()
            .filter(|l| l.contains(": acknowledged: "))
            .count();
        assert!(acknowledged > 20, "{out}");
        assert!(out.contains(
            "spec/docs/assign-card.txt: acknowledged: assign_card (POST /v1/issuing/cards/assign): header x-on-behalf-of: maximum length: page none; spec 64 -- "
        ), "{out}");
        assert!(
            !out.contains("note: no page"),
            "every operation and event has a page: {out}"
        );
    }

    #[test]
    fn a_drifted_page_exits_1_with_one_line_naming_the_field_and_both_values() {
        let text = std::fs::read_to_string(root().join("spec/docs/update-card.txt")).unwrap();
        let drifted = text.replacen("Maximum string length: 26", "Maximum string length: 24", 1);
        assert_ne!(drifted, text);
        for lang in LANGS {
            let page = temp(
                &format!("update-card-{lang:?}.txt"),
                &render(&drifted, lang),
            );
            let (code, out) = run_on(std::slice::from_ref(&page), &root().join(SPEC_PATH));
            assert_eq!(code, 1, "{out}");
            let differences: Vec<&str> = out
                .lines()
                .filter(|l| !l.contains("acknowledged") && !l.starts_with("docs-check:"))
                .collect();
            assert_eq!(
                differences,
                [format!(
                    "{}: update_card (POST /v1/issuing/cards/{{id}}): request body name_on_card: maximum length: page 24; spec 26",
                    page.display()
                )],
                "{out}"
            );
        }
    }

    #[test]
    fn a_page_that_is_not_an_endpoint_page_exits_2_naming_the_file() {
        let notes = temp(
            "notes.txt",
            "# Updates to the notes\n\nNo machine-readable spec is published.\n",
        );
        let (code, out) = run_on(std::slice::from_ref(&notes), &root().join(SPEC_PATH));
        assert_eq!(code, 2, "{out}");
        assert!(
            out.contains(&format!(
                "{}: cannot read the page: not an endpoint page",
                notes.display()
            )),
            "{out}"
        );
        // The docs' own README is no page either; a missing file neither.
        let readme = root().join("spec/docs/README.md");
        assert_eq!(run_on(&[readme], &root().join(SPEC_PATH)).0, 2);
        let (code, out) = run_on(
            &[PathBuf::from("/nonexistent/page.txt")],
            &root().join(SPEC_PATH),
        );
        assert_eq!(code, 2);
        assert!(
            out.contains("/nonexistent/page.txt: cannot read the page"),
            "{out}"
        );
        // A header whose path disagrees with the curl URL.
        let text = std::fs::read_to_string(root().join("spec/docs/assign-card.txt")).unwrap();
        let broken = temp(
            "broken.txt",
            &text.replacen("cards/assign \\", "cards/assigned \\", 1),
        );
        let (code, out) = run_on(&[broken], &root().join(SPEC_PATH));
        assert_eq!(code, 2, "{out}");
        assert!(out.contains("curl --url"), "{out}");
    }

    #[test]
    fn a_deviation_no_page_shows_any_more_fails_the_full_check() {
        let text = std::fs::read_to_string(root().join(SPEC_PATH)).unwrap();
        let anchor = "    CardMode:\n      type: string\n";
        assert!(text.contains(anchor));
        let stale = text.replacen(
            anchor,
            "    CardMode:\n      type: string\n      x-docs-deviation:\n        max-length:\n          none: no page shows this\n",
            1,
        );
        let spec = temp("stale.yaml", &stale);
        let (code, out) = run_on(&[], &spec);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("x-docs-deviation at /components/schemas/CardMode: acknowledges a `max-length none` difference that no page shows"), "{out}");
        // A malformed deviation makes the spec unusable.
        let malformed = temp(
            "malformed.yaml",
            &text.replacen(
                anchor,
                "    CardMode:\n      type: string\n      x-docs-deviation: just a reason\n",
                1,
            ),
        );
        let (code, out) = run_on(&[], &malformed);
        assert_eq!(code, 2, "{out}");
        assert!(
            out.contains("must be a map from the kind of difference"),
            "{out}"
        );
    }

    /// A page over the limit is refused from its size, before it is read,
    /// with a message that names the limit; so is a file that turns out
    /// longer than the limit whatever its size said.
    #[test]
    fn a_page_over_the_size_limit_exits_2_naming_the_limit() {
        let big = temp("big.txt", "");
        std::fs::File::options()
            .write(true)
            .open(&big)
            .unwrap()
            .set_len(MAX_PAGE_BYTES + 1)
            .unwrap();
        let (code, out) = run_on(std::slice::from_ref(&big), &root().join(SPEC_PATH));
        assert_eq!(code, 2, "{out}");
        assert!(
            out.contains(&format!(
                "{}: cannot read the page: it is 4194305 bytes, over the limit of a page (4 MiB, 4194304 bytes)",
                big.display()
            )),
            "{out}"
        );
        let endless = Path::new("/dev/zero");
        if endless.exists() {
            let (code, out) = run_on(&[endless.to_path_buf()], &root().join(SPEC_PATH));
            assert_eq!(code, 2, "{out}");
            assert!(
                out.contains("/dev/zero: cannot read the page: it is more than 4194304 bytes, over the limit"),
                "{out}"
            );
        }
        // At the limit, a page is read.
        let text = std::fs::read_to_string(root().join("spec/docs/update-card.txt")).unwrap();
        let padded = format!("{text}{}", " ".repeat(MAX_PAGE_BYTES as usize - text.len()));
        let page = temp("at-the-limit.txt", &padded);
        assert_eq!(run_on(&[page], &root().join(SPEC_PATH)).0, 0);
    }
}
