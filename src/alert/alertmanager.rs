//! The Alertmanager sink: incidents as alerts of the v2 API (`POST /api/v2/alerts`).
//!
//! Alertmanager identifies an alert by its label set and times it out after
//! `resolve_timeout` unless it is posted again, so this sink posts every transition (through
//! the ordered outbox) and re-posts the current state every `resend_interval` (see
//! [`refresh_alerts`]). A grade change changes the label set: the alert of the earlier grade
//! is posted resolved together with the new one, so it does not linger until it times out.

use super::filter::accepts_incident;
use super::AlertContext;
use crate::clock::UnixMillis;
use crate::config::SinkFilter;
use crate::incident::{
    AlertEvent, Incident, IncidentState, IncidentStore, ListFilter, MonitorEvent, MonitorKind,
    OutboxItem, StateFilter, StoreResult, Timestamp, MONITOR_STREAM,
};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The alert name of incidents.
pub const INCIDENT_ALERTNAME: &str = "DnsgradeIncident";
/// The alert name of an isolated vantage point.
pub const MONITOR_ALERTNAME: &str = "DnsgradeMonitorIsolated";
/// The `source` label of every alert this sink posts; the shipped Prometheus rules label
/// theirs `source="prometheus-rules"`, so Alertmanager can route one kind to the pagers and
/// not both (docs/alerting.md).
pub const ALERT_SOURCE: &str = "dnsgrade";
/// The path appended to the sink's base URL.
pub const ALERTS_PATH: &str = "/api/v2/alerts";

/// The alert of an incident as `incident` shows it; resolved (with `endsAt`) when `ends_at`
/// is given.
///
/// Labels: `alertname`, `grade` (I…IV), `grade_zh`, `class`, `object`, `authority` (the
/// lead, Chinese), `incident_id`, `drill` ("true"/"false"), `source` ([`ALERT_SOURCE`]).
/// Annotations: `summary`,
/// `reason_zh`, `reason_en`, `evidence` (one line per server), `candidate_grade` when one
/// awaits confirmation, `url`.
pub fn incident_alert(
    incident: &Incident,
    ctx: &AlertContext,
    ends_at: Option<Timestamp>,
) -> Value {
    let (class, name) = (incident.object.class().as_str(), incident.object.name());
    let g = incident.grade.0;
    let mut labels = Map::new();
    labels.insert("alertname".into(), json!(INCIDENT_ALERTNAME));
    labels.insert("grade".into(), json!(g.roman()));
    labels.insert("grade_zh".into(), json!(g.zh()));
    labels.insert("class".into(), json!(class));
    labels.insert("object".into(), json!(name));
    if let Some(lead) = incident
        .authority
        .as_ref()
        .and_then(|a| a["lead_zh"].as_str())
        .filter(|s| !s.is_empty())
    {
        labels.insert("authority".into(), json!(lead));
    }
    labels.insert("incident_id".into(), json!(incident.id.to_string()));
    labels.insert("drill".into(), json!(incident.drill.to_string()));
    labels.insert("source".into(), json!(ALERT_SOURCE));
    labels.insert("vantage".into(), json!(ctx.config.daemon.vantage.name));
    let mut ann = Map::new();
    let first = incident.reasons_zh.first().cloned().unwrap_or_default();
    ann.insert(
        "summary".into(),
        json!(format!(
            "{} {}（{}级）：{}",
            incident.object,
            g.zh(),
            g.roman(),
            first
        )),
    );
    ann.insert("reason_zh".into(), json!(incident.reasons_zh.join("；")));
    ann.insert("reason_en".into(), json!(incident.reasons_en.join("; ")));
    ann.insert(
        "evidence".into(),
        json!(evidence_summary(&incident.evidence)),
    );
    if let Some(c) = incident.candidate {
        ann.insert(
            "candidate_grade".into(),
            json!(format!("{} {}", c.0.roman(), c.0.zh())),
        );
    }
    ann.insert("url".into(), json!(ctx.incident_url(incident.id)));
    let mut alert = json!({
        "labels": labels,
        "annotations": ann,
        "startsAt": incident.onset.rfc3339(),
        "generatorURL": ctx.incident_url(incident.id),
    });
    if let Some(t) = ends_at {
        alert["endsAt"] = json!(t.rfc3339());
    }
    alert
}

