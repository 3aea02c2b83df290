//! The HTTP listener's limits through the real binary (docs/operations.md, "HTTP limits"):
//! under a slow-loris flood of silent connections, with the process held to 256 file
//! descriptors, `/metrics` keeps answering, the silent connections are closed after the header
//! deadline, the connection caps refuse the excess, and the probes of healthy servers over TCP
//! never fail for want of a descriptor. Request bodies must be JSON, small, and their texts
//! short. All sockets are on loopback (the flood comes from 127.0.0.2, the scraper from
//! 127.0.0.1).

mod support;

use dnsgrade::lab::{LabServer, Zone};
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::{get_json, http_get, http_post, DaemonProc};
use tokio::io::AsyncReadExt;

const TOKEN: &str = "limits-test-token";

fn zone() -> Zone {
    Zone::parse(
        "cn.",
        "$ORIGIN cn.\n$TTL 3600\n@ IN SOA a.dns.cn. h.cn. 1 7200 3600 2419200 300\n@ IN NS a.dns.cn.\na.dns IN A 127.0.0.1\n",
    )
    .expect("zone")
}

/// `dnsgrade run` on `cfg` with its descriptor limit, soft and hard, at `nofile`.
fn daemon_with_nofile(cfg: &std::path::Path, nofile: u64) -> DaemonProc {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"));
    cmd.args(["run", "--config"])
        .arg(cfg)
        .env("DNSGRADE_LOG", "warn")
        .env("DNSGRADE_API_TOKEN", TOKEN)
        .stdout(std::process::Stdio::piped());
    // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let r = libc::rlimit {
                rlim_cur: nofile,
                rlim_max: nofile,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    DaemonProc::spawn(cmd)
}

/// A silent client: connects from 127.0.0.2 and sends nothing.
async fn silent(to: std::net::SocketAddr) -> Option<tokio::net::TcpStream> {
    let s = tokio::net::TcpSocket::new_v4().ok()?;
    s.bind("127.0.0.2:0".parse().expect("addr")).ok()?;
    s.connect(to).await.ok()
}

