//! `dnsgrade run`: wires config, probers, statistics, metrics and HTTP together.
//!
//! Services and how they end (STYLE.md, item 6): the probe loops are cancelled by one token;
//! the result consumer ends when every sender (the probe tasks) is gone and flushes as it goes;
//! the evaluation ticker and the HTTP server stop on the same token. [`Daemon::stop`] waits for
//! all of them with a grace timeout.

use crate::clock::{Clock, UnixMillis};
use crate::config::{CheckRole, Config, Object, ObjectClass, Server};
use crate::evaluator::{Board, Evaluator, Observations};
use crate::grading::{Level, Rules};
use crate::incident::{IncidentStore, StoreError};
use crate::metrics::Metrics;
use crate::probe::registry::{RegistryHealthTracker, RegistryProbeSet, RegistryTargets};
use crate::probe::schedule::{spawn_address_loop, Limits, ProbeContext, ProbeResult, Target};
use crate::probe::{Outcome, Prober, ProberConfig, Verdict};
use crate::stats::{ServerStats, WindowSnapshot, WindowSpec};
use hickory_resolver::TokioResolver;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The HTTP listen address could not be bound (in use, or not permitted).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The probe sockets could not be opened.
    #[error("cannot open probe sockets: {0}")]
    Sockets(std::io::Error),
    /// The state directory or the incident ledger could not be opened.
    #[error("cannot open the incident ledger in {dir}: {source}")]
    Ledger {
        /// The state directory.
        dir: std::path::PathBuf,
        /// The cause.
        source: StoreError,
    },
    /// The alert outbox could not be set up.
    #[error("{0}")]
    Alerts(crate::alert::AlertError),
    /// A reference zone could not be read.
    #[error("cannot load the reference zone {file} of {object}: {reason}")]
    Reference {
        /// The object.
        object: String,
        /// The file.
        file: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A registry probe could not be built (CA file, client certificate, EPP credentials).
    #[error("cannot probe the registry services of {object}: {source}")]
    Registry {
        /// The object.
        object: String,
        /// The cause.
        source: crate::probe::registry::RegistryError,
    },
    /// The state directory could not be created.
    #[error("cannot create the state directory {dir}: {source}")]
    StateDir {
        /// The directory.
        dir: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Statistics of one server address, and what the daemon knows about it besides.
#[derive(Debug)]
pub struct ServerEntry {
    /// The windowed statistics.
    pub stats: ServerStats,
    /// Statistics of the checks of each special role, kept apart: key domains (重点域名: "any
    /// data error on a key domain"), and for resolvers cached names (the front end) versus
    /// cache-busting names (real recursion). Plain checks count only in `stats`.
    pub by_role: BTreeMap<CheckRole, ServerStats>,
    /// The NSID of the last reply that carried one.
    pub last_nsid: Option<String>,
    /// The SOA serial this address serves, and when it was first seen serving it.
    pub soa: Option<(u32, UnixMillis)>,
    /// False once the address is no longer probed (its host name stopped resolving to it).
    pub active: bool,
    /// Signed zones: the earliest RRSIG expiration in the last reply to each check (by check
    /// index; sampled delegations share one entry), Unix milliseconds.
    pub dnssec_expiry: BTreeMap<usize, UnixMillis>,
    /// True while the expiry warning for this address has been logged.
    pub dnssec_warned: bool,
    /// The address's gauge handles, resolved on the first tick that exports them and dropped
    /// (with their series) when the address stops being probed.
    pub gauges: Option<crate::metrics::AddressGauges>,
}

impl ServerEntry {
    /// Whether the address is stopped: enough attempts within the stop window, none answered.
    pub fn stopped(&self, now: UnixMillis, stop_window: Duration) -> bool {
        let recent = self.stats.recent(now, stop_window);
        recent.attempts >= STOP_MIN_PROBES && recent.successes == 0
    }

    /// Seconds until the earliest RRSIG expiration seen in its replies (negative once past).
    pub fn dnssec_expiry_s(&self, now: UnixMillis) -> Option<f64> {
        self.dnssec_expiry
            .values()
            .min()
            .map(|&at| (at as i64 - now as i64) as f64 / 1000.0)
    }

    /// The serial this address serves, how many serials it is behind the object's newest and
    /// for how many milliseconds; `None` without a serial of its own or of the object's.
    pub fn soa_position(
        &self,
        newest: Option<&NewestSerial>,
        now: UnixMillis,
    ) -> Option<(u32, u32, UnixMillis)> {
        let ((serial, _), n) = (self.soa?, newest?);
        let lag = n.serial.wrapping_sub(serial);
        let behind = if lag == 0 {
            0
        } else {
            now.saturating_sub(n.first_seen)
        };
        Some((serial, lag, behind))
    }
}

/// The last answer of each address to one consensus check, with the serial it served then.
pub type PeerAnswers = HashMap<SocketAddr, (Option<u32>, Vec<String>)>;

/// Every server's statistics, keyed by target.
#[derive(Debug)]
pub struct StatsStore {
    spec: WindowSpec,
    /// Node consensus: the last answer of each address to each consensus check, with the
    /// serial the address served then, keyed by (object, check index).
    pub consensus: HashMap<(String, usize), PeerAnswers>,
    /// The newest SOA serial per object (class, name).
    pub newest_serial: HashMap<(crate::config::ObjectClass, String), NewestSerial>,
    /// The entries.
    pub servers: HashMap<Arc<Target>, ServerEntry>,
    /// Registry services (EPP, RDAP, WHOIS) of each object that has them, by object key
    /// (`class/name`).
    pub registries: HashMap<String, RegistryHealthTracker>,
}

impl StatsStore {
    /// An empty store with windows shaped by `spec`.
    pub fn new(spec: WindowSpec) -> Self {
        Self {
            spec,
            consensus: HashMap::new(),
            newest_serial: HashMap::new(),
            servers: HashMap::new(),
            registries: HashMap::new(),
        }
    }

    /// Makes sure `target` has an entry and marks it active or not.
    pub fn ensure(&mut self, target: &Arc<Target>, active: bool) {
        let spec = &self.spec;
        self.servers
            .entry(target.clone())
            .or_insert_with(|| ServerEntry {
                stats: ServerStats::new(spec),
                by_role: BTreeMap::new(),
                last_nsid: None,
                soa: None,
                active,
                dnssec_expiry: BTreeMap::new(),
                dnssec_warned: false,
                gauges: None,
            })
            .active = active;
    }

    /// Judges an answer by node consensus (MATRIX.md, references: "with no reference, the
    /// majority answer of the other nodes of the same TLD at the same SOA serial"): correct when
    /// it equals the answer a strict majority of at least two other nodes at the same serial
    /// gave, missing when empty where they have data, wrong otherwise; unchecked without such a
    /// majority. The answer is then remembered for the other nodes.
    pub fn consensus_verdict(&mut self, r: &ProbeResult) -> Verdict {
        let Some(answer) = &r.consensus_answer else {
            return r.verdict;
        };
        let serial = self
            .servers
            .get(&r.target)
            .and_then(|e| e.soa.map(|(s, _)| s));
        let peers = self
            .consensus
            .entry((r.target.object.clone(), r.check))
            .or_default();
        let mut tally: HashMap<&Vec<String>, usize> = HashMap::new();
        let mut n = 0;
        for (addr, (s, a)) in peers.iter() {
            if *addr != r.target.address && *s == serial {
                n += 1;
                *tally.entry(a).or_default() += 1;
            }
        }
        let majority = tally
            .iter()
            .find(|(_, c)| **c * 2 > n)
            .map(|(a, _)| (*a).clone());
        let verdict = match majority {
            Some(m) if n >= 2 => {
                if &m == answer {
                    Verdict::Correct
                } else if answer.is_empty() {
                    Verdict::Missing
                } else {
                    Verdict::Wrong
                }
            }
            _ => Verdict::Unchecked,
        };
        peers.insert(r.target.address, (serial, answer.clone()));
        verdict
    }

    /// Records one result; returns its data verdict (from its reference, or node consensus).
    pub fn record(&mut self, r: &ProbeResult) -> Verdict {
        let verdict = if r.verdict == Verdict::Unchecked && r.consensus_answer.is_some() {
            self.consensus_verdict(r)
        } else {
            r.verdict
        };
        let spec = &self.spec;
        let e = self
            .servers
            .entry(r.target.clone())
            .or_insert_with(|| ServerEntry {
                stats: ServerStats::new(spec),
                by_role: BTreeMap::new(),
                last_nsid: None,
                soa: None,
                active: true,
                dnssec_expiry: BTreeMap::new(),
                dnssec_warned: false,
                gauges: None,
            });
        if let Some(at) = r.dnssec_expires_at {
            e.dnssec_expiry.insert(r.check, at);
        }
        // Availability (outcomes, latency, "stopped") comes from the configured checks, which
        // keep a fixed cadence; a sample feeds only the data error ratio of the server's
        // window, since how many samples are sent depends on the sampling budget, not on the
        // server (see docs/measurement.md, "Sampling").
        if r.role == CheckRole::Sampled {
            e.stats.record_verdict(r.sent_at, verdict);
        } else {
            e.stats.record(r.sent_at, r.outcome, r.rtt, verdict);
        }
        if r.role != CheckRole::Plain {
            e.by_role
                .entry(r.role)
                .or_insert_with(|| ServerStats::new(spec))
                .record(r.sent_at, r.outcome, r.rtt, verdict);
        }
        if r.nsid.is_some() {
            e.last_nsid = r.nsid.clone();
        }
        if let Some(serial) = r.serial {
            if e.soa.map(|(s, _)| s) != Some(serial) {
                e.soa = Some((serial, r.sent_at));
            }
            let key = (r.target.class, r.target.object.clone());
            let newer = match self.newest_serial.get(&key) {
                None => true,
                Some(n) => serial_gt(serial, n.serial),
            };
            if newer {
                self.newest_serial.insert(
                    key,
                    NewestSerial {
                        serial,
                        first_seen: r.sent_at,
                        published: false,
                    },
                );
            }
        }
        verdict
    }
}

/// The newest SOA serial seen on any node of an object.
#[derive(Debug, Clone, Copy)]
pub struct NewestSerial {
    /// The serial.
    pub serial: u32,
    /// When a node first served it.
    pub first_seen: UnixMillis,
    /// True once every active node serves it (its publication latency was observed).
    pub published: bool,
}

/// RFC 1982 serial number arithmetic: `a` is newer than `b`.
pub fn serial_gt(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::serial_gt;

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(serial_gt(2026112202, 2026112201));
        assert!(!serial_gt(2026112201, 2026112202));
        assert!(!serial_gt(7, 7));
        assert!(serial_gt(3, u32::MAX - 2), "wrapped past 2^32 is newer");
        assert!(!serial_gt(u32::MAX - 2, 3));
    }
}

/// A node serving an older serial than the newest for longer than this is reported stuck.
pub const SOA_STUCK_AFTER_MS: u64 = 3_600_000;

/// Per-server figures for `/api/v1/status`.
#[derive(Debug, Clone, Serialize)]
pub struct ServerStatus {
    /// Object class.
    pub class: &'static str,
    /// Object name.
    pub object: String,
    /// Server name.
    pub server: String,
    /// Address.
    pub address: String,
    /// Whether the address is still probed.
    pub active: bool,
    /// True when stopped (no success within the stop window with enough attempts).
    pub stopped: bool,
    /// NSID of the last reply that had one.
    pub nsid: Option<String>,
    /// The window.
    pub window: WindowSnapshot,
    /// The windows of special check roles, kept apart (`cached` and `cache_busting` for
    /// resolvers, `key_domain` for TLD nodes).
    pub roles: BTreeMap<&'static str, WindowSnapshot>,
    /// The SOA serial this address serves (from SOA checks).
    pub soa_serial: Option<u32>,
    /// How far behind the object's newest serial it is, in serial units (0 = current).
    pub soa_serial_lag: Option<u32>,
    /// How long the newest serial has been out while this address still serves an older one.
    pub soa_behind_s: Option<f64>,
    /// Behind for longer than an hour: a node stuck on an old zone.
    pub soa_stuck: bool,
    /// Signed zones: seconds until the earliest RRSIG expiration in the latest replies
    /// (negative: expired).
    pub dnssec_expiry_s: Option<f64>,
    /// Signed zones: a signature expires within the object's `dnssec_warn_before` (72 h by
    /// default), or has expired.
    pub dnssec_expiring: bool,
}

/// Resolution state of a configured server's host name.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResolveState {
    /// Addresses in use now.
    pub addresses: Vec<String>,
    /// The last resolution error, if the last attempt failed.
    pub error: Option<String>,
}

