//! Filters, Alertmanager payloads and re-posts, and the secret's redaction (no I/O; the
//! delivery loop is tested in tests/alert_*.rs).

use super::alertmanager::alerts_for_event;
use super::filter::{accepts, accepts_incident};
use super::*;
use crate::config::ObjectClass;
use crate::config::{Secret, SinkFilter};
use crate::incident::{
    AlertEvent, ConditionClocks, GradeView, Incident, IncidentState, MonitorEvent, MonitorKind,
    MonitorObservation, OutboxItem, Timestamp,
};
use serde_json::json;

const T0: u64 = 1_700_000_000_000;

const CONFIG: &str = r#"
[daemon]
vantage = "bj-telecom-1"
region = "beijing"
network = "telecom"

[[tld]]
name = "cn"
  [[tld.node]]
  name = "a"
  addresses = ["127.0.0.1:9"]

[[institution]]
name = "reg2"
tier = 2
  [[institution.server]]
  name = "ns1"
  addresses = ["127.0.0.1:9"]
  [[institution.check]]
  name = "example.cn"
  type = "SOA"

[[website]]
name = "gd-portal"
tier = 1
licensed_by = "广东"
domain = "example.cn"
  [[website.server]]
  name = "ns1"
  addresses = ["127.0.0.1:9"]

[[website]]
name = "miit-portal"
tier = 1
licensed_by = "MIIT"
domain = "example.com.cn"
  [[website.server]]
  name = "ns1"
  addresses = ["127.0.0.1:9"]

[[recursive]]
operator = "Op"
name = "gd"
scope = "province"
province = "广东"
cached_names = ["www.example.cn"]
  [[recursive.server]]
  name = "r1"
  addresses = ["127.0.0.1:9"]

[[recursive]]
operator = "Op"
name = "south"
scope = "multi-province"
provinces = ["广东", "广西"]
cached_names = ["www.example.cn"]
  [[recursive.server]]
  name = "r1"
  addresses = ["127.0.0.1:9"]

[alert]
[[alert.webhook]]
name = "gd-hook"
url = "http://127.0.0.1:9/hook"
secret = "s3cr3t-value-never-shown"
authority = "广东省通信管理局"

[[alert.webhook]]
name = "noc"
url = "http://user:pw@127.0.0.1:9/hook?token=abc"
min_grade = "III"
classes = ["tld", "recursive"]

[[alert.alertmanager]]
name = "am"
url = "http://127.0.0.1:9093/"
"#;

fn ctx() -> AlertContext {
    let cfg = crate::config::parse(std::path::Path::new("t.toml"), CONFIG).expect("config");
    AlertContext::new(
        Arc::new(cfg),
        Arc::new(Rules::miit_2011()),
        "http://127.0.0.1:9553",
    )
}

fn incident(object: &str, grade: Level, max: Level) -> Incident {
    let rules = Rules::miit_2011();
    let c = ctx();
    let auth = c
        .object(object)
        .map(|o| serde_json::to_value(authority(o, grade, &rules)).expect("json"));
    Incident {
        id: 7,
        object: object.parse().expect("object key"),
        state: IncidentState::Open,
        grade: GradeView(grade),
        max_grade: GradeView(max),
        candidate: None,
        rule: Some("r".into()),
        reasons_zh: vec!["停止解析".into()],
        reasons_en: vec!["stopped".into()],
        evidence: json!([{"server": "a 127.0.0.1:9", "samples": 40, "success": 0.0,
            "success_lower": 0.0, "success_upper": 0.088, "latency_s": null,
            "data_error": null, "data_error_lower": 0.0, "stopped": true, "bad": true,
            "unknown": false}]),
        authority: auth,
        next_escalation: None,
        onset: Timestamp(T0),
        detected_at: Timestamp(T0 + 10_000),
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
        updated_at: Timestamp(T0),
        result: None,
        organisations: Vec::new(),
        reported_at: None,
        reported_to: None,
        coordinator_confirmed_at: None,
    }
}

fn filter_of(name: &str) -> SinkFilter {
    ctx()
        .config
        .alert
        .sinks
        .iter()
        .find(|s| s.name == name)
        .expect("sink")
        .filter
        .clone()
}

