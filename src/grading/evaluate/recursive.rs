//! The cells of a telecom operator's recursive resolvers (递归域名解析系统): stopped, escalating
//! with the scope it serves.

use super::{all_stopped, hours, Finding, Judged, ObjectInput};
use crate::clock::UnixMillis;
use crate::config::Scope;
use crate::grading::rules::Rules;
use crate::grading::{Level, RuleId};

/// The findings of a recursive system: level IV when all its addresses are stopped, promoted
/// after `stopped_longer_than` to II (several provinces) or III (one province).
pub(super) fn recursive(
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
