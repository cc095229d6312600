//! `cargo xtask codegen [--check]`: writes the raw crate's generated files
//! (`generated.rs`, `constraints.rs`) from the spec, or (`--check`) fails
//! when a checked-in file is not what the spec generates.

use std::process::ExitCode;

use uqpay_codegen::{Freshness, SPEC_PATH};

/// `cargo xtask codegen`: regenerates the files (untouched when up to date).
pub fn write() -> ExitCode {
    let root = uqpay_codegen::workspace_root();
    let outputs = match uqpay_codegen::generate_all(&root) {
        Ok(outputs) => outputs,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (path, source) in outputs {
        let out = root.join(path);
        if std::fs::read_to_string(&out).ok().as_deref() == Some(source.as_str()) {
            println!("{path} is up to date");
            continue;
        }
        if let Err(e) = std::fs::write(&out, source) {
            eprintln!("error: cannot write {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {path} from {SPEC_PATH}");
    }
    ExitCode::SUCCESS
}

/// `cargo xtask codegen --check`: exit 1, with a diff, when a file is stale.
pub fn check() -> ExitCode {
    let root = uqpay_codegen::workspace_root();
    let results = match uqpay_codegen::check_all(&root) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut code = ExitCode::SUCCESS;
    for (path, result) in results {
        match result {
            Freshness::Fresh => println!("{path} is up to date with {SPEC_PATH}"),
            Freshness::Missing => {
                eprintln!("error: {path} does not exist; run `cargo xtask codegen`");
                code = ExitCode::FAILURE;
            }
            Freshness::Stale(diff) => {
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
                    "error: {path} is stale: {changed} line(s) differ from what {SPEC_PATH} generates.\n\
                     Run `cargo xtask codegen` and commit the result."
                );
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}