#[test]
fn min_grade_goes_by_the_highest_grade_so_far() {
    let c = ctx();
    let f = SinkFilter {
        min_grade: Some(Level::III),
        ..SinkFilter::default()
    };
    assert!(!accepts_incident(
        &f,
        &incident("tld/cn", Level::IV, Level::IV),
        &c
    ));
    assert!(accepts_incident(
        &f,
        &incident("tld/cn", Level::III, Level::III),
        &c
    ));
    assert!(accepts_incident(
        &f,
        &incident("tld/cn", Level::I, Level::I),
        &c
    ));
    // De-escalated below the minimum: the sink that got it still hears the rest.
    assert!(accepts_incident(
        &f,
        &incident("tld/cn", Level::IV, Level::II),
        &c
    ));
}

#[test]
fn classes_filter_by_the_object_class() {
    let c = ctx();
    let f = filter_of("noc");
    assert_eq!(f.classes, [ObjectClass::Tld, ObjectClass::Recursive]);
    assert!(accepts_incident(
        &f,
        &incident("tld/cn", Level::II, Level::II),
        &c
    ));
    assert!(accepts_incident(
        &f,
        &incident("recursive/gd", Level::III, Level::III),
        &c
    ));
    assert!(!accepts_incident(
        &f,
        &incident("website/gd-portal", Level::III, Level::III),
        &c
    ));
    assert!(!accepts_incident(
        &f,
        &incident("institution/reg2", Level::IV, Level::IV),
        &c
    ));
}

#[test]
fn the_provincial_hook_gets_its_provinces_incidents_only() {
    let c = ctx();
    let f = filter_of("gd-hook");
    // "广东省通信管理局" in the config is normalised to the key "广东通信管理局".
    assert_eq!(f.authority.as_deref(), Some("广东通信管理局"));
    for (obj, want) in [
        ("recursive/gd", true),
        ("website/gd-portal", true),
        ("tld/cn", false),
        ("recursive/south", false),
        ("website/miit-portal", false),
        ("institution/reg2", false),
    ] {
        for l in Level::ALL {
            if obj == "website/gd-portal" && l > Level::III {
                continue;
            }
            assert_eq!(
                accepts_incident(&f, &incident(obj, l, l), &c),
                want,
                "{obj} at {l:?}"
            );
        }
    }
    // The central office leads TLD incidents; a tier-2 institution handles its own.
    let eo = SinkFilter {
        authority: Some("互联网应急办".into()),
        ..SinkFilter::default()
    };
    assert!(accepts_incident(
        &eo,
        &incident("tld/cn", Level::II, Level::II),
        &c
    ));
    assert!(!accepts_incident(
        &eo,
        &incident("institution/reg2", Level::IV, Level::IV),
        &c
    ));
    // An object no longer configured is judged by its snapshot's routing.
    let mut gone = incident("recursive/gd", Level::III, Level::III);
    gone.object = "recursive/removed".parse().expect("object key");
    assert!(accepts_incident(&f, &gone, &c));
}

/// A config with one webhook whose filter names `authority`.
fn ctx_with_filter(authority: &str) -> AlertContext {
    let text = CONFIG.replace(
        "authority = \"广东省通信管理局\"",
        &format!("authority = \"{authority}\""),
    );
    let cfg = crate::config::parse(std::path::Path::new("t.toml"), &text).expect("config");
    AlertContext::new(
        Arc::new(cfg),
        Arc::new(Rules::miit_2011()),
        "http://127.0.0.1:9553",
    )
}

