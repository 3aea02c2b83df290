//! `dnsgrade maintenance`: declare, list and end maintenance windows through the API.

use super::api::{ApiCallError, ApiClient};
use super::incidents::Output;
use super::time::{parse_instant, utc};
use crate::http::wire::{MaintenanceBody, MaintenanceList};
use std::fmt::Write;
use std::time::Duration;

/// One `dnsgrade maintenance` call.
#[derive(Debug, Clone)]
pub enum MaintenanceCall {
    /// `list`: the windows that have not ended.
    List,
    /// `declare --object K --starts T (--ends T | --for D) --reason TEXT`.
    Declare {
        /// The object, `class/name`.
        object: String,
        /// Start: `now`, Unix ms or RFC 3339 with any offset.
        starts: String,
        /// End, the same forms; or given as `length` after the start.
        ends: Option<String>,
        /// How long, instead of `ends`.
        length: Option<Duration>,
        /// Why (change ticket, work).
        reason: String,
    },
    /// `end ID`: ends the window now (deletes one that has not begun).
    End {
        /// Window id.
        id: i64,
    },
}

/// Calls the daemon's maintenance API and formats the answer.
pub async fn maintenance(
    api: &str,
    token: Option<&str>,
    call: MaintenanceCall,
    out: &Output,
) -> Result<String, ApiCallError> {
    let client = ApiClient::new(api, token)?;
    Ok(match call {
        MaintenanceCall::List => out.print(&client.maintenance().await?, |l| window_list(l, out)),
        MaintenanceCall::Declare {
            object,
            starts,
            ends,
            length,
            reason,
        } => {
            let body = declare_body(object, &starts, ends.as_deref(), length, reason)?;
            out.print(&client.declare_maintenance(&body).await?, |a| {
                format!(
                    "maintenance window {}: {} from {} to {}\n",
                    a.id, body.object, body.starts, body.ends
                )
            })
        }
        MaintenanceCall::End { id } => out.print(&client.end_maintenance(id).await?, |a| {
            format!("maintenance window {} ended\n", a.id)
        }),
    })
}

/// The body of a declaration, its times in UTC.
fn declare_body(
    object: String,
    starts: &str,
    ends: Option<&str>,
    length: Option<Duration>,
    reason: String,
) -> Result<MaintenanceBody, ApiCallError> {
    let starts = parse_instant("--starts", starts).map_err(ApiCallError::Usage)?;
    let ends = match (ends, length) {
        (Some(e), None) => parse_instant("--ends", e).map_err(ApiCallError::Usage)?,
        (None, Some(d)) => jiff::SignedDuration::try_from(d)
            .ok()
            .and_then(|d| starts.checked_add(d).ok())
            .ok_or_else(|| ApiCallError::Usage(format!("--for {d:?} is too long")))?,
        _ => {
            return Err(ApiCallError::Usage(
                "give the end of the window with either --ends or --for".into(),
            ))
        }
    };
    Ok(MaintenanceBody {
        object,
        starts: utc(starts),
        ends: utc(ends),
        reason,
    })
}

/// The windows, one a line.
fn window_list(l: &MaintenanceList, out: &Output) -> String {
    if l.windows.is_empty() {
        return "no maintenance windows\n".into();
    }
    let mut text = String::new();
    for w in &l.windows {
        let _ = writeln!(
            text,
            "#{:<5} {:<32} {} → {}  {}",
            w.id,
            w.object,
            out.times.show(w.starts),
            out.times.show(w.ends),
            w.reason
        );
    }
    text
}
