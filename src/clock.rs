//! The one place that reads the wall clock.
//!
//! Grading, statistics and incident clocks take time as a value (`UnixMillis`) that comes
//! from a [`Clock`]. The daemon uses [`SystemClock`]; tests use [`ManualClock`] and move it by
//! hand, so an hour-long condition is simulated in microseconds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Milliseconds since the Unix epoch, UTC.
pub type UnixMillis = u64;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> UnixMillis;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the single permitted wall-clock read
    fn now_ms(&self) -> UnixMillis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// Wall-clock time that follows tokio's clock from a fixed start: under
/// `tokio::time::pause()` the whole daemon — probe schedule, timeouts, ticks and grading —
/// runs in simulated time, so a test can play an hour of outage at the shipped defaults in
/// seconds. Cloning shares the same start.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: UnixMillis,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `base` now and moves with tokio's time.
    pub fn new(base: UnixMillis) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> UnixMillis {
        self.base
            .saturating_add(u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told to. Cloning shares the same time.
#[derive(Debug, Default, Clone)]
pub struct ManualClock {
    now: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: UnixMillis) -> Self {
        Self {
            now: Arc::new(AtomicU64::new(start)),
        }
    }

    /// Moves the clock forward by `ms`.
    pub fn advance_ms(&self, ms: u64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock to `at`.
    pub fn set_ms(&self, at: UnixMillis) {
        self.now.store(at, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> UnixMillis {
        self.now.load(Ordering::SeqCst)
    }
}

/// A clock read from a file holding Unix milliseconds, for end-to-end tests that drive the
/// real binary through simulated hours (`DNSGRADE_TEST_CLOCK_FILE`). Never for production: the
/// daemon logs a warning when it is in use. An unreadable file reads as the last good value.
#[derive(Debug)]
pub struct FileClock {
    path: std::path::PathBuf,
    last: AtomicU64,
}

impl FileClock {
    /// A clock reading `path`.
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        Self {
            path: path.into(),
            last: AtomicU64::new(0),
        }
    }
}

impl Clock for FileClock {
    fn now_ms(&self) -> UnixMillis {
        match std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            Some(v) => {
                self.last.store(v, Ordering::SeqCst);
                v
            }
            None => self.last.load(Ordering::SeqCst),
        }
    }
}

/// Parses an RFC 3339 time with any offset ("2026-11-22T10:00:00Z",
/// "2026-11-22T18:00:00+08:00", optional fraction) into Unix ms (UTC). Times before 1970 are
/// refused.
pub fn parse_rfc3339(s: &str) -> Option<UnixMillis> {
    let t: jiff::Timestamp = s.trim().parse().ok()?;
    u64::try_from(t.as_millisecond()).ok()
}

/// `ms` as RFC 3339 in UTC with milliseconds (`2026-12-01T00:00:00.000Z`), the form the ledger,
/// the API and the alerts write. UTC civil time is counted from the epoch (jiff's `Timestamp`
/// stops a day short of year 9999's end); times past 9999-12-31 are written as its last instant.
pub fn format_rfc3339(ms: UnixMillis) -> String {
    let epoch = jiff::civil::date(1970, 1, 1).at(0, 0, 0, 0);
    let t = i64::try_from(ms)
        .ok()
        .and_then(|ms| {
            epoch
                .checked_add(jiff::SignedDuration::from_millis(ms))
                .ok()
        })
        .unwrap_or(jiff::civil::DateTime::MAX);
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::{format_rfc3339, parse_rfc3339};

    #[test]
    fn formats_utc_with_milliseconds_and_reads_back() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(1_700_000_000_007),
            "2023-11-14T22:13:20.007Z"
        );
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        for ms in [0, 1_700_000_000_007, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)), Some(ms));
        }
        assert_eq!(format_rfc3339(u64::MAX), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn rfc3339_utc() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-22T10:00:00Z"),
            Some(1_795_341_600_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T10:00:00.250Z"),
            Some(1_795_341_600_250)
        );
        assert_eq!(parse_rfc3339("2026-13-22T10:00:00Z"), None);
        assert_eq!(
            parse_rfc3339("2026-11-22T18:00:00+08:00"),
            Some(1_795_341_600_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T10:00:00-00:30"),
            Some(1_795_343_400_000)
        );
        // A civil time without an offset names no instant.
        assert_eq!(parse_rfc3339("2026-11-22T10:00:00"), None);
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
