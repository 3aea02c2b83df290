//! The shape of a window: its length, its slices, and which latency figures it keeps exactly.

use super::bins::KEY_COUNT;
use super::seconds::whole_ms;
use super::slice::Slice;
use super::window::ServerStats;
use std::mem::size_of;
use std::time::Duration;

/// Most slices a ring may have. A window with more is cut into this many longer slices.
///
/// The config already refuses more than 8,640 ticks per window; this cap only keeps a
/// [`WindowSpec`] built by hand (say, 24 h in 1 ms slices) from allocating gigabytes.
pub const MAX_SLICES: usize = 86_400;

/// How a server's window is shaped. One spec serves every server of a daemon.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    /// Length of the sliding window that rates and quantiles are computed over (docs/matrix.md:
    /// 300 s). Rounded up to a whole number of slices.
    pub window: Duration,
    /// Length of one slice, the granularity at which records expire (the evaluation tick,
    /// 10 s). Used in whole milliseconds (at least 1 ms); see [`MAX_SLICES`].
    pub slice: Duration,
    /// Latency thresholds whose exceedances are counted exactly, not through the histogram
    /// (the matrix's "latency > 5 s"), so a reply of 5.000 s is never graded as over 5 s.
    pub latency_thresholds: Vec<Duration>,
    /// Latency quantiles reported besides p50/p90/p99, for rules that pick another quantile.
    /// Values outside `[0, 1]` are clamped; NaN is ignored.
    pub latency_quantiles: Vec<f64>,
}

impl Default for WindowSpec {
    fn default() -> Self {
        WindowSpec {
            window: Duration::from_secs(300),
            slice: Duration::from_secs(10),
            latency_thresholds: vec![Duration::from_secs(5)],
            latency_quantiles: Vec::new(),
        }
    }
}

impl WindowSpec {
    /// Number of slices in the ring: `window / slice` rounded up, at least 1, at most
    /// [`MAX_SLICES`].
    pub fn slices(&self) -> usize {
        self.geometry().1
    }

    /// Length of one slice in milliseconds as actually used (see [`WindowSpec::slice`] and
    /// [`MAX_SLICES`]).
    pub fn slice_ms(&self) -> u64 {
        self.geometry().0
    }

    /// `(slice_ms, slices)` after the rounding and caps described on the fields.
    pub(super) fn geometry(&self) -> (u64, usize) {
        let window_ms = whole_ms(self.window).max(1);
        let mut slice_ms = whole_ms(self.slice).max(1);
        let max = MAX_SLICES as u64;
        if window_ms.div_ceil(slice_ms) > max {
            slice_ms = window_ms.div_ceil(max);
        }
        let n = window_ms.div_ceil(slice_ms).clamp(1, max);
        (slice_ms, usize::try_from(n).unwrap_or(MAX_SLICES))
    }

    /// The most [`ServerStats::memory_bytes`] can report for a server with this spec: every
    /// slice holding every latency bucket (1 µs..60 s at 2 significant digits, 2,533 buckets,
    /// 4 bytes each). Reaching it takes thousands of successful probes per slice spread over
    /// the whole range; a realistic server uses a small fraction (see the module docs).
    ///
    /// The one excess it does not cover: a single bucket counting over 2^20 − 1 successful
    /// probes within one slice takes 4 more bytes per further 2^20 (over 100,000 probes a second
    /// to one server at the default slice, ten times the default per-server limit).
    pub fn worst_case_bytes(&self) -> usize {
        let n = self.slices();
        let t = self.latency_thresholds.len();
        size_of::<ServerStats>()
            + n * (size_of::<Slice>() + KEY_COUNT * size_of::<u32>() + t * size_of::<u32>())
            + t * size_of::<Duration>()
            + self.latency_quantiles.len() * size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_thirty_slices_of_ten_seconds() {
        let s = WindowSpec::default();
        assert_eq!((s.slices(), s.slice_ms()), (30, 10_000));
        assert_eq!(s.latency_thresholds, vec![Duration::from_secs(5)]);
    }

    #[test]
    fn odd_shapes_are_rounded_not_rejected() {
        let spec = |w: Duration, s: Duration| WindowSpec {
            window: w,
            slice: s,
            ..WindowSpec::default()
        };
        // Not a whole number of slices: rounded up.
        assert_eq!(
            spec(Duration::from_secs(25), Duration::from_secs(10)).slices(),
            3
        );
        // Slice longer than the window: one slice.
        assert_eq!(
            spec(Duration::from_secs(5), Duration::from_secs(10)).slices(),
            1
        );
        // Zero everything: one slice of 1 ms.
        let z = spec(Duration::ZERO, Duration::ZERO);
        assert_eq!((z.slices(), z.slice_ms()), (1, 1));
        // Too many slices: capped, and the slices get longer instead.
        let big = spec(Duration::from_secs(86_400 * 10), Duration::from_millis(1));
        assert_eq!((big.slices(), big.slice_ms()), (MAX_SLICES, 10_000));
        let huge = spec(Duration::MAX, Duration::MAX);
        assert_eq!(huge.slices(), 1);
    }

    #[test]
    fn worst_case_at_the_default_window() {
        let b = WindowSpec::default().worst_case_bytes();
        // 30 × (104 + 2,533 × 4 + 4) plus the struct and the threshold: about 300 KiB.
        assert!(b < 310 * 1024, "{b}");
        assert!(b > 30 * KEY_COUNT * 4, "{b}");
    }
}
