//! The page of one incident (`/incidents/{id}`): its record, timeline and evidence, from the
//! ledger.

use super::chrome::{badge, page, when};
use crate::clock::UnixMillis;
use crate::incident::{Incident, IncidentDetail, TimelineEntry};
use maud::{html, Markup};
use serde_json::Value;

/// A JSON value as short text: strings bare, objects as `key: value · …`.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join("、"),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}: {}", text(v)))
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.to_string(),
    }
}

fn record(i: &Incident, clear_after_ms: u64) -> Markup {
    let auth = i.authority.as_ref();
    let field = |k: &str| auth.and_then(|a| a.get(k)).map(text).unwrap_or_default();
    html! {
        dl.record {
            dt { "状态 state" }
            dd id="state" data-state=(i.state.as_str()) {
                (i.state.as_str())
                @if let Some(c) = i.clearing_since {
                    " · " span.clearing { "消除中 clearing — 解除于 resolves at " (when(c.ms().saturating_add(clear_after_ms))) }
                }
                @if i.drill { " · " span.drill { "演练 drill" } }
                @if i.maintenance { " · 维护 maintenance" }
            }
            dt { "级别 grade" } dd { (badge(i.grade.0)) " · 最高 max " (badge(i.max_grade.0)) }
            @if let Some(c) = i.candidate { dt { "待确认 candidate" } dd { (badge(c.0)) } }
            dt { "规则 rule" } dd { (i.rule.as_deref().unwrap_or("—")) }
            @if auth.is_some() {
                dt { "牵头 lead" } dd { (field("lead_zh")) " " span.en { (field("lead_en")) } }
                dt { "通报 notify" } dd { (field("notify")) }
            }
            dt { "开始 onset" } dd { (when(i.onset.ms())) }
            dt { "发现 detected" } dd { (when(i.detected_at.ms())) }
            dt { "确认 ack" }
            dd { @match &i.acknowledged_by { Some(by) => { (by) @if let Some(at) = i.acknowledged_at { " · " (when(at.ms())) } }, None => "未确认 not acknowledged" } }
            @if let Some(r) = i.resolved_at { dt { "解除 resolved" } dd { (when(r.ms())) } }
            @if let Some(c) = &i.cause { dt { "原因 cause" } dd { (c) } }
            @if let Some(f) = &i.false_positive { dt { "误报 false positive" } dd { (f) } }
        }
    }
}

fn timeline(entries: &[TimelineEntry]) -> Markup {
    html! {
        h2 { "时间线 Timeline" }
        div.table {
            table id="timeline" {
                tr { th { "#" } th { "时间 At" } th { "事件 Event" } th { "级别 Grade" } th { "详情 Details" } }
                @for e in entries {
                    tr data-event=(e.kind.as_str()) {
                        td { (e.seq) }
                        td { (when(e.at.ms())) }
                        td { (e.kind.as_str()) }
                        td { @if let Some(g) = e.grade { (badge(g.0)) } }
                        td { (text(&e.payload)) }
                    }
                }
            }
        }
    }
}

fn evidence(v: &Value) -> Markup {
    let rows = v.as_array().map(Vec::as_slice).unwrap_or_default();
    let pct = |x: &Value| {
        x.as_f64()
            .map_or("—".into(), |f| format!("{:.2}%", f * 100.0))
    };
    html! {
        h2 { "证据 Evidence" }
        div.table {
            table id="evidence" {
                tr { th { "服务器 Server" } th { "样本 Samples" } th { "成功率 Success" } th { "数据错误 Data errors" } th { "判定 Verdict" } }
                @for e in rows {
                    tr {
                        td { (text(&e["server"])) }
                        td { (e["samples"].as_u64().unwrap_or(0)) }
                        td { (pct(&e["success"])) }
                        td { (pct(&e["data_error"])) }
                        td {
                            @if e["stopped"].as_bool() == Some(true) { "停止 stopped " }
                            @if e["bad"].as_bool() == Some(true) { "异常 bad " }
                            @if e["unknown"].as_bool() == Some(true) { "未知 unknown" }
                        }
                    }
                }
            }
        }
    }
}

/// The incident page.
pub fn render_incident(
    d: &IncidentDetail,
    now: UnixMillis,
    clear_after_ms: u64,
    config: &crate::config::Config,
) -> String {
    let i = &d.incident;
    let title = format!(
        "#{} {} {} — {} — dnsgrade",
        i.id,
        i.grade.0.zh(),
        i.grade.0.roman(),
        i.object.as_str()
    );
    let body = html! {
        header.banner.{"lv-" (i.grade.0.roman())} id="banner" data-level=(i.grade.0.roman()) {
            div.big { "#" (i.id) " " (i.grade.0.zh()) " " (i.grade.0.roman()) " " span.en { (i.grade.0.en()) } }
            div.sub { (i.object.as_str()) }
        }
        main {
            p { a href="/" { "← 返回 back to the wallboard" } }
            div.card { (record(i, clear_after_ms)) }
            @if let Some(lead) = i.authority.as_ref().and_then(|a| a.get("lead_zh")).and_then(|v| v.as_str()) {
                dl { (super::call::who_to_call(config, lead)) }
            }
            @if !i.reasons_zh.is_empty() {
                h2 { "原因 Reasons" }
                ul.reasons {
                    @for (zh, en) in i.reasons_zh.iter().zip(i.reasons_en.iter()) { li { (zh) br; span.en { (en) } } }
                }
            }
            (timeline(&d.timeline))
            (evidence(&i.evidence))
            @if !d.confirmations.is_empty() {
                h2 { "影响确认 Impact confirmations" }
                ul { @for c in &d.confirmations { li { (badge(c.level.0)) " " (c.by) " · " (when(c.at.ms())) } } }
            }
        }
        footer.muted { "JSON: " a href={"/api/v1/incidents/" (i.id)} { "/api/v1/incidents/" (i.id) } }
    };
    page(&title, false, now, body).into_string()
}

/// The page for an id the ledger does not have.
pub fn render_not_found(id: &str, now: UnixMillis) -> String {
    let body = html! {
        main {
            h2 { "未找到事件 incident " (id) " not found" }
            p { a href="/" { "← 返回 back to the wallboard" } }
        }
    };
    page("not found — dnsgrade", false, now, body).into_string()
}
