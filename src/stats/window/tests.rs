//! Tests of [`ServerStats`]: time as values, never the clock.

use super::*;

/// A slice boundary (1_700_000_000_000 is a multiple of 10 s).
const T0: UnixMillis = 1_700_000_000_000;
const S: u64 = 10_000;
const W: u64 = 300_000;

fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

fn ok(st: &mut ServerStats, at: UnixMillis, rtt: Option<Duration>) {
    st.record(at, Outcome::Ok, rtt, Verdict::Unchecked);
}

fn fail(st: &mut ServerStats, at: UnixMillis) {
    st.record(at, Outcome::Timeout, None, Verdict::Unchecked);
}

fn stats() -> ServerStats {
    ServerStats::new(&WindowSpec::default())
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1_u64 << 53) as f64
    }
    /// Log-uniform between `lo` and `hi` milliseconds.
    fn latency(&mut self, lo: f64, hi: f64) -> Duration {
        Duration::from_secs_f64(lo * (hi / lo).powf(self.unit()) / 1000.0)
    }
}

/// `per_second` successful probes a second over one default window ending at `end`.
fn fill(per_second: u64, end: UnixMillis) -> ServerStats {
    let mut st = stats();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let step = 1000 / per_second;
    let mut at = end - W;
    while at < end {
        ok(&mut st, at, Some(rng.latency(2.0, 300.0)));
        at += step;
    }
    st
}

#[test]
fn records_expire_at_the_slice_boundary_one_window_later() {
    let mut st = stats();
    ok(&mut st, T0 + 1_000, ms(20));
    let s = st.snapshot(T0 + 1_000);
    assert_eq!(
        (s.samples, s.window_start, s.window_end),
        (1, T0 - W + S, T0 + 1_000)
    );
    // Still in at the last millisecond of the 30th slice, gone at the first of the 31st.
    assert_eq!(st.snapshot(T0 + W - 1).samples, 1);
    assert_eq!(st.snapshot(T0 + W).samples, 0);
    assert_eq!(st.snapshot(T0 + W).window_start, T0 + S);
    // A newer record rotates the ring: the old slot is reused and reset.
    ok(&mut st, T0 + W + 2_000, ms(30));
    let s = st.snapshot(T0 + W + 2_000);
    assert_eq!(s.samples, 1);
    assert_eq!(s.latency.map(|l| l.max), ms(30));
}

#[test]
fn every_counted_probe_was_sent_within_the_window() {
    let mut st = stats();
    // One probe a second for two windows, with a snapshot every 777 ms along the way.
    let mut next_probe = T0;
    for now in (T0..T0 + 2 * W).step_by(777) {
        while next_probe <= now {
            fail(&mut st, next_probe);
            next_probe += 1_000;
        }
        let s = st.snapshot(now);
        let first = (now + 1).saturating_sub(W).max(T0);
        let exact = (first..=now)
            .filter(|t| (t - T0).is_multiple_of(1_000))
            .count() as u64;
        // Slice granular: never more than the exact window, at most one slice fewer.
        assert!(
            s.samples <= exact && s.samples + S / 1_000 >= exact,
            "{now}: {} vs {exact}",
            s.samples
        );
        assert!(s.window_start + W > now && s.window_start + W <= now + S);
    }
}

#[test]
fn an_out_of_order_record_lands_in_its_own_slice() {
    let mut st = stats();
    ok(&mut st, T0 + 25_000, ms(10));
    // Sent earlier, reported later (a timeout): counted in the slice of T0 + 12 s.
    fail(&mut st, T0 + 12_000);
    assert_eq!(st.snapshot(T0 + 25_000).samples, 2);
    assert_eq!(st.late_dropped(), 0);
    // The T0 + 10 s slice leaves first, the T0 + 20 s slice one slice later.
    let s = st.snapshot(T0 + 10_000 + W);
    assert_eq!((s.samples, s.outcomes[Outcome::Ok.index()]), (1, 1));
    assert_eq!(st.snapshot(T0 + 20_000 + W).samples, 0);
}

#[test]
fn a_record_too_late_for_the_window_is_dropped_and_counted() {
    let mut st = stats();
    fail(&mut st, T0 + W);
    // T0 + 5 s is in the slice that left the window when T0 + 300 s arrived.
    ok(&mut st, T0 + 5_000, ms(10));
    assert_eq!(st.late_dropped(), 1);
    // The dropped success is still the latest success ever seen.
    assert_eq!(st.last_success(), Some(T0 + 5_000));
    // One slice newer is still inside.
    ok(&mut st, T0 + 10_000, ms(10));
    assert_eq!(st.late_dropped(), 1);
    let s = st.snapshot(T0 + W);
    assert_eq!((s.samples, s.late_dropped), (2, 1));
}

