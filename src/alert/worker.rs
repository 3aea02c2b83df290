//! One sink's delivery loop: enqueue → pick due → attempt → record (see the module design in
//! [`crate::alert`]). The decisions are in the pure [`decide`]; the loop only does I/O.

use super::alertmanager::{alerts_for_event, refresh_alerts, ALERTS_PATH};
use super::{filter, webhook, AlertContext, Backoff, Options};
use crate::clock::{Clock, UnixMillis};
use crate::config::{SinkConfig, SinkKind};
use crate::incident::{AlertEvent, Attempt, DueDelivery, IncidentStore, OutboxItem, StoreError};
use crate::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Outbox rows read per enqueue step.
const ENQUEUE_BATCH: u32 = 500;

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status, when a reply came.
    pub status: Option<u16>,
    /// What happened, for the ledger and the API (never contains the secret or the URL).
    pub error: String,
    /// Bounded reason label: `connect`, `timeout`, `http_4xx`, `http_5xx`, `http_other`,
    /// `other`.
    pub reason: &'static str,
}

/// What to record after an attempt on an event that happened at `event_at`, the
/// `failures_before`-th failure so far: delivered on a 2xx; otherwise given up once the
/// event is `give_up_after` old at `now`, else retried after the backoff (jittered by
/// `jitter`, a draw in [0, 1]).
pub fn decide(
    result: Result<u16, Failure>,
    failures_before: u32,
    event_at: UnixMillis,
    now: UnixMillis,
    give_up_after: Duration,
    backoff: &Backoff,
    rng: &mut impl rand::Rng,
) -> Attempt {
    match result {
        Ok(status) => Attempt::Delivered { status },
        Err(f) => {
            if now.saturating_sub(event_at) >= give_up_after.as_millis() as u64 {
                Attempt::GiveUp {
                    status: f.status,
                    error: f.error,
                }
            } else {
                let d = backoff.delay(failures_before.saturating_add(1), rng);
                Attempt::Retry {
                    status: f.status,
                    error: f.error,
                    next_at: now + d.as_millis() as u64,
                }
            }
        }
    }
}

pub(super) struct Worker {
    pub(super) sink: SinkConfig,
    pub(super) client: reqwest::Client,
    pub(super) store: Arc<IncidentStore>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) metrics: Metrics,
    pub(super) ctx: Arc<AlertContext>,
    pub(super) options: Options,
    pub(super) give_up_after: Duration,
    pub(super) resend_interval: Duration,
    pub(super) resend_resolved_for: Duration,
    pub(super) cursor: i64,
    pub(super) last_refresh: Option<UnixMillis>,
}

/// Runs a ledger call off the async workers.
async fn db<T: Send + 'static>(
    store: &Arc<IncidentStore>,
    f: impl FnOnce(&IncidentStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let s = store.clone();
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .map_err(|e| StoreError::Corrupt(format!("ledger task failed: {e}")))?
}

