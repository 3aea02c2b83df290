//! Registry health over a window: the judgement the grader needs, following the service-level
//! requirements ICANN sets for registries (Registry Agreement, Specification 10). Pure: time
//! comes in as [`UnixMillis`] values, nothing here reads a clock or does I/O.
//!
//! ## Per service (EPP, RDAP, WHOIS)
//!
//! A ring keeps the results of the last [`RegistrySlr::window`] (15 min by default, at most
//! [`MAX_RESULTS_PER_SERVICE`] entries). At `now`, over the results in `(now - window, now]`:
//!
//! - **unavailable**: at least [`RegistrySlr::unavailable_min_attempts`] (3) probes in the last
//!   [`RegistrySlr::unavailable_window`] (60 s) and every one of them failed. The daemon must
//!   therefore probe at least every `unavailable_window / unavailable_min_attempts` (20 s; see
//!   [`RegistrySlr::max_probe_interval`]), else an outage is never seen as one.
//! - **degraded** (when not unavailable): with at least [`RegistrySlr::min_samples`] (10)
//!   attempts, the failure share is above [`RegistrySlr::max_failure_share`] (10 %); or, with at
//!   least `min_samples` successes, the **p90** ([`RegistrySlr::rtt_quantile`], nearest rank) of
//!   the successful round trips is above the service's limit — EPP 4 s, RDAP 2 s, WHOIS 2 s.
//!   p90 rather than the median because ICANN's SLR is stated that way ("≤ 4000 ms for at least
//!   90 % of the commands"): a service where one command in five is slow breaks it, even though
//!   its median looks fine. Failures are not latencies.
//! - **unknown**: fewer than `min_samples` attempts and not unavailable: never degraded.
//!
//! The start of a failure run (`failing_since`: the first failure after the last success) is
//! tracked outside the ring, so a 4-hour outage still reports when it began although the ring
//! only holds 15 minutes. It lives in memory: after a restart it restarts at the first failure
//! seen, which is why the grader's persisted condition clocks own the 4 h count.
//!
//! ## Per registry
//!
//! EPP is the registration service; RDAP and WHOIS are the query service. The query service is
//! unavailable when every *configured* query service is unavailable (one of two still answering
//! means users can still look names up). See [`RegistryHealth`].

use super::{RegistryOutcome, RegistryProbeResult, Service};
use crate::clock::UnixMillis;
use serde::Serialize;
use std::collections::VecDeque;
use std::time::Duration;

/// At most this many results are kept per service, whatever the window: bounds memory if
/// results are recorded faster than planned.
pub const MAX_RESULTS_PER_SERVICE: usize = 4096;

/// Service-level thresholds for registry services. Defaults follow ICANN's registry SLRs; the
/// numbers are meant to move into `rules/` later.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RegistrySlr {
    /// EPP round-trip limit (ICANN: session, query and transform commands ≤ 4000 ms).
    pub epp_rtt_limit: Duration,
    /// RDAP round-trip limit (ICANN RDDS: ≤ 2000 ms).
    pub rdap_rtt_limit: Duration,
    /// WHOIS round-trip limit (ICANN RDDS: ≤ 2000 ms).
    pub whois_rtt_limit: Duration,
    /// The quantile of successful round trips compared with the limit (0.9 = p90).
    pub rtt_quantile: f64,
    /// The window over which degradation is judged, and how long results are kept.
    pub window: Duration,
    /// Attempts (for the failure share) or successes (for the RTT quantile) needed in the
    /// window before the service can be judged degraded; fewer is "unknown".
    pub min_samples: usize,
    /// The service is degraded when more than this share of attempts in the window failed.
    pub max_failure_share: f64,
    /// The service is unavailable when every probe in this trailing window failed...
    pub unavailable_window: Duration,
    /// ...and there were at least this many of them.
    pub unavailable_min_attempts: usize,
}

