//! The incident ledger in SQLite. See the module documentation of [`crate::incident`] for the
//! schema, the invariants and crash recovery.
//!
//! ## Layout
//!
//! This file holds [`IncidentStore`] itself: opening the file, the connection and its lock,
//! the one-transaction helper, and the error type. The operations are `impl IncidentStore`
//! blocks in the submodules, by concern:
//!
//! - `schema`: the migrations and [`SCHEMA_VERSION`];
//! - `apply`: the write path of grading (condition clocks, lifecycle transitions, events);
//! - `operator`: what people do to an incident (acknowledge, confirm impact, false positive,
//!   cause, manual resolution);
//! - `maintenance`: maintenance windows;
//! - `query`: lists, details, the event feed and the open-incident counts;
//! - `record`: the circular's record (result, organisations, the report to the coordinating
//!   body and its confirmation, receipts), notifications per incident, overdue
//!   acknowledgements;
//! - `prune`: retention;
//! - `row`: the row codec (columns, decoding rows into model types);
//! - `outbox`: the alert outbox tables.

use rusqlite::{Connection, TransactionBehavior};
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

/// How long a write waits for another connection's lock before failing with `Db(busy)`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
        schema::migrate(&mut conn)?;
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

    /// Runs `f` in one IMMEDIATE transaction and commits when it returns Ok.
    fn write<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

fn required<'a>(what: &str, s: &'a str) -> StoreResult<&'a str> {
    let t = s.trim();
    if t.is_empty() {
        Err(StoreError::Invalid(format!("{what} must not be empty")))
    } else {
        Ok(t)
    }
}

mod apply;
mod maintenance;
mod operator;
mod prune;
mod query;
mod record;
mod row;
mod schema;

pub use prune::Pruned;
pub use schema::SCHEMA_VERSION;

// The outbox submodule names these as `super::…`.
use apply::apply_in;
use row::event_from_row;

mod outbox;
pub use outbox::{
    AlertEvent, Attempt, DueDelivery, GivenUpDelivery, MonitorEvent, MonitorKind,
    MonitorObservation, OutboxItem, SinkSummary, MONITOR_STREAM,
};

#[cfg(test)]
mod tests;
