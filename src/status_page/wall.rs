//! The wallboard's parts: the isolation warning, the banner with the worst grade, one card per
//! object, the open incidents and the resolved ones.

use super::agree::{Agreement, Row};
use super::call::who_to_call;
use super::chrome::{badge, badge_or_ok, countdown, when};
use super::spark::sparklines;
use crate::clock::UnixMillis;
use crate::config::Config;
use crate::evaluator::{Board, ObjectStatus};
use crate::grading::Level;
use crate::incident::Incident;
use crate::stats::Trends;
use maud::{html, Markup};

/// The full-width warning that this vantage point is cut off.
pub fn isolation(board: &Board) -> Markup {
    html! {
        @if board.isolated {
            div.isolated id="isolated" role="alert" {
                "⚠ 监测点失联 monitor.isolated — " (board.control_failing) " / "
                (board.control_addresses) " 个对照目标失败 control targets fail: 本监测点被隔断，分级暂停，"
                "已开事件保持不变 this vantage point is cut off; grading is suspended, open incidents are held."
            }
        }
        @if board.local_fault {
            div.isolated id="local-fault" role="alert" {
                "⚠ 监测点自身故障 monitor.local_fault — " (board.local_fault_addresses) " / "
                (board.probed_addresses) " 个地址的探测无法发出 addresses had probes this host could not make "
                "(文件描述符、缓冲区或端口耗尽 file descriptors, buffers or ports): 分级暂停，已开事件保持不变 "
                "grading is suspended, open incidents are held."
            }
        }
    }
}

/// The worst current grade of the board's objects (what `/api/v1/status` says).
pub fn worst(board: &Board) -> Option<Level> {
    board
        .objects
        .iter()
        .filter_map(|o| o.assessment.grade)
        .max()
}

