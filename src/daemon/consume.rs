//! The result consumer: probe results into the store of observations, and their counters.

use crate::config::CheckRole;
use crate::metrics::Metrics;
use crate::probe::schedule::{ProbeResult, Target};
use crate::probe::{Outcome, Verdict};
use crate::state::lock;
use crate::stats::StatsStore;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The metric handles of one (address, check role), resolved on first use and then reused,
/// so counting a probe is an atomic add with no label look-up. Dropped, with the address's
/// series, once the address is no longer probed: a handle kept would create them again.
struct Handles {
    /// Keeps the target alive, so its pointer (the cache key) cannot be reused by another.
    target: Arc<Target>,
    labels: crate::metrics::AddressLabels,
    probes: [[Option<crate::metrics::Value>; Outcome::COUNT]; 2],
    duration: [Option<crate::metrics::compact::Histogram>; 2],
    data: [Option<crate::metrics::Value>; 4],
}

impl Handles {
    fn new(target: Arc<Target>, labels: crate::metrics::AddressLabels) -> Self {
        Self {
            labels,
            target,
            probes: Default::default(),
            duration: Default::default(),
            data: Default::default(),
        }
    }

    fn count(&mut self, m: &Metrics, r: &ProbeResult, verdict: Verdict) {
        let (role, transport) = (r.role.as_str(), r.transport.as_str());
        let tr = usize::from(r.transport == crate::config::Transport::Tcp);
        if let Some(slot) = self.probes[tr].get_mut(r.outcome.index()) {
            slot.get_or_insert_with(|| {
                m.probes
                    .series(&self.labels, &[role, transport, r.outcome.as_str()])
            })
            .inc();
        }
        if let Some(rtt) = r.rtt {
            self.duration[tr]
                .get_or_insert_with(|| m.probe_duration.series(&self.labels, &[transport]))
                .observe(rtt.as_secs_f64());
        }
        if verdict.is_checked() {
            let v = match verdict {
                Verdict::Unchecked => 0,
                Verdict::Correct => 1,
                Verdict::Missing => 2,
                Verdict::Wrong => 3,
            };
            self.data[v]
                .get_or_insert_with(|| m.data_checks.series(&self.labels, &[verdict.as_str()]))
                .inc();
        }
    }
}

/// The cache key of a result's metric handles: its target (by pointer) and its check role.
fn key(r: &ProbeResult) -> (usize, CheckRole) {
    (Arc::as_ptr(&r.target) as usize, r.role)
}

type HandleCache = HashMap<(usize, CheckRole), Handles>;

/// Whether the store probes `target` still (an entry gone counts as not).
fn active(s: &StatsStore, target: &Target) -> bool {
    s.servers.get(target).is_some_and(|e| e.active)
}

/// Drops the handles of every address no longer probed, with the address's probe counters,
/// latency histograms and data check counters; runs when the store's count of deactivations
/// moved, so a batch pays nothing otherwise.
fn drop_inactive(s: &StatsStore, handles: &mut HandleCache, m: &Metrics) {
    handles.retain(|_, h| {
        let keep = active(s, &h.target);
        if !keep {
            m.remove_address_counters(&h.labels);
        }
        keep
    });
}

/// Records a batch in the store under one hold of its lock; returns each result's verdict.
/// A result of an address no longer probed (a probe in flight when it was dropped) is
/// recorded but gets no handles, so it creates no series.
fn record_batch(
    store: &Mutex<StatsStore>,
    batch: &[ProbeResult],
    handles: &mut HandleCache,
    seen_deactivations: &mut u64,
    m: &Metrics,
) -> Vec<Verdict> {
    let mut s = lock(store);
    let s = &mut *s;
    if s.deactivations != *seen_deactivations {
        *seen_deactivations = s.deactivations;
        drop_inactive(s, handles, m);
    }
    batch
        .iter()
        .map(|r| {
            let verdict = s.record(r);
            match s.servers.get(&r.target) {
                // A new (address, role) takes the labels its store entry rendered.
                Some(e) if e.active => {
                    if let Entry::Vacant(v) = handles.entry(key(r)) {
                        v.insert(Handles::new(r.target.clone(), e.labels.clone()));
                    }
                }
                _ => {
                    if let Some(h) = handles.remove(&key(r)) {
                        m.remove_address_counters(&h.labels);
                    }
                }
            }
            verdict
        })
        .collect()
}

pub(super) async fn consume(
    mut rx: mpsc::Receiver<ProbeResult>,
    store: Arc<Mutex<StatsStore>>,
    metrics: Metrics,
) {
    let mut batch = Vec::with_capacity(1024);
    let mut handles = HandleCache::new();
    let mut seen_deactivations = 0;
    while rx.recv_many(&mut batch, 1024).await > 0 {
        // Results trickle in one by one; a short pause gathers them into batches, so the
        // consumer wakes at most about a hundred times a second whatever the probe rate.
        if batch.len() < 1024 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            while batch.len() < 4096 {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
        }
        let verdicts = record_batch(
            &store,
            &batch,
            &mut handles,
            &mut seen_deactivations,
            &metrics,
        );
        for (r, verdict) in batch.drain(..).zip(verdicts) {
            if let Some(h) = handles.get_mut(&key(&r)) {
                h.count(&metrics, &r, verdict);
            }
        }
    }
}