#[test]
fn outcomes_are_counted_by_kind() {
    let mut st = stats();
    for (i, o) in Outcome::ALL.into_iter().enumerate() {
        for k in 0..=i as u64 {
            st.record(T0 + k, o, ms(3), Verdict::Unchecked);
        }
    }
    let s = st.snapshot(T0 + 1);
    for (i, o) in Outcome::ALL.into_iter().enumerate() {
        assert_eq!(s.outcomes[o.index()], i as u64 + 1, "{o}");
    }
    // Every kind is counted; all but `local_error` (the last, 12 of them) are samples.
    let n = Outcome::COUNT as u64;
    assert_eq!(Outcome::LocalError.index() as u64, n - 1);
    assert_eq!(s.samples, n * (n + 1) / 2 - n);
    assert_eq!((s.success.num, s.success.den), (1, s.samples));
    // Only the one success is a latency, though every failure came with an rtt.
    assert_eq!(s.latency.as_ref().map(|l| l.count), Some(1));
    let json = serde_json::to_value(&s).expect("json");
    assert_eq!(json["outcomes"]["network_error"], n - 1);
    assert_eq!(json["outcomes"]["local_error"], n);
}

#[test]
fn slow_counts_are_exact_at_the_threshold() {
    let mut st = stats();
    for (i, rtt) in [5_000, 5_001, 4_999, 7_000, 5_000].into_iter().enumerate() {
        ok(&mut st, T0 + i as u64, ms(rtt));
    }
    st.record(
        T0,
        Outcome::Ok,
        Some(Duration::from_nanos(5_000_000_001)),
        Verdict::Unchecked,
    );
    st.record(T0, Outcome::Timeout, ms(10_000), Verdict::Unchecked);
    ok(&mut st, T0, None);
    let s = st.snapshot(T0 + 10);
    let five = s.slow[0];
    assert_eq!(five.threshold, Duration::from_secs(5));
    // 5.001 s, 7 s and 5 s + 1 ns are over; 5.000 s twice and 4.999 s are not; the timeout
    // and the success without an rtt are not latencies at all.
    assert_eq!((five.over, five.of), (3, 6));
    assert_eq!(s.latency.as_ref().map(|l| l.max), ms(7_000));
    // Median of 6: the 3rd value (5.000 s) is not over 5 s; the 4th (p = 0.6) is.
    assert_eq!(
        s.latency_quantile_exceeds(0.5, Duration::from_secs(5)),
        Some(false)
    );
    assert_eq!(
        s.latency_quantile_exceeds(0.6, Duration::from_secs(5)),
        Some(true)
    );
    assert_eq!(
        s.latency_quantile_exceeds(0.5, Duration::from_secs(4)),
        None,
        "not tracked"
    );
}

#[test]
fn median_latency_exceeds_with_a_majority_of_slow_replies() {
    let spec = WindowSpec {
        latency_thresholds: vec![Duration::from_secs(5), Duration::from_secs(1)],
        ..WindowSpec::default()
    };
    let mut st = ServerStats::new(&spec);
    assert_eq!(
        st.snapshot(T0)
            .latency_quantile_exceeds(0.5, Duration::from_secs(5)),
        None
    );
    for (i, rtt) in [6_000, 6_000, 20, 30].into_iter().enumerate() {
        ok(&mut st, T0 + i as u64 * S, ms(rtt));
    }
    let s = st.snapshot(T0 + 4 * S);
    assert_eq!(
        s.latency_quantile_exceeds(0.5, Duration::from_secs(5)),
        Some(false),
        "2 of 4"
    );
    ok(&mut st, T0 + 4 * S, ms(5_500));
    let s = st.snapshot(T0 + 4 * S);
    assert_eq!(
        s.latency_quantile_exceeds(0.5, Duration::from_secs(5)),
        Some(true),
        "3 of 5"
    );
    assert_eq!(
        s.slow[1],
        SlowCount {
            threshold: Duration::from_secs(1),
            over: 3,
            of: 5
        }
    );
    // The histogram median agrees, within its precision.
    let p50 = s.latency.map(|l| l.p50).unwrap_or_default();
    assert!(
        p50 >= Duration::from_millis(5_500) && p50 <= Duration::from_millis(5_545),
        "{p50:?}"
    );
}

