//! `dnsgrade report` end to end: a ledger with known times is written first, a daemon on
//! loopback (simulated clock, at the end of the period) serves it, and the command writes the
//! report as JSON, CSV and HTML; the figures are checked against the ledger, and a real
//! browser (Debian's Chromium, headless, started by this test and waited for) prints the HTML
//! to PDF and takes a screenshot.

mod support;

use dnsgrade::grading::{Assessment, ConditionClocks, Level};
use dnsgrade::incident::IncidentStore;
use std::process::Command;
use std::time::Duration;
use support::{DaemonProc, SimClock};

const S: u64 = 1_000;
const CLEAR: Duration = Duration::from_secs(300);

fn t(s: &str) -> u64 {
    dnsgrade::clock::parse_rfc3339(s).expect("time")
}

fn assessment(object: &str, grade: Option<Level>, onset: u64) -> Assessment {
    Assessment {
        object: object.parse().expect("key"),
        grade,
        candidate: None,
        rule: grade.map(|_| "test.rule".into()),
        reasons_zh: vec!["测试原因".into()],
        reasons_en: vec!["test reason".into()],
        evidence: Vec::new(),
        authority: None,
        onset: grade.map(|_| onset),
        next_escalation: None,
    }
}

/// One incident: opened `detect_s` after `onset`, resolved `resolve_s` after it (the grade
/// goes `clear_after` before). Returns its id.
fn incident(
    st: &IncidentStore,
    object: &str,
    grade: Level,
    onset: u64,
    detect_s: u64,
    resolve_s: u64,
) -> i64 {
    let clocks = ConditionClocks::new();
    let opened = st
        .apply(
            &[assessment(object, Some(grade), onset)],
            &clocks,
            onset + detect_s * S,
            CLEAR,
        )
        .expect("open");
    let id = opened[0].incident_id;
    let gone = onset + resolve_s * S - 300 * S;
    st.apply(&[assessment(object, None, 0)], &clocks, gone, CLEAR)
        .expect("clearing");
    st.apply(
        &[assessment(object, None, 0)],
        &clocks,
        onset + resolve_s * S,
        CLEAR,
    )
    .expect("resolve");
    id
}

/// The ledger: a TLD incident (II) with its whole record, a resolver incident (IV)
/// acknowledged late, and a false positive.
fn write_ledger(path: &std::path::Path) -> (u64, u64) {
    let st = IncidentStore::open(path).expect("ledger");
    let a = t("2026-06-20T10:00:00+08:00");
    let id = incident(&st, "tld/cn", Level::II, a, 60, 7_200);
    let det = a + 60 * S;
    st.acknowledge(id, "duty officer", None, det + 1_800 * S)
        .expect("ack");
    st.set_cause(id, "fibre cut, exchange B", det + 3 * 3_600 * S)
        .expect("cause");
    st.set_result(id, "traffic rerouted", det + 3 * 3_600 * S)
        .expect("result");
    st.set_organisations(
        id,
        &["CNNIC".into(), "中国电信".into()],
        det + 3 * 3_600 * S,
    )
    .expect("organisations");
    st.report_to_coordinator(id, "CNCERT", "Li", det + 600 * S, det + 3 * 3_600 * S)
        .expect("reported");
    st.coordinator_confirmed(id, "CNCERT duty desk", det + 900 * S, det + 3 * 3_600 * S)
        .expect("confirmed");
    st.confirm_receipt(
        id,
        "广东省通信管理局",
        None,
        det + 300 * S,
        det + 3 * 3_600 * S,
    )
    .expect("receipt");
    let b = t("2026-07-05T08:00:00+08:00");
    let late = incident(&st, "recursive/gd", Level::IV, b, 120, 3_600);
    st.acknowledge(late, "night shift", None, b + 120 * S + 25 * 3_600 * S)
        .expect("late ack");
    let c = t("2026-09-10T10:00:00+08:00");
    let fp = incident(&st, "recursive/gd", Level::IV, c, 10, 600);
    st.mark_false_positive(fp, "probe host rebooted", c + 700 * S)
        .expect("fp");
    let d = st.get(id).expect("get").expect("kept");
    assert_eq!(d.incident.resolved_at.map(|r| r.0), Some(a + 7_200 * S));
    (a, b)
}

