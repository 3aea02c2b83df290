//! Incidents: condition clocks, the incident lifecycle, and the SQLite ledger that records
//! both.
//!
//! Grading says, every tick, what grade each object has ([`crate::grading::Assessment`]). This
//! module turns that stream into incidents people can work with — one per object's run of
//! trouble — and writes every transition down before anyone acts on it.
//!
//! ## Parts
//!
//! - [`ConditionClocks`] (grading's, re-exported): how long each condition has held, kept
//!   through blips shorter than `clear_after`. Grading reads and advances them; the store
//!   persists them with the incidents they explain.
//! - [`lifecycle`] (pure): the state machine. One open incident per object. A grade opens an
//!   incident; a different grade escalates or de-escalates it (the maximum is kept); losing the
//!   grade starts *clearing*, and only `clear_after` (default 300 s) without any grade resolves
//!   it. A grade that returns within `clear_after` continues the same incident, so a flapping
//!   object never opens an incident per tick. Candidate grades (awaiting a person's
//!   confirmation of social impact) and maintenance windows are tracked on the incident.
//! - [`IncidentStore`] (`store.rs`): the ledger in SQLite.
//! - `model.rs`: what the ledger returns (all `Serialize`; times as
//!   `{"ms": …, "rfc3339": "…Z"}`).
//!
//! ## Events
//!
//! Every transition is an [`IncidentEvent`] in the incident's timeline. Six kinds are the
//! webhook event types of the README, "Alerts" (`incident.opened|escalated|deescalated|resolved|
//! impact_confirmed|acknowledged`, see [`EventKind::webhook_type`]); the others
//! (`candidate_changed`, `clearing`, `recurred`, `maintenance_started|ended`,
//! `false_positive`, `cause_set`, `result_set`, `organisations_set`, `reported`,
//! `coordinator_confirmed`, `receipt_confirmed`) are kept in the timeline only. Each event carries the
//! incident as it stood right after it, so a delivery made hours later still says what was
//! true then. Event ids are ledger-wide, increasing and never reused (AUTOINCREMENT): the
//! alert outbox uses them as idempotency keys and as its read cursor
//! ([`IncidentStore::events_since`]).
//!
//! ## Schema (version 4, `PRAGMA user_version`)
//!
//! ```text
//! incidents           id PK AUTOINCREMENT, object, state open|resolved, grade, max_grade,
//!                     candidate, rule, reasons {"zh":[…],"en":[…]}, evidence [ServerEvidence…],
//!                     authority {…}, next_escalation {grade, at}, onset, detected_at,
//!                     clearing_since, acknowledged_at/_by, impact_confirmed_at/_by,
//!                     resolved_at, cause, false_positive (reason), false_positive_at,
//!                     maintenance 0|1, drill 0|1, updated_at, result, organisations [..],
//!                     reported_at, reported_to, coordinator_confirmed_at
//!                     UNIQUE (object) WHERE state = 'open'; CHECK open ⇔ resolved_at IS NULL
//! incident_events     id PK AUTOINCREMENT, incident_id → incidents ON DELETE CASCADE,
//!                     seq (1, 2, … per incident; UNIQUE with incident_id), type, at, grade,
//!                     payload {…}, snapshot (the incident after the event)
//! condition_clocks    key PK, onset, last_true
//! confirmations       id, incident_id → incidents ON DELETE CASCADE, object, level, by, at
//! maintenance_windows id, object, starts (incl.), ends (excl.), reason; CHECK ends > starts
//! ledger_meta         key PK, value (ledger_id: random, prefixes every alert delivery id)
//! monitor_events      id PK AUTOINCREMENT, type monitor.isolated|recovered, at, payload
//! outbox, outbox_cursor, outbox_delivery: the alert outbox, see crate::alert
//! notification_receipts id, incident_id → incidents ON DELETE CASCADE, organisation, at, by,
//!                     recorded_at
//! ```
//!
//! Version 2 made the one-open-incident index per (object, drill); version 3 added the alert
//! outbox and monitor events; version 4 the record of the incident-coordination circular
//! (docs/records.md): result, organisations, the report to the coordinating body and its
//! confirmation, receipts.
//!
//! Grades are stored as roman numerals (`I` … `IV`), times as Unix milliseconds (INTEGER),
//! documents as JSON text. Migrations are an append-only list; opening runs the missing ones,
//! each in its own transaction, and a file from a newer dnsgrade is refused
//! ([`StoreError::SchemaTooNew`]) rather than misread.
//!
//! ## Invariants
//!
//! - At most one open incident per object (a partial unique index enforces it).
//! - `max_grade >= grade`; `onset` only moves earlier; `resolved_at` is set iff resolved.
//! - An incident resolves only after `clear_after` without a grade; open incidents are never
//!   pruned.
//! - Impact confirmations belong to one incident; grading sees them only while it is open.
//! - Every incident change and the events it causes are written in the same transaction.
//!
//! ## Crash recovery: written before acted on
//!
//! The file is in WAL mode with `synchronous = FULL`: a transaction is on disk when `commit`
//! returns. [`IncidentStore::apply`] saves the condition clocks and every transition of one
//! evaluation tick in ONE transaction, and its events are delivered (by the caller or, better,
//! by the outbox reading [`IncidentStore::events_since`]) only after that commit. Hence:
//!
//! - a crash (or `kill -9`) before the commit changes nothing: the next tick recomputes the
//!   same transitions from the same state;
//! - a crash after the commit loses nothing: the incidents, events and clocks are on disk, the
//!   restarted daemon loads the clocks ([`IncidentStore::load_clocks`]) and continues the same
//!   open incidents with the same onsets — no duplicate `opened`, no reset 1 h count;
//! - human actions (ack, confirm impact, false positive, cause, and the record's result,
//!   organisations, report, coordinator confirmation, receipt) are each one transaction too.

pub mod lifecycle;
mod model;
mod store;

pub use crate::grading::{ClockState, ConditionClocks};
pub use model::{
    rfc3339, Confirmation, EventKind, GradeView, Incident, IncidentDetail, IncidentEvent,
    IncidentState, ListFilter, MaintenanceWindow, NextEscalation, Notification, Receipt,
    StateFilter, TimelineEntry, Timestamp,
};
pub use store::{
    AlertEvent, Attempt, DueDelivery, GivenUpDelivery, IncidentStore, MonitorEvent, MonitorKind,
    MonitorObservation, OutboxItem, Pruned, SinkSummary, StoreError, StoreResult, MONITOR_STREAM,
    SCHEMA_VERSION,
};

/// The default `clear_after` (docs/matrix.md): a condition, and an incident, clear only after 300 s
/// without it.
pub const DEFAULT_CLEAR_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

/// The default retention of resolved incidents for [`IncidentStore::prune`]: a year, enough
/// for annual reporting on the plan's incidents.
pub const DEFAULT_RETAIN: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);
