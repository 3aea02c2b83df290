//! `[[maintenance]]`: declared maintenance windows of configured objects.

use super::{Validator, MAX_TEXT_CHARS};
use crate::clock::UnixMillis;
use crate::config::model::{Maintenance, Object};
use crate::config::raw::RawMaintenance;
use toml::Spanned;

impl Validator<'_> {
    /// The windows whose object is one of `objects` and whose times are valid.
    pub(super) fn maintenance(
        &mut self,
        list: &[Spanned<RawMaintenance>],
        objects: &[Object],
    ) -> Vec<Maintenance> {
        let mut maintenance = Vec::new();
        for m in list {
            let m = m.get_ref();
            let key = m.object.get_ref().trim();
            let known = key.split_once('/').is_some_and(|(class, name)| {
                objects
                    .iter()
                    .any(|o| o.class.as_str() == class && o.name == name)
            });
            if !known {
                self.err(&m.object, format!("maintenance object \"{key}\" is not a configured object; write class/name, e.g. \"tld/cn\" or \"recursive/gd-resolvers\""));
            }
            let starts = self.utc_time(&m.starts, "2026-11-22T16:00:00Z");
            let ends = self.utc_time(&m.ends, "2026-11-22T18:00:00Z");
            let reason = if m.reason.get_ref().trim().is_empty() {
                Some(String::new())
            } else {
                self.text(&m.reason, "reason", MAX_TEXT_CHARS)
            };
            if let (Some(a), Some(b), Some(reason)) = (starts, ends, reason) {
                if b <= a {
                    self.err(&m.ends, "a maintenance window must end after it starts");
                } else if known {
                    maintenance.push(Maintenance {
                        object: key.to_string(),
                        starts: a,
                        ends: b,
                        reason,
                    });
                }
            }
        }
        maintenance
    }

    /// An RFC 3339 UTC time; `example` is shown when it is not one.
    fn utc_time(&mut self, t: &Spanned<String>, example: &str) -> Option<UnixMillis> {
        let parsed = crate::clock::parse_rfc3339(t.get_ref());
        if parsed.is_none() {
            self.err(
                t,
                format!(
                    "\"{}\" is not an RFC 3339 UTC time like {example}",
                    t.get_ref()
                ),
            );
        }
        parsed
    }
}
