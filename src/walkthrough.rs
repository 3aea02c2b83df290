//! `dnsgrade lab`: an offline walkthrough of the matrix. It starts an in-process topology on
//! 127.0.0.1 — five `.cn` TLD nodes, a provincial resolver system (广东) and two control
//! targets, all [`LabServer`]s — runs the real daemon on it with a simulated clock, and plays
//! a script of faults, printing what the monitor grades after each step: III, II and I as TLD
//! nodes stop, the incident resolving after recovery, a provincial resolver outage at IV with
//! its escalation time and then III after an hour, and finally the vantage point cut off
//! (monitor.isolated, no page). Nothing leaves the machine; the state lives in a temporary
//! directory that is removed at the end.
//!
//! Time: the daemon's probes and ticks run in real time (100 ms interval, 1 s tick), while the
//! grading clock is a [`ManualClock`] that the script moves by minutes or hours, so the whole
//! walkthrough takes well under a minute.

use crate::clock::{Clock, ManualClock, SystemClock, UnixMillis};
use crate::daemon::Daemon;
use crate::evaluator::{status_key, Board, ObjectStatus};
use crate::grading::Rules;
use crate::incident::{rfc3339, ListFilter, StateFilter};
use crate::lab::{Faults, LabServer, Zone};
use hickory_proto::op::ResponseCode;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const MIN: u64 = 60_000;

/// How long to wait for the daemon to show one step before giving up.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The zone behind the resolver: what its cached names resolve to.
const RESOLVER_ZONE: &str = "$TTL 300\n@ SOA ns1 hostmaster 2026112201 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\nwww A 192.0.2.1\n";

/// Why the walkthrough stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WalkthroughError {
    /// A lab server or the daemon could not start.
    #[error("cannot start the lab: {0}")]
    Start(String),
    /// The daemon did not reach the expected state in time.
    #[error("the monitor did not show {0} within {STEP_TIMEOUT:?}")]
    Step(String),
    /// Writing the report failed.
    #[error("cannot write the report: {0}")]
    Output(#[from] std::io::Error),
}

fn refusing() -> Faults {
    Faults {
        rcode: Some(ResponseCode::Refused),
        rcode_ratio: 1.0,
        ..Faults::default()
    }
}

/// The lab's servers and the daemon watching them.
struct Lab {
    nodes: Vec<LabServer>,
    resolver: LabServer,
    controls: Vec<LabServer>,
    daemon: Daemon,
    clock: ManualClock,
    t0: UnixMillis,
    state_dir: PathBuf,
}

