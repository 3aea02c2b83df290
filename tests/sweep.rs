//! `dnsgrade sweep` against an in-process node on loopback with three planted wrong
//! delegations: exactly those three are reported, and the exit code follows
//! --max-error-ratio; a node that answers nothing fails --min-answered; a node that drips its
//! TCP replies a byte at a time gives timeouts at the deadline, over the TC=1 fallback and
//! over TCP.

mod support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use std::fmt::Write;
use std::str::FromStr;

fn zone_text(n: usize) -> String {
    let mut t = String::from("$ORIGIN cn.\n$TTL 86400\n@ IN SOA a.dns.cn. hostmaster.cn. 2026112201 7200 3600 2419200 21600\n@ IN NS a.dns.cn.\na.dns IN A 127.0.0.1\n");
    for i in 0..n {
        let _ = writeln!(
            t,
            "d{i} IN NS ns1.d{i}\nd{i} IN NS ns2.d{i}.example.net.\nns1.d{i} IN A 127.1.{}.{}",
            i / 256,
            i % 256
        );
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_reports_exactly_the_planted_wrong_delegations() {
    let text = zone_text(500);
    let zone = Zone::parse("cn.", &text).expect("zone");
    let node = LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone])
        .await
        .expect("lab");
    let planted = ["d7.cn.", "d123.cn.", "d400.cn."];
    node.set_faults(Faults {
        wrong_names: planted
            .iter()
            .map(|n| hickory_proto::rr::Name::from_str(n).expect("name"))
            .collect(),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("cn.zone");
    std::fs::write(&file, &text).expect("write");
    let addr = node.local_addr().to_string();
    let run = move |extra: &'static [&'static str]| {
        let (addr, file) = (addr.clone(), file.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
                    .args(["sweep", "--server", &addr, "--zone"])
                    .arg(&file)
                    .args(["--rate", "1000", "--concurrency", "32", "--list"])
                    .args(extra)
                    .output()
                    .expect("run sweep")
            })
            .await
            .expect("join")
        }
    };
    let out = run(&[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "errors above the default ratio 0: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("swept 500 delegations"), "{text}");
    assert!(
        text.contains("answered 500  correct 497  missing 0  wrong 3"),
        "{text}"
    );
    let bad: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("bad: "))
        .collect();
    let mut want = planted.to_vec();
    want.sort();
    assert_eq!(bad, want, "{text}");
    assert!(
        text.contains("wrong: d123.cn.  expected [ns1.d123.cn. ns2.d123.example.net.]"),
        "{text}"
    );
    assert!(
        text.contains("q/s") && text.contains("latency ms: p50"),
        "{text}"
    );

    let out = run(&["--max-error-ratio", "0.01"]).await;
    assert_eq!(out.status.code(), Some(0), "3/500 = 0.6% is within 1%");
    node.stop().await;
}

/// A node that answers nothing has no error ratio: the sweep fails (69) below --min-answered,
/// however generous --max-error-ratio is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_with_too_few_answers_fails() {
    let text = zone_text(20);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("cn.zone");
    std::fs::write(&file, &text).expect("write");
    // A port with nothing behind it (bound, then closed): every query times out.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = dead.local_addr().expect("addr").to_string();
    drop(dead);
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dnsgrade"))
            .args(["sweep", "--server", &addr, "--zone"])
            .arg(&file)
            .args([
                "--rate",
                "1000",
                "--timeout",
                "200ms",
                "--max-error-ratio",
                "1",
            ])
            .args(extra)
            .output()
            .expect("run sweep")
    };
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{err}");
    assert!(err.contains("0 of 20 queries answered"), "{err}");
    let out = run(&["--min-answered", "0"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing required: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The UDP engine keeps the prober's semantics: TC=1 is retried over TCP within the deadline,
/// a node that never answers gives timeouts, and mismatched IDs end as `mismatch`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_falls_back_to_tcp_and_counts_failures_by_kind() {
    use dnsgrade::probe::Outcome;
    use dnsgrade::sweep::{sweep, SweepOptions};
    let text = zone_text(50);
    let zone = Zone::parse("cn.", &text).expect("zone");
    let list = std::sync::Arc::new(
        dnsgrade::reference::parse_zone_reader(
            text.as_bytes(),
            std::path::Path::new("cn.zone"),
            None,
        )
        .expect("reference"),
    );
    assert_eq!(list.len(), 50);
    let node = LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone])
        .await
        .expect("lab");
    let opts = SweepOptions {
        server: node.local_addr(),
        rate: std::num::NonZeroU32::new(5000).expect("rate"),
        concurrency: 16,
        transport: dnsgrade::config::Transport::Udp,
        timeout: std::time::Duration::from_millis(300),
        every: 1,
        examples: 5,
    };
    node.set_faults(Faults {
        truncate_udp: true,
        ..Faults::default()
    });
    let r = sweep(list.clone(), &opts).await.expect("sweep");
    assert_eq!((r.checked, r.correct), (50, 50), "{r:?}");
    assert!(node.counters().tcp_connections >= 50);

    node.set_faults(Faults {
        stopped: true,
        ..Faults::default()
    });
    let r = sweep(list.clone(), &opts).await.expect("sweep");
    assert_eq!(r.failures, vec![(Outcome::Timeout, 50)], "{r:?}");

    node.set_faults(Faults {
        mismatch_id_ratio: 1.0,
        ..Faults::default()
    });
    let r = sweep(list, &opts).await.expect("sweep");
    assert_eq!(r.failures, vec![(Outcome::Mismatch, 50)], "{r:?}");
    node.stop().await;
}

