//! The driver: runs one target on mutated inputs for a bounded time or number of runs, catches
//! panics, and writes every input that panicked (or ran too long) to the artifacts directory.
//!
//! It is not coverage-guided (that needs compiler instrumentation, see docs/fuzzing.md). Its
//! feedback is what each target returns: a 64-bit *signature* of what the input did (which
//! error, which outcome, how many records). An input whose signature has not been seen joins
//! the corpus, so inputs that reach new errors and new outcomes are mutated further.

use crate::mutate::Mutator;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A target's function: the input's bytes in, the input's signature out.
pub type TargetFn = Box<dyn FnMut(&[u8]) -> u64>;

/// One target: a name and a function of the input bytes returning the input's signature.
pub struct Target {
    /// The name (a directory under the corpus and artifacts directories).
    pub name: &'static str,
    /// Longest input tried.
    pub max_len: usize,
    /// Builds the function (again after a panic, so no state survives one).
    pub make: fn() -> TargetFn,
}

/// Limits and places of one run.
pub struct Options {
    /// Stop after this long.
    pub duration: Duration,
    /// Stop after this many executions (0: no limit).
    pub runs: u64,
    /// Seed of the mutations.
    pub seed: u64,
    /// Where the seed corpus is (one directory per target).
    pub corpus: PathBuf,
    /// Where crashing inputs go (one directory per target).
    pub artifacts: PathBuf,
    /// One execution longer than this is a hang: the input is written and the process exits.
    pub hang: Duration,
}

/// What one run did.
pub struct Report {
    /// Executions.
    pub execs: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Inputs in the corpus at the end (seeds and inputs with new signatures).
    pub corpus: usize,
    /// Distinct signatures seen.
    pub signatures: usize,
    /// Inputs that panicked.
    pub crashes: u64,
    /// Distinct panic places (file:line), with the artifact written for the first.
    pub unique: Vec<(String, PathBuf)>,
}

/// Corpus entries kept at most; later new signatures replace random entries.
const MAX_CORPUS: usize = 4096;

thread_local! {
    /// The message and place of the last panic on this thread.
    static LAST_PANIC: std::cell::RefCell<Option<(String, String)>> = const { std::cell::RefCell::new(None) };
}

/// Replaces the panic hook with one that records the panic instead of printing it.
pub fn quiet_panics() {
    panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            String::from("(no message)")
        };
        LAST_PANIC.with(|p| *p.borrow_mut() = Some((place, msg)));
    }));
}

/// Runs `data` through a target; Err holds the panic's place and message.
pub fn execute(f: &mut dyn FnMut(&[u8]) -> u64, data: &[u8]) -> Result<u64, (String, String)> {
    panic::catch_unwind(AssertUnwindSafe(|| f(data))).map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_default()
    })
}

/// The files of a directory, sorted by name (missing directory: none).
pub fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

/// The driver's own clock: it bounds runs by wall time and spots hangs, outside the daemon's
/// injected time.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn hash_of(data: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    h.finish()
}

/// Writes `data` as `<artifacts>/<target>/<kind>-<hash>`.
fn write_artifact(artifacts: &Path, target: &str, kind: &str, data: &[u8]) -> PathBuf {
    let dir = artifacts.join(target);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{kind}-{:016x}", hash_of(data)));
    if let Err(e) = std::fs::write(&path, data) {
        eprintln!("cannot write {}: {e}", path.display());
    }
    path
}

/// Watches the execution in progress: one that runs longer than `hang` is written out as a
/// `timeout-` artifact and the process exits with status 3.
struct Watchdog {
    started_ms: Arc<AtomicU64>,
    current: Arc<Mutex<Vec<u8>>>,
    epoch: Instant,
}

impl Watchdog {
    fn start(target: &'static str, artifacts: PathBuf, hang: Duration) -> Watchdog {
        let dog = Watchdog {
            started_ms: Arc::new(AtomicU64::new(0)),
            current: Arc::new(Mutex::new(Vec::new())),
            epoch: now(),
        };
        let (started, current, epoch) = (dog.started_ms.clone(), dog.current.clone(), dog.epoch);
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(250));
            let s = started.load(Ordering::Relaxed);
            if s == u64::MAX {
                return;
            }
            let now = epoch.elapsed().as_millis() as u64;
            if s != 0 && now.saturating_sub(s) > hang.as_millis() as u64 {
                let data = current.lock().map(|d| d.clone()).unwrap_or_default();
                let p = write_artifact(&artifacts, target, "timeout", &data);
                eprintln!(
                    "{target}: one execution ran longer than {hang:?}; input written to {}",
                    p.display()
                );
                std::process::exit(3);
            }
        });
        dog
    }

    fn begin(&self, data: &[u8]) {
        if let Ok(mut c) = self.current.lock() {
            c.clear();
            c.extend_from_slice(data);
        }
        let now = self.epoch.elapsed().as_millis() as u64;
        self.started_ms.store(now.max(1), Ordering::Relaxed);
    }

    fn end(&self) {
        self.started_ms.store(0, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.started_ms.store(u64::MAX, Ordering::Relaxed);
    }
}

/// Runs `target` as `opts` say.
pub fn fuzz(target: &Target, opts: &Options) -> Report {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut corpus: Vec<Vec<u8>> = read_dir_files(&opts.corpus.join(target.name))
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mutator = Mutator::new(&corpus, target.max_len);
    let dog = Watchdog::start(target.name, opts.artifacts.clone(), opts.hang);
    let mut f = (target.make)();
    let mut seen = HashSet::new();
    let mut report = Report {
        execs: 0,
        elapsed: Duration::ZERO,
        corpus: 0,
        signatures: 0,
        crashes: 0,
        unique: Vec::new(),
    };
    let mut places = HashSet::new();
    let start = now();
    // The seeds first, unmutated.
    let mut queue: Vec<Vec<u8>> = corpus.clone();
    queue.reverse();
    loop {
        if report.execs.is_multiple_of(64) && start.elapsed() >= opts.duration {
            break;
        }
        if opts.runs != 0 && report.execs >= opts.runs {
            break;
        }
        let input = queue.pop().unwrap_or_else(|| {
            let base = &corpus[rng.random_range(0..corpus.len())];
            mutator.mutate(&mut rng, base, &corpus)
        });
        dog.begin(&input);
        let result = execute(&mut *f, &input);
        dog.end();
        report.execs += 1;
        match result {
            Ok(sig) => {
                if seen.insert(sig) {
                    if corpus.len() < MAX_CORPUS {
                        corpus.push(input);
                    } else {
                        let i = rng.random_range(0..corpus.len());
                        corpus[i] = input;
                    }
                }
            }
            Err((place, msg)) => {
                report.crashes += 1;
                if places.insert(place.clone()) {
                    let p = write_artifact(&opts.artifacts, target.name, "crash", &input);
                    eprintln!(
                        "{}: panic at {place}: {msg}\n  input: {}",
                        target.name,
                        p.display()
                    );
                    report.unique.push((place, p));
                }
                // No state survives a panic.
                f = (target.make)();
            }
        }
    }
    report.elapsed = start.elapsed();
    report.corpus = corpus.len();
    report.signatures = seen.len();
    report
}
