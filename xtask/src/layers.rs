//! `cargo xtask layers`: each workspace crate root (`src/lib.rs`,
//! `src/main.rs`, every library and binary target's root) states the order
//! of its top-level modules in a comment block, and the imports follow it:
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
//! (the block's form: [`order`]). A root that declares fewer than two
//! modules needs none. Every `.rs` file of the crate's module tree is read
//! ([`tree`], test code left out) for the paths into the crate's modules
//! ([`refs`]), and it fails ([`check`](mod@check)) when:
//! - a top-level module of the root is not listed exactly once, or a listed
//!   name is not one;
//! - a module imports from a top-level module listed above its own
//!   (`call -> client points up the layer order (client is above call)`);
//! - a module other than the root uses a name through the root
//!   (`crate::Error`, `super::Error` from a top-level module): the root only
//!   declares and re-exports, and a module imports a name from the module
//!   that defines it;
//! - modules import from each other in a circle (`cards -> cards::assign ->
//!   cards`), at module granularity: each file or inline module a node,
//!   each path into another module's items an edge (a `mod` declaration is
//!   none). A family's parent that declares its children's face may be used
//!   by them, and then uses none of them.
//!
//! Exit 0 with a line per root (`uqpay-issuing: 17 modules, order ok, no
//! circle`), 1 with every violation listed, 2 when a file cannot be read.

mod check;
mod order;
mod refs;
mod tree;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cargo_metadata::{MetadataCommand, TargetKind};

use crate::layers::check::check;
use crate::layers::tree::{read, Disk};

/// A crate root to check: its label in the output, and its file.
struct Root {
    label: String,
    file: PathBuf,
}

/// Every library and binary root of the workspace's members.
fn roots() -> Result<(PathBuf, Vec<Root>), String> {
    let metadata = MetadataCommand::new()
        .no_deps()
        .exec()
        .map_err(|e| format!("cargo metadata failed: {e}"))?;
    let mut roots = Vec::new();
    for package in metadata.workspace_packages() {
        let targets: Vec<_> = package
            .targets
            .iter()
            .filter(|t| {
                t.kind.iter().any(|k| {
                    matches!(
                        k,
                        TargetKind::Lib
                            | TargetKind::RLib
                            | TargetKind::DyLib
                            | TargetKind::CDyLib
                            | TargetKind::StaticLib
                            | TargetKind::ProcMacro
                            | TargetKind::Bin
                    )
                })
            })
            .collect();
        for target in &targets {
            let label = if targets.len() == 1 || !target.is_kind(TargetKind::Bin) {
                package.name.to_string()
            } else {
                format!("{} (bin {})", package.name, target.name)
            };
            roots.push(Root {
                label,
                file: target.src_path.clone().into_std_path_buf(),
            });
        }
    }
    Ok((metadata.workspace_root.into_std_path_buf(), roots))
}

/// `cargo xtask layers`.
pub fn run() -> ExitCode {
    let (workspace, roots) = match roots() {
        Ok(found) => found,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut unreadable = false;
    let mut violations = false;
    for root in roots {
        let tree = match read(&root.file, &Disk) {
            Ok(tree) => tree,
            Err(e) => {
                println!("{}: cannot read the module tree: {}", root.label, e.0);
                unreadable = true;
                continue;
            }
        };
        let show = |file: usize| shown(&workspace, &tree.files[file]);
        let findings = check(&tree, &show);
        for violation in findings.violations() {
            println!("{violation}");
            violations = true;
        }
        println!("{}: {}", root.label, findings.summary());
    }
    if unreadable {
        ExitCode::from(2)
    } else if violations {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `file` relative to the workspace root.
fn shown(workspace: &Path, file: &Path) -> String {
    file.strip_prefix(workspace)
        .unwrap_or(file)
        .display()
        .to_string()
}
