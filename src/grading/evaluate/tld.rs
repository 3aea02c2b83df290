//! The cells of a top-level domain (顶级域名系统): system stopped, bad nodes, node data errors,
//! key-domain data errors, then the registry's services.

use super::registry::registry_findings;
use super::{pct, server_stopped, Finding, Judged, ObjectInput};
use crate::clock::UnixMillis;
use crate::grading::rules::Rules;
use crate::grading::{Level, RuleId};

/// What the TLD cells read from its nodes.
struct Nodes {
    /// Configured nodes.
    nodes: usize,
    /// Nodes all of whose addresses are stopped.
    stopped: usize,
    /// Nodes with at least one bad address.
    bad: usize,
    /// The highest data error lower bound of any address.
    worst_data: f64,
    /// Data errors on key domains, summed over every address.
    key_errors: u64,
}

/// The findings of a TLD, in the order of the matrix.
pub(super) fn tld(
    input: &ObjectInput<'_>,
    per_server: &[Vec<Judged>],
    rules: &Rules,
    stop_hint: UnixMillis,
    now: UnixMillis,
) -> Vec<Finding> {
    let n = nodes(input, per_server);
    let mut f = Vec::new();
    f.extend(system_stopped(&n, stop_hint));
    f.extend(bad_nodes(&n, rules, now));
    f.extend(data_error(&n, rules, now));
    f.extend(key_domain_errors(&n, rules, now));
    registry_findings(input.registry, rules, now, &mut f, true);
    f
}

/// Counts stopped and bad nodes, the worst data error bound and the key-domain errors.
fn nodes(input: &ObjectInput<'_>, per_server: &[Vec<Judged>]) -> Nodes {
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
    Nodes {
        nodes: input.servers.len(),
        stopped,
        bad,
        worst_data,
        key_errors,
    }
}

/// Level I when every configured node is stopped.
fn system_stopped(n: &Nodes, stop_hint: UnixMillis) -> Option<Finding> {
    let nodes = n.nodes;
    (nodes > 0 && n.stopped == nodes).then(|| Finding {
        grade: Level::I,
        candidate: None,
        rule: RuleId::TldSystemStopped,
        zh: format!("顶级域名系统停止解析服务：全部 {nodes} 个节点停止解析"),
        en: format!("the TLD system stopped resolving: all {nodes} nodes are stopped"),
        onset_hint: stop_hint,
        next: None,
    })
}

/// Level II when bad nodes are at least `bad_nodes_share_ii` of the nodes, else III when any
/// node is bad.
fn bad_nodes(n: &Nodes, rules: &Rules, now: UnixMillis) -> Option<Finding> {
    let r = &rules.tld;
    let (bad, nodes) = (n.bad, n.nodes);
    if bad > 0 && bad as f64 >= r.bad_nodes_share_ii * nodes as f64 {
        Some(Finding {
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
        })
    } else if bad > 0 {
        Some(Finding {
            grade: Level::III,
            candidate: None,
            rule: RuleId::TldBadNodesSome,
            zh: format!("{bad}/{nodes} 个顶级节点解析成功率低于{}或解析响应时间高于{}秒（半数以下）", pct(r.bad_node_success_below), rules.measure.latency_threshold.as_secs_f64()),
            en: format!("{bad} of {nodes} nodes (fewer than half) succeed below {} or answer slower than {:?}", pct(r.bad_node_success_below), rules.measure.latency_threshold),
            onset_hint: now,
            next: None,
        })
    } else {
        None
    }
}

/// Level II when the worst node's data error bound is above `data_error_above_ii`, else III
/// above `data_error_above_iii`.
fn data_error(n: &Nodes, rules: &Rules, now: UnixMillis) -> Option<Finding> {
    let r = &rules.tld;
    let worst_data = n.worst_data;
    if worst_data > r.data_error_above_ii {
        Some(Finding {
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
        })
    } else if worst_data > r.data_error_above_iii {
        Some(Finding {
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
        })
    } else {
        None
    }
}

/// Level II when the key-domain data errors reach `key_domain_errors_ii`.
fn key_domain_errors(n: &Nodes, rules: &Rules, now: UnixMillis) -> Option<Finding> {
    let key_errors = n.key_errors;
    (key_errors >= rules.tld.key_domain_errors_ii).then(|| Finding {
        grade: Level::II,
        candidate: None,
        rule: RuleId::TldKeyDomainError,
        zh: format!("顶级域名系统重点域名相关解析数据出错（{key_errors} 次）"),
        en: format!("data errors on key domains ({key_errors} in the window)"),
        onset_hint: now,
        next: None,
    })
}
