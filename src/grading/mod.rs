//! Grading by the matrix: a pure function of (statistics snapshot, rules, condition clocks,
//! human confirmations, now) → one [`Assessment`] per object.

mod assessment;
mod clocks;
mod evaluate;
mod rule_id;
mod rules;

pub use crate::level::Level;
pub use assessment::{Assessment, Authority, Escalation, ObjectKey, ServerEvidence};
pub(crate) use clocks::millis;
pub use clocks::{ClockState, ConditionClocks};
pub use evaluate::{
    authority, evaluate, object_key, AddressInput, ObjectInput, RegistryInput, ServerInput,
};
pub use rule_id::RuleId;
pub use rules::{
    z_for, AuthorityNames, InstitutionRules, Measure, RecursiveRules, Rules, TldRules,
    WebsiteRules, MIIT_2011,
};

#[cfg(test)]
mod tests;
