//! The shipped Prometheus rules: valid (`promtool check rules`), their unit tests pass
//! (`promtool test rules`), and a real Prometheus (Debian's package, started by
//! scripts/prometheus-lab.sh on 127.0.0.1, stopped by its PID) scrapes a running dnsgrade and
//! raises the grade alert that dnsgrade's own grading implies, and every query of the Grafana
//! dashboard returns data from it while the incident is open.

mod support;

mod registry_support;

use dnsgrade::lab::{Faults, LabServer, Zone};
use registry_support::{closed_port, RdapMode, RdapServer, TestPki, WhoisMode, WhoisServer};
use std::process::Command;
use std::time::Duration;
use support::{get_json, level, wait_object, DaemonProc, SimClock};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    let out = Command::new("promtool")
        .args(["check", "rules", "rules/prometheus/dnsgrade.yml"])
        .current_dir(ROOT)
        .output()
        .expect("promtool is installed (scripts/test.sh installs Debian's prometheus)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("promtool")
        .args(["test", "rules", "dnsgrade_test.yml"])
        .current_dir(format!("{ROOT}/tests/prometheus"))
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The example Alertmanager configuration is valid and pages on one source only: dnsgrade's own
/// alerts of levels I–III page, the rule alerts that duplicate them do not, the rule alert
/// nothing duplicates (DnsgradeDown) does, drills never do (docs/alerting.md).
#[test]
fn amtool_accepts_the_alertmanager_example_and_its_routes_page_one_source() {
    let config = format!("{ROOT}/rules/alertmanager-example.yml");
    let out = match Command::new("amtool")
        .args(["check-config", &config])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!(
                "amtool is not installed ({e}); scripts/test.sh installs prometheus-alertmanager"
            );
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cases: [(&str, &[&str]); 8] = [
        (
            "noc-pager",
            &[
                "source=dnsgrade",
                "alertname=DnsgradeIncident",
                "grade=I",
                "drill=false",
            ],
        ),
        (
            "noc-pager",
            &[
                "source=dnsgrade",
                "alertname=DnsgradeIncident",
                "grade=III",
                "drill=false",
            ],
        ),
        (
            "noc-tickets",
            &[
                "source=dnsgrade",
                "alertname=DnsgradeIncident",
                "grade=IV",
                "drill=false",
            ],
        ),
        (
            "noc-pager",
            &[
                "source=dnsgrade",
                "alertname=DnsgradeMonitorIsolated",
                "drill=false",
            ],
        ),
        (
            "noc-drills",
            &[
                "source=dnsgrade",
                "alertname=DnsgradeIncident",
                "grade=I",
                "drill=true",
            ],
        ),
        (
            "noc-tickets",
            &[
                "source=prometheus-rules",
                "alertname=DnsgradeLevelI",
                "severity=critical",
                "grade=I",
            ],
        ),
        (
            "noc-tickets",
            &[
                "source=prometheus-rules",
                "alertname=DnsgradeVantageIsolated",
                "severity=critical",
            ],
        ),
        (
            "noc-pager",
            &[
                "source=prometheus-rules",
                "alertname=DnsgradeDown",
                "severity=critical",
            ],
        ),
    ];
    for (receiver, labels) in cases {
        let out = Command::new("amtool")
            .args(["config", "routes", "test", "--config.file", &config])
            .arg(format!("--verify.receivers={receiver}"))
            .args(labels)
            .output()
            .expect("amtool");
        assert!(
            out.status.success(),
            "{labels:?} should reach {receiver}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&config).expect("example");
    assert!(
        text.contains("equal: [class, object]"),
        "a rule grade alert is muted while dnsgrade's own alert for the object is active"
    );
}

/// The Prometheus process, killed by its PID when dropped.
struct Prom(i32);

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

/// The lab a real Prometheus scrapes: two .cn nodes (the second also the AXFR primary of the
/// reference), RDAP and WHOIS servers and a closed EPP port (the registry), a resolver, and a
/// webhook sink on a closed port (so the outbox has depth and failures).
struct Lab {
    nodes: [LabServer; 2],
    resolver: LabServer,
    _rdap: RdapServer,
    _whois: WhoisServer,
    _pki: TestPki,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Lab {
    async fn start() -> Lab {
        let addr = "127.0.0.1:0".parse().expect("addr");
        let node = || LabServer::start(addr, vec![Zone::synthetic_tld("cn.", 5)]);
        let nodes = [node().await.expect("lab"), node().await.expect("lab")];
        let zone = Zone::parse("example.cn.", support::ZONE).expect("zone");
        let resolver = LabServer::start(addr, vec![zone]).await.expect("lab");
        let pki = TestPki::new();
        let rdap = RdapServer::start(pki.ca.server_config(&["127.0.0.1"]), RdapMode::Ok).await;
        let whois =
            WhoisServer::start(WhoisMode::Reply(b"Domain Name: EXAMPLE.TEST\r\n".to_vec())).await;
        let closed = closed_port().await;
        let dir = tempfile::tempdir().expect("tmp");
        let config = dir.path().join("probes.toml");
        let text = format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{state}\"\ninterval = \"100ms\"\ntick = \"1s\"\n\n\
             [[alert.webhook]]\nname = \"noc\"\nurl = \"http://{closed}/hook\"\n\n\
             [[tld]]\nname = \"cn\"\n\
             \x20 [tld.reference]\n  axfr = \"{b}\"\n  refresh = \"1s\"\n  sample_rate = 20\n\
             \x20 [tld.registry]\n  epp = \"{closed}\"\n  rdap = \"https://127.0.0.1:{rdap}/rdap/\"\n  whois = \"{whois}\"\n\
             \x20 lookup_domain = \"example.test\"\n  ca_file = \"{ca}\"\n\
             \x20 [[tld.node]]\n  name = \"a\"\n  addresses = [\"{a}\"]\n  [[tld.node]]\n  name = \"b\"\n  addresses = [\"{b}\"]\n\n\
             [[recursive]]\noperator = \"Lab operator\"\nname = \"gd-resolvers\"\nscope = \"province\"\nprovince = \"广东\"\n\
             cached_names = [\"www.example.cn\"]\ncanary_zone = \"canary.example.cn\"\n\
             \x20 [[recursive.server]]\n  name = \"r0\"\n  addresses = [\"{r}\"]\n",
            state = dir.path().join("state").display(),
            a = nodes[0].local_addr(),
            b = nodes[1].local_addr(),
            r = resolver.local_addr(),
            rdap = rdap.addr.port(),
            whois = whois.addr,
            ca = pki.ca_file.display(),
        );
        std::fs::write(&config, text).expect("write");
        dnsgrade::config::load(&config).unwrap_or_else(|e| panic!("test config invalid: {e}"));
        Lab {
            nodes,
            resolver,
            _rdap: rdap,
            _whois: whois,
            _pki: pki,
            dir,
            config,
        }
    }

    async fn stop(self) {
        for n in self.nodes {
            n.stop().await;
        }
        self.resolver.stop().await;
    }
}

/// Starts the lab Prometheus (scripts/prometheus-lab.sh) on a free port scraping `daemon`
/// every second, with the rules' `for:` shortened to 2 s; waits until it has scraped.
async fn start_prometheus(
    dir: &std::path::Path,
    daemon: std::net::SocketAddr,
) -> (Prom, std::net::SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let out = Command::new("bash")
        .arg(format!("{ROOT}/scripts/prometheus-lab.sh"))
        .arg(dir.join("prom"))
        .arg(port.to_string())
        .arg(daemon.to_string())
        .arg("2s")
        .output()
        .expect("start prometheus");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prom = Prom(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("pid"),
    );
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if support::http_get(addr, "/-/ready").await.0 != 200 {
            continue;
        }
        let q = get_json(
            addr,
            "/api/v1/query?query=up%7Bjob%3D%22dnsgrade%22%7D%3D%3D1",
        )
        .await;
        if q["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            return (prom, addr);
        }
    }
    panic!(
        "Prometheus never scraped dnsgrade: {}",
        std::fs::read_to_string(dir.join("prom/prometheus.log")).unwrap_or_default()
    );
}

/// Waits for Prometheus to fire `alertname` for `object`.
async fn wait_firing(
    prom: std::net::SocketAddr,
    dir: &std::path::Path,
    alertname: &str,
    object: &str,
) {
    let mut alerts = serde_json::Value::Null;
    for _ in 0..120 {
        alerts = get_json(prom, "/api/v1/alerts").await;
        if alerts["data"]["alerts"].as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x["labels"]["alertname"] == alertname
                    && x["labels"]["object"] == object
                    && x["state"] == "firing"
            })
        }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "Prometheus fires {alertname} for {object}: {alerts:#}\n{}",
        std::fs::read_to_string(dir.join("prom/prometheus.log")).unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_dnsgrade_fires_the_grade_alert_and_every_dashboard_query_has_data(
) {
    let lab = Lab::start().await;
    let clock = SimClock::new(lab.dir.path(), 1_800_000_000_000);
    let d = DaemonProc::start(&lab.config, Some(&clock.path), None);
    wait_object(d.http, "tld/cn", clock.now.get(), "samples", |o| {
        o["assessment"]["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().all(|s| s["samples"].as_u64().unwrap_or(0) >= 30))
    })
    .await;
    // Prometheus scrapes before the incident, so counters (incident events) are seen moving.
    let (_prom, prom) = start_prometheus(lab.dir.path(), d.http).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Faults first, then the clock: a reply served before the fault must carry the old time,
    // or, with time frozen, it would count as a recent success for ever.
    lab.nodes[0].set_faults(Faults {
        rcode: Some(hickory_proto::op::ResponseCode::Refused),
        rcode_ratio: 1.0,
        ..Faults::default()
    });
    clock.advance(301_000);
    wait_object(d.http, "tld/cn", clock.now.get(), "level II", |o| {
        level(o).as_deref() == Some("II")
    })
    .await;
    wait_firing(prom, lab.dir.path(), "DnsgradeLevelII", "cn").await;
    let q = get_json(prom, "/api/v1/query?query=dnsgrade_probes_total").await;
    assert!(
        q["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{q:#}"
    );

    let metrics = support::http_get(d.http, "/metrics").await.1;
    dashboard_honours_the_variables(&metrics);
    every_dashboard_query_has_data(prom).await;
    drop(d);
    lab.stop().await;
}

/// Dashboard expressions whose metric cannot have data in the lab, with the reason.
const NO_DATA_IN_THE_LAB: [(&str, &str); 1] = [(
    "dnsgrade_dnssec_signature_expiry_seconds",
    "the lab's DNS servers do not sign their zones; tests/dnssec.rs checks this metric against a signed NSD",
)];

/// Every target of every panel, every annotation query and every template variable's
/// `label_values`, with the variables as the dashboard fills them: (where, PromQL).
fn dashboard_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(format!("{ROOT}/dashboards/dnsgrade-overview.json"))
        .expect("dashboard");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let mut out = Vec::new();
    for p in panels(&dash) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let e = t["expr"].as_str().expect("expr");
            out.push((
                format!(
                    "panel \"{}\" {}",
                    p["title"].as_str().unwrap_or_default(),
                    t["refId"].as_str().unwrap_or_default()
                ),
                e.to_string(),
            ));
        }
    }
    for a in dash["annotations"]["list"].as_array().expect("annotations") {
        if let Some(e) = a["expr"].as_str() {
            out.push((
                format!("annotation \"{}\"", a["name"].as_str().unwrap_or_default()),
                e.to_string(),
            ));
        }
    }
    for v in dash["templating"]["list"].as_array().expect("variables") {
        let Some(q) = v["query"]["query"].as_str() else {
            continue;
        };
        // label_values(selector, label) is Grafana's; count by (label) (selector) asks the same.
        let inner = q
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .expect(q);
        let (sel, label) = inner.rsplit_once(',').expect(q);
        out.push((
            format!("variable {}", v["name"]),
            format!("count by ({}) ({sel})", label.trim()),
        ));
    }
    out
}

