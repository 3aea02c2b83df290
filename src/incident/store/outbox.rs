//! The alert outbox tables of the ledger (schema version 3). The design — what each table
//! holds, the invariants, recovery after a crash, pruning — is in [`crate::alert`]; this file
//! is only the SQL.

use super::{apply_in, IncidentStore, StoreError, StoreResult};
use crate::clock::UnixMillis;
use crate::grading::Assessment;
use crate::grading::ConditionClocks;
use crate::incident::model::{Incident, IncidentEvent, Timestamp};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// The ordering stream of an incident's events: deliveries to a sink keep order within it.
pub(crate) fn incident_stream(incident_id: i64) -> String {
    format!("incident/{incident_id}")
}

/// The ordering stream of monitor events (one stream: isolated, recovered, isolated…).
pub const MONITOR_STREAM: &str = "monitor";

/// What the evaluator saw of its own vantage point at a tick where it could judge it (some
/// control address had enough attempts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MonitorObservation {
    /// Most control probes fail: this vantage point is cut off.
    pub isolated: bool,
    /// Control addresses judged.
    pub control_addresses: usize,
    /// Control addresses without a success in the stop window.
    pub control_failing: usize,
}

/// The two monitor event kinds (docs/matrix.md, "Monitor health").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MonitorKind {
    /// Most control probes fail: grading is suspended.
    #[serde(rename = "monitor.isolated")]
    Isolated,
    /// Control probes answer again: grading resumes.
    #[serde(rename = "monitor.recovered")]
    Recovered,
}

impl MonitorKind {
    /// The stored and webhook name.
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorKind::Isolated => "monitor.isolated",
            MonitorKind::Recovered => "monitor.recovered",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "monitor.isolated" => Ok(MonitorKind::Isolated),
            "monitor.recovered" => Ok(MonitorKind::Recovered),
            other => Err(StoreError::Corrupt(format!(
                "monitor_events.type: unknown {other:?}"
            ))),
        }
    }
}

/// A monitor event as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorEvent {
    /// Id in `monitor_events`.
    pub id: i64,
    /// Isolated or recovered.
    #[serde(rename = "type")]
    pub kind: MonitorKind,
    /// When.
    pub at: Timestamp,
    /// `control_addresses`, `control_failing`.
    pub payload: Value,
}

/// The event an outbox row stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertEvent {
    /// One of the six delivered incident event kinds, with its snapshot.
    Incident(Box<IncidentEvent>),
    /// monitor.isolated or monitor.recovered.
    Monitor(MonitorEvent),
}

impl AlertEvent {
    /// The webhook `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            AlertEvent::Incident(e) => e.kind.webhook_type().unwrap_or(e.kind.as_str()),
            AlertEvent::Monitor(m) => m.kind.as_str(),
        }
    }

    /// When it happened.
    pub fn at(&self) -> Timestamp {
        match self {
            AlertEvent::Incident(e) => e.at,
            AlertEvent::Monitor(m) => m.at,
        }
    }

    /// Whether it belongs to a drill.
    pub fn drill(&self) -> bool {
        match self {
            AlertEvent::Incident(e) => e.drill,
            AlertEvent::Monitor(_) => false,
        }
    }
}

/// One outbox row with its event.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// Outbox id: increasing in commit order, the per-sink read cursor.
    pub id: i64,
    /// Ordering stream (`incident/<id>` or `monitor`).
    pub stream: String,
    /// The idempotency key: `<ledger id>-ie-<incident event id>` or `<ledger id>-me-<monitor
    /// event id>`; the same on every attempt, to every sink, across restarts.
    pub key: String,
    /// The event.
    pub event: AlertEvent,
}

/// A pending delivery whose time has come.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    /// The row and its event.
    pub item: OutboxItem,
    /// Attempts made so far.
    pub attempts: u32,
}

