//! Registry probes: the registration service (EPP) and the query service (RDAP, WHOIS) of a
//! TLD registry, and the registration systems of registrars (docs/matrix.md: a TLD's EPP unavailable
//! for more than 4 h is level III, degraded EPP or an unavailable query service level IV; a
//! registrar's registration system unavailable is level IV).
//!
//! Like the DNS probes, one probe is one measurement: one connection, one exchange, one
//! [`RegistryProbeResult`] with an outcome kind ([`RegistryOutcome`]), the round trip for
//! successes, the connect time, and a short detail. Probing never returns an error: every
//! network event, including a hostile peer, ends in an outcome; reads are bounded everywhere
//! (1 MiB) and every probe is bounded by its timeout. Errors ([`RegistryError`]) only come from
//! building a probe from a bad target, at start-up.
//!
//! - [`epp`]: EPP over TLS (RFC 5730/5734): length-prefixed frames, greeting, `<hello>`,
//!   optional `<login>`/`<logout>`.
//! - [`rdap`]: one HTTPS `GET {base}/domain/{name}` (RFC 9082/9083).
//! - [`whois`]: one TCP port-43 query read to EOF (RFC 3912).
//! - [`health`]: per-service windows and the SLR judgement → [`RegistryHealth`], the grader's
//!   [`RegistryInput`]. Pure.
//! - [`runner`]: the daemon's probe loop for one registry.
//! - [`TlsSettings`]: webpki-roots plus an optional CA file, optional client certificate.
//!
//! Time: round trips are measured with `tokio::time::Instant`, so tests can pause the clock;
//! [`health`] takes wall-clock time as [`crate::clock::UnixMillis`] values.

pub mod epp;
mod error;
pub mod health;
mod net;
mod outcome;
pub mod rdap;
pub mod runner;
mod tls;
pub mod whois;

pub use epp::{EppLogin, EppProbe, EppTarget};
pub use error::RegistryError;
pub use health::{
    RegistryHealth, RegistryHealthTracker, RegistryInput, RegistrySlr, ServiceHealth, ServiceState,
};
pub use outcome::{RegistryOutcome, RegistryProbeResult, Service, MAX_DETAIL_CHARS};
pub use rdap::{RdapProbe, RdapTarget};
pub use tls::{ClientCert, TlsSettings};
pub use whois::{WhoisProbe, WhoisTarget};

use hickory_proto::rr::Name;

/// The A-label (LDH) form of a domain name, lowercase, without a trailing dot: what RDAP
/// servers index (`ldhName`) and what is sent to WHOIS. Accepts U-labels (`例子.中国`).
pub fn ldh_name(name: &str) -> Result<String, RegistryError> {
    let bad = |reason: &str| RegistryError::InvalidName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let t = name.trim().trim_end_matches('.');
    if t.is_empty() {
        return Err(bad("empty"));
    }
    let n = Name::from_utf8(t).map_err(|e| bad(&e.to_string()))?;
    let ascii = n.to_ascii().trim_end_matches('.').to_ascii_lowercase();
    if ascii.is_empty()
        || !ascii
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err(bad("not a host name"));
    }
    Ok(ascii)
}

/// Splits `"host:port"`, `"[v6]:port"`, a bare host or a bare IPv6 address; a missing port is
/// `default_port`.
pub fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), RegistryError> {
    let bad = |reason: &str| RegistryError::InvalidTarget(format!("{s:?}: {reason}"));
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        let port = match after {
            "" => default_port,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| bad("bad port"))?,
        };
        return Ok((host.to_string(), port));
    }
    if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((s.to_string(), default_port));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| bad("bad port"))?),
        None => (s, default_port),
    };
    if host.is_empty() || port == 0 {
        return Err(bad("empty host or port 0"));
    }
    Ok((host.to_string(), port))
}

/// The targets of one registry (or registrar); each service is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryTargets {
    /// The registration service.
    pub epp: Option<EppTarget>,
    /// The RDAP query service.
    pub rdap: Option<RdapTarget>,
    /// The WHOIS query service.
    pub whois: Option<WhoisTarget>,
}

impl RegistryTargets {
    /// Targets from a configured `[tld.registry]` or `[institution.registration]` table: the
    /// endpoints, the CA file and client certificate, the EPP login, the WHOIS marker, and
    /// `timeout` for every probe. RDAP and WHOIS need `lookup_domain`.
    pub fn from_config(
        reg: &crate::config::Registry,
        timeout: std::time::Duration,
    ) -> Result<Self, RegistryError> {
        let domain = || {
            reg.lookup_domain.clone().ok_or_else(|| {
                RegistryError::InvalidTarget("RDAP and WHOIS need lookup_domain".into())
            })
        };
        let tls = TlsSettings {
            ca_file: reg.ca_file.clone(),
            client_cert: reg.client_cert.as_ref().map(|(c, k)| ClientCert {
                cert_file: c.clone(),
                key_file: k.clone(),
            }),
        };
        let epp = match &reg.epp {
            Some(s) => {
                let (h, p) = split_host_port(s, epp::DEFAULT_EPP_PORT)?;
                Some(EppTarget {
                    server_name: reg.tls_server_name.clone(),
                    tls: tls.clone(),
                    login: reg.epp_login_env.as_ref().map(|(c, p)| EppLogin {
                        client_id_env: c.clone(),
                        password_env: p.clone(),
                    }),
                    timeout,
                    ..EppTarget::new(h, p)
                })
            }
            None => None,
        };
        let rdap = match &reg.rdap {
            Some(u) => Some(RdapTarget {
                tls: TlsSettings {
                    client_cert: None,
                    ..tls.clone()
                },
                timeout,
                ..RdapTarget::new(u.clone(), domain()?)
            }),
            None => None,
        };
        let whois = match &reg.whois {
            Some(s) => {
                let (h, p) = split_host_port(s, whois::DEFAULT_WHOIS_PORT)?;
                Some(WhoisTarget {
                    marker: reg.whois_marker.clone(),
                    timeout,
                    ..WhoisTarget::new(h, p, domain()?)
                })
            }
            None => None,
        };
        Ok(Self { epp, rdap, whois })
    }
}

