//! Network tests: a real server on 127.0.0.1 (kernel-chosen ports only), queried with plain
//! sockets and hickory messages.

use super::*;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::rdata::{A, NS};
use hickory_proto::rr::{Name, RData, RecordType};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Long enough for any loopback reply; under paused time it costs nothing.
const WAIT: Duration = Duration::from_secs(5);

fn zone_text() -> String {
    let big: Vec<String> = (b'a'..=b'f')
        .map(|c| format!("big TXT \"{}\"", (c as char).to_string().repeat(150)))
        .collect();
    format!(
        "$ORIGIN example.cn.\n$TTL 300\n\
         @ IN SOA ns1 hostmaster 7 3600 600 86400 300\n\
         @ IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 192.0.2.1\n\
         sub IN NS ns1.sub\nns1.sub IN A 127.0.0.3\na.b.deep IN A 192.0.2.2\n{}\n",
        big.join("\n")
    )
}

fn zone() -> Zone {
    Zone::parse("example.cn.", &zone_text()).expect("zone parses")
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn server() -> LabServer {
    LabServer::start(loopback(), vec![zone()])
        .await
        .expect("start on loopback")
}

fn name(s: &str) -> Name {
    Name::from_str(s).expect("name")
}

fn query(qname: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(0x5151, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name(qname), qtype));
    m
}

fn with_edns(mut m: Message, payload: u16, nsid: bool) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    if nsid {
        let empty = NSIDPayload::new(Vec::new()).expect("empty NSID");
        edns.options_mut().insert(EdnsOption::NSID(empty));
    }
    m.set_edns(edns);
    m
}

/// Sends raw bytes over UDP; the raw reply, if one comes within [`WAIT`].
async fn udp_raw(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind(loopback()).await.expect("client socket");
    socket.send_to(bytes, addr).await.expect("send");
    let mut buf = vec![0u8; 65_535];
    let (len, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(len);
    Some(buf)
}

/// One query over UDP; the parsed reply, if one comes and parses.
async fn udp(addr: SocketAddr, m: &Message) -> Option<Message> {
    let bytes = udp_raw(addr, &m.to_vec().expect("encode")).await?;
    Message::from_vec(&bytes).ok()
}

/// One query on an open TCP connection; the parsed reply, if one comes.
async fn tcp(stream: &mut TcpStream, m: &Message) -> Option<Message> {
    let bytes = m.to_vec().expect("encode");
    let mut framed = u16::try_from(bytes.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    framed.extend(bytes);
    stream.write_all(&framed).await.ok()?;
    let mut len = [0u8; 2];
    tokio::time::timeout(WAIT, stream.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    tokio::time::timeout(WAIT, stream.read_exact(&mut body))
        .await
        .ok()?
        .ok()?;
    Message::from_vec(&body).ok()
}

/// Waits (a few virtual or real milliseconds at a time) until `done` holds.
async fn wait_for(done: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition not reached");
}

#[tokio::test]
async fn answer_shapes() {
    let s = server().await;
    let a = s.local_addr();

    let mut q = query("WWW.example.cn.", RecordType::A);
    q.metadata.recursion_desired = true;
    let m = udp(a, &q).await.expect("answer");
    assert_eq!(m.metadata.id, 0x5151);
    assert_eq!(m.queries, q.queries, "question copied");
    assert!(m.metadata.recursion_desired, "RD copied");
    assert!(m.metadata.authoritative && !m.metadata.recursion_available);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].data, RData::A(A([192, 0, 2, 1].into())));
    assert!(m.edns.is_none(), "no EDNS asked, none given");

    let m = udp(a, &query("host.sub.example.cn.", RecordType::A))
        .await
        .expect("referral");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.metadata.authoritative && m.answers.is_empty());
    assert_eq!(
        m.authorities[0].data,
        RData::NS(NS(name("ns1.sub.example.cn.")))
    );
    assert_eq!(
        m.additionals[0].data,
        RData::A(A([127, 0, 0, 3].into())),
        "glue"
    );

    let m = udp(a, &query("www.example.cn.", RecordType::AAAA))
        .await
        .expect("nodata");
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );
    assert!(m.metadata.authoritative);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);

    let m = udp(a, &query("deep.example.cn.", RecordType::A))
        .await
        .expect("ent");
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );

    let m = udp(a, &query("nope.example.cn.", RecordType::A))
        .await
        .expect("nxdomain");
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);

    let m = udp(a, &query("example.org.", RecordType::A))
        .await
        .expect("refused");
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);

    let c = s.counters();
    assert_eq!((c.queries, c.replies, c.refused), (6, 6, 1));
    s.stop().await;
}

