//! `dnsgrade probe`: one query, printed like dig (or with `--short`, just the answer data;
//! with `--json`, as a document), with dig's exit codes ([`super::exit`]).

use super::exit;
use crate::config::{normalize_value, parse_address, parse_duration, Expect, Transport};
use crate::probe::classify::{relevant_answers, Question};
use crate::probe::{Outcome, ProbeReply, Prober, ProberConfig};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, Record, RecordType};
use serde::Serialize;
use std::fmt::Write;
use std::net::SocketAddr;
use std::str::FromStr;

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

impl ProbeCliError {
    /// The exit code: 65 for a bad server, name, type or value, 69 without sockets.
    pub fn exit_code(&self) -> u8 {
        match self {
            ProbeCliError::Usage(_) => exit::DATA,
            ProbeCliError::Io(_) => exit::UNAVAILABLE,
        }
    }
}

/// What `dnsgrade probe` asks, as typed on the command line.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// Server address, e.g. `127.0.0.1:5353`.
    pub server: String,
    /// Query name.
    pub name: String,
    /// Query type, e.g. `A`.
    pub qtype: String,
    /// TCP instead of UDP.
    pub tcp: bool,
    /// RD=1.
    pub rd: bool,
    /// The EDNS DO bit (dig's `+dnssec`).
    pub dnssec: bool,
    /// Timeout, e.g. `10s`.
    pub timeout: String,
    /// Print only the answer data, one record a line (dig's `+short`).
    pub short: bool,
    /// Print a JSON document.
    pub json: bool,
    /// The answer's expected values (the RRset of the query type at the name); empty:
    /// unchecked.
    pub expect: Vec<String>,
}

/// What `dnsgrade probe` prints and how it exits.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// Standard output.
    pub stdout: String,
    /// Why the exit code is not 0, for standard error.
    pub problem: Option<String>,
    /// The exit code ([`exit`]): 0 a reply, 9 none, 10 malformed, 11 not as expected.
    pub code: u8,
}

/// The query, parsed and checked.
struct Query {
    addr: SocketAddr,
    question: Question,
    transport: Transport,
    timeout: std::time::Duration,
    expect: Vec<String>,
}

fn parse_query(o: &ProbeOptions) -> Result<Query, ProbeCliError> {
    let addr = parse_address(&o.server, 53).map_err(ProbeCliError::Usage)?;
    let mut qname = Name::from_utf8(&o.name)
        .map_err(|e| ProbeCliError::Usage(format!("\"{}\" is not a domain name: {e}", o.name)))?;
    qname.set_fqdn(true);
    let qtype = match RecordType::from_str(&o.qtype.to_ascii_uppercase()) {
        Ok(RecordType::Unknown(_)) | Err(_) => {
            return Err(ProbeCliError::Usage(format!(
                "unknown query type \"{}\"",
                o.qtype
            )))
        }
        Ok(t) => t,
    };
    let mut expect = o
        .expect
        .iter()
        .map(|v| normalize_value(v, qtype, Expect::Answer))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ProbeCliError::Usage(format!("--expect: {e}")))?;
    expect.sort();
    expect.dedup();
    Ok(Query {
        addr,
        question: Question {
            qname,
            qtype,
            recursion_desired: o.rd,
            dnssec_ok: o.dnssec,
        },
        transport: if o.tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        },
        timeout: parse_duration(&o.timeout).map_err(ProbeCliError::Usage)?,
        expect,
    })
}

/// `dnsgrade probe SERVER NAME [TYPE]`: one query, printed like dig, with its time in ms.
pub async fn probe(o: &ProbeOptions) -> Result<ProbeRun, ProbeCliError> {
    let q = parse_query(o)?;
    let prober = Prober::new(ProberConfig {
        udp_sockets: 1,
        timeout: q.timeout,
        ..ProberConfig::default()
    })
    .await?;
    let reply = prober.probe(q.addr, &q.question, q.transport).await;
    let (code, problem) = judge(&q, &reply);
    let stdout = if o.json {
        super::incidents::json(&ProbeDoc::new(&q, &reply, code))
    } else if o.short {
        short(&reply)
    } else {
        dig_text(&q, &reply, problem.as_deref())
    };
    Ok(ProbeRun {
        stdout,
        problem,
        code,
    })
}

/// The exit code of a reply, and why it is not 0.
fn judge(q: &Query, reply: &ProbeReply) -> (u8, Option<String>) {
    match &reply.answer {
        Err(Outcome::Malformed | Outcome::Mismatch) => (
            exit::PROBE_MALFORMED,
            Some(format!(
                "malformed reply: {}",
                reply.failure().map(Outcome::as_str).unwrap_or("?")
            )),
        ),
        Err(kind) => (exit::PROBE_NO_REPLY, Some(format!("no reply: {kind}"))),
        Ok(_) if q.expect.is_empty() => (exit::OK, None),
        Ok((m, _)) => {
            let got = relevant_answers(m, &q.question.qname, q.question.qtype);
            if got == q.expect {
                (exit::OK, None)
            } else {
                (
                    exit::PROBE_MISMATCH,
                    Some(format!(
                        "the answer differs from --expect: got [{}], expected [{}]",
                        got.join(" "),
                        q.expect.join(" ")
                    )),
                )
            }
        }
    }
}

