//! Inputs the fuzz targets (docs/fuzzing.md) found wrong, each fed to the code it broke.
//! The inputs are kept as found under fuzz/regressions/<target>/.

use dnsgrade::config::{Check, CheckRole, Expect, Transport};
use dnsgrade::probe::classify::classify;
use dnsgrade::probe::{Outcome, Verdict};
use dnsgrade::reference::axfr::transfer_over;
use dnsgrade::sweep::wire::{confirm_correct, Scratch};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, NS, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::str::FromStr;

fn n(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

/// The reference of the reply seeds: example.cn. delegated to these two.
const EXAMPLE_NS: &str = "ns1.example.cn.\nns2.example.net.";

fn referral_check() -> Check {
    Check {
        qname: n("example.cn."),
        qtype: RecordType::NS,
        expect: Expect::Referral,
        values: EXAMPLE_NS.split('\n').map(str::to_string).collect(),
        transport: Transport::Udp,
        role: CheckRole::Plain,
        recursion_desired: false,
        authoritative: true,
    }
}

/// The sweep's shortcut confirmed as correct a referral whose OPT record holds an option
/// longer than the record: the daemon cannot read that reply (malformed). The seed it was
/// mutated from, well-formed, is still confirmed and classified correct.
#[test]
fn sweep_does_not_confirm_a_reply_with_a_broken_edns_option() {
    let bad = include_bytes!("../fuzz/regressions/reply/sweep-opt-option-too-long");
    let mut s = Scratch::default();
    assert!(Message::from_vec(bad).is_err());
    assert!(!confirm_correct(bad, "example.cn.", EXAMPLE_NS, &mut s));

    let seed = include_bytes!("../fuzz/corpus/reply/referral");
    let m = Message::from_vec(seed).unwrap();
    let check = referral_check();
    assert_eq!(
        classify(&check, &check.qname, &m),
        (Outcome::Ok, Verdict::Correct)
    );
    assert!(confirm_correct(seed, "example.cn.", EXAMPLE_NS, &mut s));
}

fn referral_with(additional: Vec<Record>, authority_extra: Vec<Record>) -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(n("example.cn."), RecordType::NS));
    for t in ["ns1.example.cn.", "ns2.example.net."] {
        m.add_authority(Record::from_rdata(
            n("example.cn."),
            60,
            RData::NS(NS(n(t))),
        ));
    }
    for r in authority_extra {
        m.add_authority(r);
    }
    for r in additional {
        m.add_additional(r);
    }
    m.to_vec().unwrap()
}

/// The same class of mistake for any RDATA the shortcut skipped: glue whose length is not an
/// address's, or a record of a type it does not read, now goes to the daemon's parser.
#[test]
fn sweep_confirms_only_records_it_has_checked() {
    let glue = Record::from_rdata(
        n("ns1.example.cn."),
        60,
        RData::A(A([192, 0, 2, 53].into())),
    );
    let mut s = Scratch::default();
    let good = referral_with(vec![glue.clone()], Vec::new());
    assert!(confirm_correct(&good, "example.cn.", EXAMPLE_NS, &mut s));

    // The glue's RDATA length set to 3 and one byte cut: the daemon cannot read it.
    let mut short = good.clone();
    let at = short.len() - 6;
    assert_eq!(short[at..at + 2], [0, 4]);
    short[at + 1] = 3;
    short.pop();
    assert!(Message::from_vec(&short).is_err());
    assert!(!confirm_correct(&short, "example.cn.", EXAMPLE_NS, &mut s));

    // An SOA beside the referral: well-formed, but not what the shortcut reads.
    let soa = SOA::new(n("a.dns.cn."), n("root.dns.cn."), 1, 2, 3, 4, 5);
    let with_soa = referral_with(
        vec![glue],
        vec![Record::from_rdata(n("cn."), 60, RData::SOA(soa))],
    );
    assert!(Message::from_vec(&with_soa).is_ok());
    assert!(!confirm_correct(
        &with_soa,
        "example.cn.",
        EXAMPLE_NS,
        &mut s
    ));
}

/// An AXFR stream with a delegation whose owner has a label of bytes (`e\x80\0\0\0le.cn.`):
/// its text form does not read back as a name, so its checks would have asked for the
/// root. The reader leaves it out and keeps the others.
#[tokio::test(flavor = "current_thread")]
async fn axfr_leaves_out_an_owner_its_text_form_cannot_carry() {
    let stream = include_bytes!("../fuzz/regressions/axfr/owner-label-not-text");
    let id = u16::from_be_bytes([stream[2], stream[3]]);
    let mut io = tokio::io::join(&stream[..], tokio::io::sink());
    let d = transfer_over(
        &mut io,
        &n("cn."),
        "test",
        id,
        &dnsgrade::config::TransferLimits::DEFAULT,
    )
    .await
    .unwrap();
    assert!(!d.is_empty());
    for i in 0..d.len() {
        let (name, targets) = d.get(i);
        assert_eq!(name.to_ascii(), d.name_text(i));
        assert!(n("cn.").zone_of(&name) && !name.is_root(), "{name}");
        assert!(!targets.is_empty());
    }
    assert_eq!(d.position("b.cn."), Some(0));
    assert!(d.position("c.cn.").is_some());
}
