//! The emergency roster over HTTP.
//!
//! The roster is personal data. `/api/v1/status` carries only its summary (`contacts`: how many,
//! the review period, and the overdue entries by authority, name, role and dates — no phone, no
//! email); the full roster is `GET /api/v1/contacts`, which needs the API token like the
//! writes (401 without it, 403 when no token is configured).

use super::authorize;
use crate::clock::{format_rfc3339, UnixMillis};
use crate::config::{Config, Contact};
use crate::grading::Rules;
use crate::state::Shared;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// One contact as the API shows it; `personal` adds the phone and the email.
fn contact_json(
    c: &Contact,
    config: &Config,
    rules: &Rules,
    now: UnixMillis,
    personal: bool,
) -> Value {
    let every = config.daemon.contact_review_every;
    let (zh, en) = match &c.owner {
        crate::config::ContactFor::Authority(a) => rules.authority.official(a),
        crate::config::ContactFor::Unit(u) => (u.clone(), u.clone()),
    };
    let mut v = json!({
        "for": c.owner,
        "for_zh": zh,
        "for_en": en,
        "name": c.name,
        "role": c.role,
        "hours": c.hours,
        "always_reachable": c.always_reachable(),
        "reviewed_at": c.reviewed_at.to_string(),
        "review_due": format_rfc3339(c.review_due(every)),
        "overdue": c.overdue(now, every),
    });
    if personal {
        v["phone"] = json!(c.phone);
        v["email"] = json!(c.email);
    }
    v
}

/// The `contacts` section of `/api/v1/status`: no phone numbers, no emails.
pub(super) fn status_section(config: &Config, rules: &Rules, now: UnixMillis) -> Value {
    let overdue: Vec<Value> = config
        .overdue_contacts(now)
        .into_iter()
        .map(|c| contact_json(c, config, rules, now, false))
        .collect();
    json!({
        "total": config.contacts.len(),
        "review_every_s": config.daemon.contact_review_every.as_secs(),
        "overdue_count": overdue.len(),
        "overdue": overdue,
    })
}

/// `GET /api/v1/contacts`: the whole roster with phones and emails, behind the API token.
pub(super) async fn contacts(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&s, &headers) {
        return e.into_response();
    }
    let (config, rules) = (s.config.load(), s.rules.load());
    let now = s.clock.now_ms();
    let list: Vec<Value> = config
        .contacts
        .iter()
        .map(|c| contact_json(c, &config, &rules, now, true))
        .collect();
    Json(json!({
        "review_every_s": config.daemon.contact_review_every.as_secs(),
        "contacts": list,
    }))
    .into_response()
}
