//! Why a reference could not be loaded.

use std::path::PathBuf;

/// Why a reference zone could not be read or transferred. A syntax error names the file and
/// the line, so the operator can fix that line.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The file could not be opened or read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line of the zone file is wrong; fix that line.
    #[error("{file}:{line}: {reason}")]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line on which the offending record or directive starts.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The zone as a whole is unusable (no SOA, bad origin).
    #[error("{file}: {reason}")]
    Zone {
        /// The file (or the AXFR source).
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A zone transfer failed; the last good reference stays in use.
    #[error("AXFR of {zone} from {primary}: {reason}")]
    Transfer {
        /// The zone.
        zone: String,
        /// The primary, "host:port".
        primary: String,
        /// What went wrong.
        reason: String,
    },
}

impl ReferenceError {
    /// The line a syntax error is about.
    pub fn line(&self) -> Option<usize> {
        match self {
            ReferenceError::Syntax { line, .. } => Some(*line),
            _ => None,
        }
    }
}
