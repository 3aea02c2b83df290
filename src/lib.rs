//! # dnsgrade
//!
//! A daemon that watches the Domain Name System covered by China's MIIT domain-name incident
//! plan (2011) and grades what it sees by that plan's severity matrix: 特别重大 / 重大 / 较大 /
//! 一般 (levels I–IV).
//!
//! ## Data flow
//!
//! ```text
//! probes.toml ─► config (typed, validated, errors with file:line:column)
//!                   │
//!                   ▼
//!   plan: every target × its checks × a jittered schedule
//!                   │
//!   probers (tokio; governor limits per server and global; a cap on probes in flight;
//!            a shared pool of UDP sockets on random ports; TCP fallback on TC=1)
//!                   │ ProbeResult { server, check, sent_at, rtt, outcome, verdict }
//!                   ▼ bounded channel
//!   stats: per server, a ring of time slices (outcome counts + HDR latency histogram)
//!                   │ window snapshot: samples, success ratio and its 95% Wilson interval,
//!                   │ latency quantiles, data error ratio and its interval
//!                   ▼
//!   grading: rules + window snapshots + condition clocks + confirmations + now → assessments
//!                   │ (pure; one per object: grade, candidate, reasons, evidence, authority)
//!                   ▼
//!   incidents: lifecycle + condition clocks in SQLite, written before acted on
//!                   │ (every delivered event also gets an outbox row, same transaction)
//!                   ▼
//!   alerts: per-sink outbox workers → signed webhooks, Alertmanager v2 API
//!   /metrics (prometheus text format), /healthz, /api/v1/status, /api/v1/incidents
//! ```
//!
//! ## Layout
//!
//! - [`cli`]: text output of `check-config` and `probe`.
//! - [`clock`]: the only place that reads the wall clock; everything else takes time as a value.
//! - [`config`]: the `probes.toml` schema, defaults and validation with source spans.
//! - [`probe`]: the DNS probe engine (UDP socket pool, TCP), outcome kinds, the scheduler.
//! - [`stats`]: time-sliced windows, HDR latency, Wilson intervals.
//! - [`metrics`]: every metric name, its HELP text and its labels.
//! - [`http`]: the axum server (`/metrics`, `/healthz`).
//! - [`lab`]: an in-process authoritative DNS server with fault injection, for tests and
//!   `dnsgrade lab`.
//! - [`grading`]: the matrix as a pure function; [`incident`]: clocks, lifecycle, SQLite ledger.
//! - [`evaluator`]: the tick that turns statistics into grades and incidents.
//! - [`alert`]: the durable outbox and its sinks (webhooks, Alertmanager).
//! - [`drill`]: synthetic incidents that exercise the whole chain (应急演练).
//! - [`status_page`]: the HTML status page at `/`.
//! - [`reference`](mod@reference): reference delegations, streamed from a zone file or transferred by AXFR.
//! - [`sweep`]: `dnsgrade sweep`, every delegation of a zone against one node.
//! - [`daemon`]: wires the parts together for `dnsgrade run`.

pub mod alert;
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
pub mod metrics;
pub mod probe;
pub mod reference;
pub mod stats;
pub mod status_page;
pub mod sweep;
