//! The periodic report of the incident-coordination circular (every six months, due 15 June
//! and 15 December; docs/records.md): pure functions from the ledger's incident details to
//! every figure of the report, and (`render`) the report as HTML with inline SVG charts, as
//! CSV and as JSON.
//!
//! Nothing here reads a clock or the ledger: the caller (the API's `GET /api/v1/report`) hands
//! in the incidents, the configured objects, `now` and `ack_within`, so every figure is a
//! function of its input and the unit tests check each against a ledger with known times.
//!
//! ## Time
//!
//! Periods and months are in China Standard Time, a fixed UTC+08:00 (Asia/Shanghai has had
//! no daylight saving time since 1991): `--from 2026-06-16 --to 2026-12-15` is
//! `[2026-06-16T00:00+08:00, 2026-12-16T00:00+08:00)`, and a month runs from its first day's
//! 00:00 +08:00. Times inside the report are Unix ms with RFC 3339 UTC, like the ledger's.
//!
//! ## What is counted
//!
//! - *Incidents of the period*: incidents detected within it, drills and false positives
//!   aside (those are listed on their own).
//! - *Time to detect* = detection − onset; *to acknowledge* = first acknowledgement −
//!   detection; *to resolve* = resolution − onset (the time the incident took). Each over the
//!   incidents that have both times; median (the mean of the two middle values for an even
//!   count), p90 (nearest rank: the value at rank ⌈0.9 n⌉), max.
//! - *Acknowledged within `ack_within`*: incidents whose first acknowledgement came at most
//!   `ack_within` after detection, of all incidents of the period (unacknowledged ones count
//!   as not within).
//! - *Availability* of an object in a month, per grade g: the share of the month's measured
//!   time (the part of the month inside the period and before `now`) during which the object
//!   had no open incident whose highest grade reached g or worse. An incident is open from its
//!   onset to its resolution (which includes `clear_after`) or to `now`; drills and false
//!   positives do not count, incidents in maintenance do. Column IV is "no incident of any
//!   grade".

mod render;

pub use render::{csv, html};

use crate::clock::UnixMillis;
use crate::config::{ObjectClass, ObjectKey};
use crate::incident::{IncidentDetail, Notification, Receipt, Timestamp};
use crate::level::Level;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The zone of periods and months: China Standard Time.
pub const TIME_ZONE: &str = "+08:00 (Asia/Shanghai)";

fn cst() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::fixed(jiff::tz::offset(8))
}

/// A report period: whole days in China Standard Time, both ends included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, `YYYY-MM-DD`.
    pub to: String,
    /// 00:00 +08:00 of the first day.
    pub start: Timestamp,
    /// 00:00 +08:00 of the day after the last (exclusive).
    pub end: Timestamp,
}

impl Period {
    /// The period of `from` to `to` (`YYYY-MM-DD`, both included); at most 400 days.
    pub fn parse(from: &str, to: &str) -> Result<Period, String> {
        let day = |what: &str, s: &str| {
            s.trim()
                .parse::<jiff::civil::Date>()
                .map_err(|e| format!("{what} \"{s}\" is not a date like 2026-06-16: {e}"))
        };
        let (first, last) = (day("from", from)?, day("to", to)?);
        if last < first {
            return Err(format!("to {last} is before from {first}"));
        }
        let next = last.tomorrow().map_err(|e| e.to_string())?;
        if (next - first).get_days() > 400 {
            return Err("a report covers at most 400 days".into());
        }
        Ok(Period {
            from: first.to_string(),
            to: last.to_string(),
            start: Timestamp(start_of(first)?),
            end: Timestamp(start_of(next)?),
        })
    }

    /// The months the period touches, each clipped to the period.
    pub fn months(&self) -> Vec<Month> {
        let mut out = Vec::new();
        let Ok(first) = self.from.parse::<jiff::civil::Date>() else {
            return out;
        };
        let mut m = first.first_of_month();
        while let Ok(start) = start_of(m) {
            if start >= self.end.0 {
                break;
            }
            let Ok(next) = m.checked_add(jiff::Span::new().months(1)) else {
                break;
            };
            let Ok(end) = start_of(next) else { break };
            out.push(Month {
                month: format!("{:04}-{:02}", m.year(), m.month()),
                start: Timestamp(start.max(self.start.0)),
                end: Timestamp(end.min(self.end.0)),
            });
            m = next;
        }
        out
    }
}

