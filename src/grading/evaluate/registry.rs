//! The cells of registry services (EPP, RDAP/WHOIS), for a TLD's registry and for a registrar.

use super::{Finding, RegistryInput};
use crate::clock::UnixMillis;
use crate::grading::rules::Rules;
use crate::grading::{Level, RuleId};

/// The registry-service findings: a TLD registry's registration and query services when `tld`,
/// else a registrar's registration system.
pub(super) fn registry_findings(
    reg: RegistryInput,
    rules: &Rules,
    now: UnixMillis,
    f: &mut Vec<Finding>,
    tld: bool,
) {
    if tld {
        if reg.registration_unavailable {
            f.push(Finding {
                grade: Level::IV,
                candidate: None,
                rule: RuleId::TldRegistrationUnavailable,
                zh: "顶级域名系统的注册服务不可用".into(),
                en: "the registry's registration service (EPP) is unavailable".into(),
                onset_hint: reg.registration_unavailable_since.unwrap_or(now),
                next: Some((Level::III, rules.tld.registration_unavailable_iii)),
            });
        } else if reg.registration_degraded {
            f.push(Finding {
                grade: Level::IV,
                candidate: None,
                rule: RuleId::TldRegistrationDegraded,
                zh: "顶级域名系统注册服务性能下降".into(),
                en: "the registry's registration service (EPP) is degraded".into(),
                onset_hint: now,
                next: None,
            });
        }
        if reg.query_unavailable {
            f.push(Finding {
                grade: Level::IV,
                candidate: None,
                rule: RuleId::TldQueryUnavailable,
                zh: "顶级域名系统查询服务不可用".into(),
                en: "the registry's query service (RDAP/WHOIS) is unavailable".into(),
                onset_hint: reg.query_unavailable_since.unwrap_or(now),
                next: None,
            });
        }
    } else if reg.registration_unavailable {
        f.push(Finding {
            grade: Level::IV,
            candidate: None,
            rule: RuleId::InstitutionRegistrationUnavailable,
            zh: "注册服务机构域名注册系统服务不可用".into(),
            en: "the registrar's registration system is unavailable".into(),
            onset_hint: reg.registration_unavailable_since.unwrap_or(now),
            next: None,
        });
    }
}
