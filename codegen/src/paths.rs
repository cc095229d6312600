//! Where the spec and the generated file live.

use std::path::{Path, PathBuf};

/// Where the spec lives, relative to the workspace root.
pub const SPEC_PATH: &str = "spec/uqpay-issuing.yaml";
/// Where the generated source is written, relative to the workspace root.
pub const OUTPUT_PATH: &str = "crates/uqpay-issuing-raw/src/generated.rs";
/// Where the generated limits are written, relative to the workspace root
/// (a file of their own: the hand-written types that `generated.rs` uses
/// read them, and would otherwise import from the file that imports them).
pub const CONSTRAINTS_PATH: &str = "crates/uqpay-issuing-raw/src/constraints.rs";

/// Every generated file, relative to the workspace root.
pub const OUTPUT_PATHS: [&str; 2] = [OUTPUT_PATH, CONSTRAINTS_PATH];

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("codegen/ has a parent directory")
        .to_path_buf()
}