#[tokio::test]
async fn edns_and_nsid() {
    let s = server().await;
    let a = s.local_addr();
    let www = || query("www.example.cn.", RecordType::A);

    let m = udp(a, &with_edns(www(), 4096, true)).await.expect("reply");
    let edns = m.edns.as_ref().expect("EDNS in reply");
    assert_eq!(edns.max_payload(), 1232);
    assert!(edns.option(EdnsCode::NSID).is_none(), "no NSID configured");

    s.set_nsid(Some(b"lab-node-7".to_vec()));
    let m = udp(a, &with_edns(www(), 1232, true)).await.expect("reply");
    let nsid = m.edns.as_ref().and_then(|e| e.option(EdnsCode::NSID));
    let expected = NSIDPayload::new(b"lab-node-7".to_vec()).expect("payload");
    assert_eq!(nsid, Some(&EdnsOption::NSID(expected)));

    let m = udp(a, &with_edns(www(), 1232, false)).await.expect("reply");
    assert!(
        m.edns.expect("EDNS").option(EdnsCode::NSID).is_none(),
        "NSID only when asked"
    );

    let mut v1 = with_edns(www(), 1232, false);
    if let Some(edns) = v1.edns.as_mut() {
        edns.set_version(1);
    }
    let m = udp(a, &v1).await.expect("reply");
    // BADVERS and BADSIG share the code 16; hickory decodes it as BADSIG.
    assert_eq!(u16::from(m.metadata.response_code), 16, "BADVERS");
    s.stop().await;
}

