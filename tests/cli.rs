//! The real binary's command-line tools on loopback configs.

mod support;

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
}

#[test]
fn check_config_prints_the_plan_and_rate() {
    let out = bin()
        .args(["check-config", "--config", "tests/configs/loopback.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("中国 (xn--fiqs8s)"), "{text}");
    assert!(
        text.contains("check gov.cn. NS expect referral [key_domain]"),
        "{text}"
    );
    assert!(text.contains("cache_busting"), "{text}");
    // cn: 2 nodes x (SOA, NS, a name that must not exist, key domain, d1.cn) = 10 q/s at 1 s.
    assert!(
        text.contains("=> 5 checks x 2 address(es) every 1s = 10.00 q/s"),
        "{text}"
    );
    assert!(text.contains("total: "), "{text}");
}

#[test]
fn check_config_reports_errors_with_location_and_exit_code() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "[daemon]\ntimeout = \"3s\"\n\n[[tld]]\nname = \"cn\"\n").expect("write");
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&p)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:2:11: timeout"), "{err}");
    assert!(err.contains("bad.toml:5:8:"), "{err}");
    assert!(err.contains("2 error(s)"), "{err}");
}

/// check-config end to end on the limits of issue 14: an api_token from an unset or empty
/// variable, a duration over a year written as seconds, a 10 MB object name and a file that is
/// not UTF-8 are each exit 78 with the file, line and column.
#[test]
fn check_config_refuses_hostile_input_at_its_line_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let token = dir.path().join("token.toml");
    std::fs::write(&token, "[daemon]\napi_token = \"env:DNSGRADE_API_TOKEN\"\n").expect("write");
    let config = token.to_str().expect("utf-8 path");
    for env in [vec![], vec![("DNSGRADE_API_TOKEN", "")]] {
        let (code, _, err) = run(&["check-config", "--config", config], &env);
        assert_eq!(code, 78, "{env:?}: {err}");
        assert!(
            err.contains("token.toml:2:13: environment variable DNSGRADE_API_TOKEN (api_token) is not set or empty"),
            "{env:?}: {err}"
        );
    }
    let (code, _, err) = run(
        &["check-config", "--config", config],
        &[("DNSGRADE_API_TOKEN", "s3cret-token")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("s3cret-token"), "{err}");

    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "interval.toml",
            b"[daemon]\ninterval = 99999999999\n".to_vec(),
            "interval.toml:2:12: 99999999999 seconds is longer than a year",
        ),
        (
            "name.toml",
            format!(
                "[[control]]\nname = \"{}\"\n  [[control.server]]\n  name = \"x\"\n  addresses = [\"127.0.0.5\"]\n",
                "x".repeat(10 << 20)
            )
            .into_bytes(),
            "name.toml:2:8: control name is longer than 255 characters",
        ),
        (
            "latin1.toml",
            b"[daemon]\n# caf\xe9\n".to_vec(),
            "latin1.toml:2:6: the file is not UTF-8",
        ),
    ];
    for (file, bytes, says) in cases {
        let p = dir.path().join(file);
        std::fs::write(&p, bytes).expect("write");
        let (code, _, err) = run(
            &["check-config", "--config", p.to_str().expect("path")],
            &[],
        );
        assert_eq!(code, 78, "{file}: {err}");
        assert!(err.contains(says), "{file}: {}", &err[..err.len().min(500)]);
        assert!(
            err.len() < 2000,
            "{file}: the error does not repeat the value"
        );
    }
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let out = bin()
        .args(["check-config", "--config", "/nonexistent/probes.toml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/probes.toml"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_prints_the_reply_like_dig_with_its_time() {
    let lab = support::lab().await;
    lab.set_nsid(Some(b"lab-node-1".to_vec()));
    let addr = lab.local_addr().to_string();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["probe", &addr, "www.example.cn", "A"])
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("status: NOERROR"), "{text}");
    assert!(text.contains("flags: qr aa"), "{text}");
    assert!(
        text.contains(";; ANSWER SECTION:\nwww.example.cn.\t300\tIN\tA\t192.0.2.1"),
        "{text}"
    );
    assert!(
        text.contains(";; Query time: ") && text.contains(" ms over udp"),
        "{text}"
    );
    assert!(text.contains(";; NSID: lab-node-1"), "{text}");

    // A stopped server: a clear timeout line, not a crash.
    lab.set_faults(dnsgrade::lab::Faults {
        stopped: true,
        ..Default::default()
    });
    let addr = lab.local_addr().to_string();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["probe", &addr, "www.example.cn", "A", "--timeout", "500ms"])
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no usable reply: timeout"));
    lab.stop().await;
}