/// The probes of one registry, built once and run every probe interval.
#[derive(Debug, Clone)]
pub struct RegistryProbeSet {
    /// The EPP probe, when configured.
    pub epp: Option<EppProbe>,
    /// The RDAP probe, when configured.
    pub rdap: Option<RdapProbe>,
    /// The WHOIS probe, when configured.
    pub whois: Option<WhoisProbe>,
}

impl RegistryProbeSet {
    /// Builds every configured probe (loads TLS files, reads EPP credentials).
    pub fn new(targets: RegistryTargets) -> Result<Self, RegistryError> {
        Ok(Self {
            epp: targets.epp.map(EppProbe::new).transpose()?,
            rdap: targets.rdap.map(RdapProbe::new).transpose()?,
            whois: targets.whois.map(WhoisProbe::new).transpose()?,
        })
    }

    /// The configured services, for [`RegistryHealthTracker::new`].
    pub fn services(&self) -> Vec<Service> {
        let mut v = Vec::new();
        if self.epp.is_some() {
            v.push(Service::Epp);
        }
        if self.rdap.is_some() {
            v.push(Service::Rdap);
        }
        if self.whois.is_some() {
            v.push(Service::Whois);
        }
        v
    }

    /// Runs one probe of every configured service, concurrently; results in
    /// [`Service::ALL`] order. Takes as long as the slowest probe (at most its timeout).
    pub async fn probe_all(&self) -> Vec<RegistryProbeResult> {
        let (e, r, w) = tokio::join!(
            async {
                match &self.epp {
                    Some(p) => Some(p.probe().await),
                    None => None,
                }
            },
            async {
                match &self.rdap {
                    Some(p) => Some(p.probe().await),
                    None => None,
                }
            },
            async {
                match &self.whois {
                    Some(p) => Some(p.probe().await),
                    None => None,
                }
            },
        );
        [e, r, w].into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldh_names() {
        assert_eq!(ldh_name("CNNIC.cn.").unwrap(), "cnnic.cn");
        assert_eq!(ldh_name("例子.中国").unwrap(), "xn--fsqu00a.xn--fiqs8s");
        for bad in ["", ".", "a b.cn", "a/b.cn"] {
            assert!(ldh_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn host_ports() {
        let sp = |s| split_host_port(s, 700).unwrap();
        assert_eq!(sp("epp.example.cn"), ("epp.example.cn".into(), 700));
        assert_eq!(sp("epp.example.cn:7000"), ("epp.example.cn".into(), 7000));
        assert_eq!(sp("[2001:db8::1]:700"), ("2001:db8::1".into(), 700));
        assert_eq!(sp("[2001:db8::1]"), ("2001:db8::1".into(), 700));
        assert_eq!(sp("2001:db8::1"), ("2001:db8::1".into(), 700));
        for bad in [":700", "h:x", "[::1", "h:0", "[::1]x"] {
            assert!(split_host_port(bad, 700).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_from_config() {
        let reg = crate::config::Registry {
            epp: Some("epp.example.cn:700".into()),
            rdap: Some("https://rdap.example.cn/".into()),
            whois: Some("whois.example.cn:43".into()),
            lookup_domain: Some("cnnic.cn".into()),
            tls_server_name: Some("epp.cnnic.cn".into()),
            epp_login_env: Some(("CLID".into(), "PW".into())),
            whois_marker: Some("Domain Name: CNNIC.CN".into()),
            ..Default::default()
        };
        let t = RegistryTargets::from_config(&reg, std::time::Duration::from_secs(7)).unwrap();
        let epp = t.epp.unwrap();
        assert_eq!(epp.port, 700);
        assert_eq!(epp.server_name.as_deref(), Some("epp.cnnic.cn"));
        assert_eq!(epp.login.unwrap().password_env, "PW");
        assert_eq!(epp.timeout, std::time::Duration::from_secs(7));
        let w = t.whois.clone().unwrap();
        assert_eq!(w.marker.as_deref(), Some("Domain Name: CNNIC.CN"));
        assert_eq!(t.rdap.unwrap().domain, "cnnic.cn");
        assert_eq!(t.whois.unwrap().host, "whois.example.cn");
        let no_domain = crate::config::Registry {
            lookup_domain: None,
            ..reg
        };
        assert!(
            RegistryTargets::from_config(&no_domain, std::time::Duration::from_secs(7)).is_err()
        );
    }
}