/// Every panel, rows' nested panels included.
fn panels(dash: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

/// The expression as Grafana sends it: every variable All (`.*`), intervals of a minute.
fn substituted(e: &str) -> String {
    ["$instance", "$class", "$object", "$server"]
        .iter()
        .fold(e.to_string(), |e, v| e.replace(v, ".*"))
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "5m")
}

async fn every_dashboard_query_has_data(prom: std::net::SocketAddr) {
    let queries = dashboard_queries();
    assert!(queries.len() >= 25, "{queries:?}");
    let mut missing = Vec::new();
    for (at, e) in &queries {
        if let Some((_, why)) = NO_DATA_IN_THE_LAB.iter().find(|(m, _)| e.contains(m)) {
            eprintln!("{at}: not expected to have data in the lab: {why}");
            continue;
        }
        let q = substituted(e);
        let path = format!("/api/v1/query?query={}", urlencode(&q));
        let mut last = serde_json::Value::Null;
        // rate() and increase() need two scrapes in their window: give them a few seconds.
        for _ in 0..20 {
            last = get_json(prom, &path).await;
            if last["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(last["status"], "success", "{at}: {q}: {last:#}");
        if last["data"]["result"]
            .as_array()
            .is_none_or(|r| r.is_empty())
        {
            missing.push(format!("{at}: {q}"));
        }
    }
    assert!(
        missing.is_empty(),
        "queries without data:\n{}",
        missing.join("\n")
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Each `dnsgrade_*{…}` selector of an expression: (metric name, matchers).
fn selectors(e: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = e;
    while let Some(i) = rest.find("dnsgrade_") {
        let tail = &rest[i..];
        let n = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = tail[..n].to_string();
        let after = &tail[n..];
        let body = match after.strip_prefix('{') {
            Some(b) => b[..b.find('}').expect("closing brace")].to_string(),
            None => String::new(),
        };
        out.push((name, body));
        rest = &tail[n..];
    }
    out
}

/// Every selector of the dashboard filters on `instance`, and on `class`, `object` and
/// `server` wherever its metric has that label (as dnsgrade exports it in `metrics`).
fn dashboard_honours_the_variables(metrics: &str) {
    let mut labels: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    for line in metrics.lines().filter(|l| l.starts_with("dnsgrade_")) {
        let (name, rest) = match line.split_once('{') {
            Some((name, rest)) => (name, rest),
            None => (line.split(' ').next().unwrap_or_default(), ""),
        };
        let set = labels.entry(name.to_string()).or_default();
        for pair in rest.split(',') {
            if let Some((k, _)) = pair.split_once('=') {
                set.insert(k.to_string());
            }
        }
    }
    labels.insert(
        "dnsgrade_dnssec_signature_expiry_seconds".into(),
        ["class", "object", "server"].map(String::from).into(),
    );
    // The variables filter on the ones before them only (instance → class → object → server).
    for (at, e) in dashboard_queries()
        .into_iter()
        .filter(|(at, _)| !at.starts_with("variable"))
    {
        for (name, body) in selectors(&e) {
            let have = labels
                .get(&name)
                .unwrap_or_else(|| panic!("{at}: {name} is not in the lab's /metrics"));
            let need = std::iter::once("instance").chain(
                ["class", "object", "server"]
                    .into_iter()
                    .filter(|l| have.contains(*l)),
            );
            for l in need {
                assert!(
                    body.contains(&format!("{l}=~\"${l}\"")),
                    "{at}: {name}{{{body}}} ignores ${l}"
                );
            }
        }
    }
}

#[test]
fn the_dashboard_queries_only_metrics_dnsgrade_exports() {
    let exported: Vec<String> = dnsgrade::metrics::ALL_NAMES
        .iter()
        .map(|n| n.to_string())
        .collect();
    let queries = dashboard_queries();
    for (at, e) in &queries {
        let names: Vec<(String, String)> = selectors(e);
        assert!(!names.is_empty(), "{at}: {e}");
        for (n, _) in names {
            let n = n.trim_end_matches("_bucket");
            assert!(
                exported.iter().any(|x| x == n),
                "{n} in {at} is not exported"
            );
        }
    }
    assert!(queries.len() >= 25);
}

/// The dashboard's shape: instance, class, object and server variables; Grafana's rate
/// interval instead of fixed ranges; a row repeated per object; point and lower bound with
/// their own legends; the grade stat maps 1…4 to the grade names; the panels the NOC asked for;
/// incident annotations; a link to the status page.
#[test]
fn the_dashboard_has_variables_mappings_annotations_and_the_panels_asked_for() {
    let text = std::fs::read_to_string(format!("{ROOT}/dashboards/dnsgrade-overview.json"))
        .expect("dashboard");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let vars: Vec<&str> = dash["templating"]["list"]
        .as_array()
        .expect("variables")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    for v in ["instance", "class", "object", "server"] {
        assert!(vars.contains(&v), "variable {v}: {vars:?}");
    }
    let queries = dashboard_queries();
    for (at, e) in &queries {
        let fixed = e
            .split('[')
            .skip(1)
            .any(|r| r.starts_with(|c: char| c.is_ascii_digit()));
        assert!(
            !fixed,
            "{at} uses a fixed range instead of $__rate_interval: {e}"
        );
    }
    let all = panels(&dash);
    assert!(
        all.iter()
            .any(|p| p["type"] == "row" && p["repeat"] == "object"),
        "a row repeated per object"
    );
    for p in &all {
        let legends: Vec<&str> = p["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["legendFormat"].as_str())
            .collect();
        let mut unique = legends.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            legends.len(),
            "panel {} has two targets with one legend",
            p["title"]
        );
    }
    let ratio = all
        .iter()
        .find(|p| {
            p["title"]
                .as_str()
                .is_some_and(|t| t.contains("Success ratio"))
        })
        .expect("success ratio panel");
    let legends = ratio["targets"].to_string();
    assert!(
        legends.contains("point") && legends.contains("lower bound"),
        "{legends}"
    );
    let grade = all
        .iter()
        .find(|p| p["type"] == "stat" && p["targets"].to_string().contains("dnsgrade_object_grade"))
        .expect("a grade stat");
    let mappings = grade["fieldConfig"]["defaults"]["mappings"][0]["options"].clone();
    for (v, name) in [
        ("1", "一般 IV"),
        ("2", "较大 III"),
        ("3", "重大 II"),
        ("4", "特别重大 I"),
    ] {
        assert_eq!(mappings[v]["text"], name, "grade {v}: {mappings:#}");
    }
    let exprs: String = queries.iter().map(|(_, e)| e.as_str()).collect();
    for m in [
        "dnsgrade_soa_serial_lag",
        "dnsgrade_dnssec_signature_expiry_seconds",
        "dnsgrade_outbox_depth",
        "dnsgrade_outbox_delivery_failures_total",
        "dnsgrade_registry_service_state",
        "dnsgrade_reference_serial",
        "dnsgrade_probe_duration_seconds_bucket",
    ] {
        assert!(exprs.contains(m), "a panel shows {m}");
    }
    let annotations = dash["annotations"]["list"].to_string();
    assert!(
        annotations.contains("dnsgrade_incident_events_total"),
        "{annotations}"
    );
    let links = dash["links"].to_string();
    assert!(
        links.contains("http://${instance}/"),
        "a link to the status page: {links}"
    );
}
