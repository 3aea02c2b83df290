//! Who to call for a lead authority: the `[[contact]]` roster's entries for it, on the
//! wallboard's cards and on the incident page. The wall is where the duty officer reads the
//! number, so phones are shown here (the JSON status leaves them out).

use crate::config::{Config, Contact};
use maud::{html, Markup};

/// A `dt`/`dd` pair listing the contacts of `lead` (as grading names it), or nothing when the
/// roster has none.
pub fn who_to_call(config: &Config, lead: &str) -> Markup {
    let contacts = config.contacts_for(lead);
    html! {
        @if !contacts.is_empty() {
            dt { "联系 call" }
            dd.call {
                ul {
                    @for c in &contacts { li { (contact(c)) } }
                }
            }
        }
    }
}

fn contact(c: &Contact) -> Markup {
    html! {
        strong { (c.name) } " · " (c.role)
        @if let Some(p) = &c.phone { " · " a href={"tel:" (p)} { (p) } }
        @if let Some(e) = &c.email { " · " a href={"mailto:" (e)} { (e) } }
        @if let Some(h) = &c.hours { " · " span.muted { (h) } }
    }
}
