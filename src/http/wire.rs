//! The incident API's request and answer bodies, as types: the server reads and writes
//! these, and the command-line client (`crate::cli`) sends and reads the same ones.

use crate::incident::{Incident, IncidentEvent, MaintenanceWindow};
use serde::{Deserialize, Serialize};

/// `GET /api/v1/incidents` query parameters.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ListQuery {
    /// `open` (the default), `all` or `resolved`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Only incidents open at or after this time (Unix ms or RFC 3339 with any offset, e.g.
    /// `2026-12-01T00:00:00Z` or `2026-12-01T08:00:00+08:00`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Include incidents marked false positives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_false_positive: Option<bool>,
    /// Include drills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_drill: Option<bool>,
    /// At most this many, newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Body of ack, confirm-impact and drill end: who, and an optional note.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByBody {
    /// Who acts.
    pub by: String,
    /// A note (ack only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Body of false-positive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why it was not a real incident.
    pub reason: String,
}

/// Body of cause.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CauseBody {
    /// The root cause, as a person wrote it.
    pub text: String,
}

/// Body of result: the troubleshooting result.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultBody {
    /// What was found and done, as a person wrote it.
    pub text: String,
}

/// Body of organisations: the organisations involved (replaces the earlier list).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationsBody {
    /// Their names.
    pub organisations: Vec<String>,
}

/// Body of reported: the incident was reported to the coordinating body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedBody {
    /// The coordinating body.
    pub to: String,
    /// Who reported.
    pub by: String,
    /// When (Unix ms or RFC 3339 with any offset; default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// Body of coordinator-confirmed: the coordinating body confirmed the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmedBody {
    /// Who confirmed there, or who took the confirmation.
    pub by: String,
    /// When (Unix ms or RFC 3339 with any offset; default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// Body of receipt: a receiver confirmed that it received a notification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    /// The receiving organisation.
    pub organisation: String,
    /// Who recorded it (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When it confirmed (Unix ms or RFC 3339 with any offset; default: now).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// `GET /api/v1/report` query parameters: the period, as dates in Asia/Shanghai (+08:00),
/// both included.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ReportQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
}

/// Body of `POST /api/v1/maintenance`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceBody {
    /// The object, `class/name`.
    pub object: String,
    /// Start (Unix ms or RFC 3339 with any offset).
    pub starts: String,
    /// End (Unix ms or RFC 3339 with any offset).
    pub ends: String,
    /// Why.
    pub reason: String,
}

/// Answer of `POST /api/v1/maintenance` and of `POST /api/v1/maintenance/{id}/end`: the
/// window's id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaintenanceId {
    /// The window's ledger id.
    pub id: i64,
}

/// Answer of `GET /api/v1/maintenance`: the windows that have not ended, soonest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaintenanceList {
    /// The windows.
    pub windows: Vec<MaintenanceWindow>,
}

/// Body of `POST /api/v1/drills`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillBody {
    /// The scenario, e.g. `tld-II`.
    pub scenario: String,
    /// The object, `class/name` (default: the first of the scenario's class).
    #[serde(default)]
    pub object: Option<String>,
    /// Who runs it.
    pub by: String,
}

/// Answer of `GET /api/v1/incidents`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentList {
    /// The incidents, newest first.
    pub incidents: Vec<Incident>,
}

/// Answer of a write that records one event (ack, confirm-impact, false-positive, cause,
/// drill end).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventAnswer {
    /// The event, with the incident as it is after it.
    pub event: IncidentEvent,
}

/// Answer of `POST /api/v1/drills`: the events the drill's assessment caused (none when the
/// same drill is already open at that grade).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillEvents {
    /// The events.
    pub events: Vec<IncidentEvent>,
}

/// A drill scenario as `GET /api/v1/drills` lists it (the fields a client shows).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioView {
    /// Its name, e.g. `tld-II`.
    pub name: String,
    /// What it simulates, in Chinese.
    pub zh: String,
    /// What it simulates, in English.
    pub en: String,
}

/// Answer of `GET /api/v1/drills` as a client reads it: the scenarios and the open drills.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillList {
    /// Every scenario.
    pub scenarios: Vec<ScenarioView>,
    /// The open drill incidents.
    pub open: Vec<Incident>,
}

/// The body of every error answer (4xx, 5xx).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorAnswer {
    /// What is wrong.
    pub error: String,
}
