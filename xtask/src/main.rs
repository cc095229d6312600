//! `cargo xtask codegen` regenerates `crates/uqpay-issuing-raw/src/generated.rs`
//! from `spec/uqpay-issuing.yaml`; `cargo xtask codegen --check` fails when the
//! checked-in file is not what the spec generates; `cargo xtask docs-check
//! [PAGE...]` compares the spec with UQPay's pages (every snapshot in
//! `spec/docs/` when no page is named).

use std::path::PathBuf;
use std::process::ExitCode;

use uqpay_codegen::{Freshness, OUTPUT_PATH, SPEC_PATH};

mod msrv;

const USAGE: &str = "usage: cargo xtask codegen [--check]
       cargo xtask docs-check [PAGE...]
       cargo xtask msrv

  codegen            regenerate crates/uqpay-issuing-raw/src/generated.rs from spec/uqpay-issuing.yaml
  codegen --check    exit 1 (with a diff) if the checked-in file is stale
  docs-check [PAGE]  compare spec/uqpay-issuing.yaml with UQPay's pages (each PAGE, or every
                     snapshot in spec/docs/): exit 0 when nothing differs (acknowledged
                     deviations listed), 1 when something does, 2 when a page cannot be read
  msrv               exit 1 if a dependency of the published crates declares a rust-version
                     above theirs";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["codegen"] => write(),
        ["codegen", "--check"] => check(),
        ["docs-check", pages @ ..] if !pages.iter().any(|p| p.starts_with('-')) => {
            docs_check(pages)
        }
        ["msrv"] => msrv::run(),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn write() -> ExitCode {
    let root = uqpay_codegen::workspace_root();
    let source = match uqpay_codegen::generate_from_path(&root.join(SPEC_PATH)) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = root.join(OUTPUT_PATH);
    if std::fs::read_to_string(&out).ok().as_deref() == Some(source.as_str()) {
        println!("{OUTPUT_PATH} is up to date");
        return ExitCode::SUCCESS;
    }
    if let Err(e) = std::fs::write(&out, source) {
        eprintln!("error: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {OUTPUT_PATH} from {SPEC_PATH}");
    ExitCode::SUCCESS
}

fn check() -> ExitCode {
    let root = uqpay_codegen::workspace_root();
    match uqpay_codegen::check(&root) {
        Ok(Freshness::Fresh) => {
            println!("{OUTPUT_PATH} is up to date with {SPEC_PATH}");
            ExitCode::SUCCESS
        }
        Ok(Freshness::Missing) => {
            eprintln!("error: {OUTPUT_PATH} does not exist; run `cargo xtask codegen`");
            ExitCode::FAILURE
        }
        Ok(Freshness::Stale(diff)) => {
            let changed = diff
                .lines()
                .filter(|l| {
                    (l.starts_with('+') || l.starts_with('-'))
                        && !l.starts_with("+++")
                        && !l.starts_with("---")
                })
                .count();
            eprintln!("{diff}");
            eprintln!(
                "error: {OUTPUT_PATH} is stale: {changed} line(s) differ from what {SPEC_PATH} generates.\n\
                 Run `cargo xtask codegen` and commit the result."
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn docs_check(pages: &[&str]) -> ExitCode {
    let root = uqpay_codegen::workspace_root();
    let pages: Vec<PathBuf> = pages.iter().map(PathBuf::from).collect();
    let mut out = std::io::stdout().lock();
    let code = uqpay_codegen::docs::run(&root, &root.join(SPEC_PATH), &pages, &mut out);
    ExitCode::from(code)
}
