//! Scheduling: every check of every server address, spread over the interval with jitter,
//! under a global and a per-address rate limit (governor) and the prober's in-flight cap.
//!
//! Each server address has one loop task. Its checks start at random phases within the first
//! interval, so a thousand addresses with the same interval do not fire together; each next
//! time is the previous one plus the interval moved by up to ±`jitter` of it. A probe runs in
//! its own task, so a slow server never delays the schedule of its other checks.

use super::classify::{classify, Question};
use super::{Outcome, Prober, Verdict};
use crate::clock::{Clock, UnixMillis};
use crate::config::{Check, CheckRole, ObjectClass, Transport};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One probed server address of one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The object's class.
    pub class: ObjectClass,
    /// The object's name.
    pub object: String,
    /// The server's name within the object.
    pub server: String,
    /// The address probed.
    pub address: SocketAddr,
}

impl Target {
    /// Label values in the order of the metrics' server labels.
    pub fn labels(&self) -> [String; 4] {
        [
            self.class.as_str().to_string(),
            self.object.clone(),
            self.server.clone(),
            self.address.to_string(),
        ]
    }
}

/// The measurement of one probe, as it travels to the statistics.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// Where it went.
    pub target: Arc<Target>,
    /// Index of the check in its object's check list.
    pub check: usize,
    /// The check's role.
    pub role: CheckRole,
    /// Transport that carried the final reply (or was tried).
    pub transport: Transport,
    /// Wall-clock time of sending, from the injected clock.
    pub sent_at: UnixMillis,
    /// Send-to-reply time, for replies.
    pub rtt: Option<Duration>,
    /// Outcome kind.
    pub outcome: Outcome,
    /// Data verdict.
    pub verdict: Verdict,
    /// NSID of the answering instance, if any.
    pub nsid: Option<String>,
    /// True when the UDP reply was truncated and TCP was used.
    pub tcp_fallback: bool,
    /// The SOA serial in a successful SOA answer.
    pub serial: Option<u32>,
    /// For checks judged by node consensus (TLD checks without expected values): the answer,
    /// normalised and sorted (the NS targets of a referral, or the RRset of an answer).
    pub consensus_answer: Option<Vec<String>>,
    /// For signed zones: the earliest RRSIG expiration in the reply (Unix milliseconds).
    pub dnssec_expires_at: Option<UnixMillis>,
}

/// Global and per-address rate limits.
#[derive(Debug)]
pub struct Limits {
    global: DefaultDirectRateLimiter,
    per_address: DefaultKeyedRateLimiter<SocketAddr>,
    /// Probes that had to wait for a limit.
    pub delayed: AtomicU64,
}

impl Limits {
    /// Limits of `global` probes/s overall and `per_address` probes/s to one address.
    pub fn new(global: NonZeroU32, per_address: NonZeroU32) -> Self {
        Self {
            global: RateLimiter::direct(Quota::per_second(global)),
            per_address: RateLimiter::keyed(Quota::per_second(per_address)),
            delayed: AtomicU64::new(0),
        }
    }

