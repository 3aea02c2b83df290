//! `[alert]`: the outbox's durations and the sinks (`[[alert.webhook]]`,
//! `[[alert.alertmanager]]`) with their filters.

use super::{normalize_authority, Validator};
use crate::config::duration::HumanDuration;
use crate::config::model::*;
use crate::config::raw::{RawAlert, RawAlertmanager, RawWebhook};
use std::collections::HashMap;
use std::time::Duration;
use toml::Spanned;

/// Sink names seen so far, with the line of each.
type SinkNames = HashMap<String, usize>;

impl Validator<'_> {
    pub(super) fn alert(&mut self, a: &RawAlert) -> AlertConfig {
        let give_up_after = self.duration(&a.give_up_after, DEFAULT_GIVE_UP_AFTER);
        if let Some(g) = &a.give_up_after {
            if give_up_after < Duration::from_secs(60)
                || give_up_after > Duration::from_secs(30 * 86_400)
            {
                self.err(g, "give_up_after must be between 1m and 30d (it must end before the ledger retention prunes the event)");
            }
        }
        let resend_interval = self.duration(&a.resend_interval, DEFAULT_RESEND_INTERVAL);
        if let Some(r) = &a.resend_interval {
            if resend_interval < Duration::from_secs(1)
                || resend_interval > Duration::from_secs(3600)
            {
                self.err(r, "resend_interval must be between 1s and 1h; keep it well below Alertmanager's resolve_timeout (5m by default)");
            }
        }
        let resend_resolved_for =
            self.duration(&a.resend_resolved_for, DEFAULT_RESEND_RESOLVED_FOR);
        if let Some(r) = &a.resend_resolved_for {
            if resend_resolved_for > Duration::from_secs(86_400) {
                self.err(r, "resend_resolved_for must be at most 24h");
            }
        }
        let mut sinks = Vec::new();
        let mut names = SinkNames::new();
        for w in &a.webhook {
            sinks.extend(self.webhook(&mut names, w.get_ref()));
        }
        for m in &a.alertmanager {
            sinks.extend(self.alertmanager(&mut names, m.get_ref()));
        }
        AlertConfig {
            give_up_after,
            resend_interval,
            resend_resolved_for,
            sinks,
        }
    }

    fn webhook(&mut self, names: &mut SinkNames, w: &RawWebhook) -> Option<SinkConfig> {
        let n = self.sink_name(names, &w.name);
        let url = self.sink_url(&w.url);
        let secret = self.webhook_secret(w);
        let filter = self.sink_filter(&w.min_grade, &w.classes, &w.authority);
        let timeout = self.sink_timeout(&w.timeout);
        Some(SinkConfig {
            name: n?,
            kind: SinkKind::Webhook,
            url: url?,
            secret,
            filter,
            timeout,
        })
    }

    fn alertmanager(&mut self, names: &mut SinkNames, m: &RawAlertmanager) -> Option<SinkConfig> {
        let n = self.sink_name(names, &m.name);
        let url = self.sink_url(&m.url);
        let filter = self.sink_filter(&m.min_grade, &m.classes, &m.authority);
        let timeout = self.sink_timeout(&m.timeout);
        Some(SinkConfig {
            name: n?,
            kind: SinkKind::Alertmanager,
            url: url?.trim_end_matches('/').to_string(),
            secret: None,
            filter,
            timeout,
        })
    }

    /// A sink's name: a metric label, unique among the sinks.
    fn sink_name(&mut self, names: &mut SinkNames, n: &Spanned<String>) -> Option<String> {
        let t = n.get_ref().trim();
        if t.is_empty()
            || t.len() > 64
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            self.err(n, format!("sink name \"{t}\" must be 1 to 64 characters of A-Z a-z 0-9 - _ . (it is a metric label)"));
            return None;
        }
        let line = self.line_of(n);
        if let Some(prev) = names.insert(t.to_string(), line) {
            self.err(
                n,
                format!("duplicate sink name \"{t}\": already used at line {prev}"),
            );
            return None;
        }
        Some(t.to_string())
    }

    /// A webhook's HMAC key: written as `secret` or read from `secret_env`.
    fn webhook_secret(&mut self, w: &RawWebhook) -> Option<Secret> {
        match (&w.secret, &w.secret_env) {
            (Some(s), Some(_)) => {
                self.err(s, "write either secret or secret_env, not both");
                None
            }
            (Some(s), None) => {
                if s.get_ref().is_empty() {
                    self.err(s, "secret is empty");
                }
                Some(Secret::new(s.get_ref().clone()))
            }
            (None, Some(e)) => match std::env::var(e.get_ref()) {
                Ok(v) if !v.is_empty() => Some(Secret::new(v)),
                _ => {
                    self.err(
                        e,
                        format!(
                            "environment variable {} (secret_env) is not set or empty",
                            e.get_ref()
                        ),
                    );
                    None
                }
            },
            (None, None) => None,
        }
    }

    fn sink_url(&mut self, u: &Spanned<String>) -> Option<String> {
        let t = u.get_ref().trim();
        match reqwest::Url::parse(t) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(t.to_string())
            }
            _ => {
                self.err(
                    u,
                    format!("url \"{t}\" is not an http:// or https:// URL with a host"),
                );
                None
            }
        }
    }

    fn sink_timeout(&mut self, t: &Option<Spanned<HumanDuration>>) -> Duration {
        let timeout = self.duration(t, DEFAULT_SINK_TIMEOUT);
        if let Some(s) = t {
            if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(120) {
                self.err(s, "timeout must be between 100ms and 120s");
            }
        }
        timeout
    }

    fn sink_filter(
        &mut self,
        min_grade: &Option<Spanned<String>>,
        classes: &[Spanned<String>],
        authority: &Option<Spanned<String>>,
    ) -> SinkFilter {
        let min_grade = min_grade.as_ref().and_then(|g| {
            let t = g.get_ref().trim();
            let l = crate::level::Level::from_roman(t);
            if l.is_none() {
                self.err(
                    g,
                    format!("min_grade must be \"I\", \"II\", \"III\" or \"IV\", not \"{t}\""),
                );
            }
            l
        });
        let mut cls = Vec::new();
        for c in classes {
            let t = c.get_ref().trim();
            match ObjectClass::ALL
                .into_iter()
                .find(|k| k.as_str() == t && *k != ObjectClass::Control)
            {
                Some(k) => cls.push(k),
                None => self.err(c, format!("class must be one of \"tld\", \"institution\", \"website\", \"recursive\", not \"{t}\"")),
            }
        }
        let authority = authority
            .as_ref()
            .and_then(|a| self.nonempty(a, "authority"))
            .map(|t| normalize_authority(&t));
        SinkFilter {
            min_grade,
            classes: cls,
            authority,
        }
    }
}
