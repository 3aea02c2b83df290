//! `dnsgrade run`: builds the parts from a validated configuration and runs them.
//!
//! [`Daemon::start`] reads as the order of things: the ledger, the probe engine, the store of
//! observations, the HTTP listener, the alert outbox, the result consumer (`consume`), the
//! configured maintenance windows, the references, a first evaluation, then the HTTP server,
//! the servers' probe loops (`servers`), the registry runners (`registries`) and the tick
//! (`tick`).
//!
//! Services and how they end: the probe loops are cancelled by one token;
//! the result consumer ends when every sender (the probe tasks) is gone and flushes as it goes;
//! the evaluation ticker and the HTTP server stop on the same token. [`Daemon::stop`] waits for
//! all of them with a grace timeout.

mod consume;
mod contacts;
pub mod lock;
pub mod logging;
pub mod notify;
mod registries;
mod reload;
mod servers;
mod tick;

pub use reload::Sources;

use crate::alert::AlertService;
use crate::clock::{Clock, UnixMillis};
use crate::config::{Config, DaemonConfig};
use crate::evaluator::{Evaluator, Observations};
use crate::grading::Rules;
use crate::incident::{IncidentStore, StoreError};
use crate::metrics::Metrics;
use crate::probe::runtime::ProbeRuntime;
use crate::probe::schedule::{Limits, ProbeContext, ProbeResult};
use crate::probe::{Prober, ProberConfig};
use crate::state::Shared;
use crate::stats::{StatsStore, WindowSpec};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The HTTP listener's limits for this process: the descriptor limit is raised to the hard
/// limit first, and a warning says when a big outage could still run the monitor out of
/// descriptors (every probe in flight over TCP holds one).
fn http_limits(d: &crate::config::DaemonConfig) -> crate::http::Limits {
    let nofile = crate::http::raise_nofile();
    let limits = crate::http::Limits::new(d.http_max_connections, nofile, d.http_header_timeout);
    let needed =
        d.max_in_flight as u64 + limits.max_connections as u64 + 2 * d.udp_sockets as u64 + 256;
    if needed > nofile {
        tracing::warn!(
            nofile,
            needed,
            "the descriptor limit is below max_in_flight + HTTP connections + a reserve: with many \
             servers dark over TCP, probes would fail locally (local_error) and grading would be \
             suspended; raise LimitNOFILE or lower max_in_flight"
        );
    }
    tracing::info!(
        nofile,
        http_max_connections = limits.max_connections,
        http_per_client = limits.per_peer,
        "HTTP limits"
    );
    limits
}

