//! Authoritative data for one origin, and how an authoritative server answers from it.

use super::error::LabError;
use super::parse;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, CNAME, MX, NS, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::ops::Bound;

/// TTL of the SOA that [`Zone::new`] makes when none is given.
const DEFAULT_SOA_TTL: u32 = 3600;
/// TTL of the NS and glue records of [`Zone::synthetic_tld`] (what TLDs typically use).
const SYNTHETIC_TTL: u32 = 86_400;
/// CNAME hops followed inside the zone before giving the chain as it is.
const MAX_CNAME_HOPS: usize = 8;

/// Authoritative data for one origin: every record by owner name. Owner names are stored
/// lowercase and fully qualified, in canonical DNS order, so the names below any name are
/// contiguous (which makes empty non-terminals cheap to find).
#[derive(Clone, Debug)]
pub struct Zone {
    /// The apex, lowercase and fully qualified.
    origin: Name,
    /// Every record, by owner.
    records: BTreeMap<Name, Vec<Record>>,
}

/// What kind of reply [`Zone::answer`] gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerKind {
    /// The name has records of the type (or a CNAME leading to them): AA=1, records in answer.
    Answer,
    /// The name is at or below a delegation: AA=0, NS in authority, glue in additional.
    Referral,
    /// The name exists (or is an empty non-terminal) without records of the type: AA=1,
    /// NOERROR, SOA in authority.
    NoData,
    /// The name does not exist: AA=1, NXDOMAIN, SOA in authority.
    NxDomain,
    /// The name is not at or below the origin: REFUSED.
    NotInZone,
}

/// The reply an authoritative server gives for one question, before faults.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneAnswer {
    /// Which shape of reply this is.
    pub kind: AnswerKind,
    /// The RCODE.
    pub rcode: ResponseCode,
    /// The AA bit.
    pub authoritative: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section: SOA for negative answers, NS for referrals.
    pub authorities: Vec<Record>,
    /// Additional section: glue, and addresses of in-zone NS/MX targets.
    pub additionals: Vec<Record>,
}

impl ZoneAnswer {
    fn new(kind: AnswerKind, rcode: ResponseCode, authoritative: bool) -> Self {
        ZoneAnswer {
            kind,
            rcode,
            authoritative,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        }
    }
}

impl Zone {
    /// A zone for `origin` holding only its SOA: `soa`, or [`Zone::default_soa`] when `None`.
    pub fn new(origin: Name, soa: Option<SOA>) -> Self {
        let mut zone = Zone::empty(&origin);
        let soa = soa.unwrap_or_else(|| Zone::default_soa(&zone.origin));
        let apex = zone.origin.clone();
        zone.insert(Record::from_rdata(apex, DEFAULT_SOA_TTL, RData::SOA(soa)));
        zone
    }

    /// A zone with no records at all (the parser fills it and checks it has an SOA).
    pub(crate) fn empty(origin: &Name) -> Self {
        Zone {
            origin: normalize(origin),
            records: BTreeMap::new(),
        }
    }

    /// The SOA [`Zone::new`] uses by default: `ns1.<origin>` / `hostmaster.<origin>`, serial 1,
    /// refresh 3600, retry 600, expire 86400, negative TTL 300.
    pub fn default_soa(origin: &Name) -> SOA {
        let origin = normalize(origin);
        let under = |label: &str| {
            origin
                .prepend_label(label)
                .unwrap_or_else(|_| origin.clone())
        };
        SOA::new(under("ns1"), under("hostmaster"), 1, 3600, 600, 86_400, 300)
    }

    /// Parses RFC 1035 master-file text for `origin` with the grammar of [`crate::zonefile`];
    /// RDATA of the types SOA, NS, A, AAAA, CNAME, MX, TXT and DS in presentation form, any
    /// other type in the generic form `\# <length> <hex>`. Errors name the line.
    pub fn parse(origin: &str, text: &str) -> Result<Zone, LabError> {
        parse::parse_zone(origin, text)
    }

