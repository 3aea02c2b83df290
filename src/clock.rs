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