#[test]
fn an_authority_filter_takes_the_official_name_the_short_form_or_the_province() {
    for written in [
        "广东省通信管理局",
        "广东通信管理局",
        "广东",
        " 广东省 ",
        "Guangdong Communications Administration",
    ] {
        let c = ctx_with_filter(written);
        let f = &c.config.alert.sinks[0].filter;
        if !written.starts_with("Guangdong") {
            assert_eq!(f.authority.as_deref(), Some("广东通信管理局"), "{written}");
        }
        let gd = incident("recursive/gd", Level::III, Level::III);
        assert!(accepts_incident(f, &gd, &c), "{written}");
        assert!(
            !accepts_incident(f, &incident("tld/cn", Level::II, Level::II), &c),
            "{written}"
        );
        // A snapshot written before the official names (lead "广东通信管理局") still matches.
        let mut old = incident("recursive/gd", Level::III, Level::III);
        old.object = "recursive/removed".parse().expect("object key");
        old.authority = Some(json!({"lead_zh": "广东通信管理局", "lead_en": "x", "notify": []}));
        if !written.starts_with("Guangdong") {
            assert!(accepts_incident(f, &old, &c), "{written}");
        }
    }
    // Autonomous regions and municipalities, by official name and short name.
    for (official, short, key) in [
        ("广西壮族自治区通信管理局", "广西", "广西通信管理局"),
        (
            "新疆维吾尔自治区通信管理局",
            "新疆通信管理局",
            "新疆通信管理局",
        ),
        ("北京市通信管理局", "北京", "北京通信管理局"),
    ] {
        for w in [official, short] {
            let c = ctx_with_filter(w);
            assert_eq!(
                c.config.alert.sinks[0].filter.authority.as_deref(),
                Some(key)
            );
        }
    }
    // "MIIT" names the emergency office, which leads TLD incidents at II.
    let c = ctx_with_filter("MIIT");
    let f = &c.config.alert.sinks[0].filter;
    assert_eq!(f.authority.as_deref(), Some("互联网应急办"));
    assert!(accepts_incident(
        f,
        &incident("tld/cn", Level::II, Level::II),
        &c
    ));
}

#[test]
fn maintenance_is_never_paged_and_monitor_events_reach_every_sink() {
    let c = ctx();
    let mut m = incident("tld/cn", Level::I, Level::I);
    m.maintenance = true;
    assert!(!accepts_incident(&SinkFilter::default(), &m, &c));
    let monitor = AlertEvent::Monitor(MonitorEvent {
        id: 1,
        kind: MonitorKind::Isolated,
        at: Timestamp(T0),
        payload: json!({"control_addresses": 3, "control_failing": 2}),
    });
    for name in ["gd-hook", "noc", "am"] {
        assert!(accepts(&filter_of(name), &monitor, &c), "{name}");
    }
}

#[test]
fn secrets_stay_out_of_debug_output_and_urls_lose_their_credentials() {
    let c = ctx();
    let dbg = format!("{:?}", c.config);
    assert!(!dbg.contains("s3cr3t-value-never-shown"), "{dbg}");
    assert!(dbg.contains("Secret(<redacted>)"));
    assert!(!format!("{c:?}").contains("s3cr3t"));
    let noc = &c.config.alert.sinks[1];
    assert_eq!(noc.display_url(), "http://127.0.0.1:9/hook");
    let am = &c.config.alert.sinks[2];
    assert_eq!(am.url, "http://127.0.0.1:9093", "trailing slash removed");
    // The filter is what the API shows of a sink: no secret in it either.
    let shown = serde_json::to_string(&c.config.alert.sinks[0].filter).expect("json");
    assert!(!shown.contains("s3cr3t"));
    let _ = Secret::new("x");
}

fn item(incident: Incident, kind: crate::incident::EventKind, seq: i64) -> OutboxItem {
    let at = incident.updated_at;
    OutboxItem {
        id: 1,
        stream: format!("incident/{}", incident.id),
        key: "0011223344556677-ie-9".into(),
        event: AlertEvent::Incident(Box::new(crate::incident::IncidentEvent {
            id: 9,
            incident_id: incident.id,
            seq,
            kind,
            at,
            grade: Some(incident.grade),
            payload: json!({}),
            drill: incident.drill,
            incident,
        })),
    }
}

