//! The probe engine against the in-process fault-injecting server on 127.0.0.1: every outcome
//! kind, counted correctly in the window statistics. Slow replies use tokio's paused clock, so
//! a 6 s reply costs no wall time.

mod support;

use dnsgrade::clock::{Clock, ManualClock};
use dnsgrade::config::{Expect, ObjectClass, Transport};
use dnsgrade::lab::{Faults, LabServer};
use dnsgrade::probe::schedule::{probe_once, CheckId, ProbeResult, Target};
use dnsgrade::probe::{Outcome, Prober, ProberConfig, Verdict};
use dnsgrade::stats::{ServerStats, WindowSpec};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use support::{check, lab};

async fn prober() -> Prober {
    Prober::new(ProberConfig {
        udp_sockets: 2,
        timeout: Duration::from_secs(10),
        ..ProberConfig::default()
    })
    .await
    .expect("sockets")
}

fn target(addr: SocketAddr) -> Arc<Target> {
    Arc::new(Target {
        class: ObjectClass::Institution,
        object: "lab".into(),
        server: "ns1".into(),
        address: addr,
    })
}

async fn once(p: &Prober, server: &LabServer, c: &dnsgrade::config::Check) -> ProbeResult {
    let clock = ManualClock::new(1_700_000_000_000);
    probe_once(
        p,
        &clock,
        &target(server.local_addr()),
        CheckId::Configured(0),
        c,
    )
    .await
}

fn www() -> dnsgrade::config::Check {
    check(
        "www.example.cn.",
        RecordType::A,
        Expect::Answer,
        &["192.0.2.1"],
    )
}

#[tokio::test]
async fn healthy_server_is_ok_and_correct_with_latency() {
    let (p, s) = (prober().await, lab().await);
    let r = once(&p, &s, &www()).await;
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(r.verdict, Verdict::Correct);
    assert!(r.rtt.is_some_and(|d| d < Duration::from_secs(1)));
    assert_eq!(r.transport, Transport::Udp);
    s.stop().await;
}

#[tokio::test]
async fn rcodes_become_their_outcome_kinds() {
    let (p, s) = (prober().await, lab().await);
    for (rc, want) in [
        (ResponseCode::ServFail, Outcome::Servfail),
        (ResponseCode::Refused, Outcome::Refused),
        (ResponseCode::FormErr, Outcome::Formerr),
        (ResponseCode::NotImp, Outcome::OtherRcode),
    ] {
        s.set_faults(Faults {
            rcode: Some(rc),
            rcode_ratio: 1.0,
            ..Faults::default()
        });
        let r = once(&p, &s, &www()).await;
        assert_eq!(r.outcome, want, "{rc:?}");
        assert_eq!(r.rtt, None, "failures carry no latency");
    }
    s.stop().await;
}

#[tokio::test]
async fn unexpected_nxdomain_is_a_failure_without_reference_and_missing_data_with_one() {
    let (p, s) = (prober().await, lab().await);
    let no_ref = check("nope.example.cn.", RecordType::A, Expect::Answer, &[]);
    assert_eq!(once(&p, &s, &no_ref).await.outcome, Outcome::Nxdomain);
    let with_ref = check(
        "nope.example.cn.",
        RecordType::A,
        Expect::Answer,
        &["192.0.2.1"],
    );
    let r = once(&p, &s, &with_ref).await;
    assert_eq!((r.outcome, r.verdict), (Outcome::Ok, Verdict::Missing));
    let expected_negative = check("nope.example.cn.", RecordType::A, Expect::NxDomain, &[]);
    let r = once(&p, &s, &expected_negative).await;
    assert_eq!((r.outcome, r.verdict), (Outcome::Ok, Verdict::Correct));
    s.stop().await;
}

#[tokio::test]
async fn wrong_and_missing_data_are_verdicts() {
    let (p, s) = (prober().await, lab().await);
    s.set_faults(Faults {
        wrong_names: vec!["www.example.cn.".parse().expect("name")],
        ..Faults::default()
    });
    let r = once(&p, &s, &www()).await;
    assert_eq!((r.outcome, r.verdict), (Outcome::Ok, Verdict::Wrong));
    s.set_faults(Faults {
        missing_ratio: 1.0,
        ..Faults::default()
    });
    let r = once(&p, &s, &www()).await;
    assert_eq!((r.outcome, r.verdict), (Outcome::Ok, Verdict::Missing));
    s.stop().await;
}

