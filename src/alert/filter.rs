//! Which events a sink gets (`min_grade`, `classes`, `authority`, maintenance).

use super::AlertContext;
use crate::config::SinkFilter;
use crate::incident::{AlertEvent, Incident};

/// Whether `filter` lets the event through. Monitor events always pass: a blind monitor
/// concerns every receiver. Incident events pass when the incident passes
/// ([`accepts_incident`]).
pub fn accepts(filter: &SinkFilter, event: &AlertEvent, ctx: &AlertContext) -> bool {
    match event {
        AlertEvent::Monitor(_) => true,
        AlertEvent::Incident(e) => {
            e.kind.webhook_type().is_some() && accepts_incident(filter, &e.incident, ctx)
        }
    }
}

/// Whether an incident (as a snapshot shows it) is for this sink:
///
/// - not in maintenance (planned work is recorded, never paged);
/// - `min_grade`: its highest grade so far reaches it — `max_grade` only grows, so a sink that
///   got an incident also gets its de-escalation and resolution;
/// - `classes`: its object's class is listed;
/// - `authority`: the authority leads or is notified of the object's response at some grade
///   (a provincial 通信管理局 gets every incident of its province's objects, from IV to II), or
///   is named in the snapshot's own routing (objects no longer configured).
pub fn accepts_incident(filter: &SinkFilter, incident: &Incident, ctx: &AlertContext) -> bool {
    if incident.maintenance {
        return false;
    }
    if filter
        .min_grade
        .is_some_and(|min| incident.max_grade.0 < min)
    {
        return false;
    }
    let class = incident.object.class();
    if !filter.classes.is_empty() && !filter.classes.contains(&class) {
        return false;
    }
    match &filter.authority {
        None => true,
        Some(want) => {
            ctx.authorities(&incident.object).iter().any(|a| a == want)
                || snapshot_names(incident).iter().any(|a| a == want)
        }
    }
}

/// The authority names in a snapshot (`lead_zh`, `lead_en`, `notify`).
fn snapshot_names(incident: &Incident) -> Vec<String> {
    let Some(a) = &incident.authority else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for k in ["lead_zh", "lead_en"] {
        if let Some(s) = a[k].as_str() {
            v.push(crate::config::normalize_authority(s));
        }
    }
    if let Some(n) = a["notify"].as_array() {
        v.extend(
            n.iter()
                .filter_map(|x| x.as_str())
                .map(crate::config::normalize_authority),
        );
    }
    v
}
