//! `dnsgrade probe`: one query, printed like dig.

use crate::config::{parse_address, parse_duration, Transport};
use crate::probe::classify::Question;
use crate::probe::{Prober, ProberConfig};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};
use std::fmt::Write;
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
