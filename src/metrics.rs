//! Every metric dnsgrade exports: names as constants, HELP text, labels.
//!
//! Labels never carry unbounded values: `class`, `object`, `server` and `address` come from the
//! config (and from resolving its host names), `outcome`, `verdict`, `transport`, `role`,
//! `estimate` and `q` from fixed enums. Query names never appear in labels.

use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::Arc;

pub mod compact;
pub mod reload;

pub use compact::{AddressLabels, Value};

/// Probe counter by outcome.
pub const PROBES_TOTAL: &str = "dnsgrade_probes_total";
/// Probe latency histogram (successful probes).
pub const PROBE_DURATION: &str = "dnsgrade_probe_duration_seconds";
/// Data checks by verdict.
pub const DATA_CHECKS_TOTAL: &str = "dnsgrade_data_checks_total";
/// Window success ratio (point estimate and Wilson bounds).
pub const WINDOW_SUCCESS: &str = "dnsgrade_window_success_ratio";
/// Window latency quantiles.
pub const WINDOW_LATENCY: &str = "dnsgrade_window_latency_seconds";
/// Window data error ratio (point estimate and Wilson bounds).
pub const WINDOW_DATA_ERROR: &str = "dnsgrade_window_data_error_ratio";
/// Probes in the window.
pub const WINDOW_SAMPLES: &str = "dnsgrade_window_samples";
/// 1 when the server had no success within the stop window (with enough attempts).
pub const SERVER_STOPPED: &str = "dnsgrade_server_stopped";
/// Addresses a configured server currently has (pinned and resolved).
pub const SERVER_ADDRESSES: &str = "dnsgrade_server_addresses";
/// Host name resolution failures.
pub const RESOLVE_FAILURES: &str = "dnsgrade_resolve_failures_total";
/// Probes waiting for replies now.
pub const PROBES_IN_FLIGHT: &str = "dnsgrade_probes_in_flight";
/// Probes delayed by the rate limits.
pub const PROBES_RATE_LIMITED: &str = "dnsgrade_probes_rate_limited_total";
/// Replies that matched no probe.
pub const STRAY_REPLIES: &str = "dnsgrade_stray_replies_total";
/// Probes sent, every kind.
pub const PROBES_SENT: &str = "dnsgrade_probes_sent_total";
/// Configured probes waiting for the in-flight cap.
pub const PROBES_WAITING: &str = "dnsgrade_probes_waiting";
/// Configured probes not sent because their slot passed while they waited.
pub const PROBES_LATE: &str = "dnsgrade_probes_late_total";
/// Samples in flight.
pub const SAMPLES_IN_FLIGHT: &str = "dnsgrade_samples_in_flight";
/// Samples skipped because a node's sampling budget was full.
pub const SAMPLES_SKIPPED: &str = "dnsgrade_samples_skipped_total";
/// Socket errors.
pub const SOCKET_ERRORS: &str = "dnsgrade_socket_errors_total";
/// HTTP connections open now.
pub const HTTP_CONNECTIONS: &str = "dnsgrade_http_connections";
/// HTTP connections closed at once by a limit, or accept errors.
pub const HTTP_REFUSED: &str = "dnsgrade_http_connections_refused_total";
/// Probes this host could not make (`local_error`).
pub const LOCAL_ERRORS: &str = "dnsgrade_probe_local_errors_total";
/// Evaluation tick lag.
pub const EVALUATION_LAG: &str = "dnsgrade_evaluation_lag_seconds";
/// Grade of each object: 0 none, 1 = IV … 4 = I.
pub const OBJECT_GRADE: &str = "dnsgrade_object_grade";
/// Candidate grade awaiting a person's confirmation: 0 none, 1 = IV … 4 = I.
pub const OBJECT_CANDIDATE_GRADE: &str = "dnsgrade_object_candidate_grade";
/// Open incidents by grade.
pub const OPEN_INCIDENTS: &str = "dnsgrade_open_incidents";
/// Incidents whose acknowledgement is overdue (`[daemon] ack_within`).
pub const INCIDENTS_ACK_OVERDUE: &str = "dnsgrade_incidents_ack_overdue";
/// 1 when the vantage point is cut off.
pub const VANTAGE_ISOLATED: &str = "dnsgrade_vantage_isolated";
/// This vantage point's identity, always 1.
pub const VANTAGE_INFO: &str = "dnsgrade_vantage_info";
/// 1 while the monitor's own faults suspend grading.
pub const MONITOR_LOCAL_FAULT: &str = "dnsgrade_monitor_local_fault";
/// Contacts of the roster overdue for review, per authority or unit (a count: no contact data).
pub const CONTACTS_REVIEW_OVERDUE: &str = "dnsgrade_contacts_review_overdue";
/// Incident events written.
pub const INCIDENT_EVENTS_TOTAL: &str = "dnsgrade_incident_events_total";
/// SOA serial served by an address.
pub const SOA_SERIAL: &str = "dnsgrade_soa_serial";
/// Serial units behind the object's newest serial.
pub const SOA_SERIAL_LAG: &str = "dnsgrade_soa_serial_lag";
/// Seconds the newest serial has been out while the address still serves an older one.
pub const SOA_BEHIND: &str = "dnsgrade_soa_serial_behind_seconds";
/// Time for a new serial to reach every node.
pub const SOA_PUBLICATION: &str = "dnsgrade_soa_publication_seconds";
/// Registry probes (EPP, RDAP, WHOIS) by outcome.
pub const REGISTRY_PROBES_TOTAL: &str = "dnsgrade_registry_probes_total";
/// Round trip of successful registry probes.
pub const REGISTRY_PROBE_DURATION: &str = "dnsgrade_registry_probe_duration_seconds";
/// The judged state of each registry service (one series per state, 1 for the current one).
pub const REGISTRY_SERVICE_STATE: &str = "dnsgrade_registry_service_state";
/// Reference transfers and SOA polls by result (ok, failed, poll_failed).
pub const REFERENCE_TRANSFERS: &str = "dnsgrade_reference_transfers_total";
/// SOA serial of the reference in force.
pub const REFERENCE_SERIAL: &str = "dnsgrade_reference_serial";
/// Delegations in the reference in force.
pub const REFERENCE_DELEGATIONS: &str = "dnsgrade_reference_delegations";
/// Seconds until the earliest RRSIG expiration seen from a server.
pub const DNSSEC_SIGNATURE_EXPIRY: &str = "dnsgrade_dnssec_signature_expiry_seconds";
/// Build information.
pub const BUILD_INFO: &str = "dnsgrade_build_info";
/// The source revision in `dnsgrade_build_info{revision}` ([`crate::REVISION`], from the
/// build script).
pub const REVISION: &str = crate::REVISION;
/// Alert deliveries waiting, per sink.
pub const OUTBOX_DEPTH: &str = "dnsgrade_outbox_depth";
/// Age of the oldest pending alert event, per sink.
pub const OUTBOX_OLDEST_AGE: &str = "dnsgrade_outbox_oldest_pending_age_seconds";
/// Alert delivery attempts, per sink.
pub const OUTBOX_ATTEMPTS_TOTAL: &str = "dnsgrade_outbox_delivery_attempts_total";
/// Failed alert delivery attempts, per sink and reason.
pub const OUTBOX_FAILURES_TOTAL: &str = "dnsgrade_outbox_delivery_failures_total";
/// Alert events delivered (2xx), per sink.
pub const OUTBOX_DELIVERED_TOTAL: &str = "dnsgrade_outbox_delivered_total";
/// Alert events given up after `give_up_after`, per sink.
pub const OUTBOX_GIVEN_UP_TOTAL: &str = "dnsgrade_outbox_given_up_total";
/// The bounded values of the `reason` label of [`OUTBOX_FAILURES_TOTAL`].
pub const OUTBOX_FAILURE_REASONS: [&str; 6] = [
    "connect",
    "timeout",
    "http_4xx",
    "http_5xx",
    "http_other",
    "other",
];