    /// A TLD-like zone, the same every time: the default SOA, apex NS `ns1.<origin>` and
    /// `ns2.<origin>` (A 127.0.0.1 and 127.0.0.2), and `delegations` delegations `d{i}.<origin>`,
    /// each with NS `ns1.d{i}.<origin>` and `ns2.d{i}.<origin>` and A glue
    /// `127.{1|2}.{i / 256 % 256}.{i % 256}` (distinct below 65,536 delegations).
    ///
    /// # Panics
    ///
    /// If `origin` is not a domain name (a programming error: it is a literal in callers).
    pub fn synthetic_tld(origin: &str, delegations: usize) -> Zone {
        let origin = Name::from_utf8(origin).expect("synthetic_tld: origin is a domain name");
        let mut zone = Zone::new(origin, None);
        let apex = zone.origin.clone();
        let mut delegate = |owner: &Name, k: u8, glue: Ipv4Addr| {
            let label = if k == 0 { "ns1" } else { "ns2" };
            if let Ok(target) = owner.prepend_label(label) {
                let ns = RData::NS(NS(target.clone()));
                zone.insert(Record::from_rdata(owner.clone(), SYNTHETIC_TTL, ns));
                zone.insert(Record::from_rdata(target, SYNTHETIC_TTL, RData::A(A(glue))));
            }
        };
        delegate(&apex, 0, Ipv4Addr::new(127, 0, 0, 1));
        delegate(&apex, 1, Ipv4Addr::new(127, 0, 0, 2));
        for i in 0..delegations {
            let Ok(child) = apex.prepend_label(format!("d{i}")) else {
                continue;
            };
            let [.., hi, lo] = (i as u64).to_be_bytes();
            delegate(&child, 0, Ipv4Addr::new(127, 1, hi, lo));
            delegate(&child, 1, Ipv4Addr::new(127, 2, hi, lo));
        }
        zone
    }

    /// Adds a record. Its owner is stored lowercase and fully qualified; a duplicate of a
    /// record already there (same owner, type and data) only updates the TTL; a second SOA at
    /// the apex replaces the first. A record whose owner is outside the zone is ignored
    /// (logged): an authoritative server never serves it.
    pub fn insert(&mut self, mut record: Record) {
        record.name = normalize(&record.name);
        if !self.origin.zone_of(&record.name) {
            tracing::warn!(owner = %record.name, zone = %self.origin, "record outside the zone ignored");
            return;
        }
        let is_soa = record.record_type() == RecordType::SOA;
        let rrs = self.records.entry(record.name.clone()).or_default();
        let same = |r: &Record| {
            r.record_type() == record.record_type() && (is_soa || r.data == record.data)
        };
        match rrs.iter_mut().find(|r| same(r)) {
            Some(existing) => *existing = record,
            None => rrs.push(record),
        }
    }

    /// The apex, lowercase and fully qualified.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The SOA record at the apex, if the zone has one.
    pub fn soa(&self) -> Option<&Record> {
        self.records
            .get(&self.origin)?
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
    }

    /// The SOA serial (0 without an SOA).
    pub fn serial(&self) -> u32 {
        match self.soa().map(|r| &r.data) {
            Some(RData::SOA(soa)) => soa.serial,
            _ => 0,
        }
    }

    /// Sets the SOA serial (a zone update, as a primary would publish it).
    pub fn set_serial(&mut self, serial: u32) {
        let apex = self.records.get_mut(&self.origin).into_iter().flatten();
        for record in apex {
            if let RData::SOA(soa) = &mut record.data {
                soa.serial = serial;
            }
        }
    }

    /// Every owner name, in canonical DNS order, for tests and sweeps that query every name.
    pub fn names(&self) -> impl Iterator<Item = &Name> {
        self.records.keys()
    }

    /// The delegation points: owners of NS records below the apex.
    pub fn delegations(&self) -> impl Iterator<Item = &Name> {
        self.records
            .iter()
            .filter(|(name, rrs)| **name != self.origin && rrs.iter().any(is_ns))
            .map(|(name, _)| name)
    }

