//! Exponential backoff with jitter for delivery retries.

use rand::Rng;
use std::time::Duration;

/// Why a backoff cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackoffError {
    /// The first delay is zero.
    #[error("the initial retry delay must be above zero")]
    ZeroInitial,
    /// The cap is below the first delay.
    #[error("the maximum retry delay {max:?} is below the initial one {initial:?}")]
    MaxBelowInitial {
        /// The initial delay.
        initial: Duration,
        /// The cap.
        max: Duration,
    },
}

/// Retry delays: after the n-th failure the ceiling is `initial · 2^(n-1)`, capped at `max`,
/// and the delay is drawn uniformly from `[ceiling / 2, ceiling]` ("equal jitter"): retries
/// of many deliveries spread out instead of arriving at a recovering receiver at once, and
/// no retry comes sooner than half the ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
}

/// The delivery default: 1 s, doubling, at most 5 min.
pub const DEFAULT_BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(300),
};

impl Backoff {
    /// A backoff from `initial` doubling up to `max`.
    pub fn try_new(initial: Duration, max: Duration) -> Result<Self, BackoffError> {
        if initial.is_zero() {
            return Err(BackoffError::ZeroInitial);
        }
        if max < initial {
            return Err(BackoffError::MaxBelowInitial { initial, max });
        }
        Ok(Self { initial, max })
    }

    /// The ceiling after `failures` failures (1 = the first failure).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(32);
        self.initial
            .checked_mul(1u32 << shift.min(31))
            .map_or(self.max, |d| d.min(self.max))
    }

    /// The delay before the next attempt after `failures` failures, jittered.
    pub fn delay(&self, failures: u32, rng: &mut impl Rng) -> Duration {
        let c = self.ceiling(failures);
        let half = c / 2;
        let span = (c - half).as_millis() as u64;
        half + Duration::from_millis(rng.random_range(0..=span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn delays_double_up_to_the_cap_and_stay_within_the_jitter_bounds() {
        let b = DEFAULT_BACKOFF;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut prev_ceiling = Duration::ZERO;
        for failures in 1..=40 {
            let c = b.ceiling(failures);
            assert!(c >= prev_ceiling, "ceilings never shrink");
            assert!(c <= Duration::from_secs(300), "capped at 5 min");
            if failures <= 9 {
                assert_eq!(c, Duration::from_secs(1 << (failures - 1)));
            } else {
                assert_eq!(c, Duration::from_secs(300));
            }
            for _ in 0..200 {
                let d = b.delay(failures, &mut rng);
                assert!(
                    d >= c / 2 && d <= c,
                    "{failures}: {d:?} outside [{:?}, {c:?}]",
                    c / 2
                );
            }
            prev_ceiling = c;
        }
    }

    #[test]
    fn jitter_actually_spreads_the_delays() {
        let b = DEFAULT_BACKOFF;
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let ds: std::collections::BTreeSet<Duration> =
            (0..100).map(|_| b.delay(6, &mut rng)).collect();
        assert!(
            ds.len() > 50,
            "100 draws give many distinct delays: {}",
            ds.len()
        );
        let lo = ds.iter().next().copied().unwrap_or_default();
        let hi = ds.iter().last().copied().unwrap_or_default();
        assert!(
            hi - lo > Duration::from_secs(10),
            "spread over the [16 s, 32 s] range"
        );
    }

    #[test]
    fn constructor_checks_its_values() {
        assert_eq!(
            Backoff::try_new(Duration::ZERO, Duration::from_secs(1)),
            Err(BackoffError::ZeroInitial)
        );
        assert!(Backoff::try_new(Duration::from_secs(2), Duration::from_secs(1)).is_err());
        let b = Backoff::try_new(Duration::from_millis(100), Duration::from_millis(100)).unwrap();
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(100));
    }
}
