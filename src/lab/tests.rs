use super::*;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::{Name, RData, RecordType};
use std::str::FromStr;
use std::time::Duration;
use tokio::net::UdpSocket;

const ZONE: &str = "$ORIGIN example.cn.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 192.0.2.1\nsub IN NS ns1.sub\nns1.sub IN A 127.0.0.3\na.b.deep IN A 192.0.2.2\nbig IN TXT \"{}\"\n";

fn zone() -> Zone {
    let big = "x".repeat(250);
    let text = ZONE.replace("{}", &format!("{big}\" \"{big}\" \"{big}"));
    Zone::parse("example.cn.", &text).expect("zone")
}

async fn ask(addr: std::net::SocketAddr, name: &str, t: RecordType, edns: bool) -> Option<Message> {
    let s = UdpSocket::bind("127.0.0.1:0").await.ok()?;
    let mut m = Message::new(99, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_str(name).ok()?, t));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.options_mut()
            .insert(EdnsOption::NSID(NSIDPayload::new(Vec::new()).ok()?));
        m.set_edns(e);
    }
    s.send_to(&m.to_vec().ok()?, addr).await.ok()?;
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(20), s.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Message::from_vec(&buf[..n]).ok()
}

async fn server() -> LabServer {
    LabServer::start("127.0.0.1:0".parse().unwrap(), vec![zone()])
        .await
        .expect("start")
}

#[tokio::test]
async fn answer_shapes() {
    let s = server().await;
    let a = s.local_addr();
    let m = ask(a, "www.example.cn.", RecordType::A, false)
        .await
        .unwrap();
    assert!(m.metadata.authoritative);
    assert_eq!(m.answers.len(), 1);
    let m = ask(a, "host.sub.example.cn.", RecordType::A, false)
        .await
        .unwrap();
    assert!(!m.metadata.authoritative, "referral");
    assert_eq!(m.authorities[0].record_type(), RecordType::NS);
    assert!(matches!(m.additionals[0].data, RData::A(_)), "glue");
    let m = ask(a, "www.example.cn.", RecordType::AAAA, false)
        .await
        .unwrap();
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0),
        "NODATA"
    );
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    let m = ask(a, "deep.example.cn.", RecordType::A, false)
        .await
        .unwrap();
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NoError,
        "empty non-terminal"
    );
    let m = ask(a, "nope.example.cn.", RecordType::A, false)
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let m = ask(a, "example.org.", RecordType::A, false).await.unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    s.stop().await;
}

#[tokio::test]
async fn edns_nsid_and_truncation() {
    let s = server().await;
    s.set_nsid(Some(b"lab-1".to_vec()));
    let m = ask(s.local_addr(), "www.example.cn.", RecordType::A, true)
        .await
        .unwrap();
    let e = m.edns.as_ref().expect("edns");
    assert_eq!(e.max_payload(), 1232);
    assert!(e.option(EdnsCode::NSID).is_some());
    // Without EDNS, a 750-byte TXT does not fit in 512 bytes.
    let m = ask(s.local_addr(), "big.example.cn.", RecordType::TXT, false)
        .await
        .unwrap();
    assert!(m.metadata.truncation);
    s.stop().await;
}

#[tokio::test]
async fn faults_change_replies() {
    let s = server().await;
    let a = s.local_addr();
    s.set_faults(Faults {
        rcode: Some(ResponseCode::ServFail),
        rcode_ratio: 1.0,
        ..Faults::default()
    });
    assert_eq!(
        ask(a, "www.example.cn.", RecordType::A, false)
            .await
            .unwrap()
            .metadata
            .response_code,
        ResponseCode::ServFail
    );
    s.set_faults(Faults {
        wrong_names: vec![Name::from_str("www.example.cn.").unwrap()],
        ..Faults::default()
    });
    let m = ask(a, "www.example.cn.", RecordType::A, false)
        .await
        .unwrap();
    assert!(matches!(&m.answers[0].data, RData::A(ip) if ip.0.octets() == [192, 0, 2, 2]));
    s.set_faults(Faults {
        missing_ratio: 1.0,
        ..Faults::default()
    });
    assert_eq!(
        ask(a, "www.example.cn.", RecordType::A, false)
            .await
            .unwrap()
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    s.set_faults(Faults {
        serial_override: Some(3),
        ..Faults::default()
    });
    let m = ask(a, "example.cn.", RecordType::SOA, false).await.unwrap();
    assert!(matches!(&m.answers[0].data, RData::SOA(soa) if soa.serial == 3));
    s.set_faults(Faults {
        mismatch_id_ratio: 1.0,
        ..Faults::default()
    });
    assert_ne!(
        ask(a, "www.example.cn.", RecordType::A, false)
            .await
            .unwrap()
            .metadata
            .id,
        99
    );
    s.set_faults(Faults {
        malformed_ratio: 1.0,
        ..Faults::default()
    });
    assert!(
        ask(a, "www.example.cn.", RecordType::A, false)
            .await
            .is_none(),
        "garbage does not parse"
    );
    assert_eq!(
        s.counters()
            .malformed
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn delay_is_virtual_under_paused_time() {
    let s = server().await;
    s.set_faults(Faults {
        delay: Duration::from_secs(7),
        ..Faults::default()
    });
    let start = tokio::time::Instant::now();
    let m = ask(s.local_addr(), "www.example.cn.", RecordType::A, false)
        .await
        .unwrap();
    assert_eq!(m.answers.len(), 1);
    assert!(start.elapsed() >= Duration::from_secs(7));
    s.stop().await;
}

#[test]
fn wrong_ratio_is_deterministic_and_close_to_the_ratio() {
    let z = Zone::synthetic_tld("cn.", 10_000);
    let names: Vec<_> = z.delegations().cloned().collect();
    assert_eq!(names.len(), 10_000);
    let picked = |seed| {
        names
            .iter()
            .filter(|n| name_share(n, seed, 2) < 0.02)
            .count()
    };
    assert_eq!(picked(1), picked(1));
    let p = picked(1);
    assert!((150..=250).contains(&p), "{p} of 10000 at 2%");
}

#[test]
fn parse_errors_are_reported() {
    let e = Zone::parse(
        "example.cn.",
        "@ IN SOA ns1 hostmaster 1 2 3 4 5\nwww IN A not-an-ip\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("zone"), "{e}");
    assert!(
        Zone::parse("example.cn.", "www IN A 192.0.2.1\n").is_err(),
        "no SOA"
    );
}

#[tokio::test]
async fn stop_frees_the_port() {
    let s = server().await;
    let a = s.local_addr();
    s.stop().await;
    let again = LabServer::start(a, vec![zone()]).await;
    assert!(again.is_ok(), "{:?}", again.err());
}
