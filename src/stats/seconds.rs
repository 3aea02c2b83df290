//! How the snapshot types put a [`Duration`] on the wire: as seconds, an `f64`.
//!
//! Seconds are what Prometheus and the MATRIX use ("latency > 5 s"), and a bare number is easier
//! for API clients than serde's default `{secs, nanos}` pair. An `f64` carries a latency to well
//! under a nanosecond, so nothing a DNS probe measures is lost.

use serde::Serializer;
use std::time::Duration;

/// Serializes `d` as seconds (`f64`).
pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Clamps a duration to whole milliseconds in a `u64` (rounding down), the unit of
/// [`crate::clock::UnixMillis`].
pub(super) fn whole_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct T {
        #[serde(serialize_with = "serialize")]
        d: Duration,
    }

    #[test]
    fn durations_are_seconds() {
        let j = serde_json::to_string(&T {
            d: Duration::from_millis(5_001),
        })
        .expect("json");
        assert_eq!(j, r#"{"d":5.001}"#);
    }

    #[test]
    fn whole_ms_rounds_down_and_saturates() {
        assert_eq!(whole_ms(Duration::from_micros(1_999)), 1);
        assert_eq!(whole_ms(Duration::MAX), u64::MAX);
    }
}
