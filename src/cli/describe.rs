//! `dnsgrade check-config`: what a valid configuration will do, in words and numbers.

use crate::config::{
    CheckRole, Config, ContactFor, DaemonConfig, HumanDuration, Object, ObjectClass, Registry,
    Transport,
};
use std::fmt::Write;
use std::time::Duration;

/// A duration as operators write it (`10s`, `1h30m`).
fn dur(d: Duration) -> HumanDuration {
    HumanDuration(d)
}

/// What `check-config` prints: every object, its servers and checks, how often, and the
/// resulting query rate.
pub fn describe_config(
    c: &Config,
    rules: &crate::grading::Rules,
    now: crate::clock::UnixMillis,
) -> String {
    let d = &c.daemon;
    let mut out = String::new();
    let _ = writeln!(out, "{}: OK", c.source.display());
    let _ = writeln!(
        out,
        "daemon: listen {}  interval {}  timeout {}  window {}  tick {}  stop_window {}  jitter {}",
        d.listen,
        dur(d.interval),
        dur(d.timeout),
        dur(d.window),
        dur(d.tick),
        dur(d.stop_window),
        d.jitter
    );
    let _ = writeln!(
        out,
        "limits: global {}/s  per address {}/s  in flight {}  UDP sockets {}  EDNS payload {}",
        d.global_rate, d.per_server_rate, d.max_in_flight, d.udp_sockets, d.edns_payload
    );
    let mut total = Rate::default();
    for class in ObjectClass::ALL {
        let objs: Vec<_> = c.objects_of(class).collect();
        if objs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{} ({}): {}", class.zh(), class.as_str(), objs.len());
        for o in objs {
            describe_object(&mut out, o, d, &mut total);
        }
    }
    let _ = writeln!(
        out,
        "\ntotal: {:.2} q/s{} (global limit {}/s)",
        total.per_second,
        if total.host_names > 0 {
            format!(
                ", counting one address per host name ({} host names)",
                total.host_names
            )
        } else {
            String::new()
        },
        d.global_rate
    );
    describe_capacity(&mut out, c, rules);
    describe_sinks(&mut out, c);
    describe_contacts(&mut out, c, rules, now);
    out
}

/// Whom a contact answers for, as people read it: the official name, or the unit's.
fn contact_owner(o: &ContactFor, rules: &crate::grading::Rules) -> (String, String) {
    match o {
        ContactFor::Authority(a) => rules.authority.official(a),
        ContactFor::Unit(u) => (format!("unit {u}"), format!("unit {u}")),
    }
}

/// The roster: per authority or unit, each contact's name, role, hours, review date and
/// whether it is overdue at `now`. Phones and emails are left out: the output ends up in
/// terminals, tickets and CI logs (`GET /api/v1/contacts` has them).
fn describe_contacts(
    out: &mut String,
    c: &Config,
    rules: &crate::grading::Rules,
    now: crate::clock::UnixMillis,
) {
    if c.contacts.is_empty() {
        return;
    }
    let every = c.daemon.contact_review_every;
    let overdue = c.overdue_contacts(now).len();
    let _ = writeln!(
        out,
        "
contacts: {} (review every {}; {} overdue)",
        c.contacts.len(),
        dur(every),
        overdue
    );
    let mut owners: Vec<&ContactFor> = Vec::new();
    for k in &c.contacts {
        if !owners.contains(&&k.owner) {
            owners.push(&k.owner);
        }
    }
    for o in owners {
        if !c
            .contacts
            .iter()
            .any(|k| &k.owner == o && k.always_reachable())
        {
            let _ = writeln!(
                out,
                "  warning: {} has no contact reachable 24x7 (hours = \"24x7\"), which the plan asks for",
                contact_owner(o, rules).0
            );
        }
    }
    for k in &c.contacts {
        let _ = writeln!(
            out,
            "  {}: {} — {}  hours {}  reviewed {}{}",
            contact_owner(&k.owner, rules).0,
            k.name,
            k.role,
            k.hours.as_deref().unwrap_or("unstated"),
            k.reviewed_at,
            if k.overdue(now, every) {
                "  OVERDUE for review"
            } else {
                ""
            }
        );
    }
}