#[tokio::test]
async fn big_udp_answer_is_truncated_then_tcp_answers_it() {
    let s = server().await;
    let a = s.local_addr();
    let big = || query("big.example.cn.", RecordType::TXT);

    let m = udp(a, &big()).await.expect("reply");
    assert!(m.metadata.truncation, "1 kB does not fit 512 bytes");
    assert!(m.answers.is_empty());
    assert_eq!(m.queries.len(), 1);
    let m = udp(a, &with_edns(big(), 1232, false)).await.expect("reply");
    assert!(!m.metadata.truncation, "fits the query's 1232");
    assert_eq!(m.answers.len(), 6);

    let mut stream = TcpStream::connect(a).await.expect("connect");
    for _ in 0..3 {
        let m = tcp(&mut stream, &big()).await.expect("TCP reply");
        assert!(!m.metadata.truncation);
        assert_eq!(m.answers.len(), 6);
    }
    let m = tcp(&mut stream, &query("www.example.cn.", RecordType::A))
        .await
        .expect("reply");
    assert_eq!(m.answers.len(), 1, "several queries on one connection");
    let c = s.counters();
    assert_eq!((c.truncated, c.tcp_connections), (1, 1));
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn every_fault_changes_the_replies() {
    let s = server().await;
    let a = s.local_addr();
    let www = || query("www.example.cn.", RecordType::A);
    let healthy = udp(a, &www()).await.expect("healthy reply");

    s.set_faults(Faults {
        stopped: true,
        ..Faults::default()
    });
    assert!(udp(a, &www()).await.is_none(), "stopped: no UDP reply");
    let mut stream = TcpStream::connect(a).await.expect("connect");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(WAIT, stream.read(&mut byte))
        .await
        .expect("closed, not idle");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "stopped: TCP connection closed"
    );
    assert_eq!(s.counters().stopped, 2);

    s.set_faults(Faults {
        drop_ratio: 1.0,
        ..Faults::default()
    });
    assert!(udp(a, &www()).await.is_none(), "dropped");

    s.set_faults(Faults {
        rcode: Some(ResponseCode::ServFail),
        rcode_ratio: 1.0,
        ..Faults::default()
    });
    let m = udp(a, &www()).await.expect("reply");
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::ServFail, 0)
    );

    s.set_faults(Faults {
        wrong_names: vec![name("www.example.cn.")],
        ..Faults::default()
    });
    let m = udp(a, &www()).await.expect("reply");
    assert_ne!(m.answers, healthy.answers);
    assert_eq!(m.answers[0].data, RData::A(A([192, 0, 2, 2].into())));

    s.set_faults(Faults {
        wrong_ratio: 1.0,
        ..Faults::default()
    });
    let m = udp(a, &query("x.sub.example.cn.", RecordType::A))
        .await
        .expect("referral");
    assert_eq!(
        m.authorities[0].data,
        RData::NS(NS(name("wrong.ns1.sub.example.cn.")))
    );

    s.set_faults(Faults {
        missing_ratio: 1.0,
        ..Faults::default()
    });
    let m = udp(a, &www()).await.expect("reply");
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NXDomain, 0)
    );

    s.set_faults(Faults {
        serial_override: Some(3),
        ..Faults::default()
    });
    let m = udp(a, &query("example.cn.", RecordType::SOA))
        .await
        .expect("reply");
    assert!(matches!(&m.answers[0].data, RData::SOA(soa) if soa.serial == 3));

    s.set_faults(Faults {
        mismatch_id_ratio: 1.0,
        ..Faults::default()
    });
    let m = udp(a, &www()).await.expect("reply");
    assert_ne!(m.metadata.id, 0x5151, "another ID");

    s.set_faults(Faults {
        malformed_ratio: 1.0,
        ..Faults::default()
    });
    let raw = udp_raw(a, &www().to_vec().expect("encode"))
        .await
        .expect("some bytes");
    assert!(Message::from_vec(&raw).is_err(), "garbage does not parse");

    s.set_faults(Faults {
        truncate_udp: true,
        ..Faults::default()
    });
    let m = udp(a, &www()).await.expect("reply");
    assert!(m.metadata.truncation && m.answers.is_empty());
    let mut stream = TcpStream::connect(a).await.expect("connect");
    let m = tcp(&mut stream, &www()).await.expect("TCP reply");
    assert_eq!(m.answers, healthy.answers, "TCP answers normally");

    let c = s.counters();
    let expected = LabCounters {
        queries: 12,
        replies: 10,
        stopped: 2,
        dropped: 1,
        rcode: 1,
        wrong: 2,
        missing: 1,
        malformed: 1,
        mismatched_id: 1,
        stale_serial: 1,
        truncated: 1,
        tcp_connections: 1,
        ..LabCounters::default()
    };
    assert_eq!(c, expected);
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn random_faults_hit_about_their_share_and_repeat_with_the_seed() {
    let s = server().await;
    let client = UdpSocket::bind(loopback()).await.expect("client");
    async fn pattern(s: &LabServer, client: &UdpSocket, faults: Faults) -> Vec<bool> {
        s.set_faults(faults);
        let mut answered = Vec::new();
        let mut buf = vec![0u8; 4096];
        for _ in 0..200 {
            let q = query("www.example.cn.", RecordType::A)
                .to_vec()
                .expect("encode");
            client.send_to(&q, s.local_addr()).await.expect("send");
            let wait = Duration::from_millis(100);
            answered.push(
                tokio::time::timeout(wait, client.recv_from(&mut buf))
                    .await
                    .is_ok(),
            );
        }
        answered
    }
    let faults = Faults {
        drop_ratio: 0.3,
        seed: 11,
        ..Faults::default()
    };
    let first = pattern(&s, &client, faults.clone()).await;
    let second = pattern(&s, &client, faults).await;
    assert_eq!(first, second, "same seed, same drops");
    let dropped = first.iter().filter(|ok| !**ok).count();
    assert!((30..=90).contains(&dropped), "{dropped} of 200 at 30%");
    assert_eq!(s.counters().dropped, 2 * dropped as u64);
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn delay_is_virtual_and_the_server_keeps_serving_meanwhile() {
    let s = server().await;
    let a = s.local_addr();
    let slow_client = UdpSocket::bind(loopback()).await.expect("client");
    let start = tokio::time::Instant::now();
    s.set_faults(Faults {
        delay: Duration::from_secs(3_600),
        ..Faults::default()
    });
    let q = query("www.example.cn.", RecordType::A)
        .to_vec()
        .expect("encode");
    slow_client.send_to(&q, a).await.expect("send");

    wait_for(|| s.counters().delayed == 1).await;
    // The delayed reply does not hold the socket: a healthy query meanwhile is answered now.
    s.set_faults(Faults::default());
    assert!(udp(a, &query("www.example.cn.", RecordType::A))
        .await
        .is_some());
    assert!(start.elapsed() < Duration::from_secs(3_600));

    let mut buf = vec![0u8; 4096];
    let (len, _) =
        tokio::time::timeout(Duration::from_secs(7_200), slow_client.recv_from(&mut buf))
            .await
            .expect("the delayed reply comes")
            .expect("recv");
    assert!(Message::from_vec(&buf[..len]).is_ok());
    assert!(
        start.elapsed() >= Duration::from_secs(3_600),
        "{:?}",
        start.elapsed()
    );
    let c = s.counters();
    assert_eq!((c.delayed, c.replies), (1, 2));

    // Over TCP too.
    s.set_faults(Faults {
        delay: Duration::from_millis(6_500),
        ..Faults::default()
    });
    let before = tokio::time::Instant::now();
    let mut stream = TcpStream::connect(a).await.expect("connect");
    let bytes = query("www.example.cn.", RecordType::A)
        .to_vec()
        .expect("encode");
    let mut framed = u16::try_from(bytes.len())
        .expect("small")
        .to_be_bytes()
        .to_vec();
    framed.extend(bytes);
    stream.write_all(&framed).await.expect("write");
    let mut len = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut len))
        .await
        .expect("TCP reply within 10 s")
        .expect("read");
    assert!(before.elapsed() >= Duration::from_millis(6_500));
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn idle_tcp_connections_are_closed() {
    let s = server().await;
    let mut stream = TcpStream::connect(s.local_addr()).await.expect("connect");
    let start = tokio::time::Instant::now();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut byte))
        .await
        .expect("closed before a minute");
    assert!(matches!(read, Ok(0) | Err(_)));
    assert!(start.elapsed() >= Duration::from_secs(10));
    s.stop().await;
}

