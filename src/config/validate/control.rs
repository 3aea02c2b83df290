//! `[[control]]`: independent control targets, which tell whether the monitor itself is cut off.

use super::Validator;
use crate::config::model::*;
use crate::config::raw::RawControl;
use hickory_proto::rr::{Name, RecordType};
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn control(&mut self, c: &Spanned<RawControl>) -> Option<Object> {
        let raw = c.get_ref();
        let name = self.nonempty(&raw.name, "control name");
        let servers = self.servers(&raw.server, &raw.name, "server");
        let mut checks: Vec<Check> = raw
            .check
            .iter()
            .filter_map(|ch| self.check(ch, Expect::Any, false, false))
            .collect();
        if raw.check.is_empty() {
            checks.push(Check {
                qname: Name::root(),
                qtype: RecordType::SOA,
                expect: Expect::Any,
                values: Vec::new(),
                transport: Transport::Udp,
                role: CheckRole::Plain,
                recursion_desired: false,
                authoritative: false,
            });
        }
        Some(Object {
            class: ObjectClass::Control,
            display_name: name.clone()?,
            name: name?,
            tier: None,
            operator: None,
            scope: None,
            licensed_by: None,
            zone: None,
            servers,
            checks,
            registry: None,
            reference: None,
            dnssec: None,
        })
    }
}
