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
use futures_util::stream::{FuturesUnordered, StreamExt};
use governor::{Quota, RateLimiter};
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

/// Which check a probe ran: one of its object's configured checks, or a sample drawn from the
/// reference (one sampled check per server: samples of a node are judged together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckId {
    /// Index of the check in its object's check list.
    Configured(usize),
    /// A delegation sampled from the reference.
    Sampled,
}

/// The measurement of one probe, as it travels to the statistics.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// Where it went.
    pub target: Arc<Target>,
    /// The check.
    pub check: CheckId,
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

/// governor's clock on tokio's time, so rate limits follow `tokio::time::pause()` in tests
/// and waiting happens on tokio's timer wheel (no extra timer thread, no futex hand-off).
#[derive(Debug, Clone)]
pub struct TokioRateClock {
    start: Instant,
}

impl Default for TokioRateClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl governor::clock::Clock for TokioRateClock {
    type Instant = governor::nanos::Nanos;

    fn now(&self) -> Self::Instant {
        governor::nanos::Nanos::from(self.start.elapsed())
    }
}

type DirectLimiter = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    TokioRateClock,
    governor::middleware::NoOpMiddleware<governor::nanos::Nanos>,
>;

/// A rate limit on tokio's clock: [`RateLimit::wait_until`] sleeps on tokio's timer until the
/// limit allows one more, or gives up when that would pass a deadline.
#[derive(Debug)]
pub struct RateLimit {
    limiter: DirectLimiter,
    clock: TokioRateClock,
}

impl RateLimit {
    /// `per_second` evenly, with a burst of `burst`.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        let clock = TokioRateClock::default();
        Self {
            limiter: RateLimiter::direct_with_clock(
                Quota::per_second(per_second).allow_burst(burst),
                clock.clone(),
            ),
            clock,
        }
    }

    /// Takes one cell now if the limit allows it.
    pub fn try_take(&self) -> bool {
        self.limiter.check().is_ok()
    }

    /// Takes one cell, waiting for it if need be; false (nothing taken) when it would not come
    /// before `deadline`. `waited` is set when it had to wait.
    pub async fn wait_until(&self, deadline: Instant, waited: &mut bool) -> bool {
        loop {
            match self.limiter.check() {
                Ok(()) => return true,
                Err(not_until) => {
                    use governor::clock::Clock as _;
                    let wait = not_until.wait_time_from(self.clock.now());
                    let at = Instant::now() + wait;
                    if at > deadline {
                        return false;
                    }
                    *waited = true;
                    tokio::time::sleep_until(at).await;
                }
            }
        }
    }
}

/// The global rate limit and the per-address rate, shared by every address loop.
#[derive(Debug)]
pub struct Limits {
    global: RateLimit,
    per_address: NonZeroU32,
}

impl Limits {
    /// Limits of `global` probes/s overall and `per_address` probes/s to one address.
    pub fn new(global: NonZeroU32, per_address: NonZeroU32) -> Self {
        Self {
            global: RateLimit::new(global, global),
            per_address,
        }
    }

    /// The limit of one address, owned by its loop.
    pub fn address_limit(&self) -> RateLimit {
        RateLimit::new(self.per_address, self.per_address)
    }
}

/// The schedule's quantum: probe and sample times are rounded up to a multiple of it (from
/// [`ProbeContext::epoch`]), so that one wake-up of the probe thread sends every probe due in
/// the same 10 ms instead of one wake-up per probe. Small against the interval's jitter.
pub const QUANTUM: Duration = Duration::from_millis(10);

/// The DNSSEC checks of each signed object, by (class, object name).
pub type DnssecPolicies = std::collections::HashMap<(ObjectClass, String), crate::config::Dnssec>;

/// Everything a probe loop needs, shared.
#[derive(Debug)]
pub struct ProbeContext {
    /// Where the probe tasks run (see [`super::runtime`]).
    pub runtime: tokio::runtime::Handle,
    /// The origin of the [`QUANTUM`] grid.
    pub epoch: Instant,
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
    /// DNSSEC checks of signed objects, by (class, object name); a reload swaps the map.
    pub dnssec: arc_swap::ArcSwap<DnssecPolicies>,
    /// The DNSKEY sets of the signed objects' zones, learned from their DNSKEY answers.
    pub dnssec_keys: super::dnssec::ZoneKeys,
}