/// Every metric family name, for tests and dashboards.
pub const ALL_NAMES: &[&str] = &[
    PROBES_TOTAL,
    PROBE_DURATION,
    DATA_CHECKS_TOTAL,
    WINDOW_SUCCESS,
    WINDOW_LATENCY,
    WINDOW_DATA_ERROR,
    WINDOW_SAMPLES,
    SERVER_STOPPED,
    SERVER_ADDRESSES,
    RESOLVE_FAILURES,
    PROBES_IN_FLIGHT,
    PROBES_RATE_LIMITED,
    STRAY_REPLIES,
    SOCKET_ERRORS,
    LOCAL_ERRORS,
    HTTP_CONNECTIONS,
    HTTP_REFUSED,
    EVALUATION_LAG,
    OBJECT_GRADE,
    OBJECT_CANDIDATE_GRADE,
    OPEN_INCIDENTS,
    INCIDENTS_ACK_OVERDUE,
    VANTAGE_ISOLATED,
    VANTAGE_INFO,
    MONITOR_LOCAL_FAULT,
    CONTACTS_REVIEW_OVERDUE,
    INCIDENT_EVENTS_TOTAL,
    SOA_SERIAL,
    SOA_SERIAL_LAG,
    SOA_BEHIND,
    SOA_PUBLICATION,
    REGISTRY_PROBES_TOTAL,
    REGISTRY_PROBE_DURATION,
    REGISTRY_SERVICE_STATE,
    REFERENCE_TRANSFERS,
    REFERENCE_SERIAL,
    REFERENCE_DELEGATIONS,
    DNSSEC_SIGNATURE_EXPIRY,
    BUILD_INFO,
    OUTBOX_DEPTH,
    OUTBOX_OLDEST_AGE,
    OUTBOX_ATTEMPTS_TOTAL,
    OUTBOX_FAILURES_TOTAL,
    OUTBOX_DELIVERED_TOTAL,
    OUTBOX_GIVEN_UP_TOTAL,
];

/// Histogram buckets for registry round trips: TLS handshakes and HTTP take longer than DNS;
/// edges at the 2 s (RDAP, WHOIS) and 4 s (EPP) service levels.
pub const REGISTRY_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0,
];

/// Histogram buckets for DNS latency: sub-millisecond loopback up to the 10 s timeout, with
/// edges at the matrix's 5 s threshold.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 7.5, 10.0,
];

