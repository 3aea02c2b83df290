//! Every figure of the report against incidents with known times (written in +08:00, the
//! report's zone), including month boundaries that differ between UTC and +08:00.

use super::*;
use crate::incident::{GradeView, Incident, IncidentState};

fn t(s: &str) -> UnixMillis {
    crate::clock::parse_rfc3339(s).expect("time")
}

const S: u64 = 1_000;
const H: u64 = 3_600 * S;

/// An incident: onset, then detection, acknowledgement and resolution as seconds after it
/// (acknowledgement after detection).
fn inc(
    id: i64,
    object: &str,
    grade: Level,
    onset: &str,
    detect_s: u64,
    ack_s: Option<u64>,
    resolve_s: Option<u64>,
) -> IncidentDetail {
    let onset = t(onset);
    let detected = onset + detect_s * S;
    let incident = Incident {
        id,
        object: object.parse().expect("key"),
        state: if resolve_s.is_some() {
            IncidentState::Resolved
        } else {
            IncidentState::Open
        },
        grade: GradeView(grade),
        max_grade: GradeView(grade),
        candidate: None,
        rule: None,
        reasons_zh: vec![],
        reasons_en: vec![],
        evidence: serde_json::json!([]),
        authority: None,
        next_escalation: None,
        onset: Timestamp(onset),
        detected_at: Timestamp(detected),
        clearing_since: None,
        acknowledged_at: ack_s.map(|a| Timestamp(detected + a * S)),
        acknowledged_by: ack_s.map(|_| "duty".to_string()),
        impact_confirmed_at: None,
        impact_confirmed_by: None,
        resolved_at: resolve_s.map(|r| Timestamp(onset + r * S)),
        cause: Some("fibre cut, exchange \"B\"".into()),
        false_positive: None,
        false_positive_at: None,
        maintenance: false,
        drill: false,
        updated_at: Timestamp(onset),
        result: Some("rerouted".into()),
        organisations: vec!["CNNIC".into(), "中国电信".into()],
        reported_at: None,
        reported_to: None,
        coordinator_confirmed_at: None,
    };
    IncidentDetail {
        incident,
        timeline: vec![],
        confirmations: vec![],
        notifications: vec![],
        receipts: vec![],
        ack_overdue: false,
        time_to_resolve_s: None,
    }
}

/// The ledger of the tests: four incidents of the period, a drill, a false positive, one
/// before the period and one that began before it and ended inside.
fn ledger() -> Vec<IncidentDetail> {
    use Level::*;
    let mut drill = inc(
        5,
        "tld/cn",
        II,
        "2026-08-05T10:00:00+08:00",
        10,
        None,
        Some(600),
    );
    drill.incident.drill = true;
    let mut fp = inc(
        6,
        "recursive/gd",
        IV,
        "2026-09-10T10:00:00+08:00",
        10,
        Some(60),
        Some(3_600),
    );
    fp.incident.false_positive = Some("probe host rebooted".into());
    let mut first = inc(
        1,
        "tld/cn",
        II,
        "2026-06-20T10:00:00+08:00",
        60,
        Some(1_740),
        Some(7_200),
    );
    first.notifications.push(Notification {
        sink: "noc".into(),
        delivery_id: "abc-ie-1".into(),
        kind: "incident.opened".into(),
        event_at: first.incident.detected_at,
        state: "delivered".into(),
        attempts: 1,
        last_status: Some(200),
        last_error: None,
        delivered_at: Some(Timestamp(first.incident.detected_at.0 + 2 * S)),
        given_up_at: None,
    });
    first.receipts.push(Receipt {
        organisation: "广东省通信管理局".into(),
        at: Timestamp(first.incident.detected_at.0 + 300 * S),
        by: None,
        recorded_at: Timestamp(first.incident.detected_at.0 + 400 * S),
    });
    first.incident.reported_to = Some("CNCERT".into());
    first.incident.reported_at = Some(Timestamp(first.incident.detected_at.0 + 600 * S));
    vec![
        first,
        // Detected 23:52 on 30 June in +08:00; resolved 00:50 on 1 July (+08:00), still 30
        // June in UTC. Acknowledged 25 h after detection: late.
        inc(
            2,
            "recursive/gd",
            IV,
            "2026-06-30T23:50:00+08:00",
            120,
            Some(90_000 - 120),
            Some(3_600),
        ),
        // 1 July 00:10 in +08:00 is 30 June 16:10 in UTC: a July incident.
        inc(
            3,
            "institution/x",
            I,
            "2026-07-01T00:10:00+08:00",
            30,
            Some(600),
            Some(14_400),
        ),
        // Still open at the end of the period, never acknowledged.
        inc(
            4,
            "website/w",
            III,
            "2026-11-30T20:00:00+08:00",
            90,
            None,
            None,
        ),
        drill,
        fp,
        inc(
            7,
            "tld/cn",
            II,
            "2026-06-10T10:00:00+08:00",
            60,
            Some(60),
            Some(600),
        ),
        // Detected before the period, open for its first hour.
        inc(
            8,
            "tld/cn",
            III,
            "2026-06-15T23:00:00+08:00",
            60,
            Some(60),
            Some(2 * 3_600),
        ),
    ]
}

