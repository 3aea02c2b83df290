//! Ledger tests: plain millisecond values (or a ManualClock), no sleeping.

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

#[test]
fn open_escalate_deescalate_clear_resolve_keeps_max_grade() {
    use Level::*;
    let st = mem();
    let clock = ManualClock::new(T0);
    let on = T0 - 40 * S;

    let e = tick(&st, asmt(OBJ, Some(IV), Some(on)), clock.now_ms());
    assert_eq!(kinds(&e), [EventKind::Opened]);
    let id = e[0].incident_id;
    assert_eq!(e[0].seq, 1);
    assert_eq!(e[0].incident.state, IncidentState::Open);
    assert_eq!(e[0].incident.onset, Timestamp(on));
    assert_eq!(e[0].incident.detected_at, Timestamp(T0));
    assert_eq!(
        e[0].incident.evidence[0]["stopped"],
        serde_json::json!(true)
    );
    assert_eq!(
        e[0].incident
            .authority
            .as_ref()
            .map(|a| a["lead_zh"].clone()),
        Some("涉事单位自行处置".into())
    );

    clock.advance_ms(10 * S);
    assert!(tick(&st, asmt(OBJ, Some(IV), Some(on)), clock.now_ms()).is_empty());

    clock.set_ms(T0 + 3600 * S);
    let e = tick(&st, asmt(OBJ, Some(II), Some(on)), clock.now_ms());
    assert_eq!(kinds(&e), [EventKind::Escalated]);
    assert_eq!(e[0].payload, serde_json::json!({"from": "IV", "to": "II"}));
    assert_eq!(e[0].incident.grade, GradeView(II));

    clock.advance_ms(100 * S);
    let e = tick(&st, asmt(OBJ, Some(III), Some(on)), clock.now_ms());
    assert_eq!(kinds(&e), [EventKind::Deescalated]);
    assert_eq!(
        (e[0].incident.grade, e[0].incident.max_grade),
        (GradeView(III), GradeView(II))
    );

    clock.advance_ms(10 * S);
    let clearing_at = clock.now_ms();
    let e = tick(&st, asmt(OBJ, None, None), clearing_at);
    assert_eq!(kinds(&e), [EventKind::Clearing]);
    assert_eq!(e[0].incident.clearing_since, Some(Timestamp(clearing_at)));
    assert_eq!(e[0].incident.state, IncidentState::Open);
    // The record keeps saying what was wrong.
    assert_eq!(e[0].incident.rule.as_deref(), Some("recursive.stopped"));
    assert_eq!(
        e[0].incident.evidence[0]["stopped"],
        serde_json::json!(true)
    );

    clock.advance_ms(299 * S);
    assert!(tick(&st, asmt(OBJ, None, None), clock.now_ms()).is_empty());
    assert_eq!(open_list(&st).len(), 1);

    clock.advance_ms(S);
    let e = tick(&st, asmt(OBJ, None, None), clock.now_ms());
    assert_eq!(kinds(&e), [EventKind::Resolved]);
    let inc = &e[0].incident;
    assert_eq!(inc.state, IncidentState::Resolved);
    assert_eq!(
        inc.resolved_at,
        Some(Timestamp(clearing_at + CLEAR.as_millis() as u64))
    );
    assert_eq!((inc.grade, inc.max_grade), (GradeView(III), GradeView(II)));
    assert_eq!(inc.onset, Timestamp(on));
    assert_eq!(inc.duration_s(0), (clearing_at + 300 * S - on) / 1000);
    assert!(open_list(&st).is_empty());

    let d = st.get(id).expect("get").expect("exists");
    let tl: Vec<_> = d.timeline.iter().map(|t| (t.seq, t.kind)).collect();
    assert_eq!(
        tl,
        [
            (1, EventKind::Opened),
            (2, EventKind::Escalated),
            (3, EventKind::Deescalated),
            (4, EventKind::Clearing),
            (5, EventKind::Resolved)
        ]
    );
    assert_eq!(d.incident, *inc);

    // The next grade is a new incident.
    clock.advance_ms(10 * S);
    let e = tick(
        &st,
        asmt(OBJ, Some(IV), Some(clock.now_ms())),
        clock.now_ms(),
    );
    assert_eq!(kinds(&e), [EventKind::Opened]);
    assert_ne!(e[0].incident_id, id);
}

#[test]
fn flapping_within_clear_after_keeps_one_incident() {
    let st = mem();
    let mut now = T0;
    for i in 0..100 {
        let g = if i % 3 == 0 { None } else { Some(Level::III) };
        tick(&st, asmt(OBJ, g, Some(T0)), now);
        now += 10 * S;
    }
    let all = st
        .list(&ListFilter {
            state: StateFilter::All,
            ..Default::default()
        })
        .expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].state, IncidentState::Open);
    let d = st.get(all[0].id).expect("get").expect("exists");
    let opened = d
        .timeline
        .iter()
        .filter(|t| t.kind == EventKind::Opened)
        .count();
    let recurred = d
        .timeline
        .iter()
        .filter(|t| t.kind == EventKind::Recurred)
        .count();
    assert_eq!(opened, 1);
    assert_eq!(recurred, 32);
    assert!(d
        .timeline
        .iter()
        .all(|t| t.kind.webhook_type() != Some("incident.resolved")));
}

#[test]
fn healthy_objects_write_nothing() {
    let st = mem();
    let a: Vec<_> = (0..50)
        .map(|i| asmt(&format!("tld/t{i}"), None, None))
        .collect();
    assert!(st
        .apply(&a, &ConditionClocks::new(), T0, CLEAR)
        .expect("apply")
        .is_empty());
    assert_eq!(count(&st, "incidents"), 0);
}

