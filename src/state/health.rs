//! Readiness: whether what the daemon publishes can be trusted now, for `GET /readyz`.
//!
//! `/healthz` answers "the process is alive". `/readyz` answers 200 only when every check
//! below holds, otherwise 503, with a JSON body naming each check, whether it holds and why:
//!
//! - `tick`: an evaluation of the tick loop ran less than two ticks ago (by the daemon's
//!   clock) and it started less than two ticks after it was due;
//! - `ledger`: that evaluation's ledger transaction succeeded;
//! - `references`: every AXFR reference has had a first transfer (zone-file references are
//!   read before the daemon starts, or it does not start);
//! - `warm_up`: the daemon is past its post-start warm-up (the windows hold enough new samples
//!   to decide on; meanwhile open incidents are held at their grades).
//!
//! The tick records what it did with [`Health::tick_done`]; [`Health::readiness`] takes `now`
//! as a value, so tests set the time instead of waiting for it.

use crate::clock::UnixMillis;
use crate::reference::LiveReference;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A check fails once the last evaluation is this many ticks old, or started this many ticks
/// late.
pub const LATE_TICKS: u32 = 2;

/// What the tick and the references report, read by `/readyz`.
#[derive(Debug, Default)]
pub struct Health {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The latest evaluation of the tick loop (not the one made before serving).
    last: Option<TickRecord>,
    /// Whether the daemon was in its warm-up at the latest evaluation that got that far.
    warming_up: bool,
    /// AXFR references by object name: loaded once their generation is above 0.
    transfers: Vec<(String, Arc<LiveReference>)>,
}

/// One evaluation of the tick loop.
#[derive(Debug, Clone)]
struct TickRecord {
    /// When it evaluated, by the daemon's clock.
    at: UnixMillis,
    /// How long after it was due it started.
    lag: Duration,
    /// The ledger error, if its transaction failed.
    ledger_error: Option<String>,
}

/// One readiness check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    /// Whether it holds.
    pub ok: bool,
    /// Why, in words.
    pub detail: String,
}

/// The answer of `/readyz`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Readiness {
    /// Every check holds.
    pub ready: bool,
    /// The names of the checks that fail.
    pub failing: Vec<&'static str>,
    /// Every check by name: `tick`, `ledger`, `references`, `warm_up`.
    pub checks: BTreeMap<&'static str, Check>,
}

impl Health {
    /// A fresh state, with the daemon in its warm-up and no evaluation yet.
    pub fn new() -> Health {
        Health {
            inner: Mutex::new(Inner {
                warming_up: true,
                ..Inner::default()
            }),
        }
    }

    /// Watches an AXFR reference: `/readyz` waits for its first transfer. It replaces the one
    /// the object had (a reload restarted the object).
    pub fn watch_transfer(&self, object: &str, reference: Arc<LiveReference>) {
        let mut inner = super::lock(&self.inner);
        inner.transfers.retain(|(o, _)| o != object);
        inner.transfers.push((object.to_string(), reference));
    }

    /// Stops watching the reference of an object that is no longer configured.
    pub fn unwatch(&self, object: &str) {
        super::lock(&self.inner)
            .transfers
            .retain(|(o, _)| o != object);
    }

    /// Watches every AXFR reference of `objects` among the started `references`.
    pub fn watch_transfers(
        &self,
        objects: &[crate::config::Object],
        references: &std::collections::HashMap<String, Arc<LiveReference>>,
    ) {
        for o in objects {
            let axfr = o
                .reference
                .as_ref()
                .is_some_and(|r| matches!(r.source, crate::config::ReferenceSource::Axfr { .. }));
            if let (true, Some(r)) = (axfr, references.get(&o.name)) {
                self.watch_transfer(&o.name, r.clone());
            }
        }
    }

    /// Records an evaluation of the tick loop at `at` that started `lag` late: `Ok` with
    /// whether it was in the warm-up, or the ledger's error.
    pub fn tick_done(&self, at: UnixMillis, lag: Duration, result: Result<bool, String>) {
        let mut inner = super::lock(&self.inner);
        let ledger_error = match result {
            Ok(warming_up) => {
                inner.warming_up = warming_up;
                None
            }
            Err(e) => Some(e),
        };
        inner.last = Some(TickRecord {
            at,
            lag,
            ledger_error,
        });
    }

    /// The checks at `now` for a daemon that ticks every `tick`.
    pub fn readiness(&self, now: UnixMillis, tick: Duration) -> Readiness {
        let inner = super::lock(&self.inner);
        let mut checks = BTreeMap::new();
        checks.insert("tick", tick_check(inner.last.as_ref(), now, tick));
        checks.insert(
            "ledger",
            match inner.last.as_ref().map(|t| t.ledger_error.as_deref()) {
                None => fail("no evaluation yet"),
                Some(None) => pass("the last evaluation was written to the ledger"),
                Some(Some(e)) => fail(format!("the last evaluation could not be written: {e}")),
            },
        );
        let missing: Vec<&str> = inner
            .transfers
            .iter()
            .filter(|(_, r)| r.generation() == 0)
            .map(|(name, _)| name.as_str())
            .collect();
        checks.insert(
            "references",
            match missing.as_slice() {
                [] => pass("every reference is loaded"),
                m => fail(format!("no zone transfer yet for {}", m.join(", "))),
            },
        );
        checks.insert(
            "warm_up",
            if inner.warming_up {
                fail("warming up after the start: the windows do not yet hold enough samples to decide; open incidents, if any, are held at their grades")
            } else {
                pass("the windows hold enough samples since the start")
            },
        );
        let failing: Vec<&'static str> = checks
            .iter()
            .filter(|(_, c)| !c.ok)
            .map(|(name, _)| *name)
            .collect();
        Readiness {
            ready: failing.is_empty(),
            failing,
            checks,
        }
    }
}

