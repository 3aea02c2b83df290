//! The evaluation tick: statistics → grading → incidents.
//!
//! Every tick the [`Evaluator`] builds each object's input from the window statistics, grades
//! it ([`crate::grading::evaluate`], pure), and hands the assessments with the condition clocks
//! to the incident ledger, which writes every transition in one transaction before anything
//! acts on it. When most control probes fail, the vantage point is cut off: grading is
//! suspended — the clocks do not advance, no incident opens, open ones are held — and the
//! status says `isolated` (docs/matrix.md, "Monitor health").

use crate::clock::UnixMillis;
use crate::config::{CheckRole, Config, Licensor, ObjectClass, Scope};
use crate::grading::{evaluate, AddressInput, Assessment, ObjectInput, Rules, ServerInput};
use crate::incident::{
    ConditionClocks, IncidentEvent, IncidentStore, MonitorEvent, MonitorObservation, StoreError,
};
use crate::probe::schedule::Target;
use crate::stats::{ServerEntry, StatsStore, WindowSnapshot};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// An object's latest assessment with what the status page needs to show it.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectStatus {
    /// Object class.
    pub class: ObjectClass,
    /// Name (A-label for TLDs).
    pub name: String,
    /// Name as configured (e.g. 中国).
    pub display_name: String,
    /// Tier, if any.
    pub tier: Option<u8>,
    /// Coverage of a recursive system.
    pub scope: Option<Scope>,
    /// Licence issuer of a website.
    pub licensed_by: Option<Licensor>,
    /// The assessment.
    pub assessment: Assessment,
    /// Registry services (EPP, RDAP, WHOIS) and their judgement, where the object has them.
    pub registry: Option<RegistryStatus>,
}

/// The registry services of an object, as the status API shows them.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryStatus {
    /// The judgement graded on.
    pub health: crate::probe::registry::RegistryHealth,
    /// Each configured service's figures.
    pub services: Vec<crate::probe::registry::ServiceHealth>,
}

/// The latest evaluation, for the API, the status page and metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Board {
    /// When it was made.
    pub at: UnixMillis,
    /// The vantage point is cut off (most control probes fail): grading is suspended.
    pub isolated: bool,
    /// Control addresses judged, and how many of them fail.
    pub control_addresses: usize,
    /// Control addresses without a success in the stop window.
    pub control_failing: usize,
    /// The monitor cannot make its own probes (out of descriptors, buffers, ports): more than
    /// a tenth of the probed addresses had a `local_error` in the stop window, so grading is
    /// suspended as when isolated (docs/matrix.md, "Monitor health").
    pub local_fault: bool,
    /// Addresses with a `local_error` in the stop window, and addresses probed in it.
    pub local_fault_addresses: usize,
    /// Addresses with any probe (measured or not) in the stop window.
    pub probed_addresses: usize,
    /// Every graded object (control targets excluded).
    pub objects: Vec<ObjectStatus>,
    /// The ledger's open incidents (drills and false positives included, evidence left out)
    /// as they stood right after this tick's transaction: the status page shows each object
    /// and its incident from this one snapshot, never from two reads made at different moments.
    #[serde(skip)]
    pub open_incidents: Vec<crate::incident::Incident>,
}

/// The vantage point's health, judged from the control targets in one tick, and the
/// monitor's own: whether it can make its probes at all.
struct Vantage {
    isolated: bool,
    control_addresses: usize,
    control_failing: usize,
    local_fault: bool,
    local_fault_addresses: usize,
    probed_addresses: usize,
}

impl Vantage {
    /// Grading is suspended: the observations are not trusted.
    fn suspended(&self) -> bool {
        self.isolated || self.local_fault
    }
}

/// What one tick did.
#[derive(Debug, Default)]
pub struct TickOutcome {
    /// Incident events written by this tick.
    pub events: Vec<IncidentEvent>,
    /// Whether the vantage point is isolated now.
    pub isolated: bool,
    /// True when isolation began (false → true) at this tick.
    pub isolation_began: bool,
    /// True when isolation ended at this tick.
    pub isolation_ended: bool,
    /// Whether the monitor's own faults suspend grading now ([`Board::local_fault`]).
    pub local_fault: bool,
    /// True when the local fault began at this tick.
    pub local_fault_began: bool,
    /// True when it ended at this tick.
    pub local_fault_ended: bool,
    /// The monitor event written by this tick (a change of the persisted isolation state).
    pub monitor_event: Option<MonitorEvent>,
    /// Objects whose open incidents were held after a restart (not stepped this tick).
    pub held: Vec<crate::config::ObjectKey>,
    /// In the post-start warm-up: fewer ticks than a window since the start and some object's
    /// windows still too thin to decide on (what is open is held meanwhile).
    pub warming_up: bool,
}

