//! Hostile replies, byte by byte: a responder on 127.0.0.1 answers each query with crafted
//! datagrams (from its own socket, from another port or another address, late, twice) or
//! crafted TCP bytes, and the probe must end in the outcome the prober's rules give it
//! (src/probe/prober.rs, module doc): a reply is taken only from the server's address and
//! port, with the query's ID, for its question; anything else is a stray reply, and a stray
//! from the server itself marks its probes `mismatch` (or `malformed`) instead of `timeout`.
//! Time is tokio's paused clock, so a timeout costs no wall time.

mod support;

use dnsgrade::clock::ManualClock;
use dnsgrade::config::{Check, Expect, ObjectClass, Transport};
use dnsgrade::probe::schedule::{probe_once, CheckId, ProbeResult, Target};
use dnsgrade::probe::{Outcome, Prober, ProberConfig, Verdict};
use dnsgrade::stats::{ServerStats, WindowSpec};
use hickory_proto::op::{Message, MessageType, OpCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// The probe timeout of these tests.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where a crafted datagram is sent from.
#[derive(Clone, Copy)]
enum From {
    /// The server's own socket: the address and port the probe was sent to.
    Server,
    /// The server's address, another port.
    OtherPort,
    /// Another loopback address (127.0.0.2), the server's port.
    OtherAddress,
}

/// One datagram the responder sends for a query.
struct Datagram {
    from: From,
    after: Duration,
    bytes: Vec<u8>,
}

fn now(from: From, bytes: Vec<u8>) -> Datagram {
    Datagram {
        from,
        after: Duration::ZERO,
        bytes,
    }
}

type UdpAnswer = Arc<dyn Fn(&Message) -> Vec<Datagram> + Send + Sync>;
/// The bytes written on a TCP connection for a query, length prefix included.
type TcpAnswer = Arc<dyn Fn(&Message) -> Vec<u8> + Send + Sync>;

/// A responder on 127.0.0.1 (UDP and TCP on one port) that answers as its closures say.
struct Responder {
    addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Responder {
    async fn start(udp: UdpAnswer, tcp: Option<TcpAnswer>) -> Responder {
        let server = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("udp"));
        let addr = server.local_addr().expect("addr");
        let other_port = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("udp"));
        let other_address = Arc::new(
            UdpSocket::bind(("127.0.0.2", addr.port()))
                .await
                .expect("127.0.0.2 is a loopback address"),
        );
        let mut tasks = vec![tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            loop {
                let Ok((n, client)) = server.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                for d in udp(&query) {
                    let sock = match d.from {
                        From::Server => server.clone(),
                        From::OtherPort => other_port.clone(),
                        From::OtherAddress => other_address.clone(),
                    };
                    tokio::spawn(async move {
                        tokio::time::sleep(d.after).await;
                        let _ = sock.send_to(&d.bytes, client).await;
                    });
                }
            }
        })];
        if let Some(tcp) = tcp {
            let listener = TcpListener::bind(addr).await.expect("tcp on the udp port");
            tasks.push(tokio::spawn(async move {
                while let Ok((mut s, _)) = listener.accept().await {
                    let tcp = tcp.clone();
                    tokio::spawn(async move {
                        let mut len = [0u8; 2];
                        if s.read_exact(&mut len).await.is_err() {
                            return;
                        }
                        let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
                        if s.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        if let Ok(q) = Message::from_vec(&body) {
                            let _ = s.write_all(&tcp(&q)).await;
                            let _ = s.shutdown().await;
                        }
                    });
                }
            }));
        }
        Responder { addr, tasks }
    }

    async fn udp(answer: impl Fn(&Message) -> Vec<Datagram> + Send + Sync + 'static) -> Responder {
        Self::start(Arc::new(answer), None).await
    }
}

async fn prober() -> Prober {
    Prober::new(ProberConfig {
        udp_sockets: 1,
        timeout: TIMEOUT,
        ..ProberConfig::default()
    })
    .await
    .expect("sockets")
}

fn www() -> Check {
    support::check(
        "www.example.cn.",
        RecordType::A,
        Expect::Answer,
        &["192.0.2.1"],
    )
}

