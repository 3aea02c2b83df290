//! The `dnsgrade` command line. Everything but argument parsing, logging set-up and exit codes
//! lives in the library.

use clap::{Parser, Subcommand};
use dnsgrade::clock::SystemClock;
use dnsgrade::config::{self, LoadError};
use dnsgrade::daemon::logging::LogFormat;
use hickory_proto::rr::Name;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use dnsgrade::cli;

/// jemalloc rather than the system allocator: with thousands of probes starting and ending
/// every second on several threads, glibc's arenas keep much of what is freed. See
/// docs/measurement.md, "Memory".
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its start: a background thread returns freed pages within
/// about a second (the default keeps them ten seconds, which at a total outage is tens of MiB
/// of probes long finished). `_RJEM_MALLOC_CONF` in the environment still overrides them.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8; 60] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

// Exit codes (sysexits.h where one fits); every code is listed in `cli::exit`.
use cli::exit::{
    CANT_CREATE as EXIT_CANTCREAT, CONFIG as EXIT_CONFIG, DATA as EXIT_DATA,
    UNAVAILABLE as EXIT_UNAVAILABLE,
};

/// `dnsgrade --version`: `dnsgrade 0.1.0 (rev abc123456789)`.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("DNSGRADE_REVISION"),
    ")"
);

/// The top-level help's closing words.
const MAIN_AFTER_HELP: &str = "Environment: DNSGRADE_API (the API base URL of incidents, drill \
and maintenance), DNSGRADE_API_TOKEN (their bearer token), DNSGRADE_LOG (log filter, e.g. \
debug). A usage error exits 64; each command's --help lists its other exit codes.";

/// `check-config --help`'s exit codes.
const CHECK_CONFIG_CODES: &str =
    "Exit codes: 0 valid; 64 usage error; 78 an invalid or unreadable probes or rules file.";

#[derive(Parser, Debug)]
#[command(
    name = "dnsgrade",
    version = VERSION,
    about = "Grades the health of the DNS by the MIIT domain-name incident plan's severity matrix",
    after_help = MAIN_AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a running daemon's API is and how to talk to it: shared by `incidents`, `drill` and
/// `maintenance`.
#[derive(clap::Args, Debug)]
struct ApiArgs {
    /// The daemon's API base URL.
    #[arg(
        long,
        env = "DNSGRADE_API",
        default_value = "http://127.0.0.1:9553",
        global = true
    )]
    api: String,
    /// Bearer token for writes.
    #[arg(
        long,
        env = "DNSGRADE_API_TOKEN",
        hide_env_values = true,
        global = true
    )]
    token: Option<String>,
    /// Print the API's answer as JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Show times in this zone: UTC (the default, as the API writes them), local, or an IANA
    /// name such as Asia/Shanghai.
    #[arg(long, global = true, value_parser = cli::parse_zone)]
    tz: Option<jiff::tz::TimeZone>,
}

