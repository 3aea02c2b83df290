//! Alert delivery: a durable outbox in the incident ledger, and the sinks it feeds — signed
//! JSON webhooks and Prometheus Alertmanager.
//!
//! # Design
//!
//! Nothing is lost: an alert is *written* in the same SQLite transaction as the
//! state change it reports, and *delivered* afterwards, at least once, with a stable
//! idempotency key. Delivery state lives in the same file, so a restart — even after
//! `kill -9` — resumes where the last commit left off.
//!
//! ## Schema (ledger version 3; see [`crate::incident`] for the rest)
//!
//! ```text
//! ledger_meta      key PK, value            ledger_id = 16 random hex digits, made once
//! monitor_events   id PK AUTOINCREMENT, type monitor.isolated|recovered, at, payload
//! outbox           id PK AUTOINCREMENT      the delivery order (commit order)
//!                  incident_event_id UNIQUE → incident_events ON DELETE CASCADE, or
//!                  monitor_event_id  UNIQUE → monitor_events  ON DELETE CASCADE (exactly one)
//!                  stream                   ordering key: "incident/<id>" or "monitor"
//!                  type, at                 copied for queries
//! outbox_cursor    sink PK, last_id         the last outbox id this sink has looked at
//! outbox_delivery  (outbox_id → outbox ON DELETE CASCADE, sink) PK, stream,
//!                  state pending|delivered|given_up, attempts, enqueued_at,
//!                  next_attempt_at, last_status, last_error, done_at
//! ```
//!
//! ## Writing
//!
//! - Every incident event of a delivered kind ([`crate::incident::EventKind::webhook_type`]:
//!   opened, escalated, deescalated, acknowledged, impact_confirmed, resolved) gets its outbox
//!   row inside the ledger function that writes the event, so in the transaction of the tick
//!   ([`IncidentStore::apply_observed`]), of the drill, or of the person's action.
//! - A change of the vantage point's isolation is a `monitor_events` row plus its outbox row,
//!   in the tick's transaction. The newest monitor event *is* the persisted isolation state:
//!   the evaluator reports what it observes, and an event is written only when that differs
//!   from the stored state, so a restart neither repeats `monitor.isolated` nor loses
//!   `monitor.recovered`.
//!
//! ## Delivering
//!
//! One worker per configured sink ([`AlertService`]), each a short loop over the injected
//! clock:
//!
//! 1. *Enqueue*: read outbox rows after the sink's cursor, apply the sink's filter
//!    ([`filter`]), insert `pending` deliveries for the accepted ones and move the cursor — one
//!    transaction, so a crash in between repeats the step and `INSERT OR IGNORE` keeps it
//!    idempotent. A new sink's cursor starts at the current end of the outbox (it gets the
//!    events from its first start on, not the ledger's history); cursors are created before
//!    the first evaluation tick, so nothing written after start-up escapes them.
//! 2. *Pick*: of the pending deliveries, only the first of each stream, and only once its
//!    `next_attempt_at` has come. Hence per-incident order: an event of incident X is never
//!    attempted before every earlier event of X to that sink is delivered (or given up);
//!    different incidents do not wait for each other.
//! 3. *Attempt* (a few at a time), then record the result in its own transaction: a 2xx
//!    marks it `delivered`; anything else (connection error, timeout, 3xx/4xx/5xx) counts an
//!    attempt and schedules the next after [`Backoff`] (exponential, equal jitter, 1 s to
//!    5 min); once the event is older than `give_up_after` (default 24 h) a failure marks it
//!    `given_up` instead — logged at error level, counted, and listed in
//!    `GET /api/v1/outbox`.
//!
//! The idempotency key is `<ledger_id>-ie-<incident event id>` (or `-me-` for monitor
//! events): the same on every attempt, to every sink, across restarts, and different for a
//! re-created database. Webhooks carry it as `event_id` and `X-Dnsgrade-Delivery`; the body of
//! an event is built from the snapshot stored with it, so every attempt sends the same bytes
//! with the same signature.
//!
//! Alertmanager is a state API, so its sink also re-posts, every `resend_interval` (1 min),
//! every open incident it accepts as a firing alert and every incident resolved within
//! `resend_resolved_for` (5 min) with its `endsAt` — except incidents with a pending delivery,
//! whose alert the ordered outbox brings up to date first.
//!
//! ## Invariants
//!
//! - An outbox row exists iff its event exists (same transaction; cascade on delete).
//! - Per (sink, stream), deliveries are attempted in outbox id order; a later one only after
//!   every earlier one left `pending`.
//! - `delivered` only after a 2xx; `given_up` only after a failed attempt on an event older
//!   than `give_up_after`; neither state ever returns to `pending`.
//! - A sink's cursor only moves forward, and only together with the deliveries it enqueued.
//!
//! ## Recovery after a crash
//!
//! - Before the state change commits: no event, no outbox row; the next tick recomputes.
//! - After the commit, before enqueueing: the row is after the cursor; the restarted worker
//!   enqueues it.
//! - After a request went out but before `delivered` was recorded: the delivery is still
//!   `pending` and is sent again with the same key — at least once, never lost; receivers
//!   deduplicate on `X-Dnsgrade-Delivery`.
//! - Retry times are wall-clock instants in the ledger; a restart keeps the backoff.
//!
//! ## When rows are deleted
//!
//! Outbox rows and their deliveries go with their event: when [`IncidentStore::prune`]
//! removes a resolved incident past the ledger retention (365 days), and monitor events older
//! than the retention (but the newest). `give_up_after` is at most 30 days, so by then every
//! delivery is `delivered` or `given_up`. Deliveries of a sink removed from the config stay
//! until then, untouched.

