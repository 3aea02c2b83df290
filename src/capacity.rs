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

/// The warnings for objects whose windows hold too few probes to decide on (`short_window`)
/// or to call a dark server stopped (`short_stop`), each listed as `class/name (probes)`.
fn short_warnings(
    short_window: &[String],
    short_stop: &[String],
    c: &Config,
    rules: &Rules,
) -> Vec<String> {
    let (d, m) = (&c.daemon, &rules.measure);
    let list = |v: &[String]| {
        let shown: Vec<&str> = v.iter().take(5).map(String::as_str).collect();
        let more = v.len().saturating_sub(5);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    let mut warnings = Vec::new();
    if !short_window.is_empty() {
        warnings.push(format!(
            "{} object(s) leave a server address short of min_samples = {}: at the worst tick its window holds only the number in brackets of probes (checks × probes in window − tick − timeout at interval × (1 + jitter)), less than {MARGIN} × the minimum, so it would flip between known and unknown: {} — shorten interval or add checks",
            short_window.len(),
            m.min_samples,
            list(short_window)
        ));
    }
    if !short_stop.is_empty() {
        warnings.push(format!(
            "{} object(s) leave a server address short of stop_min_probes = {} within stop_window {:?}: a dark server would not be called stopped on every tick: {} — shorten interval or add checks",
            short_stop.len(),
            m.stop_min_probes,
            d.stop_window,
            list(short_stop)
        ));
    }
    warnings
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
    warnings.extend(short_warnings(&short_window, &short_stop, c, rules));
    warnings.extend(exposure_warning(d));
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

/// A listen address other hosts can reach serves the status, the incidents and the wallboard
/// to them (reads need no token); without an `api_token` nothing says who may write either.
fn exposure_warning(d: &crate::config::DaemonConfig) -> Option<String> {
    if d.listen.ip().is_loopback() {
        return None;
    }
    let token = if d.api_token.is_some() {
        "writes need the api_token"
    } else {
        "no api_token is set, so the write API is off"
    };
    Some(format!(
        "listen = {} is reachable from other hosts: /api/v1/status, the incidents and the wallboard are readable by anyone who can connect ({token}); keep it on loopback or put a proxy with access control in front",
        d.listen
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listen_address_off_loopback_is_warned_about() {
        let warned = |daemon: &str| {
            assess(&config(daemon, 1), &Rules::miit_2011())
                .warnings
                .into_iter()
                .filter(|w| w.contains("reachable from other hosts"))
                .collect::<Vec<_>>()
        };
        assert!(warned("listen = \"127.0.0.1:9553\"").is_empty());
        assert!(warned("listen = \"[::1]:9553\"").is_empty());
        let w = warned("listen = \"0.0.0.0:9553\"");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("no api_token"), "{w:?}");
        let w = warned("listen = \"192.0.2.7:9553\"\napi_token = \"t0ken\"");
        assert!(w[0].contains("writes need the api_token"), "{w:?}");
        assert!(!w[0].contains("t0ken"), "the token is never printed");
    }

    fn config(daemon: &str, checks: usize) -> Config {
        let mut text = format!(
            "[daemon]\n{daemon}\n[[institution]]\nname = \"Registrar\"\ntier = 1\n  [[institution.server]]\n  name = \"ns1\"\n  addresses = [\"127.0.0.1:5353\"]\n"
        );
        for i in 0..checks {
            text.push_str(&format!(
                "  [[institution.check]]\n  name = \"n{i}.example.cn\"\n  type = \"A\"\n"
            ));
        }
        crate::config::parse(std::path::Path::new("probes.toml"), &text).expect("config")
    }

    #[test]
    fn the_defaults_leave_one_check_a_margin() {
        let c = assess(&config("", 1), &Rules::miit_2011());
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        // 280 s of send times at 5.5 s: 50 probes (≥ 36); 40 s: 7 attempts (≥ 6).
        assert_eq!(
            fewest_in(Duration::from_secs(280), Duration::from_secs(5), 0.1),
            50
        );
        assert_eq!(
            fewest_in(Duration::from_secs(40), Duration::from_secs(5), 0.1),
            7
        );
    }

    #[test]
    fn a_ten_second_interval_warns_about_both_minimums() {
        let c = assess(&config("interval = \"10s\"", 1), &Rules::miit_2011());
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(
            c.warnings[0].contains("min_samples = 30"),
            "{}",
            c.warnings[0]
        );
        assert!(c.warnings[0].contains("institution/Registrar (25)"));
        assert!(
            c.warnings[1].contains("stop_min_probes = 5"),
            "{}",
            c.warnings[1]
        );
        // Two checks per address double the counts: 50 in the window, 6 in the stop window.
        let c = assess(&config("interval = \"10s\"", 2), &Rules::miit_2011());
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn the_in_flight_cap_is_checked_against_a_total_outage() {
        // 40 checks every 5 s = 8 q/s; dark, each holds a permit for 10 s + 1 s of grace.
        let c = assess(&config("max_in_flight = 80", 40), &Rules::miit_2011());
        assert!(
            (c.dark_in_flight - 88.0).abs() < 1e-9,
            "{}",
            c.dark_in_flight
        );
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("max_in_flight = 80"));
        let c = assess(&config("max_in_flight = 88", 40), &Rules::miit_2011());
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = assess(&config("global_rate = 7", 40), &Rules::miit_2011());
        assert!(c.warnings.iter().any(|w| w.contains("global_rate = 7/s")));
    }
}
