//! Reload (SIGHUP, `POST /-/reload`): re-read `probes.toml` and the rules, check them whole,
//! and swap them in only if they are valid (docs/operations.md, "Reload").
//!
//! Each configured object runs under its own cancellation token, a child of the daemon's:
//! its servers' supervision and probe loops, its samplers, its AXFR reference and its
//! registry runner. A reload compares the new objects with the running ones by key
//! (`class/name`) and by value:
//!
//! - unchanged objects are not touched: their loops keep running, their windows, condition
//!   clocks and incidents stay as they were;
//! - changed objects are stopped and started again from the new settings; the store's
//!   windows are keyed by address, so an address that is still probed keeps its window, and
//!   an address that is no longer wanted is retired;
//! - removed objects are stopped, their addresses retired, their object-level series
//!   removed, and their open incidents resolved with the reason (as `incident.resolved`,
//!   which the alert outbox delivers);
//! - added objects start fresh.
//!
//! Everything fallible (reading the files, validating them, loading a new object's reference
//! zone, building its registry probes) happens before anything running is touched: a refusal
//! leaves the old configuration in force. `[daemon]` settings and the latency threshold and
//! quantile the windows are built on cannot change while running: a difference is refused as
//! `restart_required`, naming the settings.

use super::registries;
use super::servers::{Previous, Servers};
use super::DaemonError;
use crate::alert::AlertService;
use crate::config::{Config, DaemonConfig, LoadError, ObjectKey};
use crate::evaluator::Evaluator;
use crate::grading::{object_key, Rules};
use crate::incident::IncidentEvent;
use crate::probe::schedule::{DnssecPolicies, ProbeContext, ReferenceSet};
use crate::state::{lock, ReloadOutcome, ReloadResult, Shared};
use hickory_resolver::TokioResolver;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The files a daemon was started from, read again on a reload.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The probes file.
    pub config: PathBuf,
    /// The rules file; `None` for the built-in rules.
    pub rules: Option<PathBuf>,
}

impl Sources {
    /// Reads and validates both files, as `dnsgrade run` does at start; errors are the
    /// messages to show, each with its file, line and column where the file has one.
    pub fn load(&self) -> Result<(Config, Rules), Vec<String>> {
        let messages = |e: LoadError| match e {
            LoadError::Invalid(errs) => errs.errors.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        };
        let config = crate::config::load(&self.config).map_err(messages);
        let rules = match &self.rules {
            None => Ok(Rules::miit_2011()),
            Some(p) => Rules::load(p).map_err(messages),
        };
        match (config, rules) {
            (Ok(c), Ok(r)) => Ok((c, r)),
            (c, r) => Err(c.err().into_iter().chain(r.err()).flatten().collect()),
        }
    }
}

/// What every object's tasks share, the same across reloads.
pub(super) struct Parts {
    pub(super) shared: Shared,
    pub(super) ctx: Arc<ProbeContext>,
    pub(super) resolver: Option<Arc<TokioResolver>>,
    pub(super) cancel: CancellationToken,
    pub(super) evaluator: Arc<Mutex<Evaluator>>,
    /// Base URL of the API, for links in alerts.
    pub(super) api_base: String,
}

/// What runs from the configuration in force.
pub(super) struct Running {
    pub(super) config: Arc<Config>,
    pub(super) rules: Arc<Rules>,
    /// Each running object's token.
    pub(super) objects: HashMap<ObjectKey, CancellationToken>,
    /// The objects' tasks (supervision, registry runners, AXFR references).
    pub(super) tasks: Vec<JoinHandle<()>>,
    pub(super) alerts: Option<AlertService>,
}

/// Objects started together: their tokens and tasks.
pub(super) struct Started {
    pub(super) objects: HashMap<ObjectKey, CancellationToken>,
    pub(super) tasks: Vec<JoinHandle<()>>,
}

/// The DNSSEC checks of the signed objects of `config`.
pub(super) fn dnssec_policies(config: &Config) -> DnssecPolicies {
    config
        .objects
        .iter()
        .filter_map(|o| o.dnssec.map(|p| ((o.class, o.name.clone()), p)))
        .collect()
}