    /// Waits until both limits allow a probe to `addr`.
    pub async fn acquire(&self, addr: &SocketAddr) {
        let mut waited = false;
        if self.per_address.check_key(addr).is_err() {
            waited = true;
            self.per_address.until_key_ready(addr).await;
        }
        if self.global.check().is_err() {
            waited = true;
            self.global.until_ready().await;
        }
        if waited {
            self.delayed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Forgets per-address state of addresses not used lately (bounded memory).
    pub fn shrink(&self) {
        self.per_address.retain_recent();
        self.per_address.shrink_to_fit();
    }
}

/// Everything a probe loop needs, shared.
#[derive(Debug)]
pub struct ProbeContext {
    /// The engine.
    pub prober: Prober,
    /// Rate limits.
    pub limits: Limits,
    /// Wall clock for `sent_at`.
    pub clock: Arc<dyn Clock>,
    /// Where results go (bounded: a slow consumer slows probing rather than growing memory).
    pub results: mpsc::Sender<ProbeResult>,
    /// Interval between two probes of one check on one address.
    pub interval: Duration,
    /// Share of the interval by which each time is moved at random.
    pub jitter: f64,
    /// DNSSEC checks of signed objects, by (class, object name).
    pub dnssec: std::collections::HashMap<(ObjectClass, String), crate::config::Dnssec>,
    /// The DNSKEY sets of the signed objects' zones, learned from their DNSKEY answers.
    pub dnssec_keys: super::dnssec::ZoneKeys,
}

impl ProbeContext {
    /// Sends one check to `target` with the DNSSEC checks of its object, if it is signed.
    pub async fn probe(&self, target: &Arc<Target>, idx: usize, check: &Check) -> ProbeResult {
        let dnssec = self
            .dnssec
            .get(&(target.class, target.object.clone()))
            .copied();
        probe_checked(
            &self.prober,
            self.clock.as_ref(),
            target,
            idx,
            check,
            dnssec.map(|d| (d, &self.dnssec_keys)),
        )
        .await
    }
}

/// The question a check asks now: cache-busting checks get a fresh random label.
pub fn question_for(check: &Check) -> Question {
    let qname = if matches!(
        check.role,
        CheckRole::CacheBusting | CheckRole::ExpectedNegative
    ) {
        let label = format!("dg-{:016x}", rand::random::<u64>());
        check
            .qname
            .prepend_label(label.as_str())
            .unwrap_or_else(|_| check.qname.clone())
    } else {
        check.qname.clone()
    };
    Question {
        qname,
        qtype: check.qtype,
        recursion_desired: check.recursion_desired,
        dnssec_ok: false,
    }
}

/// Whether a check's answers are judged by the consensus of the TLD's nodes: TLD checks with no
/// expected values, except SOA (serials legitimately differ while a zone is published) and
/// random names (each node gets its own).
pub fn consensus_eligible(target: &Target, check: &Check) -> bool {
    target.class == ObjectClass::Tld
        && check.values.is_empty()
        && matches!(check.role, CheckRole::Plain | CheckRole::KeyDomain)
        && check.qtype != hickory_proto::rr::RecordType::SOA
}

/// Sends one check to one address and classifies the reply.
pub async fn probe_once(
    prober: &Prober,
    clock: &dyn Clock,
    target: &Arc<Target>,
    idx: usize,
    check: &Check,
) -> ProbeResult {
    probe_checked(prober, clock, target, idx, check, None).await
}

/// [`probe_once`], and for a signed zone (`dnssec`) with DO set and the reply's signatures
/// checked ([`super::dnssec`]) against the zone's keys: expired, not yet valid, missing or
/// invalid signatures make a successful reply *wrong* data. A DNSKEY answer whose signature
/// verifies with its own keys becomes the zone's key set.
pub async fn probe_checked(
    prober: &Prober,
    clock: &dyn Clock,
    target: &Arc<Target>,
    idx: usize,
    check: &Check,
    dnssec: Option<(crate::config::Dnssec, &super::dnssec::ZoneKeys)>,
) -> ProbeResult {
    let mut q = question_for(check);
    q.dnssec_ok = dnssec.is_some();
    let sent_at = clock.now_ms();
    let reply = prober.probe(target.address, &q, check.transport).await;
    let (outcome, mut verdict) = match (&reply.failure, &reply.message) {
        (Some(kind), _) => (*kind, Verdict::Unchecked),
        (None, Some(msg)) => classify(check, &q.qname, msg),
        (None, None) => (Outcome::NetworkError, Verdict::Unchecked),
    };
    let mut dnssec_expires_at = None;
    if let (Some((_, zone_keys)), Some(msg), true) = (dnssec, &reply.message, outcome.is_success())
    {
        let own = if check.qtype == hickory_proto::rr::RecordType::DNSKEY {
            super::dnssec::dnskeys_in(msg, &q.qname)
        } else {
            Vec::new()
        };
        let known = zone_keys.get(target.class, &target.object);
        let keys: &[_] = if own.is_empty() {
            known.as_deref().map_or(&[], Vec::as_slice)
        } else {
            &own
        };
        let sc = super::dnssec::check_signatures(msg, &q.qname, check.qtype, clock.now_ms(), keys);
        if !own.is_empty() && sc.problem.is_none() {
            zone_keys.set(target.class, &target.object, own);
        }
        dnssec_expires_at = sc.earliest_expiration;
        if let Some(p) = sc.problem {
            tracing::debug!(server = %target.address, qname = %q.qname, problem = ?p, "DNSSEC signatures wrong");
            verdict = Verdict::Wrong;
        }
    }
    ProbeResult {
        target: target.clone(),
        check: idx,
        role: check.role,
        transport: reply.transport,
        sent_at,
        rtt: if outcome.is_success() {
            reply.rtt
        } else {
            None
        },
        outcome,
        verdict: if outcome.is_success() {
            verdict
        } else {
            Verdict::Unchecked
        },
        nsid: reply.nsid,
        tcp_fallback: reply.tcp_fallback,
        serial: match (
            &reply.message,
            outcome.is_success() && check.qtype == hickory_proto::rr::RecordType::SOA,
        ) {
            (Some(m), true) => crate::probe::classify::soa_serial(m),
            _ => None,
        },
        consensus_answer: match &reply.message {
            Some(m) if outcome.is_success() && consensus_eligible(target, check) => {
                let mut got = crate::probe::classify::relevant_answers(m, &q.qname, check.qtype);
                if got.is_empty() && check.expect == crate::config::Expect::Referral {
                    got = crate::probe::classify::referral_targets(m, &q.qname);
                }
                Some(got)
            }
            _ => None,
        },
        dnssec_expires_at,
    }
}

/// Starts the loop that probes `checks` on `target` until `cancel` fires.
pub fn spawn_address_loop(
    ctx: Arc<ProbeContext>,
    target: Arc<Target>,
    checks: Arc<Vec<Check>>,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if checks.is_empty() {
            return;
        }
        let interval = ctx.interval.max(Duration::from_millis(1));
        let start = Instant::now();
        let mut next: Vec<Instant> = {
            let mut rng = rand::rng();
            checks
                .iter()
                .map(|_| start + interval.mul_f64(rng.random_range(0.0..1.0)))
                .collect()
        };
        loop {
            let (i, at) = next
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|(_, t)| *t)
                .unwrap_or((0, start));
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(at) => {}
            }
            let factor = if ctx.jitter > 0.0 {
                1.0 + rand::rng().random_range(-ctx.jitter..=ctx.jitter)
            } else {
                1.0
            };
            next[i] = at + interval.mul_f64(factor);
            // A loop that fell far behind (suspended host) skips ahead instead of bursting.
            let now = Instant::now();
            if next[i] + interval < now {
                next[i] = now + interval.mul_f64(factor);
            }
            let ctx = ctx.clone();
            let target = target.clone();
            let checks = checks.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    r = async {
                        ctx.limits.acquire(&target.address).await;
                        ctx.probe(&target, i, &checks[i]).await
                    } => {
                        let _ = ctx.results.send(r).await;
                    }
                }
            });
        }
    })
}

