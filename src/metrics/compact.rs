//! Metric families with a series per server address, held compactly.
//!
//! A series of the `prometheus` crate's labelled vectors carries its own copy of every label
//! name and value (protobuf label pairs), about 1.2 KiB for a gauge with five labels, and a
//! scrape builds a second, protobuf copy of every series before encoding it. With ten series
//! per address and 10,000 addresses that was most of the daemon's memory, and a scrape doubled
//! it for a moment (docs/measurement.md, "Memory").
//!
//! Here the four labels of an address (`class`, `object`, `server`, `address`) are escaped and
//! joined once into an [`AddressLabels`], shared by every series of the address; the remaining
//! labels (`role`, `transport`, `outcome`, `estimate`, `q`, `verdict`) take their values from
//! fixed sets of `&'static str`. A series is one atomic word (a histogram one per bucket) behind
//! a handle, so recording is a relaxed atomic add or store with no lookup. A scrape writes the
//! text exposition format straight from the atomics. The output is what the `prometheus` crate
//! writes for the same series: label pairs in name order (a histogram's `le` last), series
//! ordered by their labels.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The label names every per-address family has, in the order [`AddressLabels::new`] takes
/// their values.
pub const ADDRESS_LABELS: [&str; 4] = ["class", "object", "server", "address"];

/// [`ADDRESS_LABELS`] in name order, as indices into it: the order they are rendered in.
const ADDRESS_ORDER: [usize; 4] = [3, 0, 1, 2];

/// The most labels a family adds after the address's own.
const MAX_EXTRA: usize = 3;

/// The address's labels, rendered once in name order:
/// `address="…",class="tld",object="cn",server="a"`. Cloning shares the text.
#[derive(Clone)]
pub struct AddressLabels(Arc<Rendered>);

struct Rendered {
    text: Box<str>,
    /// Where each pair (`name="value"`) of [`ADDRESS_LABELS`] ends in `text`, by its index
    /// there; a pair starts one past the end of the one before it in name order (the comma).
    ends: [u32; 4],
}

impl AddressLabels {
    /// Renders (and escapes) the values of [`ADDRESS_LABELS`], given in that order.
    pub fn new(values: [&str; 4]) -> Self {
        let mut s = String::new();
        let mut ends = [0u32; 4];
        for (n, &i) in ADDRESS_ORDER.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            s.push_str(ADDRESS_LABELS[i]);
            s.push_str("=\"");
            escape_into(&mut s, values[i], true);
            s.push('"');
            ends[i] = u32::try_from(s.len()).unwrap_or(u32::MAX);
        }
        AddressLabels(Arc::new(Rendered {
            text: s.into(),
            ends,
        }))
    }

    /// The rendered pairs, without braces.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The rendered pair of label `i` of [`ADDRESS_LABELS`].
    fn pair(&self, i: usize) -> &str {
        let r = &self.0;
        let n = ADDRESS_ORDER.iter().position(|&k| k == i).unwrap_or(0);
        let start = match n {
            0 => 0,
            _ => r.ends[ADDRESS_ORDER[n - 1]] as usize + 1,
        };
        r.text.get(start..r.ends[i] as usize).unwrap_or_default()
    }
}

impl PartialEq for AddressLabels {
    fn eq(&self, other: &Self) -> bool {
        self.0.text == other.0.text
    }
}

impl Eq for AddressLabels {}

impl PartialOrd for AddressLabels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AddressLabels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.text.cmp(&other.0.text)
    }
}

impl std::fmt::Debug for AddressLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.text)
    }
}

/// One label of a family's series, in the order they are rendered.
#[derive(Debug, Clone, Copy)]
enum Piece {
    /// Label `i` of [`ADDRESS_LABELS`].
    Address(usize),
    /// The family's extra label `j`.
    Extra(usize),
}

