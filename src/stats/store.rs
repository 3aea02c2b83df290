//! The store of observations: every server address's windows and what is known about it
//! besides (SOA serial, NSID, DNSSEC expiry), node consensus, the newest serial of each object,
//! and the registry services' health. The probe results' consumer records into it under a lock;
//! the tick takes a snapshot of it under the same lock and grades the snapshot without it
//! (docs/architecture.md).

use super::{ServerStats, WindowSpec};
use crate::clock::UnixMillis;
use crate::config::CheckRole;
use crate::probe::registry::RegistryHealthTracker;
use crate::probe::schedule::{CheckId, ProbeResult, Target};
use crate::probe::Verdict;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Minimum attempts within the stop window before a server may be called stopped (docs/measurement.md, "Windows").
pub const STOP_MIN_PROBES: u64 = 5;

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
    pub dnssec_expiry: BTreeMap<CheckId, UnixMillis>,
    /// True while the expiry warning for this address has been logged.
    pub dnssec_warned: bool,
    /// The address's gauge handles, resolved on the first tick that exports them and dropped
    /// (with their series) when the address stops being probed.
    pub gauges: Option<crate::metrics::AddressGauges>,
    /// The address's metric labels, rendered once: the gauges and the probe counters share them.
    pub labels: crate::metrics::AddressLabels,
}

impl ServerEntry {
    /// A fresh entry for `target`, with empty windows.
    pub fn new(target: &Target, spec: &WindowSpec, active: bool) -> Self {
        Self {
            stats: ServerStats::new(spec),
            by_role: BTreeMap::new(),
            last_nsid: None,
            soa: None,
            active,
            dnssec_expiry: BTreeMap::new(),
            dnssec_warned: false,
            gauges: None,
            labels: address_labels(target),
        }
    }

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
    pub consensus: HashMap<(String, CheckId), PeerAnswers>,
    /// The newest SOA serial per object (class, name).
    pub newest_serial: HashMap<(crate::config::ObjectClass, String), NewestSerial>,
    /// The entries.
    pub servers: HashMap<Arc<Target>, ServerEntry>,
    /// Registry services (EPP, RDAP, WHOIS) of each object that has them, by object key
    /// (`class/name`).
    pub registries: HashMap<crate::config::ObjectKey, RegistryHealthTracker>,
    /// How many times an active entry was marked inactive: the results' consumer compares it
    /// with the count it last saw to drop the metric series of addresses no longer probed.
    pub deactivations: u64,
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
            deactivations: 0,
        }
    }

    /// Makes sure `target` has an entry and marks it active or not.
    pub fn ensure(&mut self, target: &Arc<Target>, active: bool) {
        let spec = &self.spec;
        let e = self
            .servers
            .entry(target.clone())
            .or_insert_with(|| ServerEntry::new(target, spec, active));
        if e.active && !active {
            self.deactivations += 1;
        }
        e.active = active;
    }

    /// Judges an answer by node consensus (docs/measurement.md, "Node consensus"): with no
    /// reference, correct when it equals the answer a strict majority of at least two other
    /// nodes of the same object at the same SOA serial gave, missing when empty where they have
    /// data, wrong otherwise; unchecked without such a majority. The answer is then remembered
    /// for the other nodes.
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
            .or_insert_with(|| ServerEntry::new(&r.target, spec, true));
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

/// The metric labels of a target's address (`class`, `object`, `server`, `address`).
pub fn address_labels(t: &Target) -> crate::metrics::AddressLabels {
    crate::metrics::AddressLabels::new([
        t.class.as_str(),
        &t.object,
        &t.server,
        &t.address.to_string(),
    ])
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