fn report_at(now: &str, details: &[IncidentDetail]) -> Report {
    build(&Input {
        period: Period::parse("2026-06-16", "2026-12-15").expect("period"),
        now: t(now),
        ack_within: Duration::from_secs(24 * 3_600),
        objects: vec![
            "tld/cn".parse().expect("k"),
            "tld/xn--fiqs8s".parse().expect("k"),
        ],
        incidents: details,
    })
}

fn report() -> Report {
    report_at("2026-12-16T00:00:00+08:00", &ledger())
}

#[test]
fn the_period_is_whole_days_in_china_standard_time() {
    let p = Period::parse("2026-06-16", "2026-12-15").expect("period");
    assert_eq!(p.start.rfc3339(), "2026-06-15T16:00:00.000Z");
    assert_eq!(p.end.rfc3339(), "2026-12-15T16:00:00.000Z");
    let months: Vec<(String, String, String)> = p
        .months()
        .into_iter()
        .map(|m| (m.month, m.start.rfc3339(), m.end.rfc3339()))
        .collect();
    assert_eq!(months.len(), 7);
    assert_eq!(
        months[0],
        (
            "2026-06".into(),
            "2026-06-15T16:00:00.000Z".into(),
            "2026-06-30T16:00:00.000Z".into()
        )
    );
    assert_eq!(
        months[1].1, "2026-06-30T16:00:00.000Z",
        "July begins at 00:00 +08:00"
    );
    assert_eq!(
        months[6],
        (
            "2026-12".into(),
            "2026-11-30T16:00:00.000Z".into(),
            "2026-12-15T16:00:00.000Z".into()
        )
    );
    assert!(Period::parse("2026-12-15", "2026-06-16").is_err());
    assert!(Period::parse("2026-13-01", "2026-12-15")
        .unwrap_err()
        .contains("from"));
    assert!(
        Period::parse("2026-01-01", "2027-12-31").is_err(),
        "over 400 days"
    );
}

#[test]
fn incidents_of_the_period_per_class_grade_and_month() {
    let r = report();
    let ids: Vec<i64> = r.incidents.iter().map(|i| i.id).collect();
    assert_eq!(
        ids,
        [1, 2, 3, 4],
        "detected in the period; no drill, false positive or earlier one"
    );
    let counts: Vec<(&str, [u64; 4], u64)> = r
        .counts
        .iter()
        .map(|c| (c.class.as_str(), c.by_grade, c.total))
        .collect();
    assert_eq!(
        counts,
        [
            ("tld", [0, 1, 0, 0], 1),
            ("institution", [1, 0, 0, 0], 1),
            ("website", [0, 0, 1, 0], 1),
            ("recursive", [0, 0, 0, 1], 1),
        ]
    );
    let months: Vec<(&str, [u64; 4])> = r
        .per_month
        .iter()
        .map(|m| (m.month.as_str(), m.by_grade))
        .collect();
    assert_eq!(
        months,
        [
            ("2026-06", [0, 1, 0, 1]),
            ("2026-07", [1, 0, 0, 0]),
            ("2026-08", [0; 4]),
            ("2026-09", [0; 4]),
            ("2026-10", [0; 4]),
            ("2026-11", [0, 0, 1, 0]),
            ("2026-12", [0; 4]),
        ]
    );
    let drills: Vec<i64> = r.drills.iter().map(|d| d.id).collect();
    assert_eq!(drills, [5]);
    assert_eq!(r.false_positives.len(), 1);
    assert_eq!(
        r.false_positives[0].reason.as_deref(),
        Some("probe host rebooted")
    );
    let first = &r.incidents[0];
    assert_eq!(
        first.notifications[0].delivered_at.map(|t| t.0),
        Some(t("2026-06-20T10:01:02+08:00"))
    );
    assert_eq!(first.receipts[0].organisation, "广东省通信管理局");
    assert_eq!(first.reported_to.as_deref(), Some("CNCERT"));
}

