//! The incident state machine: one open incident per object at a time. Pure — given what is
//! open for an object and a new assessment at `now`, it says what the incident becomes and
//! which transitions happened; the store writes that down.
//!
//! ```text
//!             grade appears                  grade changes (max kept)
//!   (none) ──────────────────► open ◄───────────────────────────────┐
//!                               │  │ grade gone                      │
//!                               │  ▼                                 │
//!                               │ open, clearing ── grade returns ───┘  (same incident)
//!                               │  │ no grade for clear_after
//!                               │  ▼
//!                               │ resolved
//! ```
//!
//! A flapping object therefore keeps one incident: a grade that returns within `clear_after`
//! continues the incident it left, and only `clear_after` without any grade resolves it.

use crate::clock::UnixMillis;
use crate::grading::millis;
use crate::grading::{Assessment, Level};
use std::time::Duration;

/// What the state machine needs to know about an open incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    /// The current grade (the last one while clearing).
    pub grade: Level,
    /// The highest grade so far.
    pub max_grade: Level,
    /// The candidate grade awaiting confirmation.
    pub candidate: Option<Level>,
    /// The earliest condition onset.
    pub onset: UnixMillis,
    /// Since when the object has had no grade, if it has none now.
    pub clearing_since: Option<UnixMillis>,
    /// Whether the object is in a maintenance window (as of the last step).
    pub maintenance: bool,
}

/// One thing that happened to an incident in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// A new incident at `grade`.
    Opened {
        /// Its grade.
        grade: Level,
    },
    /// The grade rose.
    Escalated {
        /// Before.
        from: Level,
        /// After.
        to: Level,
    },
    /// The grade fell but remains a grade.
    Deescalated {
        /// Before.
        from: Level,
        /// After.
        to: Level,
    },
    /// The candidate grade changed (appeared, moved, or went away).
    CandidateChanged {
        /// Before.
        from: Option<Level>,
        /// After.
        to: Option<Level>,
    },
    /// The object lost its grade; the incident resolves at `resolves_at` unless one returns.
    Clearing {
        /// The first step without a grade.
        since: UnixMillis,
        /// `since + clear_after`.
        resolves_at: UnixMillis,
    },
    /// A grade returned within `clear_after`: the same incident continues.
    Recurred {
        /// The grade it returned with.
        grade: Level,
        /// When clearing had begun.
        clearing_since: UnixMillis,
    },
    /// The object entered a maintenance window.
    MaintenanceStarted,
    /// The object left its maintenance window while the incident is open.
    MaintenanceEnded,
    /// No grade for `clear_after`: the incident is over.
    Resolved {
        /// When the grade went away.
        clearing_since: UnixMillis,
    },
}

/// What becomes of the object's incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// No incident, none opens.
    Nothing,
    /// The incident is (or stays, or becomes) open in this state.
    Open(Tracked),
    /// The incident resolves; this is its final state.
    Resolved(Tracked),
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The incident after the step.
    pub next: Next,
    /// What happened, in order.
    pub transitions: Vec<Transition>,
    /// The assessment has a grade: its rule, reasons, evidence, authority and next escalation
    /// replace the incident's. (Without a grade the incident keeps the last graded details, so
    /// a resolved record still says what was wrong.)
    pub refresh_details: bool,
}

/// Advances one object's incident by one assessment.
///
/// `current` is the open incident of `a.object`, if any; `in_maintenance` whether the object is
/// in a declared maintenance window at `now`. An assessment with a candidate but no grade opens
/// nothing (grading always pairs a candidate with a lower grade).
pub fn step(
    current: Option<&Tracked>,
    a: &Assessment,
    now: UnixMillis,
    clear_after: Duration,
    in_maintenance: bool,
) -> Step {
    let Some(cur) = current else {
        return open(a, now, in_maintenance);
    };
    let mut transitions = Vec::new();
    let mut t = *cur;
    match a.grade {
        Some(grade) => {
            recur(&mut t, grade, &mut transitions);
            regrade(&mut t, grade, a.onset, now, &mut transitions);
        }
        None => start_clearing(&mut t, now, clear_after, &mut transitions),
    }
    follow_candidate(&mut t, a.candidate, &mut transitions);
    follow_maintenance(&mut t, in_maintenance, &mut transitions);
    if let Some(resolved) = resolve(&t, now, clear_after) {
        transitions.push(resolved);
        return Step {
            next: Next::Resolved(t),
            transitions,
            refresh_details: false,
        };
    }
    Step {
        next: Next::Open(t),
        transitions,
        refresh_details: a.grade.is_some(),
    }
}