impl Default for RegistrySlr {
    fn default() -> Self {
        Self {
            epp_rtt_limit: Duration::from_secs(4),
            rdap_rtt_limit: Duration::from_secs(2),
            whois_rtt_limit: Duration::from_secs(2),
            rtt_quantile: 0.9,
            window: Duration::from_secs(15 * 60),
            min_samples: 10,
            max_failure_share: 0.10,
            unavailable_window: Duration::from_secs(60),
            unavailable_min_attempts: 3,
        }
    }
}

impl RegistrySlr {
    /// The round-trip limit of `service`.
    pub fn rtt_limit(&self, service: Service) -> Duration {
        match service {
            Service::Epp => self.epp_rtt_limit,
            Service::Rdap => self.rdap_rtt_limit,
            Service::Whois => self.whois_rtt_limit,
        }
    }

    /// The longest probe interval at which an outage can still be called unavailable:
    /// `unavailable_window / unavailable_min_attempts`.
    pub fn max_probe_interval(&self) -> Duration {
        self.unavailable_window / self.unavailable_min_attempts.max(1) as u32
    }

    /// Checks the values: a reason for the first one that makes no sense.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.rtt_quantile > 0.0 && self.rtt_quantile <= 1.0) {
            return Err(format!(
                "rtt_quantile {} is not in (0, 1]",
                self.rtt_quantile
            ));
        }
        if !(0.0..1.0).contains(&self.max_failure_share) {
            return Err(format!(
                "max_failure_share {} is not in [0, 1)",
                self.max_failure_share
            ));
        }
        if self.min_samples == 0 || self.unavailable_min_attempts == 0 {
            return Err("min_samples and unavailable_min_attempts must be at least 1".into());
        }
        if self.unavailable_window.is_zero() || self.window < self.unavailable_window {
            return Err("unavailable_window must be non-zero and within window".into());
        }
        Ok(())
    }
}

/// The judgement on one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// Too few probes in the window to judge.
    Unknown,
    /// Within its service levels.
    Ok,
    /// Answering, but slow or failing too often.
    Degraded,
    /// Every recent probe failed.
    Unavailable,
}

impl ServiceState {
    /// Label value used in metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Unknown => "unknown",
            ServiceState::Ok => "ok",
            ServiceState::Degraded => "degraded",
            ServiceState::Unavailable => "unavailable",
        }
    }
}

/// The figures behind one service's judgement, for the API and evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceHealth {
    /// The service.
    pub service: Service,
    /// The judgement.
    pub state: ServiceState,
    /// Probes in the window.
    pub attempts: usize,
    /// Failed probes in the window.
    pub failures: usize,
    /// `failures / attempts`, when there was an attempt.
    pub failure_share: Option<f64>,
    /// The configured quantile of successful round trips in the window, in seconds.
    pub rtt_quantile_s: Option<f64>,
    /// The quantile is above the limit (with enough successes).
    pub slow: bool,
    /// The failure share is above its limit (with enough attempts).
    pub failing: bool,
    /// The first failure after the last success, while failures continue.
    pub failing_since: Option<UnixMillis>,
    /// When the current unavailability began (`failing_since`), when unavailable.
    pub unavailable_since: Option<UnixMillis>,
    /// The most recent outcome.
    pub last_outcome: Option<RegistryOutcome>,
}

/// Registry and registration-system state (probed by the registry probes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistryInput {
    /// The registration service (EPP) is unavailable now.
    pub registration_unavailable: bool,
    /// The registration service is degraded (slow, or partial failures).
    pub registration_degraded: bool,
    /// The query service (RDAP/WHOIS) is unavailable.
    pub query_unavailable: bool,
    /// When the registration service's unavailability began (its first failed probe after
    /// the last success): the onset of the 4 h clock. `None` = now.
    pub registration_unavailable_since: Option<UnixMillis>,
    /// When the query service became unavailable. `None` = now.
    pub query_unavailable_since: Option<UnixMillis>,
}

