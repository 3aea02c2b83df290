//! Shared fixtures for integration tests: lab zones, checks, a tiny HTTP client.
#![allow(dead_code)]

use dnsgrade::config::{Check, CheckRole, Expect, Transport};
use dnsgrade::lab::{LabServer, Zone};
use hickory_proto::rr::{Name, RecordType};
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// The zone every probe test uses.
pub const ZONE: &str = r#"
$ORIGIN example.cn.
$TTL 300
@       IN SOA ns1.example.cn. hostmaster.example.cn. 2026112201 3600 600 86400 300
@       IN NS  ns1.example.cn.
@       IN NS  ns2.example.cn.
ns1     IN A   127.0.0.1
ns2     IN A   127.0.0.2
www     IN A   192.0.2.1
big     IN TXT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big     IN TXT "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
big     IN TXT "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
big     IN TXT "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
big     IN TXT "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
big     IN TXT "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
sub     IN NS  ns1.sub.example.cn.
ns1.sub IN A   127.0.0.3
"#;

/// A lab server on 127.0.0.1 (kernel-chosen port) serving [`ZONE`].
pub async fn lab() -> LabServer {
    let zone = Zone::parse("example.cn.", ZONE).expect("test zone parses");
    LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone])
        .await
        .expect("lab server starts on loopback")
}

/// A check as the config would build it.
pub fn check(name: &str, qtype: RecordType, expect: Expect, values: &[&str]) -> Check {
    Check {
        qname: Name::from_str(name).expect("name"),
        qtype,
        expect,
        values: values.iter().map(|s| s.to_string()).collect(),
        transport: Transport::Udp,
        role: CheckRole::Plain,
        recursion_desired: false,
        authoritative: true,
    }
}

/// GET over plain HTTP/1.1; returns (status, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_get_auth(addr, path, None).await
}

/// GET with an optional bearer token; returns (status, body).
pub async fn http_get_auth(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{}\r\n",
        bearer(token)
    );
    exchange(addr, &req).await
}

fn bearer(token: Option<&str>) -> String {
    token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default()
}