/// 00:00 +08:00 of `d`, in Unix ms.
fn start_of(d: jiff::civil::Date) -> Result<UnixMillis, String> {
    let z = d.to_zoned(cst()).map_err(|e| format!("{d}: {e}"))?;
    u64::try_from(z.timestamp().as_millisecond()).map_err(|_| format!("{d} is before 1970"))
}

/// One month of a period (clipped to it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Start (inclusive).
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
}

/// What the report is computed from.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The period.
    pub period: Period,
    /// When the report is made: open incidents count up to here, later time is not measured.
    pub now: UnixMillis,
    /// `[daemon] ack_within`.
    pub ack_within: Duration,
    /// The configured objects (each gets an availability row, with or without incidents).
    pub objects: Vec<ObjectKey>,
    /// Every incident that overlaps the period, drills and false positives included.
    pub incidents: &'a [IncidentDetail],
}

/// Median, p90 and max of a set of durations, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How many values.
    pub count: usize,
    /// Median (mean of the two middle values for an even count).
    pub median_s: Option<f64>,
    /// 90th percentile, nearest rank.
    pub p90_s: Option<u64>,
    /// Maximum.
    pub max_s: Option<u64>,
}

impl Summary {
    /// The summary of `values` (seconds, any order).
    pub fn of(mut values: Vec<u64>) -> Summary {
        values.sort_unstable();
        let n = values.len();
        if n == 0 {
            return Summary::default();
        }
        let median = if n % 2 == 1 {
            values[n / 2] as f64
        } else {
            (values[n / 2 - 1] as f64 + values[n / 2] as f64) / 2.0
        };
        let rank = (n * 9).div_ceil(10).max(1);
        Summary {
            count: n,
            median_s: Some(median),
            p90_s: Some(values[rank - 1]),
            max_s: values.last().copied(),
        }
    }
}

/// One incident of the period, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportIncident {
    /// Ledger id.
    pub id: i64,
    /// `class/name`.
    pub object: String,
    /// The object class (`tld`, `institution`, `website`, `recursive`).
    pub class: String,
    /// The highest grade reached.
    pub grade: Level,
    /// When the condition began.
    pub onset: Timestamp,
    /// When the monitor detected it.
    pub detected_at: Timestamp,
    /// First acknowledgement.
    pub acknowledged_at: Option<Timestamp>,
    /// Who acknowledged first.
    pub acknowledged_by: Option<String>,
    /// Acknowledged within `ack_within` of detection.
    pub acknowledged_in_time: bool,
    /// Resolution.
    pub resolved_at: Option<Timestamp>,
    /// Detection − onset, s.
    pub time_to_detect_s: u64,
    /// Acknowledgement − detection, s.
    pub time_to_acknowledge_s: Option<u64>,
    /// Resolution − onset, s.
    pub time_to_resolve_s: Option<u64>,
    /// The cause.
    pub cause: Option<String>,
    /// The troubleshooting result.
    pub result: Option<String>,
    /// The organisations involved.
    pub organisations: Vec<String>,
    /// Reported to the coordinating body at.
    pub reported_at: Option<Timestamp>,
    /// The coordinating body.
    pub reported_to: Option<String>,
    /// The coordinating body confirmed at.
    pub coordinator_confirmed_at: Option<Timestamp>,
    /// During a maintenance window.
    pub maintenance: bool,
    /// Every notification sent (sink, event, delivery state and time).
    pub notifications: Vec<Notification>,
    /// The receivers' confirmations of receipt.
    pub receipts: Vec<Receipt>,
}

/// A drill or a false positive of the period, briefly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    /// Ledger id.
    pub id: i64,
    /// `class/name`.
    pub object: String,
    /// The highest grade reached.
    pub grade: Level,
    /// When it was detected.
    pub detected_at: Timestamp,
    /// When it resolved.
    pub resolved_at: Option<Timestamp>,
    /// The false-positive reason (None for drills).
    pub reason: Option<String>,
}

/// Incidents of one class per grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCount {
    /// `tld`, `institution`, `website`, `recursive`.
    pub class: String,
    /// The class's name in the plan.
    pub class_zh: String,
    /// Counts of I, II, III, IV, in that order.
    pub by_grade: [u64; 4],
    /// All grades.
    pub total: u64,
}

/// Incidents detected in one month per grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthCount {
    /// `YYYY-MM`.
    pub month: String,
    /// Counts of I, II, III, IV, in that order.
    pub by_grade: [u64; 4],
}

/// Acknowledgements within the limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckShare {
    /// The limit, s.
    pub within_s: u64,
    /// Incidents acknowledged within it.
    pub count: u64,
    /// Incidents of the period.
    pub total: u64,
    /// `count / total` (None without incidents).
    pub share: Option<f64>,
}

