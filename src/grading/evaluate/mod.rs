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
//! is the first failed probe after the last success of the address that failed last
//! (`WindowSnapshot::failing_since`), never before the daemon's first probe; for other
//! conditions, the first evaluation that saw it.
//!
//! Layout: this file holds the inputs, the judging of one address, the evaluation common to
//! every object (condition clocks, duration cells, confirmations) and [`authority`]; the cells
//! of each object class are in `tld`, `institution`, `website` and `recursive`, and those of
//! registry services, shared by TLDs and institutions, in `registry`.

mod institution;
mod recursive;
mod registry;
mod tld;
mod website;

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

/// How one address is judged, and the bounds the cells read.
#[derive(Debug, Clone, Copy, Default)]
struct Judged {
    stopped: bool,
    unknown: bool,
    bad: bool,
    success_upper: f64,
    slow: bool,
    data_error_lower: f64,
}

/// Whether the latency quantile is above the threshold, on exact slow counts where tracked.
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

/// Judges one address: stopped, unknown, bad, and its success and data error bounds.
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

/// The evidence shown for one judged address.
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

impl Finding {
    /// A finding without a candidate grade or a duration cell.
    fn plain(grade: Level, rule: RuleId, zh: String, en: String, onset_hint: UnixMillis) -> Self {
        Finding {
            grade,
            candidate: None,
            rule,
            zh,
            en,
            onset_hint,
            next: None,
        }
    }
}

/// A ratio as a percentage: one decimal from 1 %, three below.
fn pct(x: f64) -> String {
    let v = x * 100.0;
    if v >= 1.0 {
        format!("{v:.1}%")
    } else {
        format!("{v:.3}%")
    }
}

/// A duration in whole hours, else in minutes.
fn hours(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else {
        format!("{} min", s / 60)
    }
}

/// A finding after its duration cell: the grade it has reached and the escalation ahead.
struct Graded<'a> {
    grade: Level,
    candidate: Option<Level>,
    finding: &'a Finding,
    next: Option<Escalation>,
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
    let (evidence_list, per_server) = judge_all(input, rules);
    let findings = class_findings(input, &per_server, rules, now);
    let onsets = run_clocks(&key, input, &findings, rules, clocks, now);
    let graded = promote(&findings, &onsets, now);
    let Some(&Graded {
        grade,
        candidate,
        finding: top,
        next,
    }) = graded.first()
    else {
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
    let (grade, candidate) = confirm(grade, candidate, confirmations.get(&key).copied());
    let next = next.filter(|n| n.grade > grade);
    Assessment {
        object: key,
        grade: Some(grade),
        candidate,
        rule: Some(top.rule.as_str().to_string()),
        reasons_zh: graded.iter().map(|g| g.finding.zh.clone()).collect(),
        reasons_en: graded.iter().map(|g| g.finding.en.clone()).collect(),
        evidence: evidence_list,
        authority: Some(authority(obj, grade, rules)),
        onset: onsets.get(&top.rule).copied(),
        next_escalation: next,
    }
}

