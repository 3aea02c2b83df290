//! What one registry probe saw: the service, the outcome kind, and the timings.

use serde::{Serialize, Serializer};
use std::time::Duration;

/// The registry service a probe measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// The registration service: EPP over TLS (RFC 5730/5734).
    Epp,
    /// The query service over HTTPS: RDAP (RFC 9082/9083).
    Rdap,
    /// The query service over TCP port 43: WHOIS (RFC 3912).
    Whois,
}

impl Service {
    /// Every service, in a fixed order.
    pub const ALL: [Service; 3] = [Service::Epp, Service::Rdap, Service::Whois];

    /// Label value used in metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Epp => "epp",
            Service::Rdap => "rdap",
            Service::Whois => "whois",
        }
    }

    /// True for the query services (RDAP, WHOIS); false for the registration service (EPP).
    pub fn is_query(self) -> bool {
        matches!(self, Service::Rdap | Service::Whois)
    }
}

/// The result kind of one registry probe. Every probe ends in exactly one of these; only
/// [`RegistryOutcome::Ok`] is a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryOutcome {
    /// The exchange completed and the answer was what a healthy service sends.
    Ok,
    /// No complete answer before the probe timeout (connect, handshake or reply).
    Timeout,
    /// The connection was refused (TCP RST to the SYN).
    Refused,
    /// Any other network failure: no route, reset, early close, name resolution failed.
    NetworkError,
    /// The TLS handshake failed: untrusted or mismatched certificate, protocol alert.
    TlsError,
    /// EPP: the greeting was not an EPP `<greeting>` (garbage, not XML, oversized frame).
    BadGreeting,
    /// The answer was malformed: an EPP frame or result that makes no sense, RDAP JSON that
    /// does not parse or names another object, a WHOIS reply without the marker.
    BadResponse,
    /// EPP: the server answered `<login>` with a result code other than 1000.
    LoginFailed,
    /// RDAP: an HTTP status other than 200 (and other than 404, see `NotFound`).
    HttpStatus,
    /// RDAP: 404 for a name that is expected to exist.
    NotFound,
    /// The monitor could not make the probe (out of file descriptors, buffers or ports, local
    /// policy): the monitor's fault, counted but left out of the service's window.
    LocalError,
}

impl RegistryOutcome {
    /// Every outcome kind, in a fixed order (the index used by counters).
    pub const ALL: [RegistryOutcome; 11] = [
        RegistryOutcome::Ok,
        RegistryOutcome::Timeout,
        RegistryOutcome::Refused,
        RegistryOutcome::NetworkError,
        RegistryOutcome::TlsError,
        RegistryOutcome::BadGreeting,
        RegistryOutcome::BadResponse,
        RegistryOutcome::LoginFailed,
        RegistryOutcome::HttpStatus,
        RegistryOutcome::NotFound,
        RegistryOutcome::LocalError,
    ];

    /// Number of kinds.
    pub const COUNT: usize = Self::ALL.len();

    /// Stable index into [`RegistryOutcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The kind named by a label value, the inverse of [`RegistryOutcome::as_str`].
    pub fn from_label(s: &str) -> Option<RegistryOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Label value used in metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryOutcome::Ok => "ok",
            RegistryOutcome::Timeout => "timeout",
            RegistryOutcome::Refused => "refused",
            RegistryOutcome::NetworkError => "network_error",
            RegistryOutcome::TlsError => "tls_error",
            RegistryOutcome::BadGreeting => "bad_greeting",
            RegistryOutcome::BadResponse => "bad_response",
            RegistryOutcome::LoginFailed => "login_failed",
            RegistryOutcome::HttpStatus => "http_status",
            RegistryOutcome::NotFound => "not_found",
            RegistryOutcome::LocalError => "local_error",
        }
    }

    /// True only for [`RegistryOutcome::Ok`].
    pub fn is_ok(self) -> bool {
        self == RegistryOutcome::Ok
    }
}

/// Longest `detail` text kept, in characters.
pub const MAX_DETAIL_CHARS: usize = 200;

/// One registry probe = one measurement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryProbeResult {
    /// Which service was probed.
    pub service: Service,
    /// How the probe ended.
    pub outcome: RegistryOutcome,
    /// The round trip that counts for the service level (EPP: connect start to the answer to
    /// `<hello>`; RDAP: request start to the whole body; WHOIS: connect start to EOF). Set
    /// only when `outcome` is `Ok`: failures are not latencies.
    #[serde(rename = "rtt_s", serialize_with = "secs")]
    pub rtt: Option<Duration>,
    /// TCP connect plus TLS handshake (EPP), TCP connect (WHOIS); `None` when the connection
    /// was never established, and for RDAP, whose HTTP client does not expose it.
    #[serde(rename = "connect_time_s", serialize_with = "secs")]
    pub connect_time: Option<Duration>,
    /// EPP with login only: the round trip of `<login>`, when it was answered.
    #[serde(rename = "login_time_s", serialize_with = "secs")]
    pub login_time: Option<Duration>,
    /// A short human-readable explanation for the API (at most [`MAX_DETAIL_CHARS`]
    /// characters, control characters removed). Never holds credentials.
    pub detail: String,
}

fn secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl RegistryProbeResult {
    /// A successful probe.
    pub fn ok(service: Service, rtt: Duration, connect_time: Option<Duration>) -> Self {
        Self {
            service,
            outcome: RegistryOutcome::Ok,
            rtt: Some(rtt),
            connect_time,
            login_time: None,
            detail: String::new(),
        }
    }

    /// A failed probe (`outcome` must not be `Ok`; an `Ok` passed here still gets no RTT).
    pub fn failed(
        service: Service,
        outcome: RegistryOutcome,
        connect_time: Option<Duration>,
        detail: impl AsRef<str>,
    ) -> Self {
        Self {
            service,
            outcome,
            rtt: None,
            connect_time,
            login_time: None,
            detail: clean_detail(detail.as_ref()),
        }
    }

    /// Sets `detail` (cleaned and truncated).
    pub fn with_detail(mut self, detail: impl AsRef<str>) -> Self {
        self.detail = clean_detail(detail.as_ref());
        self
    }
}

/// Removes control characters and truncates to [`MAX_DETAIL_CHARS`] characters, so text that
/// came off the network is safe to show.
pub(crate) fn clean_detail(s: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut last_space = false;
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if n == MAX_DETAIL_CHARS {
            out.push('…');
            break;
        }
        out.push(c);
        n += 1;
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for o in RegistryOutcome::ALL {
            assert_eq!(RegistryOutcome::from_label(o.as_str()), Some(o));
            assert_eq!(RegistryOutcome::ALL[o.index()], o);
        }
        assert_eq!(RegistryOutcome::from_label("nope"), None);
    }

    #[test]
    fn detail_is_cleaned_and_bounded() {
        assert_eq!(clean_detail("a\r\n\tb"), "a b");
        let long = "x".repeat(1000);
        assert_eq!(clean_detail(&long).chars().count(), MAX_DETAIL_CHARS + 1);
    }

    #[test]
    fn serializes_seconds() {
        let r = RegistryProbeResult::ok(Service::Epp, Duration::from_millis(1500), None);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["service"], "epp");
        assert_eq!(v["outcome"], "ok");
        assert_eq!(v["rtt_s"], 1.5);
        assert!(v["connect_time_s"].is_null());
    }
}