/// The registry and every metric in it.
#[derive(Clone)]
pub struct Metrics {
    /// The same collectors, in name order, rendered one family at a time (see
    /// [`Metrics::render`]).
    families: Vec<Fam>,
    /// The length of the last rendering: the next one reserves that much at once instead of
    /// doubling its buffer (and copying it) its way up to megabytes.
    last_len: Arc<std::sync::atomic::AtomicUsize>,
    /// dnsgrade_registry_probes_total{class,object,service,outcome}.
    pub registry_probes: IntCounterVec,
    /// dnsgrade_registry_probe_duration_seconds{class,object,service}.
    pub registry_probe_duration: HistogramVec,
    /// dnsgrade_registry_service_state{class,object,service,state}.
    pub registry_service_state: IntGaugeVec,
    /// dnsgrade_probes_total{class,object,server,address,role,transport,outcome}; `role` keeps
    /// cached and cache-busting resolver checks (and key domains) apart.
    pub probes: Arc<compact::Family>,
    /// dnsgrade_probe_duration_seconds{class,object,server,address,transport}.
    pub probe_duration: Arc<compact::HistogramFamily>,
    /// dnsgrade_data_checks_total{class,object,server,address,verdict}.
    pub data_checks: Arc<compact::Family>,
    /// dnsgrade_window_success_ratio{...,estimate}.
    pub window_success: Arc<compact::Family>,
    /// dnsgrade_window_latency_seconds{...,q}.
    pub window_latency: Arc<compact::Family>,
    /// dnsgrade_window_data_error_ratio{...,estimate}.
    pub window_data_error: Arc<compact::Family>,
    /// dnsgrade_window_samples{...}.
    pub window_samples: Arc<compact::Family>,
    /// dnsgrade_server_stopped{...}.
    pub server_stopped: Arc<compact::Family>,
    /// dnsgrade_server_addresses{class,object,server}.
    pub server_addresses: IntGaugeVec,
    /// dnsgrade_resolve_failures_total{class,object,server}.
    pub resolve_failures: IntCounterVec,
    /// dnsgrade_probes_in_flight.
    pub in_flight: IntGauge,
    /// dnsgrade_probes_rate_limited_total.
    pub rate_limited: IntCounter,
    /// dnsgrade_stray_replies_total.
    pub stray_replies: IntCounter,
    /// dnsgrade_probes_sent_total.
    pub probes_sent: IntCounter,
    /// dnsgrade_probes_waiting.
    pub probes_waiting: IntGauge,
    /// dnsgrade_probes_late_total.
    pub probes_late: IntCounter,
    /// dnsgrade_samples_in_flight.
    pub samples_in_flight: IntGauge,
    /// dnsgrade_samples_skipped_total.
    pub samples_skipped: IntCounter,
    /// dnsgrade_socket_errors_total.
    pub socket_errors: IntCounter,
    /// dnsgrade_probe_local_errors_total.
    pub local_errors: IntCounter,
    /// dnsgrade_http_connections.
    pub http_connections: IntGauge,
    /// dnsgrade_http_connections_refused_total{reason}.
    pub http_refused: IntCounterVec,
    /// dnsgrade_evaluation_lag_seconds.
    pub evaluation_lag: prometheus::Gauge,
    /// dnsgrade_object_grade{class,object}.
    pub object_grade: IntGaugeVec,
    /// dnsgrade_object_candidate_grade{class,object}.
    pub object_candidate_grade: IntGaugeVec,
    /// dnsgrade_open_incidents{grade}.
    pub open_incidents: IntGaugeVec,
    /// dnsgrade_incidents_ack_overdue.
    pub incidents_ack_overdue: IntGauge,
    /// dnsgrade_vantage_isolated.
    pub vantage_isolated: IntGauge,
    /// dnsgrade_monitor_local_fault.
    pub monitor_local_fault: IntGauge,
    /// dnsgrade_vantage_info{vantage, region, network}, set by [`Metrics::set_vantage`].
    pub vantage_info: IntGaugeVec,
    /// dnsgrade_contacts_review_overdue{authority}: the authority's normalised name or the
    /// unit's, never a person's data.
    pub contacts_review_overdue: IntGaugeVec,
    /// dnsgrade_incident_events_total{type}.
    pub incident_events: IntCounterVec,
    /// dnsgrade_soa_serial{...}.
    pub soa_serial: Arc<compact::Family>,
    /// dnsgrade_soa_serial_lag{...}.
    pub soa_serial_lag: Arc<compact::Family>,
    /// dnsgrade_soa_serial_behind_seconds{...}.
    pub soa_behind: Arc<compact::Family>,
    /// dnsgrade_soa_publication_seconds{class,object}.
    pub soa_publication: HistogramVec,
    /// dnsgrade_outbox_depth{sink}.
    pub outbox_depth: IntGaugeVec,
    /// dnsgrade_outbox_oldest_pending_age_seconds{sink}.
    pub outbox_oldest_age: GaugeVec,
    /// dnsgrade_outbox_delivery_attempts_total{sink}.
    pub outbox_attempts: IntCounterVec,
    /// dnsgrade_outbox_delivery_failures_total{sink,reason}.
    pub outbox_failures: IntCounterVec,
    /// dnsgrade_outbox_delivered_total{sink}.
    pub outbox_delivered: IntCounterVec,
    /// dnsgrade_outbox_given_up_total{sink}.
    pub outbox_given_up: IntCounterVec,
    /// dnsgrade_reference_transfers_total{object,result}.
    pub reference_transfers: IntCounterVec,
    /// dnsgrade_reference_serial{object}.
    pub reference_serial: IntGaugeVec,
    /// dnsgrade_reference_delegations{object}.
    pub reference_delegations: IntGaugeVec,
    /// dnsgrade_dnssec_signature_expiry_seconds{class,object,server}.
    pub dnssec_expiry: GaugeVec,
    /// The configuration reload's families.
    pub reload: reload::ReloadMetrics,
}

