//! `rules/miit-2011.toml`: the matrix's numbers as data.
//!
//! The grading code knows the predicate kinds (bad node, stopped, data error above a ratio,
//! duration above a span); this file knows every number. A malformed or inconsistent rules file
//! is refused at start with file, line and column.

use super::Level;
use crate::config::error::Locator;
use crate::config::{ConfigError, ConfigErrors, HumanDuration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// The rules shipped with dnsgrade (the 2011 plan), compiled in so the daemon always has them.
pub const MIIT_2011: &str = include_str!("../../rules/miit-2011.toml");

/// Measurement parameters shared by every cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// Sliding window.
    pub window: Duration,
    /// Evaluation tick.
    pub tick: Duration,
    /// Fewer probes than this in the window: the server is unknown, never bad.
    pub min_samples: u64,
    /// Confidence of the Wilson intervals.
    pub confidence: f64,
    /// The z value for `confidence` (two-sided).
    pub z: f64,
    /// "解析响应时间高于5秒".
    pub latency_threshold: Duration,
    /// The latency quantile compared with the threshold.
    pub latency_quantile: f64,
    /// Stop detection span.
    pub stop_window: Duration,
    /// Attempts needed within the stop window.
    pub stop_min_probes: u64,
    /// A condition clears after being false this long.
    pub clear_after: Duration,
}

/// 顶级域名系统 numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct TldRules {
    /// A node is bad when its success upper bound is below this.
    pub bad_node_success_below: f64,
    /// Bad nodes ≥ this share of configured nodes → II.
    pub bad_nodes_share_ii: f64,
    /// Any node's data error ratio (lower bound) above this → II.
    pub data_error_above_ii: f64,
    /// Any node's data error ratio (lower bound) above this → III.
    pub data_error_above_iii: f64,
    /// Key-domain data errors in the window at or above this → II.
    pub key_domain_errors_ii: u64,
    /// Registration service unavailable longer than this → III.
    pub registration_unavailable_iii: Duration,
}

/// 域名服务机构 numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct InstitutionRules {
    /// Tier-1 system success upper bound below this → II.
    pub tier1_success_below_ii: f64,
    /// Tier-1 system success upper bound below this → III.
    pub tier1_success_below_iii: f64,
    /// Tier-1 data error lower bound above this → II.
    pub tier1_data_error_above_ii: f64,
    /// Tier-1 data error lower bound above this → III.
    pub tier1_data_error_above_iii: f64,
    /// Pool success over every address of the institution (else judge the worst address).
    pub pooled: bool,
}

/// 互联网站 numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct WebsiteRules {
    /// A server is bad when its success upper bound is below this.
    pub bad_node_success_below: f64,
    /// Data error lower bound above this is "failing" (IV).
    pub data_error_above_iv: f64,
}

/// 电信运营企业的递归 numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct RecursiveRules {
    /// Stopped longer than this → II (multi-province) or III (province).
    pub stopped_longer_than: Duration,
}

/// Names of the authorities of plan section 5.1.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorityNames {
    /// 互联网应急办.
    pub emergency_office_zh: String,
    /// Its English name.
    pub emergency_office_en: String,
    /// The provincial administrations (`[authority.provinces]`), by the province's short name
    /// (one of [`crate::config::PROVINCES`], each exactly once).
    pub provinces: BTreeMap<String, ProvincialName>,
    /// 涉事单位自行处置.
    pub unit_zh: String,
    /// The unit itself.
    pub unit_en: String,
    /// CNCERT, Chinese.
    pub cncert_zh: String,
    /// CNCERT, English.
    pub cncert_en: String,
    /// CNCERT is notified for this grade and above.
    pub notify_cncert_from: Level,
}

/// The official names of one provincial communications administration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvincialName {
    /// "广东省通信管理局".
    pub zh: String,
    /// "Guangdong Communications Administration".
    pub en: String,
}

impl AuthorityNames {
    /// The Chinese and English names of the administration of `province` (a short name, as the
    /// config normalises it: "广东"). A province missing from the table cannot pass validation;
    /// should one be asked for anyway, the name is made from the short name.
    pub fn provincial(&self, province: &str) -> (String, String) {
        match self.provinces.get(province) {
            Some(n) => (n.zh.clone(), n.en.clone()),
            None => (
                format!("{province}通信管理局"),
                format!("{province} Communications Administration"),
            ),
        }
    }
}