#[test]
fn probe_rejects_bad_arguments() {
    let out = bin()
        .args(["probe", "not-an-address", "example.cn"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an IP address"));
    let out = bin()
        .args(["probe", "127.0.0.1", "example.cn", "BOGUS"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(65));
}

#[test]
fn run_refuses_a_bad_rules_file_with_its_location() {
    let dir = tempfile::tempdir().expect("tmp");
    let rules =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/miit-2011.toml"))
            .expect("rules")
            .replace(
                "data_error_above_iii = 0.0001",
                "data_error_above_iii = 0.5",
            );
    let r = dir.path().join("rules.toml");
    std::fs::write(&r, &rules).expect("write");
    let line = rules
        .lines()
        .position(|l| l.starts_with("data_error_above_iii"))
        .expect("line")
        + 1;
    let out = bin()
        .args(["run", "--config", "tests/configs/loopback.toml", "--rules"])
        .arg(&r)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("rules.toml:{line}:")), "{err}");
    assert!(
        err.contains("data_error_above_iii must be below data_error_above_ii"),
        "{err}"
    );
}

#[test]
fn lab_walks_through_every_grade_offline() {
    let out = bin().arg("lab").output().expect("run dnsgrade lab");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The TLD goes III → II → I as nodes stop, and its incident resolves after recovery.
    let tld = [
        "tld/cn → 较大 III (relatively major)",
        "tld/cn → 重大 II (major)",
        "tld/cn → 特别重大 I (extraordinarily serious)",
        "tld/cn → 正常 no grade",
        "resolved: max grade 特别重大 I",
    ];
    let mut at = 0;
    for want in tld {
        let i = text[at..]
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} after byte {at} in:\n{text}"));
        at += i + want.len();
    }
    // The provincial resolver: IV with its escalation time, then III led by the province.
    assert!(
        text.contains("recursive/gd-resolvers → 一般 IV (general)"),
        "{text}"
    );
    assert!(text.contains("escalates to 较大 III"), "{text}");
    assert!(
        text.contains("recursive/gd-resolvers → 较大 III (relatively major)"),
        "{text}"
    );
    assert!(text.contains("lead 广东省通信管理局"), "{text}");
    // Everything cut off, the controls too: isolation, not a page.
    assert!(
        text.contains("monitor.isolated: 2 of 2 control targets fail"),
        "{text}"
    );
}

