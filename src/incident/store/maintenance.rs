//! Maintenance windows: declaring and ending them, listing them, and whether an object is in
//! one.

use super::{required, IncidentStore, StoreError, StoreResult};
use crate::clock::UnixMillis;
use crate::incident::model::{MaintenanceWindow, Timestamp};
use rusqlite::{params, Connection, OptionalExtension};

impl IncidentStore {
    /// Declares planned work on `object` during `[starts, ends)`; returns the window's id.
    /// Incidents of the object are still recorded during it, flagged `maintenance`.
    pub fn declare_maintenance(
        &self,
        object: &str,
        starts: UnixMillis,
        ends: UnixMillis,
        reason: &str,
    ) -> StoreResult<i64> {
        let object = required("object", object)?;
        if ends <= starts {
            return Err(StoreError::Invalid(format!(
                "maintenance window ends ({}) at or before it starts ({})",
                Timestamp(ends).rfc3339(),
                Timestamp(starts).rfc3339()
            )));
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO maintenance_windows (object, starts, ends, reason)
                 VALUES (?1, ?2, ?3, ?4)",
                params![object, starts, ends, reason],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Ends a maintenance window now (or deletes it if it has not begun). Open incidents of the
    /// object lose their maintenance flag on the next [`apply`](Self::apply).
    pub fn end_maintenance(&self, id: i64, now: UnixMillis) -> StoreResult<()> {
        self.write(|tx| {
            let starts: u64 = tx
                .query_row(
                    "SELECT starts FROM maintenance_windows WHERE id = ?1",
                    params![id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or(StoreError::NotFound(id))?;
            if starts >= now {
                tx.execute("DELETE FROM maintenance_windows WHERE id = ?1", params![id])?;
            } else {
                tx.execute(
                    "UPDATE maintenance_windows SET ends = MIN(ends, ?2) WHERE id = ?1",
                    params![id, now],
                )?;
            }
            Ok(())
        })
    }

    /// Maintenance windows that have not ended at `now` (current and future), soonest first.
    pub fn maintenance_windows(&self, now: UnixMillis) -> StoreResult<Vec<MaintenanceWindow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, object, starts, ends, reason FROM maintenance_windows WHERE ends > ?1
             ORDER BY starts, id",
        )?;
        let rows = stmt.query_map(params![now], |r| {
            Ok(MaintenanceWindow {
                id: r.get(0)?,
                object: r.get(1)?,
                starts: Timestamp(r.get(2)?),
                ends: Timestamp(r.get(3)?),
                reason: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether `object` is in a declared maintenance window at `now`.
    pub fn in_maintenance(&self, object: &str, now: UnixMillis) -> StoreResult<bool> {
        in_maintenance(&self.lock(), object, now)
    }
}

pub(super) fn in_maintenance(
    conn: &Connection,
    object: &str,
    now: UnixMillis,
) -> StoreResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM maintenance_windows
                        WHERE object = ?1 AND starts <= ?2 AND ends > ?2)",
        params![object, now],
        |r| r.get(0),
    )?)
}