impl Metrics {
    /// Creates and registers every metric.
    ///
    /// Long on purpose: one registration per family, in the order of the struct's fields, so
    /// that each family's name, help text and labels are read in one place.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        use compact::{Family, HistogramFamily, Kind};
        let probes = Arc::new(Family::new(
            PROBES_TOTAL,
            "DNS probes sent, by the outcome of each (ok, timeout, servfail, refused, nxdomain, formerr, other_rcode, lame, malformed, mismatch, network_error).",
            Kind::Counter,
            &["role", "transport", "outcome"],
        ));
        // No `role`: the latency of an address does not depend on the check's role, and with
        // it the histogram was most of all series (17 per role and transport).
        let probe_duration = Arc::new(HistogramFamily::new(
            PROBE_DURATION,
            "Send-to-reply time of successful probes, in seconds.",
            &["transport"],
            &LATENCY_BUCKETS,
        ));
        let data_checks = Arc::new(Family::new(
            DATA_CHECKS_TOTAL,
            "Successful replies compared with a reference, by verdict (correct, missing, wrong).",
            Kind::Counter,
            &["verdict"],
        ));
        let window_success = Arc::new(Family::new(
            WINDOW_SUCCESS,
            "Share of successful probes over the window; estimate=point, or the 95% Wilson interval's lower/upper bound.",
            Kind::Gauge,
            &["estimate"],
        ));
        let window_latency = Arc::new(Family::new(
            WINDOW_LATENCY,
            "Latency quantile q (0.5, 0.9, 0.99) of successful probes over the window, in seconds.",
            Kind::Gauge,
            &["q"],
        ));
        let window_data_error = Arc::new(Family::new(
            WINDOW_DATA_ERROR,
            "Share of checked replies with missing or wrong data over the window; estimate=point, lower or upper (95% Wilson).",
            Kind::Gauge,
            &["estimate"],
        ));
        let window_samples = Arc::new(Family::new(
            WINDOW_SAMPLES,
            "Probes counted in the window.",
            Kind::IntGauge,
            &[],
        ));
        let server_stopped = Arc::new(Family::new(
            SERVER_STOPPED,
            "1 when the server address had no successful probe within the stop window despite enough attempts (停止解析服务).",
            Kind::IntGauge,
            &[],
        ));
        let server_addresses = IntGaugeVec::new(
            Opts::new(SERVER_ADDRESSES, "Addresses a configured server has now (pinned plus resolved); 0 means its host name does not resolve."),
            &["class", "object", "server"],
        )
        .expect("valid metric");
        let resolve_failures = IntCounterVec::new(
            Opts::new(
                RESOLVE_FAILURES,
                "Failures to resolve a server's host name.",
            ),
            &["class", "object", "server"],
        )
        .expect("valid metric");
        let in_flight = IntGauge::new(PROBES_IN_FLIGHT, "Probes waiting for a reply now.")
            .expect("valid metric");
        let rate_limited = IntCounter::new(
            PROBES_RATE_LIMITED,
            "Probes delayed by the global or per-server rate limit.",
        )
        .expect("valid metric");
        let probes_sent = IntCounter::new(
            PROBES_SENT,
            "Probes sent (configured checks and samples), since start.",
        )
        .expect("valid metric");
        let probes_waiting = IntGauge::new(
            PROBES_WAITING,
            "Configured probes waiting now for a permit of the in-flight cap (max_in_flight).",
        )
        .expect("valid metric");
        let probes_late = IntCounter::new(
            PROBES_LATE,
            "Configured probes not sent because their slot passed while they waited for the in-flight cap or a rate limit (never sent late, never recorded), since start.",
        )
        .expect("valid metric");
        let samples_in_flight = IntGauge::new(
            SAMPLES_IN_FLIGHT,
            "Samples against a reference zone in flight now, outside the in-flight cap (each node address has its own sampling budget).",
        )
        .expect("valid metric");
        let samples_skipped = IntCounter::new(
            SAMPLES_SKIPPED,
            "Samples not sent because the node's sampling budget was full (it halves on timeouts), since start.",
        )
        .expect("valid metric");
        let stray_replies = IntCounter::new(STRAY_REPLIES, "UDP datagrams that matched no probe in flight (wrong ID, late, or unknown source), since start.").expect("valid metric");
        let socket_errors = IntCounter::new(
            SOCKET_ERRORS,
            "Socket send/receive errors of the probe engine, since start.",
        )
        .expect("valid metric");
        let http_connections = IntGauge::new(
            HTTP_CONNECTIONS,
            "HTTP connections open now (at most the connection cap of docs/operations.md, \"HTTP limits\").",
        )
        .expect("valid metric");
        let http_refused = IntCounterVec::new(
            Opts::new(
                HTTP_REFUSED,
                "HTTP connections closed on accept: reason=limit (the connection cap), peer_limit (the cap per client address), accept_error (accept failed, e.g. out of descriptors); since start.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let local_errors = IntCounter::new(
            LOCAL_ERRORS,
            "DNS probes this host could not make (out of file descriptors, buffers or ports, no socket of the family, local policy): the monitor's fault, in no server's ratio; since start.",
        )
        .expect("valid metric");
        let evaluation_lag = prometheus::Gauge::new(
            EVALUATION_LAG,
            "How late the last evaluation tick ran, in seconds.",
        )
        .expect("valid metric");
        let object_grade = IntGaugeVec::new(
            Opts::new(OBJECT_GRADE, "Grade of each object by the MIIT plan's matrix: 0 none, 1 = IV 一般, 2 = III 较大, 3 = II 重大, 4 = I 特别重大."),
            &["class", "object"],
        )
        .expect("valid metric");
        let object_candidate_grade = IntGaugeVec::new(
            Opts::new(OBJECT_CANDIDATE_GRADE, "Higher grade awaiting a person's confirmation of social impact (0 none, 1 = IV … 4 = I)."),
            &["class", "object"],
        )
        .expect("valid metric");
        let open_incidents = IntGaugeVec::new(
            Opts::new(
                OPEN_INCIDENTS,
                "Open incidents by current grade (I, II, III, IV).",
            ),
            &["grade"],
        )
        .expect("valid metric");
        let incidents_ack_overdue = IntGauge::new(INCIDENTS_ACK_OVERDUE, "Incidents (drills and false positives aside) not acknowledged within [daemon] ack_within of their detection (24 h by default).").expect("valid metric");
        let vantage_isolated = IntGauge::new(VANTAGE_ISOLATED, "1 when most control probes fail: this vantage point is cut off and grading is suspended.").expect("valid metric");
        let vantage_info = IntGaugeVec::new(
            Opts::new(VANTAGE_INFO, "This dnsgrade's vantage point ([daemon] vantage, region, network; empty when not given); always 1. Join on instance to label a vantage's series in a national view."),
            &["vantage", "region", "network"],
        )
        .expect("valid metric");
        let monitor_local_fault = IntGauge::new(MONITOR_LOCAL_FAULT, "1 when more than a tenth of the probed addresses had a probe this host could not make (local_error: file descriptors, buffers, ports) in the stop window: grading is suspended.").expect("valid metric");
        let contacts_review_overdue = IntGaugeVec::new(
            Opts::new(CONTACTS_REVIEW_OVERDUE, "Contacts of the roster whose reviewed_at is older than contact_review_every, per authority (normalised name) or unit; 0 for one whose contacts are all current."),
            &["authority"],
        )
        .expect("valid metric");
        let incident_events = IntCounterVec::new(
            Opts::new(
                INCIDENT_EVENTS_TOTAL,
                "Incident events written to the ledger, by type.",
            ),
            &["type"],
        )
        .expect("valid metric");
        let soa_serial = Arc::new(Family::new(
            SOA_SERIAL,
            "SOA serial the address serves (from SOA checks).",
            Kind::IntGauge,
            &[],
        ));
        let soa_serial_lag = Arc::new(Family::new(
            SOA_SERIAL_LAG,
            "Serial units the address is behind the newest serial of its object (RFC 1982 arithmetic); 0 when current.",
            Kind::IntGauge,
            &[],
        ));
        let soa_behind = Arc::new(Family::new(
            SOA_BEHIND,
            "Seconds since the object's newest serial appeared while this address still serves an older one; 0 when current. Above 3600 the node is stuck.",
            Kind::Gauge,
            &[],
        ));
        let soa_publication = HistogramVec::new(
            HistogramOpts::new(SOA_PUBLICATION, "Time from the first node serving a new SOA serial to the last one (publication latency), in seconds.")
                .buckets(vec![1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0]),
            &["class", "object"],
        )
        .expect("valid metric");
        let registry_probes = IntCounterVec::new(
            Opts::new(REGISTRY_PROBES_TOTAL, "Registry probes (EPP registration service, RDAP and WHOIS query services) by outcome."),
            &["class", "object", "service", "outcome"],
        )
        .expect("valid metric");
        let registry_probe_duration = HistogramVec::new(
            HistogramOpts::new(REGISTRY_PROBE_DURATION, "Round trip of successful registry probes (EPP hello, RDAP GET, WHOIS query), in seconds.")
                .buckets(REGISTRY_BUCKETS.to_vec()),
            &["class", "object", "service"],
        )
        .expect("valid metric");
        let registry_service_state = IntGaugeVec::new(
            Opts::new(REGISTRY_SERVICE_STATE, "Judged state of a registry service by its service levels: 1 on the series of the current state (unknown, ok, degraded, unavailable), 0 on the others."),
            &["class", "object", "service", "state"],
        )
        .expect("valid metric");
        let reference_transfers = IntCounterVec::new(
            Opts::new(REFERENCE_TRANSFERS, "Reference zone transfers (AXFR) and SOA polls of the primary, by result: ok, failed (the last good reference stays), poll_failed."),
            &["object", "result"],
        )
        .expect("valid metric");
        let reference_serial = IntGaugeVec::new(
            Opts::new(
                REFERENCE_SERIAL,
                "SOA serial of the reference in force for a TLD.",
            ),
            &["object"],
        )
        .expect("valid metric");
        let reference_delegations = IntGaugeVec::new(
            Opts::new(
                REFERENCE_DELEGATIONS,
                "Delegations in the reference in force for a TLD.",
            ),
            &["object"],
        )
        .expect("valid metric");
        let dnssec_expiry = GaugeVec::new(
            Opts::new(DNSSEC_SIGNATURE_EXPIRY, "Seconds until the earliest RRSIG expiration seen in the server's replies over the window (negative: already expired), for objects with dnssec = true."),
            &["class", "object", "server"],
        )
        .expect("valid metric");
        let build = IntGaugeVec::new(
            Opts::new(BUILD_INFO, "Build information; always 1."),
            &["version", "revision"],
        )
        .expect("valid metric");
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), REVISION])
            .set(1);
        // Sink names come from the config (validated: at most 64 characters of a fixed set).
        let outbox_depth = IntGaugeVec::new(
            Opts::new(OUTBOX_DEPTH, "Alert deliveries waiting in the outbox, per sink (including those held behind an earlier event of the same incident)."),
            &["sink"],
        )
        .expect("valid metric");
        let outbox_oldest_age = GaugeVec::new(
            Opts::new(OUTBOX_OLDEST_AGE, "Age of the oldest alert event still pending for the sink, in seconds (0 when none)."),
            &["sink"],
        )
        .expect("valid metric");
        let outbox_attempts = IntCounterVec::new(
            Opts::new(OUTBOX_ATTEMPTS_TOTAL, "Alert delivery attempts, per sink."),
            &["sink"],
        )
        .expect("valid metric");
        let outbox_failures = IntCounterVec::new(
            Opts::new(OUTBOX_FAILURES_TOTAL, "Failed alert delivery attempts (and Alertmanager re-posts), per sink and reason (connect, timeout, http_4xx, http_5xx, http_other, other)."),
            &["sink", "reason"],
        )
        .expect("valid metric");
        let outbox_delivered = IntCounterVec::new(
            Opts::new(
                OUTBOX_DELIVERED_TOTAL,
                "Alert events delivered with a 2xx reply, per sink.",
            ),
            &["sink"],
        )
        .expect("valid metric");
        let outbox_given_up = IntCounterVec::new(
            Opts::new(
                OUTBOX_GIVEN_UP_TOTAL,
                "Alert events given up after give_up_after without a 2xx, per sink.",
            ),
            &["sink"],
        )
        .expect("valid metric");
        let reload = reload::ReloadMetrics::new();
        let mut families: Vec<Fam> = vec![
            Fam::Compact(probes.clone()),
            Fam::Histogram(probe_duration.clone()),
            Fam::Compact(data_checks.clone()),
            Fam::Compact(window_success.clone()),
            Fam::Compact(window_latency.clone()),
            Fam::Compact(window_data_error.clone()),
            Fam::Compact(window_samples.clone()),
            Fam::Compact(server_stopped.clone()),
            Fam::Std(Arc::new(server_addresses.clone())),
            Fam::Std(Arc::new(resolve_failures.clone())),
            Fam::Std(Arc::new(in_flight.clone())),
            Fam::Std(Arc::new(rate_limited.clone())),
            Fam::Std(Arc::new(stray_replies.clone())),
            Fam::Std(Arc::new(probes_sent.clone())),
            Fam::Std(Arc::new(probes_waiting.clone())),
            Fam::Std(Arc::new(probes_late.clone())),
            Fam::Std(Arc::new(samples_in_flight.clone())),
            Fam::Std(Arc::new(samples_skipped.clone())),
            Fam::Std(Arc::new(socket_errors.clone())),
            Fam::Std(Arc::new(local_errors.clone())),
            Fam::Std(Arc::new(http_connections.clone())),
            Fam::Std(Arc::new(http_refused.clone())),
            Fam::Std(Arc::new(evaluation_lag.clone())),
            Fam::Std(Arc::new(object_grade.clone())),
            Fam::Std(Arc::new(object_candidate_grade.clone())),
            Fam::Std(Arc::new(open_incidents.clone())),
            Fam::Std(Arc::new(incidents_ack_overdue.clone())),
            Fam::Std(Arc::new(vantage_isolated.clone())),
            Fam::Std(Arc::new(monitor_local_fault.clone())),
            Fam::Std(Arc::new(vantage_info.clone())),
            Fam::Std(Arc::new(contacts_review_overdue.clone())),
            Fam::Std(Arc::new(incident_events.clone())),
            Fam::Compact(soa_serial.clone()),
            Fam::Compact(soa_serial_lag.clone()),
            Fam::Compact(soa_behind.clone()),
            Fam::Std(Arc::new(soa_publication.clone())),
            Fam::Std(Arc::new(registry_probes.clone())),
            Fam::Std(Arc::new(registry_probe_duration.clone())),
            Fam::Std(Arc::new(registry_service_state.clone())),
            Fam::Std(Arc::new(reference_transfers.clone())),
            Fam::Std(Arc::new(reference_serial.clone())),
            Fam::Std(Arc::new(reference_delegations.clone())),
            Fam::Std(Arc::new(dnssec_expiry.clone())),
            Fam::Std(Arc::new(build)),
            Fam::Std(Arc::new(outbox_depth.clone())),
            Fam::Std(Arc::new(outbox_oldest_age.clone())),
            Fam::Std(Arc::new(outbox_attempts.clone())),
            Fam::Std(Arc::new(outbox_failures.clone())),
            Fam::Std(Arc::new(outbox_delivered.clone())),
            Fam::Std(Arc::new(outbox_given_up.clone())),
            Fam::Std(Arc::new(reload.total.clone())),
            Fam::Std(Arc::new(reload.last_successful.clone())),
            Fam::Std(Arc::new(reload.last_success.clone())),
        ];
        // process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, … from
        // /proc/self, read at each scrape.
        #[cfg(target_os = "linux")]
        families.push(Fam::Std(Arc::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        )));
        // A registry refuses a duplicate name; it is needed for nothing else.
        for f in &families {
            if let Fam::Std(c) = f {
                registry
                    .register(Box::new(SharedCollector(c.clone())))
                    .expect("metric names are unique");
            }
        }
        families.sort_by_cached_key(|f| f.name());
        Metrics {
            reload,
            families,
            last_len: Arc::default(),
            registry_probes,
            registry_probe_duration,
            registry_service_state,
            probes,
            probe_duration,
            data_checks,
            window_success,
            window_latency,
            window_data_error,
            window_samples,
            server_stopped,
            server_addresses,
            resolve_failures,
            in_flight,
            rate_limited,
            stray_replies,
            probes_sent,
            probes_waiting,
            probes_late,
            samples_in_flight,
            samples_skipped,
            socket_errors,
            local_errors,
            http_connections,
            http_refused,
            evaluation_lag,
            object_grade,
            object_candidate_grade,
            open_incidents,
            incidents_ack_overdue,
            vantage_isolated,
            monitor_local_fault,
            vantage_info,
            contacts_review_overdue,
            incident_events,
            soa_serial,
            soa_serial_lag,
            soa_behind,
            soa_publication,
            outbox_depth,
            outbox_oldest_age,
            outbox_attempts,
            outbox_failures,
            outbox_delivered,
            outbox_given_up,
            reference_transfers,
            reference_serial,
            reference_delegations,
            dnssec_expiry,
        }
    }

    /// Removes the object-level series of an object that is no longer configured (a reload
    /// removed it), so no grade gauge keeps an alert firing for something not monitored:
    /// its grade and candidate grade, each server's address count, resolution failures and
    /// DNSSEC expiry, its registry services' duration and state, and its reference's figures.
    /// The per-address series go with the addresses (see the store's inactive entries).
    pub fn forget_object(&self, class: &str, name: &str, servers: &[&str], services: &[&str]) {
        let _ = self.object_grade.remove_label_values(&[class, name]);
        let _ = self
            .object_candidate_grade
            .remove_label_values(&[class, name]);
        for sv in servers {
            let l = [class, name, *sv];
            let _ = self.server_addresses.remove_label_values(&l);
            let _ = self.resolve_failures.remove_label_values(&l);
            let _ = self.dnssec_expiry.remove_label_values(&l);
        }
        for svc in services {
            let _ = self
                .registry_probe_duration
                .remove_label_values(&[class, name, svc]);
            for st in ["unknown", "ok", "degraded", "unavailable"] {
                let _ = self
                    .registry_service_state
                    .remove_label_values(&[class, name, svc, st]);
            }
        }
        let _ = self.reference_serial.remove_label_values(&[name]);
        let _ = self.reference_delegations.remove_label_values(&[name]);
    }

    /// Removes the probe counters, latency histograms and data check counters of an address
    /// (the series the results' consumer creates), once it is no longer probed.
    pub fn remove_address_counters(&self, labels: &AddressLabels) {
        self.probes.remove_address(labels);
        self.probe_duration.remove_address(labels);
        self.data_checks.remove_address(labels);
    }

    /// Creates every outbox series of `sink` at zero, so dashboards see a sink before its
    /// first event.
    pub fn init_sink(&self, sink: &str) {
        self.outbox_depth.with_label_values(&[sink]).set(0);
        self.outbox_oldest_age.with_label_values(&[sink]).set(0.0);
        self.outbox_attempts.with_label_values(&[sink]);
        self.outbox_delivered.with_label_values(&[sink]);
        self.outbox_given_up.with_label_values(&[sink]);
        for r in OUTBOX_FAILURE_REASONS {
            self.outbox_failures.with_label_values(&[sink, r]);
        }
    }

    /// The text exposition format served at /metrics, families in name order and each
    /// family's series in label order (as a registry's gather gives them). Each family is
    /// collected and encoded on its own: a scrape holds one family's copy at a time, not a
    /// copy of every series (hundreds of thousands of them with 10,000 addresses).
    pub fn render(&self) -> String {
        use std::sync::atomic::Ordering;
        let hint = match self.last_len.load(Ordering::Relaxed) {
            0 => self.estimated_len(),
            n => n,
        };
        let mut out = String::with_capacity(hint + hint / 16);
        let encoder = TextEncoder::new();
        for f in &self.families {
            match f {
                Fam::Std(c) => {
                    let mut mfs = c.collect();
                    for mf in &mut mfs {
                        mf.mut_metric().sort_by(|a, b| {
                            let (la, lb) = (a.get_label(), b.get_label());
                            la.iter()
                                .map(|l| l.value())
                                .cmp(lb.iter().map(|l| l.value()))
                        });
                    }
                    mfs.retain(|mf| !mf.get_metric().is_empty());
                    // A collector of several families (the process's) gives them in its own
                    // order; the exposition keeps every family in name order.
                    mfs.sort_by(|a, b| a.name().cmp(b.name()));
                    let _ = encoder.encode_utf8(&mfs, &mut out);
                }
                Fam::Compact(c) => c.render(&mut out),
                Fam::Histogram(h) => h.render(&mut out),
            }
        }
        self.last_len.store(out.len(), Ordering::Relaxed);
        out
    }
}

