//! Retention: deleting what is older than the retention period (never an open incident).

use super::{IncidentStore, StoreResult};
use crate::clock::UnixMillis;
use crate::grading::millis;
use rusqlite::params;
use std::time::Duration;

/// What [`IncidentStore::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    /// Resolved incidents (with their events and confirmations).
    pub incidents: usize,
    /// Maintenance windows that ended before the cut-off.
    pub maintenance_windows: usize,
}

impl IncidentStore {
    /// Deletes resolved incidents (with their events, confirmations and alert outbox rows)
    /// resolved more than `retain` before `now` (default policy: 365 days), maintenance
    /// windows that ended before then, and older monitor events but the newest. Open
    /// incidents are never deleted, however old.
    pub fn prune(&self, retain: Duration, now: UnixMillis) -> StoreResult<Pruned> {
        let cutoff = now.saturating_sub(millis(retain));
        self.write(|tx| {
            let incidents = tx.execute(
                "DELETE FROM incidents WHERE state = 'resolved' AND resolved_at < ?1",
                params![cutoff],
            )?;
            let maintenance_windows = tx.execute(
                "DELETE FROM maintenance_windows WHERE ends < ?1",
                params![cutoff],
            )?;
            // Monitor events age out too (their outbox rows and deliveries go with them), but
            // the newest one stays: it is the persisted isolation state.
            tx.execute(
                "DELETE FROM monitor_events WHERE at < ?1
                     AND id <> (SELECT MAX(id) FROM monitor_events)",
                params![cutoff],
            )?;
            Ok(Pruned {
                incidents,
                maintenance_windows,
            })
        })
    }
}
