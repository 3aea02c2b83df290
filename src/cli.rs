//! Text output of the command-line tools: `check-config` and `probe`.

use crate::config::{parse_address, parse_duration, CheckRole, Config, ObjectClass, Transport};
use crate::probe::classify::Question;
use crate::probe::{Prober, ProberConfig};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};
use std::fmt::Write;
use std::str::FromStr;

/// What `check-config` prints: every object, its servers and checks, how often, and the
/// resulting query rate.
pub fn describe_config(c: &Config, rules: &crate::grading::Rules) -> String {
    let d = &c.daemon;
    let mut out = String::new();
    let _ = writeln!(out, "{}: OK", c.source.display());
    let _ = writeln!(
        out,
        "daemon: listen {}  interval {:?}  timeout {:?}  window {:?}  tick {:?}  stop_window {:?}  jitter {}",
        d.listen, d.interval, d.timeout, d.window, d.tick, d.stop_window, d.jitter
    );
    let _ = writeln!(
        out,
        "limits: global {}/s  per address {}/s  in flight {}  UDP sockets {}  EDNS payload {}",
        d.global_rate, d.per_server_rate, d.max_in_flight, d.udp_sockets, d.edns_payload
    );
    let mut total_rate = 0.0;
    let mut unresolved = 0usize;
    for class in ObjectClass::ALL {
        let objs: Vec<_> = c.objects_of(class).collect();
        if objs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{} ({}): {}", class.zh(), class.as_str(), objs.len());
        for o in objs {
            let mut extra = String::new();
            if let Some(t) = o.tier {
                let _ = write!(extra, "  tier {}", t.number());
            }
            if let Some(s) = &o.scope {
                let _ = write!(extra, "  scope {s:?}");
            }
            if let Some(l) = &o.licensed_by {
                let _ = write!(extra, "  licensed by {l:?}");
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
                        "{h} (resolved at start and every {:?}, port {})",
                        d.resolve_interval, s.port
                    ));
                    unresolved += 1;
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
                    "    check {} {} expect {:?}{vals}{tr}{role}",
                    ch.qname, ch.qtype, ch.expect
                );
            }
            if let Some(r) = &o.registry {
                // The daemon probes registry services at least as often as the service levels
                // need to see an outage (20 s with the shipped rules).
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
                let _ = writeln!(out, "    registry: {} every {every:?}", list.join(", "));
            }
            let rate = (addrs * o.checks.len()) as f64 / d.interval.as_secs_f64();
            total_rate += rate;
            let _ = writeln!(
                out,
                "    => {} checks x {} address(es) every {:?} = {:.2} q/s",
                o.checks.len(),
                addrs,
                d.interval,
                rate
            );
        }
    }
    let _ = writeln!(
        out,
        "\ntotal: {:.2} q/s{} (global limit {}/s)",
        total_rate,
        if unresolved > 0 {
            format!(", counting one address per host name ({unresolved} host names)")
        } else {
            String::new()
        },
        d.global_rate
    );
    let cap = crate::capacity::assess(c, rules);
    let _ = writeln!(
        out,
        "in flight with every address dark: {:.0} of max_in_flight {}",
        cap.dark_in_flight, d.max_in_flight
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
    let a = &c.alert;
    if !a.sinks.is_empty() {
        let _ = writeln!(
            out,
            "
alert sinks (give up after {:?}):",
            a.give_up_after
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
    out
}

/// Why `dnsgrade probe` could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeCliError {
    /// A bad argument.
    #[error("{0}")]
    Usage(String),
    /// Sockets could not be opened.
    #[error("cannot open sockets: {0}")]
    Io(#[from] std::io::Error),
}

/// `dnsgrade probe SERVER NAME [TYPE]`: one query, printed like dig, with its time in ms.
pub async fn probe(
    server: &str,
    name: &str,
    qtype: &str,
    tcp: bool,
    rd: bool,
    timeout: &str,
) -> Result<String, ProbeCliError> {
    let addr = parse_address(server, 53).map_err(ProbeCliError::Usage)?;
    let mut qname = Name::from_utf8(name)
        .map_err(|e| ProbeCliError::Usage(format!("\"{name}\" is not a domain name: {e}")))?;
    qname.set_fqdn(true);
    let qtype = match RecordType::from_str(&qtype.to_ascii_uppercase()) {
        Ok(RecordType::Unknown(_)) | Err(_) => {
            return Err(ProbeCliError::Usage(format!(
                "unknown query type \"{qtype}\""
            )))
        }
        Ok(t) => t,
    };
    let timeout = parse_duration(timeout).map_err(ProbeCliError::Usage)?;
    let prober = Prober::new(ProberConfig {
        udp_sockets: 1,
        timeout,
        ..ProberConfig::default()
    })
    .await?;
    let q = Question {
        qname: qname.clone(),
        qtype,
        recursion_desired: rd,
        dnssec_ok: false,
    };
    let reply = prober
        .probe(addr, &q, if tcp { Transport::Tcp } else { Transport::Udp })
        .await;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "; dnsgrade probe {addr} {qname} {qtype}{}",
        if tcp { " +tcp" } else { "" }
    );
    match &reply.answer {
        Err(kind) => {
            let _ = writeln!(
                out,
                ";; no usable reply: {kind} (over {})",
                reply.transport.as_str()
            );
        }
        Ok((m, rtt)) => {
            out.push_str(&format_message(m));
            let _ = writeln!(
                out,
                ";; Query time: {:.3} ms over {}{}",
                rtt.as_secs_f64() * 1000.0,
                reply.transport.as_str(),
                if reply.tcp_fallback {
                    " (UDP reply was truncated; retried over TCP)"
                } else {
                    ""
                }
            );
            if let Some(n) = &reply.nsid {
                let _ = writeln!(out, ";; NSID: {n}");
            }
        }
    }
    let _ = writeln!(out, ";; SERVER: {addr}");
    Ok(out)
}

/// The RCODE mnemonic dig prints.
pub fn rcode_name(rc: hickory_proto::op::ResponseCode) -> String {
    match u16::from(rc) {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        7 => "YXRRSET".into(),
        8 => "NXRRSET".into(),
        9 => "NOTAUTH".into(),
        10 => "NOTZONE".into(),
        16 => "BADVERS".into(),
        n => format!("RCODE{n}"),
    }
}

/// A reply in dig's layout.
pub fn format_message(m: &Message) -> String {
    let md = &m.metadata;
    let mut flags = vec!["qr"];
    if md.authoritative {
        flags.push("aa");
    }
    if md.truncation {
        flags.push("tc");
    }
    if md.recursion_desired {
        flags.push("rd");
    }
    if md.recursion_available {
        flags.push("ra");
    }
    if md.authentic_data {
        flags.push("ad");
    }
    if md.checking_disabled {
        flags.push("cd");
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        ";; ->>HEADER<<- opcode: {}, status: {}, id: {}",
        format!("{:?}", md.op_code).to_uppercase(),
        rcode_name(md.response_code),
        md.id
    );
    let _ = writeln!(
        out,
        ";; flags: {}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}",
        flags.join(" "),
        m.queries.len(),
        m.answers.len(),
        m.authorities.len(),
        m.additionals.len()
    );
    if let Some(e) = &m.edns {
        let _ = writeln!(
            out,
            ";; EDNS: version {}, udp {}, do {}",
            e.version(),
            e.max_payload(),
            e.flags().dnssec_ok
        );
    }
    let _ = writeln!(out, "\n;; QUESTION SECTION:");
    for q in &m.queries {
        let _ = writeln!(out, ";{}\t\t{}\t{}", q.name, q.query_class, q.query_type);
    }
    for (title, recs) in [
        ("ANSWER", &m.answers),
        ("AUTHORITY", &m.authorities),
        ("ADDITIONAL", &m.additionals),
    ] {
        if recs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n;; {title} SECTION:");
        for r in recs.iter() {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}",
                r.name,
                r.ttl,
                r.dns_class,
                r.record_type(),
                r.data
            );
        }
    }
    out.push('\n');
    out
}

