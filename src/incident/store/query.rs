//! Reading the ledger: filtered incident lists, one incident's detail, the event feed the
//! alert outbox reads, and the open-incident counts per grade.

use super::row::{
    decode, event_from_row, event_grade, load_incident, parse_kind, parse_level, read_raw,
    INCIDENT_COLS,
};
use super::{IncidentStore, StoreError, StoreResult};
use crate::grading::{Level, ObjectKey};
use crate::incident::model::{
    Confirmation, GradeView, Incident, IncidentDetail, IncidentEvent, ListFilter, StateFilter,
    TimelineEntry, Timestamp,
};
use rusqlite::params;
use rusqlite::types::Value as SqlValue;
use std::collections::BTreeMap;

impl IncidentStore {
    /// Incidents matching `filter`, newest first.
    pub fn list(&self, filter: &ListFilter) -> StoreResult<Vec<Incident>> {
        let cols = if filter.without_evidence {
            INCIDENT_COLS.replacen(", evidence,", ", 'null',", 1)
        } else {
            INCIDENT_COLS.to_string()
        };
        let mut sql = format!("SELECT {cols} FROM incidents WHERE 1 = 1");
        let mut args: Vec<SqlValue> = Vec::new();
        match filter.state {
            StateFilter::Open => sql.push_str(" AND state = 'open'"),
            StateFilter::Resolved => sql.push_str(" AND state = 'resolved'"),
            StateFilter::All => {}
        }
        if let Some(since) = filter.since {
            sql.push_str(" AND (resolved_at IS NULL OR resolved_at >= ?)");
            args.push(SqlValue::Integer(to_i64(since)?));
        }
        if !filter.include_false_positive {
            sql.push_str(" AND false_positive IS NULL");
        }
        if !filter.include_drill {
            sql.push_str(" AND drill = 0");
        }
        sql.push_str(" ORDER BY id DESC");
        if let Some(limit) = filter.limit {
            sql.push_str(" LIMIT ?");
            args.push(SqlValue::Integer(i64::from(limit)));
        }
        let conn = self.lock();
        let mut stmt = conn.prepare(&sql)?;
        // Decoded row by row: the raw rows (JSON text) and the decoded ones never all coexist.
        let rows = stmt.query_map(rusqlite::params_from_iter(args), read_raw)?;
        rows.map(|r| decode(r?)).collect()
    }

    /// One incident with its timeline and confirmations; None if there is no such id (or it
    /// was pruned).
    pub fn get(&self, id: i64) -> StoreResult<Option<IncidentDetail>> {
        let conn = self.lock();
        let Some(incident) = load_incident(&conn, id)? else {
            return Ok(None);
        };
        let mut stmt = conn.prepare(
            "SELECT id, seq, type, at, grade, payload FROM incident_events
             WHERE incident_id = ?1 ORDER BY seq",
        )?;
        let raw = stmt
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut timeline = Vec::with_capacity(raw.len());
        for (eid, seq, kind, at, grade, payload) in raw {
            timeline.push(TimelineEntry {
                id: eid,
                seq,
                kind: parse_kind(&kind)?,
                at: Timestamp(at),
                grade: event_grade(grade.as_deref())?,
                payload: serde_json::from_str(&payload)?,
            });
        }
        let mut stmt = conn.prepare(
            "SELECT incident_id, object, level, by, at FROM confirmations
             WHERE incident_id = ?1 ORDER BY id",
        )?;
        let raw = stmt
            .query_map(params![id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, ObjectKey>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, u64>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let confirmations = raw
            .into_iter()
            .map(|(incident_id, object, level, by, at)| {
                Ok(Confirmation {
                    incident_id,
                    object,
                    level: GradeView(parse_level(&level, "confirmations.level")?),
                    by,
                    at: Timestamp(at),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(IncidentDetail {
            notifications: super::record::notifications(&conn, id)?,
            receipts: super::record::receipts(&conn, id)?,
            incident,
            timeline,
            confirmations,
            ack_overdue: false,
            time_to_resolve_s: None,
        }))
    }

    /// Events with an id above `after_id`, oldest first, at most `limit`, each with the snapshot
    /// taken when it was written. The alert outbox reads the ledger this way (cursor = last id
    /// it enqueued, kept in its own table), which makes delivery at-least-once even if the
    /// process dies between [`apply`](Self::apply) and handing its return value on.
    pub fn events_since(&self, after_id: i64, limit: u32) -> StoreResult<Vec<IncidentEvent>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, incident_id, seq, type, at, grade, payload, snapshot FROM incident_events
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let raw = stmt
            .query_map(params![after_id, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, u64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        raw.into_iter().map(event_from_row).collect()
    }

    /// Open incidents per current grade, every level present (zeros included) so the metric
    /// gauge never goes stale. False positives and drills are not counted.
    pub fn open_count_by_grade(&self) -> StoreResult<BTreeMap<Level, u64>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT grade, COUNT(*) FROM incidents
             WHERE state = 'open' AND false_positive IS NULL AND drill = 0 GROUP BY grade",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut out: BTreeMap<Level, u64> = Level::ALL.into_iter().map(|l| (l, 0)).collect();
        for (g, n) in rows {
            out.insert(parse_level(&g, "incidents.grade")?, n);
        }
        Ok(out)
    }
}

fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("time {v} out of range")))
}