/// Starts the objects of `config` at the indices `which`, each under its own token. First
/// everything fallible, for all of them (reference zones, registry probes): on an error the
/// tokens made so far are cancelled and nothing else has started. `previous` holds, for
/// objects that ran before a reload, their servers' addresses.
pub(super) async fn start_objects(
    p: &Parts,
    config: &Arc<Config>,
    rules: &Rules,
    which: &[usize],
    mut previous: HashMap<ObjectKey, Previous>,
) -> Result<Started, DaemonError> {
    let mut started = Started {
        objects: HashMap::new(),
        tasks: Vec::new(),
    };
    let mut references: HashMap<String, ReferenceSet> = HashMap::new();
    let mut registry = Vec::new();
    for &oi in which {
        let o = &config.objects[oi];
        let token = p.cancel.child_token();
        started.objects.insert(object_key(o), token.clone());
        let prepared = prepare_object(p, config, rules, oi, &token).await;
        match prepared {
            Ok((refs, tasks, reg)) => {
                p.shared
                    .health
                    .watch_transfers(std::slice::from_ref(o), &refs);
                references.extend(refs);
                started.tasks.extend(tasks);
                registry.extend(reg.map(|r| (oi, r)));
            }
            Err(e) => {
                started.objects.values().for_each(CancellationToken::cancel);
                return Err(e);
            }
        }
    }
    let references = Arc::new(references);
    for &oi in which {
        let key = object_key(&config.objects[oi]);
        let servers = Arc::new(Servers {
            references: references.clone(),
            config: config.clone(),
            ctx: p.ctx.clone(),
            shared: p.shared.clone(),
            resolver: p.resolver.clone(),
            cancel: started.objects[&key].clone(),
        });
        let before = previous.remove(&key).unwrap_or_default();
        started.tasks.extend(servers.start_object(oi, before));
    }
    let sh = &p.shared;
    for (oi, r) in registry {
        let token = &started.objects[&object_key(&config.objects[oi])];
        started
            .tasks
            .push(r.spawn(rules, &sh.store, &sh.metrics, &sh.clock, token));
    }
    Ok(started)
}

/// One object's reference (loaded, or its AXFR task started under `token`) and its registry
/// probes, built.
async fn prepare_object(
    p: &Parts,
    config: &Config,
    rules: &Rules,
    oi: usize,
    token: &CancellationToken,
) -> Result<
    (
        HashMap<String, ReferenceSet>,
        Vec<JoinHandle<()>>,
        Option<registries::Prepared>,
    ),
    DaemonError,
> {
    let o = &config.objects[oi];
    let (refs, tasks) = crate::reference::start(std::slice::from_ref(o), &p.shared.metrics, token)
        .await
        .map_err(|(object, file, e)| DaemonError::Reference {
            object,
            file,
            reason: e.to_string(),
        })?;
    let reg = registries::prepare(o, config, rules)?;
    Ok((refs, tasks, reg))
}

/// How the objects of two configurations compare, by key.
#[derive(Debug, Default)]
struct Diff {
    /// Indices in the new configuration.
    added: Vec<usize>,
    /// Indices in the new configuration.
    changed: Vec<usize>,
    /// Keys of the old configuration's objects that are gone.
    removed: Vec<ObjectKey>,
}

