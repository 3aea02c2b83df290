//! What a window holds at one instant: the figures the grader and the API read.

use super::latency::LatencySummary;
use super::ratio::Ratio;
use crate::clock::UnixMillis;
use crate::probe::Outcome;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::time::Duration;

/// One server's window at one instant. Built by [`super::ServerStats::snapshot`]; a plain value,
/// so grading it is a pure function.
///
/// Serialization: durations are seconds (`f64`), instants are Unix milliseconds, and
/// `outcomes` is an object keyed by outcome label (`{"ok": 7, "timeout": 2, ...}`, every kind
/// present, in [`Outcome::ALL`] order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowSnapshot {
    /// Start of the oldest slice counted: probes sent at or after this instant are in the
    /// window. Slice-aligned, so `window_end − window_start` is between the window minus one
    /// slice and the window (exclusive, inclusive).
    pub window_start: UnixMillis,
    /// The instant the snapshot was taken for (`now`).
    pub window_end: UnixMillis,
    /// Probes in the window that measured the server, of every outcome but `local_error` (the
    /// success ratio's denominator, and what `min_samples` is tested against).
    pub samples: u64,
    /// Probes by outcome kind, indexed by [`Outcome::index`], so each failure kind is counted.
    #[serde(serialize_with = "outcomes_by_label")]
    pub outcomes: [u64; Outcome::COUNT],
    /// Successful probes among all probes, with the 95% Wilson interval.
    pub success: Ratio,
    /// Latency of the successful probes; `None` when none had a round-trip time.
    pub latency: Option<LatencySummary>,
    /// Exact counts over each configured latency threshold, in the order of
    /// [`super::WindowSpec::latency_thresholds`].
    pub slow: Vec<SlowCount>,
    /// Replies compared with a reference (the data error ratio's denominator).
    pub checked: u64,
    /// Checked replies with missing data (NXDOMAIN/NODATA where the reference has data).
    pub missing: u64,
    /// Checked replies with wrong data (differing RRset, bad DNSSEC).
    pub wrong: u64,
    /// `missing + wrong` among `checked`, with the 95% Wilson interval.
    pub data_error: Ratio,
    /// Send time of the latest successful probe ever recorded (not only in this window), exact;
    /// `None` if there never was one. Tells how long a stopped server has been stopped.
    pub last_success: Option<UnixMillis>,
    /// Send time of the first failed probe after the latest success (see
    /// [`super::ServerStats::record`]): where a stop began; `None` while the newest probe
    /// succeeded.
    pub failing_since: Option<UnixMillis>,
    /// Results dropped since the start because they arrived after their slice had left the
    /// window (a lifetime count; non-zero means results are queued too long, or the clock
    /// stepped back).
    pub late_dropped: u64,
}

impl WindowSnapshot {
    /// Whether the `q`-quantile of the round-trip times of successful probes is above
    /// `threshold`, decided exactly from the [`SlowCount`] of that threshold.
    ///
    /// `None` when `threshold` is not one of [`super::WindowSpec::latency_thresholds`], when no
    /// successful probe had a round-trip time, or when `q` is NaN. See
    /// [`SlowCount::quantile_exceeds`] for the definition.
    pub fn latency_quantile_exceeds(&self, q: f64, threshold: Duration) -> Option<bool> {
        self.slow
            .iter()
            .find(|s| s.threshold == threshold)?
            .quantile_exceeds(q)
    }
}

/// How many successful probes took strictly longer than a threshold, counted exactly at record
/// time from the measured round-trip time (a histogram bucket would turn 5.000 s into 5.002 s
/// and grade a 5.000 s reply as slower than 5 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlowCount {
    /// The threshold; serialized as seconds.
    #[serde(serialize_with = "super::seconds::serialize")]
    pub threshold: Duration,
    /// Successful probes with `rtt > threshold`.
    pub over: u64,
    /// Successful probes with a round-trip time: the population `over` is part of.
    pub of: u64,
}

impl SlowCount {
    /// Whether the `q`-quantile of the `of` round-trip times is above the threshold.
    ///
    /// Definition (nearest rank, as hdrhistogram's `value_at_quantile`): with the `of` values
    /// sorted, the `q`-quantile is the `r`-th smallest, `r = max(1, ⌈q · of⌉)`. It is above the
    /// threshold exactly when fewer than `r` values are at or below it:
    /// `of − over < r`, equivalently `over > (1 − q) · of` for these integers. So the median of
    /// 10 exceeds 5 s when at least 6 are slower, and the maximum (`q = 1`) when any one is.
    ///
    /// `q` is clamped to `[0, 1]`; a product `q · of` within four units of rounding above an
    /// integer counts as that integer (so `0.7 · 10` is 7, not 7.000000000000001). `None` when
    /// `of == 0` or `q` is NaN.
    pub fn quantile_exceeds(&self, q: f64) -> Option<bool> {
        if self.of == 0 || q.is_nan() {
            return None;
        }
        let rank = nearest_rank(q, self.of);
        let at_or_below = self.of - self.over.min(self.of);
        Some(at_or_below < rank)
    }
}