mod alertmanager;
mod backoff;
pub mod filter;
pub mod webhook;
mod worker;

pub use alertmanager::{
    incident_alert, monitor_alert, refresh_alerts, ALERTS_PATH, INCIDENT_ALERTNAME,
    MONITOR_ALERTNAME,
};
pub use backoff::{Backoff, BackoffError, DEFAULT_BACKOFF};
pub use worker::{decide, Failure};

use crate::clock::Clock;
use crate::config::{AlertConfig, Config, Object};
use crate::grading::{authority, object_key, Level, Rules};
use crate::incident::{IncidentStore, StoreError};
use crate::metrics::Metrics;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why the alert service could not start.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The ledger could not be read or written (cursors).
    #[error("alert outbox: {0}")]
    Store(#[from] StoreError),
    /// The HTTP client of a sink could not be built (TLS set-up).
    #[error("cannot build the HTTP client of sink {sink}: {source}")]
    Client {
        /// The sink.
        sink: String,
        /// The cause.
        source: reqwest::Error,
    },
}

/// What the sinks need to know besides the event: objects (tier, scope, routing) and where
/// dnsgrade's API is, for links.
#[derive(Debug)]
pub struct AlertContext {
    /// The configuration (objects and `[alert]`).
    pub config: Arc<Config>,
    /// The rules (authority names).
    pub rules: Arc<Rules>,
    /// Base URL of this daemon's HTTP API, e.g. `http://127.0.0.1:9553`.
    pub api_base: String,
    /// Every authority name that leads or is notified of each object's response, at any
    /// grade (normalised), for the `authority` filter.
    routing: HashMap<crate::config::ObjectKey, Vec<String>>,
}

impl AlertContext {
    /// A context for `config`, `rules`, and the API at `api_base`.
    pub fn new(config: Arc<Config>, rules: Arc<Rules>, api_base: impl Into<String>) -> Self {
        let mut routing = HashMap::new();
        for o in &config.objects {
            let mut names: Vec<String> = Vec::new();
            for l in Level::ALL {
                let a = authority(o, l, &rules);
                for n in [a.lead_zh, a.lead_en].into_iter().chain(a.notify) {
                    let n = crate::config::normalize_authority(&n);
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
            routing.insert(object_key(o), names);
        }
        Self {
            config,
            rules,
            api_base: api_base.into().trim_end_matches('/').to_string(),
            routing,
        }
    }

    /// The configured object with key `class/name`, if it still is configured.
    pub fn object(&self, key: &str) -> Option<&Object> {
        self.config.objects.iter().find(|o| object_key(o) == key)
    }

    /// Authority names of the object's routing at any grade (empty if not configured).
    pub fn authorities(&self, key: &str) -> &[String] {
        self.routing.get(key).map_or(&[], Vec::as_slice)
    }

    /// The API URL of an incident.
    pub fn incident_url(&self, id: i64) -> String {
        format!("{}/api/v1/incidents/{id}", self.api_base)
    }
}

/// Tunables of the workers; the defaults are what the daemon uses.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How often a worker looks for new and due deliveries (monotonic time).
    pub poll: Duration,
    /// Retry delays.
    pub backoff: Backoff,
    /// Deliveries attempted at once per sink.
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(250),
            backoff: DEFAULT_BACKOFF,
            concurrency: 8,
        }
    }
}

/// The running outbox workers, one per sink.
#[derive(Debug)]
pub struct AlertService {
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl AlertService {
    /// Creates every sink's cursor (synchronously, so that no event written after this call
    /// can escape a sink) and starts one worker per sink of `alert`.
    pub fn start(
        alert: &AlertConfig,
        ctx: Arc<AlertContext>,
        store: Arc<IncidentStore>,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
        options: Options,
    ) -> Result<AlertService, AlertError> {
        let cancel = CancellationToken::new();
        let mut workers = Vec::new();
        for sink in &alert.sinks {
            let cursor = store.outbox_cursor(&sink.name)?;
            let client = reqwest::Client::builder()
                .timeout(sink.timeout)
                .connect_timeout(sink.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .user_agent(concat!("dnsgrade/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|source| AlertError::Client {
                    sink: sink.name.clone(),
                    source,
                })?;
            metrics.init_sink(&sink.name);
            workers.push(worker::Worker {
                sink: sink.clone(),
                client,
                store: store.clone(),
                clock: clock.clone(),
                metrics: metrics.clone(),
                ctx: ctx.clone(),
                options,
                give_up_after: alert.give_up_after,
                resend_interval: alert.resend_interval,
                resend_resolved_for: alert.resend_resolved_for,
                cursor,
                last_refresh: None,
            });
        }
        let tasks = workers
            .into_iter()
            .map(|w| tokio::spawn(w.run(cancel.clone())))
            .collect();
        Ok(AlertService { cancel, tasks })
    }

    /// Stops the workers (an attempt in flight is abandoned; its delivery stays pending and
    /// is sent again after the next start).
    pub async fn stop(self) {
        self.cancel.cancel();
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

#[cfg(test)]
mod tests;
