//! Per-server statistics over a sliding window of time slices (docs/matrix.md, "What is measured").
//!
//! # Design
//!
//! Every server address has a [`ServerStats`]: a ring of `n = window / slice` slices (30 × 10 s
//! by default). Slice `id` holds the probes *sent* in `[id · slice, (id + 1) · slice)`, in
//! slot `id mod n`; slices are aligned to the Unix epoch, so they do not depend on when the
//! daemon started. A slice keeps:
//!
//! - probe counts by [`crate::probe::Outcome`], and the checked / missing / wrong data
//!   verdicts;
//! - for successful probes with a round-trip time: how many, the exact maximum, an exact count
//!   over each configured latency threshold (the matrix's "> 5 s" must not go through a
//!   histogram bucket), and a *sparse* HDR histogram (`bins.rs`: only the buckets hit, 4 bytes
//!   each).
//!
//! Results arrive out of order (a timeout reports 10 s after a fast reply sent later), so
//! [`ServerStats::record`] takes the send time and drops into whichever slice it belongs to.
//! Only a result whose slice has already left the window is dropped, and counted. Each slot
//! remembers its slice id; a reader counts only the slots whose id is inside the window it
//! reads, and a record that reuses a slot resets it first. Expiry is therefore lazy and O(1):
//! nothing walks the slices of a gap, however long.
//!
//! [`ServerStats::snapshot`] sums the live slices into a [`WindowSnapshot`]: samples, counts
//! by outcome, the success ratio and data error ratio with 95% Wilson intervals ([`Ratio`]),
//! exact slow counts ([`SlowCount`]), and a [`LatencySummary`] whose quantiles come from merging
//! the sparse slices into one scratch [`hdrhistogram::Histogram`] (1 µs..60 s, 2 significant
//! digits) for the duration of the call. A snapshot is a plain value, so grading it is pure.
//!
//! # Time semantics
//!
//! - The window read at `now` is the `n` slices up to and including the one holding `now`, so
//!   it spans between `window − slice` and `window` back from `now` (every probe counted was
//!   sent in `(now − window, now]`; [`WindowSnapshot::window_start`] says where it starts).
//! - [`ServerStats::recent`] does the same over a shorter span (for "stopped": no success in
//!   the last 60 s with at least 5 attempts), also slice granular.
//! - [`ServerStats::last_success`] is exact to the millisecond and covers all time.
//! - The newest slice recorded is the reference for "too late". A send time from the future
//!   (or a wall clock stepped back after some probes were sent) therefore makes the following records count as late, and
//!   be dropped, until the clock catches up; `late_dropped` shows it.
//! - Probes in flight at `now` have not reported yet, and failures (timeouts) report last: the
//!   newest slice of a window under-counts timeouts until the probe timeout has passed.
//!
//! # Memory
//!
//! A slice is 104 bytes plus its latency buckets; the ring is allocated once, the buckets grow
//! with the distinct latencies seen (doubling, capped at one entry per bucket). Measured by
//! `memory_at_the_default_window_stays_small` (default window: 30 × 10 s, one threshold;
//! successful probes with latencies spread log-uniformly over 2–300 ms):
//!
//! | probes per second | [`ServerStats::memory_bytes`] |
//! |---|---|
//! | 1 | 5,320 B (5.2 KiB) |
//! | 10 | 18,760 B (18.3 KiB) |
//! | 100 (the default per-server rate limit) | 126,280 B (123.3 KiB) |
//!
//! Worst case, [`WindowSpec::worst_case_bytes`]: every slice holding all 2,533 buckets,
//! 30 × (104 + 2,533 × 4 + 4) + 160 (the struct and its threshold) = 307,360 B (300.2 KiB) at the default window, the size
//! of one dense histogram with 4-byte counters per slice (a test fills every bucket of every
//! slice and reaches exactly this). A slice never holds more buckets than it has successful
//! probes, so a server probed at most `r` times a second stays at or below
//! 30 × (104 + 4 · c + 4) + 160 bytes, `c` being `10 · r` rounded up to a power of two (at
//! least 4, at most 2,533): 123.3 KiB at the default limit of 100/s. The only excess over the worst case
//! is 4 bytes per 2^20 successful probes in a single bucket of a single slice (see `bins.rs`).
//!
//! # Serialization
//!
//! Every snapshot type derives [`serde::Serialize`]: durations as seconds (`f64`), instants as
//! Unix milliseconds, outcome counts as an object keyed by outcome label.

mod bins;
mod latency;
mod ratio;
mod seconds;
mod slice;
mod snapshot;
mod spec;
pub mod store;
mod trend;
mod window;

pub use latency::{LatencySummary, QuantileValue};
pub use ratio::{wilson_interval, Ratio, Z_95};
pub use snapshot::{RecentCounts, SlowCount, WindowSnapshot};
pub use spec::{WindowSpec, MAX_SLICES};
pub use store::{NewestSerial, PeerAnswers, ServerEntry, StatsStore, STOP_MIN_PROBES};
pub use trend::{Trend, Trends, TREND_MINUTES};
pub use window::ServerStats;
