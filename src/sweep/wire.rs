//! The sweep's wire work without a general DNS library: writing an NS query into a buffer,
//! and confirming that a reply is a correct referral without building a `Message`.
//!
//! [`confirm_correct`] is only ever a shortcut for the common case. It says `true` when the
//! reply is a well-formed NOERROR answer to exactly this question, not truncated, whose NS set
//! (chosen the way [`crate::probe::classify::classify`] chooses it for a referral check)
//! equals the reference. In every other case — an error RCODE, TC=1, an odd name, a different
//! NS set, anything it does not fully understand — it says `false`, and the caller classifies
//! the same bytes with hickory-proto and `classify`, the daemon's own rules. So the shortcut can
//! make a sweep fast but cannot change a verdict other than "correct".

use hickory_proto::rr::Name;
use std::str::FromStr;

/// DNS header length.
const HEADER: usize = 12;
/// Type codes used here.
const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
/// The EDNS option whose contents hickory-proto reads (and may reject): client subnet.
const OPTION_SUBNET: u16 = 8;
const CLASS_IN: u16 = 1;

/// Appends the wire form of `name` (reference text: lowercase, fully qualified). Returns
/// false if it is not a valid name.
pub fn write_name(out: &mut Vec<u8>, name: &str) -> bool {
    if name.contains('\\') {
        // Escaped names are rare; the general parser knows every escape.
        let Ok(n) = Name::from_str(name) else {
            return false;
        };
        for label in n.iter() {
            out.push(label.len() as u8);
            out.extend_from_slice(label);
        }
        out.push(0);
        return true;
    }
    for label in name.split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            return false;
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    true
}

/// Writes a query for `name` NS with RD=0, EDNS(0) advertising `payload` bytes, NSID asked,
/// into `out` (cleared first). Returns false if the name is not valid.
pub fn write_query(out: &mut Vec<u8>, id: u16, name: &str, payload: u16) -> bool {
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    // Flags 0 (a query, RD=0), QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 1.
    out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    if !write_name(out, name) {
        return false;
    }
    out.extend_from_slice(&TYPE_NS.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    // OPT: root owner, type 41, class = payload, TTL = extended RCODE 0, version 0, flags 0;
    // RDATA: the NSID option (code 3) with no data.
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&payload.max(512).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 4, 0, 3, 0, 0]);
    true
}

/// Scratch space reused across replies, so checking a reply does not allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    text: String,
    answers: Vec<(u32, u32)>,
    referral: Vec<(u32, u32)>,
}

/// Reads the name at `pos` (following compression pointers, which must point backwards)
/// into `text` (appended) as lowercase presentation text. Returns the position after the name
/// in the message and whether every label was plain (letters, digits, `-`, `_`, `*`), or None
/// if the name is malformed.
fn read_name(msg: &[u8], mut pos: usize, text: &mut String) -> Option<(usize, bool)> {
    let mut end = None;
    let mut plain = true;
    let mut wire_len = 1;
    let mut hops = 0;
    let mut limit = pos;
    let start_len = text.len();
    loop {
        let len = *msg.get(pos)? as usize;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    if text.len() == start_len {
                        text.push('.');
                    }
                    return Some((end.unwrap_or(pos + 1), plain));
                }
                let label = msg.get(pos + 1..pos + 1 + len)?;
                wire_len += len + 1;
                if wire_len > 255 {
                    return None;
                }
                for &b in label {
                    let b = b.to_ascii_lowercase();
                    if !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*')) {
                        plain = false;
                    }
                    text.push(if b.is_ascii() { b as char } else { '?' });
                }
                text.push('.');
                pos += 1 + len;
            }
            0xc0 => {
                let ptr =
                    (usize::from(*msg.get(pos)? & 0x3f) << 8) | usize::from(*msg.get(pos + 1)?);
                if end.is_none() {
                    end = Some(pos + 2);
                }
                hops += 1;
                if ptr >= limit || hops > 64 {
                    return None;
                }
                limit = ptr;
                pos = ptr;
            }
            _ => return None,
        }
    }
}

fn u16_at(msg: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]))
}

/// `owner` is `name` or one of its ancestors (both lowercase, fully qualified text).
fn is_at_or_above(owner: &str, name: &str) -> bool {
    owner == "."
        || name == owner
        || (name.len() > owner.len()
            && name.ends_with(owner)
            && name.as_bytes()[name.len() - owner.len() - 1] == b'.')
}

