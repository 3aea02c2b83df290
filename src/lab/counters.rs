//! What a lab server did, counted, so tests can assert that a fault really happened.

use std::sync::atomic::{AtomicU64, Ordering};

/// Declares [`LabCounters`] (a plain snapshot) and `Counters` (the live atomics) with the
/// same fields, so the two cannot drift apart.
macro_rules! counters {
    ($( $(#[$doc:meta])* $field:ident, )*) => {
        /// A snapshot of what a [`LabServer`](super::LabServer) did since it started.
        /// `queries` counts every message received; each then either gets a reply (`replies`
        /// counts those written to the network) or is counted in one of `stopped`, `dropped`,
        /// `overloaded` or `ignored`. The other counters say which faults and special cases
        /// shaped the replies.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct LabCounters {
            $( $(#[$doc])* pub $field: u64, )*
        }

        /// The live counters, shared by the server's tasks.
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $( pub(crate) $field: AtomicU64, )*
        }

        impl Counters {
            /// The current values.
            pub(crate) fn snapshot(&self) -> LabCounters {
                LabCounters {
                    $( $field: self.$field.load(Ordering::Relaxed), )*
                }
            }
        }
    };
}

counters! {
    /// DNS messages received, over UDP and TCP.
    queries,
    /// Replies written to the network (faulty ones included).
    replies,
    /// Queries not answered because the server is `stopped` (plus TCP connections closed on
    /// accept for the same reason).
    stopped,
    /// Queries dropped at random by `drop_ratio`.
    dropped,
    /// Queries not answered because too many delayed replies or TCP connections were pending.
    overloaded,
    /// Messages ignored because their header was unreadable or they were responses.
    ignored,
    /// Malformed queries answered FORMERR (or NOTIMP for an opcode other than QUERY).
    bad_queries,
    /// Queries for names outside every zone, answered REFUSED.
    refused,
    /// Replies whose RCODE was replaced by the `rcode` fault.
    rcode,
    /// Replies with wrong data (`wrong_ratio`, `wrong_names`).
    wrong,
    /// Replies answered NXDOMAIN for an existing name (`missing_ratio`).
    missing,
    /// Replies replaced by garbage (`malformed_ratio`).
    malformed,
    /// Replies sent with another ID (`mismatch_id_ratio`).
    mismatched_id,
    /// Replies whose SOA serial was replaced (`serial_override`).
    stale_serial,
    /// UDP replies sent empty with TC=1, because of `truncate_udp` or their size.
    truncated,
    /// Replies held back by `delay`.
    delayed,
    /// TCP connections accepted.
    tcp_connections,
    /// Zone transfers (AXFR over TCP) served whole.
    transfers,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
