//! `dnsgrade sweep`: check every delegation of a zone against one node, at a bounded rate, and
//! report the rate, latency quantiles, and every missing or wrong delegation.
//!
//! For each delegation (an owner below the apex with NS records) one NS query is sent with
//! RD=0; the node must refer (or answer authoritatively) with exactly the zone's NS set. The
//! same classification as the daemon's probes applies ([`crate::probe::classify`]): NXDOMAIN
//! or an empty referral is *missing*, a different NS set is *wrong*. Operators run it by hand
//! after a zone push; the exit code says whether the error share is acceptable.
//!
//! Over UDP the sweep runs on its own engine (`udp`: one thread, batched `sendmmsg`/`recvmmsg`,
//! no allocation or task per query, a byte-level check of correct referrals in `wire` that
//! hands everything else to `classify`), because a million-name sweep is bounded by the
//! client's CPU. Over TCP it uses the daemon's [`Prober`].

mod udp;
// Public (and hidden) for the fuzz targets in fuzz/: the byte-level check reads replies from
// the network.
#[doc(hidden)]
pub mod wire;

use crate::config::{Check, CheckRole, Expect, Transport};
use crate::probe::classify::{classify, referral_targets, relevant_answers, Question};
use crate::probe::{Outcome, Prober, ProberConfig, Verdict};
use crate::reference::Delegations;
use governor::{Quota, RateLimiter};
use hickory_proto::rr::RecordType;
use std::fmt::Write;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What to sweep and how fast.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// The node.
    pub server: SocketAddr,
    /// Queries per second, at most.
    pub rate: NonZeroU32,
    /// Queries in flight, at most.
    pub concurrency: usize,
    /// UDP or TCP.
    pub transport: Transport,
    /// Per-query timeout.
    pub timeout: Duration,
    /// Check only every n-th delegation (1 = all).
    pub every: usize,
    /// How many examples of each error kind to keep.
    pub examples: usize,
}

/// One delegation that did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The delegated name.
    pub name: String,
    /// The zone's NS set.
    pub expected: Vec<String>,
    /// What the node said.
    pub got: Vec<String>,
}

/// The result of a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    /// Delegations checked.
    pub checked: u64,
    /// Successful replies (any verdict).
    pub answered: u64,
    /// Correct delegations.
    pub correct: u64,
    /// Missing delegations (NXDOMAIN or no NS).
    pub missing: u64,
    /// Wrong delegations (different NS set).
    pub wrong: u64,
    /// Failures by outcome kind (timeouts, SERVFAIL, ...).
    pub failures: Vec<(Outcome, u64)>,
    /// Wall time of the sweep.
    pub elapsed: Duration,
    /// Latency quantiles of answered queries: p50, p90, p99, max.
    pub latency: [Duration; 4],
    /// The first missing delegations.
    pub missing_examples: Vec<Mismatch>,
    /// The first wrong delegations.
    pub wrong_examples: Vec<Mismatch>,
    /// Every missing or wrong name (for tests and `--list`).
    pub bad_names: Vec<String>,
}

impl SweepReport {
    /// Missing or wrong among answered.
    pub fn error_ratio(&self) -> f64 {
        if self.answered == 0 {
            return 0.0;
        }
        (self.missing + self.wrong) as f64 / self.answered as f64
    }

    /// Failures (no usable reply) among checked.
    pub fn failure_count(&self) -> u64 {
        self.failures.iter().map(|(_, n)| n).sum()
    }

