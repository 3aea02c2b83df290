//! The report as people read it: HTML (printable to PDF, A4 landscape, charts as inline SVG)
//! and CSV (one row per incident, with a header). Times are shown in +08:00; the figures a
//! test checks carry `data-figure` attributes with their raw values.

use super::{Availability, Listed, Report, ReportIncident, Summary};
use crate::incident::Timestamp;
use crate::level::Level;
use std::fmt::Write;

/// The grades in column order.
const GRADES: [Level; 4] = [Level::I, Level::II, Level::III, Level::IV];

fn esc(s: &str) -> String {
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

/// `2026-06-20T10:00:00+08:00`.
fn cst(t: Timestamp) -> String {
    let ms = i64::try_from(t.0).unwrap_or(i64::MAX);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts
            .to_zoned(super::cst())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
        Err(_) => t.rfc3339(),
    }
}

fn opt_time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".into(), cst)
}

/// `1h02m05s`, `24h`, `1h30m`, `45s`.
pub(super) fn dur(s: u64) -> String {
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m, sec) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m:02}m"),
        (h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
    }
}

fn grade_cell(l: Level) -> String {
    format!(
        "<span class=\"g g{r}\">{zh} {r}</span> <span class=\"en\">{en}</span>",
        r = l.roman(),
        zh = l.zh(),
        en = l.en()
    )
}

fn colour(l: Level) -> &'static str {
    match l {
        Level::I => "#c62828",
        Level::II => "#ef6c00",
        Level::III => "#f9a825",
        Level::IV => "#1565c0",
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.4}%", v * 100.0))
}

const STYLE: &str = "@page{size:A4 landscape;margin:12mm}\
body{font-family:'Noto Sans CJK SC','Noto Sans',sans-serif;font-size:10pt;color:#111}\
h1{font-size:16pt;margin:0 0 4pt}h2{font-size:12pt;margin:14pt 0 4pt;break-after:avoid}\
table{border-collapse:collapse;margin:4pt 0}td,th{border:1px solid #999;padding:2pt 5pt;\
vertical-align:top}th{background:#eee}.en{color:#555}.g{font-weight:bold}.gI{color:#c62828}\
.gII{color:#ef6c00}.gIII{color:#b28704}.gIV{color:#1565c0}tr{break-inside:avoid}\
svg{margin:4pt 0}";

/// The report as one HTML page.
pub fn html(r: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <title>域名系统安全事件定期报告 {from} – {to}</title><style>{STYLE}</style></head><body>\
         <h1>域名系统安全事件定期报告 <span class=\"en\">Periodic report of DNS incidents</span></h1>\
         <p>报告期 Period: <b data-figure=\"from\">{from}</b> – <b data-figure=\"to\">{to}</b> \
         (both days included, time zone {tz}) · generated {gen}</p>",
        from = esc(&r.period.from),
        to = esc(&r.period.to),
        tz = esc(&r.time_zone),
        gen = cst(r.generated_at),
    );
    out.push_str(&summary_section(r));
    out.push_str(&counts_section(r));
    out.push_str("<h2>各月事件 Incidents per month, by grade</h2>");
    out.push_str(&month_chart(r));
    out.push_str("<h2>处置时长 Time to resolve, per incident</h2>");
    out.push_str(&resolve_chart(&r.incidents));
    out.push_str(&incidents_section(&r.incidents));
    out.push_str(&availability_section(&r.availability));
    out.push_str(&listed_section("应急演练 Drills held", "drills", &r.drills));
    out.push_str(&listed_section(
        "误报 False positives",
        "false-positives",
        &r.false_positives,
    ));
    out.push_str("</body></html>\n");
    out
}