#[test]
fn many_objects_in_one_tick() {
    use Level::*;
    let st = mem();
    let a = vec![
        asmt("tld/cn", Some(II), Some(T0)),
        asmt("tld/xn--fiqs8s", None, None),
        asmt("website/example", Some(IV), Some(T0)),
    ];
    let e = st
        .apply(&a, &ConditionClocks::new(), T0, CLEAR)
        .expect("apply");
    assert_eq!(e.len(), 2);
    assert!(e.windows(2).all(|w| w[0].id < w[1].id));
    let counts = st.open_count_by_grade().expect("counts");
    assert_eq!(counts.get(&II), Some(&1));
    assert_eq!(counts.get(&IV), Some(&1));
    assert_eq!(counts.get(&I), Some(&0));
    assert_eq!(counts.len(), 4);
}

#[test]
fn acknowledge_including_resolved() {
    let st = mem();
    let id = tick(&st, asmt(OBJ, Some(Level::IV), Some(T0)), T0)[0].incident_id;
    let e = st
        .acknowledge(id, " alice ", Some("looking"), T0 + 60 * S)
        .expect("ack");
    assert_eq!(e.kind, EventKind::Acknowledged);
    assert_eq!(e.kind.webhook_type(), Some("incident.acknowledged"));
    assert_eq!(
        e.payload,
        serde_json::json!({"by": "alice", "note": "looking"})
    );
    assert_eq!(e.incident.acknowledged_by.as_deref(), Some("alice"));
    assert_eq!(e.incident.acknowledged_at, Some(Timestamp(T0 + 60 * S)));
    // A second ack is in the timeline, the first stays on the record.
    let e = st.acknowledge(id, "bob", None, T0 + 90 * S).expect("ack");
    assert_eq!(e.incident.acknowledged_by.as_deref(), Some("alice"));
    assert_eq!(e.seq, 3);
    // Resolve, then a late ack is still accepted.
    tick(&st, asmt(OBJ, None, None), T0 + 100 * S);
    tick(&st, asmt(OBJ, None, None), T0 + 400 * S);
    let e = st
        .acknowledge(id, "carol", None, T0 + 500 * S)
        .expect("late ack");
    assert_eq!(e.incident.state, IncidentState::Resolved);

    assert!(matches!(
        st.acknowledge(999, "x", None, T0),
        Err(StoreError::NotFound(999))
    ));
    assert!(matches!(
        st.acknowledge(id, "  ", None, T0),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn confirm_impact_promotes_through_grading_and_conflicts() {
    use Level::*;
    let st = mem();
    let obj = "institution/cnnic";
    let a = with_candidate(asmt(obj, Some(II), Some(T0)), I);
    let id = tick(&st, a.clone(), T0)[0].incident_id;
    assert!(st.confirmations().expect("confirmations").is_empty());

    let e = st
        .confirm_impact(id, "duty officer Wang", T0 + 60 * S)
        .expect("confirm");
    assert_eq!(e.kind, EventKind::ImpactConfirmed);
    assert_eq!(e.grade, Some(GradeView(I)));
    assert_eq!(
        e.incident.impact_confirmed_by.as_deref(),
        Some("duty officer Wang")
    );
    let c = st.confirmations().expect("confirmations");
    assert_eq!(c.get(obj), Some(&I));

    // Confirming again before grading caught up: conflict, nothing written.
    let err = st
        .confirm_impact(id, "someone else", T0 + 61 * S)
        .expect_err("twice");
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("already confirmed")),
        "{err}"
    );

    // Grading promotes: grade I, candidate gone.
    let e = tick(&st, asmt(obj, Some(I), Some(T0)), T0 + 70 * S);
    assert_eq!(
        kinds(&e),
        [EventKind::Escalated, EventKind::CandidateChanged]
    );
    assert_eq!(e[0].incident.max_grade, GradeView(I));
    assert_eq!(e[0].incident.candidate, None);

    // No candidate now: conflict.
    let err = st
        .confirm_impact(id, "x", T0 + 80 * S)
        .expect_err("no candidate");
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("no candidate")),
        "{err}"
    );

    // Resolved: conflict, and its confirmation no longer counts.
    tick(&st, asmt(obj, None, None), T0 + 100 * S);
    tick(&st, asmt(obj, None, None), T0 + 400 * S);
    assert!(st.confirmations().expect("confirmations").is_empty());
    let err = st
        .confirm_impact(id, "x", T0 + 500 * S)
        .expect_err("resolved");
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("resolved")),
        "{err}"
    );
    assert!(matches!(
        st.confirm_impact(42, "x", T0),
        Err(StoreError::NotFound(42))
    ));

    let d = st.get(id).expect("get").expect("exists");
    assert_eq!(d.confirmations.len(), 1);
    assert_eq!(d.confirmations[0].level, GradeView(I));
}

