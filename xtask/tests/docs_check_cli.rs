//! `cargo xtask docs-check` as a command: its exit codes (0 nothing differs,
//! 1 something does, 2 a page cannot be read) and its output.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn docs_check(pages: &[&std::path::Path]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("docs-check")
        .args(pages)
        .output()
        .expect("xtask runs");
    (
        output.status.code().expect("an exit code"),
        String::from_utf8(output.stdout).unwrap(),
    )
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-docs-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_snapshots_pass() {
    let (code, out) = docs_check(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("docs-check: 10 page(s)"), "{out}");
    assert!(out.contains(" 0 difference(s)"), "{out}");
}

#[test]
fn a_page_with_a_lowered_maximum_length_exits_1() {
    let text = std::fs::read_to_string(root().join("spec/docs/update-card.txt")).unwrap();
    let page = temp(
        "update-card.txt",
        &text.replacen("Maximum string length: 26", "Maximum string length: 24", 1),
    );
    let (code, out) = docs_check(&[&page]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("update_card (POST /v1/issuing/cards/{id}): request body name_on_card: maximum length: page 24; spec 26"),
        "{out}"
    );
}

#[test]
fn a_page_that_is_not_an_endpoint_page_exits_2() {
    let page = temp("notes.txt", "Some notes about UQPay.\n\nNothing else.\n");
    let (code, out) = docs_check(&[&page]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("notes.txt: cannot read the page: not an endpoint page"),
        "{out}"
    );
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["docs-check", "--frobnicate"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage"));
}
