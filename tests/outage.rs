//! The big outage, in simulated time at the shipped defaults: the daemon runs in-process on a
//! paused tokio clock (`TokioClock`), so its probe schedule (5 s interval, 10 s timeout),
//! ticks (10 s), windows (300 s) and stop window (60 s) are the real ones, and the lab servers
//! on 127.0.0.1 answer in the same runtime. Every server goes dark at once — the national
//! outage that levels I and II are about — and the tests check what an operator relies on:
//!
//! - a tier-1 institution with one check per server is 重大 II with candidate 特别重大 I within
//!   `stop_window` + one tick of going dark, and on every tick after;
//! - with every TLD node dark and sampling on, `.cn` and `.中国` are 特别重大 I within the same
//!   time and stay there until recovery (no de-escalation, no clearing), the engine's budgets
//!   stay bounded, and after recovery a node's success ratio is the share of the window it
//!   answered;
//! - with the control targets dark too, the vantage point is isolated within the same time and
//!   no incident opens.

mod support;

use dnsgrade::clock::{Clock, TokioClock};
use dnsgrade::daemon::Daemon;
use dnsgrade::evaluator::{Board, ObjectStatus};
use dnsgrade::grading::{Level, Rules};
use dnsgrade::incident::{ListFilter, StateFilter};
use dnsgrade::lab::{Faults, LabServer, Zone};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const T0: u64 = 1_800_000_000_000;
/// `stop_window` + one tick at the shipped defaults.
const STOP_PLUS_TICK: u64 = 70_000;

fn dark() -> Faults {
    Faults {
        stopped: true,
        ..Faults::default()
    }
}

/// A TLD zone of `n` delegations, as text (for the reference file) and parsed (for the lab).
fn tld_zone(origin: &str, n: usize) -> (String, Zone) {
    let mut t = format!(
        "$ORIGIN {origin}.\n$TTL 86400\n@ IN SOA a.dns.{origin}. hostmaster.{origin}. 2026112201 7200 3600 2419200 21600\n@ IN NS a.dns.{origin}.\na.dns IN A 127.0.0.1\n"
    );
    for i in 0..n {
        let _ = writeln!(
            t,
            "d{i} IN NS ns1.d{i}\nd{i} IN NS ns2.d{i}\nns1.d{i} IN A 127.1.{}.{}\nns2.d{i} IN A 127.2.{}.{}",
            i / 256 % 256,
            i % 256,
            i / 256 % 256,
            i % 256
        );
    }
    let zone = Zone::parse(&format!("{origin}."), &t).expect("zone parses");
    (t, zone)
}

async fn lab(zones: Vec<Zone>) -> LabServer {
    LabServer::start("127.0.0.1:0".parse().expect("addr"), zones)
        .await
        .expect("lab server on loopback")
}

fn servers(table: &str, labs: &[&LabServer]) -> String {
    labs.iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "  [[{table}]]\n  name = \"n{i}\"\n  addresses = [\"{}\"]\n",
                s.local_addr()
            )
        })
        .collect()
}

async fn start(dir: &std::path::Path, body: &str) -> (Daemon, TokioClock) {
    let text = format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\n\n{body}",
        dir.join("state").display(),
    );
    let config = dnsgrade::config::parse(&dir.join("probes.toml"), &text).expect("config");
    let clock = TokioClock::new(T0);
    let daemon = Daemon::start(config, Rules::miit_2011(), Arc::new(clock))
        .await
        .expect("daemon starts");
    (daemon, clock)
}

fn object<'a>(b: &'a Board, key: &str) -> &'a ObjectStatus {
    b.objects
        .iter()
        .find(|o| format!("{}/{}", o.class.as_str(), o.name) == key)
        .unwrap_or_else(|| panic!("{key} on the board"))
}

/// Lets simulated time run to `at` (ms since T0), calling `each` with every new board.
async fn run_until(d: &Daemon, clock: &TokioClock, at: u64, each: impl FnMut(&Board)) {
    support::run_until(d, clock, T0 + at, each).await;
}