/// One `dnsgrade incidents` call.
#[derive(Debug, Clone)]
pub enum IncidentCall {
    /// `list`.
    List {
        /// open, all or resolved.
        state: String,
        /// Lower time bound.
        since: Option<String>,
    },
    /// `show ID`.
    Show {
        /// Incident id.
        id: i64,
    },
    /// `ack ID --by NAME`.
    Ack {
        /// Incident id.
        id: i64,
        /// Who.
        by: String,
        /// Note.
        note: Option<String>,
    },
    /// `confirm-impact ID --by NAME`.
    ConfirmImpact {
        /// Incident id.
        id: i64,
        /// Who.
        by: String,
    },
}

/// Why an `incidents` call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiCallError {
    /// The daemon could not be reached.
    #[error("cannot reach the dnsgrade API at {api}: {source}")]
    Unreachable {
        /// Base URL.
        api: String,
        /// Cause.
        source: reqwest::Error,
    },
    /// The daemon answered with an error.
    #[error("the API answered {status}: {reason}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The reason it gave.
        reason: String,
    },
}

/// One `dnsgrade drill` call.
#[derive(Debug, Clone)]
pub enum DrillCall {
    /// `--list`.
    List,
    /// `--scenario NAME [--object K]`.
    Start {
        /// Scenario name.
        scenario: String,
        /// Object key.
        object: Option<String>,
        /// Who.
        by: String,
    },
    /// `--end ID`.
    End {
        /// Drill incident id.
        id: i64,
        /// Who.
        by: String,
    },
}

