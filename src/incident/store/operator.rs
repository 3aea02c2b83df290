//! What people do to an incident: acknowledge it, resolve it by hand, confirm its impact,
//! mark it a false positive, record its cause; and the confirmations grading reads back.

use super::apply::write_events;
use super::row::{load_incident, parse_level};
use super::{required, IncidentStore, StoreError, StoreResult};
use crate::clock::UnixMillis;
use crate::grading::{Level, ObjectKey};
use crate::incident::model::{EventKind, GradeView, IncidentEvent, IncidentState, Timestamp};
use rusqlite::{params, OptionalExtension};
use serde_json::json;
use std::collections::HashMap;

impl IncidentStore {
    /// Records that `by` took the incident. Allowed on resolved incidents too (a late ack is
    /// still a fact). The first ack sets `acknowledged_at/by`; every ack is in the timeline.
    pub fn acknowledge(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
        now: UnixMillis,
    ) -> StoreResult<IncidentEvent> {
        let by = required("by", by)?;
        self.write(|tx| {
            let inc = load_incident(tx, id)?.ok_or(StoreError::NotFound(id))?;
            tx.execute(
                "UPDATE incidents SET acknowledged_at = COALESCE(acknowledged_at, ?2),
                     acknowledged_by = COALESCE(acknowledged_by, ?3), updated_at = ?2
                 WHERE id = ?1",
                params![id, now, by],
            )?;
            let payload = json!({ "by": by, "note": note });
            write_events(
                tx,
                id,
                now,
                &[(EventKind::Acknowledged, Some(inc.grade.0), payload)],
            )
            .and_then(first)
        })
    }

    /// Resolves an open incident by hand: the end of a drill, or an object removed from the
    /// config whose incident would otherwise stay open. Written as `incident.resolved` with
    /// `{"by", "reason", "manual": true}`. Conflict when it is not open.
    pub fn resolve_manually(
        &self,
        id: i64,
        by: &str,
        reason: &str,
        now: UnixMillis,
    ) -> StoreResult<IncidentEvent> {
        let by = required("by", by)?;
        self.write(|tx| {
            let inc = load_incident(tx, id)?.ok_or(StoreError::NotFound(id))?;
            if inc.state != IncidentState::Open {
                return Err(StoreError::Conflict(format!("incident {id} is not open")));
            }
            tx.execute(
                "UPDATE incidents SET state = 'resolved', resolved_at = ?2, clearing_since = NULL,
                     next_escalation = NULL, updated_at = ?2
                 WHERE id = ?1",
                params![id, now],
            )?;
            let payload = json!({ "by": by, "reason": reason, "manual": true });
            write_events(
                tx,
                id,
                now,
                &[(EventKind::Resolved, Some(inc.grade.0), payload)],
            )
            .and_then(first)
        })
    }

    /// Records that `by` confirmed the social impact behind the incident's candidate grade
    /// (docs/matrix.md: tier-1 institution stopped → I; tier-1 website stopped → III). Grading reads
    /// [`confirmations`](Self::confirmations) and promotes the candidate on its next tick, which
    /// then shows up as `incident.escalated`.
    ///
    /// Conflict when the incident is resolved, has no candidate grade, or was already
    /// confirmed at that level.
    pub fn confirm_impact(&self, id: i64, by: &str, now: UnixMillis) -> StoreResult<IncidentEvent> {
        let by = required("by", by)?;
        self.write(|tx| {
            let inc = load_incident(tx, id)?.ok_or(StoreError::NotFound(id))?;
            if inc.state == IncidentState::Resolved {
                return Err(StoreError::Conflict(format!(
                    "incident {id} is resolved; impact can only be confirmed while it is open"
                )));
            }
            let Some(GradeView(level)) = inc.candidate else {
                return Err(StoreError::Conflict(format!(
                    "incident {id} has no candidate grade awaiting confirmation (grade {})",
                    inc.grade.0.roman()
                )));
            };
            let prior: Option<(String, String, u64)> = tx
                .query_row(
                    "SELECT level, by, at FROM confirmations WHERE incident_id = ?1
                     ORDER BY id DESC LIMIT 1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            if let Some((lv, who, at)) = prior {
                if parse_level(&lv, "confirmations.level")? >= level {
                    return Err(StoreError::Conflict(format!(
                        "incident {id}: impact at level {} was already confirmed by {who} at {}",
                        level.roman(),
                        Timestamp(at).rfc3339()
                    )));
                }
            }
            tx.execute(
                "INSERT INTO confirmations (incident_id, object, level, by, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, inc.object, level.roman(), by, now],
            )?;
            tx.execute(
                "UPDATE incidents SET impact_confirmed_at = ?2, impact_confirmed_by = ?3,
                     updated_at = ?2 WHERE id = ?1",
                params![id, now, by],
            )?;
            let payload = json!({ "by": by, "level": level.roman() });
            write_events(
                tx,
                id,
                now,
                &[(EventKind::ImpactConfirmed, Some(level), payload)],
            )
            .and_then(first)
        })
    }

    /// The levels people confirmed, per object, for open incidents only (a new outage needs a
    /// new judgement). Grading takes this as its `confirmations` input.
    pub fn confirmations(&self) -> StoreResult<HashMap<ObjectKey, Level>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT c.object, c.level FROM confirmations c
             JOIN incidents i ON i.id = c.incident_id WHERE i.state = 'open' AND i.drill = 0",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, ObjectKey>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out: HashMap<ObjectKey, Level> = HashMap::new();
        for row in rows {
            let (object, lv) = row?;
            let lv = parse_level(&lv, "confirmations.level")?;
            let e = out.entry(object).or_insert(lv);
            *e = (*e).max(lv);
        }
        Ok(out)
    }

    /// Marks the incident a false positive with a reason (open or resolved). It stays in the
    /// ledger — hidden from default lists and from [`open_count_by_grade`](Self::open_count_by_grade)
    /// — and, if open, keeps following the object's grade so the record stays truthful.
    pub fn mark_false_positive(
        &self,
        id: i64,
        reason: &str,
        now: UnixMillis,
    ) -> StoreResult<IncidentEvent> {
        let reason = required("reason", reason)?;
        self.write(|tx| {
            let inc = load_incident(tx, id)?.ok_or(StoreError::NotFound(id))?;
            tx.execute(
                "UPDATE incidents SET false_positive = ?2, false_positive_at = ?3, updated_at = ?3
                 WHERE id = ?1",
                params![id, reason, now],
            )?;
            let payload = json!({ "reason": reason });
            write_events(
                tx,
                id,
                now,
                &[(EventKind::FalsePositive, Some(inc.grade.0), payload)],
            )
            .and_then(first)
        })
    }

    /// Records the root cause (replacing any earlier text; the timeline keeps every version).
    pub fn set_cause(&self, id: i64, text: &str, now: UnixMillis) -> StoreResult<IncidentEvent> {
        let text = required("cause", text)?;
        self.write(|tx| {
            let inc = load_incident(tx, id)?.ok_or(StoreError::NotFound(id))?;
            tx.execute(
                "UPDATE incidents SET cause = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, text, now],
            )?;
            let payload = json!({ "cause": text });
            write_events(
                tx,
                id,
                now,
                &[(EventKind::CauseSet, Some(inc.grade.0), payload)],
            )
            .and_then(first)
        })
    }
}

fn first(mut events: Vec<IncidentEvent>) -> StoreResult<IncidentEvent> {
    events
        .pop()
        .ok_or_else(|| StoreError::Corrupt("event was not written".into()))
}
