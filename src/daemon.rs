//! `dnsgrade run`: wires config, probers, statistics, metrics and HTTP together.
//!
//! Services and how they end: the probe loops are cancelled by one token;
//! the result consumer ends when every sender (the probe tasks) is gone and flushes as it goes;
//! the evaluation ticker and the HTTP server stop on the same token. [`Daemon::stop`] waits for
//! all of them with a grace timeout.

use crate::clock::{Clock, UnixMillis};
use crate::config::{CheckRole, Config, Object, Server};
use crate::evaluator::{Evaluator, Observations};
use crate::grading::Rules;
use crate::incident::{IncidentStore, StoreError};
use crate::metrics::Metrics;
use crate::probe::registry::{RegistryHealthTracker, RegistryProbeSet, RegistryTargets};
use crate::probe::schedule::{spawn_address_loop, Limits, ProbeContext, ProbeResult, Target};
use crate::probe::{Outcome, Prober, ProberConfig, Verdict};
use crate::state::{address_labels, lock, ResolveState, Shared};
use crate::stats::{StatsStore, WindowSpec};
use hickory_resolver::TokioResolver;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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
#[derive(Debug)]
pub struct Daemon {
    /// State the HTTP server reads; also handy for tests.
    pub shared: Shared,
    /// The bound HTTP address (useful when the config asks for port 0).
    pub http_addr: SocketAddr,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    consumer: JoinHandle<()>,
    ctx: Arc<ProbeContext>,
    alerts: crate::alert::AlertService,
    probe_runtime: crate::probe::runtime::ProbeRuntime,
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
        // The daemon's measurement settings are the ones graded on.
        let mut rules = rules;
        rules.measure.window = d.window;
        rules.measure.tick = d.tick;
        rules.measure.stop_window = d.stop_window;
        let rules = Arc::new(rules);
        std::fs::create_dir_all(&d.state_dir).map_err(|source| DaemonError::StateDir {
            dir: d.state_dir.clone(),
            source,
        })?;
        let incidents = Arc::new(
            IncidentStore::open(&d.state_dir.join("dnsgrade.sqlite3")).map_err(|source| {
                DaemonError::Ledger {
                    dir: d.state_dir.clone(),
                    source,
                }
            })?,
        );
        let metrics = Metrics::new();
        let probe_runtime =
            crate::probe::runtime::ProbeRuntime::start().map_err(DaemonError::Sockets)?;
        // The sockets belong to the probe runtime's reactor: open them there.
        let prober = probe_runtime
            .handle()
            .spawn(Prober::new(ProberConfig {
                udp_sockets: d.udp_sockets,
                edns_payload: d.edns_payload,
                timeout: d.timeout,
                max_in_flight: d.max_in_flight,
            }))
            .await
            .map_err(|e| DaemonError::Sockets(std::io::Error::other(e)))?
            .map_err(DaemonError::Sockets)?;
        let spec = WindowSpec {
            window: d.window,
            slice: d.tick,
            latency_thresholds: vec![rules.measure.latency_threshold],
            latency_quantiles: vec![rules.measure.latency_quantile],
        };
        let store = Arc::new(Mutex::new(StatsStore::new(spec)));
        let (tx, rx) = mpsc::channel::<ProbeResult>(16_384);
        let ctx = Arc::new(ProbeContext {
            runtime: probe_runtime.handle().clone(),
            epoch: tokio::time::Instant::now(),
            prober: prober.clone(),
            limits: Limits::new(d.global_rate, d.per_server_rate),
            clock: clock.clone(),
            results: tx,
            interval: d.interval,
            jitter: d.jitter,
            dnssec: config
                .objects
                .iter()
                .filter_map(|o| o.dnssec.map(|p| ((o.class, o.name.clone()), p)))
                .collect(),
            dnssec_keys: Default::default(),
        });
        let shared = Shared {
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
            rules: rules.clone(),
            config: config.clone(),
            prober_sync: Arc::default(),
        };
        let cancel = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind(d.listen)
            .await
            .map_err(|source| DaemonError::Listen {
                addr: d.listen,
                source,
            })?;
        let http_addr = listener
            .local_addr()
            .map_err(|source| DaemonError::Listen {
                addr: d.listen,
                source,
            })?;
        // Alert sinks: their cursors exist before the first tick can write an event.
        let alerts = crate::alert::AlertService::start(
            &config.alert,
            Arc::new(crate::alert::AlertContext::new(
                config.clone(),
                rules.clone(),
                format!("http://{http_addr}"),
            )),
            incidents.clone(),
            clock.clone(),
            metrics.clone(),
            crate::alert::Options::default(),
        )
        .map_err(DaemonError::Alerts)?;
        let consumer = tokio::spawn(consume(rx, store.clone(), metrics.clone()));
        let mut tasks = Vec::new();
        let resolver = match build_resolver(&config.daemon.resolvers) {
            Ok(r) => Some(Arc::new(r)),
            Err(e) => {
                tracing::warn!(error = %e, "no system resolver configuration; host names cannot be resolved, pinned addresses still work");
                None
            }
        };
        // Maintenance windows from the config go into the ledger once (idempotent across restarts).
        let now = clock.now_ms();
        let declared = incidents.maintenance_windows(now).unwrap_or_default();
        for m in &config.maintenance {
            let exists = declared.iter().any(|w| {
                w.object == m.object && w.starts.ms() == m.starts && w.ends.ms() == m.ends
            });
            if !exists && m.ends > now {
                if let Err(e) =
                    incidents.declare_maintenance(&m.object, m.starts, m.ends, &m.reason)
                {
                    tracing::error!(object = %m.object, error = %e, "cannot record the configured maintenance window");
                }
            }
        }
        // References: zone files streamed once; AXFR references kept fresh by their own task.
        let (references, reference_tasks) =
            crate::reference::start(&config.objects, &metrics, &cancel)
                .await
                .map_err(|(object, file, e)| DaemonError::Reference {
                    object,
                    file,
                    reason: e.to_string(),
                })?;
        tasks.extend(reference_tasks);
        let references = Arc::new(references);
        let mut evaluator = Evaluator::new(config.clone(), rules.clone(), incidents.clone())
            .map_err(|source| DaemonError::Ledger {
                dir: config.daemon.state_dir.clone(),
                source,
            })?;
        // A first evaluation before anything is served: open incidents are held at their
        // grades (the windows are empty), so /metrics never shows a restart as a drop to 0.
        match evaluator.tick(&Observations::default(), now) {
            Ok((board, outcome)) => shared.publish(board, &outcome),
            Err(e) => tracing::error!(error = %e, "first evaluation failed; will retry next tick"),
        }
        for w in crate::capacity::assess(&config, &rules).warnings {
            tracing::warn!("{w}");
        }
        tasks.push(tokio::spawn(crate::http::serve(
            listener,
            shared.clone(),
            cancel.clone(),
        )));
        for (oi, obj) in config.objects.iter().enumerate() {
            // One copy of the object's checks, shared by all its servers' address loops.
            let checks = Arc::new(obj.checks.clone());
            for (si, _) in obj.servers.iter().enumerate() {
                tasks.push(tokio::spawn(supervise_server(
                    references.clone(),
                    config.clone(),
                    oi,
                    si,
                    checks.clone(),
                    ctx.clone(),
                    shared.clone(),
                    resolver.clone(),
                    cancel.clone(),
                )));
            }
        }
        for obj in config.objects.iter() {
            let Some(reg) = &obj.registry else { continue };
            let fail = |source| DaemonError::Registry {
                object: obj.name.clone(),
                source,
            };
            let set = RegistryTargets::from_config(reg, d.timeout)
                .and_then(RegistryProbeSet::new)
                .map_err(fail)?;
            let key = crate::grading::object_key(obj);
            let slr = rules.registry;
            lock(&store).registries.insert(
                key.clone(),
                RegistryHealthTracker::new(slr, &set.services()),
            );
            // Often enough that an outage is seen as one (the SLR's unavailable window).
            let every = d.interval.min(slr.max_probe_interval());
            tracing::info!(object = %key, services = ?set.services(), every = ?every, "probing registry services");
            let (store, metrics, class) = (store.clone(), metrics.clone(), obj.class.as_str());
            let name = obj.name.clone();
            tasks.push(tokio::spawn(crate::probe::registry::runner::run(
                set,
                every,
                clock.clone(),
                cancel.clone(),
                move |at, r| {
                    let service = r.service.as_str();
                    metrics
                        .registry_probes
                        .with_label_values(&[class, &name, service, r.outcome.as_str()])
                        .inc();
                    if let Some(rtt) = r.rtt {
                        metrics
                            .registry_probe_duration
                            .with_label_values(&[class, &name, service])
                            .observe(rtt.as_secs_f64());
                    }
                    if !r.outcome.is_ok() {
                        tracing::debug!(object = %name, service, outcome = r.outcome.as_str(), detail = %r.detail, "registry probe failed");
                    }
                    let mut s = lock(&store);
                    let Some(t) = s.registries.get_mut(&key) else { return };
                    t.record(at, r);
                    if let Some(h) = t.service(r.service, at) {
                        for st in ["unknown", "ok", "degraded", "unavailable"] {
                            metrics
                                .registry_service_state
                                .with_label_values(&[class, &name, service, st])
                                .set(i64::from(h.state.as_str() == st));
                        }
                    }
                },
            )));
        }
        tasks.push(tokio::spawn(tick(
            shared.clone(),
            config.daemon.tick,
            config.daemon.ledger_retention,
            evaluator,
            cancel.clone(),
        )));
        tracing::info!(http = %http_addr, objects = config.objects.len(), "dnsgrade started");
        Ok(Daemon {
            shared,
            http_addr,
            cancel,
            tasks,
            consumer,
            ctx,
            alerts,
            probe_runtime,
        })
    }

    /// Stops probing, lets in-flight results drain into the statistics, stops HTTP.
    pub async fn stop(self) {
        self.cancel.cancel();
        let grace = Duration::from_secs(5);
        for t in self.tasks {
            let _ = tokio::time::timeout(grace, t).await;
        }
        drop(self.ctx);
        let _ = tokio::time::timeout(grace, self.consumer).await;
        self.alerts.stop().await;
        // Its thread is joined off the async workers.
        let rt = self.probe_runtime;
        let _ = tokio::task::spawn_blocking(move || drop(rt)).await;
    }

    /// A token that is cancelled when the daemon stops.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

