//! Registry probes against in-process servers (loopback, port 0): EPP over TLS with a test CA
//! made by rcgen, RDAP over a minimal HTTPS responder, WHOIS over TCP, each with faults; and
//! the registry health judgement over simulated time.
//!
//! Slowness and stalls run in real time with short limits (a 400 ms reply against a 300 ms
//! round-trip limit, a 1 s probe timeout): tokio's paused clock cannot be used with real
//! sockets, because it jumps to the next timer whenever the runtime waits on I/O, so every
//! network read would time out. The ICANN default limits are checked on `RegistrySlr::default`.

mod registry_support;

use dnsgrade::probe::registry::{
    ClientCert, EppLogin, EppProbe, EppTarget, RdapProbe, RdapTarget, RegistryError,
    RegistryHealthTracker, RegistryOutcome, RegistryProbeResult, RegistryProbeSet, RegistrySlr,
    RegistryTargets, Service, ServiceState, TlsSettings, WhoisProbe, WhoisTarget,
};
use registry_support::{
    closed_port, EppFault, EppServer, RdapMode, RdapServer, TestCa, TestPki, WhoisMode, WhoisServer,
};
use std::net::SocketAddr;
use std::sync::Once;
use std::time::Duration;

const MIN: u64 = 60_000;

// ---------------------------------------------------------------------------------------- EPP

/// A probe timeout short enough for stall tests in real time.
const SHORT_TIMEOUT: Duration = Duration::from_secs(1);

/// A reply delay above [`fast_slr`]'s limits.
const SLOW: Duration = Duration::from_millis(400);

/// Service level requirements scaled down for real-time tests: 300 ms limits, 3 samples.
fn fast_slr() -> RegistrySlr {
    RegistrySlr {
        epp_rtt_limit: Duration::from_millis(300),
        rdap_rtt_limit: Duration::from_millis(300),
        whois_rtt_limit: Duration::from_millis(300),
        min_samples: 3,
        ..RegistrySlr::default()
    }
}

#[test]
fn default_limits_are_icann_slrs() {
    let d = RegistrySlr::default();
    assert_eq!(d.epp_rtt_limit, Duration::from_secs(4));
    assert_eq!(d.rdap_rtt_limit, Duration::from_secs(2));
    assert_eq!(d.whois_rtt_limit, Duration::from_secs(2));
}

fn epp_target(pki: &TestPki, addr: SocketAddr) -> EppTarget {
    EppTarget {
        server_name: Some("epp.test".into()),
        tls: TlsSettings {
            ca_file: Some(pki.ca_file.clone()),
            client_cert: None,
        },
        timeout: Duration::from_secs(10),
        ..EppTarget::new(addr.ip().to_string(), addr.port())
    }
}

async fn epp_probe(pki: &TestPki, addr: SocketAddr) -> RegistryProbeResult {
    EppProbe::new(epp_target(pki, addr)).unwrap().probe().await
}

/// The credentials live in the environment of the test process; set once, never changed.
const CLID_VAR: &str = "DNSGRADE_TEST_EPP_CLID";
const PW_VAR: &str = "DNSGRADE_TEST_EPP_PW";
const CLID: &str = "registrar-1";
const PW: &str = "s3cret&<pw>";
const PW_ESCAPED: &str = "s3cret&amp;&lt;pw&gt;";

fn set_credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var(CLID_VAR, CLID);
        std::env::set_var(PW_VAR, PW);
    });
}

fn login() -> Option<EppLogin> {
    Some(EppLogin {
        client_id_env: CLID_VAR.into(),
        password_env: PW_VAR.into(),
    })
}

#[tokio::test]
async fn epp_hello_ok() {
    let pki = TestPki::new();
    let srv = EppServer::start(pki.ca.server_config(&["epp.test"]), EppFault::None, None).await;
    let r = epp_probe(&pki, srv.addr).await;
    assert_eq!(r.outcome, RegistryOutcome::Ok, "{r:?}");
    assert_eq!(r.service, Service::Epp);
    let (rtt, connect) = (r.rtt.unwrap(), r.connect_time.unwrap());
    assert!(rtt >= connect, "{r:?}");
    assert_eq!(r.login_time, None);
    let got = srv.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("<hello/>"));
}