impl Diff {
    fn of(old: &Config, new: &Config, rules_changed: bool) -> Diff {
        let before: HashMap<ObjectKey, &crate::config::Object> =
            old.objects.iter().map(|o| (object_key(o), o)).collect();
        let mut d = Diff::default();
        let mut seen = HashSet::new();
        for (i, o) in new.objects.iter().enumerate() {
            let key = object_key(o);
            match before.get(&key) {
                None => d.added.push(i),
                // New registry SLR figures reach a registry's tracker only through a restart
                // of the object.
                Some(b) if *b != o || (rules_changed && o.registry.is_some()) => d.changed.push(i),
                Some(_) => {}
            }
            seen.insert(key);
        }
        d.removed = before.into_keys().filter(|k| !seen.contains(k)).collect();
        d.removed.sort();
        d
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// The `[daemon]` settings that differ: each needs a restart. A setting not named here still
/// counts (the whole section is compared), as "[daemon]".
fn daemon_changes(old: &DaemonConfig, new: &DaemonConfig) -> Vec<&'static str> {
    // The contacts' review period is read afresh on every tick: it changes live.
    let live = DaemonConfig {
        contact_review_every: old.contact_review_every,
        ..new.clone()
    };
    if *old == live {
        return Vec::new();
    }
    let fields: [(&str, bool); 18] = [
        ("listen", old.listen != new.listen),
        ("state_dir", old.state_dir != new.state_dir),
        ("interval", old.interval != new.interval),
        ("timeout", old.timeout != new.timeout),
        ("window", old.window != new.window),
        ("tick", old.tick != new.tick),
        ("stop_window", old.stop_window != new.stop_window),
        (
            "resolve_interval",
            old.resolve_interval != new.resolve_interval,
        ),
        ("global_rate", old.global_rate != new.global_rate),
        (
            "per_server_rate",
            old.per_server_rate != new.per_server_rate,
        ),
        ("max_in_flight", old.max_in_flight != new.max_in_flight),
        ("udp_sockets", old.udp_sockets != new.udp_sockets),
        ("jitter", old.jitter != new.jitter),
        ("edns_payload", old.edns_payload != new.edns_payload),
        ("api_token", old.api_token != new.api_token),
        (
            "ledger_retention",
            old.ledger_retention != new.ledger_retention,
        ),
        ("ack_within", old.ack_within != new.ack_within),
        ("resolvers", old.resolvers != new.resolvers),
    ];
    let named: Vec<&str> = fields.iter().filter(|(_, d)| *d).map(|(n, _)| *n).collect();
    if named.is_empty() {
        vec!["a setting"]
    } else {
        named
    }
}

/// Why a validated configuration cannot be swapped in while running.
fn needs_restart(running: &Running, config: &Config, rules: &Rules) -> Vec<String> {
    let mut why: Vec<String> = daemon_changes(&running.config.daemon, &config.daemon)
        .into_iter()
        .map(|f| format!("[daemon] {f} differs: it takes effect only after a restart"))
        .collect();
    let (old, new) = (&running.rules.measure, &rules.measure);
    if old.latency_threshold != new.latency_threshold
        || old.latency_quantile != new.latency_quantile
    {
        why.push(
            "the rules' latency threshold or quantile differs: the windows are built on them, so it takes effect only after a restart"
                .to_string(),
        );
    }
    why
}

/// Reloads, one at a time.
pub(super) struct Reloader {
    pub(super) parts: Parts,
    pub(super) running: tokio::sync::Mutex<Running>,
}

impl Reloader {
    /// Reads `sources` again and puts them in force if they are valid; counts and logs the
    /// outcome.
    pub(super) async fn reload(&self, sources: &Sources) -> ReloadOutcome {
        let src = sources.clone();
        let loaded = tokio::task::spawn_blocking(move || src.load())
            .await
            .unwrap_or_else(|e| Err(vec![format!("the reload task failed: {e}")]));
        let outcome = match loaded {
            Err(errors) => ReloadOutcome::refused(ReloadResult::Invalid, errors),
            Ok((config, rules)) => self.apply(config, rules).await,
        };
        self.report(sources, &outcome);
        outcome
    }

    /// Puts a validated configuration in force, or refuses it with the reasons.
    pub(super) async fn apply(&self, config: Config, rules: Rules) -> ReloadOutcome {
        let mut running = self.running.lock().await;
        let rules = super::measured_by(rules, &config.daemon);
        let why = needs_restart(&running, &config, &rules);
        if !why.is_empty() {
            return ReloadOutcome::refused(ReloadResult::RestartRequired, why);
        }
        let rules_changed = format!("{:?}", running.rules) != format!("{rules:?}");
        let diff = Diff::of(&running.config, &config, rules_changed);
        let alerts_changed = running.config.alert != config.alert;
        if diff.is_empty()
            && !rules_changed
            && !alerts_changed
            && running.config.maintenance == config.maintenance
            && running.config.contacts == config.contacts
            && running.config.daemon.contact_review_every == config.daemon.contact_review_every
        {
            return ReloadOutcome::refused(ReloadResult::Unchanged, Vec::new());
        }
        let config = Arc::new(config);
        let rules = Arc::new(rules);
        let mut which = diff.added.clone();
        which.extend(&diff.changed);
        which.sort_unstable();
        // Stopped only after the new objects could be prepared: the addresses they had are
        // handed to their successors.
        let previous = self.previous(&config, &diff);
        let started = match start_objects(&self.parts, &config, &rules, &which, previous).await {
            Ok(s) => s,
            Err(e) => return ReloadOutcome::refused(ReloadResult::Invalid, vec![e.to_string()]),
        };
        let old = running.config.clone();
        self.stop_objects(&mut running, &config, &diff);
        running.objects.extend(started.objects);
        running.tasks.retain(|t| !t.is_finished());
        running.tasks.extend(started.tasks);
        let resolved = self.swap(&mut running, &config, &rules).await;
        self.retire_removed(&old, &diff);
        super::declare_maintenance(&config, &self.parts.shared.incidents, self.now());
        if let Err(e) = self.restart_alerts(&mut running).await {
            tracing::error!(error = %e, "alerts could not be restarted on the new configuration; deliveries resume at the next restart or reload");
        }
        super::warn_capacity(&config, &rules);
        let names = |idx: &[usize]| {
            idx.iter()
                .map(|&i| object_key(&config.objects[i]).to_string())
                .collect()
        };
        ReloadOutcome {
            result: ReloadResult::Applied,
            errors: Vec::new(),
            added: names(&diff.added),
            changed: names(&diff.changed),
            removed: diff.removed.iter().map(ToString::to_string).collect(),
            resolved_incidents: resolved.iter().map(|e| e.incident_id).collect(),
        }
    }

