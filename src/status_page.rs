//! The status page at `/`: one server-rendered HTML page for the NOC wall. No scripts; it
//! reloads itself every 10 s. Grade names in Chinese with the English beside, colours of the
//! plan (red, orange, yellow, blue), the lead authority, the time a running clock escalates,
//! and a banner when this vantage point is cut off.

use crate::clock::UnixMillis;
use crate::evaluator::Board;
use crate::grading::Level;
use crate::incident::{rfc3339, Incident};
use std::fmt::Write;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn css_colour(l: Level) -> &'static str {
    match l {
        Level::I => "#c62828",
        Level::II => "#ef6c00",
        Level::III => "#f9a825",
        Level::IV => "#1565c0",
    }
}

fn badge(l: Level) -> String {
    format!(
        "<span class=\"grade\" data-level=\"{r}\" style=\"background:{c}\">{zh} {en} · {r}</span>",
        r = l.roman(),
        c = css_colour(l),
        zh = l.zh(),
        en = esc(l.en())
    )
}

/// Renders the page.
///
/// Long on purpose: the page's HTML from top to bottom (head, banner, objects, incidents),
/// written in the order the browser shows it.
pub fn render(board: &Board, open: &[Incident], now: UnixMillis) -> String {
    let mut h = String::new();
    let worst = board
        .objects
        .iter()
        .filter_map(|o| o.assessment.grade)
        .max();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"10\">\
         <title>{title}</title><style>\
         body{{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:1.5em;background:#fafafa;color:#212121}}\
         h1{{font-size:1.4em}} table{{border-collapse:collapse;width:100%;background:#fff}}\
         th,td{{border-bottom:1px solid #e0e0e0;padding:.45em .6em;text-align:left;vertical-align:top;font-size:.92em}}\
         th{{background:#eceff1}} .grade{{color:#fff;padding:.15em .5em;border-radius:.3em;white-space:nowrap;font-weight:600}}\
         .ok{{color:#2e7d32;font-weight:600}} .candidate{{border:2px dashed #c62828;padding:.1em .4em;border-radius:.3em}}\
         .banner{{background:#c62828;color:#fff;padding:.8em 1em;font-weight:700;margin-bottom:1em;border-radius:.3em}}\
         .reg-unavailable{{color:#c62828;font-weight:700}} .reg-degraded{{color:#ef6c00;font-weight:600}} .reg-ok{{color:#2e7d32}}\
         .muted{{color:#757575}} .drill{{background:#6a1b9a;color:#fff;padding:0 .4em;border-radius:.3em}}\
         </style></head><body>",
        title = match worst {
            Some(l) => format!("{} {} — dnsgrade", l.zh(), l.roman()),
            None => "正常 OK — dnsgrade".to_string(),
        }
    );
    let _ = write!(
        h,
        "<h1>dnsgrade — 域名系统运行状态 DNS health by the MIIT plan's matrix</h1>\
         <p class=\"muted\">评估时间 evaluated at {} · 页面时间 page at {}</p>",
        rfc3339(board.at),
        rfc3339(now)
    );
    if board.isolated {
        let _ = write!(
            h,
            "<div class=\"banner\" id=\"isolated\">监测点失联 monitor.isolated — {} of {} control targets fail: \
             this vantage point is cut off, grading is suspended (no incident opens; open ones are held).</div>",
            board.control_failing, board.control_addresses
        );
    }
    let _ = write!(
        h,
        "<h2>对象 Objects</h2><table id=\"objects\"><tr><th>类别 Class</th><th>对象 Object</th><th>级别 Grade</th>\
         <th>原因 Reasons</th><th>牵头 Lead</th><th>升级 Next escalation</th><th>服务器 Servers</th></tr>"
    );
    for o in &board.objects {
        let a = &o.assessment;
        let grade = match a.grade {
            Some(l) => badge(l),
            None => "<span class=\"ok\">正常 OK</span>".to_string(),
        };
        let candidate = a
            .candidate
            .map(|c| {
                format!(
                    " <span class=\"candidate\">待确认 candidate {} {}</span>",
                    c.zh(),
                    c.roman()
                )
            })
            .unwrap_or_default();
        let reasons: Vec<String> = a
            .reasons_zh
            .iter()
            .zip(a.reasons_en.iter())
            .map(|(zh, en)| format!("{}<br><span class=\"muted\">{}</span>", esc(zh), esc(en)))
            .collect();
        let lead = a
            .authority
            .as_ref()
            .map(|x| {
                let notify = if x.notify.is_empty() {
                    String::new()
                } else {
                    format!(
                        "<br><span class=\"muted\">通报 notify: {}</span>",
                        esc(&x.notify.join("、"))
                    )
                };
                format!(
                    "{}<br><span class=\"muted\">{}</span>{notify}",
                    esc(&x.lead_zh),
                    esc(&x.lead_en)
                )
            })
            .unwrap_or_default();
        let next = a
            .next_escalation
            .map(|n| format!("{} at {}", badge(n.grade), rfc3339(n.at)))
            .unwrap_or_default();
        let bad = a.evidence.iter().filter(|e| e.bad).count();
        let unknown = a.evidence.iter().filter(|e| e.unknown).count();
        let name = if o.display_name != o.name {
            format!("{} ({})", esc(&o.display_name), esc(&o.name))
        } else {
            esc(&o.name)
        };
        let tier = o.tier.map(|t| format!(" · tier {t}")).unwrap_or_default();
        // Registry services (注册服务 EPP, 查询服务 RDAP/WHOIS), each with its state.
        let registry = o
            .registry
            .as_ref()
            .map(|r| {
                let list: Vec<String> = r
                    .services
                    .iter()
                    .map(|s| {
                        let st = s.state.as_str();
                        format!(
                            "<span class=\"reg-{st}\">{} {st}</span>",
                            s.service.as_str().to_uppercase()
                        )
                    })
                    .collect();
                format!("<br>注册/查询 registry: {}", list.join(" · "))
            })
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr data-object=\"{key}\"><td>{class_zh}<br><span class=\"muted\">{class}{tier}</span></td><td>{name}</td>\
             <td>{grade}{candidate}</td><td>{reasons}</td><td>{lead}</td><td>{next}</td>\
             <td>{n} addresses · {bad} bad · {unknown} unknown{registry}</td></tr>",
            key = esc(&crate::config::ObjectKey::new(o.class, &o.name)),
            class_zh = o.class.zh(),
            class = o.class.as_str(),
            reasons = reasons.join("<br>"),
            n = a.evidence.len(),
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<h2>未结事件 Open incidents</h2><table id=\"incidents\"><tr><th>#</th><th>对象 Object</th><th>级别 Grade</th>\
         <th>最高 Max</th><th>开始 Since</th><th>确认 Acknowledged</th></tr>"
    );
    if open.is_empty() {
        h.push_str("<tr><td colspan=\"6\" class=\"muted\">无 none</td></tr>");
    }
    for i in open {
        let ack = match &i.acknowledged_by {
            Some(by) => esc(by),
            None => "<span class=\"muted\">—</span>".into(),
        };
        let _ = write!(
            h,
            "<tr><td>{id}{drill}{maint}</td><td>{obj}</td><td>{g}</td><td>{m}</td><td>{since}</td><td>{ack}</td></tr>",
            id = i.id,
            drill = if i.drill { " <span class=\"drill\">演练 drill</span>" } else { "" },
            maint = if i.maintenance { " <span class=\"muted\">维护 maintenance</span>" } else { "" },
            obj = esc(&i.object),
            g = badge(i.grade.0),
            m = badge(i.max_grade.0),
            since = rfc3339(i.onset.0),
        );
    }
    h.push_str("</table><p class=\"muted\">JSON: <a href=\"/api/v1/status\">/api/v1/status</a> · <a href=\"/api/v1/incidents\">/api/v1/incidents</a> · <a href=\"/metrics\">/metrics</a></p></body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn empty_board_renders_ok() {
        let page = render(&Board::default(), &[], 0);
        assert!(page.contains("正常 OK"));
        assert!(!page.contains("id=\"isolated\""));
        let page = render(
            &Board {
                isolated: true,
                control_addresses: 3,
                control_failing: 3,
                ..Board::default()
            },
            &[],
            0,
        );
        assert!(page.contains("monitor.isolated"));
    }
}
