//! A real browser (Debian's Chromium, headless, started by this test and stopped by its PID
//! when done) looks at the wallboard of a running daemon during a lab incident: a TLD with
//! half its nodes refusing (重大 II) and a multi-province resolver stopped (一般 IV, II in an
//! hour). It is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`, fds 3
//! and 4): pages at 1600 and 400 px wide, screenshots of both, and the DOM and the layout
//! read back — the banner says the API's worst grade, every object's grade is its open
//! incident's (or both are shown), the countdown runs, nothing scrolls sideways at 400 px,
//! and the incident page has the timeline. Then the faults end: while both incidents clear the
//! rows show the incident's grade beside "no grade now", and once resolved they are listed among
//! the last 30 days'.
//!
//! Screenshots go to `target/tmp/status_page/`; with `DNSGRADE_UPDATE_WALLBOARD=1` the wall
//! mode at 1600 px is also written to `docs/wallboard.png` (the README's picture).

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use hickory_proto::op::ResponseCode;
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{get_json, http_post, level, wait_object, DaemonProc, SimClock};

const T0: u64 = 1_800_000_000_000;
const TOKEN: &str = "wall-token";

/// Headless Chromium on a DevTools pipe, attached to one page.
struct Browser {
    child: std::process::Child,
    to: std::fs::File,
    from: std::sync::mpsc::Receiver<Value>,
    session: String,
    next: u64,
    loaded: bool,
    _profile: tempfile::TempDir,
}

/// A pipe whose ends close on exec (the child gets its own copies by `dup2`).
fn pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    (fds[0], fds[1])
}

