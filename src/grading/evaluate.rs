//! The evaluator: window statistics + rules + condition clocks + confirmations + now → one
//! [`Assessment`] per object. No I/O and no clock reads: every input is a value, so each cell
//! of the matrix is testable in microseconds and the 1 h / 4 h cells without waiting.
//!
//! Judging one server address (docs/matrix.md):
//! - *stopped*: at least `stop_min_probes` attempts within `stop_window` and no success;
//! - *unknown*: fewer than `min_samples` probes in the window — never bad unless stopped;
//! - *bad*: stopped, or the success ratio's Wilson upper bound below the threshold, or the
//!   latency quantile (median by default) above 5 s, decided on exact counts of replies slower
//!   than the threshold, never on a histogram bucket;
//! - data error ratio: judged on its Wilson lower bound, once `min_samples` replies were checked.
//!
//! A configured server (a TLD node, a name server) is stopped when all its addresses are, and
//! bad when any of its addresses is bad: a node that IPv6 users cannot reach is failing them.
//!
//! Condition clocks: every condition that holds runs a clock keyed `object:rule`; its onset is
//! kept through blips shorter than `clear_after` (docs/matrix.md, "What is measured"). For a stop, the onset
//! is the first probe after the last success (the last success time + 1 ms, or the start of the
//! stop window when none is known); for other conditions, the first evaluation that saw it.

use super::rules::Rules;
use super::{Assessment, Authority, Escalation, Level, ObjectKey, ServerEvidence};
use super::{ConditionClocks, RuleId};
use crate::clock::UnixMillis;
use crate::config::{Licensor, Object, ObjectClass, Scope, Tier};
pub use crate::probe::registry::RegistryInput;
use crate::stats::{wilson_interval, RecentCounts, WindowSnapshot};
use std::collections::HashMap;
use std::time::Duration;

/// One probed address of a server, as the evaluator sees it.
#[derive(Debug, Clone)]
pub struct AddressInput {
    /// "name address", for evidence.
    pub label: String,
    /// The window.
    pub window: WindowSnapshot,
    /// Attempts and successes within the stop window.
    pub recent: RecentCounts,
    /// Data errors on key domains (重点域名) in the window.
    pub key_domain_errors: u64,
}

/// One configured server (node, name server, resolver) and its addresses.
#[derive(Debug, Clone)]
pub struct ServerInput {
    /// The server's configured name.
    pub name: String,
    /// Its probed addresses (empty while its host name does not resolve).
    pub addresses: Vec<AddressInput>,
}

/// Everything about one object at one tick.
#[derive(Debug, Clone)]
pub struct ObjectInput<'a> {
    /// The configured object.
    pub object: &'a Object,
    /// Its servers, in config order.
    pub servers: &'a [ServerInput],
    /// Registry state, where the object has one.
    pub registry: RegistryInput,
}

/// The key of an object: `class/name`.
pub fn object_key(o: &Object) -> ObjectKey {
    ObjectKey::new(o.class, &o.name)
}

#[derive(Debug, Clone, Copy, Default)]
struct Judged {
    stopped: bool,
    unknown: bool,
    bad: bool,
    success_upper: f64,
    slow: bool,
    data_error_lower: f64,
}

fn latency_over(w: &WindowSnapshot, rules: &Rules) -> bool {
    let m = &rules.measure;
    match w.latency_quantile_exceeds(m.latency_quantile, m.latency_threshold) {
        Some(b) => b,
        // The threshold is not tracked exactly (a spec mismatch): fall back to the quantile.
        None => w
            .latency
            .as_ref()
            .and_then(|l| l.quantile(m.latency_quantile))
            .is_some_and(|v| v > m.latency_threshold),
    }
}

fn judge(a: &AddressInput, rules: &Rules, bad_below: f64) -> Judged {
    let m = &rules.measure;
    let w = &a.window;
    let stopped = a.recent.attempts >= m.stop_min_probes && a.recent.successes == 0;
    let unknown = w.samples < m.min_samples;
    let (_, success_upper) = wilson_interval(w.success.num, w.success.den, m.z);
    let slow = !unknown && latency_over(w, rules);
    let bad = stopped || (!unknown && (success_upper < bad_below || slow));
    let data_error_known = w.data_error.den >= m.min_samples;
    let (data_error_lower, _) = wilson_interval(w.data_error.num, w.data_error.den, m.z);
    Judged {
        stopped,
        unknown: unknown && !stopped,
        bad,
        success_upper,
        slow,
        data_error_lower: if data_error_known {
            data_error_lower
        } else {
            0.0
        },
    }
}

