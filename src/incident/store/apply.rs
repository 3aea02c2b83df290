//! The write path of grading: saving the condition clocks and applying each assessment's
//! lifecycle transitions to the incidents, with the events (and outbox rows) they cause.

use super::maintenance::in_maintenance;
use super::outbox;
use super::row::{decode, load_incident, read_raw, INCIDENT_COLS};
use super::{IncidentStore, StoreError, StoreResult};
use crate::clock::UnixMillis;
use crate::grading::{Assessment, ClockState, ConditionClocks, Level};
use crate::incident::lifecycle::{self, Next, Tracked, Transition};
use crate::incident::model::{EventKind, GradeView, IncidentEvent, NextEscalation, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::{json, Value};
use std::time::Duration;

impl IncidentStore {
    /// Saves `clocks` and applies every assessment's transitions, in ONE transaction, and
    /// returns the events written, each with the incident as it stood after them.
    ///
    /// Written before acted on: callers hand the returned events (or, better, the ledger via
    /// [`events_since`](Self::events_since)) to the alert outbox only after this returns, so a
    /// crash after the commit loses nothing and a crash before it changes nothing. With
    /// grading suspended (isolated vantage point) pass no assessments: the clocks are saved
    /// and open incidents are held as they are.
    pub fn apply(
        &self,
        assessments: &[Assessment],
        clocks: &ConditionClocks,
        now: UnixMillis,
        clear_after: Duration,
    ) -> StoreResult<Vec<IncidentEvent>> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let events = apply_in(&tx, self.drill, assessments, clocks, now, clear_after)?;
        tx.commit()?;
        Ok(events)
    }

    /// Applies drill assessments (plan section 6.3, 应急演练): the incidents they open are
    /// marked `drill`, kept apart from real ones (an object may have one open real incident and
    /// one open drill incident at once), and the condition clocks are left untouched.
    pub fn apply_drill(
        &self,
        assessments: &[Assessment],
        now: UnixMillis,
        clear_after: Duration,
    ) -> StoreResult<Vec<IncidentEvent>> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut events = Vec::new();
        for a in assessments {
            events.extend(apply_one(&tx, true, a, now, clear_after)?);
        }
        tx.commit()?;
        Ok(events)
    }

    /// The condition clocks as last saved, so a restart (even `kill -9`) resumes the same
    /// onsets.
    pub fn load_clocks(&self) -> StoreResult<ConditionClocks> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT key, onset, last_true FROM condition_clocks")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u64>(1)?,
                r.get::<_, u64>(2)?,
            ))
        })?;
        let mut clocks = ConditionClocks::new();
        for row in rows {
            let (key, onset, last_true) = row?;
            clocks.insert(key, ClockState { onset, last_true });
        }
        Ok(clocks)
    }
}

