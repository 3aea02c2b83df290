//! The alert outbox in-process, on the injected clock: a webhook receiver that is down while
//! 50 incident events are written gets all of them once it is back (2 simulated minutes
//! later), in order per incident, signed, duplicates only with the same delivery id; and an
//! event a receiver never takes is given up after `give_up_after` of simulated time.

mod support;

use dnsgrade::alert::{AlertContext, AlertService, Options};
use dnsgrade::clock::{Clock, ManualClock};
use dnsgrade::config::Config;
use dnsgrade::grading::{authority, Assessment, Level, Rules};
use dnsgrade::incident::{ConditionClocks, IncidentStore};
use dnsgrade::metrics::Metrics;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use support::{eventually, Receiver, ReceiverState};

const SECRET: &str = "test-hmac-key-4f1d";
const START: u64 = 1_700_000_000_000;
const OBJECTS: usize = 10;

fn config(dir: &std::path::Path, url: &str, give_up: &str) -> Config {
    let mut text = format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\n\n[alert]\ngive_up_after = \"{give_up}\"\n\n\
         [[alert.webhook]]\nname = \"noc\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\ntimeout = \"2s\"\n\n",
        dir.display()
    );
    for i in 0..OBJECTS {
        // Never probed: no daemon runs here, the objects only give the events a routing.
        text.push_str(&format!(
            "[[tld]]\nname = \"t{i}\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"127.0.0.1:9\"]\n\n"
        ));
    }
    dnsgrade::config::parse(std::path::Path::new("alert.toml"), &text).expect("config")
}

fn assessment(cfg: &Config, rules: &Rules, i: usize, grade: Level, onset: u64) -> Assessment {
    let o = &cfg.objects[i];
    Assessment {
        object: dnsgrade::config::ObjectKey::new(o.class, &o.name),
        grade: Some(grade),
        candidate: None,
        rule: Some("test.rule".into()),
        reasons_zh: vec!["测试原因".into()],
        reasons_en: vec!["test reason".into()],
        evidence: Vec::new(),
        authority: Some(authority(o, grade, rules)),
        onset: Some(onset),
        next_escalation: None,
    }
}

/// A port on loopback that refuses connections: a receiver that is down.
async fn closed_port() -> SocketAddr {
    let r = Receiver::start("127.0.0.1:0".parse().expect("addr"), SECRET, Arc::default()).await;
    let a = r.addr;
    r.stop().await;
    a
}

struct Setup {
    _dir: tempfile::TempDir,
    cfg: Arc<Config>,
    rules: Arc<Rules>,
    store: Arc<IncidentStore>,
    clock: ManualClock,
    metrics: Metrics,
    service: AlertService,
}

async fn setup(addr: SocketAddr, give_up: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = Arc::new(config(dir.path(), &format!("http://{addr}/hook"), give_up));
    let rules = Arc::new(Rules::miit_2011());
    let store = Arc::new(IncidentStore::open(&dir.path().join("ledger.sqlite3")).expect("ledger"));
    let clock = ManualClock::new(START);
    let metrics = Metrics::new();
    let ctx = Arc::new(AlertContext::new(
        cfg.clone(),
        rules.clone(),
        "http://127.0.0.1:9553",
    ));
    let service = AlertService::start(
        &cfg.alert,
        ctx,
        store.clone(),
        Arc::new(clock.clone()),
        metrics.clone(),
        Options {
            poll: Duration::from_millis(20),
            ..Options::default()
        },
    )
    .expect("alert service");
    Setup {
        _dir: dir,
        cfg,
        rules,
        store,
        clock,
        metrics,
        service,
    }
}

