//! `[[website]]`: a website's authoritative DNS, its licensor and default checks.

use super::{authoritative, normalize_province, Validator};
use crate::config::model::*;
use crate::config::raw::RawWebsite;
use hickory_proto::rr::RecordType;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn website(&mut self, w: &Spanned<RawWebsite>) -> Option<Object> {
        let raw = w.get_ref();
        let name = self.nonempty(&raw.name, "website name");
        let tier = self.tier(&raw.tier);
        let licensed_by = self.licensed_by(&raw.licensed_by);
        let domain = self.name(&raw.domain, "domain");
        let servers = self.servers(&raw.server, &raw.name, "server");
        let mut checks: Vec<Check> = raw
            .check
            .iter()
            .filter_map(|c| self.check(c, Expect::Answer, false, true))
            .collect();
        if raw.check.is_empty() {
            if let Some(d) = &domain {
                for qtype in [RecordType::SOA, RecordType::NS] {
                    checks.push(authoritative(
                        d.clone(),
                        qtype,
                        Expect::Answer,
                        CheckRole::Plain,
                    ));
                }
            }
        }
        Some(Object {
            class: ObjectClass::Website,
            display_name: name.clone()?,
            name: name?,
            tier: Some(tier?),
            operator: None,
            scope: None,
            licensed_by: Some(licensed_by?),
            zone: Some(domain?),
            servers,
            checks,
            registry: None,
            reference: None,
            dnssec: None,
        })
    }

    /// `licensed_by`: MIIT, or the province whose 通信管理局 issued the licence.
    fn licensed_by(&mut self, written: &Spanned<String>) -> Option<Licensor> {
        let lic = written.get_ref().trim();
        if lic.eq_ignore_ascii_case("MIIT") || lic == "工业和信息化部" || lic == "工信部"
        {
            Some(Licensor::Miit)
        } else if let Some(p) = normalize_province(lic) {
            Some(Licensor::Province(p.to_string()))
        } else {
            self.err(
                written,
                format!(
                    "licensed_by must be \"MIIT\" or a province such as \"广东\", not \"{lic}\""
                ),
            );
            None
        }
    }
}
