//! `[[contact]]`: the emergency roster, per authority or per unit of the operator.

use super::normalize::{authority_province, normalize_authority, EMERGENCY_OFFICE};
use super::Validator;
use crate::config::model::{Contact, ContactFor};
use crate::config::raw::RawContact;
use toml::Spanned;

impl Validator<'_> {
    /// Every contact with a known authority (or a unit), a name, a role, a phone or an email,
    /// and a review date.
    pub(super) fn contacts(&mut self, list: &[Spanned<RawContact>]) -> Vec<Contact> {
        list.iter().filter_map(|c| self.contact(c)).collect()
    }

    fn contact(&mut self, c: &Spanned<RawContact>) -> Option<Contact> {
        let r = c.get_ref();
        let owner = self.contact_owner(c);
        let name = self.required_text(&r.name, "contact name");
        let role = self.required_text(&r.role, "contact role");
        let phone = r.phone.as_ref().and_then(|p| self.phone(p));
        let email = r.email.as_ref().and_then(|e| self.email(e));
        if r.phone.is_none() && r.email.is_none() {
            self.err(
                c,
                "a contact needs a phone or an email (or both): the roster is for reaching people",
            );
        }
        let reviewed_at = self.review_date(&r.reviewed_at);
        let hours = r
            .hours
            .as_ref()
            .and_then(|h| self.required_text(h, "hours"));
        Some(Contact {
            owner: owner?,
            name: name?,
            role: role?,
            phone,
            email,
            reviewed_at: reviewed_at?,
            hours,
        })
    }

    /// Exactly one of `authority` (MIIT or a province's administration) and `unit`.
    fn contact_owner(&mut self, c: &Spanned<RawContact>) -> Option<ContactFor> {
        let r = c.get_ref();
        match (&r.authority, &r.unit) {
            (Some(_), Some(u)) => {
                self.err(u, "a contact is for an authority or for a unit, not both");
                None
            }
            (None, None) => {
                self.err(c, "a contact needs authority = \"MIIT\" or a province's administration (e.g. \"广东省通信管理局\"), or unit = \"…\" for one of your own units");
                None
            }
            (Some(a), None) => {
                let t = a.get_ref().trim();
                let key = normalize_authority(t);
                if key == EMERGENCY_OFFICE || authority_province(t).is_some() {
                    Some(ContactFor::Authority(key))
                } else {
                    self.err(a, format!("\"{t}\" is not a known authority: write \"MIIT\" (互联网应急办) or a province's communications administration, e.g. \"广东省通信管理局\" or \"广东\"; for your own teams write unit = \"…\""));
                    None
                }
            }
            (None, Some(u)) => {
                let t = self.required_text(u, "unit")?;
                if normalize_authority(&t) == EMERGENCY_OFFICE || authority_province(&t).is_some() {
                    self.err(
                        u,
                        format!(
                            "unit \"{t}\" names an authority: write authority = \"{t}\" instead"
                        ),
                    );
                    return None;
                }
                Some(ContactFor::Unit(t))
            }
        }
    }

    /// A non-empty text, trimmed, of at most 255 characters and without control characters
    /// (the roster is served by the API and printed by check-config).
    fn required_text(&mut self, s: &Spanned<String>, what: &str) -> Option<String> {
        self.nonempty(s, what)
    }

    /// Digits with the usual separators (`+86 10 0000 0000`, `010-0000-0000`, `(010) 0000`),
    /// at least five digits.
    fn phone(&mut self, p: &Spanned<String>) -> Option<String> {
        let t = p.get_ref().trim();
        let digits = t.chars().filter(char::is_ascii_digit).count();
        let allowed = t
            .chars()
            .all(|ch| ch.is_ascii_digit() || " +-()".contains(ch));
        if digits < 5 || !allowed {
            self.err(p, format!("phone \"{t}\" is not a telephone number (digits, spaces, +, - and parentheses, e.g. \"010-0000-0000\")"));
            return None;
        }
        Some(t.to_string())
    }

    /// `local@domain`, one `@`, a dot in the domain, no spaces.
    fn email(&mut self, e: &Spanned<String>) -> Option<String> {
        let t = e.get_ref().trim();
        let ok = match t.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !t.contains(char::is_whitespace)
            }
            None => false,
        };
        if !ok {
            self.err(
                e,
                format!("email \"{t}\" is not an address like \"duty@example.invalid\""),
            );
            return None;
        }
        Some(t.to_string())
    }

    /// A calendar date: a TOML date (`2026-11-01`) or a string of one ("2026-11-01").
    fn review_date(&mut self, v: &Spanned<toml::Value>) -> Option<jiff::civil::Date> {
        let parsed = match v.get_ref() {
            toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
                dt.to_string().parse::<jiff::civil::Date>().ok()
            }
            toml::Value::String(s) => s.trim().parse::<jiff::civil::Date>().ok(),
            _ => None,
        };
        if parsed.is_none() {
            let shown = match v.get_ref() {
                toml::Value::String(s) => format!("\"{s}\""),
                other => other.to_string(),
            };
            self.err(
                v,
                format!("reviewed_at {shown} is not a date like 2026-11-01"),
            );
        }
        parsed
    }
}