impl AuthorityNames {
    /// The official Chinese and English names of an authority the config names by its
    /// normalised name ([`crate::config::normalize_authority`]: a contact's authority, a sink
    /// filter): "广东通信管理局" → 广东省通信管理局, Guangdong Communications Administration;
    /// 互联网应急办 → the emergency office's names. Any other name is returned as it is.
    pub fn official(&self, normalised: &str) -> (String, String) {
        if normalised == crate::config::EMERGENCY_OFFICE {
            return (
                self.emergency_office_zh.clone(),
                self.emergency_office_en.clone(),
            );
        }
        match crate::config::authority_province(normalised) {
            Some(p) => self.provincial(p),
            None => (normalised.to_string(), normalised.to_string()),
        }
    }
}

/// The whole rules file, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Shared parameters.
    pub measure: Measure,
    /// TLD cells.
    pub tld: TldRules,
    /// Institution cells.
    pub institution: InstitutionRules,
    /// Website cells.
    pub website: WebsiteRules,
    /// Recursive cells.
    pub recursive: RecursiveRules,
    /// Authority names.
    pub authority: AuthorityNames,
    /// Service levels of registry services (EPP, RDAP, WHOIS): when a service is degraded or
    /// unavailable. Defaults follow ICANN's registry SLRs.
    pub registry: crate::probe::registry::RegistrySlr,
}

impl Rules {
    /// The shipped rules.
    pub fn miit_2011() -> Rules {
        // The shipped file is tested; failing here would be a build defect, not user input.
        Rules::parse(Path::new("rules/miit-2011.toml"), MIIT_2011).expect("shipped rules are valid")
    }

    /// Reads and validates a rules file.
    pub fn load(path: &Path) -> Result<Rules, crate::config::LoadError> {
        let text = crate::config::read_text(path)?;
        Ok(Rules::parse(path, &text)?)
    }

    /// Validates rules text; `path` is used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Rules, ConfigErrors> {
        let loc = Locator::new(path, text);
        let raw: RawRules = toml::from_str(text).map_err(|e| ConfigErrors {
            errors: vec![loc.error(
                e.span().map(|s| s.start).unwrap_or(0),
                e.message().trim().replace('\n', " "),
            )],
        })?;
        let mut c = Checker {
            loc,
            errors: Vec::new(),
        };
        // The errors are reported in file order; errors at the same place (offset 0: the
        // key-domain threshold, then the set of grades) keep the order of these calls.
        let measure = c.measure(&raw.measure);
        let tld = c.tld(&raw.tld);
        let institution = c.institution(&raw.institution);
        let website = c.website(&raw.website);
        c.grades(&raw.grade);
        let authority = c.authority(raw.authority);
        let registry = c.registry(raw.registry.as_ref());
        let mut errors = c.errors;
        if !errors.is_empty() {
            errors.sort_by_key(|e| (e.line, e.column));
            return Err(ConfigErrors { errors });
        }
        Ok(Rules {
            measure,
            tld,
            institution,
            website,
            recursive: RecursiveRules {
                stopped_longer_than: raw.recursive.stopped_longer_than.0,
            },
            authority,
            registry,
        })
    }
}

