//! Latency over a window: the slices' sparse buckets merged into one HDR histogram.

use super::bins::{micros_for_key, LatencyBins, HIGHEST_US, KEY_COUNT, LOWEST_US, SIGFIG};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// Send-to-reply time of the successful probes in a window (failures are not latencies).
///
/// Quantiles come from an HDR histogram with 2 significant digits: each is the upper edge of
/// the bucket holding the nearest-rank quantile (so at most 1/128 ≈ 0.8% above the true value,
/// never below it but for the sub-microsecond part), capped at the exact maximum. Round-trip
/// times above 60 s are counted as 60 s. For a yes/no "is the quantile above 5 s", use
/// [`super::WindowSnapshot::latency_quantile_exceeds`], which is exact.
///
/// Every duration serializes as seconds (`f64`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Successful probes with a measured round-trip time: the population of the quantiles.
    pub count: u64,
    /// Median, the matrix's default response-time statistic.
    #[serde(serialize_with = "super::seconds::serialize")]
    pub p50: Duration,
    /// 90th percentile, for dashboards.
    #[serde(serialize_with = "super::seconds::serialize")]
    pub p90: Duration,
    /// 99th percentile, for dashboards.
    #[serde(serialize_with = "super::seconds::serialize")]
    pub p99: Duration,
    /// The largest round-trip time, exact (not bucketed).
    #[serde(serialize_with = "super::seconds::serialize")]
    pub max: Duration,
    /// The quantiles asked for in [`super::WindowSpec::latency_quantiles`], in that order, for
    /// rules that grade on a quantile other than these three.
    pub quantiles: Vec<QuantileValue>,
}

impl LatencySummary {
    /// The value reported for quantile `q`, if `q` is p50/p90/p99 or one of
    /// [`LatencySummary::quantiles`] (compared exactly).
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if q == 0.5 {
            Some(self.p50)
        } else if q == 0.9 {
            Some(self.p90)
        } else if q == 0.99 {
            Some(self.p99)
        } else {
            self.quantiles.iter().find(|v| v.q == q).map(|v| v.value)
        }
    }
}

/// One latency quantile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QuantileValue {
    /// The quantile, in `[0, 1]`.
    pub q: f64,
    /// Its value, with the precision described on [`LatencySummary`]; serialized as seconds.
    #[serde(serialize_with = "super::seconds::serialize")]
    pub value: Duration,
}

/// An empty histogram with the bounds the slice keys were computed for.
fn scratch() -> Option<Histogram<u64>> {
    // Cannot fail for these constants (low ≥ 1, high ≥ 2·low, sigfig ≤ 5); a test checks it.
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGFIG).ok()
}

/// Merges the buckets of `slices` and summarizes them; `None` when they hold no value. `max` is
/// the exact maximum kept beside the buckets; `extra` the quantiles to report besides
/// p50/p90/p99 (already clamped to `[0, 1]`).
pub(super) fn summarize<'a>(
    slices: impl Iterator<Item = &'a LatencyBins>,
    max: Duration,
    extra: &[f64],
) -> Option<LatencySummary> {
    // Keys are bucket indices, so the slices are first summed into a plain array (one add per
    // entry); the histogram then takes one `record_n` per bucket hit, not one per slice entry.
    let mut merged = vec![0_u64; KEY_COUNT];
    for bins in slices {
        for (key, n) in bins.iter() {
            if let Some(c) = merged.get_mut(usize::from(key)) {
                *c += u64::from(n);
            }
        }
    }
    let mut h = scratch()?;
    for (key, &n) in (0_u16..).zip(&merged) {
        if n > 0 {
            h.saturating_record_n(micros_for_key(key), n);
        }
    }
    if h.is_empty() {
        return None;
    }
    let at = |q: f64| -> Duration {
        let us = h.value_at_quantile(q).min(HIGHEST_US);
        Duration::from_micros(us).min(max)
    };
    Some(LatencySummary {
        count: h.len(),
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        max,
        quantiles: extra
            .iter()
            .map(|&q| QuantileValue { q, value: at(q) })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::bins::{key_for_micros, micros};
    use super::*;

    fn bins(values_us: impl IntoIterator<Item = u64>) -> (LatencyBins, Duration) {
        let mut b = LatencyBins::default();
        let mut max = Duration::ZERO;
        for v in values_us {
            let d = Duration::from_micros(v);
            b.record(key_for_micros(micros(d)));
            max = max.max(d);
        }
        (b, max)
    }

    #[test]
    fn scratch_histogram_can_be_built() {
        assert!(scratch().is_some());
    }

    #[test]
    fn quantiles_are_within_hdr_precision() {
        // 1..=1000 ms, one each: the nearest-rank quantiles are 500, 900 and 990 ms exactly.
        let (b, max) = bins((1..=1000).map(|ms| ms * 1000));
        let s = summarize([&b].into_iter(), max, &[0.25]).expect("values");
        assert_eq!(s.count, 1000);
        assert_eq!(s.max, Duration::from_secs(1));
        for (got, want) in [
            (s.p50, 500),
            (s.p90, 900),
            (s.p99, 990),
            (s.quantiles[0].value, 250),
        ] {
            let want = Duration::from_millis(want);
            assert!(got >= want, "{got:?} < {want:?}");
            assert!(
                got.as_secs_f64() <= want.as_secs_f64() * (1.0 + 1.0 / 128.0),
                "{got:?} vs {want:?}"
            );
        }
        assert_eq!(s.quantile(0.25), Some(s.quantiles[0].value));
        assert_eq!(s.quantile(0.5), Some(s.p50));
        assert_eq!(s.quantile(0.75), None);
    }

    #[test]
    fn quantiles_never_exceed_the_exact_max() {
        let (b, max) = bins([4_999_999, 5_000_000, 5_001_000]);
        let s = summarize([&b].into_iter(), max, &[1.0]).expect("values");
        assert_eq!(s.max, Duration::from_micros(5_001_000));
        assert_eq!(s.p99, s.max);
        assert_eq!(s.quantiles[0].value, s.max);
    }

    #[test]
    fn slices_merge_and_empty_is_none() {
        let (a, _) = bins([1_000, 2_000]);
        let (b, max) = bins([3_000, 40_000_000, 90_000_000]);
        let s = summarize([&a, &b].into_iter(), max, &[]).expect("values");
        assert_eq!(s.count, 5);
        assert!(s.p50 >= Duration::from_millis(3) && s.p50 < Duration::from_micros(3_024));
        // The 90 s reply was counted as 60 s in the buckets; max stays exact.
        assert_eq!(s.max, Duration::from_secs(90));
        assert!(s.p99 <= Duration::from_micros(60_300_000));
        assert!(summarize([&LatencyBins::default()].into_iter(), Duration::ZERO, &[]).is_none());
    }
}
