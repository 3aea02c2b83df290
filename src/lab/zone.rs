//! Authoritative data for the lab server, and how an authoritative server answers from it.

use super::LabError;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, NS, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// One zone: its origin and every record, by owner name (lowercase).
#[derive(Debug, Clone)]
pub struct Zone {
    origin: Name,
    records: BTreeMap<Name, Vec<Record>>,
}

/// What an authoritative server answers for a question.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneAnswer {
    /// RCODE.
    pub rcode: ResponseCode,
    /// AA bit.
    pub authoritative: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section (SOA for negative answers, NS for referrals).
    pub authorities: Vec<Record>,
    /// Additional section (glue).
    pub additionals: Vec<Record>,
}

impl Zone {
    /// An empty zone with a default SOA (serial 1) and no NS.
    pub fn new(origin: Name) -> Zone {
        let origin = fqdn_lower(&origin);
        let mut z = Zone {
            origin: origin.clone(),
            records: BTreeMap::new(),
        };
        let mname = Name::from_str("ns1")
            .ok()
            .and_then(|n| n.append_domain(&origin).ok())
            .unwrap_or_else(|| origin.clone());
        let rname = Name::from_str("hostmaster")
            .ok()
            .and_then(|n| n.append_domain(&origin).ok())
            .unwrap_or_else(|| origin.clone());
        z.insert(Record::from_rdata(
            origin.clone(),
            3600,
            RData::SOA(SOA::new(mname, rname, 1, 3600, 600, 86400, 300)),
        ));
        z
    }

    /// Parses RFC 1035 master-file text (via hickory's zone parser): `$ORIGIN`, `$TTL`,
    /// relative and absolute names, `@`, comments, parentheses. Errors say where.
    pub fn parse(origin: &str, text: &str) -> Result<Zone, LabError> {
        let origin = Name::from_utf8(origin)
            .map_err(|e| LabError::Zone(format!("bad origin \"{origin}\": {e}")))?;
        let (origin, sets) = Parser::new(text, None, Some(origin))
            .parse()
            .map_err(|e| LabError::Zone(e.to_string()))?;
        let mut z = Zone {
            origin: fqdn_lower(&origin),
            records: BTreeMap::new(),
        };
        for (_, set) in sets {
            for r in set.records_without_rrsigs() {
                z.insert(r.clone());
            }
        }
        if z.soa().is_none() {
            return Err(LabError::Zone(format!(
                "zone {} has no SOA record",
                z.origin
            )));
        }
        Ok(z)
    }

    /// A TLD-like zone: SOA, two apex NS, and `delegations` delegations `d{i}.<origin>`, each
    /// with NS `ns1.d{i}.<origin>` and `ns2.d{i}.<origin>` and A glue in 127.x. Deterministic.
    pub fn synthetic_tld(origin: &str, delegations: usize) -> Zone {
        let origin = Name::from_utf8(origin).unwrap_or_else(|_| Name::root());
        let mut z = Zone::new(origin.clone());
        let o = z.origin.clone();
        for ns in ["a", "b"] {
            if let Some(target) = label(ns, &o) {
                z.insert(Record::from_rdata(
                    o.clone(),
                    86400,
                    RData::NS(NS(target.clone())),
                ));
                z.insert(Record::from_rdata(
                    target,
                    86400,
                    RData::A(A(Ipv4Addr::new(127, 0, 0, 1))),
                ));
            }
        }
        for i in 0..delegations {
            let Some(child) = label(&format!("d{i}"), &o) else {
                continue;
            };
            for (k, ns) in ["ns1", "ns2"].iter().enumerate() {
                let Some(target) = label(ns, &child) else {
                    continue;
                };
                z.insert(Record::from_rdata(
                    child.clone(),
                    86400,
                    RData::NS(NS(target.clone())),
                ));
                let ip = Ipv4Addr::new(127, 1 + k as u8, ((i >> 8) & 0xff) as u8, (i & 0xff) as u8);
                z.insert(Record::from_rdata(target, 86400, RData::A(A(ip))));
            }
        }
        z
    }

    /// Adds a record (its owner is lowercased).
    pub fn insert(&mut self, mut record: Record) {
        record.name = fqdn_lower(&record.name);
        self.records
            .entry(record.name.clone())
            .or_default()
            .push(record);
    }