impl Browser {
    fn start() -> Browser {
        use std::os::fd::FromRawFd;
        use std::os::unix::process::CommandExt;
        let profile = tempfile::tempdir().expect("profile");
        let (child_reads, to) = pipe();
        let (from, child_writes) = pipe();
        let mut cmd = Command::new("chromium");
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only fcntl and dup2 run between fork and exec (async-signal-safe). Both ends
        // are first copied above 10 so that neither dup2 overwrites the other's source.
        unsafe {
            cmd.pre_exec(move || {
                let r = libc::fcntl(child_reads, libc::F_DUPFD, 10);
                let w = libc::fcntl(child_writes, libc::F_DUPFD, 10);
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .expect("chromium is installed (scripts/test.sh installs Debian's chromium)");
        // SAFETY: the descriptors came from pipe2 above and are owned here alone.
        let (to, from) = unsafe {
            libc::close(child_reads);
            libc::close(child_writes);
            (
                std::fs::File::from_raw_fd(to),
                std::fs::File::from_raw_fd(from),
            )
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(from);
            loop {
                let mut buf = Vec::new();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        buf.pop();
                        let Ok(v) = serde_json::from_slice::<Value>(&buf) else {
                            continue;
                        };
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to,
            from: rx,
            session: String::new(),
            next: 0,
            loaded: false,
            _profile: profile,
        };
        let target = b.send(false, "Target.createTarget", json!({"url": "about:blank"}));
        let attach = json!({"targetId": target["targetId"], "flatten": true});
        let attached = b.send(false, "Target.attachToTarget", attach);
        b.session = attached["sessionId"].as_str().expect("session").to_string();
        b.page("Page.enable", json!({}));
        b
    }

    /// The next message from the browser, noting page loads.
    fn recv(&mut self) -> Value {
        let v = self
            .from
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium answers within 30 s");
        if v["method"] == "Page.loadEventFired" {
            self.loaded = true;
        }
        v
    }

    fn send(&mut self, on_page: bool, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if on_page {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        loop {
            let v = self.recv();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn page(&mut self, method: &str, params: Value) -> Value {
        self.send(true, method, params)
    }

    /// Loads `url` in a viewport `width` × `height` (a phone's, with the viewport tag obeyed,
    /// when `mobile`).
    fn open(&mut self, url: &str, width: u32, height: u32, mobile: bool) {
        let metrics =
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        self.page("Emulation.setDeviceMetricsOverride", metrics);
        self.loaded = false;
        self.page("Page.navigate", json!({"url": url}));
        while !self.loaded {
            self.recv();
        }
    }

    fn eval(&mut self, expression: &str) -> Value {
        let r = self.page(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// A PNG of the viewport; returns its size.
    fn screenshot(&mut self, path: &std::path::Path) -> usize {
        use base64::Engine;
        let r = self.page("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("data"))
            .expect("base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(path, &png).expect("write screenshot");
        png.len()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Stopped by its PID (SIGKILL), then reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything a check reads from a loaded wallboard, in one evaluation.
const FACTS: &str = r#"(() => {
  const d = document.documentElement, banner = document.getElementById('banner');
  const rows = [...document.querySelectorAll('article[data-object]')].map(a => ({
    object: a.dataset.object, grade: a.dataset.grade, agreement: a.dataset.agreement,
    incident: a.dataset.incident || null, incidentGrade: a.dataset.incidentGrade || null,
    both: !!a.querySelector('.incident-grade') && !!a.querySelector('.now-grade'),
    countdown: a.querySelector('[data-countdown]') ? a.querySelector('[data-countdown]').textContent : null,
    countdownAt: a.querySelector('[data-countdown]') ? Number(a.querySelector('[data-countdown]').dataset.countdown) : null,
    sparks: a.querySelectorAll('[data-spark] svg').length, lines: a.querySelectorAll('[data-spark] polyline').length,
    reasonPx: a.querySelector('.reasons li') ? parseFloat(getComputedStyle(a.querySelector('.reasons li')).fontSize) : null,
    text: a.innerText }));
  const incidents = [...document.querySelectorAll('#incidents tr[data-incident-id]')].map(t => ({
    id: t.dataset.incidentId, object: t.dataset.object, grade: t.dataset.grade }));
  return { scrollWidth: d.scrollWidth, clientWidth: d.clientWidth, level: banner.dataset.level,
    bannerText: banner.innerText, bannerPx: parseFloat(getComputedStyle(banner.querySelector('.big')).fontSize),
    viewport: !!document.querySelector('meta[name=viewport]'), rows, incidents };
})()"#;

/// A lab daemon with two TLD nodes and a multi-province resolver, healthy for five simulated
/// minutes (a point a minute on the sparklines), then one node refusing everything (II) and
/// the resolver stopped (IV now, II an hour after it stopped).
async fn lab_incident(dir: &std::path::Path) -> (DaemonProc, SimClock, Vec<LabServer>) {
    let mut labs = Vec::new();
    for _ in 0..2 {
        let zones = vec![Zone::synthetic_tld("cn.", 5)];
        let lab = LabServer::start("127.0.0.1:0".parse().expect("addr"), zones).await;
        labs.push(lab.expect("lab"));
    }
    labs.push(support::lab().await);
    let cfg = dir.join("probes.toml");
    let text = format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\ntick = \"1s\"\napi_token = \"env:DNSGRADE_API_TOKEN\"\n\n\
         [[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"{}\"]\n  [[tld.node]]\n  name = \"b\"\n  addresses = [\"{}\"]\n\
         \x20 [[tld.check]]\n  name = \"d1.cn\"\n  type = \"NS\"\n\n\
         [[recursive]]\noperator = \"Lab operator\"\nname = \"north-resolvers\"\nscope = \"multi-province\"\nprovinces = [\"北京\", \"天津\", \"河北\"]\n\
         cached_names = [\"www.example.cn\"]\n  [[recursive.server]]\n  name = \"r1\"\n  addresses = [\"{}\"]\n",
        dir.join("state").display(),
        labs[0].local_addr(),
        labs[1].local_addr(),
        labs[2].local_addr(),
    );
    std::fs::write(&cfg, text).expect("write");
    let clock = SimClock::new(dir, T0);
    let d = DaemonProc::start(&cfg, Some(&clock.path), Some(TOKEN));
    let enough = |o: &Value| {
        o["assessment"]["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().all(|s| s["samples"].as_u64().unwrap_or(0) >= 30))
    };
    wait_object(d.http, "tld/cn", T0, "samples", enough).await;
    wait_object(d.http, "recursive/north-resolvers", T0, "samples", enough).await;
    for _ in 0..5 {
        clock.advance(60_000);
        wait_object(d.http, "tld/cn", clock.now.get(), "a tick", |_| true).await;
    }
    clock.advance(1_000);
    labs[0].set_faults(Faults {
        rcode: Some(ResponseCode::Refused),
        rcode_ratio: 1.0,
        ..Faults::default()
    });
    labs[2].set_faults(Faults {
        stopped: true,
        ..Faults::default()
    });
    wait_object(
        d.http,
        "tld/cn",
        clock.now.get(),
        "level II (1 of 2 nodes = half)",
        |o| level(o).as_deref() == Some("II"),
    )
    .await;
    // The stop needs attempts without a success across the stop window (60 s simulated).
    tokio::time::sleep(Duration::from_secs(8)).await;
    clock.advance(61_000);
    wait_object(
        d.http,
        "recursive/north-resolvers",
        clock.now.get(),
        "IV, II in 1 h",
        |o| level(o).as_deref() == Some("IV") && o["assessment"]["next_escalation"].is_object(),
    )
    .await;
    (d, clock, labs)
}

/// The worst grade of `/api/v1/status`, as the banner's `data-level`.
fn api_worst(status: &Value) -> String {
    let order = ["IV", "III", "II", "I"];
    status["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter_map(|o| o["assessment"]["grade"].as_str())
        .max_by_key(|g| order.iter().position(|x| x == g))
        .unwrap_or("none")
        .to_string()
}

/// "m:ss" or "h:mm:ss" → seconds.
fn seconds(text: &str) -> u64 {
    text.split(':')
        .map(|p| p.trim().parse::<u64>().expect("a number"))
        .fold(0, |a, p| a * 60 + p)
}

/// The DOM of one loaded wallboard: the banner, every row against its incident, the countdown.
fn check_wall(f: &Value, status: &Value, open: &Value, width: u32) {
    let worst = api_worst(status);
    assert_eq!(worst, "II", "the lab incident is level II: {status}");
    assert_eq!(
        f["level"],
        worst.as_str(),
        "banner = API's worst grade: {f}"
    );
    assert!(
        f["bannerText"].as_str().unwrap_or("").contains("重大 II"),
        "{f}"
    );
    assert!(
        f["bannerPx"].as_f64().unwrap_or(0.0) >= 40.0,
        "big type: {f}"
    );
    assert_eq!(f["viewport"], true);
    let sw = f["scrollWidth"].as_u64().expect("scrollWidth");
    let cw = f["clientWidth"].as_u64().expect("clientWidth");
    assert_eq!(cw, u64::from(width), "{f}");
    assert!(sw <= cw, "no horizontal scroll at {width} px: {sw} > {cw}");
    let rows = f["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{f}");
    let open = open["incidents"].as_array().expect("open incidents");
    for r in rows {
        let object = r["object"].as_str().expect("object");
        let inc = open.iter().find(|i| i["object"] == object);
        let inc = inc.unwrap_or_else(|| panic!("{object} has an open incident: {open:?}"));
        let inc_grade = inc["grade"]["level"].as_str().expect("grade");
        assert_eq!(
            r["incidentGrade"], inc_grade,
            "the row shows its incident: {r}"
        );
        assert_eq!(r["incident"], inc["id"].to_string().as_str(), "{r}");
        assert!(
            r["grade"] == inc_grade || (r["agreement"] != "same" && r["both"] == true),
            "object and incident grades agree, or both are shown: {r}"
        );
        let in_table = f["incidents"]
            .as_array()
            .expect("table")
            .iter()
            .any(|t| t["object"] == object && t["grade"] == inc_grade);
        assert!(
            in_table,
            "{object} in the open incidents with grade {inc_grade}: {f}"
        );
        assert!(
            r["sparks"].as_u64().unwrap_or(0) >= 2,
            "two sparklines drawn: {r}"
        );
        assert!(
            r["reasonPx"].as_f64().unwrap_or(0.0) >= 14.0,
            "readable reasons: {r}"
        );
    }
    let tld = rows
        .iter()
        .find(|r| r["object"] == "tld/cn")
        .expect("tld row");
    assert_eq!(tld["grade"], "II", "{tld}");
    let text = tld["text"].as_str().unwrap_or("");
    assert!(text.contains("互联网应急办"), "lead authority: {text}");
    assert!(text.contains("CNCERT"), "who to notify: {text}");
    assert!(
        text.contains("已确认 acknowledged by 值班员 duty officer"),
        "{text}"
    );
    let rec = rows
        .iter()
        .find(|r| r["object"] == "recursive/north-resolvers");
    let rec = rec.expect("resolver row");
    let next = &status["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["name"] == "north-resolvers")
        .expect("resolver")["assessment"]["next_escalation"];
    assert_eq!(
        rec["countdownAt"], next["at"],
        "the countdown aims at next_escalation: {rec}"
    );
    let left = next["at"].as_u64().expect("at") - status["now_ms"].as_u64().expect("now");
    let shown = seconds(rec["countdown"].as_str().expect("countdown text"));
    assert!(
        shown > 0 && shown <= left.div_ceil(1000),
        "{shown} s of {left} ms left"
    );
    assert!(
        shown + 120 >= left / 1000,
        "counts from the server's clock: {shown} s, {left} ms"
    );
    let text = rec["text"].as_str().unwrap_or("");
    assert!(text.contains("北京时间") && text.contains("UTC"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wallboard_during_a_lab_incident_at_1600_and_400_px() {
    let dir = tempfile::tempdir().expect("tmp");
    let (d, clock, labs) = lab_incident(dir.path()).await;
    let open = get_json(d.http, "/api/v1/incidents?state=open").await;
    let tld = open["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .find(|i| i["object"] == "tld/cn")
        .expect("tld incident")
        .clone();
    let id = tld["id"].as_i64().expect("id");
    let body = r#"{"by":"值班员 duty officer","note":"called the registry"}"#;
    let (code, text) = http_post(
        d.http,
        &format!("/api/v1/incidents/{id}/ack"),
        Some(TOKEN),
        body,
    )
    .await;
    assert_eq!(code, 200, "{text}");
    // The board shows the ledger as a tick left it: wait for the next ticks (1 s each).
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let status = get_json(d.http, "/api/v1/status").await;
    let open = get_json(d.http, "/api/v1/incidents?state=open").await;

    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status_page");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let url = format!("http://{}/", d.http);
    let mut b = Browser::start();
    for (width, height, mobile) in [(1600, 1000, false), (400, 900, true)] {
        b.open(&url, width, height, mobile);
        let facts = b.eval(FACTS);
        check_wall(&facts, &status, &open, width);
        let png = b.screenshot(&shots.join(format!("wallboard-{width}.png")));
        assert!(png > 10_000, "a real rendering at {width} px: {png} bytes");
    }
    // The script keeps the countdown running (from the server's time, not the browser's).
    let expr = "document.querySelector('[data-countdown]').textContent";
    let before = seconds(b.eval(expr).as_str().expect("text"));
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let after = seconds(b.eval(expr).as_str().expect("text"));
    assert!(after < before && before - after <= 4, "{before} → {after}");

    b.open(&format!("{url}?wall=1"), 1600, 1000, false);
    let facts = b.eval(FACTS);
    check_wall(&facts, &status, &open, 1600);
    let png = b.screenshot(&shots.join("wallboard-wall-1600.png"));
    assert!(png < 300_000, "small enough for the README: {png} bytes");
    if std::env::var_os("DNSGRADE_UPDATE_WALLBOARD").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/wallboard.png");
        std::fs::copy(shots.join("wallboard-wall-1600.png"), docs).expect("docs/wallboard.png");
    }

    check_incident_page(&mut b, &url, id);
    check_clearing(&mut b, &d, &clock, &labs, &shots).await;
    drop(b);
    drop(d);
    for l in labs {
        l.stop().await;
    }
}

/// The incident's page: its grade, the timeline from the opening on, the acknowledgement, the
/// evidence; an unknown id is a 404 page.
fn check_incident_page(b: &mut Browser, url: &str, id: i64) {
    b.open(&format!("{url}incidents/{id}"), 400, 900, true);
    let f = b.eval(
        r#"(() => ({
          level: document.getElementById('banner').dataset.level,
          events: [...document.querySelectorAll('#timeline tr[data-event]')].map(t => t.dataset.event),
          evidence: document.querySelectorAll('#evidence tr').length - 1,
          text: document.body.innerText,
          scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }))()"#,
    );
    assert_eq!(f["level"], "II", "{f}");
    let events: Vec<&str> = f["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(events.first().copied(), Some("incident.opened"), "{f}");
    assert!(events.contains(&"incident.acknowledged"), "{f}");
    assert_eq!(f["evidence"], 2, "one evidence row per node: {f}");
    assert!(
        f["text"]
            .as_str()
            .unwrap_or("")
            .contains("值班员 duty officer"),
        "{f}"
    );
    assert!(
        f["scrollWidth"].as_u64() <= f["clientWidth"].as_u64(),
        "{f}"
    );
    b.open(&format!("{url}incidents/99999"), 400, 900, true);
    let text = b.eval("document.body.innerText");
    assert!(text.as_str().unwrap_or("").contains("not found"), "{text}");
}

/// The faults end: both objects lose their grade while their incidents stay open, clearing.
/// The banner says OK as the API does, and each row shows its incident's grade beside "no
/// grade now" with the time it resolves — never a bare 正常 OK next to an open 重大 II.
async fn check_clearing(
    b: &mut Browser,
    d: &DaemonProc,
    clock: &SimClock,
    labs: &[LabServer],
    shots: &std::path::Path,
) {
    labs[0].set_faults(Faults::default());
    labs[2].set_faults(Faults::default());
    clock.advance(301_000);
    for key in ["tld/cn", "recursive/north-resolvers"] {
        wait_object(d.http, key, clock.now.get(), "no grade", |o| {
            level(o).is_none()
        })
        .await;
    }
    let status = get_json(d.http, "/api/v1/status").await;
    let open = get_json(d.http, "/api/v1/incidents?state=open").await;
    let open = open["incidents"].as_array().expect("incidents").clone();
    assert_eq!(open.len(), 2, "both incidents are still open: {open:?}");
    assert!(
        open.iter().all(|i| i["clearing_since"].is_object()),
        "{open:?}"
    );
    b.open(&format!("http://{}/", d.http), 400, 900, true);
    let f = b.eval(FACTS);
    assert_eq!(api_worst(&status), "none");
    assert_eq!(f["level"], "none", "the banner is the API's: no grade: {f}");
    assert!(
        f["bannerText"].as_str().unwrap_or("").contains("正常 OK"),
        "{f}"
    );
    for r in f["rows"].as_array().expect("rows") {
        let inc = open
            .iter()
            .find(|i| i["object"] == r["object"])
            .expect("incident");
        assert_eq!(r["grade"], "none", "{r}");
        assert_eq!(r["incidentGrade"], inc["grade"]["level"], "{r}");
        assert_eq!(r["agreement"], "clearing", "{r}");
        assert_eq!(r["both"], true, "the incident's grade is shown beside: {r}");
        let text = r["text"].as_str().unwrap_or("");
        assert!(
            text.contains("消除中 clearing") && text.contains("resolves at"),
            "{text}"
        );
    }
    assert!(
        f["scrollWidth"].as_u64() <= f["clientWidth"].as_u64(),
        "{f}"
    );
    b.screenshot(&shots.join("wallboard-clearing-400.png"));
}