#[test]
fn alertmanager_alert_has_the_labels_annotations_and_link() {
    let c = ctx();
    let a = incident_alert(&incident("recursive/gd", Level::III, Level::III), &c, None);
    assert_eq!(
        a["labels"],
        json!({"alertname": "DnsgradeIncident", "grade": "III", "grade_zh": "较大",
               "class": "recursive", "object": "gd", "authority": "广东省通信管理局",
               "incident_id": "7", "drill": "false", "source": "dnsgrade",
               "vantage": "bj-telecom-1"})
    );
    assert_eq!(a["startsAt"], "2023-11-14T22:13:20.000Z");
    assert!(a.get("endsAt").is_none());
    assert_eq!(
        a["generatorURL"],
        "http://127.0.0.1:9553/api/v1/incidents/7"
    );
    assert_eq!(a["annotations"]["reason_en"], "stopped");
    assert!(a["annotations"]["evidence"]
        .as_str()
        .is_some_and(|e| e.contains("40 probes") && e.contains("stopped")));
    let mut d = incident("tld/cn", Level::II, Level::II);
    d.drill = true;
    assert_eq!(incident_alert(&d, &c, None)["labels"]["drill"], "true");
    let m = super::alertmanager::monitor_alert(Timestamp(T0), None, &c);
    assert_eq!(
        m["labels"]["source"], "dnsgrade",
        "monitor alerts are routed alike"
    );
    // Both name the vantage point that saw it.
    assert_eq!(m["labels"]["vantage"], "bj-telecom-1");
    assert_eq!(a["labels"]["vantage"], "bj-telecom-1");
}

#[test]
fn alertmanager_grade_change_resolves_the_old_label_set_and_resolution_sets_ends_at() {
    let c = ctx();
    let before = incident("tld/cn", Level::III, Level::III);
    let mut now = incident("tld/cn", Level::II, Level::II);
    now.updated_at = Timestamp(T0 + 60_000);
    let out = alerts_for_event(
        &item(now.clone(), crate::incident::EventKind::Escalated, 2),
        Some(&before),
        &c,
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["labels"]["grade"], "III");
    assert_eq!(out[0]["endsAt"], Timestamp(T0 + 60_000).rfc3339());
    assert_eq!(out[1]["labels"]["grade"], "II");
    assert!(out[1].get("endsAt").is_none());
    // Same labels (an acknowledgement): only the current alert.
    let out = alerts_for_event(
        &item(now.clone(), crate::incident::EventKind::Acknowledged, 3),
        Some(&now),
        &c,
    );
    assert_eq!(out.len(), 1);
    let mut res = now.clone();
    res.state = IncidentState::Resolved;
    res.resolved_at = Some(Timestamp(T0 + 900_000));
    let out = alerts_for_event(
        &item(res, crate::incident::EventKind::Resolved, 4),
        Some(&now),
        &c,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["endsAt"], Timestamp(T0 + 900_000).rfc3339());
}