#[test]
fn quantiles_are_within_hdr_precision_of_known_data() {
    let spec = WindowSpec {
        latency_quantiles: vec![0.75, f64::NAN, 2.0],
        ..WindowSpec::default()
    };
    let mut st = ServerStats::new(&spec);
    // 1..=1000 ms, shuffled over the window by a stride coprime with 1000.
    for i in 0..1000_u64 {
        let rtt = (i * 7919) % 1000 + 1;
        ok(&mut st, T0 + i * 290, ms(rtt));
    }
    let l = st.snapshot(T0 + 290_000).latency.expect("latency");
    assert_eq!((l.count, l.max), (1000, Duration::from_secs(1)));
    let within = |got: Duration, want: u64| {
        let want = Duration::from_millis(want);
        got >= want && got.as_secs_f64() <= want.as_secs_f64() * (1.0 + 1.0 / 128.0)
    };
    assert!(within(l.p50, 500), "{:?}", l.p50);
    assert!(within(l.p90, 900), "{:?}", l.p90);
    assert!(within(l.p99, 990), "{:?}", l.p99);
    assert_eq!(l.quantiles.len(), 2, "NaN dropped");
    assert!(within(l.quantiles[0].value, 750));
    assert_eq!(
        (l.quantiles[1].q, l.quantiles[1].value),
        (1.0, l.max),
        "2.0 clamped to the max"
    );
}

#[test]
fn data_error_ratio_counts_checked_replies_only() {
    let mut st = stats();
    for i in 0..1000 {
        let v = match i {
            0 | 1 => Verdict::Missing,
            2 => Verdict::Wrong,
            _ => Verdict::Correct,
        };
        st.record(T0 + i, Outcome::Ok, ms(5), v);
    }
    for i in 0..500 {
        st.record(T0 + i, Outcome::Ok, ms(5), Verdict::Unchecked);
        fail(&mut st, T0 + i);
    }
    let s = st.snapshot(T0 + 1_000);
    assert_eq!((s.checked, s.missing, s.wrong), (1000, 2, 1));
    assert_eq!((s.data_error.num, s.data_error.den), (3, 1000));
    assert_eq!(s.data_error.point, Some(0.003));
    let (lo, hi) = wilson_interval_95(3, 1000);
    assert_eq!((s.data_error.lower, s.data_error.upper), (lo, hi));
    assert!(lo > 0.0001 && lo < 0.003 && hi > 0.003);
    assert_eq!(s.success.point, Some(1500.0 / 2000.0));
}

fn wilson_interval_95(k: u64, n: u64) -> (f64, f64) {
    super::super::ratio::wilson_interval(k, n, super::super::ratio::Z_95)
}

#[test]
fn recent_counts_detect_a_stopped_server() {
    let mut st = stats();
    // One probe a second: fine for two minutes, then every probe times out.
    for t in 0..120 {
        ok(&mut st, T0 + t * 1_000, ms(15));
    }
    for t in 120..180 {
        fail(&mut st, T0 + t * 1_000);
    }
    let now = T0 + 180_000 - 1;
    let r = st.recent(now, Duration::from_secs(60));
    assert_eq!(
        r,
        RecentCounts {
            attempts: 60,
            successes: 0,
            local_errors: 0,
            since: T0 + 120_000
        }
    );
    // Ten seconds earlier the last 60 s still held successes.
    let r = st.recent(now - S, Duration::from_secs(60));
    assert_eq!((r.attempts, r.successes), (60, 10));
    // Spans are slice granular and clamped to [one slice, the window].
    assert_eq!(st.recent(now, Duration::ZERO).attempts, 10);
    assert_eq!(st.recent(now, Duration::from_secs(55)).attempts, 60);
    assert_eq!(st.recent(now, Duration::from_secs(86_400)).attempts, 180);
    assert_eq!(st.last_success(), Some(T0 + 119_000));
}

#[test]
fn last_success_is_the_latest_send_time_of_a_success() {
    let mut st = stats();
    assert_eq!(st.last_success(), None);
    ok(&mut st, T0 + 7_123, ms(3));
    ok(&mut st, T0 + 5_000, ms(3));
    fail(&mut st, T0 + 9_000);
    assert_eq!(st.last_success(), Some(T0 + 7_123));
    // It outlives the window.
    assert_eq!(st.snapshot(T0 + 10 * W).last_success, Some(T0 + 7_123));
}

#[test]
fn a_gap_of_hours_empties_the_window_in_constant_time() {
    let mut st = stats();
    for t in 0..300 {
        ok(&mut st, T0 + t * 1_000, ms(15));
    }
    let later = T0 + 5 * 3_600_000;
    assert_eq!(st.snapshot(later).samples, 0, "nothing left after 5 h");
    assert_eq!(st.recent(later, Duration::from_secs(60)).attempts, 0);
    fail(&mut st, later);
    let s = st.snapshot(later);
    assert_eq!((s.samples, s.success.num, s.latency), (1, 0, None));
    // With 1 ms slices a gap of 2^62 ms would take ages if slices were walked.
    let spec = WindowSpec {
        window: Duration::from_millis(300),
        slice: Duration::from_millis(1),
        ..WindowSpec::default()
    };
    let mut st = ServerStats::new(&spec);
    ok(&mut st, 1, ms(1));
    ok(&mut st, 1 << 62, ms(1));
    assert_eq!(st.snapshot(1 << 62).samples, 1);
    assert_eq!(st.snapshot(u64::MAX).samples, 0);
}

