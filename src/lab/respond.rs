//! One query in, at most one reply out, with the faults applied. No I/O and no clock: the
//! server calls [`respond`] and sends (or delays) what it returns, which keeps every reply
//! shape testable without sockets.

use super::counters::{bump, Counters};
use super::faults::Faults;
use super::zone::{normalize, AnswerKind, Zone, ZoneAnswer};
use hickory_proto::op::{Edns, Message, Metadata, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::rdata::{A, AAAA, NS};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use rand::Rng;

/// The EDNS UDP payload size the server advertises (the DNS flag day 2020 value).
pub(crate) const SERVER_PAYLOAD: u16 = 1232;
/// Length of a DNS header.
const HEADER_LEN: usize = 12;

/// Which transport a query came over; UDP replies are limited in size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// A datagram.
    Udp,
    /// A length-framed message on a TCP connection.
    Tcp,
}

/// The random draws for one query, each in `[0, 1)` and compared with a fault's ratio. Drawn
/// all at once under the server's lock from its seeded generator, so the same sequence of
/// queries meets the same faults.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Draws {
    drop: f64,
    rcode: f64,
    mismatch: f64,
    malformed: f64,
    /// Added to the ID of a mismatched reply; never 0, so the ID always differs.
    id_offset: u16,
    /// Picks the kind of garbage of a malformed reply.
    garbage: u8,
}

impl Draws {
    /// Draws for one query.
    pub(crate) fn new(rng: &mut impl Rng) -> Self {
        Draws {
            drop: rng.random(),
            rcode: rng.random(),
            mismatch: rng.random(),
            malformed: rng.random(),
            id_offset: rng.random_range(1..=u16::MAX),
            garbage: rng.random(),
        }
    }
}

/// What a reply is built from.
pub(crate) struct Context<'a> {
    /// The zones served.
    pub(crate) zones: &'a [Zone],
    /// The faults in force.
    pub(crate) faults: &'a Faults,
    /// The NSID to return when asked.
    pub(crate) nsid: Option<&'a [u8]>,
    /// Where to count what happened.
    pub(crate) counters: &'a Counters,
}

/// The reply to `query` (its wire bytes), or `None` when none is to be sent.
pub(crate) fn respond(
    ctx: &Context<'_>,
    query: &[u8],
    transport: Transport,
    draws: Draws,
) -> Option<Vec<u8>> {
    let (c, faults) = (ctx.counters, ctx.faults);
    bump(&c.queries);
    if faults.stopped {
        bump(&c.stopped);
        return None;
    }
    if draws.drop < faults.drop_ratio {
        bump(&c.dropped);
        return None;
    }
    // Never answer what is not a readable query: replying to replies can make loops.
    if query.len() < HEADER_LEN || query[2] & 0x80 != 0 {
        bump(&c.ignored);
        return None;
    }
    let opcode = (query[2] >> 3) & 0x0f;
    let question_count = u16::from_be_bytes([query[4], query[5]]);
    if opcode != 0 {
        bump(&c.bad_queries);
        return finish(ctx, draws, error_header(query, ResponseCode::NotImp));
    }
    // Checked before decoding: a header claiming thousands of questions must not make the
    // decoder reserve room for them.
    if question_count != 1 {
        bump(&c.bad_queries);
        return finish(ctx, draws, error_header(query, ResponseCode::FormErr));
    }
    let Ok(request) = Message::from_vec(query) else {
        bump(&c.bad_queries);
        return finish(ctx, draws, error_header(query, ResponseCode::FormErr));
    };

    let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
    reply.metadata = Metadata::response_from_request(&request.metadata);
    reply.queries = request.queries.clone();
    if let Some(asked) = &request.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(SERVER_PAYLOAD);
        edns.set_dnssec_ok(asked.flags().dnssec_ok);
        if asked.option(EdnsCode::NSID).is_some() {
            let payload = ctx.nsid.and_then(|id| NSIDPayload::new(id.to_vec()).ok());
            if let Some(payload) = payload {
                edns.options_mut().insert(EdnsOption::NSID(payload));
            }
        }
        reply.set_edns(edns);
        if asked.version() > 0 {
            reply.metadata.response_code = ResponseCode::BADVERS;
            return finish(ctx, draws, encode(ctx, &reply, transport, &request));
        }
    }

    if let Some(rcode) = faults.rcode.filter(|_| draws.rcode < faults.rcode_ratio) {
        bump(&c.rcode);
        reply.metadata.response_code = rcode;
        return finish(ctx, draws, encode(ctx, &reply, transport, &request));
    }

    let answer = answer(ctx, &request);
    reply.metadata.response_code = answer.rcode;
    reply.metadata.authoritative = answer.authoritative;
    reply.answers = answer.answers;
    reply.authorities = answer.authorities;
    reply.additionals = answer.additionals;
    finish(ctx, draws, encode(ctx, &reply, transport, &request))
}

