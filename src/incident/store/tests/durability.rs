//! Files, schema migrations, transactions and crashes: nothing written is lost, nothing half-written is kept.

use super::*;

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
            "incident::store::tests::durability::crash_child",
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
