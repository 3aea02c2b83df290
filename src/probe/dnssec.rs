//! DNSSEC checks of a reply from a signed zone: pure functions, no I/O, time as a value.
//!
//! Every RRSIG in the answer and authority sections must be within its validity window
//! (inception ≤ now ≤ expiration, RFC 4034 §3.1.5 serial arithmetic on 32-bit seconds), and
//! an authoritative answer with data must carry an RRSIG covering the type asked. With the
//! zone's DNSKEY set known ([`ZoneKeys`], learned from the zone's own DNSKEY answers after
//! their self-signature verifies), every RRSIG made by one of those keys is verified
//! cryptographically over its RRset (hickory-proto's `Verifier`, ring): a signature that does
//! not verify is *invalid*. A reply with an expired, not yet valid, missing or invalid
//! signature is *wrong* data (docs/matrix.md: expired or invalid signatures count as wrong). The
//! earliest expiration seen is reported so that signatures about to expire can be warned
//! about before they do.
//!
//! What is not checked: the chain of trust to the parent (DS) and to a trust anchor — the
//! monitor asks whether the zone's own signatures are intact and current, not whether a
//! validating resolver would reach them; RRSIGs by a key tag outside the known DNSKEY set
//! (for example during a rollover, before the next DNSKEY probe) are checked for their window
//! only.

use crate::clock::UnixMillis;
use crate::config::ObjectClass;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::{PublicKey, Verifier};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A zone's DNSKEY set, shared.
pub type KeySet = Arc<Vec<DNSKEY>>;

/// The DNSKEY set of each signed object's zone, as last seen in a DNSKEY answer whose own
/// signature verified with one of its keys. Shared by every probe of the object.
#[derive(Debug, Default)]
pub struct ZoneKeys {
    keys: Mutex<HashMap<(ObjectClass, String), KeySet>>,
}

impl ZoneKeys {
    /// The known keys of an object's zone.
    pub fn get(&self, class: ObjectClass, object: &str) -> Option<KeySet> {
        self.keys
            .lock()
            .ok()?
            .get(&(class, object.to_string()))
            .cloned()
    }

    /// Replaces the known keys of an object's zone.
    pub fn set(&self, class: ObjectClass, object: &str, keys: Vec<DNSKEY>) {
        if let Ok(mut m) = self.keys.lock() {
            m.insert((class, object.to_string()), Arc::new(keys));
        }
    }
}

/// The DNSKEY records of `reply`'s answer owned by `qname`.
pub fn dnskeys_in(reply: &Message, qname: &Name) -> Vec<DNSKEY> {
    reply
        .answers
        .iter()
        .filter(|r| r.name == *qname)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

/// Whether `sig`, made by one of `keys` (matched by key tag and algorithm), verifies over
/// its RRset among `records`. None when no key of the set made it.
fn verify(sig: &RRSIG, owner: &Name, records: &[Record], keys: &[DNSKEY]) -> Option<bool> {
    let input = sig.input();
    let mut candidates = keys.iter().filter(|k| {
        k.public_key().algorithm() == input.algorithm
            && k.calculate_key_tag().ok() == Some(input.key_tag)
    });
    let first = candidates.next()?;
    let class = records
        .iter()
        .find(|r| r.name == *owner && r.record_type() == input.type_covered)
        .map(|r| r.dns_class)
        .unwrap_or(hickory_proto::rr::DNSClass::IN);
    let ok = |k: &DNSKEY| k.verify_rrsig(owner, class, sig, records.iter()).is_ok();
    Some(ok(first) || candidates.any(ok))
}

/// What the signatures of one reply say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureCheck {
    /// Why the reply is wrong, if it is.
    pub problem: Option<SignatureProblem>,
    /// The earliest RRSIG expiration in the reply, in Unix milliseconds.
    pub earliest_expiration: Option<UnixMillis>,
    /// RRSIGs seen.
    pub signatures: usize,
}

/// Why a signed zone's reply is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    /// An RRSIG's expiration is in the past.
    Expired,
    /// An RRSIG's inception is in the future.
    NotYetValid,
    /// An authoritative answer has no RRSIG covering the type asked.
    Unsigned,
    /// An RRSIG's RDATA is too short to read.
    Malformed,
    /// An RRSIG made by one of the zone's keys does not verify over its RRset.
    Invalid,
}

impl std::fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureProblem::Expired => "expired",
            SignatureProblem::NotYetValid => "not yet valid",
            SignatureProblem::Unsigned => "unsigned",
            SignatureProblem::Malformed => "malformed",
            SignatureProblem::Invalid => "invalid",
        })
    }
}

/// The validity window of one RRSIG: (type covered, inception, expiration) in 32-bit seconds.
fn window(data: &RData) -> Option<Option<(RecordType, u32, u32)>> {
    if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = data {
        let i = sig.input();
        return Some(Some((
            i.type_covered,
            i.sig_inception.get(),
            i.sig_expiration.get(),
        )));
    }
    let RData::Unknown { code, rdata } = data else {
        return None;
    };
    if *code != RecordType::RRSIG {
        return None;
    }
    let b = &rdata.anything;
    if b.len() < 18 {
        return Some(None);
    }
    let covered = RecordType::from(u16::from_be_bytes([b[0], b[1]]));
    let expiration = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
    let inception = u32::from_be_bytes([b[12], b[13], b[14], b[15]]);
    Some(Some((covered, inception, expiration)))
}