/// What the HTTP server reads.
#[derive(Debug, Clone)]
pub struct Shared {
    /// Metrics registry.
    pub metrics: Metrics,
    /// Statistics.
    pub store: Arc<Mutex<StatsStore>>,
    /// Host name resolution state by (class/object/server).
    pub resolve: Arc<Mutex<BTreeMap<String, ResolveState>>>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Stop window and minimum attempts for "stopped".
    pub stop_window: Duration,
    /// The prober (in-flight figures).
    pub prober: Prober,
    /// The latest evaluation, replaced whole by each tick: readers clone the `Arc`, not the
    /// board (thousands of objects), and serialize it without holding the lock.
    pub board: Arc<Mutex<Arc<Board>>>,
    /// The length of the last `/api/v1/status` answer, to size the next one's buffer.
    pub status_len: Arc<std::sync::atomic::AtomicUsize>,
    /// The incident ledger.
    pub incidents: Arc<IncidentStore>,
    /// Bearer token of the write API; None disables it.
    pub api_token: Option<Arc<str>>,
    /// The rules in force.
    pub rules: Arc<Rules>,
    /// The configuration (objects, for drills).
    pub config: Arc<Config>,
    /// Serializes [`Shared::sync_prober`], so two callers never add the same counts twice.
    pub prober_sync: Arc<Mutex<()>>,
}