#[tokio::test]
async fn wrong_ratio_over_a_synthetic_zone_of_10000_names_is_deterministic() {
    let tld = Zone::synthetic_tld("cn.", 10_000);
    let names: Vec<Name> = tld.delegations().cloned().collect();
    let s = LabServer::start(loopback(), vec![tld])
        .await
        .expect("start");
    let faults = Faults {
        wrong_ratio: 0.1,
        seed: 42,
        ..Faults::default()
    };
    s.set_faults(faults.clone());

    // Pipelined: a window of queries in flight on one socket, matched by ID.
    let client = UdpSocket::bind(loopback()).await.expect("client");
    let mut wrong_seen = Vec::new();
    let mut buf = vec![0u8; 4096];
    for (chunk_no, chunk) in names.chunks(100).enumerate() {
        let mut pending: HashMap<u16, &Name> = HashMap::new();
        for (i, n) in chunk.iter().enumerate() {
            let mut m = Message::new(
                u16::try_from(i).expect("small"),
                MessageType::Query,
                OpCode::Query,
            );
            m.add_query(Query::query(n.clone(), RecordType::NS));
            client
                .send_to(&m.to_vec().expect("encode"), s.local_addr())
                .await
                .expect("send");
            pending.insert(m.metadata.id, n);
        }
        while !pending.is_empty() {
            let (len, _) = tokio::time::timeout(WAIT, client.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("chunk {chunk_no}: {} replies missing", pending.len()))
                .expect("recv");
            let m = Message::from_vec(&buf[..len]).expect("parses");
            let n = pending.remove(&m.metadata.id).expect("expected ID");
            let wrong = m.authorities.iter().any(
                |r| matches!(&r.data, RData::NS(NS(t)) if t.iter().next() == Some(&b"wrong"[..])),
            );
            if wrong {
                wrong_seen.push(n.clone());
            }
        }
    }
    let predicted: Vec<Name> = names
        .iter()
        .filter(|n| faults.is_wrong(n))
        .cloned()
        .collect();
    wrong_seen.sort();
    assert_eq!(wrong_seen, predicted, "exactly the names the hash picks");
    assert_eq!(
        wrong_seen.len(),
        1_025,
        "pinned: the same names on every run"
    );
    assert_eq!(s.counters().wrong, 1_025);
    s.stop().await;
}

