//! What every page shares: the head (viewport, refresh, styles), grade badges, times in
//! Asia/Shanghai and UTC, the countdown's text and its small script.

use crate::clock::UnixMillis;
use crate::grading::Level;
use maud::{html, Markup, PreEscaped, DOCTYPE};

/// A grade badge: `重大 II major`, in the grade's colour.
pub fn badge(l: Level) -> Markup {
    html! {
        span.grade.{"lv-" (l.roman())} data-level=(l.roman()) {
            (l.zh()) " " (l.roman()) " " span.en { (l.en()) }
        }
    }
}

/// A grade badge, or `正常 OK` for none.
pub fn badge_or_ok(l: Option<Level>) -> Markup {
    match l {
        Some(l) => badge(l),
        None => html! { span.ok data-level="none" { "正常 OK" } },
    }
}

fn civil(ms: UnixMillis, offset_hours: i8, fmt: &str) -> String {
    let ts = i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .unwrap_or(jiff::Timestamp::MAX);
    let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(offset_hours));
    ts.to_zoned(tz).strftime(fmt).to_string()
}

/// A time as duty officers read it: Beijing time first, UTC beside, e.g.
/// `2027-01-15 16:00:00 北京时间 (08:00:00 UTC)`.
pub fn when(ms: UnixMillis) -> Markup {
    html! {
        time datetime=(crate::clock::format_rfc3339(ms)) {
            (civil(ms, 8, "%Y-%m-%d %H:%M:%S")) " 北京时间 "
            span.utc { "(" (civil(ms, 0, "%H:%M:%S")) " UTC)" }
        }
    }
}

/// Time left, as the countdown shows it: `1:05:09`, `4:07`, `0:00` once passed.
pub fn remaining(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    let (h, m, x) = (s / 3600, s % 3600 / 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{x:02}")
    } else {
        format!("{m}:{x:02}")
    }
}

/// A countdown to `at`: server-rendered from `now` (so it reads right without scripts) and
/// kept running by the page's script, which counts from the server's clock, not the
/// browser's.
pub fn countdown(at: UnixMillis, now: UnixMillis) -> Markup {
    html! {
        span.countdown data-countdown=(at) { (remaining(at.saturating_sub(now))) }
    }
}

/// The countdown script: the only script of the pages. It takes the offset between the
/// server's clock (`data-now` of the body) and the browser's once, then rewrites every
/// `[data-countdown]` each second.
const SCRIPT: &str = "(function(){var b=document.body,o=Number(b.dataset.now)-Date.now();\
function p(n){return(n<10?'0':'')+n}\
function t(){var n=Date.now()+o;document.querySelectorAll('[data-countdown]').forEach(function(e){\
var s=Math.max(0,Math.ceil((Number(e.dataset.countdown)-n)/1000)),h=Math.floor(s/3600),m=Math.floor(s%3600/60);\
e.textContent=(h?h+':'+p(m):m)+':'+p(s%60)})}t();setInterval(t,1000)})();";

