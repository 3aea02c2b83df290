//! The types the incident ledger returns. All serialize to JSON for the HTTP API, the CLI and
//! the alert outbox; times serialize as `{"ms": <Unix ms>, "rfc3339": "…Z"}` (see
//! [`Timestamp`]).

use crate::clock::UnixMillis;
use crate::grading::{Level, ObjectKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time as the ledger stores it (Unix milliseconds, UTC).
///
/// Serialized as `{"ms": 1700000000000, "rfc3339": "2023-11-14T22:13:20.000Z"}` so that
/// programs get an exact integer and people get a readable time; deserializes from that
/// object or from a bare integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub UnixMillis);

impl Timestamp {
    /// Unix milliseconds.
    pub fn ms(self) -> UnixMillis {
        self.0
    }

    /// RFC 3339 in UTC with milliseconds.
    pub fn rfc3339(self) -> String {
        rfc3339(self.0)
    }
}

impl From<UnixMillis> for Timestamp {
    fn from(ms: UnixMillis) -> Self {
        Timestamp(ms)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Timestamp", 2)?;
        st.serialize_field("ms", &self.0)?;
        st.serialize_field("rfc3339", &rfc3339(self.0))?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Ms(u64),
            Obj { ms: u64 },
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Ms(ms) | Repr::Obj { ms } => Timestamp(ms),
        })
    }
}

/// Formats Unix milliseconds as RFC 3339 UTC, e.g. `2023-11-14T22:13:20.000Z`
/// ([`crate::clock::format_rfc3339`]).
pub fn rfc3339(ms: UnixMillis) -> String {
    crate::clock::format_rfc3339(ms)
}

/// Whether an incident is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentState {
    /// The object has a grade, or lost it less than `clear_after` ago.
    Open,
    /// The object had no grade for `clear_after`; the incident is history.
    Resolved,
}

impl IncidentState {
    /// The text stored in the database and used in the API (`open`, `resolved`).
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::Open => "open",
            IncidentState::Resolved => "resolved",
        }
    }

    /// From the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(IncidentState::Open),
            "resolved" => Some(IncidentState::Resolved),
            _ => None,
        }
    }
}

/// A grade together with its names, as the webhook body and the status page show it
/// (`grade {level, zh, en, colour}` in the README, "Alerts").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradeView(pub Level);

impl Serialize for GradeView {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Grade", 4)?;
        st.serialize_field("level", self.0.roman())?;
        st.serialize_field("zh", self.0.zh())?;
        st.serialize_field("en", self.0.en())?;
        st.serialize_field("colour", self.0.colour())?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for GradeView {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Repr {
            level: String,
        }
        let r = Repr::deserialize(d)?;
        Level::from_roman(&r.level)
            .map(GradeView)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown grade {:?}", r.level)))
    }
}

/// The next grade a running condition reaches, and when (copied from the assessment so that
/// the ledger and the webhook can say "level II at 14:05 unless it recovers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextEscalation {
    /// The grade it will reach.
    pub grade: GradeView,
    /// When.
    pub at: Timestamp,
}