/// The result of one delivery attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// A 2xx: delivered.
    Delivered {
        /// HTTP status.
        status: u16,
    },
    /// Failed; try again at `next_at`.
    Retry {
        /// HTTP status, if a reply came.
        status: Option<u16>,
        /// What went wrong (never contains a secret).
        error: String,
        /// When to try again.
        next_at: UnixMillis,
    },
    /// Failed, and the event is older than `give_up_after`: given up for good.
    GiveUp {
        /// HTTP status, if a reply came.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}

/// Delivery figures of one sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkSummary {
    /// Deliveries waiting (including those blocked behind an earlier event of their incident).
    pub pending: u64,
    /// Delivered (kept until the ledger retention prunes them).
    pub delivered: u64,
    /// Given up after `give_up_after`.
    pub given_up: u64,
    /// When the oldest pending event happened.
    pub oldest_pending_at: Option<Timestamp>,
    /// The last error of any pending delivery (most recent attempt first).
    pub last_error: Option<String>,
    /// Attempts made on pending deliveries so far.
    pub pending_attempts: u64,
}

/// A delivery that was given up, for the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GivenUpDelivery {
    /// The sink.
    pub sink: String,
    /// The idempotency key (`X-Dnsgrade-Delivery`).
    pub delivery_id: String,
    /// Event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `incident/<id>` or `monitor`.
    pub stream: String,
    /// When the event happened.
    pub at: Timestamp,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was given up.
    pub given_up_at: Option<Timestamp>,
}