/// The zone data for the question, with the per-name faults applied.
fn answer(ctx: &Context<'_>, request: &Message) -> ZoneAnswer {
    let (c, faults) = (ctx.counters, ctx.faults);
    let refused = || {
        bump(&c.refused);
        ZoneAnswer {
            kind: AnswerKind::NotInZone,
            rcode: ResponseCode::Refused,
            authoritative: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        }
    };
    let Some(question) = request.queries.first() else {
        return refused();
    };
    let qtype = question.query_type();
    let class_ok = matches!(question.query_class(), DNSClass::IN | DNSClass::ANY);
    // Zone transfers are not offered.
    if !class_ok || matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return refused();
    }
    let qname = normalize(question.name());
    let zone = ctx
        .zones
        .iter()
        .filter(|z| z.contains(&qname))
        .max_by_key(|z| z.origin().iter().len());
    let Some(zone) = zone else {
        return refused();
    };

    let mut answer = zone.answer(&qname, qtype);
    if answer.kind != AnswerKind::NxDomain && faults.is_missing(&qname) {
        bump(&c.missing);
        answer = zone.negative(AnswerKind::NxDomain);
    } else if faults.is_wrong(&qname) && corrupt(&mut answer) {
        bump(&c.wrong);
    }
    if let Some(serial) = faults.serial_override {
        let mut replaced = false;
        for record in answer
            .answers
            .iter_mut()
            .chain(answer.authorities.iter_mut())
        {
            if let RData::SOA(soa) = &mut record.data {
                soa.serial = serial;
                replaced = true;
            }
        }
        if replaced {
            bump(&c.stale_serial);
        }
    }
    answer
}

/// Alters the data of an answer: A/AAAA addresses moved by one, NS targets renamed under a
/// `wrong.` label (glue renamed and moved with them). Returns whether anything changed.
fn corrupt(answer: &mut ZoneAnswer) -> bool {
    let mut renamed: Vec<(Name, Name)> = Vec::new();
    let mut changed = false;
    let sections = answer
        .answers
        .iter_mut()
        .chain(answer.authorities.iter_mut())
        .chain(answer.additionals.iter_mut());
    for record in sections {
        match &mut record.data {
            RData::A(A(ip)) => {
                let [a, b, c, d] = ip.octets();
                *ip = [a, b, c, d.wrapping_add(1)].into();
                changed = true;
            }
            RData::AAAA(AAAA(ip)) => {
                let mut segments = ip.segments();
                segments[7] = segments[7].wrapping_add(1);
                *ip = segments.into();
                changed = true;
            }
            RData::NS(NS(target)) => {
                let wrong = wrong_name(target);
                renamed.push((target.clone(), wrong.clone()));
                *target = wrong;
                changed = true;
            }
            _ => {}
        }
        if let Some((_, new)) = renamed.iter().find(|(old, _)| *old == record.name) {
            record.name = new.clone();
        }
    }
    changed
}

/// `wrong.<name>`, or `wrong.invalid.` when that would be too long.
fn wrong_name(name: &Name) -> Name {
    name.prepend_label("wrong")
        .or_else(|_| Name::from_labels(["wrong", "invalid"]))
        .unwrap_or_else(|_| Name::root())
}

/// The wire form of `reply`, emptied with TC=1 when it may not be sent whole: UDP under
/// `truncate_udp` or larger than the query's payload size (512 without EDNS), or TCP larger
/// than a TCP message can be.
fn encode(ctx: &Context<'_>, reply: &Message, transport: Transport, request: &Message) -> Vec<u8> {
    let limit = match transport {
        Transport::Udp => usize::from(request.max_payload()),
        Transport::Tcp => usize::from(u16::MAX),
    };
    let force = transport == Transport::Udp && ctx.faults.truncate_udp;
    match reply.to_vec() {
        Ok(bytes) if bytes.len() <= limit && !force => bytes,
        Ok(_) => {
            bump(&ctx.counters.truncated);
            reply.truncate().to_vec().unwrap_or_default()
        }
        Err(e) => {
            tracing::warn!(error = %e, "lab reply could not be encoded; answering SERVFAIL");
            let mut failed = reply.truncate();
            failed.metadata.truncation = false;
            failed.metadata.response_code = ResponseCode::ServFail;
            failed.to_vec().unwrap_or_default()
        }
    }
}

