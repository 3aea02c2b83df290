//! Query building and reply classification: pure functions, no I/O.
//!
//! A reply is classified against the check it answers (docs/matrix.md, "What is measured"): the RCODE must be
//! one the check accepts, the AA bit (or a referral) must be right for authoritative checks, and
//! where the check lists expected values the RRset is compared with them to give a data
//! [`Verdict`]. Unexpected NXDOMAIN is a failure (`nxdomain`) for a check with no reference, but
//! *missing data* (a successful reply with verdict `missing`) for a check that has expected
//! values: docs/matrix.md counts NXDOMAIN/NODATA where the reference has data as missing data.

use super::{Outcome, Verdict};
use crate::config::{normalize_rdata, Check, Expect};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// What to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// Query name.
    pub qname: Name,
    /// Query type.
    pub qtype: RecordType,
    /// RD bit.
    pub recursion_desired: bool,
    /// DO bit (DNSSEC OK), for signed zones.
    pub dnssec_ok: bool,
}

/// Builds the wire form of a query with EDNS(0) (`payload` bytes), NSID requested.
pub fn build_query(id: u16, q: &Question, payload: u16) -> Vec<u8> {
    let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
    msg.metadata.recursion_desired = q.recursion_desired;
    msg.add_query(Query::query(q.qname.clone(), q.qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(payload.max(512));
    edns.set_dnssec_ok(q.dnssec_ok);
    if let Ok(nsid) = NSIDPayload::new(Vec::new()) {
        edns.options_mut().insert(EdnsOption::NSID(nsid));
    }
    msg.set_edns(edns);
    // Encoding a query we built ourselves from validated names cannot fail in practice; an
    // empty buffer makes the probe fail visibly as a network error rather than panic.
    msg.to_vec().unwrap_or_default()
}

/// The NSID a server put in its reply, printable.
pub fn reply_nsid(msg: &Message) -> Option<String> {
    let edns = msg.edns.as_ref()?;
    match edns.option(EdnsCode::NSID)? {
        EdnsOption::NSID(p) => Some(printable(p.as_ref())),
        EdnsOption::Unknown(_, data) => Some(printable(data)),
        _ => None,
    }
}

fn printable(bytes: &[u8]) -> String {
    if !bytes.is_empty() && bytes.iter().all(|b| (0x20..0x7f).contains(b)) {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// True when `reply` answers `q`: a response (QR=1) to a standard query (OPCODE 0) with one
/// question, of class IN, of the type asked and for the name asked (case-insensitively). A
/// reply with the right ID but another class (CH), opcode (NOTIFY) or question is not an answer.
pub fn question_matches(reply: &Message, q: &Question) -> bool {
    reply.metadata.message_type == MessageType::Response
        && reply.metadata.op_code == OpCode::Query
        && reply.queries.len() == 1
        && reply.queries[0].query_class == DNSClass::IN
        && reply.queries[0].query_type == q.qtype
        && reply.queries[0].name.to_lowercase() == q.qname.to_lowercase()
}

/// Classifies a matching reply for `check`. `qname` is the name actually asked (differs from
/// `check.qname` for cache-busting checks).
pub fn classify(check: &Check, qname: &Name, reply: &Message) -> (Outcome, Verdict) {
    let rcode = reply.metadata.response_code;
    let has_reference = !check.values.is_empty();
    match rcode {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => {
            return match check.expect {
                Expect::NxDomain => (Outcome::Ok, Verdict::Correct),
                Expect::Any => (Outcome::Ok, Verdict::Unchecked),
                _ if has_reference => (Outcome::Ok, Verdict::Missing),
                _ => (Outcome::Nxdomain, Verdict::Unchecked),
            }
        }
        ResponseCode::ServFail => return (Outcome::Servfail, Verdict::Unchecked),
        ResponseCode::Refused => return (Outcome::Refused, Verdict::Unchecked),
        ResponseCode::FormErr => return (Outcome::Formerr, Verdict::Unchecked),
        _ => return (Outcome::OtherRcode, Verdict::Unchecked),
    }
    let answers = relevant_answers(reply, qname, check.qtype);
    let referral_ns = referral_targets(reply, qname);
    match check.expect {
        Expect::Any => (Outcome::Ok, verdict(check, &answers)),
        Expect::NxDomain => {
            // The name must not exist. Data for it is wrong (RSSAC047's correctness test).
            if answers.is_empty() {
                (Outcome::Ok, Verdict::Correct)
            } else {
                (Outcome::Ok, Verdict::Wrong)
            }
        }
        Expect::Answer => {
            if check.authoritative && !reply.metadata.authoritative {
                if !referral_ns.is_empty() {
                    // A referral where an answer was expected: the server does not hold the
                    // data; treat as lame (it does not serve the zone authoritatively).
                    return (Outcome::Lame, Verdict::Unchecked);
                }
                return (Outcome::Lame, Verdict::Unchecked);
            }
            (Outcome::Ok, verdict(check, &answers))
        }
        Expect::Referral => {
            if reply.metadata.authoritative {
                // Some TLD nodes also serve child zones: an authoritative answer is fine.
                let got = if check.qtype == RecordType::NS && answers.is_empty() {
                    referral_ns.clone()
                } else {
                    answers
                };
                if got.is_empty() && !referral_ns.is_empty() {
                    return (Outcome::Ok, verdict(check, &referral_ns));
                }
                return (Outcome::Ok, verdict(check, &got));
            }
            if referral_ns.is_empty() {
                if answers.is_empty() {
                    return (Outcome::Lame, Verdict::Unchecked);
                }
                return (Outcome::Ok, verdict(check, &answers));
            }
            (Outcome::Ok, verdict(check, &referral_ns))
        }
    }
}

fn verdict(check: &Check, got: &[String]) -> Verdict {
    if check.values.is_empty() {
        return Verdict::Unchecked;
    }
    if got.is_empty() {
        return Verdict::Missing;
    }
    if got == check.values.as_slice() {
        Verdict::Correct
    } else {
        Verdict::Wrong
    }
}

/// The answer-section values for (qname, qtype), normalised and sorted.
pub fn relevant_answers(reply: &Message, qname: &Name, qtype: RecordType) -> Vec<String> {
    let want = qname.to_lowercase();
    let mut v: Vec<String> = reply
        .answers
        .iter()
        .filter(|r| r.record_type() == qtype && r.name.to_lowercase() == want)
        .map(|r| normalize_rdata(&r.data))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// NS targets of a referral in the authority section for `qname` or one of its ancestors.
pub fn referral_targets(reply: &Message, qname: &Name) -> Vec<String> {
    let want = qname.to_lowercase();
    let mut v: Vec<String> = reply
        .authorities
        .iter()
        .filter(|r: &&Record| {
            r.record_type() == RecordType::NS && r.name.to_lowercase().zone_of(&want)
        })
        .map(|r| normalize_rdata(&r.data))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The SOA serial in a reply's answer section, if any.
pub fn soa_serial(reply: &Message) -> Option<u32> {
    reply.answers.iter().find_map(|r| match &r.data {
        RData::SOA(s) => Some(s.serial),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CheckRole, Transport};
    use hickory_proto::rr::rdata::{A, NS};
    use std::str::FromStr;

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn check(expect: Expect, qtype: RecordType, values: &[&str], auth: bool) -> Check {
        Check {
            qname: n("www.example.cn."),
            qtype,
            expect,
            values: values.iter().map(|s| s.to_string()).collect(),
            transport: Transport::Udp,
            role: CheckRole::Plain,
            recursion_desired: false,
            authoritative: auth,
        }
    }

    fn reply(rcode: ResponseCode, aa: bool) -> Message {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode;
        m.metadata.authoritative = aa;
        m.add_query(Query::query(n("www.example.cn."), RecordType::A));
        m
    }

    fn a(name: &str, ip: &str) -> Record {
        Record::from_rdata(n(name), 60, RData::A(A(ip.parse().unwrap())))
    }

    #[test]
    fn query_has_edns_payload_nsid_and_flags() {
        let q = Question {
            qname: n("cn."),
            qtype: RecordType::SOA,
            recursion_desired: true,
            dnssec_ok: true,
        };
        let bytes = build_query(4242, &q, 1232);
        let m = Message::from_vec(&bytes).unwrap();
        assert_eq!(m.metadata.id, 4242);
        assert!(m.metadata.recursion_desired);
        let e = m.edns.as_ref().unwrap();
        assert_eq!(e.max_payload(), 1232);
        assert!(e.flags().dnssec_ok);
        assert!(e.option(EdnsCode::NSID).is_some());
    }

    #[test]
    fn rcodes_map_to_outcome_kinds() {
        let c = check(Expect::Answer, RecordType::A, &[], true);
        let q = n("www.example.cn.");
        for (rc, want) in [
            (ResponseCode::ServFail, Outcome::Servfail),
            (ResponseCode::Refused, Outcome::Refused),
            (ResponseCode::FormErr, Outcome::Formerr),
            (ResponseCode::NotImp, Outcome::OtherRcode),
            (ResponseCode::NXDomain, Outcome::Nxdomain),
        ] {
            assert_eq!(classify(&c, &q, &reply(rc, true)).0, want, "{rc:?}");
        }
    }

    #[test]
    fn authoritative_answer_with_reference() {
        let q = n("www.example.cn.");
        let c = check(Expect::Answer, RecordType::A, &["192.0.2.1"], true);
        let mut m = reply(ResponseCode::NoError, true);
        m.add_answer(a("www.example.cn.", "192.0.2.1"));
        assert_eq!(classify(&c, &q, &m), (Outcome::Ok, Verdict::Correct));
        let mut m = reply(ResponseCode::NoError, true);
        m.add_answer(a("www.example.cn.", "192.0.2.9"));
        assert_eq!(classify(&c, &q, &m), (Outcome::Ok, Verdict::Wrong));
        let m = reply(ResponseCode::NoError, true);
        assert_eq!(
            classify(&c, &q, &m),
            (Outcome::Ok, Verdict::Missing),
            "NODATA is missing"
        );
        let m = reply(ResponseCode::NXDomain, true);
        assert_eq!(
            classify(&c, &q, &m),
            (Outcome::Ok, Verdict::Missing),
            "NXDOMAIN with a reference is missing"
        );
    }

    #[test]
    fn aa_bit_missing_is_lame() {
        let q = n("www.example.cn.");
        let c = check(Expect::Answer, RecordType::A, &[], true);
        let mut m = reply(ResponseCode::NoError, false);
        m.add_answer(a("www.example.cn.", "192.0.2.1"));
        assert_eq!(classify(&c, &q, &m).0, Outcome::Lame);
        // Recursive checks do not need AA.
        let c = check(Expect::Answer, RecordType::A, &[], false);
        assert_eq!(classify(&c, &q, &m).0, Outcome::Ok);
    }

    #[test]
    fn referral_is_success_and_checked_against_ns_values() {
        let q = n("www.example.cn.");
        let c = check(Expect::Referral, RecordType::NS, &["ns1.example.cn."], true);
        let mut m = reply(ResponseCode::NoError, false);
        m.add_authority(Record::from_rdata(
            n("example.cn."),
            60,
            RData::NS(NS(n("NS1.example.cn."))),
        ));
        assert_eq!(classify(&c, &q, &m), (Outcome::Ok, Verdict::Correct));
        let mut m = reply(ResponseCode::NoError, false);
        m.add_authority(Record::from_rdata(
            n("example.cn."),
            60,
            RData::NS(NS(n("evil.example."))),
        ));
        assert_eq!(classify(&c, &q, &m), (Outcome::Ok, Verdict::Wrong));
        // Neither AA nor a referral: lame.
        let m = reply(ResponseCode::NoError, false);
        assert_eq!(classify(&c, &q, &m).0, Outcome::Lame);
    }

    #[test]
    fn expected_negative_answered_with_data_is_wrong() {
        let q = n("www.example.cn.");
        let c = check(Expect::NxDomain, RecordType::A, &[], true);
        assert_eq!(
            classify(&c, &q, &reply(ResponseCode::NXDomain, true)),
            (Outcome::Ok, Verdict::Correct)
        );
        let mut m = reply(ResponseCode::NoError, true);
        m.add_answer(a("www.example.cn.", "192.0.2.1"));
        assert_eq!(classify(&c, &q, &m), (Outcome::Ok, Verdict::Wrong));
    }

    #[test]
    fn question_must_match() {
        let q = Question {
            qname: n("WWW.example.cn."),
            qtype: RecordType::A,
            recursion_desired: false,
            dnssec_ok: false,
        };
        let m = reply(ResponseCode::NoError, true);
        assert!(question_matches(&m, &q));
        let q2 = Question {
            qtype: RecordType::AAAA,
            ..q.clone()
        };
        assert!(!question_matches(&m, &q2));
        let q3 = Question {
            qname: n("other.example.cn."),
            ..q.clone()
        };
        assert!(!question_matches(&m, &q3));
        // The right ID, name and type, but not an answer to a standard IN query.
        let mut ch = m.clone();
        ch.queries[0].query_class = DNSClass::CH;
        assert!(!question_matches(&ch, &q), "QCLASS CH");
        let mut notify = m.clone();
        notify.metadata.op_code = OpCode::Notify;
        assert!(!question_matches(&notify, &q), "OPCODE NOTIFY");
        let mut query = m.clone();
        query.metadata.message_type = MessageType::Query;
        assert!(!question_matches(&query, &q), "QR=0");
        let mut two = m.clone();
        two.queries.push(two.queries[0].clone());
        assert!(!question_matches(&two, &q), "two questions");
        let mut none = m;
        none.queries.clear();
        assert!(!question_matches(&none, &q), "no question");
    }
}
