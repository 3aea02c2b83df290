//! The cells of a website's authoritative DNS (互联网站): a tier-1 website stopped (candidate
//! III), any website failing.

use super::{all_stopped, pct, Finding, Judged, ObjectInput};
use crate::clock::UnixMillis;
use crate::config::Tier;
use crate::grading::rules::Rules;
use crate::grading::{Level, RuleId};

/// The findings of a website: level IV with candidate III when a tier-1 website's servers are
/// all stopped; level IV when any address is bad or the worst data error bound is above
/// `data_error_above_iv`.
pub(super) fn website(
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
