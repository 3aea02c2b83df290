//! Servers given by host name: resolved at start through the configured resolver (here an
//! in-process server on loopback, so no query leaves the machine), probed at the addresses
//! found; a name that does not resolve is reported (status, metric) and never crashes.

mod support;

use support::{get_json, DaemonProc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_names_resolve_and_failures_are_reported() {
    // The lab serves example.cn: ns1.example.cn → 127.0.0.1, nope.example.cn does not exist.
    let lab = support::lab().await;
    let port = lab.local_addr().port();
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"200ms\"\ntick = \"1s\"\nresolvers = [\"{}\"]\n\n\
             [[institution]]\nname = \"Lab registrar\"\ntier = 1\n\
             \x20 [[institution.server]]\n  name = \"by-name\"\n  host = \"ns1.example.cn\"\n  port = {port}\n\
             \x20 [[institution.server]]\n  name = \"unresolvable\"\n  host = \"nope.example.cn\"\n  port = {port}\n\
             \x20 [[institution.check]]\n  name = \"www.example.cn\"\n  type = \"A\"\n  values = [\"192.0.2.1\"]\n",
            dir.path().join("state").display(),
            lab.local_addr()
        ),
    )
    .expect("write");
    let d = DaemonProc::start(&cfg, None, None);
    let want = format!("127.0.0.1:{port}");
    let mut status = serde_json::Value::Null;
    for _ in 0..100 {
        status = get_json(d.http, "/api/v1/status").await;
        let by_name = &status["resolution"]["institution/Lab registrar/by-name"];
        let probed = status["servers"].as_array().is_some_and(|s| {
            s.iter().any(|x| {
                x["server"] == "by-name"
                    && x["address"] == want.as_str()
                    && x["window"]["samples"].as_u64().unwrap_or(0) > 0
            })
        });
        if by_name["addresses"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == want.as_str()))
            && probed
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let by_name = &status["resolution"]["institution/Lab registrar/by-name"];
    assert!(
        by_name["addresses"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == want.as_str())),
        "{status:#}"
    );
    assert!(by_name["error"].is_null(), "{status:#}");
    let bad = &status["resolution"]["institution/Lab registrar/unresolvable"];
    assert!(
        bad["error"]
            .as_str()
            .is_some_and(|e| e.contains("nope.example.cn")),
        "{status:#}"
    );
    assert_eq!(bad["addresses"].as_array().map(|a| a.len()), Some(0));

    let (_, metrics) = support::http_get(d.http, "/metrics").await;
    assert!(metrics.contains("dnsgrade_server_addresses{class=\"institution\",object=\"Lab registrar\",server=\"unresolvable\"} 0"), "{metrics}");
    assert!(metrics.contains("dnsgrade_server_addresses{class=\"institution\",object=\"Lab registrar\",server=\"by-name\"} 1"), "{metrics}");
    assert!(metrics.contains("dnsgrade_resolve_failures_total{class=\"institution\",object=\"Lab registrar\",server=\"unresolvable\"}"), "{metrics}");
    // The daemon is still up and serving.
    assert_eq!(support::http_get(d.http, "/healthz").await.0, 200);
    drop(d);
    lab.stop().await;
}

/// When a host name's addresses change, the old address is no longer probed and leaves
/// /metrics entirely: its probe counters, latency histogram and data check counters as well as
/// its gauges (none would ever change again), while the new address is counted. The latency
/// histogram has no `role` label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_a_host_name_no_longer_has_leaves_the_metrics() {
    // TTL 1, so the daemon's resolver does not answer from its cache for minutes.
    let zone = |ns1: &str| {
        let text = support::ZONE
            .replace("$TTL 300", "$TTL 1")
            .replace("ns1     IN A   127.0.0.1", &format!("ns1     IN A   {ns1}"));
        dnsgrade::lab::Zone::parse("example.cn.", &text).expect("zone")
    };
    let lab = dnsgrade::lab::LabServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        vec![zone("127.0.0.1")],
    )
    .await
    .expect("lab");
    let port = lab.local_addr().port();
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"200ms\"\ntick = \"1s\"\nresolvers = [\"{}\"]\nresolve_interval = \"1s\"\n\n\
             [[institution]]\nname = \"Lab registrar\"\ntier = 1\n\
             \x20 [[institution.server]]\n  name = \"by-name\"\n  host = \"ns1.example.cn\"\n  port = {port}\n\
             \x20 [[institution.check]]\n  name = \"www.example.cn\"\n  type = \"A\"\n  values = [\"192.0.2.1\"]\n",
            dir.path().join("state").display(),
            lab.local_addr()
        ),
    )
    .expect("write");
    let d = DaemonProc::start(&cfg, None, None);
    let (old, new) = (
        format!("address=\"127.0.0.1:{port}\""),
        format!("address=\"127.0.0.2:{port}\""),
    );
    let families = [
        "dnsgrade_probes_total{",
        "dnsgrade_probe_duration_seconds_bucket{",
        "dnsgrade_data_checks_total{",
        "dnsgrade_window_samples{",
    ];
    let has = |metrics: &str, family: &str, address: &str| {
        metrics
            .lines()
            .any(|l| l.starts_with(family) && l.contains(address))
    };
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = support::http_get(d.http, "/metrics").await.1;
        if families.iter().all(|f| has(&metrics, f, &old)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for f in families {
        assert!(
            has(&metrics, f, &old),
            "{f} of the first address: {metrics}"
        );
    }
    assert!(
        metrics
            .lines()
            .filter(|l| l.starts_with("dnsgrade_probe_duration_seconds"))
            .all(|l| !l.contains("role=")),
        "the latency histogram has no role label: {metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("dnsgrade_probes_total{") && l.contains("role=\"plain\"")),
        "the probe counters keep their role: {metrics}"
    );

    lab.set_zones(vec![zone("127.0.0.2")]);
    for _ in 0..100 {
        metrics = support::http_get(d.http, "/metrics").await.1;
        if !metrics.contains(&old) && has(&metrics, "dnsgrade_probes_total{", &new) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let stale: Vec<&str> = metrics.lines().filter(|l| l.contains(&old)).collect();
    assert!(
        stale.is_empty(),
        "no series of the old address remain: {stale:#?}"
    );
    assert!(
        has(&metrics, "dnsgrade_probes_total{", &new),
        "the new address is counted: {metrics}"
    );
    let status = get_json(d.http, "/api/v1/status").await;
    assert!(
        status["servers"].as_array().is_some_and(|s| s
            .iter()
            .any(|x| x["address"] == format!("127.0.0.1:{port}") && x["active"] == false)),
        "the old address is shown inactive: {status:#}"
    );
    // A few more seconds of probing the new address re-create nothing of the old one.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let metrics = support::http_get(d.http, "/metrics").await.1;
    assert!(!metrics.contains(&old), "{metrics}");
    drop(d);
    lab.stop().await;
}
