//! A share with its 95% Wilson score interval (docs/matrix.md, "What is measured").

use serde::Serialize;

/// The standard normal quantile for a two-sided 95% interval (Φ⁻¹(0.975)).
pub const Z_95: f64 = 1.959963984540054;

/// A share `num / den` with its 95% Wilson score interval.
///
/// Rate conditions are tested on the bounds, never on the point estimate, so that a handful of
/// probes cannot page anyone: "success < 50%" holds when `upper < 0.5`, "error > 0.1%" when
/// `lower > 0.001`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratio {
    /// The events counted (successes, or data errors).
    pub num: u64,
    /// The trials they are counted among (all probes, or checked replies).
    pub den: u64,
    /// `num / den`; `None` when `den == 0`, because there is no estimate without trials (and a
    /// `0.0` would read as "nothing succeeded").
    pub point: Option<f64>,
    /// Lower bound of the 95% Wilson interval; 0 when `den == 0`.
    pub lower: f64,
    /// Upper bound of the 95% Wilson interval; 1 when `den == 0`.
    pub upper: f64,
}

impl Ratio {
    /// The share `num / den` with its 95% Wilson interval. `num` above `den` is clamped to `den`
    /// (it cannot happen with counts taken from the same window, but must not produce a share
    /// above 1).
    pub fn new(num: u64, den: u64) -> Ratio {
        let num = num.min(den);
        let (lower, upper) = wilson_interval(num, den, Z_95);
        Ratio {
            num,
            den,
            point: (den > 0).then(|| num as f64 / den as f64),
            lower,
            upper,
        }
    }
}

/// The Wilson score interval for `successes` out of `n` trials at the normal quantile `z`
/// (use [`Z_95`] for 95%).
///
/// Returns `(lower, upper)`, both within `[0, 1]`. Edge cases, all without panicking:
/// - `n == 0`: `(0, 1)`, the interval that claims nothing;
/// - `successes > n`: treated as `successes == n`;
/// - `successes == 0` gives a lower bound of exactly 0 and `successes == n` an upper bound of
///   exactly 1 (the formula gives these up to rounding; rounding must not make "0 errors" look
///   like "some errors");
/// - a negative `z` is used as `|z|`; a `z` that is NaN or infinite gives `(0, 1)`.
pub fn wilson_interval(successes: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 || !z.is_finite() {
        return (0.0, 1.0);
    }
    let k = successes.min(n);
    let n_f = n as f64;
    let p = k as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z.abs() * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    let lower = if k == 0 {
        0.0
    } else {
        (centre - half).clamp(0.0, 1.0)
    };
    let upper = if k == n {
        1.0
    } else {
        (centre + half).clamp(0.0, 1.0)
    };
    (lower, upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    #[test]
    fn wilson_matches_published_values() {
        // Reference values: Wilson score interval, z = 1.96 (e.g. Newcombe 1998, table I;
        // any statistics package).
        let (lo, hi) = wilson_interval(0, 30, Z_95);
        assert_eq!(lo, 0.0);
        assert!(close(hi, 0.1135, 5e-5), "{hi}");

        let (lo, hi) = wilson_interval(15, 30, Z_95);
        assert!(close(lo, 0.3315, 5e-5), "{lo}");
        assert!(close(hi, 0.6685, 5e-5), "{hi}");

        let (lo, hi) = wilson_interval(30, 30, Z_95);
        assert!(close(lo, 0.8865, 5e-5), "{lo}");
        assert_eq!(hi, 1.0);

        // Newcombe's example 81/263.
        let (lo, hi) = wilson_interval(81, 263, Z_95);
        assert!(close(lo, 0.2553, 5e-5), "{lo}");
        assert!(close(hi, 0.3662, 5e-5), "{hi}");

        // 1 error in 1000 checked replies: the lower bound is well below 0.1%, so
        // "error > 0.1%" does not hold on this evidence.
        let (lo, _) = wilson_interval(1, 1000, Z_95);
        assert!(lo < 0.001);
    }

    #[test]
    fn wilson_edge_cases_never_panic() {
        assert_eq!(wilson_interval(0, 0, Z_95), (0.0, 1.0));
        assert_eq!(wilson_interval(5, 0, Z_95), (0.0, 1.0));
        assert_eq!(wilson_interval(7, 3, Z_95), wilson_interval(3, 3, Z_95));
        assert_eq!(wilson_interval(1, 2, f64::NAN), (0.0, 1.0));
        assert_eq!(wilson_interval(1, 2, f64::INFINITY), (0.0, 1.0));
        assert_eq!(wilson_interval(1, 2, -Z_95), wilson_interval(1, 2, Z_95));
        let (lo, hi) = wilson_interval(u64::MAX / 2, u64::MAX, Z_95);
        assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi) && lo <= hi);
        // z = 0 collapses the interval onto the point estimate.
        let (lo, hi) = wilson_interval(1, 4, 0.0);
        assert!(close(lo, 0.25, 1e-12) && close(hi, 0.25, 1e-12));
    }

    #[test]
    fn ratio_reports_point_and_bounds() {
        let r = Ratio::new(15, 30);
        assert_eq!(r.point, Some(0.5));
        assert!(close(r.lower, 0.3315, 5e-5) && close(r.upper, 0.6685, 5e-5));
        let empty = Ratio::new(0, 0);
        assert_eq!((empty.point, empty.lower, empty.upper), (None, 0.0, 1.0));
        assert_eq!(Ratio::new(9, 3).num, 3);
    }
}