/// `max(1, ⌈q · n⌉)` for `n ≥ 1`, forgiving floating-point noise just above an integer.
fn nearest_rank(q: f64, n: u64) -> u64 {
    let x = q.clamp(0.0, 1.0) * n as f64;
    let r = (x - x * 4.0 * f64::EPSILON).ceil();
    // `as` saturates; the clamp keeps the rank within the population.
    (r as u64).clamp(1, n)
}

/// Probes over the last stretch of time, for the "stopped" test (docs/matrix.md: no success in the
/// last 60 s with at least 5 attempts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RecentCounts {
    /// Probes sent in the span that measured the server (every outcome but `local_error`).
    pub attempts: u64,
    /// Successful probes sent in the span.
    pub successes: u64,
    /// Probes of the span the monitor itself could not make (`local_error`): in no ratio.
    pub local_errors: u64,
    /// Start of the oldest slice counted (slice granular: the span actually covered is
    /// `now − since`, between the span minus one slice and the span).
    pub since: UnixMillis,
}

fn outcomes_by_label<S: Serializer>(
    counts: &[u64; Outcome::COUNT],
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(Outcome::COUNT))?;
    for (o, c) in Outcome::ALL.iter().zip(counts) {
        m.serialize_entry(o.as_str(), c)?;
    }
    m.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slow(over: u64, of: u64) -> SlowCount {
        SlowCount {
            threshold: Duration::from_secs(5),
            over,
            of,
        }
    }

    #[test]
    fn median_exceeds_only_with_a_strict_majority_over() {
        assert_eq!(
            slow(5, 10).quantile_exceeds(0.5),
            Some(false),
            "5th of 10 is at or below"
        );
        assert_eq!(slow(6, 10).quantile_exceeds(0.5), Some(true));
        assert_eq!(
            slow(3, 7).quantile_exceeds(0.5),
            Some(false),
            "4th of 7 is at or below"
        );
        assert_eq!(slow(4, 7).quantile_exceeds(0.5), Some(true));
        assert_eq!(slow(1, 1).quantile_exceeds(0.5), Some(true));
        assert_eq!(slow(0, 0).quantile_exceeds(0.5), None);
        assert_eq!(slow(1, 2).quantile_exceeds(f64::NAN), None);
    }

    #[test]
    fn extreme_and_noisy_quantiles() {
        assert_eq!(
            slow(1, 10).quantile_exceeds(1.0),
            Some(true),
            "max over when any is"
        );
        assert_eq!(slow(0, 10).quantile_exceeds(1.0), Some(false));
        assert_eq!(
            slow(9, 10).quantile_exceeds(0.0),
            Some(false),
            "min over only when all are"
        );
        assert_eq!(slow(10, 10).quantile_exceeds(-3.0), Some(true));
        assert_eq!(slow(1, 10).quantile_exceeds(7.0), Some(true));
        // 0.7 · 10 = 7.000000000000001 in f64: rank 7, so 3 over is not enough, 4 is.
        assert_eq!(slow(3, 10).quantile_exceeds(0.7), Some(false));
        assert_eq!(slow(4, 10).quantile_exceeds(0.7), Some(true));
        // Inconsistent input (over > of) is read as "all over", without panicking.
        assert_eq!(slow(12, 10).quantile_exceeds(0.5), Some(true));
        assert_eq!(nearest_rank(0.5, 1_000_000_000_000), 500_000_000_000);
        assert_eq!(nearest_rank(0.3, 1_000_000_000_000), 300_000_000_000);
        assert!((1..=u64::MAX).contains(&nearest_rank(1.0, u64::MAX)));
    }

    #[test]
    fn outcomes_serialize_by_label() {
        let mut counts = [0; Outcome::COUNT];
        counts[Outcome::Timeout.index()] = 2;
        #[derive(Serialize)]
        struct W(#[serde(serialize_with = "outcomes_by_label")] [u64; Outcome::COUNT]);
        let v = serde_json::to_value(W(counts)).expect("json");
        assert_eq!(v["timeout"], 2);
        assert_eq!(v["ok"], 0);
        assert_eq!(v.as_object().map(|m| m.len()), Some(Outcome::COUNT));
    }
}