/// True when `msg` is a well-formed, untruncated NOERROR reply to `qname` NS whose NS set
/// equals `expected` (targets joined by `\n`, sorted); false means "classify it the slow way".
pub fn confirm_correct(msg: &[u8], qname: &str, expected: &str, s: &mut Scratch) -> bool {
    confirm(msg, qname, expected, s).unwrap_or(false)
}

/// [`confirm_correct`], section by section; None for anything it does not fully understand.
fn confirm(msg: &[u8], qname: &str, expected: &str, s: &mut Scratch) -> Option<bool> {
    let (aa, [answers, authority, additional]) = header(msg)?;
    s.text.clear();
    s.answers.clear();
    s.referral.clear();
    let mut pos = question(msg, qname, &mut s.text)?;
    pos = ns_section(msg, pos, answers, NsSection::Answer, qname, s)?;
    pos = ns_section(msg, pos, authority, NsSection::Authority, qname, s)?;
    pos = additional_section(msg, pos, additional, &mut s.text)?;
    if pos != msg.len() {
        return None;
    }
    ns_set_matches(s, aa, expected)
}

/// Checks the header: a response to a standard query, NOERROR, not truncated, one question.
/// Returns AA and the answer, authority and additional counts.
#[inline]
fn header(msg: &[u8]) -> Option<(bool, [u16; 3])> {
    if msg.len() < HEADER {
        return None;
    }
    let (f1, f2) = (msg[2], msg[3]);
    let response = f1 & 0x80 != 0;
    let opcode = (f1 >> 3) & 0x0f;
    let aa = f1 & 0x04 != 0;
    let tc = f1 & 0x02 != 0;
    let rcode = f2 & 0x0f;
    if !response || opcode != 0 || tc || rcode != 0 || u16_at(msg, 4)? != 1 {
        return None;
    }
    Some((aa, [u16_at(msg, 6)?, u16_at(msg, 8)?, u16_at(msg, 10)?]))
}

/// Reads the question into `text`: it must be `qname` (plain labels) NS IN. Returns the
/// position after it.
#[inline]
fn question(msg: &[u8], qname: &str, text: &mut String) -> Option<usize> {
    let (pos, plain) = read_name(msg, HEADER, text)?;
    if !plain || text != qname || u16_at(msg, pos)? != TYPE_NS || u16_at(msg, pos + 2)? != CLASS_IN
    {
        return None;
    }
    Some(pos + 4)
}

/// One resource record's fixed fields, its owner read into the scratch text.
struct Rr {
    /// Where the owner starts in the scratch text (it ends at the text's end).
    owner_start: usize,
    owner_plain: bool,
    rtype: u16,
    class: u16,
    /// The first byte of the TTL (an OPT record's extended RCODE).
    ttl_high: u8,
    rdata: usize,
    /// The position after the record.
    next: usize,
}

/// Reads the record at `pos`, its owner appended to `text`; None if it runs past the message.
#[inline]
fn rr_at(msg: &[u8], pos: usize, text: &mut String) -> Option<Rr> {
    let owner_start = text.len();
    let (p, owner_plain) = read_name(msg, pos, text)?;
    let rtype = u16_at(msg, p)?;
    let class = u16_at(msg, p + 2)?;
    let rdlen = usize::from(u16_at(msg, p + 8)?);
    let rdata = p + 10;
    let next = rdata + rdlen;
    if next > msg.len() {
        return None;
    }
    Some(Rr {
        owner_start,
        owner_plain,
        rtype,
        class,
        ttl_high: msg[p + 4],
        rdata,
        next,
    })
}

/// The two sections whose NS records count.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NsSection {
    Answer,
    Authority,
}

/// Reads the `count` records of the answer or authority section at `pos`, keeping the NS
/// targets `classify` would look at (answers owned by `qname`, a referral at or above it).
/// Only NS records are understood: any other type (whose RDATA the daemon's parser would
/// check and might reject) sends the reply to the slow path. Returns the position after it.
#[inline]
fn ns_section(
    msg: &[u8],
    mut pos: usize,
    count: u16,
    section: NsSection,
    qname: &str,
    s: &mut Scratch,
) -> Option<usize> {
    for _ in 0..count {
        let rr = rr_at(msg, pos, &mut s.text)?;
        if rr.rtype != TYPE_NS {
            return None;
        }
        ns_record(msg, &rr, section, qname, s)?;
        pos = rr.next;
    }
    Some(pos)
}