/// One incident: one object's run of trouble, from the first grade to `clear_after` after the
/// last. This is the snapshot every event carries and the API returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Ledger id; stable, used in URLs and commands (`dnsgrade incidents ack 42`).
    pub id: i64,
    /// The graded object, `class/name`.
    pub object: ObjectKey,
    /// Open or resolved.
    pub state: IncidentState,
    /// The current grade; while the incident is clearing (see `clearing_since`) the last grade
    /// the object had, so the record keeps saying what was wrong.
    pub grade: GradeView,
    /// The highest grade during the incident: reports and the plan's after-action duties go by
    /// the worst point, not the last one.
    pub max_grade: GradeView,
    /// A higher grade awaiting a person's confirmation of social impact, if any.
    pub candidate: Option<GradeView>,
    /// The rule behind the grade (e.g. `tld.bad_nodes_half`).
    pub rule: Option<String>,
    /// Reasons in Chinese, most severe first.
    pub reasons_zh: Vec<String>,
    /// Reasons in English, most severe first.
    pub reasons_en: Vec<String>,
    /// Per-server evidence exactly as grading produced it (an array of
    /// `grading::ServerEvidence`), kept opaque so the ledger never loses a field grading adds.
    pub evidence: serde_json::Value,
    /// Who leads and who is notified (`grading::Authority` as JSON), for the current grade.
    pub authority: Option<serde_json::Value>,
    /// The next escalation of a running clock, if any.
    pub next_escalation: Option<NextEscalation>,
    /// When the condition began (the earliest condition clock onset seen in this incident);
    /// `duration_s` in alerts counts from here, not from detection.
    pub onset: Timestamp,
    /// When the monitor opened the incident.
    pub detected_at: Timestamp,
    /// Set while the object has no grade: the incident resolves at
    /// `clearing_since + clear_after` unless a grade returns first.
    pub clearing_since: Option<Timestamp>,
    /// First acknowledgement (later ones are in the timeline).
    pub acknowledged_at: Option<Timestamp>,
    /// Who acknowledged first.
    pub acknowledged_by: Option<String>,
    /// When a person confirmed the social impact that promotes the candidate grade.
    pub impact_confirmed_at: Option<Timestamp>,
    /// Who confirmed it; the plan holds a named person responsible for that judgement.
    pub impact_confirmed_by: Option<String>,
    /// When it resolved.
    pub resolved_at: Option<Timestamp>,
    /// Root cause, written by a person for the after-action report.
    pub cause: Option<String>,
    /// Why a person judged it a false positive; such incidents are hidden from default lists
    /// and counts but never deleted early.
    pub false_positive: Option<String>,
    /// When it was marked a false positive.
    pub false_positive_at: Option<Timestamp>,
    /// The object is in a declared maintenance window now (re-evaluated every tick while
    /// open): still recorded, but the alerting layer does not page for it.
    pub maintenance: bool,
    /// Opened while the monitor ran as a drill: never a real incident.
    pub drill: bool,
    /// Last change of this record.
    pub updated_at: Timestamp,
    /// The troubleshooting result, written by a person (what was found and done). Absent
    /// (and read as None) in snapshots written before ledger version 4.
    #[serde(default)]
    pub result: Option<String>,
    /// The organisations involved in handling it (registry, operator, upstream…), as a
    /// person listed them.
    #[serde(default)]
    pub organisations: Vec<String>,
    /// When it was reported to the coordinating body.
    #[serde(default)]
    pub reported_at: Option<Timestamp>,
    /// The coordinating body it was reported to.
    #[serde(default)]
    pub reported_to: Option<String>,
    /// When the coordinating body confirmed the report.
    #[serde(default)]
    pub coordinator_confirmed_at: Option<Timestamp>,
}

impl Incident {
    /// Seconds from onset to resolution, or to `now` while open.
    pub fn duration_s(&self, now: UnixMillis) -> u64 {
        let end = self.resolved_at.map_or(now, Timestamp::ms);
        end.saturating_sub(self.onset.0) / 1000
    }

    /// Whether the acknowledgement is overdue: it came more than `within` after detection,
    /// or it has not come and `now` is more than `within` after detection.
    pub fn ack_overdue(&self, now: UnixMillis, within: std::time::Duration) -> bool {
        let limit = self
            .detected_at
            .0
            .saturating_add(u64::try_from(within.as_millis()).unwrap_or(u64::MAX));
        match self.acknowledged_at {
            Some(at) => at.0 > limit,
            None => now > limit,
        }
    }

    /// Seconds from onset to resolution (the time the incident took), once resolved.
    pub fn time_to_resolve_s(&self) -> Option<u64> {
        self.resolved_at
            .map(|r| r.0.saturating_sub(self.onset.0) / 1000)
    }
}