/// The family's labels in name order.
fn plan(extra: &[&'static str]) -> Vec<Piece> {
    let mut p: Vec<(&str, Piece)> = ADDRESS_LABELS
        .iter()
        .enumerate()
        .map(|(i, n)| (*n, Piece::Address(i)))
        .chain(extra.iter().enumerate().map(|(j, n)| (*n, Piece::Extra(j))))
        .collect();
    p.sort_by_key(|(n, _)| *n);
    p.into_iter().map(|(_, piece)| piece).collect()
}

/// What a [`Family`]'s values are, which decides how they are stored and printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A monotonic count (u64).
    Counter,
    /// An integer gauge (i64).
    IntGauge,
    /// A float gauge (f64 bits).
    Gauge,
}

impl Kind {
    fn type_name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::IntGauge | Kind::Gauge => "gauge",
        }
    }
}

/// A handle on one series: a shared atomic word, read by the scrape.
#[derive(Clone, Debug, Default)]
pub struct Value(Arc<AtomicU64>);

impl Value {
    /// Adds one (counters).
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets an integer gauge.
    pub fn set_i64(&self, v: i64) {
        self.0.store(v as u64, Ordering::Relaxed);
    }

    /// Sets a float gauge.
    pub fn set_f64(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    fn raw(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

type Key = (AddressLabels, [&'static str; MAX_EXTRA]);

fn key(labels: &AddressLabels, extra: &[&'static str]) -> Key {
    let mut e = [""; MAX_EXTRA];
    for (slot, v) in e.iter_mut().zip(extra) {
        *slot = v;
    }
    (labels.clone(), e)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the two kinds of family share: the name, the labels, and the series by labels.
#[derive(Debug)]
struct Series<V> {
    name: &'static str,
    help: &'static str,
    extra: &'static [&'static str],
    plan: Vec<Piece>,
    map: Mutex<BTreeMap<Key, V>>,
}

impl<V: Clone> Series<V> {
    fn new(name: &'static str, help: &'static str, extra: &'static [&'static str]) -> Self {
        assert!(extra.len() <= MAX_EXTRA, "{name}: too many labels");
        Series {
            name,
            help,
            extra,
            plan: plan(extra),
            map: Mutex::default(),
        }
    }

    fn get(&self, labels: &AddressLabels, extra: &[&'static str], new: impl FnOnce() -> V) -> V {
        debug_assert_eq!(extra.len(), self.extra.len(), "{}", self.name);
        lock(&self.map)
            .entry(key(labels, extra))
            .or_insert_with(new)
            .clone()
    }

    fn remove(&self, labels: &AddressLabels, extra: &[&'static str]) {
        lock(&self.map).remove(&key(labels, extra));
    }

    fn remove_address(&self, labels: &AddressLabels) {
        lock(&self.map).retain(|(l, _), _| l != labels);
    }

    fn len(&self) -> usize {
        lock(&self.map).len()
    }
}

/// A counter or gauge family with a series per (address, extra label values).
#[derive(Debug)]
pub struct Family {
    kind: Kind,
    s: Series<Value>,
}

impl Family {
    /// A family called `name`; its series have the address labels, then one value for each
    /// name in `extra` (at most three).
    pub fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        extra: &'static [&'static str],
    ) -> Self {
        Family {
            kind,
            s: Series::new(name, help, extra),
        }
    }

    /// The family's name.
    pub fn name(&self) -> &'static str {
        self.s.name
    }

    /// The handle of the series with these labels, created (at zero) if new. `extra` gives a
    /// value for each of the family's extra label names, in order.
    pub fn series(&self, labels: &AddressLabels, extra: &[&'static str]) -> Value {
        self.s.get(labels, extra, Value::default)
    }

    /// Removes one series; a handle still held keeps counting into nothing.
    pub fn remove(&self, labels: &AddressLabels, extra: &[&'static str]) {
        self.s.remove(labels, extra);
    }

    /// Removes every series of the address.
    pub fn remove_address(&self, labels: &AddressLabels) {
        self.s.remove_address(labels);
    }

    /// Number of series (to size a scrape's buffer).
    pub(super) fn len(&self) -> usize {
        self.s.len()
    }

    /// Appends the family in the text exposition format (nothing when it has no series).
    pub fn render(&self, out: &mut String) {
        let s = &self.s;
        let series = lock(&s.map);
        if series.is_empty() {
            return;
        }
        header(out, s.name, s.help, self.kind.type_name());
        for ((labels, extra), v) in series.iter() {
            out.push_str(s.name);
            open_labels(out, labels, &s.plan, s.extra, extra);
            out.push_str("} ");
            let raw = v.raw();
            match self.kind {
                Kind::Counter => {
                    let _ = write!(out, "{raw}");
                }
                Kind::IntGauge => {
                    let _ = write!(out, "{}", raw as i64);
                }
                Kind::Gauge => push_f64(out, f64::from_bits(raw)),
            }
            out.push('\n');
        }
    }
}

/// The buckets of one histogram series: a count per bucket (not cumulative; the last is
/// +Inf) and the sum of the observations.
#[derive(Debug)]
pub struct HistogramCells {
    bounds: &'static [f64],
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

/// A handle on one histogram series.
#[derive(Clone, Debug)]
pub struct Histogram(Arc<HistogramCells>);

impl Histogram {
    /// Counts one observation of `v` (seconds).
    pub fn observe(&self, v: f64) {
        let c = &self.0;
        let i = c.bounds.partition_point(|b| *b < v);
        if let Some(slot) = c.counts.get(i) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        let _ = c
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }
}

/// A histogram family with a series per (address, extra label values).
#[derive(Debug)]
pub struct HistogramFamily {
    bounds: &'static [f64],
    s: Series<Histogram>,
}

impl HistogramFamily {
    /// A family called `name` with upper bucket bounds `bounds` (ascending; +Inf is implied).
    pub fn new(
        name: &'static str,
        help: &'static str,
        extra: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Self {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{name}: bounds");
        HistogramFamily {
            bounds,
            s: Series::new(name, help, extra),
        }
    }

    /// The family's name.
    pub fn name(&self) -> &'static str {
        self.s.name
    }

    /// The handle of the series with these labels, created empty if new.
    pub fn series(&self, labels: &AddressLabels, extra: &[&'static str]) -> Histogram {
        let bounds = self.bounds;
        self.s.get(labels, extra, || {
            Histogram(Arc::new(HistogramCells {
                bounds,
                counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                sum: AtomicU64::new(0f64.to_bits()),
            }))
        })
    }

    /// Removes every series of the address; a handle still held keeps counting into nothing.
    pub fn remove_address(&self, labels: &AddressLabels) {
        self.s.remove_address(labels);
    }

    /// Number of series (to size a scrape's buffer).
    pub(super) fn len(&self) -> usize {
        self.s.len()
    }

    /// Appends the family in the text exposition format: cumulative `_bucket` series with
    /// `le`, then `_sum` and `_count` (the +Inf bucket, so the two always agree).
    pub fn render(&self, out: &mut String) {
        let s = &self.s;
        let series = lock(&s.map);
        if series.is_empty() {
            return;
        }
        header(out, s.name, s.help, "histogram");
        let mut le = String::new();
        for ((labels, extra), h) in series.iter() {
            let mut cumulative = 0u64;
            for (i, c) in h.0.counts.iter().enumerate() {
                cumulative += c.load(Ordering::Relaxed);
                out.push_str(s.name);
                out.push_str("_bucket");
                open_labels(out, labels, &s.plan, s.extra, extra);
                le.clear();
                match self.bounds.get(i) {
                    Some(b) => {
                        let _ = write!(le, "{b}");
                    }
                    None => le.push_str("+Inf"),
                }
                let _ = writeln!(out, ",le=\"{le}\"}} {cumulative}");
            }
            out.push_str(s.name);
            out.push_str("_sum");
            open_labels(out, labels, &s.plan, s.extra, extra);
            out.push_str("} ");
            push_f64(out, f64::from_bits(h.0.sum.load(Ordering::Relaxed)));
            out.push('\n');
            out.push_str(s.name);
            out.push_str("_count");
            open_labels(out, labels, &s.plan, s.extra, extra);
            let _ = writeln!(out, "}} {cumulative}");
        }
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    escape_into(out, help, false);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// Writes `{` and the labels in name order, without the closing brace (a histogram adds
/// `le`).
fn open_labels(
    out: &mut String,
    labels: &AddressLabels,
    plan: &[Piece],
    names: &[&str],
    values: &[&'static str; MAX_EXTRA],
) {
    out.push('{');
    for (k, piece) in plan.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        match *piece {
            Piece::Address(i) => out.push_str(labels.pair(i)),
            Piece::Extra(j) => {
                out.push_str(names.get(j).copied().unwrap_or_default());
                out.push_str("=\"");
                escape_into(out, values.get(j).copied().unwrap_or_default(), true);
                out.push('"');
            }
        }
    }
}

/// A float as the text format writes it: `NaN`, `+Inf`, `-Inf`, or the shortest decimal that
/// reads back the same.
fn push_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Escapes a label value (backslash, double quote, newline) or HELP text (no quote).
fn escape_into(out: &mut String, v: &str, quote: bool) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_series_in_label_order_with_escaped_values() {
        let f = Family::new("t_total", "A test.", Kind::Counter, &["outcome"]);
        let b = AddressLabels::new(["tld", "cn", "b", "192.0.2.2:53"]);
        let a = AddressLabels::new(["tld", "c\"n\\\n", "a", "192.0.2.1:53"]);
        f.series(&b, &["ok"]).inc();
        let t = f.series(&a, &["timeout"]);
        t.inc();
        t.inc();
        f.series(&a, &["ok"]);
        let mut out = String::new();
        f.render(&mut out);
        assert_eq!(
            out,
            "# HELP t_total A test.\n# TYPE t_total counter\n\
             t_total{address=\"192.0.2.1:53\",class=\"tld\",object=\"c\\\"n\\\\\\n\",outcome=\"ok\",server=\"a\"} 0\n\
             t_total{address=\"192.0.2.1:53\",class=\"tld\",object=\"c\\\"n\\\\\\n\",outcome=\"timeout\",server=\"a\"} 2\n\
             t_total{address=\"192.0.2.2:53\",class=\"tld\",object=\"cn\",outcome=\"ok\",server=\"b\"} 1\n"
        );
        f.remove_address(&a);
        assert_eq!(f.len(), 1);
        f.remove(&b, &["ok"]);
        let mut out = String::new();
        f.render(&mut out);
        assert_eq!(out, "", "a family without series renders nothing");
    }

    #[test]
    fn gauges_print_integers_floats_and_infinities() {
        let l = AddressLabels::new(["tld", "cn", "a", "192.0.2.1:53"]);
        let i = Family::new("t_int", "i", Kind::IntGauge, &[]);
        i.series(&l, &[]).set_i64(-3);
        let g = Family::new("t_f", "f", Kind::Gauge, &["q"]);
        g.series(&l, &["0.5"]).set_f64(0.25);
        g.series(&l, &["0.9"]).set_f64(f64::NEG_INFINITY);
        g.series(&l, &["0.99"]).set_f64(f64::NAN);
        let mut out = String::new();
        i.render(&mut out);
        g.render(&mut out);
        let values: Vec<&str> = out
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next())
            .collect();
        assert_eq!(values, ["-3", "0.25", "-Inf", "NaN"]);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_count_is_the_inf_bucket() {
        static BOUNDS: [f64; 3] = [0.001, 0.5, 5.0];
        let h = HistogramFamily::new("t_seconds", "h", &["role"], &BOUNDS);
        let l = AddressLabels::new(["tld", "cn", "a", "192.0.2.1:53"]);
        let s = h.series(&l, &["plain"]);
        for v in [0.0005, 0.001, 0.2, 7.0] {
            s.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out);
        let p = "{address=\"192.0.2.1:53\",class=\"tld\",object=\"cn\",role=\"plain\",server=\"a\"";
        let want = format!(
            "# HELP t_seconds h\n# TYPE t_seconds histogram\n\
             t_seconds_bucket{p},le=\"0.001\"}} 2\n\
             t_seconds_bucket{p},le=\"0.5\"}} 3\n\
             t_seconds_bucket{p},le=\"5\"}} 3\n\
             t_seconds_bucket{p},le=\"+Inf\"}} 4\n\
             t_seconds_sum{p}}} 7.2015\n\
             t_seconds_count{p}}} 4\n"
        );
        assert_eq!(out, want);
    }

    /// The same series give the same text as the `prometheus` crate's vectors, which the
    /// daemon used before (and still uses for its other families): dashboards and scripts that
    /// read the text see no difference.
    #[test]
    fn output_matches_the_prometheus_crate_for_the_same_series() {
        use prometheus::core::Collector;
        use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, TextEncoder};
        static BOUNDS: [f64; 4] = [0.0005, 0.25, 5.0, 7.5];
        let names = [
            "class",
            "object",
            "server",
            "address",
            "role",
            "transport",
            "outcome",
        ];
        let theirs = IntCounterVec::new(Opts::new("x_total", "X \\ y."), &names).expect("valid");
        let ours = Family::new(
            "x_total",
            "X \\ y.",
            Kind::Counter,
            &["role", "transport", "outcome"],
        );
        let hist = HistogramVec::new(
            HistogramOpts::new("x_seconds", "H.").buckets(BOUNDS.to_vec()),
            &names[..6],
        )
        .expect("valid");
        let our_hist = HistogramFamily::new("x_seconds", "H.", &["role", "transport"], &BOUNDS);
        let addresses = [
            ["tld", "cn", "a", "192.0.2.1:53"],
            [
                "institution",
                "Lab \"registrar\"",
                "ns1",
                "[2001:db8::1]:53",
            ],
            ["tld", "xn--fiqs8s", "b", "192.0.2.10:53"],
        ];
        for (k, a) in addresses.iter().enumerate() {
            let l = AddressLabels::new(*a);
            for (outcome, n) in [("ok", 3 + k as u64), ("timeout", 1)] {
                let mut v: Vec<&str> = a.to_vec();
                v.extend(["plain", "udp", outcome]);
                theirs.with_label_values(&v).inc_by(n);
                let c = ours.series(&l, &["plain", "udp", outcome]);
                for _ in 0..n {
                    c.inc();
                }
            }
            let mut v: Vec<&str> = a.to_vec();
            v.extend(["cached", "tcp"]);
            let h = our_hist.series(&l, &["cached", "tcp"]);
            for x in [0.0001, 0.3, 6.0, 9.0, 0.25] {
                hist.with_label_values(&v).observe(x);
                h.observe(x);
            }
        }
        let mut want = String::new();
        let encoder = TextEncoder::new();
        encoder
            .encode_utf8(&theirs.collect(), &mut want)
            .expect("encode");
        encoder
            .encode_utf8(&hist.collect(), &mut want)
            .expect("encode");
        let mut got = String::new();
        ours.render(&mut got);
        our_hist.render(&mut got);
        // The crate does not order a vector's series; compare the lines as sets, headers first.
        let sorted = |t: &str| {
            let mut l: Vec<String> = t.lines().map(str::to_string).collect();
            l.sort();
            l
        };
        assert_eq!(sorted(&got), sorted(&want), "ours:\n{got}\ntheirs:\n{want}");
        assert!(
            got.starts_with("# HELP x_total X \\\\ y.\n# TYPE x_total counter\n"),
            "{got}"
        );
    }
}