impl Lab {
    async fn start() -> Result<Lab, WalkthroughError> {
        let bind = "127.0.0.1:0".parse().expect("loopback address");
        let start_err = |e: std::io::Error| WalkthroughError::Start(e.to_string());
        let mut nodes = Vec::new();
        for _ in 0..5 {
            nodes.push(
                LabServer::start(bind, vec![Zone::synthetic_tld("cn.", 50)])
                    .await
                    .map_err(start_err)?,
            );
        }
        let zone = Zone::parse("example.cn.", RESOLVER_ZONE)
            .map_err(|e| WalkthroughError::Start(e.to_string()))?;
        let resolver = LabServer::start(bind, vec![zone])
            .await
            .map_err(start_err)?;
        let mut controls = Vec::new();
        for _ in 0..2 {
            controls.push(
                LabServer::start(bind, vec![Zone::synthetic_tld("control.test.", 1)])
                    .await
                    .map_err(start_err)?,
            );
        }
        let t0 = SystemClock.now_ms();
        let state_dir =
            std::env::temp_dir().join(format!("dnsgrade-lab-{}-{t0}", std::process::id()));
        let list = |table: &str, servers: &[&LabServer]| -> String {
            servers
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    format!(
                        "  [[{table}]]\n  name = \"n{i}\"\n  addresses = [\"{}\"]\n",
                        s.local_addr()
                    )
                })
                .collect()
        };
        let text = format!(
            "[daemon]\nlisten = \"127.0.0.1:0\"\nstate_dir = \"{state}\"\ninterval = \"100ms\"\ntick = \"1s\"\n\
             global_rate = 2000\nper_server_rate = 200\n\n\
             [[tld]]\nname = \"cn\"\n{nodes}\n\
             [[recursive]]\noperator = \"Lab operator\"\nname = \"gd-resolvers\"\nscope = \"province\"\nprovince = \"广东\"\n\
             cached_names = [\"www.example.cn\"]\ncanary_zone = \"canary.example.cn\"\n{resolver}\n\
             [[control]]\nname = \"lab-control\"\n{controls}  [[control.check]]\n  name = \"control.test\"\n  type = \"SOA\"\n",
            state = state_dir.display().to_string().replace('\\', "\\\\"),
            nodes = list("tld.node", &nodes.iter().collect::<Vec<_>>()),
            resolver = list("recursive.server", &[&resolver]),
            controls = list("control.server", &controls.iter().collect::<Vec<_>>()),
        );
        let config = crate::config::parse(&PathBuf::from("lab.toml"), &text)
            .map_err(|e| WalkthroughError::Start(e.to_string()))?;
        let clock = ManualClock::new(t0);
        let daemon = Daemon::start(config, Rules::miit_2011(), Arc::new(clock.clone()))
            .await
            .map_err(|e| WalkthroughError::Start(e.to_string()))?;
        Ok(Lab {
            nodes,
            resolver,
            controls,
            daemon,
            clock,
            t0,
            state_dir,
        })
    }

    fn board(&self) -> Board {
        self.daemon
            .shared
            .board
            .lock()
            .map(|b| Board::clone(&b))
            .unwrap_or_default()
    }

    /// Waits for an evaluation made at or after the clock's present that satisfies `pred`.
    async fn wait(
        &self,
        what: &str,
        pred: impl Fn(&Board) -> bool,
    ) -> Result<Board, WalkthroughError> {
        let now = self.clock.now_ms();
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            let b = self.board();
            if b.at >= now && pred(&b) {
                return Ok(b);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(WalkthroughError::Step(what.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The line that reports one step: simulated time, what was done, what the monitor says.
    fn report(&self, out: &mut impl Write, did: &str, o: &ObjectStatus) -> std::io::Result<()> {
        let t = self.clock.now_ms().saturating_sub(self.t0) / 1000;
        let a = &o.assessment;
        let grade = match a.grade {
            Some(l) => format!("{} {} ({})", l.zh(), l.roman(), l.en()),
            None => "正常 no grade".to_string(),
        };
        writeln!(
            out,
            "[T+{:02}:{:02}:{:02}] {did}\n             {} → {grade}",
            t / 3600,
            t / 60 % 60,
            t % 60,
            status_key(o)
        )?;
        if let Some(rule) = &a.rule {
            let lead = a
                .authority
                .as_ref()
                .map(|x| format!("{} ({})", x.lead_zh, x.lead_en))
                .unwrap_or_default();
            writeln!(out, "             rule {rule} · lead {lead}")?;
        }
        if let (Some(zh), Some(en)) = (a.reasons_zh.first(), a.reasons_en.first()) {
            writeln!(out, "             {zh} / {en}")?;
        }
        if let Some(n) = a.next_escalation {
            writeln!(
                out,
                "             escalates to {} {} at {} unless it recovers",
                n.grade.zh(),
                n.grade.roman(),
                rfc3339(n.at)
            )?;
        }
        Ok(())
    }

    async fn stop(self) {
        self.daemon.stop().await;
        for s in self.nodes.into_iter().chain(self.controls) {
            s.stop().await;
        }
        self.resolver.stop().await;
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

fn object<'a>(b: &'a Board, key: &str) -> Option<&'a ObjectStatus> {
    b.objects.iter().find(|o| status_key(o) == key)
}

fn grade_is(b: &Board, key: &str, roman: Option<&str>) -> bool {
    object(b, key).is_some_and(|o| o.assessment.grade.map(|l| l.roman()) == roman)
}

/// Runs the walkthrough, writing the report to `out`. With `hold`, the daemon keeps running
/// afterwards (status page and API on the printed address) until `hold` resolves.
pub async fn run(
    out: &mut (impl Write + Send),
    hold: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
) -> Result<(), WalkthroughError> {
    let lab = Lab::start().await?;
    let result = script(&lab, out).await;
    if result.is_ok() {
        if let Some(h) = hold {
            writeln!(
                out,
                "\nholding: status page http://{}/ — Ctrl-C to stop",
                lab.daemon.http_addr
            )?;
            out.flush()?;
            h.await;
        }
    }
    lab.stop().await;
    result
}

/// The scripted tour, step after step.
///
/// Long on purpose: it is the script itself, one fault and one printed grade per step, read
/// top to bottom like the walkthrough it prints.
async fn script(lab: &Lab, out: &mut impl Write) -> Result<(), WalkthroughError> {
    const TLD: &str = "tld/cn";
    const GD: &str = "recursive/gd-resolvers";
    writeln!(
        out,
        "dnsgrade lab — an offline walkthrough of the MIIT plan's matrix (simulated time)\n\
         5 .cn TLD nodes, a provincial resolver system (广东), 2 control targets, on 127.0.0.1;\n\
         status page and API on http://{}/ while it runs\n",
        lab.daemon.http_addr
    )?;
    let b = lab
        .wait("every server with enough samples", |b| {
            b.objects.iter().all(|o| {
                !o.assessment.evidence.is_empty()
                    && o.assessment.evidence.iter().all(|e| e.samples >= 30)
            })
        })
        .await?;
    if let Some(o) = object(&b, TLD) {
        lab.report(out, "all healthy", o)?;
    }

    let steps: [(&[usize], &str, &str); 3] = [
        (&[0], "1 of 5 nodes refuses every query", "III"),
        (&[1, 2], "3 of 5 nodes refuse", "II"),
        (
            &[3, 4],
            "all 5 nodes refuse: the TLD system has stopped",
            "I",
        ),
    ];
    for (stop, did, want) in steps {
        // Faults first, then the clock: replies before the fault keep the old time.
        for &i in stop {
            lab.nodes[i].set_faults(refusing());
        }
        lab.clock.advance_ms(5 * MIN + 1_000);
        let b = lab
            .wait(&format!("{TLD} at level {want}"), |b| {
                grade_is(b, TLD, Some(want))
            })
            .await?;
        if let Some(o) = object(&b, TLD) {
            lab.report(out, did, o)?;
        }
    }

    for n in &lab.nodes {
        n.set_faults(Faults::default());
    }
    lab.clock.advance_ms(5 * MIN + 1_000);
    let b = lab
        .wait(&format!("{TLD} healthy again"), |b| grade_is(b, TLD, None))
        .await?;
    if let Some(o) = object(&b, TLD) {
        lab.report(out, "every node answers again (clearing: 300 s)", o)?;
    }
    lab.clock.advance_ms(5 * MIN + 1_000);
    let incidents = lab.daemon.shared.incidents.clone();
    let filter = ListFilter {
        state: StateFilter::All,
        ..ListFilter::default()
    };
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    let resolved = loop {
        let list = incidents.list(&filter).unwrap_or_default();
        if let Some(i) = list
            .into_iter()
            .find(|i| i.object == TLD && i.resolved_at.is_some())
        {
            break i;
        }
        if tokio::time::Instant::now() > deadline {
            return Err(WalkthroughError::Step("the TLD incident resolved".into()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    writeln!(
        out,
        "             incident #{} resolved: max grade {} {}, {} s from onset to resolution",
        resolved.id,
        resolved.max_grade.0.zh(),
        resolved.max_grade.0.roman(),
        resolved.duration_s(lab.clock.now_ms())
    )?;

    lab.resolver.set_faults(refusing());
    lab.clock.advance_ms(2 * MIN);
    let b = lab
        .wait(&format!("{GD} at level IV"), |b| {
            grade_is(b, GD, Some("IV"))
        })
        .await?;
    let onset = object(&b, GD)
        .and_then(|o| o.assessment.onset)
        .unwrap_or_else(|| lab.clock.now_ms());
    if let Some(o) = object(&b, GD) {
        lab.report(out, "the provincial resolver system stops answering", o)?;
    }
    lab.clock.set_ms(onset + 61 * MIN);
    let b = lab
        .wait(&format!("{GD} at level III"), |b| {
            grade_is(b, GD, Some("III"))
        })
        .await?;
    if let Some(o) = object(&b, GD) {
        lab.report(out, "61 minutes after the onset", o)?;
    }
    lab.resolver.set_faults(Faults::default());

    for s in lab.nodes.iter().chain(lab.controls.iter()) {
        s.set_faults(refusing());
    }
    lab.clock.advance_ms(5 * MIN + 1_000);
    let b = lab.wait("monitor.isolated", |b| b.isolated).await?;
    let t = lab.clock.now_ms().saturating_sub(lab.t0) / 1000;
    writeln!(
        out,
        "[T+{:02}:{:02}:{:02}] every TLD node and every control target stops answering\n             \
         monitor.isolated: {} of {} control targets fail — it is this vantage point that is cut off;\n             \
         grading is suspended, no level-I page is sent",
        t / 3600,
        t / 60 % 60,
        t % 60,
        b.control_failing,
        b.control_addresses
    )?;
    for s in lab.nodes.iter().chain(lab.controls.iter()) {
        s.set_faults(Faults::default());
    }
    writeln!(
        out,
        "\ndone: the matrix, cell by cell, is rules/miit-2011.toml"
    )?;
    Ok(())
}