/// The metric handles of one (address, check role), resolved on first use and then reused,
/// so counting a probe is an atomic add with no label look-up.
struct Handles {
    /// Keeps the target alive, so its pointer (the cache key) cannot be reused by another.
    _target: Arc<Target>,
    labels: crate::metrics::AddressLabels,
    probes: [[Option<crate::metrics::Value>; Outcome::COUNT]; 2],
    duration: [Option<crate::metrics::compact::Histogram>; 2],
    data: [Option<crate::metrics::Value>; 4],
}

impl Handles {
    fn new(target: Arc<Target>) -> Self {
        Self {
            labels: address_labels(&target),
            _target: target,
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
                .get_or_insert_with(|| m.probe_duration.series(&self.labels, &[role, transport]))
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

async fn consume(
    mut rx: mpsc::Receiver<ProbeResult>,
    store: Arc<Mutex<StatsStore>>,
    metrics: Metrics,
) {
    let mut batch = Vec::with_capacity(1024);
    let mut handles: HashMap<(usize, CheckRole), Handles> = HashMap::new();
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
        let verdicts: Vec<Verdict> = {
            let mut s = lock(&store);
            batch.iter().map(|r| s.record(r)).collect()
        };
        for (r, verdict) in batch.drain(..).zip(verdicts) {
            let key = (Arc::as_ptr(&r.target) as usize, r.role);
            handles
                .entry(key)
                .or_insert_with(|| Handles::new(r.target.clone()))
                .count(&metrics, &r, verdict);
        }
    }
}

async fn tick(
    shared: Shared,
    every: Duration,
    retention: Duration,
    evaluator: Evaluator,
    cancel: CancellationToken,
) {
    let evaluator = Arc::new(Mutex::new(evaluator));
    let mut last_prune: Option<UnixMillis> = None;
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
            sh.update_gauges(now);
            let obs = {
                let store = lock(&sh.store);
                Observations::take(&store, &sh.rules, now)
            };
            lock(&ev).tick(&obs, now)
        })
        .await;
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
            Ok(Ok((board, outcome))) => shared.publish(board, &outcome),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "evaluation failed: the incident ledger could not be written; will retry next tick")
            }
            Err(e) => tracing::error!(error = %e, "evaluation task failed"),
        }
    }
}