fn pass(detail: impl Into<String>) -> Check {
    Check {
        ok: true,
        detail: detail.into(),
    }
}

fn fail(detail: impl Into<String>) -> Check {
    Check {
        ok: false,
        detail: detail.into(),
    }
}

/// The `tick` check: the last evaluation recent and on time.
fn tick_check(last: Option<&TickRecord>, now: UnixMillis, tick: Duration) -> Check {
    let limit = tick * LATE_TICKS;
    let Some(t) = last else {
        return fail("no evaluation of the tick loop yet");
    };
    let age = Duration::from_millis(now.saturating_sub(t.at));
    if age >= limit {
        return fail(format!(
            "the last evaluation was {:.1} s ago, over {} ticks ({:.1} s)",
            age.as_secs_f64(),
            LATE_TICKS,
            limit.as_secs_f64()
        ));
    }
    if t.lag >= limit {
        return fail(format!(
            "the last evaluation started {:.1} s late, over {} ticks ({:.1} s)",
            t.lag.as_secs_f64(),
            LATE_TICKS,
            limit.as_secs_f64()
        ));
    }
    pass(format!(
        "the last evaluation was {:.1} s ago and started {:.3} s late",
        age.as_secs_f64(),
        t.lag.as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::DelegationsBuilder;

    const TICK: Duration = Duration::from_secs(10);
    const T0: UnixMillis = 1_795_341_600_000;

    #[test]
    fn not_ready_before_the_first_evaluation() {
        let h = Health::new();
        let r = h.readiness(T0, TICK);
        assert!(!r.ready);
        assert_eq!(r.failing, ["ledger", "tick", "warm_up"]);
    }

    #[test]
    fn not_ready_in_the_warm_up_then_ready() {
        let h = Health::new();
        h.tick_done(T0, Duration::ZERO, Ok(true));
        assert_eq!(h.readiness(T0 + 1_000, TICK).failing, ["warm_up"]);
        h.tick_done(T0 + 10_000, Duration::from_millis(3), Ok(false));
        let r = h.readiness(T0 + 11_000, TICK);
        assert!(r.ready, "{r:?}");
        assert!(r.failing.is_empty());
    }

    #[test]
    fn a_late_or_stale_tick_is_not_ready() {
        let h = Health::new();
        h.tick_done(T0, Duration::ZERO, Ok(false));
        assert!(h.readiness(T0 + 19_999, TICK).ready);
        let stale = h.readiness(T0 + 20_000, TICK);
        assert_eq!(stale.failing, ["tick"]);
        assert!(
            stale.checks["tick"].detail.contains("20.0 s ago"),
            "{stale:?}"
        );
        h.tick_done(T0 + 30_000, Duration::from_secs(25), Ok(false));
        let late = h.readiness(T0 + 30_000, TICK);
        assert_eq!(late.failing, ["tick"]);
        assert!(
            late.checks["tick"].detail.contains("25.0 s late"),
            "{late:?}"
        );
    }

    #[test]
    fn a_failed_ledger_write_is_not_ready_and_the_warm_up_state_is_kept() {
        let h = Health::new();
        h.tick_done(T0, Duration::ZERO, Ok(false));
        h.tick_done(T0 + 10_000, Duration::ZERO, Err("disk I/O error".into()));
        let r = h.readiness(T0 + 10_000, TICK);
        assert_eq!(r.failing, ["ledger"]);
        assert!(r.checks["ledger"].detail.contains("disk I/O error"));
        h.tick_done(T0 + 20_000, Duration::ZERO, Ok(false));
        assert!(h.readiness(T0 + 20_000, TICK).ready);
    }

    #[test]
    fn an_axfr_reference_without_a_transfer_is_not_ready() {
        let h = Health::new();
        let apex = hickory_proto::rr::Name::from_ascii("cn.").expect("name");
        let live = Arc::new(LiveReference::new(
            DelegationsBuilder::new(apex.clone()).finish(),
        ));
        h.watch_transfer("cn", live.clone());
        h.tick_done(T0, Duration::ZERO, Ok(false));
        let r = h.readiness(T0, TICK);
        assert_eq!(r.failing, ["references"]);
        assert!(r.checks["references"].detail.contains("cn"));
        live.replace(DelegationsBuilder::new(apex).finish());
        assert!(h.readiness(T0, TICK).ready);
    }

    #[test]
    fn the_answer_serializes_with_every_check() {
        let h = Health::new();
        let v = serde_json::to_value(h.readiness(T0, TICK)).expect("json");
        assert_eq!(v["ready"], false);
        for c in ["tick", "ledger", "references", "warm_up"] {
            assert!(v["checks"][c]["ok"].is_boolean(), "{v}");
            assert!(v["checks"][c]["detail"].is_string(), "{v}");
        }
    }
}
