//! The RDAP probe: the registry's query service over HTTPS (RFC 7480/9082/9083).
//!
//! ## The exchange
//!
//! One `GET {base}/domain/{name}` with `Accept: application/rdap+json`, over a fresh
//! connection (no pooling: every probe pays connect and TLS like a new client would), no
//! proxy, at most 3 redirects (HTTPS only). `{base}` may end with `/` or not; `{name}` is the
//! lookup domain in A-label (LDH) form, as RDAP servers index it. The body is read to its end,
//! bounded by [`MAX_RDAP_BODY`] (1 MiB). **`rtt`** = request start to the last body byte.
//! The HTTP client does not expose connect time, so `connect_time` stays `None`.
//!
//! ## What counts as success
//!
//! Status 200 and a JSON object whose `ldhName` equals the name (ASCII case-insensitively, a
//! trailing dot ignored), and whose `objectClassName`, when present, is `domain`. Otherwise:
//! 404 for a name expected to exist → [`RegistryOutcome::NotFound`]; another status →
//! [`RegistryOutcome::HttpStatus`]; a body that is not such JSON (or too large) →
//! [`RegistryOutcome::BadResponse`]. For a target whose name is expected *not* to exist, 404 is
//! the success and 200 a bad response.

use super::net::Failure;
use super::tls::find_rustls_error;
use super::{ldh_name, RegistryError, RegistryOutcome, RegistryProbeResult, Service, TlsSettings};
use reqwest::{StatusCode, Url};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// The largest RDAP body accepted, in bytes.
pub const MAX_RDAP_BODY: usize = 1 << 20;

/// The default probe timeout: above the 2 s RDAP round-trip limit.
pub const DEFAULT_RDAP_TIMEOUT: Duration = Duration::from_secs(10);

/// The media type RDAP servers answer with (RFC 7480 §4.2).
pub const RDAP_MEDIA_TYPE: &str = "application/rdap+json";

/// Where and how to probe an RDAP service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdapTarget {
    /// Base URL, `https://…`, with or without a trailing slash (for example
    /// `https://rdap.example.cn/` or `https://example.cn/rdap`).
    pub base_url: String,
    /// The domain to look up (U-label or A-label form; looked up in A-label form).
    pub domain: String,
    /// True (the default) when the domain exists: 404 is then [`RegistryOutcome::NotFound`].
    /// False turns the check around: 404 is the success.
    pub expect_exists: bool,
    /// Connect to this address instead of resolving the URL's host (the host still names the
    /// TLS server and the HTTP `Host`); the port comes from the URL.
    pub address: Option<SocketAddr>,
    /// Trust anchors and client certificate.
    pub tls: TlsSettings,
    /// The whole request, connect to the last body byte, must finish within this.
    pub timeout: Duration,
}

impl RdapTarget {
    /// A target with default settings: the name exists, no pinned address, no extra CA, a 10 s
    /// timeout.
    pub fn new(base_url: impl Into<String>, domain: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            domain: domain.into(),
            expect_exists: true,
            address: None,
            tls: TlsSettings::default(),
            timeout: DEFAULT_RDAP_TIMEOUT,
        }
    }
}

/// A ready-to-run RDAP probe (URL built, HTTP client built). Cheap to share.
#[derive(Debug, Clone)]
pub struct RdapProbe {
    target: RdapTarget,
    url: Url,
    ldh: String,
    client: reqwest::Client,
}