#[test]
fn false_positive_and_cause() {
    let st = mem();
    let id = tick(&st, asmt(OBJ, Some(Level::III), Some(T0)), T0)[0].incident_id;
    let e = st
        .mark_false_positive(id, "probe host lost its route", T0 + S)
        .expect("fp");
    assert_eq!(e.kind, EventKind::FalsePositive);
    assert_eq!(e.kind.webhook_type(), None);
    assert_eq!(
        e.incident.false_positive.as_deref(),
        Some("probe host lost its route")
    );
    assert!(open_list(&st).is_empty(), "hidden by default");
    let with_fp = st
        .list(&ListFilter {
            include_false_positive: true,
            ..Default::default()
        })
        .expect("list");
    assert_eq!(with_fp.len(), 1);
    assert_eq!(
        st.open_count_by_grade().expect("counts").get(&Level::III),
        Some(&0)
    );
    // It still follows the object: no second incident opens for it.
    assert!(tick(&st, asmt(OBJ, Some(Level::III), Some(T0)), T0 + 10 * S).is_empty());

    let e = st
        .set_cause(id, "route leak at the probe site", T0 + 2 * S)
        .expect("cause");
    assert_eq!(e.kind, EventKind::CauseSet);
    st.set_cause(id, "route leak at the probe site (confirmed)", T0 + 3 * S)
        .expect("cause");
    let d = st.get(id).expect("get").expect("exists");
    assert_eq!(
        d.incident.cause.as_deref(),
        Some("route leak at the probe site (confirmed)")
    );
    assert_eq!(
        d.timeline
            .iter()
            .filter(|t| t.kind == EventKind::CauseSet)
            .count(),
        2
    );

    assert!(matches!(
        st.set_cause(7, "x", T0),
        Err(StoreError::NotFound(7))
    ));
    assert!(matches!(
        st.mark_false_positive(id, "", T0),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn maintenance_flags_incidents_but_records_them() {
    use Level::*;
    let st = mem();
    let w = st
        .declare_maintenance(OBJ, T0, T0 + 3600 * S, "CHG-1234 resolver upgrade")
        .expect("declare");
    assert!(!st.in_maintenance(OBJ, T0 - 1).expect("q"));
    assert!(st.in_maintenance(OBJ, T0).expect("q"));
    assert!(
        !st.in_maintenance(OBJ, T0 + 3600 * S).expect("q"),
        "end is exclusive"
    );
    assert!(!st.in_maintenance("tld/cn", T0 + S).expect("q"));

    let e = tick(&st, asmt(OBJ, Some(IV), Some(T0)), T0 + 60 * S);
    assert_eq!(kinds(&e), [EventKind::Opened]);
    assert!(e[0].incident.maintenance);
    let other = tick(&st, asmt("tld/cn", Some(IV), Some(T0)), T0 + 60 * S);
    assert!(!other[0].incident.maintenance);

    // The work overruns: the window ends with the incident still open.
    let e = tick(&st, asmt(OBJ, Some(IV), Some(T0)), T0 + 3600 * S);
    assert_eq!(kinds(&e), [EventKind::MaintenanceEnded]);
    assert!(!e[0].incident.maintenance);

    // Declared after the fact (and ended early).
    let w2 = st
        .declare_maintenance(OBJ, T0 + 3700 * S, T0 + 7200 * S, "extended")
        .expect("declare");
    let e = tick(&st, asmt(OBJ, Some(IV), Some(T0)), T0 + 3700 * S);
    assert_eq!(kinds(&e), [EventKind::MaintenanceStarted]);
    st.end_maintenance(w2, T0 + 3800 * S).expect("end");
    assert!(!st.in_maintenance(OBJ, T0 + 3800 * S).expect("q"));
    let windows = st.maintenance_windows(T0).expect("windows");
    assert_eq!(windows.iter().map(|m| m.id).collect::<Vec<_>>(), [w, w2]);
    assert_eq!(windows[1].ends, Timestamp(T0 + 3800 * S));

    // A future window ended before it starts is deleted.
    let w3 = st
        .declare_maintenance(OBJ, T0 + 9000 * S, T0 + 9999 * S, "later")
        .expect("declare");
    st.end_maintenance(w3, T0 + 3900 * S).expect("end");
    assert!(st
        .maintenance_windows(T0 + 3900 * S)
        .expect("windows")
        .is_empty());

    assert!(matches!(
        st.declare_maintenance(OBJ, T0, T0, "x"),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        st.declare_maintenance("", T0, T0 + 1, "x"),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        st.end_maintenance(999, T0),
        Err(StoreError::NotFound(999))
    ));
}

#[test]
fn clocks_survive_close_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state").join("incidents.sqlite3");
    let mut clocks = ConditionClocks::new();
    clocks.observe(
        "recursive/gd:recursive.stopped",
        true,
        T0 - 40 * S,
        T0,
        CLEAR,
    );
    clocks.observe("tld/cn:tld.bad_nodes_some", true, T0 - 5 * S, T0, CLEAR);
    {
        let st = IncidentStore::open(&path).expect("open");
        st.apply(&[], &clocks, T0, CLEAR).expect("apply");
    }
    let st = IncidentStore::open(&path).expect("reopen");
    assert_eq!(st.load_clocks().expect("load"), clocks);
    // Saving replaces: a cleared clock is gone after the next save.
    let mut fewer = clocks.clone();
    fewer.observe("tld/cn:tld.bad_nodes_some", false, T0, T0 + 400 * S, CLEAR);
    st.apply(&[], &fewer, T0 + 400 * S, CLEAR).expect("apply");
    drop(st);
    let st = IncidentStore::open(&path).expect("reopen");
    let loaded = st.load_clocks().expect("load");
    assert_eq!(loaded.len(), 1);
    assert_eq!(
        loaded
            .get("recursive/gd:recursive.stopped")
            .map(|c| c.onset),
        Some(T0 - 40 * S)
    );
}

#[test]
fn file_uses_wal_and_full_sync_and_schema_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("incidents.sqlite3");
    let st = IncidentStore::open(&path).expect("open");
    assert_eq!(st.schema_version().expect("version"), SCHEMA_VERSION);
    let conn = st.lock();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .expect("sync");
    assert_eq!(sync, 2, "FULL");
    let fk: i64 = conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .expect("fk");
    assert_eq!(fk, 1);
}

#[test]
fn reopening_migrates_nothing_and_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("incidents.sqlite3");
    drop(IncidentStore::open(&path).expect("open"));
    drop(IncidentStore::open(&path).expect("reopen is idempotent"));
    {
        let c = Connection::open(&path).expect("raw");
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
    }
    match IncidentStore::open(&path) {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[test]
fn old_schema_is_migrated_forward() {
    // A file at version 0 that already has unrelated content (e.g. created by hand) gets the
    // schema added and its version set.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("incidents.sqlite3");
    {
        let c = Connection::open(&path).expect("raw");
        c.execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('x');")
            .expect("seed");
    }
    let st = IncidentStore::open(&path).expect("open");
    assert_eq!(st.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(count(&st, "notes"), 1);
}

#[test]
fn transaction_dropped_before_commit_leaves_db_unchanged() {
    use Level::*;
    let st = mem();
    let mut clocks = ConditionClocks::new();
    clocks.observe("k", true, T0, T0, CLEAR);
    st.apply(&[asmt(OBJ, Some(IV), Some(T0))], &clocks, T0, CLEAR)
        .expect("apply");
    let before_list = st
        .list(&ListFilter {
            state: StateFilter::All,
            ..Default::default()
        })
        .expect("list");
    let before_events = count(&st, "incident_events");

    {
        let mut conn = st.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("tx");
        let mut later = clocks.clone();
        later.observe("k2", true, T0, T0 + 10 * S, CLEAR);
        let evs = apply_in(
            &tx,
            false,
            &[
                asmt(OBJ, Some(I), Some(T0)),
                asmt("tld/cn", Some(II), Some(T0)),
            ],
            &later,
            T0 + 10 * S,
            CLEAR,
        )
        .expect("apply_in");
        assert_eq!(evs.len(), 2, "the transaction did write");
        // The process dies here: the transaction is dropped without commit.
        drop(tx);
    }

    assert_eq!(
        st.list(&ListFilter {
            state: StateFilter::All,
            ..Default::default()
        })
        .expect("list"),
        before_list
    );
    assert_eq!(count(&st, "incident_events"), before_events);
    assert_eq!(
        count(&st, "outbox"),
        1,
        "the outbox rolled back with the tick"
    );
    assert_eq!(st.load_clocks().expect("clocks"), clocks);
    // And the next tick recomputes the same transitions.
    let e = tick(&st, asmt(OBJ, Some(I), Some(T0)), T0 + 10 * S);
    assert_eq!(kinds(&e), [EventKind::Escalated]);
}

#[test]
fn reopen_continues_the_same_open_incident_with_the_same_onset() {
    use Level::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("incidents.sqlite3");
    let key = "recursive/gd-resolvers:recursive.stopped";
    let clock = ManualClock::new(T0);

    // A simulated grader: the resolver system is stopped from T0 - 40 s on; level IV while
    // under 1 h, level III after (one-province scope).
    let grade_tick = |st: &IncidentStore, clocks: &mut ConditionClocks, now: UnixMillis| {
        let onset = clocks
            .observe(key, true, T0 - 40 * S, now, CLEAR)
            .expect("running");
        let grade = if now - onset > 3600 * S { III } else { IV };
        let mut a = asmt(OBJ, Some(grade), Some(onset));
        if grade == IV {
            a.next_escalation = Some(Escalation {
                grade: III,
                at: onset + 3600 * S,
            });
        }
        st.apply(&[a], clocks, now, CLEAR).expect("apply")
    };

    let (id, first_onset) = {
        let st = IncidentStore::open(&path).expect("open");
        let mut clocks = st.load_clocks().expect("clocks");
        let e = grade_tick(&st, &mut clocks, clock.now_ms());
        assert_eq!(kinds(&e), [EventKind::Opened]);
        assert_eq!(
            e[0].incident.next_escalation,
            Some(NextEscalation {
                grade: GradeView(III),
                at: Timestamp(T0 - 40 * S + 3600 * S)
            })
        );
        for _ in 0..180 {
            clock.advance_ms(10 * S);
            assert!(grade_tick(&st, &mut clocks, clock.now_ms()).is_empty());
        }
        (e[0].incident_id, e[0].incident.onset)
    }; // the daemon stops (30 min in)

    clock.advance_ms(60 * S); // restart takes a minute
    let st = IncidentStore::open(&path).expect("reopen");
    let mut clocks = st.load_clocks().expect("clocks");
    assert_eq!(clocks.get(key).map(|c| c.onset), Some(T0 - 40 * S));
    let mut escalated_at = None;
    for _ in 0..300 {
        clock.advance_ms(10 * S);
        let e = grade_tick(&st, &mut clocks, clock.now_ms());
        assert!(
            e.iter().all(|e| e.kind != EventKind::Opened),
            "no duplicate incident"
        );
        if let Some(ev) = e.iter().find(|e| e.kind == EventKind::Escalated) {
            assert_eq!(ev.incident_id, id);
            assert_eq!(ev.incident.onset, first_onset);
            assert_eq!(ev.incident.next_escalation, None);
            escalated_at = Some(ev.at.ms());
        }
    }
    // The 1 h count was not reset by the restart: level III one hour after the onset.
    let at = escalated_at.expect("escalated");
    assert!(
        at > T0 - 40 * S + 3600 * S && at <= T0 - 40 * S + 3610 * S,
        "at {at}"
    );
    assert_eq!(open_list(&st).len(), 1);
}

#[test]
fn prune_keeps_open_and_recent_incidents() {
    let st = mem();
    let year = 365 * 86_400 * S;
    // Old, resolved long ago.
    tick(&st, asmt("tld/old", Some(Level::IV), Some(T0)), T0);
    tick(&st, asmt("tld/old", None, None), T0 + 10 * S);
    tick(&st, asmt("tld/old", None, None), T0 + 400 * S);
    // Old but still open.
    tick(&st, asmt("tld/stuck", Some(Level::III), Some(T0)), T0);
    // Resolved recently.
    let now = T0 + year + 30 * 86_400 * S;
    tick(
        &st,
        asmt("tld/recent", Some(Level::IV), Some(now - 5000 * S)),
        now - 5000 * S,
    );
    tick(&st, asmt("tld/recent", None, None), now - 4000 * S);
    tick(&st, asmt("tld/recent", None, None), now - 3000 * S);
    st.declare_maintenance("tld/old", T0, T0 + S, "old work")
        .expect("declare");

    let p = st
        .prune(crate::incident::DEFAULT_RETAIN, now)
        .expect("prune");
    assert_eq!(
        p,
        Pruned {
            incidents: 1,
            maintenance_windows: 1
        }
    );
    let left: Vec<String> = st
        .list(&ListFilter {
            state: StateFilter::All,
            ..Default::default()
        })
        .expect("list")
        .into_iter()
        .map(|i| i.object.to_string())
        .collect();
    assert_eq!(left, ["tld/recent", "tld/stuck"]);
    // Events and confirmations went with the incident.
    let orphans: i64 = st
        .lock()
        .query_row(
            "SELECT COUNT(*) FROM incident_events WHERE incident_id NOT IN (SELECT id FROM incidents)",
            [],
            |r| r.get(0),
        )
        .expect("orphans");
    assert_eq!(orphans, 0);
    // Ids are never reused after a prune (outbox cursors stay valid).
    let e = tick(&st, asmt("tld/new", Some(Level::IV), Some(now)), now);
    assert!(e[0].incident_id > 3);
    assert_eq!(
        st.prune(crate::incident::DEFAULT_RETAIN, now)
            .expect("prune"),
        Pruned::default()
    );
}

#[test]
fn list_filters() {
    let st = mem();
    // 1: resolved at T0+400 s.
    tick(&st, asmt("tld/a", Some(Level::IV), Some(T0)), T0);
    tick(&st, asmt("tld/a", None, None), T0 + 100 * S);
    tick(&st, asmt("tld/a", None, None), T0 + 400 * S);
    // 2: open.
    tick(&st, asmt("tld/b", Some(Level::II), Some(T0)), T0 + 500 * S);
    // 3: open, false positive.
    let fp = tick(&st, asmt("tld/c", Some(Level::III), Some(T0)), T0 + 600 * S)[0].incident_id;
    st.mark_false_positive(fp, "probe artefact", T0 + 700 * S)
        .expect("fp");
    // 4: a drill.
    let drill = st.with_drill(true);
    tick(
        &drill,
        asmt("tld/d", Some(Level::I), Some(T0)),
        T0 + 800 * S,
    );
    let st = drill.with_drill(false);

    let names = |f: ListFilter| -> Vec<String> {
        st.list(&f)
            .expect("list")
            .into_iter()
            .map(|i| i.object.to_string())
            .collect()
    };
    assert_eq!(names(ListFilter::default()), ["tld/b"]);
    assert_eq!(
        names(ListFilter {
            state: StateFilter::All,
            ..Default::default()
        }),
        ["tld/b", "tld/a"]
    );
    assert_eq!(
        names(ListFilter {
            state: StateFilter::Resolved,
            ..Default::default()
        }),
        ["tld/a"]
    );
    assert_eq!(
        names(ListFilter {
            state: StateFilter::All,
            include_false_positive: true,
            include_drill: true,
            ..Default::default()
        }),
        ["tld/d", "tld/c", "tld/b", "tld/a"]
    );
    assert_eq!(
        names(ListFilter {
            include_drill: true,
            ..Default::default()
        }),
        ["tld/d", "tld/b"]
    );
    assert_eq!(
        names(ListFilter {
            state: StateFilter::All,
            since: Some(T0 + 400 * S),
            ..Default::default()
        }),
        ["tld/b", "tld/a"]
    );
    assert_eq!(
        names(ListFilter {
            state: StateFilter::All,
            since: Some(T0 + 401 * S),
            ..Default::default()
        }),
        ["tld/b"]
    );
    assert_eq!(
        names(ListFilter {
            state: StateFilter::All,
            limit: Some(1),
            ..Default::default()
        }),
        ["tld/b"]
    );
    // Drills are flagged on the events too and not counted.
    let evs = st.events_since(0, 100).expect("events");
    assert!(evs
        .iter()
        .filter(|e| e.incident.object == "tld/d")
        .all(|e| e.drill));
    assert!(evs
        .iter()
        .filter(|e| e.incident.object != "tld/d")
        .all(|e| !e.drill));
    assert_eq!(
        st.open_count_by_grade().expect("counts").get(&Level::I),
        Some(&0)
    );
}

#[test]
fn events_since_is_a_resumable_cursor_with_snapshots() {
    let st = mem();
    tick(&st, asmt("tld/a", Some(Level::IV), Some(T0)), T0);
    tick(&st, asmt("tld/a", Some(Level::II), Some(T0)), T0 + 10 * S);
    let id = tick(&st, asmt("tld/b", Some(Level::III), Some(T0)), T0 + 20 * S)[0].incident_id;
    st.acknowledge(id, "alice", None, T0 + 30 * S).expect("ack");

    let all = st.events_since(0, 100).expect("events");
    assert_eq!(
        kinds(&all),
        [
            EventKind::Opened,
            EventKind::Escalated,
            EventKind::Opened,
            EventKind::Acknowledged
        ]
    );
    // Snapshots are as of each event, not as of now.
    assert_eq!(all[0].incident.grade, GradeView(Level::IV));
    assert_eq!(all[1].incident.grade, GradeView(Level::II));
    assert_eq!(all[2].incident.acknowledged_by, None);
    assert_eq!(all[3].incident.acknowledged_by.as_deref(), Some("alice"));
    let page = st.events_since(all[1].id, 1).expect("events");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0], all[2]);
    assert!(st.events_since(all[3].id, 100).expect("events").is_empty());
}

#[test]
fn returned_events_equal_stored_events() {
    let st = mem();
    let written = tick(&st, asmt("tld/a", Some(Level::IV), Some(T0)), T0);
    assert_eq!(st.events_since(0, 10).expect("events"), written);
}

#[test]
fn incident_json_shape() {
    let st = mem();
    let mut a = with_candidate(
        asmt("website/example", Some(Level::IV), Some(T0)),
        Level::III,
    );
    a.next_escalation = None;
    let e = tick(&st, a, T0);
    let j = serde_json::to_value(&e[0]).expect("json");
    assert_eq!(j["type"], "incident.opened");
    assert_eq!(j["incident"]["state"], "open");
    assert_eq!(j["incident"]["grade"]["level"], "IV");
    assert_eq!(j["incident"]["grade"]["zh"], "一般");
    assert_eq!(j["incident"]["candidate"]["level"], "III");
    assert_eq!(
        j["incident"]["onset"]["rfc3339"],
        "2023-11-14T22:13:20.000Z"
    );
    assert_eq!(j["incident"]["onset"]["ms"], T0);
    assert_eq!(j["incident"]["reasons_en"][0], "resolver system stopped");
    let back: IncidentEvent = serde_json::from_value(j).expect("round trip");
    assert_eq!(back, e[0]);
}

#[test]
fn damaged_rows_are_errors_not_panics() {
    let st = mem();
    let id = tick(&st, asmt("tld/a", Some(Level::IV), Some(T0)), T0)[0].incident_id;
    st.lock()
        .execute_batch(&format!(
            "PRAGMA ignore_check_constraints = ON;
             UPDATE incidents SET grade = 'V' WHERE id = {id};
             PRAGMA ignore_check_constraints = OFF;"
        ))
        .expect("damage");
    assert!(matches!(st.get(id), Err(StoreError::Corrupt(_))));
    assert!(matches!(
        st.list(&ListFilter::default()),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        st.acknowledge(id, "x", None, T0),
        Err(StoreError::Corrupt(_))
    ));
    assert!(st
        .apply(
            &[asmt("tld/a", None, None)],
            &ConditionClocks::new(),
            T0,
            CLEAR
        )
        .is_err());
    st.lock()
        .execute(
            &format!("UPDATE incidents SET grade = 'IV', evidence = 'not json' WHERE id = {id}"),
            [],
        )
        .expect("damage");
    assert!(matches!(st.get(id), Err(StoreError::Json(_))));
    st.lock()
        .execute("UPDATE incidents SET evidence = '[]', onset = -5", [])
        .expect("damage");
    assert!(matches!(st.get(id), Err(StoreError::Db(_))));
}

#[test]
fn one_open_incident_per_object_is_enforced_by_the_schema() {
    let st = mem();
    tick(&st, asmt("tld/a", Some(Level::IV), Some(T0)), T0);
    let err = st
        .lock()
        .execute(
            "INSERT INTO incidents (object, state, grade, max_grade, onset, detected_at, updated_at)
             VALUES ('tld/a', 'open', 'IV', 'IV', 0, 0, 0)",
            [],
        )
        .expect_err("second open incident");
    assert!(err.to_string().contains("UNIQUE"), "{err}");
}

#[test]
fn same_object_twice_in_one_tick_stays_one_incident() {
    let st = mem();
    let a = asmt("tld/a", Some(Level::IV), Some(T0));
    let b = asmt("tld/a", Some(Level::II), Some(T0));
    let e = st
        .apply(&[a, b], &ConditionClocks::new(), T0, CLEAR)
        .expect("apply");
    assert_eq!(kinds(&e), [EventKind::Opened, EventKind::Escalated]);
    assert_eq!(open_list(&st).len(), 1);
}

// --- kill -9 ---------------------------------------------------------------------------------
//
// The parent test runs this test binary again, filtered to `crash_child`, with an environment
// variable naming a database file and a crash point. The child writes, then aborts (SIGABRT: no
// destructors, no clean close, like kill -9). The parent reopens the file and checks.

const CRASH_ENV: &str = "DNSGRADE_INCIDENT_CRASH_CHILD";

#[test]
fn crash_child() {
    let Ok(spec) = std::env::var(CRASH_ENV) else {
        return; // not a child: nothing to do
    };
    let Some((mode, path)) = spec.split_once(':') else {
        return;
    };
    let st = IncidentStore::open(Path::new(path)).expect("child open");
    let mut clocks = st.load_clocks().expect("child clocks");
    clocks.observe("k", true, T0, T0, CLEAR);
    st.apply(&[asmt(OBJ, Some(Level::IV), Some(T0))], &clocks, T0, CLEAR)
        .expect("first tick");
    clocks.observe("k", true, T0, T0 + 10 * S, CLEAR);
    let next = [
        asmt(OBJ, Some(Level::II), Some(T0)),
        asmt("tld/cn", Some(Level::III), Some(T0)),
    ];
    match mode {
        "before-commit" => {
            let mut conn = st.lock();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .expect("tx");
            apply_in(&tx, false, &next, &clocks, T0 + 10 * S, CLEAR).expect("apply_in");
            std::process::abort();
        }
        _ => {
            st.apply(&next, &clocks, T0 + 10 * S, CLEAR)
                .expect("second tick");
            std::process::abort();
        }
    }
}

fn run_crash_child(mode: &str, path: &Path) {
    let exe = std::env::current_exe().expect("test binary");
    let status = std::process::Command::new(exe)
        .args([
            "--exact",
            "incident::store::tests::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_ENV, format!("{mode}:{}", path.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("spawn child");
    assert!(!status.success(), "the child must have crashed");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(6),
            "died by SIGABRT, not by a failed assertion: {status:?}"
        );
    }
}

#[test]
fn kill_before_commit_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("incidents.sqlite3");
    run_crash_child("before-commit", &path);
    let st = IncidentStore::open(&path).expect("reopen");
    let open = open_list(&st);
    assert_eq!(open.len(), 1, "only the first tick's incident");
    assert_eq!(open[0].grade, GradeView(Level::IV));
    assert_eq!(count(&st, "incident_events"), 1);
    assert_eq!(
        st.load_clocks()
            .expect("clocks")
            .get("k")
            .map(|c| c.last_true),
        Some(T0)
    );
    // The next tick recomputes the lost transitions, once.
    let e = st
        .apply(
            &[
                asmt(OBJ, Some(Level::II), Some(T0)),
                asmt("tld/cn", Some(Level::III), Some(T0)),
            ],
            &ConditionClocks::new(),
            T0 + 20 * S,
            CLEAR,
        )
        .expect("apply");
    assert_eq!(kinds(&e), [EventKind::Escalated, EventKind::Opened]);
}

