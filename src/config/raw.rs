//! The `probes.toml` schema as written by operators, before validation.
//!
//! Every table denies unknown keys, so a misspelt key is an error at its line and column rather
//! than a silently ignored setting. Values that validation checks are wrapped in [`Spanned`] so
//! the error can point at them.

use super::duration::HumanDuration;
use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    /// Daemon-wide settings; every key has a default.
    #[serde(default)]
    pub daemon: RawDaemon,
    /// TLD systems (顶级域名系统).
    #[serde(default)]
    pub tld: Vec<Spanned<RawTld>>,
    /// Domain service institutions (域名服务机构).
    #[serde(default)]
    pub institution: Vec<Spanned<RawInstitution>>,
    /// Websites' authoritative DNS (互联网站).
    #[serde(default)]
    pub website: Vec<Spanned<RawWebsite>>,
    /// Telecom operators' recursive resolver systems (电信运营企业的递归).
    #[serde(default)]
    pub recursive: Vec<Spanned<RawRecursive>>,
    /// Independent control targets; when most fail, the monitor itself is cut off.
    #[serde(default)]
    pub control: Vec<Spanned<RawControl>>,
    /// Declared maintenance windows.
    #[serde(default)]
    pub maintenance: Vec<Spanned<RawMaintenance>>,
    /// Alert delivery: the outbox settings and its sinks.
    #[serde(default)]
    pub alert: RawAlert,
    /// The emergency roster: who to call at each authority and in the operator's own units.
    #[serde(default)]
    pub contact: Vec<Spanned<RawContact>>,
}

/// `[[contact]]`: one person (or duty desk) to reach, for an authority or one of the
/// operator's units. Personal data: shown in full only by check-config and the token-guarded
/// `GET /api/v1/contacts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawContact {
    /// The authority it answers for: "MIIT" (互联网应急办) or a province's administration
    /// ("广东省通信管理局", "广东通信管理局", "广东").
    pub authority: Option<Spanned<String>>,
    /// Or one of the operator's own units (the lead at level IV), e.g. "DNS operations".
    pub unit: Option<Spanned<String>>,
    /// The person's name, or the desk's.
    pub name: Spanned<String>,
    /// Their role, e.g. "duty officer".
    pub role: Spanned<String>,
    /// A telephone number.
    pub phone: Option<Spanned<String>>,
    /// An email address.
    pub email: Option<Spanned<String>>,
    /// When the entry was last checked with the person: a date, `2026-11-01` or "2026-11-01".
    pub reviewed_at: Spanned<toml::Value>,
    /// When they can be reached: "24x7", or as written (e.g. "weekdays 09:00-18:00").
    pub hours: Option<Spanned<String>>,
}

/// `[alert]`: how long the outbox keeps trying, and the sinks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlert {
    /// An event not delivered to a sink within this age is given up (default 24h).
    pub give_up_after: Option<Spanned<HumanDuration>>,
    /// Alertmanager: active alerts are re-posted this often (default 1m).
    pub resend_interval: Option<Spanned<HumanDuration>>,
    /// Alertmanager: resolved alerts are re-posted for this long (default 5m).
    pub resend_resolved_for: Option<Spanned<HumanDuration>>,
    /// `[[alert.webhook]]`: signed JSON webhooks.
    #[serde(default)]
    pub webhook: Vec<Spanned<RawWebhook>>,
    /// `[[alert.alertmanager]]`: Prometheus Alertmanager v2 API.
    #[serde(default)]
    pub alertmanager: Vec<Spanned<RawAlertmanager>>,
}

/// `[[alert.webhook]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebhook {
    /// Sink name: the `sink` label of the outbox metrics and the key of its delivery state.
    pub name: Spanned<String>,
    /// Where to POST, http:// or https://.
    pub url: Spanned<String>,
    /// HMAC-SHA256 key for `X-Dnsgrade-Signature` (prefer `secret_env`).
    pub secret: Option<Spanned<String>>,
    /// The environment variable holding the HMAC key.
    pub secret_env: Option<Spanned<String>>,
    /// Only incidents that reached this grade ("I" … "IV").
    pub min_grade: Option<Spanned<String>>,
    /// Only these object classes.
    #[serde(default)]
    pub classes: Vec<Spanned<String>>,
    /// Only incidents this authority leads or is notified of (e.g. "广东省通信管理局").
    pub authority: Option<Spanned<String>>,
    /// Timeout of one delivery attempt (default 10s).
    pub timeout: Option<Spanned<HumanDuration>>,
}

