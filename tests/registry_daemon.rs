//! Registry services through `dnsgrade run`: in-process RDAP and WHOIS servers on loopback
//! (TLS from a test CA made at test time), an EPP endpoint that refuses connections, the real
//! binary in simulated time. The registration service is unavailable from the first probe: the
//! TLD is level IV with the time it becomes III, and 4 h + 1 min later (simulated) it is III,
//! counted from the onset, while the query service stays healthy; when EPP answers again the
//! grade goes and, after clear_after, the incident resolves.

mod registry_support;
mod support;

use dnsgrade::lab::{LabServer, Zone};
use registry_support::{
    closed_port, EppFault, EppServer, RdapMode, RdapServer, TestPki, WhoisMode, WhoisServer,
};
use support::{get_json, http_get, level, wait_object, DaemonProc, SimClock};

const T0: u64 = 1_800_000_000_000;
const MIN: u64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epp_outage_of_4h_1min_grades_the_tld_iii_from_its_onset() {
    let pki = TestPki::new();
    let rdap = RdapServer::start(pki.ca.server_config(&["127.0.0.1"]), RdapMode::Ok).await;
    let whois = WhoisServer::start(WhoisMode::Reply(
        b"Domain Name: EXAMPLE.TEST\r\nRegistrar: Lab\r\n".to_vec(),
    ))
    .await;
    let epp = closed_port().await;
    let node = LabServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        vec![Zone::synthetic_tld("cn.", 10)],
    )
    .await
    .expect("lab");

    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("probes.toml");
    std::fs::write(
        &cfg,
        format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{state}\"\ninterval = \"200ms\"\ntick = \"1s\"\n\n\
             [[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"{node}\"]\n\
             \x20 [tld.registry]\n  epp = \"{epp}\"\n  rdap = \"https://127.0.0.1:{rdap}/rdap/\"\n  whois = \"{whois}\"\n\
             \x20 lookup_domain = \"example.test\"\n  ca_file = \"{ca}\"\n",
            state = dir.path().join("state").display(),
            node = node.local_addr(),
            rdap = rdap.addr.port(),
            whois = whois.addr,
            ca = pki.ca_file.display(),
        ),
    )
    .expect("write config");
    dnsgrade::config::load(&cfg).unwrap_or_else(|e| panic!("test config invalid: {e}"));
    let clock = SimClock::new(dir.path(), T0);
    let d = DaemonProc::start(&cfg, Some(&clock.path), None);

    // EPP refused from the start: the registration service is unavailable, level IV, and the
    // escalation to III is due 4 h after the onset. RDAP and WHOIS answer: the query service
    // is fine.
    let o = wait_object(d.http, "tld/cn", T0, "level IV", |o| {
        level(o).as_deref() == Some("IV")
            && o["registry"]["health"]["registration_unavailable"] == true
    })
    .await;
    assert_eq!(o["assessment"]["rule"], "tld.registration_unavailable");
    let onset = o["assessment"]["onset"].as_u64().expect("onset");
    assert_eq!(onset, T0, "the first failed probe, at simulated T0");
    assert_eq!(o["assessment"]["next_escalation"]["grade"], "III");
    assert_eq!(
        o["assessment"]["next_escalation"]["at"].as_u64(),
        Some(onset + 240 * MIN)
    );
    assert_eq!(o["registry"]["health"]["query_unavailable"], false);
    let services = o["registry"]["services"].as_array().expect("services");
    let state_of = |name: &str| {
        services
            .iter()
            .find(|s| s["service"] == name)
            .map(|s| s["state"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(state_of("epp").as_deref(), Some("unavailable"));
    for q in ["rdap", "whois"] {
        let st = state_of(q);
        assert!(
            matches!(st.as_deref(), Some("ok" | "unknown")),
            "{q} answers: {st:?}"
        );
    }

    // 3 h 59 min: still IV.
    clock.set(onset + 239 * MIN);
    let o = wait_object(d.http, "tld/cn", clock.now.get(), "IV at 3h59", |o| {
        o["registry"]["health"]["registration_unavailable"] == true
    })
    .await;
    assert_eq!(level(&o).as_deref(), Some("IV"));

    // 4 h 1 min: III, led by 互联网应急办, the onset unchanged.
    clock.set(onset + 241 * MIN);
    let o = wait_object(d.http, "tld/cn", clock.now.get(), "III at 4h01", |o| {
        level(o).as_deref() == Some("III")
    })
    .await;
    assert_eq!(o["assessment"]["rule"], "tld.registration_unavailable");
    assert_eq!(o["assessment"]["onset"].as_u64(), Some(onset));
    assert_eq!(o["assessment"]["authority"]["lead_zh"], "互联网应急办");

    // The probes are in the metrics, by service and outcome.
    let (code, text) = http_get(d.http, "/metrics").await;
    assert_eq!(code, 200);
    let has = |needle: &str| text.lines().any(|l| l.starts_with(needle));
    assert!(
        has("dnsgrade_registry_probes_total{class=\"tld\",object=\"cn\",outcome=\"refused\",service=\"epp\"}"),
        "{text}"
    );
    assert!(has(
        "dnsgrade_registry_probes_total{class=\"tld\",object=\"cn\",outcome=\"ok\",service=\"rdap\"}"
    ));
    assert!(has(
        "dnsgrade_registry_probes_total{class=\"tld\",object=\"cn\",outcome=\"ok\",service=\"whois\"}"
    ));
    assert!(text.contains(
        "dnsgrade_registry_service_state{class=\"tld\",object=\"cn\",service=\"epp\",state=\"unavailable\"} 1"
    ));
    assert!(!whois.queries.lock().expect("lock").is_empty());
    assert!(!rdap.requests.lock().expect("lock").is_empty());

    // The status page shows each registry service with its state.
    let (code, page) = http_get(d.http, "/").await;
    assert_eq!(code, 200);
    assert!(
        page.contains("<span class=\"reg-unavailable\">EPP unavailable</span>"),
        "{page}"
    );

    // The incident is in the ledger at III.
    let v = get_json(d.http, "/api/v1/incidents?state=open").await;
    let open = v["incidents"].as_array().expect("incidents");
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0]["grade"]["level"], "III");

    // The registration service comes back on its port. Past the 15 min window of the service
    // levels (the failures in it would still make the service "degraded", level IV), there is
    // no grade, and after clear_after (300 s) of health the incident resolves.
    let epp_srv = EppServer::start_on(
        epp,
        pki.ca.server_config(&["127.0.0.1"]),
        EppFault::None,
        None,
    )
    .await;
    clock.advance(16 * MIN);
    let o = wait_object(
        d.http,
        "tld/cn",
        clock.now.get(),
        "EPP available again",
        |o| o["registry"]["health"]["registration_unavailable"] == false && level(o).is_none(),
    )
    .await;
    assert_eq!(o["assessment"]["rule"], serde_json::Value::Null);
    assert!(
        !epp_srv.received.lock().expect("lock").is_empty(),
        "hello sent"
    );
    clock.advance(5 * MIN + 1_000);
    let mut resolved = false;
    for _ in 0..100 {
        let v = get_json(d.http, "/api/v1/incidents?state=resolved").await;
        if v["incidents"].as_array().is_some_and(|a| a.len() == 1) {
            assert_eq!(v["incidents"][0]["max_grade"]["level"], "III");
            resolved = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(resolved, "the incident resolves after clear_after");
    drop(d);
    node.stop().await;
}