fn chromium(args: &[&str], url: &str, profile: &std::path::Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium is installed (scripts/test.sh installs Debian's chromium)")
}

fn report(api: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .args(["report", "--from", "2026-06-16", "--to", "2026-12-15"])
        .args(args)
        .env("DNSGRADE_API", api)
        .env_remove("DNSGRADE_API_TOKEN")
        .output()
        .expect("run dnsgrade");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_report_from_a_real_ledger_as_json_csv_html_and_pdf() {
    let lab = support::lab().await;
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state");
    write_ledger(&state.join("dnsgrade.sqlite3"));
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"1s\"\ntick = \"1s\"\n\n\
             [[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"{}\"]\n",
            state.display(),
            lab.local_addr()
        ),
    )
    .expect("write");
    let clock = SimClock::new(dir.path(), t("2026-12-16T00:00:00+08:00"));
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    let api = format!("http://{}", d.http);

    let (code, text, err) = report(&api, &["--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(r["period"]["start"]["rfc3339"], "2026-06-15T16:00:00.000Z");
    assert_eq!(
        r["incidents"].as_array().map(Vec::len),
        Some(2),
        "the false positive is apart"
    );
    assert_eq!(r["false_positives"][0]["reason"], "probe host rebooted");
    let tld = &r["counts"][0];
    assert_eq!(
        (tld["class"].as_str(), tld["by_grade"].clone()),
        (Some("tld"), serde_json::json!([0, 1, 0, 0]))
    );
    assert_eq!(r["counts"][3]["by_grade"], serde_json::json!([0, 0, 0, 1]));
    // Detection 60 and 120 s; resolution 7200 and 3600 s; acknowledgement 1800 and 90000 s.
    assert_eq!(r["time_to_detect"]["median_s"], 90.0);
    assert_eq!(r["time_to_resolve"]["median_s"], 5_400.0);
    assert_eq!(r["time_to_resolve"]["p90_s"], 7_200);
    assert_eq!(r["time_to_acknowledge"]["max_s"], 90_000);
    assert_eq!(r["acknowledged_within"]["count"], 1);
    assert_eq!(r["acknowledged_within"]["share"], 0.5);
    let first = &r["incidents"][0];
    assert_eq!(first["cause"], "fibre cut, exchange B");
    assert_eq!(first["result"], "traffic rerouted");
    assert_eq!(
        first["organisations"],
        serde_json::json!(["CNNIC", "中国电信"])
    );
    assert_eq!(first["reported_to"], "CNCERT");
    assert_eq!(first["receipts"][0]["organisation"], "广东省通信管理局");
    let june = r["availability"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|a| a["object"] == "tld/cn" && a["month"] == "2026-06")
        .expect("tld/cn June");
    let expected = 1.0 - 7_200.0 / (15.0 * 86_400.0);
    let got = june["without"][3].as_f64().expect("share");
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
    assert_eq!(june["without"][0].as_f64(), Some(1.0));

    let csv_path = dir.path().join("report.csv");
    let (code, _, err) = report(
        &api,
        &[
            "--format",
            "csv",
            "--output",
            csv_path.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let csv = std::fs::read_to_string(&csv_path).expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "header and two incidents: {csv}");
    assert!(lines[0].starts_with("id,object,class,grade,grade_zh,onset,detected_at,"));
    assert!(
        lines[1]
            .contains(",tld/cn,tld,II,重大,2026-06-20T10:00:00+08:00,2026-06-20T10:01:00+08:00,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("\"fibre cut, exchange B\""),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains(",recursive/gd,recursive,IV,一般,"),
        "{}",
        lines[2]
    );

    let html_path = dir.path().join("report.html");
    let (code, _, err) = report(&api, &["--output", html_path.to_str().expect("path")]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&html_path).expect("html");
    for cell in [
        "data-figure=\"incidents\">2<",
        "data-figure=\"ack-within-count\">1<",
        "data-figure=\"ack-within-share\">50.0000%<",
        "data-figure=\"count-tld-II\">1<",
        "data-figure=\"false-positives\">1<",
        "data-figure=\"resolve-median\" data-value=\"5400\"",
        "data-month=\"2026-07\" data-grade=\"IV\" data-count=\"1\"",
    ] {
        assert!(html.contains(cell), "{cell}");
    }
    let url = format!("file://{}", html_path.display());
    let profile = tempfile::tempdir().expect("profile");
    let pdf = dir.path().join("report.pdf");
    let out = chromium(
        &[&format!("--print-to-pdf={}", pdf.display())],
        &url,
        profile.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&pdf).expect("PDF written");
    assert!(
        bytes.starts_with(b"%PDF") && bytes.len() > 10_000,
        "a real PDF, {} bytes",
        bytes.len()
    );
    let png = dir.path().join("report.png");
    let out = chromium(
        &[&format!("--screenshot={}", png.display())],
        &url,
        profile.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "a real rendering, {} bytes",
        bytes.len()
    );
    if let Ok(keep) = std::env::var("DNSGRADE_KEEP_REPORT") {
        let _ = std::fs::copy(&pdf, format!("{keep}.pdf"));
        let _ = std::fs::copy(&png, format!("{keep}.png"));
        let _ = std::fs::copy(&csv_path, format!("{keep}.csv"));
        let _ = std::fs::copy(&html_path, format!("{keep}.html"));
    }

    // A period that ends before it begins is refused by the API: 64.
    let out = Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .args([
            "report",
            "--from",
            "2026-12-15",
            "--to",
            "2026-06-16",
            "--api",
            &api,
        ])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(d);
    lab.stop().await;
}