/// A header-only reply to a query that cannot be answered: same ID, opcode and RD, `rcode`.
fn error_header(query: &[u8], rcode: ResponseCode) -> Vec<u8> {
    let mut header = vec![0u8; HEADER_LEN];
    header[..2].copy_from_slice(&query[..2]);
    header[2] = 0x80 | (query[2] & 0x79); // QR; opcode and RD from the query
    header[3] = rcode.low();
    header
}

/// Applies the per-reply faults to the encoded reply: garbage or another ID.
fn finish(ctx: &Context<'_>, draws: Draws, mut bytes: Vec<u8>) -> Option<Vec<u8>> {
    let (c, faults) = (ctx.counters, ctx.faults);
    if bytes.len() < HEADER_LEN {
        return None;
    }
    if draws.malformed < faults.malformed_ratio {
        bump(&c.malformed);
        return Some(garbage(&bytes, draws.garbage));
    }
    if draws.mismatch < faults.mismatch_id_ratio {
        bump(&c.mismatched_id);
        let id = u16::from_be_bytes([bytes[0], bytes[1]]).wrapping_add(draws.id_offset);
        bytes[..2].copy_from_slice(&id.to_be_bytes());
    }
    Some(bytes)
}

/// Bytes that cannot parse as a DNS message, keeping the reply's ID where there is room: a
/// header cut short (2 to 11 bytes), or a header promising a question whose name runs past
/// the end of the datagram.
fn garbage(reply: &[u8], pick: u8) -> Vec<u8> {
    if pick.is_multiple_of(2) {
        let len = 2 + usize::from(pick / 2) % (HEADER_LEN - 2);
        return reply[..len].to_vec();
    }
    let mut bytes = reply[..4].to_vec();
    // QDCOUNT=1, ANCOUNT=1, then a 63-byte label with one byte present.
    bytes.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 63, b'x']);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode, Query};
    use std::str::FromStr;

    fn zone() -> Zone {
        Zone::parse(
            "example.cn.",
            "@ SOA ns1 hostmaster 9 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n\
             www A 192.0.2.1\nwww AAAA 2001:db8::1\nsub NS ns1.sub\nns1.sub A 127.0.0.3\n",
        )
        .expect("zone")
    }

    fn query(name: &str, qtype: RecordType) -> Vec<u8> {
        let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_str(name).expect("name"), qtype));
        m.to_vec().expect("encode")
    }

    /// Draws that never trigger a random fault, whatever its ratio below 1.
    fn calm() -> Draws {
        Draws {
            drop: 0.999,
            rcode: 0.999,
            mismatch: 0.999,
            malformed: 0.999,
            id_offset: 1,
            garbage: 0,
        }
    }

    fn run(faults: &Faults, q: &[u8], draws: Draws) -> (Option<Vec<u8>>, Counters) {
        let zones = [zone()];
        let counters = Counters::default();
        let ctx = Context {
            zones: &zones,
            faults,
            nsid: None,
            counters: &counters,
        };
        (respond(&ctx, q, Transport::Udp, draws), counters)
    }

    fn reply(faults: &Faults, name: &str, qtype: RecordType) -> Message {
        let (bytes, _) = run(faults, &query(name, qtype), calm());
        Message::from_vec(&bytes.expect("a reply")).expect("parses")
    }

    #[test]
    fn copies_id_question_and_rd() {
        let m = reply(&Faults::default(), "www.example.cn.", RecordType::A);
        assert_eq!(m.metadata.id, 4242);
        assert!(m.metadata.recursion_desired && !m.metadata.recursion_available);
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.metadata.message_type, MessageType::Response);
    }

    #[test]
    fn unreadable_queries_are_ignored_or_formerr() {
        let healthy = Faults::default();
        for junk in [&b""[..], b"\x01", b"0123456789a"] {
            let (out, c) = run(&healthy, junk, calm());
            assert!(out.is_none());
            assert_eq!(c.snapshot().ignored, 1);
        }
        let mut response = query("www.example.cn.", RecordType::A);
        response[2] |= 0x80;
        assert!(
            run(&healthy, &response, calm()).0.is_none(),
            "responses are never answered"
        );

        let mut two_questions = query("www.example.cn.", RecordType::A);
        two_questions[5] = 2;
        let (out, c) = run(&healthy, &two_questions, calm());
        let m = Message::from_vec(&out.expect("formerr")).expect("parses");
        assert_eq!(
            (m.metadata.id, m.metadata.response_code),
            (4242, ResponseCode::FormErr)
        );
        assert_eq!(c.snapshot().bad_queries, 1);

        let mut cut = query("www.example.cn.", RecordType::A);
        cut.truncate(15);
        let m =
            Message::from_vec(&run(&healthy, &cut, calm()).0.expect("formerr")).expect("parses");
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);

        let mut notify = query("www.example.cn.", RecordType::A);
        notify[2] |= 4 << 3;
        let m =
            Message::from_vec(&run(&healthy, &notify, calm()).0.expect("notimp")).expect("parses");
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let faults = Faults::default();
        let mut rng = rand::rng();
        let seed = query("www.example.cn.", RecordType::A);
        for i in 0..20_000 {
            let mut bytes = if i % 2 == 0 {
                seed.clone()
            } else {
                vec![0u8; rng.random_range(0..64)]
            };
            for b in bytes.iter_mut() {
                if rng.random_bool(0.2) {
                    *b = rng.random();
                }
            }
            let _ = run(&faults, &bytes, Draws::new(&mut rng));
        }
    }

    #[test]
    fn per_query_faults_follow_the_draws() {
        let q = query("www.example.cn.", RecordType::A);
        let half = Faults {
            drop_ratio: 0.5,
            ..Faults::default()
        };
        assert!(run(
            &half,
            &q,
            Draws {
                drop: 0.4,
                ..calm()
            }
        )
        .0
        .is_none());
        assert!(run(
            &half,
            &q,
            Draws {
                drop: 0.6,
                ..calm()
            }
        )
        .0
        .is_some());

        let servfail = Faults {
            rcode: Some(ResponseCode::ServFail),
            rcode_ratio: 1.0,
            ..Faults::default()
        };
        let m = Message::from_vec(
            &run(
                &servfail,
                &q,
                Draws {
                    rcode: 0.0,
                    ..calm()
                },
            )
            .0
            .expect("reply"),
        )
        .expect("parses");
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        assert!(m.answers.is_empty());

        let mismatch = Faults {
            mismatch_id_ratio: 1.0,
            ..Faults::default()
        };
        let out = run(
            &mismatch,
            &q,
            Draws {
                mismatch: 0.0,
                id_offset: 7,
                ..calm()
            },
        )
        .0;
        let m = Message::from_vec(&out.expect("reply")).expect("parses");
        assert_eq!(m.metadata.id, 4249);

        let malformed = Faults {
            malformed_ratio: 1.0,
            ..Faults::default()
        };
        for garbage in 0..=255 {
            let out = run(
                &malformed,
                &q,
                Draws {
                    malformed: 0.0,
                    garbage,
                    ..calm()
                },
            )
            .0;
            assert!(
                Message::from_vec(&out.expect("garbage")).is_err(),
                "{garbage}"
            );
        }
    }

    #[test]
    fn per_name_faults() {
        let wrong = Faults {
            wrong_ratio: 1.0,
            ..Faults::default()
        };
        let m = reply(&wrong, "www.example.cn.", RecordType::A);
        assert_eq!(m.answers[0].data, RData::A(A([192, 0, 2, 2].into())));
        let m = reply(&wrong, "host.sub.example.cn.", RecordType::A);
        let target = Name::from_str("wrong.ns1.sub.example.cn.").expect("name");
        assert_eq!(m.authorities[0].data, RData::NS(NS(target.clone())));
        assert_eq!(
            m.additionals[0].name, target,
            "glue follows the renamed target"
        );
        assert_eq!(m.additionals[0].data, RData::A(A([127, 0, 0, 4].into())));

        let missing = Faults {
            missing_ratio: 1.0,
            ..Faults::default()
        };
        let m = reply(&missing, "www.example.cn.", RecordType::AAAA);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.metadata.authoritative && m.answers.is_empty());
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);

        let stale = Faults {
            serial_override: Some(3),
            ..Faults::default()
        };
        let m = reply(&stale, "example.cn.", RecordType::SOA);
        assert!(matches!(&m.answers[0].data, RData::SOA(soa) if soa.serial == 3));
        let m = reply(&stale, "nope.example.cn.", RecordType::A);
        assert!(matches!(&m.authorities[0].data, RData::SOA(soa) if soa.serial == 3));
    }

    #[test]
    fn class_and_transfers_are_refused() {
        let healthy = Faults::default();
        let m = reply(&healthy, "example.cn.", RecordType::AXFR);
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        let mut m = Message::new(1, MessageType::Query, OpCode::Query);
        let mut q = Query::query(
            Name::from_str("www.example.cn.").expect("name"),
            RecordType::A,
        );
        q.set_query_class(DNSClass::CH);
        m.add_query(q);
        let (out, c) = run(&healthy, &m.to_vec().expect("encode"), calm());
        let m = Message::from_vec(&out.expect("reply")).expect("parses");
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert_eq!(c.snapshot().refused, 1);
    }
}