/// What happened to an incident. The first six are the webhook event types of the README, "Alerts"; the
/// rest are kept in the timeline only (so the ledger tells the whole story) and are never
/// delivered as webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A grade appeared on an object with no open incident.
    #[serde(rename = "incident.opened")]
    Opened,
    /// The grade rose.
    #[serde(rename = "incident.escalated")]
    Escalated,
    /// The grade fell (but is still a grade).
    #[serde(rename = "incident.deescalated")]
    Deescalated,
    /// No grade for `clear_after`.
    #[serde(rename = "incident.resolved")]
    Resolved,
    /// A person confirmed the social impact that makes the candidate grade the grade.
    #[serde(rename = "incident.impact_confirmed")]
    ImpactConfirmed,
    /// A person took the incident.
    #[serde(rename = "incident.acknowledged")]
    Acknowledged,
    /// The candidate grade appeared, changed or went away (timeline only).
    #[serde(rename = "incident.candidate_changed")]
    CandidateChanged,
    /// The object lost its grade; the incident resolves after `clear_after` unless it returns
    /// (timeline only).
    #[serde(rename = "incident.clearing")]
    Clearing,
    /// A grade returned within `clear_after`: the same incident continues (timeline only).
    #[serde(rename = "incident.recurred")]
    Recurred,
    /// A maintenance window began for the object while the incident was open (timeline only).
    #[serde(rename = "incident.maintenance_started")]
    MaintenanceStarted,
    /// The maintenance window ended while the incident was still open (timeline only; the
    /// snapshot now has `maintenance: false`).
    #[serde(rename = "incident.maintenance_ended")]
    MaintenanceEnded,
    /// A person marked the incident a false positive (timeline only).
    #[serde(rename = "incident.false_positive")]
    FalsePositive,
    /// A person recorded the cause (timeline only).
    #[serde(rename = "incident.cause_set")]
    CauseSet,
    /// A person recorded the troubleshooting result (timeline only).
    #[serde(rename = "incident.result_set")]
    ResultSet,
    /// A person listed the organisations involved (timeline only).
    #[serde(rename = "incident.organisations_set")]
    OrganisationsSet,
    /// The incident was reported to the coordinating body (timeline only).
    #[serde(rename = "incident.reported")]
    Reported,
    /// The coordinating body confirmed the report (timeline only).
    #[serde(rename = "incident.coordinator_confirmed")]
    CoordinatorConfirmed,
    /// A receiver of a notification confirmed that it received it (timeline only).
    #[serde(rename = "incident.receipt_confirmed")]
    ReceiptConfirmed,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 18] = [
        EventKind::Opened,
        EventKind::Escalated,
        EventKind::Deescalated,
        EventKind::Resolved,
        EventKind::ImpactConfirmed,
        EventKind::Acknowledged,
        EventKind::CandidateChanged,
        EventKind::Clearing,
        EventKind::Recurred,
        EventKind::MaintenanceStarted,
        EventKind::MaintenanceEnded,
        EventKind::FalsePositive,
        EventKind::CauseSet,
        EventKind::ResultSet,
        EventKind::OrganisationsSet,
        EventKind::Reported,
        EventKind::CoordinatorConfirmed,
        EventKind::ReceiptConfirmed,
    ];

    /// The stored and serialized name, e.g. `incident.opened`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "incident.opened",
            EventKind::Escalated => "incident.escalated",
            EventKind::Deescalated => "incident.deescalated",
            EventKind::Resolved => "incident.resolved",
            EventKind::ImpactConfirmed => "incident.impact_confirmed",
            EventKind::Acknowledged => "incident.acknowledged",
            EventKind::CandidateChanged => "incident.candidate_changed",
            EventKind::Clearing => "incident.clearing",
            EventKind::Recurred => "incident.recurred",
            EventKind::MaintenanceStarted => "incident.maintenance_started",
            EventKind::MaintenanceEnded => "incident.maintenance_ended",
            EventKind::FalsePositive => "incident.false_positive",
            EventKind::CauseSet => "incident.cause_set",
            EventKind::ResultSet => "incident.result_set",
            EventKind::OrganisationsSet => "incident.organisations_set",
            EventKind::Reported => "incident.reported",
            EventKind::CoordinatorConfirmed => "incident.coordinator_confirmed",
            EventKind::ReceiptConfirmed => "incident.receipt_confirmed",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The webhook `type` (`X-Dnsgrade-Event`) for kinds that are delivered; None for
    /// timeline-only kinds. The alert outbox delivers exactly the events for which this is
    /// Some.
    pub fn webhook_type(self) -> Option<&'static str> {
        match self {
            EventKind::Opened
            | EventKind::Escalated
            | EventKind::Deescalated
            | EventKind::Resolved
            | EventKind::ImpactConfirmed
            | EventKind::Acknowledged => Some(self.as_str()),
            _ => None,
        }
    }
}

