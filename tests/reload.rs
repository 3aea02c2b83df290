//! Reload through the real binary: `dnsgrade run` gets SIGHUP (what `systemctl reload`
//! sends) and `POST /-/reload`.
//!
//! Two TLDs go dark and open level-I incidents. A valid change (the second TLD removed, a new
//! one added) is applied on SIGHUP: the unchanged TLD keeps its incident, its id, its
//! timeline and its window; the removed one's incident resolves with the reason; the new one
//! is probed and graded. A broken file is refused: the error is logged with its file, line
//! and column, counted, and the old configuration keeps running. The API answers the same
//! outcomes, and a `[daemon]` change is refused as needing a restart. Time is simulated
//! through the clock file; every socket is on loopback.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::path::Path;
use std::time::Duration;
use support::{get_json, http_get, http_post, level, wait_object, DaemonProc, SimClock};

const START: u64 = 1_700_000_000_000;
const TOKEN: &str = "reload-test-token-7d1e";

/// Three lab nodes serving a synthetic `apex`; `dark` makes every one refuse.
async fn nodes(apex: &str, dark: bool) -> Vec<LabServer> {
    let zone = Zone::synthetic_tld(apex, 5);
    let mut out = Vec::new();
    for _ in 0..3 {
        let n = LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone.clone()])
            .await
            .expect("lab");
        if dark {
            n.set_faults(Faults {
                rcode: Some(hickory_proto::op::ResponseCode::Refused),
                rcode_ratio: 1.0,
                ..Faults::default()
            });
        }
        out.push(n);
    }
    out
}

fn tld(name: &str, nodes: &[LabServer]) -> String {
    let mut s = format!("[[tld]]\nname = \"{name}\"\n");
    for (i, n) in nodes.iter().enumerate() {
        s += &format!(
            "  [[tld.node]]\n  name = \"n{i}\"\n  addresses = [\"{}\"]\n",
            n.local_addr()
        );
    }
    s
}

fn write_config(path: &Path, state: &Path, tick: &str, tlds: &[String]) {
    let text = format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"{tick}\"\napi_token = \"env:DNSGRADE_API_TOKEN\"\n\n{}",
        state.display(),
        tlds.join("\n")
    );
    std::fs::write(path, text).expect("config");
}

