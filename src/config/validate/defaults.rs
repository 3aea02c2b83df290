//! The defaults validation applies when `probes.toml` leaves a setting out, one named constant
//! each (the alert outbox's defaults and `SAMPLE_MAX_IN_FLIGHT` live in the model).

use hickory_proto::rr::RecordType;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// `[daemon] listen`: the HTTP address of /metrics, the API and the status page, on the
/// loopback only unless the operator opens it.
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9553));

/// `[daemon] state_dir`: where the SQLite ledger and the other state are kept.
pub(crate) const DEFAULT_STATE_DIR: &str = "/var/lib/dnsgrade";

/// The default probe interval: 5 s, so one check on one address gives at least 50 probes in
/// the worst tick's window (comfortably above the 30 of `min_samples`) and at least 7 attempts
/// within the 60 s stop window (above the 5 of `stop_min_probes`); at 10 s both sat on their
/// minimum and a server flipped between known and unknown (docs/measurement.md, "Budgets").
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// `[daemon] timeout`: how long a probe waits for its reply; above the 5 s latency threshold,
/// so a slow reply is counted as slow rather than as a timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// `[daemon] window`: the length of the sliding statistics window.
pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

/// `[daemon] tick`: how often the window is evaluated (also the statistics slice length).
pub(crate) const DEFAULT_TICK: Duration = Duration::from_secs(10);

/// `[daemon] stop_window`: a server with no success within this span is stopped.
pub(crate) const DEFAULT_STOP_WINDOW: Duration = Duration::from_secs(60);

/// `[daemon] resolve_interval`: how often the host names of servers are resolved again.
pub(crate) const DEFAULT_RESOLVE_INTERVAL: Duration = Duration::from_secs(300);

/// `[daemon] global_rate`: probes per second over all servers.
pub(crate) const DEFAULT_GLOBAL_RATE: u32 = 5000;

/// `[daemon] per_server_rate`: probes per second to any one server address.
pub(crate) const DEFAULT_PER_SERVER_RATE: u32 = 100;

/// `[daemon] max_in_flight`: probes waiting for a reply at once, at most.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 16_384;

/// `[daemon] contact_review_every`: 90 days, a quarterly check of the roster. The plan wants
/// contacts reachable 24 hours a day and a change of responsible person reported within three
/// days; that report is made when the change happens, the review catches what was missed.
pub const DEFAULT_CONTACT_REVIEW_EVERY: Duration = Duration::from_secs(90 * 86_400);

/// `[daemon] udp_sockets`: UDP sockets in the shared pool.
pub const DEFAULT_UDP_SOCKETS: u32 = 8;

/// `[daemon] jitter`: the share of the interval by which each probe's time is moved at random.
pub(crate) const DEFAULT_JITTER: f64 = 0.1;

/// `[daemon] edns_payload`: the EDNS(0) UDP payload size advertised in queries, the size
/// that avoids IP fragmentation on common paths.
pub const DEFAULT_EDNS_PAYLOAD: u16 = 1232;

/// `[daemon] ledger_retention`: how long resolved incidents are kept in the ledger (365 days).
pub(crate) const DEFAULT_LEDGER_RETENTION: Duration = Duration::from_secs(365 * 86400);

/// The shortest `[daemon] ledger_retention` accepted without
/// `ledger_retention_below_minimum = true`: the incident-coordination circular asks members to
/// keep each incident's record for at least a year.
pub(crate) const MIN_LEDGER_RETENTION: Duration = Duration::from_secs(365 * 86400);

/// `[daemon] ack_within`: the circular asks for the confirmation of a notification within
/// 24 hours; an incident not acknowledged within this of its detection is overdue.
pub(crate) const DEFAULT_ACK_WITHIN: Duration = Duration::from_secs(24 * 3600);

/// `[daemon] http_max_connections`: HTTP connections open at once (a Prometheus HA pair, the
/// wallboards and the CLI need a few dozen; docs/operations.md, "HTTP limits").
pub(crate) const DEFAULT_HTTP_MAX_CONNECTIONS: usize = 256;

/// `[daemon] http_header_timeout`: the time for a request's headers and the idle time of a
/// kept-alive connection (a scrape every 15 s reconnects, which costs nothing).
pub(crate) const DEFAULT_HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The DNS port: of `[daemon] resolvers` and of servers' addresses written without a port,
/// and of their `host` when `port` is not given.
pub(crate) const DEFAULT_DNS_PORT: u16 = 53;

/// The query type of a `[[….check]]` without `type`.
pub(crate) const DEFAULT_QTYPE: RecordType = RecordType::A;

/// The port of a registry's `epp` written without one (RFC 5734).
pub(crate) const DEFAULT_EPP_PORT: u16 = 700;

/// The port of a registry's `whois` written without one (RFC 3912).
pub(crate) const DEFAULT_WHOIS_PORT: u16 = 43;

/// `[[tld]] expected_negative`: every node is asked for a name that must not exist.
pub(crate) const DEFAULT_EXPECTED_NEGATIVE: bool = true;

/// `dnssec` of a TLD or an institution: zones are not taken as signed unless said so.
pub(crate) const DEFAULT_DNSSEC: bool = false;

/// `dnssec_warn_before`: signatures expiring within this are warned about (72 h).
pub(crate) const DEFAULT_DNSSEC_WARN_BEFORE: Duration = Duration::from_secs(72 * 3600);

/// `[tld.reference] refresh`: how often the primary's SOA serial is polled, with `axfr`.
pub(crate) const DEFAULT_REFERENCE_REFRESH: Duration = Duration::from_secs(300);

/// `[tld.reference] sample_rate`: delegations checked per second on each node address.
pub(crate) const DEFAULT_SAMPLE_RATE: u32 = 200;