    /// The text `dnsgrade sweep` prints.
    pub fn render(&self, server: SocketAddr) -> String {
        let mut o = String::new();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            o,
            "swept {} delegations on {server} in {:.2} s: {:.0} q/s",
            self.checked,
            secs,
            self.checked as f64 / secs
        );
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let _ = writeln!(
            o,
            "latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
            ms(self.latency[0]),
            ms(self.latency[1]),
            ms(self.latency[2]),
            ms(self.latency[3])
        );
        let _ = writeln!(
            o,
            "answered {}  correct {}  missing {}  wrong {}  error ratio {:.6}%",
            self.answered,
            self.correct,
            self.missing,
            self.wrong,
            self.error_ratio() * 100.0
        );
        let fails: Vec<String> = self
            .failures
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(
            o,
            "failures: {}",
            if fails.is_empty() {
                "none".to_string()
            } else {
                fails.join("  ")
            }
        );
        for (title, list) in [
            ("missing", &self.missing_examples),
            ("wrong", &self.wrong_examples),
        ] {
            for m in list {
                let _ = writeln!(
                    o,
                    "  {title}: {}  expected [{}]  got [{}]",
                    m.name,
                    m.expected.join(" "),
                    m.got.join(" ")
                );
            }
        }
        o
    }
}

/// Accumulates the results of a sweep into a report.
pub(crate) struct Tally {
    report: SweepReport,
    hist: hdrhistogram::Histogram<u64>,
    failures: [u64; Outcome::COUNT],
    examples: usize,
    /// Replies that matched no query in flight.
    pub(crate) strays: u64,
    /// Send or receive errors of the sockets.
    pub(crate) socket_errors: u64,
}

impl Tally {
    fn new(examples: usize) -> std::io::Result<Tally> {
        Ok(Tally {
            report: SweepReport::default(),
            hist: hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
                .map_err(std::io::Error::other)?,
            failures: [0; Outcome::COUNT],
            examples,
            strays: 0,
            socket_errors: 0,
        })
    }

    fn latency(&mut self, rtt: Duration) {
        let _ = self
            .hist
            .record((rtt.as_micros() as u64).clamp(1, 60_000_000));
    }

    /// A correct delegation (the common case, with nothing to remember but its latency).
    pub(crate) fn correct(&mut self, rtt: Duration) {
        self.report.checked += 1;
        self.report.answered += 1;
        self.report.correct += 1;
        self.latency(rtt);
    }

    /// A query that got no usable reply.
    pub(crate) fn failure(&mut self, kind: Outcome) {
        self.report.checked += 1;
        self.failures[kind.index()] += 1;
    }

    pub(crate) fn stray(&mut self) {
        self.strays += 1;
    }

    pub(crate) fn socket_error(&mut self) {
        self.socket_errors += 1;
    }

    /// Any classified reply for delegation `idx`.
    pub(crate) fn record(
        &mut self,
        list: &Delegations,
        idx: usize,
        outcome: Outcome,
        verdict: Verdict,
        rtt: Option<Duration>,
        got: Vec<String>,
    ) {
        if !outcome.is_success() {
            self.failure(outcome);
            return;
        }
        self.report.checked += 1;
        self.report.answered += 1;
        if let Some(d) = rtt {
            self.latency(d);
        }
        let m = || {
            let (name, expected) = list.get(idx);
            Mismatch {
                name: name.to_ascii(),
                expected,
                got: got.clone(),
            }
        };
        let r = &mut self.report;
        match verdict {
            Verdict::Missing => {
                r.missing += 1;
                r.bad_names.push(list.name_text(idx).to_string());
                if r.missing_examples.len() < self.examples {
                    r.missing_examples.push(m());
                }
            }
            Verdict::Wrong => {
                r.wrong += 1;
                r.bad_names.push(list.name_text(idx).to_string());
                if r.wrong_examples.len() < self.examples {
                    r.wrong_examples.push(m());
                }
            }
            _ => r.correct += 1,
        }
    }

    fn finish(mut self, elapsed: Duration) -> SweepReport {
        let mut r = std::mem::take(&mut self.report);
        r.elapsed = elapsed;
        r.failures = Outcome::ALL
            .iter()
            .zip(self.failures)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (*k, n))
            .collect();
        let h = &self.hist;
        let q = |p: f64| {
            Duration::from_micros(if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            })
        };
        r.latency = [q(0.5), q(0.9), q(0.99), Duration::from_micros(h.max())];
        r.bad_names.sort();
        r
    }
}

