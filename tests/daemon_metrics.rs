//! `dnsgrade run` on a loopback config: the real binary probes in-process lab servers and
//! serves /metrics that Prometheus can scrape (checked with `promtool check metrics`, from
//! Debian's prometheus package, which scripts/test.sh installs).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The daemon child process, killed (by PID, through the handle) when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(config: &std::path::Path) -> (Daemon, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .args(["run", "--config"])
        .arg(config)
        .env("DNSGRADE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start dnsgrade");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    let addr = support::ready_address(&line);
    (Daemon(child), addr)
}

fn config_for(state: &std::path::Path, servers: &[(SocketAddr, &str)]) -> String {
    let mut s = format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"200ms\"\ntick = \"1s\"\nwindow = \"60s\"\nstop_window = \"10s\"\n\n",
        state.display()
    );
    s.push_str("[[institution]]\nname = \"Lab registrar\"\ntier = 1\n");
    for (addr, name) in servers {
        s.push_str(&format!(
            "  [[institution.server]]\n  name = \"{name}\"\n  addresses = [\"{addr}\"]\n"
        ));
    }
    s.push_str("  [[institution.check]]\n  name = \"www.example.cn\"\n  type = \"A\"\n  values = [\"192.0.2.1\"]\n");
    s.push_str("  [[institution.check]]\n  name = \"example.cn\"\n  type = \"SOA\"\n");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_metrics_that_promtool_accepts() {
    let good = support::lab().await;
    let broken = support::lab().await;
    broken.set_faults(dnsgrade::lab::Faults {
        rcode: Some(hickory_proto::op::ResponseCode::ServFail),
        rcode_ratio: 1.0,
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        config_for(
            &dir.path().join("state"),
            &[(good.local_addr(), "good"), (broken.local_addr(), "broken")],
        ),
    )
    .expect("write");
    let (_daemon, http) = start(&cfg);

    let (code, body) = support::http_get(http, "/healthz").await;
    assert_eq!((code, body.trim()), (200, "ok"));

    // Wait (bounded) until both servers have window figures: probes every 200 ms, tick 1 s.
    let mut metrics = String::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        metrics = support::http_get(http, "/metrics").await.1;
        if metrics.contains("dnsgrade_window_success_ratio{")
            && metrics.matches("dnsgrade_window_samples{").count() >= 2
        {
            break;
        }
    }
    let good_ok = format!(
        "dnsgrade_probes_total{{address=\"{}\",class=\"institution\",object=\"Lab registrar\",outcome=\"ok\",role=\"plain\",server=\"good\",transport=\"udp\"}}",
        good.local_addr()
    );
    assert!(metrics.contains(&good_ok), "{metrics}");
    // The prober's counters are brought up to date at each scrape, not only at each tick: no
    // probe is recorded before it is counted as sent.
    let sum = |prefix: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let (sent, recorded) = (
        sum("dnsgrade_probes_sent_total "),
        sum("dnsgrade_probes_total{"),
    );
    assert!(
        recorded > 0.0 && sent >= recorded,
        "sent {sent} < recorded {recorded}"
    );
    let broken_fail = format!(
        "dnsgrade_probes_total{{address=\"{}\",class=\"institution\",object=\"Lab registrar\",outcome=\"servfail\",role=\"plain\",server=\"broken\",transport=\"udp\"}}",
        broken.local_addr()
    );
    assert!(metrics.contains(&broken_fail), "{metrics}");
    assert!(
        !metrics.contains("outcome=\"ok\",role=\"plain\",server=\"broken\""),
        "a SERVFAIL server has no successes"
    );
    let point = |server: &str| -> f64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("dnsgrade_window_success_ratio{")
                    && l.contains("estimate=\"point\"")
                    && l.contains(&format!("server=\"{server}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no success ratio for {server}:\n{metrics}"))
    };
    assert_eq!(point("good"), 1.0);
    assert_eq!(point("broken"), 0.0);
    assert!(
        metrics.contains("dnsgrade_data_checks_total{") && metrics.contains("verdict=\"correct\""),
        "{metrics}"
    );
    assert!(
        !metrics.contains("www.example.cn"),
        "query names never appear in labels"
    );

    // The process's own figures (from /proc/self) and the build, with its source revision.
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name}:\n{metrics}"))
    };
    assert!(value("process_resident_memory_bytes") > 1e6, "RSS in bytes");
    assert!(value("process_open_fds") >= 3.0);
    assert!(value("process_start_time_seconds") > 1.7e9, "a Unix time");
    let build = format!(
        "dnsgrade_build_info{{revision=\"{}\",version=\"{}\"}} 1",
        dnsgrade::metrics::REVISION,
        env!("CARGO_PKG_VERSION")
    );
    assert!(!dnsgrade::metrics::REVISION.is_empty());
    assert!(
        metrics.lines().any(|l| l == build),
        "{build} in:\n{metrics}"
    );

    // Every dnsgrade metric family has HELP text.
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("# TYPE dnsgrade_"))
    {
        let name = line.split_whitespace().nth(2).expect("name");
        assert!(
            metrics.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
    }

    // The exposition format passes promtool's checks.
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test.sh installs Debian's prometheus package)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(metrics.as_bytes())
        .expect("write");
    let out = promtool.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // /api/v1/status shows per-server window figures.
    let (code, body) = support::http_get(http, "/api/v1/status").await;
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let servers = v["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 2);
    good.stop().await;
    broken.stop().await;
}

#[test]
fn run_with_a_bad_config_exits_78_before_binding() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(&cfg, "[daemon]\nlisten = \"127.0.0.1:0\"\nbogus = 1\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("probes.toml:3:1: unknown field `bogus`"));
}
