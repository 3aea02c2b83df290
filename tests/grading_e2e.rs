//! End to end through `dnsgrade run`: in-process fault-injecting servers on 127.0.0.1, the real
//! binary, simulated time through DNSGRADE_TEST_CLOCK_FILE, and the HTTP API. Faults that make a
//! server stop answering use REFUSED for every query (a server that refuses everything has
//! stopped resolving) so that no step waits for real probe timeouts.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use hickory_proto::op::ResponseCode;
use std::net::SocketAddr;
use std::path::Path;
use support::{get_json, level, wait_object, DaemonProc, SimClock};

const T0: u64 = 1_800_000_000_000;
const MIN: u64 = 60_000;
const TOKEN: &str = "test-token-123";

fn refusing() -> Faults {
    Faults {
        rcode: Some(ResponseCode::Refused),
        rcode_ratio: 1.0,
        ..Faults::default()
    }
}

async fn servers(n: usize, zone: impl Fn() -> Zone) -> Vec<LabServer> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(
            LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone()])
                .await
                .expect("lab"),
        );
    }
    v
}

fn daemon_section(state: &Path) -> String {
    format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"1s\"\nglobal_rate = 2000\nper_server_rate = 200\napi_token = \"env:DNSGRADE_API_TOKEN\"\n\n",
        state.display()
    )
}

fn server_list(table: &str, addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .enumerate()
        .map(|(i, a)| format!("  [[{table}]]\n  name = \"n{i}\"\n  addresses = [\"{a}\"]\n"))
        .collect()
}

fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let p = dir.join("probes.toml");
    std::fs::write(&p, format!("{}{body}", daemon_section(&dir.join("state"))))
        .expect("write config");
    // The config reads api_token from DNSGRADE_API_TOKEN, which must be set to load it here
    // as it is in the daemon's environment (DaemonProc::start sets it there).
    std::env::set_var("DNSGRADE_API_TOKEN", TOKEN);
    dnsgrade::config::load(&p).unwrap_or_else(|e| panic!("test config invalid: {e}"));
    p
}

