//! DNSSEC: a zone signed at test time with ldns-keygen and ldns-signzone (Debian ldnsutils),
//! its signatures valid until T0 + 48 h, served by a real NSD on loopback (started by
//! scripts/nsd-lab.sh and stopped by its PID). At T0 the signatures are valid, so the data is
//! correct, but they expire within the 72 h horizon: the status warns and the expiry metric
//! says about 48 h. With the injected clock moved to T0 + 49 h the same signatures are expired:
//! every reply is wrong data, and the tier-1 institution is graded 重大 (II).

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use support::{level, wait_object, DaemonProc, SimClock};

/// 2027-01-15T08:00:00Z.
const T0: u64 = 1_800_000_000_000;
const HOUR: u64 = 3_600_000;

/// A real NSD, killed by its PID when dropped.
struct Nsd {
    pid: u32,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

fn run(dir: &Path, cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (scripts/test.sh installs ldnsutils and nsd)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A port free for UDP and TCP on 127.0.0.1 right now.
fn free_port() -> u16 {
    loop {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        let port = u.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Signs example.cn (valid from T0 − 10 days until T0 + 48 h), with `tamper` one signature
/// altered, serves it from a real NSD on 127.0.0.1 and waits until it answers.
async fn signed_nsd(dir: &Path, tamper: bool) -> (Nsd, std::net::SocketAddr) {
    let d = dir;
    std::fs::write(
        d.join("example.cn.zone"),
        "$ORIGIN example.cn.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n\
         @ IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 192.0.2.1\n",
    )
    .expect("zone");
    let key = run(
        d,
        "ldns-keygen",
        &["-a", "ECDSAP256SHA256", "-r", "/dev/urandom", "example.cn"],
    );
    // Valid from T0 − 10 days until T0 + 48 h.
    run(
        d,
        "ldns-signzone",
        &[
            "-i",
            "20270105080000",
            "-e",
            "20270117080000",
            "-f",
            "signed.zone",
            "example.cn.zone",
            &key,
        ],
    );
    if tamper {
        // Change one byte of the signature over www's A record: still well-formed, no
        // longer valid.
        let signed = std::fs::read_to_string(d.join("signed.zone")).expect("signed zone");
        let mut out = String::new();
        let mut changed = false;
        for line in signed.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if !changed
                && f.len() > 5
                && f[0] == "www.example.cn."
                && f[3] == "RRSIG"
                && f[4] == "A"
            {
                let sig = f[f.len() - 1];
                let mid = sig.len() / 2;
                let c = sig.as_bytes()[mid];
                let flipped = if c == b'A' { 'B' } else { 'A' };
                let mut t = sig.to_string();
                t.replace_range(mid..mid + 1, &flipped.to_string());
                out.push_str(&line.replace(sig, &t));
                changed = true;
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        assert!(changed, "no RRSIG for www A in\n{signed}");
        std::fs::write(d.join("signed.zone"), out).expect("write");
    }
    let port = free_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/nsd-lab.sh");
    let nsd_dir = d.join("nsd");
    let pid = run(
        d,
        "bash",
        &[
            script.to_str().expect("path"),
            "start",
            nsd_dir.to_str().expect("path"),
            "127.0.0.1",
            &port.to_string(),
            "example.cn.",
            d.join("signed.zone").to_str().expect("path"),
        ],
    );
    let _nsd = Nsd {
        pid: pid.parse().expect("pid"),
    };
    // Wait until NSD answers.
    let prober = dnsgrade::probe::Prober::new(dnsgrade::probe::ProberConfig {
        timeout: Duration::from_millis(500),
        ..Default::default()
    })
    .await
    .expect("prober");
    let server = format!("127.0.0.1:{port}").parse().expect("addr");
    let q = dnsgrade::probe::Question {
        qname: hickory_proto::rr::Name::from_ascii("example.cn.").expect("name"),
        qtype: hickory_proto::rr::RecordType::SOA,
        recursion_desired: false,
        dnssec_ok: true,
    };
    let mut up = false;
    for _ in 0..100 {
        if prober
            .probe(server, &q, dnsgrade::config::Transport::Udp)
            .await
            .message()
            .is_some()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        up,
        "NSD did not answer: {}",
        std::fs::read_to_string(nsd_dir.join("nsd.out")).unwrap_or_default()
    );

    (_nsd, server)
}

/// A config with a signed tier-1 institution on `server`.
fn config(d: &Path, server: std::net::SocketAddr) -> std::path::PathBuf {
    let cfg = d.join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"200ms\"\ntick = \"1s\"\n\n\
             [[institution]]\nname = \"signed\"\ntier = 1\ndnssec = true\ndnssec_warn_before = \"72h\"\n\
             \x20 [[institution.server]]\n  name = \"ns1\"\n  addresses = [\"{server}\"]\n\
             \x20 [[institution.check]]\n  name = \"www.example.cn\"\n  type = \"A\"\n  values = [\"192.0.2.1\"]\n\
             \x20 [[institution.check]]\n  name = \"example.cn\"\n  type = \"SOA\"\n\
             \x20 [[institution.check]]\n  name = \"example.cn\"\n  type = \"DNSKEY\"\n",
            d.join("state").display()
        ),
    )
    .expect("write");
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_signatures_warn_and_expired_ones_are_wrong_data() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let (_nsd, server) = signed_nsd(d, false).await;
    let cfg = config(d, server);
    let clock = SimClock::new(d, T0);
    let daemon = DaemonProc::start(&cfg, Some(&clock.path), None);

    // T0: valid signatures that expire within 72 h: correct data, and a warning.
    // The server may not be registered at the first status read: wait for it, too.
    let find = |status: &serde_json::Value| {
        status["servers"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["server"] == "ns1"))
            .cloned()
    };
    let node = |status: &serde_json::Value| find(status).expect("server");
    let mut last = serde_json::Value::Null;
    for _ in 0..150 {
        let Some(s) = find(&support::get_json(daemon.http, "/api/v1/status").await) else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        if s["dnssec_expiring"] == true && s["window"]["checked"].as_u64().unwrap_or(0) >= 5 {
            last = s;
            break;
        }
        last = s;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last["dnssec_expiring"], true, "{last:#}");
    let expiry = last["dnssec_expiry_s"].as_f64().expect("expiry");
    assert!(
        (47.0 * 3600.0..=48.0 * 3600.0).contains(&expiry),
        "{last:#}"
    );
    assert_eq!(
        last["window"]["wrong"].as_u64(),
        Some(0),
        "valid signatures are correct: {last:#}"
    );
    // The gauge is exported at the next evaluation tick.
    let series = "dnsgrade_dnssec_signature_expiry_seconds{class=\"institution\",object=\"signed\",server=\"ns1\"}";
    let mut value = None;
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = support::http_get(daemon.http, "/metrics").await.1;
        value = metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok());
        if value.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let value = value.unwrap_or_else(|| panic!("no {series} in\n{metrics}"));
    assert!((47.0 * 3600.0..=48.0 * 3600.0).contains(&value), "{value}");

    // T0 + 49 h: the same signatures have expired: wrong data, level II for a tier-1
    // institution (data errors above 1%).
    let later = T0 + 49 * HOUR;
    clock.set(later);
    let o = wait_object(
        daemon.http,
        "institution/signed",
        later,
        "level II from expired signatures",
        |o| level(o).as_deref() == Some("II"),
    )
    .await;
    assert_eq!(
        o["assessment"]["rule"], "institution.tier1_data_error_ii",
        "{o:#}"
    );
    let s = node(&support::get_json(daemon.http, "/api/v1/status").await);
    assert!(s["window"]["wrong"].as_u64().unwrap_or(0) > 0, "{s:#}");
    assert!(
        s["dnssec_expiry_s"].as_f64().unwrap_or(0.0) < 0.0,
        "expired: {s:#}"
    );
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_that_does_not_verify_is_wrong_data() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let (_nsd, server) = signed_nsd(d, true).await;
    let cfg = config(d, server);
    let clock = SimClock::new(d, T0);
    let daemon = DaemonProc::start(&cfg, Some(&clock.path), None);
    // Within their validity windows, the SOA and DNSKEY signatures verify with the zone's
    // keys; the altered one over www's A record does not: those answers are wrong data, and
    // with a third of the checked replies wrong the tier-1 institution is at level II.
    let o = wait_object(
        daemon.http,
        "institution/signed",
        T0,
        "level II from an invalid signature",
        |o| level(o).as_deref() == Some("II"),
    )
    .await;
    assert_eq!(
        o["assessment"]["rule"], "institution.tier1_data_error_ii",
        "{o:#}"
    );
    let status = support::get_json(daemon.http, "/api/v1/status").await;
    let s = status["servers"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["server"] == "ns1"))
        .cloned()
        .expect("server");
    let wrong = s["window"]["wrong"].as_u64().unwrap_or(0);
    let samples = s["window"]["samples"].as_u64().unwrap_or(0);
    assert!(wrong > 0, "{s:#}");
    // A third of the probes ask for www's A record; the SOA and DNSKEY answers verify, and a
    // wrong one would be counted too.
    assert!(
        wrong * 2 < samples,
        "only the www A answers are wrong, not the SOA and DNSKEY ones: {s:#}"
    );
    // Not an expiry problem: the signatures are still far from expiring.
    assert!(
        s["dnssec_expiry_s"].as_f64().unwrap_or(0.0) > 47.0 * 3600.0,
        "{s:#}"
    );
    drop(daemon);
}
