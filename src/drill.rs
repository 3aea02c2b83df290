//! Drills (plan section 6.3, 应急演练): synthetic assessments that run the whole chain —
//! incident, ledger, alerts, status — without a real outage.
//!
//! A drill names a scenario (one per class and grade the matrix defines) and a configured
//! object; its assessment carries the object's real authority routing (so a provincial drill
//! reaches the provincial hook), and the incident it opens is marked `drill`: kept apart in the
//! ledger (an object can have a real and a drill incident open at once), delivered with
//! `"drill": true`, hidden from default lists and counts. A drill ends by hand
//! (`dnsgrade drill --end ID`), which resolves its incident.

use crate::clock::UnixMillis;
use crate::config::{Config, Object, ObjectClass};
use crate::grading::{authority, object_key, Assessment, Level, Rules};
use serde::Serialize;

/// One drill scenario.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Scenario {
    /// Its name, e.g. `tld-II`.
    pub name: &'static str,
    /// The object class it drills.
    pub class: ObjectClass,
    /// The grade it raises.
    pub grade: Level,
    /// A candidate grade awaiting confirmation, as in the real cell.
    pub candidate: Option<Level>,
    /// What it simulates, in Chinese.
    pub zh: &'static str,
    /// What it simulates, in English.
    pub en: &'static str,
}

/// Every scenario: one per grade and class of the matrix (I and II do not exist for websites,
/// I not for resolvers).
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "tld-I",
        class: ObjectClass::Tld,
        grade: Level::I,
        candidate: None,
        zh: "顶级域名系统停止解析服务",
        en: "the TLD system stopped resolving",
    },
    Scenario {
        name: "tld-II",
        class: ObjectClass::Tld,
        grade: Level::II,
        candidate: None,
        zh: "半数及以上顶级节点解析成功率低于50%",
        en: "half or more of the TLD nodes succeed below 50%",
    },
    Scenario {
        name: "tld-III",
        class: ObjectClass::Tld,
        grade: Level::III,
        candidate: None,
        zh: "半数以下顶级节点解析成功率低于50%",
        en: "fewer than half of the TLD nodes succeed below 50%",
    },
    Scenario {
        name: "tld-IV",
        class: ObjectClass::Tld,
        grade: Level::IV,
        candidate: None,
        zh: "顶级域名系统注册服务性能下降",
        en: "the registry's registration service is degraded",
    },
    Scenario {
        name: "institution-candidate-I",
        class: ObjectClass::Institution,
        grade: Level::II,
        candidate: Some(Level::I),
        zh: "一级域名服务机构域名解析系统停止解析服务（待确认社会影响）",
        en: "a tier-1 institution stopped resolving (impact to be confirmed)",
    },
    Scenario {
        name: "institution-I",
        class: ObjectClass::Institution,
        grade: Level::I,
        candidate: None,
        zh: "一级域名服务机构停止解析服务，造成特别重大社会影响",
        en: "a tier-1 institution stopped resolving with especially major social impact",
    },
    Scenario {
        name: "institution-II",
        class: ObjectClass::Institution,
        grade: Level::II,
        candidate: None,
        zh: "一级域名服务机构解析成功率低于50%",
        en: "a tier-1 institution succeeds below 50%",
    },
    Scenario {
        name: "institution-III",
        class: ObjectClass::Institution,
        grade: Level::III,
        candidate: None,
        zh: "一级域名服务机构解析成功率低于80%",
        en: "a tier-1 institution succeeds below 80%",
    },
    Scenario {
        name: "institution-IV",
        class: ObjectClass::Institution,
        grade: Level::IV,
        candidate: None,
        zh: "注册服务机构域名注册系统服务不可用",
        en: "a registrar's registration system is unavailable",
    },
    Scenario {
        name: "website-III",
        class: ObjectClass::Website,
        grade: Level::III,
        candidate: None,
        zh: "一级网站的权威域名解析系统停止解析服务，造成较大社会影响",
        en: "a tier-1 website's authoritative DNS stopped with relatively major social impact",
    },
    Scenario {
        name: "website-candidate-III",
        class: ObjectClass::Website,
        grade: Level::IV,
        candidate: Some(Level::III),
        zh: "一级网站的权威域名解析系统停止解析服务（待确认社会影响）",
        en: "a tier-1 website's authoritative DNS stopped (impact to be confirmed)",
    },
    Scenario {
        name: "website-IV",
        class: ObjectClass::Website,
        grade: Level::IV,
        candidate: None,
        zh: "网站的权威域名解析系统解析服务故障",
        en: "a website's authoritative DNS is failing",
    },
    Scenario {
        name: "recursive-II",
        class: ObjectClass::Recursive,
        grade: Level::II,
        candidate: None,
        zh: "为多个省份提供服务的递归域名解析系统停止解析服务1小时以上",
        en: "a multi-province resolver system stopped for more than 1 h",
    },
    Scenario {
        name: "recursive-III",
        class: ObjectClass::Recursive,
        grade: Level::III,
        candidate: None,
        zh: "为一个省提供服务的递归域名解析系统停止解析服务1小时以上",
        en: "a provincial resolver system stopped for more than 1 h",
    },
    Scenario {
        name: "recursive-IV",
        class: ObjectClass::Recursive,
        grade: Level::IV,
        candidate: None,
        zh: "递归域名解析系统停止解析服务，影响限于一个本地网",
        en: "a resolver system limited to one local network stopped",
    },
];

