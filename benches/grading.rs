//! Cost of one evaluation tick at scale: 2,000 objects over 10,000 server addresses.
//!
//! - `grade 2000 objects (pure)`: grading::evaluate for every object, from window snapshots
//!   taken beforehand — the matrix itself.
//! - `evaluator tick (snapshots + grading + ledger)`: what the daemon does each tick: a window
//!   snapshot of every server address, grading, and the SQLite transaction of the ledger
//!   (healthy objects, so the ledger writes only the clocks).
//!
//! Run: `cargo bench --bench grading -- --warm-up-time 1 --measurement-time 5`

use criterion::{criterion_group, criterion_main, Criterion};
use dnsgrade::config::{
    Check, CheckRole, Config, DaemonConfig, Expect, Object, ObjectClass, Server, Tier, Transport,
};
use dnsgrade::evaluator::Evaluator;
use dnsgrade::grading::{evaluate, AddressInput, ObjectInput, RegistryInput, Rules, ServerInput};
use dnsgrade::incident::{ConditionClocks, IncidentStore};
use dnsgrade::probe::schedule::Target;
use dnsgrade::probe::{Outcome, Verdict};
use dnsgrade::stats::{ServerEntry, StatsStore};
use dnsgrade::stats::{ServerStats, WindowSpec};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const OBJECTS: usize = 2_000;
const SERVERS_PER_OBJECT: usize = 5;
const NOW: u64 = 1_800_000_300_000;

fn objects() -> Vec<Object> {
    (0..OBJECTS)
        .map(|i| {
            let class = if i % 2 == 0 {
                ObjectClass::Tld
            } else {
                ObjectClass::Institution
            };
            Object {
                class,
                name: format!("o{i}"),
                display_name: format!("o{i}"),
                tier: (class == ObjectClass::Institution).then_some(Tier::One),
                operator: None,
                scope: None,
                licensed_by: None,
                zone: None,
                servers: (0..SERVERS_PER_OBJECT)
                    .map(|s| Server {
                        name: format!("s{s}"),
                        host: None,
                        pinned: vec![addr(i, s)],
                        port: 53,
                    })
                    .collect(),
                checks: vec![Check {
                    qname: hickory_proto::rr::Name::root(),
                    qtype: hickory_proto::rr::RecordType::SOA,
                    expect: Expect::Answer,
                    values: vec![],
                    transport: Transport::Udp,
                    role: CheckRole::Plain,
                    recursion_desired: false,
                    authoritative: true,
                }],
                registry: None,
                reference: None,
                dnssec: None,
            }
        })
        .collect()
}

fn addr(i: usize, s: usize) -> SocketAddr {
    SocketAddr::from(([127, (i >> 8) as u8, (i & 0xff) as u8, s as u8 + 1], 53))
}

/// A full default window at 10 probes/s, 0.5% timeouts, latencies 5–200 ms.
fn filled(spec: &WindowSpec, seed: u64) -> ServerStats {
    let mut st = ServerStats::new(spec);
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for k in 0..3_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = NOW - 300_000 + k * 100;
        if x.is_multiple_of(200) {
            st.record(at, Outcome::Timeout, None, Verdict::Unchecked);
        } else {
            let ms = 5 + x % 195;
            st.record(
                at,
                Outcome::Ok,
                Some(Duration::from_millis(ms)),
                Verdict::Correct,
            );
        }
    }
    st
}

fn bench(c: &mut Criterion) {
    let rules = Rules::miit_2011();
    let objs = objects();
    let spec = WindowSpec::default();
    let mut store = StatsStore::new(spec.clone());
    let mut inputs: Vec<Vec<ServerInput>> = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        let mut servers = Vec::new();
        for (s, srv) in o.servers.iter().enumerate() {
            let stats = filled(&spec, (i * 10 + s) as u64);
            let a = AddressInput {
                label: format!("{} {}", srv.name, addr(i, s)),
                window: stats.snapshot(NOW),
                recent: stats.recent(NOW, Duration::from_secs(60)),
                key_domain_errors: 0,
            };
            servers.push(ServerInput {
                name: srv.name.clone(),
                addresses: vec![a],
            });
            let target = Arc::new(Target {
                class: o.class,
                object: o.name.clone(),
                server: srv.name.clone(),
                address: addr(i, s),
            });
            let mut entry = ServerEntry::new(&target, &spec, true);
            entry.stats = stats;
            store.servers.insert(target, entry);
        }
        inputs.push(servers);
    }
    let confirmations = HashMap::new();
    c.bench_function("grade 2000 objects over 10000 servers (pure)", |b| {
        let mut clocks = ConditionClocks::default();
        b.iter(|| {
            let mut graded = 0;
            for (o, servers) in objs.iter().zip(&inputs) {
                let input = ObjectInput {
                    object: o,
                    servers,
                    registry: RegistryInput::default(),
                };
                graded += usize::from(
                    evaluate(&input, &rules, &mut clocks, &confirmations, NOW)
                        .grade
                        .is_some(),
                );
            }
            graded
        })
    });

    let dir = tempfile::tempdir().expect("tmp");
    let config = Arc::new(Config {
        source: "bench".into(),
        daemon: daemon_config(dir.path()),
        objects: objs.clone(),
        maintenance: vec![],
        alert: Default::default(),
        contacts: vec![],
    });
    let ledger = Arc::new(IncidentStore::open(&dir.path().join("bench.sqlite3")).expect("ledger"));
    let rules_arc = Arc::new(rules.clone());
    let mut ev = Evaluator::new(config, rules_arc.clone(), ledger).expect("evaluator");
    c.bench_function("evaluator tick: 10000 snapshots + grading + ledger", |b| {
        b.iter(|| {
            let obs = dnsgrade::evaluator::Observations::take(&store, &rules_arc, NOW);
            ev.tick(&obs, NOW).expect("tick").0.objects.len()
        })
    });
}

fn daemon_config(dir: &std::path::Path) -> DaemonConfig {
    let text = format!("[daemon]\nstate_dir = \"{}\"\n", dir.display());
    dnsgrade::config::parse(std::path::Path::new("bench.toml"), &text)
        .expect("config")
        .daemon
}

criterion_group!(benches, bench);
criterion_main!(benches);
