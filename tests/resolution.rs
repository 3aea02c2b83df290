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
