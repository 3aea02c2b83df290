//! The incident record of the incident-coordination circular (docs/records.md): the
//! troubleshooting result, the organisations involved, the report to the coordinating body
//! and its confirmation, the receivers' confirmations of receipt; and what the ledger already
//! knows read back per incident (the notifications the outbox delivered, the acknowledgement
//! against `ack_within`).
//!
//! Every write is one transaction that also writes a timeline event, like the operator's
//! actions in `operator.rs`; times a person gives (`at`) must lie between the incident's onset
//! and `now` (plus a minute of clock skew).

use super::apply::write_events;
use super::row::load_incident;
use super::{required, IncidentStore, StoreError, StoreResult};
use crate::clock::UnixMillis;
use crate::incident::model::{
    EventKind, Incident, IncidentDetail, IncidentEvent, Notification, Receipt, Timestamp,
};
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use std::time::Duration;

/// How far in the future a given time may be (the clocks of the person's machine and the
/// daemon's differ a little).
const SKEW_MS: u64 = 60_000;

impl IncidentStore {
    /// Records the troubleshooting result (replacing any earlier text; the timeline keeps
    /// every version).
    pub fn set_result(&self, id: i64, text: &str, now: UnixMillis) -> StoreResult<IncidentEvent> {
        let text = required("result", text)?;
        self.record_event(
            id,
            now,
            EventKind::ResultSet,
            json!({ "result": text }),
            |tx, _| {
                tx.execute(
                    "UPDATE incidents SET result = ?2, updated_at = ?3 WHERE id = ?1",
                    params![id, text, now],
                )?;
                Ok(())
            },
        )
    }

    /// Records the organisations involved (replacing the earlier list): trimmed, empty names
    /// dropped, duplicates dropped keeping the first; at least one is needed.
    pub fn set_organisations(
        &self,
        id: i64,
        organisations: &[String],
        now: UnixMillis,
    ) -> StoreResult<IncidentEvent> {
        let mut list: Vec<String> = Vec::new();
        for o in organisations
            .iter()
            .map(|o| o.trim())
            .filter(|o| !o.is_empty())
        {
            if !list.iter().any(|l| l == o) {
                list.push(o.to_string());
            }
        }
        if list.is_empty() {
            return Err(StoreError::Invalid(
                "organisations must name at least one organisation".into(),
            ));
        }
        let doc = serde_json::to_string(&list)?;
        let payload = json!({ "organisations": list });
        self.record_event(id, now, EventKind::OrganisationsSet, payload, |tx, _| {
            tx.execute(
                "UPDATE incidents SET organisations = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, doc, now],
            )?;
            Ok(())
        })
    }

    /// Records that `by` reported the incident to the coordinating body `to` at `at` (a
    /// later call corrects it; the timeline keeps both).
    pub fn report_to_coordinator(
        &self,
        id: i64,
        to: &str,
        by: &str,
        at: UnixMillis,
        now: UnixMillis,
    ) -> StoreResult<IncidentEvent> {
        let to = required("to", to)?;
        let by = required("by", by)?;
        let payload = json!({ "to": to, "by": by, "at": Timestamp(at) });
        self.record_event(id, now, EventKind::Reported, payload, |tx, inc| {
            given_time("at", at, inc.onset.0, now)?;
            tx.execute(
                "UPDATE incidents SET reported_at = ?2, reported_to = ?3, updated_at = ?4
                 WHERE id = ?1",
                params![id, at, to, now],
            )?;
            Ok(())
        })
    }

    /// Records that the coordinating body confirmed the report at `at` (`by`: who there, or
    /// who took the call). Conflict before a report is recorded; `at` may not precede it.
    pub fn coordinator_confirmed(
        &self,
        id: i64,
        by: &str,
        at: UnixMillis,
        now: UnixMillis,
    ) -> StoreResult<IncidentEvent> {
        let by = required("by", by)?;
        let payload = json!({ "by": by, "at": Timestamp(at) });
        self.record_event(
            id,
            now,
            EventKind::CoordinatorConfirmed,
            payload,
            |tx, inc| {
                let Some(reported) = inc.reported_at else {
                    return Err(StoreError::Conflict(format!(
                        "incident {id} has not been reported to the coordinating body yet"
                    )));
                };
                given_time("at", at, reported.0, now)?;
                tx.execute(
                "UPDATE incidents SET coordinator_confirmed_at = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, at, now],
            )?;
                Ok(())
            },
        )
    }

