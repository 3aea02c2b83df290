//! The monitor's own faults are never the server's (docs/matrix.md, "Monitor health"): with
//! the process out of file descriptors, a TCP probe of a healthy server ends `local_error`,
//! not `network_error`; it is counted and left out of every ratio, and while it touches more
//! than a tenth of the probed addresses grading is suspended, so even servers that really go
//! dark meanwhile open nothing until the monitor can probe again — and then they do.
//!
//! The descriptor limit is lowered in this test process (RLIMIT_NOFILE to the number of
//! descriptors already open), so this file holds one test per concern and runs them one at a
//! time under a lock. Time is simulated (paused tokio clock); all sockets are on loopback.

mod support;

use dnsgrade::clock::{Clock, TokioClock};
use dnsgrade::config::Transport;
use dnsgrade::daemon::Daemon;
use dnsgrade::evaluator::Board;
use dnsgrade::grading::Rules;
use dnsgrade::lab::{Faults, LabServer, Zone};
use dnsgrade::probe::{Outcome, Prober, ProberConfig, Question};
use hickory_proto::rr::{Name, RecordType};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const T0: u64 = 1_800_000_000_000;

/// One lowered limit at a time: the limit is the process's.
static LIMIT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Lowers the soft descriptor limit to the descriptors open now (none can be opened) until
/// dropped.
struct NoFreeDescriptors(libc::rlimit);

impl NoFreeDescriptors {
    fn now() -> Self {
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain syscalls on a valid struct.
        unsafe {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
        }
        // A new descriptor takes the lowest free number: with the limit at that number, none
        // can be opened, and the ones in use stay valid.
        // SAFETY: dup of stdin and close of the fresh copy.
        let lowest_free = unsafe {
            let fd = libc::dup(0);
            assert!(fd >= 0);
            libc::close(fd);
            fd as u64
        };
        let lowered = libc::rlimit {
            rlim_cur: lowest_free,
            rlim_max: old.rlim_max,
        };
        // SAFETY: as above.
        unsafe {
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lowered), 0);
        }
        Self(old)
    }
}

impl Drop for NoFreeDescriptors {
    fn drop(&mut self) {
        // SAFETY: as above; restoring the limit read before.
        unsafe {
            libc::setrlimit(libc::RLIMIT_NOFILE, &self.0);
        }
    }
}

fn zone(origin: &str) -> Zone {
    let text = format!(
        "$ORIGIN {origin}.\n$TTL 3600\n@ IN SOA a.dns.{origin}. h.{origin}. 1 7200 3600 2419200 300\n@ IN NS a.dns.{origin}.\na.dns IN A 127.0.0.1\n"
    );
    Zone::parse(&format!("{origin}."), &text).expect("zone")
}

async fn lab(origin: &str) -> LabServer {
    LabServer::start("127.0.0.1:0".parse().expect("addr"), vec![zone(origin)])
        .await
        .expect("lab server")
}

#[tokio::test(flavor = "current_thread")]
async fn a_connect_without_descriptors_is_a_local_error_never_the_servers() {
    let _one = LIMIT.lock().await;
    let server = lab("cn").await;
    let prober = Prober::new(ProberConfig {
        timeout: Duration::from_secs(2),
        ..ProberConfig::default()
    })
    .await
    .expect("prober");
    let q = Question {
        qname: Name::from_ascii("cn.").expect("name"),
        qtype: RecordType::SOA,
        recursion_desired: false,
        dnssec_ok: false,
    };
    let ok = prober.probe(server.local_addr(), &q, Transport::Tcp).await;
    assert!(
        ok.message().is_some(),
        "healthy over TCP: {:?}",
        ok.failure()
    );
    let failed = {
        let _lowered = NoFreeDescriptors::now();
        prober.probe(server.local_addr(), &q, Transport::Tcp).await
    };
    assert_eq!(failed.failure(), Some(Outcome::LocalError));
    assert_eq!(prober.counters().local_errors.load(Ordering::Relaxed), 1);
    // UDP goes through the sockets bound at start: still measured.
    let udp = {
        let _lowered = NoFreeDescriptors::now();
        prober.probe(server.local_addr(), &q, Transport::Udp).await
    };
    assert!(
        udp.message().is_some(),
        "UDP still works: {:?}",
        udp.failure()
    );
    let again = prober.probe(server.local_addr(), &q, Transport::Tcp).await;
    assert!(again.message().is_some(), "{:?}", again.failure());
    server.stop().await;
}

