//! The registry services (EPP, RDAP, WHOIS) of each object that has them: one runner each,
//! whose results go to the store's registry health trackers and to their metrics.

use super::DaemonError;
use crate::clock::{Clock, UnixMillis};
use crate::config::{Config, Object};
use crate::grading::Rules;
use crate::metrics::Metrics;
use crate::probe::registry::{
    RegistryHealthTracker, RegistryProbeResult, RegistryProbeSet, RegistryTargets,
};
use crate::state::lock;
use crate::stats::StatsStore;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One object's registry probes, built (and so checked: CA file, client certificate, EPP
/// credentials) but not yet running.
pub(super) struct Prepared {
    set: RegistryProbeSet,
    key: crate::config::ObjectKey,
    class: &'static str,
    name: String,
    every: std::time::Duration,
}

/// Builds the registry probes of `obj`, if it has registry services; an error names the
/// object.
pub(super) fn prepare(
    obj: &Object,
    config: &Config,
    rules: &Rules,
) -> Result<Option<Prepared>, DaemonError> {
    let Some(reg) = &obj.registry else {
        return Ok(None);
    };
    let set = RegistryTargets::from_config(reg, config.daemon.timeout)
        .and_then(RegistryProbeSet::new)
        .map_err(|source| DaemonError::Registry {
            object: obj.name.clone(),
            source,
        })?;
    Ok(Some(Prepared {
        set,
        key: crate::grading::object_key(obj),
        class: obj.class.as_str(),
        name: obj.name.clone(),
        // Often enough that an outage is seen as one (the SLR's unavailable window).
        every: config
            .daemon
            .interval
            .min(rules.registry.max_probe_interval()),
    }))
}

impl Prepared {
    /// Gives the object a fresh health tracker in the store and starts its runner, which
    /// stops with `cancel`.
    pub(super) fn spawn(
        self,
        rules: &Rules,
        store: &Arc<Mutex<StatsStore>>,
        metrics: &Metrics,
        clock: &Arc<dyn Clock>,
        cancel: &CancellationToken,
    ) -> JoinHandle<()> {
        let services = self.set.services();
        lock(store).registries.insert(
            self.key.clone(),
            RegistryHealthTracker::new(rules.registry, &services),
        );
        tracing::info!(object = %self.key, services = %services.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","), every_s = self.every.as_secs_f64(), "probing registry services");
        let record = Recorder {
            store: store.clone(),
            metrics: metrics.clone(),
            class: self.class,
            name: self.name,
            key: self.key,
        };
        tokio::spawn(crate::probe::registry::runner::run(
            self.set,
            self.every,
            clock.clone(),
            cancel.clone(),
            move |at, r| record.record(at, r),
        ))
    }
}

/// Where one object's registry results go.
struct Recorder {
    store: Arc<Mutex<StatsStore>>,
    metrics: Metrics,
    class: &'static str,
    name: String,
    key: crate::config::ObjectKey,
}

impl Recorder {
    fn record(&self, at: UnixMillis, r: &RegistryProbeResult) {
        let (class, name, m) = (self.class, self.name.as_str(), &self.metrics);
        let service = r.service.as_str();
        m.registry_probes
            .with_label_values(&[class, name, service, r.outcome.as_str()])
            .inc();
        if let Some(rtt) = r.rtt {
            m.registry_probe_duration
                .with_label_values(&[class, name, service])
                .observe(rtt.as_secs_f64());
        }
        if !r.outcome.is_ok() {
            tracing::debug!(object = %name, service = %service, outcome = %r.outcome.as_str(), detail = %r.detail, "registry probe failed");
        }
        let mut s = lock(&self.store);
        let Some(t) = s.registries.get_mut(&self.key) else {
            return;
        };
        t.record(at, r);
        if let Some(h) = t.service(r.service, at) {
            for st in ["unknown", "ok", "degraded", "unavailable"] {
                m.registry_service_state
                    .with_label_values(&[class, name, service, st])
                    .set(i64::from(h.state.as_str() == st));
            }
        }
    }
}
