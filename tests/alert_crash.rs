//! The outbox through the real binary: an incident that opens while the webhook receiver is
//! down survives `kill -9` of `dnsgrade run` and is delivered after the restart; and an event
//! that no receiver takes is given up after `give_up_after`, which the API and the metrics
//! show (never the secret). Time is simulated through the clock file; every socket is on
//! loopback.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::sync::Arc;
use std::time::Duration;
use support::{
    eventually, get_json, level, wait_object, DaemonProc, Receiver, ReceiverState, SimClock,
};

const SECRET_ENV: &str = "DNSGRADE_TEST_CRASH_HOOK_SECRET";
const SECRET: &str = "crash-test-secret-9b1e";
const START: u64 = 1_700_000_000_000;

/// A TLD node that refuses everything: the TLD system is stopped (level I) as soon as a
/// handful of probes failed.
async fn refusing_node() -> LabServer {
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
    node
}

fn write_config(
    dir: &std::path::Path,
    node: std::net::SocketAddr,
    hook: &str,
    give_up: &str,
) -> std::path::PathBuf {
    let cfg = dir.join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"1s\"\n\n\
             [alert]\ngive_up_after = \"{give_up}\"\n\n\
             [[alert.webhook]]\nname = \"noc\"\nurl = \"{hook}\"\nsecret_env = \"{SECRET_ENV}\"\ntimeout = \"2s\"\n\n\
             [[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"{node}\"]\n",
            dir.join("state").display()
        ),
    )
    .expect("write config");
    cfg
}

async fn down_receiver() -> std::net::SocketAddr {
    let r = Receiver::start("127.0.0.1:0".parse().expect("addr"), SECRET, Arc::default()).await;
    let a = r.addr;
    r.stop().await;
    a
}

async fn outbox_sink(d: &DaemonProc) -> serde_json::Value {
    get_json(d.http, "/api/v1/outbox").await["sinks"][0].clone()
}

async fn wait_sink(
    d: &DaemonProc,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..300 {
        last = outbox_sink(d).await;
        if pred(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for the outbox: {what}\nlast: {last:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_event_written_before_kill_9_is_delivered_after_the_restart() {
    std::env::set_var(SECRET_ENV, SECRET);
    let node = refusing_node().await;
    let hook = down_receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(
        dir.path(),
        node.local_addr(),
        &format!("http://{hook}/hook"),
        "24h",
    );
    let clock = SimClock::new(dir.path(), START);

    // The incident opens while the receiver is down: written, attempted, not delivered.
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    wait_object(d.http, "tld/cn", START, "level I", |o| {
        level(o).as_deref() == Some("I")
    })
    .await;
    let sink = wait_sink(&d, "a failed attempt", |s| {
        s["pending"] == 1 && s["pending_attempts"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    assert_eq!(sink["delivered"], 0);
    assert!(sink["last_error"].is_string(), "{sink:#}");
    let open = get_json(d.http, "/api/v1/incidents").await;
    let incidents = open["incidents"].as_array().cloned().unwrap_or_default();
    assert_eq!(incidents.len(), 1, "{open:#}");
    let id = incidents[0]["id"].as_i64().expect("id");
    // Neither the API nor the metrics ever show the secret.
    let (_, outbox_text) = support::http_get(d.http, "/api/v1/outbox").await;
    let (_, metrics) = support::http_get(d.http, "/metrics").await;
    assert!(!outbox_text.contains(SECRET) && !metrics.contains(SECRET));
    assert!(
        metrics.contains("dnsgrade_outbox_depth{sink=\"noc\"} 1"),
        "{metrics}"
    );

    // Crash.
    d.kill9();

    // The receiver comes back, then the daemon; a few simulated seconds let the backoff pass.
    let state = Arc::new(ReceiverState::default());
    let rx = Receiver::start(hook, SECRET, state.clone()).await;
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    clock.advance(10_000);
    eventually(30, "the event is delivered after the restart", || {
        !state.delivered_ids().is_empty()
    })
    .await;
    let got = state.all();
    let first = &got[0];
    assert!(
        first.signature_ok,
        "signed with the secret from the environment"
    );
    assert_eq!(first.event, "incident.opened");
    assert_eq!(first.json["type"], "incident.opened");
    assert_eq!(first.json["incident"]["id"], id);
    assert_eq!(first.json["incident"]["grade"]["level"], "I");
    assert_eq!(first.json["incident"]["grade"]["zh"], "特别重大");
    assert_eq!(first.json["incident"]["authority"]["lead"], "互联网应急办");
    assert_eq!(first.json["drill"], false);
    assert!(first.delivery.ends_with("-ie-1"), "{}", first.delivery);
    let sink = wait_sink(&d, "delivered", |s| {
        s["delivered"] == 1 && s["pending"] == 0
    })
    .await;
    assert_eq!(sink["given_up"], 0);
    // The restart neither lost nor duplicated the incident.
    let all = get_json(d.http, "/api/v1/incidents?state=all").await;
    assert_eq!(
        all["incidents"].as_array().map(Vec::len),
        Some(1),
        "{all:#}"
    );
    // Every request carried the same delivery id (at least once, never a second event).
    assert!(got.iter().all(|r| r.delivery == first.delivery), "{got:#?}");
    drop(d);
    rx.stop().await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_up_event_is_counted_and_listed_in_the_api() {
    std::env::set_var(SECRET_ENV, SECRET);
    let node = refusing_node().await;
    let hook = down_receiver().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(
        dir.path(),
        node.local_addr(),
        &format!("http://{hook}/hook"),
        "1m",
    );
    let clock = SimClock::new(dir.path(), START);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    wait_object(d.http, "tld/cn", START, "level I", |o| {
        level(o).as_deref() == Some("I")
    })
    .await;
    wait_sink(&d, "a failed attempt", |s| {
        s["pending_attempts"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    // 61 simulated seconds later the next failure gives the event up.
    clock.advance(61_000);
    let sink = wait_sink(&d, "given up", |s| s["given_up"] == 1).await;
    assert_eq!(sink["pending"], 0);
    let v = get_json(d.http, "/api/v1/outbox").await;
    assert_eq!(v["give_up_after_s"], 60);
    let gone = &v["given_up"][0];
    assert_eq!(gone["sink"], "noc");
    assert_eq!(gone["type"], "incident.opened");
    assert!(
        gone["delivery_id"]
            .as_str()
            .is_some_and(|k| k.ends_with("-ie-1")),
        "{v:#}"
    );
    assert!(gone["attempts"].as_u64().unwrap_or(0) >= 2);
    let (_, metrics) = support::http_get(d.http, "/metrics").await;
    assert!(
        metrics.contains("dnsgrade_outbox_given_up_total{sink=\"noc\"} 1"),
        "{metrics}"
    );
    assert!(metrics
        .contains("dnsgrade_outbox_delivery_failures_total{reason=\"connect\",sink=\"noc\"}"));
    assert!(!metrics.contains(SECRET) && !v.to_string().contains(SECRET));
    drop(d);
    node.stop().await;
}
