//! `dnsgrade-fuzz`: dnsgrade's fuzz targets on stable Rust, without libFuzzer (docs/fuzzing.md
//! says why and how to run it; `fuzz/run.sh` runs every target for a bounded time).
//!
//! - `run [TARGET…]`: mutate each target's corpus for `--seconds` (or `--runs`); prints
//!   executions and executions per second; exits 1 if any input panicked (the input is in
//!   `--artifacts`/<target>/), 3 if one ran longer than `--hang-seconds`.
//! - `replay TARGET FILE…`: runs files through a target and says which panic.
//! - `corpus`: writes the seed corpus.

mod corpus;
mod engine;
mod mutate;
mod targets;

use clap::{Parser, Subcommand};
use engine::{Options, Target};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use targets::TARGETS;

#[derive(Parser)]
#[command(
    name = "dnsgrade-fuzz",
    about = "Fuzz targets for dnsgrade (docs/fuzzing.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fuzz the targets named (all when none is), one after the other.
    Run {
        /// Targets: reply, config, rules, zonefile, axfr.
        targets: Vec<String>,
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Executions per target at most (0: no limit).
        #[arg(long, default_value_t = 0)]
        runs: u64,
        /// Seed of the mutations (default: a random one; printed).
        #[arg(long)]
        seed: Option<u64>,
        /// The seed corpus, one directory per target.
        #[arg(long, default_value = "fuzz/corpus")]
        corpus: PathBuf,
        /// Where inputs that panic or hang are written, one directory per target.
        #[arg(long, default_value = "fuzz/artifacts")]
        artifacts: PathBuf,
        /// One execution longer than this is a hang.
        #[arg(long, default_value_t = 10)]
        hang_seconds: u64,
    },
    /// Run files (or every file of a directory) through one target.
    Replay {
        /// The target.
        target: String,
        /// Files or directories.
        files: Vec<PathBuf>,
    },
    /// Write the seed corpus.
    Corpus {
        /// Where to write it.
        #[arg(long, default_value = "fuzz/corpus")]
        dir: PathBuf,
        /// The repository root (its config and rules files are copied).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
    },
}

fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

fn selected(names: &[String]) -> Result<Vec<&'static Target>, String> {
    if names.is_empty() {
        return Ok(TARGETS.iter().collect());
    }
    names
        .iter()
        .map(|n| find(n).ok_or_else(|| format!("no target {n:?}")))
        .collect()
}

fn run(names: &[String], opts: Options) -> ExitCode {
    let targets = match selected(names) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!("seed {}", opts.seed);
    println!(
        "{:<10} {:>10} {:>9} {:>7} {:>6} {:>8}",
        "target", "execs", "exec/s", "corpus", "sigs", "crashes"
    );
    let mut crashed = false;
    for t in targets {
        let r = engine::fuzz(t, &opts);
        let rate = r.execs as f64 / r.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{:<10} {:>10} {:>9.0} {:>7} {:>6} {:>8}",
            t.name, r.execs, rate, r.corpus, r.signatures, r.crashes
        );
        for (place, path) in &r.unique {
            println!("  panic at {place}: {}", path.display());
        }
        crashed |= r.crashes > 0;
    }
    if crashed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn replay(name: &str, files: &[PathBuf]) -> ExitCode {
    let Some(t) = find(name) else {
        eprintln!("no target {name:?}");
        return ExitCode::from(2);
    };
    let mut f = (t.make)();
    let mut failed = false;
    for path in files {
        let inputs = if path.is_dir() {
            engine::read_dir_files(path)
        } else {
            match std::fs::read(path) {
                Ok(b) => vec![(path.clone(), b)],
                Err(e) => {
                    eprintln!("{}: {e}", path.display());
                    failed = true;
                    continue;
                }
            }
        };
        for (p, data) in inputs {
            match engine::execute(&mut *f, &data) {
                Ok(_) => println!("{}: ok", p.display()),
                Err((place, msg)) => {
                    println!("{}: panic at {place}: {msg}", p.display());
                    failed = true;
                    f = (t.make)();
                }
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            targets,
            seconds,
            runs,
            seed,
            corpus,
            artifacts,
            hang_seconds,
        } => {
            engine::quiet_panics();
            let seed = seed.unwrap_or_else(rand::random);
            let opts = Options {
                duration: Duration::from_secs(seconds),
                runs,
                seed,
                corpus,
                artifacts,
                hang: Duration::from_secs(hang_seconds),
            };
            run(&targets, opts)
        }
        Command::Replay { target, files } => {
            engine::quiet_panics();
            replay(&target, &files)
        }
        Command::Corpus { dir, repo } => match corpus::write(&dir, &repo) {
            Ok(n) => {
                println!("{n} seed files written under {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cannot write the corpus: {e}");
                ExitCode::from(2)
            }
        },
    }
}
