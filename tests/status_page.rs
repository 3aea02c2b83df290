//! A real browser (Debian's Chromium, headless, started by this test and stopped when it
//! exits) looks at the status page of a running daemon: the graded object shows its grade in
//! Chinese with the English beside, its lead authority, and the open incident.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use hickory_proto::op::ResponseCode;
use std::process::Command;
use support::{level, wait_object, DaemonProc, SimClock};

const T0: u64 = 1_800_000_000_000;

fn chromium(args: &[&str], url: &str, profile: &std::path::Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium is installed (scripts/test.sh installs Debian's chromium)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_sees_the_grade_the_authority_and_the_incident() {
    let mut nodes = Vec::new();
    for _ in 0..2 {
        nodes.push(
            LabServer::start(
                "127.0.0.1:0".parse().expect("addr"),
                vec![Zone::synthetic_tld("cn.", 5)],
            )
            .await
            .expect("lab"),
        );
    }
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"1s\"\n\n[[tld]]\nname = \"中国\"\n\
             \x20 [[tld.node]]\n  name = \"a\"\n  addresses = [\"{}\"]\n  [[tld.node]]\n  name = \"b\"\n  addresses = [\"{}\"]\n\
             \x20 [[tld.check]]\n  name = \"d1.cn\"\n  type = \"NS\"\n",
            dir.path().join("state").display(),
            nodes[0].local_addr(),
            nodes[1].local_addr()
        )
        .replace("name = \"中国\"", "name = \"cn\""),
    )
    .expect("write");
    let clock = SimClock::new(dir.path(), T0);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    wait_object(d.http, "tld/cn", T0, "samples", |o| {
        o["assessment"]["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().all(|s| s["samples"].as_u64().unwrap_or(0) >= 30))
    })
    .await;
    clock.advance(301_000);
    nodes[0].set_faults(Faults {
        rcode: Some(ResponseCode::Refused),
        rcode_ratio: 1.0,
        ..Faults::default()
    });
    wait_object(
        d.http,
        "tld/cn",
        clock.now.get(),
        "level II (1 of 2 nodes = half)",
        |o| level(o).as_deref() == Some("II"),
    )
    .await;

    let url = format!("http://{}/", d.http);
    let profile = tempfile::tempdir().expect("profile");
    let out = chromium(&["--dump-dom"], &url, profile.path());
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("data-object=\"tld/cn\""), "{dom}");
    assert!(dom.contains("data-level=\"II\""), "{dom}");
    assert!(dom.contains("重大 major · II"), "{dom}");
    assert!(dom.contains("互联网应急办"), "{dom}");
    assert!(dom.contains("id=\"incidents\""), "{dom}");
    assert!(
        !dom.contains("无 none"),
        "the open incident is listed: {dom}"
    );

    let shot = dir.path().join("status.png");
    let out = chromium(
        &[&format!("--screenshot={}", shot.display())],
        &url,
        profile.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real rendering, {} bytes",
        png.len()
    );
    if let Ok(keep) = std::env::var("DNSGRADE_KEEP_SCREENSHOT") {
        let _ = std::fs::copy(&shot, keep);
    }
    drop(d);
    for n in nodes {
        n.stop().await;
    }
}