/// The reference of a TLD, shared by the samplers of all its node addresses.
pub type ReferenceSet = Arc<crate::reference::LiveReference>;

/// A fresh pseudo-random order of `0..n` in O(1) memory: a full-period linear congruential
/// sequence modulo the next power of two (Hull–Dobell: odd increment, multiplier ≡ 1 mod 4),
/// scrambled by a random bijection of that range (xor-shifts and odd multipliers), skipping
/// values ≥ n. Each index comes exactly once per pass; a sampler per node address costs a few
/// words instead of a shuffled vector of the whole zone.
#[derive(Debug, Clone)]
pub struct PassOrder {
    n: u64,
    mask: u64,
    a: u64,
    c: u64,
    x: u64,
    left: u64,
    shift: u32,
    k1: u64,
    k2: u64,
}

impl PassOrder {
    /// A new random order of `0..n`.
    pub fn new(n: usize, rng: &mut impl Rng) -> Self {
        let m = (n as u64).max(1).next_power_of_two();
        let mask = m - 1;
        Self {
            n: n as u64,
            mask,
            a: ((rng.random::<u64>() << 2) | 1) & mask | 1,
            c: (rng.random::<u64>() | 1) & mask,
            x: rng.random::<u64>() & mask,
            left: m,
            shift: (m.trailing_zeros() / 2).max(1),
            k1: rng.random::<u64>() | 1,
            k2: rng.random::<u64>() | 1,
        }
    }