impl IncidentStore {
    /// Like [`apply`](Self::apply), and records a change of the vantage point's isolation as
    /// a monitor event (`monitor.isolated` / `monitor.recovered`) with its outbox row, in the
    /// same transaction. `monitor` is None when the tick could not judge (no control address
    /// had enough attempts): the persisted state is then left as it is, so a restart neither
    /// repeats nor loses a monitor event.
    pub fn apply_observed(
        &self,
        assessments: &[Assessment],
        clocks: &ConditionClocks,
        now: UnixMillis,
        clear_after: Duration,
        monitor: Option<&MonitorObservation>,
    ) -> StoreResult<(Vec<IncidentEvent>, Option<MonitorEvent>)> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The monitor event first: a recovery precedes the grading it lets resume.
        let monitor_event = match monitor {
            Some(m) => record_monitor(&tx, m, now)?,
            None => None,
        };
        let events = apply_in(&tx, self.drill, assessments, clocks, now, clear_after)?;
        tx.commit()?;
        Ok((events, monitor_event))
    }

    /// The last monitor event, i.e. the persisted isolation state (None: never isolated).
    pub fn last_monitor_event(&self) -> StoreResult<Option<MonitorEvent>> {
        last_monitor(&self.lock())
    }

    /// The ledger's random id, the prefix of every delivery id.
    pub fn ledger_id(&self) -> StoreResult<String> {
        Ok(self.lock().query_row(
            "SELECT value FROM ledger_meta WHERE key = 'ledger_id'",
            [],
            |r| r.get(0),
        )?)
    }

    /// The read cursor of `sink`, created on first use at the current end of the outbox: a
    /// sink added to the config receives the events written from then on, not the history.
    pub fn outbox_cursor(&self, sink: &str) -> StoreResult<i64> {
        let conn = self.lock();
        conn.execute(
            "INSERT OR IGNORE INTO outbox_cursor (sink, last_id)
             SELECT ?1, COALESCE(MAX(id), 0) FROM outbox",
            params![sink],
        )?;
        Ok(conn.query_row(
            "SELECT last_id FROM outbox_cursor WHERE sink = ?1",
            params![sink],
            |r| r.get(0),
        )?)
    }

    /// Outbox rows after `after_id`, oldest first, at most `limit`.
    pub fn outbox_after(&self, after_id: i64, limit: u32) -> StoreResult<Vec<OutboxItem>> {
        let conn = self.lock();
        let ids: Vec<i64> = conn
            .prepare_cached("SELECT id FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2")?
            .query_map(params![after_id, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let ledger = ledger_id(&conn)?;
        ids.into_iter()
            .map(|id| load_item(&conn, &ledger, id))
            .collect()
    }

    /// Creates pending deliveries to `sink` for the accepted rows and moves its cursor to
    /// `cursor`, in one transaction (rows the sink's filter refused are passed over).
    pub fn outbox_enqueue(
        &self,
        sink: &str,
        accepted: &[&OutboxItem],
        cursor: i64,
        now: UnixMillis,
    ) -> StoreResult<()> {
        self.write(|tx| {
            let mut ins = tx.prepare_cached(
                "INSERT OR IGNORE INTO outbox_delivery
                     (outbox_id, sink, stream, state, enqueued_at, next_attempt_at)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?4)",
            )?;
            for it in accepted {
                ins.execute(params![it.id, sink, it.stream, now])?;
            }
            tx.execute(
                "UPDATE outbox_cursor SET last_id = MAX(last_id, ?2) WHERE sink = ?1",
                params![sink, cursor],
            )?;
            Ok(())
        })
    }

    /// Pending deliveries to `sink` that may be attempted at `now`: only the first pending
    /// delivery of each stream (per-incident order), and only once its retry time has come;
    /// oldest first, at most `limit`.
    pub fn outbox_due(
        &self,
        sink: &str,
        now: UnixMillis,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        let conn = self.lock();
        let rows: Vec<(i64, u32)> = conn
            .prepare_cached(
                "SELECT d.outbox_id, d.attempts FROM outbox_delivery d
                 WHERE d.sink = ?1 AND d.state = 'pending' AND d.next_attempt_at <= ?2
                   AND d.outbox_id = (SELECT MIN(h.outbox_id) FROM outbox_delivery h
                                      WHERE h.sink = d.sink AND h.stream = d.stream
                                        AND h.state = 'pending')
                 ORDER BY d.outbox_id LIMIT ?3",
            )?
            .query_map(params![sink, now, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let ledger = ledger_id(&conn)?;
        rows.into_iter()
            .map(|(id, attempts)| {
                Ok(DueDelivery {
                    item: load_item(&conn, &ledger, id)?,
                    attempts,
                })
            })
            .collect()
    }

    /// Records the result of one attempt to deliver outbox row `outbox_id` to `sink`.
    pub fn outbox_record(
        &self,
        sink: &str,
        outbox_id: i64,
        attempt: &Attempt,
        now: UnixMillis,
    ) -> StoreResult<()> {
        self.write(|tx| {
            let n = match attempt {
                Attempt::Delivered { status } => tx.execute(
                    "UPDATE outbox_delivery SET state = 'delivered', attempts = attempts + 1,
                         last_status = ?3, last_error = NULL, done_at = ?4
                     WHERE outbox_id = ?1 AND sink = ?2 AND state = 'pending'",
                    params![outbox_id, sink, status, now],
                )?,
                Attempt::Retry {
                    status,
                    error,
                    next_at,
                } => tx.execute(
                    "UPDATE outbox_delivery SET attempts = attempts + 1, last_status = ?3,
                         last_error = ?4, next_attempt_at = ?5
                     WHERE outbox_id = ?1 AND sink = ?2 AND state = 'pending'",
                    params![outbox_id, sink, status, error, next_at],
                )?,
                Attempt::GiveUp { status, error } => tx.execute(
                    "UPDATE outbox_delivery SET state = 'given_up', attempts = attempts + 1,
                         last_status = ?3, last_error = ?4, done_at = ?5
                     WHERE outbox_id = ?1 AND sink = ?2 AND state = 'pending'",
                    params![outbox_id, sink, status, error, now],
                )?,
            };
            if n == 0 {
                return Err(StoreError::NotFound(outbox_id));
            }
            Ok(())
        })
    }

    /// Delivery figures of `sink`.
    pub fn outbox_summary(&self, sink: &str) -> StoreResult<SinkSummary> {
        let conn = self.lock();
        let mut s = SinkSummary::default();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT state, COUNT(*), COALESCE(SUM(attempts), 0) FROM outbox_delivery
                 WHERE sink = ?1 GROUP BY state",
            )?;
            let rows = stmt.query_map(params![sink], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u64>(1)?,
                    r.get::<_, u64>(2)?,
                ))
            })?;
            for row in rows {
                let (state, n, attempts) = row?;
                match state.as_str() {
                    "pending" => {
                        s.pending = n;
                        s.pending_attempts = attempts;
                    }
                    "delivered" => s.delivered = n,
                    _ => s.given_up = n,
                }
            }
        }
        s.oldest_pending_at = conn
            .query_row(
                "SELECT MIN(o.at) FROM outbox_delivery d JOIN outbox o ON o.id = d.outbox_id
                 WHERE d.sink = ?1 AND d.state = 'pending'",
                params![sink],
                |r| r.get::<_, Option<u64>>(0),
            )?
            .map(Timestamp);
        s.last_error = conn
            .query_row(
                "SELECT last_error FROM outbox_delivery
                 WHERE sink = ?1 AND state = 'pending' AND last_error IS NOT NULL
                 ORDER BY next_attempt_at DESC LIMIT 1",
                params![sink],
                |r| r.get(0),
            )
            .optional()?;
        Ok(s)
    }

    /// The most recently given-up deliveries (all sinks), newest first, at most `limit`.
    pub fn outbox_given_up(&self, limit: u32) -> StoreResult<Vec<GivenUpDelivery>> {
        let conn = self.lock();
        let ledger = ledger_id(&conn)?;
        let mut stmt = conn.prepare_cached(
            "SELECT d.sink, o.incident_event_id, o.monitor_event_id, o.type, o.stream, o.at,
                    d.attempts, d.last_error, d.done_at
             FROM outbox_delivery d JOIN outbox o ON o.id = d.outbox_id
             WHERE d.state = 'given_up' ORDER BY d.done_at DESC, o.id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit], |r| {
            let ie: Option<i64> = r.get(1)?;
            let me: Option<i64> = r.get(2)?;
            Ok(GivenUpDelivery {
                sink: r.get(0)?,
                delivery_id: delivery_key(&ledger, ie, me),
                kind: r.get(3)?,
                stream: r.get(4)?,
                at: Timestamp(r.get(5)?),
                attempts: r.get(6)?,
                last_error: r.get(7)?,
                given_up_at: r.get::<_, Option<u64>>(8)?.map(Timestamp),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Streams with a pending delivery to `sink` (the Alertmanager sink leaves their alerts
    /// to the ordered outbox instead of re-posting a newer state ahead of it).
    pub fn outbox_pending_streams(&self, sink: &str) -> StoreResult<HashSet<String>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT stream FROM outbox_delivery WHERE sink = ?1 AND state = 'pending'",
        )?;
        let rows = stmt.query_map(params![sink], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The snapshot of the delivered-kind event of `incident_id` just before `seq`, if any
    /// (the Alertmanager sink resolves the alert it posted for the earlier grade).
    pub fn previous_delivered_snapshot(
        &self,
        incident_id: i64,
        seq: i64,
    ) -> StoreResult<Option<Incident>> {
        let conn = self.lock();
        let snap: Option<String> = conn
            .query_row(
                "SELECT e.snapshot FROM incident_events e JOIN outbox o ON o.incident_event_id = e.id
                 WHERE e.incident_id = ?1 AND e.seq < ?2 ORDER BY e.seq DESC LIMIT 1",
                params![incident_id, seq],
                |r| r.get(0),
            )
            .optional()?;
        Ok(snap.as_deref().map(serde_json::from_str).transpose()?)
    }
}

fn ledger_id(conn: &Connection) -> StoreResult<String> {
    Ok(conn.query_row(
        "SELECT value FROM ledger_meta WHERE key = 'ledger_id'",
        [],
        |r| r.get(0),
    )?)
}

fn delivery_key(ledger: &str, incident_event: Option<i64>, monitor_event: Option<i64>) -> String {
    match (incident_event, monitor_event) {
        (Some(id), _) => format!("{ledger}-ie-{id}"),
        (None, Some(id)) => format!("{ledger}-me-{id}"),
        (None, None) => format!("{ledger}-none"),
    }
}

fn last_monitor(conn: &Connection) -> StoreResult<Option<MonitorEvent>> {
    let row: Option<(i64, String, u64, String)> = conn
        .query_row(
            "SELECT id, type, at, payload FROM monitor_events ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    row.map(|(id, kind, at, payload)| monitor_of(id, &kind, at, &payload))
        .transpose()
}

fn monitor_of(id: i64, kind: &str, at: u64, payload: &str) -> StoreResult<MonitorEvent> {
    Ok(MonitorEvent {
        id,
        kind: MonitorKind::parse(kind)?,
        at: Timestamp(at),
        payload: serde_json::from_str(payload)?,
    })
}

/// Writes a monitor event (and its outbox row) when the observation changes the persisted
/// isolation state.
fn record_monitor(
    conn: &Connection,
    m: &MonitorObservation,
    now: UnixMillis,
) -> StoreResult<Option<MonitorEvent>> {
    let was_isolated = last_monitor(conn)?.is_some_and(|e| e.kind == MonitorKind::Isolated);
    if was_isolated == m.isolated {
        return Ok(None);
    }
    let kind = if m.isolated {
        MonitorKind::Isolated
    } else {
        MonitorKind::Recovered
    };
    let payload = json!({
        "control_addresses": m.control_addresses,
        "control_failing": m.control_failing,
    });
    conn.execute(
        "INSERT INTO monitor_events (type, at, payload) VALUES (?1, ?2, ?3)",
        params![kind.as_str(), now, serde_json::to_string(&payload)?],
    )?;
    let id = conn.last_insert_rowid();
    conn.execute(
        "INSERT INTO outbox (monitor_event_id, stream, type, at) VALUES (?1, ?2, ?3, ?4)",
        params![id, MONITOR_STREAM, kind.as_str(), now],
    )?;
    Ok(Some(MonitorEvent {
        id,
        kind,
        at: Timestamp(now),
        payload,
    }))
}

/// One outbox row with its event, read back from the ledger.
fn load_item(conn: &Connection, ledger: &str, id: i64) -> StoreResult<OutboxItem> {
    let (stream, ie, me): (String, Option<i64>, Option<i64>) = conn.query_row(
        "SELECT stream, incident_event_id, monitor_event_id FROM outbox WHERE id = ?1",
        params![id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let event = match (ie, me) {
        (Some(eid), _) => {
            let (incident_id, seq, kind, at, grade, payload, snapshot): (
                i64,
                i64,
                String,
                u64,
                Option<String>,
                String,
                String,
            ) = conn.query_row(
                "SELECT incident_id, seq, type, at, grade, payload, snapshot FROM incident_events
                 WHERE id = ?1",
                params![eid],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )?;
            AlertEvent::Incident(Box::new(super::event_from_row((
                eid,
                incident_id,
                seq,
                kind,
                at,
                grade,
                payload,
                snapshot,
            ))?))
        }
        (None, Some(mid)) => {
            let (kind, at, payload): (String, u64, String) = conn.query_row(
                "SELECT type, at, payload FROM monitor_events WHERE id = ?1",
                params![mid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            AlertEvent::Monitor(monitor_of(mid, &kind, at, &payload)?)
        }
        (None, None) => {
            return Err(StoreError::Corrupt(format!(
                "outbox row {id} refers to no event"
            )))
        }
    };
    Ok(OutboxItem {
        id,
        stream,
        key: delivery_key(ledger, ie, me),
        event,
    })
}