#[test]
fn alertmanager_refresh_reposts_open_and_recently_resolved_but_not_ahead_of_the_outbox() {
    let c = ctx();
    let store = IncidentStore::open_in_memory().expect("store");
    let rules = Rules::miit_2011();
    let asmt = |key: &str, grade: Option<Level>| crate::grading::Assessment {
        object: key.parse().expect("object key"),
        grade,
        candidate: None,
        rule: grade.map(|_| "r".to_string()),
        reasons_zh: vec![],
        reasons_en: vec![],
        evidence: vec![],
        authority: grade.map(|g| authority(c.object(key).expect("object"), g, &rules)),
        onset: grade.map(|_| T0),
        next_escalation: None,
    };
    let clocks = ConditionClocks::new();
    let clear = Duration::from_secs(300);
    let f = SinkFilter::default();
    // Three incidents: tld/cn stays open; recursive/gd resolves at T0+600 s; website resolves
    // too, but long before the refresh.
    store
        .apply(
            &[
                asmt("tld/cn", Some(Level::II)),
                asmt("recursive/gd", Some(Level::IV)),
                asmt("website/gd-portal", Some(Level::IV)),
            ],
            &clocks,
            T0,
            clear,
        )
        .expect("apply");
    store
        .apply(
            &[asmt("website/gd-portal", None), asmt("recursive/gd", None)],
            &clocks,
            T0 + 1_000,
            clear,
        )
        .expect("apply");
    store
        .apply(
            &[asmt("website/gd-portal", None), asmt("recursive/gd", None)],
            &clocks,
            T0 + 302_000,
            clear,
        )
        .expect("apply");
    let now = T0 + 302_000 + 200_000;
    let a = refresh_alerts(&store, "am", &f, &c, now, Duration::from_secs(300)).expect("refresh");
    let objs: Vec<(&str, bool)> = a
        .iter()
        .map(|x| {
            (
                x["labels"]["object"].as_str().unwrap_or(""),
                x.get("endsAt").is_some(),
            )
        })
        .collect();
    assert!(objs.contains(&("cn", false)), "open → firing: {objs:?}");
    assert!(
        objs.contains(&("gd", true)),
        "resolved 200 s ago → resolved: {objs:?}"
    );
    assert!(objs.contains(&("gd-portal", true)));
    let later = refresh_alerts(
        &store,
        "am",
        &f,
        &c,
        T0 + 302_000 + 400_000,
        Duration::from_secs(300),
    )
    .expect("refresh");
    assert_eq!(
        later.len(),
        1,
        "only the open one after resend_resolved_for"
    );
    // A pending delivery to this sink holds the re-post of that incident back.
    let cursor = store.outbox_cursor("am").expect("cursor");
    store
        .apply(&[asmt("tld/cn", Some(Level::I))], &clocks, now, clear)
        .expect("apply");
    let items = store.outbox_after(cursor, 10).expect("items");
    let refs: Vec<&OutboxItem> = items.iter().collect();
    store
        .outbox_enqueue("am", &refs, items.last().map_or(cursor, |i| i.id), now)
        .expect("enqueue");
    let held =
        refresh_alerts(&store, "am", &f, &c, now, Duration::from_secs(300)).expect("refresh");
    assert!(
        held.iter().all(|x| x["labels"]["object"] != "cn"),
        "{held:?}"
    );
    // The monitor's isolation is re-posted while it lasts.
    store
        .apply_observed(
            &[],
            &clocks,
            now,
            clear,
            Some(&MonitorObservation {
                isolated: true,
                control_addresses: 3,
                control_failing: 3,
            }),
        )
        .expect("monitor");
    let m =
        refresh_alerts(&store, "other", &f, &c, now, Duration::from_secs(300)).expect("refresh");
    assert!(m
        .iter()
        .any(|x| x["labels"]["alertname"] == MONITOR_ALERTNAME && x.get("endsAt").is_none()));
}

#[test]
fn monitor_events_are_written_on_changes_of_the_persisted_state_only() {
    let store = IncidentStore::open_in_memory().expect("store");
    let clocks = ConditionClocks::new();
    let clear = Duration::from_secs(300);
    let obs = |isolated| MonitorObservation {
        isolated,
        control_addresses: 4,
        control_failing: if isolated { 3 } else { 0 },
    };
    let cursor = store.outbox_cursor("x").expect("cursor");
    let w = |at, o: Option<MonitorObservation>| {
        store
            .apply_observed(&[], &clocks, at, clear, o.as_ref())
            .expect("apply")
            .1
            .map(|e| e.kind)
    };
    assert_eq!(
        w(T0, Some(obs(false))),
        None,
        "never isolated: nothing to say"
    );
    assert_eq!(w(T0 + 1, Some(obs(true))), Some(MonitorKind::Isolated));
    assert_eq!(w(T0 + 2, Some(obs(true))), None);
    assert_eq!(w(T0 + 3, None), None, "no judgement: state kept");
    assert_eq!(
        w(T0 + 4, Some(obs(true))),
        None,
        "a restart does not repeat it"
    );
    assert_eq!(w(T0 + 5, Some(obs(false))), Some(MonitorKind::Recovered));
    let items = store.outbox_after(cursor, 10).expect("items");
    assert_eq!(items.len(), 2);
    assert!(items
        .iter()
        .all(|i| i.stream == "monitor" && i.key.contains("-me-")));
    assert_eq!(items[0].event.type_name(), "monitor.isolated");
    let body = webhook::body(&items[1], &ctx());
    assert_eq!(body["type"], "monitor.recovered");
    assert_eq!(body["vantage"]["name"], "bj-telecom-1");
    assert_eq!(body["vantage"]["region"], "beijing");
    assert_eq!(body["vantage"]["network"], "telecom");
    assert_eq!(body["monitor"]["isolated"], false);
    assert_eq!(body["monitor"]["control_addresses"], 4);
}
