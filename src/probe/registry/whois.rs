//! The WHOIS probe: the registry's query service over TCP port 43 (RFC 3912).
//!
//! ## The exchange
//!
//! Resolve the host; **the clock starts**; TCP connect (→ `connect_time`); send the lookup
//! domain in A-label form followed by CR LF; read until the server closes the connection
//! (RFC 3912: the server closes once its answer is sent), keeping at most [`MAX_WHOIS_REPLY`]
//! (1 MiB) — a longer reply is a bad response and reading stops there. **`rtt`** = connect
//! start to EOF. A server that answers but never closes ends in a timeout.
//!
//! ## What counts as success
//!
//! The reply contains the marker, compared case-insensitively for ASCII letters on raw bytes
//! (replies are not always UTF-8). The default marker is the domain name itself, which also
//! appears in some "no match for NAME" replies: configure a marker that only a real record
//! carries (for example `"Domain Name: cnnic.cn"` or `"Registrant"`) for a stricter check.
//! An empty reply, a missing marker or an oversized reply is [`RegistryOutcome::BadResponse`].

use super::net::{self, Failure};
use super::{ldh_name, RegistryError, RegistryOutcome, RegistryProbeResult, Service};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

/// The largest WHOIS reply accepted, in bytes.
pub const MAX_WHOIS_REPLY: usize = 1 << 20;

/// The WHOIS port.
pub const DEFAULT_WHOIS_PORT: u16 = 43;

/// The default probe timeout: above the 2 s WHOIS round-trip limit.
pub const DEFAULT_WHOIS_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to probe a WHOIS service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoisTarget {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (43 by default).
    pub port: u16,
    /// The domain to look up (U-label or A-label form; sent in A-label form).
    pub domain: String,
    /// Text the reply must contain; `None` = the domain name (A-label form).
    pub marker: Option<String>,
    /// The whole probe, connect to EOF, must finish within this.
    pub timeout: Duration,
}

impl WhoisTarget {
    /// A target with default settings: the domain name as marker, a 10 s timeout.
    pub fn new(host: impl Into<String>, port: u16, domain: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port,
            domain: domain.into(),
            marker: None,
            timeout: DEFAULT_WHOIS_TIMEOUT,
        }
    }
}

/// A ready-to-run WHOIS probe. Cheap to share.
#[derive(Debug, Clone)]
pub struct WhoisProbe {
    target: WhoisTarget,
    query: String,
    marker: String,
}

impl WhoisProbe {
    /// Builds the probe: checks the target and normalises the name.
    pub fn new(target: WhoisTarget) -> Result<Self, RegistryError> {
        super::net::check_endpoint("WHOIS", &target.host, target.port, target.timeout)?;
        let query = ldh_name(&target.domain)?;
        let marker = match &target.marker {
            Some(m) if m.trim().is_empty() => {
                return Err(RegistryError::InvalidTarget("WHOIS marker is empty".into()))
            }
            Some(m) => m.trim().to_string(),
            None => query.clone(),
        };
        Ok(Self {
            target,
            query,
            marker,
        })
    }

    /// The target this probe measures.
    pub fn target(&self) -> &WhoisTarget {
        &self.target
    }

    /// Runs one probe. Never fails: every ending is a [`RegistryOutcome`].
    pub async fn probe(&self) -> RegistryProbeResult {
        let mut connect_time = None;
        let t = self.target.timeout;
        let r = match tokio::time::timeout(t, self.run(&mut connect_time)).await {
            Ok(Ok(r)) => r,
            Ok(Err((outcome, detail))) => {
                RegistryProbeResult::failed(Service::Whois, outcome, connect_time, detail)
            }
            Err(_) => RegistryProbeResult::failed(
                Service::Whois,
                RegistryOutcome::Timeout,
                connect_time,
                format!(
                    "no {} within {} ms",
                    if connect_time.is_some() {
                        "complete reply (EOF)"
                    } else {
                        "connection"
                    },
                    t.as_millis()
                ),
            ),
        };
        tracing::debug!(
            service = %"whois",
            host = %self.target.host,
            port = self.target.port,
            outcome = %r.outcome.as_str(),
            rtt_ms = r.rtt.map(|d| d.as_millis() as u64),
            detail = %r.detail,
            "WHOIS probe finished"
        );
        r
    }

    async fn run(
        &self,
        connect_time: &mut Option<Duration>,
    ) -> Result<RegistryProbeResult, Failure> {
        let addrs = net::resolve(&self.target.host, self.target.port).await?;
        let start = Instant::now();
        let mut s = net::connect(&addrs).await?;
        *connect_time = Some(start.elapsed());
        s.write_all(format!("{}\r\n", self.query).as_bytes())
            .await
            .map_err(|e| (net::io_outcome(&e), format!("sending the query: {e}")))?;
        let (reply, over) = net::read_to_end_bounded(&mut s, MAX_WHOIS_REPLY)
            .await
            .map_err(|e| (net::io_outcome(&e), format!("reading the reply: {e}")))?;
        let rtt = start.elapsed();
        if over {
            return Err((
                RegistryOutcome::BadResponse,
                format!("reply exceeds {MAX_WHOIS_REPLY} bytes"),
            ));
        }
        if reply.iter().all(u8::is_ascii_whitespace) {
            return Err((RegistryOutcome::BadResponse, "empty reply".into()));
        }
        if !net::contains_ignore_ascii_case(&reply, self.marker.as_bytes()) {
            return Err((
                RegistryOutcome::BadResponse,
                format!(
                    "marker {:?} not in the {}-byte reply",
                    self.marker,
                    reply.len()
                ),
            ));
        }
        Ok(RegistryProbeResult::ok(Service::Whois, rtt, *connect_time))
    }
}
