//! `[[institution]]`: a domain service institution, its servers, checks and registration system.

use super::Validator;
use crate::config::model::*;
use crate::config::raw::RawInstitution;
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn institution(&mut self, i: &Spanned<RawInstitution>) -> Option<Object> {
        let raw = i.get_ref();
        let name = self.nonempty(&raw.name, "institution name");
        let tier = self.tier(&raw.tier);
        let servers = self.servers(&raw.server, &raw.name, "server");
        if raw.check.is_empty() {
            self.err(&raw.name, format!("institution \"{}\" has no [[institution.check]]: add test names it serves, with expected values", raw.name.get_ref()));
        }
        let checks: Vec<Check> = raw
            .check
            .iter()
            .filter_map(|c| self.check(c, Expect::Answer, false, true))
            .collect();
        let registry = raw.registration.as_ref().map(|r| self.registry(r));
        let dnssec = self.dnssec(raw.dnssec, &raw.dnssec_warn_before);
        Some(Object {
            class: ObjectClass::Institution,
            display_name: name.clone()?,
            name: name?,
            tier: Some(tier?),
            operator: None,
            scope: None,
            licensed_by: None,
            zone: None,
            servers,
            checks,
            registry,
            reference: None,
            dnssec,
        })
    }
}
