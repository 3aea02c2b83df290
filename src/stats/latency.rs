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

thread_local! {
    /// An empty histogram, for its bucket arithmetic only (lowest/highest equivalent values).
    static TEMPLATE: Option<Histogram<u64>> = scratch();
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
    // entry).
    let mut merged = vec![0_u64; KEY_COUNT];
    let mut total = 0_u64;
    for bins in slices {
        for (key, n) in bins.iter() {
            if let Some(c) = merged.get_mut(usize::from(key)) {
                *c += u64::from(n);
                total = total.saturating_add(u64::from(n));
            }
        }
    }
    if total == 0 {
        return None;
    }
    // The keys are the indices of the scratch histogram's counts, so the merged array is that
    // histogram's content: read its quantiles directly, by hdrhistogram's own rule (the first
    // index whose cumulative count reaches ⌈q·n⌉, at least 1; that bucket's highest
    // equivalent value, its lowest for q = 0), all of them in one walk, without building and
    // filling a histogram for every snapshot. `quantiles_match_hdrhistogram` checks the
    // equivalence.
    let asked: Vec<f64> = [0.5, 0.9, 0.99]
        .into_iter()
        .chain(extra.iter().copied())
        .map(|q| q.min(1.0))
        .collect();
    let mut order: Vec<(u64, usize)> = asked
        .iter()
        .enumerate()
        .map(|(slot, &q)| (((q * total as f64).ceil() as u64).max(1), slot))
        .collect();
    order.sort_unstable();
    let mut index = vec![KEY_COUNT - 1; asked.len()];
    let (mut cum, mut next) = (0_u64, 0_usize);
    for (i, &n) in merged.iter().enumerate() {
        if n == 0 {
            continue;
        }
        cum = cum.saturating_add(n);
        while let Some(&(target, slot)) = order.get(next) {
            if cum < target {
                break;
            }
            index[slot] = i;
            next += 1;
        }
        if next == order.len() {
            break;
        }
    }
    let value = |slot: usize| -> Duration {
        let v = micros_for_key(u16::try_from(index[slot]).unwrap_or(u16::MAX));
        let us = TEMPLATE.with(|h| match h {
            Some(h) if asked[slot] == 0.0 => h.lowest_equivalent(v),
            Some(h) => h.highest_equivalent(v),
            None => v,
        });
        Duration::from_micros(us.min(HIGHEST_US)).min(max)
    };
    Some(LatencySummary {
        count: total,
        p50: value(0),
        p90: value(1),
        p99: value(2),
        max,
        quantiles: extra
            .iter()
            .enumerate()
            .map(|(i, &q)| QuantileValue {
                q,
                value: value(3 + i),
            })
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
    fn quantiles_match_hdrhistogram() {
        // Log-spread latencies, a few repeated, over several slices: every quantile read from
        // the merged buckets equals what a filled hdrhistogram says.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut slices = Vec::new();
        let mut reference = scratch().expect("histogram");
        let mut max = Duration::ZERO;
        for _ in 0..7 {
            let mut values = Vec::new();
            for _ in 0..300 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let us = 1 + (state % 1_000_000_000) / (1 + state % 997 * 1_000);
                values.push(us.min(HIGHEST_US));
            }
            let (b, m) = bins(values.iter().copied());
            for &v in &values {
                reference
                    .record(micros_for_key(super::super::bins::key_for_micros(v)))
                    .expect("in range");
            }
            max = max.max(m);
            slices.push(b);
        }
        let qs = [0.0, 0.001, 0.25, 0.333, 0.5, 0.9, 0.99, 0.999, 1.0];
        let s = summarize(slices.iter(), max, &qs).expect("values");
        assert_eq!(s.count, reference.len());
        for v in &s.quantiles {
            let want =
                Duration::from_micros(reference.value_at_quantile(v.q).min(HIGHEST_US)).min(max);
            assert_eq!(v.value, want, "q = {}", v.q);
        }
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
