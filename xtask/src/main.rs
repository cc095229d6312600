//! The maintainer's commands:
//!
//! - `cargo xtask codegen` regenerates `crates/uqpay-issuing-raw/src/generated.rs`
//!   from `spec/uqpay-issuing.yaml`; `cargo xtask codegen --check` fails when
//!   the checked-in file is not what the spec generates ([`codegen`]);
//! - `cargo xtask docs-check [PAGE...]` compares the spec with UQPay's pages
//!   (every snapshot in `spec/docs/` when no page is named) ([`docs_check`]);
//! - `cargo xtask msrv` checks the published crates' dependencies against
//!   their `rust-version` ([`msrv`]);
//! - `cargo xtask layers` checks each crate root's layer order: no import
//!   up the order, none through the root's re-exports, no import circle
//!   ([`layers`]).

use std::path::PathBuf;
use std::process::ExitCode;

// Layer order (`cargo xtask layers` checks it): each module uses only the
// modules listed below it; none uses the root's re-exports.
//
//   layers       `cargo xtask layers`: the crates' layer orders and imports
//   docs_check   `cargo xtask docs-check`: the spec against UQPay's pages
//   codegen      `cargo xtask codegen [--check]`: the raw crate's generated code
//   msrv         `cargo xtask msrv`: the dependencies' rust-versions
mod codegen;
mod docs_check;
mod layers;
mod msrv;

const USAGE: &str = "usage: cargo xtask codegen [--check]
       cargo xtask docs-check [PAGE...]
       cargo xtask msrv
       cargo xtask layers

  codegen            regenerate crates/uqpay-issuing-raw/src/generated.rs from spec/uqpay-issuing.yaml
  codegen --check    exit 1 (with a diff) if the checked-in file is stale
  docs-check [PAGE]  compare spec/uqpay-issuing.yaml with UQPay's pages (each PAGE, or every
                     snapshot in spec/docs/): exit 0 when nothing differs (acknowledged
                     deviations listed), 1 when something does, 2 when a page cannot be read
  msrv               exit 1 if a dependency of the published crates declares a rust-version
                     above theirs
  layers             check each workspace crate root's layer order (its `// Layer order`
                     comment block): exit 1 when a module imports from one listed above it,
                     uses a name through the root's re-exports, or imports in a circle;
                     2 when a file cannot be read";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["codegen"] => codegen::write(),
        ["codegen", "--check"] => codegen::check(),
        ["docs-check", pages @ ..] if !pages.iter().any(|p| p.starts_with('-')) => {
            let root = uqpay_codegen::workspace_root();
            let pages: Vec<PathBuf> = pages.iter().map(PathBuf::from).collect();
            let spec = root.join(uqpay_codegen::SPEC_PATH);
            let code = docs_check::run(&root, &spec, &pages, &mut std::io::stdout().lock());
            ExitCode::from(code)
        }
        ["msrv"] => msrv::run(),
        ["layers"] => layers::run(),
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