/// The alert of an isolated vantage point: firing from `since`, resolved at `ends_at`.
pub fn monitor_alert(since: Timestamp, ends_at: Option<Timestamp>, ctx: &AlertContext) -> Value {
    let mut alert = json!({
        "labels": {
            "alertname": MONITOR_ALERTNAME,
            "drill": "false",
            "source": ALERT_SOURCE,
            "vantage": ctx.config.daemon.vantage.name,
        },
        "annotations": {
            "summary": "监测点与网络隔离，定级暂停 / the monitor's vantage point is cut off; grading is suspended",
        },
        "startsAt": since.rfc3339(),
        "generatorURL": format!("{}/api/v1/status", ctx.api_base),
    });
    if let Some(t) = ends_at {
        alert["endsAt"] = json!(t.rfc3339());
    }
    alert
}

/// One line per server: "a 127.0.0.1:53: 45 probes, success 0.0% [0.0%, 7.9%], 3 ms, stopped".
fn evidence_summary(evidence: &Value) -> String {
    let Some(list) = evidence.as_array() else {
        return String::new();
    };
    let pct = |v: &Value| {
        v.as_f64()
            .map_or("—".to_string(), |x| format!("{:.1}%", x * 100.0))
    };
    list.iter()
        .map(|s| {
            let mut line = format!(
                "{}: {} probes, success {} [{}, {}]",
                s["server"].as_str().unwrap_or("?"),
                s["samples"].as_u64().unwrap_or(0),
                pct(&s["success"]),
                pct(&s["success_lower"]),
                pct(&s["success_upper"]),
            );
            if let Some(l) = s["latency_s"].as_f64() {
                line.push_str(&format!(", {:.0} ms", l * 1000.0));
            }
            if let Some(e) = s["data_error"].as_f64() {
                line.push_str(&format!(", data errors {:.3}%", e * 100.0));
            }
            if s["stopped"] == true {
                line.push_str(", stopped");
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The alerts that report one outbox event: the incident's alert as of the event (resolved
/// if the incident was), plus the alert of `previous` (the incident as the last delivered
/// event showed it) resolved when its label set differs.
pub(crate) fn alerts_for_event(
    item: &OutboxItem,
    previous: Option<&Incident>,
    ctx: &AlertContext,
) -> Vec<Value> {
    match &item.event {
        AlertEvent::Incident(e) => {
            let inc = &e.incident;
            let ends =
                (inc.state == IncidentState::Resolved).then(|| inc.resolved_at.unwrap_or(e.at));
            let now = incident_alert(inc, ctx, ends);
            let mut out = Vec::new();
            if let Some(p) = previous {
                let before = incident_alert(p, ctx, Some(e.at));
                if before["labels"] != now["labels"] {
                    out.push(before);
                }
            }
            out.push(now);
            out
        }
        AlertEvent::Monitor(m) => vec![monitor_event_alert(m, ctx)],
    }
}

/// Alertmanager keeps the earliest `startsAt` of an alert, so the recovery may start at its
/// own time.
fn monitor_event_alert(m: &MonitorEvent, ctx: &AlertContext) -> Value {
    match m.kind {
        MonitorKind::Isolated => monitor_alert(m.at, None, ctx),
        MonitorKind::Recovered => monitor_alert(m.at, Some(m.at), ctx),
    }
}

/// The periodic re-post of one Alertmanager sink at `now`: every open incident the filter
/// accepts (firing), every one resolved within `resolved_for` (with `endsAt`), and the
/// monitor's isolation — except streams with a pending delivery to this sink, whose alert the
/// ordered outbox brings up to date first (a re-post must never overtake a transition).
pub fn refresh_alerts(
    store: &IncidentStore,
    sink: &str,
    filter: &SinkFilter,
    ctx: &AlertContext,
    now: UnixMillis,
    resolved_for: Duration,
) -> StoreResult<Vec<Value>> {
    let blocked = store.outbox_pending_streams(sink)?;
    let since = now.saturating_sub(resolved_for.as_millis() as u64);
    let incidents = store.list(&ListFilter {
        state: StateFilter::All,
        since: Some(since),
        include_false_positive: false,
        include_drill: true,
        limit: Some(2000),
        without_evidence: false,
    })?;
    let mut out = Vec::new();
    for inc in incidents {
        if blocked.contains(&format!("incident/{}", inc.id)) || !accepts_incident(filter, &inc, ctx)
        {
            continue;
        }
        let ends = (inc.state == IncidentState::Resolved)
            .then_some(inc.resolved_at)
            .flatten();
        out.push(incident_alert(&inc, ctx, ends));
    }
    if !blocked.contains(MONITOR_STREAM) {
        if let Some(m) = store.last_monitor_event()? {
            match m.kind {
                MonitorKind::Isolated => out.push(monitor_alert(m.at, None, ctx)),
                MonitorKind::Recovered if m.at.ms() >= since => {
                    out.push(monitor_alert(m.at, Some(m.at), ctx))
                }
                MonitorKind::Recovered => {}
            }
        }
    }
    Ok(out)
}