/// `[[alert.alertmanager]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlertmanager {
    /// Sink name.
    pub name: Spanned<String>,
    /// Alertmanager's base URL, e.g. "http://127.0.0.1:9093".
    pub url: Spanned<String>,
    /// Only incidents that reached this grade.
    pub min_grade: Option<Spanned<String>>,
    /// Only these object classes.
    #[serde(default)]
    pub classes: Vec<Spanned<String>>,
    /// Only incidents this authority leads or is notified of.
    pub authority: Option<Spanned<String>>,
    /// Timeout of one request (default 10s).
    pub timeout: Option<Spanned<HumanDuration>>,
}

/// `[daemon]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    /// HTTP listen address for /metrics, the API and the status page.
    pub listen: Option<Spanned<String>>,
    /// Directory for the SQLite ledger and other state.
    pub state_dir: Option<String>,
    /// How often each check is sent to each server address.
    pub interval: Option<Spanned<HumanDuration>>,
    /// How long a probe waits for its reply.
    pub timeout: Option<Spanned<HumanDuration>>,
    /// Length of the sliding statistics window.
    pub window: Option<Spanned<HumanDuration>>,
    /// How often the window is evaluated.
    pub tick: Option<Spanned<HumanDuration>>,
    /// A server with no success within this span (and enough attempts) is stopped.
    pub stop_window: Option<Spanned<HumanDuration>>,
    /// How often host names of servers are resolved again.
    pub resolve_interval: Option<Spanned<HumanDuration>>,
    /// Probes per second over all servers.
    pub global_rate: Option<Spanned<u32>>,
    /// Probes per second to any one server address.
    pub per_server_rate: Option<Spanned<u32>>,
    /// Probes waiting for a reply at once, at most.
    pub max_in_flight: Option<Spanned<u32>>,
    /// UDP sockets in the shared pool.
    pub udp_sockets: Option<Spanned<u32>>,
    /// Share of the interval by which each probe's time is moved at random (0 to 0.5).
    pub jitter: Option<Spanned<f64>>,
    /// EDNS(0) UDP payload size advertised in queries.
    pub edns_payload: Option<Spanned<u16>>,
    /// Bearer token for the write API (ack, confirm-impact); may be `env:NAME`, which must be
    /// set and not empty.
    pub api_token: Option<Spanned<String>>,
    /// Resolved incidents are kept in the ledger this long (default 365 days, at least 365
    /// days unless `ledger_retention_below_minimum = true`).
    pub ledger_retention: Option<Spanned<HumanDuration>>,
    /// The operator's explicit choice to keep the record for less than a year.
    pub ledger_retention_below_minimum: Option<bool>,
    /// An incident unacknowledged this long after detection is overdue (default 24 h).
    pub ack_within: Option<Spanned<HumanDuration>>,
    /// A contact whose `reviewed_at` is older than this is overdue for review (default 90d).
    pub contact_review_every: Option<Spanned<HumanDuration>>,
    /// This vantage point's name, as the central grader and the alerts name it (default: the
    /// host name).
    pub vantage: Option<Spanned<String>>,
    /// Where the vantage point is (e.g. "beijing"), a label for the national view.
    pub region: Option<Spanned<String>>,
    /// Whose network it probes from (e.g. "telecom"), a label for the national view.
    pub network: Option<Spanned<String>>,
    /// The local address DNS probes are sent from (a multi-homed host).
    pub source_address: Option<Spanned<String>>,
    /// HTTP connections open at once, at most (default 256; lowered to an eighth of the
    /// descriptor limit when that is smaller).
    pub http_max_connections: Option<Spanned<u32>>,
    /// An HTTP client must send a request's headers within this, and a kept-alive connection
    /// idle this long is closed (default 10s).
    pub http_header_timeout: Option<Spanned<HumanDuration>>,
    /// Resolvers for the host names of servers, "IP" or "IP:port" (default: the system's).
    #[serde(default)]
    pub resolvers: Vec<Spanned<String>>,
}

