//! The fuzz targets. Each takes any bytes, must not panic, and checks what the code promises
//! about its result (an error names a line that exists; the sweep's byte-level shortcut never
//! says "correct" where the daemon's classification would not). Each returns a signature of
//! what the input did, the driver's feedback (`engine`).

use crate::engine::Target;
use dnsgrade::config::{Check, CheckRole, ConfigErrors, Expect, Transport};
use dnsgrade::probe::classify::{
    classify, question_matches, referral_targets, relevant_answers, reply_nsid, soa_serial,
    Question,
};
use dnsgrade::probe::dnssec::{check_signatures, dnskeys_in};
use dnsgrade::probe::{Outcome, Verdict};
use dnsgrade::reference::{axfr::transfer_over, parse_zone_reader, Delegations};
use dnsgrade::sweep::wire::{confirm_correct, Scratch};
use dnsgrade::zonefile::{ZoneFileError, ZoneReader};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::str::FromStr;

/// Every target, in the order `run` takes them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "reply",
        max_len: 4096,
        make: || Box::new(Reply::new().run()),
    },
    Target {
        name: "config",
        max_len: 16384,
        make: || Box::new(config),
    },
    Target {
        name: "rules",
        max_len: 16384,
        make: || Box::new(rules),
    },
    Target {
        name: "zonefile",
        max_len: 16384,
        make: || Box::new(zonefile),
    },
    Target {
        name: "axfr",
        max_len: 65536,
        make: || Box::new(axfr()),
    },
];

/// The time the reply target checks signatures at (the seeds are signed around it).
pub const NOW_MS: u64 = 1_800_000_000_000;

/// The reference zone the reply target verifies data against: one delegation.
pub const REFERENCE_ZONE: &str = "$ORIGIN cn.\n$TTL 3600\n\
@ SOA a.dns.cn. root.dns.cn. 2024010101 7200 3600 1209600 3600\n\
@ NS a.dns.cn.\n\
example NS ns1.example.cn.\n\
example NS ns2.example.net.\n\
ns1.example A 192.0.2.53\n";

fn signature(parts: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// A message without what varies from input to input (digits, quoted text), so that one
/// kind of error is one signature.
fn shape(msg: &str) -> String {
    let mut out = String::new();
    let mut quote = None;
    for c in msg.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '"' | '`' | '\'') => quote = Some(c),
            None if c.is_ascii_digit() => {}
            None => out.push(c),
        }
    }
    out
}

