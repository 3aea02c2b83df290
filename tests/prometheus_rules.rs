//! The shipped Prometheus rules: valid (`promtool check rules`), their unit tests pass
//! (`promtool test rules`), and a real Prometheus (Debian's package, started by
//! scripts/prometheus-lab.sh on 127.0.0.1, stopped by its PID) scrapes a running dnsgrade and
//! raises the grade alert that dnsgrade's own grading implies.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::process::Command;
use std::time::Duration;
use support::{get_json, level, wait_object, DaemonProc, SimClock};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    let out = Command::new("promtool")
        .args(["check", "rules", "rules/prometheus/dnsgrade.yml"])
        .current_dir(ROOT)
        .output()
        .expect("promtool is installed (scripts/test.sh installs Debian's prometheus)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("promtool")
        .args(["test", "rules", "dnsgrade_test.yml"])
        .current_dir(format!("{ROOT}/tests/prometheus"))
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The example Alertmanager configuration is valid and pages on one source only: dnsgrade's own
/// alerts of levels I–III page, the rule alerts that duplicate them do not, the rule alert
/// nothing duplicates (DnsgradeDown) does, drills never do (docs/alerting.md).
#[test]
fn amtool_accepts_the_alertmanager_example_and_its_routes_page_one_source() {
    let config = format!("{ROOT}/rules/alertmanager-example.yml");
    let out = match Command::new("amtool")
        .args(["check-config", &config])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("amtool is not installed ({e}); scripts/test.sh installs prometheus-alertmanager");
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cases: [(&str, &[&str]); 8] = [
        ("noc-pager", &["source=dnsgrade", "alertname=DnsgradeIncident", "grade=I", "drill=false"]),
        ("noc-pager", &["source=dnsgrade", "alertname=DnsgradeIncident", "grade=III", "drill=false"]),
        ("noc-tickets", &["source=dnsgrade", "alertname=DnsgradeIncident", "grade=IV", "drill=false"]),
        ("noc-pager", &["source=dnsgrade", "alertname=DnsgradeMonitorIsolated", "drill=false"]),
        ("noc-drills", &["source=dnsgrade", "alertname=DnsgradeIncident", "grade=I", "drill=true"]),
        ("noc-tickets", &["source=prometheus-rules", "alertname=DnsgradeLevelI", "severity=critical", "grade=I"]),
        ("noc-tickets", &["source=prometheus-rules", "alertname=DnsgradeVantageIsolated", "severity=critical"]),
        ("noc-pager", &["source=prometheus-rules", "alertname=DnsgradeDown", "severity=critical"]),
    ];
    for (receiver, labels) in cases {
        let out = Command::new("amtool")
            .args(["config", "routes", "test", "--config.file", &config])
            .arg(format!("--verify.receivers={receiver}"))
            .args(labels)
            .output()
            .expect("amtool");
        assert!(
            out.status.success(),
            "{labels:?} should reach {receiver}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&config).expect("example");
    assert!(
        text.contains("equal: [class, object]"),
        "a rule grade alert is muted while dnsgrade's own alert for the object is active"
    );
}

/// The Prometheus process, killed by its PID when dropped.
struct Prom(i32);

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_dnsgrade_and_fires_the_grade_alert() {
    let nodes = [
        LabServer::start(
            "127.0.0.1:0".parse().expect("addr"),
            vec![Zone::synthetic_tld("cn.", 5)],
        )
        .await
        .expect("lab"),
        LabServer::start(
            "127.0.0.1:0".parse().expect("addr"),
            vec![Zone::synthetic_tld("cn.", 5)],
        )
        .await
        .expect("lab"),
    ];
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"1s\"\n\n[[tld]]\nname = \"cn\"\n\
             \x20 [[tld.node]]\n  name = \"a\"\n  addresses = [\"{}\"]\n  [[tld.node]]\n  name = \"b\"\n  addresses = [\"{}\"]\n",
            dir.path().join("state").display(),
            nodes[0].local_addr(),
            nodes[1].local_addr()
        ),
    )
    .expect("write");
    let clock = SimClock::new(dir.path(), 1_800_000_000_000);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    wait_object(d.http, "tld/cn", clock.now.get(), "samples", |o| {
        o["assessment"]["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().all(|s| s["samples"].as_u64().unwrap_or(0) >= 30))
    })
    .await;
    // Faults first, then the clock: a reply served before the fault must carry the old time,
    // or, with time frozen, it would count as a recent success for ever.
    nodes[0].set_faults(Faults {
        rcode: Some(hickory_proto::op::ResponseCode::Refused),
        rcode_ratio: 1.0,
        ..Faults::default()
    });
    clock.advance(301_000);
    wait_object(d.http, "tld/cn", clock.now.get(), "level II", |o| {
        level(o).as_deref() == Some("II")
    })
    .await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let out = Command::new("bash")
        .arg(format!("{ROOT}/scripts/prometheus-lab.sh"))
        .arg(dir.path().join("prom"))
        .arg(port.to_string())
        .arg(d.http.to_string())
        .arg("2s")
        .output()
        .expect("start prometheus");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _prom = Prom(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pid"),
    );
    let prom: std::net::SocketAddr = ([127, 0, 0, 1], port).into();

    let mut alerts = serde_json::Value::Null;
    let mut fired = false;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if support::http_get(prom, "/-/ready").await.0 != 200 {
            continue;
        }
        alerts = get_json(prom, "/api/v1/alerts").await;
        if alerts["data"]["alerts"].as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x["labels"]["alertname"] == "DnsgradeLevelII"
                    && x["labels"]["object"] == "cn"
                    && x["state"] == "firing"
            })
        }) {
            fired = true;
            break;
        }
    }
    assert!(
        fired,
        "Prometheus fires DnsgradeLevelII for tld/cn: {alerts:#}\n{}",
        std::fs::read_to_string(dir.path().join("prom/prometheus.log")).unwrap_or_default()
    );
    let q = get_json(prom, "/api/v1/query?query=dnsgrade_probes_total").await;
    assert!(
        q["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{q:#}"
    );
    drop(d);
    for n in nodes {
        n.stop().await;
    }
}

#[test]
fn the_dashboard_queries_only_metrics_dnsgrade_exports() {
    let text = std::fs::read_to_string(format!("{ROOT}/dashboards/dnsgrade-overview.json"))
        .expect("dashboard");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let exported: Vec<String> = dnsgrade::metrics::ALL_NAMES
        .iter()
        .map(|n| n.to_string())
        .collect();
    let mut exprs = 0;
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().expect("targets") {
            let e = t["expr"].as_str().expect("expr");
            exprs += 1;
            let names: Vec<&str> = e
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("dnsgrade_"))
                .map(|w| w.trim_end_matches("_bucket"))
                .collect();
            assert!(!names.is_empty(), "{e}");
            for n in names {
                assert!(
                    exported.iter().any(|x| x == n),
                    "{n} in panel \"{}\" is not exported",
                    p["title"]
                );
            }
        }
    }
    assert!(exprs >= 10);
}