    /// Every record, by owner in canonical DNS order (a reference for data checks).
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values().flatten()
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.records.values().map(Vec::len).sum()
    }

    /// Whether the zone has no records at all.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records of `name` with type `rtype` (every type for `ANY`), as stored.
    pub fn lookup(&self, name: &Name, rtype: RecordType) -> impl Iterator<Item = &Record> {
        self.records
            .get(&normalize(name))
            .into_iter()
            .flatten()
            .filter(move |r| rtype == RecordType::ANY || r.record_type() == rtype)
    }

    /// Whether `name` is at or below the origin.
    pub fn contains(&self, name: &Name) -> bool {
        self.origin.zone_of(name)
    }

    /// The reply an authoritative server for this zone gives to `qname`/`qtype`.
    ///
    /// At or below a delegation → referral (except DS at the cut itself, which the parent
    /// answers); records of the type → answer (a CNAME is followed inside the zone); a name
    /// that exists, or an empty non-terminal, without the type → NODATA; otherwise NXDOMAIN;
    /// outside the origin → REFUSED. Wildcards are not expanded.
    pub fn answer(&self, qname: &Name, qtype: RecordType) -> ZoneAnswer {
        let qname = normalize(qname);
        if !self.contains(&qname) {
            return ZoneAnswer::new(AnswerKind::NotInZone, ResponseCode::Refused, false);
        }
        if let Some(cut) = self.cut_above(&qname, qtype) {
            return self.referral(&cut);
        }
        let Some(rrs) = self.records.get(&qname) else {
            return if self.has_names_below(&qname) {
                self.negative(AnswerKind::NoData)
            } else {
                self.negative(AnswerKind::NxDomain)
            };
        };
        let hits: Vec<Record> = self.lookup(&qname, qtype).cloned().collect();
        if !hits.is_empty() {
            let mut reply = ZoneAnswer::new(AnswerKind::Answer, ResponseCode::NoError, true);
            reply.answers = hits;
            self.add_target_addresses(&mut reply);
            return reply;
        }
        match rrs.iter().find(|r| r.record_type() == RecordType::CNAME) {
            Some(cname) if qtype != RecordType::CNAME => self.follow_cname(cname, qtype),
            _ => self.negative(AnswerKind::NoData),
        }
    }

    /// The highest delegation point strictly below the apex at or above `qname`, if any. A DS
    /// question about the cut itself is not referred: DS records live on the parent side.
    fn cut_above(&self, qname: &Name, qtype: RecordType) -> Option<Name> {
        let apex_labels = self.origin.iter().len();
        let q_labels = qname.iter().len();
        for n in apex_labels + 1..=q_labels {
            let candidate = qname.trim_to(n);
            let is_cut = self
                .records
                .get(&candidate)
                .is_some_and(|rrs| rrs.iter().any(is_ns));
            if is_cut {
                if n == q_labels && qtype == RecordType::DS {
                    return None;
                }
                return Some(candidate);
            }
        }
        None
    }

    /// Whether any name in the zone is strictly below `name` (then `name` is an empty
    /// non-terminal). In canonical order the names below `name` come right after it.
    fn has_names_below(&self, name: &Name) -> bool {
        self.records
            .range((Bound::Excluded(name), Bound::Unbounded))
            .next()
            .is_some_and(|(next, _)| name.zone_of(next))
    }

    fn referral(&self, cut: &Name) -> ZoneAnswer {
        let mut reply = ZoneAnswer::new(AnswerKind::Referral, ResponseCode::NoError, false);
        reply.authorities = self.lookup(cut, RecordType::NS).cloned().collect();
        for ns in &reply.authorities {
            if let RData::NS(NS(target)) = &ns.data {
                reply.additionals.extend(self.addresses(target));
            }
        }
        reply
    }

    /// A negative reply with the SOA, its TTL capped by the SOA minimum (RFC 2308).
    pub(crate) fn negative(&self, kind: AnswerKind) -> ZoneAnswer {
        let rcode = match kind {
            AnswerKind::NxDomain => ResponseCode::NXDomain,
            _ => ResponseCode::NoError,
        };
        let mut reply = ZoneAnswer::new(kind, rcode, true);
        if let Some(soa) = self.soa() {
            let mut soa = soa.clone();
            if let RData::SOA(data) = &soa.data {
                soa.ttl = soa.ttl.min(data.minimum);
            }
            reply.authorities.push(soa);
        }
        reply
    }

    fn follow_cname(&self, first: &Record, qtype: RecordType) -> ZoneAnswer {
        let mut reply = ZoneAnswer::new(AnswerKind::Answer, ResponseCode::NoError, true);
        reply.answers.push(first.clone());
        let mut target = match &first.data {
            RData::CNAME(CNAME(t)) => normalize(t),
            _ => return reply,
        };
        for _ in 0..MAX_CNAME_HOPS {
            if !self.contains(&target) || self.cut_above(&target, qtype).is_some() {
                break;
            }
            let hits: Vec<Record> = self.lookup(&target, qtype).cloned().collect();
            if !hits.is_empty() {
                reply.answers.extend(hits);
                break;
            }
            let Some(next) = self.lookup(&target, RecordType::CNAME).next() else {
                break;
            };
            reply.answers.push(next.clone());
            target = match &next.data {
                RData::CNAME(CNAME(t)) => normalize(t),
                _ => break,
            };
        }
        reply
    }

    /// Adds the in-zone addresses of NS and MX targets in the answer to the additional section.
    fn add_target_addresses(&self, reply: &mut ZoneAnswer) {
        for record in &reply.answers {
            let target = match &record.data {
                RData::NS(NS(t)) => t,
                RData::MX(MX { exchange, .. }) => exchange,
                _ => continue,
            };
            for addr in self.addresses(target) {
                if !reply.additionals.contains(&addr) {
                    reply.additionals.push(addr);
                }
            }
        }
    }

    /// The A and AAAA records of `name` when it is in the zone.
    fn addresses(&self, name: &Name) -> Vec<Record> {
        self.lookup(name, RecordType::ANY)
            .filter(|r| matches!(r.record_type(), RecordType::A | RecordType::AAAA))
            .cloned()
            .collect()
    }
}

