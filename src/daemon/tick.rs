//! The evaluation tick: snapshot the store, grade, write the ledger, publish the board; and
//! the hourly prune of the ledger.

use crate::clock::UnixMillis;
use crate::evaluator::Evaluator;
use crate::state::{lock, Shared};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub(super) async fn tick(
    shared: Shared,
    (every, retention): (Duration, Duration),
    evaluator: Arc<Mutex<Evaluator>>,
    cancel: CancellationToken,
) {
    let mut last_prune: Option<UnixMillis> = None;
    let mut review = super::contacts::ContactReview::default();
    let mut iv = tokio::time::interval(every);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let scheduled = tokio::select! {
            _ = cancel.cancelled() => return,
            t = iv.tick() => t,
        };
        let lag = tokio::time::Instant::now().saturating_duration_since(scheduled);
        shared.metrics.evaluation_lag.set(lag.as_secs_f64());
        let now = shared.clock.now_ms();
        let (sh, ev) = (shared.clone(), evaluator.clone());
        // The gauges, the snapshot and the SQLite writes happen here: off the async workers,
        // which keep serving HTTP meanwhile.
        // The statistics lock is held only while the snapshot is taken; grading and the
        // ledger's transaction run without it, so recording results never waits on an fsync.
        let done = tokio::task::spawn_blocking(move || {
            let obs = sh.observe(now);
            lock(&ev).tick(&obs, now)
        })
        .await;
        // The roster: overdue contacts counted every tick, logged daily.
        review.check(&shared.config.load(), &shared.metrics, now);
        // Resolved incidents older than the retention leave the ledger, hourly.
        if last_prune.is_none_or(|t| now.saturating_sub(t) >= 3_600_000) {
            last_prune = Some(now);
            let (store, retain) = (shared.incidents.clone(), retention);
            match tokio::task::spawn_blocking(move || store.prune(retain, now)).await {
                Ok(Ok(p)) if p.incidents > 0 => tracing::info!(
                    incidents = p.incidents,
                    "pruned resolved incidents past the ledger retention"
                ),
                Ok(Err(e)) => tracing::error!(error = %e, "ledger prune failed"),
                _ => {}
            }
        }
        match done {
            Ok(Ok((board, outcome))) => {
                shared.health.tick_done(now, lag, Ok(outcome.warming_up));
                shared.publish(board, &outcome)
            }
            Ok(Err(e)) => {
                shared.health.tick_done(now, lag, Err(e.to_string()));
                tracing::error!(error = %e, "evaluation failed: the incident ledger could not be written; will retry next tick")
            }
            Err(e) => {
                shared
                    .health
                    .tick_done(now, lag, Err(format!("evaluation task failed: {e}")));
                tracing::error!(error = %e, "evaluation task failed")
            }
        }
    }
}