/// Checks the RRSIGs of `reply` to `qname`/`qtype` at `now`; with `keys` (the zone's DNSKEY
/// set), each signature made by one of them is also verified.
pub fn check_signatures(
    reply: &Message,
    qname: &Name,
    qtype: RecordType,
    now: UnixMillis,
    keys: &[DNSKEY],
) -> SignatureCheck {
    let now_s = (now / 1000) as u32;
    let mut out = SignatureCheck {
        problem: None,
        earliest_expiration: None,
        signatures: 0,
    };
    let mut answer_signed = false;
    let want = qname.to_lowercase();
    for (in_answer, r) in reply
        .answers
        .iter()
        .map(|r| (true, r))
        .chain(reply.authorities.iter().map(|r| (false, r)))
    {
        let Some(w) = window(&r.data) else {
            continue;
        };
        out.signatures += 1;
        let Some((covered, inception, expiration)) = w else {
            out.problem.get_or_insert(SignatureProblem::Malformed);
            continue;
        };
        // Serial arithmetic: the signed distance from now, so 2106 is not the end of time.
        let until = i64::from(expiration.wrapping_sub(now_s) as i32);
        let since = i64::from(now_s.wrapping_sub(inception) as i32);
        let at = (now as i64 / 1000 + until).max(0) as u64 * 1000;
        out.earliest_expiration = Some(out.earliest_expiration.map_or(at, |e| e.min(at)));
        if until < 0 {
            out.problem = Some(SignatureProblem::Expired);
        } else if since < 0 {
            out.problem.get_or_insert(SignatureProblem::NotYetValid);
        }
        if in_answer && covered == qtype && r.name.to_lowercase() == want {
            answer_signed = true;
        }
        if let (false, RData::DNSSEC(DNSSECRData::RRSIG(sig))) = (keys.is_empty(), &r.data) {
            let section = if in_answer {
                &reply.answers
            } else {
                &reply.authorities
            };
            if verify(sig, &r.name, section, keys) == Some(false) {
                out.problem.get_or_insert(SignatureProblem::Invalid);
            }
        }
    }
    let has_data = reply
        .answers
        .iter()
        .any(|r| r.record_type() == qtype && r.name.to_lowercase() == want);
    if reply.metadata.authoritative && has_data && !answer_signed && out.problem.is_none() {
        out.problem = Some(SignatureProblem::Unsigned);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::{A, NULL};
    use hickory_proto::rr::Record;
    use std::str::FromStr;

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn rrsig(covered: RecordType, inception: u32, expiration: u32) -> Record {
        let mut b = u16::from(covered).to_be_bytes().to_vec();
        b.extend([13, 3, 0, 0, 1, 44]);
        b.extend(expiration.to_be_bytes());
        b.extend(inception.to_be_bytes());
        b.extend([0x12, 0x34]);
        b.extend([3, b'c', b'o', b'm', 0, 1, 2, 3]);
        Record::from_rdata(
            n("www.example.cn."),
            300,
            RData::Unknown {
                code: RecordType::RRSIG,
                rdata: NULL::with(b),
            },
        )
    }

    fn reply(sigs: Vec<Record>) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.authoritative = true;
        m.add_query(Query::query(n("www.example.cn."), RecordType::A));
        m.add_answer(Record::from_rdata(
            n("www.example.cn."),
            300,
            RData::A(A([192, 0, 2, 1].into())),
        ));
        for s in sigs {
            m.add_answer(s);
        }
        m
    }

    const NOW: u64 = 1_800_000_000_000;
    const S: u32 = 1_800_000_000;

    #[test]
    fn windows_and_presence() {
        let q = n("www.example.cn.");
        let c = |m: &Message| check_signatures(m, &q, RecordType::A, NOW, &[]);
        let ok = c(&reply(vec![rrsig(RecordType::A, S - 86_400, S + 3_600)]));
        assert_eq!(ok.problem, None);
        assert_eq!(ok.earliest_expiration, Some(NOW + 3_600_000));
        let expired = c(&reply(vec![rrsig(RecordType::A, S - 86_400, S - 1)]));
        assert_eq!(expired.problem, Some(SignatureProblem::Expired));
        assert_eq!(expired.earliest_expiration, Some(NOW - 1_000));
        let early = c(&reply(vec![rrsig(RecordType::A, S + 60, S + 3_600)]));
        assert_eq!(early.problem, Some(SignatureProblem::NotYetValid));
        let unsigned = c(&reply(vec![]));
        assert_eq!(unsigned.problem, Some(SignatureProblem::Unsigned));
        let other_type = c(&reply(vec![rrsig(RecordType::AAAA, S - 1, S + 1)]));
        assert_eq!(other_type.problem, Some(SignatureProblem::Unsigned));
        // Two signatures: the earliest expiration counts, and one expired makes it wrong.
        let two = c(&reply(vec![
            rrsig(RecordType::A, S - 10, S + 100),
            rrsig(RecordType::A, S - 10, S - 5),
        ]));
        assert_eq!(two.problem, Some(SignatureProblem::Expired));
        assert_eq!(two.signatures, 2);
        // Across the 2106 wrap of 32-bit seconds, serial arithmetic still gives the future.
        let wrap_now = (u64::from(u32::MAX) - 10) * 1000;
        let w = check_signatures(
            &reply(vec![rrsig(RecordType::A, u32::MAX - 100, 50)]),
            &q,
            RecordType::A,
            wrap_now,
            &[],
        );
        assert_eq!(w.problem, None, "{w:?}");
    }
}
