//! A vantage point's identity (docs/operations.md, "Vantage point"): the name, region and
//! network of `[daemon]` are in `dnsgrade_vantage_info`, the status API and the wallboard, and
//! every probe leaves from `source_address` when one is set — over UDP and over TCP. All
//! sockets are on loopback (the source is 127.0.0.3).

mod support;

use dnsgrade::config::Transport;
use dnsgrade::probe::{Prober, ProberConfig, Question};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{get_json, http_get, DaemonProc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A responder on 127.0.0.1 that answers every query (UDP and TCP) with its own question and
/// records the source address of each.
async fn recording_server() -> (SocketAddr, Arc<Mutex<Vec<(Transport, IpAddr)>>>) {
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("udp");
    let addr = udp.local_addr().expect("addr");
    let tcp = tokio::net::TcpListener::bind(addr).await.expect("tcp");
    let seen: Arc<Mutex<Vec<(Transport, IpAddr)>>> = Arc::default();
    let answer = |q: &[u8]| -> Option<Vec<u8>> {
        let mut m = Message::from_vec(q).ok()?;
        m.metadata.message_type = hickory_proto::op::MessageType::Response;
        m.metadata.authoritative = true;
        m.to_vec().ok()
    };
    let s = seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            s.lock().expect("lock").push((Transport::Udp, from.ip()));
            if let Some(a) = answer(&buf[..n]) {
                let _ = udp.send_to(&a, from).await;
            }
        }
    });
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut c, from)) = tcp.accept().await {
            s.lock().expect("lock").push((Transport::Tcp, from.ip()));
            tokio::spawn(async move {
                let mut len = [0u8; 2];
                if c.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if c.read_exact(&mut q).await.is_err() {
                    return;
                }
                if let Some(a) = answer(&q) {
                    let mut framed = (a.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&a);
                    let _ = c.write_all(&framed).await;
                }
            });
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_leave_from_the_source_address_over_udp_and_tcp() {
    let (server, seen) = recording_server().await;
    let source: IpAddr = "127.0.0.3".parse().expect("ip");
    let prober = Prober::new(ProberConfig {
        udp_sockets: 2,
        timeout: Duration::from_secs(5),
        source: Some(source),
        ..ProberConfig::default()
    })
    .await
    .expect("prober");
    let q = Question {
        qname: Name::from_ascii("example.cn.").expect("name"),
        qtype: RecordType::SOA,
        recursion_desired: false,
        dnssec_ok: false,
    };
    for transport in [Transport::Udp, Transport::Udp, Transport::Tcp] {
        let r = prober.probe(server, &q, transport).await;
        assert!(r.message().is_some(), "{transport:?}: {:?}", r.failure());
    }
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|(_, ip)| *ip == source), "{seen:?}");
    assert!(seen.iter().any(|(t, _)| *t == Transport::Tcp));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vantage_is_in_its_metric_the_status_and_the_wallboard() {
    let (server, seen) = recording_server().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\ninterval = \"100ms\"\n\
             vantage = \"bj-telecom-1\"\nregion = \"beijing\"\nnetwork = \"telecom\"\n\
             source_address = \"127.0.0.3\"\n\n\
             [[control]]\nname = \"c\"\n  [[control.server]]\n  name = \"c1\"\n  addresses = [\"{server}\"]\n\
               [[control.check]]\n  name = \"example.cn\"\n  type = \"SOA\"\n",
            dir.path().join("state").display()
        ),
    )
    .expect("write");
    let d = DaemonProc::start(&cfg, None, None);
    let (_, metrics) = http_get(d.http, "/metrics").await;
    assert!(
        metrics.contains(
            "dnsgrade_vantage_info{network=\"telecom\",region=\"beijing\",vantage=\"bj-telecom-1\"} 1"
        ),
        "{metrics}"
    );
    let status = get_json(d.http, "/api/v1/status").await;
    assert_eq!(status["monitor"]["vantage"]["name"], "bj-telecom-1");
    assert_eq!(status["monitor"]["vantage"]["region"], "beijing");
    let (_, page) = http_get(d.http, "/").await;
    assert!(page.contains("bj-telecom-1 · beijing · telecom"), "{page}");
    support::eventually(10, "the daemon's probes arrive", || {
        !seen.lock().expect("lock").is_empty()
    })
    .await;
    let seen = seen.lock().expect("lock").clone();
    assert!(
        seen.iter()
            .all(|(_, ip)| *ip == "127.0.0.3".parse::<IpAddr>().expect("ip")),
        "{seen:?}"
    );
}