impl Metrics {
    /// Sets `dnsgrade_vantage_info` to this vantage point's identity (one series): its name,
    /// region and network, empty when not given.
    pub fn set_vantage(&self, name: &str, region: Option<&str>, network: Option<&str>) {
        self.vantage_info.reset();
        self.vantage_info
            .with_label_values(&[name, region.unwrap_or(""), network.unwrap_or("")])
            .set(1);
    }

    /// A guess at the first rendering's length from the per-address series (the bulk), so even
    /// the first scrape does not grow its buffer by doubling (which holds the old and the new
    /// buffer at once: about 25 MiB for an 8 MiB answer).
    fn estimated_len(&self) -> usize {
        self.families
            .iter()
            .map(|f| match f {
                Fam::Std(_) => 0,
                Fam::Compact(c) => c.len() * (c.name().len() + 110),
                Fam::Histogram(h) => h.len() * (LATENCY_BUCKETS.len() + 3) * (h.name().len() + 130),
            })
            .sum()
    }
}

/// One family of the rendering: a `prometheus` collector, or a compact per-address family.
#[derive(Clone)]
enum Fam {
    Std(Arc<dyn prometheus::core::Collector>),
    Compact(Arc<compact::Family>),
    Histogram(Arc<compact::HistogramFamily>),
}