impl ProbeContext {
    /// `at` rounded up to the [`QUANTUM`] grid.
    pub fn quantize(&self, at: Instant) -> Instant {
        let q = QUANTUM.as_nanos().max(1);
        let off = at.saturating_duration_since(self.epoch).as_nanos();
        let up = off.div_ceil(q) * q;
        self.epoch + Duration::from_nanos(u64::try_from(up).unwrap_or(u64::MAX))
    }

    /// Sends one check to `target` with the DNSSEC checks of its object, if it is signed. The
    /// caller holds the budget the probe counts against (a permit of the in-flight cap, or a
    /// place in a node's sampling budget).
    pub async fn probe(&self, target: &Arc<Target>, idx: CheckId, check: &Check) -> ProbeResult {
        // Most objects are unsigned: no key (and no String clone) to look up then.
        let policies = self.dnssec.load();
        let dnssec = if policies.is_empty() {
            None
        } else {
            policies
                .get(&(target.class, target.object.clone()))
                .copied()
        };
        probe_checked(
            &self.prober,
            self.clock.as_ref(),
            target,
            idx,
            check,
            dnssec.map(|d| (d, &self.dnssec_keys)),
            Budget::Held,
        )
        .await
    }
}

/// What a probe counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// Wait for a permit of the prober's in-flight cap first (one-off probes).
    Cap,
    /// The caller already holds its budget.
    Held,
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
    idx: CheckId,
    check: &Check,
) -> ProbeResult {
    probe_checked(prober, clock, target, idx, check, None, Budget::Cap).await
}

/// [`probe_once`], and for a signed zone (`dnssec`) with DO set and the reply's signatures
/// checked ([`super::dnssec`]) against the zone's keys: expired, not yet valid, missing or
/// invalid signatures make a successful reply *wrong* data. A DNSKEY answer whose signature
/// verifies with its own keys becomes the zone's key set.
pub async fn probe_checked(
    prober: &Prober,
    clock: &dyn Clock,
    target: &Arc<Target>,
    idx: CheckId,
    check: &Check,
    dnssec: Option<(crate::config::Dnssec, &super::dnssec::ZoneKeys)>,
    budget: Budget,
) -> ProbeResult {
    let mut q = question_for(check);
    q.dnssec_ok = dnssec.is_some();
    let (sent_at, reply) = match budget {
        Budget::Cap => (
            clock.now_ms(),
            prober.probe(target.address, &q, check.transport).await,
        ),
        Budget::Held => (
            clock.now_ms(),
            prober.send(target.address, &q, check.transport).await,
        ),
    };
    let (outcome, mut verdict) = match &reply.answer {
        Err(kind) => (*kind, Verdict::Unchecked),
        Ok((msg, _)) => classify(check, &q.qname, msg),
    };
    let mut dnssec_expires_at = None;
    if let (Some((_, zone_keys)), Some(msg), true) = (dnssec, reply.message(), outcome.is_success())
    {
        let (expires_at, wrong) = check_dnssec(clock, target, check, &q.qname, msg, zone_keys);
        dnssec_expires_at = expires_at;
        if wrong {
            verdict = Verdict::Wrong;
        }
    }
    // The reply, when it is a successful one.
    let answered = reply.message().filter(|_| outcome.is_success());
    ProbeResult {
        target: target.clone(),
        check: idx,
        role: check.role,
        transport: reply.transport,
        sent_at,
        rtt: if outcome.is_success() {
            reply.rtt()
        } else {
            None
        },
        outcome,
        verdict: if outcome.is_success() {
            verdict
        } else {
            Verdict::Unchecked
        },
        tcp_fallback: reply.tcp_fallback,
        serial: answered
            .filter(|_| check.qtype == hickory_proto::rr::RecordType::SOA)
            .and_then(crate::probe::classify::soa_serial),
        consensus_answer: answered
            .filter(|_| consensus_eligible(target, check))
            .map(|m| consensus_answer(m, &q.qname, check)),
        // Last: it moves out of the reply the fields above read.
        nsid: reply.nsid,
        dnssec_expires_at,
    }
}