fn summary_row(out: &mut String, what: &str, key: &str, s: &Summary) {
    let cell = |v: Option<String>, k: &str, raw: String| {
        format!(
            "<td data-figure=\"{key}-{k}\" data-value=\"{raw}\">{}</td>",
            v.unwrap_or_else(|| "-".into())
        )
    };
    let _ = write!(
        out,
        "<tr><th>{what}</th><td data-figure=\"{key}-count\">{}</td>{}{}{}</tr>",
        s.count,
        cell(
            s.median_s.map(|m| dur(m.round() as u64)),
            "median",
            s.median_s.map_or(String::new(), |m| m.to_string())
        ),
        cell(
            s.p90_s.map(dur),
            "p90",
            s.p90_s.map_or(String::new(), |m| m.to_string())
        ),
        cell(
            s.max_s.map(dur),
            "max",
            s.max_s.map_or(String::new(), |m| m.to_string())
        ),
    );
}

fn summary_section(r: &Report) -> String {
    let a = &r.acknowledged_within;
    let mut out = format!(
        "<h2>概要 Summary</h2><table id=\"summary\">\
         <tr><th>事件 Incidents</th><td data-figure=\"incidents\">{}</td></tr>\
         <tr><th>{}内确认 Acknowledged within {}</th><td><span data-figure=\"ack-within-count\">{}</span> of \
         <span data-figure=\"ack-within-total\">{}</span> (<span data-figure=\"ack-within-share\">{}</span>)</td></tr>\
         <tr><th>应急演练 Drills held</th><td data-figure=\"drills\">{}</td></tr>\
         <tr><th>误报 False positives</th><td data-figure=\"false-positives\">{}</td></tr></table>\
         <table id=\"times\"><tr><th></th><th>n</th><th>median</th><th>p90</th><th>max</th></tr>",
        r.incidents.len(),
        dur(a.within_s),
        dur(a.within_s),
        a.count,
        a.total,
        pct(a.share),
        r.drills.len(),
        r.false_positives.len(),
    );
    summary_row(
        &mut out,
        "发现时长 Time to detect",
        "detect",
        &r.time_to_detect,
    );
    summary_row(
        &mut out,
        "确认时长 Time to acknowledge",
        "ack",
        &r.time_to_acknowledge,
    );
    summary_row(
        &mut out,
        "处置时长 Time to resolve",
        "resolve",
        &r.time_to_resolve,
    );
    out.push_str("</table>");
    out
}

fn counts_section(r: &Report) -> String {
    let mut out = String::from(
        "<h2>分类分级 Incidents per class and grade</h2><table id=\"counts\"><tr><th>class</th>",
    );
    for g in GRADES {
        let _ = write!(out, "<th>{}</th>", grade_cell(g));
    }
    out.push_str("<th>total</th></tr>");
    for c in &r.counts {
        let _ = write!(
            out,
            "<tr><th>{} <span class=\"en\">{}</span></th>",
            esc(&c.class_zh),
            esc(&c.class)
        );
        for (g, n) in GRADES.iter().zip(c.by_grade) {
            let _ = write!(
                out,
                "<td data-figure=\"count-{}-{}\">{n}</td>",
                c.class,
                g.roman()
            );
        }
        let _ = write!(
            out,
            "<td data-figure=\"count-{}-total\">{}</td></tr>",
            c.class, c.total
        );
    }
    out.push_str("</table>");
    out
}

