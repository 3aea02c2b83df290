//! `dnsgrade incidents` and `dnsgrade drill`: calls of the incident API, printed for a
//! terminal.

use super::api::{ApiCallError, ApiClient};
use crate::http::wire::{DrillBody, ListQuery};
use crate::incident::{GradeView, Incident, IncidentDetail, IncidentEvent};
use std::fmt::Write;

/// One `dnsgrade incidents` call.
#[derive(Debug, Clone)]
pub enum IncidentCall {
    /// `list`.
    List {
        /// open, all or resolved.
        state: String,
        /// Lower time bound.
        since: Option<String>,
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
) -> Result<String, ApiCallError> {
    let client = ApiClient::new(api, token)?;
    Ok(match call {
        IncidentCall::List { state, since } => {
            let query = ListQuery {
                state: Some(state),
                since,
                ..ListQuery::default()
            };
            format_incident_list(&client.incidents(&query).await?.incidents)
        }
        IncidentCall::Show { id } => format_incident_detail(&client.incident(id).await?),
        IncidentCall::Ack { id, by, note } => {
            event_text(&client.acknowledge(id, &by, note.as_deref()).await?)
        }
        IncidentCall::ConfirmImpact { id, by } => {
            event_text(&client.confirm_impact(id, &by).await?)
        }
    })
}

/// Calls the daemon's drill API and formats the answer.
pub async fn drill(
    api: &str,
    token: Option<&str>,
    call: DrillCall,
) -> Result<String, ApiCallError> {
    let client = ApiClient::new(api, token)?;
    Ok(match call {
        DrillCall::List => {
            let list = client.drills().await?;
            let mut out = String::from("scenarios:\n");
            for s in &list.scenarios {
                let _ = writeln!(out, "  {:<26} {} / {}", s.name, s.zh, s.en);
            }
            out.push_str("open drills:\n");
            if list.open.is_empty() {
                out.push_str("  none\n");
            } else {
                out.push_str(&format_incident_list(&list.open));
            }
            out
        }
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
            let mut out = String::new();
            for e in client.start_drill(&body).await?.events {
                let _ = write!(
                    out,
                    "drill incident {}: {}\n{}",
                    e.incident_id,
                    e.kind.as_str(),
                    incident_line(&e.incident)
                );
            }
            if out.is_empty() {
                out.push_str("no change: the same drill is already open at this grade\n");
            }
            out
        }
        DrillCall::End { id, by } => format!(
            "drill incident {id} ended: {}\n",
            client.end_drill(id, &by).await?.kind.as_str()
        ),
    })
}

/// One event and the incident after it.
fn event_text(e: &IncidentEvent) -> String {
    format!(
        "incident {}: {} at {}\n{}",
        e.incident_id,
        e.kind.as_str(),
        e.at.rfc3339(),
        incident_line(&e.incident)
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
fn incident_line(i: &Incident) -> String {
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
        i.onset.rfc3339(),
        lead,
        match &i.acknowledged_by {
            Some(by) => format!("  acked by {by}"),
            None => String::new(),
        }
    )
}

fn format_incident_list(list: &[Incident]) -> String {
    if list.is_empty() {
        return "no incidents\n".into();
    }
    list.iter().map(incident_line).collect()
}

/// An incident with its rule, reasons and timeline.
fn format_incident_detail(d: &IncidentDetail) -> String {
    let i = &d.incident;
    let mut out = incident_line(i);
    let _ = writeln!(out, "rule: {}", i.rule.as_deref().unwrap_or("-"));
    for (zh, en) in i.reasons_zh.iter().zip(&i.reasons_en) {
        let _ = writeln!(out, "  - {zh} / {en}");
    }
    let _ = writeln!(out, "timeline:");
    for e in &d.timeline {
        let _ = writeln!(
            out,
            "  {}  {:<20} {}",
            e.at.rfc3339(),
            e.kind.as_str(),
            grade_text(e.grade)
        );
    }
    out
}