/// The registry-level judgement, in the shape of [`RegistryInput`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RegistryHealth {
    /// The registration service (EPP) is unavailable now.
    pub registration_unavailable: bool,
    /// The registration service is degraded (slow, or failing too often) but not unavailable.
    pub registration_degraded: bool,
    /// Every configured query service (RDAP, WHOIS) is unavailable; false when none is
    /// configured.
    pub query_unavailable: bool,
    /// When the registration service's unavailability began (its first failure after the last
    /// success), when `registration_unavailable`. The onset of the 4 h clock.
    pub unavailable_since: Option<UnixMillis>,
    /// When the query service became unavailable (the latest onset among the query services:
    /// the moment the last of them went down), when `query_unavailable`.
    pub query_unavailable_since: Option<UnixMillis>,
}

impl RegistryHealth {
    /// The grader's input. The onsets seed the grader's condition clocks, which persist
    /// them: after a restart the clock keeps its first onset.
    pub fn input(&self) -> RegistryInput {
        RegistryInput {
            registration_unavailable: self.registration_unavailable,
            registration_degraded: self.registration_degraded,
            query_unavailable: self.query_unavailable,
            registration_unavailable_since: self.unavailable_since,
            query_unavailable_since: self.query_unavailable_since,
        }
    }
}

impl From<RegistryHealth> for RegistryInput {
    fn from(h: RegistryHealth) -> Self {
        h.input()
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    at: UnixMillis,
    rtt: Option<Duration>,
}

#[derive(Debug, Clone, Default)]
struct Ring {
    entries: VecDeque<Entry>,
    last_success: Option<UnixMillis>,
    failing_since: Option<UnixMillis>,
    last_outcome: Option<RegistryOutcome>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Recent results of one registry's services and the judgement over them. One per registry
/// (a TLD's registry, or a registrar); feed it every probe result with the time it was taken.
#[derive(Debug, Clone)]
pub struct RegistryHealthTracker {
    slr: RegistrySlr,
    /// Per service, indexed like [`Service::ALL`]; `None` when the service is not configured.
    rings: [Option<Ring>; 3],
}

fn idx(s: Service) -> usize {
    match s {
        Service::Epp => 0,
        Service::Rdap => 1,
        Service::Whois => 2,
    }
}

impl RegistryHealthTracker {
    /// A tracker for the `configured` services of one registry.
    pub fn new(slr: RegistrySlr, configured: &[Service]) -> Self {
        let mut rings: [Option<Ring>; 3] = Default::default();
        for s in configured {
            rings[idx(*s)] = Some(Ring::default());
        }
        Self { slr, rings }
    }

    /// The thresholds in use.
    pub fn slr(&self) -> &RegistrySlr {
        &self.slr
    }

    /// The configured services.
    pub fn services(&self) -> Vec<Service> {
        Service::ALL
            .into_iter()
            .filter(|s| self.rings[idx(*s)].is_some())
            .collect()
    }

    /// Records one result taken at `at`. Results of a service that is not configured are
    /// ignored. Results should arrive roughly in time order; old ones are dropped as the
    /// window moves.
    pub fn record(&mut self, at: UnixMillis, result: &RegistryProbeResult) {
        let window = ms(self.slr.window);
        let Some(ring) = self.rings[idx(result.service)].as_mut() else {
            return;
        };
        // The monitor's own fault says nothing about the service.
        if result.outcome == RegistryOutcome::LocalError {
            return;
        }
        let ok = result.outcome.is_ok();
        if ok {
            ring.last_success = Some(ring.last_success.map_or(at, |s| s.max(at)));
            if ring.failing_since.is_some_and(|f| f <= at) {
                ring.failing_since = None;
            }
        } else if ring.last_success.is_none_or(|s| at > s)
            && ring.failing_since.is_none_or(|f| at < f)
        {
            ring.failing_since = Some(at);
        }
        ring.last_outcome = Some(result.outcome);
        ring.entries.push_back(Entry {
            at,
            rtt: if ok { result.rtt } else { None },
        });
        let newest = ring.entries.iter().map(|e| e.at).max().unwrap_or(at);
        ring.entries
            .retain(|e| newest.saturating_sub(e.at) < window);
        while ring.entries.len() > MAX_RESULTS_PER_SERVICE {
            ring.entries.pop_front();
        }
    }