/// The value of one series in /metrics.
async fn metric(d: &DaemonProc, series: &str) -> Option<f64> {
    let (_, text) = http_get(d.http, "/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
}

/// Moves simulated time on by `secs` seconds, one second per 100 ms of real time.
async fn run_for(clock: &SimClock, secs: u64) {
    for _ in 0..secs {
        clock.advance(1_000);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (real time) until `series` reads `value`.
async fn wait_metric(d: &DaemonProc, series: &str, value: f64) {
    for _ in 0..200 {
        if metric(d, series).await == Some(value) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{series} never read {value}: {:?}", metric(d, series).await);
}

async fn open_incident(d: &DaemonProc, object: &str) -> serde_json::Value {
    let open = get_json(d.http, "/api/v1/incidents").await;
    open["incidents"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["object"] == object))
        .cloned()
        .unwrap_or_else(|| panic!("no open incident of {object}: {open:#}"))
}

fn objects(status: &serde_json::Value) -> Vec<String> {
    status["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["class"].as_str().unwrap_or("?"),
                o["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// The window sample count of the address of node n0 of `object`.
async fn samples(d: &DaemonProc, object: &str, addr: std::net::SocketAddr) -> u64 {
    let status = get_json(d.http, "/api/v1/status").await;
    status["servers"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|s| s["object"] == object && s["address"] == addr.to_string())
        })
        .and_then(|s| s["window"]["samples"].as_u64())
        .unwrap_or_else(|| panic!("no server of {object} at {addr}: {status:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_valid_change_and_refuses_a_broken_file() {
    let cn = nodes("cn.", true).await;
    let zg_nodes = nodes("xn--fiqs8s.", true).await;
    let cm = nodes("cm.", false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let (cfg, state, log) = (
        dir.path().join("probes.toml"),
        dir.path().join("state"),
        dir.path().join("dnsgrade.log"),
    );
    write_config(
        &cfg,
        &state,
        "1s",
        &[tld("cn", &cn), tld("xn--fiqs8s", &zg_nodes)],
    );
    let clock = SimClock::new(dir.path(), START);
    let d = DaemonProc::start_logged(&cfg, Some(&clock.path), Some(TOKEN), &log);
    run_for(&clock, 20).await;
    for o in ["tld/cn", "tld/xn--fiqs8s"] {
        wait_object(d.http, o, START, "level I", |o| {
            level(o).as_deref() == Some("I")
        })
        .await;
    }
    let cn_before = open_incident(&d, "tld/cn").await;
    let zg_id = open_incident(&d, "tld/xn--fiqs8s").await["id"]
        .as_i64()
        .expect("id");
    let cn_id = cn_before["id"].as_i64().expect("id");
    let cn_timeline =
        get_json(d.http, &format!("/api/v1/incidents/{cn_id}")).await["timeline"].clone();
    let cn_samples = samples(&d, "cn", cn[0].local_addr()).await;
    assert!(cn_samples > 0);

    // A valid change: xn--fiqs8s removed, cm added, cn as it was.
    write_config(&cfg, &state, "1s", &[tld("cn", &cn), tld("cm", &cm)]);
    d.hup();
    wait_metric(&d, "dnsgrade_config_reload_total{result=\"applied\"}", 1.0).await;
    assert_eq!(
        metric(&d, "dnsgrade_config_last_reload_successful").await,
        Some(1.0)
    );
    run_for(&clock, 3).await;
    wait_object(d.http, "tld/cm", START, "cm graded", |o| {
        o["assessment"].is_object()
    })
    .await;
    assert!(
        samples(&d, "cm", cm[0].local_addr()).await > 0,
        "the new TLD is probed"
    );
    let status = get_json(d.http, "/api/v1/status").await;
    let names = objects(&status);
    assert!(names.contains(&"tld/cm".to_string()), "{names:?}");
    assert!(!names.contains(&"tld/xn--fiqs8s".to_string()), "{names:?}");
    // The unchanged TLD: same incident, still level I, never clearing, its window kept.
    let cn_after = open_incident(&d, "tld/cn").await;
    assert_eq!(cn_after["id"], cn_before["id"]);
    assert!(cn_after["clearing_since"].is_null(), "{cn_after:#}");
    let detail = get_json(d.http, &format!("/api/v1/incidents/{cn_id}")).await;
    assert_eq!(
        detail["timeline"], cn_timeline,
        "no event on the unchanged object"
    );
    assert!(
        samples(&d, "cn", cn[0].local_addr()).await >= cn_samples,
        "the window of an unchanged server is kept"
    );
    // The removed TLD: its incident resolved with the reason, its grade series gone.
    let zg = get_json(d.http, &format!("/api/v1/incidents/{zg_id}")).await;
    assert_eq!(zg["incident"]["state"], "resolved", "{zg:#}");
    let last = zg["timeline"]
        .as_array()
        .and_then(|t| t.last())
        .cloned()
        .expect("events");
    assert_eq!(last["type"], "incident.resolved", "{last:#}");
    assert!(
        last.to_string().contains("removed from the configuration"),
        "{last:#}"
    );
    let (_, text) = http_get(d.http, "/metrics").await;
    assert!(
        !text.contains("dnsgrade_object_grade{class=\"tld\",object=\"xn--fiqs8s\"}"),
        "no grade series for a removed object"
    );
    assert!(text.contains("dnsgrade_object_grade{class=\"tld\",object=\"cm\"} 0"));
    let logged = std::fs::read_to_string(&log).expect("log");
    assert!(logged.contains("configuration reloaded"), "{logged}");

    // A broken file: refused, logged with file:line:col, counted; the old one keeps running.
    let good = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(&cfg, good.replace("tick = \"1s\"", "tick = \"soon\"")).expect("config");
    d.hup();
    wait_metric(&d, "dnsgrade_config_reload_total{result=\"invalid\"}", 1.0).await;
    assert_eq!(
        metric(&d, "dnsgrade_config_last_reload_successful").await,
        Some(0.0)
    );
    run_for(&clock, 2).await;
    let logged = std::fs::read_to_string(&log).expect("log");
    let at = format!("{}:5:", cfg.display());
    assert!(
        logged
            .lines()
            .any(|l| l.contains("reload refused") && l.contains(&at)),
        "the error is logged with file:line:col ({at}):\n{logged}"
    );
    assert!(objects(&get_json(d.http, "/api/v1/status").await).contains(&"tld/cm".to_string()));
    assert_eq!(open_incident(&d, "tld/cn").await["id"], cn_before["id"]);

    // The same through the API: token required; invalid → 422 with the errors.
    let (code, _) = http_post(d.http, "/-/reload", None, "").await;
    assert_eq!(code, 401);
    let (code, body) = http_post(d.http, "/-/reload", Some(TOKEN), "").await;
    assert_eq!(code, 422, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["result"], "invalid");
    assert!(v["errors"][0].as_str().unwrap_or("").contains(&at), "{v:#}");
    // Back to the running configuration: unchanged.
    std::fs::write(&cfg, &good).expect("config");
    let (code, body) = http_post(d.http, "/-/reload", Some(TOKEN), "").await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"unchanged\""), "{body}");
    // A changed object (cm loses node n2): restarted, n0 keeps its window, n2 is retired.
    let n0_samples = samples(&d, "cm", cm[0].local_addr()).await;
    write_config(&cfg, &state, "1s", &[tld("cn", &cn), tld("cm", &cm[..2])]);
    let (code, body) = http_post(d.http, "/-/reload", Some(TOKEN), "").await;
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["result"], "applied", "{v:#}");
    assert_eq!(v["changed"], serde_json::json!(["tld/cm"]), "{v:#}");
    assert_eq!(v["added"], serde_json::json!([]), "{v:#}");
    run_for(&clock, 2).await;
    assert!(samples(&d, "cm", cm[0].local_addr()).await >= n0_samples);
    let status = get_json(d.http, "/api/v1/status").await;
    let n2 = status["servers"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|s| s["address"] == cm[2].local_addr().to_string())
        })
        .cloned()
        .expect("n2 in the status");
    assert_eq!(n2["active"], false, "{n2:#}");
    // The gauges go at the next tick (every second of real time).
    let retired = format!("address=\"{}\"", cm[2].local_addr());
    let mut left = Vec::new();
    for _ in 0..40 {
        let (_, text) = http_get(d.http, "/metrics").await;
        left = text
            .lines()
            .filter(|l| l.contains(&retired))
            .map(str::to_string)
            .collect();
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(left.is_empty(), "no series of a retired address: {left:#?}");
    assert_eq!(open_incident(&d, "tld/cn").await["id"], cn_before["id"]);
    // A [daemon] setting only a restart can change.
    write_config(&cfg, &state, "2s", &[tld("cn", &cn), tld("cm", &cm[..2])]);
    let (code, body) = http_post(d.http, "/-/reload", Some(TOKEN), "").await;
    assert_eq!(code, 422, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["result"], "restart_required");
    assert!(
        v["errors"][0].as_str().unwrap_or("").contains("tick"),
        "{v:#}"
    );
    assert_eq!(
        metric(
            &d,
            "dnsgrade_config_reload_total{result=\"restart_required\"}"
        )
        .await,
        Some(1.0)
    );
    assert_eq!(open_incident(&d, "tld/cn").await["id"], cn_before["id"]);
    drop(d);
    for n in cn.into_iter().chain(cm) {
        n.stop().await;
    }
}