/// The resolver for server host names: the configured ones, or the system's.
fn build_resolver(
    servers: &[SocketAddr],
) -> Result<TokioResolver, hickory_resolver::net::NetError> {
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    if servers.is_empty() {
        return TokioResolver::builder_tokio()?.build();
    }
    let name_servers = servers
        .iter()
        .map(|a| {
            let mut udp = ConnectionConfig::udp();
            udp.port = a.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = a.port();
            NameServerConfig::new(a.ip(), true, vec![udp, tcp])
        })
        .collect();
    TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(name_servers),
        hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
    )
    .build()
}

/// Keeps one configured server's set of probed addresses: pinned ones always, plus what its
/// host name resolves to, re-resolved every `resolve_interval`. A name that fails to resolve
/// keeps its last good addresses, and the failure is logged, counted and shown in the status.
/// A server with only pinned addresses starts their loops and returns: with 10,000 of them, a
/// task each waiting for the end would hold about 16 MiB for nothing (the loops stop with the
/// daemon's token).
#[allow(clippy::too_many_arguments)]
async fn supervise_server(
    references: Arc<HashMap<String, crate::probe::schedule::ReferenceSet>>,
    config: Arc<Config>,
    oi: usize,
    si: usize,
    checks: Arc<Vec<crate::config::Check>>,
    ctx: Arc<ProbeContext>,
    shared: Shared,
    resolver: Option<Arc<TokioResolver>>,
    cancel: CancellationToken,
) {
    let obj: &Object = &config.objects[oi];
    let server: &Server = &obj.servers[si];
    let key = format!("{}/{}/{}", obj.class.as_str(), obj.name, server.name);
    let mut loops: HashMap<SocketAddr, (Arc<Target>, CancellationToken)> = HashMap::new();
    let mut resolved: BTreeSet<SocketAddr> = BTreeSet::new();
    loop {
        let mut error = None;
        if let Some(host) = &server.host {
            match &resolver {
                None => error = Some("no system resolver configuration".to_string()),
                // Boxed: the resolver's future is large, and every server's task would carry
                // its size even when the server has only fixed addresses.
                Some(r) => match Box::pin(r.lookup_ip(host.as_str())).await {
                    Ok(ips) => {
                        let now: BTreeSet<SocketAddr> = ips
                            .iter()
                            .map(|ip| SocketAddr::new(ip, server.port))
                            .collect();
                        if now.is_empty() {
                            error = Some(format!("{host} has no addresses"));
                        } else {
                            resolved = now;
                        }
                    }
                    Err(e) => error = Some(format!("cannot resolve {host}: {e}")),
                },
            }
        }
        if let Some(e) = &error {
            tracing::warn!(object = %obj.name, server = %server.name, error = %e, "server host name does not resolve; keeping its last known addresses");
            shared
                .metrics
                .resolve_failures
                .with_label_values(&[obj.class.as_str(), &obj.name, &server.name])
                .inc();
        }
        let wanted: BTreeSet<SocketAddr> = server
            .pinned
            .iter()
            .copied()
            .chain(resolved.iter().copied())
            .collect();
        loops.retain(|addr, (target, token)| {
            let keep = wanted.contains(addr);
            if !keep {
                token.cancel();
                lock(&shared.store).ensure(target, false);
                tracing::info!(object = %obj.name, server = %server.name, address = %addr, "address no longer probed");
            }
            keep
        });
        for addr in &wanted {
            if loops.contains_key(addr) {
                continue;
            }
            let target = Arc::new(Target {
                class: obj.class,
                object: obj.name.clone(),
                server: server.name.clone(),
                address: *addr,
            });
            lock(&shared.store).ensure(&target, true);
            let token = cancel.child_token();
            spawn_address_loop(ctx.clone(), target.clone(), checks.clone(), token.clone());
            if let (Some(r), Some(list)) = (&obj.reference, references.get(&obj.name)) {
                if obj.class == crate::config::ObjectClass::Tld {
                    crate::probe::schedule::spawn_sampler(
                        ctx.clone(),
                        target.clone(),
                        list.clone(),
                        r.sample_rate,
                        r.max_in_flight,
                        token.clone(),
                    );
                }
            }
            loops.insert(*addr, (target, token));
        }
        shared
            .metrics
            .server_addresses
            .with_label_values(&[obj.class.as_str(), &obj.name, &server.name])
            .set(wanted.len() as i64);
        lock(&shared.resolve).insert(
            key.clone(),
            ResolveState {
                addresses: wanted.iter().map(|a| a.to_string()).collect(),
                error,
            },
        );
        if server.host.is_none() {
            return;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(config.daemon.resolve_interval) => {}
        }
    }
}