fn counter(m: &Metrics, which: &str) -> u64 {
    match which {
        "attempts" => m.outbox_attempts.with_label_values(&["noc"]).get(),
        "delivered" => m.outbox_delivered.with_label_values(&["noc"]).get(),
        "given_up" => m.outbox_given_up.with_label_values(&["noc"]).get(),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_events_survive_a_receiver_outage_in_order_signed_and_deduplicable() {
    let addr = closed_port().await;
    let s = setup(addr, "24h").await;
    let clear_after = Duration::from_secs(300);
    let clocks = ConditionClocks::new();

    // 50 events over 10 incidents, interleaved: opened IV, escalated III, escalated II,
    // acknowledged, de-escalated III.
    let mut events = Vec::new();
    for grade in [Level::IV, Level::III, Level::II] {
        let now = s.clock.now_ms();
        let all: Vec<Assessment> = (0..OBJECTS)
            .map(|i| assessment(&s.cfg, &s.rules, i, grade, START))
            .collect();
        events.extend(
            s.store
                .apply(&all, &clocks, now, clear_after)
                .expect("apply"),
        );
        s.clock.advance_ms(1_000);
    }
    let ids: BTreeSet<i64> = events.iter().map(|e| e.incident_id).collect();
    assert_eq!(ids.len(), OBJECTS);
    for id in &ids {
        events.push(
            s.store
                .acknowledge(*id, "NOC duty officer", None, s.clock.now_ms())
                .expect("ack"),
        );
    }
    s.clock.advance_ms(1_000);
    let all: Vec<Assessment> = (0..OBJECTS)
        .map(|i| assessment(&s.cfg, &s.rules, i, Level::III, START))
        .collect();
    events.extend(
        s.store
            .apply(&all, &clocks, s.clock.now_ms(), clear_after)
            .expect("apply"),
    );
    assert_eq!(events.len(), 50, "50 incident events written");

    // The receiver is down: each incident's first event is tried, and nothing is tried while
    // the (simulated) clock stands still — later events wait for earlier ones, and retries
    // wait for their backoff.
    eventually(
        10,
        "every incident's first event tried, nothing due",
        || {
            counter(&s.metrics, "attempts") >= OBJECTS as u64
                && s.store
                    .outbox_due("noc", s.clock.now_ms(), 100)
                    .is_ok_and(|d| d.is_empty())
        },
    )
    .await;
    let tried = counter(&s.metrics, "attempts");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        counter(&s.metrics, "attempts"),
        tried,
        "no attempt while the clock stands still"
    );
    // Only incidents' first events were tried (a retry or two each, as the clock moved 3 s
    // while the events were written), never a later event of an incident.
    assert!(tried < 4 * OBJECTS as u64, "{tried} attempts");
    let sum = s.store.outbox_summary("noc").expect("summary");
    assert_eq!(sum.pending, 50);
    assert_eq!(sum.delivered, 0);
    assert!(sum.last_error.is_some_and(|e| !e.contains(SECRET)));
    assert_eq!(
        s.metrics.outbox_depth.with_label_values(&["noc"]).get(),
        50,
        "the depth gauge"
    );

    // Two simulated minutes later the receiver is back (and flaky: it answers 503 to the
    // first arrival of every incident's third event, after recording it).
    s.clock.advance_ms(120_000);
    let state = Arc::new(ReceiverState {
        flaky_seq: Some(3),
        ..ReceiverState::default()
    });
    let rx = Receiver::start(addr, SECRET, state.clone()).await;
    for _ in 0..400 {
        if state.delivered_ids().len() >= 50 {
            break;
        }
        // Simulated time moves on in small steps so that retries come due.
        s.clock.advance_ms(5_000);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = state.all();
    assert_eq!(
        state.delivered_ids().len(),
        50,
        "all 50 delivered: {} requests",
        got.len()
    );

    // Every request is signed correctly and says what it is.
    assert!(
        got.iter().all(|r| r.signature_ok),
        "valid HMAC on every request"
    );
    for r in &got {
        assert_eq!(r.json["event_id"], r.delivery.as_str());
        assert_eq!(r.json["type"], r.event.as_str());
        assert_eq!(r.json["drill"], false);
        assert_eq!(r.json["incident"]["object"]["class"], "tld");
        assert!(r.json["incident"]["grade"]["zh"].is_string());
        assert!(r.json["incident"]["authority"]["lead"].is_string());
    }
    // Duplicates only with the same delivery id, and then byte for byte the same body.
    let mut by_id: BTreeMap<&str, Vec<&[u8]>> = BTreeMap::new();
    for r in &got {
        by_id.entry(&r.delivery).or_default().push(&r.body);
    }
    assert_eq!(by_id.len(), 50);
    let dups = by_id.values().filter(|v| v.len() > 1).count();
    assert!(dups >= OBJECTS, "the flaky answers caused {dups} re-sends");
    for (id, bodies) in &by_id {
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{id}: same body");
    }
    let written: BTreeSet<String> = events.iter().map(|e| format!("-ie-{}", e.id)).collect();
    assert!(by_id
        .keys()
        .all(|k| written.iter().any(|w| k.ends_with(w.as_str()))));
    // In order per incident: the arrivals of one incident never go back to an earlier event.
    let mut seqs: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in &got {
        seqs.entry(r.json["incident"]["id"].as_i64().expect("id"))
            .or_default()
            .push(r.json["event"]["seq"].as_i64().expect("seq"));
    }
    assert_eq!(seqs.len(), OBJECTS);
    for (id, v) in &seqs {
        assert!(v.windows(2).all(|w| w[0] <= w[1]), "incident {id}: {v:?}");
        let distinct: Vec<i64> = v
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(distinct, [1, 2, 3, 4, 5], "incident {id}");
        let types: Vec<&str> = got
            .iter()
            .filter(|r| r.json["incident"]["id"] == *id && r.answered == 200)
            .map(|r| r.event.as_str())
            .collect();
        assert_eq!(
            types,
            [
                "incident.opened",
                "incident.escalated",
                "incident.escalated",
                "incident.acknowledged",
                "incident.deescalated"
            ]
        );
    }
    // The receiver has answered all 50; the worker records each delivery just after.
    eventually(5, "every delivery recorded", || {
        s.store.outbox_summary("noc").expect("summary").pending == 0
    })
    .await;
    let sum = s.store.outbox_summary("noc").expect("summary");
    assert_eq!((sum.pending, sum.delivered, sum.given_up), (0, 50, 0));
    eventually(5, "depth gauge back to 0", || {
        s.metrics.outbox_depth.with_label_values(&["noc"]).get() == 0
    })
    .await;
    assert_eq!(counter(&s.metrics, "delivered"), 50);
    assert!(!s.metrics.render().contains(SECRET));
    s.service.stop().await;
    rx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_nobody_takes_is_given_up_after_the_configured_age() {
    let addr = closed_port().await;
    let s = setup(addr, "2h").await;
    let ev = s
        .store
        .apply(
            &[assessment(&s.cfg, &s.rules, 0, Level::II, START)],
            &ConditionClocks::new(),
            START,
            Duration::from_secs(300),
        )
        .expect("apply");
    assert_eq!(ev.len(), 1);
    eventually(10, "first attempt", || counter(&s.metrics, "attempts") >= 1).await;

    // Simulated time: just short of 2 h the event is still pending…
    let mut last = 0;
    while s.clock.now_ms() < START + 7_199_000 {
        let step = (START + 7_199_000 - s.clock.now_ms()).min(600_000);
        s.clock.advance_ms(step);
        let want = counter(&s.metrics, "attempts") + 1;
        eventually(10, "a retry after each advance", || {
            counter(&s.metrics, "attempts") >= want
        })
        .await;
        last = counter(&s.metrics, "attempts");
    }
    assert!(last >= 12, "retried all along: {last} attempts");
    assert_eq!(counter(&s.metrics, "given_up"), 0);
    assert_eq!(s.store.outbox_summary("noc").expect("summary").pending, 1);

    // …and past it the next failure gives it up: counted, and listed with its delivery id.
    s.clock.advance_ms(600_000);
    eventually(10, "given up", || counter(&s.metrics, "given_up") == 1).await;
    let sum = s.store.outbox_summary("noc").expect("summary");
    assert_eq!((sum.pending, sum.given_up), (0, 1));
    let gone = s.store.outbox_given_up(10).expect("given up");
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].sink, "noc");
    assert_eq!(gone[0].kind, "incident.opened");
    assert!(gone[0].delivery_id.ends_with(&format!("-ie-{}", ev[0].id)));
    assert!(gone[0].last_error.is_some());
    // Nothing more is attempted for it.
    let n = counter(&s.metrics, "attempts");
    s.clock.advance_ms(3_600_000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(counter(&s.metrics, "attempts"), n);
    s.service.stop().await;
}
