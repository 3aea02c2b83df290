//! The seed corpus: `dnsgrade-fuzz corpus` writes it under fuzz/corpus/<target>/. Replies
//! and AXFR streams are built with hickory-proto (signed with a key made for the occasion),
//! the text seeds are copies of the repository's own files and small zones.

use crate::targets::{NOW_MS, REFERENCE_ZONE};
use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::sig::SigInput;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::{Algorithm, SigningKey, TBS};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsOption, NSIDPayload};
use hickory_proto::rr::rdata::{A, NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};
use std::path::Path;
use std::str::FromStr;

fn n(s: &str) -> Name {
    Name::from_str(s).expect("a valid name")
}

fn rec(name: &str, data: RData) -> Record {
    Record::from_rdata(n(name), 3600, data)
}

fn ns(owner: &str, target: &str) -> Record {
    rec(owner, RData::NS(NS(n(target))))
}

fn a(owner: &str, ip: [u8; 4]) -> Record {
    rec(owner, RData::A(A(ip.into())))
}

fn soa(owner: &str, serial: u32) -> Record {
    let s = SOA::new(
        n("a.dns.cn."),
        n("root.dns.cn."),
        serial,
        7200,
        3600,
        1_209_600,
        3600,
    );
    rec(owner, RData::SOA(s))
}

fn response(id: u16, qname: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(id, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(n(qname), qtype));
    m
}

fn with_edns(mut m: Message, nsid: &[u8]) -> Message {
    let mut e = Edns::new();
    e.set_max_payload(1232);
    e.set_dnssec_ok(true);
    if let Ok(p) = NSIDPayload::new(nsid.to_vec()) {
        e.options_mut().insert(EdnsOption::NSID(p));
    }
    m.set_edns(e);
    m
}

/// A zone key and the RRSIGs it makes, valid around [`NOW_MS`].
struct Signer {
    key: EcdsaSigningKey,
    dnskey: DNSKEY,
    tag: u16,
}

impl Signer {
    fn new() -> Signer {
        let alg = Algorithm::ECDSAP256SHA256;
        let der = EcdsaSigningKey::generate_pkcs8(alg).expect("a key");
        let key = EcdsaSigningKey::from_pkcs8(&der, alg).expect("the key reads");
        let dnskey = DNSKEY::new(true, true, false, key.to_public_key().expect("public key"));
        let tag = dnskey.calculate_key_tag().expect("key tag");
        Signer { key, dnskey, tag }
    }

    /// The RRSIG of `records` (one RRset).
    fn sign(&self, records: &[Record]) -> Record {
        let first = &records[0];
        let now = (NOW_MS / 1000) as u32;
        let input = SigInput {
            type_covered: first.record_type(),
            algorithm: Algorithm::ECDSAP256SHA256,
            num_labels: first.name.num_labels(),
            original_ttl: first.ttl,
            sig_expiration: SerialNumber::from(now + 30 * 86_400),
            sig_inception: SerialNumber::from(now - 86_400),
            key_tag: self.tag,
            signer_name: n("example.cn."),
        };
        let tbs = TBS::from_input(&first.name, DNSClass::IN, &input, records.iter()).expect("tbs");
        let sig = self.key.sign(&tbs).expect("signature");
        let rrsig = RRSIG::from_sig(input, sig);
        Record::from_rdata(
            first.name.clone(),
            first.ttl,
            RData::DNSSEC(DNSSECRData::RRSIG(rrsig)),
        )
    }
}

/// Replies: a referral the sweep confirms, a signed answer, a signed DNSKEY set, NXDOMAIN,
/// an SOA answer, a truncated reply, and the query itself.
pub fn replies() -> Vec<(&'static str, Vec<u8>)> {
    let signer = Signer::new();
    let mut out = Vec::new();
    let mut referral = response(0x1111, "example.cn.", RecordType::NS);
    referral.add_authority(ns("example.cn.", "ns1.example.cn."));
    referral.add_authority(ns("example.cn.", "ns2.example.net."));
    referral.add_additional(a("ns1.example.cn.", [192, 0, 2, 53]));
    out.push(("referral", with_edns(referral, b"node-1")));

    let mut answer = response(0x2222, "www.example.cn.", RecordType::A);
    answer.metadata.authoritative = true;
    let rrset = vec![a("www.example.cn.", [192, 0, 2, 1])];
    answer.add_answer(rrset[0].clone());
    answer.add_answer(signer.sign(&rrset));
    out.push(("signed-answer", with_edns(answer, b"")));

    let mut keys = response(0x3333, "example.cn.", RecordType::DNSKEY);
    keys.metadata.authoritative = true;
    let rrset = vec![rec(
        "example.cn.",
        RData::DNSSEC(DNSSECRData::DNSKEY(signer.dnskey.clone())),
    )];
    keys.add_answer(rrset[0].clone());
    keys.add_answer(signer.sign(&rrset));
    out.push(("dnskey", with_edns(keys, b"")));

    let mut nx = response(0x4444, "nx.example.cn.", RecordType::A);
    nx.metadata.authoritative = true;
    nx.metadata.response_code = ResponseCode::NXDomain;
    let rrset = vec![soa("example.cn.", 7)];
    nx.add_authority(rrset[0].clone());
    nx.add_authority(signer.sign(&rrset));
    out.push(("nxdomain", with_edns(nx, b"")));

    let mut s = response(0x5555, "example.cn.", RecordType::SOA);
    s.metadata.authoritative = true;
    s.add_answer(soa("example.cn.", 2024010101));
    s.add_authority(ns("example.cn.", "ns1.example.cn."));
    out.push(("soa", s));

    let mut tc = response(0x6666, "example.cn.", RecordType::NS);
    tc.metadata.truncation = true;
    out.push(("truncated", tc));

    let mut query = Message::new(0x7777, MessageType::Query, OpCode::Query);
    query.add_query(Query::query(n("www.example.cn."), RecordType::A));
    out.push(("query", with_edns(query, b"")));
    out.into_iter()
        .map(|(k, m)| (k, m.to_vec().expect("encodes")))
        .collect()
}