/// One event as written, with the incident as it stood right after it. This is what the alert
/// outbox turns into a webhook: `id` is stable across restarts and is the idempotency key
/// (`X-Dnsgrade-Delivery`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentEvent {
    /// Ledger-wide event id, increasing in commit order; a consumer resumes after the last id
    /// it handled ([`crate::incident::IncidentStore::events_since`]).
    pub id: i64,
    /// The incident.
    pub incident_id: i64,
    /// 1, 2, 3… within the incident: the timeline order.
    pub seq: i64,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When.
    pub at: Timestamp,
    /// The grade the event is about (the new grade, the confirmed level…), if any.
    pub grade: Option<GradeView>,
    /// Details: `from`/`to` grades, `by`, `note`, `reason`…
    pub payload: serde_json::Value,
    /// The incident right after this event.
    pub incident: Incident,
    /// Whether the event happened in a drill (copied from the incident so the outbox need not
    /// look).
    pub drill: bool,
}

/// One line of an incident's timeline (an event without the snapshot, which `get` already
/// returns once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Ledger-wide event id.
    pub id: i64,
    /// Position within the incident.
    pub seq: i64,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When.
    pub at: Timestamp,
    /// The grade the event is about, if any.
    pub grade: Option<GradeView>,
    /// Details.
    pub payload: serde_json::Value,
}

/// A person's confirmation of social impact (docs/matrix.md: candidate I of a tier-1 institution,
/// candidate III of a tier-1 website). It counts only for the incident it was given in: a new
/// outage needs a new judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The incident it was given for.
    pub incident_id: i64,
    /// The object.
    pub object: ObjectKey,
    /// The level confirmed (the candidate grade at that moment).
    pub level: GradeView,
    /// Who confirmed.
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// An incident with everything the detail page and the after-action report need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentDetail {
    /// The incident now.
    pub incident: Incident,
    /// Every event, in order.
    pub timeline: Vec<TimelineEntry>,
    /// Impact confirmations given for it.
    pub confirmations: Vec<Confirmation>,
    /// Every notification of it: one per delivered event kind and sink, with its state.
    #[serde(default)]
    pub notifications: Vec<Notification>,
    /// The receivers' explicit confirmations of receipt.
    #[serde(default)]
    pub receipts: Vec<Receipt>,
    /// The acknowledgement came (or is still missing) more than `[daemon] ack_within` after
    /// detection ([`Incident::ack_overdue`]); false from [`crate::incident::IncidentStore::get`],
    /// which has no clock, set by [`crate::incident::IncidentStore::detail`].
    #[serde(default)]
    pub ack_overdue: bool,
    /// Seconds from onset to resolution, once resolved.
    #[serde(default)]
    pub time_to_resolve_s: Option<u64>,
}

/// One notification of an incident: an event delivered (or being delivered) to one sink, as
/// the alert outbox recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The sink's configured name.
    pub sink: String,
    /// The idempotency key (`X-Dnsgrade-Delivery`).
    pub delivery_id: String,
    /// The event type, e.g. `incident.opened`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the event happened (the notification's content is the event's snapshot).
    pub event_at: Timestamp,
    /// `pending`, `delivered` or `given_up`.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// The HTTP status of the last attempt, if a reply came.
    pub last_status: Option<u16>,
    /// The last error, if the last attempt failed.
    pub last_error: Option<String>,
    /// When the receiver answered 2xx: its confirmation of receipt by transport.
    pub delivered_at: Option<Timestamp>,
    /// When the outbox gave up.
    pub given_up_at: Option<Timestamp>,
}

