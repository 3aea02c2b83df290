//! Errors building a registry probe. Probing itself never fails with an error: every network
//! event ends in a [`super::RegistryOutcome`]. These are configuration problems, found once at
//! start-up, so that a local mistake is never counted against the registry.

use std::path::PathBuf;

/// A registry probe could not be built from its target.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The CA file could not be read or holds no certificate: fix the path or the file.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The configured path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The client certificate or its key could not be loaded or do not match.
    #[error("client certificate {path}: {reason}")]
    ClientCert {
        /// The certificate or key path that failed.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An environment variable named for an EPP credential is not set (or not UTF-8): set it
    /// in the daemon's environment. Only the variable's name is reported.
    #[error("environment variable {var} (EPP credential) is not set")]
    MissingCredential {
        /// The variable's name.
        var: String,
    },
    /// A domain name or TLS server name is not valid.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as configured.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The RDAP base URL is not an absolute `https://` URL without query or fragment.
    #[error("invalid RDAP base URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as configured.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Some other target field is wrong (empty host, zero timeout, missing lookup domain).
    #[error("invalid registry target: {0}")]
    InvalidTarget(String),
    /// rustls refused the TLS settings.
    #[error("TLS settings: {0}")]
    Tls(#[from] rustls::Error),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    HttpClient(String),
}