impl Worker {
    pub(super) async fn run(mut self, cancel: CancellationToken) {
        tracing::info!(sink = %self.sink.name, kind = %self.sink.kind.as_str(), url = %self.sink.display_url(), "alert sink started");
        loop {
            let busy = match self.pass().await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::error!(sink = %self.sink.name, error = %e, "alert outbox: the ledger could not be read or written; will retry");
                    false
                }
            };
            if busy {
                if cancel.is_cancelled() {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.options.poll) => {}
            }
        }
    }

    /// One pass; true when it attempted a full batch (more may be due right away).
    async fn pass(&mut self) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        self.enqueue(now).await?;
        let name = self.sink.name.clone();
        let limit = self.options.concurrency.max(1) as u32;
        let due = db(&self.store, move |s| s.outbox_due(&name, now, limit)).await?;
        let busy = due.len() as u32 == limit;
        let mut set = JoinSet::new();
        for d in due {
            let previous = match (&d.item.event, self.sink.kind) {
                (AlertEvent::Incident(e), SinkKind::Alertmanager) => {
                    let (id, seq) = (e.incident_id, e.seq);
                    db(&self.store, move |s| s.previous_delivered_snapshot(id, seq)).await?
                }
                _ => None,
            };
            let req = self.request(&d.item, previous.as_ref());
            set.spawn(async move {
                let r = send(req).await;
                (d, r)
            });
        }
        while let Some(joined) = set.join_next().await {
            let Ok((d, result)) = joined else { continue };
            self.record(d, result).await?;
        }
        if self.sink.kind == SinkKind::Alertmanager {
            self.refresh(now).await;
        }
        self.gauges(now).await?;
        Ok(busy)
    }

    async fn enqueue(&mut self, now: UnixMillis) -> Result<(), StoreError> {
        loop {
            let after = self.cursor;
            let items = db(&self.store, move |s| s.outbox_after(after, ENQUEUE_BATCH)).await?;
            let Some(last) = items.last().map(|i| i.id) else {
                return Ok(());
            };
            let n = items.len();
            let (filter, ctx, name) = (
                self.sink.filter.clone(),
                self.ctx.clone(),
                self.sink.name.clone(),
            );
            db(&self.store, move |s| {
                let accepted: Vec<&OutboxItem> = items
                    .iter()
                    .filter(|i| filter::accepts(&filter, &i.event, &ctx))
                    .collect();
                s.outbox_enqueue(&name, &accepted, last, now)
            })
            .await?;
            self.cursor = last;
            if n < ENQUEUE_BATCH as usize {
                return Ok(());
            }
        }
    }

    fn request(
        &self,
        item: &OutboxItem,
        previous: Option<&crate::incident::Incident>,
    ) -> reqwest::RequestBuilder {
        match self.sink.kind {
            SinkKind::Webhook => webhook::request(
                &self.client,
                &self.sink.url,
                self.sink.secret.as_ref(),
                item,
                &self.ctx,
            ),
            SinkKind::Alertmanager => self
                .client
                .post(format!("{}{ALERTS_PATH}", self.sink.url))
                .json(&alerts_for_event(item, previous, &self.ctx)),
        }
    }

    async fn record(&self, d: DueDelivery, result: Result<u16, Failure>) -> Result<(), StoreError> {
        let m = &self.metrics;
        let sink = self.sink.name.as_str();
        m.outbox_attempts.with_label_values(&[sink]).inc();
        if let Err(f) = &result {
            m.outbox_failures.with_label_values(&[sink, f.reason]).inc();
        }
        let now = self.clock.now_ms();
        let attempt = decide(
            result,
            d.attempts,
            d.item.event.at().ms(),
            now,
            self.give_up_after,
            &self.options.backoff,
            &mut rand::rng(),
        );
        let event_type = d.item.event.type_name();
        match &attempt {
            Attempt::Delivered { status } => {
                m.outbox_delivered.with_label_values(&[sink]).inc();
                tracing::info!(sink = %sink, delivery = %d.item.key, event = %event_type, status, attempts = d.attempts + 1, "alert delivered");
            }
            Attempt::Retry { error, next_at, .. } => {
                tracing::warn!(sink = %sink, delivery = %d.item.key, event = %event_type, attempts = d.attempts + 1, retry_in_s = next_at.saturating_sub(now) / 1000, error = %error, "alert delivery failed; will retry");
            }
            Attempt::GiveUp { error, .. } => {
                m.outbox_given_up.with_label_values(&[sink]).inc();
                tracing::error!(sink = %sink, delivery = %d.item.key, event = %event_type, stream = %d.item.stream, attempts = d.attempts + 1, give_up_after_s = self.give_up_after.as_secs(), error = %error, "alert delivery given up: the event is older than give_up_after");
            }
        }
        let (name, id) = (self.sink.name.clone(), d.item.id);
        db(&self.store, move |s| {
            s.outbox_record(&name, id, &attempt, now)
        })
        .await
    }

    /// Alertmanager: re-post the current state every `resend_interval` (best effort; the
    /// transitions themselves go through the outbox).
    async fn refresh(&mut self, now: UnixMillis) {
        if self
            .last_refresh
            .is_some_and(|t| now.saturating_sub(t) < self.resend_interval.as_millis() as u64)
        {
            return;
        }
        let (name, filter, ctx, window) = (
            self.sink.name.clone(),
            self.sink.filter.clone(),
            self.ctx.clone(),
            self.resend_resolved_for,
        );
        let alerts = match db(&self.store, move |s| {
            refresh_alerts(s, &name, &filter, &ctx, now, window)
        })
        .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(sink = %self.sink.name, error = %e, "alertmanager refresh: ledger read failed");
                return;
            }
        };
        if !alerts.is_empty() {
            let req = self
                .client
                .post(format!("{}{ALERTS_PATH}", self.sink.url))
                .json(&alerts);
            if let Err(f) = send(req).await {
                self.metrics
                    .outbox_failures
                    .with_label_values(&[&self.sink.name, f.reason])
                    .inc();
                tracing::warn!(sink = %self.sink.name, alerts = alerts.len(), error = %f.error, "alertmanager refresh failed; will retry");
                return; // try again on the next pass
            }
        }
        self.last_refresh = Some(now);
    }

    async fn gauges(&self, now: UnixMillis) -> Result<(), StoreError> {
        let name = self.sink.name.clone();
        let s = db(&self.store, move |st| st.outbox_summary(&name)).await?;
        let sink = self.sink.name.as_str();
        self.metrics
            .outbox_depth
            .with_label_values(&[sink])
            .set(s.pending as i64);
        let age = s
            .oldest_pending_at
            .map_or(0.0, |t| now.saturating_sub(t.ms()) as f64 / 1000.0);
        self.metrics
            .outbox_oldest_age
            .with_label_values(&[sink])
            .set(age);
        Ok(())
    }
}