/// Judges every address of every server against the success threshold of the object's class,
/// with its evidence in the same order.
fn judge_all(input: &ObjectInput<'_>, rules: &Rules) -> (Vec<ServerEvidence>, Vec<Vec<Judged>>) {
    let bad_below = match input.object.class {
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
    (evidence_list, per_server)
}

/// The conditions that hold now, by the cells of the object's class.
fn class_findings(
    input: &ObjectInput<'_>,
    per_server: &[Vec<Judged>],
    rules: &Rules,
    now: UnixMillis,
) -> Vec<Finding> {
    let stop_hint = stop_onset_hint(input, rules, now);
    match input.object.class {
        ObjectClass::Tld => tld::tld(input, per_server, rules, stop_hint, now),
        ObjectClass::Institution => {
            institution::institution(input, per_server, rules, stop_hint, now)
        }
        ObjectClass::Website => website::website(input, per_server, rules, stop_hint, now),
        ObjectClass::Recursive => recursive::recursive(input, per_server, rules, stop_hint),
        ObjectClass::Control => Vec::new(),
    }
}

/// Runs a clock for every rule and returns the onsets of those that hold: the findings are
/// observed as true, every other rule of the object as false (so that it clears after
/// `clear_after`) once the object has data.
fn run_clocks(
    key: &ObjectKey,
    input: &ObjectInput<'_>,
    findings: &[Finding],
    rules: &Rules,
    clocks: &mut ConditionClocks,
    now: UnixMillis,
) -> HashMap<RuleId, UnixMillis> {
    let clear_after = rules.measure.clear_after;
    let mut onsets: HashMap<RuleId, UnixMillis> = HashMap::new();
    for f in findings {
        let ck = format!("{key}:{}", f.rule);
        if let Some(on) = clocks.observe(&ck, true, f.onset_hint.min(now), now, clear_after) {
            onsets.insert(f.rule, on);
        }
    }
    // A gap in observation (no probe results yet, e.g. right after a restart) is not evidence
    // that a condition ended: only an object with data can clear its clocks.
    if has_data(input, rules) {
        let prefix = format!("{key}:");
        clocks.observe_others_false(
            &prefix,
            |rule| findings.iter().any(|f| f.rule.as_str() == rule),
            now,
            clear_after,
        );
    }
    onsets
}

/// Whether any address has enough attempts to judge a stop or enough samples to judge the rest.
fn has_data(input: &ObjectInput<'_>, rules: &Rules) -> bool {
    let m = &rules.measure;
    input
        .servers
        .iter()
        .flat_map(|s| s.addresses.iter())
        .any(|a| a.recent.attempts >= m.stop_min_probes || a.window.samples >= m.min_samples)
}

/// Duration cells: promotes each finding whose clock has run long enough, else notes the
/// escalation ahead; the worst grade first (stable, so ties keep the order of the cells).
fn promote<'a>(
    findings: &'a [Finding],
    onsets: &HashMap<RuleId, UnixMillis>,
    now: UnixMillis,
) -> Vec<Graded<'a>> {
    let mut graded: Vec<Graded<'a>> = Vec::new();
    for f in findings {
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
        graded.push(Graded {
            grade,
            candidate: f.candidate,
            finding: f,
            next,
        });
    }
    graded.sort_by_key(|g| std::cmp::Reverse(g.grade));
    graded
}

/// A candidate a person confirmed (at that level or above) becomes the grade; a candidate not
/// above the grade is dropped.
fn confirm(
    mut grade: Level,
    mut candidate: Option<Level>,
    confirmed: Option<Level>,
) -> (Level, Option<Level>) {
    if let Some(c) = candidate {
        if confirmed.is_some_and(|confirmed| confirmed >= c) {
            grade = grade.max(c);
            candidate = None;
        } else if c <= grade {
            candidate = None;
        }
    }
    (grade, candidate)
}

/// The onset of a stop: the first failed probe after the last success, of the address that
/// failed last (the system stopped when its last address did). Windows always know it once an
/// address has failed; a window that does not (built by hand) falls back to just after the
/// last success, else the start of the stop window. Never after `now`; and since a window
/// only holds what this daemon probed, never before its start.
fn stop_onset_hint(input: &ObjectInput<'_>, rules: &Rules, now: UnixMillis) -> UnixMillis {
    let addresses = || input.servers.iter().flat_map(|s| s.addresses.iter());
    if let Some(t) = addresses().filter_map(|a| a.window.failing_since).max() {
        return t.min(now);
    }
    match addresses().filter_map(|a| a.window.last_success).max() {
        Some(t) => t.saturating_add(1).min(now),
        None => now.saturating_sub(rules.measure.stop_window.as_millis() as u64),
    }
}

/// A server is stopped when it has addresses and all of them are stopped.
fn server_stopped(v: &[Judged]) -> bool {
    !v.is_empty() && v.iter().all(|j| j.stopped)
}

/// A system is stopped when it has addresses and all of them, on every server, are stopped.
fn all_stopped(per_server: &[Vec<Judged>]) -> bool {
    let addrs: Vec<&Judged> = per_server.iter().flatten().collect();
    !addrs.is_empty() && addrs.iter().all(|j| j.stopped)
}

/// Who leads the response to `grade` at `obj` (plan section 5.1), and who is notified.
pub fn authority(obj: &Object, grade: Level, rules: &Rules) -> Authority {
    let a = &rules.authority;
    let eo = (a.emergency_office_zh.clone(), a.emergency_office_en.clone());
    let unit = (a.unit_zh.clone(), a.unit_en.clone());
    let prov = |p: &str| a.provincial(p);
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