/// Collects every error of a rules file, located in its text.
struct Checker<'a> {
    loc: Locator<'a>,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    /// A ratio must lie strictly between 0 and 1.
    fn ratio(&mut self, v: &Spanned<f64>, what: &str) -> f64 {
        let x = *v.get_ref();
        if !(x > 0.0 && x < 1.0) {
            self.errors.push(self.loc.error(
                v.span().start,
                format!("{what} must be a ratio between 0 and 1 (exclusive), not {x}"),
            ));
        }
        x
    }

    /// An error `msg` at byte `at` unless `ok`.
    fn check(&mut self, ok: bool, at: usize, msg: &str) {
        if !ok {
            self.errors.push(self.loc.error(at, msg));
        }
    }

    /// `[measure]`: ratios, at least one sample, and a stop window no longer than the window.
    fn measure(&mut self, m: &RawMeasure) -> Measure {
        let confidence = self.ratio(&m.confidence, "confidence");
        let latency_quantile = self.ratio(&m.latency_quantile, "latency_quantile");
        self.check(
            m.min_samples.get_ref() >= &1,
            m.min_samples.span().start,
            "min_samples must be at least 1",
        );
        self.check(
            m.stop_window.get_ref().0 <= m.window.0,
            m.stop_window.span().start,
            "stop_window must not be longer than the window",
        );
        // Fewer than three failed probes is too little to call a stop (docs/measurement.md,
        // "Why five probes may call a stop").
        self.check(
            *m.stop_min_probes.get_ref() >= 3,
            m.stop_min_probes.span().start,
            "stop_min_probes must be at least 3",
        );
        Measure {
            window: m.window.0,
            tick: m.tick.0,
            min_samples: *m.min_samples.get_ref(),
            confidence,
            z: z_for(confidence),
            latency_threshold: m.latency_threshold.0,
            latency_quantile,
            stop_window: m.stop_window.get_ref().0,
            stop_min_probes: *m.stop_min_probes.get_ref(),
            clear_after: m.clear_after.0,
        }
    }

    /// `[tld]`: ratios, the level-III data error threshold below level II's, and at least one
    /// key-domain error.
    fn tld(&mut self, t: &RawTld) -> TldRules {
        let tld = TldRules {
            bad_node_success_below: self.ratio(&t.bad_node_success_below, "bad_node_success_below"),
            bad_nodes_share_ii: self.ratio(&t.bad_nodes_share_ii, "bad_nodes_share_ii"),
            data_error_above_ii: self.ratio(&t.data_error_above_ii, "data_error_above_ii"),
            data_error_above_iii: self.ratio(&t.data_error_above_iii, "data_error_above_iii"),
            key_domain_errors_ii: t.key_domain_errors_ii,
            registration_unavailable_iii: t.registration_unavailable_iii.0,
        };
        self.check(
            tld.data_error_above_iii < tld.data_error_above_ii,
            t.data_error_above_iii.span().start,
            "data_error_above_iii must be below data_error_above_ii (level III is the lower grade)",
        );
        self.check(
            t.key_domain_errors_ii >= 1,
            0,
            "key_domain_errors_ii must be at least 1",
        );
        tld
    }

    /// `[institution]`: ratios, with the level-II success and level-III data error thresholds
    /// below the other level's.
    fn institution(&mut self, i: &RawInstitution) -> InstitutionRules {
        let institution = InstitutionRules {
            tier1_success_below_ii: self.ratio(&i.tier1_success_below_ii, "tier1_success_below_ii"),
            tier1_success_below_iii: self
                .ratio(&i.tier1_success_below_iii, "tier1_success_below_iii"),
            tier1_data_error_above_ii: self
                .ratio(&i.tier1_data_error_above_ii, "tier1_data_error_above_ii"),
            tier1_data_error_above_iii: self
                .ratio(&i.tier1_data_error_above_iii, "tier1_data_error_above_iii"),
            pooled: i.pooled,
        };
        self.check(
            institution.tier1_success_below_ii < institution.tier1_success_below_iii,
            i.tier1_success_below_ii.span().start,
            "tier1_success_below_ii must be below tier1_success_below_iii (level II is the worse condition)",
        );
        self.check(
            institution.tier1_data_error_above_iii < institution.tier1_data_error_above_ii,
            i.tier1_data_error_above_iii.span().start,
            "tier1_data_error_above_iii must be below tier1_data_error_above_ii",
        );
        institution
    }

    /// `[website]`: ratios.
    fn website(&mut self, w: &RawWebsite) -> WebsiteRules {
        WebsiteRules {
            bad_node_success_below: self.ratio(&w.bad_node_success_below, "bad_node_success_below"),
            data_error_above_iv: self.ratio(&w.data_error_above_iv, "data_error_above_iv"),
        }
    }

    /// `[[grade]]`: each level I, II, III and IV defined exactly once.
    fn grades(&mut self, grades: &[Spanned<RawGrade>]) {
        let mut seen = Vec::new();
        for g in grades {
            if let Some(l) = self.grade(g) {
                seen.push(l);
            }
        }
        if seen.len() != 4 || Level::ALL.iter().any(|l| !seen.contains(l)) {
            self.errors.push(self.loc.error(
                0,
                "the rules must define each grade I, II, III and IV exactly once in [[grade]]",
            ));
        }
    }

    /// One `[[grade]]`: a known level, named and coloured as the plan names it; its level.
    fn grade(&mut self, g: &Spanned<RawGrade>) -> Option<Level> {
        let gr = g.get_ref();
        let Some(l) = Level::from_roman(&gr.level) else {
            self.errors.push(self.loc.error(
                g.span().start,
                format!("unknown grade level \"{}\"", gr.level),
            ));
            return None;
        };
        if gr.zh != l.zh() {
            self.errors.push(self.loc.error(
                g.span().start,
                format!(
                    "level {} is {} in the plan, not {}",
                    l.roman(),
                    l.zh(),
                    gr.zh
                ),
            ));
        }
        if gr.en != l.en() || gr.colour != l.colour() {
            self.errors.push(self.loc.error(
                g.span().start,
                format!(
                    "level {} is \"{}\" ({}), not \"{}\" ({})",
                    l.roman(),
                    l.en(),
                    l.colour(),
                    gr.en,
                    gr.colour
                ),
            ));
        }
        Some(l)
    }

    /// `[authority]`: a known level for CNCERT's notification, and the provincial table.
    fn authority(&mut self, a: RawAuthority) -> AuthorityNames {
        let notify_cncert_from = match Level::from_roman(a.notify_cncert_from.get_ref()) {
            Some(l) => l,
            None => {
                self.errors.push(self.loc.error(
                    a.notify_cncert_from.span().start,
                    "notify_cncert_from must be \"I\", \"II\", \"III\" or \"IV\"",
                ));
                Level::III
            }
        };
        let provinces = self.provinces(a.provinces);
        AuthorityNames {
            emergency_office_zh: a.emergency_office_zh,
            emergency_office_en: a.emergency_office_en,
            provinces,
            unit_zh: a.unit_zh,
            unit_en: a.unit_en,
            cncert_zh: a.cncert_zh,
            cncert_en: a.cncert_en,
            notify_cncert_from,
        }
    }

    /// `[authority.provinces]`: exactly the 31 provinces of [`crate::config::PROVINCES`], each
    /// with a Chinese name that names its own province and ends in 通信管理局, and an English
    /// name.
    fn provinces(
        &mut self,
        table: Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    ) -> BTreeMap<String, ProvincialName> {
        let at = table.span().start;
        let mut out = BTreeMap::new();
        let mut seen = Vec::new();
        for (key, name) in table.into_inner() {
            let k = key.get_ref().as_str();
            if !crate::config::PROVINCES.contains(&k) {
                let msg = format!("\"{k}\" is not one of the 31 province-level divisions (write the short name, e.g. \"广东\")");
                self.errors.push(self.loc.error(key.span().start, msg));
                continue;
            }
            seen.push(k.to_string());
            let at = name.span().start;
            let n = match name.into_inner().try_into::<ProvincialName>() {
                Ok(n) => n,
                Err(e) => {
                    let msg = format!("the administration of {k}: {}", e.message().trim());
                    self.errors.push(self.loc.error(at, msg));
                    continue;
                }
            };
            if !(n.zh.starts_with(k) && n.zh.ends_with("通信管理局")) || n.en.trim().is_empty()
            {
                let msg = format!("the administration of {k} must be named \"{k}…通信管理局\" with an English name, not \"{}\" / \"{}\"", n.zh, n.en);
                self.errors.push(self.loc.error(at, msg));
            }
            out.insert(k.to_string(), n);
        }
        let missing: Vec<&str> = crate::config::PROVINCES
            .iter()
            .copied()
            .filter(|p| !seen.iter().any(|s| s == p))
            .collect();
        if !missing.is_empty() {
            let msg = format!(
                "[authority.provinces] must name every province's administration; missing: {}",
                missing.join(", ")
            );
            self.errors.push(self.loc.error(at, msg));
        }
        out
    }

    /// `[registry]`: each given field replaces ICANN's default, and the whole must be a valid
    /// service level.
    fn registry(
        &mut self,
        raw: Option<&Spanned<RawRegistrySlr>>,
    ) -> crate::probe::registry::RegistrySlr {
        let d = crate::probe::registry::RegistrySlr::default();
        let Some(r) = raw else {
            return d;
        };
        let g = r.get_ref();
        let slr = crate::probe::registry::RegistrySlr {
            epp_rtt_limit: g.epp_rtt_limit.as_ref().map_or(d.epp_rtt_limit, |v| v.0),
            rdap_rtt_limit: g.rdap_rtt_limit.as_ref().map_or(d.rdap_rtt_limit, |v| v.0),
            whois_rtt_limit: g
                .whois_rtt_limit
                .as_ref()
                .map_or(d.whois_rtt_limit, |v| v.0),
            rtt_quantile: g.rtt_quantile.unwrap_or(d.rtt_quantile),
            window: g.window.as_ref().map_or(d.window, |v| v.0),
            min_samples: g.min_samples.unwrap_or(d.min_samples),
            max_failure_share: g.max_failure_share.unwrap_or(d.max_failure_share),
            unavailable_window: g
                .unavailable_window
                .as_ref()
                .map_or(d.unavailable_window, |v| v.0),
            unavailable_min_attempts: g
                .unavailable_min_attempts
                .unwrap_or(d.unavailable_min_attempts),
        };
        if let Err(why) = slr.validate() {
            self.errors
                .push(self.loc.error(r.span().start, format!("[registry]: {why}")));
        }
        slr
    }
}