/// The roster in `check-config --json` (no phones or emails, as in the text).
fn contacts_json(
    c: &Config,
    rules: &crate::grading::Rules,
    now: crate::clock::UnixMillis,
) -> serde_json::Value {
    let every = c.daemon.contact_review_every;
    let list: Vec<_> = c
        .contacts
        .iter()
        .map(|k| {
            let (zh, en) = contact_owner(&k.owner, rules);
            serde_json::json!({
                "for": k.owner, "for_zh": zh, "for_en": en, "name": k.name, "role": k.role,
                "hours": k.hours, "always_reachable": k.always_reachable(),
                "reviewed_at": k.reviewed_at.to_string(), "overdue": k.overdue(now, every),
            })
        })
        .collect();
    serde_json::json!({ "review_every": dur(every).to_string(), "roster": list })
}

/// The query rate of the objects described so far.
#[derive(Default)]
struct Rate {
    per_second: f64,
    /// Servers given by host name (counted as one address each).
    host_names: usize,
}

/// One object: its names, servers, checks, registry services and query rate.
fn describe_object(out: &mut String, o: &Object, d: &DaemonConfig, total: &mut Rate) {
    let mut extra = String::new();
    if let Some(t) = o.tier {
        let _ = write!(extra, "  tier {}", t.number());
    }
    if let Some(s) = &o.scope {
        let _ = write!(extra, "  scope {s}");
    }
    if let Some(l) = &o.licensed_by {
        let _ = write!(extra, "  licensed by {l}");
    }
    let shown = if o.display_name != o.name {
        format!("{} ({})", o.display_name, o.name)
    } else {
        o.name.clone()
    };
    let _ = writeln!(out, "  {shown}{extra}");
    let mut addrs = 0usize;
    for s in &o.servers {
        let mut where_ = s.pinned.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        if let Some(h) = &s.host {
            where_.push(format!(
                "{h} (resolved at start and every {}, port {})",
                dur(d.resolve_interval),
                s.port
            ));
            total.host_names += 1;
        }
        addrs += s.pinned.len() + usize::from(s.host.is_some() && s.pinned.is_empty());
        let _ = writeln!(out, "    server {}: {}", s.name, where_.join(", "));
    }
    for ch in &o.checks {
        let role = if ch.role == CheckRole::Plain {
            String::new()
        } else {
            format!(" [{}]", ch.role.as_str())
        };
        let tr = if ch.transport == Transport::Tcp {
            " over TCP"
        } else {
            ""
        };
        let vals = if ch.values.is_empty() {
            String::new()
        } else {
            format!(" = {}", ch.values.join(" "))
        };
        let _ = writeln!(
            out,
            "    check {} {} expect {}{vals}{tr}{role}",
            ch.qname, ch.qtype, ch.expect
        );
    }
    if let Some(r) = &o.registry {
        describe_registry(out, r, d);
    }
    let rate = (addrs * o.checks.len()) as f64 / d.interval.as_secs_f64();
    total.per_second += rate;
    let _ = writeln!(
        out,
        "    => {} checks x {} address(es) every {} = {:.2} q/s",
        o.checks.len(),
        addrs,
        dur(d.interval),
        rate
    );
}

/// The registry services of an object and how often they are probed.
fn describe_registry(out: &mut String, r: &Registry, d: &DaemonConfig) {
    // The daemon probes registry services at least as often as the service levels need to
    // see an outage (20 s with the shipped rules).
    let every = d
        .interval
        .min(crate::probe::registry::RegistrySlr::default().max_probe_interval());
    let mut list = Vec::new();
    if let Some(e) = &r.epp {
        let login = if r.epp_login_env.is_some() {
            " with login"
        } else {
            ""
        };
        list.push(format!("EPP {e}{login}"));
    }
    if let Some(u) = &r.rdap {
        list.push(format!(
            "RDAP {u} domain {}",
            r.lookup_domain.as_deref().unwrap_or("?")
        ));
    }
    if let Some(w) = &r.whois {
        list.push(format!("WHOIS {w}"));
    }
    let _ = writeln!(
        out,
        "    registry: {} every {}",
        list.join(", "),
        dur(every)
    );
}

/// What the configuration asks of the probe engine at a total outage, and the warnings.
fn describe_capacity(out: &mut String, c: &Config, rules: &crate::grading::Rules) {
    let cap = crate::capacity::assess(c, rules);
    let _ = writeln!(
        out,
        "in flight with every address dark: {:.0} of max_in_flight {}",
        cap.dark_in_flight, c.daemon.max_in_flight
    );
    if cap.sampled_addresses > 0 {
        let _ = writeln!(
            out,
            "sampling: {} node address(es), at most {} samples in flight together (outside max_in_flight)",
            cap.sampled_addresses, cap.max_samples_in_flight
        );
    }
    for w in &cap.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
}

