//! One source of truth for each object's row: its assessment and its open incident, both
//! taken from the same published board ([`Board::open_incidents`] is the ledger as it stood
//! right after the tick that graded the objects), and the rule that says how the two relate.
//!
//! They legitimately differ in three cases, and the page then shows both: the incident is
//! clearing (the object has no grade now; the record keeps the last one until it resolves),
//! the vantage point is isolated (the incident is held; the fresh assessment is not trusted),
//! or the incident is a drill. Any other difference is shown as such, never hidden.

use crate::clock::UnixMillis;
use crate::evaluator::{Board, ObjectStatus};
use crate::grading::Level;
use crate::incident::Incident;
use std::collections::HashMap;

/// How an object's grade and its open incident's grade relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// No open incident: the object's own grade (or none) is all there is.
    NoIncident,
    /// The incident has the object's grade.
    Same,
    /// The object has no grade now; the incident keeps its last grade and resolves at this
    /// time unless a grade returns first.
    Clearing {
        /// `clearing_since + clear_after`.
        resolves_at: UnixMillis,
    },
    /// The vantage point is cut off: the incident is held at its grade while the fresh
    /// assessment differs (and is not trusted).
    Held,
    /// The incident is a drill, apart from the object's real grade.
    Drill,
    /// Any other difference (a person's write between two ticks): both are shown.
    Differs,
}

impl Agreement {
    /// The `data-agreement` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Agreement::NoIncident => "none",
            Agreement::Same => "same",
            Agreement::Clearing { .. } => "clearing",
            Agreement::Held => "held",
            Agreement::Drill => "drill",
            Agreement::Differs => "differs",
        }
    }

    /// Whether the row must show the incident's grade beside the object's.
    pub fn shows_both(self) -> bool {
        !matches!(self, Agreement::NoIncident | Agreement::Same)
    }
}

/// The consistency rule: how `grade` (the object's, from the board) relates to `incident`
/// (its open incident in the same board).
pub fn reconcile(
    grade: Option<Level>,
    incident: Option<&Incident>,
    isolated: bool,
    clear_after_ms: u64,
) -> Agreement {
    let Some(inc) = incident else {
        return Agreement::NoIncident;
    };
    if inc.drill {
        return Agreement::Drill;
    }
    if grade == Some(inc.grade.0) {
        return Agreement::Same;
    }
    if isolated {
        return Agreement::Held;
    }
    match inc.clearing_since {
        Some(since) if grade.is_none() => Agreement::Clearing {
            resolves_at: since.ms().saturating_add(clear_after_ms),
        },
        _ => Agreement::Differs,
    }
}

/// One object's row: the object, its open incident, and how they relate.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The object as graded.
    pub object: &'a ObjectStatus,
    /// Its open incident (the real one when a drill runs beside it).
    pub incident: Option<&'a Incident>,
    /// How the two relate.
    pub agreement: Agreement,
}

impl Row<'_> {
    /// The worse of the object's grade and its incident's, for ordering the wall.
    pub fn severity(&self) -> Option<Level> {
        self.object
            .assessment
            .grade
            .max(self.incident.map(|i| i.grade.0))
    }
}

/// Each object's open incident: the real one when a drill of the same object runs beside it.
fn by_object(open: &[Incident]) -> HashMap<&str, &Incident> {
    let mut by: HashMap<&str, &Incident> = HashMap::new();
    for inc in open {
        let key: &str = &inc.object;
        let keep = by.get(key).is_some_and(|have| !have.drill || inc.drill);
        if !keep {
            by.insert(key, inc);
        }
    }
    by
}

/// Every object of `board` with its open incident from the same board, worst first (then by
/// key, so the order is stable from one refresh to the next).
pub fn rows(board: &Board, clear_after_ms: u64) -> Vec<Row<'_>> {
    let by_object = by_object(&board.open_incidents);
    let mut rows: Vec<Row<'_>> = board
        .objects
        .iter()
        .map(|o| {
            let incident = by_object.get(&*o.assessment.object).copied();
            Row {
                object: o,
                incident,
                agreement: reconcile(o.assessment.grade, incident, board.isolated, clear_after_ms),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.severity()
            .cmp(&a.severity())
            .then_with(|| a.object.assessment.object.cmp(&b.object.assessment.object))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{GradeView, IncidentState, Timestamp};

    fn incident(object: &str, grade: Level) -> Incident {
        Incident {
            id: 7,
            object: object.parse().expect("key"),
            state: IncidentState::Open,
            grade: GradeView(grade),
            max_grade: GradeView(grade),
            candidate: None,
            rule: Some("tld.bad_nodes_half".into()),
            reasons_zh: vec![],
            reasons_en: vec![],
            evidence: serde_json::Value::Null,
            authority: None,
            next_escalation: None,
            onset: Timestamp(1_000),
            detected_at: Timestamp(1_000),
            clearing_since: None,
            acknowledged_at: None,
            acknowledged_by: None,
            impact_confirmed_at: None,
            impact_confirmed_by: None,
            resolved_at: None,
            cause: None,
            false_positive: None,
            false_positive_at: None,
            maintenance: false,
            drill: false,
            updated_at: Timestamp(1_000),
            result: None,
            organisations: Vec::new(),
            reported_at: None,
            reported_to: None,
            coordinator_confirmed_at: None,
        }
    }

    #[test]
    fn same_grade_agrees_and_no_incident_is_the_object_alone() {
        let inc = incident("tld/cn", Level::II);
        assert_eq!(
            reconcile(Some(Level::II), Some(&inc), false, 300_000),
            Agreement::Same
        );
        assert_eq!(reconcile(None, None, false, 300_000), Agreement::NoIncident);
        assert_eq!(
            reconcile(Some(Level::IV), None, false, 300_000),
            Agreement::NoIncident
        );
    }

    #[test]
    fn a_clearing_incident_without_a_grade_says_when_it_resolves() {
        let mut inc = incident("tld/cn", Level::II);
        inc.clearing_since = Some(Timestamp(10_000));
        let a = reconcile(None, Some(&inc), false, 300_000);
        assert_eq!(
            a,
            Agreement::Clearing {
                resolves_at: 310_000
            }
        );
        assert!(a.shows_both());
    }

    #[test]
    fn isolation_holds_and_drills_stand_apart_and_other_differences_show() {
        let inc = incident("tld/cn", Level::II);
        assert_eq!(reconcile(None, Some(&inc), true, 300_000), Agreement::Held);
        // Open, not clearing, and another grade: never presented as agreement.
        let a = reconcile(Some(Level::III), Some(&inc), false, 300_000);
        assert_eq!(a, Agreement::Differs);
        assert!(a.shows_both());
        let mut drill = incident("tld/cn", Level::I);
        drill.drill = true;
        assert_eq!(
            reconcile(None, Some(&drill), false, 300_000),
            Agreement::Drill
        );
    }

    #[test]
    fn the_real_incident_wins_over_a_drill_of_the_same_object() {
        let mut drill = incident("tld/cn", Level::I);
        drill.drill = true;
        drill.id = 9;
        let real = incident("tld/cn", Level::II);
        for open in [
            vec![drill.clone(), real.clone()],
            vec![real.clone(), drill.clone()],
        ] {
            let by = by_object(&open);
            assert_eq!(by["tld/cn"].id, 7);
        }
    }
}