/// No incident is open: a grade opens one (clamping its onset to `now`), no grade opens nothing.
fn open(a: &Assessment, now: UnixMillis, in_maintenance: bool) -> Step {
    let mut transitions = Vec::new();
    let Some(grade) = a.grade else {
        return Step {
            next: Next::Nothing,
            transitions,
            refresh_details: false,
        };
    };
    transitions.push(Transition::Opened { grade });
    let t = Tracked {
        grade,
        max_grade: grade,
        candidate: a.candidate,
        onset: a.onset.unwrap_or(now).min(now),
        clearing_since: None,
        maintenance: in_maintenance,
    };
    Step {
        next: Next::Open(t),
        transitions,
        refresh_details: true,
    }
}

/// A grade while clearing: the same incident recurs and is no longer clearing.
fn recur(t: &mut Tracked, grade: Level, transitions: &mut Vec<Transition>) {
    if let Some(since) = t.clearing_since.take() {
        transitions.push(Transition::Recurred {
            grade,
            clearing_since: since,
        });
    }
}

/// A grade: escalates or de-escalates when it differs, keeps the maximum, and moves the onset
/// earlier (never past `now`) when the assessment gives one.
fn regrade(
    t: &mut Tracked,
    grade: Level,
    onset: Option<UnixMillis>,
    now: UnixMillis,
    transitions: &mut Vec<Transition>,
) {
    if grade > t.grade {
        transitions.push(Transition::Escalated {
            from: t.grade,
            to: grade,
        });
    } else if grade < t.grade {
        transitions.push(Transition::Deescalated {
            from: t.grade,
            to: grade,
        });
    }
    t.grade = grade;
    t.max_grade = t.max_grade.max(grade);
    if let Some(on) = onset {
        t.onset = t.onset.min(on.min(now));
    }
}

/// No grade: clearing starts now unless it already has.
fn start_clearing(
    t: &mut Tracked,
    now: UnixMillis,
    clear_after: Duration,
    transitions: &mut Vec<Transition>,
) {
    if t.clearing_since.is_none() {
        t.clearing_since = Some(now);
        transitions.push(Transition::Clearing {
            since: now,
            resolves_at: now.saturating_add(millis(clear_after)),
        });
    }
}

/// The candidate grade follows the assessment's; a change is a transition.
fn follow_candidate(t: &mut Tracked, candidate: Option<Level>, transitions: &mut Vec<Transition>) {
    if candidate != t.candidate {
        transitions.push(Transition::CandidateChanged {
            from: t.candidate,
            to: candidate,
        });
        t.candidate = candidate;
    }
}

/// The maintenance flag follows `in_maintenance`; entering or leaving is a transition.
fn follow_maintenance(t: &mut Tracked, in_maintenance: bool, transitions: &mut Vec<Transition>) {
    if in_maintenance != t.maintenance {
        transitions.push(if in_maintenance {
            Transition::MaintenanceStarted
        } else {
            Transition::MaintenanceEnded
        });
        t.maintenance = in_maintenance;
    }
}