impl Fam {
    fn name(&self) -> String {
        match self {
            Fam::Std(c) => c
                .desc()
                .first()
                .map(|d| d.fq_name.clone())
                .unwrap_or_default(),
            Fam::Compact(c) => c.name().to_string(),
            Fam::Histogram(h) => h.name().to_string(),
        }
    }
}

/// The window gauges of one address, resolved once: a tick sets each with an atomic store
/// instead of looking its series up by labels. Dropped with [`AddressGauges::remove`] when the
/// address stops being probed.
pub struct AddressGauges {
    labels: AddressLabels,
    samples: Value,
    stopped: Value,
    /// Serial, lag, seconds behind; present only while the address has an SOA serial.
    soa: Option<[Value; 3]>,
    /// Success and data error ratios: point, lower, upper; present while they are defined.
    ratios: [Option<[Value; 3]>; 2],
    /// p50, p90, p99; present while the window has replies.
    latency: Option<[Value; 3]>,
}

impl std::fmt::Debug for AddressGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressGauges")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

const ESTIMATES: [&str; 3] = ["point", "lower", "upper"];
const QUANTILES: [&str; 3] = ["0.5", "0.9", "0.99"];

impl AddressGauges {
    /// Handles for the address with these labels.
    pub fn new(m: &Metrics, labels: AddressLabels) -> Self {
        Self {
            samples: m.window_samples.series(&labels, &[]),
            stopped: m.server_stopped.series(&labels, &[]),
            soa: None,
            ratios: [None, None],
            latency: None,
            labels,
        }
    }