/// Lets simulated time run to `at` (ms since T0), calling `each` with every new board.
async fn run_until(d: &Daemon, clock: &TokioClock, at: u64, each: impl FnMut(&Board)) {
    support::run_until(d, clock, T0 + at, each).await;
}

fn incidents(d: &Daemon) -> usize {
    d.shared
        .incidents
        .list(&dnsgrade::incident::ListFilter {
            state: dnsgrade::incident::StateFilter::All,
            include_false_positive: true,
            ..dnsgrade::incident::ListFilter::default()
        })
        .expect("list")
        .len()
}

#[tokio::test(start_paused = true)]
async fn out_of_descriptors_suspends_grading_and_opens_nothing_then_grading_resumes() {
    let _one = LIMIT.lock().await;
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(lab("cn").await);
    }
    let control = lab("control.test").await;
    let dir = tempfile::tempdir().expect("tmp");
    let node_list: String = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "  [[tld.node]]\n  name = \"n{i}\"\n  addresses = [\"{}\"]\n",
                n.local_addr()
            )
        })
        .collect();
    let text = format!(
        "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{}\"\n\n\
         [[tld]]\nname = \"cn\"\n{node_list}\
           [[tld.check]]\n  name = \"cn\"\n  type = \"SOA\"\n\
           [[tld.check]]\n  name = \"cn\"\n  type = \"NS\"\n  tcp = true\n\n\
         [[control]]\nname = \"controls\"\n  [[control.server]]\n  name = \"c\"\n  addresses = [\"{}\"]\n\
           [[control.check]]\n  name = \"control.test\"\n  type = \"SOA\"\n",
        dir.path().join("state").display(),
        control.local_addr()
    );
    let config = dnsgrade::config::parse(&dir.path().join("probes.toml"), &text).expect("config");
    let clock = TokioClock::new(T0);
    let d = Daemon::start(config, Rules::miit_2011(), Arc::new(clock))
        .await
        .expect("daemon");
    run_until(&d, &clock, 120_000, |b| assert!(!b.local_fault)).await;
    let local_before = d
        .shared
        .prober
        .counters()
        .local_errors
        .load(Ordering::Relaxed);
    assert_eq!(local_before, 0);
    // This host runs out of descriptors (something else took them) and, at the same time,
    // the nodes go dark: the UDP probes, on sockets bound at start, see them fail, but what
    // this host measures cannot be trusted while it cannot make its own probes.
    let lowered = NoFreeDescriptors::now();
    for n in &nodes {
        n.set_faults(Faults {
            stopped: true,
            ..Faults::default()
        });
    }
    let fault_at = clock.now_ms() - T0;
    let mut suspended = 0;
    run_until(&d, &clock, fault_at + 300_000, |b| {
        if b.local_fault {
            suspended += 1;
            assert!(b.local_fault_addresses * 10 > b.probed_addresses);
            assert_eq!(d.shared.metrics.monitor_local_fault.get(), 1);
        }
    })
    .await;
    assert!(suspended > 10, "suspended on {suspended} ticks");
    assert!(support::board(&d).local_fault, "still out of descriptors");
    assert!(
        d.shared
            .prober
            .counters()
            .local_errors
            .load(Ordering::Relaxed)
            > 0
    );
    assert_eq!(
        incidents(&d),
        0,
        "nothing opens while the monitor cannot probe"
    );
    drop(lowered);
    // The monitor can probe again; the nodes are still dark: now it is graded.
    let healed_at = clock.now_ms() - T0;
    run_until(&d, &clock, healed_at + 180_000, |_| {}).await;
    let b = support::board(&d);
    assert!(!b.local_fault, "the fault is over");
    assert_eq!(d.shared.metrics.monitor_local_fault.get(), 0);
    assert!(
        incidents(&d) > 0,
        "the dark TLD is graded once the monitor can probe"
    );
    d.stop().await;
    for n in nodes {
        n.stop().await;
    }
    control.stop().await;
}