async fn probe(p: &Prober, r: &Responder, c: &Check) -> ProbeResult {
    let target = Arc::new(Target {
        class: ObjectClass::Institution,
        object: "hostile".into(),
        server: "ns1".into(),
        address: r.addr,
    });
    let clock = ManualClock::new(1_700_000_000_000);
    probe_once(p, &clock, &target, CheckId::Configured(0), c).await
}

fn strays(p: &Prober) -> u64 {
    p.counters().stray_replies.load(Ordering::Relaxed)
}

/// Waits (on the paused clock) until `want` stray replies have been counted; the count it
/// reached, for the assertion.
async fn strays_reach(p: &Prober, want: u64) -> u64 {
    for _ in 0..1000 {
        if strays(p) >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    strays(p)
}

/// The right reply to `q`: authoritative, NOERROR, the question echoed, www's address.
fn answer(q: &Message) -> Message {
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.add_queries(q.queries.clone());
    if let Some(question) = q.queries.first() {
        if question.query_type == RecordType::A {
            m.add_answer(Record::from_rdata(
                question.name.clone(),
                300,
                RData::A(A::new(192, 0, 2, 1)),
            ));
        }
    }
    m
}

fn wire(m: &Message) -> Vec<u8> {
    m.to_vec().expect("encode")
}

/// The right reply with `edit` applied.
fn edited(q: &Message, edit: impl Fn(&mut Message)) -> Vec<u8> {
    let mut m = answer(q);
    edit(&mut m);
    wire(&m)
}

/// `bytes` framed for TCP.
fn framed(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

#[tokio::test(start_paused = true)]
async fn the_right_reply_is_ok_and_no_stray() {
    let (p, r) = (
        prober().await,
        Responder::udp(|q| vec![now(From::Server, wire(&answer(q)))]).await,
    );
    let res = probe(&p, &r, &www()).await;
    assert_eq!((res.outcome, res.verdict), (Outcome::Ok, Verdict::Correct));
    assert_eq!(strays(&p), 0);
}

#[tokio::test(start_paused = true)]
async fn a_reply_with_another_id_is_a_stray_and_the_probe_ends_as_mismatch() {
    let p = prober().await;
    let r = Responder::udp(|q| {
        vec![now(
            From::Server,
            edited(q, |m| m.metadata.id = q.metadata.id.wrapping_add(1)),
        )]
    })
    .await;
    let res = probe(&p, &r, &www()).await;
    assert_eq!(res.outcome, Outcome::Mismatch);
    assert_eq!(strays(&p), 1);
}

#[tokio::test(start_paused = true)]
async fn a_wrong_id_followed_by_the_right_reply_is_ok() {
    let p = prober().await;
    let r = Responder::udp(|q| {
        vec![
            now(
                From::Server,
                edited(q, |m| m.metadata.id = q.metadata.id ^ 0x8000),
            ),
            Datagram {
                from: From::Server,
                after: Duration::from_millis(50),
                bytes: wire(&answer(q)),
            },
        ]
    })
    .await;
    let res = probe(&p, &r, &www()).await;
    assert_eq!((res.outcome, res.verdict), (Outcome::Ok, Verdict::Correct));
    assert_eq!(strays(&p), 1);
}

#[tokio::test(start_paused = true)]
async fn a_reply_with_the_right_id_to_another_question_is_a_mismatch() {
    let p = prober().await;
    type Edit = fn(&mut Message);
    let cases: [(&str, Edit); 7] = [
        ("another name", |m| {
            m.queries[0].name = Name::from_str("evil.example.cn.").expect("name")
        }),
        ("another type", |m| {
            m.queries[0].query_type = RecordType::AAAA
        }),
        ("class CH", |m| m.queries[0].query_class = DNSClass::CH),
        ("opcode NOTIFY", |m| m.metadata.op_code = OpCode::Notify),
        ("QR=0", |m| m.metadata.message_type = MessageType::Query),
        ("no question", |m| m.queries.clear()),
        ("two questions", |m| {
            let q = m.queries[0].clone();
            m.queries.push(q)
        }),
    ];
    for (what, edit) in cases {
        let r = Responder::udp(move |q| vec![now(From::Server, edited(q, edit))]).await;
        let res = probe(&p, &r, &www()).await;
        assert_eq!(res.outcome, Outcome::Mismatch, "{what}");
    }
    assert_eq!(strays(&p), 0, "a reply to the probe's ID is not a stray");
}

#[tokio::test(start_paused = true)]
async fn the_question_echoed_in_another_letter_case_is_the_answer() {
    let p = prober().await;
    let r = Responder::udp(|q| {
        vec![now(
            From::Server,
            edited(q, |m| {
                m.queries[0].name = Name::from_str("WWW.Example.CN.").expect("name")
            }),
        )]
    })
    .await;
    assert_eq!(probe(&p, &r, &www()).await.outcome, Outcome::Ok);
}

#[tokio::test(start_paused = true)]
async fn a_reply_from_another_port_or_address_is_a_stray_and_the_probe_times_out() {
    let p = prober().await;
    for (n, from) in [From::OtherPort, From::OtherAddress]
        .into_iter()
        .enumerate()
    {
        let r = Responder::udp(move |q| vec![now(from, wire(&answer(q)))]).await;
        let res = probe(&p, &r, &www()).await;
        assert_eq!(res.outcome, Outcome::Timeout);
        assert_eq!(strays(&p), n as u64 + 1);
    }
}

#[tokio::test(start_paused = true)]
async fn of_two_identical_replies_the_first_counts_and_the_second_is_a_stray() {
    let p = prober().await;
    let r = Responder::udp(|q| {
        let bytes = wire(&answer(q));
        vec![now(From::Server, bytes.clone()), now(From::Server, bytes)]
    })
    .await;
    let res = probe(&p, &r, &www()).await;
    assert_eq!((res.outcome, res.verdict), (Outcome::Ok, Verdict::Correct));
    assert_eq!(strays_reach(&p, 1).await, 1);
    // The duplicate did not mark the server: its next probe, unanswered, is a timeout.
    let r2 = Responder::udp(|_| Vec::new()).await;
    assert_eq!(probe(&p, &r2, &www()).await.outcome, Outcome::Timeout);
}

#[tokio::test(start_paused = true)]
async fn a_reply_after_the_timeout_leaves_a_timeout_and_counts_a_stray() {
    let p = prober().await;
    let r = Responder::udp(|q| {
        vec![Datagram {
            from: From::Server,
            after: TIMEOUT + Duration::from_secs(1),
            bytes: wire(&answer(q)),
        }]
    })
    .await;
    let res = probe(&p, &r, &www()).await;
    assert_eq!(res.outcome, Outcome::Timeout);
    assert_eq!(strays(&p), 0, "nothing arrived before the timeout");
    assert_eq!(strays_reach(&p, 1).await, 1);
    assert_eq!(p.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn bytes_that_are_not_a_dns_message_are_malformed() {
    let p = prober().await;
    type Craft = fn(&Message) -> Vec<u8>;
    let cases: [(&str, Craft); 5] = [
        ("cut inside the answer", |q| {
            let b = wire(&answer(q));
            b[..b.len() - 3].to_vec()
        }),
        ("cut inside the header", |q| wire(&answer(q))[..5].to_vec()),
        ("junk after the ID", |q| {
            let mut b = q.metadata.id.to_be_bytes().to_vec();
            b.extend_from_slice(&[0xff; 40]);
            b
        }),
        ("a question name that points at itself", |q| {
            compression_loop(q.metadata.id, false)
        }),
        ("two names that point at each other", |q| {
            compression_loop(q.metadata.id, true)
        }),
    ];
    for (what, craft) in cases {
        let r = Responder::udp(move |q| vec![now(From::Server, craft(q))]).await;
        let res = probe(&p, &r, &www()).await;
        assert_eq!(res.outcome, Outcome::Malformed, "{what}");
    }
    assert_eq!(strays(&p), 0, "each carried the probe's ID");
}

/// A reply whose name compression loops: the question's name is a pointer to itself, or (with
/// `pair`) the question is sound and the answer's owner points at a pointer that points back.
fn compression_loop(id: u16, pair: bool) -> Vec<u8> {
    let mut b = id.to_be_bytes().to_vec();
    // QR=1 AA=1, NOERROR; one question, and with `pair` one answer.
    b.extend_from_slice(&[0x84, 0x00, 0, 1, 0, u8::from(pair), 0, 0, 0, 0]);
    if !pair {
        b.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        return b;
    }
    // www.example.cn. A IN at offset 12.
    for label in ["www", "example", "cn"] {
        b.push(label.len() as u8);
        b.extend_from_slice(label.as_bytes());
    }
    b.extend_from_slice(&[0, 0, 1, 0, 1]);
    let at = b.len() as u8;
    // The owner at `at` points at `at + 2`, which points back at `at`.
    b.extend_from_slice(&[0xc0, at + 2, 0xc0, at]);
    b.extend_from_slice(&[0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 1]);
    b
}

#[tokio::test(start_paused = true)]
async fn an_empty_datagram_or_junk_under_another_id_marks_the_probe_malformed() {
    let p = prober().await;
    let cases: [(&str, Vec<u8>); 3] = [
        ("empty", Vec::new()),
        ("one byte", vec![0x42]),
        ("junk", vec![0xde; 300]),
    ];
    for (n, (what, bytes)) in cases.into_iter().enumerate() {
        let r = Responder::udp(move |_| vec![now(From::Server, bytes.clone())]).await;
        let res = probe(&p, &r, &www()).await;
        assert_eq!(res.outcome, Outcome::Malformed, "{what}");
        assert_eq!(strays(&p), n as u64 + 1, "{what}");
    }
}

#[tokio::test(start_paused = true)]
async fn tc_1_is_retried_over_tcp() {
    let p = prober().await;
    let udp: UdpAnswer = Arc::new(|q| {
        vec![now(
            From::Server,
            edited(q, |m| {
                m.metadata.truncation = true;
                m.answers.clear()
            }),
        )]
    });
    let r = Responder::start(udp, Some(Arc::new(|q| framed(&wire(&answer(q)))))).await;
    let res = probe(&p, &r, &www()).await;
    assert_eq!((res.outcome, res.verdict), (Outcome::Ok, Verdict::Correct));
    assert_eq!(res.transport, Transport::Tcp);
    assert!(res.tcp_fallback);
}

fn tcp_check() -> Check {
    Check {
        transport: Transport::Tcp,
        ..www()
    }
}

async fn tcp_responder(tcp: impl Fn(&Message) -> Vec<u8> + Send + Sync + 'static) -> Responder {
    Responder::start(Arc::new(|_| Vec::new()), Some(Arc::new(tcp))).await
}

#[tokio::test(start_paused = true)]
async fn over_tcp_a_wrong_id_or_question_is_a_mismatch_and_junk_is_malformed() {
    let p = prober().await;
    type Craft = fn(&Message) -> Vec<u8>;
    let cases: [(&str, Craft, Outcome); 5] = [
        (
            "another ID",
            |q| framed(&edited(q, |m| m.metadata.id = q.metadata.id ^ 1)),
            Outcome::Mismatch,
        ),
        (
            "QR=0",
            |q| framed(&edited(q, |m| m.metadata.message_type = MessageType::Query)),
            Outcome::Mismatch,
        ),
        (
            "junk",
            |q| {
                let mut b = q.metadata.id.to_be_bytes().to_vec();
                b.extend_from_slice(&[0xff; 40]);
                framed(&b)
            },
            Outcome::Malformed,
        ),
        (
            "a compression loop",
            |q| framed(&compression_loop(q.metadata.id, true)),
            Outcome::Malformed,
        ),
        (
            // The connection closes 3 bytes short of the length it announced.
            "cut short",
            |q| {
                let b = framed(&wire(&answer(q)));
                b[..b.len() - 3].to_vec()
            },
            Outcome::NetworkError,
        ),
    ];
    for (what, craft, want) in cases {
        let r = tcp_responder(craft).await;
        let res = probe(&p, &r, &tcp_check()).await;
        assert_eq!(res.outcome, want, "{what}");
        assert_eq!(res.transport, Transport::Tcp, "{what}");
    }
}

/// An answer to `q` (a TXT question) padded with TXT records to exactly `size` octets.
fn txt_reply_of(q: &Message, size: usize) -> Vec<u8> {
    let mut bytes = wire(&answer(q));
    // Each record by hand: the owner is a pointer to the question's name at offset 12, so a
    // record is 13 octets and its string. Full 255-octet strings, then one or two for the rest.
    let mut left = size - bytes.len();
    let mut lens = Vec::new();
    while left > 268 + 13 {
        lens.push(255);
        left -= 268;
    }
    if left > 268 {
        let a = (left - 26) / 2;
        lens.extend([a, left - 26 - a]);
    } else {
        lens.push(left - 13);
    }
    for len in &lens {
        // TXT IN, TTL 300, RDLENGTH, one character-string.
        bytes.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 1, 44]);
        bytes.extend_from_slice(&(*len as u16 + 1).to_be_bytes());
        bytes.push(*len as u8);
        bytes.extend(std::iter::repeat_n(b't', *len));
    }
    bytes[6..8].copy_from_slice(&(lens.len() as u16).to_be_bytes());
    assert_eq!(bytes.len(), size);
    let parsed = Message::from_vec(&bytes).expect("a valid message");
    assert_eq!(parsed.answers.len(), lens.len());
    bytes
}

fn txt_check(transport: Transport) -> Check {
    Check {
        transport,
        ..support::check("www.example.cn.", RecordType::TXT, Expect::Answer, &[])
    }
}

/// Oversized replies are taken: a UDP reply larger than the EDNS payload the query advertised
/// (1232) is a server fault, but the server did answer, and on a real path such a reply is
/// dropped or fragmented on the way, which shows as a timeout there. A 65,535-octet TCP
/// message is the largest DNS message and a valid one.
#[tokio::test(start_paused = true)]
async fn oversized_replies_are_taken_as_the_answer() {
    let p = prober().await;
    let r = Responder::udp(|q| vec![now(From::Server, txt_reply_of(q, 4000))]).await;
    let res = probe(&p, &r, &txt_check(Transport::Udp)).await;
    assert_eq!((res.outcome, res.transport), (Outcome::Ok, Transport::Udp));
    let r = tcp_responder(|q| framed(&txt_reply_of(q, 65535))).await;
    let res = probe(&p, &r, &txt_check(Transport::Tcp)).await;
    assert_eq!((res.outcome, res.transport), (Outcome::Ok, Transport::Tcp));
}

/// Each hostile kind, recorded into a server's window, is counted under its outcome.
#[tokio::test(start_paused = true)]
async fn each_hostile_kind_is_counted_under_its_outcome_in_the_window() {
    let p = prober().await;
    let mut stats = ServerStats::new(&WindowSpec::default());
    type Craft = fn(&Message) -> Vec<Datagram>;
    let plan: [(Craft, Outcome); 5] = [
        (|q| vec![now(From::Server, wire(&answer(q)))], Outcome::Ok),
        (
            |q| vec![now(From::Server, edited(q, |m| m.metadata.id ^= 7))],
            Outcome::Mismatch,
        ),
        (
            |q| vec![now(From::Server, wire(&answer(q))[..7].to_vec())],
            Outcome::Malformed,
        ),
        (
            |q| vec![now(From::OtherPort, wire(&answer(q)))],
            Outcome::Timeout,
        ),
        (
            |q| {
                vec![now(
                    From::Server,
                    edited(q, |m| m.queries[0].query_class = DNSClass::CH),
                )]
            },
            Outcome::Mismatch,
        ),
    ];
    for (craft, _) in plan {
        let r = Responder::udp(craft).await;
        let res = probe(&p, &r, &www()).await;
        stats.record(res.sent_at, res.outcome, res.rtt, res.verdict);
    }
    let snap = stats.snapshot(1_700_000_000_000 + 1_000);
    for kind in [
        Outcome::Ok,
        Outcome::Mismatch,
        Outcome::Malformed,
        Outcome::Timeout,
    ] {
        let want = plan.iter().filter(|(_, o)| *o == kind).count() as u64;
        assert_eq!(snap.outcomes[kind.index()], want, "{kind}");
    }
    assert_eq!(snap.samples as usize, plan.len());
}