/// Everything grading reads from the statistics, taken in one pass under the statistics lock
/// ([`Observations::take`]) so that grading and the ledger's transaction run without it: a
/// slow fsync never holds up the recording of probe results.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    /// The active addresses of each (class, object, server), sorted by label.
    by_server: HashMap<(ObjectClass, String, String), Vec<AddressInput>>,
    /// Registry services by object key.
    registries: HashMap<crate::config::ObjectKey, RegistryStatus>,
}

impl Observations {
    /// Window snapshots of every active address and the registry judgements at `now`.
    pub fn take(stats: &StatsStore, rules: &Rules, now: UnixMillis) -> Self {
        let mut o = Self::default();
        for (t, e) in stats.servers.iter().filter(|(_, e)| e.active) {
            o.add(t, e, e.stats.snapshot(now), rules, now);
        }
        o.finish(stats, now)
    }

    /// Adds one active address whose window snapshot at `now` the caller already took (the
    /// daemon's tick takes it once, for the gauges and for grading).
    pub fn add(
        &mut self,
        t: &Target,
        e: &ServerEntry,
        window: WindowSnapshot,
        rules: &Rules,
        now: UnixMillis,
    ) {
        let kd_errors = e
            .by_role
            .get(&CheckRole::KeyDomain)
            .map(|st| {
                let kd = st.snapshot(now);
                kd.missing + kd.wrong
            })
            .unwrap_or(0);
        self.by_server
            .entry((t.class, t.object.clone(), t.server.clone()))
            // Most servers have one address or two; a default Vec would reserve four
            // entries of ~430 bytes for each server on every tick.
            .or_insert_with(|| Vec::with_capacity(1))
            .push(AddressInput {
                label: format!("{} {}", t.server, t.address),
                window,
                recent: e.stats.recent(now, rules.measure.stop_window),
                key_domain_errors: kd_errors,
            });
    }

    /// Sorts each server's addresses by label and adds the registry judgements at `now`.
    pub fn finish(mut self, stats: &StatsStore, now: UnixMillis) -> Self {
        for v in self.by_server.values_mut() {
            v.sort_by(|a, b| a.label.cmp(&b.label));
        }
        self.registries = stats
            .registries
            .iter()
            .map(|(k, t)| {
                (
                    k.clone(),
                    RegistryStatus {
                        health: t.evaluate(now),
                        services: t.services_health(now),
                    },
                )
            })
            .collect();
        self
    }

    /// Addresses with a `local_error` in the stop window, and addresses with any probe in
    /// it, over every class (the controls included).
    fn local_faults(&self) -> (usize, usize) {
        let addresses = self.by_server.values().flatten();
        let probed = addresses.filter(|a| a.recent.attempts + a.recent.local_errors > 0);
        probed.fold((0, 0), |(faulted, n), a| {
            (faulted + usize::from(a.recent.local_errors > 0), n + 1)
        })
    }

