//! The registry endpoints of a TLD (`[tld.registry]`) or an institution
//! (`[institution.registration]`): EPP, RDAP, WHOIS and their TLS settings.

use super::defaults::{DEFAULT_EPP_PORT, DEFAULT_WHOIS_PORT};
use super::Validator;
use crate::config::model::Registry;
use crate::config::raw::RawRegistry;
use std::path::PathBuf;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn registry(&mut self, r: &RawRegistry) -> Registry {
        let mut hostport = |v: &Option<Spanned<String>>,
                            what: &str,
                            default_port: u16|
         -> Option<String> {
            let s = v.as_ref()?;
            let t = s.get_ref().trim();
            let ok = match t.rsplit_once(':') {
                Some((h, p)) => !h.is_empty() && p.parse::<u16>().is_ok(),
                None => !t.is_empty(),
            };
            if !ok {
                self.err(s, format!("{what} must be \"host:port\" (for example \"registry.example:{default_port}\")"));
                return None;
            }
            Some(if t.contains(':') {
                t.to_string()
            } else {
                format!("{t}:{default_port}")
            })
        };
        let epp = hostport(&r.epp, "epp", DEFAULT_EPP_PORT);
        let whois = hostport(&r.whois, "whois", DEFAULT_WHOIS_PORT);
        let rdap = r.rdap.as_ref().and_then(|s| {
            let t = s.get_ref().trim();
            // RDAP is served over HTTPS (RFC 7481); a plain http:// URL would probe something
            // the registry does not offer, and judge it.
            if t.starts_with("https://") {
                Some(t.to_string())
            } else {
                self.err(
                    s,
                    "rdap must be a base URL starting with https:// (RDAP is served over HTTPS)",
                );
                None
            }
        });
        let lookup_domain = r
            .lookup_domain
            .as_ref()
            .and_then(|d| self.name(d, "lookup_domain").map(|n| n.to_ascii()));
        let (ca_file, client_cert) = self.registry_tls(r);
        let epp_login_env = self.epp_login(r);
        let text = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.get_ref().trim().to_string());
        if let Some(d) = r.lookup_domain.as_ref() {
            if r.rdap.is_none() && r.whois.is_none() {
                self.err(
                    d,
                    "lookup_domain is only used by rdap and whois, and neither is configured",
                );
            }
        } else if let Some(at) = r.rdap.as_ref().or(r.whois.as_ref()) {
            self.err(at, "rdap and whois need lookup_domain: the domain to look up (for example the registry's own)");
        }
        Registry {
            epp,
            rdap,
            whois,
            lookup_domain,
            ca_file,
            client_cert,
            tls_server_name: text(&r.tls_server_name),
            epp_login_env,
            whois_marker: text(&r.whois_marker),
        }
    }

    /// The CA file and the client certificate and key (both or neither), each a readable file.
    fn registry_tls(&mut self, r: &RawRegistry) -> (Option<PathBuf>, Option<(PathBuf, PathBuf)>) {
        let mut file = |v: &Option<Spanned<String>>, what: &str| -> Option<PathBuf> {
            let s = v.as_ref()?;
            let path = self.base_dir.join(s.get_ref().trim());
            if !path.is_file() {
                self.err(
                    s,
                    format!("{what} \"{}\" is not a readable file", path.display()),
                );
            }
            Some(path)
        };
        let ca_file = file(&r.ca_file, "ca_file");
        let cert = file(&r.client_cert, "client_cert");
        let key = file(&r.client_key, "client_key");
        let client_cert = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                let at = r.client_cert.as_ref().or(r.client_key.as_ref());
                if let Some(at) = at {
                    self.err(
                        at,
                        "client_cert and client_key go together: give both or neither",
                    );
                }
                None
            }
        };
        (ca_file, client_cert)
    }

    /// The environment variables holding the EPP client id and password (both or neither).
    fn epp_login(&mut self, r: &RawRegistry) -> Option<(String, String)> {
        let text = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.get_ref().trim().to_string());
        match (text(&r.epp_client_id_env), text(&r.epp_password_env)) {
            (Some(c), Some(p)) if !c.is_empty() && !p.is_empty() => Some((c, p)),
            (None, None) => None,
            _ => {
                let at = r.epp_client_id_env.as_ref().or(r.epp_password_env.as_ref());
                if let Some(at) = at {
                    self.err(at, "epp_client_id_env and epp_password_env go together: name both environment variables or neither");
                }
                None
            }
        }
    }
}
