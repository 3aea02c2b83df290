//! What grading says about one object at one moment.

use super::Level;
use crate::clock::UnixMillis;
use serde::Serialize;

pub use crate::config::ObjectKey;

/// Who leads the response (plan section 5.1) and who is notified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authority {
    /// The lead, in Chinese (互联网应急办, 广东省通信管理局, 涉事单位自行处置).
    pub lead_zh: String,
    /// The lead, in English.
    pub lead_en: String,
    /// Others to notify (CNCERT for levels I–III), Chinese names.
    pub notify: Vec<String>,
}

/// Per-server figures behind an assessment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerEvidence {
    /// Server name and address, "a.dns.cn 203.119.25.1:53".
    pub server: String,
    /// Probes of the configured checks in the window (what the success ratio is over).
    pub samples: u64,
    /// Success ratio point estimate, if any samples.
    pub success: Option<f64>,
    /// Wilson lower bound.
    pub success_lower: f64,
    /// Wilson upper bound.
    pub success_upper: f64,
    /// Latency quantile used by the rules, seconds.
    pub latency_s: Option<f64>,
    /// Replies whose data was checked in the window (configured checks and samples against
    /// the reference together).
    pub checked: u64,
    /// Data error ratio point estimate, if anything was checked.
    pub data_error: Option<f64>,
    /// Wilson lower bound of the data error ratio.
    pub data_error_lower: f64,
    /// Stopped (no success in the stop window with enough attempts).
    pub stopped: bool,
    /// Bad node (success upper bound below the threshold, or latency above it).
    pub bad: bool,
    /// Too few samples to judge.
    pub unknown: bool,
}

/// The next grade a running condition reaches, and when (e.g. a multi-province resolver
/// stopped 20 minutes: level IV now, level II at onset + 1 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Escalation {
    /// The grade it will reach.
    pub grade: Level,
    /// When, in Unix milliseconds.
    pub at: UnixMillis,
}

/// The grade of one object now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// `class/name`.
    pub object: ObjectKey,
    /// The grade, or None when healthy (or unknown).
    pub grade: Option<Level>,
    /// A higher grade that awaits a person's confirmation of social impact (docs/matrix.md:
    /// tier-1 institution stopped → candidate I; tier-1 website stopped → candidate III).
    pub candidate: Option<Level>,
    /// The rule that fired, by its stable id ([`super::RuleId::as_str`], e.g.
    /// `tld.bad_nodes_half`), None when healthy. Kept as text here: the ledger, the API and
    /// alerts carry it as text, and an incident written by an earlier version may name a rule
    /// this one no longer has.
    pub rule: Option<String>,
    /// Reasons in Chinese, one sentence each.
    pub reasons_zh: Vec<String>,
    /// Reasons in English, one sentence each.
    pub reasons_en: Vec<String>,
    /// Per-server evidence.
    pub evidence: Vec<ServerEvidence>,
    /// Who leads and who to notify, for the grade (None when no grade).
    pub authority: Option<Authority>,
    /// When the condition behind the grade began (its clock's onset).
    pub onset: Option<UnixMillis>,
    /// The next escalation of a running clock, if any.
    pub next_escalation: Option<Escalation>,
}