#[tokio::test]
async fn junk_does_not_stop_the_server() {
    let s = server().await;
    let a = s.local_addr();
    let socket = UdpSocket::bind(loopback()).await.expect("client");
    let valid = query("www.example.cn.", RecordType::A)
        .to_vec()
        .expect("encode");
    for i in 0..500usize {
        let mut junk = valid.clone();
        junk[(i * 7) % valid.len()] ^= 0xff;
        junk.truncate(valid.len() - i % 5);
        socket.send_to(&junk, a).await.expect("send");
    }
    socket.send_to(&[], a).await.expect("send empty");
    let mut stream = TcpStream::connect(a).await.expect("connect");
    stream
        .write_all(&[0, 3, 1, 2, 3])
        .await
        .expect("short message");
    let m = tcp(&mut stream, &query("www.example.cn.", RecordType::A))
        .await
        .expect("TCP still answers");
    assert_eq!(m.answers.len(), 1);
    assert!(
        udp(a, &query("www.example.cn.", RecordType::A))
            .await
            .is_some(),
        "UDP still answers"
    );
    s.stop().await;
}

#[tokio::test]
async fn zones_can_be_replaced_and_the_most_specific_zone_answers() {
    let s = LabServer::start(loopback(), vec![Zone::synthetic_tld("cn.", 3), zone()])
        .await
        .expect("start");
    let a = s.local_addr();
    let m = udp(a, &query("www.example.cn.", RecordType::A))
        .await
        .expect("reply");
    assert!(
        m.metadata.authoritative && m.answers.len() == 1,
        "example.cn. answers, not cn."
    );
    let m = udp(a, &query("d1.cn.", RecordType::NS))
        .await
        .expect("reply");
    assert!(!m.metadata.authoritative && m.authorities.len() == 2);

    let mut newer = zone();
    newer.set_serial(8);
    s.set_zones(vec![newer]);
    let m = udp(a, &query("example.cn.", RecordType::SOA))
        .await
        .expect("reply");
    assert!(matches!(&m.answers[0].data, RData::SOA(soa) if soa.serial == 8));
    let m = udp(a, &query("d1.cn.", RecordType::NS))
        .await
        .expect("reply");
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    s.stop().await;
}

#[tokio::test]
async fn stop_frees_the_port_for_udp_and_tcp() {
    let s = server().await;
    let a = s.local_addr();
    // A connection and a delayed reply pending at stop must not keep the port.
    let _conn = TcpStream::connect(a).await.expect("connect");
    s.set_faults(Faults {
        delay: Duration::from_secs(600),
        ..Faults::default()
    });
    let client = UdpSocket::bind(loopback()).await.expect("client");
    client
        .send_to(
            &query("www.example.cn.", RecordType::A)
                .to_vec()
                .expect("encode"),
            a,
        )
        .await
        .expect("send");
    wait_for(|| s.counters().delayed == 1).await;
    s.stop().await;

    let udp = std::net::UdpSocket::bind(a).expect("UDP port free after stop");
    let tcp = std::net::TcpListener::bind(a).expect("TCP port free after stop");
    drop((udp, tcp));
    let again = LabServer::start(a, vec![zone()])
        .await
        .expect("restart on the same port");
    assert_eq!(again.local_addr(), a);
    again.stop().await;
}

#[tokio::test(start_paused = true)]
async fn delayed_replies_are_bounded() {
    let s = server().await;
    s.set_faults(Faults {
        delay: Duration::from_secs(3_600),
        ..Faults::default()
    });
    let client = UdpSocket::bind(loopback()).await.expect("client");
    let q = query("www.example.cn.", RecordType::A)
        .to_vec()
        .expect("encode");
    let mut sent = 0u64;
    // In batches, so the server's receive buffer never overflows.
    for _ in 0..101 {
        for _ in 0..100 {
            client.send_to(&q, s.local_addr()).await.expect("send");
        }
        sent += 100;
        wait_for(|| s.counters().queries == sent).await;
    }
    let c = s.counters();
    assert_eq!((c.delayed, c.overloaded, c.replies), (10_000, 100, 0));
    s.stop().await;
}
