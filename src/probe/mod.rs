//! The probe engine: one DNS query to one server address over one transport is one
//! measurement (docs/matrix.md, "What is measured").
//!
//! - [`classify`]: query building and reply classification (pure).
//! - [`dnssec`]: RRSIG validity windows of replies from signed zones (pure).
//! - [`Prober`]: sends queries over a shared pool of UDP sockets (random source ports, random
//!   IDs, replies matched on source, ID and question) or over TCP, falling back to TCP on TC=1.
//! - [`schedule`]: spreads probes over the interval with jitter, under governor rate limits and
//!   a cap on probes in flight.

pub mod classify;
pub mod dnssec;
mod outcome;
mod prober;
pub mod registry;
pub mod runtime;
pub mod schedule;

pub use classify::Question;
pub use outcome::{Outcome, Verdict};
pub use prober::{ProbeReply, Prober, ProberConfig, ProberCounters};