fn is_ns(record: &Record) -> bool {
    record.record_type() == RecordType::NS
}

/// Lowercase and fully qualified: the form owner names are stored and compared in.
pub(crate) fn normalize(name: &Name) -> Name {
    let mut name = name.to_lowercase();
    name.set_fqdn(true);
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const TEXT: &str = "\
$ORIGIN example.cn.
$TTL 300
@        IN SOA ns1 hostmaster 7 3600 600 86400 60
@        IN NS  ns1
ns1      IN A   127.0.0.1
www      IN A   192.0.2.1
www      IN AAAA 2001:db8::1
alias    IN CNAME www
mail     IN MX  10 www
sub      IN NS  ns1.sub
sub      IN DS  12345 8 2 ABCDEF0123
ns1.sub  IN A   127.0.0.3
a.b.deep IN A   192.0.2.2
";

    fn zone() -> Zone {
        Zone::parse("example.cn.", TEXT).expect("zone parses")
    }

    fn name(s: &str) -> Name {
        Name::from_str(s).expect("name")
    }

    #[test]
    fn answer_shapes() {
        let z = zone();
        let a = z.answer(&name("WWW.example.cn."), RecordType::A);
        assert_eq!(
            (a.kind, a.rcode, a.authoritative),
            (AnswerKind::Answer, ResponseCode::NoError, true)
        );
        assert_eq!(a.answers.len(), 1);

        let r = z.answer(&name("host.deeper.sub.example.cn."), RecordType::A);
        assert_eq!((r.kind, r.authoritative), (AnswerKind::Referral, false));
        assert_eq!(r.authorities.len(), 1);
        assert_eq!(r.additionals[0].name, name("ns1.sub.example.cn."));
        // NS at the cut is a referral too; DS at the cut is the parent's own answer.
        assert_eq!(
            z.answer(&name("sub.example.cn."), RecordType::NS).kind,
            AnswerKind::Referral
        );
        let ds = z.answer(&name("sub.example.cn."), RecordType::DS);
        assert_eq!((ds.kind, ds.authoritative), (AnswerKind::Answer, true));

        let n = z.answer(&name("www.example.cn."), RecordType::TXT);
        assert_eq!(
            (n.kind, n.rcode),
            (AnswerKind::NoData, ResponseCode::NoError)
        );
        assert_eq!(n.authorities[0].record_type(), RecordType::SOA);
        assert_eq!(
            n.authorities[0].ttl, 60,
            "negative TTL capped by SOA minimum"
        );

        let ent = z.answer(&name("deep.example.cn."), RecordType::A);
        assert_eq!(ent.kind, AnswerKind::NoData, "empty non-terminal");
        let ent = z.answer(&name("b.deep.example.cn."), RecordType::A);
        assert_eq!(ent.kind, AnswerKind::NoData, "empty non-terminal");

        let x = z.answer(&name("nope.example.cn."), RecordType::A);
        assert_eq!(
            (x.kind, x.rcode, x.authoritative),
            (AnswerKind::NxDomain, ResponseCode::NXDomain, true)
        );
        // "www" sorts right after "wwv"-like names; a sibling is not a child.
        let x = z.answer(&name("ww.example.cn."), RecordType::A);
        assert_eq!(x.kind, AnswerKind::NxDomain);

        let out = z.answer(&name("example.org."), RecordType::A);
        assert_eq!(
            (out.kind, out.rcode),
            (AnswerKind::NotInZone, ResponseCode::Refused)
        );
    }

    #[test]
    fn cname_is_followed_and_targets_get_addresses() {
        let z = zone();
        let a = z.answer(&name("alias.example.cn."), RecordType::A);
        assert_eq!(a.answers.len(), 2);
        assert_eq!(a.answers[0].record_type(), RecordType::CNAME);
        assert_eq!(a.answers[1].record_type(), RecordType::A);
        let c = z.answer(&name("alias.example.cn."), RecordType::CNAME);
        assert_eq!(c.answers.len(), 1);
        let mx = z.answer(&name("mail.example.cn."), RecordType::MX);
        assert_eq!(mx.additionals.len(), 2, "A and AAAA of the exchange");
        let ns = z.answer(&name("example.cn."), RecordType::NS);
        assert_eq!(ns.additionals.len(), 1);
    }

    #[test]
    fn synthetic_tld_is_deterministic() {
        let z = Zone::synthetic_tld("cn.", 300);
        assert_eq!(z.origin(), &name("cn."));
        assert_eq!(z.delegations().count(), 300);
        // apex + 2 apex NS hosts + 300 × (delegation + 2 NS hosts)
        assert_eq!(z.names().count(), 3 + 900);
        let again = Zone::synthetic_tld("cn.", 300);
        assert!(z.records().eq(again.records()));
        let r = z.answer(&name("www.d299.cn."), RecordType::A);
        assert_eq!(r.kind, AnswerKind::Referral);
        let glue: Vec<_> = r.additionals.iter().map(|g| g.data.clone()).collect();
        assert_eq!(
            glue,
            vec![
                RData::A(A(Ipv4Addr::new(127, 1, 1, 43))),
                RData::A(A(Ipv4Addr::new(127, 2, 1, 43)))
            ]
        );
    }

    #[test]
    fn serial_and_insert() {
        let mut z = Zone::new(name("Example.CN"), None);
        assert_eq!(z.origin(), &name("example.cn."));
        assert_eq!(z.serial(), 1);
        z.set_serial(2026_1122);
        assert_eq!(z.serial(), 2026_1122);
        let www = Record::from_rdata(
            name("WWW.example.cn."),
            60,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
        );
        z.insert(www.clone());
        z.insert(www);
        z.insert(Record::from_rdata(
            name("www.example.org."),
            60,
            RData::A(A(Ipv4Addr::LOCALHOST)),
        ));
        assert_eq!(z.len(), 2, "duplicate merged, outside record ignored");
        assert!(z.names().any(|n| n == &name("www.example.cn.")));
    }
}