/// Sends one raw HTTP/1.1 request (`Connection: close`) and reads the whole answer: (status,
/// body, de-chunked).
async fn exchange(addr: SocketAddr, req: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("HTTP reply in time")
        .expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = match text.split_once("\r\n\r\n") {
        Some((head, body))
            if head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked") =>
        {
            dechunk(body)
        }
        Some((_, body)) => body.to_string(),
        None => String::new(),
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The HTTP address in the daemon's readiness event, the one line `dnsgrade run` writes on
/// stdout (`… INFO dnsgrade::ready: listening http=http://127.0.0.1:9553` in text, a JSON
/// object with `"message":"listening"` and `"http"` in JSON); panics on any other line.
pub fn ready_address(line: &str) -> SocketAddr {
    assert!(
        line.contains("dnsgrade::ready") && line.contains("listening"),
        "not the readiness event: {line:?}"
    );
    let (_, rest) = line
        .split_once("http://")
        .unwrap_or_else(|| panic!("no address in the readiness event {line:?}"));
    rest.split(|c: char| c.is_whitespace() || c == '"')
        .next()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|e| panic!("bad address in the readiness event {line:?}: {e}"))
}

/// A `dnsgrade run` child process, killed (through its handle, i.e. by PID) when dropped.
pub struct DaemonProc {
    pub child: std::process::Child,
    pub http: SocketAddr,
}

impl DaemonProc {
    /// Starts `dnsgrade run --config <config>`; with `clock_file`, time is read from that file
    /// (simulated time). Returns once the HTTP port is bound.
    pub fn start(
        config: &std::path::Path,
        clock_file: Option<&std::path::Path>,
        token: Option<&str>,
    ) -> DaemonProc {
        Self::launch(
            config,
            clock_file,
            token,
            std::process::Stdio::inherit(),
            "warn",
        )
    }

    /// As [`Self::start`], with the daemon's log (stderr, at level info) written to `log`.
    pub fn start_logged(
        config: &std::path::Path,
        clock_file: Option<&std::path::Path>,
        token: Option<&str>,
        log: &std::path::Path,
    ) -> DaemonProc {
        let file = std::fs::File::create(log).expect("log file");
        Self::launch(config, clock_file, token, file.into(), "info")
    }

    fn launch(
        config: &std::path::Path,
        clock_file: Option<&std::path::Path>,
        token: Option<&str>,
        stderr: std::process::Stdio,
        log_level: &'static str,
    ) -> DaemonProc {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"));
        cmd.args(["run", "--config"])
            .arg(config)
            .env("DNSGRADE_LOG", log_level)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr);
        if let Some(f) = clock_file {
            cmd.env("DNSGRADE_TEST_CLOCK_FILE", f);
        }
        if let Some(t) = token {
            cmd.env("DNSGRADE_API_TOKEN", t);
        }
        DaemonProc::spawn(cmd)
    }

    /// Spawns `cmd` (a `dnsgrade run` with stdout piped) and returns once its readiness event
    /// is on stdout.
    pub fn spawn(mut cmd: std::process::Command) -> DaemonProc {
        use std::io::BufRead;
        let mut child = cmd.spawn().expect("start dnsgrade");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let http = ready_address(&line);
        DaemonProc { child, http }
    }

    /// Sends SIGHUP (what `systemctl reload` sends) to this daemon, by its PID.
    pub fn hup(&self) {
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -HUP {}", self.child.id());
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DaemonProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Simulated wall clock shared with a daemon through a file.
pub struct SimClock {
    pub path: std::path::PathBuf,
    pub now: std::cell::Cell<u64>,
}

impl SimClock {
    pub fn new(dir: &std::path::Path, start: u64) -> SimClock {
        let c = SimClock {
            path: dir.join("clock"),
            now: std::cell::Cell::new(start),
        };
        c.set(start);
        c
    }

    pub fn set(&self, ms: u64) {
        self.now.set(ms);
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, ms.to_string()).expect("write clock");
        std::fs::rename(&tmp, &self.path).expect("move clock");
    }

    pub fn advance(&self, ms: u64) {
        self.set(self.now.get() + ms);
    }
}

/// GET a JSON document.
pub async fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (code, body) = http_get(addr, path).await;
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// Polls `/api/v1/status` until `pred` holds for the object `key` ("class/name") in an
/// evaluation made at or after `after_ms` (simulated); panics with the last status after 60 s.
pub async fn wait_object(
    addr: SocketAddr,
    key: &str,
    after_ms: u64,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..300 {
        let v = get_json(addr, "/api/v1/status").await;
        if v["evaluated_at_ms"].as_u64().unwrap_or(0) >= after_ms {
            if let Some(o) = v["objects"].as_array().and_then(|a| {
                a.iter().find(|o| {
                    format!(
                        "{}/{}",
                        o["class"].as_str().unwrap_or(""),
                        o["name"].as_str().unwrap_or("")
                    ) == key
                })
            }) {
                if pred(o) {
                    return o.clone();
                }
            }
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {key}: {what}\nlast status: {last:#}");
}

/// The grade level ("I".."IV") of a status object, if any.
pub fn level(o: &serde_json::Value) -> Option<String> {
    o["assessment"]["grade"].as_str().map(str::to_string)
}

/// POST a JSON body with an optional bearer token; returns (status, body).
pub async fn http_post(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{}Content-Length: {}\r\n\r\n{body}",
        bearer(token),
        body.len()
    );
    exchange(addr, &req).await
}

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `X-Dnsgrade-Delivery`.
    pub delivery: String,
    /// `X-Dnsgrade-Event`.
    pub event: String,
    /// Whether `X-Dnsgrade-Signature` was present and matched the HMAC of the body.
    pub signature_ok: bool,
    /// The raw body.
    pub body: Vec<u8>,
    /// The body as JSON.
    pub json: serde_json::Value,
    /// The status the receiver answered.
    pub answered: u16,
}

/// What a [`Receiver`] collects; shared across restarts on the same port.
#[derive(Debug, Default)]
pub struct ReceiverState {
    /// Every request, in arrival order (duplicates included).
    pub got: std::sync::Mutex<Vec<Received>>,
    /// Answer 503 to the first arrival of events whose `event.seq` is this (after recording
    /// it), so the sender must retry: duplicates with the same delivery id.
    pub flaky_seq: Option<i64>,
}

impl ReceiverState {
    /// Everything received so far.
    pub fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Distinct delivery ids answered with a 2xx.
    pub fn delivered_ids(&self) -> std::collections::BTreeSet<String> {
        self.all()
            .into_iter()
            .filter(|r| r.answered < 300)
            .map(|r| r.delivery)
            .collect()
    }
}

/// A webhook receiver on loopback that verifies dnsgrade's HMAC signature like a real one
/// would (hmac + constant-time compare).
pub struct Receiver {
    pub addr: SocketAddr,
    pub state: std::sync::Arc<ReceiverState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// Starts on `addr` ("127.0.0.1:0" for a fresh port) with the HMAC `secret`.
    pub async fn start(
        addr: SocketAddr,
        secret: &str,
        state: std::sync::Arc<ReceiverState>,
    ) -> Receiver {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, StatusCode};
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("receiver binds on loopback");
        let addr = listener.local_addr().expect("addr");
        let secret = secret.as_bytes().to_vec();
        let st = state.clone();
        let handler = move |headers: HeaderMap, body: Bytes| {
            let st = st.clone();
            let secret = secret.clone();
            async move {
                use hmac::Mac;
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                let sig = h("x-dnsgrade-signature");
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).expect("key");
                mac.update(&body);
                let signature_ok = sig
                    .strip_prefix("sha256=")
                    .and_then(|x| hex::decode(x).ok())
                    .is_some_and(|tag| mac.verify_slice(&tag).is_ok());
                let json: serde_json::Value =
                    serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                let delivery = h("x-dnsgrade-delivery");
                let mut got = st.got.lock().unwrap_or_else(|e| e.into_inner());
                let first = !got.iter().any(|r| r.delivery == delivery);
                let answered = if !signature_ok {
                    401
                } else if first
                    && st.flaky_seq.is_some()
                    && json["event"]["seq"].as_i64() == st.flaky_seq
                {
                    503
                } else {
                    200
                };
                got.push(Received {
                    delivery,
                    event: h("x-dnsgrade-event"),
                    signature_ok,
                    body: body.to_vec(),
                    json,
                    answered,
                });
                (
                    StatusCode::from_u16(answered).expect("status"),
                    [("connection", "close")],
                    "",
                )
            }
        };
        let app = axum::Router::new().route("/hook", axum::routing::post(handler));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Receiver {
            addr,
            state,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// The hook URL.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Stops listening (the port refuses connections afterwards).
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

/// Waits (up to `secs` seconds of real time, polling) until `pred` holds; panics with `what`.
pub async fn eventually(secs: u64, what: &str, mut pred: impl FnMut() -> bool) {
    for _ in 0..secs * 20 {
        if pred() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out: {what}");
}

/// The board an in-process daemon published last.
pub fn board(d: &dnsgrade::daemon::Daemon) -> dnsgrade::evaluator::Board {
    d.shared
        .board
        .lock()
        .map(|b| dnsgrade::evaluator::Board::clone(&b))
        .unwrap_or_default()
}

/// Lets paused tokio time run until `clock` reads `until` (ms), calling `each` with every new
/// board of the in-process daemon `d`.
pub async fn run_until(
    d: &dnsgrade::daemon::Daemon,
    clock: &dnsgrade::clock::TokioClock,
    until: u64,
    mut each: impl FnMut(&dnsgrade::evaluator::Board),
) {
    use dnsgrade::clock::Clock;
    let mut seen = 0;
    while clock.now_ms() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let b = board(d);
        if b.at != seen {
            seen = b.at;
            each(&b);
        }
    }
}