impl ApiArgs {
    fn output(&self) -> cli::Output {
        cli::Output {
            json: self.json,
            times: cli::Times::new(self.tz.clone()),
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon: probe, keep window statistics, grade, record incidents, serve HTTP.
    Run {
        /// The probes file.
        #[arg(long, default_value = "probes.toml")]
        config: PathBuf,
        /// The rules file (default: the shipped rules/miit-2011.toml, built in).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// How log lines on stderr are written: text or json (default: $DNSGRADE_LOG_FORMAT,
        /// else text). The filter is $DNSGRADE_LOG (default info).
        #[arg(long, value_name = "text|json")]
        log_format: Option<LogFormat>,
    },
    /// Validate the probes file and print what would be probed, how often, and the query rate.
    #[command(after_help = CHECK_CONFIG_CODES)]
    CheckConfig {
        /// The probes file.
        #[arg(long, default_value = "probes.toml")]
        config: PathBuf,
        /// A rules file to validate too (default: the shipped rules, built in).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Print the description as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Work with incidents through a running daemon's API.
    #[command(after_help = cli::exit::API_CODES_HELP)]
    Incidents {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        action: IncidentsCommand,
    },
    /// Write the periodic report of the incident-coordination circular (every six months, due
    /// 15 June and 15 December) from a running daemon's ledger: incidents per class and grade,
    /// each with its record, times to detect, acknowledge and resolve, acknowledgements within
    /// 24 h, availability per object and month, drills, false positives.
    #[command(after_help = cli::exit::API_CODES_HELP)]
    Report {
        #[command(flatten)]
        api: ApiArgs,
        /// First day of the period, YYYY-MM-DD in China Standard Time (+08:00).
        #[arg(long)]
        from: String,
        /// Last day of the period (included), YYYY-MM-DD in +08:00.
        #[arg(long)]
        to: String,
        /// html (printable to PDF, the default), csv (one row per incident) or json.
        #[arg(long, value_enum, default_value_t = cli::ReportFormat::Html)]
        format: cli::ReportFormat,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Run a drill (应急演练) through a running daemon: a synthetic incident that goes through
    /// the ledger, alerts and status with "drill": true.
    #[command(after_help = cli::exit::API_CODES_HELP)]
    Drill(DrillArgs),
    /// Declare, list and end maintenance windows through a running daemon's API: incidents
    /// of an object in maintenance are still recorded, flagged, and page nobody.
    #[command(after_help = cli::exit::API_CODES_HELP)]
    Maintenance {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        action: MaintenanceCommand,
    },
    /// Offline walkthrough: an in-process topology on 127.0.0.1 (five .cn nodes, a provincial
    /// resolver, control targets) and scripted faults in simulated time, with the grade the
    /// monitor gives after each step. Sends nothing beyond loopback.
    Lab {
        /// Keep the lab running after the script (status page and API) until Ctrl-C.
        #[arg(long)]
        hold: bool,
    },
    /// Check every delegation of a zone against one node at a bounded rate; report q/s,
    /// latency quantiles, missing and wrong delegations.
    Sweep(SweepArgs),
    /// Send one query and print the reply like dig, with its timing.
    #[command(after_help = cli::exit::PROBE_CODES_HELP)]
    Probe(ProbeArgs),
    /// Print a shell completion script to standard output.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: ShellArg,
    },
    /// Print the manual page (roff) to standard output: dnsgrade(1), or with a subcommand's
    /// name the page it refers to, e.g. dnsgrade-probe(1).
    Man {
        /// A subcommand, e.g. probe.
        subcommand: Option<String>,
    },
}

/// `completions`' shells.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ShellArg {
    /// GNU Bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

impl From<ShellArg> for clap_complete::Shell {
    fn from(s: ShellArg) -> clap_complete::Shell {
        match s {
            ShellArg::Bash => clap_complete::Shell::Bash,
            ShellArg::Zsh => clap_complete::Shell::Zsh,
            ShellArg::Fish => clap_complete::Shell::Fish,
        }
    }
}

/// The arguments of `dnsgrade drill`.
#[derive(clap::Args, Debug)]
struct DrillArgs {
    /// The scenario (see --list).
    #[arg(long, required_unless_present_any = ["list", "end"])]
    scenario: Option<String>,
    /// The object, class/name (default: the first configured object of the class).
    #[arg(long)]
    object: Option<String>,
    /// Who runs it.
    #[arg(long, default_value = "drill")]
    by: String,
    /// List the scenarios and the open drills.
    #[arg(long)]
    list: bool,
    /// End the drill with this incident id (resolves it).
    #[arg(long)]
    end: Option<i64>,
    #[command(flatten)]
    api: ApiArgs,
}

/// The arguments of `dnsgrade probe`.
#[derive(clap::Args, Debug)]
struct ProbeArgs {
    /// Server address, e.g. 127.0.0.1, 127.0.0.1:5353, [::1]:53.
    server: String,
    /// Query name.
    name: String,
    /// Query type (default A).
    #[arg(default_value = "A")]
    qtype: String,
    /// Use TCP.
    #[arg(long)]
    tcp: bool,
    /// Set RD (recursion desired), for resolvers.
    #[arg(long)]
    rd: bool,
    /// Set the EDNS DO bit (DNSSEC OK), like dig's +dnssec: signed zones answer with RRSIGs.
    #[arg(long)]
    dnssec: bool,
    /// Print only the answer data, one record a line, like dig's +short.
    #[arg(long, conflicts_with = "json")]
    short: bool,
    /// Print the query, outcome and reply as JSON.
    #[arg(long)]
    json: bool,
    /// An expected value of the answer (repeat it for an RRset): exit 11 when the answer's
    /// records of the query type at the name differ.
    #[arg(long, value_name = "VALUE")]
    expect: Vec<String>,
    /// Timeout.
    #[arg(long, default_value = "10s")]
    timeout: String,
}

/// The arguments of `dnsgrade sweep`, typed by their parsers.
#[derive(clap::Args, Debug)]
struct SweepArgs {
    /// The node, e.g. 127.0.1.1 or 127.0.1.1:5300.
    #[arg(long, value_parser = |s: &str| config::parse_address(s, 53))]
    server: SocketAddr,
    /// The zone file (RFC 1035 master format).
    #[arg(long)]
    zone: PathBuf,
    /// The zone's origin (default: from $ORIGIN or the file name).
    #[arg(long, value_parser = |s: &str| Name::from_utf8(s).map_err(|e| e.to_string()))]
    origin: Option<Name>,
    /// Queries per second, at most.
    #[arg(long, default_value = "2000")]
    rate: NonZeroU32,
    /// Queries in flight, at most.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// The transport.
    #[arg(long, value_enum, default_value = "udp")]
    transport: TransportArg,
    /// Per-query timeout.
    #[arg(long, default_value = "2s", value_parser = config::parse_duration)]
    timeout: Duration,
    /// Check every n-th delegation only (a sample).
    #[arg(long, default_value_t = 1)]
    every: usize,
    /// Exit 1 when (missing + wrong) / answered exceeds this ratio.
    #[arg(long, default_value_t = 0.0)]
    max_error_ratio: f64,
    /// Exit 69 when fewer than this share of the queries got a usable answer (timeouts,
    /// SERVFAIL, REFUSED and malformed replies do not count): a node that answers nothing has
    /// no error ratio to speak of.
    #[arg(long, default_value_t = 0.99)]
    min_answered: f64,
    /// Print every missing or wrong name.
    #[arg(long)]
    list: bool,
}

/// `--transport`'s values.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum TransportArg {
    /// UDP, retrying over TCP on TC=1.
    Udp,
    /// TCP only.
    Tcp,
}

impl From<TransportArg> for config::Transport {
    fn from(t: TransportArg) -> config::Transport {
        match t {
            TransportArg::Udp => config::Transport::Udp,
            TransportArg::Tcp => config::Transport::Tcp,
        }
    }
}

#[derive(Subcommand, Debug)]
enum IncidentsCommand {
    /// List incidents (open by default).
    List {
        /// open, all or resolved.
        #[arg(long, default_value = "open")]
        state: String,
        /// Only incidents open at or after this time: Unix ms, or RFC 3339 with any offset
        /// (2026-12-01T08:00:00+08:00); sent to the API in UTC.
        #[arg(long)]
        since: Option<String>,
        /// Include incidents marked false positives.
        #[arg(long)]
        include_false_positive: bool,
    },
    /// Show one incident with its timeline.
    Show {
        /// Incident id.
        id: i64,
    },
    /// Acknowledge an incident.
    Ack {
        /// Incident id.
        id: i64,
        /// Who acknowledges.
        #[arg(long)]
        by: String,
        /// A note.
        #[arg(long)]
        note: Option<String>,
    },
    /// Confirm the social impact that promotes a candidate grade (I for a tier-1 institution,
    /// III for a tier-1 website).
    ConfirmImpact {
        /// Incident id.
        id: i64,
        /// Who confirms.
        #[arg(long)]
        by: String,
    },
    /// Mark an incident a false positive: kept in the ledger, hidden from lists and reports.
    FalsePositive {
        /// Incident id.
        id: i64,
        /// Why it was not a real incident.
        #[arg(long)]
        reason: String,
    },
    /// Record an incident's root cause (replaces an earlier one; the timeline keeps both).
    Cause {
        /// Incident id.
        id: i64,
        /// The cause, as it goes into the report.
        #[arg(long)]
        text: String,
    },
    /// Record the troubleshooting result (replaces an earlier one; the timeline keeps both).
    Result {
        /// Incident id.
        id: i64,
        /// What was found and done, as it goes into the report.
        #[arg(long)]
        text: String,
    },
    /// Record the organisations involved (replaces the earlier list).
    Organisations {
        /// Incident id.
        id: i64,
        /// An organisation involved; repeat for each.
        #[arg(long = "organisation", alias = "org", required = true)]
        organisations: Vec<String>,
    },
    /// Record that the incident was reported to the coordinating body.
    Reported {
        /// Incident id.
        id: i64,
        /// The coordinating body (e.g. CNCERT).
        #[arg(long)]
        to: String,
        /// Who reported.
        #[arg(long)]
        by: String,
        /// When: now (the default), Unix ms, or RFC 3339 with any offset.
        #[arg(long)]
        at: Option<String>,
    },
    /// Record that the coordinating body confirmed the report.
    CoordinatorConfirmed {
        /// Incident id.
        id: i64,
        /// Who confirmed there, or who took the confirmation.
        #[arg(long)]
        by: String,
        /// When: now (the default), Unix ms, or RFC 3339 with any offset.
        #[arg(long)]
        at: Option<String>,
    },
    /// Record that a receiver confirmed it received a notification of the incident.
    Receipt {
        /// Incident id.
        id: i64,
        /// The receiving organisation.
        #[arg(long)]
        organisation: String,
        /// Who recorded it.
        #[arg(long)]
        by: Option<String>,
        /// When it confirmed: now (the default), Unix ms, or RFC 3339 with any offset.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum MaintenanceCommand {
    /// List the windows that have not ended, soonest first.
    List,
    /// Declare planned work on an object.
    Declare {
        /// The object, class/name (e.g. tld/cn).
        #[arg(long)]
        object: String,
        /// Start: now, Unix ms, or RFC 3339 with any offset.
        #[arg(long, default_value = "now")]
        starts: String,
        /// End: Unix ms, or RFC 3339 with any offset.
        #[arg(long, required_unless_present = "length", conflicts_with = "length")]
        ends: Option<String>,
        /// How long, instead of --ends (e.g. 2h, 90m).
        #[arg(long = "for", id = "length", value_parser = config::parse_duration)]
        length: Option<Duration>,
        /// Why (change ticket, work).
        #[arg(long)]
        reason: String,
    },
    /// End a window now (one that has not begun is deleted).
    End {
        /// Window id.
        id: i64,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // --help and --version print to standard output and succeed; a usage error is
            // EX_USAGE.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { cli::exit::USAGE } else { 0 });
        }
    };
    let log_format = match &cli.command {
        Command::Run { log_format, .. } => match LogFormat::resolve(*log_format) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("dnsgrade: {e}");
                return ExitCode::from(EXIT_DATA);
            }
        },
        _ => LogFormat::resolve(None).unwrap_or_default(),
    };
    dnsgrade::daemon::logging::init(log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dnsgrade: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    dispatch(cli.command, &rt)
}

fn dispatch(command: Command, rt: &tokio::runtime::Runtime) -> ExitCode {
    match command {
        Command::Run { config, rules, .. } => rt.block_on(run(config, rules)),
        Command::CheckConfig {
            config,
            rules,
            json,
        } => check_config(&config, rules.as_deref(), json),
        Command::Incidents { api, action } => {
            let call = incident_call(action);
            let out = api.output();
            let result = rt.block_on(cli::incidents(&api.api, api.token.as_deref(), call, &out));
            print_or_fail("dnsgrade incidents", result)
        }
        Command::Drill(args) => print_or_fail("dnsgrade drill", rt.block_on(drill(args))),
        Command::Maintenance { api, action } => {
            let call = maintenance_call(action);
            let out = api.output();
            let token = api.token.as_deref();
            let result = rt.block_on(cli::maintenance(&api.api, token, call, &out));
            print_or_fail("dnsgrade maintenance", result)
        }
        Command::Report {
            api,
            from,
            to,
            format,
            output,
        } => {
            let format = if api.json {
                cli::ReportFormat::Json
            } else {
                format
            };
            let result = rt.block_on(cli::report(&api.api, &from, &to, format));
            write_report(result, output.as_deref())
        }
        Command::Lab { hold } => rt.block_on(lab(hold)),
        Command::Sweep(args) => rt.block_on(run_sweep(args)),
        Command::Probe(args) => rt.block_on(probe(args)),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let shell = clap_complete::Shell::from(shell);
            clap_complete::generate(shell, &mut cmd, "dnsgrade", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man { subcommand } => man(subcommand.as_deref()),
    }
}

fn incident_call(action: IncidentsCommand) -> cli::IncidentCall {
    match action {
        IncidentsCommand::List {
            state,
            since,
            include_false_positive,
        } => cli::IncidentCall::List {
            state,
            since,
            include_false_positive,
        },
        IncidentsCommand::Show { id } => cli::IncidentCall::Show { id },
        IncidentsCommand::Ack { id, by, note } => cli::IncidentCall::Ack { id, by, note },
        IncidentsCommand::ConfirmImpact { id, by } => cli::IncidentCall::ConfirmImpact { id, by },
        IncidentsCommand::FalsePositive { id, reason } => {
            cli::IncidentCall::FalsePositive { id, reason }
        }
        IncidentsCommand::Cause { id, text } => cli::IncidentCall::Cause { id, text },
        other => cli::IncidentCall::Record(record_call(other)),
    }
}

/// The record's writes (`result`, `organisations`, `reported`, `coordinator-confirmed`,
/// `receipt`); `incident_call` handles the rest.
fn record_call(action: IncidentsCommand) -> cli::RecordCall {
    use cli::RecordCall as R;
    match action {
        IncidentsCommand::Result { id, text } => R::Result { id, text },
        IncidentsCommand::Organisations { id, organisations } => {
            R::Organisations { id, organisations }
        }
        IncidentsCommand::Reported { id, to, by, at } => R::Reported { id, to, by, at },
        IncidentsCommand::CoordinatorConfirmed { id, by, at } => {
            R::CoordinatorConfirmed { id, by, at }
        }
        IncidentsCommand::Receipt {
            id,
            organisation,
            by,
            at,
        } => R::Receipt {
            id,
            organisation,
            by,
            at,
        },
        other => unreachable!("incident_call handles {other:?}"),
    }
}

fn maintenance_call(action: MaintenanceCommand) -> cli::MaintenanceCall {
    match action {
        MaintenanceCommand::List => cli::MaintenanceCall::List,
        MaintenanceCommand::Declare {
            object,
            starts,
            ends,
            length,
            reason,
        } => cli::MaintenanceCall::Declare {
            object,
            starts,
            ends,
            length,
            reason,
        },
        MaintenanceCommand::End { id } => cli::MaintenanceCall::End { id },
    }
}

/// `dnsgrade drill`.
async fn drill(args: DrillArgs) -> Result<String, cli::ApiCallError> {
    let DrillArgs {
        scenario,
        object,
        by,
        list,
        end,
        api,
    } = args;
    let call = match (list, end) {
        (true, _) => cli::DrillCall::List,
        (false, Some(id)) => cli::DrillCall::End { id, by },
        (false, None) => cli::DrillCall::Start {
            scenario: scenario.unwrap_or_default(),
            object,
            by,
        },
    };
    cli::drill(&api.api, api.token.as_deref(), call, &api.output()).await
}

/// `dnsgrade probe`, with dig's exit codes (`cli::exit`).
async fn probe(args: ProbeArgs) -> ExitCode {
    let o = cli::ProbeOptions {
        server: args.server,
        name: args.name,
        qtype: args.qtype,
        tcp: args.tcp,
        rd: args.rd,
        dnssec: args.dnssec,
        timeout: args.timeout,
        short: args.short,
        json: args.json,
        expect: args.expect,
    };
    match cli::probe(&o).await {
        Ok(run) => {
            print!("{}", run.stdout);
            if let Some(p) = run.problem {
                eprintln!("dnsgrade probe: {p}");
            }
            ExitCode::from(run.code)
        }
        Err(e) => {
            eprintln!("dnsgrade probe: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `dnsgrade man [SUBCOMMAND]`: the manual page, from the same definitions as `--help`.
fn man(subcommand: Option<&str>) -> ExitCode {
    let top = <Cli as clap::CommandFactory>::command();
    let cmd = match subcommand {
        None => top,
        Some(name) => match top.find_subcommand(name) {
            // The process ends right after: leaking the name gives clap its 'static str.
            Some(sub) => sub.clone().name(&*format!("dnsgrade-{name}").leak()),
            None => {
                eprintln!("dnsgrade man: no subcommand \"{name}\"");
                return ExitCode::from(cli::exit::USAGE);
            }
        },
    };
    match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dnsgrade man: {e}");
            ExitCode::from(EXIT_UNAVAILABLE)
        }
    }
}

/// Prints an API command's text and exits 0, or prints its error and exits with the code of
/// its HTTP class (`cli::exit`).
fn print_or_fail(command: &str, result: Result<String, cli::ApiCallError>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{command}: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// The wall clock, or with `DNSGRADE_TEST_CLOCK_FILE` set, time read from that file (tests).
fn clock() -> Arc<dyn dnsgrade::clock::Clock> {
    match std::env::var_os("DNSGRADE_TEST_CLOCK_FILE") {
        Some(f) => {
            tracing::warn!(file = %std::path::Path::new(&f).display(), "DNSGRADE_TEST_CLOCK_FILE is set: time is read from a file (tests only)");
            Arc::new(dnsgrade::clock::FileClock::new(f))
        }
        None => Arc::new(SystemClock),
    }
}

/// Prints the report, or writes it to `output`.
fn write_report(
    result: Result<String, cli::ApiCallError>,
    output: Option<&std::path::Path>,
) -> ExitCode {
    match (result, output) {
        (Ok(text), Some(path)) => match std::fs::write(path, text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("dnsgrade report: cannot write {}: {e}", path.display());
                ExitCode::from(EXIT_CANTCREAT)
            }
        },
        (result, _) => print_or_fail("dnsgrade report", result),
    }
}

/// `dnsgrade check-config`.
fn check_config(config: &std::path::Path, rules: Option<&std::path::Path>, json: bool) -> ExitCode {
    let loaded = match rules {
        Some(r) => match dnsgrade::grading::Rules::load(r) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => dnsgrade::grading::Rules::miit_2011(),
    };
    match load(config) {
        Ok(c) if json => {
            let mut doc = cli::describe_config_json(&c, &loaded, clock().now_ms());
            doc["rules"] = match rules {
                Some(r) => serde_json::json!(r.display().to_string()),
                None => serde_json::json!("built in (rules/miit-2011.toml)"),
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).unwrap_or_else(|e| e.to_string())
            );
            ExitCode::SUCCESS
        }
        Ok(c) => {
            print!("{}", cli::describe_config(&c, &loaded, clock().now_ms()));
            if let Some(r) = rules {
                println!("rules: {} OK", r.display());
            }
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `dnsgrade lab`.
async fn lab(hold: bool) -> ExitCode {
    let hold: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> = if hold {
        Some(Box::pin(wait_for_stop()))
    } else {
        None
    };
    let mut out = std::io::stdout();
    match dnsgrade::walkthrough::run(&mut out, hold).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dnsgrade lab: {e}");
            ExitCode::from(EXIT_UNAVAILABLE)
        }
    }
}

fn load(path: &std::path::Path) -> Result<config::Config, ExitCode> {
    match config::load(path) {
        Ok(c) => Ok(c),
        Err(LoadError::Io { path, source }) => {
            eprintln!("dnsgrade: cannot read {}: {source}", path.display());
            Err(ExitCode::from(EXIT_CONFIG))
        }
        Err(LoadError::Invalid(errs)) => {
            for e in &errs.errors {
                eprintln!("{e}");
            }
            eprintln!(
                "dnsgrade: {} error(s) in {}",
                errs.errors.len(),
                path.display()
            );
            Err(ExitCode::from(EXIT_CONFIG))
        }
    }
}

async fn run(path: PathBuf, rules_path: Option<PathBuf>) -> ExitCode {
    let config = match load(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let rules = match &rules_path {
        None => dnsgrade::grading::Rules::miit_2011(),
        Some(p) => match dnsgrade::grading::Rules::load(p) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
    };
    let daemon = match dnsgrade::daemon::Daemon::start(config, rules, clock()).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    let sources = dnsgrade::daemon::Sources {
        config: path,
        rules: rules_path,
    };
    daemon.serve_reloads(sources.clone());
    dnsgrade::daemon::logging::ready(daemon.http_addr);
    dnsgrade::daemon::notify::ready(daemon.http_addr);
    wait_for_signal(&daemon, &sources).await;
    tracing::info!("stopping");
    dnsgrade::daemon::notify::stopping();
    daemon.stop().await;
    ExitCode::SUCCESS
}

/// `dnsgrade sweep`.
async fn run_sweep(args: SweepArgs) -> ExitCode {
    let fail = |m: String| {
        eprintln!("dnsgrade sweep: {m}");
        ExitCode::from(EXIT_DATA)
    };
    let SweepArgs {
        server,
        zone,
        origin,
        rate,
        concurrency,
        transport,
        timeout,
        every,
        max_error_ratio,
        min_answered,
        list,
    } = args;
    // Streamed: only the delegations are kept, never the zone text or a full zone.
    let list_of = match dnsgrade::reference::load_zone_file(&zone, origin.as_ref()) {
        Ok(d) => std::sync::Arc::new(d),
        Err(e) => return fail(e.to_string()),
    };
    if list_of.is_empty() {
        return fail(format!(
            "{} has no delegations below {}",
            zone.display(),
            list_of.origin()
        ));
    }
    let opts = dnsgrade::sweep::SweepOptions {
        server,
        rate,
        concurrency,
        transport: transport.into(),
        timeout,
        every,
        examples: 5,
    };
    let report = match dnsgrade::sweep::sweep(list_of, &opts).await {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot open sockets: {e}")),
    };
    print!("{}", report.render(server));
    if list {
        for n in &report.bad_names {
            println!("bad: {n}");
        }
    }
    let answered = report.answered as f64 / report.checked.max(1) as f64;
    if answered < min_answered {
        eprintln!(
            "dnsgrade sweep: {} of {} queries answered ({:.2}%), below --min-answered {:.2}%",
            report.answered,
            report.checked,
            answered * 100.0,
            min_answered * 100.0
        );
        return ExitCode::from(EXIT_UNAVAILABLE);
    }
    if report.error_ratio() > max_error_ratio {
        eprintln!(
            "dnsgrade sweep: error ratio {:.6}% is above --max-error-ratio {:.6}%",
            report.error_ratio() * 100.0,
            max_error_ratio * 100.0
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Waits for SIGINT or SIGTERM.
async fn wait_for_stop() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Waits for SIGINT or SIGTERM; each SIGHUP meanwhile reloads the configuration (what
/// `systemctl reload` sends).
async fn wait_for_signal(daemon: &dnsgrade::daemon::Daemon, sources: &dnsgrade::daemon::Sources) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install the signal handlers: only Ctrl-C stops the daemon, and SIGHUP does not reload");
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                dnsgrade::daemon::notify::reloading();
                let outcome = daemon.reload(sources).await;
                dnsgrade::daemon::notify::reloaded(outcome.result.as_str());
            }
        }
    }
}
