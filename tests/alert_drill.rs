//! Every drill scenario (应急演练) reaches a webhook receiver, signed, with `"drill": true`,
//! from opening to its end, through the real binary (all sockets on loopback).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use support::{eventually, http_post, DaemonProc, Receiver, ReceiverState};

const TOKEN: &str = "drill-hook-token";
const SECRET: &str = "drill-hook-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_drill_scenario_reaches_the_receiver_marked_drill() {
    let lab = support::lab().await;
    let a = lab.local_addr();
    let state = Arc::new(ReceiverState::default());
    let rx = Receiver::start("127.0.0.1:0".parse().expect("addr"), SECRET, state.clone()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{state}\"\ninterval = \"1s\"\ntick = \"1s\"\napi_token = \"env:DNSGRADE_API_TOKEN\"\n\n\
             [[alert.webhook]]\nname = \"drills\"\nurl = \"{hook}\"\nsecret = \"{SECRET}\"\n\n\
             [[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"{a}\"]\n\n\
             [[institution]]\nname = \"Registrar A\"\ntier = 1\n  [[institution.server]]\n  name = \"ns1\"\n  addresses = [\"{a}\"]\n  [[institution.check]]\n  name = \"example.cn\"\n  type = \"SOA\"\n\n\
             [[website]]\nname = \"Portal\"\ntier = 1\nlicensed_by = \"广东\"\ndomain = \"example.cn\"\n  [[website.server]]\n  name = \"ns1\"\n  addresses = [\"{a}\"]\n\n\
             [[recursive]]\noperator = \"Lab\"\nname = \"gd\"\nscope = \"province\"\nprovince = \"广东\"\ncached_names = [\"www.example.cn\"]\n  [[recursive.server]]\n  name = \"r1\"\n  addresses = [\"{a}\"]\n",
            state = dir.path().join("state").display(),
            hook = rx.url(),
        ),
    )
    .expect("write");
    let d = DaemonProc::start(&cfg, None, Some(TOKEN));

    let mut drill_incidents: BTreeMap<i64, &dnsgrade::drill::Scenario> = BTreeMap::new();
    for s in dnsgrade::drill::SCENARIOS {
        let (code, body) = http_post(
            d.http,
            "/api/v1/drills",
            Some(TOKEN),
            &format!(r#"{{"scenario": "{}", "by": "drill lead"}}"#, s.name),
        )
        .await;
        assert_eq!(code, 200, "{}: {body}", s.name);
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        let id = v["events"][0]["incident_id"].as_i64().expect("incident id");
        drill_incidents.insert(id, s);
        eventually(20, &format!("{} opened at the receiver", s.name), || {
            state.all().iter().any(|r| {
                r.answered == 200
                    && r.json["incident"]["id"] == id
                    && r.json["type"] == "incident.opened"
            })
        })
        .await;
        let (code, body) = http_post(
            d.http,
            &format!("/api/v1/drills/{id}/end"),
            Some(TOKEN),
            r#"{"by": "drill lead"}"#,
        )
        .await;
        assert_eq!(code, 200, "{}: {body}", s.name);
    }
    eventually(20, "every drill's end at the receiver", || {
        drill_incidents.keys().all(|id| {
            state.all().iter().any(|r| {
                r.answered == 200
                    && r.json["incident"]["id"] == *id
                    && r.json["type"] == "incident.resolved"
            })
        })
    })
    .await;
    let got = state.all();
    for r in &got {
        assert!(r.signature_ok, "signed");
        let id = r.json["incident"]["id"].as_i64().unwrap_or(0);
        let Some(s) = drill_incidents.get(&id) else {
            assert_eq!(r.json["drill"], false, "a real incident is never a drill");
            continue;
        };
        assert_eq!(r.json["drill"], true, "{}: {}", s.name, r.json);
        assert_eq!(
            r.json["incident"]["object"]["class"],
            s.class.as_str(),
            "{}",
            s.name
        );
        if r.event == "incident.opened" {
            assert_eq!(
                r.json["incident"]["grade"]["level"],
                s.grade.roman(),
                "{}",
                s.name
            );
            assert_eq!(
                r.json["incident"]["candidate_grade"]["level"].as_str(),
                s.candidate.map(|c| c.roman()),
                "{}",
                s.name
            );
            assert_eq!(r.json["incident"]["rule"], format!("drill.{}", s.name));
            assert!(r.json["incident"]["reason_zh"]
                .as_str()
                .is_some_and(|t| t.starts_with("【演练】")));
        }
    }
    assert_eq!(drill_incidents.len(), dnsgrade::drill::SCENARIOS.len());
    drop(d);
    rx.stop().await;
    lab.stop().await;
}
