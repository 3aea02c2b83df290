//! What the daemon publishes for its readers: [`Shared`], the state the HTTP API, the status page
//! and `/metrics` read (the statistics store, the latest board, the ledger, the metrics), and
//! the per-server figures of `/api/v1/status`. The tick writes the board and the gauges here;
//! readers never reach into the probe engine or the evaluator (docs/architecture.md).

pub mod health;

use crate::clock::{Clock, UnixMillis};
use crate::config::{Config, ObjectClass};
use crate::evaluator::{Board, Observations};
use crate::grading::{Level, Rules};
use crate::incident::IncidentStore;
use crate::metrics::Metrics;
use crate::probe::Prober;
use crate::stats::{StatsStore, Trends, WindowSnapshot};
use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// Records one board into each object's one-hour trend ([`crate::stats::Trends`]): the
/// success ratio and the data error ratio over all its addresses, at the board's time (the
/// injected clock, never the wall clock). Objects no longer on the board are dropped.
fn record_trends(trends: &mut Trends, board: &Board) {
    let minute = board.at / 60_000;
    let keys: std::collections::HashSet<&crate::config::ObjectKey> =
        board.objects.iter().map(|o| &o.assessment.object).collect();
    trends.retain(|k| keys.contains(k));
    for o in &board.objects {
        let (success, data_error) = object_ratios(&o.assessment.evidence);
        trends.record(&o.assessment.object, minute, success, data_error);
    }
}

/// An object's success ratio over all its addresses (weighted by probes) and its data error
/// ratio (weighted by checked replies); None without samples.
fn object_ratios(evidence: &[crate::grading::ServerEvidence]) -> (Option<f64>, Option<f64>) {
    let weighted = |pairs: &mut dyn Iterator<Item = (Option<f64>, u64)>| {
        let (mut sum, mut n) = (0.0, 0u64);
        for (v, w) in pairs {
            if let Some(v) = v {
                sum += v * w as f64;
                n += w;
            }
        }
        (n > 0).then(|| sum / n as f64)
    };
    (
        weighted(&mut evidence.iter().map(|e| (e.success, e.samples))),
        weighted(&mut evidence.iter().map(|e| (e.data_error, e.checked))),
    )
}

/// Requests to re-read the configuration, each with where its outcome goes.
pub type ReloadRequests = tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<ReloadOutcome>>;

/// How a reload ended (the `result` label of `dnsgrade_config_reload_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadResult {
    /// The new configuration is in force.
    Applied,
    /// The files say what is already running; nothing was touched.
    Unchanged,
    /// The files do not validate, or an object could not be started (a reference zone, a
    /// registry's TLS files): the old configuration keeps running.
    Invalid,
    /// A setting that only a restart can change differs (`[daemon]`, the latency threshold
    /// or quantile the windows are built on): the old configuration keeps running.
    RestartRequired,
}

impl ReloadResult {
    /// Every result, for the metric's label values.
    pub const ALL: [ReloadResult; 4] = [
        ReloadResult::Applied,
        ReloadResult::Unchanged,
        ReloadResult::Invalid,
        ReloadResult::RestartRequired,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadResult::Applied => "applied",
            ReloadResult::Unchanged => "unchanged",
            ReloadResult::Invalid => "invalid",
            ReloadResult::RestartRequired => "restart_required",
        }
    }
}

/// What a reload did, as `POST /-/reload` answers it and the log records it.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadOutcome {
    /// How it ended.
    pub result: ReloadResult,
    /// Why it was refused: each configuration error with its file, line and column, or the
    /// settings that need a restart.
    pub errors: Vec<String>,
    /// Objects (`class/name`) that started.
    pub added: Vec<String>,
    /// Objects that stopped; their open incidents were resolved.
    pub removed: Vec<String>,
    /// Objects whose settings changed: restarted, keeping the windows of their addresses.
    pub changed: Vec<String>,
    /// Incidents resolved because their object was removed.
    pub resolved_incidents: Vec<i64>,
}