#[test]
fn slices_newer_than_now_are_left_out() {
    let mut st = stats();
    ok(&mut st, T0, ms(1));
    ok(&mut st, T0 + 2 * S, ms(1));
    assert_eq!(st.snapshot(T0 + S).samples, 1);
    assert_eq!(st.snapshot(T0 + 2 * S).samples, 2);
}

#[test]
fn extreme_inputs_do_not_panic() {
    let spec = WindowSpec {
        window: Duration::ZERO,
        slice: Duration::ZERO,
        latency_thresholds: vec![Duration::ZERO, Duration::MAX],
        latency_quantiles: vec![f64::INFINITY, f64::NEG_INFINITY],
    };
    let mut st = ServerStats::new(&spec);
    for at in [0, 1, u64::MAX, u64::MAX - 1, 0] {
        for rtt in [
            None,
            Some(Duration::ZERO),
            Some(Duration::MAX),
            Some(Duration::from_nanos(1)),
        ] {
            st.record(at, Outcome::Ok, rtt, Verdict::Wrong);
        }
    }
    for now in [0, 1, u64::MAX] {
        let s = st.snapshot(now);
        assert!(s.samples <= 20);
        let _ = st.recent(now, Duration::MAX);
    }
    let s = st.snapshot(u64::MAX);
    assert_eq!(
        s.slow[0].over, 2,
        "both nonzero rtts at u64::MAX are over 0"
    );
    assert_eq!(s.slow[1].over, 0);
    assert_eq!(
        s.latency.map(|l| l.max),
        Some(Duration::from_nanos(u64::MAX))
    );
    assert!(st.late_dropped() > 0);
}

#[test]
fn memory_at_the_default_window_stays_small() {
    let end = T0 + W;
    for (rate, cap) in [(1, 8 * 1024), (10, 32 * 1024), (100, 124 * 1024)] {
        let st = fill(rate, end);
        let s = st.snapshot(end - 1);
        assert_eq!(s.samples, rate * W / 1000);
        let bytes = st.memory_bytes();
        println!(
            "{rate:>3} probes/s: {bytes} bytes ({:.1} KiB)",
            bytes as f64 / 1024.0
        );
        assert!(bytes <= cap, "{rate}/s: {bytes} > {cap}");
    }
}

#[test]
fn memory_never_passes_the_stated_worst_case() {
    let spec = WindowSpec::default();
    let mut st = ServerStats::new(&spec);
    // Every bucket from 0 to 60 s in every slice, twice, out of order.
    let highest = 60_000_000_u64;
    for slice in 0..30 {
        for pass in 0..2 {
            let mut us = pass;
            while us <= highest {
                ok(
                    &mut st,
                    T0 + slice * S + us % S,
                    Some(Duration::from_micros(us)),
                );
                us = us + 1 + us / 256;
            }
        }
    }
    let bytes = st.memory_bytes();
    println!(
        "worst case: {bytes} bytes, bound {}",
        spec.worst_case_bytes()
    );
    assert!(bytes <= spec.worst_case_bytes());
    assert!(
        bytes * 100 >= spec.worst_case_bytes() * 99,
        "the bound is tight"
    );
}

#[test]
fn failing_since_is_the_first_failure_after_the_last_success() {
    let mut st = stats();
    assert_eq!(st.snapshot(T0).failing_since, None);
    // Failing from the first probe on: since that probe, never earlier.
    fail(&mut st, T0 + 5_000);
    fail(&mut st, T0 + 10_000);
    assert_eq!(st.snapshot(T0 + 10_000).failing_since, Some(T0 + 5_000));
    ok(&mut st, T0 + 15_000, ms(10));
    assert_eq!(st.snapshot(T0 + 15_000).failing_since, None);
    fail(&mut st, T0 + 25_000);
    // A failure that arrives late, sent before the latest success, is not part of the run.
    fail(&mut st, T0 + 14_000);
    fail(&mut st, T0 + 20_000);
    assert_eq!(st.snapshot(T0 + 25_000).failing_since, Some(T0 + 20_000));
    // A probe the monitor could not make is no failure of the server.
    let mut st = stats();
    st.record(T0, Outcome::LocalError, None, Verdict::Unchecked);
    assert_eq!(st.snapshot(T0).failing_since, None);
    assert_eq!(st.snapshot(T0).samples, 0);
    assert_eq!(st.recent(T0, Duration::from_secs(60)).local_errors, 1);
}