/// Runs the binary with `args` and returns (exit code, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = bin();
    cmd.args(args)
        .env_remove("DNSGRADE_API")
        .env_remove("DNSGRADE_API_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run dnsgrade");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_shows_values_as_operators_write_them() {
    let root = env!("CARGO_MANIFEST_DIR");
    let (code, text, err) = run(
        &[
            "check-config",
            "--config",
            &format!("{root}/tests/configs/loopback.toml"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("scope province 广东"), "{text}");
    assert!(text.contains("licensed by MIIT"), "{text}");
    assert!(text.contains("check cn. A expect NXDOMAIN"), "{text}");
    assert!(
        text.contains("interval 1s  timeout 10s  window 5m"),
        "{text}"
    );
    let (code, alerts, err) = run(
        &[
            "check-config",
            "--config",
            &format!("{root}/tests/configs/alerts.toml"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(alerts.contains("grade >= III"), "{alerts}");
    for debug in [
        "Some(",
        "Province(",
        "Miit",
        "NxDomain",
        "Referral",
        "Answer",
    ] {
        assert!(!text.contains(debug), "{debug} in:\n{text}");
        assert!(!alerts.contains(debug), "{debug} in:\n{alerts}");
    }
}

#[test]
fn check_config_json_is_a_document_of_the_same_values() {
    let root = env!("CARGO_MANIFEST_DIR");
    let (code, text, err) = run(
        &[
            "check-config",
            "--json",
            "--config",
            &format!("{root}/tests/configs/loopback.toml"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["daemon"]["interval"], "1s");
    let cn = &doc["objects"][0];
    assert_eq!(cn["class"], "tld");
    assert_eq!(cn["name"], "cn");
    assert_eq!(cn["qps"], 10.0);
    assert_eq!(cn["checks"][2]["expect"], "NXDOMAIN");
    let objects = doc["objects"].as_array().expect("objects");
    assert!(
        objects.iter().any(|o| o["scope"] == "province 广东"),
        "{text}"
    );
    assert!(objects.iter().any(|o| o["licensed_by"] == "MIIT"), "{text}");
    assert!(doc["total_qps"].as_f64().expect("total") > 10.0);
}

#[test]
fn check_config_shows_the_roster_with_overdue_flags_but_no_phones_or_emails() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().expect("tmp");
    // 2026-12-01T00:00:00Z: the Guangdong entry (reviewed 2026-09-01) is past its 90 days.
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "1796083200000").expect("clock");
    let clock = clock.to_string_lossy().into_owned();
    let config = format!("{root}/tests/configs/loopback.toml");
    let env = [("DNSGRADE_TEST_CLOCK_FILE", clock.as_str())];
    let (code, text, err) = run(&["check-config", "--config", &config], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("contacts: 3 (review every 90d; 1 overdue)"),
        "{text}"
    );
    assert!(
        text.contains("  广东省通信管理局: Placeholder Zhang — duty officer  hours 24x7  reviewed 2026-09-01  OVERDUE for review"),
        "{text}"
    );
    assert!(
        text.contains("  互联网应急办: Placeholder duty desk — emergency office duty  hours 24x7  reviewed 2026-11-20\n"),
        "{text}"
    );
    assert!(
        text.contains("warning: unit Lab operations has no contact reachable 24x7"),
        "{text}"
    );
    for personal in ["020-0000-0000", "example.invalid"] {
        assert!(!text.contains(personal), "{personal} in:\n{text}");
    }
    let (code, json, err) = run(&["check-config", "--json", "--config", &config], &env);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let roster = doc["contacts"]["roster"].as_array().expect("roster");
    assert_eq!(roster.len(), 3);
    assert_eq!(roster[0]["for"]["authority"], "广东通信管理局");
    assert_eq!(roster[0]["for_zh"], "广东省通信管理局");
    assert_eq!(roster[0]["overdue"], true);
    assert_eq!(roster[1]["overdue"], false);
    assert_eq!(roster[2]["for"]["unit"], "Lab operations");
    assert!(!json.contains("example.invalid"), "{json}");
}

#[test]
fn version_names_the_git_revision() {
    let (code, text, _) = run(&["--version"], &[]);
    assert_eq!(code, 0);
    assert_eq!(
        text.trim(),
        format!(
            "dnsgrade {} (rev {})",
            env!("CARGO_PKG_VERSION"),
            dnsgrade::REVISION
        )
    );
    // Built from a checkout: 12 hex digits (a tarball without git would say "unknown").
    let rev = dnsgrade::REVISION;
    assert!(
        rev == "unknown" || (rev.len() == 12 && rev.bytes().all(|b| b.is_ascii_hexdigit())),
        "{rev}"
    );
}

#[test]
fn completions_and_man_page_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, text, err) = run(&["completions", shell], &[]);
        assert_eq!(code, 0, "{shell}: {err}");
        for sub in [
            "check-config",
            "incidents",
            "maintenance",
            "probe",
            "drill",
            "man",
        ] {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let (code, _, _) = run(&["completions", "tcsh"], &[]);
    assert_eq!(code, 64, "an unknown shell is a usage error");
    let (code, roff, err) = run(&["man"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(roff.contains(".TH dnsgrade 1"), "{roff}");
    // roff writes a hyphen as \-.
    let text = roff.replace("\\-", "-");
    for sub in [
        "check-config",
        "incidents",
        "maintenance",
        "probe",
        "completions",
    ] {
        assert!(
            text.contains(&format!("dnsgrade-{sub}(1)")),
            "man page lacks {sub}"
        );
    }
    let (code, roff, err) = run(&["man", "probe"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(roff.contains(".TH dnsgrade-probe 1"), "{roff}");
    assert!(roff.contains("dnssec"), "{roff}");
    assert_eq!(run(&["man", "nope"], &[]).0, 64);
}

#[test]
fn help_lists_the_exit_codes() {
    let (_, text, _) = run(&["incidents", "--help"], &[]);
    for code in ["64", "66", "69", "70", "77"] {
        assert!(
            text.contains(code),
            "incidents --help lacks {code}:\n{text}"
        );
    }
    assert!(text.contains("DNSGRADE_API"), "{text}");
    let (_, text, _) = run(&["probe", "--help"], &[]);
    for code in [
        "9 no reply",
        "10 a malformed reply",
        "11 the answer differs",
    ] {
        assert!(text.contains(code), "probe --help lacks {code}:\n{text}");
    }
}

/// `dnsgrade probe` with `args` after the server, run off the test's runtime.
async fn probe(server: std::net::SocketAddr, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["probe".to_string(), server.to_string()];
    all.extend(args.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        run(&refs, &[])
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_short_json_dnssec_and_expect_with_their_exit_codes() {
    let lab = support::lab().await;
    let a = lab.local_addr();
    let (code, text, _) = probe(a, &["www.example.cn", "A", "--short"]).await;
    assert_eq!((code, text.as_str()), (0, "192.0.2.1\n"));

    let (code, text, err) = probe(a, &["www.example.cn", "A", "--json", "--dnssec"]).await;
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["outcome"], "reply");
    assert_eq!(doc["dnssec_ok"], true);
    assert_eq!(doc["reply"]["rcode"], "NOERROR");
    assert_eq!(doc["reply"]["answer"][0]["data"], "192.0.2.1");
    assert_eq!(doc["reply"]["answer"][0]["type"], "A");
    // The lab echoes the DO bit of the query's OPT record.
    assert_eq!(doc["reply"]["edns"]["dnssec_ok"], true);
    let (_, text, _) = probe(a, &["www.example.cn", "A", "--dnssec"]).await;
    assert!(
        text.contains("do true") && text.contains(" +dnssec"),
        "{text}"
    );
    let (_, text, _) = probe(a, &["www.example.cn", "A"]).await;
    assert!(text.contains("do false"), "{text}");

    // NXDOMAIN is still a reply (dig's 0).
    let (code, _, _) = probe(a, &["nope.example.cn", "A"]).await;
    assert_eq!(code, 0);

    let (code, text, _) = probe(a, &["www.example.cn", "A", "--expect", "192.0.2.1"]).await;
    assert_eq!(code, 0);
    assert!(
        text.contains(";; EXPECT: the answer is as expected"),
        "{text}"
    );
    let (code, _, err) = probe(a, &["www.example.cn", "A", "--expect", "192.0.2.9"]).await;
    assert_eq!(code, 11, "{err}");
    assert!(
        err.contains("got [192.0.2.1], expected [192.0.2.9]"),
        "{err}"
    );
    let (code, _, _) = probe(a, &["www.example.cn", "A", "--expect", "not-an-ip"]).await;
    assert_eq!(code, 65);

    lab.set_faults(dnsgrade::lab::Faults {
        stopped: true,
        ..Default::default()
    });
    let (code, text, _) = probe(a, &["www.example.cn", "A", "--timeout", "300ms"]).await;
    assert_eq!(code, 9, "no reply is dig's 9: {text}");
    let (code, text, _) = probe(a, &["www.example.cn", "--short", "--timeout", "300ms"]).await;
    assert_eq!((code, text.as_str()), (9, ""));
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_exits_10_on_a_malformed_reply() {
    // A server that answers every query with its ID and then garbage.
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = sock.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        for _ in 0..2 {
            let Ok((_, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let _ = sock
                .send_to(&[buf[0], buf[1], 0xff, 0xff, 0x01], from)
                .await;
        }
    });
    let (code, text, err) = probe(addr, &["www.example.cn", "A", "--timeout", "2s"]).await;
    assert_eq!(code, 10, "{text}{err}");
    assert!(err.contains("malformed reply"), "{err}");
    server.abort();
}

/// An HTTP server on loopback that answers every request with `status` and `body`, and
/// hands back the request lines it saw.
fn fake_api(status: u16, body: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(4) {
            let Ok(mut conn) = conn else { return };
            let mut reader = std::io::BufReader::new(conn.try_clone().expect("clone"));
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line.trim().to_string());
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, rx)
}

#[test]
fn api_errors_exit_by_http_class_and_only_an_unreachable_api_is_69() {
    let cases: [(u16, &str, i32); 6] = [
        (
            400,
            r#"{"error":"state must be open, all or resolved"}"#,
            64,
        ),
        (401, r#"{"error":"missing or wrong bearer token"}"#, 77),
        (403, r#"{"error":"the write API is disabled"}"#, 77),
        (404, r#"{"error":"incident 7 not found"}"#, 66),
        (500, r#"{"error":"database is locked"}"#, 70),
        (502, "<html>Bad Gateway</html>", 70),
    ];
    for (status, body, want) in cases {
        let (url, _) = fake_api(status, body);
        // The address from the environment, as DNSGRADE_API.
        let (code, _, err) = run(&["incidents", "show", "7"], &[("DNSGRADE_API", &url)]);
        assert_eq!(code, want, "HTTP {status}: {err}");
        assert!(err.contains(&format!("answered {status}")), "{err}");
        assert!(!err.contains("cannot reach"), "HTTP {status}: {err}");
        let (code, _, _) = run(&["drill", "--list", "--api", &url], &[]);
        assert_eq!(code, want, "drill, HTTP {status}");
    }
    let (url, _) = fake_api(200, "this is not dnsgrade");
    let (code, _, err) = run(&["incidents", "list", "--api", &url], &[]);
    assert_eq!(code, 76, "{err}");
    // Nothing listens: the only case of 69.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, _, err) = run(&["incidents", "list"], &[("DNSGRADE_API", &url)]);
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
    // A bad --since never leaves the machine.
    let (code, _, err) = run(
        &["incidents", "list", "--since", "yesterday", "--api", &url],
        &[],
    );
    assert_eq!(code, 64, "{err}");
}

#[test]
fn since_with_an_offset_is_sent_in_utc() {
    let (url, seen) = fake_api(200, r#"{"incidents":[]}"#);
    let (code, text, err) = run(
        &[
            "incidents",
            "list",
            "--since",
            "2026-12-01T08:00:00+08:00",
            "--json",
        ],
        &[("DNSGRADE_API", &url)],
    );
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["incidents"], serde_json::json!([]));
    let line = seen.recv().expect("request");
    assert!(
        line.contains("since=2026-12-01T00%3A00%3A00Z"),
        "request line {line}"
    );
}

/// The write commands against a real daemon: false-positive, cause, maintenance declare, list
/// and end change the ledger as the API then reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_change_the_ledger_of_a_real_daemon() {
    const TOKEN: &str = "cli-token";
    let lab = support::lab().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"1s\"\ntick = \"1s\"\napi_token = \"env:DNSGRADE_API_TOKEN\"\n\n\
             [[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"{}\"]\n",
            dir.path().join("state").display(),
            lab.local_addr()
        ),
    )
    .expect("write");
    let d = support::DaemonProc::start(&cfg, None, Some(TOKEN));
    let api = format!("http://{}", d.http);
    let env = [
        ("DNSGRADE_API", api.as_str()),
        ("DNSGRADE_API_TOKEN", TOKEN),
    ];
    let call = move |args: Vec<&'static str>, env: Vec<(&'static str, String)>| {
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            run(&args, &env)
        })
    };
    let owned = |e: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        e.iter().map(|(k, v)| (*k, v.to_string())).collect()
    };

    // An incident to work on: a drill of the TLD.
    let (code, _, err) = call(
        vec!["drill", "--scenario", "tld-II", "--by", "lead"],
        owned(&env),
    )
    .await
    .expect("join");
    assert_eq!(code, 0, "{err}");
    let (code, text, err) = call(vec!["drill", "--list", "--json"], owned(&env))
        .await
        .expect("join");
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&text).expect("drill --list --json");
    let id = list["open"][0]["id"]
        .as_i64()
        .expect("drill id")
        .to_string();
    let id: &'static str = Box::leak(id.into_boxed_str());

    // Without the token: 77, and nothing changes.
    let (code, _, err) = call(
        vec![
            "incidents",
            "false-positive",
            id,
            "--reason",
            "probe host rebooted",
        ],
        owned(&env[..1]),
    )
    .await
    .expect("join");
    assert_eq!(code, 77, "{err}");
    let (code, text, err) = call(
        vec![
            "incidents",
            "false-positive",
            id,
            "--reason",
            "probe host rebooted",
        ],
        owned(&env),
    )
    .await
    .expect("join");
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("incident.false_positive"), "{text}");
    let (code, text, err) = call(
        vec![
            "incidents",
            "cause",
            id,
            "--text",
            "fibre cut at the Guangzhou IXP",
        ],
        owned(&env),
    )
    .await
    .expect("join");
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("incident.cause_set"), "{text}");
    let detail = support::get_json(d.http, &format!("/api/v1/incidents/{id}")).await;
    assert_eq!(detail["incident"]["false_positive"], "probe host rebooted");
    assert_eq!(
        detail["incident"]["cause"],
        "fibre cut at the Guangzhou IXP"
    );
    let (code, text, _) = call(
        vec!["incidents", "show", id, "--tz", "Asia/Shanghai"],
        owned(&env),
    )
    .await
    .expect("join");
    assert_eq!(code, 0);
    assert!(
        text.contains("cause: fibre cut at the Guangzhou IXP"),
        "{text}"
    );
    assert!(
        text.contains("false positive: probe host rebooted"),
        "{text}"
    );
    assert!(text.contains("+08:00"), "times in Asia/Shanghai: {text}");
    let (code, text, _) = call(vec!["incidents", "show", id, "--json"], owned(&env))
        .await
        .expect("join");
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&text).expect("show --json");
    assert_eq!(shown["incident"]["cause"], detail["incident"]["cause"]);
    let (code, _, err) = call(
        vec!["incidents", "cause", "999999", "--text", "x"],
        owned(&env),
    )
    .await
    .expect("join");
    assert_eq!(code, 66, "{err}");

    // The server reads --since with an offset too.
    let (status, body) = support::http_get(
        d.http,
        "/api/v1/incidents?since=2026-12-01T08:00:00%2B08:00",
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Maintenance: declare, list, end.
    let (code, text, err) = call(
        vec![
            "maintenance",
            "declare",
            "--object",
            "tld/cn",
            "--for",
            "2h",
            "--reason",
            "change 42",
        ],
        owned(&env),
    )
    .await
    .expect("join");
    assert_eq!(code, 0, "{err}");
    assert!(text.starts_with("maintenance window "), "{text}");
    let windows = support::get_json(d.http, "/api/v1/maintenance").await;
    let w = &windows["windows"][0];
    assert_eq!(w["object"], "tld/cn");
    assert_eq!(w["reason"], "change 42");
    assert_eq!(
        w["ends"]["ms"].as_u64().expect("ends") - w["starts"]["ms"].as_u64().expect("starts"),
        7_200_000
    );
    let wid: &'static str = Box::leak(w["id"].as_i64().expect("id").to_string().into_boxed_str());
    let (code, text, _) = call(vec!["maintenance", "list", "--json"], owned(&env))
        .await
        .expect("join");
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(&text).expect("list --json");
    assert_eq!(listed["windows"][0]["id"], w["id"]);
    let (code, text, err) = call(vec!["maintenance", "end", wid], owned(&env))
        .await
        .expect("join");
    assert_eq!(code, 0, "{err}");
    assert_eq!(text, format!("maintenance window {wid} ended\n"));
    let windows = support::get_json(d.http, "/api/v1/maintenance").await;
    assert_eq!(
        windows["windows"],
        serde_json::json!([]),
        "the window is gone"
    );
    let (code, text, _) = call(vec!["maintenance", "list"], owned(&env))
        .await
        .expect("join");
    assert_eq!((code, text.as_str()), (0, "no maintenance windows\n"));
    let (code, _, err) = call(vec!["maintenance", "end", "999999"], owned(&env))
        .await
        .expect("join");
    assert_eq!(code, 66, "{err}");
    assert!(err.contains("maintenance window 999999 not found"), "{err}");
    let (code, _, _) = call(
        vec![
            "maintenance",
            "declare",
            "--object",
            "tld/cn",
            "--reason",
            "x",
        ],
        owned(&env),
    )
    .await
    .expect("join");
    assert_eq!(code, 64, "neither --ends nor --for");
    drop(d);
    lab.stop().await;
}

/// The circular's record through the command line and a real daemon: result, organisations,
/// the report to the coordinating body and its confirmation, a receipt; the detail then has
/// them, its notifications list and `ack_overdue`; bad times and a confirmation before the
/// report are refused with 64; `/metrics` has the overdue gauge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_commands_write_the_circulars_record_through_a_real_daemon() {
    const TOKEN: &str = "cli-token";
    let lab = support::lab().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"1s\"\ntick = \"1s\"\napi_token = \"env:DNSGRADE_API_TOKEN\"\nack_within = \"2h\"\n\n\
             [[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"{}\"]\n",
            dir.path().join("state").display(),
            lab.local_addr()
        ),
    )
    .expect("write");
    let d = support::DaemonProc::start(&cfg, None, Some(TOKEN));
    let api = format!("http://{}", d.http);
    let env: Vec<(&'static str, String)> = vec![
        ("DNSGRADE_API", api.clone()),
        ("DNSGRADE_API_TOKEN", TOKEN.to_string()),
    ];
    let call = |args: Vec<String>| {
        let env = env.clone();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&args, &env)
        })
    };
    let argv = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let (code, _, err) = call(argv(&["drill", "--scenario", "tld-II", "--by", "lead"]))
        .await
        .expect("join");
    assert_eq!(code, 0, "{err}");
    let list = support::get_json(d.http, "/api/v1/drills").await;
    let id = list["open"][0]["id"]
        .as_i64()
        .expect("drill id")
        .to_string();
    let detected = list["open"][0]["detected_at"]["ms"]
        .as_u64()
        .expect("detected");
    let at = |ms: u64| ms.to_string();

    let steps: Vec<(Vec<String>, &str)> = vec![
        (
            argv(&["incidents", "result", &id, "--text", "restarted node a"]),
            "incident.result_set",
        ),
        (
            argv(&[
                "incidents",
                "organisations",
                &id,
                "--organisation",
                "CNNIC",
                "--org",
                "中国电信",
            ]),
            "incident.organisations_set",
        ),
        (
            argv(&[
                "incidents",
                "reported",
                &id,
                "--to",
                "CNCERT",
                "--by",
                "Li",
                "--at",
                &at(detected + 1_000),
            ]),
            "incident.reported",
        ),
        (
            argv(&[
                "incidents",
                "coordinator-confirmed",
                &id,
                "--by",
                "CNCERT duty desk",
                "--at",
                &at(detected + 2_000),
            ]),
            "incident.coordinator_confirmed",
        ),
        (
            argv(&[
                "incidents",
                "receipt",
                &id,
                "--organisation",
                "广东省通信管理局",
                "--by",
                "Wang",
            ]),
            "incident.receipt_confirmed",
        ),
    ];
    for (args, kind) in steps {
        let (code, text, err) = call(args.clone()).await.expect("join");
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(text.contains(kind), "{args:?}: {text}");
    }
    let detail = support::get_json(d.http, &format!("/api/v1/incidents/{id}")).await;
    let inc = &detail["incident"];
    assert_eq!(inc["result"], "restarted node a");
    assert_eq!(
        inc["organisations"],
        serde_json::json!(["CNNIC", "中国电信"])
    );
    assert_eq!(inc["reported_to"], "CNCERT");
    assert_eq!(inc["reported_at"]["ms"], detected + 1_000);
    assert_eq!(inc["coordinator_confirmed_at"]["ms"], detected + 2_000);
    assert_eq!(detail["receipts"][0]["organisation"], "广东省通信管理局");
    assert_eq!(detail["receipts"][0]["by"], "Wang");
    assert!(detail["notifications"].is_array(), "{detail}");
    assert_eq!(detail["ack_overdue"], false, "detected just now, limit 2 h");

    // A time that does not parse, and one before the report: refused as wrong (64).
    let (code, _, err) = call(argv(&[
        "incidents",
        "reported",
        &id,
        "--to",
        "CNCERT",
        "--by",
        "Li",
        "--at",
        "yesterday",
    ]))
    .await
    .expect("join");
    assert_eq!(code, 64, "{err}");
    let (code, _, err) = call(argv(&[
        "incidents",
        "coordinator-confirmed",
        &id,
        "--by",
        "x",
        "--at",
        &at(detected),
    ]))
    .await
    .expect("join");
    assert_eq!(code, 64, "{err}");
    // The API answers 400 for an empty organisation and 401 without the token.
    let (status, body) = support::http_post(
        d.http,
        &format!("/api/v1/incidents/{id}/receipt"),
        Some(TOKEN),
        r#"{"organisation":" "}"#,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = support::http_post(
        d.http,
        &format!("/api/v1/incidents/{id}/result"),
        None,
        r#"{"text":"x"}"#,
    )
    .await;
    assert_eq!(status, 401);

    let (code, text, _) = call(argv(&["incidents", "show", &id])).await.expect("join");
    assert_eq!(code, 0);
    assert!(text.contains("result: restarted node a"), "{text}");
    assert!(text.contains("organisations: CNNIC, 中国电信"), "{text}");
    assert!(text.contains("reported to CNCERT"), "{text}");
    assert!(text.contains("receipt from 广东省通信管理局"), "{text}");
    let (_, metrics) = support::http_get(d.http, "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "dnsgrade_incidents_ack_overdue 0"),
        "the gauge is exported (drills are not counted)"
    );
    drop(d);
    lab.stop().await;
}