fn evidence(a: &AddressInput, j: &Judged, rules: &Rules) -> ServerEvidence {
    let w = &a.window;
    let (lo, hi) = wilson_interval(w.success.num, w.success.den, rules.measure.z);
    ServerEvidence {
        server: a.label.clone(),
        samples: w.samples,
        success: w.success.point,
        success_lower: lo,
        success_upper: hi,
        latency_s: w
            .latency
            .as_ref()
            .and_then(|l| l.quantile(rules.measure.latency_quantile))
            .map(|d| d.as_secs_f64()),
        checked: w.checked,
        data_error: w.data_error.point,
        data_error_lower: j.data_error_lower,
        stopped: j.stopped,
        bad: j.bad,
        unknown: j.unknown,
    }
}

/// A condition that holds now.
struct Finding {
    grade: Level,
    candidate: Option<Level>,
    rule: RuleId,
    zh: String,
    en: String,
    onset_hint: UnixMillis,
    next: Option<(Level, Duration)>,
}

fn pct(x: f64) -> String {
    let v = x * 100.0;
    if v >= 1.0 {
        format!("{v:.1}%")
    } else {
        format!("{v:.3}%")
    }
}

fn hours(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else {
        format!("{} min", s / 60)
    }
}

/// Grades one object. `clocks` carries condition clocks from tick to tick (persisted by the
/// incident store); `confirmations` holds the levels a person confirmed per object.
pub fn evaluate(
    input: &ObjectInput<'_>,
    rules: &Rules,
    clocks: &mut ConditionClocks,
    confirmations: &HashMap<ObjectKey, Level>,
    now: UnixMillis,
) -> Assessment {
    let obj = input.object;
    let key = object_key(obj);
    let bad_below = match obj.class {
        ObjectClass::Tld => rules.tld.bad_node_success_below,
        ObjectClass::Website => rules.website.bad_node_success_below,
        _ => rules.institution.tier1_success_below_ii,
    };
    let mut evidence_list = Vec::new();
    let mut per_server: Vec<Vec<Judged>> = Vec::new();
    for s in input.servers {
        let mut v = Vec::new();
        for a in &s.addresses {
            let j = judge(a, rules, bad_below);
            evidence_list.push(evidence(a, &j, rules));
            v.push(j);
        }
        per_server.push(v);
    }
    let stop_hint = stop_onset_hint(input, rules, now);
    let findings = match obj.class {
        ObjectClass::Tld => tld(input, &per_server, rules, stop_hint, now),
        ObjectClass::Institution => institution(input, &per_server, rules, stop_hint, now),
        ObjectClass::Website => website(input, &per_server, rules, stop_hint, now),
        ObjectClass::Recursive => recursive(input, &per_server, rules, stop_hint),
        ObjectClass::Control => Vec::new(),
    };

    // Run a clock for every rule; those that do not hold now are observed as false so that
    // they clear after `clear_after`.
    let clear_after = rules.measure.clear_after;
    let mut onsets: HashMap<RuleId, UnixMillis> = HashMap::new();
    for f in &findings {
        let ck = format!("{key}:{}", f.rule);
        if let Some(on) = clocks.observe(&ck, true, f.onset_hint.min(now), now, clear_after) {
            onsets.insert(f.rule, on);
        }
    }
    // A gap in observation (no probe results yet, e.g. right after a restart) is not evidence
    // that a condition ended: only an object with data can clear its clocks.
    let m = &rules.measure;
    let has_data = input
        .servers
        .iter()
        .flat_map(|s| s.addresses.iter())
        .any(|a| a.recent.attempts >= m.stop_min_probes || a.window.samples >= m.min_samples);
    if has_data {
        let prefix = format!("{key}:");
        clocks.observe_others_false(
            &prefix,
            |rule| findings.iter().any(|f| f.rule.as_str() == rule),
            now,
            clear_after,
        );
    }

    // Duration cells: promote once the clock has run long enough.
    let mut graded: Vec<(Level, Option<Level>, &Finding, Option<Escalation>)> = Vec::new();
    for f in &findings {
        let onset = onsets.get(&f.rule).copied().unwrap_or(now);
        let mut grade = f.grade;
        let mut next = None;
        if let Some((to, after)) = f.next {
            let at = onset.saturating_add(after.as_millis() as u64);
            if now > at {
                grade = grade.max(to);
            } else {
                next = Some(Escalation { grade: to, at });
            }
        }
        graded.push((grade, f.candidate, f, next));
    }
    graded.sort_by_key(|g| std::cmp::Reverse(g.0));
    let Some(&(mut grade, mut candidate, top, next)) = graded.first() else {
        return Assessment {
            object: key,
            grade: None,
            candidate: None,
            rule: None,
            reasons_zh: Vec::new(),
            reasons_en: Vec::new(),
            evidence: evidence_list,
            authority: None,
            onset: None,
            next_escalation: None,
        };
    };
    if let Some(c) = candidate {
        if confirmations
            .get(&key)
            .is_some_and(|confirmed| *confirmed >= c)
        {
            grade = grade.max(c);
            candidate = None;
        } else if c <= grade {
            candidate = None;
        }
    }
    let next = next.filter(|n| n.grade > grade);
    Assessment {
        object: key,
        grade: Some(grade),
        candidate,
        rule: Some(top.rule.as_str().to_string()),
        reasons_zh: graded.iter().map(|g| g.2.zh.clone()).collect(),
        reasons_en: graded.iter().map(|g| g.2.en.clone()).collect(),
        evidence: evidence_list,
        authority: Some(authority(obj, grade, rules)),
        onset: onsets.get(&top.rule).copied(),
        next_escalation: next,
    }
}