/// Calls the daemon's drill API and formats the answer.
pub async fn drill(
    api: &str,
    token: Option<&str>,
    call: DrillCall,
) -> Result<String, ApiCallError> {
    let api = api.trim_end_matches('/').to_string();
    let (method_post, path, body) = match &call {
        DrillCall::List => (false, "/api/v1/drills".to_string(), serde_json::Value::Null),
        DrillCall::Start {
            scenario,
            object,
            by,
        } => (
            true,
            "/api/v1/drills".to_string(),
            serde_json::json!({ "scenario": scenario, "object": object, "by": by }),
        ),
        DrillCall::End { id, by } => (
            true,
            format!("/api/v1/drills/{id}/end"),
            serde_json::json!({ "by": by }),
        ),
    };
    let v = call_api(&api, token, method_post, &path, body).await?;
    Ok(match call {
        DrillCall::List => {
            let mut out = String::from("scenarios:\n");
            for s in v["scenarios"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    out,
                    "  {:<26} {} / {}",
                    s["name"].as_str().unwrap_or("?"),
                    s["zh"].as_str().unwrap_or(""),
                    s["en"].as_str().unwrap_or("")
                );
            }
            out.push_str("open drills:\n");
            let open = &v["open"];
            if open.as_array().is_none_or(|a| a.is_empty()) {
                out.push_str("  none\n");
            } else {
                out.push_str(&format_incident_list(open));
            }
            out
        }
        DrillCall::Start { .. } => {
            let mut out = String::new();
            for e in v["events"].as_array().into_iter().flatten() {
                let _ = write!(
                    out,
                    "drill incident {}: {}\n{}",
                    e["incident_id"],
                    e["type"].as_str().unwrap_or("?"),
                    incident_line(&e["incident"])
                );
            }
            if out.is_empty() {
                out.push_str("no change: the same drill is already open at this grade\n");
            }
            out
        }
        DrillCall::End { id, .. } => format!(
            "drill incident {id} ended: {}\n",
            v["event"]["type"].as_str().unwrap_or("?")
        ),
    })
}

async fn call_api(
    api: &str,
    token: Option<&str>,
    post: bool,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, ApiCallError> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|source| ApiCallError::Unreachable {
            api: api.to_string(),
            source,
        })?;
    let url = format!("{api}{path}");
    let req = if post {
        client.post(url).json(&body)
    } else {
        client.get(url)
    };
    let req = match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let resp = req
        .send()
        .await
        .map_err(|source| ApiCallError::Unreachable {
            api: api.to_string(),
            source,
        })?;
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp
        .json()
        .await
        .map_err(|source| ApiCallError::Unreachable {
            api: api.to_string(),
            source,
        })?;
    if status >= 400 {
        return Err(ApiCallError::Refused {
            status,
            reason: v["error"].as_str().unwrap_or("no reason given").to_string(),
        });
    }
    Ok(v)
}

