//! `[[recursive]]`: a telecom operator's recursive resolver system, its scope (provinces or a
//! local network) and its cached-name and cache-busting checks.

use super::{normalize_province, Validator};
use crate::config::model::*;
use crate::config::raw::RawRecursive;
use hickory_proto::rr::{Name, RecordType};
use toml::Spanned;

impl Validator<'_> {
    pub(super) fn recursive(&mut self, r: &Spanned<RawRecursive>) -> Option<Object> {
        let raw = r.get_ref();
        let name = self.nonempty(&raw.name, "recursive system name");
        let operator = self.nonempty(&raw.operator, "operator");
        let scope = self.scope(raw);
        let servers = self.servers(&raw.server, &raw.name, "server");
        let checks = self.recursive_checks(raw);
        if raw.cached_names.is_empty() && raw.canary_zone.is_none() {
            self.err(
                &raw.name,
                "a recursive system needs cached_names, a canary_zone, or both",
            );
        }
        Some(Object {
            class: ObjectClass::Recursive,
            display_name: name.clone()?,
            name: name?,
            tier: None,
            operator: Some(operator?),
            scope: Some(scope?),
            licensed_by: None,
            zone: None,
            servers,
            checks,
            registry: None,
            reference: None,
            dnssec: None,
        })
    }

    /// `scope` with the key it needs: `provinces`, `province` or `local_network`.
    fn scope(&mut self, raw: &RawRecursive) -> Option<Scope> {
        match raw.scope.get_ref().as_str() {
            "multi-province" => Some(self.multi_province(raw)),
            "province" => match &raw.province {
                None => {
                    self.err(
                        &raw.scope,
                        "scope \"province\" needs province = \"…\" (for example \"广东\")",
                    );
                    None
                }
                Some(p) => match normalize_province(p.get_ref()) {
                    Some(n) => Some(Scope::Province(n.to_string())),
                    None => {
                        self.err(p, format!("\"{}\" is not a province", p.get_ref()));
                        None
                    }
                },
            },
            "local-network" => match &raw.local_network {
                None => {
                    self.err(
                        &raw.scope,
                        "scope \"local-network\" needs local_network = \"…\"",
                    );
                    None
                }
                Some(l) => self.nonempty(l, "local_network").map(Scope::LocalNetwork),
            },
            other => {
                self.err(&raw.scope, format!("scope must be \"multi-province\", \"province\" or \"local-network\", not \"{other}\""));
                None
            }
        }
    }

    /// A multi-province scope: at least two provinces.
    fn multi_province(&mut self, raw: &RawRecursive) -> Scope {
        let mut ps = Vec::new();
        for p in &raw.provinces {
            match normalize_province(p.get_ref()) {
                Some(n) => ps.push(n.to_string()),
                None => self.err(p, format!("\"{}\" is not a province", p.get_ref())),
            }
        }
        if raw.provinces.len() < 2 {
            self.err(
                &raw.scope,
                "a multi-province system lists at least two provinces = [\"…\", \"…\"]",
            );
        }
        Scope::MultiProvince(ps)
    }

    /// An A query for each cached name, and one for a random label under the canary zone.
    fn recursive_checks(&mut self, raw: &RawRecursive) -> Vec<Check> {
        let mut checks = Vec::new();
        for c in &raw.cached_names {
            if let Some(n) = self.name(c, "cached name") {
                checks.push(recursive_check(n, Expect::Answer, CheckRole::Cached));
            }
        }
        if let Some(z) = &raw.canary_zone {
            if let Some(n) = self.name(z, "canary_zone") {
                checks.push(recursive_check(n, Expect::Any, CheckRole::CacheBusting));
            }
        }
        checks
    }
}

/// A built-in check of a resolver: an A query over UDP that asks for recursion and takes a
/// non-authoritative reply.
fn recursive_check(qname: Name, expect: Expect, role: CheckRole) -> Check {
    Check {
        qname,
        qtype: RecordType::A,
        expect,
        values: Vec::new(),
        transport: Transport::Udp,
        role,
        recursion_desired: true,
        authoritative: false,
    }
}
