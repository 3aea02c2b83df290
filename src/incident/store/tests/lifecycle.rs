//! Opening, escalating, clearing and resolving: what one tick writes.

use super::*;

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

#[test]
fn clearing_ticks_do_not_rewrite_the_record() {
    let st = mem();
    let id = tick(&st, asmt("tld/a", Some(Level::IV), Some(T0)), T0)[0].incident_id;
    tick(&st, asmt("tld/a", None, None), T0 + 10 * S);
    let before = st.get(id).expect("get").expect("exists").incident;
    assert!(tick(&st, asmt("tld/a", None, None), T0 + 20 * S).is_empty());
    assert_eq!(st.get(id).expect("get").expect("exists").incident, before);
}