fn text_of(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

fn n(s: &str) -> Name {
    Name::from_str(s).expect("a valid name")
}

fn check(qname: &str, qtype: RecordType, expect: Expect, values: Vec<String>) -> Check {
    Check {
        qname: n(qname),
        qtype,
        expect,
        values,
        transport: Transport::Udp,
        role: CheckRole::Plain,
        recursion_desired: false,
        authoritative: true,
    }
}

/// The reply target: parse, match against fixed questions, classify against a small
/// reference, check DNSSEC signatures (with the reply's own DNSKEYs as the zone's keys), and
/// the sweep's byte-level shortcut against the daemon's classification.
pub struct Reply {
    checks: Vec<Check>,
    reference: Delegations,
    scratch: Scratch,
}

impl Reply {
    /// The fixed checks and reference.
    pub fn new() -> Reply {
        let reference = parse_zone_reader(REFERENCE_ZONE.as_bytes(), Path::new("cn.zone"), None)
            .expect("the reference zone parses");
        let (_, ns) = reference.get(0);
        let mut recursive = check("www.example.cn.", RecordType::A, Expect::Any, Vec::new());
        recursive.authoritative = false;
        recursive.recursion_desired = true;
        let checks = vec![
            check("example.cn.", RecordType::NS, Expect::Referral, ns),
            check(
                "www.example.cn.",
                RecordType::A,
                Expect::Answer,
                vec!["192.0.2.1".into()],
            ),
            check(
                "nx.example.cn.",
                RecordType::A,
                Expect::NxDomain,
                Vec::new(),
            ),
            check(
                "example.cn.",
                RecordType::DNSKEY,
                Expect::Answer,
                Vec::new(),
            ),
            check("example.cn.", RecordType::SOA, Expect::Answer, Vec::new()),
            recursive,
        ];
        Reply {
            checks,
            reference,
            scratch: Scratch::default(),
        }
    }

    /// The target function.
    pub fn run(mut self) -> impl FnMut(&[u8]) -> u64 {
        move |data| self.one(data)
    }

    fn one(&mut self, data: &[u8]) -> u64 {
        let (name, set) = (self.reference.name_text(0), self.reference.set_text(0));
        let confirmed = confirm_correct(data, name, set, &mut self.scratch);
        let msg = match Message::from_vec(data) {
            Ok(m) => m,
            Err(e) => {
                assert!(
                    !confirmed,
                    "the sweep confirmed a reply hickory cannot read: {e}"
                );
                return signature(("unreadable", shape(&e.to_string())));
            }
        };
        let mut sig = vec![
            u64::from(confirmed),
            msg.answers.len().min(8) as u64,
            msg.authorities.len().min(8) as u64,
            msg.additionals.len().min(8) as u64,
            u64::from(soa_serial(&msg).is_some()),
            u64::from(reply_nsid(&msg).is_some()),
        ];
        for c in &self.checks {
            sig.extend(self.check_one(c, &msg));
        }
        if confirmed {
            self.agree_with_sweep(&msg);
        }
        // Re-encoding what was read (the lab and tests write messages): must not panic.
        let _ = msg.to_vec();
        signature(sig)
    }

    fn check_one(&self, c: &Check, msg: &Message) -> [u64; 6] {
        let q = Question {
            qname: c.qname.clone(),
            qtype: c.qtype,
            recursion_desired: c.recursion_desired,
            dnssec_ok: true,
        };
        let matches = question_matches(msg, &q);
        let (outcome, verdict) = classify(c, &c.qname, msg);
        let answers = relevant_answers(msg, &c.qname, c.qtype);
        let referral = referral_targets(msg, &c.qname);
        let own_keys = dnskeys_in(msg, &c.qname);
        let bare = check_signatures(msg, &c.qname, c.qtype, NOW_MS, &[]);
        let keyed = check_signatures(msg, &c.qname, c.qtype, NOW_MS, &own_keys);
        assert!(bare.signatures == keyed.signatures);
        [
            u64::from(matches),
            outcome as u64 * 16 + verdict as u64,
            (answers.len().min(4) * 8 + referral.len().min(4)) as u64,
            bare.problem.map_or(0, |p| p as u64 + 1),
            keyed.problem.map_or(0, |p| p as u64 + 1) * 16 + own_keys.len().min(4) as u64,
            bare.signatures.min(8) as u64,
        ]
    }

    /// The sweep said "correct": the daemon's classification (as `sweep`'s slow path makes
    /// it) must say so too.
    fn agree_with_sweep(&self, msg: &Message) {
        let c = &self.checks[0];
        let q = Question {
            qname: c.qname.clone(),
            qtype: RecordType::NS,
            recursion_desired: false,
            dnssec_ok: false,
        };
        assert!(
            question_matches(msg, &q),
            "confirmed, but the question differs"
        );
        assert!(!msg.metadata.truncation, "confirmed, but truncated");
        let got = classify(c, &c.qname, msg);
        assert_eq!(
            got,
            (Outcome::Ok, Verdict::Correct),
            "the sweep confirmed a reply the daemon classifies otherwise"
        );
    }
}

impl Default for Reply {
    fn default() -> Self {
        Reply::new()
    }
}

/// Checks what config and rules errors promise: at least one, each in the file given, at a
/// line and column that exist.
fn check_errors(errs: &ConfigErrors, path: &Path, text: &str) -> u64 {
    assert!(!errs.errors.is_empty(), "an Err without errors");
    let lines = text.split('\n').count();
    for e in &errs.errors {
        assert_eq!(e.file, path);
        assert!(
            e.line >= 1 && e.line <= lines,
            "line {} of {lines}: {e}",
            e.line
        );
        let line = text.split('\n').nth(e.line - 1).unwrap_or("");
        assert!(
            e.column >= 1 && e.column <= line.chars().count() + 1,
            "column {} of {:?}: {e}",
            e.column,
            line
        );
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("{}:{}:{}: ", path.display(), e.line, e.column)));
    }
    signature((
        errs.errors.len().min(4),
        errs.errors
            .iter()
            .map(|e| shape(&e.message))
            .collect::<Vec<_>>(),
    ))
}

/// The config target: `probes.toml` text through the parser and validator.
pub fn config(data: &[u8]) -> u64 {
    let text = text_of(data);
    let path = Path::new("fuzz/probes.toml");
    match dnsgrade::config::parse(path, &text) {
        Ok(cfg) => signature(("ok", format!("{cfg:?}").len() / 64)),
        Err(errs) => check_errors(&errs, path, &text),
    }
}

/// The rules target: a rules file through its parser and validator.
pub fn rules(data: &[u8]) -> u64 {
    let text = text_of(data);
    let path = Path::new("fuzz/rules.toml");
    match dnsgrade::grading::Rules::parse(path, &text) {
        Ok(r) => {
            let _ = r.authority.official("广东通信管理局");
            let _ = dnsgrade::grading::z_for(r.measure.confidence);
            signature(("ok", format!("{r:?}").len() / 64))
        }
        Err(errs) => check_errors(&errs, path, &text),
    }
}