/// Sweeps every `opts.every`-th delegation of `list` on `opts.server`.
pub async fn sweep(list: Arc<Delegations>, opts: &SweepOptions) -> std::io::Result<SweepReport> {
    let mut tally = Tally::new(opts.examples)?;
    let start = Instant::now();
    if opts.transport == Transport::Udp {
        let o = opts.clone();
        let tally =
            tokio::task::spawn_blocking(move || udp::run(&list, &o, &mut tally).map(|()| tally))
                .await
                .map_err(std::io::Error::other)??;
        if tally.strays > 0 || tally.socket_errors > 0 {
            tracing::warn!(
                stray_replies = tally.strays,
                socket_errors = tally.socket_errors,
                "sweep saw stray replies or socket errors"
            );
        }
        return Ok(tally.finish(start.elapsed()));
    }
    sweep_with_prober(list, opts, tally, start).await
}

/// The sweep over the daemon's prober (TCP): one task per query.
async fn sweep_with_prober(
    list: Arc<Delegations>,
    opts: &SweepOptions,
    mut tally: Tally,
    start: Instant,
) -> std::io::Result<SweepReport> {
    let prober = Prober::new(ProberConfig {
        udp_sockets: 4,
        timeout: opts.timeout,
        max_in_flight: opts.concurrency.max(1),
        ..ProberConfig::default()
    })
    .await?;
    // Pace evenly: a burst of a whole second's queries would overflow the node's (or our own)
    // socket buffers and show up as timeouts that are not the node's fault.
    let burst = NonZeroU32::new((opts.rate.get() / 100).max(1)).unwrap_or(NonZeroU32::MIN);
    let limiter = Arc::new(RateLimiter::direct(
        Quota::per_second(opts.rate).allow_burst(burst),
    ));
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    let every = opts.every.max(1);
    let server = opts.server;
    let transport = opts.transport;
    let producer = tokio::spawn({
        let prober = prober.clone();
        let list = list.clone();
        async move {
            let sem = Arc::new(tokio::sync::Semaphore::new(prober_cap(&prober)));
            for idx in (0..list.len()).step_by(every) {
                limiter.until_ready().await;
                let Ok(permit) = sem.clone().acquire_owned().await else {
                    break;
                };
                let (prober, tx) = (prober.clone(), tx.clone());
                let (name, expected) = list.get(idx);
                tokio::spawn(async move {
                    let check = Check {
                        qname: name.clone(),
                        qtype: RecordType::NS,
                        expect: Expect::Referral,
                        values: expected,
                        transport,
                        role: CheckRole::Plain,
                        recursion_desired: false,
                        authoritative: true,
                    };
                    let q = Question {
                        qname: name.clone(),
                        qtype: RecordType::NS,
                        recursion_desired: false,
                        dnssec_ok: false,
                    };
                    let reply = prober.probe(server, &q, transport).await;
                    drop(permit);
                    let r = match &reply.answer {
                        Err(k) => (*k, Verdict::Unchecked, None, Vec::new()),
                        Ok((m, rtt)) => {
                            let (o, v) = classify(&check, &name, m);
                            let mut got = referral_targets(m, &name);
                            if got.is_empty() {
                                got = relevant_answers(m, &name, RecordType::NS);
                            }
                            (o, v, Some(*rtt), got)
                        }
                    };
                    let _ = tx.send((idx, r)).await;
                });
            }
        }
    });
    while let Some((idx, (outcome, verdict, rtt, got))) = rx.recv().await {
        tally.record(&list, idx, outcome, verdict, rtt, got);
    }
    let _ = producer.await;
    Ok(tally.finish(start.elapsed()))
}

fn prober_cap(p: &Prober) -> usize {
    // The prober enforces its own in-flight cap; this bounds the spawned tasks the same way.
    p.max_in_flight()
}
