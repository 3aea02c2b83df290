//! `dnsgrade run` as operators run it: one daemon per state directory, `/readyz`, systemd's
//! readiness notification, and logs that a journal or a log shipper can take (no escape codes
//! in a file, one JSON object a line).
//! Every daemon probes in-process lab servers on loopback.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::DaemonProc;

/// A tier-1 institution with one server at `server`, probed every 200 ms with two checks.
fn config(dir: &Path, server: SocketAddr) -> std::path::PathBuf {
    let text = format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"200ms\"\ntick = \"1s\"\nwindow = \"60s\"\nstop_window = \"10s\"\n\n\
         [[institution]]\nname = \"Lab registrar\"\ntier = 1\n  [[institution.server]]\n  name = \"ns1\"\n  addresses = [\"{server}\"]\n\
         \x20 [[institution.check]]\n  name = \"www.example.cn\"\n  type = \"A\"\n  values = [\"192.0.2.1\"]\n\
         \x20 [[institution.check]]\n  name = \"example.cn\"\n  type = \"SOA\"\n",
        dir.join("state").display()
    );
    let path = dir.join("probes.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// `dnsgrade run --config <config>` with stdout piped for the readiness event.
fn run(config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dnsgrade"));
    cmd.args(["run", "--config"])
        .arg(config)
        .env("DNSGRADE_LOG", "warn")
        .env_remove("DNSGRADE_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// Waits up to `secs` seconds for the child to exit; kills it (by its handle) if it does not.
fn exit_within(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    for _ in 0..secs * 20 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("still running after {secs} s");
}

/// SIGTERM, as systemd stops it; waits for the exit.
fn terminate(mut d: DaemonProc) {
    let pid = i32::try_from(d.child.id()).expect("pid");
    // SAFETY: kill(2) on the PID of a child this test started and has not reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = exit_within(&mut d.child, 20);
    assert!(status.success(), "a clean stop on SIGTERM: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_state_dir_refuses_to_start_naming_it_and_the_holder() {
    let lab = support::lab().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config(dir.path(), lab.local_addr());
    let mut first = DaemonProc::spawn(run(&cfg));

    // The second one logs in JSON through the environment: its refusal is a JSON line too.
    let mut second = run(&cfg)
        .env("DNSGRADE_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the second daemon");
    let status = exit_within(&mut second, 30);
    let out = second.wait_with_output().expect("output");
    assert_eq!(status.code(), Some(69), "EX_UNAVAILABLE");
    assert!(
        out.stdout.is_empty(),
        "no readiness event from the second daemon"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line: serde_json::Value = serde_json::from_str(stderr.trim()).expect("one JSON line");
    let message = line["message"].as_str().expect("message");
    let state = dir.path().join("state");
    assert!(message.contains(&state.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("PID {}", first.child.id())),
        "{message}"
    );
    assert_eq!(line["level"], "ERROR");

    // The first one is untouched.
    assert!(
        first.child.try_wait().expect("wait").is_none(),
        "still running"
    );
    let (code, body) = support::http_get(first.http, "/healthz").await;
    assert_eq!((code, body.trim()), (200, "ok"));
    assert_eq!(
        std::fs::read_to_string(state.join("dnsgrade.lock"))
            .expect("lock file")
            .trim(),
        first.child.id().to_string()
    );
    terminate(first);
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_during_the_warm_up_and_200_once_the_windows_can_decide() {
    let lab = support::lab().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config(dir.path(), lab.local_addr());
    // Simulated time that stands still: the daemon's own clock never makes a tick look late,
    // so what changes is the warm-up alone (30 samples a server are ~3 s of probing).
    let clock = support::SimClock::new(dir.path(), 1_795_341_600_000);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);

    let (code, body) = support::http_get(d.http, "/readyz").await;
    assert_eq!(code, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(v["ready"], false);
    let failing: Vec<&str> = v["failing"]
        .as_array()
        .expect("failing")
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert!(failing.contains(&"warm_up"), "{v:#}");
    assert_eq!(v["checks"]["warm_up"]["ok"], false);
    assert_eq!(v["checks"]["references"]["ok"], true, "none configured");
    let (code, _) = support::http_get(d.http, "/healthz").await;
    assert_eq!(code, 200, "alive while not ready");

    let mut last = String::new();
    for _ in 0..300 {
        let (code, body) = support::http_get(d.http, "/readyz").await;
        if code == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
            assert_eq!(v["ready"], true);
            assert_eq!(v["failing"], serde_json::json!([]));
            for c in ["tick", "ledger", "references", "warm_up"] {
                assert_eq!(v["checks"][c]["ok"], true, "{c}: {v:#}");
            }
            terminate(d);
            lab.stop().await;
            return;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("never ready; last /readyz: {last}");
}

/// Runs a daemon on a server that answers SERVFAIL (so an incident opens and is logged) with
/// stderr in a file, until `line` shows there; returns the file's bytes and the stdout line.
async fn logs_until(extra: &[&str], log: &str, line: &str) -> (Vec<u8>, String) {
    let lab = support::lab().await;
    lab.set_faults(dnsgrade::lab::Faults {
        rcode: Some(hickory_proto::op::ResponseCode::ServFail),
        rcode_ratio: 1.0,
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config(dir.path(), lab.local_addr());
    let err = dir.path().join("stderr.log");
    let mut cmd = run(&cfg);
    cmd.args(extra)
        .env("DNSGRADE_LOG", log)
        .env_remove("NO_COLOR")
        .stderr(std::fs::File::create(&err).expect("log file"));
    let mut child = cmd.spawn().expect("start dnsgrade");
    let mut ready = String::new();
    {
        use std::io::BufRead;
        let stdout = child.stdout.take().expect("stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut ready)
            .expect("readiness event");
    }
    let d = DaemonProc {
        http: support::ready_address(&ready),
        child,
    };
    support::eventually(60, &format!("{line:?} in the log"), || {
        std::fs::read_to_string(&err).is_ok_and(|t| t.contains(line))
    })
    .await;
    terminate(d);
    lab.stop().await;
    (std::fs::read(&err).expect("read log"), ready)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_in_a_file_have_no_escape_codes_and_show_values_as_operators_write_them() {
    let (bytes, ready) = logs_until(&[], "debug", "incident event").await;
    assert!(!bytes.contains(&0x1b), "no ANSI escape in a file");
    assert!(!ready.as_bytes().contains(&0x1b), "nor on a piped stdout");
    let text = String::from_utf8(bytes).expect("UTF-8");
    let event = text
        .lines()
        .find(|l| l.contains("incident event"))
        .expect("incident event line");
    let fields: Vec<&str> = event.split_whitespace().collect();
    assert!(fields.contains(&"grade=II"), "{event}");
    assert!(fields.contains(&"event=incident.opened"), "{event}");
    assert!(!event.contains("Some("), "{event}");
    assert!(
        text.contains("dnsgrade started"),
        "info events at DNSGRADE_LOG=debug"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line_with_their_fields() {
    let (bytes, ready) = logs_until(&["--log-format", "json"], "info", "incident event").await;
    let text = String::from_utf8(bytes).expect("UTF-8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(lines.len() >= 3, "{text}");
    for l in &lines {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(l[field].is_string(), "{field} in {l}");
        }
    }
    let started = lines
        .iter()
        .find(|l| l["message"] == "dnsgrade started")
        .expect("start event");
    assert_eq!(started["objects"], 1, "fields at the top level: {started}");
    assert!(started["http"].is_string(), "{started}");
    let event = lines
        .iter()
        .find(|l| l["message"] == "incident event")
        .expect("incident event");
    assert_eq!(event["grade"], "II", "{event}");
    assert_eq!(event["object"], "institution/Lab registrar", "{event}");
    assert!(lines.iter().any(|l| l["message"] == "stopping"), "{text}");
    // The readiness event on stdout is JSON as well.
    let r: serde_json::Value = serde_json::from_str(ready.trim()).expect("JSON readiness");
    assert_eq!(r["target"], "dnsgrade::ready");
    assert_eq!(r["message"], "listening");
    assert!(r["http"]
        .as_str()
        .is_some_and(|u| u.starts_with("http://127.0.0.1:")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_systemd_it_notifies_ready_once_listening_and_stopping_on_sigterm() {
    let lab = support::lab().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = config(dir.path(), lab.local_addr());
    // systemd's side of Type=notify: a datagram socket named by NOTIFY_SOCKET.
    let socket = dir.path().join("notify.sock");
    let systemd = std::os::unix::net::UnixDatagram::bind(&socket).expect("bind");
    systemd
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut cmd = run(&cfg);
    cmd.env("NOTIFY_SOCKET", &socket);
    let d = DaemonProc::spawn(cmd);
    let mut buf = [0u8; 512];
    let n = systemd.recv(&mut buf).expect("READY=1 within 30 s");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(
        ready.contains(&format!("STATUS=listening on http://{}", d.http)),
        "{ready:?}"
    );
    let (code, _) = support::http_get(d.http, "/healthz").await;
    assert_eq!(code, 200, "serving when READY=1 arrives");
    terminate(d);
    let n = systemd.recv(&mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1\n");
    lab.stop().await;
}

/// The output of a `dnsgrade run` that fails to start (its HTTP port is taken), run by
/// util-linux's `script` so that stderr is a terminal, with `NO_COLOR` set to `no_color`.
fn on_a_terminal(no_color: Option<&str>) -> String {
    let dir = tempfile::tempdir().expect("tmp");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let cfg = config(dir.path(), "127.0.0.1:9".parse().expect("addr"));
    let text = std::fs::read_to_string(&cfg).expect("read").replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"{}\"", taken.local_addr().expect("addr")),
    );
    std::fs::write(&cfg, text).expect("write");
    let line = format!(
        "{} run --config {}",
        env!("CARGO_BIN_EXE_dnsgrade"),
        cfg.display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("DNSGRADE_LOG", "warn")
        .env_remove("DNSGRADE_LOG_FORMAT")
        .env_remove("NO_COLOR");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.output().expect("script (util-linux) runs");
    assert_eq!(out.status.code(), Some(69), "cannot listen: EX_UNAVAILABLE");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("cannot listen on"), "{text}");
    text
}

#[test]
fn colour_on_a_terminal_only_without_no_color() {
    assert!(on_a_terminal(None).contains('\x1b'), "colour on a terminal");
    assert!(
        !on_a_terminal(Some("1")).contains('\x1b'),
        "NO_COLOR=1 turns it off"
    );
}