fn event_kinds(d: &Daemon) -> Vec<(String, String)> {
    let all = d
        .shared
        .incidents
        .list(&ListFilter {
            state: StateFilter::All,
            since: None,
            include_false_positive: true,
            include_drill: true,
            limit: None,
            without_evidence: false,
        })
        .expect("list");
    let mut out = Vec::new();
    for i in all {
        let detail = d
            .shared
            .incidents
            .get(i.id)
            .expect("get")
            .expect("incident");
        for e in detail.timeline {
            out.push((i.object.to_string(), e.kind.as_str().to_string()));
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_dark_tier1_institution_is_ii_with_candidate_i_within_the_stop_window_and_stays() {
    let zone = Zone::parse(
        "example.cn.",
        "$TTL 300\n@ SOA ns1 hostmaster 2026112201 3600 600 86400 300\n@ NS ns1\n@ NS ns2\nns1 A 127.0.0.1\nns2 A 127.0.0.2\n",
    )
    .expect("zone");
    let ns1 = lab(vec![zone.clone()]).await;
    let ns2 = lab(vec![zone]).await;
    let dir = tempfile::tempdir().expect("tmp");
    // Every [daemon] value at its default; one check per server.
    let body = format!(
        "[[institution]]\nname = \"Registrar\"\ntier = 1\n{}  [[institution.check]]\n  name = \"example.cn\"\n  type = \"SOA\"\n",
        servers("institution.server", &[&ns1, &ns2])
    );
    let (d, clock) = start(dir.path(), &body).await;
    // Healthy for six minutes: a full window, and no grade on any tick.
    run_until(&d, &clock, 360_000, |b| {
        let o = object(b, "institution/Registrar");
        assert_eq!(o.assessment.grade, None, "healthy: {:?}", o.assessment);
    })
    .await;
    let w = d.shared.status(clock.now_ms());
    assert!(
        w.iter().all(|s| s.window.samples >= 50),
        "at least 50 probes per window from one check at the default interval: {:?}",
        w.iter().map(|s| s.window.samples).collect::<Vec<_>>()
    );
    let dark_at = clock.now_ms() - T0;
    ns1.set_faults(dark());
    ns2.set_faults(dark());
    let mut first = None;
    let mut ticks_after = 0;
    run_until(&d, &clock, dark_at + 600_000, |b| {
        let o = object(b, "institution/Registrar");
        let a = &o.assessment;
        let since = b.at - T0 - dark_at;
        if a.grade == Some(Level::II) && a.candidate == Some(Level::I) {
            first.get_or_insert(since);
        }
        if since >= STOP_PLUS_TICK {
            ticks_after += 1;
            assert_eq!(
                (a.grade, a.candidate, a.rule.as_deref()),
                (
                    Some(Level::II),
                    Some(Level::I),
                    Some("institution.tier1_stopped")
                ),
                "{since} ms after going dark: {a:?}"
            );
        }
    })
    .await;
    let first = first.expect("reached II with candidate I");
    assert!(first <= STOP_PLUS_TICK, "after {first} ms");
    assert!(ticks_after >= 50, "{ticks_after} ticks checked");
    let kinds = event_kinds(&d);
    assert!(
        kinds.iter().all(|(_, k)| k != "incident.deescalated"
            && !k.contains("clearing")
            && k != "incident.resolved"),
        "{kinds:?}"
    );
    d.stop().await;
    ns1.stop().await;
    ns2.stop().await;
}

struct TldLab {
    nodes: Vec<LabServer>,
    controls: Vec<LabServer>,
    daemon: Daemon,
    clock: TokioClock,
    _dir: tempfile::TempDir,
}

/// Five nodes serving `cn.` and `xn--fiqs8s.` (2,000 delegations each, sampled at the default
/// 200 names/s per node address from the zone files), three control servers, every other
/// value at its default.
async fn tld_lab() -> TldLab {
    let (cn_text, cn) = tld_zone("cn", 2_000);
    let (zh_text, zh) = tld_zone("xn--fiqs8s", 2_000);
    let mut nodes = Vec::new();
    for _ in 0..5 {
        nodes.push(lab(vec![cn.clone(), zh.clone()]).await);
    }
    let mut controls = Vec::new();
    for _ in 0..3 {
        controls.push(lab(vec![tld_zone("control.test", 1).1]).await);
    }
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("cn.zone"), cn_text).expect("zone file");
    std::fs::write(dir.path().join("zh.zone"), zh_text).expect("zone file");
    let node_refs: Vec<&LabServer> = nodes.iter().collect();
    let control_refs: Vec<&LabServer> = controls.iter().collect();
    let body = format!(
        "[[tld]]\nname = \"cn\"\n  [tld.reference]\n  zone_file = \"cn.zone\"\n{nodes}\n\
         [[tld]]\nname = \"中国\"\n  [tld.reference]\n  zone_file = \"zh.zone\"\n{nodes}\n\
         [[control]]\nname = \"controls\"\n{controls}  [[control.check]]\n  name = \"control.test\"\n  type = \"SOA\"\n",
        nodes = servers("tld.node", &node_refs),
        controls = servers("control.server", &control_refs),
    );
    let (daemon, clock) = start(dir.path(), &body).await;
    TldLab {
        nodes,
        controls,
        daemon,
        clock,
        _dir: dir,
    }
}

impl TldLab {
    async fn stop(self) {
        self.daemon.stop().await;
        for s in self.nodes.into_iter().chain(self.controls) {
            s.stop().await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn every_node_dark_with_sampling_is_level_i_for_both_tlds_until_recovery() {
    let l = tld_lab().await;
    let (d, clock) = (&l.daemon, &l.clock);
    run_until(d, clock, 120_000, |b| {
        for key in ["tld/cn", "tld/xn--fiqs8s"] {
            assert_eq!(object(b, key).assessment.grade, None, "{key} healthy");
        }
    })
    .await;
    let counters = d.shared.prober.counters().clone();
    assert!(
        counters.sent.load(Ordering::Relaxed) > 120 * 5 * 2 * 150,
        "sampling runs at about 200 names/s per node and TLD"
    );
    let dark_at = clock.now_ms() - T0;
    for n in &l.nodes {
        n.set_faults(dark());
    }
    let dark_for = 360_000;
    let mut first: [Option<u64>; 2] = [None, None];
    let mut peak_samples = 0;
    let mut peak_configured = 0;
    run_until(d, clock, dark_at + dark_for, |b| {
        let since = b.at - T0 - dark_at;
        assert!(!b.isolated, "the controls answer: not isolated");
        for (i, key) in ["tld/cn", "tld/xn--fiqs8s"].into_iter().enumerate() {
            let a = &object(b, key).assessment;
            if a.grade == Some(Level::I) {
                first[i].get_or_insert(since);
            }
            if since >= STOP_PLUS_TICK {
                assert_eq!(
                    (a.grade, a.rule.as_deref()),
                    (Some(Level::I), Some("tld.system_stopped")),
                    "{key}, {since} ms after every node went dark: {a:?}"
                );
            }
        }
        let samples = counters.samples_in_flight.load(Ordering::Relaxed);
        peak_samples = peak_samples.max(samples);
        peak_configured = peak_configured.max(d.shared.prober.in_flight());
        if since >= 30_000 {
            // Each node's sampling budget has collapsed to about one sample per timeout.
            assert!(
                samples <= 10 * 2,
                "{samples} samples in flight {since} ms into the outage"
            );
        }
        assert_eq!(
            counters.waiting.load(Ordering::Relaxed),
            0,
            "nothing waits at the cap"
        );
    })
    .await;
    for (i, f) in first.iter().enumerate() {
        let f = f.unwrap_or_else(|| panic!("TLD {i} reached level I"));
        assert!(f <= STOP_PLUS_TICK, "TLD {i} at I after {f} ms");
    }
    // Bounded by configuration: 10 (node address, TLD) samplers × 64, and the configured
    // checks' own in-flight need (they all time out).
    assert!(peak_samples <= 10 * 64, "{peak_samples}");
    assert!(peak_configured <= 16_384, "{peak_configured}");
    assert_eq!(
        counters.late.load(Ordering::Relaxed),
        0,
        "no configured probe missed its slot"
    );
    let kinds = event_kinds(d);
    assert!(
        kinds.iter().all(|(_, k)| matches!(
            k.as_str(),
            "incident.opened" | "incident.escalated" | "incident.candidate_changed"
        )),
        "only opened and escalated while dark: {kinds:?}"
    );

    // Recovery: the window is still mostly dark, and the success ratio says so.
    let back_at = clock.now_ms() - T0;
    for n in &l.nodes {
        n.set_faults(Faults::default());
    }
    run_until(d, clock, back_at + 120_000, |_| {}).await;
    let now = clock.now_ms();
    for s in d.shared.status(now) {
        if s.class != "tld" {
            continue;
        }
        let w = &s.window;
        let lit = (now - (T0 + back_at)) as f64 / (now - w.window_start) as f64;
        let got = w.success.point.expect("samples");
        assert!(
            (got - lit).abs() <= 0.05,
            "{} {}: success {got:.3} over a window lit {lit:.3} of the time",
            s.object,
            s.server
        );
        assert!(got <= 0.45, "{got}");
    }
    l.stop().await;
}

#[tokio::test(start_paused = true)]
async fn everything_dark_is_isolation_and_no_incident() {
    let l = tld_lab().await;
    let (d, clock) = (&l.daemon, &l.clock);
    run_until(d, clock, 120_000, |_| {}).await;
    let dark_at = clock.now_ms() - T0;
    for n in l.nodes.iter().chain(&l.controls) {
        n.set_faults(dark());
    }
    let mut isolated_after = None;
    run_until(d, clock, dark_at + 360_000, |b| {
        let since = b.at - T0 - dark_at;
        if b.isolated {
            isolated_after.get_or_insert(since);
        }
        if since >= STOP_PLUS_TICK {
            assert!(b.isolated, "{since} ms: isolated");
        }
        assert_eq!(
            d.shared.metrics.vantage_isolated.get(),
            i64::from(b.isolated)
        );
    })
    .await;
    let after = isolated_after.expect("isolated");
    assert!(after <= STOP_PLUS_TICK, "isolated after {after} ms");
    let kinds = event_kinds(d);
    assert!(kinds.is_empty(), "no incident while blind: {kinds:?}");
    assert_eq!(
        d.shared
            .incidents
            .last_monitor_event()
            .expect("monitor")
            .map(|e| e.kind),
        Some(dnsgrade::incident::MonitorKind::Isolated)
    );
    l.stop().await;
}