/// Reads the target of an NS record (plain labels, filling its RDATA exactly) and keeps it
/// when the record counts for `qname`.
#[inline]
fn ns_record(msg: &[u8], rr: &Rr, section: NsSection, qname: &str, s: &mut Scratch) -> Option<()> {
    if rr.class != CLASS_IN || !rr.owner_plain {
        return None;
    }
    let owner = &s.text[rr.owner_start..];
    let wanted = match section {
        NsSection::Answer => owner == qname,
        NsSection::Authority => is_at_or_above(owner, qname),
    };
    let t_start = s.text.len();
    let (t_end_pos, target_plain) = read_name(msg, rr.rdata, &mut s.text)?;
    if t_end_pos != rr.next || !target_plain {
        return None;
    }
    let range = (t_start as u32, s.text.len() as u32);
    if wanted {
        match section {
            NsSection::Answer => s.answers.push(range),
            NsSection::Authority => s.referral.push(range),
        }
    }
    Some(())
}

/// Reads the `count` records of the additional section at `pos`: glue (A with 4 bytes of
/// RDATA, AAAA with 16) and at most one OPT, owned by the root, with no extended RCODE and
/// well-formed options; any other record sends the reply to the slow path. Returns the
/// position after the section.
#[inline]
fn additional_section(msg: &[u8], mut pos: usize, count: u16, text: &mut String) -> Option<usize> {
    let mut opt_seen = false;
    for _ in 0..count {
        let rr = rr_at(msg, pos, text)?;
        let rdlen = rr.next - rr.rdata;
        match rr.rtype {
            TYPE_A if rdlen == 4 => {}
            TYPE_AAAA if rdlen == 16 => {}
            TYPE_OPT => {
                if opt_seen || &text[rr.owner_start..] != "." || rr.ttl_high != 0 {
                    return None;
                }
                edns_options(&msg[rr.rdata..rr.next])?;
                opt_seen = true;
            }
            _ => return None,
        }
        pos = rr.next;
    }
    Some(pos)
}

/// Checks that an OPT record's RDATA is a sequence of whole options (code, length, data)
/// with none the daemon's parser interprets beyond its length.
fn edns_options(mut rdata: &[u8]) -> Option<()> {
    while !rdata.is_empty() {
        let code = u16_at(rdata, 0)?;
        let len = usize::from(u16_at(rdata, 2)?);
        if code == OPTION_SUBNET {
            return None;
        }
        rdata = rdata.get(4 + len..)?;
    }
    Some(())
}