    /// A bijection of `0..=mask`.
    fn scramble(&self, mut v: u64) -> u64 {
        v ^= v >> self.shift;
        v = v.wrapping_mul(self.k1) & self.mask;
        v ^= v >> self.shift;
        v = v.wrapping_mul(self.k2) & self.mask;
        v ^ (v >> self.shift)
    }
}

impl Iterator for PassOrder {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.left > 0 {
            self.left -= 1;
            let v = self.scramble(self.x);
            self.x = self.a.wrapping_mul(self.x).wrapping_add(self.c) & self.mask;
            if v < self.n {
                return Some(v as usize);
            }
        }
        None
    }
}

/// Starts continuous sampling of `target` against a reference zone: `rate` delegations per
/// second, evenly paced (governor, bursts of 1 %), in a fresh random order each pass so every
/// delegation is checked once per pass; when the reference is replaced (a re-transfer) a new
/// pass over the new one starts. Sampling has its own rate and does not count against
/// `global_rate`; the prober's in-flight cap still applies.
pub fn spawn_sampler(
    ctx: Arc<ProbeContext>,
    target: Arc<Target>,
    reference: ReferenceSet,
    rate: NonZeroU32,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let burst = NonZeroU32::new((rate.get() / 100).max(1)).unwrap_or(NonZeroU32::MIN);
        let limiter = RateLimiter::direct(Quota::per_second(rate).allow_burst(burst));
        loop {
            let generation = reference.generation();
            let list = reference.get();
            if list.is_empty() {
                // No reference yet (a first transfer that failed): look again shortly.
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                }
                continue;
            }
            let order = PassOrder::new(list.len(), &mut rand::rng());
            for i in order {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = limiter.until_ready() => {}
                }
                if reference.generation() != generation {
                    break;
                }
                let (name, values) = list.get(i);
                let check = Check {
                    qname: name,
                    qtype: hickory_proto::rr::RecordType::NS,
                    expect: crate::config::Expect::Referral,
                    values,
                    transport: Transport::Udp,
                    role: CheckRole::Sampled,
                    recursion_desired: false,
                    authoritative: true,
                };
                let (ctx, target, cancel) = (ctx.clone(), target.clone(), cancel.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = cancel.cancelled() => {}
                        r = ctx.probe(&target, usize::MAX, &check) => {
                            let _ = ctx.results.send(r).await;
                        }
                    }
                });
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::PassOrder;

    #[test]
    fn pass_order_visits_every_index_once() {
        for n in [0usize, 1, 2, 3, 5, 64, 1000, 4097] {
            let mut seen = vec![false; n];
            let mut count = 0;
            for i in PassOrder::new(n, &mut rand::rng()) {
                assert!(!seen[i], "{i} twice of {n}");
                seen[i] = true;
                count += 1;
            }
            assert_eq!(count, n);
        }
        let a: Vec<usize> = PassOrder::new(1000, &mut rand::rng()).take(20).collect();
        let b: Vec<usize> = PassOrder::new(1000, &mut rand::rng()).take(20).collect();
        assert_ne!(a, b, "a fresh order each pass");
    }
}
