//! The webhook sink: the JSON body the README documents ("Alerts"), its headers, and the HMAC-SHA256 signature.

use super::AlertContext;
use crate::config::Secret;
use crate::incident::{AlertEvent, IncidentEvent, MonitorEvent, OutboxItem};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The event type, e.g. `incident.opened` or `monitor.isolated`.
pub const HEADER_EVENT: &str = "X-Dnsgrade-Event";
/// The idempotency key, stable per event (equal to the body's `event_id`).
pub const HEADER_DELIVERY: &str = "X-Dnsgrade-Delivery";
/// `sha256=<hex HMAC-SHA256 of the body>` with the sink's secret.
pub const HEADER_SIGNATURE: &str = "X-Dnsgrade-Signature";

/// `sha256=<lowercase hex HMAC-SHA256(secret, body)>`, the `X-Dnsgrade-Signature` value.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The JSON body of one event.
pub fn body(item: &OutboxItem, ctx: &AlertContext) -> Value {
    match &item.event {
        AlertEvent::Incident(e) => incident_body(&item.key, e, ctx),
        AlertEvent::Monitor(m) => monitor_body(&item.key, m, ctx),
    }
}

fn incident_body(key: &str, e: &IncidentEvent, ctx: &AlertContext) -> Value {
    let i = &e.incident;
    let (class, name) = (i.object.class().as_str(), i.object.name());
    let obj = ctx.object(&i.object);
    let authority = i.authority.as_ref().map(|a| {
        json!({
            "lead": a["lead_zh"],
            "lead_en": a["lead_en"],
            "notify": a["notify"],
        })
    });
    json!({
        "event_id": key,
        "type": e.kind.webhook_type().unwrap_or(e.kind.as_str()),
        "at": e.at,
        "drill": e.drill,
        "vantage": &ctx.config.daemon.vantage,
        "incident": {
            "id": i.id,
            "url": ctx.incident_url(i.id),
            "state": i.state,
            "object": {
                "class": class,
                "name": name,
                "display_name": obj.map(|o| o.display_name.clone()),
                "tier": obj.and_then(|o| o.tier).map(|t| t.number()),
                "scope": obj.and_then(|o| o.scope.clone()),
            },
            "grade": i.grade,
            "candidate_grade": i.candidate,
            "max_grade": i.max_grade,
            "rule": i.rule,
            "reason_zh": i.reasons_zh.join("；"),
            "reason_en": i.reasons_en.join("; "),
            "reasons_zh": i.reasons_zh,
            "reasons_en": i.reasons_en,
            "started_at": i.onset,
            "detected_at": i.detected_at,
            "duration_s": i.duration_s(e.at.ms()),
            "authority": authority,
            "evidence": i.evidence,
            "next_escalation": i.next_escalation,
            "maintenance": i.maintenance,
            "acknowledged_at": i.acknowledged_at,
            "acknowledged_by": i.acknowledged_by,
            "impact_confirmed_by": i.impact_confirmed_by,
            "resolved_at": i.resolved_at,
        },
        "event": {
            "seq": e.seq,
            "grade": e.grade,
            "details": e.payload,
        },
    })
}

fn monitor_body(key: &str, m: &MonitorEvent, ctx: &AlertContext) -> Value {
    json!({
        "event_id": key,
        "type": m.kind.as_str(),
        "at": m.at,
        "drill": false,
        "vantage": &ctx.config.daemon.vantage,
        "monitor": {
            "isolated": m.kind == crate::incident::MonitorKind::Isolated,
            "control_addresses": m.payload["control_addresses"],
            "control_failing": m.payload["control_failing"],
        },
    })
}

/// The request for one event: body bytes and headers, signed when the sink has a secret.
pub fn request(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&Secret>,
    item: &OutboxItem,
    ctx: &AlertContext,
) -> reqwest::RequestBuilder {
    let bytes = serde_json::to_vec(&body(item, ctx)).unwrap_or_default();
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(HEADER_EVENT, item.event.type_name())
        .header(HEADER_DELIVERY, item.key.as_str());
    if let Some(s) = secret {
        req = req.header(HEADER_SIGNATURE, signature(s, &bytes));
    }
    req.body(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_rfc_4231_vector() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature(&Secret::new("Jefe"), b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signature_depends_on_key_and_every_byte() {
        let a = signature(&Secret::new("k1"), b"{\"a\":1}");
        assert_ne!(a, signature(&Secret::new("k2"), b"{\"a\":1}"));
        assert_ne!(a, signature(&Secret::new("k1"), b"{\"a\":2}"));
        assert_eq!(a.len(), "sha256=".len() + 64);
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2-very-secret");
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert_eq!(d, "Secret(<redacted>)");
    }
}
