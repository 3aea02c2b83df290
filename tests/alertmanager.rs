//! End to end with a real Alertmanager (Debian's prometheus-alertmanager, started by
//! scripts/alertmanager-lab.sh on 127.0.0.1 with its own config and data directory in a temp
//! dir, clustering off, stopped by its PID): dnsgrade raises an incident, the alert is read
//! back from Alertmanager's API with the right labels, then resolved; a drill arrives labelled
//! drill="true"; an active alert is re-posted every resend_interval.
//!
//! Simulated time starts in the past (2023), so the `endsAt` of a resolved incident is before
//! Alertmanager's own clock, as it would be in production.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::process::Command;
use std::time::Duration;
use support::{get_json, level, wait_object, DaemonProc, SimClock};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TOKEN: &str = "am-test-token";
const START: u64 = 1_700_000_000_000;

/// The Alertmanager process, killed by its PID when dropped.
struct Am(i32);

impl Drop for Am {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Alertmanager's active alerts named `alertname`.
async fn alerts(am: std::net::SocketAddr, alertname: &str) -> Vec<serde_json::Value> {
    get_json(
        am,
        &format!("/api/v2/alerts?filter=alertname%3D%22{alertname}%22"),
    )
    .await
    .as_array()
    .cloned()
    .unwrap_or_default()
}

async fn wait_alerts(
    am: std::net::SocketAddr,
    what: &str,
    pred: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let mut last = Vec::new();
    for _ in 0..200 {
        last = alerts(am, "DnsgradeIncident").await;
        if pred(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!("timed out waiting for Alertmanager: {what}\nlast: {last:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_gets_the_incident_then_its_resolution() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let out = Command::new("bash")
        .arg(format!("{ROOT}/scripts/alertmanager-lab.sh"))
        .arg(dir.path().join("am"))
        .arg(port.to_string())
        .output()
        .expect("start alertmanager");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _am = Am(String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pid"));
    let am: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let mut ready = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(am).is_ok()
            && support::http_get(am, "/-/ready").await.0 == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready,
        "Alertmanager ready: {}",
        std::fs::read_to_string(dir.path().join("am/alertmanager.log")).unwrap_or_default()
    );

    let node = LabServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        vec![Zone::synthetic_tld("cn.", 5)],
    )
    .await
    .expect("lab");
    node.set_faults(Faults {
        rcode: Some(hickory_proto::op::ResponseCode::Refused),
        rcode_ratio: 1.0,
        ..Faults::default()
    });
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"1s\"\nstop_window = \"120s\"\napi_token = \"env:DNSGRADE_API_TOKEN\"\n\n\
             [[alert.alertmanager]]\nname = \"am\"\nurl = \"http://{am}\"\n\n\
             [[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"{}\"]\n",
            dir.path().join("state").display(),
            node.local_addr()
        ),
    )
    .expect("write config");
    let clock = SimClock::new(dir.path(), START);
    let d = DaemonProc::start(&cfg, Some(&clock.path), Some(TOKEN));

    // Raised: the TLD system is stopped (level I).
    wait_object(d.http, "tld/cn", START, "level I", |o| {
        level(o).as_deref() == Some("I")
    })
    .await;
    let firing = wait_alerts(am, "the incident's alert", |a| {
        a.iter().any(|x| x["labels"]["object"] == "cn")
    })
    .await;
    let a = firing
        .iter()
        .find(|x| x["labels"]["object"] == "cn")
        .expect("alert");
    let l = &a["labels"];
    assert_eq!(l["alertname"], "DnsgradeIncident");
    assert_eq!(l["grade"], "I");
    assert_eq!(l["grade_zh"], "特别重大");
    assert_eq!(l["class"], "tld");
    assert_eq!(l["authority"], "互联网应急办");
    assert_eq!(l["drill"], "false");
    assert_eq!(a["status"]["state"], "active");
    let id = l["incident_id"].as_str().expect("incident id");
    assert_eq!(
        a["generatorURL"],
        format!("http://{}/api/v1/incidents/{id}", d.http)
    );
    assert!(a["annotations"]["reason_zh"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert!(a["annotations"]["evidence"]
        .as_str()
        .is_some_and(|s| s.contains("probes")));
    assert_eq!(a["startsAt"].as_str().map(|s| &s[..10]), Some("2023-11-14"));

    // Re-posted while active: nothing is posted while the simulated clock stands still, and
    // one resend_interval (1 min) later the alert is posted again (Alertmanager's updatedAt
    // moves), so its resolve_timeout never resolves it. (stop_window is 2 min, so the jump
    // keeps the node stopped.)
    let updated = a["updatedAt"].as_str().expect("updatedAt").to_string();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let same = alerts(am, "DnsgradeIncident").await;
    assert_eq!(same.len(), 1, "{same:#?}");
    assert_eq!(
        same[0]["updatedAt"],
        updated.as_str(),
        "no re-post before resend_interval"
    );
    clock.advance(61_000);
    let again = wait_alerts(am, "the alert re-posted", |a| {
        a.len() == 1 && a[0]["updatedAt"] != updated.as_str()
    })
    .await;
    assert_eq!(again[0]["labels"], *l, "the same alert, still level I");
    assert_eq!(again[0]["status"]["state"], "active");

    // The node recovers; the window and then clear_after (300 s) pass in simulated time.
    node.set_faults(Faults::default());
    clock.advance(361_000);
    wait_object(d.http, "tld/cn", clock.now.get(), "no grade", |o| {
        level(o).is_none()
    })
    .await;
    clock.advance(301_000);
    let mut resolved = false;
    for _ in 0..100 {
        let v = get_json(d.http, &format!("/api/v1/incidents/{id}")).await;
        if v["incident"]["state"] == "resolved" {
            resolved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resolved, "the incident resolves in dnsgrade");
    // Resolved in Alertmanager: its endsAt is past, so the API no longer lists it as active.
    wait_alerts(am, "the alert resolved", |a| {
        !a.iter()
            .any(|x| x["labels"]["object"] == "cn" && x["labels"]["drill"] == "false")
    })
    .await;
    let sink = get_json(d.http, "/api/v1/outbox").await["sinks"][0].clone();
    assert_eq!(sink["kind"], "alertmanager");
    assert_eq!(sink["pending"], 0, "{sink:#}");
    assert!(
        sink["delivered"].as_u64().unwrap_or(0) >= 2,
        "opened and resolved: {sink:#}"
    );

    // A drill reaches Alertmanager labelled drill="true".
    let (code, body) = support::http_post(
        d.http,
        "/api/v1/drills",
        Some(TOKEN),
        r#"{"scenario": "tld-II", "by": "drill lead"}"#,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let drills = wait_alerts(am, "the drill's alert", |a| {
        a.iter().any(|x| x["labels"]["drill"] == "true")
    })
    .await;
    let x = drills
        .iter()
        .find(|x| x["labels"]["drill"] == "true")
        .expect("drill alert");
    assert_eq!(x["labels"]["grade"], "II");
    assert_eq!(x["labels"]["object"], "cn");
    assert!(x["annotations"]["reason_zh"]
        .as_str()
        .is_some_and(|s| s.contains("演练")));
    drop(d);
    node.stop().await;
}
