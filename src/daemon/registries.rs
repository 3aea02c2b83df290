//! The registry services (EPP, RDAP, WHOIS) of each object that has them: one runner each,
//! whose results go to the store's registry health trackers and to their metrics.

use super::DaemonError;
use crate::clock::{Clock, UnixMillis};
use crate::config::Config;
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

/// Builds every object's registry probes (an error names the object: CA file, client
/// certificate, EPP credentials) and starts their runners.
pub(super) fn start(
    config: &Config,
    rules: &Rules,
    store: &Arc<Mutex<StatsStore>>,
    metrics: &Metrics,
    clock: &Arc<dyn Clock>,
    cancel: &CancellationToken,
) -> Result<Vec<JoinHandle<()>>, DaemonError> {
    let mut tasks = Vec::new();
    for obj in config.objects.iter() {
        let Some(reg) = &obj.registry else { continue };
        let set = RegistryTargets::from_config(reg, config.daemon.timeout)
            .and_then(RegistryProbeSet::new)
            .map_err(|source| DaemonError::Registry {
                object: obj.name.clone(),
                source,
            })?;
        let key = crate::grading::object_key(obj);
        let slr = rules.registry;
        lock(store).registries.insert(
            key.clone(),
            RegistryHealthTracker::new(slr, &set.services()),
        );
        // Often enough that an outage is seen as one (the SLR's unavailable window).
        let every = config.daemon.interval.min(slr.max_probe_interval());
        tracing::info!(object = %key, services = ?set.services(), every = ?every, "probing registry services");
        let record = Recorder {
            store: store.clone(),
            metrics: metrics.clone(),
            class: obj.class.as_str(),
            name: obj.name.clone(),
            key,
        };
        tasks.push(tokio::spawn(crate::probe::registry::runner::run(
            set,
            every,
            clock.clone(),
            cancel.clone(),
            move |at, r| record.record(at, r),
        )));
    }
    Ok(tasks)
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
            tracing::debug!(object = %name, service, outcome = r.outcome.as_str(), detail = %r.detail, "registry probe failed");
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
