//! Costs of the per-server window: one `record` into a warm window, one `snapshot` of a full one.
//!
//! Run: `cargo bench --bench stats -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, Criterion};
use dnsgrade::clock::UnixMillis;
use dnsgrade::probe::{Outcome, Verdict};
use dnsgrade::stats::{ServerStats, WindowSpec};
use std::hint::black_box;
use std::time::Duration;

/// A slice boundary, so the window holds exactly 300 s of probes.
const T0: UnixMillis = 1_700_000_000_000;
const WINDOW_MS: u64 = 300_000;

/// Realistic results, in a fixed pseudo-random order: 99% successes with latencies spread
/// log-uniformly over 2–300 ms (a few over 5 s), the rest timeouts and SERVFAILs; every tenth
/// reply checked against a reference.
fn results(n: usize) -> Vec<(Outcome, Option<Duration>, Verdict)> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut unit = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1_u64 << 53) as f64
    };
    (0..n)
        .map(|i| {
            let u = unit();
            let latency = Duration::from_secs_f64(0.002 * 150_f64.powf(unit()));
            let verdict = if i.is_multiple_of(10) {
                Verdict::Correct
            } else {
                Verdict::Unchecked
            };
            if u < 0.005 {
                (Outcome::Timeout, None, Verdict::Unchecked)
            } else if u < 0.01 {
                (Outcome::Servfail, Some(latency), Verdict::Unchecked)
            } else if u < 0.011 {
                (Outcome::Ok, Some(Duration::from_millis(5_500)), verdict)
            } else {
                (Outcome::Ok, Some(latency), verdict)
            }
        })
        .collect()
}

/// A default window filled with `per_second` probes a second for 300 s, ending at `T0 + 300 s`.
fn full_window(per_second: u64) -> ServerStats {
    let mut st = ServerStats::new(&WindowSpec::default());
    let step = 1000 / per_second;
    let n = (WINDOW_MS / step) as usize;
    for (i, (o, rtt, v)) in results(n).into_iter().enumerate() {
        st.record(T0 + i as u64 * step, o, rtt, v);
    }
    st
}

fn record(c: &mut Criterion) {
    let feed = results(4096);
    let mut st = full_window(10);
    // Keep going at 10 probes a second, so the ring rotates (and reuses slots) as in the
    // daemon; every 16th result arrives 8 s late, as a timeout would.
    let mut i: u64 = 0;
    let mut at = T0 + WINDOW_MS;
    c.bench_function("record (warm default window, 10 probes/s)", |b| {
        b.iter(|| {
            let (o, rtt, v) = feed[(i % 4096) as usize];
            let sent = if i.is_multiple_of(16) { at - 8_000 } else { at };
            st.record(black_box(sent), o, rtt, v);
            i += 1;
            at += 100;
        })
    });
    println!(
        "after the run: {} bytes, {} late",
        st.memory_bytes(),
        st.late_dropped()
    );
}

fn snapshot(c: &mut Criterion) {
    for per_second in [10, 100] {
        let st = full_window(per_second);
        let now = T0 + WINDOW_MS - 1;
        assert_eq!(st.snapshot(now).samples, per_second * WINDOW_MS / 1000);
        c.bench_function(
            &format!("snapshot (full default window, {per_second} probes/s)"),
            |b| b.iter(|| st.snapshot(black_box(now))),
        );
    }
    let st = full_window(10);
    c.bench_function("recent 60 s (full default window)", |b| {
        b.iter(|| st.recent(black_box(T0 + WINDOW_MS - 1), Duration::from_secs(60)))
    });
}

criterion_group!(benches, record, snapshot);
criterion_main!(benches);
