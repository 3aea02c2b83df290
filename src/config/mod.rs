//! `probes.toml`: schema, defaults, validation with source spans.
//!
//! Parse → validate into a checked [`Config`] → build. `dnsgrade check-config` stops after
//! validation, so it has no side effects. Every error names the file, line and column and says
//! in a plain sentence what is wrong; validation reports all errors at once.

mod duration;
pub(crate) mod error;
mod key;
mod model;
mod raw;
mod validate;

pub use duration::{parse_duration, HumanDuration};
pub use error::{ConfigError, ConfigErrors};
pub use key::{ObjectKey, ObjectKeyError};
pub use model::*;
pub use validate::{
    authority_province, normalize_authority, normalize_province, normalize_rdata, normalize_value,
    parse_address, DEFAULT_CONTACT_REVIEW_EVERY, DEFAULT_EDNS_PAYLOAD, DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_TIMEOUT, DEFAULT_UDP_SOCKETS, EMERGENCY_OFFICE, LATENCY_THRESHOLD, PROVINCES,
};

use std::path::Path;

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file has errors; each names its line and column.
    #[error("{0}")]
    Invalid(#[from] ConfigErrors),
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let text = read_text(path)?;
    Ok(parse(path, &text)?)
}

/// Reads a config or rules file as UTF-8 text. A file that is not UTF-8 is an error at the line
/// and column of its first invalid byte (counted in the valid text before it), like every other
/// error in the file.
pub(crate) fn read_text(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        // The prefix up to the first invalid byte is valid UTF-8 by definition.
        let before = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let message = format!(
            "the file is not UTF-8: byte 0x{:02x} here does not start or continue a UTF-8 character; save the file as UTF-8",
            bytes.get(at).copied().unwrap_or_default()
        );
        let errors = vec![error::Locator::new(path, before).error(at, message)];
        LoadError::Invalid(ConfigErrors { errors })
    })
}

/// Validates config text; `path` is used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let loc = error::Locator::new(path, text);
    let raw: raw::RawConfig = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            let msg = e.message().trim().replace('\n', " ");
            return Err(ConfigErrors {
                errors: vec![loc.error(at, msg)],
            });
        }
    };
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    validate::Validator::new(error::Locator::new(path, text), base_dir)
        .finish(path.to_path_buf(), raw)
        .map_err(|errors| ConfigErrors { errors })
}

#[cfg(test)]
mod tests;
