//! The cells of a domain-name service institution (域名服务机构): a tier-1 system's stop,
//! success, latency and data errors; a tier-2 system's degradation; then the registrar's
//! registration system.

use super::registry::registry_findings;
use super::{all_stopped, pct, AddressInput, Finding, Judged, ObjectInput};
use crate::clock::UnixMillis;
use crate::config::Tier;
use crate::grading::rules::{InstitutionRules, Rules};
use crate::grading::{Level, RuleId};
use crate::stats::wilson_interval;

/// Pooled or worst-address figures of a whole system.
struct System {
    stopped: bool,
    known: bool,
    success_upper: f64,
    slow: bool,
    data_error_lower: f64,
}

/// The institution's system figures: pooled over every address when `pooled`, else the
/// worst known address's.
fn system(
    input: &ObjectInput<'_>,
    per_server: &[Vec<Judged>],
    rules: &Rules,
    pooled: bool,
) -> System {
    let m = &rules.measure;
    let addrs: Vec<&AddressInput> = input
        .servers
        .iter()
        .flat_map(|s| s.addresses.iter())
        .collect();
    let stopped = all_stopped(per_server);
    if !pooled {
        let js: Vec<&Judged> = per_server.iter().flatten().collect();
        let known: Vec<&&Judged> = js.iter().filter(|j| !j.unknown).collect();
        return System {
            stopped,
            known: !known.is_empty(),
            success_upper: known.iter().map(|j| j.success_upper).fold(1.0, f64::min),
            slow: known.iter().any(|j| j.slow),
            data_error_lower: js.iter().map(|j| j.data_error_lower).fold(0.0, f64::max),
        };
    }
    let (mut k, mut n, mut over, mut of, mut dk, mut dn) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for a in &addrs {
        k += a.window.success.num;
        n += a.window.success.den;
        dk += a.window.data_error.num;
        dn += a.window.data_error.den;
        if let Some(s) = a
            .window
            .slow
            .iter()
            .find(|s| s.threshold == m.latency_threshold)
        {
            over += s.over;
            of += s.of;
        }
    }
    let known = n >= m.min_samples;
    let (_, success_upper) = wilson_interval(k, n, m.z);
    // The q-quantile is above T when more than (1 − q)·of replies are slower than T.
    let slow = known && of > 0 && (over as f64) > (1.0 - m.latency_quantile) * of as f64;
    let (dl, _) = wilson_interval(dk, dn, m.z);
    System {
        stopped,
        known,
        success_upper,
        slow,
        data_error_lower: if dn >= m.min_samples { dl } else { 0.0 },
    }
}

/// The findings of an institution, in the order of the matrix.
pub(super) fn institution(
    input: &ObjectInput<'_>,
    per_server: &[Vec<Judged>],
    rules: &Rules,
    stop_hint: UnixMillis,
    now: UnixMillis,
) -> Vec<Finding> {
    let r = &rules.institution;
    let s = system(input, per_server, rules, r.pooled);
    let mut f = Vec::new();
    if input.object.tier == Some(Tier::One) {
        f.extend(tier1_stopped(&s, stop_hint));
        f.extend(tier1_success(&s, r, now));
        f.extend(tier1_latency(&s, rules, now));
        f.extend(tier1_data_error(&s, r, now));
    } else {
        f.extend(tier2_degraded(&s, r, stop_hint, now));
    }
    registry_findings(input.registry, rules, now, &mut f, false);
    f
}

/// Level II with candidate I when a tier-1 system is stopped (a person confirms the impact).
fn tier1_stopped(s: &System, stop_hint: UnixMillis) -> Option<Finding> {
    s.stopped.then(|| Finding {
        grade: Level::II,
        candidate: Some(Level::I),
        rule: RuleId::InstitutionTier1Stopped,
        zh: "一级域名服务机构域名解析系统停止解析服务（待人工确认是否造成特别重大社会影响）".into(),
        en: "a tier-1 institution's resolution system stopped (a person must confirm especially major social impact for level I)".into(),
        onset_hint: stop_hint,
        next: None,
    })
}

