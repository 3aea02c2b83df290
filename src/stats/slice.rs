//! One time slice of a server's window: counters and sparse latency buckets.

use super::bins::{key_for_micros, micros, LatencyBins};
use crate::probe::{Outcome, Verdict};
use std::time::Duration;

/// What was recorded for probes sent during one slice (`id · slice_ms ..< (id + 1) · slice_ms`).
///
/// Counters are `u32`, saturating: a slice would need 4 billion probes to saturate one, and the
/// narrower type keeps the ring small (this struct is 104 bytes). They are summed into `u64` in
/// snapshots. The exact slow counts live outside, in the ring's flat `slow` table, so that a
/// slice costs no extra allocation per latency threshold.
#[derive(Debug, Clone, Default)]
pub(super) struct Slice {
    /// Which slice of time this slot holds now (`sent_at / slice_ms`). A slot whose id is not in
    /// the window being read is stale and ignored; it is reset when a record reuses it.
    pub(super) id: u64,
    /// Probes by outcome kind, indexed by [`Outcome::index`].
    pub(super) outcomes: [u32; Outcome::COUNT],
    /// Replies compared with a reference (the data error ratio's denominator).
    pub(super) checked: u32,
    /// Checked replies with missing data.
    pub(super) missing: u32,
    /// Checked replies with wrong data.
    pub(super) wrong: u32,
    /// Successful probes with a round-trip time: the population of latency figures (`of`).
    pub(super) timed: u32,
    /// The largest round-trip time of a successful probe, exact, in nanoseconds (saturating).
    pub(super) max_rtt_ns: u64,
    /// Round-trip times of successful probes, bucketed.
    pub(super) latency: LatencyBins,
}

impl Slice {
    /// Empties the slot and gives it to slice `id`, keeping the latency allocation.
    pub(super) fn reset(&mut self, id: u64) {
        self.id = id;
        self.outcomes = [0; Outcome::COUNT];
        self.checked = 0;
        self.missing = 0;
        self.wrong = 0;
        self.timed = 0;
        self.max_rtt_ns = 0;
        self.latency.clear();
    }

    /// Counts one probe. Returns the round-trip time when it belongs to the latency figures (a
    /// success with a measured rtt), so the caller can count it against the slow thresholds.
    pub(super) fn record(
        &mut self,
        outcome: Outcome,
        rtt: Option<Duration>,
        verdict: Verdict,
    ) -> Option<Duration> {
        if let Some(c) = self.outcomes.get_mut(outcome.index()) {
            *c = c.saturating_add(1);
        }
        self.record_verdict(verdict);
        let rtt = rtt.filter(|_| outcome.is_success())?;
        self.timed = self.timed.saturating_add(1);
        self.max_rtt_ns = self
            .max_rtt_ns
            .max(u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX));
        self.latency.record(key_for_micros(micros(rtt)));
        Some(rtt)
    }

    /// Counts a data verdict alone (a sample: see [`super::ServerStats::record_verdict`]).
    pub(super) fn record_verdict(&mut self, verdict: Verdict) {
        if verdict.is_checked() {
            self.checked = self.checked.saturating_add(1);
        }
        match verdict {
            Verdict::Missing => self.missing = self.missing.saturating_add(1),
            Verdict::Wrong => self.wrong = self.wrong.saturating_add(1),
            Verdict::Unchecked | Verdict::Correct => {}
        }
    }

    /// Probes of every kind but [`Outcome::LocalError`]: the measurements of the server.
    pub(super) fn attempts(&self) -> u64 {
        Outcome::ALL
            .iter()
            .zip(&self.outcomes)
            .filter(|(o, _)| o.is_attempt())
            .map(|(_, &c)| u64::from(c))
            .sum()
    }

    /// Probes the monitor itself could not make ([`Outcome::LocalError`]).
    pub(super) fn local_errors(&self) -> u64 {
        self.outcomes
            .get(Outcome::LocalError.index())
            .map_or(0, |&c| u64::from(c))
    }

    /// Successful probes.
    pub(super) fn successes(&self) -> u64 {
        self.outcomes
            .get(Outcome::Ok.index())
            .map_or(0, |&c| u64::from(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_is_small() {
        assert!(
            std::mem::size_of::<Slice>() <= 104,
            "{}",
            std::mem::size_of::<Slice>()
        );
    }

    #[test]
    fn failures_are_not_latencies() {
        let mut s = Slice::default();
        let rtt = Some(Duration::from_millis(20));
        assert_eq!(s.record(Outcome::Servfail, rtt, Verdict::Unchecked), None);
        assert_eq!(s.record(Outcome::Ok, None, Verdict::Correct), None);
        assert_eq!(s.record(Outcome::Ok, rtt, Verdict::Wrong), rtt);
        assert_eq!((s.attempts(), s.successes(), s.timed), (3, 2, 1));
        assert_eq!((s.checked, s.missing, s.wrong), (2, 0, 1));
        s.reset(9);
        assert_eq!((s.id, s.attempts(), s.timed, s.max_rtt_ns), (9, 0, 0, 0));
    }
}