/// Probe results waiting for the consumer, at most: a burst this long is absorbed while the
/// consumer holds the store's lock.
const RESULT_QUEUE: usize = 16_384;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The HTTP listen address could not be bound (in use, or not permitted).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The probe sockets could not be opened.
    #[error("cannot open probe sockets: {0}")]
    Sockets(std::io::Error),
    /// The state directory or the incident ledger could not be opened.
    #[error("cannot open the incident ledger in {dir}: {source}")]
    Ledger {
        /// The state directory.
        dir: std::path::PathBuf,
        /// The cause.
        source: StoreError,
    },
    /// The alert outbox could not be set up.
    #[error("{0}")]
    Alerts(crate::alert::AlertError),
    /// A reference zone could not be read.
    #[error("cannot load the reference zone {file} of {object}: {reason}")]
    Reference {
        /// The object.
        object: String,
        /// The file.
        file: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A registry probe could not be built (CA file, client certificate, EPP credentials).
    #[error("cannot probe the registry services of {object}: {source}")]
    Registry {
        /// The object.
        object: String,
        /// The cause.
        source: crate::probe::registry::RegistryError,
    },
    /// Another daemon holds the state directory, or its lock file cannot be used.
    #[error("{0}")]
    Lock(lock::LockError),
    /// The state directory could not be created.
    #[error("cannot create the state directory {dir}: {source}")]
    StateDir {
        /// The directory.
        dir: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A running daemon.
pub struct Daemon {
    /// State the HTTP server reads; also handy for tests.
    pub shared: Shared,
    /// The bound HTTP address (useful when the config asks for port 0).
    pub http_addr: SocketAddr,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    consumer: JoinHandle<()>,
    reloader: Arc<reload::Reloader>,
    probe_runtime: ProbeRuntime,
    /// Held for the daemon's life: no second daemon on the same state directory.
    _lock: lock::StateLock,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// Starts every service. Returns once the HTTP port is bound and probing has begun.
    pub async fn start(
        config: Config,
        rules: Rules,
        clock: Arc<dyn Clock>,
    ) -> Result<Daemon, DaemonError> {
        let config = Arc::new(config);
        let d = &config.daemon;
        let rules = Arc::new(measured_by(rules, d));
        let (state_lock, incidents) = open_ledger(d)?;
        let metrics = Metrics::new();
        let (probe_runtime, prober) = start_prober(d).await?;
        let store = Arc::new(Mutex::new(StatsStore::new(window_spec(d, &rules))));
        let (tx, rx) = mpsc::channel::<ProbeResult>(RESULT_QUEUE);
        let ctx = probe_context(&config, &probe_runtime, &prober, &clock, tx);
        let shared = shared_state(
            &config, &rules, &metrics, &store, &clock, prober, &incidents,
        );
        let cancel = CancellationToken::new();
        let (listener, http_addr) = listen(d.listen).await?;
        let api_base = format!("http://{http_addr}");
        // Alert sinks: their cursors exist before the first tick can write an event.
        let alerts = start_alerts(&shared, config.clone(), rules.clone(), &api_base)?;
        let consumer = tokio::spawn(consume::consume(rx, store.clone(), metrics.clone()));
        declare_maintenance(&config, &incidents, clock.now_ms());
        let evaluator = first_evaluation(&config, &rules, &incidents, &shared, clock.now_ms())?;
        warn_capacity(&config, &rules);
        metrics.set_vantage(
            &d.vantage.name,
            d.vantage.region.as_deref(),
            d.vantage.network.as_deref(),
        );
        let parts = reload::Parts {
            shared: shared.clone(),
            ctx,
            resolver: system_resolver(d),
            cancel: cancel.clone(),
            evaluator: evaluator.clone(),
            api_base,
        };
        let all: Vec<usize> = (0..config.objects.len()).collect();
        let started = reload::start_objects(&parts, &config, &rules, &all, HashMap::new()).await?;
        let tasks = vec![
            tokio::spawn(crate::http::serve(
                listener,
                shared.clone(),
                cancel.clone(),
                http_limits(d),
            )),
            tokio::spawn(tick::tick(
                shared.clone(),
                (d.tick, d.ledger_retention),
                evaluator,
                cancel.clone(),
            )),
        ];
        metrics.reload.read_at(clock.now_ms());
        tracing::info!(http = %http_addr, objects = config.objects.len(), "dnsgrade started");
        let running = reload::Running {
            config,
            rules,
            objects: started.objects,
            tasks: started.tasks,
            alerts: Some(alerts),
        };
        Ok(Daemon {
            shared,
            http_addr,
            cancel,
            tasks,
            consumer,
            reloader: Arc::new(reload::Reloader {
                parts,
                running: tokio::sync::Mutex::new(running),
            }),
            probe_runtime,
            _lock: state_lock,
        })
    }

    /// Re-reads `sources` and puts them in force if they are valid (see [`reload`]): what
    /// SIGHUP does. Reloads run one at a time.
    pub async fn reload(&self, sources: &Sources) -> crate::state::ReloadOutcome {
        self.reloader.reload(sources).await
    }

    /// Puts an already validated configuration and rules in force, as a reload from files
    /// would (for embedding and tests).
    pub async fn apply(&self, config: Config, rules: Rules) -> crate::state::ReloadOutcome {
        self.reloader.apply(config, rules).await
    }

    /// Serves `POST /-/reload`: from now on, its requests re-read `sources`.
    pub fn serve_reloads(&self, sources: Sources) {
        let (tx, mut rx) = mpsc::channel::<tokio::sync::oneshot::Sender<_>>(4);
        if self.shared.reload.set(tx).is_err() {
            tracing::warn!("reloads are already served");
            return;
        }
        let (reloader, cancel) = (self.reloader.clone(), self.cancel.clone());
        tokio::spawn(async move {
            loop {
                let reply = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = rx.recv() => match r { Some(r) => r, None => return },
                };
                let _ = reply.send(reloader.reload(&sources).await);
            }
        });
    }

    /// Stops probing, lets in-flight results drain into the statistics, stops HTTP.
    pub async fn stop(self) {
        self.cancel.cancel();
        let grace = Duration::from_secs(5);
        for t in self.tasks {
            let _ = tokio::time::timeout(grace, t).await;
        }
        self.reloader.stop(grace).await;
        // The probe context's last holders (the reloader, the loops) are gone now, and with
        // them every sender of results: the consumer ends once it has drained them.
        drop(self.reloader);
        let _ = tokio::time::timeout(grace, self.consumer).await;
        // Its thread is joined off the async workers.
        let rt = self.probe_runtime;
        let _ = tokio::task::spawn_blocking(move || drop(rt)).await;
    }

    /// A token that is cancelled when the daemon stops.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

/// The capacity warnings of a configuration (at start and after a reload), logged.
fn warn_capacity(config: &Config, rules: &Rules) {
    for w in crate::capacity::assess(config, rules).warnings {
        tracing::warn!("{w}");
    }
}

/// The rules with the daemon's measurement settings, which are the ones graded on.
fn measured_by(mut rules: Rules, d: &DaemonConfig) -> Rules {
    rules.measure.window = d.window;
    rules.measure.tick = d.tick;
    rules.measure.stop_window = d.stop_window;
    rules
}

/// The statistics windows: the daemon's window and slice, the rules' latency threshold and
/// quantile.
fn window_spec(d: &DaemonConfig, rules: &Rules) -> WindowSpec {
    WindowSpec {
        window: d.window,
        slice: d.tick,
        latency_thresholds: vec![rules.measure.latency_threshold],
        latency_quantiles: vec![rules.measure.latency_quantile],
    }
}

/// The state directory, created if needed and locked, and the ledger in it.
fn open_ledger(d: &DaemonConfig) -> Result<(lock::StateLock, Arc<IncidentStore>), DaemonError> {
    std::fs::create_dir_all(&d.state_dir).map_err(|source| DaemonError::StateDir {
        dir: d.state_dir.clone(),
        source,
    })?;
    let state_lock = lock::StateLock::acquire(&d.state_dir).map_err(DaemonError::Lock)?;
    let store = IncidentStore::open(&d.state_dir.join("dnsgrade.sqlite3")).map_err(|source| {
        DaemonError::Ledger {
            dir: d.state_dir.clone(),
            source,
        }
    })?;
    Ok((state_lock, Arc::new(store)))
}

/// The probe runtime and the prober, whose sockets belong to that runtime's reactor (so they
/// are opened there).
async fn start_prober(d: &DaemonConfig) -> Result<(ProbeRuntime, Prober), DaemonError> {
    let runtime = ProbeRuntime::start().map_err(DaemonError::Sockets)?;
    let prober = runtime
        .handle()
        .spawn(Prober::new(ProberConfig {
            udp_sockets: d.udp_sockets,
            edns_payload: d.edns_payload,
            timeout: d.timeout,
            max_in_flight: d.max_in_flight,
            source: d.source_address,
        }))
        .await
        .map_err(|e| DaemonError::Sockets(std::io::Error::other(e)))?
        .map_err(DaemonError::Sockets)?;
    Ok((runtime, prober))
}

/// What every probe loop and sampler shares (the DNSSEC policies are swapped by a reload).
fn probe_context(
    config: &Config,
    runtime: &ProbeRuntime,
    prober: &Prober,
    clock: &Arc<dyn Clock>,
    results: mpsc::Sender<ProbeResult>,
) -> Arc<ProbeContext> {
    let d = &config.daemon;
    Arc::new(ProbeContext {
        runtime: runtime.handle().clone(),
        epoch: tokio::time::Instant::now(),
        prober: prober.clone(),
        limits: Limits::new(d.global_rate, d.per_server_rate),
        clock: clock.clone(),
        results,
        interval: d.interval,
        jitter: d.jitter,
        dnssec: ArcSwap::from_pointee(reload::dnssec_policies(config)),
        dnssec_keys: Default::default(),
    })
}

/// The HTTP listener and the address it is bound to (the kernel's choice for port 0).
async fn listen(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), DaemonError> {
    let fail = |source| DaemonError::Listen { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(fail)?;
    let bound = listener.local_addr().map_err(fail)?;
    Ok((listener, bound))
}

/// The alert outbox's workers, one per configured sink; links in alerts point at `api_base`.
fn start_alerts(
    shared: &Shared,
    config: Arc<Config>,
    rules: Arc<Rules>,
    api_base: &str,
) -> Result<AlertService, DaemonError> {
    let alert = config.alert.clone();
    let context = crate::alert::AlertContext::new(config, rules, api_base);
    AlertService::start(
        &alert,
        Arc::new(context),
        shared.incidents.clone(),
        shared.clock.clone(),
        shared.metrics.clone(),
        crate::alert::Options::default(),
    )
    .map_err(DaemonError::Alerts)
}

/// The configured maintenance windows go into the ledger once (idempotent across restarts).
fn declare_maintenance(config: &Config, incidents: &IncidentStore, now: UnixMillis) {
    let declared = incidents.maintenance_windows(now).unwrap_or_default();
    for m in &config.maintenance {
        let exists = declared
            .iter()
            .any(|w| w.object == m.object && w.starts.ms() == m.starts && w.ends.ms() == m.ends);
        if !exists && m.ends > now {
            if let Err(e) = incidents.declare_maintenance(&m.object, m.starts, m.ends, &m.reason) {
                tracing::error!(object = %m.object, error = %e, "cannot record the configured maintenance window");
            }
        }
    }
}

/// What the HTTP side reads, before anything is published.
fn shared_state(
    config: &Arc<Config>,
    rules: &Arc<Rules>,
    metrics: &Metrics,
    store: &Arc<Mutex<StatsStore>>,
    clock: &Arc<dyn Clock>,
    prober: Prober,
    incidents: &Arc<IncidentStore>,
) -> Shared {
    let d = &config.daemon;
    Shared {
        metrics: metrics.clone(),
        store: store.clone(),
        resolve: Arc::default(),
        clock: clock.clone(),
        stop_window: d.stop_window,
        prober,
        board: Arc::default(),
        status_len: Arc::default(),
        incidents: incidents.clone(),
        api_token: d.api_token.as_deref().map(Arc::from),
        rules: Arc::new(ArcSwap::new(rules.clone())),
        config: Arc::new(ArcSwap::new(config.clone())),
        reload: Arc::default(),
        prober_sync: Arc::default(),
        health: Arc::new(crate::state::health::Health::new()),
        trends: Arc::default(),
    }
}

/// The evaluator, after a first evaluation before anything is served: open incidents are
/// held at their grades (the windows are empty), so /metrics never shows a restart as a drop
/// to 0.
fn first_evaluation(
    config: &Arc<Config>,
    rules: &Arc<Rules>,
    incidents: &Arc<IncidentStore>,
    shared: &Shared,
    now: UnixMillis,
) -> Result<Arc<Mutex<Evaluator>>, DaemonError> {
    let ledger = |source| DaemonError::Ledger {
        dir: config.daemon.state_dir.clone(),
        source,
    };
    let mut evaluator =
        Evaluator::new(config.clone(), rules.clone(), incidents.clone()).map_err(ledger)?;
    // Objects removed while the daemon was down would otherwise keep their incidents open.
    for e in evaluator.retire_unconfigured(now).map_err(ledger)? {
        tracing::warn!(incident = e.incident_id, object = %e.incident.object, "incident resolved: its object is no longer configured");
    }
    match evaluator.tick(&Observations::default(), now) {
        Ok((board, outcome)) => shared.publish(board, &outcome),
        Err(e) => tracing::error!(error = %e, "first evaluation failed; will retry next tick"),
    }
    Ok(Arc::new(Mutex::new(evaluator)))
}

/// The resolver for server host names; without one, pinned addresses still work.
fn system_resolver(d: &DaemonConfig) -> Option<Arc<hickory_resolver::TokioResolver>> {
    match servers::build_resolver(&d.resolvers) {
        Ok(r) => Some(Arc::new(r)),
        Err(e) => {
            tracing::warn!(error = %e, "no system resolver configuration; host names cannot be resolved, pinned addresses still work");
            None
        }
    }
}
