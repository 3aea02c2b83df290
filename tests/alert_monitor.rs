//! Monitor events through the real binary: when the control targets fail, the vantage point
//! is isolated and a signed `monitor.isolated` webhook goes out (not a level-I page); when
//! they answer again, `monitor.recovered`. All sockets are on loopback; time is simulated.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::sync::Arc;
use support::{eventually, get_json, DaemonProc, Receiver, ReceiverState, SimClock};

const SECRET: &str = "monitor-hook-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_and_recovery_are_delivered_as_monitor_events() {
    let start = |zone: &'static str| async move {
        LabServer::start(
            "127.0.0.1:0".parse().expect("addr"),
            vec![Zone::synthetic_tld(zone, 3)],
        )
        .await
        .expect("lab")
    };
    let node = start("cn.").await;
    let control = start(".").await;
    let refused = Faults {
        rcode: Some(hickory_proto::op::ResponseCode::Refused),
        rcode_ratio: 1.0,
        ..Faults::default()
    };
    // Everything fails, as when this vantage point is cut off.
    node.set_faults(refused.clone());
    control.set_faults(refused);
    let state = Arc::new(ReceiverState::default());
    let rx = Receiver::start("127.0.0.1:0".parse().expect("addr"), SECRET, state.clone()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"1s\"\n\n\
             [[alert.webhook]]\nname = \"noc\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n\n\
             [[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"{}\"]\n\n\
             [[control]]\nname = \"lab-root\"\n  [[control.server]]\n  name = \"c1\"\n  addresses = [\"{}\"]\n",
            dir.path().join("state").display(),
            rx.url(),
            node.local_addr(),
            control.local_addr()
        ),
    )
    .expect("write");
    let clock = SimClock::new(dir.path(), 1_700_000_000_000);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);
    let types = || -> Vec<String> {
        state
            .all()
            .into_iter()
            .filter(|r| r.answered == 200)
            .map(|r| r.event)
            .collect()
    };
    eventually(30, "monitor.isolated delivered", || {
        types().contains(&"monitor.isolated".to_string())
    })
    .await;
    let status = get_json(d.http, "/api/v1/status").await;
    assert_eq!(status["monitor"]["isolated"], true);
    // Grading is suspended: the refusing TLD node opens no incident (no level-I page).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let open = get_json(d.http, "/api/v1/incidents?state=all").await;
    assert_eq!(
        open["incidents"].as_array().map(Vec::len),
        Some(0),
        "{open:#}"
    );
    assert!(
        types().iter().all(|t| t.starts_with("monitor.")),
        "{:?}",
        types()
    );
    // The control targets answer again.
    control.set_faults(Faults::default());
    eventually(30, "monitor.recovered delivered", || {
        types().contains(&"monitor.recovered".to_string())
    })
    .await;
    let got = state.all();
    let isolated = got
        .iter()
        .find(|r| r.event == "monitor.isolated")
        .expect("isolated");
    assert!(isolated.signature_ok);
    assert_eq!(isolated.json["type"], "monitor.isolated");
    assert_eq!(isolated.json["monitor"]["isolated"], true);
    assert_eq!(isolated.json["monitor"]["control_addresses"], 1);
    assert!(isolated.delivery.contains("-me-"), "{}", isolated.delivery);
    // Grading resumed: the TLD node still refuses, so now its incident opens.
    eventually(30, "the TLD incident after recovery", || {
        types().contains(&"incident.opened".to_string())
    })
    .await;
    // Exactly one of each, in order.
    let monitor: Vec<String> = types()
        .into_iter()
        .filter(|t| t.starts_with("monitor."))
        .collect();
    assert_eq!(monitor, ["monitor.isolated", "monitor.recovered"]);
    drop(d);
    rx.stop().await;
    node.stop().await;
    control.stop().await;
}
