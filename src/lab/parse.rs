//! A practical subset of the RFC 1035 master-file format, read into a [`Zone`].
//!
//! Supported: `$ORIGIN`, `$TTL`, `;` comments, parentheses continuing a record over lines,
//! quoted strings with `\X` and `\DDD` escapes, an omitted owner (a line starting with blank
//! space) meaning the previous owner, `@`, relative and absolute names, an optional TTL (with
//! units: `1h30m`) and class `IN` in either order, and the types SOA, NS, A, AAAA, CNAME, MX,
//! TXT and DS. A record without TTL takes `$TTL`, else the last explicit TTL, else 3600.
//! Not supported: `$INCLUDE`, `$GENERATE`, other classes and types, `TYPEnnn` syntax.

use super::error::LabError;
use super::zone::Zone;
use hickory_proto::rr::domain::Label;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, NULL, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::parse_ttl;
use std::net::{Ipv4Addr, Ipv6Addr};

/// TTL of records when neither `$TTL` nor any earlier record gave one.
const FALLBACK_TTL: u32 = 3600;

/// One token of a record: its text as written (escapes kept) and whether it was quoted.
#[derive(Debug)]
struct Token {
    text: String,
    quoted: bool,
}

/// One logical record or directive: the line it starts on, whether its owner was omitted
/// (the line starts with blank space), and its tokens.
#[derive(Debug)]
struct Entry {
    line: usize,
    owner_omitted: bool,
    tokens: Vec<Token>,
}

/// Parses `text` as the zone `origin`; see the module documentation for the subset.
pub(crate) fn parse_zone(origin: &str, text: &str) -> Result<Zone, LabError> {
    let zone_error = |reason: String| LabError::Zone {
        origin: origin.to_string(),
        reason,
    };
    let apex =
        parse_name(origin, &Name::root()).map_err(|e| zone_error(format!("bad origin: {e}")))?;
    let mut zone = Zone::empty(&apex);
    let apex = zone.origin().clone();
    let syntax = |line: usize, reason: String| LabError::Syntax {
        origin: origin.to_string(),
        line,
        reason,
    };

    let mut current_origin = apex.clone();
    let mut default_ttl: Option<u32> = None;
    let mut last_ttl: Option<u32> = None;
    let mut last_owner: Option<Name> = None;
    let mut soa_line: Option<usize> = None;

    for entry in entries(text).map_err(|(line, reason)| syntax(line, reason))? {
        let line = entry.line;
        let mut tokens = entry.tokens.iter().peekable();
        let first = entry.tokens.first().map(|t| (t.text.as_str(), t.quoted));
        if let (false, Some((word, false))) = (entry.owner_omitted, first) {
            if word.starts_with('$') {
                let args: Vec<&Token> = entry.tokens.iter().skip(1).collect();
                match word.to_ascii_uppercase().as_str() {
                    "$ORIGIN" => {
                        let [arg] = args[..] else {
                            return Err(syntax(line, "$ORIGIN takes one name".into()));
                        };
                        current_origin =
                            parse_name(&arg.text, &current_origin).map_err(|e| syntax(line, e))?;
                    }
                    "$TTL" => {
                        let [arg] = args[..] else {
                            return Err(syntax(line, "$TTL takes one TTL".into()));
                        };
                        default_ttl = Some(ttl(&arg.text).map_err(|e| syntax(line, e))?);
                    }
                    other => {
                        return Err(syntax(line, format!("unsupported directive {other}")));
                    }
                }
                continue;
            }
        }

        let owner = if entry.owner_omitted {
            last_owner
                .clone()
                .ok_or_else(|| syntax(line, "no owner name and no previous record".into()))?
        } else {
            let token = tokens
                .next()
                .ok_or_else(|| syntax(line, "empty record".into()))?;
            parse_name(&token.text, &current_origin).map_err(|e| syntax(line, e))?
        };

        // Optional TTL and class, in either order.
        let mut explicit_ttl = None;
        let mut class_seen = false;
        while let Some(token) = tokens.peek() {
            let word = token.text.as_str();
            if token.quoted {
                break;
            } else if explicit_ttl.is_none() && word.starts_with(|c: char| c.is_ascii_digit()) {
                explicit_ttl = Some(ttl(word).map_err(|e| syntax(line, e))?);
            } else if !class_seen && is_class(word) {
                if !word.eq_ignore_ascii_case("IN") {
                    return Err(syntax(
                        line,
                        format!("class {word} is not supported (only IN)"),
                    ));
                }
                class_seen = true;
            } else {
                break;
            }
            tokens.next();
        }

        let type_token = tokens
            .next()
            .ok_or_else(|| syntax(line, "no record type".into()))?;
        let rtype = record_type(&type_token.text).map_err(|e| syntax(line, e))?;
        let rdata_tokens: Vec<&Token> = tokens.collect();
        let data = rdata(rtype, &rdata_tokens, &current_origin)
            .map_err(|e| syntax(line, format!("{rtype}: {e}")))?;

        if !apex.zone_of(&owner) {
            return Err(syntax(
                line,
                format!("owner {owner} is outside the zone {apex}"),
            ));
        }
        if rtype == RecordType::SOA {
            if owner != apex {
                return Err(syntax(
                    line,
                    format!("SOA owner {owner} is not the apex {apex}"),
                ));
            }
            if let Some(first) = soa_line {
                return Err(syntax(
                    line,
                    format!("second SOA (the first is on line {first})"),
                ));
            }
            soa_line = Some(line);
        }
        if explicit_ttl.is_some() {
            last_ttl = explicit_ttl;
        }
        let record_ttl = explicit_ttl
            .or(default_ttl)
            .or(last_ttl)
            .unwrap_or(FALLBACK_TTL);
        zone.insert(Record::from_rdata(owner.clone(), record_ttl, data));
        last_owner = Some(owner);
    }

    if soa_line.is_none() {
        return Err(zone_error("no SOA record at the apex".into()));
    }
    Ok(zone)
}