/// Calls the daemon's incident API and formats the answer for a terminal.
pub async fn incidents(
    api: &str,
    token: Option<&str>,
    call: IncidentCall,
) -> Result<String, ApiCallError> {
    let api = api.trim_end_matches('/').to_string();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|source| ApiCallError::Unreachable {
            api: api.clone(),
            source,
        })?;
    let req = match &call {
        IncidentCall::List { state, since } => {
            let mut q = vec![("state", state.clone())];
            if let Some(s) = since {
                q.push(("since", s.clone()));
            }
            client.get(format!("{api}/api/v1/incidents")).query(&q)
        }
        IncidentCall::Show { id } => client.get(format!("{api}/api/v1/incidents/{id}")),
        IncidentCall::Ack { id, by, note } => client
            .post(format!("{api}/api/v1/incidents/{id}/ack"))
            .json(&serde_json::json!({ "by": by, "note": note })),
        IncidentCall::ConfirmImpact { id, by } => client
            .post(format!("{api}/api/v1/incidents/{id}/confirm-impact"))
            .json(&serde_json::json!({ "by": by })),
    };
    let req = match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let resp = req
        .send()
        .await
        .map_err(|source| ApiCallError::Unreachable {
            api: api.clone(),
            source,
        })?;
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp
        .json()
        .await
        .map_err(|source| ApiCallError::Unreachable {
            api: api.clone(),
            source,
        })?;
    if status >= 400 {
        return Err(ApiCallError::Refused {
            status,
            reason: v["error"].as_str().unwrap_or("no reason given").to_string(),
        });
    }
    Ok(match call {
        IncidentCall::List { .. } => format_incident_list(&v["incidents"]),
        IncidentCall::Show { .. } => format_incident_detail(&v),
        IncidentCall::Ack { .. } | IncidentCall::ConfirmImpact { .. } => {
            let e = &v["event"];
            format!(
                "incident {}: {} at {}\n{}",
                e["incident_id"],
                e["type"].as_str().unwrap_or("?"),
                e["at"]["rfc3339"].as_str().unwrap_or("?"),
                incident_line(&e["incident"])
            )
        }
    })
}

fn grade_text(g: &serde_json::Value) -> String {
    if g.is_null() {
        return "-".into();
    }
    format!(
        "{} {} (level {})",
        g["zh"].as_str().unwrap_or("?"),
        g["en"].as_str().unwrap_or("?"),
        g["level"].as_str().unwrap_or("?")
    )
}

fn incident_line(i: &serde_json::Value) -> String {
    let cand = if i["candidate"].is_null() {
        String::new()
    } else {
        format!("  candidate {}", grade_text(&i["candidate"]))
    };
    let lead = i["authority"]["lead_zh"].as_str().unwrap_or("-");
    format!(
        "#{:<5} {:<8} {:<32} {}{}  since {}  lead {}{}\n",
        i["id"],
        i["state"].as_str().unwrap_or("?"),
        i["object"].as_str().unwrap_or("?"),
        grade_text(&i["grade"]),
        cand,
        i["onset"]["rfc3339"].as_str().unwrap_or("?"),
        lead,
        if i["acknowledged_by"].is_string() {
            format!("  acked by {}", i["acknowledged_by"].as_str().unwrap_or(""))
        } else {
            String::new()
        }
    )
}

fn format_incident_list(list: &serde_json::Value) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "no incidents\n".into();
    }
    items.iter().map(incident_line).collect()
}

fn format_incident_detail(d: &serde_json::Value) -> String {
    let i = &d["incident"];
    let mut out = incident_line(i);
    let _ = writeln!(out, "rule: {}", i["rule"].as_str().unwrap_or("-"));
    for (zh, en) in i["reasons_zh"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(i["reasons_en"].as_array().into_iter().flatten())
    {
        let _ = writeln!(
            out,
            "  - {} / {}",
            zh.as_str().unwrap_or(""),
            en.as_str().unwrap_or("")
        );
    }
    let _ = writeln!(out, "timeline:");
    for e in d["timeline"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {}  {:<20} {}",
            e["at"]["rfc3339"].as_str().unwrap_or("?"),
            e["type"].as_str().unwrap_or("?"),
            grade_text(&e["grade"])
        );
    }
    out
}