#[test]
fn kill_after_commit_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("incidents.sqlite3");
    run_crash_child("after-commit", &path);
    let st = IncidentStore::open(&path).expect("reopen");
    let open = open_list(&st);
    assert_eq!(
        open.iter()
            .map(|i| (i.object.as_str(), i.grade.0))
            .collect::<Vec<_>>(),
        [("tld/cn", Level::III), (OBJ, Level::II)]
    );
    assert_eq!(count(&st, "incident_events"), 3);
    assert_eq!(
        st.load_clocks()
            .expect("clocks")
            .get("k")
            .map(|c| (c.onset, c.last_true)),
        Some((T0, T0 + 10 * S))
    );
    // Continuing does not duplicate anything.
    let e = st
        .apply(
            &[
                asmt(OBJ, Some(Level::II), Some(T0)),
                asmt("tld/cn", Some(Level::III), Some(T0)),
            ],
            &ConditionClocks::new(),
            T0 + 20 * S,
            CLEAR,
        )
        .expect("apply");
    assert!(e.is_empty());
}

#[test]
fn store_can_be_shared_between_tasks() {
    fn shared<T: Send + Sync>() {}
    shared::<IncidentStore>();
    shared::<std::sync::Arc<IncidentStore>>();
}

#[test]
fn clearing_ticks_do_not_rewrite_the_record() {
    let st = mem();
    let id = tick(&st, asmt("tld/a", Some(Level::IV), Some(T0)), T0)[0].incident_id;
    tick(&st, asmt("tld/a", None, None), T0 + 10 * S);
    let before = st.get(id).expect("get").expect("exists").incident;
    assert!(tick(&st, asmt("tld/a", None, None), T0 + 20 * S).is_empty());
    assert_eq!(st.get(id).expect("get").expect("exists").incident, before);
}