#[tokio::test]
async fn referral_from_a_parent_is_success() {
    let (p, s) = (prober().await, lab().await);
    let c = check(
        "host.sub.example.cn.",
        RecordType::NS,
        Expect::Referral,
        &["ns1.sub.example.cn."],
    );
    let r = once(&p, &s, &c).await;
    assert_eq!((r.outcome, r.verdict), (Outcome::Ok, Verdict::Correct));
    // The same referral where an authoritative answer was expected is lame.
    let c = check("host.sub.example.cn.", RecordType::A, Expect::Answer, &[]);
    assert_eq!(once(&p, &s, &c).await.outcome, Outcome::Lame);
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stopped_server_times_out() {
    let (p, s) = (prober().await, lab().await);
    s.set_faults(Faults {
        stopped: true,
        ..Faults::default()
    });
    let r = once(&p, &s, &www()).await;
    assert_eq!(r.outcome, Outcome::Timeout);
    assert_eq!(p.in_flight(), 0);
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn slow_reply_between_5s_and_the_timeout_is_a_success_with_its_latency() {
    let (p, s) = (prober().await, lab().await);
    s.set_faults(Faults {
        delay: Duration::from_millis(6_500),
        ..Faults::default()
    });
    let r = once(&p, &s, &www()).await;
    assert_eq!(r.outcome, Outcome::Ok);
    let rtt = r.rtt.expect("latency");
    assert!(
        rtt >= Duration::from_millis(6_500) && rtt < Duration::from_millis(6_600),
        "{rtt:?}"
    );
    // Beyond the 10 s timeout it is a timeout.
    s.set_faults(Faults {
        delay: Duration::from_secs(11),
        ..Faults::default()
    });
    assert_eq!(once(&p, &s, &www()).await.outcome, Outcome::Timeout);
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn mismatched_id_is_never_a_success() {
    let (p, s) = (prober().await, lab().await);
    s.set_faults(Faults {
        mismatch_id_ratio: 1.0,
        ..Faults::default()
    });
    let r = once(&p, &s, &www()).await;
    assert_eq!(r.outcome, Outcome::Mismatch);
    assert!(
        p.counters()
            .stray_replies
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn malformed_reply_is_counted_as_malformed() {
    let (p, s) = (prober().await, lab().await);
    s.set_faults(Faults {
        malformed_ratio: 1.0,
        ..Faults::default()
    });
    let r = once(&p, &s, &www()).await;
    assert_eq!(r.outcome, Outcome::Malformed);
    s.stop().await;
}

#[tokio::test]
async fn truncated_udp_falls_back_to_tcp() {
    let (p, s) = (prober().await, lab().await);
    s.set_faults(Faults {
        truncate_udp: true,
        ..Faults::default()
    });
    let r = once(&p, &s, &www()).await;
    assert_eq!((r.outcome, r.verdict), (Outcome::Ok, Verdict::Correct));
    assert_eq!(r.transport, Transport::Tcp);
    assert!(r.tcp_fallback);
    s.stop().await;
}

#[tokio::test]
async fn tcp_to_a_closed_port_is_a_network_error() {
    let p = prober().await;
    // Bind then drop a listener to get a loopback port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let clock = ManualClock::new(0);
    let mut c = www();
    c.transport = Transport::Tcp;
    let r = probe_once(&p, &clock, &target(port), CheckId::Configured(0), &c).await;
    assert_eq!(r.outcome, Outcome::NetworkError);
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_leaves_nothing_behind() {
    let (p, s) = (prober().await, lab().await);
    s.set_faults(Faults {
        stopped: true,
        ..Faults::default()
    });
    let c = www();
    let t = target(s.local_addr());
    let clock = ManualClock::new(0);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..2_000 {
        let (p, c, t, clock) = (p.clone(), c.clone(), t.clone(), clock.clone());
        set.spawn(async move {
            probe_once(&p, &clock, &t, CheckId::Configured(0), &c)
                .await
                .outcome
        });
    }
    let mut timeouts = 0;
    while let Some(o) = set.join_next().await {
        timeouts += usize::from(o.expect("task") == Outcome::Timeout);
    }
    assert_eq!(timeouts, 2_000);
    assert_eq!(p.in_flight(), 0, "every probe released its slot");
    s.stop().await;
}

#[tokio::test(start_paused = true)]
async fn every_outcome_kind_is_counted_in_the_window() {
    let (p, s) = (prober().await, lab().await);
    let clock = ManualClock::new(1_700_000_000_000);
    let t = target(s.local_addr());
    let mut stats = ServerStats::new(&WindowSpec::default());
    let plan: Vec<(Faults, dnsgrade::config::Check, usize)> = vec![
        (Faults::default(), www(), 5),
        (
            Faults {
                stopped: true,
                ..Faults::default()
            },
            www(),
            2,
        ),
        (
            Faults {
                rcode: Some(ResponseCode::ServFail),
                rcode_ratio: 1.0,
                ..Faults::default()
            },
            www(),
            3,
        ),
        (
            Faults {
                rcode: Some(ResponseCode::Refused),
                rcode_ratio: 1.0,
                ..Faults::default()
            },
            www(),
            1,
        ),
        (
            Faults::default(),
            check("nope.example.cn.", RecordType::A, Expect::Answer, &[]),
            2,
        ),
        (
            Faults {
                rcode: Some(ResponseCode::FormErr),
                rcode_ratio: 1.0,
                ..Faults::default()
            },
            www(),
            1,
        ),
        (
            Faults {
                rcode: Some(ResponseCode::NotImp),
                rcode_ratio: 1.0,
                ..Faults::default()
            },
            www(),
            1,
        ),
        (
            Faults::default(),
            check("x.sub.example.cn.", RecordType::A, Expect::Answer, &[]),
            1,
        ),
        (
            Faults {
                malformed_ratio: 1.0,
                ..Faults::default()
            },
            www(),
            2,
        ),
        (
            Faults {
                mismatch_id_ratio: 1.0,
                ..Faults::default()
            },
            www(),
            3,
        ),
        (
            Faults {
                delay: Duration::from_secs(7),
                ..Faults::default()
            },
            www(),
            2,
        ),
    ];
    for (faults, c, n) in plan {
        s.set_faults(faults);
        for _ in 0..n {
            let r = probe_once(&p, &clock, &t, CheckId::Configured(0), &c).await;
            stats.record(r.sent_at, r.outcome, r.rtt, r.verdict);
            clock.advance_ms(100);
        }
    }
    let snap = stats.snapshot(clock.now_ms());
    let count = |o: Outcome| snap.outcomes[o.index()];
    assert_eq!(count(Outcome::Ok), 7, "5 fast + 2 slow successes");
    assert_eq!(count(Outcome::Timeout), 2);
    assert_eq!(count(Outcome::Servfail), 3);
    assert_eq!(count(Outcome::Refused), 1);
    assert_eq!(count(Outcome::Nxdomain), 2);
    assert_eq!(count(Outcome::Formerr), 1);
    assert_eq!(count(Outcome::OtherRcode), 1);
    assert_eq!(count(Outcome::Lame), 1);
    assert_eq!(count(Outcome::Malformed), 2);
    assert_eq!(count(Outcome::Mismatch), 3);
    assert_eq!(snap.samples, 23);
    assert_eq!(snap.success.num, 7);
    // The two 7 s successes are exactly the replies over 5 s.
    let slow = snap
        .slow
        .iter()
        .find(|s| s.threshold == Duration::from_secs(5))
        .expect("5 s tracked");
    assert_eq!((slow.over, slow.of), (2, 7));
    assert_eq!(snap.checked, 7);
    assert_eq!(snap.data_error.num, 0);
    s.stop().await;
}

#[tokio::test]
async fn expected_negative_names_are_correct_when_absent_and_wrong_when_answered() {
    let (p, s) = (prober().await, lab().await);
    let mut c = check("example.cn.", RecordType::A, Expect::NxDomain, &[]);
    c.role = dnsgrade::config::CheckRole::ExpectedNegative;
    let r = once(&p, &s, &c).await;
    assert_eq!((r.outcome, r.verdict), (Outcome::Ok, Verdict::Correct));
    // A node with a wildcard (here: the apex itself asked as if it were random) answering data
    // for a name that must not exist is wrong data.
    c.role = dnsgrade::config::CheckRole::Plain;
    c.qname = "www.example.cn.".parse().expect("name");
    let r = once(&p, &s, &c).await;
    assert_eq!((r.outcome, r.verdict), (Outcome::Ok, Verdict::Wrong));
    s.stop().await;
}
