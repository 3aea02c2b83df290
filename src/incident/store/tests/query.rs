//! Reading the ledger back: lists, event cursors, the JSON shape, pruning and the outbox rows.

use super::*;

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