/// Whether the NS set `classify` compares for a referral check of type NS (the answers when
/// AA is set and there are any, else the referral, else the answers) equals `expected`.
fn ns_set_matches(s: &mut Scratch, aa: bool, expected: &str) -> Option<bool> {
    let got = if aa {
        if s.answers.is_empty() {
            &mut s.referral
        } else {
            &mut s.answers
        }
    } else if s.referral.is_empty() {
        &mut s.answers
    } else {
        &mut s.referral
    };
    if got.is_empty() {
        return None;
    }
    let text = &s.text;
    let slice = |r: &(u32, u32)| &text[r.0 as usize..r.1 as usize];
    got.sort_unstable_by(|a, b| slice(a).cmp(slice(b)));
    got.dedup_by(|a, b| slice(a) == slice(b));
    let mut want = expected.split('\n');
    for r in got.iter() {
        if want.next() != Some(slice(r)) {
            return Some(false);
        }
    }
    Some(want.next().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Check, CheckRole, Expect, Transport};
    use crate::probe::classify::classify;
    use crate::probe::{Outcome, Verdict};
    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::rdata::{A, NS};
    use hickory_proto::rr::{RData, Record, RecordType};

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn reply(
        aa: bool,
        rcode: ResponseCode,
        auth: &[(&str, &str)],
        ans: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut m = Message::new(9, MessageType::Response, OpCode::Query);
        m.metadata.authoritative = aa;
        m.metadata.response_code = rcode;
        m.add_query(Query::query(n("D1.cn."), RecordType::NS));
        for (o, t) in ans {
            m.add_answer(Record::from_rdata(n(o), 60, RData::NS(NS(n(t)))));
        }
        for (o, t) in auth {
            m.add_authority(Record::from_rdata(n(o), 60, RData::NS(NS(n(t)))));
        }
        m.add_additional(Record::from_rdata(
            n("ns1.d1.cn."),
            60,
            RData::A(A([127, 0, 0, 1].into())),
        ));
        m.to_vec().unwrap()
    }

    fn slow(bytes: &[u8], expected: &[&str]) -> (Outcome, Verdict) {
        let check = Check {
            qname: n("d1.cn."),
            qtype: RecordType::NS,
            expect: Expect::Referral,
            values: expected.iter().map(|s| s.to_string()).collect(),
            transport: Transport::Udp,
            role: CheckRole::Plain,
            recursion_desired: false,
            authoritative: true,
        };
        classify(&check, &n("d1.cn."), &Message::from_vec(bytes).unwrap())
    }

    #[test]
    fn query_parses_as_the_prober_builds_it() {
        let mut b = Vec::new();
        assert!(write_query(&mut b, 77, "d1.cn.", 1232));
        let m = Message::from_vec(&b).unwrap();
        assert_eq!(m.metadata.id, 77);
        assert!(!m.metadata.recursion_desired);
        assert_eq!(m.queries[0].name, n("d1.cn."));
        assert_eq!(m.queries[0].query_type, RecordType::NS);
        let e = m.edns.as_ref().unwrap();
        assert_eq!(e.max_payload(), 1232);
        assert!(e
            .option(hickory_proto::rr::rdata::opt::EdnsCode::NSID)
            .is_some());
        assert!(!write_query(
            &mut b,
            1,
            &format!("{}.cn.", "a".repeat(64)),
            1232
        ));
    }

    #[test]
    fn agrees_with_classify_on_every_shape() {
        let want = ["ns1.d1.cn.", "ns2.x.net."];
        let joined = "ns1.d1.cn.\nns2.x.net.";
        let good = [
            ("d1.cn.", "NS1.d1.cn."),
            ("d1.cn.", "ns2.x.net."),
            ("d1.cn.", "ns2.x.net."),
        ];
        let cases = [
            reply(false, ResponseCode::NoError, &good, &[]),
            reply(true, ResponseCode::NoError, &[], &good),
            reply(true, ResponseCode::NoError, &good, &[]),
            reply(
                false,
                ResponseCode::NoError,
                &[("cn.", "ns1.d1.cn."), ("cn.", "ns2.x.net.")],
                &[],
            ),
            reply(false, ResponseCode::NoError, &good[..1], &[]),
            reply(
                false,
                ResponseCode::NoError,
                &[("d1.cn.", "wrong.ns1.d1.cn."), ("d1.cn.", "ns2.x.net.")],
                &[],
            ),
            reply(
                false,
                ResponseCode::NoError,
                &[("other.cn.", "ns1.d1.cn."), ("other.cn.", "ns2.x.net.")],
                &[],
            ),
            reply(false, ResponseCode::NXDomain, &[], &[]),
            reply(false, ResponseCode::ServFail, &good, &[]),
            reply(false, ResponseCode::NoError, &[], &[]),
        ];
        let mut s = Scratch::default();
        for (i, bytes) in cases.iter().enumerate() {
            let fast = confirm_correct(bytes, "d1.cn.", joined, &mut s);
            let slow = slow(bytes, &want);
            assert_eq!(
                fast,
                slow == (Outcome::Ok, Verdict::Correct),
                "case {i}: {slow:?}"
            );
        }
        // Truncated, cut short, or trailing bytes: never confirmed.
        let mut tc = cases[0].clone();
        tc[2] |= 0x02;
        assert!(!confirm_correct(&tc, "d1.cn.", joined, &mut s));
        for cut in 0..cases[0].len() {
            assert!(
                !confirm_correct(&cases[0][..cut], "d1.cn.", joined, &mut s),
                "{cut}"
            );
        }
        let mut long = cases[0].clone();
        long.push(0);
        assert!(!confirm_correct(&long, "d1.cn.", joined, &mut s));
        // Another question.
        assert!(!confirm_correct(&cases[0], "d2.cn.", joined, &mut s));
    }
}