/// Minimum attempts within the stop window before a server may be called stopped (MATRIX.md).
pub const STOP_MIN_PROBES: u64 = 5;

impl Shared {
    /// Snapshot of every server at `now`.
    pub fn status(&self, now: UnixMillis) -> Vec<ServerStatus> {
        let horizons = self.dnssec_horizons();
        let store = lock(&self.store);
        let mut out: Vec<ServerStatus> = store
            .servers
            .iter()
            .map(|(t, e)| {
                let expiry_s = e.dnssec_expiry_s(now);
                let newest = store.newest_serial.get(&(t.class, t.object.clone()));
                let (lag, behind) = match e.soa_position(newest, now) {
                    Some((_, lag, behind)) if e.active => (Some(lag), Some(behind)),
                    _ => (None, None),
                };
                ServerStatus {
                    class: t.class.as_str(),
                    object: t.object.clone(),
                    server: t.server.clone(),
                    address: t.address.to_string(),
                    active: e.active,
                    stopped: e.stopped(now, self.stop_window),
                    nsid: e.last_nsid.clone(),
                    window: e.stats.snapshot(now),
                    roles: e
                        .by_role
                        .iter()
                        .map(|(r, st)| (r.as_str(), st.snapshot(now)))
                        .collect(),
                    soa_serial: e.soa.map(|(serial, _)| serial),
                    soa_serial_lag: lag,
                    soa_behind_s: behind.map(|ms| ms as f64 / 1000.0),
                    soa_stuck: behind.is_some_and(|ms| ms > SOA_STUCK_AFTER_MS),
                    dnssec_expiry_s: expiry_s,
                    dnssec_expiring: match (expiry_s, horizons.get(&(t.class, t.object.as_str()))) {
                        (Some(s), Some(h)) => s < h.as_secs_f64(),
                        _ => false,
                    },
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (a.class, &a.object, &a.server, &a.address)
                .cmp(&(b.class, &b.object, &b.server, &b.address))
        });
        out
    }

    /// The DNSSEC warning horizon of each signed object.
    fn dnssec_horizons(&self) -> HashMap<(ObjectClass, &str), Duration> {
        self.config
            .objects
            .iter()
            .filter_map(|o| Some(((o.class, o.name.as_str()), o.dnssec?.warn_before)))
            .collect()
    }

    /// When every active address of an object serves its newest serial, the time that took
    /// (from the first node serving it to the last) is observed once as publication latency.
    fn observe_publication(&self) {
        let mut store = lock(&self.store);
        let mut done = Vec::new();
        for ((class, object), n) in store.newest_serial.iter().filter(|(_, n)| !n.published) {
            let mut last = n.first_seen;
            let mut all = true;
            let mut any = false;
            for (t, e) in store
                .servers
                .iter()
                .filter(|(t, e)| t.class == *class && &t.object == object && e.active)
            {
                let _ = t;
                match e.soa {
                    Some((serial, at)) if serial == n.serial => {
                        any = true;
                        last = last.max(at);
                    }
                    Some(_) => all = false,
                    None => {}
                }
            }
            if all && any {
                done.push(((*class, object.clone()), last.saturating_sub(n.first_seen)));
            }
        }
        for (key, ms) in done {
            self.metrics
                .soa_publication
                .with_label_values(&[key.0.as_str(), key.1.as_str()])
                .observe(ms as f64 / 1000.0);
            if let Some(n) = store.newest_serial.get_mut(&key) {
                n.published = true;
            }
        }
    }

    /// Publishes an evaluation: the board for the API, grade gauges, logs of incident events.
    pub fn publish(&self, board: Board, outcome: &crate::evaluator::TickOutcome) {
        let m = &self.metrics;
        for o in &board.objects {
            let l = [o.class.as_str(), o.name.as_str()];
            m.object_grade
                .with_label_values(&l)
                .set(o.assessment.grade.map(Level::gauge).unwrap_or(0));
            m.object_candidate_grade
                .with_label_values(&l)
                .set(o.assessment.candidate.map(Level::gauge).unwrap_or(0));
        }
        m.vantage_isolated.set(i64::from(board.isolated));
        if let Ok(counts) = self.incidents.open_count_by_grade() {
            for level in Level::ALL {
                m.open_incidents
                    .with_label_values(&[level.roman()])
                    .set(counts.get(&level).copied().unwrap_or(0) as i64);
            }
        }
        if outcome.isolation_began {
            tracing::error!(
                control_failing = board.control_failing,
                control_addresses = board.control_addresses,
                "monitor isolated: most control probes fail; grading is suspended"
            );
        }
        if outcome.isolation_ended {
            tracing::warn!("monitor recovered: control probes answer again; grading resumes");
        }
        if let Some(me) = &outcome.monitor_event {
            tracing::warn!(
                event = me.kind.as_str(),
                "monitor event recorded for the alert outbox"
            );
        }
        for e in &outcome.events {
            m.incident_events
                .with_label_values(&[e.kind.as_str()])
                .inc();
            tracing::warn!(incident = e.incident_id, object = %e.incident.object, event = e.kind.as_str(), grade = ?e.grade.map(|g| g.0.roman()), "incident event");
        }
        *lock(&self.board) = Arc::new(board);
    }

    /// Sets the window gauges from the statistics.
    pub fn update_gauges(&self, now: UnixMillis) {
        let m = &self.metrics;
        // Looked up once per tick, not once per address.
        let horizons = self.dnssec_horizons();
        let mut dnssec_min: BTreeMap<(ObjectClass, &str, &str), f64> = BTreeMap::new();
        let mut store = lock(&self.store);
        let StatsStore {
            servers,
            newest_serial,
            ..
        } = &mut *store;
        for (t, e) in servers.iter_mut() {
            if !e.active {
                // An address no longer probed keeps no gauges: stale values would mislead.
                if let Some(g) = e.gauges.take() {
                    g.remove(m);
                }
                continue;
            }
            let w = e.stats.snapshot(now);
            let stopped = e.stopped(now, self.stop_window);
            let soa = e
                .soa_position(newest_serial.get(&(t.class, t.object.clone())), now)
                .map(|(serial, lag, behind)| (serial, lag, behind as f64 / 1000.0));
            let g = e
                .gauges
                .get_or_insert_with(|| crate::metrics::AddressGauges::new(m, address_labels(t)));
            g.set_window(w.samples, stopped);
            g.set_soa(m, soa);
            g.set_ratio(m, 0, &w.success);
            g.set_ratio(m, 1, &w.data_error);
            g.set_latency(m, w.latency.as_ref());
            let expiry_s = e.dnssec_expiry_s(now);
            if let Some(x) = expiry_s {
                let v = dnssec_min
                    .entry((t.class, t.object.as_str(), t.server.as_str()))
                    .or_insert(x);
                *v = v.min(x);
            }
            let expiring = match (expiry_s, horizons.get(&(t.class, t.object.as_str()))) {
                (Some(s), Some(h)) => s < h.as_secs_f64(),
                _ => false,
            };
            if expiring && !e.dnssec_warned {
                tracing::warn!(class = t.class.as_str(), object = %t.object, server = %t.server, address = %t.address, expires_in_s = expiry_s, "DNSSEC signatures expire soon (or have expired): re-sign the zone");
            }
            e.dnssec_warned = expiring;
        }
        for ((c, o, sv), v) in &dnssec_min {
            m.dnssec_expiry
                .with_label_values(&[c.as_str(), o, sv])
                .set(*v);
        }
        drop(store);
        self.observe_publication();
        self.sync_prober();
    }

    /// Brings the prober's figures into the exported metrics. The prober counts with atomics;
    /// this runs on every tick and before every scrape, so /metrics is current whatever the
    /// tick interval.
    pub fn sync_prober(&self) {
        let _one = lock(&self.prober_sync);
        let m = &self.metrics;
        let c = self.prober.counters();
        m.in_flight.set(self.prober.in_flight() as i64);
        m.probes_waiting
            .set(c.waiting.load(std::sync::atomic::Ordering::Relaxed) as i64);
        m.samples_in_flight.set(
            c.samples_in_flight
                .load(std::sync::atomic::Ordering::Relaxed) as i64,
        );
        for (counter, source) in [
            (&m.stray_replies, &c.stray_replies),
            (&m.socket_errors, &c.socket_errors),
            (&m.probes_sent, &c.sent),
            (&m.probes_late, &c.late),
            (&m.samples_skipped, &c.samples_skipped),
            (&m.rate_limited, &c.rate_limited),
        ] {
            let now = source.load(std::sync::atomic::Ordering::Relaxed);
            let have = counter.get();
            if now > have {
                counter.inc_by(now - have);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running daemon.
#[derive(Debug)]
pub struct Daemon {
    /// State the HTTP server reads; also handy for tests.
    pub shared: Shared,
    /// The bound HTTP address (useful when the config asks for port 0).
    pub http_addr: SocketAddr,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    consumer: JoinHandle<()>,
    ctx: Arc<ProbeContext>,
    alerts: crate::alert::AlertService,
    probe_runtime: crate::probe::runtime::ProbeRuntime,
}

impl Daemon {
    /// Starts every service. Returns once the HTTP port is bound and probing has begun.
    pub async fn start(
        config: Config,
        rules: Rules,
        clock: Arc<dyn Clock>,
    ) -> Result<Daemon, DaemonError> {
        let config = Arc::new(config);
        let d = &config.daemon;
        // The daemon's measurement settings are the ones graded on.
        let mut rules = rules;
        rules.measure.window = d.window;
        rules.measure.tick = d.tick;
        rules.measure.stop_window = d.stop_window;
        let rules = Arc::new(rules);
        std::fs::create_dir_all(&d.state_dir).map_err(|source| DaemonError::StateDir {
            dir: d.state_dir.clone(),
            source,
        })?;
        let incidents = Arc::new(
            IncidentStore::open(&d.state_dir.join("dnsgrade.sqlite3")).map_err(|source| {
                DaemonError::Ledger {
                    dir: d.state_dir.clone(),
                    source,
                }
            })?,
        );
        let metrics = Metrics::new();
        let probe_runtime =
            crate::probe::runtime::ProbeRuntime::start().map_err(DaemonError::Sockets)?;
        // The sockets belong to the probe runtime's reactor: open them there.
        let prober = probe_runtime
            .handle()
            .spawn(Prober::new(ProberConfig {
                udp_sockets: d.udp_sockets,
                edns_payload: d.edns_payload,
                timeout: d.timeout,
                max_in_flight: d.max_in_flight,
            }))
            .await
            .map_err(|e| DaemonError::Sockets(std::io::Error::other(e)))?
            .map_err(DaemonError::Sockets)?;
        let spec = WindowSpec {
            window: d.window,
            slice: d.tick,
            latency_thresholds: vec![rules.measure.latency_threshold],
            latency_quantiles: vec![rules.measure.latency_quantile],
        };
        let store = Arc::new(Mutex::new(StatsStore::new(spec)));
        let (tx, rx) = mpsc::channel::<ProbeResult>(16_384);
        let ctx = Arc::new(ProbeContext {
            runtime: probe_runtime.handle().clone(),
            epoch: tokio::time::Instant::now(),
            prober: prober.clone(),
            limits: Limits::new(d.global_rate, d.per_server_rate),
            clock: clock.clone(),
            results: tx,
            interval: d.interval,
            jitter: d.jitter,
            dnssec: config
                .objects
                .iter()
                .filter_map(|o| o.dnssec.map(|p| ((o.class, o.name.clone()), p)))
                .collect(),
            dnssec_keys: Default::default(),
        });
        let shared = Shared {
            metrics: metrics.clone(),
            store: store.clone(),
            resolve: Arc::default(),
            clock: clock.clone(),
            stop_window: d.stop_window,
            prober,
            board: Arc::default(),
            status_len: Arc::default(),
            incidents: incidents.clone(),
            api_token: d.api_token.as_deref().map(Arc::from),
            rules: rules.clone(),
            config: config.clone(),
            prober_sync: Arc::default(),
        };
        let cancel = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind(d.listen)
            .await
            .map_err(|source| DaemonError::Listen {
                addr: d.listen,
                source,
            })?;
        let http_addr = listener
            .local_addr()
            .map_err(|source| DaemonError::Listen {
                addr: d.listen,
                source,
            })?;
        // Alert sinks: their cursors exist before the first tick can write an event.
        let alerts = crate::alert::AlertService::start(
            &config.alert,
            Arc::new(crate::alert::AlertContext::new(
                config.clone(),
                rules.clone(),
                format!("http://{http_addr}"),
            )),
            incidents.clone(),
            clock.clone(),
            metrics.clone(),
            crate::alert::Options::default(),
        )
        .map_err(DaemonError::Alerts)?;
        let consumer = tokio::spawn(consume(rx, store.clone(), metrics.clone()));
        let mut tasks = Vec::new();
        let resolver = match build_resolver(&config.daemon.resolvers) {
            Ok(r) => Some(Arc::new(r)),
            Err(e) => {
                tracing::warn!(error = %e, "no system resolver configuration; host names cannot be resolved, pinned addresses still work");
                None
            }
        };
        // Maintenance windows from the config go into the ledger once (idempotent across restarts).
        let now = clock.now_ms();
        let declared = incidents.maintenance_windows(now).unwrap_or_default();
        for m in &config.maintenance {
            let exists = declared.iter().any(|w| {
                w.object == m.object && w.starts.ms() == m.starts && w.ends.ms() == m.ends
            });
            if !exists && m.ends > now {
                if let Err(e) =
                    incidents.declare_maintenance(&m.object, m.starts, m.ends, &m.reason)
                {
                    tracing::error!(object = %m.object, error = %e, "cannot record the configured maintenance window");
                }
            }
        }
        // References: zone files streamed once; AXFR references kept fresh by their own task.
        let (references, reference_tasks) =
            crate::reference::start(&config.objects, &metrics, &cancel)
                .await
                .map_err(|(object, file, e)| DaemonError::Reference {
                    object,
                    file,
                    reason: e.to_string(),
                })?;
        tasks.extend(reference_tasks);
        let references = Arc::new(references);
        let mut evaluator = Evaluator::new(config.clone(), rules.clone(), incidents.clone())
            .map_err(|source| DaemonError::Ledger {
                dir: config.daemon.state_dir.clone(),
                source,
            })?;
        // A first evaluation before anything is served: open incidents are held at their
        // grades (the windows are empty), so /metrics never shows a restart as a drop to 0.
        match evaluator.tick(&Observations::default(), now) {
            Ok((board, outcome)) => shared.publish(board, &outcome),
            Err(e) => tracing::error!(error = %e, "first evaluation failed; will retry next tick"),
        }
        for w in crate::probe::capacity::assess(&config, &rules).warnings {
            tracing::warn!("{w}");
        }
        tasks.push(tokio::spawn(crate::http::serve(
            listener,
            shared.clone(),
            cancel.clone(),
        )));
        for (oi, obj) in config.objects.iter().enumerate() {
            // One copy of the object's checks, shared by all its servers' address loops.
            let checks = Arc::new(obj.checks.clone());
            for (si, _) in obj.servers.iter().enumerate() {
                tasks.push(tokio::spawn(supervise_server(
                    references.clone(),
                    config.clone(),
                    oi,
                    si,
                    checks.clone(),
                    ctx.clone(),
                    shared.clone(),
                    resolver.clone(),
                    cancel.clone(),
                )));
            }
        }
        for obj in config.objects.iter() {
            let Some(reg) = &obj.registry else { continue };
            let fail = |source| DaemonError::Registry {
                object: obj.name.clone(),
                source,
            };
            let set = RegistryTargets::from_config(reg, d.timeout)
                .and_then(RegistryProbeSet::new)
                .map_err(fail)?;
            let key = crate::grading::object_key(obj);
            let slr = rules.registry;
            lock(&store).registries.insert(
                key.clone(),
                RegistryHealthTracker::new(slr, &set.services()),
            );
            // Often enough that an outage is seen as one (the SLR's unavailable window).
            let every = d.interval.min(slr.max_probe_interval());
            tracing::info!(object = %key, services = ?set.services(), every = ?every, "probing registry services");
            let (store, metrics, class) = (store.clone(), metrics.clone(), obj.class.as_str());
            let name = obj.name.clone();
            tasks.push(tokio::spawn(crate::probe::registry::runner::run(
                set,
                every,
                clock.clone(),
                cancel.clone(),
                move |at, r| {
                    let service = r.service.as_str();
                    metrics
                        .registry_probes
                        .with_label_values(&[class, &name, service, r.outcome.as_str()])
                        .inc();
                    if let Some(rtt) = r.rtt {
                        metrics
                            .registry_probe_duration
                            .with_label_values(&[class, &name, service])
                            .observe(rtt.as_secs_f64());
                    }
                    if !r.outcome.is_ok() {
                        tracing::debug!(object = %name, service, outcome = r.outcome.as_str(), detail = %r.detail, "registry probe failed");
                    }
                    let mut s = lock(&store);
                    let Some(t) = s.registries.get_mut(&key) else { return };
                    t.record(at, r);
                    if let Some(h) = t.service(r.service, at) {
                        for st in ["unknown", "ok", "degraded", "unavailable"] {
                            metrics
                                .registry_service_state
                                .with_label_values(&[class, &name, service, st])
                                .set(i64::from(h.state.as_str() == st));
                        }
                    }
                },
            )));
        }
        tasks.push(tokio::spawn(tick(
            shared.clone(),
            config.daemon.tick,
            config.daemon.ledger_retention,
            evaluator,
            cancel.clone(),
        )));
        tracing::info!(http = %http_addr, objects = config.objects.len(), "dnsgrade started");
        Ok(Daemon {
            shared,
            http_addr,
            cancel,
            tasks,
            consumer,
            ctx,
            alerts,
            probe_runtime,
        })
    }

    /// Stops probing, lets in-flight results drain into the statistics, stops HTTP.
    pub async fn stop(self) {
        self.cancel.cancel();
        let grace = Duration::from_secs(5);
        for t in self.tasks {
            let _ = tokio::time::timeout(grace, t).await;
        }
        drop(self.ctx);
        let _ = tokio::time::timeout(grace, self.consumer).await;
        self.alerts.stop().await;
        // Its thread is joined off the async workers.
        let rt = self.probe_runtime;
        let _ = tokio::task::spawn_blocking(move || drop(rt)).await;
    }

    /// A token that is cancelled when the daemon stops.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

/// The metric labels of a target's address.
fn address_labels(t: &Target) -> crate::metrics::AddressLabels {
    crate::metrics::AddressLabels::new([
        t.class.as_str(),
        &t.object,
        &t.server,
        &t.address.to_string(),
    ])
}

/// The metric handles of one (address, check role), resolved on first use and then reused,
/// so counting a probe is an atomic add with no label look-up.
struct Handles {
    /// Keeps the target alive, so its pointer (the cache key) cannot be reused by another.
    _target: Arc<Target>,
    labels: crate::metrics::AddressLabels,
    probes: [[Option<crate::metrics::Value>; Outcome::COUNT]; 2],
    duration: [Option<crate::metrics::compact::Histogram>; 2],
    data: [Option<crate::metrics::Value>; 4],
}

impl Handles {
    fn new(target: Arc<Target>) -> Self {
        Self {
            labels: address_labels(&target),
            _target: target,
            probes: Default::default(),
            duration: Default::default(),
            data: Default::default(),
        }
    }

    fn count(&mut self, m: &Metrics, r: &ProbeResult, verdict: Verdict) {
        let (role, transport) = (r.role.as_str(), r.transport.as_str());
        let tr = usize::from(r.transport == crate::config::Transport::Tcp);
        if let Some(slot) = self.probes[tr].get_mut(r.outcome.index()) {
            slot.get_or_insert_with(|| {
                m.probes
                    .series(&self.labels, &[role, transport, r.outcome.as_str()])
            })
            .inc();
        }
        if let Some(rtt) = r.rtt {
            self.duration[tr]
                .get_or_insert_with(|| m.probe_duration.series(&self.labels, &[role, transport]))
                .observe(rtt.as_secs_f64());
        }
        if verdict.is_checked() {
            let v = match verdict {
                Verdict::Unchecked => 0,
                Verdict::Correct => 1,
                Verdict::Missing => 2,
                Verdict::Wrong => 3,
            };
            self.data[v]
                .get_or_insert_with(|| m.data_checks.series(&self.labels, &[verdict.as_str()]))
                .inc();
        }
    }
}

async fn consume(
    mut rx: mpsc::Receiver<ProbeResult>,
    store: Arc<Mutex<StatsStore>>,
    metrics: Metrics,
) {
    let mut batch = Vec::with_capacity(1024);
    let mut handles: HashMap<(usize, CheckRole), Handles> = HashMap::new();
    while rx.recv_many(&mut batch, 1024).await > 0 {
        // Results trickle in one by one; a short pause gathers them into batches, so the
        // consumer wakes at most about a hundred times a second whatever the probe rate.
        if batch.len() < 1024 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            while batch.len() < 4096 {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
        }
        let verdicts: Vec<Verdict> = {
            let mut s = lock(&store);
            batch.iter().map(|r| s.record(r)).collect()
        };
        for (r, verdict) in batch.drain(..).zip(verdicts) {
            let key = (Arc::as_ptr(&r.target) as usize, r.role);
            handles
                .entry(key)
                .or_insert_with(|| Handles::new(r.target.clone()))
                .count(&metrics, &r, verdict);
        }
    }
}

async fn tick(
    shared: Shared,
    every: Duration,
    retention: Duration,
    evaluator: Evaluator,
    cancel: CancellationToken,
) {
    let evaluator = Arc::new(Mutex::new(evaluator));
    let mut last_prune: Option<UnixMillis> = None;
    let mut iv = tokio::time::interval(every);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let scheduled = tokio::select! {
            _ = cancel.cancelled() => return,
            t = iv.tick() => t,
        };
        let lag = tokio::time::Instant::now().saturating_duration_since(scheduled);
        shared.metrics.evaluation_lag.set(lag.as_secs_f64());
        let now = shared.clock.now_ms();
        let (sh, ev) = (shared.clone(), evaluator.clone());
        // The gauges, the snapshot and the SQLite writes happen here: off the async workers,
        // which keep serving HTTP meanwhile.
        // The statistics lock is held only while the snapshot is taken; grading and the
        // ledger's transaction run without it, so recording results never waits on an fsync.
        let done = tokio::task::spawn_blocking(move || {
            sh.update_gauges(now);
            let obs = {
                let store = lock(&sh.store);
                Observations::take(&store, &sh.rules, now)
            };
            lock(&ev).tick(&obs, now)
        })
        .await;
        // Resolved incidents older than the retention leave the ledger, hourly.
        if last_prune.is_none_or(|t| now.saturating_sub(t) >= 3_600_000) {
            last_prune = Some(now);
            let (store, retain) = (shared.incidents.clone(), retention);
            match tokio::task::spawn_blocking(move || store.prune(retain, now)).await {
                Ok(Ok(p)) if p.incidents > 0 => tracing::info!(
                    incidents = p.incidents,
                    "pruned resolved incidents past the ledger retention"
                ),
                Ok(Err(e)) => tracing::error!(error = %e, "ledger prune failed"),
                _ => {}
            }
        }
        match done {
            Ok(Ok((board, outcome))) => shared.publish(board, &outcome),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "evaluation failed: the incident ledger could not be written; will retry next tick")
            }
            Err(e) => tracing::error!(error = %e, "evaluation task failed"),
        }
    }
}

/// The resolver for server host names: the configured ones, or the system's.
fn build_resolver(
    servers: &[SocketAddr],
) -> Result<TokioResolver, hickory_resolver::net::NetError> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    if servers.is_empty() {
        return TokioResolver::builder_tokio()?.build();
    }
    let name_servers = servers
        .iter()
        .map(|a| {
            let mut udp = ConnectionConfig::udp();
            udp.port = a.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = a.port();
            NameServerConfig::new(a.ip(), true, vec![udp, tcp])
        })
        .collect();
    TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(name_servers),
        hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
    )
    .build()
}

/// Keeps one configured server's set of probed addresses: pinned ones always, plus what its
/// host name resolves to, re-resolved every `resolve_interval`. A name that fails to resolve
/// keeps its last good addresses, and the failure is logged, counted and shown in the status.
/// A server with only pinned addresses starts their loops and returns: with 10,000 of them, a
/// task each waiting for the end would hold about 16 MiB for nothing (the loops stop with the
/// daemon's token).
#[allow(clippy::too_many_arguments)]
async fn supervise_server(
    references: Arc<HashMap<String, crate::probe::schedule::ReferenceSet>>,
    config: Arc<Config>,
    oi: usize,
    si: usize,
    checks: Arc<Vec<crate::config::Check>>,
    ctx: Arc<ProbeContext>,
    shared: Shared,
    resolver: Option<Arc<TokioResolver>>,
    cancel: CancellationToken,
) {
    let obj: &Object = &config.objects[oi];
    let server: &Server = &obj.servers[si];
    let key = format!("{}/{}/{}", obj.class.as_str(), obj.name, server.name);
    let mut loops: HashMap<SocketAddr, (Arc<Target>, CancellationToken)> = HashMap::new();
    let mut resolved: BTreeSet<SocketAddr> = BTreeSet::new();
    loop {
        let mut error = None;
        if let Some(host) = &server.host {
            match &resolver {
                None => error = Some("no system resolver configuration".to_string()),
                // Boxed: the resolver's future is large, and every server's task would carry
                // its size even when the server has only fixed addresses.
                Some(r) => match Box::pin(r.lookup_ip(host.as_str())).await {
                    Ok(ips) => {
                        let now: BTreeSet<SocketAddr> = ips
                            .iter()
                            .map(|ip| SocketAddr::new(ip, server.port))
                            .collect();
                        if now.is_empty() {
                            error = Some(format!("{host} has no addresses"));
                        } else {
                            resolved = now;
                        }
                    }
                    Err(e) => error = Some(format!("cannot resolve {host}: {e}")),
                },
            }
        }
        if let Some(e) = &error {
            tracing::warn!(object = %obj.name, server = %server.name, error = %e, "server host name does not resolve; keeping its last known addresses");
            shared
                .metrics
                .resolve_failures
                .with_label_values(&[obj.class.as_str(), &obj.name, &server.name])
                .inc();
        }
        let wanted: BTreeSet<SocketAddr> = server
            .pinned
            .iter()
            .copied()
            .chain(resolved.iter().copied())
            .collect();
        loops.retain(|addr, (target, token)| {
            let keep = wanted.contains(addr);
            if !keep {
                token.cancel();
                lock(&shared.store).ensure(target, false);
                tracing::info!(object = %obj.name, server = %server.name, address = %addr, "address no longer probed");
            }
            keep
        });
        for addr in &wanted {
            if loops.contains_key(addr) {
                continue;
            }
            let target = Arc::new(Target {
                class: obj.class,
                object: obj.name.clone(),
                server: server.name.clone(),
                address: *addr,
            });
            lock(&shared.store).ensure(&target, true);
            let token = cancel.child_token();
            spawn_address_loop(ctx.clone(), target.clone(), checks.clone(), token.clone());
            if let (Some(r), Some(list)) = (&obj.reference, references.get(&obj.name)) {
                if obj.class == crate::config::ObjectClass::Tld {
                    crate::probe::schedule::spawn_sampler(
                        ctx.clone(),
                        target.clone(),
                        list.clone(),
                        r.sample_rate,
                        r.max_in_flight,
                        token.clone(),
                    );
                }
            }
            loops.insert(*addr, (target, token));
        }
        shared
            .metrics
            .server_addresses
            .with_label_values(&[obj.class.as_str(), &obj.name, &server.name])
            .set(wanted.len() as i64);
        lock(&shared.resolve).insert(
            key.clone(),
            ResolveState {
                addresses: wanted.iter().map(|a| a.to_string()).collect(),
                error,
            },
        );
        if server.host.is_none() {
            return;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(config.daemon.resolve_interval) => {}
        }
    }
}