/// The two-sided z value for a confidence level (Acklam's inverse normal approximation,
/// relative error below 1.2e-9).
pub fn z_for(confidence: f64) -> f64 {
    let p = 1.0 - (1.0 - confidence) / 2.0;
    let a = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    let b = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    let c = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    let d = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let plow = 0.02425;
    if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    measure: RawMeasure,
    grade: Vec<Spanned<RawGrade>>,
    tld: RawTld,
    institution: RawInstitution,
    website: RawWebsite,
    recursive: RawRecursive,
    authority: RawAuthority,
    #[serde(default)]
    registry: Option<Spanned<RawRegistrySlr>>,
}

/// `[registry]`: every field optional, the default is ICANN's SLR.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistrySlr {
    epp_rtt_limit: Option<HumanDuration>,
    rdap_rtt_limit: Option<HumanDuration>,
    whois_rtt_limit: Option<HumanDuration>,
    rtt_quantile: Option<f64>,
    window: Option<HumanDuration>,
    min_samples: Option<usize>,
    max_failure_share: Option<f64>,
    unavailable_window: Option<HumanDuration>,
    unavailable_min_attempts: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeasure {
    window: HumanDuration,
    tick: HumanDuration,
    min_samples: Spanned<u64>,
    confidence: Spanned<f64>,
    latency_threshold: HumanDuration,
    latency_quantile: Spanned<f64>,
    stop_window: Spanned<HumanDuration>,
    stop_min_probes: Spanned<u64>,
    clear_after: HumanDuration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrade {
    level: String,
    zh: String,
    en: String,
    colour: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTld {
    bad_node_success_below: Spanned<f64>,
    bad_nodes_share_ii: Spanned<f64>,
    data_error_above_ii: Spanned<f64>,
    data_error_above_iii: Spanned<f64>,
    key_domain_errors_ii: u64,
    registration_unavailable_iii: HumanDuration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstitution {
    tier1_success_below_ii: Spanned<f64>,
    tier1_success_below_iii: Spanned<f64>,
    tier1_data_error_above_ii: Spanned<f64>,
    tier1_data_error_above_iii: Spanned<f64>,
    pooled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebsite {
    bad_node_success_below: Spanned<f64>,
    data_error_above_iv: Spanned<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecursive {
    stopped_longer_than: HumanDuration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthority {
    emergency_office_zh: String,
    emergency_office_en: String,
    unit_zh: String,
    unit_en: String,
    cncert_zh: String,
    cncert_en: String,
    notify_cncert_from: Spanned<String>,
    provinces: Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_hold_the_plan_numbers() {
        let r = Rules::miit_2011();
        assert_eq!(r.measure.latency_threshold, Duration::from_secs(5));
        assert_eq!(r.measure.min_samples, 30);
        assert!((r.measure.z - 1.959964).abs() < 1e-5, "{}", r.measure.z);
        assert_eq!(r.tld.bad_node_success_below, 0.5);
        assert_eq!(r.tld.data_error_above_ii, 0.001);
        assert_eq!(r.tld.data_error_above_iii, 0.0001);
        assert_eq!(
            r.tld.registration_unavailable_iii,
            Duration::from_secs(4 * 3600)
        );
        assert_eq!(r.institution.tier1_success_below_iii, 0.8);
        assert_eq!(r.institution.tier1_data_error_above_ii, 0.01);
        assert_eq!(r.recursive.stopped_longer_than, Duration::from_secs(3600));
        assert_eq!(r.authority.emergency_office_zh, "互联网应急办");
    }

    #[test]
    fn inconsistent_rules_are_refused_with_location() {
        let bad = MIIT_2011.replace(
            "data_error_above_iii = 0.0001",
            "data_error_above_iii = 0.01",
        );
        let e = Rules::parse(Path::new("r.toml"), &bad).unwrap_err();
        assert!(
            e.errors[0]
                .message
                .contains("data_error_above_iii must be below"),
            "{e}"
        );
        let line = MIIT_2011
            .lines()
            .position(|l| l.starts_with("data_error_above_iii"))
            .unwrap()
            + 1;
        assert_eq!(e.errors[0].line, line);

        let bad = MIIT_2011.replace("confidence = 0.95", "confidence = 1.5");
        let e = Rules::parse(Path::new("r.toml"), &bad).unwrap_err();
        assert!(e.errors[0].message.contains("confidence"), "{e}");

        let bad = MIIT_2011.replace("zh = \"重大\"", "zh = \"较大\"");
        let e = Rules::parse(Path::new("r.toml"), &bad).unwrap_err();
        assert!(e.errors[0].message.contains("level II is 重大"), "{e}");

        let bad = MIIT_2011.replace("[recursive]\n", "[recursive]\nstoped = 1\n");
        let e = Rules::parse(Path::new("r.toml"), &bad).unwrap_err();
        assert!(e.errors[0].message.contains("stoped"), "{e}");

        let line = MIIT_2011
            .lines()
            .position(|l| l.starts_with("stop_min_probes"))
            .unwrap()
            + 1;
        for (n, refused) in [("2", true), ("3", false)] {
            let rules = MIIT_2011.replace("stop_min_probes = 5", &format!("stop_min_probes = {n}"));
            match Rules::parse(Path::new("r.toml"), &rules) {
                Err(e) if refused => {
                    assert!(e.errors[0]
                        .message
                        .contains("stop_min_probes must be at least 3"));
                    assert_eq!(e.errors[0].line, line);
                }
                Ok(r) if !refused => assert_eq!(r.measure.stop_min_probes, 3),
                other => panic!("stop_min_probes = {n}: {:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn the_provinces_table_has_exactly_the_31_provinces_of_the_config() {
        let r = Rules::miit_2011();
        let mut table: Vec<&str> = r.authority.provinces.keys().map(String::as_str).collect();
        let mut config = crate::config::PROVINCES.to_vec();
        table.sort_unstable();
        config.sort_unstable();
        assert_eq!(table, config);
        assert_eq!(table.len(), 31);
        let gd = &r.authority.provinces["广东"];
        assert_eq!(gd.zh, "广东省通信管理局");
        assert_eq!(gd.en, "Guangdong Communications Administration");
    }

    #[test]
    fn a_provinces_table_missing_or_adding_a_province_is_refused_with_location() {
        let line = |text: &str, prefix: &str| {
            text.lines().position(|l| l.starts_with(prefix)).unwrap() + 1
        };
        let gd = "\"广东\" = { zh = \"广东省通信管理局\", en = \"Guangdong Communications Administration\" }\n";
        let bad = MIIT_2011.replace(gd, "");
        let e = Rules::parse(Path::new("r.toml"), &bad).unwrap_err();
        assert_eq!(e.errors.len(), 1, "{e}");
        assert!(e.errors[0].message.contains("missing: 广东"), "{e}");
        assert_eq!(e.errors[0].line, line(&bad, "[authority.provinces]"));

        let bad = MIIT_2011.replace(gd, &gd.replacen("\"广东\" =", "\"广州\" =", 1));
        let e = Rules::parse(Path::new("r.toml"), &bad).unwrap_err();
        let msgs: Vec<&str> = e.errors.iter().map(|e| e.message.as_str()).collect();
        assert!(
            msgs.iter()
                .any(|m| m.contains("\"广州\" is not one of the 31")),
            "{e}"
        );
        assert!(msgs.iter().any(|m| m.contains("missing: 广东")), "{e}");
        let at = e
            .errors
            .iter()
            .find(|e| e.message.contains("广州"))
            .unwrap();
        assert_eq!(at.line, line(&bad, "\"广州\" ="));

        let bad = MIIT_2011.replace("zh = \"广东省通信管理局\"", "zh = \"广东省管理局\"");
        let e = Rules::parse(Path::new("r.toml"), &bad).unwrap_err();
        assert!(
            e.errors[0].message.contains("administration of 广东"),
            "{e}"
        );
    }

    #[test]
    fn normalised_authority_names_read_back_as_official_names() {
        let a = Rules::miit_2011().authority;
        assert_eq!(
            a.official("广西通信管理局"),
            (
                "广西壮族自治区通信管理局".to_string(),
                "Guangxi Communications Administration".to_string()
            )
        );
        assert_eq!(a.official("互联网应急办").0, "互联网应急办");
        assert_eq!(a.official("CNCERT").0, "CNCERT");
    }

    #[test]
    fn z_values() {
        assert!((z_for(0.95) - 1.959964).abs() < 1e-5);
        assert!((z_for(0.99) - 2.575829).abs() < 1e-5);
        assert!((z_for(0.90) - 1.644854).abs() < 1e-5);
    }
}