/// `[[maintenance]]`: planned work. Incidents of the object are still recorded, flagged
/// `maintenance`, and not escalated to alerts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMaintenance {
    /// The object, as `class/name` (e.g. "tld/cn", "recursive/gd-resolvers").
    pub object: Spanned<String>,
    /// Start, RFC 3339 UTC ("2026-11-22T16:00:00Z").
    pub starts: Spanned<String>,
    /// End, RFC 3339 UTC.
    pub ends: Spanned<String>,
    /// Why.
    pub reason: Spanned<String>,
}

/// One server (a TLD node, a name server, a resolver, a control target).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    /// Display name, unique within its object (e.g. "a.dns.cn").
    pub name: Spanned<String>,
    /// Host name to resolve at start and periodically; optional when `addresses` is given.
    pub host: Option<Spanned<String>>,
    /// Pinned addresses: "192.0.2.1", "2001:db8::1", "127.0.0.1:5353", "[::1]:5353".
    #[serde(default)]
    pub addresses: Vec<Spanned<String>>,
    /// Port used for `host` and for addresses written without one (default 53).
    pub port: Option<u16>,
}

/// One check: a query name and type, and what a right answer is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    /// Query name (Unicode accepted; converted to its A-label form).
    pub name: Spanned<String>,
    /// Query type, e.g. "A", "NS", "SOA" (default "A").
    #[serde(rename = "type")]
    pub qtype: Option<Spanned<String>>,
    /// "answer", "referral", "nxdomain" or "any" (default depends on the object class).
    pub expect: Option<Spanned<String>>,
    /// Expected RRset values (addresses, NS targets, ...); a reply is wrong when it differs.
    #[serde(default)]
    pub values: Vec<Spanned<String>>,
    /// Use TCP instead of UDP for this check.
    #[serde(default)]
    pub tcp: bool,
}

/// The registry endpoints of a TLD or an institution.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRegistry {
    /// EPP registration service, "host:port" (RFC 5734, TLS).
    pub epp: Option<Spanned<String>>,
    /// RDAP base URL, "https://…/".
    pub rdap: Option<Spanned<String>>,
    /// WHOIS query service, "host:port" (port 43).
    pub whois: Option<Spanned<String>>,
    /// A domain to look up with RDAP and WHOIS.
    pub lookup_domain: Option<Spanned<String>>,
    /// Extra trust anchors for EPP and RDAP (PEM file, relative to the config file).
    pub ca_file: Option<Spanned<String>>,
    /// Client certificate chain for EPP (PEM file); goes with `client_key`.
    pub client_cert: Option<Spanned<String>>,
    /// Private key of `client_cert` (PEM file).
    pub client_key: Option<Spanned<String>>,
    /// The TLS server name of the EPP server when `epp` names an address.
    pub tls_server_name: Option<Spanned<String>>,
    /// Environment variable holding the EPP client id; goes with `epp_password_env`.
    pub epp_client_id_env: Option<Spanned<String>>,
    /// Environment variable holding the EPP password.
    pub epp_password_env: Option<Spanned<String>>,
    /// Text a WHOIS reply must contain (default: the looked-up domain).
    pub whois_marker: Option<Spanned<String>>,
}

/// `[[tld]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTld {
    /// The TLD, e.g. "cn" or "中国".
    pub name: Spanned<String>,
    /// The TLD's name server nodes.
    #[serde(default)]
    pub node: Vec<Spanned<RawServer>>,
    /// 重点域名: key domains; any data error on one is level II.
    #[serde(default)]
    pub key_domains: Vec<Spanned<String>>,
    /// Ask every node for a random name that must not exist, each interval (default true).
    pub expected_negative: Option<bool>,
    /// Extra checks sent to every node.
    #[serde(default)]
    pub check: Vec<Spanned<RawCheck>>,
    /// Registry services.
    pub registry: Option<RawRegistry>,
    /// The zone is signed: probes set DO and RRSIG validity is checked (default false).
    pub dnssec: Option<bool>,
    /// Warn when a signature expires within this (default "72h"); needs `dnssec = true`.
    pub dnssec_warn_before: Option<Spanned<String>>,
    /// The reference zone that nodes are sampled against.
    pub reference: Option<Spanned<RawReference>>,
}

