//! Sparklines: the last hour of an object's success ratio and data error ratio, one point a
//! minute, as inline SVG (no external assets, nothing to load).

use crate::stats::{Trend, TREND_MINUTES};
use maud::{html, Markup};

const W: f32 = 120.0;
const H: f32 = 28.0;

/// The `points` of each unbroken run of values (a minute without a value breaks the line),
/// scaled so that `0..=top` fills the height.
pub fn polylines(values: &[Option<f32>], top: f32) -> Vec<String> {
    let step = W / (TREND_MINUTES as f32 - 1.0);
    let mut lines = Vec::new();
    let mut cur = String::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let y = H - (v.clamp(0.0, top) / top) * (H - 2.0) - 1.0;
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(&format!("{:.1},{:.1}", i as f32 * step, y));
            }
            None if !cur.is_empty() => lines.push(std::mem::take(&mut cur)),
            None => {}
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn chart(label: &str, values: &[Option<f32>], top: f32, stroke: &str, kind: &str) -> Markup {
    let last = values.iter().rev().flatten().next();
    let text = last.map_or("—".to_string(), |v| format!("{:.2}%", v * 100.0));
    html! {
        figure data-spark=(kind) {
            svg viewBox={"0 0 " (W) " " (H)} preserveAspectRatio="none" role="img"
                aria-label={(label) " " (text)} {
                title { (label) " — 最近一小时 last hour" }
                @for pts in polylines(values, top) {
                    polyline points=(pts) fill="none" stroke=(stroke) stroke-width="1.5"
                        vector-effect="non-scaling-stroke" {}
                }
            }
            figcaption { (label) " " strong { (text) } }
        }
    }
}

/// Both sparklines of an object. The success ratio is drawn on 0–100 %; the data error ratio
/// on 0–5 % (or up to its highest point), where its usual values are visible at all.
pub fn sparklines(trend: Option<&Trend>) -> Markup {
    let (success, errors): (Vec<Option<f32>>, Vec<Option<f32>>) = match trend {
        Some(t) => t.points().unzip(),
        None => (vec![None; TREND_MINUTES], vec![None; TREND_MINUTES]),
    };
    let err_top = errors.iter().flatten().fold(0.05f32, |a, b| a.max(*b));
    html! {
        div.spark {
            (chart("成功率 success", &success, 1.0, "#2e7d32", "success"))
            (chart("数据错误率 data errors", &errors, err_top, "#c62828", "data_error"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_break_the_line_and_values_scale_to_the_height() {
        let mut v = vec![None; TREND_MINUTES];
        v[0] = Some(1.0);
        v[1] = Some(0.0);
        v[3] = Some(0.5);
        let lines = polylines(&v, 1.0);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0], "0.0,1.0 2.0,27.0");
        assert!(lines[1].ends_with(",14.0"), "{lines:?}");
        assert!(polylines(&[None; TREND_MINUTES], 1.0).is_empty());
    }
}
