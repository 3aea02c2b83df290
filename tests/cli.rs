//! The real binary's command-line tools on loopback configs.

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
        text.contains("check gov.cn. NS expect Referral [key_domain]"),
        "{text}"
    );
    assert!(text.contains("cache_busting"), "{text}");
    // cn: 2 nodes x (SOA, NS, key domain, d1.cn) = 8 q/s at a 1 s interval.
    assert!(
        text.contains("=> 4 checks x 2 address(es) every 1s = 8.00 q/s"),
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
