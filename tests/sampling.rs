//! Continuous sampling against a reference zone: each TLD node is checked on delegations drawn
//! from the zone file at a configured rate; a node that answers 0.2% of the names wrongly is
//! graded 重大 (II, data errors above 0.1% on the Wilson lower bound), the healthy node is not
//! blamed.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::fmt::Write;
use support::{level, wait_object, DaemonProc, SimClock};

const T0: u64 = 1_800_000_000_000;

fn zone_text(n: usize) -> String {
    let mut t = String::from("$ORIGIN cn.\n$TTL 86400\n@ IN SOA a.dns.cn. hostmaster.cn. 2026112201 7200 3600 2419200 21600\n@ IN NS a.dns.cn.\na.dns IN A 127.0.0.1\n");
    for i in 0..n {
        let _ = writeln!(t, "d{i} IN NS ns1.d{i}\nd{i} IN NS ns2.d{i}\nns1.d{i} IN A 127.1.{}.{}\nns2.d{i} IN A 127.2.{}.{}", i / 256 % 256, i % 256, i / 256 % 256, i % 256);
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_0_2_percent_wrong_delegations_is_level_ii() {
    let text = zone_text(20_000);
    let zone = Zone::parse("cn.", &text).expect("zone");
    let good = LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone.clone()])
        .await
        .expect("lab");
    let bad = LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone])
        .await
        .expect("lab");
    bad.set_faults(Faults {
        wrong_ratio: 0.002,
        seed: 7,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("cn.zone"), &text).expect("zone file");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"1s\"\ntick = \"1s\"\n\n[[tld]]\nname = \"cn\"\n\
             \x20 [tld.reference]\n  zone_file = \"cn.zone\"\n  sample_rate = 4000\n\
             \x20 [[tld.node]]\n  name = \"good\"\n  addresses = [\"{}\"]\n  [[tld.node]]\n  name = \"bad\"\n  addresses = [\"{}\"]\n",
            dir.path().join("state").display(),
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
    // Level II is reached on the first tick whose lower bound passes 0.1%, which selects a
    // moment when the observed ratio is high; the ratio is judged later, on enough samples
    // (8,000: about 16 wrong expected, so 0.1%..0.4% is more than two deviations wide).
    let mut status = support::get_json(d.http, "/api/v1/status").await;
    for _ in 0..600 {
        let checked = status["servers"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["server"] == "bad"))
            .and_then(|s| s["roles"]["sampled"]["checked"].as_u64())
            .unwrap_or(0);
        if checked >= 8_000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        status = support::get_json(d.http, "/api/v1/status").await;
    }
    let node = |n: &str| {
        status["servers"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["server"] == n))
            .cloned()
            .expect("server")
    };
    let sampled = |n: &str| node(n)["roles"]["sampled"].clone();
    assert!(
        sampled("bad")["wrong"].as_u64().unwrap_or(0) > 0,
        "{}",
        node("bad")
    );
    assert_eq!(
        sampled("good")["wrong"].as_u64(),
        Some(0),
        "the healthy node is not blamed: {}",
        node("good")
    );
    assert!(
        sampled("good")["checked"].as_u64().unwrap_or(0) > 1_000,
        "{}",
        node("good")
    );
    let ratio = sampled("bad")["data_error"]["point"]
        .as_f64()
        .unwrap_or(0.0);
    assert!((0.001..0.004).contains(&ratio), "about 0.2% wrong: {ratio}");
    drop(d);
    good.stop().await;
    bad.stop().await;
}

/// 0.02% wrong answers on one node is 较大 (III): data errors above 0.01% on the 95% Wilson
/// lower bound, far from the 0.1% of level II. The wrong names are fixed (every 5,000th
/// delegation, exactly 0.02% of the zone), and every pass samples each name once, so the
/// node's error ratio converges on exactly 0.0002; the test waits for enough samples that the
/// lower bound is above 0.0001 (about 50,000) and for the grade to be III then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_0_02_percent_wrong_answers_is_level_iii() {
    const N: usize = 50_000;
    let text = zone_text(N);
    let zone = Zone::parse("cn.", &text).expect("zone");
    let good = LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone.clone()])
        .await
        .expect("lab");
    let bad = LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone])
        .await
        .expect("lab");
    let wrong: Vec<hickory_proto::rr::Name> = (0..N)
        .step_by(5_000)
        .map(|i| hickory_proto::rr::Name::from_ascii(format!("d{i}.cn.")).expect("name"))
        .collect();
    assert_eq!(wrong.len() as f64 / N as f64, 0.0002);
    bad.set_faults(Faults {
        wrong_names: wrong,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("cn.zone"), &text).expect("zone file");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"1s\"\ntick = \"1s\"\n\n[[tld]]\nname = \"cn\"\n\
             \x20 [tld.reference]\n  zone_file = \"cn.zone\"\n  sample_rate = 6000\n\
             \x20 [[tld.node]]\n  name = \"good\"\n  addresses = [\"{}\"]\n  [[tld.node]]\n  name = \"bad\"\n  addresses = [\"{}\"]\n",
            dir.path().join("state").display(),
            good.local_addr(),
            bad.local_addr()
        ),
    )
    .expect("write");
    // The simulated clock stands still, so every sample stays in the window.
    let clock = SimClock::new(dir.path(), T0);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    let bad_sampled = |o: &serde_json::Value| {
        o["assessment"]["evidence"]
            .as_array()
            .and_then(|e| {
                e.iter()
                    .find(|s| s["server"].as_str().is_some_and(|l| l.starts_with("bad ")))
            })
            .and_then(|s| s["checked"].as_u64())
            .unwrap_or(0)
    };
    let o = wait_object(d.http, "tld/cn", T0, "level III with 60,000 samples", |o| {
        level(o).as_deref() == Some("III") && bad_sampled(o) >= 60_000
    })
    .await;
    assert_eq!(o["assessment"]["rule"], "tld.data_error_iii", "{o:#}");
    let status = support::get_json(d.http, "/api/v1/status").await;
    let node = |n: &str| {
        status["servers"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["server"] == n))
            .cloned()
            .expect("server")
    };
    let w = &node("bad")["window"]["data_error"];
    let (point, lower) = (
        w["point"].as_f64().unwrap_or(0.0),
        w["lower"].as_f64().unwrap_or(0.0),
    );
    assert!(lower > 0.0001 && lower < 0.001, "{w}");
    assert!((0.0001..0.0004).contains(&point), "about 0.02% wrong: {w}");
    assert_eq!(
        node("good")["roles"]["sampled"]["wrong"].as_u64(),
        Some(0),
        "the healthy node is not blamed"
    );
    drop(d);
    good.stop().await;
    bad.stop().await;
}

#[test]
fn a_missing_reference_file_is_a_config_error_with_its_location() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("probes.toml");
    std::fs::write(&p, "[[tld]]\nname = \"cn\"\n  [tld.reference]\n  zone_file = \"nope.zone\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"127.0.0.1\"]\n").expect("write");
    let e = dnsgrade::config::load(&p).expect_err("missing file");
    let s = e.to_string();
    assert!(
        s.contains("probes.toml:4:15:")
            && s.contains("nope.zone")
            && s.contains("not a readable file"),
        "{s}"
    );
}
