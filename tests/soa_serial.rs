//! SOA serial consistency across the nodes of a TLD: a node serving an old serial is shown
//! with its lag (the others are not blamed), reported stuck after an hour, and the time a new
//! serial takes to reach every node is observed once it has.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::time::Duration;
use support::{get_json, DaemonProc, SimClock};

const T0: u64 = 1_800_000_000_000;

/// The server's status entry (Null while the daemon has not registered it yet).
fn server<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    static NULL: serde_json::Value = serde_json::Value::Null;
    status["servers"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["server"] == name))
        .unwrap_or(&NULL)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_node_is_shown_behind_and_stuck_and_publication_is_timed() {
    let zone = || {
        let mut z = Zone::synthetic_tld("cn.", 3);
        z.set_serial(2026112202);
        z
    };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(
            LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone()])
                .await
                .expect("lab"),
        );
    }
    nodes[2].set_faults(Faults {
        serial_override: Some(2026112201),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    let mut text = format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"1s\"\n\n[[tld]]\nname = \"cn\"\n",
        dir.path().join("state").display()
    );
    for (i, n) in nodes.iter().enumerate() {
        text.push_str(&format!(
            "  [[tld.node]]\n  name = \"n{i}\"\n  addresses = [\"{}\"]\n",
            n.local_addr()
        ));
    }
    std::fs::write(&cfg, text).expect("write");
    let clock = SimClock::new(dir.path(), T0);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);

    let mut status = serde_json::Value::Null;
    for _ in 0..100 {
        status = get_json(d.http, "/api/v1/status").await;
        if ["n0", "n1", "n2"]
            .iter()
            .all(|n| server(&status, n)["soa_serial"].is_u64())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(server(&status, "n0")["soa_serial_lag"], 0, "{status:#}");
    assert_eq!(server(&status, "n1")["soa_serial_lag"], 0);
    assert_eq!(server(&status, "n2")["soa_serial"], 2026112201u64);
    assert_eq!(server(&status, "n2")["soa_serial_lag"], 1);
    assert_eq!(server(&status, "n2")["soa_stuck"], false);

    // An hour later the stale node is stuck; the others are still current.
    clock.advance(3_601_000);
    for _ in 0..100 {
        status = get_json(d.http, "/api/v1/status").await;
        if server(&status, "n2")["soa_stuck"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(server(&status, "n2")["soa_stuck"], true, "{status:#}");
    assert_eq!(server(&status, "n0")["soa_stuck"], false);
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = support::http_get(d.http, "/metrics").await.1;
        if metrics.lines().any(|l| {
            l.starts_with("dnsgrade_soa_serial_behind_seconds{")
                && l.contains("server=\"n2\"")
                && !l.ends_with(" 0")
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("dnsgrade_soa_serial_lag{")
                && l.contains("server=\"n2\"")
                && l.ends_with(" 1")),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("dnsgrade_soa_serial_lag{")
                && l.contains("server=\"n0\"")
                && l.ends_with(" 0")),
        "{metrics}"
    );

    // The node catches up: the publication latency (first node to last) is observed.
    nodes[2].set_faults(Faults::default());
    let mut seen = false;
    for _ in 0..100 {
        let (_, metrics) = support::http_get(d.http, "/metrics").await;
        if metrics.contains("dnsgrade_soa_publication_seconds_count{class=\"tld\",object=\"cn\"} 1")
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen,
        "publication latency observed once every node serves the newest serial"
    );
    drop(d);
    for n in nodes {
        n.stop().await;
    }
}