    /// The judgement on one service at `now`; `None` when it is not configured.
    pub fn service(&self, service: Service, now: UnixMillis) -> Option<ServiceHealth> {
        let ring = self.rings[idx(service)].as_ref()?;
        let slr = &self.slr;
        let (window, recent_window) = (ms(slr.window), ms(slr.unavailable_window));
        let mut attempts = 0;
        let mut failures = 0;
        let mut recent = 0;
        let mut recent_failures = 0;
        let mut first_recent_failure = None;
        let mut rtts = Vec::new();
        for e in ring
            .entries
            .iter()
            .filter(|e| e.at <= now && now - e.at < window)
        {
            attempts += 1;
            match e.rtt {
                Some(r) => rtts.push(r),
                None => failures += 1,
            }
            if now - e.at < recent_window {
                recent += 1;
                if e.rtt.is_none() {
                    recent_failures += 1;
                    first_recent_failure =
                        Some(first_recent_failure.map_or(e.at, |f: u64| f.min(e.at)));
                }
            }
        }
        let unavailable = recent >= slr.unavailable_min_attempts && recent_failures == recent;
        let failure_share = (attempts > 0).then(|| failures as f64 / attempts as f64);
        let failing =
            attempts >= slr.min_samples && failure_share.is_some_and(|f| f > slr.max_failure_share);
        rtts.sort_unstable();
        let quantile = nearest_rank(&rtts, slr.rtt_quantile);
        let slow =
            rtts.len() >= slr.min_samples && quantile.is_some_and(|q| q > slr.rtt_limit(service));
        let state = if unavailable {
            ServiceState::Unavailable
        } else if failing || slow {
            ServiceState::Degraded
        } else if attempts < slr.min_samples {
            ServiceState::Unknown
        } else {
            ServiceState::Ok
        };
        let failing_since = ring
            .failing_since
            .filter(|f| *f <= now && ring.last_success.is_none_or(|s| s < *f));
        Some(ServiceHealth {
            service,
            state,
            attempts,
            failures,
            failure_share,
            rtt_quantile_s: quantile.map(|d| d.as_secs_f64()),
            slow,
            failing,
            failing_since,
            unavailable_since: unavailable
                .then(|| failing_since.or(first_recent_failure))
                .flatten(),
            last_outcome: ring.last_outcome,
        })
    }

    /// The judgement on every configured service at `now`, in [`Service::ALL`] order.
    pub fn services_health(&self, now: UnixMillis) -> Vec<ServiceHealth> {
        Service::ALL
            .into_iter()
            .filter_map(|s| self.service(s, now))
            .collect()
    }