#[tokio::test]
async fn epp_login_and_logout_ok_and_secrets_stay_secret() {
    set_credentials();
    let pki = TestPki::new();
    let srv = EppServer::start(
        pki.ca.server_config(&["epp.test"]),
        EppFault::None,
        Some((CLID.into(), PW_ESCAPED.into())),
    )
    .await;
    let probe = EppProbe::new(EppTarget {
        login: login(),
        ..epp_target(&pki, srv.addr)
    })
    .unwrap();
    let dbg = format!("{probe:?}");
    assert!(
        !dbg.contains(PW) && !dbg.contains(PW_ESCAPED) && !dbg.contains(CLID),
        "{dbg}"
    );
    assert!(dbg.contains("<redacted>"));
    let r = probe.probe().await;
    assert_eq!(r.outcome, RegistryOutcome::Ok, "{r:?}");
    assert!(r.login_time.is_some());
    assert_eq!(r.detail, "login 1000, logout 1500");
    let got = srv.received.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[1].contains("<objURI>urn:ietf:params:xml:ns:host-1.0</objURI>"));
    assert!(got[1].contains("<clTRID>dnsgrade-"));
    assert!(got[2].contains("<logout/>"));
}

#[tokio::test]
async fn epp_login_failure_is_its_own_outcome() {
    set_credentials();
    let pki = TestPki::new();
    let srv = EppServer::start(
        pki.ca.server_config(&["epp.test"]),
        EppFault::None,
        Some((CLID.into(), "another password".into())),
    )
    .await;
    let r = EppProbe::new(EppTarget {
        login: login(),
        ..epp_target(&pki, srv.addr)
    })
    .unwrap()
    .probe()
    .await;
    assert_eq!(r.outcome, RegistryOutcome::LoginFailed, "{r:?}");
    assert_eq!(r.outcome.as_str(), "login_failed");
    assert!(r.detail.contains("2200"), "{}", r.detail);
    assert!(!r.detail.contains(PW) && !format!("{r:?}").contains(PW));
    assert_eq!(r.rtt, None);
    assert!(r.login_time.is_some());
}

#[tokio::test]
async fn epp_missing_credential_is_a_configuration_error() {
    let pki = TestPki::new();
    let e = EppProbe::new(EppTarget {
        login: Some(EppLogin {
            client_id_env: "DNSGRADE_TEST_EPP_UNSET_CLID".into(),
            password_env: "DNSGRADE_TEST_EPP_UNSET_PW".into(),
        }),
        ..epp_target(&pki, "127.0.0.1:700".parse().unwrap())
    })
    .unwrap_err();
    assert!(
        matches!(&e, RegistryError::MissingCredential { var } if var == "DNSGRADE_TEST_EPP_UNSET_CLID"),
        "{e}"
    );
}

#[tokio::test]
async fn epp_refused() {
    let pki = TestPki::new();
    let r = epp_probe(&pki, closed_port().await).await;
    assert_eq!(r.outcome, RegistryOutcome::Refused, "{r:?}");
    assert_eq!(r.connect_time, None);
}

#[tokio::test]
async fn epp_stall_times_out() {
    let pki = TestPki::new();
    let srv = EppServer::start(pki.ca.server_config(&["epp.test"]), EppFault::Stall, None).await;
    let target = EppTarget {
        timeout: SHORT_TIMEOUT,
        ..epp_target(&pki, srv.addr)
    };
    let start = tokio::time::Instant::now();
    let r = EppProbe::new(target).unwrap().probe().await;
    assert_eq!(r.outcome, RegistryOutcome::Timeout, "{r:?}");
    assert!(r.detail.contains("greeting"), "{}", r.detail);
    assert!(r.connect_time.is_some(), "TLS completed before the stall");
    assert!(
        start.elapsed() >= SHORT_TIMEOUT,
        "gave up before its timeout"
    );
    assert!(r.rtt.is_none(), "a timeout is not a latency");
}