    /// The origin.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    fn soa(&self) -> Option<&Record> {
        self.records
            .get(&self.origin)?
            .iter()
            .find(|r| r.record_type() == RecordType::SOA)
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        match self.soa().map(|r| &r.data) {
            Some(RData::SOA(s)) => s.serial,
            _ => 0,
        }
    }

    /// Sets the SOA serial.
    pub fn set_serial(&mut self, serial: u32) {
        if let Some(rs) = self.records.get_mut(&self.origin) {
            for r in rs.iter_mut() {
                if let RData::SOA(s) = &mut r.data {
                    s.serial = serial;
                }
            }
        }
    }

    /// Every owner name.
    pub fn names(&self) -> impl Iterator<Item = &Name> {
        self.records.keys()
    }

    /// The delegation points (owners of NS below the apex).
    pub fn delegations(&self) -> impl Iterator<Item = &Name> {
        self.records
            .iter()
            .filter(|(n, rs)| {
                **n != self.origin && rs.iter().any(|r| r.record_type() == RecordType::NS)
            })
            .map(|(n, _)| n)
    }

    /// Records of `name` and `rtype` (all types for ANY).
    pub fn lookup(&self, name: &Name, rtype: RecordType) -> Vec<Record> {
        self.records
            .get(&fqdn_lower(name))
            .map(|rs| {
                rs.iter()
                    .filter(|r| rtype == RecordType::ANY || r.record_type() == rtype)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// True when `name` is at or below the origin.
    pub fn contains(&self, name: &Name) -> bool {
        self.origin.zone_of(&fqdn_lower(name))
    }

    /// Answers a question as an authoritative server for this zone would.
    pub fn answer(&self, qname: &Name, qtype: RecordType) -> ZoneAnswer {
        let qname = fqdn_lower(qname);
        let soa: Vec<Record> = self.soa().cloned().into_iter().collect();
        // A delegation at or above the name (below the apex) makes a referral; DS at the cut
        // itself is answered by the parent.
        let mut cut = Some(qname.clone());
        while let Some(n) = cut {
            if n == self.origin || !self.origin.zone_of(&n) {
                break;
            }
            let is_cut = self
                .records
                .get(&n)
                .is_some_and(|rs| rs.iter().any(|r| r.record_type() == RecordType::NS));
            if is_cut && !(n == qname && qtype == RecordType::DS) {
                let ns = self.lookup(&n, RecordType::NS);
                let mut glue = Vec::new();
                for r in &ns {
                    if let RData::NS(NS(target)) = &r.data {
                        glue.extend(self.lookup(target, RecordType::A));
                        glue.extend(self.lookup(target, RecordType::AAAA));
                    }
                }
                return ZoneAnswer {
                    rcode: ResponseCode::NoError,
                    authoritative: false,
                    answers: vec![],
                    authorities: ns,
                    additionals: glue,
                };
            }
            cut = if n.num_labels() == 0 {
                None
            } else {
                Some(n.base_name())
            };
        }
        match self.records.get(&qname) {
            Some(rs) => {
                let mut answers: Vec<Record> = rs
                    .iter()
                    .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
                    .cloned()
                    .collect();
                if answers.is_empty() && qtype != RecordType::CNAME {
                    answers = rs
                        .iter()
                        .filter(|r| r.record_type() == RecordType::CNAME)
                        .cloned()
                        .collect();
                }
                if answers.is_empty() {
                    ZoneAnswer {
                        rcode: ResponseCode::NoError,
                        authoritative: true,
                        answers,
                        authorities: soa,
                        additionals: vec![],
                    }
                } else {
                    ZoneAnswer {
                        rcode: ResponseCode::NoError,
                        authoritative: true,
                        answers,
                        authorities: vec![],
                        additionals: vec![],
                    }
                }
            }
            None => {
                let empty_non_terminal =
                    self.records.keys().any(|k| k != &qname && qname.zone_of(k));
                let rcode = if empty_non_terminal {
                    ResponseCode::NoError
                } else {
                    ResponseCode::NXDomain
                };
                ZoneAnswer {
                    rcode,
                    authoritative: true,
                    answers: vec![],
                    authorities: soa,
                    additionals: vec![],
                }
            }
        }
    }
}

fn label(l: &str, parent: &Name) -> Option<Name> {
    Name::from_ascii(l).ok()?.append_domain(parent).ok()
}

/// Lowercase, fully qualified.
pub fn fqdn_lower(n: &Name) -> Name {
    let mut n = n.to_lowercase();
    n.set_fqdn(true);
    n
}