/// The alert sinks and their filters.
fn describe_sinks(out: &mut String, c: &Config) {
    let a = &c.alert;
    if a.sinks.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nalert sinks (give up after {}):",
        dur(a.give_up_after)
    );
    for k in &a.sinks {
        let f = &k.filter;
        let mut only = Vec::new();
        if let Some(g) = f.min_grade {
            only.push(format!("grade >= {}", g.roman()));
        }
        if !f.classes.is_empty() {
            let cl: Vec<&str> = f.classes.iter().map(|c| c.as_str()).collect();
            only.push(format!("classes {}", cl.join(",")));
        }
        if let Some(au) = &f.authority {
            only.push(format!("authority {au}"));
        }
        let _ = writeln!(
            out,
            "  {} ({}{}) {}{}",
            k.name,
            k.kind.as_str(),
            if k.secret.is_some() { ", signed" } else { "" },
            k.display_url(),
            if only.is_empty() {
                String::new()
            } else {
                format!("  only {}", only.join("; "))
            }
        );
    }
}

/// `check-config --json`: the same description as a document, values in the forms the
/// config takes (durations as `10s`, grades as `II`, provinces as `广东`).
pub fn describe_config_json(
    c: &Config,
    rules: &crate::grading::Rules,
    now: crate::clock::UnixMillis,
) -> serde_json::Value {
    use serde_json::json;
    let d = &c.daemon;
    let cap = crate::capacity::assess(c, rules);
    let mut objects = Vec::new();
    let mut total = 0.0;
    for class in ObjectClass::ALL {
        for o in c.objects_of(class) {
            let addrs: usize = o
                .servers
                .iter()
                .map(|s| s.pinned.len() + usize::from(s.host.is_some() && s.pinned.is_empty()))
                .sum();
            let rate = (addrs * o.checks.len()) as f64 / d.interval.as_secs_f64();
            total += rate;
            objects.push(object_json(o, addrs, rate));
        }
    }
    let sinks: Vec<_> = c
        .alert
        .sinks
        .iter()
        .map(|k| {
            json!({
                "name": k.name, "kind": k.kind, "url": k.display_url(),
                "signed": k.secret.is_some(), "filter": k.filter,
                "min_grade": k.filter.min_grade.map(|g| g.roman()),
            })
        })
        .collect();
    json!({
        "source": c.source.display().to_string(),
        "daemon": {
            "listen": d.listen.to_string(), "interval": dur(d.interval).to_string(),
            "timeout": dur(d.timeout).to_string(), "window": dur(d.window).to_string(),
            "tick": dur(d.tick).to_string(), "stop_window": dur(d.stop_window).to_string(),
            "jitter": d.jitter, "global_rate": d.global_rate.get(),
            "per_server_rate": d.per_server_rate, "max_in_flight": d.max_in_flight,
            "udp_sockets": d.udp_sockets, "edns_payload": d.edns_payload,
        },
        "objects": objects,
        "total_qps": total,
        "capacity": {
            "dark_in_flight": cap.dark_in_flight, "sampled_addresses": cap.sampled_addresses,
            "max_samples_in_flight": cap.max_samples_in_flight, "warnings": cap.warnings,
        },
        "alert": { "give_up_after": dur(c.alert.give_up_after).to_string(), "sinks": sinks },
        "contacts": contacts_json(c, rules, now),
    })
}

/// One object of `check-config --json`.
fn object_json(o: &Object, addrs: usize, rate: f64) -> serde_json::Value {
    use serde_json::json;
    let servers: Vec<_> = o
        .servers
        .iter()
        .map(|s| {
            json!({
                "name": s.name, "host": s.host, "port": s.port,
                "addresses": s.pinned.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let checks: Vec<_> = o
        .checks
        .iter()
        .map(|ch| {
            json!({
                "name": ch.qname.to_string(), "type": ch.qtype.to_string(),
                "expect": ch.expect.to_string(), "values": ch.values,
                "transport": ch.transport.as_str(), "role": ch.role.as_str(),
            })
        })
        .collect();
    json!({
        "class": o.class.as_str(), "name": o.name, "display_name": o.display_name,
        "tier": o.tier.map(|t| t.number()),
        "scope": o.scope.as_ref().map(|s| s.to_string()),
        "licensed_by": o.licensed_by.as_ref().map(|l| l.to_string()),
        "servers": servers, "checks": checks, "addresses": addrs, "qps": rate,
    })
}