/// One object's availability in one month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    /// `class/name`.
    pub object: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Time measured: the month inside the period and before `now`, s.
    pub measured_s: u64,
    /// Share of the measured time without an open incident of grade I, II or III, III or
    /// worse, any grade — in the order I, II, III, IV (None when nothing was measured).
    pub without: [Option<f64>; 4],
}

/// The periodic report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The period.
    pub period: Period,
    /// The zone of the period and months.
    pub time_zone: String,
    /// When it was made.
    pub generated_at: Timestamp,
    /// Incidents per class and grade.
    pub counts: Vec<ClassCount>,
    /// Incidents per month and grade (detection month).
    pub per_month: Vec<MonthCount>,
    /// The incidents, oldest detection first.
    pub incidents: Vec<ReportIncident>,
    /// Detection − onset.
    pub time_to_detect: Summary,
    /// Acknowledgement − detection.
    pub time_to_acknowledge: Summary,
    /// Resolution − onset.
    pub time_to_resolve: Summary,
    /// Acknowledged within the limit.
    pub acknowledged_within: AckShare,
    /// Availability per object and month.
    pub availability: Vec<Availability>,
    /// Drills held.
    pub drills: Vec<Listed>,
    /// False positives.
    pub false_positives: Vec<Listed>,
}

/// The grade column of a level: I → 0 … IV → 3.
fn column(l: Level) -> usize {
    match l {
        Level::I => 0,
        Level::II => 1,
        Level::III => 2,
        Level::IV => 3,
    }
}

/// The report of `input`.
pub fn build(input: &Input<'_>) -> Report {
    let p = &input.period;
    let in_period = |d: &&IncidentDetail| {
        let t = d.incident.detected_at.0;
        t >= p.start.0 && t < p.end.0
    };
    let mut incidents: Vec<ReportIncident> = input
        .incidents
        .iter()
        .filter(in_period)
        .filter(|d| !d.incident.drill && d.incident.false_positive.is_none())
        .map(|d| listed_incident(d, input.ack_within))
        .collect();
    incidents.sort_by_key(|i| (i.detected_at, i.id));
    let brief = |d: &IncidentDetail| Listed {
        id: d.incident.id,
        object: d.incident.object.to_string(),
        grade: d.incident.max_grade.0,
        detected_at: d.incident.detected_at,
        resolved_at: d.incident.resolved_at,
        reason: d.incident.false_positive.clone(),
    };
    let drills = input.incidents.iter().filter(in_period);
    let drills = drills.filter(|d| d.incident.drill).map(brief).collect();
    let fps = input.incidents.iter().filter(in_period);
    let fps = fps.filter(|d| !d.incident.drill && d.incident.false_positive.is_some());
    let months = p.months();
    Report {
        period: p.clone(),
        time_zone: TIME_ZONE.into(),
        generated_at: Timestamp(input.now),
        counts: class_counts(&incidents),
        per_month: month_counts(&incidents, &months),
        time_to_detect: Summary::of(incidents.iter().map(|i| i.time_to_detect_s).collect()),
        time_to_acknowledge: Summary::of(
            incidents
                .iter()
                .filter_map(|i| i.time_to_acknowledge_s)
                .collect(),
        ),
        time_to_resolve: Summary::of(
            incidents
                .iter()
                .filter_map(|i| i.time_to_resolve_s)
                .collect(),
        ),
        acknowledged_within: ack_share(&incidents, input.ack_within),
        availability: availability(input, &months),
        drills,
        false_positives: fps.map(brief).collect(),
        incidents,
    }
}

fn listed_incident(d: &IncidentDetail, ack_within: Duration) -> ReportIncident {
    let i = &d.incident;
    let secs = |from: Timestamp, to: Timestamp| to.0.saturating_sub(from.0) / 1000;
    ReportIncident {
        id: i.id,
        object: i.object.to_string(),
        class: i.object.class().as_str().into(),
        grade: i.max_grade.0,
        onset: i.onset,
        detected_at: i.detected_at,
        acknowledged_at: i.acknowledged_at,
        acknowledged_by: i.acknowledged_by.clone(),
        acknowledged_in_time: i.acknowledged_at.is_some() && !i.ack_overdue(0, ack_within),
        resolved_at: i.resolved_at,
        time_to_detect_s: secs(i.onset, i.detected_at),
        time_to_acknowledge_s: i.acknowledged_at.map(|a| secs(i.detected_at, a)),
        time_to_resolve_s: i.resolved_at.map(|r| secs(i.onset, r)),
        cause: i.cause.clone(),
        result: i.result.clone(),
        organisations: i.organisations.clone(),
        reported_at: i.reported_at,
        reported_to: i.reported_to.clone(),
        coordinator_confirmed_at: i.coordinator_confirmed_at,
        maintenance: i.maintenance,
        notifications: d.notifications.clone(),
        receipts: d.receipts.clone(),
    }
}