/// Checks the signatures of a successful reply from a signed zone against the zone's keys
/// (or, for a DNSKEY answer, its own keys, which become the zone's when they verify it).
/// Returns the earliest signature expiration and whether the signatures are wrong.
fn check_dnssec(
    clock: &dyn Clock,
    target: &Target,
    check: &Check,
    qname: &hickory_proto::rr::Name,
    msg: &hickory_proto::op::Message,
    zone_keys: &super::dnssec::ZoneKeys,
) -> (Option<UnixMillis>, bool) {
    let own = if check.qtype == hickory_proto::rr::RecordType::DNSKEY {
        super::dnssec::dnskeys_in(msg, qname)
    } else {
        Vec::new()
    };
    let known = zone_keys.get(target.class, &target.object);
    let keys: &[_] = if own.is_empty() {
        known.as_deref().map_or(&[], Vec::as_slice)
    } else {
        &own
    };
    let sc = super::dnssec::check_signatures(msg, qname, check.qtype, clock.now_ms(), keys);
    if !own.is_empty() && sc.problem.is_none() {
        zone_keys.set(target.class, &target.object, own);
    }
    if let Some(p) = sc.problem {
        tracing::debug!(server = %target.address, qname = %qname, problem = %p, "DNSSEC signatures wrong");
        return (sc.earliest_expiration, true);
    }
    (sc.earliest_expiration, false)
}

/// The answer a node gives for consensus: the relevant RRset, or for a referral check with
/// none, the referral's NS targets.
fn consensus_answer(
    m: &hickory_proto::op::Message,
    qname: &hickory_proto::rr::Name,
    check: &Check,
) -> Vec<String> {
    let mut got = crate::probe::classify::relevant_answers(m, qname, check.qtype);
    if got.is_empty() && check.expect == crate::config::Expect::Referral {
        got = crate::probe::classify::referral_targets(m, qname);
    }
    got
}

/// How late past its slot a configured probe may still be sent: a quarter of the interval,
/// at most one second. A probe that waited longer for the in-flight cap or a rate limit is not
/// sent at all and is counted in [`super::ProberCounters::late`]: sending it later would record
/// a measurement of a time it was not scheduled for, and bunch probes together.
pub fn slot_grace(interval: Duration) -> Duration {
    (interval / 4).min(Duration::from_secs(1))
}