#[tokio::test]
async fn epp_slow_greeting_is_ok_but_degrades_the_registration_service() {
    let pki = TestPki::new();
    let srv = EppServer::start(
        pki.ca.server_config(&["epp.test"]),
        EppFault::SlowGreeting(SLOW),
        None,
    )
    .await;
    let probe = EppProbe::new(epp_target(&pki, srv.addr)).unwrap();
    let mut tracker = RegistryHealthTracker::new(fast_slr(), &[Service::Epp]);
    let t0 = 1_750_000_000_000u64;
    for i in 0..3 {
        let r = probe.probe().await;
        assert_eq!(r.outcome, RegistryOutcome::Ok, "probe {i}: {r:?}");
        assert!(r.rtt.unwrap() >= SLOW, "{r:?}");
        tracker.record(t0 + i * 20_000, &r);
    }
    let now = t0 + 2 * 20_000;
    let h = tracker.evaluate(now);
    assert!(h.registration_degraded, "{h:?}");
    assert!(!h.registration_unavailable);
    let s = tracker.service(Service::Epp, now).unwrap();
    assert_eq!(s.state, ServiceState::Degraded);
    assert!(s.slow && !s.failing);
    assert!(s.rtt_quantile_s.unwrap() >= SLOW.as_secs_f64());
}

#[tokio::test]
async fn epp_bad_greetings() {
    let pki = TestPki::new();
    for fault in [
        EppFault::Garbage,
        EppFault::Oversized,
        EppFault::NotGreeting,
        EppFault::ShortLength,
    ] {
        let srv = EppServer::start(pki.ca.server_config(&["epp.test"]), fault.clone(), None).await;
        let r = epp_probe(&pki, srv.addr).await;
        assert_eq!(r.outcome, RegistryOutcome::BadGreeting, "{fault:?}: {r:?}");
        assert_eq!(r.rtt, None);
    }
}

#[tokio::test]
async fn epp_close_after_tls_is_a_network_error() {
    let pki = TestPki::new();
    let srv = EppServer::start(
        pki.ca.server_config(&["epp.test"]),
        EppFault::CloseAfterTls,
        None,
    )
    .await;
    let r = epp_probe(&pki, srv.addr).await;
    assert_eq!(r.outcome, RegistryOutcome::NetworkError, "{r:?}");
    assert!(r.detail.contains("closed"), "{}", r.detail);
}

#[tokio::test]
async fn epp_untrusted_certificate_is_a_tls_error() {
    let pki = TestPki::new();
    let rogue = TestCa::new("someone else's CA");
    let srv = EppServer::start(rogue.server_config(&["epp.test"]), EppFault::None, None).await;
    let r = epp_probe(&pki, srv.addr).await;
    assert_eq!(r.outcome, RegistryOutcome::TlsError, "{r:?}");
    assert_eq!(r.connect_time, None);

    // Trusted CA, but the certificate names another host.
    let srv = EppServer::start(pki.ca.server_config(&["other.test"]), EppFault::None, None).await;
    let r = epp_probe(&pki, srv.addr).await;
    assert_eq!(r.outcome, RegistryOutcome::TlsError, "{r:?}");

    // No CA file: webpki-roots alone do not trust the test CA.
    let srv = EppServer::start(pki.ca.server_config(&["epp.test"]), EppFault::None, None).await;
    let mut t = epp_target(&pki, srv.addr);
    t.tls.ca_file = None;
    let r = EppProbe::new(t).unwrap().probe().await;
    assert_eq!(r.outcome, RegistryOutcome::TlsError, "{r:?}");
}

#[tokio::test]
async fn epp_client_certificate() {
    let pki = TestPki::new();
    let srv = EppServer::start(
        pki.ca.server_config_requiring_client_cert(&["epp.test"]),
        EppFault::None,
        None,
    )
    .await;
    let mut t = epp_target(&pki, srv.addr);
    t.tls.client_cert = Some(ClientCert {
        cert_file: pki.client_cert_file.clone(),
        key_file: pki.client_key_file.clone(),
    });
    let r = EppProbe::new(t).unwrap().probe().await;
    assert_eq!(r.outcome, RegistryOutcome::Ok, "{r:?}");

    let r = epp_probe(&pki, srv.addr).await;
    assert_eq!(r.outcome, RegistryOutcome::TlsError, "{r:?}");
}

// --------------------------------------------------------------------------------------- RDAP

fn rdap_target(pki: &TestPki, addr: SocketAddr, base: &str) -> RdapTarget {
    RdapTarget {
        address: Some(addr),
        tls: TlsSettings {
            ca_file: Some(pki.ca_file.clone()),
            client_cert: None,
        },
        ..RdapTarget::new(
            format!("https://rdap.test:{}{base}", addr.port()),
            "Example.TEST",
        )
    }
}