/// dig's `+short`: the data of every answer record, one a line.
fn short(reply: &ProbeReply) -> String {
    let mut out = String::new();
    if let Some(m) = reply.message() {
        for r in &m.answers {
            let _ = writeln!(out, "{}", r.data);
        }
    }
    out
}

/// The reply in dig's layout, with its time, transport, NSID and the --expect verdict.
fn dig_text(q: &Query, reply: &ProbeReply, problem: Option<&str>) -> String {
    let qs = &q.question;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "; dnsgrade probe {} {} {}{}{}",
        q.addr,
        qs.qname,
        qs.qtype,
        if q.transport == Transport::Tcp {
            " +tcp"
        } else {
            ""
        },
        if qs.dnssec_ok { " +dnssec" } else { "" }
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
            if !q.expect.is_empty() {
                let _ = writeln!(
                    out,
                    ";; EXPECT: {}",
                    problem.unwrap_or("the answer is as expected")
                );
            }
        }
    }
    let _ = writeln!(out, ";; SERVER: {}", q.addr);
    out
}

/// `probe --json`: the query, the outcome and the reply, section by section.
#[derive(Serialize)]
struct ProbeDoc {
    server: String,
    qname: String,
    qtype: String,
    recursion_desired: bool,
    dnssec_ok: bool,
    transport: &'static str,
    tcp_fallback: bool,
    /// `reply`, or why none is usable (`timeout`, `network_error`, `malformed`, `mismatch`).
    outcome: &'static str,
    rtt_ms: Option<f64>,
    nsid: Option<String>,
    reply: Option<ReplyDoc>,
    expect: Option<Vec<String>>,
    exit_code: u8,
}

impl ProbeDoc {
    fn new(q: &Query, reply: &ProbeReply, code: u8) -> ProbeDoc {
        ProbeDoc {
            server: q.addr.to_string(),
            qname: q.question.qname.to_string(),
            qtype: q.question.qtype.to_string(),
            recursion_desired: q.question.recursion_desired,
            dnssec_ok: q.question.dnssec_ok,
            transport: reply.transport.as_str(),
            tcp_fallback: reply.tcp_fallback,
            outcome: reply.failure().map(Outcome::as_str).unwrap_or("reply"),
            rtt_ms: reply.rtt().map(|d| d.as_secs_f64() * 1000.0),
            nsid: reply.nsid.clone(),
            reply: reply.message().map(ReplyDoc::new),
            expect: (!q.expect.is_empty()).then(|| q.expect.clone()),
            exit_code: code,
        }
    }
}

/// A reply's header and sections.
#[derive(Serialize)]
struct ReplyDoc {
    id: u16,
    rcode: String,
    flags: Vec<&'static str>,
    edns: Option<EdnsDoc>,
    answer: Vec<RecordDoc>,
    authority: Vec<RecordDoc>,
    additional: Vec<RecordDoc>,
}

#[derive(Serialize)]
struct EdnsDoc {
    version: u8,
    udp_payload: u16,
    dnssec_ok: bool,
}

/// One record as dig prints it, field by field.
#[derive(Serialize)]
struct RecordDoc {
    name: String,
    ttl: u32,
    class: String,
    #[serde(rename = "type")]
    rtype: String,
    data: String,
}

impl ReplyDoc {
    fn new(m: &Message) -> ReplyDoc {
        let records = |rs: &[Record]| {
            rs.iter()
                .map(|r| RecordDoc {
                    name: r.name.to_string(),
                    ttl: r.ttl,
                    class: r.dns_class.to_string(),
                    rtype: r.record_type().to_string(),
                    data: r.data.to_string(),
                })
                .collect()
        };
        ReplyDoc {
            id: m.metadata.id,
            rcode: rcode_name(m.metadata.response_code),
            flags: flags(m),
            edns: m.edns.as_ref().map(|e| EdnsDoc {
                version: e.version(),
                udp_payload: e.max_payload(),
                dnssec_ok: e.flags().dnssec_ok,
            }),
            answer: records(&m.answers),
            authority: records(&m.authorities),
            additional: records(&m.additionals),
        }
    }
}

/// The header flags that are set, in dig's order.
fn flags(m: &Message) -> Vec<&'static str> {
    let md = &m.metadata;
    let mut flags = vec!["qr"];
    for (set, name) in [
        (md.authoritative, "aa"),
        (md.truncation, "tc"),
        (md.recursion_desired, "rd"),
        (md.recursion_available, "ra"),
        (md.authentic_data, "ad"),
        (md.checking_disabled, "cd"),
    ] {
        if set {
            flags.push(name);
        }
    }
    flags
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
    let flags = flags(m);
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