#[test]
fn drills_run_beside_real_incidents_without_touching_clocks() {
    use crate::grading::{Assessment, Level};
    let st = IncidentStore::open_in_memory().expect("store");
    let a = |grade: Option<Level>| Assessment {
        object: "tld/cn".parse().expect("object key"),
        grade,
        candidate: None,
        rule: grade.map(|_| "tld.bad_nodes_some".into()),
        reasons_zh: vec![],
        reasons_en: vec![],
        evidence: vec![],
        authority: None,
        onset: Some(1_000),
        next_escalation: None,
    };
    let mut clocks = crate::incident::ConditionClocks::default();
    clocks.observe(
        "tld/cn:tld.bad_nodes_some",
        true,
        1_000,
        1_000,
        std::time::Duration::from_secs(300),
    );
    st.apply(
        &[a(Some(Level::III))],
        &clocks,
        1_000,
        std::time::Duration::from_secs(300),
    )
    .expect("real");
    let ev = st
        .apply_drill(
            &[a(Some(Level::I))],
            2_000,
            std::time::Duration::from_secs(300),
        )
        .expect("drill");
    assert!(ev.iter().all(|e| e.drill));
    assert_eq!(
        st.load_clocks().expect("clocks"),
        clocks,
        "a drill leaves the clocks alone"
    );
    let all = st
        .list(&ListFilter {
            state: StateFilter::Open,
            include_drill: true,
            ..ListFilter::default()
        })
        .expect("list");
    assert_eq!(
        all.len(),
        2,
        "one real and one drill incident open for the same object"
    );
    let real_only = st.list(&ListFilter::default()).expect("list");
    assert_eq!(real_only.len(), 1);
    let drill = all.iter().find(|i| i.drill).expect("drill incident");
    let e = st
        .resolve_manually(drill.id, "drill lead", "end of drill", 3_000)
        .expect("resolve");
    assert_eq!(e.kind, EventKind::Resolved);
    assert!(e.drill);
    assert!(matches!(
        st.resolve_manually(drill.id, "x", "again", 4_000),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        st.list(&ListFilter::default()).expect("list").len(),
        1,
        "the real incident is untouched"
    );
}

#[test]
fn outbox_rows_exist_for_delivered_kinds_only_and_keep_per_incident_order() {
    use Level::*;
    let st = mem();
    let cursor = st.outbox_cursor("hook").expect("cursor");
    assert_eq!(cursor, 0);
    // Opened, then clearing (timeline only), then resolved; another incident in between.
    tick(&st, asmt(OBJ, Some(IV), Some(T0)), T0);
    tick(&st, asmt("tld/cn", Some(II), Some(T0)), T0 + S);
    tick(&st, asmt(OBJ, None, None), T0 + 2 * S);
    let ack = st.acknowledge(1, "duty", None, T0 + 3 * S).expect("ack");
    tick(&st, asmt(OBJ, None, None), T0 + 2 * S + 300 * S);
    let items = st.outbox_after(0, 100).expect("outbox");
    let types: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i.stream.as_str(), i.event.type_name()))
        .collect();
    assert_eq!(
        types,
        [
            ("incident/1", "incident.opened"),
            ("incident/2", "incident.opened"),
            ("incident/1", "incident.acknowledged"),
            ("incident/1", "incident.resolved"),
        ],
        "no outbox row for incident.clearing"
    );
    let ledger = st.ledger_id().expect("ledger id");
    assert_eq!(ledger.len(), 16);
    assert_eq!(items[2].key, format!("{ledger}-ie-{}", ack.id));
    // Enqueued for a sink: only the head of each incident's stream is due.
    let all: Vec<&OutboxItem> = items.iter().collect();
    st.outbox_enqueue("hook", &all, items[3].id, T0)
        .expect("enqueue");
    let due = |now| -> Vec<i64> {
        st.outbox_due("hook", now, 10)
            .expect("due")
            .iter()
            .map(|d| d.item.id)
            .collect()
    };
    assert_eq!(due(T0), [items[0].id, items[1].id]);
    st.outbox_record(
        "hook",
        items[0].id,
        &Attempt::Retry {
            status: Some(503),
            error: "HTTP 503".into(),
            next_at: T0 + 5 * S,
        },
        T0,
    )
    .expect("record");
    assert_eq!(due(T0 + S), [items[1].id], "incident 1 waits for its retry");
    st.outbox_record(
        "hook",
        items[0].id,
        &Attempt::Delivered { status: 200 },
        T0 + 5 * S,
    )
    .expect("record");
    assert_eq!(due(T0 + 5 * S), [items[1].id, items[2].id]);
    let sum = st.outbox_summary("hook").expect("summary");
    assert_eq!((sum.pending, sum.delivered, sum.given_up), (3, 1, 0));
    assert_eq!(sum.oldest_pending_at, Some(Timestamp(T0 + S)));
    // Recording twice is refused: a delivery never leaves its final state.
    assert!(st
        .outbox_record("hook", items[0].id, &Attempt::Delivered { status: 200 }, T0)
        .is_err());
    // A second sink starts at the end of the outbox.
    assert_eq!(st.outbox_cursor("late").expect("cursor"), items[3].id);
    // Pruning the resolved incident takes its outbox rows and deliveries with it.
    st.prune(Duration::from_secs(86_400), T0 + 400 * S + 86_400 * S)
        .expect("prune");
    assert_eq!(count(&st, "outbox"), 1);
    assert_eq!(count(&st, "outbox_delivery"), 1);
}