async fn rdap_probe(pki: &TestPki, mode: RdapMode) -> RegistryProbeResult {
    let srv = RdapServer::start(pki.ca.server_config(&["rdap.test"]), mode).await;
    RdapProbe::new(rdap_target(pki, srv.addr, "/rdap/"))
        .unwrap()
        .probe()
        .await
}

#[tokio::test]
async fn rdap_ok_with_and_without_trailing_slash() {
    let pki = TestPki::new();
    let srv = RdapServer::start(pki.ca.server_config(&["rdap.test"]), RdapMode::Ok).await;
    for base in ["/rdap", "/rdap/"] {
        let r = RdapProbe::new(rdap_target(&pki, srv.addr, base))
            .unwrap()
            .probe()
            .await;
        assert_eq!(r.outcome, RegistryOutcome::Ok, "{r:?}");
        assert_eq!(r.service, Service::Rdap);
        assert!(r.rtt.is_some());
    }
    let reqs = srv.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    for (line, accept) in reqs {
        assert_eq!(line, "GET /rdap/domain/example.test HTTP/1.1");
        assert_eq!(accept, "application/rdap+json");
    }
}

#[tokio::test]
async fn rdap_failures_by_kind() {
    let pki = TestPki::new();
    let cases = [
        (RdapMode::NotFound, RegistryOutcome::NotFound, "404"),
        (
            RdapMode::ServerError,
            RegistryOutcome::HttpStatus,
            "HTTP 500",
        ),
        (RdapMode::BadJson, RegistryOutcome::BadResponse, "not JSON"),
        (RdapMode::WrongName, RegistryOutcome::BadResponse, "ldhName"),
    ];
    for (mode, outcome, detail) in cases {
        let r = rdap_probe(&pki, mode.clone()).await;
        assert_eq!(r.outcome, outcome, "{mode:?}: {r:?}");
        assert!(r.detail.contains(detail), "{mode:?}: {}", r.detail);
        assert_eq!(r.rtt, None);
    }
}

#[tokio::test]
async fn rdap_404_is_ok_for_a_name_expected_not_to_exist() {
    let pki = TestPki::new();
    let srv = RdapServer::start(pki.ca.server_config(&["rdap.test"]), RdapMode::NotFound).await;
    let t = RdapTarget {
        expect_exists: false,
        ..rdap_target(&pki, srv.addr, "/")
    };
    let r = RdapProbe::new(t).unwrap().probe().await;
    assert_eq!(r.outcome, RegistryOutcome::Ok, "{r:?}");
}

#[tokio::test]
async fn rdap_slow_is_ok_but_degraded_and_stall_times_out() {
    let pki = TestPki::new();
    let mut tracker = RegistryHealthTracker::new(fast_slr(), &[Service::Rdap]);
    let srv = RdapServer::start(pki.ca.server_config(&["rdap.test"]), RdapMode::Slow(SLOW)).await;
    let probe = RdapProbe::new(rdap_target(&pki, srv.addr, "/rdap")).unwrap();
    let t0 = 1_750_000_000_000u64;
    for i in 0..3 {
        let r = probe.probe().await;
        assert_eq!(r.outcome, RegistryOutcome::Ok, "{r:?}");
        assert!(r.rtt.unwrap() >= SLOW);
        tracker.record(t0 + i * 20_000, &r);
    }
    let s = tracker.service(Service::Rdap, t0 + 60_000).unwrap();
    assert_eq!(s.state, ServiceState::Degraded);
    // A slow query service is not an unavailable one.
    assert!(!tracker.evaluate(t0 + 60_000).query_unavailable);

    let srv = RdapServer::start(pki.ca.server_config(&["rdap.test"]), RdapMode::Stall).await;
    let target = RdapTarget {
        timeout: SHORT_TIMEOUT,
        ..rdap_target(&pki, srv.addr, "/rdap/")
    };
    let r = RdapProbe::new(target).unwrap().probe().await;
    assert_eq!(r.outcome, RegistryOutcome::Timeout, "{r:?}");
}

#[tokio::test]
async fn rdap_refused_and_untrusted() {
    let pki = TestPki::new();
    let closed = closed_port().await;
    let r = RdapProbe::new(rdap_target(&pki, closed, "/"))
        .unwrap()
        .probe()
        .await;
    assert_eq!(r.outcome, RegistryOutcome::Refused, "{r:?}");

    let rogue = TestCa::new("someone else's CA");
    let srv = RdapServer::start(rogue.server_config(&["rdap.test"]), RdapMode::Ok).await;
    let r = RdapProbe::new(rdap_target(&pki, srv.addr, "/"))
        .unwrap()
        .probe()
        .await;
    assert_eq!(r.outcome, RegistryOutcome::TlsError, "{r:?}");
}

