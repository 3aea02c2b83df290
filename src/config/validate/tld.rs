//! `[[tld]]`: a TLD system, its nodes, built-in and extra checks, registry, DNSSEC, and the
//! reference zone its nodes are sampled against (`[tld.reference]`).

use super::defaults::{DEFAULT_EXPECTED_NEGATIVE, DEFAULT_REFERENCE_REFRESH, DEFAULT_SAMPLE_RATE};
use super::{authoritative, Validator};
use crate::config::duration::parse_duration;
use crate::config::model::*;
use crate::config::raw::{RawReference, RawTld};
use hickory_proto::rr::{Name, RecordType};
use std::num::NonZeroU32;
use std::time::Duration;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn tld(&mut self, t: &Spanned<RawTld>) -> Option<Object> {
        let raw = t.get_ref();
        let apex = self.tld_apex(&raw.name);
        let servers = self.servers(&raw.node, &raw.name, "node");
        let mut checks = self.tld_checks(raw, apex.as_ref());
        let registry = raw.registry.as_ref().map(|r| self.registry(r));
        let dnssec = self.dnssec(raw.dnssec, &raw.dnssec_warn_before);
        if let (Some(_), Some(a)) = (&dnssec, &apex) {
            // The zone's keys are checked like its SOA (an answer, signed).
            checks.push(authoritative(
                a.clone(),
                RecordType::DNSKEY,
                Expect::Answer,
                CheckRole::Plain,
            ));
        }
        let reference = raw.reference.as_ref().and_then(|r| self.reference(r));
        let apex = apex?;
        let name = apex.to_ascii().trim_end_matches('.').to_string();
        Some(Object {
            class: ObjectClass::Tld,
            display_name: raw.name.get_ref().trim().trim_end_matches('.').to_string(),
            name,
            tier: None,
            operator: None,
            scope: None,
            licensed_by: None,
            zone: Some(apex),
            servers,
            checks,
            registry,
            reference,
            dnssec,
        })
    }

    /// The TLD's name: one label.
    fn tld_apex(&mut self, name: &Spanned<String>) -> Option<Name> {
        let apex = self.name(name, "TLD name");
        if let Some(a) = &apex {
            if a.num_labels() != 1 {
                self.err(
                    name,
                    format!(
                        "TLD name \"{}\" must be a single label such as \"cn\" or \"中国\"",
                        name.get_ref()
                    ),
                );
            }
        }
        apex
    }

    /// The apex's SOA and NS, the expected negative, the key domains' referrals, then the
    /// extra `[[tld.check]]`s.
    fn tld_checks(&mut self, raw: &RawTld, apex: Option<&Name>) -> Vec<Check> {
        let mut checks = Vec::new();
        if let Some(a) = apex {
            for qtype in [RecordType::SOA, RecordType::NS] {
                checks.push(authoritative(
                    a.clone(),
                    qtype,
                    Expect::Answer,
                    CheckRole::Plain,
                ));
            }
        }
        if raw.expected_negative.unwrap_or(DEFAULT_EXPECTED_NEGATIVE) {
            if let Some(a) = apex {
                checks.push(authoritative(
                    a.clone(),
                    RecordType::A,
                    Expect::NxDomain,
                    CheckRole::ExpectedNegative,
                ));
            }
        }
        for k in &raw.key_domains {
            if let Some(n) = self.name(k, "key domain") {
                if let Some(a) = apex {
                    if !a.zone_of(&n) || &n == a {
                        self.err(
                            k,
                            format!("key domain \"{}\" is not below the TLD {}", k.get_ref(), a),
                        );
                        continue;
                    }
                }
                checks.push(authoritative(
                    n,
                    RecordType::NS,
                    Expect::Referral,
                    CheckRole::KeyDomain,
                ));
            }
        }
        for c in &raw.check {
            if let Some(ch) = self.check(c, Expect::Referral, false, true) {
                checks.push(ch);
            }
        }
        checks
    }

    /// `[tld.reference]`: its source, then the sampling settings.
    fn reference(&mut self, whole: &Spanned<RawReference>) -> Option<Reference> {
        let r = whole.get_ref();
        let source = self.reference_source(whole)?;
        let rate = match &r.sample_rate {
            None => NonZeroU32::new(DEFAULT_SAMPLE_RATE).unwrap_or(NonZeroU32::MIN),
            Some(v) => match NonZeroU32::new(*v.get_ref()) {
                Some(n) if n.get() <= 100_000 => n,
                _ => {
                    self.err(
                        v,
                        "sample_rate must be between 1 and 100000 names per second",
                    );
                    NonZeroU32::MIN
                }
            },
        };
        let max_in_flight = match &r.max_in_flight {
            None => SAMPLE_MAX_IN_FLIGHT,
            Some(v) if (1..=4096).contains(v.get_ref()) => *v.get_ref() as usize,
            Some(v) => {
                self.err(
                    v,
                    "max_in_flight must be between 1 and 4096 samples per node address",
                );
                1
            }
        };
        Some(Reference {
            source,
            sample_rate: rate,
            max_in_flight,
        })
    }

    /// Where the reference comes from: exactly one of `zone_file` and `axfr`.
    fn reference_source(&mut self, whole: &Spanned<RawReference>) -> Option<ReferenceSource> {
        let r = whole.get_ref();
        match (&r.zone_file, &r.axfr) {
            (Some(_), Some(a)) => {
                self.err(a, "give either zone_file or axfr, not both");
                None
            }
            (None, None) => {
                self.err(whole, "[tld.reference] needs zone_file or axfr");
                None
            }
            (Some(zf), None) => {
                if let Some(rf) = &r.refresh {
                    self.err(rf, "refresh applies to axfr only");
                }
                if let Some(v) = &r.max_transfer_mib {
                    self.err(v, "max_transfer_mib applies to axfr only");
                }
                if let Some(v) = &r.max_transfer_records {
                    self.err(v, "max_transfer_records applies to axfr only");
                }
                if let Some(v) = &r.transfer_timeout {
                    self.err(v, "transfer_timeout applies to axfr only");
                }
                let file = zf.get_ref().trim();
                if file.is_empty() {
                    self.err(zf, "zone_file is empty");
                    return None;
                }
                let path = self.base_dir.join(file);
                if !path.is_file() {
                    self.err(
                        zf,
                        format!("zone_file \"{}\" is not a readable file", path.display()),
                    );
                }
                Some(ReferenceSource::ZoneFile(path))
            }
            (None, Some(a)) => Some(self.axfr_source(a, r)),
        }
    }

    /// A zone transfer from the primary `a`, polled every `refresh`, within the limits of `r`.
    fn axfr_source(&mut self, a: &Spanned<String>, r: &RawReference) -> ReferenceSource {
        let refresh = &r.refresh;
        let t = a.get_ref().trim();
        let ok = t
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !ok {
            self.err(
                a,
                format!("axfr must be \"host:port\" of the primary, not \"{t}\""),
            );
        }
        let refresh = match refresh {
            None => DEFAULT_REFERENCE_REFRESH,
            Some(rf) => match parse_duration(rf.get_ref()) {
                Ok(d) if d >= Duration::from_secs(1) => d,
                Ok(_) => {
                    self.err(rf, "refresh must be at least 1s");
                    Duration::from_secs(1)
                }
                Err(m) => {
                    self.err(rf, m);
                    DEFAULT_REFERENCE_REFRESH
                }
            },
        };
        ReferenceSource::Axfr {
            primary: t.to_string(),
            refresh,
            limits: self.transfer_limits(r),
        }
    }

    /// `max_transfer_mib` (1 MiB to 1 TiB), `max_transfer_records` (at least 1) and
    /// `transfer_timeout` (1 s to 24 h), each defaulting to [`TransferLimits::DEFAULT`].
    fn transfer_limits(&mut self, r: &RawReference) -> TransferLimits {
        let mut l = TransferLimits::DEFAULT;
        if let Some(v) = &r.max_transfer_mib {
            match *v.get_ref() {
                mib @ 1..=1_048_576 => l.max_bytes = mib << 20,
                _ => self.err(v, "max_transfer_mib must be between 1 and 1048576 (1 TiB)"),
            }
        }
        if let Some(v) = &r.max_transfer_records {
            match *v.get_ref() {
                0 => self.err(v, "max_transfer_records must be at least 1"),
                n => l.max_records = n,
            }
        }
        if let Some(v) = &r.transfer_timeout {
            match parse_duration(v.get_ref()) {
                Ok(d) if (Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&d) => {
                    l.timeout = d
                }
                Ok(_) => self.err(v, "transfer_timeout must be between 1s and 24h"),
                Err(m) => self.err(v, m),
            }
        }
        l
    }
}