/// The incident resolves when it has been clearing for at least `clear_after`.
fn resolve(t: &Tracked, now: UnixMillis, clear_after: Duration) -> Option<Transition> {
    let since = t.clearing_since?;
    (now.saturating_sub(since) >= millis(clear_after)).then_some(Transition::Resolved {
        clearing_since: since,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixMillis = 1_700_000_000_000;
    const S: u64 = 1_000;
    const CLEAR: Duration = Duration::from_secs(300);

    fn a(grade: Option<Level>, candidate: Option<Level>, onset: Option<UnixMillis>) -> Assessment {
        Assessment {
            object: "recursive/gd".parse().expect("object key"),
            grade,
            candidate,
            rule: grade.map(|_| "recursive.stopped".into()),
            reasons_zh: Vec::new(),
            reasons_en: Vec::new(),
            evidence: Vec::new(),
            authority: None,
            onset,
            next_escalation: None,
        }
    }

    /// Runs a sequence of (time offset s, grade) and returns each step.
    fn run(seq: &[(u64, Option<Level>)]) -> Vec<Step> {
        let mut cur: Option<Tracked> = None;
        let mut out = Vec::new();
        for &(t, g) in seq {
            let s = step(
                cur.as_ref(),
                &a(g, None, Some(T0)),
                T0 + t * S,
                CLEAR,
                false,
            );
            cur = match s.next {
                Next::Open(t) => Some(t),
                Next::Resolved(_) | Next::Nothing => None,
            };
            out.push(s);
        }
        out
    }

    #[test]
    fn healthy_object_opens_nothing() {
        let s = step(None, &a(None, None, None), T0, CLEAR, false);
        assert_eq!(s.next, Next::Nothing);
        assert!(s.transitions.is_empty());
        // A candidate without a grade opens nothing either.
        let s = step(None, &a(None, Some(Level::I), None), T0, CLEAR, false);
        assert_eq!(s.next, Next::Nothing);
    }

    #[test]
    fn open_escalate_deescalate_clear_resolve() {
        use Level::*;
        let steps = run(&[
            (0, Some(IV)),
            (10, Some(IV)),
            (3600, Some(II)),
            (3700, Some(III)),
            (3710, None),
            (3900, None),
            (4010, None),
        ]);
        let tr: Vec<_> = steps.iter().map(|s| s.transitions.clone()).collect();
        assert_eq!(tr[0], vec![Transition::Opened { grade: IV }]);
        assert!(tr[1].is_empty());
        assert_eq!(tr[2], vec![Transition::Escalated { from: IV, to: II }]);
        assert_eq!(tr[3], vec![Transition::Deescalated { from: II, to: III }]);
        assert_eq!(
            tr[4],
            vec![Transition::Clearing {
                since: T0 + 3710 * S,
                resolves_at: T0 + 4010 * S
            }]
        );
        assert!(tr[5].is_empty());
        assert_eq!(
            tr[6],
            vec![Transition::Resolved {
                clearing_since: T0 + 3710 * S
            }]
        );
        let Next::Resolved(last) = steps[6].next else {
            panic!("not resolved: {:?}", steps[6].next)
        };
        assert_eq!(last.max_grade, II);
        assert_eq!(last.grade, III, "keeps the last grade it had");
        assert_eq!(last.onset, T0);
        assert!(steps[4].next != Next::Nothing && !steps[4].refresh_details);
    }

    #[test]
    fn flapping_within_clear_after_is_one_incident() {
        use Level::*;
        let mut seq = Vec::new();
        for i in 0..60 {
            seq.push((i * 20, if i % 2 == 0 { Some(III) } else { None }));
        }
        let steps = run(&seq);
        let opened = steps
            .iter()
            .flat_map(|s| &s.transitions)
            .filter(|t| matches!(t, Transition::Opened { .. }))
            .count();
        let resolved = steps
            .iter()
            .flat_map(|s| &s.transitions)
            .filter(|t| matches!(t, Transition::Resolved { .. }))
            .count();
        assert_eq!((opened, resolved), (1, 0));
        // Each return is recorded as a recurrence of the same incident.
        assert_eq!(
            steps[2].transitions,
            vec![Transition::Recurred {
                grade: III,
                clearing_since: T0 + 20 * S
            }]
        );
    }

    #[test]
    fn grade_returning_at_a_different_level_recurs_and_changes() {
        use Level::*;
        let steps = run(&[(0, Some(III)), (10, None), (100, Some(II))]);
        assert_eq!(
            steps[2].transitions,
            vec![
                Transition::Recurred {
                    grade: II,
                    clearing_since: T0 + 10 * S
                },
                Transition::Escalated { from: III, to: II }
            ]
        );
        let Next::Open(t) = steps[2].next else {
            panic!()
        };
        assert_eq!(t.clearing_since, None);
    }

    #[test]
    fn after_resolution_a_new_grade_opens_a_new_incident() {
        use Level::*;
        let steps = run(&[(0, Some(IV)), (10, None), (310, None), (320, Some(IV))]);
        assert!(matches!(steps[2].next, Next::Resolved(_)));
        assert_eq!(steps[3].transitions, vec![Transition::Opened { grade: IV }]);
    }

    #[test]
    fn zero_clear_after_resolves_on_the_first_healthy_step() {
        let cur = Tracked {
            grade: Level::IV,
            max_grade: Level::IV,
            candidate: None,
            onset: T0,
            clearing_since: None,
            maintenance: false,
        };
        let s = step(
            Some(&cur),
            &a(None, None, None),
            T0 + S,
            Duration::ZERO,
            false,
        );
        assert!(matches!(s.next, Next::Resolved(_)));
        assert_eq!(s.transitions.len(), 2);
    }

    #[test]
    fn candidate_changes_are_transitions() {
        use Level::*;
        let s0 = step(None, &a(Some(II), Some(I), Some(T0)), T0, CLEAR, false);
        assert_eq!(s0.transitions, vec![Transition::Opened { grade: II }]);
        let Next::Open(t0) = s0.next else { panic!() };
        assert_eq!(t0.candidate, Some(I));
        // Confirmed: grade I, candidate gone.
        let s1 = step(
            Some(&t0),
            &a(Some(I), None, Some(T0)),
            T0 + 10 * S,
            CLEAR,
            false,
        );
        assert_eq!(
            s1.transitions,
            vec![
                Transition::Escalated { from: II, to: I },
                Transition::CandidateChanged {
                    from: Some(I),
                    to: None
                }
            ]
        );
    }

    #[test]
    fn onset_only_moves_earlier_and_never_past_now() {
        use Level::*;
        let s0 = step(
            None,
            &a(Some(IV), None, Some(T0 + 50 * S)),
            T0 + 10 * S,
            CLEAR,
            false,
        );
        let Next::Open(t0) = s0.next else { panic!() };
        assert_eq!(t0.onset, T0 + 10 * S, "clamped to now");
        let s1 = step(
            Some(&t0),
            &a(Some(II), None, Some(T0 + 100 * S)),
            T0 + 200 * S,
            CLEAR,
            false,
        );
        let Next::Open(t1) = s1.next else { panic!() };
        assert_eq!(t1.onset, T0 + 10 * S);
        let s2 = step(
            Some(&t1),
            &a(Some(II), None, Some(T0)),
            T0 + 210 * S,
            CLEAR,
            false,
        );
        let Next::Open(t2) = s2.next else { panic!() };
        assert_eq!(t2.onset, T0);
        // No onset given: the incident's stands.
        let s3 = step(
            Some(&t2),
            &a(Some(II), None, None),
            T0 + 220 * S,
            CLEAR,
            false,
        );
        let Next::Open(t3) = s3.next else { panic!() };
        assert_eq!(t3.onset, T0);
    }

    #[test]
    fn maintenance_is_flagged_and_tracked() {
        use Level::*;
        let s0 = step(None, &a(Some(III), None, Some(T0)), T0, CLEAR, true);
        let Next::Open(t0) = s0.next else { panic!() };
        assert!(t0.maintenance);
        let s1 = step(
            Some(&t0),
            &a(Some(III), None, Some(T0)),
            T0 + 10 * S,
            CLEAR,
            false,
        );
        assert_eq!(s1.transitions, vec![Transition::MaintenanceEnded]);
        let Next::Open(t1) = s1.next else { panic!() };
        assert!(!t1.maintenance);
        let s2 = step(
            Some(&t1),
            &a(Some(III), None, Some(T0)),
            T0 + 20 * S,
            CLEAR,
            true,
        );
        assert_eq!(s2.transitions, vec![Transition::MaintenanceStarted]);
    }
}
