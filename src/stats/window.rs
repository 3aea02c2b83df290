//! [`ServerStats`]: one server address's ring of time slices.

use super::latency::summarize;
use super::ratio::Ratio;
use super::seconds::whole_ms;
use super::slice::Slice;
use super::snapshot::{RecentCounts, SlowCount, WindowSnapshot};
use super::spec::WindowSpec;
use crate::clock::UnixMillis;
use crate::probe::{Outcome, Verdict};
use std::mem::size_of;
use std::time::Duration;

/// The windowed statistics of one server address: a ring of time slices (see the module docs
/// for the design and the memory bound).
///
/// Slice `id` covers probes sent in `[id · slice_ms, (id + 1) · slice_ms)` and lives in slot
/// `id mod n`. Each slot remembers its id, so expiry is implicit: a reader counts only slots
/// whose id is in the window it reads, and a record that reuses a slot resets it first. Nothing
/// ever walks the time between two records, so a gap of hours costs nothing.
#[derive(Debug, Clone)]
pub struct ServerStats {
    /// Slice length in milliseconds, after the rounding in [`WindowSpec::slice_ms`].
    slice_ms: u64,
    /// The ring, `n` slots, allocated once.
    slices: Vec<Slice>,
    /// Thresholds counted exactly; copied from the spec so each server reads its own.
    thresholds: Vec<Duration>,
    /// Exact slow counts, `thresholds.len()` per slot, flat (slot-major): one allocation for the
    /// ring instead of one per slice.
    slow: Vec<u32>,
    /// Extra latency quantiles to report, clamped to `[0, 1]`, NaN removed.
    quantiles: Vec<f64>,
    /// The newest slice id recorded; `None` before the first record. Records older than
    /// `head − n + 1` are too late to count.
    head: Option<u64>,
    /// Send time of the latest success ever recorded, exact.
    last_success: Option<UnixMillis>,
    /// Send time of the first failed probe after the latest success (with no success yet, of
    /// the first failed probe recorded): where a stop began. `None` while the newest probe
    /// succeeded. Never before the first probe recorded, so never before the daemon started.
    failing_since: Option<UnixMillis>,
    /// Results dropped for arriving after their slice left the window.
    late_dropped: u64,
}

impl ServerStats {
    /// An empty window shaped by `spec`. Allocates the ring now (about 104 bytes a slice); the
    /// latency buckets grow as probes arrive.
    pub fn new(spec: &WindowSpec) -> Self {
        let (slice_ms, n) = spec.geometry();
        let thresholds = spec.latency_thresholds.clone();
        ServerStats {
            slice_ms,
            slices: vec![Slice::default(); n],
            slow: vec![0; n.saturating_mul(thresholds.len())],
            thresholds,
            quantiles: spec
                .latency_quantiles
                .iter()
                .filter(|q| !q.is_nan())
                .map(|q| q.clamp(0.0, 1.0))
                .collect(),
            head: None,
            last_success: None,
            failing_since: None,
            late_dropped: 0,
        }
    }

    /// Counts one probe result. `at` is when the probe was *sent*.
    ///
    /// Results arrive out of order by up to the probe timeout (10 s), so a record may land in
    /// an older slice still inside the window. One whose slice is older than the window (as
    /// seen from the newest slice recorded so far) is dropped and counted in
    /// [`ServerStats::late_dropped`]; a success among them still updates
    /// [`ServerStats::last_success`], which is about all time. A newer `at` moves the window
    /// forward; slices that fall out are reset lazily, when their slot is reused, so a jump of
    /// any length costs O(1).
    ///
    /// Only a success with a round-trip time counts toward latency; `verdict` is counted as
    /// given (the prober gives `Unchecked` to failures).
    pub fn record(
        &mut self,
        at: UnixMillis,
        outcome: Outcome,
        rtt: Option<Duration>,
        verdict: Verdict,
    ) {
        if outcome.is_success() {
            self.last_success = Some(self.last_success.map_or(at, |t| t.max(at)));
            if self.failing_since.is_some_and(|f| f <= at) {
                self.failing_since = None;
            }
        } else if outcome.is_attempt() && self.last_success.is_none_or(|s| at > s) {
            self.failing_since = Some(self.failing_since.map_or(at, |f| f.min(at)));
        }
        let Some(pos) = self.slot_for(at) else {
            return;
        };
        let t = self.thresholds.len();
        let Some(slot) = self.slices.get_mut(pos) else {
            return;
        };
        let slow = self
            .slow
            .get_mut(pos * t..(pos + 1) * t)
            .unwrap_or_default();
        if let Some(rtt) = slot.record(outcome, rtt, verdict) {
            for (count, threshold) in slow.iter_mut().zip(&self.thresholds) {
                if rtt > *threshold {
                    *count = count.saturating_add(1);
                }
            }
        }
    }

    /// Counts a data verdict without an outcome: a sample against the reference, whose
    /// number depends on the sampling budget rather than on the server, so it must not weigh
    /// on the success ratio, the latency or "stopped" (they come from the configured checks),
    /// only on the data error ratio. Late records are dropped as in [`ServerStats::record`].
    pub fn record_verdict(&mut self, at: UnixMillis, verdict: Verdict) {
        if !verdict.is_checked() {
            return;
        }
        if let Some(slot) = self.slot_for(at).and_then(|pos| self.slices.get_mut(pos)) {
            slot.record_verdict(verdict);
        }
    }