    /// The registry-level judgement at `now`.
    pub fn evaluate(&self, now: UnixMillis) -> RegistryHealth {
        let mut h = RegistryHealth::default();
        if let Some(epp) = self.service(Service::Epp, now) {
            h.registration_unavailable = epp.state == ServiceState::Unavailable;
            h.registration_degraded = epp.state == ServiceState::Degraded;
            h.unavailable_since = epp.unavailable_since;
        }
        let query: Vec<ServiceHealth> = [Service::Rdap, Service::Whois]
            .into_iter()
            .filter_map(|s| self.service(s, now))
            .collect();
        h.query_unavailable =
            !query.is_empty() && query.iter().all(|q| q.state == ServiceState::Unavailable);
        if h.query_unavailable {
            h.query_unavailable_since = query.iter().filter_map(|q| q.unavailable_since).max();
        }
        h
    }
}

/// The nearest-rank quantile of sorted values: the smallest value with at least `q` of the
/// values at or below it.
fn nearest_rank(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(service: Service, rtt_ms: u64) -> RegistryProbeResult {
        RegistryProbeResult::ok(service, Duration::from_millis(rtt_ms), None)
    }

    fn fail(service: Service) -> RegistryProbeResult {
        RegistryProbeResult::failed(service, RegistryOutcome::Timeout, None, "t")
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<Duration> = (1..=10).map(Duration::from_secs).collect();
        assert_eq!(nearest_rank(&v, 0.9), Some(Duration::from_secs(9)));
        assert_eq!(nearest_rank(&v, 0.5), Some(Duration::from_secs(5)));
        assert_eq!(nearest_rank(&v, 1.0), Some(Duration::from_secs(10)));
        assert_eq!(nearest_rank(&v[..1], 0.9), Some(Duration::from_secs(1)));
        assert_eq!(nearest_rank(&[], 0.9), None);
    }

    #[test]
    fn defaults_are_valid_and_imply_a_20s_interval() {
        let s = RegistrySlr::default();
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(s.max_probe_interval(), Duration::from_secs(20));
        let bad = RegistrySlr {
            rtt_quantile: 0.0,
            ..s
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn few_samples_are_unknown_never_degraded() {
        let mut t = RegistryHealthTracker::new(RegistrySlr::default(), &[Service::Epp]);
        for i in 0..9 {
            t.record(i * 20_000, &ok(Service::Epp, 9_000));
        }
        let s = t.service(Service::Epp, 9 * 20_000).unwrap();
        assert_eq!(s.state, ServiceState::Unknown);
        assert!(!t.evaluate(9 * 20_000).registration_degraded);
    }

    #[test]
    fn one_slow_probe_in_ten_is_not_degraded_two_are() {
        let mut t = RegistryHealthTracker::new(RegistrySlr::default(), &[Service::Epp]);
        for i in 0..10 {
            t.record(
                i * 20_000,
                &ok(Service::Epp, if i == 0 { 5_000 } else { 100 }),
            );
        }
        assert_eq!(
            t.service(Service::Epp, 200_000).unwrap().state,
            ServiceState::Ok
        );
        t.record(200_000, &ok(Service::Epp, 5_000));
        // 2 of 11 above 4 s: p90 (rank 10 of 11) is 5 s.
        assert_eq!(
            t.service(Service::Epp, 200_000).unwrap().state,
            ServiceState::Degraded
        );
    }

    #[test]
    fn failure_share_above_ten_percent_is_degraded() {
        let mut t = RegistryHealthTracker::new(RegistrySlr::default(), &[Service::Epp]);
        for i in 0..20 {
            let r = if i % 5 == 0 {
                fail(Service::Epp)
            } else {
                ok(Service::Epp, 100)
            };
            t.record(i * 20_000, &r);
        }
        let s = t.service(Service::Epp, 19 * 20_000).unwrap();
        assert_eq!(s.failures, 4);
        assert!(s.failing);
        assert!(t.evaluate(19 * 20_000).registration_degraded);
    }

    #[test]
    fn two_failures_are_not_unavailable_three_are() {
        let mut t = RegistryHealthTracker::new(RegistrySlr::default(), &[Service::Epp]);
        t.record(0, &ok(Service::Epp, 100));
        t.record(20_000, &fail(Service::Epp));
        t.record(40_000, &fail(Service::Epp));
        assert!(!t.evaluate(40_000).registration_unavailable);
        t.record(60_000, &fail(Service::Epp));
        // 0 ms is outside (60 s - 60 s, 60 s]; the three failures are inside.
        let h = t.evaluate(60_000);
        assert!(h.registration_unavailable);
        assert_eq!(h.unavailable_since, Some(20_000));
        t.record(80_000, &ok(Service::Epp, 100));
        let h = t.evaluate(80_000);
        assert!(!h.registration_unavailable);
        assert_eq!(h.unavailable_since, None);
    }

    #[test]
    fn unconfigured_services_are_ignored() {
        let mut t = RegistryHealthTracker::new(RegistrySlr::default(), &[Service::Epp]);
        for i in 0..5 {
            t.record(i * 10_000, &fail(Service::Rdap));
        }
        assert!(!t.evaluate(40_000).query_unavailable);
        assert_eq!(t.services(), vec![Service::Epp]);
        assert!(t.service(Service::Rdap, 40_000).is_none());
    }

    #[test]
    fn ring_is_bounded() {
        let mut t = RegistryHealthTracker::new(RegistrySlr::default(), &[Service::Whois]);
        for i in 0..10_000u64 {
            t.record(i, &ok(Service::Whois, 1));
        }
        let s = t.service(Service::Whois, 10_000).unwrap();
        assert_eq!(s.attempts, MAX_RESULTS_PER_SERVICE);
    }
}