    fn now(&self) -> crate::clock::UnixMillis {
        self.parts.shared.clock.now_ms()
    }

    /// The active addresses of each server of the changed objects, as the store has them.
    fn previous(&self, config: &Config, diff: &Diff) -> HashMap<ObjectKey, Previous> {
        let changed: HashSet<ObjectKey> = diff
            .changed
            .iter()
            .map(|&i| object_key(&config.objects[i]))
            .collect();
        let mut out: HashMap<ObjectKey, Previous> = HashMap::new();
        let store = lock(&self.parts.shared.store);
        for (t, _) in store.servers.iter().filter(|(_, e)| e.active) {
            let key = ObjectKey::new(t.class, &t.object);
            if changed.contains(&key) {
                out.entry(key)
                    .or_default()
                    .entry(t.server.clone())
                    .or_default()
                    .push(t.clone());
            }
        }
        out
    }

    /// Cancels the changed and removed objects' tokens. The addresses of a removed object,
    /// and those of a changed object's servers that are gone, are retired (their gauges go at
    /// the next tick); so are its registry tracker and its resolution state.
    fn stop_objects(&self, running: &mut Running, config: &Config, diff: &Diff) {
        let servers_now: HashSet<(ObjectKey, &str)> = config
            .objects
            .iter()
            .flat_map(|o| {
                o.servers
                    .iter()
                    .map(move |s| (object_key(o), s.name.as_str()))
            })
            .collect();
        let mut stopped: Vec<ObjectKey> = diff.removed.clone();
        stopped.extend(diff.changed.iter().map(|&i| object_key(&config.objects[i])));
        for key in &stopped {
            if let Some(t) = running.objects.remove(key) {
                t.cancel();
            }
        }
        let stopped: HashSet<ObjectKey> = stopped.into_iter().collect();
        let sh = &self.parts.shared;
        let mut store = lock(&sh.store);
        let retire: Vec<_> = store
            .servers
            .keys()
            .filter(|t| {
                let key = ObjectKey::new(t.class, &t.object);
                stopped.contains(&key) && !servers_now.contains(&(key, t.server.as_str()))
            })
            .cloned()
            .collect();
        for t in &retire {
            store.ensure(t, false);
        }
        for key in &diff.removed {
            store.registries.remove(key);
            // Its reference, if it had one, no longer holds /readyz back.
            sh.health.unwatch(key.name());
        }
        drop(store);
        let servers_now: HashSet<String> = servers_now
            .iter()
            .map(|(k, s)| format!("{k}/{s}"))
            .collect();
        lock(&sh.resolve).retain(|k, _| servers_now.contains(k));
    }

    /// Swaps the new configuration and rules in for every reader, and has the evaluator
    /// resolve the incidents of the removed objects (off the async workers: a ledger write).
    async fn swap(
        &self,
        running: &mut Running,
        config: &Arc<Config>,
        rules: &Arc<Rules>,
    ) -> Vec<IncidentEvent> {
        let sh = &self.parts.shared;
        self.parts
            .ctx
            .dnssec
            .store(Arc::new(dnssec_policies(config)));
        sh.config.store(config.clone());
        sh.rules.store(rules.clone());
        running.config = config.clone();
        running.rules = rules.clone();
        let (evaluator, c, r, now) = (
            self.parts.evaluator.clone(),
            config.clone(),
            rules.clone(),
            self.now(),
        );
        let done =
            tokio::task::spawn_blocking(move || lock(&evaluator).reconfigure(c, r, now)).await;
        let events = match done {
            Ok(Ok(ev)) => ev,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the incidents of removed objects could not be resolved yet; every tick tries again");
                Vec::new()
            }
            Err(e) => {
                tracing::error!(error = %e, "the evaluator's reconfiguration failed");
                Vec::new()
            }
        };
        for e in &events {
            sh.metrics
                .incident_events
                .with_label_values(&[e.kind.as_str()])
                .inc();
            tracing::warn!(incident = e.incident_id, object = %e.incident.object, event = e.kind.as_str(), "incident resolved: its object was removed from the configuration");
        }
        events
    }

