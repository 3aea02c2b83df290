//! The incident ledger in SQLite. See the module documentation of [`crate::incident`] for the
//! schema, the invariants and crash recovery.

use super::lifecycle::{self, Next, Tracked, Transition};
use super::model::{
    Confirmation, EventKind, GradeView, Incident, IncidentDetail, IncidentEvent, IncidentState,
    ListFilter, MaintenanceWindow, NextEscalation, StateFilter, TimelineEntry, Timestamp,
};
use crate::clock::UnixMillis;
use crate::grading::{millis, ClockState, ConditionClocks};
use crate::grading::{Assessment, Level, ObjectKey};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Why a ledger operation failed. Every variant is an answer for the caller (the HTTP API maps
/// `NotFound` to 404, `Conflict` to 409, `Invalid` to 400, the rest to 500); none is a panic.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No incident (or maintenance window) with this id.
    #[error("incident {0} not found")]
    NotFound(i64),
    /// The request does not fit the incident's state (e.g. confirming the impact of a resolved
    /// incident, or of one without a candidate grade).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request itself is malformed (empty name, window that ends before it starts…).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The database was written by a newer dnsgrade; it is left untouched rather than
    /// misread.
    #[error(
        "incident database has schema version {found}, newer than the {supported} this dnsgrade \
         understands; upgrade dnsgrade or point it at another state directory"
    )]
    SchemaTooNew {
        /// The version found in the file.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// A stored value cannot be decoded (hand-edited or damaged database).
    #[error("corrupt incident database: {0}")]
    Corrupt(String),
    /// JSON encoding or decoding of a stored document failed.
    #[error("incident database JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The state directory could not be created.
    #[error("cannot create state directory {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SQLite said no (disk full, locked for longer than the busy timeout, I/O error…).
    #[error("incident database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Result of ledger operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// What [`IncidentStore::prune`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    /// Resolved incidents (with their events and confirmations).
    pub incidents: usize,
    /// Maintenance windows that ended before the cut-off.
    pub maintenance_windows: usize,
}

/// The schema, one entry per version: entry `i` migrates version `i` to `i + 1`. Append only;
/// never edit a released entry.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
CREATE TABLE incidents (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    object              TEXT    NOT NULL,
    state               TEXT    NOT NULL CHECK (state IN ('open', 'resolved')),
    grade               TEXT    NOT NULL CHECK (grade IN ('I', 'II', 'III', 'IV')),
    max_grade           TEXT    NOT NULL CHECK (max_grade IN ('I', 'II', 'III', 'IV')),
    candidate           TEXT             CHECK (candidate IN ('I', 'II', 'III', 'IV')),
    rule                TEXT,
    reasons             TEXT    NOT NULL DEFAULT '{"zh":[],"en":[]}',
    evidence            TEXT    NOT NULL DEFAULT '[]',
    authority           TEXT,
    next_escalation     TEXT,
    onset               INTEGER NOT NULL,
    detected_at         INTEGER NOT NULL,
    clearing_since      INTEGER,
    acknowledged_at     INTEGER,
    acknowledged_by     TEXT,
    impact_confirmed_at INTEGER,
    impact_confirmed_by TEXT,
    resolved_at         INTEGER,
    cause               TEXT,
    false_positive      TEXT,
    false_positive_at   INTEGER,
    maintenance         INTEGER NOT NULL DEFAULT 0 CHECK (maintenance IN (0, 1)),
    drill               INTEGER NOT NULL DEFAULT 0 CHECK (drill IN (0, 1)),
    updated_at          INTEGER NOT NULL,
    CHECK ((state = 'open') = (resolved_at IS NULL))
);
CREATE UNIQUE INDEX incidents_one_open ON incidents (object) WHERE state = 'open';
CREATE INDEX incidents_resolved_at ON incidents (resolved_at);

CREATE TABLE incident_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    grade       TEXT             CHECK (grade IN ('I', 'II', 'III', 'IV')),
    payload     TEXT    NOT NULL DEFAULT '{}',
    snapshot    TEXT    NOT NULL,
    UNIQUE (incident_id, seq)
);

CREATE TABLE condition_clocks (
    key       TEXT    PRIMARY KEY,
    onset     INTEGER NOT NULL,
    last_true INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE confirmations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    object      TEXT    NOT NULL,
    level       TEXT    NOT NULL CHECK (level IN ('I', 'II', 'III', 'IV')),
    by          TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX confirmations_incident ON confirmations (incident_id);

CREATE TABLE maintenance_windows (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    object TEXT    NOT NULL,
    starts INTEGER NOT NULL,
    ends   INTEGER NOT NULL,
    reason TEXT    NOT NULL,
    CHECK (ends > starts)
);
CREATE INDEX maintenance_windows_object ON maintenance_windows (object, ends);
"#,
    // 2: drills run beside real incidents: one open incident per object *and* drill flag.
    r#"
DROP INDEX incidents_one_open;
CREATE UNIQUE INDEX incidents_one_open ON incidents (object, drill) WHERE state = 'open';
"#,
    // 3: the alert outbox (see crate::alert): monitor events, one outbox row per deliverable
    // event, per-sink read cursors and delivery state, and the ledger's random id that makes
    // delivery ids unique across re-created databases.
    r#"
CREATE TABLE ledger_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO ledger_meta (key, value) VALUES ('ledger_id', lower(hex(randomblob(8))));

CREATE TABLE monitor_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    type    TEXT    NOT NULL CHECK (type IN ('monitor.isolated', 'monitor.recovered')),
    at      INTEGER NOT NULL,
    payload TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX monitor_events_at ON monitor_events (at);

CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_event_id INTEGER UNIQUE REFERENCES incident_events (id) ON DELETE CASCADE,
    monitor_event_id  INTEGER UNIQUE REFERENCES monitor_events (id) ON DELETE CASCADE,
    stream            TEXT    NOT NULL,
    type              TEXT    NOT NULL,
    at                INTEGER NOT NULL,
    CHECK ((incident_event_id IS NULL) <> (monitor_event_id IS NULL))
);