/// A receiver's explicit confirmation that it received a notification of the incident (by
/// telephone, mail or its own system), recorded by a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The receiving organisation.
    pub organisation: String,
    /// When it confirmed.
    pub at: Timestamp,
    /// Who recorded it (or who confirmed), if given.
    pub by: Option<String>,
    /// When it was recorded in the ledger.
    pub recorded_at: Timestamp,
}

/// A declared maintenance window: incidents of the object are still recorded, but flagged so
/// that nobody is paged for planned work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// Ledger id.
    pub id: i64,
    /// The object, `class/name` (exact match), as declared: a window may name an object the
    /// configuration no longer has.
    pub object: String,
    /// Start, inclusive.
    pub starts: Timestamp,
    /// End, exclusive.
    pub ends: Timestamp,
    /// Why (change ticket, work description).
    pub reason: String,
}

/// Which incidents [`crate::incident::IncidentStore::list`] returns, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateFilter {
    /// Open only (the NOC's working list; the default).
    #[default]
    Open,
    /// Open and resolved.
    All,
    /// Resolved only.
    Resolved,
}

/// A query over the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFilter {
    /// Which states.
    pub state: StateFilter,
    /// Only incidents that were open at some time at or after this instant (open ones, and
    /// resolved ones with `resolved_at >= since`): "what happened since yesterday".
    pub since: Option<UnixMillis>,
    /// Include incidents marked false positive (hidden by default so they stop distracting).
    pub include_false_positive: bool,
    /// Include drill incidents (hidden by default so a drill never mixes with real work).
    pub include_drill: bool,
    /// At most this many, newest first (None: all).
    pub limit: Option<u32>,
    /// Leave `evidence` out (read as JSON null): most of an incident's size, and not needed by
    /// the evaluator's hold after a restart, which reads every open incident on each tick of
    /// its warm-up (2,000 open incidents decoded with evidence took about 22 MiB each time).
    pub without_evidence: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(1_709_164_800_000), "2024-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(4_102_444_800_000), "2100-01-01T00:00:00.000Z");
    }

    #[test]
    fn rfc3339_every_day_boundary_is_consistent() {
        // Day by day over 1970..2101 the formatted date advances by exactly one day.
        let mut prev = rfc3339(0);
        for day in 1..(131 * 366) {
            let cur = rfc3339(day * 86_400_000);
            assert!(cur > prev, "{cur} after {prev}");
            assert!(cur.ends_with("T00:00:00.000Z"));
            prev = cur;
        }
    }

    #[test]
    fn timestamp_json_round_trip() {
        let t = Timestamp(1_700_000_000_000);
        let j = serde_json::to_value(t).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"ms": 1_700_000_000_000u64, "rfc3339": "2023-11-14T22:13:20.000Z"})
        );
        assert_eq!(serde_json::from_value::<Timestamp>(j).unwrap(), t);
        assert_eq!(
            serde_json::from_value::<Timestamp>(serde_json::json!(5)).unwrap(),
            Timestamp(5)
        );
    }

    #[test]
    fn grade_view_json() {
        let j = serde_json::to_value(GradeView(Level::II)).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"level": "II", "zh": "重大", "en": "major", "colour": "orange"})
        );
        assert_eq!(
            serde_json::from_value::<GradeView>(j).unwrap(),
            GradeView(Level::II)
        );
        assert!(serde_json::from_value::<GradeView>(serde_json::json!({"level": "V"})).is_err());
    }

    #[test]
    fn event_kind_names() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::json!(k.as_str())
            );
        }
        let delivered: Vec<_> = EventKind::ALL
            .into_iter()
            .filter_map(EventKind::webhook_type)
            .collect();
        assert_eq!(
            delivered,
            [
                "incident.opened",
                "incident.escalated",
                "incident.deescalated",
                "incident.resolved",
                "incident.impact_confirmed",
                "incident.acknowledged"
            ]
        );
    }
}
