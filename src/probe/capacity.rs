//! What a configuration asks of the probe engine, and where it falls short: the figures
//! `check-config` prints and the warnings it (and the daemon at start) gives.
//!
//! Three things can go wrong without any server misbehaving (docs/measurement.md, "Budgets"):
//!
//! - **too few samples**: a server is *unknown* while its window holds fewer than
//!   `min_samples` probes. The window read at a tick spans at least `window − tick` of send
//!   times, of which the last `timeout` may not have reported yet (timeouts report last), and
//!   with jitter the interval can stretch by `jitter`. A server whose worst-case count is not
//!   comfortably above the minimum ([`MARGIN`]) flips between known and unknown tick by tick.
//! - **too few attempts to call it stopped**: the same for `stop_min_probes` within
//!   `stop_window`.
//! - **the in-flight cap**: when every configured address is dark, each probe holds a permit
//!   for the whole timeout; `rate × (timeout + slot grace)` permits are needed. Past
//!   `max_in_flight`, probes miss their slot and are dropped as late.

use crate::config::{Config, ObjectClass};
use crate::grading::Rules;
use std::time::Duration;

/// How far above a minimum the worst-case count must stay: 20 %.
pub const MARGIN: f64 = 1.2;

/// The engine's load for a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Capacity {
    /// Configured probes per second (one address per host name).
    pub rate: f64,
    /// Permits needed when every configured address is dark.
    pub dark_in_flight: f64,
    /// Node addresses sampled against a reference, and the samples they may hold in flight.
    pub sampled_addresses: usize,
    /// The most samples in flight, all nodes together.
    pub max_samples_in_flight: usize,
    /// Warnings, one sentence each.
    pub warnings: Vec<String>,
}

/// The fewest probes sent at `interval` (stretched by `jitter`) within `span`.
pub fn fewest_in(span: Duration, interval: Duration, jitter: f64) -> u64 {
    let longest = interval.as_secs_f64() * (1.0 + jitter.max(0.0));
    if longest <= 0.0 {
        return 0;
    }
    (span.as_secs_f64() / longest).floor().max(0.0) as u64
}

/// Works out [`Capacity`] of `c` under `rules`.
pub fn assess(c: &Config, rules: &Rules) -> Capacity {
    let d = &c.daemon;
    let m = &rules.measure;
    let grace = crate::probe::schedule::slot_grace(d.interval);
    let mut warnings = Vec::new();
    let mut rate = 0.0;
    let mut sampled_addresses = 0;
    let mut max_samples_in_flight = 0;
    // Send times a tick's window is sure to have heard back from.
    let window_span = d.window.saturating_sub(d.tick).saturating_sub(d.timeout);
    let stop_span = d
        .stop_window
        .saturating_sub(d.tick)
        .saturating_sub(d.timeout);
    let mut short_window = Vec::new();
    let mut short_stop = Vec::new();
    for o in &c.objects {
        let addrs: usize = o
            .servers
            .iter()
            .map(|s| s.pinned.len() + usize::from(s.host.is_some() && s.pinned.is_empty()))
            .sum();
        let checks = o.checks.len() as u64;
        rate += (addrs as u64 * checks) as f64 / d.interval.as_secs_f64().max(1e-3);
        if let (Some(r), ObjectClass::Tld) = (&o.reference, o.class) {
            sampled_addresses += addrs;
            max_samples_in_flight += addrs * r.max_in_flight;
        }
        if checks == 0 || addrs == 0 {
            continue;
        }
        let per_window = checks * fewest_in(window_span, d.interval, d.jitter);
        if (per_window as f64) < m.min_samples as f64 * MARGIN {
            short_window.push(format!("{}/{} ({per_window})", o.class.as_str(), o.name));
        }
        let per_stop = checks * fewest_in(stop_span, d.interval, d.jitter);
        if (per_stop as f64) < m.stop_min_probes as f64 * MARGIN {
            short_stop.push(format!("{}/{} ({per_stop})", o.class.as_str(), o.name));
        }
    }
    let list = |v: &[String]| {
        let shown: Vec<&str> = v.iter().take(5).map(String::as_str).collect();
        let more = v.len().saturating_sub(5);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    if !short_window.is_empty() {
        warnings.push(format!(
            "{} object(s) leave a server address short of min_samples = {}: at the worst tick its window holds only the number in brackets of probes (checks × probes in window − tick − timeout at interval × (1 + jitter)), less than {MARGIN} × the minimum, so it would flip between known and unknown: {} — shorten interval or add checks",
            short_window.len(),
            m.min_samples,
            list(&short_window)
        ));
    }
    if !short_stop.is_empty() {
        warnings.push(format!(
            "{} object(s) leave a server address short of stop_min_probes = {} within stop_window {:?}: a dark server would not be called stopped on every tick: {} — shorten interval or add checks",
            short_stop.len(),
            m.stop_min_probes,
            d.stop_window,
            list(&short_stop)
        ));
    }
    let dark_in_flight = rate * (d.timeout + grace).as_secs_f64();
    if dark_in_flight > d.max_in_flight as f64 {
        warnings.push(format!(
            "with every configured address dark, {:.0} probes would be in flight ({:.1} q/s × (timeout {:?} + slot grace {:?})), more than max_in_flight = {}: probes would miss their slot and be dropped (dnsgrade_probes_late_total) — raise max_in_flight",
            dark_in_flight, rate, d.timeout, grace, d.max_in_flight
        ));
    }
    if rate > f64::from(d.global_rate.get()) {
        warnings.push(format!(
            "the planned rate {rate:.1} q/s exceeds global_rate = {}/s: probes will wait (dnsgrade_probes_rate_limited_total) and miss their slot (dnsgrade_probes_late_total)",
            d.global_rate
        ));
    }
    Capacity {
        rate,
        dark_in_flight,
        sampled_addresses,
        max_samples_in_flight,
        warnings,
    }
}
