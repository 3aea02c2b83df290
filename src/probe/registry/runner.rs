//! The registry probe loop of the daemon: every interval, one probe of each configured service
//! of one registry, concurrently; each result goes to a sink with the wall-clock time it was
//! taken (from the injected [`Clock`]). The loop owns no state: the daemon's sink records into
//! the [`super::RegistryHealthTracker`] and the metrics.

use super::{RegistryProbeResult, RegistryProbeSet};
use crate::clock::{Clock, UnixMillis};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Probes `set` every `interval` until `cancel`; a probe round never overlaps the next (a slow
/// round delays the next one instead of piling up connections). Each round's results go to
/// `sink` with the time the round started.
pub async fn run(
    set: RegistryProbeSet,
    interval: Duration,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
    mut sink: impl FnMut(UnixMillis, &RegistryProbeResult) + Send,
) {
    let mut iv = tokio::time::interval(interval.max(Duration::from_millis(10)));
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = iv.tick() => {}
        }
        let at = clock.now_ms();
        let results = tokio::select! {
            _ = cancel.cancelled() => return,
            r = set.probe_all() => r,
        };
        for r in &results {
            sink(at, r);
        }
    }
}
