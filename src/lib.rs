//! # dnsgrade
//!
//! A daemon that watches the Domain Name System covered by China's MIIT domain-name incident
//! plan (2011) and grades what it sees by that plan's severity matrix: 特别重大 / 重大 / 较大 /
//! 一般 (levels I–IV).
//!
//! ## Data flow and layers
//!
//! probe → stats (the store of observations) → a tick that snapshots the store under its lock
//! and grades the snapshot without it → incident ledger → alert outbox, with a published
//! state that `http`, the status page and `/metrics` read. docs/architecture.md draws it and
//! gives the floors the modules sit on; `tests/layers.rs` checks that no module imports one
//! above it or beside it.
//!
//! ## Layout, from the bottom
//!
//! - [`clock`]: the only place that reads the wall clock; everything else takes time as a value.
//! - [`level`]: the four grades, 特别重大 / 重大 / 较大 / 一般 (I–IV).
//! - [`metrics`]: every metric family; the per-address ones held compactly.
//! - [`zonefile`]: the one streaming RFC 1035 master-file reader (reference zones, `dnsgrade
//!   sweep`, the lab's zones).
//! - [`config`]: the `probes.toml` schema, defaults and validation with source spans.
//! - [`reference`](mod@reference): reference delegations, streamed from a zone file or
//!   transferred by AXFR.
//! - [`lab`]: in-process authoritative DNS servers with fault injection, for tests and
//!   `dnsgrade lab`.
//! - [`probe`]: the probe engine (UDP socket pool, TCP), outcome kinds, schedules, samplers and
//!   the registry probes.
//! - [`stats`]: time-sliced windows, HDR latency, Wilson intervals, and the store of
//!   observations with node consensus.
//! - [`grading`]: the matrix as pure functions, and the condition clocks it reads.
//! - [`incident`]: lifecycle and the SQLite ledger.
//! - [`alert`]: the durable outbox and its sinks (webhooks, Alertmanager); [`drill`]: synthetic
//!   incidents that exercise the whole chain (应急演练); [`report`]: the periodic report of
//!   the incident-coordination circular (pure figures, HTML, CSV).
//! - [`evaluator`]: the tick that turns statistics into grades and incidents; [`capacity`]:
//!   what a configuration asks of the probe engine; [`sweep`]: `dnsgrade sweep`.
//! - [`state`]: what the daemon publishes for readers; [`status_page`]: the HTML page at `/`.
//! - [`http`]: the axum server.
//! - [`daemon`]: builds the parts and runs them for `dnsgrade run`.
//! - [`walkthrough`]: `dnsgrade lab`; [`cli`]: the text output of `check-config` and `probe`.

pub mod alert;
pub mod capacity;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod drill;
pub mod evaluator;
pub mod grading;
pub mod http;
pub mod incident;
pub mod lab;
pub mod level;
pub mod metrics;
pub mod probe;
pub mod reference;
pub mod report;
pub mod state;
pub mod stats;
pub mod status_page;
pub mod sweep;
pub mod walkthrough;
pub mod zonefile;

/// The git commit this binary was built from (`git rev-parse --short=12 HEAD` at build time,
/// else `$DNSGRADE_REVISION` of the build's environment, else "unknown"); see `build.rs`.
pub const REVISION: &str = env!("DNSGRADE_REVISION");
