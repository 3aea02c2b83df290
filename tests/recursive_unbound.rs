//! A real Unbound (Debian's package, started by scripts/unbound-lab.sh on 127.0.0.1 and
//! stopped by its PID) resolving a stub zone from an in-process authoritative server. dnsgrade
//! probes it as a telecom operator's resolver: cached names test the front end, cache-busting
//! names (a random label under the canary zone) test real recursion. Stopping the
//! authoritative side makes cache-busting probes fail while cached names still answer, and the
//! status shows the two apart.

mod support;

use std::time::Duration;
use support::{get_json, DaemonProc};

/// The Unbound process, killed by its PID when dropped.
struct Unbound {
    pid: i32,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg(self.pid.to_string())
            .status();
    }
}

fn free_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = s.local_addr().expect("addr").port();
    // The TCP side must be free too.
    let _t = std::net::TcpListener::bind(("127.0.0.1", port)).expect("tcp free");
    port
}

fn role_counts(status: &serde_json::Value, role: &str) -> (u64, u64) {
    let s = &status["servers"][0]["roles"][role];
    (
        s["success"]["num"].as_u64().unwrap_or(0),
        s["samples"].as_u64().unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_busting_fails_when_the_authority_stops_while_cached_names_still_answer() {
    let auth = support::lab().await;
    let dir = tempfile::tempdir().expect("tmp");
    let port = free_port();
    let out = std::process::Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/unbound-lab.sh"
        ))
        .arg("start")
        .arg(dir.path().join("unbound"))
        .arg(port.to_string())
        .arg("example.cn")
        .arg(format!("127.0.0.1@{}", auth.local_addr().port()))
        .output()
        .expect("start unbound");
    assert!(
        out.status.success(),
        "unbound did not start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _unbound = Unbound {
        pid: String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pid"),
    };

    // Unbound answers once it is up.
    let resolver: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let prober = dnsgrade::probe::Prober::new(Default::default())
        .await
        .expect("prober");
    let q = dnsgrade::probe::Question {
        qname: "www.example.cn.".parse().expect("name"),
        qtype: hickory_proto::rr::RecordType::A,
        recursion_desired: true,
        dnssec_ok: false,
    };
    let mut up = false;
    for _ in 0..50 {
        if prober
            .probe(resolver, &q, dnsgrade::config::Transport::Udp)
            .await
            .failure()
            .is_none()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        up,
        "unbound answers on {resolver}: {}",
        std::fs::read_to_string(dir.path().join("unbound/unbound.out")).unwrap_or_default()
    );

    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"200ms\"\ntick = \"1s\"\nstop_window = \"10s\"\n\n\
             [[recursive]]\noperator = \"Lab operator\"\nname = \"gd-resolvers\"\nscope = \"province\"\nprovince = \"广东\"\n\
             cached_names = [\"www.example.cn\"]\ncanary_zone = \"canary.example.cn\"\n\
             \x20 [[recursive.server]]\n  name = \"unbound\"\n  addresses = [\"{resolver}\"]\n",
            dir.path().join("state").display()
        ),
    )
    .expect("write config");
    let d = DaemonProc::start(&cfg, None, None);

    // Both kinds succeed while the authority answers.
    let mut status = serde_json::Value::Null;
    for _ in 0..100 {
        status = get_json(d.http, "/api/v1/status").await;
        let (c_ok, c_n) = role_counts(&status, "cached");
        let (b_ok, b_n) = role_counts(&status, "cache_busting");
        if c_n >= 5 && b_n >= 5 && c_ok == c_n && b_ok == b_n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (c_ok, c_n) = role_counts(&status, "cached");
    let (b_ok, b_n) = role_counts(&status, "cache_busting");
    assert!(c_n >= 5 && c_ok == c_n, "cached all succeed: {status:#}");
    assert!(
        b_n >= 5 && b_ok == b_n,
        "cache-busting all succeed: {status:#}"
    );

    // The authoritative server stops (its port closes): new random names cannot be resolved,
    // cached ones can.
    auth.stop().await;
    let mut seen = false;
    for _ in 0..400 {
        status = get_json(d.http, "/api/v1/status").await;
        let busting = &status["servers"][0]["roles"]["cache_busting"]["outcomes"];
        let failed =
            busting["servfail"].as_u64().unwrap_or(0) + busting["timeout"].as_u64().unwrap_or(0);
        let (c_ok2, c_n2) = role_counts(&status, "cached");
        if failed >= 3
            && busting["servfail"].as_u64().unwrap_or(0) >= 1
            && c_n2 > c_n + 5
            && c_ok2 == c_n2
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        seen,
        "cache-busting fails (SERVFAIL/timeout) while cached names answer: {status:#}"
    );
    let busting = &status["servers"][0]["roles"]["cache_busting"]["outcomes"];
    assert!(
        busting["servfail"].as_u64().unwrap_or(0) >= 1,
        "unbound reports SERVFAIL: {busting}"
    );
    // The resolver is not stopped (its front end answers), so the matrix grades nothing.
    let o = status["objects"]
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or_default();
    assert!(o["assessment"]["grade"].is_null(), "{o:#}");
    let (_, metrics) = support::http_get(d.http, "/metrics").await;
    assert!(
        metrics.contains("outcome=\"ok\",role=\"cached\""),
        "{metrics}"
    );
    assert!(metrics.contains("role=\"cache_busting\""), "{metrics}");
    drop(d);
}
