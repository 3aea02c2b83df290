//! The ledger's schema: the append-only list of migrations, the version this build writes,
//! and the forward migration run on opening.

use super::{StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};

/// The schema, one entry per version: entry `i` migrates version `i` to `i + 1`. Append only;
/// never edit a released entry. Long because it is the schema's SQL text, kept verbatim.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 4: the incident record of the incident-coordination circular (docs/records.md): the
    // troubleshooting result, the organisations involved, the report to the coordinating body
    // and its confirmation, and the receivers' confirmations of receipt.
    r#"
ALTER TABLE incidents ADD COLUMN result TEXT;
ALTER TABLE incidents ADD COLUMN organisations TEXT NOT NULL DEFAULT '[]';
ALTER TABLE incidents ADD COLUMN reported_at INTEGER;
ALTER TABLE incidents ADD COLUMN reported_to TEXT;
ALTER TABLE incidents ADD COLUMN coordinator_confirmed_at INTEGER;

CREATE TABLE notification_receipts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    organisation TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    by           TEXT,
    recorded_at  INTEGER NOT NULL
);
CREATE INDEX notification_receipts_incident ON notification_receipts (incident_id);
"#,
];

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Forward migration, one version per transaction; re-reads the version inside each
/// transaction so two processes opening the same file at once do not both migrate.
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
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