#[test]
fn a_version_2_ledger_is_migrated_to_the_outbox_schema_keeping_its_incidents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("incidents.sqlite3");
    {
        let mut c = Connection::open(&path).expect("raw");
        let tx = c.transaction().expect("tx");
        tx.execute_batch(MIGRATIONS[0]).expect("v1");
        tx.execute_batch(MIGRATIONS[1]).expect("v2");
        tx.pragma_update(None, "user_version", 2).expect("version");
        tx.execute(
            "INSERT INTO incidents (object, state, grade, max_grade, onset, detected_at, updated_at)
             VALUES ('tld/cn', 'open', 'II', 'II', 1, 1, 1)",
            [],
        )
        .expect("incident");
        tx.commit().expect("commit");
    }
    let st = IncidentStore::open(&path).expect("open migrates");
    assert_eq!(st.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(count(&st, "incidents"), 1);
    assert_eq!(count(&st, "outbox"), 0);
    assert!(st.last_monitor_event().expect("monitor").is_none());
    let a = st.ledger_id().expect("id");
    drop(st);
    let st = IncidentStore::open(&path).expect("reopen");
    assert_eq!(st.ledger_id().expect("id"), a, "the ledger id is made once");
}

#[test]
fn listing_without_evidence_reads_it_as_null_and_keeps_the_rest() {
    let st = mem();
    tick(&st, asmt(OBJ, Some(Level::II), Some(T0)), T0);
    let full = st.list(&ListFilter::default()).expect("list");
    let light = st
        .list(&ListFilter {
            without_evidence: true,
            ..Default::default()
        })
        .expect("list");
    assert_eq!(full.len(), 1);
    assert_eq!(light.len(), 1);
    assert!(
        !full[0].evidence.is_null(),
        "the test needs an incident with evidence"
    );
    assert!(light[0].evidence.is_null());
    let (mut a, b) = (full[0].clone(), &light[0]);
    a.evidence = serde_json::Value::Null;
    assert_eq!(
        serde_json::to_value(&a).expect("json"),
        serde_json::to_value(b).expect("json")
    );
}