    fn servers_of(&self, o: &crate::config::Object) -> Vec<ServerInput> {
        o.servers
            .iter()
            .map(|s| ServerInput {
                name: s.name.clone(),
                addresses: self
                    .by_server
                    .get(&(o.class, o.name.clone(), s.name.clone()))
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// The synchronous core of the evaluation service.
#[derive(Debug)]
pub struct Evaluator {
    config: Arc<Config>,
    rules: Arc<Rules>,
    store: Arc<IncidentStore>,
    clocks: ConditionClocks,
    isolated: bool,
    local_fault: bool,
    /// Ticks since this evaluator started: the windows hold only what was probed since.
    ticks: u64,
    /// The incidents of removed objects are still to be resolved (the ledger refused the
    /// write): each tick tries again.
    retire_pending: bool,
}

impl Evaluator {
    /// Resumes the condition clocks and the isolation state saved in `store` (a restart keeps
    /// every onset).
    pub fn new(
        config: Arc<Config>,
        rules: Arc<Rules>,
        store: Arc<IncidentStore>,
    ) -> Result<Self, StoreError> {
        let clocks = store.load_clocks()?;
        let isolated = store
            .last_monitor_event()?
            .is_some_and(|e| e.kind == crate::incident::MonitorKind::Isolated);
        Ok(Self {
            config,
            rules,
            store,
            clocks,
            isolated,
            local_fault: false,
            ticks: 0,
            retire_pending: false,
        })
    }

    /// The rules in force.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Puts a reloaded configuration and rules in force (docs/operations.md, "Reload"): the
    /// next tick grades the new objects from fresh windows and the unchanged ones on the
    /// windows and clocks they had. Then [`Self::retire_unconfigured`].
    pub fn reconfigure(
        &mut self,
        config: Arc<Config>,
        rules: Arc<Rules>,
        now: UnixMillis,
    ) -> Result<Vec<IncidentEvent>, StoreError> {
        self.config = config;
        self.rules = rules;
        let retired = self.retire_unconfigured(now);
        self.retire_pending = retired.is_err();
        retired
    }

    /// Resolves the open incidents of objects that are no longer configured, with a reason
    /// saying so (as `incident.resolved`, which the alert outbox delivers like any other),
    /// and drops their condition clocks: nothing would ever grade them again, so without this
    /// they would stay open forever. Drills are left to their own end. Returns the events.
    pub fn retire_unconfigured(
        &mut self,
        now: UnixMillis,
    ) -> Result<Vec<IncidentEvent>, StoreError> {
        let configured: std::collections::HashSet<crate::config::ObjectKey> = self
            .config
            .objects
            .iter()
            .map(crate::grading::object_key)
            .collect();
        let open = self.store.list(&crate::incident::ListFilter {
            state: crate::incident::StateFilter::Open,
            since: None,
            include_false_positive: true,
            include_drill: false,
            limit: None,
            without_evidence: true,
        })?;
        let mut events = Vec::new();
        for inc in open
            .iter()
            .filter(|i| !i.drill && !configured.contains(&i.object))
        {
            events.push(self.store.resolve_manually(
                inc.id,
                "dnsgrade",
                "the object was removed from the configuration",
                now,
            )?);
            self.clocks.forget_prefix(&format!("{}:", inc.object));
        }
        Ok(events)
    }

    /// Grades every object at `now` on observations taken from the statistics and records the
    /// incidents; returns the board and what happened.
    pub fn tick(
        &mut self,
        obs: &Observations,
        now: UnixMillis,
    ) -> Result<(Board, TickOutcome), StoreError> {
        let vantage = self.vantage(obs);
        let isolated = vantage.isolated;
        let local_fault = vantage.local_fault;
        // Grade on a copy of the clocks: when isolated (or unable to probe) the observations
        // are not trusted and the clocks must not advance.
        let mut clocks = self.clocks.clone();
        let (mut objects, ready) = self.grade(obs, &mut clocks, now)?;
        let held = self.hold_after_restart(&mut objects, &ready, &mut clocks)?;
        let warming_up = self.warming_up(&ready);
        self.ticks = self.ticks.saturating_add(1);
        let mut out = TickOutcome {
            isolated,
            isolation_began: isolated && !self.isolated,
            isolation_ended: !isolated && self.isolated,
            local_fault,
            local_fault_began: local_fault && !self.local_fault,
            local_fault_ended: !local_fault && self.local_fault,
            held,
            warming_up,
            ..TickOutcome::default()
        };
        self.record(&objects, clocks, &vantage, now, &mut out)?;
        if self.retire_pending {
            if let Ok(events) = self.retire_unconfigured(now) {
                out.events.extend(events);
                self.retire_pending = false;
            }
        }
        self.isolated = isolated;
        self.local_fault = local_fault;
        let open_incidents = self.store.list(&crate::incident::ListFilter {
            state: crate::incident::StateFilter::Open,
            include_false_positive: true,
            include_drill: true,
            without_evidence: true,
            ..crate::incident::ListFilter::default()
        })?;
        let board = Board {
            at: now,
            isolated,
            control_addresses: vantage.control_addresses,
            control_failing: vantage.control_failing,
            local_fault,
            local_fault_addresses: vantage.local_fault_addresses,
            probed_addresses: vantage.probed_addresses,
            objects,
            open_incidents,
        };
        Ok((board, out))
    }

    /// The vantage point's health from the control targets: isolated when more than half of
    /// the control addresses with enough recent probes answer nothing.
    fn vantage(&self, obs: &Observations) -> Vantage {
        let m = &self.rules.measure;
        let mut control_addresses = 0;
        let mut control_failing = 0;
        for o in self.config.objects_of(ObjectClass::Control) {
            for s in obs.servers_of(o) {
                for a in s.addresses {
                    if a.recent.attempts >= m.stop_min_probes {
                        control_addresses += 1;
                        if a.recent.successes == 0 {
                            control_failing += 1;
                        }
                    }
                }
            }
        }
        // Without enough control probes to judge (right after a start), the persisted state
        // stands: a vantage point isolated before a restart is not declared healthy unseen.
        let isolated = if control_addresses > 0 {
            control_failing * 2 > control_addresses
        } else {
            self.isolated
        };
        let (local_fault_addresses, probed_addresses) = obs.local_faults();
        Vantage {
            isolated,
            control_addresses,
            control_failing,
            local_fault: local_fault_addresses * 10 > probed_addresses,
            local_fault_addresses,
            probed_addresses,
        }
    }

    /// Grades every object but the controls on `clocks`; returns each object's status and
    /// whether its windows were full enough to decide on.
    fn grade(
        &self,
        obs: &Observations,
        clocks: &mut ConditionClocks,
        now: UnixMillis,
    ) -> Result<(Vec<ObjectStatus>, Vec<bool>), StoreError> {
        let confirmations = self.store.confirmations()?;
        let mut objects = Vec::new();
        let mut ready = Vec::new();
        for o in self
            .config
            .objects
            .iter()
            .filter(|o| o.class != ObjectClass::Control)
        {
            let servers = obs.servers_of(o);
            let registry = obs.registries.get(&crate::grading::object_key(o)).cloned();
            // Registry services are judged on in-memory windows too.
            let registry_known = registry.as_ref().is_none_or(|r| {
                r.services
                    .iter()
                    .all(|s| s.state != crate::probe::registry::ServiceState::Unknown)
            });
            ready.push(registry_known && (o.servers.is_empty() || self.decided(&servers)));
            let input = ObjectInput {
                object: o,
                servers: &servers,
                registry: registry
                    .as_ref()
                    .map(|r| r.health.input())
                    .unwrap_or_default(),
            };
            let assessment = evaluate(&input, &self.rules, clocks, &confirmations, now);
            objects.push(ObjectStatus {
                class: o.class,
                name: o.name.clone(),
                display_name: o.display_name.clone(),
                tier: o.tier.map(|t| t.number()),
                scope: o.scope.clone(),
                licensed_by: o.licensed_by.clone(),
                assessment,
                registry,
            });
        }
        Ok((objects, ready))
    }

    /// Writes the tick into the ledger: while isolated nothing new (what is open is held and
    /// the clocks stay as they were); otherwise the assessments of the objects not held, and
    /// the advanced clocks. A change of isolation is a monitor event for the alert outbox, in
    /// the same transaction; without enough control probes to judge, nothing is claimed.
    fn record(
        &mut self,
        objects: &[ObjectStatus],
        clocks: ConditionClocks,
        vantage: &Vantage,
        now: UnixMillis,
        out: &mut TickOutcome,
    ) -> Result<(), StoreError> {
        let clear_after = self.rules.measure.clear_after;
        let monitor = (vantage.control_addresses > 0).then_some(MonitorObservation {
            isolated: vantage.isolated,
            control_addresses: vantage.control_addresses,
            control_failing: vantage.control_failing,
        });
        if vantage.suspended() {
            let (_, me) =
                self.store
                    .apply_observed(&[], &self.clocks, now, clear_after, monitor.as_ref())?;
            out.monitor_event = me;
            return Ok(());
        }
        // Held objects are left out: their incidents stay exactly as they are.
        let assessments: Vec<Assessment> = objects
            .iter()
            .filter(|o| !out.held.contains(&o.assessment.object))
            .map(|o| o.assessment.clone())
            .collect();
        let (events, me) =
            self.store
                .apply_observed(&assessments, &clocks, now, clear_after, monitor.as_ref())?;
        out.events = events;
        out.monitor_event = me;
        self.clocks = clocks;
        Ok(())
    }

    /// Whether an object's windows, filled since the start, are enough to decide on: every
    /// address of every server has `min_samples` probes in its window and `stop_min_probes`
    /// attempts in the stop window.
    fn decided(&self, servers: &[ServerInput]) -> bool {
        let m = &self.rules.measure;
        servers.iter().all(|s| {
            !s.addresses.is_empty()
                && s.addresses.iter().all(|a| {
                    a.window.samples >= m.min_samples && a.recent.attempts >= m.stop_min_probes
                })
        })
    }

    /// The post-start warm-up: fewer ticks than one window's worth since this evaluator
    /// started (counted in ticks, so a clock that jumps cannot cut it short) and some object
    /// not yet `ready` (windows too thin to decide on).
    fn warming_up(&self, ready: &[bool]) -> bool {
        let m = &self.rules.measure;
        let warm_up = (m.window.as_millis() / m.tick.as_millis().max(1)) as u64;
        self.ticks < warm_up && !ready.iter().all(|r| *r)
    }

    /// Continuity across restarts (docs/measurement.md, "Restarts"). The windows live in
    /// memory, so right after a start they are nearly empty and every object would read "no
    /// grade" — its open incident would start clearing, the grade gauges would drop and the
    /// alerts resolve and fire again. Until an object's windows can decide ([`Self::decided`]),
    /// or for one window's worth of ticks at most (counted in ticks, not wall time, so a clock
    /// that jumps cannot cut it short), an object with an open incident
    /// keeps the incident's grade, candidate and rule unless the fresh assessment is at least
    /// as severe: it is left out of the ledger's step (no event, no clearing), its condition
    /// clocks are kept as saved, and the board shows the held grade with a reason saying so.
    /// Returns the held objects.
    fn hold_after_restart(
        &self,
        objects: &mut [ObjectStatus],
        ready: &[bool],
        clocks: &mut ConditionClocks,
    ) -> Result<Vec<crate::config::ObjectKey>, StoreError> {
        if !self.warming_up(ready) {
            return Ok(Vec::new());
        }
        let open: HashMap<crate::config::ObjectKey, crate::incident::Incident> = self
            .store
            .list(&crate::incident::ListFilter {
                state: crate::incident::StateFilter::Open,
                since: None,
                include_false_positive: true,
                include_drill: false,
                limit: None,
                without_evidence: true,
            })?
            .into_iter()
            .map(|i| (i.object.clone(), i))
            .collect();
        let mut held = Vec::new();
        let objs = self
            .config
            .objects
            .iter()
            .filter(|o| o.class != ObjectClass::Control);
        for ((st, o), is_ready) in objects.iter_mut().zip(objs).zip(ready) {
            let key = st.assessment.object.clone();
            let Some(inc) = open.get(&key) else { continue };
            if *is_ready {
                continue;
            }
            let fresh = &st.assessment;
            if inc.clearing_since.is_none() && fresh.grade.is_some_and(|g| g >= inc.grade.0) {
                continue;
            }
            clocks.restore_object(&self.clocks, &format!("{key}:"));
            let mut a = fresh.clone();
            if inc.clearing_since.is_none() {
                let grade = inc.grade.0;
                a.grade = Some(grade);
                a.candidate = inc.candidate.map(|c| c.0);
                a.rule.clone_from(&inc.rule);
                a.authority = Some(crate::grading::authority(o, grade, &self.rules));
                a.onset = Some(inc.onset.ms());
                a.reasons_zh = std::iter::once(format!(
                    "监测重启后保持事件 #{} 的级别，待窗口样本足以判定",
                    inc.id
                ))
                .chain(inc.reasons_zh.iter().cloned())
                .collect();
                a.reasons_en = std::iter::once(format!(
                    "held at incident #{}'s grade after a restart of the monitor until the windows have enough new samples to decide",
                    inc.id
                ))
                .chain(inc.reasons_en.iter().cloned())
                .collect();
                a.next_escalation = None;
            }
            st.assessment = a;
            held.push(key);
        }
        Ok(held)
    }
}

/// The object key of a status entry (`class/name`, as in the incident ledger).
pub fn status_key(s: &ObjectStatus) -> crate::config::ObjectKey {
    crate::config::ObjectKey::new(s.class, &s.name)
}