fn stop_onset_hint(input: &ObjectInput<'_>, rules: &Rules, now: UnixMillis) -> UnixMillis {
    let last = input
        .servers
        .iter()
        .flat_map(|s| s.addresses.iter())
        .filter_map(|a| a.window.last_success)
        .max();
    match last {
        Some(t) => t.saturating_add(1).min(now),
        None => now.saturating_sub(rules.measure.stop_window.as_millis() as u64),
    }
}

fn server_stopped(v: &[Judged]) -> bool {
    !v.is_empty() && v.iter().all(|j| j.stopped)
}

fn all_stopped(per_server: &[Vec<Judged>]) -> bool {
    let addrs: Vec<&Judged> = per_server.iter().flatten().collect();
    !addrs.is_empty() && addrs.iter().all(|j| j.stopped)
}

fn tld(
    input: &ObjectInput<'_>,
    per_server: &[Vec<Judged>],
    rules: &Rules,
    stop_hint: UnixMillis,
    now: UnixMillis,
) -> Vec<Finding> {
    let r = &rules.tld;
    let nodes = input.servers.len();
    let stopped = per_server.iter().filter(|v| server_stopped(v)).count();
    let bad = per_server
        .iter()
        .filter(|v| v.iter().any(|j| j.bad))
        .count();
    let worst_data = per_server
        .iter()
        .flatten()
        .map(|j| j.data_error_lower)
        .fold(0.0, f64::max);
    let key_errors: u64 = input
        .servers
        .iter()
        .flat_map(|s| s.addresses.iter())
        .map(|a| a.key_domain_errors)
        .sum();
    let mut f = Vec::new();
    if nodes > 0 && stopped == nodes {
        f.push(Finding {
            grade: Level::I,
            candidate: None,
            rule: RuleId::TldSystemStopped,
            zh: format!("顶级域名系统停止解析服务：全部 {nodes} 个节点停止解析"),
            en: format!("the TLD system stopped resolving: all {nodes} nodes are stopped"),
            onset_hint: stop_hint,
            next: None,
        });
    }
    if bad > 0 && bad as f64 >= r.bad_nodes_share_ii * nodes as f64 {
        f.push(Finding {
            grade: Level::II,
            candidate: None,
            rule: RuleId::TldBadNodesHalf,
            zh: format!(
                "{bad}/{nodes} 个顶级节点解析成功率低于{}或解析响应时间高于{}秒（半数及以上）",
                pct(r.bad_node_success_below),
                rules.measure.latency_threshold.as_secs_f64()
            ),
            en: format!(
                "{bad} of {nodes} nodes (half or more) succeed below {} or answer slower than {:?}",
                pct(r.bad_node_success_below),
                rules.measure.latency_threshold
            ),
            onset_hint: now,
            next: None,
        });
    } else if bad > 0 {
        f.push(Finding {
            grade: Level::III,
            candidate: None,
            rule: RuleId::TldBadNodesSome,
            zh: format!("{bad}/{nodes} 个顶级节点解析成功率低于{}或解析响应时间高于{}秒（半数以下）", pct(r.bad_node_success_below), rules.measure.latency_threshold.as_secs_f64()),
            en: format!("{bad} of {nodes} nodes (fewer than half) succeed below {} or answer slower than {:?}", pct(r.bad_node_success_below), rules.measure.latency_threshold),
            onset_hint: now,
            next: None,
        });
    }
    if worst_data > r.data_error_above_ii {
        f.push(Finding {
            grade: Level::II,
            candidate: None,
            rule: RuleId::TldDataErrorIi,
            zh: format!(
                "顶级域名节点解析数据缺失或出错超过{}（置信下限 {}）",
                pct(r.data_error_above_ii),
                pct(worst_data)
            ),
            en: format!(
                "a node's missing or wrong data exceeds {} (lower bound {})",
                pct(r.data_error_above_ii),
                pct(worst_data)
            ),
            onset_hint: now,
            next: None,
        });
    } else if worst_data > r.data_error_above_iii {
        f.push(Finding {
            grade: Level::III,
            candidate: None,
            rule: RuleId::TldDataErrorIii,
            zh: format!(
                "顶级域名节点解析数据缺失或出错超过{}（置信下限 {}）",
                pct(r.data_error_above_iii),
                pct(worst_data)
            ),
            en: format!(
                "a node's missing or wrong data exceeds {} (lower bound {})",
                pct(r.data_error_above_iii),
                pct(worst_data)
            ),
            onset_hint: now,
            next: None,
        });
    }
    if key_errors >= r.key_domain_errors_ii {
        f.push(Finding {
            grade: Level::II,
            candidate: None,
            rule: RuleId::TldKeyDomainError,
            zh: format!("顶级域名系统重点域名相关解析数据出错（{key_errors} 次）"),
            en: format!("data errors on key domains ({key_errors} in the window)"),
            onset_hint: now,
            next: None,
        });
    }
    registry_findings(input.registry, rules, now, &mut f, true);
    f
}