#[test]
fn times_to_detect_acknowledge_and_resolve() {
    let r = report();
    // Detection 60, 120, 30, 90 s: even count, median = (60 + 90) / 2.
    assert_eq!(
        r.time_to_detect,
        Summary {
            count: 4,
            median_s: Some(75.0),
            p90_s: Some(120),
            max_s: Some(120)
        }
    );
    // Acknowledgement 1740 (incident 1), 89880, 600 s; incident 4 has none.
    assert_eq!(
        r.time_to_acknowledge,
        Summary {
            count: 3,
            median_s: Some(1_740.0),
            p90_s: Some(89_880),
            max_s: Some(89_880)
        }
    );
    // Resolution 7200, 3600, 14400 s; incident 4 is open.
    assert_eq!(
        r.time_to_resolve,
        Summary {
            count: 3,
            median_s: Some(7_200.0),
            p90_s: Some(14_400),
            max_s: Some(14_400)
        }
    );
    assert_eq!(r.incidents[1].time_to_acknowledge_s, Some(89_880));
    assert_eq!(r.incidents[3].time_to_resolve_s, None);
}

#[test]
fn summary_percentiles_by_nearest_rank() {
    assert_eq!(Summary::of(vec![]), Summary::default());
    assert_eq!(
        Summary::of(vec![5]),
        Summary {
            count: 1,
            median_s: Some(5.0),
            p90_s: Some(5),
            max_s: Some(5)
        }
    );
    // Ten values 1..=10: p90 is the 9th, the median the mean of the 5th and 6th.
    let s = Summary::of((1..=10).rev().collect());
    assert_eq!(
        (s.median_s, s.p90_s, s.max_s),
        (Some(5.5), Some(9), Some(10))
    );
    // Eleven values: p90 is the 10th (rank ⌈9.9⌉).
    let s = Summary::of((1..=11).collect());
    assert_eq!((s.median_s, s.p90_s), (Some(6.0), Some(10)));
}

#[test]
fn acknowledgements_within_24_hours() {
    let r = report();
    let a = &r.acknowledged_within;
    assert_eq!((a.within_s, a.count, a.total), (86_400, 2, 4));
    assert_eq!(a.share, Some(0.5));
    let flags: Vec<bool> = r.incidents.iter().map(|i| i.acknowledged_in_time).collect();
    assert_eq!(flags, [true, false, true, false]);
    // Exactly at the limit is in time.
    let mut edge = ledger();
    edge[1].incident.acknowledged_at = Some(Timestamp(edge[1].incident.detected_at.0 + 86_400 * S));
    let r = report_at("2026-12-16T00:00:00+08:00", &edge);
    assert_eq!(r.acknowledged_within.count, 3);
    let empty = report_at("2026-12-16T00:00:00+08:00", &[]);
    assert_eq!(empty.acknowledged_within.share, None);
}

fn avail<'a>(r: &'a Report, object: &str, month: &str) -> &'a Availability {
    r.availability
        .iter()
        .find(|a| a.object == object && a.month == month)
        .unwrap_or_else(|| panic!("no row {object} {month}"))
}

#[test]
fn availability_per_object_and_month() {
    let r = report();
    let june = 15 * 24 * H; // 16 to 30 June
                            // tld/cn in June: incident 8's first hour (III) and incident 1's two hours (II).
    let a = avail(&r, "tld/cn", "2026-06");
    assert_eq!(a.measured_s * S, june);
    let share = |down: u64, of: u64| Some(1.0 - down as f64 / of as f64);
    assert_eq!(
        a.without,
        [
            Some(1.0),
            share(2 * H, june),
            share(3 * H, june),
            share(3 * H, june)
        ]
    );
    // The drill (August) does not count.
    assert_eq!(avail(&r, "tld/cn", "2026-08").without, [Some(1.0); 4]);
    // recursive/gd: 10 min in June and 50 min in July across the +08:00 month boundary.
    let july = 31 * 24 * H;
    assert_eq!(
        avail(&r, "recursive/gd", "2026-06").without[3],
        share(600 * S, june)
    );
    assert_eq!(
        avail(&r, "recursive/gd", "2026-07").without[3],
        share(3_000 * S, july)
    );
    // The false positive (September) does not count.
    assert_eq!(avail(&r, "recursive/gd", "2026-09").without[3], Some(1.0));
    // website/w: open from 20:00 on 30 November to the end of the period.
    let nov = 30 * 24 * H;
    let w = avail(&r, "website/w", "2026-11");
    assert_eq!(
        w.without,
        [Some(1.0), Some(1.0), share(4 * H, nov), share(4 * H, nov)]
    );
    let w = avail(&r, "website/w", "2026-12");
    assert_eq!(w.without, [Some(1.0), Some(1.0), Some(0.0), Some(0.0)]);
    // A configured object without incidents has a row per month, all available.
    let rows = r
        .availability
        .iter()
        .filter(|a| a.object == "tld/xn--fiqs8s")
        .count();
    assert_eq!(rows, 7);
    assert_eq!(
        avail(&r, "tld/xn--fiqs8s", "2026-10").without,
        [Some(1.0); 4]
    );
    // Every object with an incident in the ledger is listed, sorted.
    let mut objects: Vec<&str> = r.availability.iter().map(|a| a.object.as_str()).collect();
    objects.dedup();
    assert_eq!(
        objects,
        [
            "institution/x",
            "recursive/gd",
            "tld/cn",
            "tld/xn--fiqs8s",
            "website/w"
        ]
    );
}

