//! The roster's review (`[[contact]]`, `[daemon] contact_review_every`): contacts whose
//! `reviewed_at` is older than the review period are counted in
//! `dnsgrade_contacts_review_overdue{authority}` on every tick, and logged as warnings at the
//! first tick and then once a day, by the daemon's clock.
//!
//! The gauge's only label is the authority's normalised name (互联网应急办, 广东通信管理局) or the
//! unit's name: configuration, not personal data. The log names the person and role, to say
//! whom to call back, never the phone or the email.

use crate::clock::{format_rfc3339, UnixMillis};
use crate::config::Config;
use crate::metrics::Metrics;
use std::collections::BTreeMap;

const DAY_MS: u64 = 86_400_000;

/// When the overdue contacts were last logged.
#[derive(Debug, Default)]
pub(super) struct ContactReview {
    last_logged: Option<UnixMillis>,
}

impl ContactReview {
    /// Sets the gauge from `config` at `now`, and logs the overdue contacts when a day has
    /// passed since the last log (or none was written yet). Returns how many it logged, None
    /// when it was not the time to.
    pub(super) fn check(
        &mut self,
        config: &Config,
        metrics: &Metrics,
        now: UnixMillis,
    ) -> Option<usize> {
        set_overdue_gauge(config, metrics, now);
        if self
            .last_logged
            .is_some_and(|t| now.saturating_sub(t) < DAY_MS)
        {
            return None;
        }
        self.last_logged = Some(now);
        Some(log_overdue(config, now))
    }
}

/// Overdue contacts per authority or unit; every one in the roster has a series, 0 when its
/// contacts are current, and those no longer in the roster lose theirs.
pub fn set_overdue_gauge(config: &Config, metrics: &Metrics, now: UnixMillis) {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for c in &config.contacts {
        let n = counts.entry(c.owner.name()).or_default();
        if c.overdue(now, config.daemon.contact_review_every) {
            *n += 1;
        }
    }
    let g = &metrics.contacts_review_overdue;
    g.reset();
    for (owner, n) in counts {
        g.with_label_values(&[owner]).set(n);
    }
}

/// One warning per overdue contact; returns how many.
fn log_overdue(config: &Config, now: UnixMillis) -> usize {
    let every = config.daemon.contact_review_every;
    let overdue = config.overdue_contacts(now);
    for c in &overdue {
        tracing::warn!(
            for_ = c.owner.name(),
            name = %c.name,
            role = %c.role,
            reviewed_at = %c.reviewed_at,
            due = %format_rfc3339(c.review_due(every)),
            "contact overdue for review: check the person is still responsible and reachable, then update reviewed_at"
        );
    }
    overdue.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::parse_rfc3339;

    const CONFIG: &str = r#"
[[contact]]
authority = "广东省通信管理局"
name = "Placeholder Zhang"
role = "duty officer"
phone = "020-0000-0000"
reviewed_at = 2026-09-01

[[contact]]
authority = "广东"
name = "Placeholder Wang"
role = "deputy"
email = "wang@example.invalid"
reviewed_at = 2026-11-01

[[contact]]
unit = "DNS operations"
name = "NOC on call"
role = "on-call engineer"
phone = "000-0000-0000"
reviewed_at = 2026-11-20
"#;

    fn gauge(m: &Metrics, owner: &str) -> i64 {
        m.contacts_review_overdue.with_label_values(&[owner]).get()
    }

    #[test]
    fn overdue_contacts_are_counted_per_authority_and_logged_daily_by_the_clock() {
        let config = crate::config::parse(std::path::Path::new("t.toml"), CONFIG).expect("config");
        let m = Metrics::new();
        let mut review = ContactReview::default();
        // 2026-09-01 + 90 days falls due at 2026-11-30T00:00+08:00.
        let t0 = parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
        assert_eq!(review.check(&config, &m, t0), Some(1));
        assert_eq!(gauge(&m, "广东通信管理局"), 1);
        assert_eq!(gauge(&m, "DNS operations"), 0);
        // Ticks within the day update the gauge without logging again.
        assert_eq!(review.check(&config, &m, t0 + DAY_MS - 1), None);
        assert_eq!(review.check(&config, &m, t0 + DAY_MS), Some(1));
        // By February 2027 the second Guangdong contact (due 2027-01-30) is overdue too.
        let later = parse_rfc3339("2027-02-01T00:00:00Z").unwrap();
        assert_eq!(review.check(&config, &m, later), Some(2));
        assert_eq!(gauge(&m, "广东通信管理局"), 2);
        // The exposition has counts by authority only: no name, role, phone or email.
        let text = m.render();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(crate::metrics::CONTACTS_REVIEW_OVERDUE))
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        for personal in [
            "Placeholder",
            "NOC on call",
            "020-0000-0000",
            "example.invalid",
            "duty officer",
        ] {
            assert!(!text.contains(personal), "{personal} in the metrics");
        }
    }

    #[test]
    fn a_roster_emptied_by_a_reload_leaves_no_series() {
        let config = crate::config::parse(std::path::Path::new("t.toml"), CONFIG).expect("config");
        let m = Metrics::new();
        set_overdue_gauge(&config, &m, 0);
        let empty = crate::config::parse(std::path::Path::new("t.toml"), "").expect("config");
        set_overdue_gauge(&empty, &m, 0);
        assert!(!m.render().contains("dnsgrade_contacts_review_overdue{"));
    }
}
