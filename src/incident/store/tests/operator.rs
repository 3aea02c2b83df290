//! What people do to incidents: acknowledge, confirm impact, false positive, cause, maintenance, drills.

use super::*;

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