#[test]
fn time_after_now_is_not_measured() {
    let r = report_at("2026-12-10T00:00:00+08:00", &ledger());
    let dec = avail(&r, "website/w", "2026-12");
    assert_eq!(dec.measured_s, 9 * 24 * 3_600);
    assert_eq!(dec.without[3], Some(0.0));
    let r = report_at("2026-11-30T12:00:00+08:00", &ledger());
    let dec = avail(&r, "tld/cn", "2026-12");
    assert_eq!((dec.measured_s, dec.without), (0, [None; 4]));
}

#[test]
fn csv_has_a_header_and_one_row_per_incident() {
    let r = report();
    let text = csv(&r);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], render::CSV_HEADER);
    assert_eq!(lines.len(), 1 + 4);
    assert!(
        lines[1].starts_with(
            "1,tld/cn,tld,II,重大,2026-06-20T10:00:00+08:00,2026-06-20T10:01:00+08:00,"
        ),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(",\"fibre cut, exchange \"\"B\"\"\",rerouted,CNNIC; 中国电信,"),
        "quoted: {}",
        lines[1]
    );
    assert!(lines[1].contains("noc incident.opened 2026-06-20T10:01:02+08:00 (HTTP 200); receipt 广东省通信管理局 2026-06-20T10:06:00+08:00"), "{}", lines[1]);
    assert!(lines[1].contains(",60,1740,7200,"), "{}", lines[1]);
    assert!(
        lines[2].contains(",false,"),
        "incident 2 acknowledged late: {}",
        lines[2]
    );
    assert!(
        lines[4].contains(",90,,,"),
        "incident 4: no acknowledgement, not resolved: {}",
        lines[4]
    );
}

#[test]
fn html_carries_the_figures_and_both_charts() {
    let r = report();
    let h = html(&r);
    for (figure, value) in [
        ("incidents", "4"),
        ("ack-within-count", "2"),
        ("ack-within-total", "4"),
        ("ack-within-share", "50.0000%"),
        ("drills", "1"),
        ("false-positives", "1"),
        ("count-tld-II", "1"),
        ("count-institution-I", "1"),
        ("count-recursive-total", "1"),
        ("detect-count", "4"),
    ] {
        let cell = format!("data-figure=\"{figure}\">{value}<");
        assert!(h.contains(&cell), "{cell} in the HTML");
    }
    assert!(h.contains("data-figure=\"detect-median\" data-value=\"75\""));
    assert!(h.contains("data-figure=\"resolve-p90\" data-value=\"14400\""));
    assert!(h.contains("data-figure=\"ack-max\" data-value=\"89880\""));
    assert!(h.contains("<svg id=\"chart-month\""));
    assert!(h.contains("data-month=\"2026-06\" data-grade=\"II\" data-count=\"1\""));
    assert!(h.contains("data-month=\"2026-07\" data-grade=\"I\" data-count=\"1\""));
    assert!(h.contains("<svg id=\"chart-resolve\""));
    assert!(h.contains("data-incident=\"3\" data-seconds=\"14400\""));
    assert!(
        h.contains("重大 II</span> <span class=\"en\">major</span>"),
        "grade names in Chinese with English"
    );
    assert!(h.contains("fibre cut, exchange &quot;B&quot;"), "escaped");
    assert!(h.contains("data-figure=\"avail-website/w-2026-12-IV\" data-value=\"0\""));
    assert!(h.contains("@page{size:A4 landscape"));
}

#[test]
fn durations_read_as_hours_minutes_seconds() {
    use render::dur;
    assert_eq!(dur(45), "45s");
    assert_eq!(dur(120), "2m");
    assert_eq!(dur(90), "1m30s");
    assert_eq!(dur(86_400), "24h");
    assert_eq!(dur(5_400), "1h30m");
    assert_eq!(dur(3_725), "1h02m05s");
}
