//! The row codec: the columns of the `incidents` and `incident_events` tables and their
//! decoding into model types (damaged values become `StoreError::Corrupt`, never a panic).

use super::{StoreError, StoreResult};
use crate::grading::Level;
use crate::incident::model::{
    EventKind, GradeView, Incident, IncidentEvent, IncidentState, Timestamp,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

/// The `incidents` columns, in the order [`read_raw`] reads them.
pub(super) const INCIDENT_COLS: &str =
    "id, object, state, grade, max_grade, candidate, rule, reasons, \
    evidence, authority, next_escalation, onset, detected_at, clearing_since, acknowledged_at, \
    acknowledged_by, impact_confirmed_at, impact_confirmed_by, resolved_at, cause, \
    false_positive, false_positive_at, maintenance, drill, updated_at, result, organisations, \
    reported_at, reported_to, coordinator_confirmed_at";

/// The columns of an `incident_events` row: id, incident_id, seq, type, at, grade, payload,
/// snapshot.
pub(super) type EventRow = (i64, i64, i64, String, u64, Option<String>, String, String);

/// The `grade` column of an `incident_events` row.
pub(super) fn event_grade(grade: Option<&str>) -> StoreResult<Option<GradeView>> {
    Ok(grade
        .map(|g| parse_level(g, "incident_events.grade"))
        .transpose()?
        .map(GradeView))
}

/// Decodes one `incident_events` row.
pub(super) fn event_from_row(row: EventRow) -> StoreResult<IncidentEvent> {
    let (id, incident_id, seq, kind, at, grade, payload, snapshot) = row;
    let incident: Incident = serde_json::from_str(&snapshot)?;
    Ok(IncidentEvent {
        id,
        incident_id,
        seq,
        kind: parse_kind(&kind)?,
        at: Timestamp(at),
        grade: event_grade(grade.as_deref())?,
        payload: serde_json::from_str(&payload)?,
        drill: incident.drill,
        incident,
    })
}

pub(super) fn load_incident(conn: &Connection, id: i64) -> StoreResult<Option<Incident>> {
    conn.query_row(
        &format!("SELECT {INCIDENT_COLS} FROM incidents WHERE id = ?1"),
        params![id],
        read_raw,
    )
    .optional()?
    .map(decode)
    .transpose()
}

/// An incidents row as SQLite types; decoding into model types happens in [`decode`] so
/// damaged values become `StoreError::Corrupt` rather than a panic.
pub(super) struct RawIncident {
    id: i64,
    object: String,
    state: String,
    grade: String,
    max_grade: String,
    candidate: Option<String>,
    rule: Option<String>,
    reasons: String,
    evidence: String,
    authority: Option<String>,
    next_escalation: Option<String>,
    onset: u64,
    detected_at: u64,
    clearing_since: Option<u64>,
    acknowledged_at: Option<u64>,
    acknowledged_by: Option<String>,
    impact_confirmed_at: Option<u64>,
    impact_confirmed_by: Option<String>,
    resolved_at: Option<u64>,
    cause: Option<String>,
    false_positive: Option<String>,
    false_positive_at: Option<u64>,
    maintenance: bool,
    drill: bool,
    updated_at: u64,
    result: Option<String>,
    organisations: String,
    reported_at: Option<u64>,
    reported_to: Option<String>,
    coordinator_confirmed_at: Option<u64>,
}

pub(super) fn read_raw(r: &Row<'_>) -> rusqlite::Result<RawIncident> {
    Ok(RawIncident {
        id: r.get(0)?,
        object: r.get(1)?,
        state: r.get(2)?,
        grade: r.get(3)?,
        max_grade: r.get(4)?,
        candidate: r.get(5)?,
        rule: r.get(6)?,
        reasons: r.get(7)?,
        evidence: r.get(8)?,
        authority: r.get(9)?,
        next_escalation: r.get(10)?,
        onset: r.get(11)?,
        detected_at: r.get(12)?,
        clearing_since: r.get(13)?,
        acknowledged_at: r.get(14)?,
        acknowledged_by: r.get(15)?,
        impact_confirmed_at: r.get(16)?,
        impact_confirmed_by: r.get(17)?,
        resolved_at: r.get(18)?,
        cause: r.get(19)?,
        false_positive: r.get(20)?,
        false_positive_at: r.get(21)?,
        maintenance: r.get(22)?,
        drill: r.get(23)?,
        updated_at: r.get(24)?,
        result: r.get(25)?,
        organisations: r.get(26)?,
        reported_at: r.get(27)?,
        reported_to: r.get(28)?,
        coordinator_confirmed_at: r.get(29)?,
    })
}

pub(super) fn decode(r: RawIncident) -> StoreResult<Incident> {
    #[derive(serde::Deserialize)]
    struct Reasons {
        #[serde(default)]
        zh: Vec<String>,
        #[serde(default)]
        en: Vec<String>,
    }
    let reasons: Reasons = serde_json::from_str(&r.reasons)?;
    let ts = |v: Option<u64>| v.map(Timestamp);
    Ok(Incident {
        id: r.id,
        state: IncidentState::parse(&r.state).ok_or_else(|| {
            StoreError::Corrupt(format!("incidents.state: unknown {:?}", r.state))
        })?,
        grade: GradeView(parse_level(&r.grade, "incidents.grade")?),
        max_grade: GradeView(parse_level(&r.max_grade, "incidents.max_grade")?),
        candidate: r
            .candidate
            .as_deref()
            .map(|c| parse_level(c, "incidents.candidate"))
            .transpose()?
            .map(GradeView),
        object: r
            .object
            .parse()
            .map_err(|e: crate::config::ObjectKeyError| {
                StoreError::Corrupt(format!("incidents.object: {e}"))
            })?,
        rule: r.rule,
        reasons_zh: reasons.zh,
        reasons_en: reasons.en,
        evidence: serde_json::from_str(&r.evidence)?,
        authority: r
            .authority
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?,
        next_escalation: r
            .next_escalation
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?,
        onset: Timestamp(r.onset),
        detected_at: Timestamp(r.detected_at),
        clearing_since: ts(r.clearing_since),
        acknowledged_at: ts(r.acknowledged_at),
        acknowledged_by: r.acknowledged_by,
        impact_confirmed_at: ts(r.impact_confirmed_at),
        impact_confirmed_by: r.impact_confirmed_by,
        resolved_at: ts(r.resolved_at),
        cause: r.cause,
        false_positive: r.false_positive,
        false_positive_at: ts(r.false_positive_at),
        maintenance: r.maintenance,
        drill: r.drill,
        updated_at: Timestamp(r.updated_at),
        result: r.result,
        organisations: serde_json::from_str(&r.organisations)?,
        reported_at: ts(r.reported_at),
        reported_to: r.reported_to,
        coordinator_confirmed_at: ts(r.coordinator_confirmed_at),
    })
}

pub(super) fn parse_level(s: &str, column: &str) -> StoreResult<Level> {
    Level::from_roman(s)
        .ok_or_else(|| StoreError::Corrupt(format!("{column}: unknown grade {s:?}")))
}

pub(super) fn parse_kind(s: &str) -> StoreResult<EventKind> {
    EventKind::parse(s)
        .ok_or_else(|| StoreError::Corrupt(format!("incident_events.type: unknown {s:?}")))
}
