//! TLS settings shared by the EPP and RDAP probes: rustls with the ring provider, trust
//! anchors from webpki-roots plus an optional PEM CA file (a registry's private CA), and an
//! optional client certificate (RFC 5734 §9: EPP servers usually require one).

use super::RegistryError;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Trust and identity for a TLS connection to a registry service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// Extra trust anchors (PEM, one or more certificates), added to webpki-roots. Registries
    /// often run EPP under a private CA.
    pub ca_file: Option<PathBuf>,
    /// A client certificate to present, when the server asks for one.
    pub client_cert: Option<ClientCert>,
}

/// A client certificate chain and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1). Its content is never logged.
    pub key_file: PathBuf,
}

fn ca_err(path: &Path, reason: impl Into<String>) -> RegistryError {
    RegistryError::CaFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn cert_err(path: &Path, reason: impl Into<String>) -> RegistryError {
    RegistryError::ClientCert {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| e.to_string())?;
    let certs = iter
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}

impl TlsSettings {
    /// The rustls client configuration for these settings, advertising `alpn` (empty for
    /// none). Reads the files once; call at start-up, not per probe.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<ClientConfig, RegistryError> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &self.ca_file {
            for cert in load_certs(path).map_err(|r| ca_err(path, r))? {
                roots
                    .add(cert)
                    .map_err(|e| ca_err(path, format!("unusable certificate: {e}")))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some(cc) => {
                let chain = load_certs(&cc.cert_file).map_err(|r| cert_err(&cc.cert_file, r))?;
                let key = PrivateKeyDer::from_pem_file(&cc.key_file)
                    .map_err(|e| cert_err(&cc.key_file, format!("private key: {e}")))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| cert_err(&cc.cert_file, e.to_string()))?
            }
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

/// Finds a rustls error in an error chain, looking inside (nested) `io::Error`s too.
pub(crate) fn find_rustls_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        cur = match err.downcast_ref::<std::io::Error>() {
            // `io::Error::source()` skips the wrapped error (which may be another io::Error).
            Some(io) => io
                .get_ref()
                .map(|i| i as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_build() {
        let c = TlsSettings::default()
            .client_config(&[b"http/1.1"])
            .unwrap();
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn missing_or_empty_ca_file_is_an_error() {
        let s = TlsSettings {
            ca_file: Some("/nonexistent/ca.pem".into()),
            client_cert: None,
        };
        assert!(matches!(
            s.client_config(&[]),
            Err(RegistryError::CaFile { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.pem");
        std::fs::write(&p, "not pem").unwrap();
        let s = TlsSettings {
            ca_file: Some(p),
            client_cert: None,
        };
        let e = s.client_config(&[]).unwrap_err();
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
    }
}