    /// Samples in the window, and whether the address is stopped.
    pub fn set_window(&self, samples: u64, stopped: bool) {
        self.samples
            .set_i64(i64::try_from(samples).unwrap_or(i64::MAX));
        self.stopped.set_i64(i64::from(stopped));
    }

    fn ratio_family(m: &Metrics, which: usize) -> &compact::Family {
        if which == 0 {
            &m.window_success
        } else {
            &m.window_data_error
        }
    }

    /// The SOA gauges: serial, serials behind, seconds behind; `None` removes them.
    pub fn set_soa(&mut self, m: &Metrics, soa: Option<(u32, u32, f64)>) {
        let families = [&m.soa_serial, &m.soa_serial_lag, &m.soa_behind];
        match soa {
            Some((serial, lag, behind)) => {
                let l = &self.labels;
                let g = self
                    .soa
                    .get_or_insert_with(|| families.map(|f| f.series(l, &[])));
                g[0].set_i64(i64::from(serial));
                g[1].set_i64(i64::from(lag));
                g[2].set_f64(behind);
            }
            None => {
                if self.soa.take().is_some() {
                    for f in families {
                        f.remove(&self.labels, &[]);
                    }
                }
            }
        }
    }

    /// The success (`which` 0) or data error (1) ratio: point, and the lower and upper Wilson
    /// bounds; `None` (undefined) removes them.
    pub fn set_ratio(&mut self, m: &Metrics, which: usize, r: Option<[f64; 3]>) {
        let family = Self::ratio_family(m, which);
        match r {
            Some(r) => {
                let l = &self.labels;
                let g = self.ratios[which]
                    .get_or_insert_with(|| ESTIMATES.map(|e| family.series(l, &[e])));
                for (g, v) in g.iter().zip(r) {
                    g.set_f64(v);
                }
            }
            None => {
                if self.ratios[which].take().is_some() {
                    for e in ESTIMATES {
                        family.remove(&self.labels, &[e]);
                    }
                }
            }
        }
    }