fn zone_error(e: &ZoneFileError, lines: usize) -> u64 {
    match e {
        ZoneFileError::Syntax { line, reason, .. } => {
            assert!(
                *line >= 1 && *line <= lines + 1,
                "line {line} of {lines}: {e}"
            );
            signature(("syntax", shape(reason)))
        }
        ZoneFileError::Zone { reason, .. } => signature(("zone", shape(reason))),
        ZoneFileError::Io { .. } => signature("io"),
    }
}

/// Every record of `data` through the reader: owner, TTL, fields, NS targets and RDATA.
fn read_zone(data: &[u8], origin: Option<&Name>, lines: usize) -> Vec<u64> {
    let mut reader = ZoneReader::new(data, Path::new("example.cn.zone"), origin);
    let mut target = dnsgrade::zonefile::ZoneName::default();
    let mut sig = Vec::new();
    loop {
        match reader.next_record() {
            Ok(None) => break,
            Ok(Some(r)) => {
                let _ = (
                    r.line(),
                    r.ttl(),
                    r.owner().text(),
                    r.at_apex(),
                    r.fields().count(),
                );
                if r.record_type() == RecordType::NS {
                    let _ = r.ns_target_into(&mut target);
                }
                let kind = u64::from(u16::from(r.record_type()));
                let rdata = r.rdata();
                sig.push(kind * 2 + u64::from(rdata.is_ok()));
                if sig.len() > 10_000 {
                    break;
                }
            }
            Err(e) => {
                sig.push(zone_error(&e, lines));
                break;
            }
        }
    }
    let _ = (reader.serial(), reader.apex().map(|a| a.text().len()));
    sig.sort_unstable();
    sig.dedup();
    sig
}

/// The zone-file target: the reader (with and without a given origin), the reference's
/// delegations, and the lab's zones, which are then asked for every name they hold.
pub fn zonefile(data: &[u8]) -> u64 {
    let lines = data.split(|&b| b == b'\n').count();
    let origin = n("example.cn.");
    let mut sig = read_zone(data, None, lines);
    sig.extend(read_zone(data, Some(&origin), lines));
    match parse_zone_reader(data, Path::new("example.cn.zone"), Some(&origin)) {
        Ok(d) => {
            sig.push(d.len().min(16) as u64);
            for i in 0..d.len().min(64) {
                let (name, targets) = d.get(i);
                assert!(
                    origin.zone_of(&name) && name != origin,
                    "delegation {:?} read back as {name}",
                    d.name_text(i)
                );
                assert!(!targets.is_empty());
            }
        }
        Err(e) => sig.push(signature(shape(&e.to_string()))),
    }
    let text = text_of(data);
    if let Ok(zone) = dnsgrade::lab::Zone::parse("example.cn.", &text) {
        let names: Vec<Name> = zone.names().take(64).cloned().collect();
        for name in &names {
            for t in [RecordType::A, RecordType::NS, RecordType::SOA] {
                let _ = zone.answer(name, t);
            }
        }
        let mut m = Message::new(
            1,
            hickory_proto::op::MessageType::Response,
            hickory_proto::op::OpCode::Query,
        );
        m.answers = zone.records().take(512).cloned().collect();
        sig.push(u64::from(m.to_vec().is_ok()) + 2);
    }
    signature(sig)
}

/// The AXFR target: `data` is the byte stream a primary sends (two-byte length, message, …),
/// read by the daemon's transfer reader on an in-memory stream. The query's ID is taken from
/// the first message, so mutations reach beyond the ID check.
pub fn axfr() -> impl FnMut(&[u8]) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let zone = n("cn.");
    move |data: &[u8]| {
        let id = match data {
            [_, _, a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        };
        let mut stream = tokio::io::join(data, tokio::io::sink());
        let got = rt.block_on(transfer_over(
            &mut stream,
            &zone,
            "fuzz",
            id,
            &dnsgrade::config::TransferLimits::DEFAULT,
        ));
        match got {
            Ok(d) => {
                for i in 0..d.len().min(64) {
                    let owner = d.name_text(i);
                    assert!(owner.ends_with('.'), "owner {owner:?}");
                    let (name, targets) = d.get(i);
                    assert!(zone.zone_of(&name) && name != zone, "owner {name} outside");
                    assert!(!targets.is_empty(), "no NS targets for {owner}");
                    assert_eq!(d.position(owner), Some(i), "owner {owner} twice");
                }
                signature(("ok", d.len().min(16), d.distinct_sets().min(16)))
            }
            Err(e) => signature(shape(&e.to_string())),
        }
    }
}