/// `[tld.reference]`: where the expected answers come from, and how fast to sample.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReference {
    /// A zone file (RFC 1035 master format) of the TLD; or `axfr`.
    pub zone_file: Option<Spanned<String>>,
    /// A primary to transfer the zone from, "host:port" (AXFR over TCP); or `zone_file`.
    pub axfr: Option<Spanned<String>>,
    /// How often the primary's SOA serial is polled, with `axfr` (default "300s").
    pub refresh: Option<Spanned<String>>,
    /// A transfer that reads more MiB than this fails, with `axfr` (default 4096).
    pub max_transfer_mib: Option<Spanned<u64>>,
    /// A transfer that reads more records than this fails, with `axfr` (default 100000000).
    pub max_transfer_records: Option<Spanned<u64>>,
    /// A transfer that takes longer than this fails, with `axfr` (default "10m").
    pub transfer_timeout: Option<Spanned<String>>,
    /// Delegations checked per second on each node address (default 200).
    pub sample_rate: Option<Spanned<u32>>,
    /// Samples in flight to one node address at most: the ceiling of its sampling budget
    /// (default 64).
    pub max_in_flight: Option<Spanned<u32>>,
}

/// `[[institution]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInstitution {
    /// Institution name.
    pub name: Spanned<String>,
    /// Tier 1 or 2 (plan section 3).
    pub tier: Spanned<i64>,
    /// Authoritative name servers.
    #[serde(default)]
    pub server: Vec<Spanned<RawServer>>,
    /// Test names with expected answers.
    #[serde(default)]
    pub check: Vec<Spanned<RawCheck>>,
    /// Registration system endpoints.
    pub registration: Option<RawRegistry>,
    /// The zones served are signed: probes set DO and RRSIG validity is checked.
    pub dnssec: Option<bool>,
    /// Warn when a signature expires within this (default "72h"); needs `dnssec = true`.
    pub dnssec_warn_before: Option<Spanned<String>>,
}

/// `[[website]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebsite {
    /// Website name.
    pub name: Spanned<String>,
    /// Tier 1 or 2.
    pub tier: Spanned<i64>,
    /// Who issued its licence: "MIIT" or a province, e.g. "广东".
    pub licensed_by: Spanned<String>,
    /// The website's domain.
    pub domain: Spanned<String>,
    /// Its authoritative servers.
    #[serde(default)]
    pub server: Vec<Spanned<RawServer>>,
    /// Checks; default: SOA and NS of the domain.
    #[serde(default)]
    pub check: Vec<Spanned<RawCheck>>,
}

/// `[[recursive]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRecursive {
    /// Operator, e.g. "中国电信".
    pub operator: Spanned<String>,
    /// System name, unique.
    pub name: Spanned<String>,
    /// "multi-province", "province" or "local-network".
    pub scope: Spanned<String>,
    /// For multi-province: the provinces served.
    #[serde(default)]
    pub provinces: Vec<Spanned<String>>,
    /// For province: the province served.
    pub province: Option<Spanned<String>>,
    /// For local-network: the local network served.
    pub local_network: Option<Spanned<String>>,
    /// The resolver addresses.
    #[serde(default)]
    pub server: Vec<Spanned<RawServer>>,
    /// Names expected to be cached (tests the front end).
    #[serde(default)]
    pub cached_names: Vec<Spanned<String>>,
    /// A zone the operator controls; random labels under it test real recursion.
    pub canary_zone: Option<Spanned<String>>,
}

/// `[[control]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawControl {
    /// Name of the control target.
    pub name: Spanned<String>,
    /// Its servers.
    #[serde(default)]
    pub server: Vec<Spanned<RawServer>>,
    /// Checks; default: SOA of the root.
    #[serde(default)]
    pub check: Vec<Spanned<RawCheck>>,
}