    /// Records that `organisation` confirmed it received a notification of the incident at
    /// `at` (`by`: who recorded it, optional).
    pub fn confirm_receipt(
        &self,
        id: i64,
        organisation: &str,
        by: Option<&str>,
        at: UnixMillis,
        now: UnixMillis,
    ) -> StoreResult<IncidentEvent> {
        let organisation = required("organisation", organisation)?;
        let by = by.map(str::trim).filter(|b| !b.is_empty());
        let payload = json!({ "organisation": organisation, "by": by, "at": Timestamp(at) });
        self.record_event(id, now, EventKind::ReceiptConfirmed, payload, |tx, inc| {
            given_time("at", at, inc.detected_at.0, now)?;
            tx.execute(
                "INSERT INTO notification_receipts (incident_id, organisation, at, by, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, organisation, at, by, now],
            )?;
            tx.execute(
                "UPDATE incidents SET updated_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            Ok(())
        })
    }

    /// One incident's detail as [`get`](Self::get) reads it, with `ack_overdue` judged at
    /// `now` against `ack_within` and the time to resolve derived.
    pub fn detail(
        &self,
        id: i64,
        now: UnixMillis,
        ack_within: Duration,
    ) -> StoreResult<Option<IncidentDetail>> {
        Ok(self.get(id)?.map(|mut d| {
            d.ack_overdue = d.incident.ack_overdue(now, ack_within);
            d.time_to_resolve_s = d.incident.time_to_resolve_s();
            d
        }))
    }

    /// Incidents (open or resolved; drills and false positives not counted) without an
    /// acknowledgement more than `ack_within` after their detection: the
    /// `dnsgrade_incidents_ack_overdue` gauge. A late acknowledgement takes an incident out.
    pub fn ack_overdue_count(&self, now: UnixMillis, ack_within: Duration) -> StoreResult<u64> {
        let within = u64::try_from(ack_within.as_millis()).unwrap_or(u64::MAX);
        let cutoff = i64::try_from(now.saturating_sub(within)).unwrap_or(i64::MAX);
        Ok(self.lock().query_row(
            "SELECT COUNT(*) FROM incidents WHERE acknowledged_at IS NULL AND drill = 0
                 AND false_positive IS NULL AND detected_at < ?1",
            params![cutoff],
            |r| r.get(0),
        )?)
    }

    /// Loads the incident, runs `change` on it, and writes `kind` with `payload` in the
    /// timeline, all in one transaction.
    fn record_event(
        &self,
        id: i64,
        now: UnixMillis,
        kind: EventKind,
        payload: Value,
        change: impl FnOnce(&Connection, &Incident) -> StoreResult<()>,
    ) -> StoreResult<IncidentEvent> {
        self.write(|tx| {
            let inc = load_incident(tx, id)?.ok_or(StoreError::NotFound(id))?;
            change(tx, &inc)?;
            let mut events = write_events(tx, id, now, &[(kind, Some(inc.grade.0), payload)])?;
            events
                .pop()
                .ok_or_else(|| StoreError::Corrupt("event was not written".into()))
        })
    }
}

/// A time a person gave: not before `earliest`, not after `now` (plus the skew).
fn given_time(
    what: &str,
    at: UnixMillis,
    earliest: UnixMillis,
    now: UnixMillis,
) -> StoreResult<()> {
    if at > now.saturating_add(SKEW_MS) {
        return Err(StoreError::Invalid(format!(
            "{what} {} is in the future",
            Timestamp(at).rfc3339()
        )));
    }
    if at < earliest {
        return Err(StoreError::Invalid(format!(
            "{what} {} is before {} (the incident's onset, detection or report)",
            Timestamp(at).rfc3339(),
            Timestamp(earliest).rfc3339()
        )));
    }
    Ok(())
}

/// The notifications of incident `id`: every delivery of its events, oldest event first,
/// then by sink.
pub(super) fn notifications(conn: &Connection, id: i64) -> StoreResult<Vec<Notification>> {
    let ledger: String = conn.query_row(
        "SELECT value FROM ledger_meta WHERE key = 'ledger_id'",
        [],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT d.sink, o.incident_event_id, o.type, o.at, d.state, d.attempts, d.last_status,
                d.last_error, d.done_at
         FROM outbox_delivery d JOIN outbox o ON o.id = d.outbox_id
         WHERE d.stream = ?1 ORDER BY o.id, d.sink",
    )?;
    let rows = stmt.query_map(params![super::outbox::incident_stream(id)], |r| {
        let state: String = r.get(4)?;
        let done: Option<u64> = r.get(8)?;
        Ok(Notification {
            sink: r.get(0)?,
            delivery_id: format!("{ledger}-ie-{}", r.get::<_, i64>(1)?),
            kind: r.get(2)?,
            event_at: Timestamp(r.get(3)?),
            attempts: r.get(5)?,
            last_status: r.get(6)?,
            last_error: r.get(7)?,
            delivered_at: done.filter(|_| state == "delivered").map(Timestamp),
            given_up_at: done.filter(|_| state == "given_up").map(Timestamp),
            state,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The receipts of incident `id`, in the order they were recorded.
pub(super) fn receipts(conn: &Connection, id: i64) -> StoreResult<Vec<Receipt>> {
    let mut stmt = conn.prepare_cached(
        "SELECT organisation, at, by, recorded_at FROM notification_receipts
         WHERE incident_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![id], |r| {
        Ok(Receipt {
            organisation: r.get(0)?,
            at: Timestamp(r.get(1)?),
            by: r.get(2)?,
            recorded_at: Timestamp(r.get(3)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
