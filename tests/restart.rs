//! Continuity across restarts through the real binary: `dnsgrade run` is killed with SIGKILL
//! while a level-I incident is open, stays down longer than `clear_after`, and starts again —
//! twice, the second crash inside the first restart's warm-up. The windows live in memory, so
//! the restarted daemon has almost nothing to grade on at first; it must still change no grade
//! and send no event: the gauge never drops, the incident keeps its id and never goes
//! clearing, and the webhook receiver gets nothing new. Time is simulated through the clock
//! file (moved along by the test); every socket is on loopback.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::sync::Arc;
use std::time::Duration;
use support::{
    get_json, http_get, level, wait_object, DaemonProc, Receiver, ReceiverState, SimClock,
};

const SECRET_ENV: &str = "DNSGRADE_TEST_RESTART_HOOK_SECRET";
const SECRET: &str = "restart-test-secret-41c7";
const START: u64 = 1_700_000_000_000;
const GAUGE: &str = "dnsgrade_object_grade{class=\"tld\",object=\"cn\"}";

fn gauge(metrics: &str) -> Option<i64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(GAUGE))
        .and_then(|v| v.trim().parse().ok())
}

async fn timeline(d: &DaemonProc, id: i64) -> Vec<String> {
    let v = get_json(d.http, &format!("/api/v1/incidents/{id}")).await;
    v["timeline"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?").to_string())
        .collect()
}

/// `tld/cn` in /api/v1/status.
async fn cn_status(d: &DaemonProc) -> serde_json::Value {
    let status = get_json(d.http, "/api/v1/status").await;
    status["objects"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["name"] == "cn"))
        .cloned()
        .expect("tld/cn")
}

/// Reads the grade from /metrics and /api/v1/status for `secs` real seconds while the simulated
/// clock moves on at the same pace; every read must say level I and the same open incident.
async fn hold_steady(d: &DaemonProc, clock: &SimClock, id: i64, secs: u64) {
    let steps = secs * 5;
    for i in 0..steps {
        let (code, metrics) = http_get(d.http, "/metrics").await;
        assert_eq!(code, 200);
        assert_eq!(
            gauge(&metrics),
            Some(4),
            "read {i}: the grade gauge stays at I"
        );
        let o = cn_status(d).await;
        assert_eq!(level(&o).as_deref(), Some("I"), "read {i}: {o:#}");
        let open = get_json(d.http, "/api/v1/incidents").await;
        let list = open["incidents"].as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), 1, "{open:#}");
        assert_eq!(list[0]["id"], id);
        assert!(
            list[0]["clearing_since"].is_null(),
            "never clearing: {:#}",
            list[0]
        );
        clock.advance(200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restarts_change_no_grade_and_send_no_event() {
    std::env::set_var(SECRET_ENV, SECRET);
    let zone = Zone::synthetic_tld("cn.", 5);
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let n = LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone.clone()])
            .await
            .expect("lab");
        nodes.push(n);
    }
    let state = Arc::new(ReceiverState::default());
    let rx = Receiver::start("127.0.0.1:0".parse().expect("addr"), SECRET, state.clone()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    let node_list: String = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "  [[tld.node]]\n  name = \"n{i}\"\n  addresses = [\"{}\"]\n",
                n.local_addr()
            )
        })
        .collect();
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"1s\"\n\n\
             [[alert.webhook]]\nname = \"noc\"\nurl = \"{}\"\nsecret_env = \"{SECRET_ENV}\"\ntimeout = \"2s\"\n\n\
             [[tld]]\nname = \"cn\"\n{node_list}",
            dir.path().join("state").display(),
            rx.url()
        ),
    )
    .expect("config");
    let clock = SimClock::new(dir.path(), START);

    // Every node refuses: the TLD system is stopped, level I.
    for n in &nodes {
        n.set_faults(Faults {
            rcode: Some(hickory_proto::op::ResponseCode::Refused),
            rcode_ratio: 1.0,
            ..Faults::default()
        });
    }
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    for _ in 0..20 {
        clock.advance(1_000);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_object(d.http, "tld/cn", START, "level I", |o| {
        level(o).as_deref() == Some("I")
    })
    .await;
    let open = get_json(d.http, "/api/v1/incidents").await;
    let id = open["incidents"][0]["id"]
        .as_i64()
        .expect("an open incident");
    // Wait until everything written so far has been delivered, then remember it.
    support::eventually(30, "the events delivered", || {
        let got = state.delivered_ids();
        !got.is_empty()
    })
    .await;
    hold_steady(&d, &clock, id, 2).await;
    let before = timeline(&d, id).await;
    let delivered = state.delivered_ids();
    assert!(
        before.iter().all(|k| k != "incident.clearing"),
        "{before:?}"
    );

    // Crash, stay down for ten minutes (twice clear_after), start again.
    d.kill9();
    clock.advance(600_000);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    // The very first scrape already says I.
    let (_, metrics) = http_get(d.http, "/metrics").await;
    assert_eq!(gauge(&metrics), Some(4), "first scrape after the restart");
    // A second crash inside the warm-up, down for another ten minutes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.kill9();
    clock.advance(600_000);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    let (_, metrics) = http_get(d.http, "/metrics").await;
    assert_eq!(
        gauge(&metrics),
        Some(4),
        "first scrape after the second restart"
    );
    // Through the warm-up and well past it: the same incident at the same grade.
    hold_steady(&d, &clock, id, 8).await;
    assert_eq!(timeline(&d, id).await, before, "no event was written");
    let all = get_json(d.http, "/api/v1/incidents?state=all").await;
    assert_eq!(
        all["incidents"].as_array().map(Vec::len),
        Some(1),
        "{all:#}"
    );
    assert_eq!(state.delivered_ids(), delivered, "no webhook was sent");
    let o = cn_status(&d).await;
    assert_eq!(
        o["assessment"]["rule"], "tld.system_stopped",
        "graded on fresh windows again: {o:#}"
    );
    assert!(
        !o["assessment"]["reasons_en"]
            .to_string()
            .contains("held at incident"),
        "the hold is over: {o:#}"
    );
    drop(d);
    rx.stop().await;
    for n in nodes {
        n.stop().await;
    }
}
