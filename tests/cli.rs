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
    assert!(text.contains("lead 广东通信管理局"), "{text}");
    // Everything cut off, the controls too: isolation, not a page.
    assert!(
        text.contains("monitor.isolated: 2 of 2 control targets fail"),
        "{text}"
    );
}