/// The plan's four classes (control targets never have incidents of the matrix).
const CLASSES: [ObjectClass; 4] = [
    ObjectClass::Tld,
    ObjectClass::Institution,
    ObjectClass::Website,
    ObjectClass::Recursive,
];

fn class_counts(incidents: &[ReportIncident]) -> Vec<ClassCount> {
    CLASSES
        .iter()
        .map(|c| {
            let mut by_grade = [0u64; 4];
            for i in incidents.iter().filter(|i| i.class == c.as_str()) {
                by_grade[column(i.grade)] += 1;
            }
            ClassCount {
                class: c.as_str().into(),
                class_zh: c.zh().into(),
                by_grade,
                total: by_grade.iter().sum(),
            }
        })
        .collect()
}

fn month_counts(incidents: &[ReportIncident], months: &[Month]) -> Vec<MonthCount> {
    months
        .iter()
        .map(|m| {
            let mut by_grade = [0u64; 4];
            let inside = |i: &&ReportIncident| i.detected_at >= m.start && i.detected_at < m.end;
            for i in incidents.iter().filter(inside) {
                by_grade[column(i.grade)] += 1;
            }
            MonthCount {
                month: m.month.clone(),
                by_grade,
            }
        })
        .collect()
}

fn ack_share(incidents: &[ReportIncident], within: Duration) -> AckShare {
    let total = incidents.len() as u64;
    let count = incidents.iter().filter(|i| i.acknowledged_in_time).count() as u64;
    AckShare {
        within_s: within.as_secs(),
        count,
        total,
        share: (total > 0).then(|| count as f64 / total as f64),
    }
}

fn availability(input: &Input<'_>, months: &[Month]) -> Vec<Availability> {
    let mut objects: Vec<String> = input.objects.iter().map(|o| o.to_string()).collect();
    let counted = input
        .incidents
        .iter()
        .filter(|d| !d.incident.drill && d.incident.false_positive.is_none());
    for d in counted.clone() {
        let o = d.incident.object.to_string();
        if !objects.contains(&o) {
            objects.push(o);
        }
    }
    objects.sort();
    let mut out = Vec::new();
    for object in &objects {
        let spans: Vec<(UnixMillis, UnixMillis, Level)> = counted
            .clone()
            .filter(|d| d.incident.object.as_str() == object)
            .map(|d| {
                let end = d.incident.resolved_at.map_or(input.now, |r| r.0);
                (d.incident.onset.0, end, d.incident.max_grade.0)
            })
            .collect();
        for m in months {
            out.push(month_availability(object, m, input.now, &spans));
        }
    }
    out
}

fn month_availability(
    object: &str,
    m: &Month,
    now: UnixMillis,
    spans: &[(UnixMillis, UnixMillis, Level)],
) -> Availability {
    let (a, b) = (m.start.0, m.end.0.min(now));
    let measured = b.saturating_sub(a);
    let mut without = [None; 4];
    if measured > 0 {
        for g in Level::ALL {
            let mut cut: Vec<(UnixMillis, UnixMillis)> = spans
                .iter()
                .filter(|s| s.2 >= g)
                .map(|s| (s.0.max(a), s.1.min(b)))
                .filter(|s| s.1 > s.0)
                .collect();
            let down = union_length(&mut cut);
            without[column(g)] = Some(1.0 - down as f64 / measured as f64);
        }
    }
    Availability {
        object: object.to_string(),
        month: m.month.clone(),
        measured_s: measured / 1000,
        without,
    }
}

/// The total length of the union of `[start, end)` intervals.
fn union_length(spans: &mut [(UnixMillis, UnixMillis)]) -> UnixMillis {
    spans.sort_unstable();
    let mut total = 0;
    let mut cur: Option<(UnixMillis, UnixMillis)> = None;
    for &(s, e) in spans.iter() {
        cur = match cur {
            Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((s, e))
            }
            None => Some((s, e)),
        };
    }
    total + cur.map_or(0, |(s, e)| e - s)
}

#[cfg(test)]
mod tests;