/// The AXFR streams of `cn.`: in one message, in three, and refused.
pub fn axfr_streams() -> Vec<(&'static str, Vec<u8>)> {
    let mut records = vec![soa("cn.", 2024010101), ns("cn.", "a.dns.cn.")];
    for (i, d) in ["example", "b", "c"].iter().enumerate() {
        records.push(ns(&format!("{d}.cn."), &format!("ns1.{d}.cn.")));
        records.push(ns(&format!("{d}.cn."), "ns.shared.net."));
        records.push(a(&format!("ns1.{d}.cn."), [192, 0, 2, i as u8 + 1]));
    }
    records.push(soa("cn.", 2024010101));
    let message = |chunk: &[Record], rcode: ResponseCode| {
        let mut m = response(0x1234, "cn.", RecordType::AXFR);
        m.metadata.authoritative = true;
        m.metadata.response_code = rcode;
        m.answers = chunk.to_vec();
        let wire = m.to_vec().expect("encodes");
        let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
        framed.extend(wire);
        framed
    };
    let one = message(&records, ResponseCode::NoError);
    let three: Vec<u8> = records
        .chunks(4)
        .flat_map(|c| message(c, ResponseCode::NoError))
        .collect();
    let refused = message(&[], ResponseCode::Refused);
    vec![
        ("one-message", one),
        ("three-messages", three),
        ("refused", refused),
    ]
}

/// Small zones: the reply target's reference, one with most of the syntax, the lab's example.
pub fn zones() -> Vec<(&'static str, Vec<u8>)> {
    let syntax = "$ORIGIN example.cn.\n$TTL 1h30m\n\
@ IN SOA ns1 hostmaster ( 2026120301 ; serial\n  7200 3600 1209600 300 )\n\
@ NS ns1\n  NS ns2.example.net.\nns1 300 IN A 192.0.2.1\nns1 AAAA 2001:db8::1\n\
www 60 A 192.0.2.80\n\"txt\" TXT \"a \\\"quoted\\\" \\065 string\" more\n\
sub NS ns1.sub\nns1.sub A 192.0.2.9\n*.wild CNAME www\n\
xn--fiqs8s A 192.0.2.7\nodd TYPE65280 \\# 2 abcd\n";
    let lab = "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n";
    vec![
        ("reference", REFERENCE_ZONE.as_bytes().to_vec()),
        ("syntax", syntax.as_bytes().to_vec()),
        ("lab", lab.as_bytes().to_vec()),
    ]
}

/// One seed file: its name and its bytes.
type Seed = (String, Vec<u8>);

/// Writes every target's seeds under `dir` (replacing files of the same name); `repo` is the
/// repository root, whose config and rules files are copied.
pub fn write(dir: &Path, repo: &Path) -> std::io::Result<usize> {
    let copy = |f: &str| std::fs::read(repo.join(f));
    let sets: Vec<(&str, Vec<Seed>)> = vec![
        ("reply", named(replies())),
        ("axfr", named(axfr_streams())),
        ("zonefile", named(zones())),
        (
            "config",
            vec![
                ("probes.toml".into(), copy("probes.toml")?),
                ("loopback.toml".into(), copy("tests/configs/loopback.toml")?),
                ("alerts.toml".into(), copy("tests/configs/alerts.toml")?),
            ],
        ),
        (
            "rules",
            vec![("miit-2011.toml".into(), copy("rules/miit-2011.toml")?)],
        ),
    ];
    let mut written = 0;
    for (target, files) in sets {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        for (name, bytes) in files {
            std::fs::write(d.join(name), bytes)?;
            written += 1;
        }
    }
    Ok(written)
}

fn named(v: Vec<(&'static str, Vec<u8>)>) -> Vec<Seed> {
    v.into_iter().map(|(k, b)| (k.to_string(), b)).collect()
}
