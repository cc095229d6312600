//! `cargo xtask msrv`: what can be proven of the declared `rust-version`
//! with the toolchains at hand (1.95 and nightly; no older one can be
//! installed): that no dependency of the published crates, with every
//! feature on, declares a `rust-version` above the workspace's. (Clippy's
//! `incompatible_msrv` lint, run by CI with `-D warnings`, checks the
//! standard-library APIs the crates use against the same version.)

use std::collections::BTreeSet;
use std::process::ExitCode;

use cargo_metadata::{semver::Version, DependencyKind, MetadataCommand, PackageId};

/// The crates a user depends on.
const PUBLISHED: [&str; 4] = [
    "uqpay-issuing",
    "uqpay-issuing-cli",
    "uqpay-issuing-raw",
    "uqpay-mock",
];

pub fn run() -> ExitCode {
    let metadata = match MetadataCommand::new()
        .features(cargo_metadata::CargoOpt::AllFeatures)
        .other_options(vec!["--locked".to_owned()])
        .exec()
    {
        Ok(metadata) => metadata,
        Err(e) => {
            eprintln!("error: cargo metadata failed: {e}");
            return ExitCode::from(2);
        }
    };
    let published: Vec<_> = metadata
        .packages
        .iter()
        .filter(|p| PUBLISHED.contains(&p.name.as_str()))
        .collect();
    let declared = published
        .iter()
        .filter_map(|p| p.rust_version.clone())
        .max()
        .unwrap_or(Version::new(0, 0, 0));
    let Some(resolve) = &metadata.resolve else {
        eprintln!("error: cargo metadata resolved no dependencies");
        return ExitCode::from(2);
    };
    // The normal and build dependencies of the published crates (dev
    // dependencies are not a user's).
    let mut stack: Vec<&PackageId> = published.iter().map(|p| &p.id).collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let deps = resolve.nodes.iter().find(|n| &n.id == id);
        for dep in deps.into_iter().flat_map(|n| &n.deps) {
            let runtime = dep
                .dep_kinds
                .iter()
                .any(|k| matches!(k.kind, DependencyKind::Normal | DependencyKind::Build));
            if runtime {
                stack.push(&dep.pkg);
            }
        }
    }
    let mut highest: Vec<(Version, String)> = seen
        .iter()
        .filter_map(|id| metadata.packages.iter().find(|p| &p.id == *id))
        .filter(|p| !PUBLISHED.contains(&p.name.as_str()))
        .filter_map(|p| {
            let rv = p.rust_version.clone()?;
            let name = format!("{} {} (rust-version {rv})", p.name, p.version);
            Some((rv, name))
        })
        .collect();
    highest.sort();
    let too_new: Vec<&String> = highest
        .iter()
        .filter(|(v, _)| *v > declared)
        .map(|(_, name)| name)
        .collect();
    println!(
        "msrv: the published crates declare rust-version {declared}; {} dependencies (every feature on), the highest declared:",
        seen.len() - published.len()
    );
    for (_, name) in highest.iter().rev().take(5) {
        println!("  {name}");
    }
    if too_new.is_empty() {
        println!("msrv: no dependency needs a newer Rust than {declared}");
        ExitCode::SUCCESS
    } else {
        for name in too_new {
            println!("msrv: {name} needs a newer Rust than the declared {declared}");
        }
        ExitCode::FAILURE
    }
}
