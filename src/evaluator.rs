//! The evaluation tick: statistics → grading → incidents.
//!
//! Every tick the [`Evaluator`] builds each object's input from the window statistics, grades
//! it ([`crate::grading::evaluate`], pure), and hands the assessments with the condition clocks
//! to the incident ledger, which writes every transition in one transaction before anything
//! acts on it. When most control probes fail, the vantage point is cut off: grading is
//! suspended — the clocks do not advance, no incident opens, open ones are held — and the
//! status says `isolated` (MATRIX.md, "Monitor health").

use crate::clock::UnixMillis;
use crate::config::{CheckRole, Config, Licensor, ObjectClass, Scope};
use crate::daemon::StatsStore;
use crate::grading::{evaluate, AddressInput, Assessment, ObjectInput, Rules, ServerInput};
use crate::incident::{
    ConditionClocks, IncidentEvent, IncidentStore, MonitorEvent, MonitorObservation, StoreError,
};
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
    /// Every graded object (control targets excluded).
    pub objects: Vec<ObjectStatus>,
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
    /// The monitor event written by this tick (a change of the persisted isolation state).
    pub monitor_event: Option<MonitorEvent>,
}

/// The synchronous core of the evaluation service.
#[derive(Debug)]
pub struct Evaluator {
    config: Arc<Config>,
    rules: Arc<Rules>,
    store: Arc<IncidentStore>,
    clocks: ConditionClocks,
    isolated: bool,
}

impl Evaluator {
    /// Resumes the condition clocks saved in `store` (a restart keeps every onset).
    pub fn new(
        config: Arc<Config>,
        rules: Arc<Rules>,
        store: Arc<IncidentStore>,
    ) -> Result<Self, StoreError> {
        let clocks = store.load_clocks()?;
        Ok(Self {
            config,
            rules,
            store,
            clocks,
            isolated: false,
        })
    }

    /// The rules in force.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Grades every object at `now` and records the incidents; returns the board and what
    /// happened.
    pub fn tick(
        &mut self,
        stats: &StatsStore,
        now: UnixMillis,
    ) -> Result<(Board, TickOutcome), StoreError> {
        let m = &self.rules.measure;
        // Group the active addresses of each (object, server).
        let mut by_server: HashMap<(ObjectClass, &str, &str), Vec<AddressInput>> = HashMap::new();
        for (t, e) in &stats.servers {
            if !e.active {
                continue;
            }
            let kd_errors = e
                .by_role
                .get(&CheckRole::KeyDomain)
                .map(|st| {
                    let kd = st.snapshot(now);
                    kd.missing + kd.wrong
                })
                .unwrap_or(0);
            by_server
                .entry((t.class, t.object.as_str(), t.server.as_str()))
                .or_default()
                .push(AddressInput {
                    label: format!("{} {}", t.server, t.address),
                    window: e.stats.snapshot(now),
                    recent: e.stats.recent(now, m.stop_window),
                    key_domain_errors: kd_errors,
                });
        }
        for v in by_server.values_mut() {
            v.sort_by(|a, b| a.label.cmp(&b.label));
        }
        let input_of = |o: &'_ crate::config::Object| -> Vec<ServerInput> {
            o.servers
                .iter()
                .map(|s| ServerInput {
                    name: s.name.clone(),
                    addresses: by_server
                        .get(&(o.class, o.name.as_str(), s.name.as_str()))
                        .cloned()
                        .unwrap_or_default(),
                })
                .collect()
        };

        // Vantage health from the control targets.
        let mut control_addresses = 0;
        let mut control_failing = 0;
        for o in self.config.objects_of(ObjectClass::Control) {
            for s in input_of(o) {
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
        let isolated = control_addresses > 0 && control_failing * 2 > control_addresses;

        // Grade on a copy of the clocks: when isolated the observations are not trusted and
        // the clocks must not advance.
        let confirmations = self.store.confirmations()?;
        let mut clocks = self.clocks.clone();
        let mut objects = Vec::new();
        for o in self
            .config
            .objects
            .iter()
            .filter(|o| o.class != ObjectClass::Control)
        {
            let servers = input_of(o);
            let registry = stats
                .registries
                .get(&crate::grading::object_key(o))
                .map(|t| RegistryStatus {
                    health: t.evaluate(now),
                    services: t.services_health(now),
                });
            let input = ObjectInput {
                object: o,
                servers: &servers,
                registry: registry
                    .as_ref()
                    .map(|r| r.health.input())
                    .unwrap_or_default(),
            };
            let assessment = evaluate(&input, &self.rules, &mut clocks, &confirmations, now);
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
        let mut out = TickOutcome {
            isolated,
            isolation_began: isolated && !self.isolated,
            isolation_ended: !isolated && self.isolated,
            ..TickOutcome::default()
        };
        // A change of isolation is a monitor event for the alert outbox, written in the tick's
        // transaction; without enough control probes to judge, nothing is claimed.
        let monitor = (control_addresses > 0).then_some(MonitorObservation {
            isolated,
            control_addresses,
            control_failing,
        });
        if isolated {
            // Suspended: save nothing new, open nothing, hold what is open.
            let (_, me) = self.store.apply_observed(
                &[],
                &self.clocks,
                now,
                m.clear_after,
                monitor.as_ref(),
            )?;
            out.monitor_event = me;
        } else {
            let assessments: Vec<Assessment> =
                objects.iter().map(|o| o.assessment.clone()).collect();
            let (events, me) = self.store.apply_observed(
                &assessments,
                &clocks,
                now,
                m.clear_after,
                monitor.as_ref(),
            )?;
            out.events = events;
            out.monitor_event = me;
            self.clocks = clocks;
        }
        self.isolated = isolated;
        let board = Board {
            at: now,
            isolated,
            control_addresses,
            control_failing,
            objects,
        };
        Ok((board, out))
    }
}

/// The object key of a status entry (`class/name`, as in the incident ledger).
pub fn status_key(s: &ObjectStatus) -> String {
    format!("{}/{}", s.class.as_str(), s.name)
}