/// Splits master-file text into logical records: comments removed, parenthesised
/// continuations joined, quoted strings kept whole. Errors carry the line they are on.
fn entries(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<Entry> = None;
    let mut line = 1;
    let mut depth = 0usize;
    let mut at_line_start = true;
    let mut chars = text.chars().peekable();

    while let Some(c) = chars.next() {
        let was_line_start = std::mem::replace(&mut at_line_start, false);
        match c {
            '\n' => {
                if depth == 0 {
                    out.extend(current.take());
                }
                line += 1;
                at_line_start = true;
            }
            ' ' | '\t' | '\r' => {}
            ';' => while chars.next_if(|&c| c != '\n').is_some() {},
            '(' => {
                start(&mut current, line, was_line_start);
                depth += 1;
            }
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or((line, "')' without '('".to_string()))?;
            }
            '"' => {
                let begin = line;
                let mut text = String::new();
                loop {
                    match chars.next() {
                        None | Some('\n') => {
                            return Err((begin, "unterminated quoted string".into()));
                        }
                        Some('"') => break,
                        Some('\\') => {
                            text.push('\\');
                            match chars.next() {
                                None | Some('\n') => {
                                    return Err((begin, "unterminated quoted string".into()));
                                }
                                Some(e) => text.push(e),
                            }
                        }
                        Some(other) => text.push(other),
                    }
                }
                start(&mut current, line, was_line_start)
                    .tokens
                    .push(Token { text, quoted: true });
            }
            first => {
                let mut text = String::from(first);
                let mut escaped = first == '\\';
                while let Some(&next) = chars.peek() {
                    let ends = matches!(next, ' ' | '\t' | '\r' | '\n' | ';' | '(' | ')' | '"');
                    if ends && !escaped {
                        break;
                    }
                    escaped = next == '\\' && !escaped;
                    text.push(next);
                    chars.next();
                }
                start(&mut current, line, was_line_start)
                    .tokens
                    .push(Token {
                        text,
                        quoted: false,
                    });
            }
        }
    }
    if depth > 0 {
        let begin = current.as_ref().map_or(line, |e| e.line);
        return Err((begin, "'(' without ')'".into()));
    }
    out.extend(current.take());
    Ok(out)
}

/// The entry being read, started at `line` if there is none yet.
fn start(current: &mut Option<Entry>, line: usize, at_line_start: bool) -> &mut Entry {
    current.get_or_insert_with(|| Entry {
        line,
        owner_omitted: !at_line_start,
        tokens: Vec::new(),
    })
}

fn is_class(word: &str) -> bool {
    ["IN", "CH", "CS", "HS", "ANY", "NONE"]
        .iter()
        .any(|c| word.eq_ignore_ascii_case(c))
}

fn ttl(word: &str) -> Result<u32, String> {
    parse_ttl(word).map_err(|_| format!("bad TTL {word:?}"))
}