    /// Removes the object-level series of the removed objects.
    fn retire_removed(&self, old: &Config, diff: &Diff) {
        for o in old
            .objects
            .iter()
            .filter(|o| diff.removed.contains(&object_key(o)))
        {
            let servers: Vec<&str> = o.servers.iter().map(|s| s.name.as_str()).collect();
            let services: Vec<&str> = crate::probe::registry::Service::ALL
                .iter()
                .map(|s| s.as_str())
                .collect();
            self.parts
                .shared
                .metrics
                .forget_object(o.class.as_str(), &o.name, &servers, &services);
        }
    }

    /// Stops the alert workers and starts them on the new configuration (sinks, routing,
    /// authorities). Each sink's cursor is in the ledger, so nothing written meanwhile is
    /// lost; a delivery cut short is attempted again.
    async fn restart_alerts(&self, running: &mut Running) -> Result<(), DaemonError> {
        if let Some(a) = running.alerts.take() {
            a.stop().await;
        }
        let sh = &self.parts.shared;
        running.alerts = Some(super::start_alerts(
            sh,
            running.config.clone(),
            running.rules.clone(),
            &self.parts.api_base,
        )?);
        Ok(())
    }

    /// Counts and logs a reload's outcome.
    fn report(&self, sources: &Sources, o: &ReloadOutcome) {
        let m = &self.parts.shared.metrics.reload;
        m.total.with_label_values(&[o.result.as_str()]).inc();
        let ok = matches!(o.result, ReloadResult::Applied | ReloadResult::Unchanged);
        m.last_successful.set(i64::from(ok));
        if ok {
            m.read_at(self.now());
        }
        let file = sources.config.display().to_string();
        match o.result {
            ReloadResult::Applied => tracing::info!(
                file,
                added = ?o.added,
                changed = ?o.changed,
                removed = ?o.removed,
                resolved_incidents = ?o.resolved_incidents,
                "configuration reloaded"
            ),
            ReloadResult::Unchanged => {
                tracing::info!(file, "configuration reloaded: nothing changed")
            }
            ReloadResult::Invalid | ReloadResult::RestartRequired => {
                for e in &o.errors {
                    tracing::error!(file, error = %e, "reload refused");
                }
                tracing::error!(
                    file,
                    result = o.result.as_str(),
                    errors = o.errors.len(),
                    "reload refused: the running configuration stays in force"
                );
            }
        }
    }

    /// Stops the objects' tasks and the alert workers.
    pub(super) async fn stop(&self, grace: std::time::Duration) {
        let mut running = self.running.lock().await;
        for t in running.tasks.drain(..) {
            let _ = tokio::time::timeout(grace, t).await;
        }
        if let Some(a) = running.alerts.take() {
            a.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(daemon: &str, objects: &str) -> Config {
        let text = format!("[daemon]\nstate_dir = \"/tmp/x\"\n{daemon}\n{objects}");
        crate::config::parse(std::path::Path::new("t.toml"), &text).expect("config")
    }

    const CN: &str = "[[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"127.0.0.1:5300\"]\n";
    const CM: &str = "[[tld]]\nname = \"cm\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"127.0.0.1:5301\"]\n";

    #[test]
    fn every_daemon_setting_that_differs_is_named() {
        let a = config("", CN);
        assert!(daemon_changes(&a.daemon, &a.daemon).is_empty());
        let b = config("tick = \"2s\"\nack_within = \"12h\"", CN);
        assert_eq!(daemon_changes(&a.daemon, &b.daemon), ["tick", "ack_within"]);
        let c = config("contact_review_every = \"30d\"", CN);
        assert!(
            daemon_changes(&a.daemon, &c.daemon).is_empty(),
            "applied live"
        );
    }

    #[test]
    fn objects_are_added_changed_removed_or_left_alone_by_key_and_value() {
        let old = config("", &format!("{CN}\n{CM}"));
        let cn2 = CN.replace("5300", "5302");
        let new = config("", &format!("{cn2}\n[[tld]]\nname = \"org\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"127.0.0.1:5303\"]\n"));
        let d = Diff::of(&old, &new, false);
        assert_eq!(d.changed, [0], "cn moved to another address");
        assert_eq!(d.added, [1], "org is new");
        assert_eq!(
            d.removed,
            [ObjectKey::new(crate::config::ObjectClass::Tld, "cm")]
        );
        assert!(
            Diff::of(&old, &old, true).is_empty(),
            "no registry: rules alone change nothing"
        );
    }
}