/// Why a drill cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    /// No such scenario.
    #[error("unknown drill scenario \"{0}\"; see GET /api/v1/drills for the list")]
    UnknownScenario(String),
    /// The object is not configured, or not of the scenario's class.
    #[error("{0}")]
    Object(String),
}

/// The scenario called `name`.
pub fn scenario(name: &str) -> Result<&'static Scenario, DrillError> {
    SCENARIOS
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| DrillError::UnknownScenario(name.to_string()))
}

/// The configured object a drill runs on: the one named (`class/name`), or the first of the
/// scenario's class.
pub fn target<'c>(
    config: &'c Config,
    s: &Scenario,
    object: Option<&str>,
) -> Result<&'c Object, DrillError> {
    match object {
        Some(key) => config
            .objects
            .iter()
            .find(|o| object_key(o) == key && o.class == s.class)
            .ok_or_else(|| {
                DrillError::Object(format!(
                    "\"{key}\" is not a configured {} object",
                    s.class.as_str()
                ))
            }),
        None => config.objects_of(s.class).next().ok_or_else(|| {
            DrillError::Object(format!(
                "no {} object is configured to drill on",
                s.class.as_str()
            ))
        }),
    }
}

/// The synthetic assessment of a drill.
pub fn assessment(s: &Scenario, object: &Object, rules: &Rules, now: UnixMillis) -> Assessment {
    Assessment {
        object: object_key(object),
        grade: Some(s.grade),
        candidate: s.candidate,
        rule: Some(format!("drill.{}", s.name)),
        reasons_zh: vec![format!("【演练】{}", s.zh)],
        reasons_en: vec![format!("[DRILL] {}", s.en)],
        evidence: Vec::new(),
        authority: Some(authority(object, s.grade, rules)),
        onset: Some(now),
        next_escalation: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_scenario_per_cell_of_the_matrix() {
        let has = |c: ObjectClass, l: Level| {
            SCENARIOS
                .iter()
                .any(|s| s.class == c && s.grade == l && s.candidate.is_none())
        };
        for l in Level::ALL {
            assert!(has(ObjectClass::Tld, l), "tld {l:?}");
            assert!(has(ObjectClass::Institution, l), "institution {l:?}");
        }
        assert!(has(ObjectClass::Website, Level::III) && has(ObjectClass::Website, Level::IV));
        for l in [Level::II, Level::III, Level::IV] {
            assert!(has(ObjectClass::Recursive, l), "recursive {l:?}");
        }
        // The two cells that wait for a person's confirmation have their candidate drill.
        let cand = |c: ObjectClass, l: Level, cl: Level| {
            SCENARIOS
                .iter()
                .any(|s| s.class == c && s.grade == l && s.candidate == Some(cl))
        };
        assert!(cand(ObjectClass::Institution, Level::II, Level::I));
        assert!(cand(ObjectClass::Website, Level::IV, Level::III));
        assert!(scenario("TLD-ii").is_ok());
        assert!(scenario("nope").is_err());
    }
}
