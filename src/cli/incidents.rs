//! `dnsgrade incidents` and `dnsgrade drill`: calls of the incident API, printed for a
//! terminal, or with `--json` as the API's own bodies.

use super::api::{ApiCallError, ApiClient};
use super::time::{parse_instant, utc, Times};
use crate::http::wire::{DrillBody, ListQuery};
use crate::incident::{GradeView, Incident, IncidentDetail, IncidentEvent};
use std::fmt::Write;

/// How a command prints its answer.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// The answer as JSON (the API's body, pretty-printed) instead of text.
    pub json: bool,
    /// How text shows times.
    pub times: Times,
}

impl Output {
    /// `value` as JSON, or `text(value)`.
    pub(super) fn print<T: serde::Serialize>(
        &self,
        value: &T,
        text: impl FnOnce(&T) -> String,
    ) -> String {
        if self.json {
            json(value)
        } else {
            text(value)
        }
    }
}

/// Pretty JSON with a final newline.
pub(super) fn json<T: serde::Serialize>(value: &T) -> String {
    let mut s =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// One `dnsgrade incidents` call.
#[derive(Debug, Clone)]
pub enum IncidentCall {
    /// `list`.
    List {
        /// open, all or resolved.
        state: String,
        /// Lower time bound: Unix ms or RFC 3339 with any offset.
        since: Option<String>,
        /// Include incidents marked false positives.
        include_false_positive: bool,
    },
    /// `show ID`.
    Show {
        /// Incident id.
        id: i64,
    },
    /// `ack ID --by NAME`.
    Ack {
        /// Incident id.
        id: i64,
        /// Who.
        by: String,
        /// Note.
        note: Option<String>,
    },
    /// `confirm-impact ID --by NAME`.
    ConfirmImpact {
        /// Incident id.
        id: i64,
        /// Who.
        by: String,
    },
    /// `false-positive ID --reason TEXT`.
    FalsePositive {
        /// Incident id.
        id: i64,
        /// Why it was not a real incident.
        reason: String,
    },
    /// `cause ID --text TEXT`.
    Cause {
        /// Incident id.
        id: i64,
        /// The root cause.
        text: String,
    },
    /// The record's writes: result, organisations, reported, coordinator-confirmed, receipt.
    Record(super::RecordCall),
}

/// One `dnsgrade drill` call.
#[derive(Debug, Clone)]
pub enum DrillCall {
    /// `--list`.
    List,
    /// `--scenario NAME [--object K]`.
    Start {
        /// Scenario name.
        scenario: String,
        /// Object key.
        object: Option<String>,
        /// Who.
        by: String,
    },
    /// `--end ID`.
    End {
        /// Drill incident id.
        id: i64,
        /// Who.
        by: String,
    },
}

/// Calls the daemon's incident API and formats the answer for a terminal.
pub async fn incidents(
    api: &str,
    token: Option<&str>,
    call: IncidentCall,
    out: &Output,
) -> Result<String, ApiCallError> {
    let client = ApiClient::new(api, token)?;
    let event = |e: &IncidentEvent| event_text(e, &out.times);
    Ok(match call {
        IncidentCall::List {
            state,
            since,
            include_false_positive,
        } => {
            let since = match since {
                None => None,
                Some(s) => Some(utc(
                    parse_instant("--since", &s).map_err(ApiCallError::Usage)?
                )),
            };
            let query = ListQuery {
                state: Some(state),
                since,
                include_false_positive: include_false_positive.then_some(true),
                ..ListQuery::default()
            };
            let list = client.incidents(&query).await?;
            out.print(&list, |l| format_incident_list(&l.incidents, &out.times))
        }
        IncidentCall::Show { id } => out.print(&client.incident(id).await?, |d| {
            format_incident_detail(d, &out.times)
        }),
        IncidentCall::Ack { id, by, note } => {
            out.print(&client.acknowledge(id, &by, note.as_deref()).await?, event)
        }
        IncidentCall::ConfirmImpact { id, by } => {
            out.print(&client.confirm_impact(id, &by).await?, event)
        }
        IncidentCall::FalsePositive { id, reason } => {
            out.print(&client.mark_false_positive(id, &reason).await?, event)
        }
        IncidentCall::Cause { id, text } => out.print(&client.set_cause(id, &text).await?, event),
        IncidentCall::Record(call) => out.print(&super::record::send(&client, call).await?, event),
    })
}

/// Calls the daemon's drill API and formats the answer.
pub async fn drill(
    api: &str,
    token: Option<&str>,
    call: DrillCall,
    out: &Output,
) -> Result<String, ApiCallError> {
    let client = ApiClient::new(api, token)?;
    Ok(match call {
        DrillCall::List => out.print(&client.drills().await?, |list| {
            let mut text = String::from("scenarios:\n");
            for s in &list.scenarios {
                let _ = writeln!(text, "  {:<26} {} / {}", s.name, s.zh, s.en);
            }
            text.push_str("open drills:\n");
            if list.open.is_empty() {
                text.push_str("  none\n");
            } else {
                text.push_str(&format_incident_list(&list.open, &out.times));
            }
            text
        }),
        DrillCall::Start {
            scenario,
            object,
            by,
        } => {
            let body = DrillBody {
                scenario,
                object,
                by,
            };
            out.print(&client.start_drill(&body).await?, |answer| {
                let mut text = String::new();
                for e in &answer.events {
                    let _ = write!(
                        text,
                        "drill incident {}: {}\n{}",
                        e.incident_id,
                        e.kind.as_str(),
                        incident_line(&e.incident, &out.times)
                    );
                }
                if text.is_empty() {
                    text.push_str("no change: the same drill is already open at this grade\n");
                }
                text
            })
        }
        DrillCall::End { id, by } => out.print(&client.end_drill(id, &by).await?, |e| {
            format!("drill incident {id} ended: {}\n", e.kind.as_str())
        }),
    })
}

/// One event and the incident after it.
fn event_text(e: &IncidentEvent, times: &Times) -> String {
    format!(
        "incident {}: {} at {}\n{}",
        e.incident_id,
        e.kind.as_str(),
        times.show(e.at),
        incident_line(&e.incident, times)
    )
}

/// "特别重大 Especially major (level I)".
fn grade_text(g: Option<GradeView>) -> String {
    match g {
        None => "-".into(),
        Some(GradeView(level)) => {
            format!("{} {} (level {})", level.zh(), level.en(), level.roman())
        }
    }
}

/// One incident on one line: id, state, object, grade, candidate, onset, lead, who acked.
fn incident_line(i: &Incident, times: &Times) -> String {
    let cand = match i.candidate {
        None => String::new(),
        Some(c) => format!("  candidate {}", grade_text(Some(c))),
    };
    let lead = i
        .authority
        .as_ref()
        .and_then(|a| a["lead_zh"].as_str())
        .unwrap_or("-");
    format!(
        "#{:<5} {:<8} {:<32} {}{}  since {}  lead {}{}\n",
        i.id,
        i.state.as_str(),
        i.object.to_string(),
        grade_text(Some(i.grade)),
        cand,
        times.show(i.onset),
        lead,
        match &i.acknowledged_by {
            Some(by) => format!("  acked by {by}"),
            None => String::new(),
        }
    )
}

fn format_incident_list(list: &[Incident], times: &Times) -> String {
    if list.is_empty() {
        return "no incidents\n".into();
    }
    list.iter().map(|i| incident_line(i, times)).collect()
}

/// The circular's record of an incident: acknowledgement against the limit, result,
/// organisations, the report to the coordinating body, notifications and receipts.
fn record_text(d: &IncidentDetail, times: &Times) -> String {
    let i = &d.incident;
    let mut out = String::new();
    let show = |t: Option<crate::incident::Timestamp>| t.map_or("-".to_string(), |t| times.show(t));
    let _ = writeln!(
        out,
        "acknowledged: {}{}",
        show(i.acknowledged_at),
        if d.ack_overdue { "  (overdue)" } else { "" }
    );
    if let Some(r) = &i.result {
        let _ = writeln!(out, "result: {r}");
    }
    if !i.organisations.is_empty() {
        let _ = writeln!(out, "organisations: {}", i.organisations.join(", "));
    }
    if let Some(to) = &i.reported_to {
        let _ = writeln!(
            out,
            "reported to {to}: {}  confirmed: {}",
            show(i.reported_at),
            show(i.coordinator_confirmed_at)
        );
    }
    if let Some(s) = d.time_to_resolve_s {
        let _ = writeln!(out, "time to resolve: {s} s");
    }
    for n in &d.notifications {
        let _ = writeln!(
            out,
            "notified {} {} {} {} (HTTP {}) delivered {}",
            n.sink,
            n.kind,
            n.delivery_id,
            n.state,
            n.last_status.map_or("-".to_string(), |s| s.to_string()),
            show(n.delivered_at)
        );
    }
    for r in &d.receipts {
        let _ = writeln!(
            out,
            "receipt from {} at {}",
            r.organisation,
            times.show(r.at)
        );
    }
    out
}

/// An incident with its rule, reasons, cause, false-positive mark and timeline.
fn format_incident_detail(d: &IncidentDetail, times: &Times) -> String {
    let i = &d.incident;
    let mut out = incident_line(i, times);
    let _ = writeln!(out, "rule: {}", i.rule.as_deref().unwrap_or("-"));
    if let Some(c) = &i.cause {
        let _ = writeln!(out, "cause: {c}");
    }
    out.push_str(&record_text(d, times));
    if let Some(r) = &i.false_positive {
        let _ = writeln!(out, "false positive: {r}");
    }
    if i.maintenance {
        let _ = writeln!(out, "during maintenance");
    }
    for (zh, en) in i.reasons_zh.iter().zip(&i.reasons_en) {
        let _ = writeln!(out, "  - {zh} / {en}");
    }
    let _ = writeln!(out, "timeline:");
    for e in &d.timeline {
        let _ = writeln!(
            out,
            "  {}  {:<20} {}",
            times.show(e.at),
            e.kind.as_str(),
            grade_text(e.grade)
        );
    }
    out
}