/// The banner: the worst grade, big, in its colour, readable across the room.
pub fn banner(board: &Board, rows: &[Row<'_>], now: UnixMillis) -> Markup {
    let worst = worst(board);
    let graded: Vec<&Row<'_>> = rows
        .iter()
        .filter(|r| r.object.assessment.grade.is_some())
        .collect();
    let clearing = rows
        .iter()
        .filter(|r| matches!(r.agreement, Agreement::Clearing { .. }))
        .count();
    let level = worst.map_or("none", Level::roman);
    html! {
        header.banner.{"lv-" (level)} id="banner" data-level=(level) {
            div.big {
                @match worst {
                    Some(l) => { (l.zh()) " " (l.roman()) " " span.en { (l.en()) } },
                    None => { "正常 OK" },
                }
            }
            div.sub {
                @if graded.is_empty() {
                    "没有对象处于事件级别 no object is graded"
                } @else {
                    (graded.len()) " 个对象有级别 objects graded — 最严重 worst: "
                    (graded[0].object.display_name)
                }
                @if clearing > 0 {
                    " · " (clearing) " 个事件消除中 clearing"
                }
            }
            div.sub.muted {
                "评估 evaluated " (when(board.at)) " · 页面 page " (when(now))
            }
        }
    }
}

/// The grade line of a card: the object's grade and, when it legitimately differs, its open
/// incident's beside it (never one silently for the other).
fn state_line(row: &Row<'_>) -> Markup {
    let a = &row.object.assessment;
    html! {
        div.state {
            span.now-grade { (badge_or_ok(a.grade)) }
            @if let Some(c) = a.candidate {
                " " span.candidate { "待确认 candidate " (c.zh()) " " (c.roman()) }
            }
            @if let (Some(inc), true) = (row.incident, row.agreement.shows_both()) {
                span.both {
                    span.incident-grade data-level=(inc.grade.0.roman()) {
                        "事件 incident #" (inc.id) " " (badge(inc.grade.0))
                    }
                    " "
                    @match row.agreement {
                        Agreement::Clearing { resolves_at } => span.clearing {
                            "消除中 clearing；当前无级别 now no grade — 解除于 resolves at "
                            (when(resolves_at))
                        },
                        Agreement::Held => span { "监测点失联，事件保持 held while isolated；当前评估不可信 the fresh grade is not trusted" },
                        Agreement::Drill => span.drill { "演练 drill" },
                        _ => span { "与当前评估不同 differs from the grade now (a change between ticks)" },
                    }
                }
            }
        }
    }
}

/// The lead and whom to notify as the incident recorded them (`grading::Authority` as JSON).
fn incident_lead(inc: &Incident) -> Option<(String, String, String)> {
    let a = inc.authority.as_ref()?;
    let text = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let notify: Vec<&str> = a
        .get("notify")
        .and_then(|v| v.as_array())
        .map(|v| v.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    Some((text("lead_zh"), text("lead_en"), notify.join("、")))
}

/// Who leads, who is notified, the acknowledgement and the escalation ahead.
fn duties(row: &Row<'_>, now: UnixMillis, config: &Config) -> Markup {
    let a = &row.object.assessment;
    html! {
        dl {
            @if let Some(x) = &a.authority {
                dt { "牵头 lead" } dd.lead { (x.lead_zh) " " span.en { (x.lead_en) } }
                (who_to_call(config, &x.lead_zh))
                @if !x.notify.is_empty() {
                    dt { "通报 notify" } dd.notify { (x.notify.join("、")) }
                }
            } @else if let Some((zh, en, notify)) = row.incident.and_then(incident_lead) {
                // No grade now (clearing, held): the open incident's lead still holds it.
                dt { "牵头 lead" } dd.lead { (zh) " " span.en { (en) } " " span.muted { "(事件 incident)" } }
                (who_to_call(config, &zh))
                @if !notify.is_empty() {
                    dt { "通报 notify" } dd.notify { (notify) }
                }
            }
            @if let Some(inc) = row.incident {
                dt { "事件 incident" }
                dd { a href={"/incidents/" (inc.id)} { "#" (inc.id) } " · 开始 since " (when(inc.onset.ms())) }
                dt { "确认 ack" }
                dd.ack data-acknowledged=(inc.acknowledged_by.is_some()) {
                    @match (&inc.acknowledged_by, inc.acknowledged_at) {
                        (Some(by), Some(at)) => { "已确认 acknowledged by " strong { (by) } " · " (when(at.ms())) },
                        (Some(by), None) => { "已确认 acknowledged by " strong { (by) } },
                        _ => strong { "未确认 not acknowledged" },
                    }
                }
            }
            @if let Some(n) = a.next_escalation {
                dt { "升级 escalates" }
                dd.next data-at=(n.at) {
                    "→ " (badge(n.grade)) " 于 at " (when(n.at)) br;
                    "剩余 in " (countdown(n.at, now))
                }
            }
        }
    }
}

fn name(o: &ObjectStatus) -> Markup {
    html! {
        h3 {
            (o.display_name)
            @if o.display_name != o.name { " " span.muted { "(" (o.name) ")" } }
        }
        div.muted {
            (o.class.zh()) " " (o.class.as_str())
            @if let Some(t) = o.tier { " · tier " (t) }
            " · " (o.assessment.object.as_str())
        }
    }
}

fn evidence(o: &ObjectStatus) -> Markup {
    let a = &o.assessment;
    let bad = a.evidence.iter().filter(|e| e.bad).count();
    let unknown = a.evidence.iter().filter(|e| e.unknown).count();
    html! {
        @if !a.reasons_zh.is_empty() {
            ul.reasons {
                @for (zh, en) in a.reasons_zh.iter().zip(a.reasons_en.iter()) {
                    li { (zh) br; span.en { (en) } }
                }
            }
        }
        div.muted {
            (a.evidence.len()) " 个地址 addresses · " (bad) " 异常 bad · " (unknown) " 未知 unknown"
            @if let Some(r) = &o.registry {
                br; "注册/查询 registry: "
                @for s in &r.services {
                    @let st = s.state.as_str();
                    span.{"reg-" (st)} { (s.service.as_str().to_uppercase()) " " (st) } " "
                }
            }
        }
    }
}

/// One object's card.
pub fn card(row: &Row<'_>, trends: &Trends, now: UnixMillis, config: &Config) -> Markup {
    let o = row.object;
    let key = o.assessment.object.as_str();
    let sev = row.severity().map_or("none", Level::roman);
    html! {
        article.card.{"sev-" (sev)} data-object=(key)
            data-grade=(o.assessment.grade.map_or("none", Level::roman))
            data-incident=[row.incident.map(|i| i.id)]
            data-incident-grade=[row.incident.map(|i| i.grade.0.roman())]
            data-agreement=(row.agreement.as_str()) {
            (name(o))
            (state_line(row))
            (duties(row, now, config))
            (sparklines(trends.get(&o.assessment.object)))
            (evidence(o))
        }
    }
}

/// The open incidents, as the board's snapshot of the ledger has them.
pub fn open_incidents(open: &[Incident]) -> Markup {
    html! {
        h2 { "未结事件 Open incidents (" (open.len()) ")" }
        div.table {
            table id="incidents" {
                tr { th { "#" } th { "对象 Object" } th { "级别 Grade" } th { "最高 Max" } th { "开始 Since" } th { "确认 Ack" } }
                @if open.is_empty() {
                    tr { td colspan="6" .muted { "无 none" } }
                }
                @for i in open {
                    tr data-incident-id=(i.id) data-object=(i.object.as_str()) data-grade=(i.grade.0.roman()) {
                        td {
                            a href={"/incidents/" (i.id)} { "#" (i.id) }
                            @if i.drill { " " span.drill { "演练 drill" } }
                            @if i.maintenance { " " span.muted { "维护 maintenance" } }
                            @if i.clearing_since.is_some() { " " span.clearing { "消除中 clearing" } }
                            @if i.false_positive.is_some() { " " span.muted { "误报 false positive" } }
                        }
                        td { (i.object.as_str()) }
                        td { (badge(i.grade.0)) }
                        td { (badge(i.max_grade.0)) }
                        td { (when(i.onset.ms())) }
                        td { @match &i.acknowledged_by { Some(by) => { (by) }, None => span.muted { "—" } } }
                    }
                }
            }
        }
    }
}

/// The incidents resolved in the last 30 days.
pub fn resolved(list: &[Incident]) -> Markup {
    html! {
        h2 { "近 30 天已解除 Resolved in the last 30 days (" (list.len()) ")" }
        div.table {
            table id="resolved" {
                tr { th { "#" } th { "对象 Object" } th { "最高 Max" } th { "开始 Onset" } th { "解除 Resolved" } }
                @if list.is_empty() {
                    tr { td colspan="5" .muted { "无 none" } }
                }
                @for i in list {
                    tr data-incident-id=(i.id) {
                        td {
                            a href={"/incidents/" (i.id)} { "#" (i.id) }
                            @if i.drill { " " span.drill { "演练 drill" } }
                        }
                        td { (i.object.as_str()) }
                        td { (badge(i.max_grade.0)) }
                        td { (when(i.onset.ms())) }
                        td { @if let Some(r) = i.resolved_at { (when(r.ms())) } }
                    }
                }
            }
        }
    }
}