fn record_type(word: &str) -> Result<RecordType, String> {
    let upper = word.to_ascii_uppercase();
    let supported = [
        RecordType::SOA,
        RecordType::NS,
        RecordType::A,
        RecordType::AAAA,
        RecordType::CNAME,
        RecordType::MX,
        RecordType::TXT,
        RecordType::DS,
    ];
    supported
        .into_iter()
        .find(|t| t.to_string() == upper)
        .ok_or_else(|| format!("unsupported or unknown record type {word:?}"))
}

/// The RDATA of `rtype` from its tokens.
fn rdata(rtype: RecordType, tokens: &[&Token], origin: &Name) -> Result<RData, String> {
    let words: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
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
        RecordType::TXT => {
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
            RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
        }
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
        RecordType::DS => {
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
            // hickory-proto has typed DS data only with its DNSSEC features, which this crate
            // does not enable; the wire form is the same.
            RData::Unknown {
                code: RecordType::DS,
                rdata: NULL::with(wire),
            }
        }
        other => return Err(format!("unsupported record type {other}")),
    })
}

/// A domain name as written in a zone file: `@` is `origin`, a name without a trailing dot
/// is relative to `origin`, `\X` and `\DDD` (decimal) escapes are honoured, and non-ASCII
/// labels are converted to punycode.
pub(crate) fn parse_name(text: &str, origin: &Name) -> Result<Name, String> {
    if text == "@" {
        return Ok(origin.clone());
    }
    if text == "." {
        return Ok(Name::root());
    }
    let bad = |why: &str| format!("bad name {text:?}: {why}");
    let mut labels: Vec<Vec<u8>> = vec![Vec::new()];
    let mut absolute = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let label = labels.last_mut().ok_or_else(|| bad("empty"))?;
        match c {
            '.' => {
                if label.is_empty() {
                    return Err(bad("empty label"));
                }
                labels.push(Vec::new());
            }
            '\\' => label.push(escape(&mut chars).ok_or_else(|| bad("bad escape"))?),
            other => {
                let mut buf = [0u8; 4];
                label.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    if labels.last().is_some_and(Vec::is_empty) {
        labels.pop();
        absolute = true;
    }
    let mut out = Vec::with_capacity(labels.len());
    for bytes in &labels {
        let label = match std::str::from_utf8(bytes) {
            Ok(s) if !s.is_ascii() => Label::from_utf8(s),
            _ => Label::from_raw_bytes(bytes),
        };
        out.push(label.map_err(|e| bad(&e.to_string()))?);
    }
    if !absolute {
        out.extend(
            origin
                .iter()
                .map(Label::from_raw_bytes)
                .filter_map(Result::ok),
        );
    }
    Name::from_labels(out).map_err(|e| bad(&e.to_string()))
}

/// The byte after a backslash: `\DDD` (decimal, at most 255) or the character itself.
fn escape(chars: &mut std::str::Chars<'_>) -> Option<u8> {
    let first = chars.next()?;
    match first.to_digit(10) {
        Some(d1) => {
            let d2 = chars.next()?.to_digit(10)?;
            let d3 = chars.next()?.to_digit(10)?;
            u8::try_from(d1 * 100 + d2 * 10 + d3).ok()
        }
        None => u8::try_from(u32::from(first)).ok(),
    }
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
    let bad = || format!("bad hex digest {text:?}");
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn name(s: &str) -> Name {
        Name::from_str(s).expect("name")
    }

    fn line_of(text: &str) -> Option<usize> {
        Zone::parse("example.cn.", text)
            .err()
            .and_then(|e| e.line())
    }

    #[test]
    fn parses_the_supported_subset() {
        let text = r#"
; a comment line
$TTL 1h
$ORIGIN example.cn.
@   IN  SOA ns1 hostmaster.example.cn. (
            2026112201 ; serial
            1h 10m 1d 5m )
    IN  NS  ns1            ; owner omitted: the apex
    600 IN NS ns2.example.net.
ns1 IN 120 A 192.0.2.53
WWW     AAAA 2001:db8::1
txt     TXT "hello world" "semi;colon" "q\"uote" \065bc
mail    MX 10 www
sub     NS ns1.sub
sub     DS 60485 5 1 2BB183AF5F22588179A53B0A 98631FAD1A292118
$ORIGIN sub.example.cn.
ns1     A 192.0.2.54
Ünï     A 192.0.2.55
"#;
        let z = Zone::parse("example.cn", text).expect("parses");
        assert_eq!(z.origin(), &name("example.cn."));
        assert_eq!(z.serial(), 2026112201);
        assert_eq!(z.soa().map(|r| r.ttl), Some(3600));
        let ns: Vec<_> = z.lookup(&name("example.cn."), RecordType::NS).collect();
        assert_eq!(ns.len(), 2);
        assert_eq!(ns[1].ttl, 600);
        assert_eq!(ns[1].data, RData::NS(NS(name("ns2.example.net."))));
        let a = z
            .lookup(&name("ns1.example.cn."), RecordType::A)
            .next()
            .expect("a");
        assert_eq!(a.ttl, 120);
        assert_eq!(
            z.lookup(&name("www.example.cn."), RecordType::AAAA).count(),
            1
        );
        let txt = z
            .lookup(&name("txt.example.cn."), RecordType::TXT)
            .next()
            .expect("txt");
        let RData::TXT(txt) = &txt.data else {
            panic!("not TXT")
        };
        let strings: Vec<&[u8]> = txt.txt_data.iter().map(|s| &s[..]).collect();
        assert_eq!(
            strings,
            [&b"hello world"[..], b"semi;colon", b"q\"uote", b"Abc"]
        );
        let ds = z
            .lookup(&name("sub.example.cn."), RecordType::DS)
            .next()
            .expect("ds");
        let RData::Unknown { rdata, .. } = &ds.data else {
            panic!("not DS")
        };
        assert_eq!(&rdata.anything[..6], &[0xec, 0x45, 5, 1, 0x2b, 0xb1]);
        assert_eq!(rdata.anything.len(), 4 + 20);
        assert_eq!(
            z.lookup(&name("ns1.sub.example.cn."), RecordType::A)
                .count(),
            1
        );
        let idn = z
            .names()
            .find(|n| n.to_ascii().starts_with("xn--"))
            .expect("punycode owner");
        assert_eq!(idn.base_name(), name("sub.example.cn."));
    }

    #[test]
    fn errors_name_the_line() {
        let soa = "@ IN SOA ns1 hostmaster 1 2 3 4 5\n";
        assert_eq!(line_of(&format!("{soa}\n\nwww IN A not-an-ip\n")), Some(4));
        assert_eq!(
            line_of(&format!("{soa}www IN A 192.0.2.1 extra\n")),
            Some(2)
        );
        assert_eq!(line_of(&format!("{soa}www IN SRV 0 0 53 x\n")), Some(2));
        assert_eq!(line_of(&format!("{soa}www CH A 192.0.2.1\n")), Some(2));
        assert_eq!(
            line_of(&format!("{soa}www.example.org. A 192.0.2.1\n")),
            Some(2)
        );
        assert_eq!(line_of(&format!("{soa}$INCLUDE other.zone\n")), Some(2));
        assert_eq!(line_of(&format!("{soa}txt TXT \"open\n")), Some(2));
        assert_eq!(line_of(&format!("{soa}x MX 10 (\n a.b.\n")), Some(2));
        assert_eq!(line_of(&format!("{soa}x A 192.0.2.1 )\n")), Some(2));
        assert_eq!(line_of(&format!("{soa}a..b A 192.0.2.1\n")), Some(2));
        assert_eq!(line_of(&format!("{soa}{soa}")), Some(2));
        assert_eq!(line_of(&format!("{soa}x DS 1 2 3 xyz\n")), Some(2));
        assert_eq!(line_of("   A 192.0.2.1\n"), Some(1));
        let e = Zone::parse("example.cn.", "\n\nwww IN A 1.2.3.4.5\n").expect_err("bad");
        let text = e.to_string();
        assert!(
            text.contains("line 3") && text.contains("1.2.3.4.5"),
            "{text}"
        );
        let e = Zone::parse("example.cn.", "www IN A 192.0.2.1\n").expect_err("no SOA");
        assert_eq!(e.line(), None);
        assert!(e.to_string().contains("no SOA"), "{e}");
    }

    #[test]
    fn names_relative_absolute_and_escaped() {
        let origin = name("example.cn.");
        assert_eq!(parse_name("@", &origin), Ok(origin.clone()));
        assert_eq!(parse_name("www", &origin), Ok(name("www.example.cn.")));
        assert_eq!(
            parse_name("www.example.org.", &origin),
            Ok(name("www.example.org."))
        );
        let dotted = parse_name("a\\.b", &origin).expect("escaped dot");
        assert_eq!(dotted.iter().next(), Some(&b"a.b"[..]));
        let decimal = parse_name("\\065", &origin).expect("decimal escape");
        assert_eq!(decimal.iter().next(), Some(&b"A"[..]));
        assert!(parse_name(".www", &origin).is_err());
        assert!(parse_name(&"x".repeat(64), &origin).is_err());
    }
}