CREATE TABLE outbox_cursor (
    sink    TEXT    PRIMARY KEY,
    last_id INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE outbox_delivery (
    outbox_id       INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    sink            TEXT    NOT NULL,
    stream          TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'given_up')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    enqueued_at     INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    done_at         INTEGER,
    PRIMARY KEY (outbox_id, sink)
) WITHOUT ROWID;
CREATE INDEX outbox_delivery_pending ON outbox_delivery (sink, state, stream, outbox_id);
"#,
];

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How long a write waits for another connection's lock before failing with `Db(busy)`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const INCIDENT_COLS: &str = "id, object, state, grade, max_grade, candidate, rule, reasons, \
    evidence, authority, next_escalation, onset, detected_at, clearing_since, acknowledged_at, \
    acknowledged_by, impact_confirmed_at, impact_confirmed_by, resolved_at, cause, \
    false_positive, false_positive_at, maintenance, drill, updated_at";

/// The incident ledger: incidents, their events, condition clocks, impact confirmations and
/// maintenance windows, in one SQLite file. Shared by the daemon's evaluation loop and the HTTP
/// API (`Arc<IncidentStore>`); operations are serialized by an internal mutex, and each one is
/// a single transaction.
#[derive(Debug)]
pub struct IncidentStore {
    conn: Mutex<Connection>,
    drill: bool,
}

impl IncidentStore {
    /// Opens (creating if needed) the ledger at `path`, creating its parent directory, and
    /// migrates it forward to [`SCHEMA_VERSION`]. Refuses a file from a newer dnsgrade.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        Self::setup(Connection::open(path)?, true)
    }

    /// A ledger in memory, for tests and `dnsgrade lab`.
    pub fn open_in_memory() -> StoreResult<Self> {
        Self::setup(Connection::open_in_memory()?, false)
    }

    fn setup(mut conn: Connection, file: bool) -> StoreResult<Self> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if file && !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                journal_mode = %mode,
                "incident database: WAL not available on this filesystem; continuing in {mode} mode"
            );
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
            drill: false,
        })
    }

    /// Marks every incident this store opens from now on as a drill (`dnsgrade lab`, exercise
    /// runs): recorded and delivered with `drill: true`, hidden from default lists and counts.
    pub fn with_drill(mut self, drill: bool) -> Self {
        self.drill = drill;
        self
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> StoreResult<u32> {
        Ok(self
            .lock()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied (dropping a
        // rusqlite Transaction rolls back), so the connection is still sound.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

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
            incident,
            timeline,
            confirmations,
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

    /// Runs `f` in one IMMEDIATE transaction and commits when it returns Ok.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

fn first(mut events: Vec<IncidentEvent>) -> StoreResult<IncidentEvent> {
    events
        .pop()
        .ok_or_else(|| StoreError::Corrupt("event was not written".into()))
}

fn required<'a>(what: &str, s: &'a str) -> StoreResult<&'a str> {
    let t = s.trim();
    if t.is_empty() {
        Err(StoreError::Invalid(format!("{what} must not be empty")))
    } else {
        Ok(t)
    }
}

fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("time {v} out of range")))
}

fn parse_level(s: &str, column: &str) -> StoreResult<Level> {
    Level::from_roman(s)
        .ok_or_else(|| StoreError::Corrupt(format!("{column}: unknown grade {s:?}")))
}

fn parse_kind(s: &str) -> StoreResult<EventKind> {
    EventKind::parse(s)
        .ok_or_else(|| StoreError::Corrupt(format!("incident_events.type: unknown {s:?}")))
}

/// Forward migration, one version per transaction; re-reads the version inside each
/// transaction so two processes opening the same file at once do not both migrate.
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let v: u32 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        let Some(sql) = MIGRATIONS.get(v as usize) else {
            tx.commit()?;
            return Ok(());
        };
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.commit()?;
        tracing::info!(version = v + 1, "incident database migrated");
    }
}

fn in_maintenance(conn: &Connection, object: &str, now: UnixMillis) -> StoreResult<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM maintenance_windows
                        WHERE object = ?1 AND starts <= ?2 AND ends > ?2)",
        params![object, now],
        |r| r.get(0),
    )?)
}

/// The body of [`IncidentStore::apply`], on an open transaction (separate so tests can drop
/// the transaction before commit, as a crash would).
/// The columns of an `incident_events` row: id, incident_id, seq, type, at, grade, payload,
/// snapshot.
pub(super) type EventRow = (i64, i64, i64, String, u64, Option<String>, String, String);

/// The `grade` column of an `incident_events` row.
fn event_grade(grade: Option<&str>) -> StoreResult<Option<GradeView>> {
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

fn apply_in(
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
fn write_events(
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

fn load_incident(conn: &Connection, id: i64) -> StoreResult<Option<Incident>> {
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
struct RawIncident {
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
}

fn read_raw(r: &Row<'_>) -> rusqlite::Result<RawIncident> {
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
    })
}

fn decode(r: RawIncident) -> StoreResult<Incident> {
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
    })
}

mod outbox;
pub use outbox::{
    AlertEvent, Attempt, DueDelivery, GivenUpDelivery, MonitorEvent, MonitorKind,
    MonitorObservation, OutboxItem, SinkSummary, MONITOR_STREAM,
};

#[cfg(test)]
mod tests;
