//! Node consensus: with no expected values, a TLD node's answer is judged against the majority
//! of the other nodes that serve the same SOA serial. A node that answers a key domain wrongly
//! is caught (level II: any data error on a key domain); a node on a stale serial is not
//! compared with the others (it is reported by its serial lag), and the others are not blamed.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::str::FromStr;
use std::time::Duration;
use support::{level, wait_object, DaemonProc, SimClock};

const T0: u64 = 1_800_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_node_is_caught_and_a_stale_one_is_not_blamed() {
    let zone = || {
        let mut z = Zone::synthetic_tld("cn.", 5);
        z.set_serial(2026112202);
        z
    };
    let mut nodes = Vec::new();
    for _ in 0..4 {
        nodes.push(
            LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone()])
                .await
                .expect("lab"),
        );
    }
    // n0 answers the key domain d2.cn wrongly; n3 is stuck on an older serial.
    nodes[0].set_faults(Faults {
        wrong_names: vec![hickory_proto::rr::Name::from_str("d2.cn.").expect("name")],
        ..Faults::default()
    });
    nodes[3].set_faults(Faults {
        serial_override: Some(2026112201),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    let mut text = format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"1s\"\n\n[[tld]]\nname = \"cn\"\nkey_domains = [\"d2.cn\"]\n",
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

    let o = wait_object(
        d.http,
        "tld/cn",
        T0,
        "level II from the key-domain error",
        |o| level(o).as_deref() == Some("II"),
    )
    .await;
    // The wrong key-domain answers also raise n0's data error ratio above 0.1%, another II
    // cell; which of the two is named first depends on when enough samples arrived, so look
    // for the key-domain finding among the reasons.
    let reasons = o["assessment"]["reasons_en"].to_string();
    assert!(reasons.contains("data errors on key domains"), "{o:#}");
    assert!(
        matches!(
            o["assessment"]["rule"].as_str(),
            Some("tld.key_domain_error" | "tld.data_error_ii")
        ),
        "{o:#}"
    );

    // Give every node enough probes, then read each node's data verdicts.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let status = support::get_json(d.http, "/api/v1/status").await;
    let node = |n: &str| {
        status["servers"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["server"] == n))
            .cloned()
            .expect("server")
    };
    let kd = |n: &str| node(n)["roles"]["key_domain"].clone();
    assert!(
        kd("n0")["wrong"].as_u64().unwrap_or(0) >= 1,
        "n0 caught: {}",
        node("n0")
    );
    for n in ["n1", "n2"] {
        assert_eq!(
            kd(n)["wrong"].as_u64(),
            Some(0),
            "{n} not blamed: {}",
            node(n)
        );
        assert_eq!(kd(n)["missing"].as_u64(), Some(0), "{n} not blamed");
    }
    // The stale node is never compared with nodes on another serial: no verdicts, no blame.
    assert_eq!(kd("n3")["checked"].as_u64(), Some(0), "{}", node("n3"));
    assert_eq!(node("n3")["soa_serial_lag"], 1);
    assert_eq!(node("n0")["soa_serial_lag"], 0);
    drop(d);
    for n in nodes {
        n.stop().await;
    }
}