/// Sends one request: Ok(status) on a 2xx.
async fn send(req: reqwest::RequestBuilder) -> Result<u16, Failure> {
    match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            if status.is_success() {
                Ok(status.as_u16())
            } else {
                let reason = match status.as_u16() {
                    400..=499 => "http_4xx",
                    500..=599 => "http_5xx",
                    _ => "http_other",
                };
                Err(Failure {
                    status: Some(status.as_u16()),
                    error: format!("HTTP {status}"),
                    reason,
                })
            }
        }
        Err(e) => {
            let reason = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "other"
            };
            let e = e.without_url();
            let mut text = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                text.push_str(": ");
                text.push_str(&s.to_string());
                src = s.source();
            }
            Err(Failure {
                status: None,
                error: text,
                reason,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn fail() -> Result<u16, Failure> {
        Err(Failure {
            status: Some(503),
            error: "HTTP 503".into(),
            reason: "http_5xx",
        })
    }

    #[test]
    fn a_2xx_is_delivered_whatever_the_age() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let b = super::super::DEFAULT_BACKOFF;
        let day = Duration::from_secs(86_400);
        assert_eq!(
            decide(Ok(204), 50, 0, 10 * 86_400_000, day, &b, &mut rng),
            Attempt::Delivered { status: 204 }
        );
    }

    #[test]
    fn failures_retry_with_backoff_until_the_event_is_give_up_after_old() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let b = super::super::DEFAULT_BACKOFF;
        let give_up = Duration::from_secs(24 * 3600);
        let at = 1_700_000_000_000u64;
        // Simulate a receiver that is down for good: follow the schedule decide() makes.
        let mut now = at;
        let mut failures = 0;
        loop {
            match decide(fail(), failures, at, now, give_up, &b, &mut rng) {
                Attempt::Retry {
                    next_at, status, ..
                } => {
                    assert_eq!(status, Some(503));
                    let c = b.ceiling(failures + 1).as_millis() as u64;
                    assert!(
                        next_at >= now + c / 2 && next_at <= now + c,
                        "jitter bounds"
                    );
                    assert!(now - at < give_up.as_millis() as u64);
                    now = next_at;
                    failures += 1;
                }
                Attempt::GiveUp { error, .. } => {
                    assert_eq!(error, "HTTP 503");
                    assert!(now - at >= give_up.as_millis() as u64, "never before 24 h");
                    // At most one capped interval (5 min) after the age was reached.
                    assert!(now - at < give_up.as_millis() as u64 + 300_000);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        // 1+2+…+256 s ≈ 8.5 min of doubling, then every 2.5–5 min: a few hundred attempts.
        assert!(
            (250..700).contains(&failures),
            "{failures} attempts in 24 h"
        );
        // A configurable age: one hour gives up much sooner.
        let hour = Duration::from_secs(3600);
        assert!(matches!(
            decide(fail(), 3, at, at + 3_600_000, hour, &b, &mut rng),
            Attempt::GiveUp { .. }
        ));
        assert!(matches!(
            decide(fail(), 3, at, at + 3_599_999, hour, &b, &mut rng),
            Attempt::Retry { .. }
        ));
    }
}
