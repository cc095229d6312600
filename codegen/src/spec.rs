//! Reading the spec: YAML (or JSON) into an OpenAPI 3.0 document.

use std::path::Path;

use crate::error::Error;

/// Parses the spec text (YAML or JSON) into an OpenAPI document.
pub fn parse_spec(text: &str) -> Result<openapiv3::OpenAPI, Error> {
    Ok(serde_yaml::from_str(text)?)
}

/// Reads and parses the spec at `path`.
pub fn load_spec(path: &Path) -> Result<openapiv3::OpenAPI, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_spec(&text)
}