#[test]
fn rdap_rejects_plain_http_base() {
    let e = RdapProbe::new(RdapTarget::new("http://rdap.example/", "example.cn")).unwrap_err();
    assert!(matches!(e, RegistryError::InvalidUrl { .. }), "{e}");
}

// -------------------------------------------------------------------------------------- WHOIS

fn whois_target(addr: SocketAddr) -> WhoisTarget {
    WhoisTarget::new(addr.ip().to_string(), addr.port(), "example.test")
}

const RECORD: &[u8] =
    b"Domain Name: EXAMPLE.TEST\r\nRegistrant: Example\r\nName Server: ns1.example.test\r\n";

#[tokio::test]
async fn whois_ok_with_default_and_custom_marker() {
    let srv = WhoisServer::start(WhoisMode::Reply(RECORD.to_vec())).await;
    let r = WhoisProbe::new(whois_target(srv.addr))
        .unwrap()
        .probe()
        .await;
    assert_eq!(r.outcome, RegistryOutcome::Ok, "{r:?}");
    assert!(r.rtt.unwrap() >= r.connect_time.unwrap());
    let r = WhoisProbe::new(WhoisTarget {
        marker: Some("registrant:".into()),
        ..whois_target(srv.addr)
    })
    .unwrap()
    .probe()
    .await;
    assert_eq!(r.outcome, RegistryOutcome::Ok, "{r:?}");
    assert_eq!(
        srv.queries.lock().unwrap().first().cloned(),
        Some(b"example.test\r\n".to_vec())
    );
}

#[tokio::test]
async fn whois_missing_marker_empty_and_huge_are_bad_responses() {
    for (mode, detail) in [
        (WhoisMode::Reply(b"No match.\r\n".to_vec()), "marker"),
        (WhoisMode::Reply(Vec::new()), "empty"),
        (WhoisMode::Huge, "exceeds"),
    ] {
        let srv = WhoisServer::start(mode).await;
        let r = WhoisProbe::new(whois_target(srv.addr))
            .unwrap()
            .probe()
            .await;
        assert_eq!(r.outcome, RegistryOutcome::BadResponse, "{r:?}");
        assert!(r.detail.contains(detail), "{}", r.detail);
    }
}

#[tokio::test]
async fn whois_refused() {
    let r = WhoisProbe::new(whois_target(closed_port().await))
        .unwrap()
        .probe()
        .await;
    assert_eq!(r.outcome, RegistryOutcome::Refused, "{r:?}");
}

#[tokio::test]
async fn whois_stall_times_out() {
    let srv = WhoisServer::start(WhoisMode::Stall).await;
    let target = WhoisTarget {
        timeout: SHORT_TIMEOUT,
        ..whois_target(srv.addr)
    };
    let r = WhoisProbe::new(target).unwrap().probe().await;
    assert_eq!(r.outcome, RegistryOutcome::Timeout, "{r:?}");
    assert!(r.connect_time.is_some());
    assert!(r.detail.contains("EOF"), "{}", r.detail);
}

// ------------------------------------------------------------------------------ probe set + health

#[tokio::test]
async fn probe_set_runs_every_configured_service() {
    let pki = TestPki::new();
    let epp = EppServer::start(pki.ca.server_config(&["epp.test"]), EppFault::None, None).await;
    let rdap = RdapServer::start(pki.ca.server_config(&["rdap.test"]), RdapMode::Ok).await;
    let whois = WhoisServer::start(WhoisMode::Reply(RECORD.to_vec())).await;
    let set = RegistryProbeSet::new(RegistryTargets {
        epp: Some(epp_target(&pki, epp.addr)),
        rdap: Some(rdap_target(&pki, rdap.addr, "/rdap")),
        whois: Some(whois_target(whois.addr)),
    })
    .unwrap();
    assert_eq!(set.services(), Service::ALL.to_vec());
    let rs = set.probe_all().await;
    let got: Vec<_> = rs.iter().map(|r| (r.service, r.outcome)).collect();
    assert_eq!(
        got,
        vec![
            (Service::Epp, RegistryOutcome::Ok),
            (Service::Rdap, RegistryOutcome::Ok),
            (Service::Whois, RegistryOutcome::Ok),
        ]
    );
}

