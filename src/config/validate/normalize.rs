//! Free normalisers shared by validation and the rest of the crate: provinces, authorities,
//! addresses, and expected values and reply data in one comparable form.

use crate::config::model::Expect;
use hickory_proto::rr::{Name, RecordType};
use std::net::{IpAddr, SocketAddr};

/// The 31 province-level divisions of the mainland, the names used for 通信管理局 routing.
pub const PROVINCES: [&str; 31] = [
    "北京",
    "天津",
    "河北",
    "山西",
    "内蒙古",
    "辽宁",
    "吉林",
    "黑龙江",
    "上海",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "广西",
    "海南",
    "重庆",
    "四川",
    "贵州",
    "云南",
    "西藏",
    "陕西",
    "甘肃",
    "青海",
    "宁夏",
    "新疆",
];

/// "广东省" → "广东", "新疆维吾尔自治区" → "新疆"; None when it names no province.
pub fn normalize_province(s: &str) -> Option<&'static str> {
    let s = s.trim();
    PROVINCES
        .iter()
        .copied()
        .filter(|p| s.starts_with(p))
        .max_by_key(|p| p.len())
        .filter(|p| {
            let rest = &s[p.len()..];
            rest.is_empty() || matches!(rest, "省" | "市" | "自治区") || rest.ends_with("自治区")
        })
}

/// The normalised name of MIIT's emergency office (互联网应急办), the lead at levels I and II.
pub const EMERGENCY_OFFICE: &str = "互联网应急办";

/// Names that mean MIIT's emergency office in the config: "MIIT" (any case), 工业和信息化部,
/// 工信部 and 互联网应急办 itself.
fn names_miit(t: &str) -> bool {
    t.eq_ignore_ascii_case("MIIT") || matches!(t, "工业和信息化部" | "工信部" | EMERGENCY_OFFICE)
}

/// The province whose communications administration `s` names, however it is written: the
/// official name ("广东省通信管理局", "广西壮族自治区通信管理局"), the short form ("广东通信管理局")
/// or the province alone ("广东", "广东省"). None when it names no provincial administration.
pub fn authority_province(s: &str) -> Option<&'static str> {
    let t = s.trim();
    normalize_province(t.strip_suffix("通信管理局").unwrap_or(t))
}

/// Normalises an authority name, so that every spelling of one authority compares equal (sink
/// filters, contacts, the alert routing):
///
/// - a provincial administration, in any spelling [`authority_province`] accepts, becomes the
///   short form "广东通信管理局" (the official names are the rules' `[authority.provinces]`,
///   which config validation does not see; the short form is also what incidents recorded
///   before the official names carry);
/// - "MIIT", 工业和信息化部 and 工信部 become [`EMERGENCY_OFFICE`];
/// - anything else (CNCERT, English names) is kept as written, trimmed.
pub fn normalize_authority(s: &str) -> String {
    let t = s.trim();
    if names_miit(t) {
        return EMERGENCY_OFFICE.to_string();
    }
    match authority_province(t) {
        Some(p) => format!("{p}通信管理局"),
        None => t.to_string(),
    }
}

/// `"192.0.2.1"`, `"2001:db8::1"`, `"127.0.0.1:5353"`, `"[::1]:5353"` → a socket address.
pub fn parse_address(s: &str, default_port: u16) -> Result<SocketAddr, String> {
    let t = s.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    t.parse::<SocketAddr>().map_err(|_| {
        format!("\"{t}\" is not an IP address (write \"192.0.2.1\", \"2001:db8::1\", \"127.0.0.1:5353\" or \"[::1]:5353\")")
    })
}

/// One RDATA of a reply in the form [`normalize_value`] gives expected values, so the two
/// compare as strings (the probe's verdicts, the reference zone, node consensus).
pub fn normalize_rdata(d: &hickory_proto::rr::RData) -> String {
    match d {
        hickory_proto::rr::RData::A(a) => a.0.to_string(),
        hickory_proto::rr::RData::AAAA(a) => a.0.to_string(),
        hickory_proto::rr::RData::NS(n) => fqdn_lower(&n.0),
        hickory_proto::rr::RData::CNAME(n) => fqdn_lower(&n.0),
        hickory_proto::rr::RData::PTR(n) => fqdn_lower(&n.0),
        other => other.to_string().to_lowercase(),
    }
}

fn fqdn_lower(n: &hickory_proto::rr::Name) -> String {
    let mut n = n.to_lowercase();
    n.set_fqdn(true);
    n.to_ascii()
}

/// Normalises an expected value for comparison with replies: addresses in canonical form,
/// names lowercase and fully qualified, other data as written (trimmed, lowercased).
pub fn normalize_value(v: &str, qtype: RecordType, expect: Expect) -> Result<String, String> {
    let t = v.trim();
    let as_name = expect == Expect::Referral
        || matches!(qtype, RecordType::NS | RecordType::CNAME | RecordType::PTR);
    match qtype {
        RecordType::A if !as_name => t
            .parse::<std::net::Ipv4Addr>()
            .map(|a| a.to_string())
            .map_err(|_| format!("\"{t}\" is not an IPv4 address")),
        RecordType::AAAA if !as_name => t
            .parse::<std::net::Ipv6Addr>()
            .map(|a| a.to_string())
            .map_err(|_| format!("\"{t}\" is not an IPv6 address")),
        _ if as_name => Name::from_utf8(t)
            .map(|mut n| {
                n.set_fqdn(true);
                n.to_lowercase().to_ascii()
            })
            .map_err(|e| format!("\"{t}\" is not a domain name: {e}")),
        _ => Ok(t.to_lowercase()),
    }
}