/// The styles: one sheet, no external assets. Cards flow in a grid that becomes one column
/// on a phone; long words (addresses, reasons) wrap instead of widening the page.
const CSS: &str = "\
*{box-sizing:border-box}\
html{-webkit-text-size-adjust:100%}\
body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:0;background:#eceff1;color:#212121;line-height:1.4;overflow-wrap:anywhere}\
a{color:#0d47a1}\
main{padding:0 1rem 1rem}\
h2{font-size:1.15rem;margin:1.2rem 0 .5rem}\
.muted,.en,.utc{color:#616161}\
.banner .en,.banner .muted,.banner .utc,.grade .en{color:inherit;opacity:.9}\
.isolated{background:#b71c1c;color:#fff;font-weight:700;padding:1rem;font-size:clamp(1.1rem,3vw,2rem);border-bottom:.4rem solid #ffeb3b}\
.banner{padding:1rem;color:#fff;background:#2e7d32}\
.banner .big{font-size:clamp(2.6rem,10vw,7rem);font-weight:800;line-height:1.05}\
.banner .big .en{font-size:.4em;font-weight:600;display:inline-block}\
.banner .sub{font-size:clamp(.95rem,2.2vw,1.4rem)}\
.lv-I{background:#c62828;color:#fff}.lv-II{background:#ef6c00;color:#fff}\
.lv-III{background:#f9a825;color:#212121}.lv-IV{background:#1565c0;color:#fff}\
.grade{padding:.1em .45em;border-radius:.3em;font-weight:700;display:inline-block}\
.ok{color:#2e7d32;font-weight:700}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,24rem),1fr));gap:.8rem}\
.card{background:#fff;border-radius:.4rem;padding:.8rem;border-left:.5rem solid #2e7d32;min-width:0}\
.card.sev-I{border-color:#c62828}.card.sev-II{border-color:#ef6c00}.card.sev-III{border-color:#f9a825}.card.sev-IV{border-color:#1565c0}\
.card h3{margin:0 0 .3rem;font-size:1.1rem}\
.card .state{font-size:1.35rem;margin:.2rem 0}\
.card dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .6rem;margin:.4rem 0}\
.card dt{color:#616161}.card dd{margin:0;min-width:0}\
.both{display:block;font-size:1rem;background:#fff8e1;border:1px dashed #ef6c00;padding:.2rem .4rem;margin-top:.3rem}\
.candidate{border:2px dashed #c62828;padding:.05em .4em;border-radius:.3em;font-size:.9rem}\
.countdown{font-variant-numeric:tabular-nums;font-weight:800;font-size:1.3rem}\
.clearing{color:#2e7d32;font-weight:700}\
.reasons{margin:.4rem 0 0;padding-left:1.1rem}.reasons li{margin:.15rem 0}\
.spark{display:flex;flex-wrap:wrap;gap:.4rem 1rem;margin:.4rem 0}.spark figure{margin:0}\
.spark figcaption{font-size:.8rem;color:#616161}.spark svg{display:block;width:10rem;height:2.4rem;background:#f5f5f5;border-bottom:1px solid #9e9e9e}\
.drill{background:#6a1b9a;color:#fff;padding:0 .4em;border-radius:.3em}\
.reg-unavailable{color:#c62828;font-weight:700}.reg-degraded{color:#ef6c00;font-weight:600}.reg-ok{color:#2e7d32}\
.table{overflow-x:auto;max-width:100%}\
table{border-collapse:collapse;width:100%;background:#fff}\
th,td{border-bottom:1px solid #e0e0e0;padding:.35rem .5rem;text-align:left;vertical-align:top}\
th{background:#cfd8dc}\
footer{padding:1rem;font-size:.9rem}\
body.wall main{padding:0 1.5rem 1rem}\
body.wall .card{font-size:1.15rem}\
body.wall .card .state{font-size:1.8rem}\
body.wall .countdown{font-size:1.8rem}\
body.wall .banner .big{font-size:clamp(3rem,12vw,11rem)}\
";

/// The page around `body`: head with the viewport and a 10 s refresh, the body's classes
/// and the server's time for the countdown, then the script.
pub fn page(title: &str, wall: bool, now: UnixMillis, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content="10";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body.wall[wall] data-now=(now) {
                (body)
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_beijing_with_utc_beside() {
        // 2027-01-15T08:00:00Z
        let t = when(1_800_000_000_000).into_string();
        assert_eq!(
            t,
            "<time datetime=\"2027-01-15T08:00:00.000Z\">2027-01-15 16:00:00 北京时间 \
             <span class=\"utc\">(08:00:00 UTC)</span></time>"
        );
    }

    #[test]
    fn countdown_text() {
        assert_eq!(remaining(0), "0:00");
        assert_eq!(remaining(1), "0:01");
        assert_eq!(remaining(247_000), "4:07");
        assert_eq!(remaining(3_909_000), "1:05:09");
    }
}
