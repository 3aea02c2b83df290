//! Errors of the lab.

/// Why a zone could not be built from master-file text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabError {
    /// A line of the zone text is wrong; fix that line.
    #[error("zone {origin}: line {line}: {reason}")]
    Syntax {
        /// The origin the zone was being parsed for.
        origin: String,
        /// 1-based line number where the offending record or directive starts.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The zone as a whole is unusable (bad origin, no SOA at the apex, ...).
    #[error("zone {origin}: {reason}")]
    Zone {
        /// The origin the zone was being parsed for.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl LabError {
    /// The line an error is about, when it is about one line.
    pub fn line(&self) -> Option<usize> {
        match self {
            LabError::Syntax { line, .. } => Some(*line),
            LabError::Zone { .. } => None,
        }
    }
}
