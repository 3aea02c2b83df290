//! The circular's record: result, organisations, the report to the coordinating body and its
//! confirmation, receipts, notifications per incident, overdue acknowledgements, and the
//! migration of a version 3 ledger.

use super::*;

const DAY: Duration = Duration::from_secs(86_400);

#[test]
fn result_and_organisations_are_recorded_with_timeline_events() {
    let st = mem();
    let id = tick(&st, asmt(OBJ, Some(Level::III), Some(T0)), T0)[0].incident_id;
    let e = st
        .set_result(id, " restarted the resolver farm ", T0 + 60 * S)
        .expect("result");
    assert_eq!(e.kind, EventKind::ResultSet);
    assert_eq!(e.kind.webhook_type(), None, "timeline only");
    assert_eq!(
        e.incident.result.as_deref(),
        Some("restarted the resolver farm")
    );
    let orgs = [
        "中国电信广东公司".to_string(),
        " ".into(),
        "CNCERT".into(),
        "CNCERT".into(),
    ];
    let e = st
        .set_organisations(id, &orgs, T0 + 70 * S)
        .expect("organisations");
    assert_eq!(e.kind, EventKind::OrganisationsSet);
    assert_eq!(e.incident.organisations, ["中国电信广东公司", "CNCERT"]);
    assert_eq!(
        e.payload,
        serde_json::json!({"organisations": ["中国电信广东公司", "CNCERT"]})
    );
    let d = st.get(id).expect("get").expect("exists");
    assert_eq!(d.incident.organisations, ["中国电信广东公司", "CNCERT"]);
    let kinds: Vec<EventKind> = d.timeline.iter().map(|t| t.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Opened,
            EventKind::ResultSet,
            EventKind::OrganisationsSet
        ]
    );
    // Nothing goes to the outbox for these.
    assert_eq!(count(&st, "outbox"), 1);
    assert!(matches!(
        st.set_result(id, "  ", T0),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        st.set_organisations(id, &[" ".into()], T0),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        st.set_result(99, "x", T0),
        Err(StoreError::NotFound(99))
    ));
}

#[test]
fn report_to_the_coordinator_and_its_confirmation() {
    let st = mem();
    let id = tick(&st, asmt(OBJ, Some(Level::II), Some(T0)), T0 + 30 * S)[0].incident_id;
    let now = T0 + 3_600 * S;
    // No confirmation before a report.
    assert!(matches!(
        st.coordinator_confirmed(id, "CNCERT duty desk", T0 + 600 * S, now),
        Err(StoreError::Conflict(_))
    ));
    // A report before the onset or in the future is refused.
    assert!(matches!(
        st.report_to_coordinator(id, "CNCERT", "Li", T0 - S, now),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        st.report_to_coordinator(id, "CNCERT", "Li", now + 120 * S, now),
        Err(StoreError::Invalid(_))
    ));
    let e = st
        .report_to_coordinator(id, " CNCERT ", "Li", T0 + 600 * S, now)
        .expect("report");
    assert_eq!(e.kind, EventKind::Reported);
    assert_eq!(e.at, Timestamp(now), "the event is when it was recorded");
    assert_eq!(e.incident.reported_at, Some(Timestamp(T0 + 600 * S)));
    assert_eq!(e.incident.reported_to.as_deref(), Some("CNCERT"));
    // The confirmation cannot precede the report.
    assert!(matches!(
        st.coordinator_confirmed(id, "CNCERT duty desk", T0 + 599 * S, now),
        Err(StoreError::Invalid(_))
    ));
    let e = st
        .coordinator_confirmed(id, "CNCERT duty desk", T0 + 900 * S, now)
        .expect("confirmed");
    assert_eq!(e.kind, EventKind::CoordinatorConfirmed);
    assert_eq!(
        e.incident.coordinator_confirmed_at,
        Some(Timestamp(T0 + 900 * S))
    );
    assert_eq!(e.payload["by"], "CNCERT duty desk");
}

