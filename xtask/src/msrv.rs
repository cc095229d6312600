//! `cargo xtask msrv`: what can be proven of the declared `rust-version`
//! with the toolchains at hand (1.95 and nightly; no older one can be
//! installed): that no dependency of the published crates, with every
//! feature on, declares a `rust-version` above the workspace's. (Clippy's
//! `incompatible_msrv` lint, run by CI with `-D warnings`, checks the
//! standard-library APIs the crates use against the same version.)

use std::process::{Command, ExitCode};

use serde_json::Value;

/// The crates a user depends on.
const PUBLISHED: [&str; 3] = ["uqpay-issuing", "uqpay-issuing-raw", "uqpay-mock"];

/// `1.89` and `1.89.0` alike: three numbers.
fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text.split('.').filter_map(|p| p.parse().ok()).collect();
    parts.resize(3, 0);
    parts
}

pub fn run() -> ExitCode {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--all-features",
            "--locked",
        ])
        .output();
    let metadata: Value = match output {
        Ok(output) if output.status.success() => match serde_json::from_slice(&output.stdout) {
            Ok(value) => value,
            Err(e) => {
                eprintln!("error: cargo metadata's output does not parse: {e}");
                return ExitCode::from(2);
            }
        },
        Ok(output) => {
            eprintln!(
                "error: cargo metadata failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: cannot run cargo metadata: {e}");
            return ExitCode::from(2);
        }
    };
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let package = |id: &str| packages.iter().find(|p| p["id"] == id);
    let declared = PUBLISHED
        .iter()
        .filter_map(|name| packages.iter().find(|p| p["name"] == *name))
        .filter_map(|p| p["rust_version"].as_str())
        .map(version)
        .max()
        .unwrap_or_default();
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let node = |id: &str| nodes.iter().find(|n| n["id"] == id);
    // The normal and build dependencies of the published crates (dev
    // dependencies are not a user's).
    let mut stack: Vec<String> = PUBLISHED
        .iter()
        .filter_map(|name| packages.iter().find(|p| p["name"] == *name))
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        for dep in node(&id)
            .and_then(|n| n["deps"].as_array())
            .into_iter()
            .flatten()
        {
            let runtime = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if runtime {
                if let Some(pkg) = dep["pkg"].as_str() {
                    stack.push(pkg.to_owned());
                }
            }
        }
    }
    let mut highest: Vec<(Vec<u64>, String)> = seen
        .iter()
        .filter_map(|id| package(id))
        .filter(|p| !PUBLISHED.contains(&p["name"].as_str().unwrap_or("")))
        .filter_map(|p| {
            let rv = p["rust_version"].as_str()?;
            Some((
                version(rv),
                format!(
                    "{} {} (rust-version {rv})",
                    p["name"].as_str()?,
                    p["version"].as_str()?
                ),
            ))
        })
        .collect();
    highest.sort();
    let too_new: Vec<&String> = highest
        .iter()
        .filter(|(v, _)| *v > declared)
        .map(|(_, name)| name)
        .collect();
    let shown = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
    println!(
        "msrv: the published crates declare rust-version {}; {} dependencies (every feature on), the highest declared:",
        shown(&declared),
        seen.len() - PUBLISHED.len()
    );
    for (_, name) in highest.iter().rev().take(5) {
        println!("  {name}");
    }
    if too_new.is_empty() {
        println!(
            "msrv: no dependency needs a newer Rust than {}",
            shown(&declared)
        );
        ExitCode::SUCCESS
    } else {
        for name in too_new {
            println!(
                "msrv: {name} needs a newer Rust than the declared {}",
                shown(&declared)
            );
        }
        ExitCode::FAILURE
    }
}