async fn incidents(d: &DaemonProc, state: &str) -> Vec<serde_json::Value> {
    get_json(d.http, &format!("/api/v1/incidents?state={state}")).await["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tld_nodes_stopping_grade_iii_ii_i_and_recovery_resolves() {
    let nodes = servers(5, || Zone::synthetic_tld("cn.", 10)).await;
    let dir = tempfile::tempdir().expect("tmp");
    let addrs: Vec<SocketAddr> = nodes.iter().map(|s| s.local_addr()).collect();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[tld]]\nname = \"cn\"\n{}",
            server_list("tld.node", &addrs)
        ),
    );
    let clock = SimClock::new(dir.path(), T0);
    let d = DaemonProc::start(&cfg, Some(&clock.path), Some(TOKEN));

    // Healthy: enough samples on every node, no grade.
    let o = wait_object(d.http, "tld/cn", T0, "healthy with samples", |o| {
        o["assessment"]["evidence"].as_array().is_some_and(|e| {
            e.len() == 5 && e.iter().all(|s| s["samples"].as_u64().unwrap_or(0) >= 30)
        })
    })
    .await;
    assert_eq!(level(&o), None);

    // 1 of 5 nodes stops → III (fewer than half the nodes bad), led by 互联网应急办.
    // Faults first, then the clock: a reply served before the fault must carry the old time,
    // or, with time frozen, it would count as a recent success for ever.
    nodes[0].set_faults(refusing());
    clock.advance(301_000);
    let o = wait_object(d.http, "tld/cn", clock.now.get(), "level III", |o| {
        level(o).as_deref() == Some("III")
    })
    .await;
    assert_eq!(o["assessment"]["rule"], "tld.bad_nodes_some");
    assert_eq!(o["assessment"]["authority"]["lead_zh"], "互联网应急办");
    let open = incidents(&d, "open").await;
    assert_eq!(open.len(), 1, "{open:#?}");
    let id = open[0]["id"].as_i64().expect("id");

    // 3 of 5 → II.
    nodes[1].set_faults(refusing());
    nodes[2].set_faults(refusing());
    clock.advance(301_000);
    wait_object(d.http, "tld/cn", clock.now.get(), "level II", |o| {
        level(o).as_deref() == Some("II")
    })
    .await;

    // All 5 → I: the TLD system stopped.
    nodes[3].set_faults(refusing());
    nodes[4].set_faults(refusing());
    clock.advance(301_000);
    let o = wait_object(d.http, "tld/cn", clock.now.get(), "level I", |o| {
        level(o).as_deref() == Some("I")
    })
    .await;
    assert_eq!(o["assessment"]["rule"], "tld.system_stopped");
    let open = incidents(&d, "open").await;
    assert_eq!(open.len(), 1, "one incident per object, escalated in place");
    assert_eq!(open[0]["id"].as_i64(), Some(id));
    assert_eq!(open[0]["max_grade"]["level"], "I");

    // Recovery: healthy again, then clear_after (300 s) of health resolves the incident.
    for n in &nodes {
        n.set_faults(Faults::default());
    }
    clock.advance(301_000);
    wait_object(d.http, "tld/cn", clock.now.get(), "healthy again", |o| {
        level(o).is_none()
            && o["assessment"]["evidence"]
                .as_array()
                .is_some_and(|e| e.iter().all(|s| s["samples"].as_u64().unwrap_or(0) >= 30))
    })
    .await;
    clock.advance(301_000);
    let mut resolved = false;
    for _ in 0..100 {
        let all = incidents(&d, "all").await;
        if all
            .iter()
            .any(|i| i["id"].as_i64() == Some(id) && i["state"] == "resolved")
        {
            resolved = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        resolved,
        "incident {id} resolved after clear_after of health"
    );
    let detail = get_json(d.http, &format!("/api/v1/incidents/{id}")).await;
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    for k in ["incident.opened", "incident.escalated", "incident.resolved"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    drop(d);
    for n in nodes {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier1_institution_stopped_is_ii_with_candidate_i_until_a_person_confirms() {
    let ns = servers(2, || Zone::synthetic_tld("example.cn.", 2)).await;
    let dir = tempfile::tempdir().expect("tmp");
    let addrs: Vec<SocketAddr> = ns.iter().map(|s| s.local_addr()).collect();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[institution]]\nname = \"Registrar A\"\ntier = 1\n{}  [[institution.check]]\n  name = \"example.cn\"\n  type = \"SOA\"\n",
            server_list("institution.server", &addrs)
        ),
    );
    let clock = SimClock::new(dir.path(), T0);
    let d = DaemonProc::start(&cfg, Some(&clock.path), Some(TOKEN));
    wait_object(d.http, "institution/Registrar A", T0, "healthy", |o| {
        o["assessment"]["evidence"].as_array().is_some_and(|e| {
            e.len() == 2 && e.iter().all(|s| s["samples"].as_u64().unwrap_or(0) >= 30)
        })
    })
    .await;
    for n in &ns {
        n.set_faults(refusing());
    }
    clock.advance(301_000);
    let o = wait_object(
        d.http,
        "institution/Registrar A",
        clock.now.get(),
        "II with candidate I",
        |o| level(o).as_deref() == Some("II") && o["assessment"]["candidate"] == "I",
    )
    .await;
    assert_eq!(o["assessment"]["rule"], "institution.tier1_stopped");
    let open = incidents(&d, "open").await;
    let id = open[0]["id"].as_i64().expect("id");

    // The write API needs the token: none or a wrong one is 401, a bad body is 400 with a reason.
    let path = format!("/api/v1/incidents/{id}/ack");
    assert_eq!(
        support::http_post(d.http, &path, None, "{\"by\":\"x\"}")
            .await
            .0,
        401
    );
    assert_eq!(
        support::http_post(d.http, &path, Some("nope"), "{\"by\":\"x\"}")
            .await
            .0,
        401
    );
    let (code, body) = support::http_post(d.http, &path, Some(TOKEN), "{\"who\":\"x\"}").await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("bad request body"), "{body}");
    let (code, _) = support::http_post(
        d.http,
        "/api/v1/incidents/999/ack",
        Some(TOKEN),
        "{\"by\":\"x\"}",
    )
    .await;
    assert_eq!(code, 404);
    let api = format!("http://{}", d.http);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .args([
            "incidents",
            "confirm-impact",
            &id.to_string(),
            "--by",
            "duty officer",
            "--api",
            &api,
            "--token",
            "wrong",
        ])
        .output()
        .expect("cli");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .args([
            "incidents",
            "confirm-impact",
            &id.to_string(),
            "--by",
            "duty officer",
            "--api",
            &api,
            "--token",
            TOKEN,
        ])
        .output()
        .expect("cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("incident.impact_confirmed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    clock.advance(1_000);
    let o = wait_object(
        d.http,
        "institution/Registrar A",
        clock.now.get(),
        "level I after confirmation",
        |o| level(o).as_deref() == Some("I"),
    )
    .await;
    assert!(o["assessment"]["candidate"].is_null());

    // The list shows it, acknowledged by name through the CLI.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .args([
            "incidents",
            "ack",
            &id.to_string(),
            "--by",
            "noc-alice",
            "--api",
            &api,
            "--token",
            TOKEN,
        ])
        .output()
        .expect("cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .args(["incidents", "list", "--api", &api])
        .output()
        .expect("cli");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("institution/Registrar A")
            && text.contains("特别重大")
            && text.contains("acked by noc-alice"),
        "{text}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .args(["incidents", "show", &id.to_string(), "--api", &api])
        .output()
        .expect("cli");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("timeline:")
            && text.contains("incident.opened")
            && text.contains("incident.acknowledged")
            && text.contains("rule: "),
        "{text}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .args(["incidents", "show", "999999", "--api", &api])
        .output()
        .expect("cli");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("404: incident 999999 not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(d);
    for n in ns {
        n.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_targets_cut_off_mean_monitor_isolated_and_no_incident() {
    let nodes = servers(3, || Zone::synthetic_tld("cn.", 10)).await;
    let controls = servers(2, || Zone::synthetic_tld("control.test.", 1)).await;
    let dir = tempfile::tempdir().expect("tmp");
    let n: Vec<SocketAddr> = nodes.iter().map(|s| s.local_addr()).collect();
    let c: Vec<SocketAddr> = controls.iter().map(|s| s.local_addr()).collect();
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[tld]]\nname = \"cn\"\n{}\n[[control]]\nname = \"lab-control\"\n{}  [[control.check]]\n  name = \"control.test\"\n  type = \"SOA\"\n",
            server_list("tld.node", &n),
            server_list("control.server", &c)
        ),
    );
    let clock = SimClock::new(dir.path(), T0);
    let d = DaemonProc::start(&cfg, Some(&clock.path), Some(TOKEN));
    wait_object(d.http, "tld/cn", T0, "healthy", |o| {
        o["assessment"]["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().all(|s| s["samples"].as_u64().unwrap_or(0) >= 30))
    })
    .await;
    // Everything — the TLD nodes and the controls — stops answering: it is us who are cut off.
    for s in nodes.iter().chain(controls.iter()) {
        s.set_faults(refusing());
    }
    clock.advance(301_000);
    let mut isolated = false;
    for _ in 0..150 {
        let v = get_json(d.http, "/api/v1/status").await;
        if v["monitor"]["isolated"] == true
            && v["evaluated_at_ms"].as_u64() >= Some(clock.now.get())
        {
            isolated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(isolated, "monitor isolated shown in the status");
    // A few more ticks while isolated: still no incident, and the metric says so.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert!(
        incidents(&d, "all").await.is_empty(),
        "no incident while the vantage point is cut off"
    );
    let (_, metrics) = support::http_get(d.http, "/metrics").await;
    assert!(metrics.contains("dnsgrade_vantage_isolated 1"), "{metrics}");
    drop(d);
    for s in nodes.into_iter().chain(controls) {
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provincial_resolver_outage_survives_sigkill_and_reaches_iii_at_60_minutes_from_onset() {
    let zone = || Zone::parse("example.cn.", support::ZONE).expect("zone");
    let resolvers = servers(1, zone).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(
        dir.path(),
        &format!(
            "[[recursive]]\noperator = \"Lab operator\"\nname = \"gd-resolvers\"\nscope = \"province\"\nprovince = \"广东\"\ncached_names = [\"www.example.cn\"]\ncanary_zone = \"canary.example.cn\"\n{}",
            server_list("recursive.server", &[resolvers[0].local_addr()])
        ),
    );
    let key = "recursive/gd-resolvers";
    let clock = SimClock::new(dir.path(), T0);
    let d = DaemonProc::start(&cfg, Some(&clock.path), Some(TOKEN));
    wait_object(d.http, key, T0, "healthy", |o| {
        o["assessment"]["evidence"][0]["samples"]
            .as_u64()
            .unwrap_or(0)
            >= 30
    })
    .await;

    // The resolver stops answering; 2 simulated minutes later it is stopped: level IV, with the
    // time it becomes III.
    resolvers[0].set_faults(refusing());
    clock.advance(2 * MIN);
    let o = wait_object(d.http, key, clock.now.get(), "level IV", |o| {
        level(o).as_deref() == Some("IV")
    })
    .await;
    let onset = o["assessment"]["onset"].as_u64().expect("onset");
    // The simulated clock jumped 2 minutes with the fault: the first probe that failed was
    // sent after the jump, and the onset is that probe, not the last success before it.
    assert!(
        (T0 + 2 * MIN..T0 + 3 * MIN).contains(&onset),
        "onset {onset} is the first failed probe after the last success"
    );
    assert_eq!(o["assessment"]["next_escalation"]["grade"], "III");
    assert_eq!(
        o["assessment"]["next_escalation"]["at"].as_u64(),
        Some(onset + 60 * MIN)
    );

    // 40 minutes in, the monitor is killed with SIGKILL.
    clock.set(onset + 40 * MIN);
    wait_object(d.http, key, clock.now.get(), "still IV at 40 min", |o| {
        level(o).as_deref() == Some("IV")
    })
    .await;
    let id = incidents(&d, "open").await[0]["id"].as_i64().expect("id");
    d.kill9();

    // Restarted on the same state directory, the clock goes on from the original onset.
    let d = DaemonProc::start(&cfg, Some(&clock.path), Some(TOKEN));
    clock.set(onset + 59 * MIN);
    let o = wait_object(d.http, key, clock.now.get(), "IV at 59 min", |o| {
        level(o).as_deref() == Some("IV") && o["assessment"]["onset"].is_u64()
    })
    .await;
    assert_eq!(
        o["assessment"]["onset"].as_u64(),
        Some(onset),
        "onset kept across the restart"
    );
    clock.set(onset + 61 * MIN);
    let o = wait_object(d.http, key, clock.now.get(), "III at 61 min", |o| {
        level(o).as_deref() == Some("III")
    })
    .await;
    assert_eq!(o["assessment"]["onset"].as_u64(), Some(onset));
    assert_eq!(o["assessment"]["authority"]["lead_zh"], "广东省通信管理局");
    let open = incidents(&d, "open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0]["id"].as_i64(),
        Some(id),
        "the same incident, resumed"
    );
    assert_eq!(open[0]["grade"]["level"], "III");
    drop(d);
    for r in resolvers {
        r.stop().await;
    }
}