#[test]
fn receipts_and_notifications_are_in_the_detail() {
    let st = mem();
    st.outbox_cursor("noc").expect("cursor");
    let id = tick(&st, asmt(OBJ, Some(Level::IV), Some(T0)), T0)[0].incident_id;
    st.acknowledge(id, "duty", None, T0 + 60 * S).expect("ack");
    let items = st.outbox_after(0, 10).expect("outbox");
    let all: Vec<&OutboxItem> = items.iter().collect();
    st.outbox_enqueue("noc", &all, items[1].id, T0)
        .expect("enqueue");
    st.outbox_record(
        "noc",
        items[0].id,
        &Attempt::Delivered { status: 202 },
        T0 + 2 * S,
    )
    .expect("delivered");
    st.outbox_record(
        "noc",
        items[1].id,
        &Attempt::Retry {
            status: Some(503),
            error: "HTTP 503".into(),
            next_at: T0 + 90 * S,
        },
        T0 + 61 * S,
    )
    .expect("retry");
    // A receipt before detection is refused; a good one is kept with who recorded it.
    assert!(matches!(
        st.confirm_receipt(id, "广东省通信管理局", None, T0 - S, T0 + 120 * S),
        Err(StoreError::Invalid(_))
    ));
    let e = st
        .confirm_receipt(
            id,
            "广东省通信管理局",
            Some("Wang"),
            T0 + 100 * S,
            T0 + 120 * S,
        )
        .expect("receipt");
    assert_eq!(e.kind, EventKind::ReceiptConfirmed);

    let d = st.get(id).expect("get").expect("exists");
    let ledger = st.ledger_id().expect("ledger");
    assert_eq!(d.notifications.len(), 2);
    let n = &d.notifications[0];
    assert_eq!(
        (n.sink.as_str(), n.kind.as_str(), n.state.as_str()),
        ("noc", "incident.opened", "delivered")
    );
    assert_eq!(n.delivery_id, items[0].key);
    assert!(n.delivery_id.starts_with(&ledger));
    assert_eq!((n.attempts, n.last_status), (1, Some(202)));
    assert_eq!(n.event_at, Timestamp(T0));
    assert_eq!(n.delivered_at, Some(Timestamp(T0 + 2 * S)));
    let n = &d.notifications[1];
    assert_eq!(
        (n.kind.as_str(), n.state.as_str(), n.last_status),
        ("incident.acknowledged", "pending", Some(503))
    );
    assert_eq!(n.delivered_at, None);
    assert_eq!(n.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(d.receipts.len(), 1);
    assert_eq!(d.receipts[0].organisation, "广东省通信管理局");
    assert_eq!(d.receipts[0].at, Timestamp(T0 + 100 * S));
    assert_eq!(d.receipts[0].by.as_deref(), Some("Wang"));
    assert_eq!(d.receipts[0].recorded_at, Timestamp(T0 + 120 * S));
}

#[test]
fn acknowledgement_overdue_in_the_detail_and_the_count() {
    let st = mem();
    // Detected at T0 (the tick's time); the limit is 24 h.
    let late = tick(&st, asmt(OBJ, Some(Level::IV), Some(T0)), T0)[0].incident_id;
    let on_time = tick(&st, asmt("tld/cn", Some(Level::II), Some(T0)), T0)[0].incident_id;
    let never = tick(&st, asmt("tld/xn--fiqs8s", Some(Level::II), Some(T0)), T0)[0].incident_id;
    let fp = tick(&st, asmt("recursive/bj", Some(Level::IV), Some(T0)), T0)[0].incident_id;
    st.mark_false_positive(fp, "probe host", T0 + S)
        .expect("fp");
    st.acknowledge(on_time, "duty", None, T0 + 86_400 * S)
        .expect("ack at exactly 24 h");
    let overdue = |id, now| {
        st.detail(id, now, DAY)
            .expect("detail")
            .expect("exists")
            .ack_overdue
    };
    // Before 24 h nothing is overdue; just after, the unacknowledged ones are.
    assert!(!overdue(late, T0 + 86_400 * S));
    assert_eq!(
        st.ack_overdue_count(T0 + 86_400 * S, DAY).expect("count"),
        0
    );
    let now = T0 + 86_401 * S;
    assert!(overdue(late, now) && overdue(never, now));
    assert!(
        !overdue(on_time, now),
        "acknowledged at the limit is in time"
    );
    assert_eq!(
        st.ack_overdue_count(now, DAY).expect("count"),
        2,
        "the false positive is not counted"
    );
    // A late acknowledgement takes it out of the count but the detail still says it was late.
    st.acknowledge(late, "duty", None, now + S)
        .expect("late ack");
    assert!(overdue(late, now + 2 * S));
    assert_eq!(st.ack_overdue_count(now + 2 * S, DAY).expect("count"), 1);
    // A shorter limit applies at once.
    assert!(
        st.detail(on_time, now, Duration::from_secs(3_600))
            .expect("detail")
            .expect("exists")
            .ack_overdue
    );
    // Time to resolve is derived once resolved.
    tick(&st, asmt(OBJ, None, None), now + 10 * S);
    tick(&st, asmt(OBJ, None, None), now + 310 * S);
    let d = st
        .detail(late, now + 400 * S, DAY)
        .expect("detail")
        .expect("exists");
    assert_eq!(d.time_to_resolve_s, Some(86_401 + 310));
}

#[test]
fn a_version_3_ledger_is_migrated_to_the_record_schema_keeping_its_incidents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("incidents.sqlite3");
    {
        let mut c = Connection::open(&path).expect("raw");
        let tx = c.transaction().expect("tx");
        for m in &MIGRATIONS[..3] {
            tx.execute_batch(m).expect("migration");
        }
        tx.pragma_update(None, "user_version", 3).expect("version");
        tx.execute(
            "INSERT INTO incidents (object, state, grade, max_grade, onset, detected_at,
                 resolved_at, cause, updated_at)
             VALUES ('tld/cn', 'resolved', 'II', 'II', 1000, 2000, 9000, 'fibre cut', 9000)",
            [],
        )
        .expect("incident");
        // An event whose snapshot predates the new fields.
        tx.execute(
            "INSERT INTO incident_events (incident_id, seq, type, at, grade, payload, snapshot)
             VALUES (1, 1, 'incident.opened', 2000, 'II', '{}', ?1)",
            [
                r#"{"id":1,"object":"tld/cn","state":"open","grade":{"level":"II"},
                "max_grade":{"level":"II"},"candidate":null,"rule":null,"reasons_zh":[],
                "reasons_en":[],"evidence":[],"authority":null,"next_escalation":null,
                "onset":1000,"detected_at":2000,"clearing_since":null,"acknowledged_at":null,
                "acknowledged_by":null,"impact_confirmed_at":null,"impact_confirmed_by":null,
                "resolved_at":null,"cause":null,"false_positive":null,
                "false_positive_at":null,"maintenance":false,"drill":false,"updated_at":2000}"#,
            ],
        )
        .expect("event");
        tx.commit().expect("commit");
    }
    let st = IncidentStore::open(&path).expect("open migrates");
    assert_eq!(st.schema_version().expect("version"), 4);
    assert_eq!(SCHEMA_VERSION, 4);
    let d = st.get(1).expect("get").expect("kept");
    assert_eq!(d.incident.cause.as_deref(), Some("fibre cut"));
    assert_eq!(d.incident.result, None);
    assert!(d.incident.organisations.is_empty());
    assert_eq!(d.incident.reported_at, None);
    assert!(d.notifications.is_empty() && d.receipts.is_empty());
    let old = st.events_since(0, 10).expect("events");
    assert_eq!(old[0].incident.result, None, "old snapshots still read");
    // The new columns take writes.
    st.set_result(1, "replaced the fibre", 10_000)
        .expect("result");
    st.report_to_coordinator(1, "CNCERT", "Li", 3_000, 10_000)
        .expect("report");
    let d = st.get(1).expect("get").expect("kept");
    assert_eq!(d.incident.result.as_deref(), Some("replaced the fibre"));
    assert_eq!(d.incident.reported_at, Some(Timestamp(3_000)));
}