/// Starts the loop that probes `checks` on `target` until `cancel` fires.
///
/// One task per address: its probes run as futures inside it (no task per probe), each
/// waiting at most [`slot_grace`] for the address's rate, the global rate and a permit of the
/// in-flight cap. At most `⌈(timeout + grace) / interval⌉ + 1` probes per check are alive at
/// once, so an address that stops answering costs a bounded amount, whatever else happens.
pub fn spawn_address_loop(
    ctx: Arc<ProbeContext>,
    target: Arc<Target>,
    checks: Arc<Vec<Check>>,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    let runtime = ctx.runtime.clone();
    runtime.spawn(async move {
        if checks.is_empty() {
            return;
        }
        let interval = ctx.interval.max(Duration::from_millis(1));
        let grace = slot_grace(interval);
        let own_rate = ctx.limits.address_limit();
        let start = Instant::now();
        let mut next: Vec<Instant> = {
            let mut rng = rand::rng();
            checks
                .iter()
                .map(|_| ctx.quantize(start + interval.mul_f64(rng.random_range(0.0..1.0))))
                .collect()
        };
        let mut running = FuturesUnordered::new();
        loop {
            let (i, at) = next
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|(_, t)| *t)
                .unwrap_or((0, start));
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                Some(()) = running.next(), if !running.is_empty() => continue,
                _ = tokio::time::sleep_until(at) => {}
            }
            let factor = if ctx.jitter > 0.0 {
                1.0 + rand::rng().random_range(-ctx.jitter..=ctx.jitter)
            } else {
                1.0
            };
            next[i] = ctx.quantize(at + interval.mul_f64(factor));
            // A loop that fell far behind (suspended host) skips ahead instead of bursting.
            let now = Instant::now();
            if next[i] + interval < now {
                next[i] = ctx.quantize(now + interval.mul_f64(factor));
            }
            let (ctx, target, checks, own_rate) = (&ctx, &target, &checks, &own_rate);
            running.push(async move {
                let deadline = at + grace;
                let mut waited = false;
                let sendable = own_rate.wait_until(deadline, &mut waited).await
                    && ctx.limits.global.wait_until(deadline, &mut waited).await;
                if waited {
                    ctx.prober
                        .counters()
                        .rate_limited
                        .fetch_add(1, Ordering::Relaxed);
                }
                let permit = if sendable {
                    ctx.prober.permit_until(deadline).await
                } else {
                    None
                };
                let Some(permit) = permit else {
                    ctx.prober.counters().late.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                // Boxed: the exchange is the phase that lasts (the whole timeout when the server
                // is dark), so the slot itself stays the size of its short waiting phases and a
                // probe in flight holds one allocation sized for the exchange alone.
                let r = Box::pin(ctx.probe(target, CheckId::Configured(i), &checks[i])).await;
                drop(permit);
                deliver(&ctx.results, r).await;
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

/// A node's sampling budget: additive increase, multiplicative decrease on timeouts.
///
/// The budget is the number of samples the node may have in flight. Every reply (whatever
/// its data) raises it by one up to the ceiling; every timeout halves it, down to one. A node
/// that stops answering therefore holds one sample in flight as soon as its first samples time
/// out — one probe per timeout instead of `rate × timeout` — and one that answers again is back
/// at full rate after as many replies as the ceiling (a fraction of a second at the default
/// rate). A node that loses a share of its replies settles where replies and timeouts balance.
/// Samples that find the budget full are skipped (counted), never queued.
#[derive(Debug, Clone)]
pub struct SampleBudget {
    limit: usize,
    max: usize,
}

impl SampleBudget {
    /// A budget starting at (and capped by) `max`, at least 1.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self { limit: max, max }
    }

    /// Samples that may be in flight now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A reply came.
    pub fn on_reply(&mut self) {
        self.limit = (self.limit + 1).min(self.max);
    }

    /// A sample timed out.
    pub fn on_timeout(&mut self) {
        self.limit = (self.limit / 2).max(1);
    }
}

/// Starts continuous sampling of `target` against a reference zone: `rate` delegations per
/// second, paced on tokio's timer in steps of 10 ms (or `1 / rate` when that is longer), in a
/// fresh random order each pass so every delegation is checked once per pass; when the
/// reference is replaced (a re-transfer) a new pass over the new one starts.
///
/// Sampling has its own budget: it does not count against `global_rate` or the in-flight cap
/// of the configured checks, so it can never starve them; instead each node address has a
/// [`SampleBudget`] of at most `max_in_flight` samples. Everything runs inside this one task
/// (no task per sample), so a dark node costs at most `max_in_flight` pending probes. A sample
/// that does not fit is skipped — the delegation is kept for the next free place — and
/// counted in [`super::ProberCounters::samples_skipped`].
pub fn spawn_sampler(
    ctx: Arc<ProbeContext>,
    target: Arc<Target>,
    reference: ReferenceSet,
    rate: NonZeroU32,
    max_in_flight: usize,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    let runtime = ctx.runtime.clone();
    runtime.spawn(async move {
        let step = QUANTUM.max(Duration::from_secs(1) / rate.get());
        let per_step = f64::from(rate.get()) * step.as_secs_f64();
        let mut budget = SampleBudget::new(max_in_flight);
        let counters = ctx.prober.counters().clone();
        let mut running = FuturesUnordered::new();
        let mut ticker = tokio::time::interval_at(ctx.quantize(Instant::now()), step);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut credit = 0.0_f64;
        let mut pass: Option<Pass> = None;
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                Some(timed_out) = running.next(), if !running.is_empty() => {
                    if timed_out {
                        budget.on_timeout();
                    } else {
                        budget.on_reply();
                    }
                    continue;
                }
                _ = ticker.tick() => {}
            }
            // Credit for this step; a backlog of more than one step is not made up later.
            credit = (credit + per_step).min(per_step.max(1.0) * 2.0);
            while credit >= 1.0 {
                let Some(Pass { list, order, .. }) = Pass::current(&mut pass, &reference) else {
                    // No reference yet (a first transfer that failed): look again later.
                    credit = 0.0;
                    break;
                };
                if order.peek().is_none() {
                    pass = None;
                    continue;
                }
                credit -= 1.0;
                if running.len() >= budget.limit() {
                    counters.samples_skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let Some(i) = order.next() else { continue };
                let check = sample_check(list, i);
                let gauge = InFlight::new(&counters.samples_in_flight);
                running.push(sample(&ctx, &target, check, gauge));
            }
        }
    })
}

/// One pass of a sampler over one generation of the reference.
struct Pass {
    generation: u64,
    list: Arc<crate::reference::Delegations>,
    order: std::iter::Peekable<PassOrder>,
}

impl Pass {
    /// The pass to draw from: the current one, or a fresh one when there is none or the
    /// reference was replaced since; None when the reference is empty.
    fn current<'a>(pass: &'a mut Option<Pass>, reference: &ReferenceSet) -> Option<&'a mut Pass> {
        let fresh = match pass {
            Some(p) => p.generation != reference.generation(),
            None => true,
        };
        if fresh {
            let list = reference.get();
            let order = PassOrder::new(list.len(), &mut rand::rng()).peekable();
            *pass = (!list.is_empty()).then(|| Pass {
                generation: reference.generation(),
                list,
                order,
            });
        }
        pass.as_mut()
    }
}

/// The check a sample of delegation `i` of `list` runs: its NS set, as a referral, over UDP.
fn sample_check(list: &crate::reference::Delegations, i: usize) -> Check {
    let (name, values) = list.get(i);
    Check {
        qname: name,
        qtype: hickory_proto::rr::RecordType::NS,
        expect: crate::config::Expect::Referral,
        values,
        transport: Transport::Udp,
        role: CheckRole::Sampled,
        recursion_desired: false,
        authoritative: true,
    }
}

/// Runs one sample and delivers its result; returns whether it timed out. `gauge` counts it
/// in flight until its exchange ends.
async fn sample(
    ctx: &ProbeContext,
    target: &Arc<Target>,
    check: Check,
    gauge: InFlight<'_>,
) -> bool {
    // Boxed for the same reason as a configured check's exchange.
    let r = Box::pin(ctx.probe(target, CheckId::Sampled, &check)).await;
    drop(gauge);
    let timed_out = r.outcome == Outcome::Timeout;
    deliver(&ctx.results, r).await;
    timed_out
}

/// Hands a result to the statistics consumer: at once when the channel has room (the usual
/// case), else waiting for room in a boxed future, so that every probe's future does not carry
/// the room for a channel send it almost never needs.
async fn deliver(results: &mpsc::Sender<ProbeResult>, r: ProbeResult) {
    if let Err(mpsc::error::TrySendError::Full(r)) = results.try_send(r) {
        let _ = Box::pin(results.send(r)).await;
    }
}

/// Counts one sample in flight for as long as it lives (however its future ends).
struct InFlight<'a>(&'a AtomicU64);

impl<'a> InFlight<'a> {
    fn new(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
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

#[cfg(test)]
mod budget_tests {
    use super::SampleBudget;

    #[test]
    fn timeouts_halve_the_budget_and_replies_restore_it() {
        let mut b = SampleBudget::new(64);
        assert_eq!(b.limit(), 64);
        for want in [32, 16, 8, 4, 2, 1, 1] {
            b.on_timeout();
            assert_eq!(b.limit(), want);
        }
        for _ in 0..100 {
            b.on_reply();
        }
        assert_eq!(b.limit(), 64, "capped at the ceiling");
        assert_eq!(SampleBudget::new(0).limit(), 1, "never below one");
    }
}