fn ok(service: Service) -> RegistryProbeResult {
    RegistryProbeResult::ok(service, Duration::from_millis(150), None)
}

fn failed(service: Service) -> RegistryProbeResult {
    RegistryProbeResult::failed(service, RegistryOutcome::Timeout, None, "no answer")
}

#[test]
fn epp_outage_of_4h_1min_is_registration_unavailable_since_the_first_failure() {
    let slr = RegistrySlr::default();
    let step = slr.max_probe_interval().as_millis() as u64; // 20 s
    let mut t = RegistryHealthTracker::new(slr, &[Service::Epp, Service::Rdap]);
    let mut now = 1_750_000_000_000u64;
    for _ in 0..30 {
        t.record(now, &ok(Service::Epp));
        t.record(now, &ok(Service::Rdap));
        now += step;
    }
    let first_failure = now;
    let end = first_failure + 4 * 60 * MIN + MIN;
    while now <= end {
        t.record(now, &failed(Service::Epp));
        t.record(now, &ok(Service::Rdap));
        let h = t.evaluate(now);
        if now >= first_failure + 2 * step {
            assert!(h.registration_unavailable, "at +{} ms", now - first_failure);
            assert_eq!(h.unavailable_since, Some(first_failure));
        }
        now += step;
    }
    let h = t.evaluate(end);
    assert!(h.registration_unavailable);
    assert!(!h.registration_degraded, "unavailable is not also degraded");
    assert!(!h.query_unavailable);
    assert_eq!(h.unavailable_since, Some(first_failure));
    assert!(end - h.unavailable_since.unwrap() > 4 * 60 * MIN);
    let input = h.input();
    assert!(input.registration_unavailable && !input.query_unavailable);

    // One success ends it.
    t.record(end + step, &ok(Service::Epp));
    let h = t.evaluate(end + step);
    assert!(!h.registration_unavailable);
    assert_eq!(h.unavailable_since, None);
}

#[test]
fn epp_partial_failures_degrade_the_registration_service() {
    let mut t = RegistryHealthTracker::new(RegistrySlr::default(), &[Service::Epp]);
    let t0 = 1_750_000_000_000u64;
    for i in 0..30u64 {
        let r = if i % 4 == 0 {
            failed(Service::Epp)
        } else {
            ok(Service::Epp)
        };
        t.record(t0 + i * 20_000, &r);
    }
    let h = t.evaluate(t0 + 29 * 20_000);
    assert!(
        h.registration_degraded && !h.registration_unavailable,
        "{h:?}"
    );
}

#[test]
fn query_service_unavailable_only_when_rdap_and_whois_are_both_down() {
    let all = [Service::Epp, Service::Rdap, Service::Whois];
    let run = |rdap_up: bool, whois_up: bool| {
        let mut t = RegistryHealthTracker::new(RegistrySlr::default(), &all);
        let t0 = 1_750_000_000_000u64;
        for i in 0..10u64 {
            let at = t0 + i * 20_000;
            t.record(at, &ok(Service::Epp));
            let r = if rdap_up { ok } else { failed };
            t.record(at, &r(Service::Rdap));
            let w = if whois_up { ok } else { failed };
            t.record(at + 1_000, &w(Service::Whois));
        }
        t.evaluate(t0 + 9 * 20_000 + 1_000)
    };
    let both_down = run(false, false);
    assert!(both_down.query_unavailable, "{both_down:?}");
    assert!(!both_down.registration_unavailable && !both_down.registration_degraded);
    // Both went down at the first probe; WHOIS's first failure came 1 s after RDAP's.
    assert_eq!(both_down.query_unavailable_since, Some(1_750_000_001_000));
    assert!(!run(true, false).query_unavailable);
    assert!(!run(false, true).query_unavailable);
    assert!(!run(true, true).query_unavailable);

    // Only RDAP configured: RDAP down is the query service down.
    let mut t = RegistryHealthTracker::new(RegistrySlr::default(), &[Service::Rdap]);
    for i in 0..3u64 {
        t.record(i * 20_000 + 1, &failed(Service::Rdap));
    }
    assert!(t.evaluate(40_001).query_unavailable);
}