/// `{base}/domain/{ldh}`, with exactly one `/` between the parts.
pub fn domain_url(base_url: &str, ldh: &str) -> Result<Url, RegistryError> {
    let bad = |reason: &str| RegistryError::InvalidUrl {
        url: base_url.to_string(),
        reason: reason.to_string(),
    };
    let mut url = Url::parse(base_url.trim()).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "https" {
        return Err(bad("the scheme must be https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a base URL takes no query or fragment"));
    }
    let path = format!("{}/domain/{ldh}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    Ok(url)
}

impl RdapProbe {
    /// Builds the probe: checks the URL and the name, loads the TLS files, builds the client.
    pub fn new(target: RdapTarget) -> Result<Self, RegistryError> {
        if target.timeout.is_zero() {
            return Err(RegistryError::InvalidTarget("RDAP timeout is zero".into()));
        }
        let ldh = ldh_name(&target.domain)?;
        let url = domain_url(&target.base_url, &ldh)?;
        let tls = target.tls.client_config(&[b"http/1.1"])?;
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .no_proxy()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::limited(3))
            .pool_max_idle_per_host(0)
            .user_agent(concat!("dnsgrade/", env!("CARGO_PKG_VERSION")));
        if let (Some(addr), Some(host)) = (target.address, url.host_str()) {
            builder = builder.resolve(host, addr);
        }
        let client = builder
            .build()
            .map_err(|e| RegistryError::HttpClient(e.to_string()))?;
        Ok(Self {
            target,
            url,
            ldh,
            client,
        })
    }

    /// The target this probe measures.
    pub fn target(&self) -> &RdapTarget {
        &self.target
    }

    /// The URL every probe requests.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Runs one probe. Never fails: every ending is a [`RegistryOutcome`].
    pub async fn probe(&self) -> RegistryProbeResult {
        let t = self.target.timeout;
        let r = match tokio::time::timeout(t, self.run()).await {
            Ok(Ok(r)) => r,
            Ok(Err((outcome, detail))) => {
                RegistryProbeResult::failed(Service::Rdap, outcome, None, detail)
            }
            Err(_) => RegistryProbeResult::failed(
                Service::Rdap,
                RegistryOutcome::Timeout,
                None,
                format!("no complete answer within {} ms", t.as_millis()),
            ),
        };
        tracing::debug!(
            service = %"rdap",
            url = %self.url,
            outcome = %r.outcome.as_str(),
            rtt_ms = r.rtt.map(|d| d.as_millis() as u64),
            detail = %r.detail,
            "RDAP probe finished"
        );
        r
    }

    async fn run(&self) -> Result<RegistryProbeResult, Failure> {
        let start = Instant::now();
        let mut resp = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, RDAP_MEDIA_TYPE)
            .send()
            .await
            .map_err(|e| http_failure(&e))?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| http_failure(&e))? {
            if body.len() + chunk.len() > MAX_RDAP_BODY {
                return Err((
                    RegistryOutcome::BadResponse,
                    format!("body exceeds {MAX_RDAP_BODY} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let rtt = start.elapsed();
        let ok = || Ok(RegistryProbeResult::ok(Service::Rdap, rtt, None));
        match status {
            StatusCode::OK if self.target.expect_exists => {
                check_domain_json(&body, &self.ldh)
                    .map_err(|d| (RegistryOutcome::BadResponse, d))?;
                ok()
            }
            StatusCode::OK => Err((
                RegistryOutcome::BadResponse,
                format!("200 for {}, which is expected not to exist", self.ldh),
            )),
            StatusCode::NOT_FOUND if self.target.expect_exists => Err((
                RegistryOutcome::NotFound,
                format!("404 for {}, which should exist", self.ldh),
            )),
            StatusCode::NOT_FOUND => ok(),
            s => Err((RegistryOutcome::HttpStatus, format!("HTTP {}", s.as_u16()))),
        }
    }
}

fn http_failure(e: &reqwest::Error) -> Failure {
    let mut outcome = RegistryOutcome::NetworkError;
    if find_rustls_error(e).is_some() {
        outcome = RegistryOutcome::TlsError;
    } else if e.is_redirect() {
        outcome = RegistryOutcome::BadResponse;
    } else {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                outcome = super::net::io_outcome(io);
                break;
            }
            cur = err.source();
        }
    }
    // reqwest's Display is terse; the innermost cause says what happened.
    let mut detail = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(err) = cur {
        detail = format!("{detail}: {err}");
        cur = err.source();
    }
    (outcome, detail)
}

/// Checks an RDAP domain object: a JSON object naming `ldh`.
fn check_domain_json(body: &[u8], ldh: &str) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let obj = v.as_object().ok_or("body is not a JSON object")?;
    if let Some(c) = obj.get("objectClassName") {
        if !c.as_str().is_some_and(|c| c.eq_ignore_ascii_case("domain")) {
            return Err(format!("objectClassName is {c}, not \"domain\""));
        }
    }
    let name = obj
        .get("ldhName")
        .and_then(|n| n.as_str())
        .ok_or("no ldhName")?;
    if !name.trim_end_matches('.').eq_ignore_ascii_case(ldh) {
        return Err(format!("ldhName is {name:?}, not {ldh:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_with_one_slash() {
        for base in [
            "https://rdap.example/",
            "https://rdap.example",
            "https://rdap.example/rdap/",
            "https://rdap.example/rdap",
            "https://rdap.example/rdap//",
        ] {
            let u = domain_url(base, "cnnic.cn").unwrap();
            assert!(u.as_str().ends_with("/domain/cnnic.cn"), "{u}");
            assert!(!u.as_str().contains("//domain"), "{u}");
        }
        assert_eq!(
            domain_url("https://rdap.example:8443/rdap", "a.cn")
                .unwrap()
                .as_str(),
            "https://rdap.example:8443/rdap/domain/a.cn"
        );
        for bad in [
            "http://rdap.example/",
            "rdap.example",
            "https://rdap.example/?x=1",
            "https://rdap.example/#f",
            "",
        ] {
            assert!(domain_url(bad, "a.cn").is_err(), "{bad}");
        }
    }

    #[test]
    fn domain_json() {
        let ok = br#"{"objectClassName":"domain","ldhName":"CNNIC.CN."}"#;
        assert!(check_domain_json(ok, "cnnic.cn").is_ok());
        assert!(check_domain_json(br#"{"ldhName":"cnnic.cn"}"#, "cnnic.cn").is_ok());
        for bad in [
            &br#"{"objectClassName":"entity","ldhName":"cnnic.cn"}"#[..],
            br#"{"objectClassName":"domain","ldhName":"other.cn"}"#,
            br#"{"objectClassName":"domain"}"#,
            br#"["cnnic.cn"]"#,
            b"<html>",
            b"",
        ] {
            assert!(check_domain_json(bad, "cnnic.cn").is_err());
        }
    }
}
