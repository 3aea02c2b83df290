//! The lab: an in-process authoritative DNS server with fault injection.
//!
//! Integration tests of the probe engine and of grading end to end, and `dnsgrade lab`, need
//! DNS servers that misbehave on cue. A [`LabServer`] serves one or more [`Zone`]s over UDP
//! and TCP on one loopback address and port, answering as an authoritative server does
//! (answer, referral with glue, NODATA, NXDOMAIN, REFUSED; EDNS with NSID; TC=1 when a UDP
//! reply does not fit). [`Faults`] make it misbehave, from the next query on: stop, drop a
//! share of queries, delay replies, answer a chosen RCODE, return wrong or missing data for
//! a fixed share of names, send malformed or mismatched-ID replies, truncate UDP, or serve a
//! stale SOA serial. [`LabCounters`] say what it did, so a test can check that the fault it
//! asked for happened.
//!
//! It only ever answers the clients that query it; bind it to a loopback address.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use dnsgrade::lab::{Faults, LabServer, Zone};
//! use std::time::Duration;
//!
//! let tld = Zone::synthetic_tld("cn.", 1_000);
//! let example = Zone::parse(
//!     "example.cn.",
//!     "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n",
//! )
//! .expect("zone");
//! let server = LabServer::start("127.0.0.1:0".parse().unwrap(), vec![tld, example]).await?;
//! println!("serving on {} (UDP and TCP)", server.local_addr());
//!
//! // A slow node that loses 5% of queries and has wrong data for 1% of names.
//! server.set_faults(Faults {
//!     drop_ratio: 0.05,
//!     delay: Duration::from_millis(800),
//!     wrong_ratio: 0.01,
//!     ..Faults::default()
//! });
//! // ... probe it ...
//! println!("{:?}", server.counters());
//! server.stop().await;
//! # Ok(()) }
//! ```
//!
//! Layout: [`zone`](Zone) holds the data and the answer logic, `parse` builds a zone from
//! master-file text (read by [`crate::zonefile`]),
//! [`faults`](Faults) says what goes wrong, `respond` turns one query into one reply (or none)
//! with the faults applied, `axfr` serves zone transfers over TCP (the zone as it is when
//! the transfer starts; [`LabServer::set_zones`] replaces it), and `server` owns the sockets
//! and tasks. `dnsgrade lab`, the scripted tour of the matrix on an in-process topology of these
//! servers, is [`crate::walkthrough`]: it runs the daemon, which the lab itself never imports.

mod axfr;
mod counters;
mod error;
mod faults;
mod parse;
mod respond;
mod server;
mod zone;

pub use counters::LabCounters;
pub use error::LabError;
pub use faults::{name_share, Faults};
pub use server::LabServer;
pub use zone::{AnswerKind, Zone, ZoneAnswer};

#[cfg(test)]
mod tests;