/// Stacked bars: incidents detected per month, one colour per grade.
fn month_chart(r: &Report) -> String {
    let (w, h, left, bottom) = (640.0, 220.0, 40.0, 30.0);
    let max = r
        .per_month
        .iter()
        .map(|m| m.by_grade.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = r.per_month.len().max(1) as f64;
    let slot = (w - left) / n;
    let mut out = format!("<svg id=\"chart-month\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"incidents per month by grade\">");
    let _ = write!(out, "<line x1=\"{left}\" y1=\"{y}\" x2=\"{w}\" y2=\"{y}\" stroke=\"#333\"/><text x=\"2\" y=\"12\" font-size=\"10\">{max}</text>", y = h - bottom);
    for (i, m) in r.per_month.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.2;
        let mut y = h - bottom;
        for g in [Level::IV, Level::III, Level::II, Level::I] {
            let v = m.by_grade[super::column(g)];
            if v == 0 {
                continue;
            }
            let bh = (h - bottom - 16.0) * v as f64 / max;
            y -= bh;
            let _ = write!(out, "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{c}\" data-month=\"{mo}\" data-grade=\"{g}\" data-count=\"{v}\"><title>{mo} {g}: {v}</title></rect>", bw = slot * 0.6, c = colour(g), mo = m.month, g = g.roman());
        }
        let _ = write!(
            out,
            "<text x=\"{tx:.1}\" y=\"{ty}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            m.month,
            tx = x + slot * 0.3,
            ty = h - 12.0
        );
    }
    for (i, g) in GRADES.iter().enumerate() {
        let _ = write!(out, "<rect x=\"{x}\" y=\"4\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{tx}\" y=\"13\" font-size=\"10\">{} {}</text>", colour(*g), g.zh(), g.roman(), x = 80 + i * 90, tx = 94 + i * 90);
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars: each resolved incident's time to resolve.
fn resolve_chart(incidents: &[ReportIncident]) -> String {
    let resolved: Vec<&ReportIncident> = incidents
        .iter()
        .filter(|i| i.time_to_resolve_s.is_some())
        .collect();
    let (w, row, left) = (640.0, 16.0, 150.0);
    let h = 20.0 + row * resolved.len().max(1) as f64;
    let max = resolved
        .iter()
        .filter_map(|i| i.time_to_resolve_s)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut out = format!("<svg id=\"chart-resolve\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"time to resolve per incident\">");
    for (k, i) in resolved.iter().enumerate() {
        let s = i.time_to_resolve_s.unwrap_or(0);
        let y = 10.0 + row * k as f64;
        let bw = (w - left - 80.0) * s as f64 / max;
        let _ = write!(out, "<text x=\"2\" y=\"{ty:.1}\" font-size=\"10\">#{} {}</text><rect x=\"{left}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{c}\" data-incident=\"{}\" data-seconds=\"{s}\"/><text x=\"{lx:.1}\" y=\"{ty:.1}\" font-size=\"10\">{}</text>", i.id, esc(&i.object), i.id, dur(s), ty = y + 10.0, bh = row - 4.0, c = colour(i.grade), lx = left + bw + 4.0);
    }
    if resolved.is_empty() {
        out.push_str("<text x=\"2\" y=\"14\" font-size=\"10\">无 none resolved</text>");
    }
    out.push_str("</svg>");
    out
}

/// Who was notified and when: deliveries (sink, event, time or state) and receipts.
fn notified(i: &ReportIncident, sep: &str) -> String {
    let mut parts: Vec<String> = i
        .notifications
        .iter()
        .map(|n| match n.delivered_at {
            Some(t) => format!(
                "{} {} {} (HTTP {})",
                n.sink,
                n.kind,
                cst(t),
                n.last_status.unwrap_or(0)
            ),
            None => format!("{} {} {}", n.sink, n.kind, n.state),
        })
        .collect();
    parts.extend(
        i.receipts
            .iter()
            .map(|r| format!("receipt {} {}", r.organisation, cst(r.at))),
    );
    parts.join(sep)
}

fn incidents_section(incidents: &[ReportIncident]) -> String {
    let mut out = String::from("<h2>事件记录 Incidents</h2><table id=\"incidents\"><tr><th>#</th><th>object</th><th>grade</th>\
        <th>onset / detection</th><th>acknowledged</th><th>resolved</th><th>time to resolve</th><th>cause / result</th>\
        <th>organisations</th><th>notified</th><th>reported / confirmed</th></tr>");
    for i in incidents {
        let _ = write!(
            out,
            "<tr data-incident=\"{id}\"><td>{id}</td><td>{obj}</td><td>{g}</td><td>{on}<br>{det}</td>\
             <td>{ack}{late}</td><td>{res}</td><td data-figure=\"resolve-{id}\">{ttr}</td><td>{cause}<br>{result}</td>\
             <td>{orgs}</td><td>{notified}</td><td>{rep}<br>{conf}</td></tr>",
            id = i.id,
            obj = esc(&i.object),
            g = grade_cell(i.grade),
            on = cst(i.onset),
            det = cst(i.detected_at),
            ack = opt_time(i.acknowledged_at),
            late = if i.acknowledged_in_time { "" } else { " <b>(late or missing)</b>" },
            res = opt_time(i.resolved_at),
            ttr = i.time_to_resolve_s.map_or_else(|| "-".into(), dur),
            cause = esc(i.cause.as_deref().unwrap_or("-")),
            result = esc(i.result.as_deref().unwrap_or("-")),
            orgs = esc(&i.organisations.join(", ")),
            notified = esc(&notified(i, "; ")),
            rep = match &i.reported_to {
                Some(to) => format!("{} {}", esc(to), opt_time(i.reported_at)),
                None => "-".into(),
            },
            conf = opt_time(i.coordinator_confirmed_at),
        );
    }
    out.push_str("</table>");
    out
}

fn availability_section(rows: &[Availability]) -> String {
    let mut out = String::from("<h2>可用性 Availability per object and month</h2>\
        <p>Share of the measured time without an open incident of grade I, of II or worse, of III or worse, of any grade (IV).</p>\
        <table id=\"availability\"><tr><th>object</th><th>month</th><th>measured</th>");
    for g in GRADES {
        let _ = write!(out, "<th>without {}</th>", grade_cell(g));
    }
    out.push_str("</tr>");
    for a in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            esc(&a.object),
            a.month,
            dur(a.measured_s)
        );
        for (g, v) in GRADES.iter().zip(a.without) {
            let _ = write!(
                out,
                "<td data-figure=\"avail-{}-{}-{}\" data-value=\"{}\">{}</td>",
                esc(&a.object),
                a.month,
                g.roman(),
                v.map_or(String::new(), |v| v.to_string()),
                pct(v)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

fn listed_section(title: &str, id: &str, rows: &[Listed]) -> String {
    let mut out = format!("<h2>{title}</h2><table id=\"{id}\"><tr><th>#</th><th>object</th><th>grade</th><th>detected</th><th>resolved</th><th>reason</th></tr>");
    for l in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            l.id,
            esc(&l.object),
            grade_cell(l.grade),
            cst(l.detected_at),
            opt_time(l.resolved_at),
            esc(l.reason.as_deref().unwrap_or("-"))
        );
    }
    if rows.is_empty() {
        out.push_str("<tr><td colspan=\"6\">无 none</td></tr>");
    }
    out.push_str("</table>");
    out
}

/// The CSV header.
pub const CSV_HEADER: &str = "id,object,class,grade,grade_zh,onset,detected_at,acknowledged_at,acknowledged_by,\
acknowledged_in_time,resolved_at,time_to_detect_s,time_to_acknowledge_s,time_to_resolve_s,cause,result,\
organisations,notified,reported_to,reported_at,coordinator_confirmed_at,maintenance";

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The incidents of the report, one row each, with [`CSV_HEADER`].
pub fn csv(r: &Report) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    let t = |v: Option<Timestamp>| v.map(cst).unwrap_or_default();
    let n = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for i in &r.incidents {
        let cells = [
            i.id.to_string(),
            i.object.clone(),
            i.class.clone(),
            i.grade.roman().to_string(),
            i.grade.zh().to_string(),
            cst(i.onset),
            cst(i.detected_at),
            t(i.acknowledged_at),
            i.acknowledged_by.clone().unwrap_or_default(),
            i.acknowledged_in_time.to_string(),
            t(i.resolved_at),
            i.time_to_detect_s.to_string(),
            n(i.time_to_acknowledge_s),
            n(i.time_to_resolve_s),
            i.cause.clone().unwrap_or_default(),
            i.result.clone().unwrap_or_default(),
            i.organisations.join("; "),
            notified(i, "; "),
            i.reported_to.clone().unwrap_or_default(),
            t(i.reported_at),
            t(i.coordinator_confirmed_at),
            i.maintenance.to_string(),
        ];
        let row: Vec<String> = cells.iter().map(|c| field(c)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