    /// The position of the slot for a record sent at `at`, reset first if it held an older
    /// slice; None (counted as late) when that slice has left the window.
    fn slot_for(&mut self, at: UnixMillis) -> Option<usize> {
        let id = at / self.slice_ms;
        let n = (self.slices.len() as u64).max(1);
        match self.head {
            // `head − (n − 1)` is the oldest slice still in the window.
            Some(head) if id < head.saturating_sub(n - 1) => {
                self.late_dropped = self.late_dropped.saturating_add(1);
                return None;
            }
            Some(head) if id <= head => {}
            _ => self.head = Some(id),
        }
        let pos = (id % n) as usize;
        let t = self.thresholds.len();
        let slot = self.slices.get_mut(pos)?;
        if slot.id != id {
            slot.reset(id);
            if let Some(slow) = self.slow.get_mut(pos * t..(pos + 1) * t) {
                slow.fill(0);
            }
        }
        Some(pos)
    }

    /// The window at `now`: probes sent in the `n` slices up to and including the one holding
    /// `now` (see [`WindowSnapshot::window_start`]). Slices newer than `now` are left out.
    pub fn snapshot(&self, now: UnixMillis) -> WindowSnapshot {
        let (lo, hi) = self.span(self.slices.len() as u64, now);
        let t = self.thresholds.len();
        let mut outcomes = [0_u64; Outcome::COUNT];
        let (mut checked, mut missing, mut wrong, mut timed, mut max_ns) =
            (0_u64, 0_u64, 0_u64, 0_u64, 0_u64);
        let mut over = vec![0_u64; t];
        for (pos, s) in self.live(lo, hi) {
            for (sum, &c) in outcomes.iter_mut().zip(&s.outcomes) {
                *sum += u64::from(c);
            }
            checked += u64::from(s.checked);
            missing += u64::from(s.missing);
            wrong += u64::from(s.wrong);
            timed += u64::from(s.timed);
            max_ns = max_ns.max(s.max_rtt_ns);
            let counts = self.slow.get(pos * t..(pos + 1) * t).unwrap_or_default();
            for (sum, &c) in over.iter_mut().zip(counts) {
                *sum += u64::from(c);
            }
        }
        let samples: u64 = Outcome::ALL
            .iter()
            .zip(&outcomes)
            .filter(|(o, _)| o.is_attempt())
            .map(|(_, &c)| c)
            .sum();
        let latency = summarize(
            self.live(lo, hi).map(|(_, s)| &s.latency),
            Duration::from_nanos(max_ns),
            &self.quantiles,
        );
        WindowSnapshot {
            window_start: lo.saturating_mul(self.slice_ms),
            window_end: now,
            samples,
            outcomes,
            success: Ratio::new(outcomes[Outcome::Ok.index()], samples),
            latency,
            slow: self
                .thresholds
                .iter()
                .zip(over)
                .map(|(&threshold, over)| SlowCount {
                    threshold,
                    over,
                    of: timed,
                })
                .collect(),
            checked,
            missing,
            wrong,
            data_error: Ratio::new(missing.saturating_add(wrong), checked),
            last_success: self.last_success,
            failing_since: self.failing_since,
            late_dropped: self.late_dropped,
        }
    }

    /// Attempts and successes over the last `span` before `now`, slice granular: the slices up
    /// to and including the one holding `now`, `⌈span / slice⌉` of them (at least 1, at most the
    /// whole window). So with 10 s slices, `span = 60 s` covers between 50 and 60 s; the start
    /// is in [`RecentCounts::since`]. For the exact time of the last success, see
    /// [`ServerStats::last_success`].
    pub fn recent(&self, now: UnixMillis, span: Duration) -> RecentCounts {
        let k = whole_ms(span)
            .div_ceil(self.slice_ms)
            .clamp(1, self.slices.len() as u64);
        let (lo, hi) = self.span(k, now);
        let (mut attempts, mut successes, mut local_errors) = (0_u64, 0_u64, 0_u64);
        for (_, s) in self.live(lo, hi) {
            attempts += s.attempts();
            successes += s.successes();
            local_errors += s.local_errors();
        }
        RecentCounts {
            attempts,
            successes,
            local_errors,
            since: lo.saturating_mul(self.slice_ms),
        }
    }

    /// Send time of the latest successful probe ever recorded (late ones included), exact.
    pub fn last_success(&self) -> Option<UnixMillis> {
        self.last_success
    }

    /// Results dropped because their slice had already left the window when they arrived.
    pub fn late_dropped(&self) -> u64 {
        self.late_dropped
    }

    /// Bytes this value holds: its own size plus every heap allocation at its capacity.
    /// Allocator overhead (a few words per allocation) is not included.
    pub fn memory_bytes(&self) -> usize {
        size_of::<Self>()
            + self.slices.capacity() * size_of::<Slice>()
            + self
                .slices
                .iter()
                .map(|s| s.latency.heap_bytes())
                .sum::<usize>()
            + self.slow.capacity() * size_of::<u32>()
            + self.thresholds.capacity() * size_of::<Duration>()
            + self.quantiles.capacity() * size_of::<f64>()
    }

    /// The slice ids `[lo, hi]` of the `k` slices ending with the one holding `now`.
    fn span(&self, k: u64, now: UnixMillis) -> (u64, u64) {
        let hi = now / self.slice_ms;
        (hi.saturating_sub(k.saturating_sub(1)), hi)
    }

    /// The slots holding slices `lo..=hi`, with their positions.
    fn live(&self, lo: u64, hi: u64) -> impl Iterator<Item = (usize, &Slice)> + '_ {
        self.slices
            .iter()
            .enumerate()
            .filter(move |(_, s)| (lo..=hi).contains(&s.id))
    }
}

#[cfg(test)]
mod tests;