    /// The latency quantiles p50, p90, p99 in seconds; `None` (no reply in the window) removes
    /// them.
    pub fn set_latency(&mut self, m: &Metrics, lat: Option<[f64; 3]>) {
        match lat {
            Some(lat) => {
                let l = &self.labels;
                let g = self
                    .latency
                    .get_or_insert_with(|| QUANTILES.map(|q| m.window_latency.series(l, &[q])));
                for (g, v) in g.iter().zip(lat) {
                    g.set_f64(v);
                }
            }
            None => {
                if self.latency.take().is_some() {
                    for q in QUANTILES {
                        m.window_latency.remove(&self.labels, &[q]);
                    }
                }
            }
        }
    }

    /// Removes every series these handles export.
    pub fn remove(mut self, m: &Metrics) {
        m.window_samples.remove(&self.labels, &[]);
        m.server_stopped.remove(&self.labels, &[]);
        self.set_soa(m, None);
        self.set_ratio(m, 0, None);
        self.set_ratio(m, 1, None);
        self.set_latency(m, None);
    }
}

/// A collector shared between the registry and [`Metrics::render`].
struct SharedCollector(Arc<dyn prometheus::core::Collector>);

impl prometheus::core::Collector for SharedCollector {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.0.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.0.collect()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn render_orders_families_by_name_and_series_by_labels() {
        let m = Metrics::new();
        for address in ["192.0.2.9:53", "192.0.2.1:53", "192.0.2.5:53"] {
            m.window_samples
                .series(&super::AddressLabels::new(["tld", "cn", "a", address]), &[])
                .set_i64(1);
        }
        m.in_flight.set(3);
        let text = m.render();
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        let mut sorted = families.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(families, sorted, "each family once, in name order");
        let addresses: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("dnsgrade_window_samples{"))
            .filter_map(|l| l.split("address=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(addresses, ["192.0.2.1:53", "192.0.2.5:53", "192.0.2.9:53"]);
        assert!(text.contains("\ndnsgrade_probes_in_flight 3\n"), "{text}");
        assert!(
            !text.contains("# TYPE dnsgrade_probes_total "),
            "a family without series is not rendered"
        );
    }
}
