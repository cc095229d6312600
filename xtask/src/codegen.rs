//! `cargo xtask codegen [--check]`: writes `crates/uqpay-issuing-raw/src/generated.rs`
//! from the spec, or (`--check`) fails when the checked-in file is not what
//! the spec generates.

use std::process::ExitCode;

use uqpay_codegen::{Freshness, OUTPUT_PATH, SPEC_PATH};

/// `cargo xtask codegen`: regenerates the file (untouched when up to date).
pub fn write() -> ExitCode {
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

/// `cargo xtask codegen --check`: exit 1, with a diff, when the file is stale.
pub fn check() -> ExitCode {
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
