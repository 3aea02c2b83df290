//! The lab: an in-process authoritative DNS server with fault injection.
//!
//! Integration tests (and `dnsgrade lab`) start [`LabServer`]s on loopback addresses, serve
//! [`Zone`]s from them, and inject [`Faults`] — drop a share of queries, delay replies, answer
//! a chosen RCODE, return wrong or missing data for a share of names, send malformed or
//! mismatched-ID replies, truncate UDP, serve a stale SOA serial, or stop — to see that
//! dnsgrade counts and grades each one right. Nothing here sends traffic anywhere but to the
//! clients that query it.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use dnsgrade::lab::{Faults, LabServer, Zone};
//! let zone = Zone::synthetic_tld("cn.", 1000);
//! let server = LabServer::start("127.0.0.1:0".parse().unwrap(), vec![zone]).await?;
//! server.set_faults(Faults { drop_ratio: 0.5, ..Faults::default() });
//! println!("serving on {}", server.local_addr());
//! server.stop().await;
//! # Ok(()) }
//! ```

mod faults;
mod server;
mod zone;

pub use faults::{name_share, Faults};
pub use server::{LabCounters, LabServer};
pub use zone::{Zone, ZoneAnswer};

/// Errors of the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// Zone text could not be parsed.
    #[error("zone: {0}")]
    Zone(String),
}

#[cfg(test)]
mod tests;
