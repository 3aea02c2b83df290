//! [`RuleId`]: which cell of the matrix a finding comes from.

/// The matrix cell behind a finding. Its [`RuleId::as_str`] text is stable: the ledger stores
/// it (`incidents.rule`), alerts carry it, and condition clocks are keyed by it, so a variant
/// may be added but an id is never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleId {
    /// TLD: every node stopped (I).
    TldSystemStopped,
    /// TLD: bad nodes at least half of the nodes (II).
    TldBadNodesHalf,
    /// TLD: some, fewer than half, of the nodes bad (III).
    TldBadNodesSome,
    /// TLD: a node's data error ratio above the level-II line.
    TldDataErrorIi,
    /// TLD: a node's data error ratio above the level-III line.
    TldDataErrorIii,
    /// TLD: a data error on a key domain (II).
    TldKeyDomainError,
    /// TLD: the registration service (EPP) unavailable (IV, III after 4 h).
    TldRegistrationUnavailable,
    /// TLD: the registration service degraded (IV).
    TldRegistrationDegraded,
    /// TLD: the query service (RDAP, WHOIS) unavailable (IV).
    TldQueryUnavailable,
    /// Institution: a registration system unavailable (IV).
    InstitutionRegistrationUnavailable,
    /// Institution: a tier-1 system stopped (II, candidate I).
    InstitutionTier1Stopped,
    /// Institution, tier 1: system success below the level-II line.
    InstitutionTier1SuccessIi,
    /// Institution, tier 1: system success below the level-III line.
    InstitutionTier1SuccessIii,
    /// Institution, tier 1: latency above the threshold (II).
    InstitutionTier1Latency,
    /// Institution, tier 1: data error ratio above the level-II line.
    InstitutionTier1DataErrorIi,
    /// Institution, tier 1: data error ratio above the level-III line.
    InstitutionTier1DataErrorIii,
    /// Institution, tier 2: any degradation (IV).
    InstitutionTier2Degraded,
    /// Website: stopped (IV, candidate III for tier 1).
    WebsiteTier1Stopped,
    /// Website: a bad node or data errors (IV).
    WebsiteFailing,
    /// Recursive: a resolver system stopped (IV, III or II after 1 h by coverage).
    RecursiveStopped,
}

impl RuleId {
    /// Every rule.
    pub const ALL: [RuleId; 20] = [
        RuleId::TldSystemStopped,
        RuleId::TldBadNodesHalf,
        RuleId::TldBadNodesSome,
        RuleId::TldDataErrorIi,
        RuleId::TldDataErrorIii,
        RuleId::TldKeyDomainError,
        RuleId::TldRegistrationUnavailable,
        RuleId::TldRegistrationDegraded,
        RuleId::TldQueryUnavailable,
        RuleId::InstitutionRegistrationUnavailable,
        RuleId::InstitutionTier1Stopped,
        RuleId::InstitutionTier1SuccessIi,
        RuleId::InstitutionTier1SuccessIii,
        RuleId::InstitutionTier1Latency,
        RuleId::InstitutionTier1DataErrorIi,
        RuleId::InstitutionTier1DataErrorIii,
        RuleId::InstitutionTier2Degraded,
        RuleId::WebsiteTier1Stopped,
        RuleId::WebsiteFailing,
        RuleId::RecursiveStopped,
    ];

    /// The stable id, `class.cell`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::TldSystemStopped => "tld.system_stopped",
            RuleId::TldBadNodesHalf => "tld.bad_nodes_half",
            RuleId::TldBadNodesSome => "tld.bad_nodes_some",
            RuleId::TldDataErrorIi => "tld.data_error_ii",
            RuleId::TldDataErrorIii => "tld.data_error_iii",
            RuleId::TldKeyDomainError => "tld.key_domain_error",
            RuleId::TldRegistrationUnavailable => "tld.registration_unavailable",
            RuleId::TldRegistrationDegraded => "tld.registration_degraded",
            RuleId::TldQueryUnavailable => "tld.query_unavailable",
            RuleId::InstitutionRegistrationUnavailable => "institution.registration_unavailable",
            RuleId::InstitutionTier1Stopped => "institution.tier1_stopped",
            RuleId::InstitutionTier1SuccessIi => "institution.tier1_success_ii",
            RuleId::InstitutionTier1SuccessIii => "institution.tier1_success_iii",
            RuleId::InstitutionTier1Latency => "institution.tier1_latency",
            RuleId::InstitutionTier1DataErrorIi => "institution.tier1_data_error_ii",
            RuleId::InstitutionTier1DataErrorIii => "institution.tier1_data_error_iii",
            RuleId::InstitutionTier2Degraded => "institution.tier2_degraded",
            RuleId::WebsiteTier1Stopped => "website.tier1_stopped",
            RuleId::WebsiteFailing => "website.failing",
            RuleId::RecursiveStopped => "recursive.stopped",
        }
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RuleId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        RuleId::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("\"{s}\" is not a rule id"))
    }
}

#[cfg(test)]
mod tests {
    use super::RuleId;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_unique_parse_back_and_name_their_class() {
        let ids: BTreeSet<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(ids.len(), RuleId::ALL.len(), "ids are unique");
        for r in RuleId::ALL {
            assert_eq!(r.as_str().parse::<RuleId>(), Ok(r));
            let class = r.as_str().split('.').next().unwrap_or_default();
            assert!(
                ["tld", "institution", "website", "recursive"].contains(&class),
                "{r}"
            );
        }
        assert!("tld.nope".parse::<RuleId>().is_err());
    }
}
