//! Condition clocks: how long each condition of the matrix has held (docs/measurement.md,
//! "Windows"; the 1 h and 4 h cells).
//!
//! A condition's clock starts at its onset — the first failed probe of the run that made it
//! true — and is not reset by blips: it clears only after the condition has been false for
//! `clear_after`. The 1 h and 4 h cells of the matrix are measured on these clocks, so they
//! are persisted by the incident store in the same transaction as the incidents they explain;
//! a restart of the monitor resumes the same onsets.
//!
//! Pure: no I/O and no clock reads; every time is a value.

use crate::clock::UnixMillis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One running clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockState {
    /// When the condition began: the first failed probe of the run. Never moves while the
    /// clock runs, which is what makes "stopped for more than 1 h" measurable across blips.
    pub onset: UnixMillis,
    /// The last time the condition was observed to hold. The clock clears once the condition
    /// has been false for `clear_after` after this instant.
    pub last_true: UnixMillis,
}

/// Every running condition clock, keyed by condition (`object:rule`, e.g.
/// `recursive/gd-resolvers:recursive.stopped`).
///
/// A `BTreeMap` so that serialization and persistence are in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConditionClocks {
    clocks: BTreeMap<String, ClockState>,
}

/// `Duration` → milliseconds, saturating (a `clear_after` of centuries is "never").
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl ConditionClocks {
    /// No clocks running.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one observation of a condition and returns the onset of its clock while the clock
    /// runs (None when no clock runs).
    ///
    /// - holds, no clock: a clock starts at `onset_hint` (clamped to `now`: an onset is never
    ///   in the future);
    /// - holds, clock running: the original onset is kept and `last_true` moves to `now`. A gap
    ///   in observation (the monitor was down) is not evidence that the condition was false,
    ///   so it does not reset the clock: a restart of the monitor resumes the 1 h and 4 h counts
    ///   (docs/matrix.md);
    /// - does not hold: the clock keeps running (a blip does not reset it) until
    ///   `now - last_true >= clear_after`, then it is dropped.
    pub fn observe(
        &mut self,
        key: &str,
        holds: bool,
        onset_hint: UnixMillis,
        now: UnixMillis,
        clear_after: Duration,
    ) -> Option<UnixMillis> {
        if holds {
            let state = self.clocks.entry(key.to_string()).or_insert(ClockState {
                onset: onset_hint.min(now),
                last_true: now,
            });
            // A clock that went backwards (NTP step) must not move last_true back, which
            // would clear the condition early.
            state.last_true = state.last_true.max(now);
            return Some(state.onset);
        }
        let state = *self.clocks.get(key)?;
        if now.saturating_sub(state.last_true) >= millis(clear_after) {
            self.clocks.remove(key);
            None
        } else {
            Some(state.onset)
        }
    }

    /// Observes as false every running clock whose key starts with `prefix` (an object's
    /// `class/name:`) and whose rule (the rest of the key) does not `hold` now: the same as
    /// [`observe`](Self::observe) with `holds = false` for each, in one range scan instead of
    /// one lookup per rule. Clocks that have been false for `clear_after` are dropped.
    pub fn observe_others_false(
        &mut self,
        prefix: &str,
        holds: impl Fn(&str) -> bool,
        now: UnixMillis,
        clear_after: Duration,
    ) {
        use std::ops::Bound;
        let clear = millis(clear_after);
        let expired: Vec<String> = self
            .clocks
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, st)| {
                !holds(&k[prefix.len()..]) && now.saturating_sub(st.last_true) >= clear
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.clocks.remove(&k);
        }
    }

    /// Replaces every clock whose key starts with `prefix` (an object's `class/name:`) with
    /// the ones `saved` has under it: an object held after a restart keeps its clocks as they
    /// were, whatever the nearly empty windows said this tick.
    pub fn restore_object(&mut self, saved: &ConditionClocks, prefix: &str) {
        self.clocks.retain(|k, _| !k.starts_with(prefix));
        for (k, st) in saved.clocks.iter().filter(|(k, _)| k.starts_with(prefix)) {
            self.clocks.insert(k.clone(), *st);
        }
    }

    /// Drops every clock whose key starts with `prefix` (an object's `class/name:`), for an
    /// object that is no longer configured. Returns how many were dropped.
    pub fn forget_prefix(&mut self, prefix: &str) -> usize {
        let before = self.clocks.len();
        self.clocks.retain(|k, _| !k.starts_with(prefix));
        before - self.clocks.len()
    }

    /// The state of the clock at `key`, if it runs.
    pub fn get(&self, key: &str) -> Option<&ClockState> {
        self.clocks.get(key)
    }

    /// Restores one clock as persisted (used by the store when loading).
    pub fn insert(&mut self, key: impl Into<String>, state: ClockState) {
        self.clocks.insert(key.into(), state);
    }

    /// Every clock, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ClockState)> {
        self.clocks.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many clocks run.
    pub fn len(&self) -> usize {
        self.clocks.len()
    }

    /// True when no clock runs.
    pub fn is_empty(&self) -> bool {
        self.clocks.is_empty()
    }

    /// Drops clocks whose condition has not held for `max_idle`, whether or not it was
    /// observed false. Grading observes every rule of every configured object each tick, so
    /// this only matters for objects removed from the configuration; the daemon calls it now
    /// and then with a generous `max_idle` (a day) so the table does not grow forever.
    /// Returns how many clocks were dropped.
    pub fn forget_idle(&mut self, now: UnixMillis, max_idle: Duration) -> usize {
        let before = self.clocks.len();
        let max_idle = millis(max_idle);
        self.clocks
            .retain(|_, s| now.saturating_sub(s.last_true) < max_idle);
        before - self.clocks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixMillis = 1_700_000_000_000;
    const S: u64 = 1_000;
    const CLEAR: Duration = Duration::from_secs(300);
    const K: &str = "recursive/gd-resolvers:recursive.stopped";

    #[test]
    fn observing_others_false_clears_only_that_objects_expired_clocks() {
        let mut c = ConditionClocks::new();
        let other = "recursive/gd-resolvers-2:recursive.stopped";
        c.observe(K, true, T0, T0, CLEAR);
        c.observe("recursive/gd-resolvers:x.held", true, T0, T0, CLEAR);
        c.observe(other, true, T0, T0, CLEAR);
        // Within clear_after nothing goes.
        c.observe_others_false(
            "recursive/gd-resolvers:",
            |r| r == "x.held",
            T0 + 299 * S,
            CLEAR,
        );
        assert_eq!(c.len(), 3);
        // After it, only the object's clock that does not hold goes; the one that holds and
        // another object's (same prefix but for the name) stay.
        c.observe_others_false(
            "recursive/gd-resolvers:",
            |r| r == "x.held",
            T0 + 300 * S,
            CLEAR,
        );
        assert!(c.get(K).is_none());
        assert!(c.get("recursive/gd-resolvers:x.held").is_some());
        assert!(c.get(other).is_some());
    }

    #[test]
    fn starts_at_hint_and_keeps_onset_while_holding() {
        let mut c = ConditionClocks::new();
        assert_eq!(
            c.observe(K, true, T0 - 40 * S, T0, CLEAR),
            Some(T0 - 40 * S)
        );
        // A later tick with a later hint does not move the onset.
        assert_eq!(
            c.observe(K, true, T0 + 5 * S, T0 + 10 * S, CLEAR),
            Some(T0 - 40 * S)
        );
        assert_eq!(
            c.get(K),
            Some(&ClockState {
                onset: T0 - 40 * S,
                last_true: T0 + 10 * S
            })
        );
    }

    #[test]
    fn hint_in_the_future_is_clamped_to_now() {
        let mut c = ConditionClocks::new();
        assert_eq!(c.observe(K, true, T0 + 60 * S, T0, CLEAR), Some(T0));
    }

    #[test]
    fn blip_shorter_than_clear_after_keeps_onset() {
        let mut c = ConditionClocks::new();
        c.observe(K, true, T0, T0, CLEAR);
        // False for 299 s: still running, same onset.
        for t in (10..300).step_by(10) {
            assert_eq!(
                c.observe(K, false, T0 + t * S, T0 + t * S, CLEAR),
                Some(T0),
                "t={t}"
            );
        }
        assert_eq!(
            c.observe(K, false, T0 + 299 * S, T0 + 299 * S, CLEAR),
            Some(T0)
        );
        // Holds again: the original onset, an hour later still.
        assert_eq!(
            c.observe(K, true, T0 + 300 * S, T0 + 300 * S, CLEAR),
            Some(T0)
        );
        assert_eq!(
            c.observe(K, true, T0 + 3600 * S, T0 + 3600 * S, CLEAR),
            Some(T0)
        );
    }

    #[test]
    fn false_for_clear_after_clears_and_next_run_starts_fresh() {
        let mut c = ConditionClocks::new();
        c.observe(K, true, T0, T0, CLEAR);
        assert_eq!(
            c.observe(K, false, T0 + 100 * S, T0 + 100 * S, CLEAR),
            Some(T0)
        );
        assert_eq!(c.observe(K, false, T0 + 300 * S, T0 + 300 * S, CLEAR), None);
        assert!(c.is_empty());
        assert_eq!(c.observe(K, false, T0 + 310 * S, T0 + 310 * S, CLEAR), None);
        assert_eq!(
            c.observe(K, true, T0 + 320 * S, T0 + 330 * S, CLEAR),
            Some(T0 + 320 * S)
        );
    }

    #[test]
    fn clear_after_is_measured_from_last_true_not_from_onset() {
        let mut c = ConditionClocks::new();
        c.observe(K, true, T0, T0, CLEAR);
        c.observe(K, true, T0, T0 + 1000 * S, CLEAR);
        assert_eq!(c.observe(K, false, T0, T0 + 1200 * S, CLEAR), Some(T0));
        assert_eq!(c.observe(K, false, T0, T0 + 1300 * S, CLEAR), None);
    }

    #[test]
    fn onset_never_moves_later_under_any_sequence() {
        // A deterministic pseudo-random walk of holds/blips/hints: while the clock runs, the
        // onset it reports is the one it started with.
        let mut c = ConditionClocks::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut now = T0;
        let mut onset: Option<UnixMillis> = None;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            now += (x % 30) * S;
            let holds = !x.is_multiple_of(3);
            let hint = now.saturating_sub((x >> 8) % (120 * S)) + (x >> 20) % (5 * S);
            let got = c.observe(K, holds, hint, now, CLEAR);
            match (onset, got) {
                (Some(o), Some(g)) => assert_eq!(o, g),
                (None, Some(g)) => {
                    assert!(g <= now);
                    onset = Some(g);
                }
                (_, None) => onset = None,
            }
        }
    }

    #[test]
    fn monitor_gap_does_not_reset_a_holding_condition() {
        let mut c = ConditionClocks::new();
        c.observe(K, true, T0, T0, CLEAR);
        // The monitor was down for 20 minutes; the condition holds when it comes back.
        assert_eq!(
            c.observe(K, true, T0 + 1200 * S, T0 + 1200 * S, CLEAR),
            Some(T0)
        );
    }

    #[test]
    fn clock_going_backwards_does_not_shorten_the_clock() {
        let mut c = ConditionClocks::new();
        c.observe(K, true, T0, T0 + 100 * S, CLEAR);
        c.observe(K, true, T0, T0 + 50 * S, CLEAR);
        assert_eq!(c.get(K).map(|s| s.last_true), Some(T0 + 100 * S));
    }

    #[test]
    fn zero_clear_after_clears_on_first_false() {
        let mut c = ConditionClocks::new();
        c.observe(K, true, T0, T0, Duration::ZERO);
        assert_eq!(c.observe(K, false, T0, T0, Duration::ZERO), None);
    }

    #[test]
    fn forget_idle_drops_only_long_idle_clocks() {
        let mut c = ConditionClocks::new();
        c.observe("a", true, T0, T0, CLEAR);
        c.observe("b", true, T0, T0 + 3600 * S, CLEAR);
        assert_eq!(
            c.forget_idle(T0 + 86_400 * S, Duration::from_secs(86_000)),
            1
        );
        assert!(c.get("a").is_none());
        assert!(c.get("b").is_some());
    }

    #[test]
    fn independent_keys() {
        let mut c = ConditionClocks::new();
        c.observe("x:a", true, T0, T0, CLEAR);
        c.observe("x:b", true, T0 + 5 * S, T0 + 10 * S, CLEAR);
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.iter().map(|(k, s)| (k, s.onset)).collect::<Vec<_>>(),
            vec![("x:a", T0), ("x:b", T0 + 5 * S)]
        );
    }
}
