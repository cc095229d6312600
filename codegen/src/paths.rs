//! Where the spec and the generated file live.

use std::path::{Path, PathBuf};

/// Where the spec lives, relative to the workspace root.
pub const SPEC_PATH: &str = "spec/uqpay-issuing.yaml";
/// Where the generated source is written, relative to the workspace root.
pub const OUTPUT_PATH: &str = "crates/uqpay-issuing-raw/src/generated.rs";

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("codegen/ has a parent directory")
        .to_path_buf()
}