/// The body of [`IncidentStore::apply`], on an open transaction (separate so tests can drop
/// the transaction before commit, as a crash would).
pub(super) fn apply_in(
    conn: &Connection,
    drill: bool,
    assessments: &[Assessment],
    clocks: &ConditionClocks,
    now: UnixMillis,
    clear_after: Duration,
) -> StoreResult<Vec<IncidentEvent>> {
    conn.execute("DELETE FROM condition_clocks", [])?;
    {
        let mut ins = conn.prepare_cached(
            "INSERT INTO condition_clocks (key, onset, last_true) VALUES (?1, ?2, ?3)",
        )?;
        for (key, st) in clocks.iter() {
            ins.execute(params![key, st.onset, st.last_true])?;
        }
    }
    // Most objects are healthy with nothing open: one query finds the objects that have an
    // open incident, and only those and the graded ones are looked at one by one.
    let open: std::collections::HashSet<String> = {
        let mut st = conn
            .prepare_cached("SELECT object FROM incidents WHERE state = 'open' AND drill = ?1")?;
        let rows = st.query_map(params![drill], |r| r.get::<_, String>(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut events = Vec::new();
    for a in assessments {
        if a.grade.is_none() && !open.contains(a.object.as_str()) {
            continue;
        }
        events.extend(apply_one(conn, drill, a, now, clear_after)?);
    }
    Ok(events)
}

fn apply_one(
    conn: &Connection,
    drill: bool,
    a: &Assessment,
    now: UnixMillis,
    clear_after: Duration,
) -> StoreResult<Vec<IncidentEvent>> {
    let current = match conn
        .prepare_cached(&format!(
            "SELECT {INCIDENT_COLS} FROM incidents WHERE object = ?1 AND state = 'open' AND drill = ?2"
        ))?
        .query_row(params![a.object, drill], read_raw)
        .optional()?
    {
        Some(raw) => Some(decode(raw)?),
        None => None,
    };
    if current.is_none() && a.grade.is_none() {
        return Ok(Vec::new()); // the common case: healthy, nothing open
    }
    let tracked = current.as_ref().map(|i| Tracked {
        grade: i.grade.0,
        max_grade: i.max_grade.0,
        candidate: i.candidate.map(|c| c.0),
        onset: i.onset.0,
        clearing_since: i.clearing_since.map(Timestamp::ms),
        maintenance: i.maintenance,
    });
    let maintenance = in_maintenance(conn, &a.object, now)?;
    let step = lifecycle::step(tracked.as_ref(), a, now, clear_after, maintenance);

    let (t, resolved) = match step.next {
        Next::Nothing => return Ok(Vec::new()),
        Next::Open(t) => (t, false),
        Next::Resolved(t) => (t, true),
    };
    if step.transitions.is_empty() && !step.refresh_details {
        return Ok(Vec::new()); // e.g. still clearing: nothing new to write
    }
    let id = match &current {
        None => insert_incident(conn, drill, a, &t, now)?,
        Some(inc) => {
            update_incident(conn, inc.id, a, &t, step.refresh_details, resolved, now)?;
            inc.id
        }
    };
    let evs: Vec<(EventKind, Option<Level>, Value)> =
        step.transitions.iter().map(|tr| event_of(tr, &t)).collect();
    write_events(conn, id, now, &evs)
}

fn event_of(tr: &Transition, t: &Tracked) -> (EventKind, Option<Level>, Value) {
    let g = |l: Option<Level>| l.map(Level::roman);
    match *tr {
        Transition::Opened { grade } => (EventKind::Opened, Some(grade), json!({})),
        Transition::Escalated { from, to } => (
            EventKind::Escalated,
            Some(to),
            json!({ "from": from.roman(), "to": to.roman() }),
        ),
        Transition::Deescalated { from, to } => (
            EventKind::Deescalated,
            Some(to),
            json!({ "from": from.roman(), "to": to.roman() }),
        ),
        Transition::CandidateChanged { from, to } => (
            EventKind::CandidateChanged,
            to,
            json!({ "from": g(from), "to": g(to) }),
        ),
        Transition::Clearing { since, resolves_at } => (
            EventKind::Clearing,
            None,
            json!({ "since": Timestamp(since), "resolves_at": Timestamp(resolves_at) }),
        ),
        Transition::Recurred {
            grade,
            clearing_since,
        } => (
            EventKind::Recurred,
            Some(grade),
            json!({ "clearing_since": Timestamp(clearing_since) }),
        ),
        Transition::MaintenanceStarted => (EventKind::MaintenanceStarted, Some(t.grade), json!({})),
        Transition::MaintenanceEnded => (EventKind::MaintenanceEnded, Some(t.grade), json!({})),
        Transition::Resolved { clearing_since } => (
            EventKind::Resolved,
            Some(t.grade),
            json!({ "clearing_since": Timestamp(clearing_since), "max_grade": t.max_grade.roman() }),
        ),
    }
}

/// The JSON columns that come from an assessment.
struct Details {
    reasons: String,
    evidence: String,
    authority: Option<String>,
    next_escalation: Option<String>,
}

fn details(a: &Assessment) -> StoreResult<Details> {
    let next = a.next_escalation.map(|e| NextEscalation {
        grade: GradeView(e.grade),
        at: Timestamp(e.at),
    });
    Ok(Details {
        reasons: serde_json::to_string(&json!({ "zh": a.reasons_zh, "en": a.reasons_en }))?,
        evidence: serde_json::to_string(&a.evidence)?,
        authority: a
            .authority
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
        next_escalation: next.as_ref().map(serde_json::to_string).transpose()?,
    })
}

fn insert_incident(
    conn: &Connection,
    drill: bool,
    a: &Assessment,
    t: &Tracked,
    now: UnixMillis,
) -> StoreResult<i64> {
    let d = details(a)?;
    conn.execute(
        "INSERT INTO incidents (object, state, grade, max_grade, candidate, rule, reasons, evidence,
             authority, next_escalation, onset, detected_at, maintenance, drill, updated_at)
         VALUES (?1, 'open', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?11)",
        params![
            a.object,
            t.grade.roman(),
            t.max_grade.roman(),
            t.candidate.map(Level::roman),
            a.rule,
            d.reasons,
            d.evidence,
            d.authority,
            d.next_escalation,
            t.onset,
            now,
            t.maintenance,
            drill,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

fn update_incident(
    conn: &Connection,
    id: i64,
    a: &Assessment,
    t: &Tracked,
    refresh: bool,
    resolved: bool,
    now: UnixMillis,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE incidents SET grade = ?2, max_grade = ?3, candidate = ?4, onset = ?5,
             clearing_since = ?6, maintenance = ?7, updated_at = ?8,
             state = CASE WHEN ?9 THEN 'resolved' ELSE state END,
             resolved_at = CASE WHEN ?9 THEN ?8 ELSE resolved_at END
         WHERE id = ?1",
        params![
            id,
            t.grade.roman(),
            t.max_grade.roman(),
            t.candidate.map(Level::roman),
            t.onset,
            t.clearing_since,
            t.maintenance,
            now,
            resolved,
        ],
    )?;
    if refresh {
        let d = details(a)?;
        conn.execute(
            "UPDATE incidents SET rule = ?2, reasons = ?3, evidence = ?4, authority = ?5,
                 next_escalation = ?6 WHERE id = ?1",
            params![
                id,
                a.rule,
                d.reasons,
                d.evidence,
                d.authority,
                d.next_escalation
            ],
        )?;
    } else if a.grade.is_none() {
        // Without a grade nothing is escalating: a stale "level II at 14:05" would mislead.
        conn.execute(
            "UPDATE incidents SET next_escalation = NULL WHERE id = ?1",
            params![id],
        )?;
    }
    Ok(())
}

/// Appends events to an incident's timeline, each with the incident's snapshot after the
/// change that caused them (all events of one call happen at the same instant).
pub(super) fn write_events(
    conn: &Connection,
    incident_id: i64,
    at: UnixMillis,
    evs: &[(EventKind, Option<Level>, Value)],
) -> StoreResult<Vec<IncidentEvent>> {
    if evs.is_empty() {
        return Ok(Vec::new());
    }
    let incident = load_incident(conn, incident_id)?.ok_or(StoreError::NotFound(incident_id))?;
    let snapshot = serde_json::to_string(&incident)?;
    let mut seq: i64 = conn.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM incident_events WHERE incident_id = ?1",
        params![incident_id],
        |r| r.get(0),
    )?;
    let mut out = Vec::with_capacity(evs.len());
    let mut ins = conn.prepare_cached(
        "INSERT INTO incident_events (incident_id, seq, type, at, grade, payload, snapshot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (kind, grade, payload) in evs {
        seq += 1;
        ins.execute(params![
            incident_id,
            seq,
            kind.as_str(),
            at,
            grade.map(Level::roman),
            serde_json::to_string(payload)?,
            snapshot,
        ])?;
        let event_id = conn.last_insert_rowid();
        if let Some(kind_name) = kind.webhook_type() {
            // Same transaction as the event: the outbox can never miss a delivered kind.
            conn.prepare_cached(
                "INSERT INTO outbox (incident_event_id, stream, type, at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                event_id,
                outbox::incident_stream(incident_id),
                kind_name,
                at
            ])?;
        }
        out.push(IncidentEvent {
            id: event_id,
            incident_id,
            seq,
            kind: *kind,
            at: Timestamp(at),
            grade: grade.map(GradeView),
            payload: payload.clone(),
            incident: incident.clone(),
            drill: incident.drill,
        });
    }
    Ok(out)
}
