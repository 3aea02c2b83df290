//! The `dnsgrade` command line. Everything but argument parsing, logging set-up and exit codes
//! lives in the library.

use clap::{Parser, Subcommand};
use dnsgrade::clock::SystemClock;
use dnsgrade::config::{self, LoadError};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use dnsgrade::cli;

/// Exit code for a config error (EX_CONFIG from sysexits.h).
const EXIT_CONFIG: u8 = 78;
/// Exit code for a usage or data error (EX_DATAERR).
const EXIT_DATA: u8 = 65;
/// Exit code when a needed resource is unavailable (EX_UNAVAILABLE).
const EXIT_UNAVAILABLE: u8 = 69;

#[derive(Parser, Debug)]
#[command(
    name = "dnsgrade",
    version,
    about = "Grades the health of the DNS by the MIIT domain-name incident plan's severity matrix"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon: probe, keep window statistics, serve /metrics.
    Run {
        /// The probes file.
        #[arg(long, default_value = "probes.toml")]
        config: PathBuf,
    },
    /// Validate the probes file and print what would be probed, how often, and the query rate.
    CheckConfig {
        /// The probes file.
        #[arg(long, default_value = "probes.toml")]
        config: PathBuf,
    },
    /// Send one query and print the reply like dig, with its timing.
    Probe {
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
        /// Timeout.
        #[arg(long, default_value = "10s")]
        timeout: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DNSGRADE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
    match cli.command {
        Command::Run { config } => rt.block_on(run(config)),
        Command::CheckConfig { config } => match load(&config) {
            Ok(c) => {
                print!("{}", cli::describe_config(&c));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Probe {
            server,
            name,
            qtype,
            tcp,
            rd,
            timeout,
        } => match rt.block_on(cli::probe(&server, &name, &qtype, tcp, rd, &timeout)) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("dnsgrade probe: {e}");
                ExitCode::from(EXIT_DATA)
            }
        },
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

async fn run(path: PathBuf) -> ExitCode {
    let config = match load(&path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let daemon = match dnsgrade::daemon::Daemon::start(config, Arc::new(SystemClock)).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("dnsgrade: {e}");
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    println!("listening on http://{}", daemon.http_addr);
    wait_for_signal().await;
    tracing::info!("stopping");
    daemon.stop().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