/// Keeps `n` silent connections open until `stop`, opening a new one whenever the server
/// closes one (as a slow-loris attacker does).
async fn flood(to: std::net::SocketAddr, n: usize, stop: Arc<AtomicBool>) {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Some(mut s) = silent(to).await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let mut b = [0u8; 1];
                let _ = tokio::time::timeout(Duration::from_secs(1), s.read(&mut b)).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// The sum of the samples of `name` (the series name and its opening brace or a space) whose
/// labels include every one of `labels`.
fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_loris_flood_under_256_descriptors_leaves_metrics_and_probes_working() {
    let mut labs = Vec::new();
    for _ in 0..3 {
        labs.push(
            LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone()])
                .await
                .expect("lab"),
        );
    }
    let dir = tempfile::tempdir().expect("tmp");
    let nodes: String = labs
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "  [[tld.node]]\n  name = \"n{i}\"\n  addresses = [\"{}\"]\n",
                l.local_addr()
            )
        })
        .collect();
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\n\
             http_header_timeout = \"1s\"\napi_token = \"env:DNSGRADE_API_TOKEN\"\n\n\
             [[tld]]\nname = \"cn\"\n{nodes}\
               [[tld.check]]\n  name = \"cn\"\n  type = \"SOA\"\n\
               [[tld.check]]\n  name = \"cn\"\n  type = \"NS\"\n  tcp = true\n",
            dir.path().join("state").display()
        ),
    )
    .expect("write");
    let d = daemon_with_nofile(&cfg, 256);
    let stop = Arc::new(AtomicBool::new(false));
    let attack = tokio::spawn(flood(d.http, 300, stop.clone()));
    // The flood is in full swing: the scraper still gets every answer.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..10 {
        let (code, body) = http_get(d.http, "/metrics").await;
        assert_eq!(code, 200);
        assert!(body.contains("dnsgrade_probes_total"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // A silent connection admitted is closed once the header deadline passes.
    let mut held = None;
    for _ in 0..50 {
        if let Some(s) = silent(d.http).await {
            held = Some(s);
            break;
        }
    }
    let mut held = held.expect("a connection");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(15), held.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the server closes a silent connection");
    let (_, text) = http_get(d.http, "/metrics").await;
    stop.store(true, Ordering::Relaxed);
    let _ = attack.await;
    let refused = metric(
        &text,
        "dnsgrade_http_connections_refused_total{",
        &["reason=\"peer_limit\""],
    );
    assert!(
        refused > 0.0,
        "the cap per client address refused the excess"
    );
    let open = metric(&text, "dnsgrade_http_connections ", &[]);
    assert!(open <= 32.0, "at most an eighth of 256 descriptors: {open}");
    // The healthy nodes were probed over TCP all along, none failed locally or as the
    // server's fault.
    let probes = |outcome: &str, transport: &str| {
        let o = format!("outcome=\"{outcome}\"");
        let t = format!("transport=\"{transport}\"");
        metric(&text, "dnsgrade_probes_total{", &["object=\"cn\"", &o, &t])
    };
    assert!(probes("ok", "tcp") > 0.0, "probes over TCP answered");
    for bad in ["local_error", "network_error", "timeout"] {
        for transport in ["udp", "tcp"] {
            assert_eq!(
                probes(bad, transport),
                0.0,
                "{bad} {transport} probes of healthy nodes"
            );
        }
    }
    assert_eq!(
        metric(&text, "dnsgrade_probe_local_errors_total ", &[]),
        0.0
    );
    eprintln!(
        "under 256 descriptors and 300 silent connections: /metrics answered every time, \
         {open} connections open, {refused} refused by the per-address cap, {} TCP probes ok, \
         no local_error, network_error or timeout",
        probes("ok", "tcp")
    );
    let all = get_json(d.http, "/api/v1/incidents?state=all").await;
    assert_eq!(
        all["incidents"].as_array().map(Vec::len),
        Some(0),
        "{all:#}"
    );
    drop(d);
    for l in labs {
        l.stop().await;
    }
}

/// A raw request with `content_type` and `body`, for what the support client cannot send.
async fn raw_post(addr: std::net::SocketAddr, path: &str, content_type: &str, body: &str) -> u16 {
    use tokio::io::AsyncWriteExt;
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(req.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_must_be_json_small_and_its_texts_short() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\napi_token = \"env:DNSGRADE_API_TOKEN\"\n\n\
             [[control]]\nname = \"c\"\n  [[control.server]]\n  name = \"c1\"\n  addresses = [\"127.0.0.1:9\"]\n",
            dir.path().join("state").display()
        ),
    )
    .expect("write");
    let d = DaemonProc::start(&cfg, None, Some(TOKEN));
    let ack = "/api/v1/incidents/7/ack";
    let name = "{\"by\":\"noc-1\"}";
    assert_eq!(raw_post(d.http, ack, "text/plain", name).await, 415);
    assert_eq!(
        raw_post(d.http, ack, "application/x-www-form-urlencoded", name).await,
        415
    );
    // The body is checked, then the incident is looked up: there is none.
    assert_eq!(
        raw_post(d.http, ack, "application/json; charset=utf-8", name).await,
        404
    );
    assert_eq!(raw_post(d.http, ack, "Application/JSON", name).await, 404);
    let long_by = format!("{{\"by\":\"{}\"}}", "x".repeat(129));
    let (code, body) = http_post(d.http, ack, Some(TOKEN), &long_by).await;
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("\\\"by\\\" is longer than 128"), "{body}");
    let long_note = format!("{{\"by\":\"noc-1\",\"note\":\"{}\"}}", "y".repeat(4097));
    assert_eq!(http_post(d.http, ack, Some(TOKEN), &long_note).await.0, 400);
    let huge = format!("{{\"by\":\"{}\"}}", "z".repeat(1 << 20));
    assert_eq!(raw_post(d.http, ack, "application/json", &huge).await, 413);
    // Reads and body-less writes need no Content-Type.
    assert_eq!(http_get(d.http, "/api/v1/status").await.0, 200);
}
