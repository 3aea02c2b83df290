//! Record types, classes and the RDATA of the types the lab serves.

use super::name::{escape, parse_name};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, NULL, SOA, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::txt::parse_ttl;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Whether `word` is a class mnemonic (only `IN` is accepted, but the others are recognised so
/// that the error says so).
pub(super) fn is_class(word: &str) -> bool {
    ["IN", "CH", "CS", "HS", "ANY", "NONE"]
        .iter()
        .any(|c| word.eq_ignore_ascii_case(c))
}

/// A TTL or another RFC 1035 time field: seconds, or with units (`1h30m`).
pub(super) fn ttl(word: &str) -> Result<u32, String> {
    parse_ttl(word).map_err(|_| format!("bad TTL {word:?}"))
}

/// A record type by mnemonic or as `TYPEnnn` (RFC 3597).
pub(super) fn record_type(word: &str) -> Result<RecordType, String> {
    let upper = word.to_ascii_uppercase();
    if let Some(n) = upper.strip_prefix("TYPE") {
        if let Ok(code) = n.parse::<u16>() {
            return Ok(RecordType::from(code));
        }
    }
    match RecordType::from_str(&upper) {
        Ok(RecordType::Unknown(_)) | Err(_) => Err(format!("unknown record type {word:?}")),
        Ok(t) => Ok(t),
    }
}

/// The RDATA of `rtype` from its fields (`quoted` says which were quoted strings), names
/// relative to `origin`. Types A, AAAA, NS, CNAME, MX, TXT, SOA and DS are read from their
/// presentation form; any type may be written in the RFC 3597 generic form `\# <length> <hex>`.
pub(super) fn parse(rtype: RecordType, words: &[&str], origin: &Name) -> Result<RData, String> {
    if words.first() == Some(&"\\#") {
        return generic(rtype, &words[1..]);
    }
    let exactly = |n: usize, what: &str| {
        if words.len() == n {
            Ok(())
        } else {
            Err(format!("expected {what}, found {} fields", words.len()))
        }
    };
    let name = |word: &str| parse_name(word, origin);
    Ok(match rtype {
        RecordType::A => {
            exactly(1, "one IPv4 address")?;
            let ip: Ipv4Addr = words[0]
                .parse()
                .map_err(|_| format!("bad IPv4 address {:?}", words[0]))?;
            RData::A(A(ip))
        }
        RecordType::AAAA => {
            exactly(1, "one IPv6 address")?;
            let ip: Ipv6Addr = words[0]
                .parse()
                .map_err(|_| format!("bad IPv6 address {:?}", words[0]))?;
            RData::AAAA(AAAA(ip))
        }
        RecordType::NS => {
            exactly(1, "one name")?;
            RData::NS(NS(name(words[0])?))
        }
        RecordType::CNAME => {
            exactly(1, "one name")?;
            RData::CNAME(CNAME(name(words[0])?))
        }
        RecordType::MX => {
            exactly(2, "preference and exchange")?;
            let preference: u16 = words[0]
                .parse()
                .map_err(|_| format!("bad preference {:?}", words[0]))?;
            RData::MX(MX::new(preference, name(words[1])?))
        }
        RecordType::TXT => txt(words)?,
        RecordType::SOA => {
            exactly(7, "mname rname serial refresh retry expire minimum")?;
            let serial: u32 = words[2]
                .parse()
                .map_err(|_| format!("bad serial {:?}", words[2]))?;
            let signed = |w: &str| -> Result<i32, String> {
                i32::try_from(ttl(w)?).map_err(|_| format!("{w:?} is too large"))
            };
            RData::SOA(SOA::new(
                name(words[0])?,
                name(words[1])?,
                serial,
                signed(words[3])?,
                signed(words[4])?,
                signed(words[5])?,
                ttl(words[6])?,
            ))
        }
        RecordType::DS => ds(words)?,
        other => {
            return Err(format!(
                "type {other} is read only in the generic form \\# <length> <hex>"
            ))
        }
    })
}

fn txt(words: &[&str]) -> Result<RData, String> {
    if words.is_empty() {
        return Err("expected at least one string".into());
    }
    let strings = words
        .iter()
        .map(|w| unescape(w))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(long) = strings.iter().find(|s| s.len() > 255) {
        return Err(format!(
            "a string of {} bytes (at most 255; split it)",
            long.len()
        ));
    }
    Ok(RData::TXT(TXT::from_bytes(
        strings.iter().map(Vec::as_slice).collect(),
    )))
}

fn ds(words: &[&str]) -> Result<RData, String> {
    if words.len() < 4 {
        return Err("expected key tag, algorithm, digest type and digest".into());
    }
    let key_tag: u16 = words[0]
        .parse()
        .map_err(|_| format!("bad key tag {:?}", words[0]))?;
    let algorithm: u8 = words[1]
        .parse()
        .map_err(|_| format!("bad algorithm {:?}", words[1]))?;
    let digest_type: u8 = words[2]
        .parse()
        .map_err(|_| format!("bad digest type {:?}", words[2]))?;
    let digest = hex(&words[3..].concat())?;
    let mut wire = key_tag.to_be_bytes().to_vec();
    wire.extend([algorithm, digest_type]);
    wire.extend(digest);
    // The wire form, as the generic RDATA of type DS: the lab serves it as it is.
    Ok(RData::Unknown {
        code: RecordType::DS,
        rdata: NULL::with(wire),
    })
}

/// The RFC 3597 form `\# <length> <hex words>`, for a type this reader does not interpret.
fn generic(rtype: RecordType, words: &[&str]) -> Result<RData, String> {
    let Some((len, hex_words)) = words.split_first() else {
        return Err("\\# without a length".into());
    };
    let len: usize = len
        .parse()
        .map_err(|_| format!("bad length {len:?} after \\#"))?;
    let bytes = if len == 0 && hex_words.is_empty() {
        Vec::new()
    } else {
        hex(&hex_words.concat())?
    };
    if bytes.len() != len {
        return Err(format!(
            "\\# says {len} bytes, the data has {}",
            bytes.len()
        ));
    }
    if matches!(
        rtype,
        RecordType::A
            | RecordType::AAAA
            | RecordType::NS
            | RecordType::CNAME
            | RecordType::MX
            | RecordType::TXT
            | RecordType::SOA
    ) {
        return Err(format!(
            "write {rtype} in its presentation form, not as \\#"
        ));
    }
    // `NULL::with` asserts (in debug builds) that the bytes are not empty; `\# 0` is legal.
    let rdata = if bytes.is_empty() {
        NULL::new()
    } else {
        NULL::with(bytes)
    };
    Ok(RData::Unknown { code: rtype, rdata })
}

/// The bytes of a character string as written (quoted or not), escapes resolved.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(escape(&mut chars).ok_or_else(|| format!("bad escape in {text:?}"))?);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    Ok(out)
}

fn hex(text: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("bad hex {text:?}");
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|_| bad())?;
            u8::from_str_radix(s, 16).map_err(|_| bad())
        })
        .collect()
}
