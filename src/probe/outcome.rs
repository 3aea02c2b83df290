//! What one probe saw: the outcome kind and, for checked answers, the data verdict.

use serde::Serialize;

/// The result kind of one probe. Every probe ends in exactly one of these.
///
/// Only [`Outcome::Ok`] (and [`Outcome::Nxdomain`] when the name was expected not to exist,
/// which the prober reports as `Ok`) is a success; every other kind is a failure counted by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A matching reply with an accepted RCODE and the right AA/referral shape.
    Ok,
    /// No matching reply before the probe timeout.
    Timeout,
    /// RCODE SERVFAIL.
    Servfail,
    /// RCODE REFUSED.
    Refused,
    /// RCODE NXDOMAIN for a name that was expected to exist.
    Nxdomain,
    /// RCODE FORMERR.
    Formerr,
    /// Any other RCODE (NOTIMP, NOTAUTH, BADVERS, YXDOMAIN, ...).
    OtherRcode,
    /// NOERROR from an authoritative target without the AA bit and without a referral: the
    /// server does not (or no longer) serve the zone (a lame server).
    Lame,
    /// A reply that could not be parsed as a DNS message.
    Malformed,
    /// A parseable reply whose ID, question or source did not match the query in flight.
    Mismatch,
    /// The query could not be sent or the connection failed (ICMP unreachable, TCP reset, ...).
    NetworkError,
    /// The monitor could not make the probe: out of file descriptors (EMFILE, ENFILE), buffers
    /// or memory (ENOBUFS, ENOMEM), local ports (EADDRNOTAVAIL), no socket of the address
    /// family, or the local firewall refused it (EPERM, EACCES). The monitor's fault, never
    /// the server's: counted and shown, left out of every ratio, and grading is suspended when
    /// it touches many addresses (docs/matrix.md, "Monitor health").
    LocalError,
}

impl Outcome {
    /// Every outcome kind, in a fixed order (the index used by counters).
    pub const ALL: [Outcome; 12] = [
        Outcome::Ok,
        Outcome::Timeout,
        Outcome::Servfail,
        Outcome::Refused,
        Outcome::Nxdomain,
        Outcome::Formerr,
        Outcome::OtherRcode,
        Outcome::Lame,
        Outcome::Malformed,
        Outcome::Mismatch,
        Outcome::NetworkError,
        Outcome::LocalError,
    ];

    /// Number of kinds.
    pub const COUNT: usize = Self::ALL.len();

    /// Stable index into [`Outcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The kind named by a label value, the inverse of [`Outcome::as_str`].
    pub fn from_label(s: &str) -> Option<Outcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Label value used in metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Timeout => "timeout",
            Outcome::Servfail => "servfail",
            Outcome::Refused => "refused",
            Outcome::Nxdomain => "nxdomain",
            Outcome::Formerr => "formerr",
            Outcome::OtherRcode => "other_rcode",
            Outcome::Lame => "lame",
            Outcome::Malformed => "malformed",
            Outcome::Mismatch => "mismatch",
            Outcome::NetworkError => "network_error",
            Outcome::LocalError => "local_error",
        }
    }

    /// True for the one success kind.
    pub fn is_success(self) -> bool {
        self == Outcome::Ok
    }

    /// True when the probe was a measurement of the server: every kind but
    /// [`Outcome::LocalError`], which says nothing about it.
    pub fn is_attempt(self) -> bool {
        self != Outcome::LocalError
    }

    /// The kind of a failure to send a query or to connect: [`Outcome::LocalError`] when the
    /// error is this host's own (resources, ports, local policy), else
    /// [`Outcome::NetworkError`].
    pub fn of_io_error(e: &std::io::Error) -> Outcome {
        const LOCAL: [i32; 8] = [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ENOMEM,
            libc::EADDRNOTAVAIL,
            libc::EADDRINUSE,
            libc::EPERM,
            libc::EACCES,
        ];
        match e.raw_os_error() {
            Some(code) if LOCAL.contains(&code) => Outcome::LocalError,
            _ => Outcome::NetworkError,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The data-correctness verdict of a successful reply, when it could be checked against a
/// reference (docs/matrix.md, "What is measured").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing to compare with (no reference for this name), or the probe failed.
    Unchecked,
    /// The answer matches the reference.
    Correct,
    /// NXDOMAIN/NODATA where the reference has data.
    Missing,
    /// The RRset differs from the reference (or DNSSEC signatures are expired/invalid).
    Wrong,
}

impl Verdict {
    /// Label value used in metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Unchecked => "unchecked",
            Verdict::Correct => "correct",
            Verdict::Missing => "missing",
            Verdict::Wrong => "wrong",
        }
    }

    /// True when the reply was compared with a reference.
    pub fn is_checked(self) -> bool {
        !matches!(self, Verdict::Unchecked)
    }

    /// True for missing or wrong data.
    pub fn is_error(self) -> bool {
        matches!(self, Verdict::Missing | Verdict::Wrong)
    }
}
