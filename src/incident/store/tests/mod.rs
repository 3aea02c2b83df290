//! Ledger tests: plain millisecond values (or a ManualClock), no sleeping. The shared
//! builders are here; the tests are grouped by concern in the files below.

mod durability;
mod lifecycle;
mod operator;
mod query;
mod record;

use super::schema::MIGRATIONS;
use super::*;
use crate::clock::{Clock, ManualClock, UnixMillis};
use crate::grading::{Assessment, ConditionClocks, Level};
use crate::grading::{Authority, Escalation, ServerEvidence};
use crate::incident::model::{
    EventKind, GradeView, Incident, IncidentEvent, IncidentState, ListFilter, NextEscalation,
    StateFilter, Timestamp,
};
const T0: UnixMillis = 1_700_000_000_000;
const S: u64 = 1_000;
const CLEAR: Duration = Duration::from_secs(300);
const OBJ: &str = "recursive/gd-resolvers";

fn evidence(stopped: bool) -> Vec<ServerEvidence> {
    vec![ServerEvidence {
        server: "gd1 192.0.2.1:53".into(),
        samples: 30,
        checked: 0,
        success: Some(if stopped { 0.0 } else { 1.0 }),
        success_lower: 0.0,
        success_upper: if stopped { 0.11 } else { 1.0 },
        latency_s: None,
        data_error: None,
        data_error_lower: 0.0,
        stopped,
        bad: stopped,
        unknown: false,
    }]
}

fn asmt(object: &str, grade: Option<Level>, onset: Option<UnixMillis>) -> Assessment {
    Assessment {
        object: object.parse().expect("object key"),
        grade,
        candidate: None,
        rule: grade.map(|_| "recursive.stopped".to_string()),
        reasons_zh: grade
            .map(|_| "递归解析系统停止服务".to_string())
            .into_iter()
            .collect(),
        reasons_en: grade
            .map(|_| "resolver system stopped".to_string())
            .into_iter()
            .collect(),
        evidence: evidence(grade.is_some()),
        authority: grade.map(|_| Authority {
            lead_zh: "涉事单位自行处置".into(),
            lead_en: "the unit itself".into(),
            notify: vec![],
        }),
        onset: grade.and(onset),
        next_escalation: None,
    }
}

fn with_candidate(mut a: Assessment, c: Level) -> Assessment {
    a.candidate = Some(c);
    a
}

fn mem() -> IncidentStore {
    IncidentStore::open_in_memory().expect("in-memory store")
}

fn kinds(evs: &[IncidentEvent]) -> Vec<EventKind> {
    evs.iter().map(|e| e.kind).collect()
}

/// Applies one assessment with empty clocks.
fn tick(st: &IncidentStore, a: Assessment, now: UnixMillis) -> Vec<IncidentEvent> {
    st.apply(&[a], &ConditionClocks::new(), now, CLEAR)
        .expect("apply")
}

fn open_list(st: &IncidentStore) -> Vec<Incident> {
    st.list(&ListFilter::default()).expect("list")
}

fn count(st: &IncidentStore, table: &str) -> i64 {
    st.lock()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}