fn registry_findings(
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

/// Pooled or worst-address figures of a whole system.
struct System {
    stopped: bool,
    known: bool,
    success_upper: f64,
    slow: bool,
    data_error_lower: f64,
}

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

fn institution(
    input: &ObjectInput<'_>,
    per_server: &[Vec<Judged>],
    rules: &Rules,
    stop_hint: UnixMillis,
    now: UnixMillis,
) -> Vec<Finding> {
    let r = &rules.institution;
    let s = system(input, per_server, rules, r.pooled);
    let mut f = Vec::new();
    let thr = rules.measure.latency_threshold;
    let tier1 = input.object.tier == Some(Tier::One);
    if tier1 && s.stopped {
        f.push(Finding {
            grade: Level::II,
            candidate: Some(Level::I),
            rule: RuleId::InstitutionTier1Stopped,
            zh: "一级域名服务机构域名解析系统停止解析服务（待人工确认是否造成特别重大社会影响）".into(),
            en: "a tier-1 institution's resolution system stopped (a person must confirm especially major social impact for level I)".into(),
            onset_hint: stop_hint,
            next: None,
        });
    }
    let mut push = |grade, rule, zh: String, en: String, hint| {
        f.push(Finding {
            grade,
            candidate: None,
            rule,
            zh,
            en,
            onset_hint: hint,
            next: None,
        });
    };
    if tier1 {
        if s.known && s.success_upper < r.tier1_success_below_ii {
            push(
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
            );
        } else if s.known && s.success_upper < r.tier1_success_below_iii {
            push(
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
            );
        }
        if s.slow {
            push(
                Level::II,
                RuleId::InstitutionTier1Latency,
                format!("一级域名服务机构解析响应时间高于{}秒", thr.as_secs_f64()),
                format!("tier-1 system answers slower than {thr:?}"),
                now,
            );
        }
        if s.data_error_lower > r.tier1_data_error_above_ii {
            push(
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
            );
        } else if s.data_error_lower > r.tier1_data_error_above_iii {
            push(
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
            );
        }
    } else {
        let failing = s.stopped
            || (s.known && s.success_upper < r.tier1_success_below_iii)
            || s.slow
            || s.data_error_lower > r.tier1_data_error_above_iii;
        if failing {
            push(Level::IV, RuleId::InstitutionTier2Degraded, "二级域名服务机构域名解析系统服务性能下降".into(), format!("a tier-2 institution's resolution is degraded (success upper bound {}, data error lower bound {})", pct(s.success_upper), pct(s.data_error_lower)), if s.stopped { stop_hint } else { now });
        }
    }
    registry_findings(input.registry, rules, now, &mut f, false);
    f
}

fn website(
    input: &ObjectInput<'_>,
    per_server: &[Vec<Judged>],
    rules: &Rules,
    stop_hint: UnixMillis,
    now: UnixMillis,
) -> Vec<Finding> {
    let mut f = Vec::new();
    let stopped = all_stopped(per_server);
    if stopped && input.object.tier == Some(Tier::One) {
        f.push(Finding {
            grade: Level::IV,
            candidate: Some(Level::III),
            rule: RuleId::WebsiteTier1Stopped,
            zh: "一级网站的权威域名解析系统停止解析服务（待人工确认是否造成较大社会影响）".into(),
            en: "a tier-1 website's authoritative DNS stopped (a person must confirm relatively major social impact for level III)".into(),
            onset_hint: stop_hint,
            next: None,
        });
    }
    let bad = per_server.iter().flatten().filter(|j| j.bad).count();
    let worst_data = per_server
        .iter()
        .flatten()
        .map(|j| j.data_error_lower)
        .fold(0.0, f64::max);
    if bad > 0 || worst_data > rules.website.data_error_above_iv {
        f.push(Finding {
            grade: Level::IV,
            candidate: None,
            rule: RuleId::WebsiteFailing,
            zh: format!("网站的权威域名解析系统解析服务故障（{bad} 个地址异常）"),
            en: format!("the website's authoritative DNS is failing ({bad} bad addresses, data error lower bound {})", pct(worst_data)),
            onset_hint: if stopped { stop_hint } else { now },
            next: None,
        });
    }
    f
}

fn recursive(
    input: &ObjectInput<'_>,
    per_server: &[Vec<Judged>],
    rules: &Rules,
    stop_hint: UnixMillis,
) -> Vec<Finding> {
    if !all_stopped(per_server) {
        return Vec::new();
    }
    let after = rules.recursive.stopped_longer_than;
    let (to, zh_scope, en_scope) = match &input.object.scope {
        Some(Scope::MultiProvince(ps)) => (
            Some(Level::II),
            format!("为多个省份（{}）提供服务的", ps.join("、")),
            format!("serving several provinces ({})", ps.join(", ")),
        ),
        Some(Scope::Province(p)) => (
            Some(Level::III),
            format!("为{p}提供服务的"),
            format!("serving {p}"),
        ),
        Some(Scope::LocalNetwork(l)) => (
            None,
            format!("限于本地网（{l}）的"),
            format!("limited to the local network {l}"),
        ),
        None => (None, String::new(), String::new()),
    };
    vec![Finding {
        grade: Level::IV,
        candidate: None,
        rule: RuleId::RecursiveStopped,
        zh: format!(
            "{zh_scope}递归域名解析系统停止解析服务（超过{}升级）",
            hours(after)
        ),
        en: format!("the recursive resolver system {en_scope} stopped resolving"),
        onset_hint: stop_hint,
        next: to.map(|l| (l, after)),
    }]
}

/// Who leads the response to `grade` at `obj` (plan section 5.1), and who is notified.
pub fn authority(obj: &Object, grade: Level, rules: &Rules) -> Authority {
    let a = &rules.authority;
    let eo = (a.emergency_office_zh.clone(), a.emergency_office_en.clone());
    let unit = (a.unit_zh.clone(), a.unit_en.clone());
    let prov = |p: &str| {
        (
            a.provincial_zh.replace("{province}", p),
            a.provincial_en.replace("{province}", p),
        )
    };
    let tier2 = matches!(obj.class, ObjectClass::Institution | ObjectClass::Website)
        && obj.tier == Some(Tier::Two);
    let (lead_zh, lead_en) = if tier2 {
        unit
    } else {
        match grade {
            Level::I | Level::II => eo,
            Level::III => match (obj.class, &obj.licensed_by, &obj.scope) {
                (ObjectClass::Website, Some(Licensor::Province(p)), _) => prov(p),
                (ObjectClass::Recursive, _, Some(Scope::Province(p))) => prov(p),
                (ObjectClass::Recursive, _, Some(Scope::LocalNetwork(_))) => unit,
                _ => eo,
            },
            Level::IV => unit,
        }
    };
    let notify = if grade >= a.notify_cncert_from && !tier2 {
        vec![a.cncert_zh.clone()]
    } else {
        Vec::new()
    };
    Authority {
        lead_zh,
        lead_en,
        notify,
    }
}
