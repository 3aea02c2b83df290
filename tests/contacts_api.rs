//! The emergency roster over HTTP, on a daemon in-process (loopback only: one control target,
//! a lab server on 127.0.0.1): `/api/v1/status` summarises it without phones or emails, and
//! `GET /api/v1/contacts` gives the whole roster only with the API token.

mod support;

use dnsgrade::clock::{parse_rfc3339, ManualClock};
use dnsgrade::daemon::Daemon;
use dnsgrade::grading::Rules;
use std::sync::Arc;
use std::time::Duration;

const ROSTER: &str = r#"
[[contact]]
authority = "广东省通信管理局"
name = "Placeholder Zhang"
role = "network security division"
phone = "020-0000-0000"
email = "gd@example.invalid"
reviewed_at = 2026-09-01

[[contact]]
authority = "MIIT"
name = "Placeholder duty desk"
role = "emergency office duty"
phone = "010-0000-0000"
reviewed_at = 2026-11-20
hours = "24x7"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_has_the_overdue_contacts_without_phones_and_the_roster_needs_the_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = support::lab().await;
    let text = format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\napi_token = \"t0ken\"\n\n[[control]]\nname = \"lab\"\n  [[control.server]]\n  name = \"l\"\n  addresses = [\"{}\"]\n{ROSTER}",
        dir.path().join("state").display(),
        lab.local_addr(),
    );
    let config = dnsgrade::config::parse(&dir.path().join("probes.toml"), &text).expect("config");
    // 2026-12-01: the Guangdong entry (reviewed 2026-09-01) is past its 90 days.
    let now = parse_rfc3339("2026-12-01T00:00:00Z").expect("time");
    let daemon = Daemon::start(config, Rules::miit_2011(), Arc::new(ManualClock::new(now)))
        .await
        .expect("daemon starts");
    let addr = daemon.http_addr;

    let status = support::get_json(addr, "/api/v1/status").await;
    let c = &status["contacts"];
    assert_eq!(c["total"], 2, "{c}");
    assert_eq!(c["review_every_s"], 90 * 86_400);
    assert_eq!(c["overdue_count"], 1);
    let o = &c["overdue"][0];
    assert_eq!(o["name"], "Placeholder Zhang");
    assert_eq!(o["for"]["authority"], "广东通信管理局");
    assert_eq!(o["for_zh"], "广东省通信管理局");
    assert_eq!(o["for_en"], "Guangdong Communications Administration");
    assert_eq!(o["reviewed_at"], "2026-09-01");
    assert_eq!(o["review_due"], "2026-11-29T16:00:00.000Z");
    let shown = c.to_string();
    assert!(
        !shown.contains("0000") && !shown.contains("example.invalid"),
        "{shown}"
    );

    // The roster: personal data, behind the token.
    assert_eq!(
        support::http_get_auth(addr, "/api/v1/contacts", None)
            .await
            .0,
        401
    );
    assert_eq!(
        support::http_get_auth(addr, "/api/v1/contacts", Some("wrong"))
            .await
            .0,
        401
    );
    let (code, body) = support::http_get_auth(addr, "/api/v1/contacts", Some("t0ken")).await;
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let list = v["contacts"].as_array().expect("contacts");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["phone"], "020-0000-0000");
    assert_eq!(list[0]["email"], "gd@example.invalid");
    assert_eq!(list[0]["overdue"], true);
    assert_eq!(list[1]["for_zh"], "互联网应急办");
    assert_eq!(list[1]["always_reachable"], true);
    assert_eq!(list[1]["overdue"], false);
    assert_eq!(list[1]["email"], serde_json::Value::Null);

    // The gauge: a count per authority, nothing personal (set by the first tick).
    let want = "dnsgrade_contacts_review_overdue{authority=\"广东通信管理局\"} 1";
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = support::http_get(addr, "/metrics").await.1;
        if metrics.contains(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        metrics.contains(want),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("contacts"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!metrics.contains("Placeholder"));

    // A reload that changes only the roster is applied: the Guangdong entry reviewed again.
    let reviewed = text.replace("reviewed_at = 2026-09-01", "reviewed_at = 2026-11-30");
    let config =
        dnsgrade::config::parse(&dir.path().join("probes.toml"), &reviewed).expect("config");
    let outcome = daemon.apply(config, Rules::miit_2011()).await;
    assert_eq!(
        serde_json::to_value(&outcome).expect("json")["result"],
        "applied"
    );
    let status = support::get_json(addr, "/api/v1/status").await;
    assert_eq!(
        status["contacts"]["overdue_count"], 0,
        "{}",
        status["contacts"]
    );
    daemon.stop().await;
}
