//! Why generation failed.

use std::path::PathBuf;

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The spec is not a valid OpenAPI 3.0 document.
    #[error("the spec is not valid OpenAPI 3.0: {0}")]
    Parse(#[from] serde_yaml::Error),
    /// progenitor refused the spec.
    #[error("progenitor cannot generate a client from the spec: {0}")]
    Generate(#[from] progenitor::Error),
    /// The generated tokens are not a valid Rust file.
    #[error("the generated code does not parse as Rust: {0}")]
    Syntax(#[from] syn::Error),
    /// rustfmt could not be run or failed.
    #[error("rustfmt failed: {0}")]
    Rustfmt(String),
    /// progenitor's output is not what the codegen's post-processing expects.
    #[error("unexpected progenitor output: {0}")]
    Unexpected(String),
    /// The `x-webhooks` extension is malformed.
    #[error("x-webhooks: {0}")]
    Webhooks(String),
}
