//! The AXFR reference: the daemon transfers the TLD zone from a lab primary at start, samples
//! every node against it and catches the node with wrong delegations; a new serial on the
//! primary leads to a re-transfer; a primary that goes away is counted and the last good
//! reference stays in use.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::time::Duration;
use support::{level, wait_object, DaemonProc, SimClock};

const T0: u64 = 1_800_000_000_000;

fn zone(delegations: usize, serial: u32) -> Zone {
    let mut z = Zone::synthetic_tld("cn.", delegations);
    z.set_serial(serial);
    z
}

/// The value of the sample `series` (name and labels exactly as exported) in /metrics.
async fn metric(d: &DaemonProc, series: &str) -> Option<f64> {
    let (_, text) = support::http_get(d.http, "/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

async fn wait_metric(d: &DaemonProc, series: &str, what: &str, pred: impl Fn(f64) -> bool) {
    for _ in 0..300 {
        if metric(d, series).await.is_some_and(&pred) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, text) = support::http_get(d.http, "/metrics").await;
    panic!("timed out waiting for {series}: {what}\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axfr_reference_catches_a_wrong_node_and_follows_the_primary() {
    let addr = "127.0.0.1:0".parse().expect("addr");
    let primary = LabServer::start(addr, vec![zone(2_000, 10)])
        .await
        .expect("lab");
    let good = LabServer::start(addr, vec![zone(2_000, 10)])
        .await
        .expect("lab");
    let bad = LabServer::start(addr, vec![zone(2_000, 10)])
        .await
        .expect("lab");
    bad.set_faults(Faults {
        wrong_ratio: 0.02,
        seed: 3,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"1s\"\ntick = \"1s\"\n\n[[tld]]\nname = \"cn\"\n\
             \x20 [tld.reference]\n  axfr = \"{}\"\n  refresh = \"1s\"\n  sample_rate = 2000\n\
             \x20 [[tld.node]]\n  name = \"good\"\n  addresses = [\"{}\"]\n  [[tld.node]]\n  name = \"bad\"\n  addresses = [\"{}\"]\n",
            dir.path().join("state").display(),
            primary.local_addr(),
            good.local_addr(),
            bad.local_addr()
        ),
    )
    .expect("write");
    let clock = SimClock::new(dir.path(), T0);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);

    let o = wait_object(d.http, "tld/cn", T0, "level II from data errors", |o| {
        level(o).as_deref() == Some("II")
    })
    .await;
    assert_eq!(o["assessment"]["rule"], "tld.data_error_ii", "{o:#}");
    let sampled = |status: &serde_json::Value, n: &str| {
        status["servers"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["server"] == n))
            .map(|s| s["roles"]["sampled"].clone())
            .expect("server")
    };
    let status = support::get_json(d.http, "/api/v1/status").await;
    assert!(
        sampled(&status, "bad")["wrong"].as_u64().unwrap_or(0) > 0,
        "{status:#}"
    );
    assert_eq!(
        sampled(&status, "good")["wrong"].as_u64(),
        Some(0),
        "{status:#}"
    );
    assert_eq!(
        metric(&d, "dnsgrade_reference_serial{object=\"cn\"}").await,
        Some(10.0)
    );
    assert_eq!(
        metric(&d, "dnsgrade_reference_delegations{object=\"cn\"}").await,
        Some(2_000.0)
    );
    assert_eq!(
        primary.counters().transfers,
        1,
        "one transfer while the serial stays"
    );

    // A zone update on the primary: new serial, one more delegation → re-transferred.
    primary.set_zones(vec![zone(2_001, 11)]);
    wait_metric(
        &d,
        "dnsgrade_reference_serial{object=\"cn\"}",
        "serial 11",
        |v| v == 11.0,
    )
    .await;
    assert_eq!(
        metric(&d, "dnsgrade_reference_delegations{object=\"cn\"}").await,
        Some(2_001.0)
    );
    assert_eq!(
        metric(
            &d,
            "dnsgrade_reference_transfers_total{object=\"cn\",result=\"ok\"}"
        )
        .await,
        Some(2.0)
    );
    assert_eq!(primary.counters().transfers, 2);

    // The primary goes away: polls fail and are counted, sampling goes on with the last
    // good reference.
    primary.stop().await;
    wait_metric(
        &d,
        "dnsgrade_reference_transfers_total{object=\"cn\",result=\"poll_failed\"}",
        "a failed poll",
        |v| v >= 1.0,
    )
    .await;
    let before = sampled(&support::get_json(d.http, "/api/v1/status").await, "good")["checked"]
        .as_u64()
        .unwrap_or(0);
    let mut after = before;
    for _ in 0..100 {
        after = sampled(&support::get_json(d.http, "/api/v1/status").await, "good")["checked"]
            .as_u64()
            .unwrap_or(0);
        if after > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(after > before, "sampling goes on: {before} → {after}");
    assert_eq!(
        metric(&d, "dnsgrade_reference_serial{object=\"cn\"}").await,
        Some(11.0),
        "the last good reference stays"
    );
    drop(d);
    good.stop().await;
    bad.stop().await;
}