/// A node that answers UDP with TC=1 and, over TCP, reads the query and then sends a reply a
/// byte at a time, every 200 ms, for 12 s (each byte well inside a 1-s timeout, the whole
/// reply far outside it) before it closes.
async fn start_dripping_node() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind udp");
    let addr = udp.local_addr().expect("addr");
    let tcp = tokio::net::TcpListener::bind(addr).await.expect("bind tcp");
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            // Header and question only: QR=1, TC=1, no records.
            let mut end = 12;
            while end < n && buf[end] != 0 {
                end += usize::from(buf[end]) + 1;
            }
            end += 5;
            if end > n {
                continue;
            }
            let mut reply = buf[..end].to_vec();
            reply[2] |= 0x82;
            reply[3] = 0;
            reply[6..12].fill(0);
            let _ = udp.send_to(&reply, from).await;
        }
    });
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let mut len = [0u8; 2];
                if conn.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if conn.read_exact(&mut q).await.is_err() {
                    return;
                }
                // A 256-byte reply announced, then dripped: its ID and flags first, so the
                // client has every reason to keep reading.
                let mut drip = vec![1u8, 0, q[0], q[1], 0x80];
                drip.resize(60, 0);
                for b in drip {
                    if conn.write_all(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            });
        }
    });
    addr
}

/// Every query of a sweep ends by `--timeout`, the TCP exchange included: against a node that
/// drips its TCP replies, each query is a timeout (not a network error when the node finally
/// closes, 12 s later), over the TC=1 fallback of the UDP engine and over TCP (the daemon's
/// prober). The 10-s bound is only a guard against a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_drips_tcp_replies_times_out_at_the_deadline() {
    use dnsgrade::config::Transport;
    use dnsgrade::probe::Outcome;
    use dnsgrade::sweep::{sweep, SweepOptions};
    let text = zone_text(8);
    let list = std::sync::Arc::new(
        dnsgrade::reference::parse_zone_reader(
            text.as_bytes(),
            std::path::Path::new("cn.zone"),
            None,
        )
        .expect("reference"),
    );
    let server = start_dripping_node().await;
    for transport in [Transport::Udp, Transport::Tcp] {
        let opts = SweepOptions {
            server,
            rate: std::num::NonZeroU32::new(1000).expect("rate"),
            concurrency: 8,
            transport,
            timeout: std::time::Duration::from_secs(1),
            every: 1,
            examples: 5,
        };
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            sweep(list.clone(), &opts),
        )
        .await
        .unwrap_or_else(|_| panic!("{transport:?}: the sweep did not end"))
        .expect("sweep");
        assert_eq!(r.checked, 8, "{transport:?}: {r:?}");
        assert_eq!(
            r.failures,
            vec![(Outcome::Timeout, 8)],
            "{transport:?}: {r:?}"
        );
    }
}

/// The lab serves, and the reference expects, the same delegations from one zone text: both
/// read it with the one zone-file reader, the lab with full RDATA, the reference through its
/// plain-name fast path.
#[test]
fn the_lab_zone_and_the_reference_agree_on_the_delegations() {
    use dnsgrade::config::normalize_rdata;
    use hickory_proto::rr::RecordType;
    let mut text = zone_text(300);
    text.push_str("$ORIGIN sub.cn.\nDeep NS ns.deep\n中文 NS ns.中文\n\\065x NS \\065\n");
    let reference = dnsgrade::reference::parse_zone_reader(
        text.as_bytes(),
        std::path::Path::new("cn.zone"),
        None,
    )
    .expect("reference");
    let zone = Zone::parse("cn.", &text).expect("lab zone");
    let mut from_reference: Vec<(String, String)> = (0..reference.len())
        .map(|i| {
            (
                reference.name_text(i).to_string(),
                reference.set_text(i).to_string(),
            )
        })
        .collect();
    let mut from_lab: Vec<(String, String)> = zone
        .delegations()
        .map(|owner| {
            let mut targets: Vec<String> = zone
                .lookup(owner, RecordType::NS)
                .map(|r| normalize_rdata(&r.data))
                .collect();
            targets.sort();
            targets.dedup();
            (owner.to_ascii(), targets.join("\n"))
        })
        .collect();
    from_reference.sort();
    from_lab.sort();
    assert_eq!(from_reference.len(), 303);
    assert_eq!(from_reference, from_lab);
    assert!(from_reference
        .iter()
        .any(|(n, _)| n == "xn--fiq228c.sub.cn."));
    assert_eq!(reference.serial(), 2026112201);
}