/// Level II when a tier-1 system's success bound is below `tier1_success_below_ii`, else III
/// below `tier1_success_below_iii`; nothing while the system is unknown.
fn tier1_success(s: &System, r: &InstitutionRules, now: UnixMillis) -> Option<Finding> {
    if s.known && s.success_upper < r.tier1_success_below_ii {
        Some(Finding::plain(
            Level::II,
            RuleId::InstitutionTier1SuccessIi,
            format!(
                "一级域名服务机构解析成功率低于{}",
                pct(r.tier1_success_below_ii)
            ),
            format!(
                "tier-1 system success below {} (upper bound {})",
                pct(r.tier1_success_below_ii),
                pct(s.success_upper)
            ),
            now,
        ))
    } else if s.known && s.success_upper < r.tier1_success_below_iii {
        Some(Finding::plain(
            Level::III,
            RuleId::InstitutionTier1SuccessIii,
            format!(
                "一级域名服务机构解析成功率低于{}",
                pct(r.tier1_success_below_iii)
            ),
            format!(
                "tier-1 system success below {} (upper bound {})",
                pct(r.tier1_success_below_iii),
                pct(s.success_upper)
            ),
            now,
        ))
    } else {
        None
    }
}

/// Level II when a tier-1 system answers slower than the latency threshold.
fn tier1_latency(s: &System, rules: &Rules, now: UnixMillis) -> Option<Finding> {
    let thr = rules.measure.latency_threshold;
    s.slow.then(|| {
        Finding::plain(
            Level::II,
            RuleId::InstitutionTier1Latency,
            format!("一级域名服务机构解析响应时间高于{}秒", thr.as_secs_f64()),
            format!("tier-1 system answers slower than {thr:?}"),
            now,
        )
    })
}

/// Level II when a tier-1 system's data error bound is above `tier1_data_error_above_ii`, else
/// III above `tier1_data_error_above_iii`.
fn tier1_data_error(s: &System, r: &InstitutionRules, now: UnixMillis) -> Option<Finding> {
    if s.data_error_lower > r.tier1_data_error_above_ii {
        Some(Finding::plain(
            Level::II,
            RuleId::InstitutionTier1DataErrorIi,
            format!(
                "一级域名服务机构解析数据缺失或出错超过{}",
                pct(r.tier1_data_error_above_ii)
            ),
            format!(
                "tier-1 missing or wrong data above {} (lower bound {})",
                pct(r.tier1_data_error_above_ii),
                pct(s.data_error_lower)
            ),
            now,
        ))
    } else if s.data_error_lower > r.tier1_data_error_above_iii {
        Some(Finding::plain(
            Level::III,
            RuleId::InstitutionTier1DataErrorIii,
            format!(
                "一级域名服务机构解析数据缺失或出错超过{}",
                pct(r.tier1_data_error_above_iii)
            ),
            format!(
                "tier-1 missing or wrong data above {} (lower bound {})",
                pct(r.tier1_data_error_above_iii),
                pct(s.data_error_lower)
            ),
            now,
        ))
    } else {
        None
    }
}

/// Level IV when a tier-2 system is stopped, slow, or past the tier-1 level-III success or
/// data-error threshold.
fn tier2_degraded(
    s: &System,
    r: &InstitutionRules,
    stop_hint: UnixMillis,
    now: UnixMillis,
) -> Option<Finding> {
    let failing = s.stopped
        || (s.known && s.success_upper < r.tier1_success_below_iii)
        || s.slow
        || s.data_error_lower > r.tier1_data_error_above_iii;
    failing.then(|| {
        Finding::plain(Level::IV, RuleId::InstitutionTier2Degraded, "二级域名服务机构域名解析系统服务性能下降".into(), format!("a tier-2 institution's resolution is degraded (success upper bound {}, data error lower bound {})", pct(s.success_upper), pct(s.data_error_lower)), if s.stopped { stop_hint } else { now })
    })
}