impl ReloadOutcome {
    /// A refusal with its reasons.
    pub fn refused(result: ReloadResult, errors: Vec<String>) -> Self {
        Self {
            result,
            errors,
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
            resolved_incidents: Vec::new(),
        }
    }
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
    /// The rules in force; a reload swaps them whole.
    pub rules: Arc<ArcSwap<Rules>>,
    /// The configuration in force (objects, for drills and DNSSEC horizons); a reload swaps
    /// it whole.
    pub config: Arc<ArcSwap<Config>>,
    /// Where `POST /-/reload` sends its request; unset when the daemon was not started from
    /// files (a test's in-memory configuration), so there is nothing to re-read.
    pub reload: Arc<std::sync::OnceLock<ReloadRequests>>,
    /// Serializes [`Shared::sync_prober`], so two callers never add the same counts twice.
    pub prober_sync: Arc<Mutex<()>>,
    /// What `/readyz` reports on.
    pub health: Arc<health::Health>,
    /// Each object's last hour for the status page's sparklines, recorded by each publish.
    pub trends: Arc<Mutex<Trends>>,
}

impl Shared {
    /// Snapshot of every server at `now`.
    pub fn status(&self, now: UnixMillis) -> Vec<ServerStatus> {
        let config = self.config.load();
        let horizons = Self::dnssec_horizons(&config);
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
    fn dnssec_horizons(config: &Config) -> HashMap<(ObjectClass, &str), Duration> {
        config
            .objects
            .iter()
            .filter_map(|o| Some(((o.class, o.name.as_str()), o.dnssec?.warn_before)))
            .collect()
    }

    /// When every active address of an object serves its newest serial, the time that took
    /// (from the first node serving it to the last) is observed once as publication latency.
    ///
    /// One pass over the servers, whatever the number of objects: with 20,000 objects of five
    /// nodes each, a scan of every server per object held the statistics lock for tens of
    /// seconds a tick, and results queued behind it.
    fn observe_publication(&self) {
        let mut store = lock(&self.store);
        // Per object: (serial, first seen, the last node's first-seen time, all current, any).
        type Progress = (u32, UnixMillis, UnixMillis, bool, bool);
        let mut pending: HashMap<(ObjectClass, &str), Progress> = store
            .newest_serial
            .iter()
            .filter(|(_, n)| !n.published)
            .map(|((c, o), n)| {
                (
                    (*c, o.as_str()),
                    (n.serial, n.first_seen, n.first_seen, true, false),
                )
            })
            .collect();
        if pending.is_empty() {
            return;
        }
        for (t, e) in store.servers.iter().filter(|(_, e)| e.active) {
            let Some(p) = pending.get_mut(&(t.class, t.object.as_str())) else {
                continue;
            };
            match e.soa {
                Some((serial, at)) if serial == p.0 => {
                    p.4 = true;
                    p.2 = p.2.max(at);
                }
                Some(_) => p.3 = false,
                None => {}
            }
        }
        let done: Vec<((ObjectClass, String), u64)> = pending
            .into_iter()
            .filter(|(_, p)| p.3 && p.4)
            .map(|((c, o), p)| ((c, o.to_string()), p.2.saturating_sub(p.1)))
            .collect();
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
        m.monitor_local_fault.set(i64::from(board.local_fault));
        let ack_within = self.config.load().daemon.ack_within;
        if let Ok(n) = self
            .incidents
            .ack_overdue_count(self.clock.now_ms(), ack_within)
        {
            m.incidents_ack_overdue
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
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
        if outcome.local_fault_began {
            tracing::error!(
                addresses = board.local_fault_addresses,
                probed = board.probed_addresses,
                "monitor fault: this host cannot make its probes (file descriptors, buffers, \
                 ports); grading is suspended"
            );
        }
        if outcome.local_fault_ended {
            tracing::warn!("monitor fault over: probes are made again; grading resumes");
        }
        if let Some(me) = &outcome.monitor_event {
            tracing::warn!(
                event = %me.kind.as_str(),
                "monitor event recorded for the alert outbox"
            );
        }
        // Every type from the first tick on, at zero: increase() (the dashboard's incident
        // annotations) then sees the first event of a process too.
        for kind in crate::incident::EventKind::ALL {
            m.incident_events.with_label_values(&[kind.as_str()]);
        }
        for e in &outcome.events {
            m.incident_events
                .with_label_values(&[e.kind.as_str()])
                .inc();
            tracing::warn!(incident = e.incident_id, object = %e.incident.object, event = %e.kind.as_str(), grade = %e.grade.map_or("none", |g| g.0.roman()), "incident event");
        }
        record_trends(&mut lock(&self.trends), &board);
        *lock(&self.board) = Arc::new(board);
    }

    /// Takes each active address's window snapshot once, under one hold of the statistics
    /// lock, and uses it twice: for the window gauges, and in the [`Observations`] returned
    /// for grading (which then runs without the lock).
    pub fn observe(&self, now: UnixMillis) -> Observations {
        let m = &self.metrics;
        let mut obs = Observations::default();
        let rules = self.rules.load();
        // Looked up once per tick, not once per address.
        let config = self.config.load();
        let horizons = Self::dnssec_horizons(&config);
        let mut dnssec_min: BTreeMap<(ObjectClass, &str, &str), f64> = BTreeMap::new();
        let mut store = lock(&self.store);
        let StatsStore {
            servers,
            newest_serial,
            ..
        } = &mut *store;
        for (t, e) in servers.iter_mut() {
            if !e.active {
                // An address no longer probed keeps no gauges: stale values would mislead. Nor
                // counters: they would stay for ever (the results' consumer drops its handles).
                if let Some(g) = e.gauges.take() {
                    g.remove(m);
                    m.remove_address_counters(&e.labels);
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
                .get_or_insert_with(|| crate::metrics::AddressGauges::new(m, e.labels.clone()));
            g.set_window(w.samples, stopped);
            g.set_soa(m, soa);
            let ratio = |r: &crate::stats::Ratio| r.point.map(|p| [p, r.lower, r.upper]);
            g.set_ratio(m, 0, ratio(&w.success));
            g.set_ratio(m, 1, ratio(&w.data_error));
            g.set_latency(
                m,
                w.latency
                    .as_ref()
                    .map(|l| [l.p50, l.p90, l.p99].map(|d| d.as_secs_f64())),
            );
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
                tracing::warn!(class = %t.class.as_str(), object = %t.object, server = %t.server, address = %t.address, expires_in_s = expiry_s, "DNSSEC signatures expire soon (or have expired): re-sign the zone");
            }
            e.dnssec_warned = expiring;
            obs.add(t, e, w, &rules, now);
        }
        for ((c, o, sv), v) in &dnssec_min {
            m.dnssec_expiry
                .with_label_values(&[c.as_str(), o, sv])
                .set(*v);
        }
        let obs = obs.finish(&store, now);
        drop(store);
        self.observe_publication();
        self.sync_prober();
        obs
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
            (&m.local_errors, &c.local_errors),
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

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::object_ratios;
    use crate::grading::ServerEvidence;

    fn evidence(
        samples: u64,
        success: Option<f64>,
        checked: u64,
        err: Option<f64>,
    ) -> ServerEvidence {
        ServerEvidence {
            server: "a 127.0.0.1:53".into(),
            samples,
            success,
            success_lower: 0.0,
            success_upper: 1.0,
            latency_s: None,
            checked,
            data_error: err,
            data_error_lower: 0.0,
            stopped: false,
            bad: false,
            unknown: false,
        }
    }

    #[test]
    fn an_objects_ratios_are_weighted_by_probes_and_by_checked_replies() {
        let e = [
            evidence(300, Some(1.0), 100, Some(0.0)),
            evidence(100, Some(0.0), 300, Some(0.5)),
            evidence(0, None, 0, None),
        ];
        assert_eq!(object_ratios(&e), (Some(0.75), Some(0.375)));
        assert_eq!(object_ratios(&e[2..]), (None, None));
    }
}
