//! Streaming RFC 1035 master-file reader that keeps only what a reference needs.
//!
//! Read line by line from a `BufRead` (one line buffer and one record's tokens at a time):
//! `$ORIGIN`, `$TTL`, `;` comments, parentheses continuing a record over lines, quoted strings
//! with escapes, an omitted owner (the line starts with blank space) meaning the previous one,
//! `@`, relative and absolute names, an optional TTL and class `IN` in either order, any type
//! by mnemonic or as `TYPEnnn`. NS records below the apex become delegations and the SOA gives
//! the serial; the RDATA of other types is not interpreted. Malformed input is an error naming
//! the file and the line a record starts on, never a panic. `$INCLUDE` is refused.

use super::delegations::{Delegations, DelegationsBuilder};
use super::error::ReferenceError;
use crate::lab::parse_name_text;
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::txt::parse_ttl;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Reads the delegations of the zone file `path`. `origin` is the zone's apex; `None` takes
/// the first `$ORIGIN` before any record, else the file name without its extension.
pub fn load_zone_file(path: &Path, origin: Option<&Name>) -> Result<Delegations, ReferenceError> {
    let file = std::fs::File::open(path).map_err(|source| ReferenceError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    let reader = std::io::BufReader::with_capacity(1 << 16, file);
    parse_zone_reader(reader, path, origin)
}

/// Reads the delegations of a zone from `reader`; `file` names it in errors. See
/// [`load_zone_file`] for `origin`.
pub fn parse_zone_reader<R: BufRead>(
    mut reader: R,
    file: &Path,
    origin: Option<&Name>,
) -> Result<Delegations, ReferenceError> {
    let mut p = Parser {
        file: file.to_path_buf(),
        apex: origin.map(NameText::of),
        current: origin.map(NameText::of),
        builder: None,
        last_owner: None,
        spare: None,
        soa_line: None,
        fallback_origin: file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let mut line = Vec::with_capacity(256);
    let mut no = 0usize;
    let mut entry = Entry::default();
    let mut depth = 0usize;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| ReferenceError::Io {
                file: p.file.clone(),
                source,
            })?;
        if n == 0 {
            break;
        }
        no += 1;
        if depth == 0 {
            entry.clear(no, matches!(line.first(), Some(b' ' | b'\t')));
        }
        tokenize(&line, &mut entry, &mut depth).map_err(|reason| p.syntax(no, reason))?;
        if depth == 0 && !entry.is_empty() {
            entry
                .seal()
                .map_err(|reason| p.syntax(entry.line, reason))?;
            p.entry(&entry)?;
        }
    }
    if depth > 0 {
        return Err(p.syntax(entry.line, "'(' without ')'".into()));
    }
    let builder = match p.builder {
        Some(b) => b,
        None => {
            return Err(ReferenceError::Zone {
                file: p.file,
                reason: "no records".into(),
            })
        }
    };
    if p.soa_line.is_none() {
        return Err(ReferenceError::Zone {
            file: p.file,
            reason: format!("no SOA record at the apex {}", builder.origin()),
        });
    }
    Ok(builder.finish())
}

/// A name as the text references compare in, and as a `Name` when it needed the general
/// parser (escapes, non-ASCII): plain names never build one, which keeps reading a million
/// delegations cheap.
#[derive(Debug, Clone)]
struct NameText {
    text: String,
    name: Option<Name>,
}

impl NameText {
    fn of(n: &Name) -> NameText {
        let mut name = n.to_lowercase();
        name.set_fqdn(true);
        NameText {
            text: name.to_ascii(),
            name: Some(name),
        }
    }

    fn plain(&self) -> bool {
        !self.text.contains('\\')
    }

    fn to_name(&self) -> Name {
        self.name
            .clone()
            .or_else(|| Name::from_str(&self.text).ok())
            .unwrap_or_else(Name::root)
    }

    /// Whether `other` is at or below this name.
    fn zone_of(&self, other: &NameText) -> bool {
        if self.plain() && other.plain() {
            let (a, n) = (self.text.as_str(), other.text.as_str());
            a == "."
                || a == n
                || (n.len() > a.len()
                    && n.ends_with(a)
                    && n.as_bytes()[n.len() - a.len() - 1] == b'.')
        } else {
            self.to_name().zone_of(&other.to_name())
        }
    }

    fn same(&self, other: &NameText) -> bool {
        if self.plain() && other.plain() {
            self.text == other.text
        } else {
            self.to_name() == other.to_name()
        }
    }
}

/// One logical record: the line it starts on, whether its owner was omitted, its tokens.
#[derive(Debug, Default)]
struct Entry {
    line: usize,
    owner_omitted: bool,
    bytes: Vec<u8>,
    /// `bytes` as text, once the record is complete.
    text: String,
    /// (start, end, quoted) in `bytes`.
    tokens: Vec<(usize, usize, bool)>,
}

impl Entry {
    fn clear(&mut self, line: usize, owner_omitted: bool) {
        self.line = line;
        self.owner_omitted = owner_omitted;
        self.bytes.clear();
        self.tokens.clear();
    }

    fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    fn token(&self, i: usize) -> Option<(&str, bool)> {
        let &(s, e, q) = self.tokens.get(i)?;
        Some((self.text.get(s..e).unwrap_or("\u{fffd}"), q))
    }

    /// Checks that the record is UTF-8 text (once per record, not per token).
    fn seal(&mut self) -> Result<(), String> {
        self.text.clear();
        match std::str::from_utf8(&self.bytes) {
            Ok(t) => {
                self.text.push_str(t);
                Ok(())
            }
            Err(e) => Err(format!("not UTF-8 text: {e}")),
        }
    }
}

/// Adds the tokens of one line to `entry`, tracking parentheses.
fn tokenize(line: &[u8], entry: &mut Entry, depth: &mut usize) -> Result<(), String> {
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b';' => break,
            b'(' => {
                *depth += 1;
                i += 1;
            }
            b')' => {
                *depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "')' without '('".to_string())?;
                i += 1;
            }
            b'"' => {
                i += 1;
                let start = entry.bytes.len();
                loop {
                    match line.get(i) {
                        None | Some(b'\n') => return Err("unterminated quoted string".into()),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            entry.bytes.push(b'\\');
                            match line.get(i + 1) {
                                None | Some(b'\n') => {
                                    return Err("unterminated quoted string".into())
                                }
                                Some(&c) => entry.bytes.push(c),
                            }
                            i += 2;
                        }
                        Some(&c) => {
                            entry.bytes.push(c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                entry.tokens.push((start, entry.bytes.len(), true));
            }
            _ => {
                let start = entry.bytes.len();
                let mut escaped = false;
                while let Some(&c) = line.get(i) {
                    let ends =
                        matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"');
                    if ends && !escaped {
                        break;
                    }
                    escaped = c == b'\\' && !escaped;
                    entry.bytes.push(c);
                    i += 1;
                }
                entry.tokens.push((start, entry.bytes.len(), false));
            }
        }
    }
    Ok(())
}

struct Parser {
    file: PathBuf,
    /// The zone's apex (decided by the caller, the first `$ORIGIN`, or the file name).
    apex: Option<NameText>,
    /// The origin relative names are completed with.
    current: Option<NameText>,
    builder: Option<DelegationsBuilder>,
    last_owner: Option<NameText>,
    /// A name buffer kept between records (NS targets), so reading allocates nothing per record.
    spare: Option<NameText>,
    soa_line: Option<usize>,
    fallback_origin: String,
}

impl Parser {
    fn syntax(&self, line: usize, reason: String) -> ReferenceError {
        ReferenceError::Syntax {
            file: self.file.clone(),
            line,
            reason,
        }
    }

    /// Decides the apex now if it was not yet (from the file name).
    fn ensure_apex(&mut self, line: usize) -> Result<(), ReferenceError> {
        if self.apex.is_none() {
            let n = Name::from_utf8(&self.fallback_origin).map_err(|e| {
                self.syntax(
                    line,
                    format!("no $ORIGIN and the file name is not a zone name: {e}"),
                )
            })?;
            self.apex = Some(NameText::of(&n));
        }
        if let Some(apex) = &self.apex {
            if self.current.is_none() {
                self.current = Some(apex.clone());
            }
            if self.builder.is_none() {
                self.builder = Some(DelegationsBuilder::new(apex.to_name()));
            }
        }
        Ok(())
    }

    fn name(&self, line: usize, text: &str) -> Result<NameText, ReferenceError> {
        self.name_into(line, text, None)
    }

    /// Like `name`, writing into the buffer of `reuse` when given (no allocation per record).
    fn name_into(
        &self,
        line: usize,
        text: &str,
        reuse: Option<NameText>,
    ) -> Result<NameText, ReferenceError> {
        let mut out = reuse.unwrap_or(NameText {
            text: String::new(),
            name: None,
        });
        if let Some(fast) = fast_name(text, self.current.as_ref(), &mut out.text) {
            fast.map_err(|e| self.syntax(line, e))?;
            out.name = None;
            return Ok(out);
        }
        let origin = self
            .current
            .as_ref()
            .map(NameText::to_name)
            .unwrap_or_else(Name::root);
        let n = parse_name_text(text, &origin).map_err(|e| self.syntax(line, e))?;
        Ok(NameText::of(&n))
    }

    fn entry(&mut self, e: &Entry) -> Result<(), ReferenceError> {
        let line = e.line;
        let Some((first, quoted)) = e.token(0) else {
            return Ok(());
        };
        if !e.owner_omitted && !quoted && first.starts_with('$') {
            let args = e.tokens.len() - 1;
            match first.to_ascii_uppercase().as_str() {
                "$ORIGIN" => {
                    let (Some((arg, _)), 1) = (e.token(1), args) else {
                        return Err(self.syntax(line, "$ORIGIN takes one name".into()));
                    };
                    let n = self.name(line, arg)?;
                    if self.apex.is_none() {
                        self.apex = Some(n.clone());
                    }
                    self.current = Some(n);
                }
                "$TTL" => {
                    let (Some((arg, _)), 1) = (e.token(1), args) else {
                        return Err(self.syntax(line, "$TTL takes one TTL".into()));
                    };
                    parse_ttl(arg).map_err(|_| self.syntax(line, format!("bad TTL {arg:?}")))?;
                }
                "$INCLUDE" => {
                    return Err(self.syntax(line, "$INCLUDE is not supported".into()));
                }
                other => return Err(self.syntax(line, format!("unsupported directive {other}"))),
            }
            return Ok(());
        }
        self.ensure_apex(line)?;
        // Taken out for the record and put back at the end (an error ends the parse anyway).
        let apex = self
            .apex
            .take()
            .unwrap_or_else(|| NameText::of(&Name::root()));
        let mut k = 0;
        let owner = if e.owner_omitted {
            self.last_owner
                .clone()
                .ok_or_else(|| self.syntax(line, "no owner name and no previous record".into()))?
        } else {
            k = 1;
            let reuse = self.last_owner.take();
            self.name_into(line, first, reuse)?
        };
        // Optional TTL and class, in either order.
        let (mut ttl_seen, mut class_seen) = (false, false);
        while let Some((word, quoted)) = e.token(k) {
            if quoted {
                break;
            } else if !ttl_seen && word.starts_with(|c: char| c.is_ascii_digit()) {
                parse_ttl(word).map_err(|_| self.syntax(line, format!("bad TTL {word:?}")))?;
                ttl_seen = true;
            } else if !class_seen && is_class(word) {
                if !word.eq_ignore_ascii_case("IN") {
                    return Err(
                        self.syntax(line, format!("class {word} is not supported (only IN)"))
                    );
                }
                class_seen = true;
            } else {
                break;
            }
            k += 1;
        }
        let Some((type_word, _)) = e.token(k) else {
            return Err(self.syntax(line, "no record type".into()));
        };
        let rtype = record_type(type_word).map_err(|r| self.syntax(line, r))?;
        let rdata: Vec<&str> = (k + 1..e.tokens.len())
            .filter_map(|i| e.token(i).map(|t| t.0))
            .collect();
        if !apex.zone_of(&owner) {
            return Err(self.syntax(
                line,
                format!("owner {} is outside the zone {}", owner.text, apex.text),
            ));
        }
        match rtype {
            RecordType::NS => {
                let [target] = rdata[..] else {
                    return Err(self.syntax(
                        line,
                        format!("NS: expected one name, found {} fields", rdata.len()),
                    ));
                };
                let reuse = self.spare.take();
                let target = self.name_into(line, target, reuse)?;
                if !owner.same(&apex) {
                    if let Some(b) = self.builder.as_mut() {
                        b.add_ns(&owner.text, &target.text);
                    }
                }
                self.spare = Some(target);
            }
            RecordType::SOA => {
                if !owner.same(&apex) {
                    return Err(self.syntax(
                        line,
                        format!("SOA owner {} is not the apex {}", owner.text, apex.text),
                    ));
                }
                if let Some(first) = self.soa_line {
                    return Err(
                        self.syntax(line, format!("second SOA (the first is on line {first})"))
                    );
                }
                if rdata.len() != 7 {
                    return Err(self.syntax(
                        line,
                        format!(
                            "SOA: expected mname rname serial refresh retry expire minimum, found {} fields",
                            rdata.len()
                        ),
                    ));
                }
                let serial: u32 = rdata[2]
                    .parse()
                    .map_err(|_| self.syntax(line, format!("SOA: bad serial {:?}", rdata[2])))?;
                for w in &rdata[3..] {
                    parse_ttl(w)
                        .map_err(|_| self.syntax(line, format!("SOA: bad number {w:?}")))?;
                }
                self.soa_line = Some(line);
                if let Some(b) = self.builder.as_mut() {
                    b.set_serial(serial);
                }
            }
            _ => {
                if rdata.is_empty() {
                    return Err(self.syntax(line, format!("{rtype}: no data")));
                }
            }
        }
        self.last_owner = Some(owner);
        self.apex = Some(apex);
        Ok(())
    }
}

/// A plain name (letters, digits, `-`, `_`, `*`, dots) as reference text, without building
/// a `Name` through the general parser; `None` when the name needs that parser (escapes,
/// non-ASCII, `@`).
fn fast_name(
    text: &str,
    origin: Option<&NameText>,
    out: &mut String,
) -> Option<Result<(), String>> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*' | b'.');
    if text == "@" || !text.bytes().all(ok) {
        return None;
    }
    let bad = |why: &str| Err(format!("bad name {text:?}: {why}"));
    out.clear();
    if text == "." {
        out.push('.');
        return Some(Ok(()));
    }
    let absolute = text.ends_with('.');
    let body = text.strip_suffix('.').unwrap_or(text);
    let mut wire = 1;
    for label in body.split('.') {
        if label.is_empty() {
            return Some(bad("empty label"));
        }
        if label.len() > 63 {
            return Some(bad("label longer than 63 bytes"));
        }
        wire += label.len() + 1;
    }
    out.push_str(body);
    out.make_ascii_lowercase();
    out.push('.');
    if !absolute {
        let origin = origin.map(|o| o.text.as_str()).unwrap_or(".");
        if origin != "." {
            out.push_str(origin);
            wire += origin.len();
        }
    }
    if wire > 255 {
        return Some(bad("longer than 255 bytes"));
    }
    Some(Ok(()))
}

fn is_class(word: &str) -> bool {
    ["IN", "CH", "CS", "HS", "ANY", "NONE"]
        .iter()
        .any(|c| word.eq_ignore_ascii_case(c))
}

fn record_type(word: &str) -> Result<RecordType, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Delegations, ReferenceError> {
        parse_zone_reader(text.as_bytes(), Path::new("cn.zone"), None)
    }

    #[test]
    fn reads_the_master_format() {
        let d = parse(
            "; a comment\n$ORIGIN cn.\n$TTL 1h\n\
             @ IN SOA a.dns.cn. hostmaster.cn. (\n   2026112201 ; serial\n   7200 3600 2419200 21600 )\n\
             @ NS a.dns\n\
             Example IN NS ns1.example ; relative\n\
             \x20       86400 IN NS ns2.Other.NET.\n\
             ns1.example A 127.0.0.1\n\
             txt TXT \"a ( string ; with\" \"two\"\n\
             $ORIGIN sub.cn.\n\
             deep NS ns.deep\n\
             xn--fiqs8s 3600 NS ns.example.cn.\n\
             中文 IN NS ns.example.cn.\n\
             signed DS 1 8 2 ABCD\n\
             signed TYPE65534 \\# 1 00\n\
             example.cn. IN 300 NS ns1.example.cn.\n",
        )
        .expect("parses");
        assert_eq!(d.origin().to_ascii(), "cn.");
        assert_eq!(d.serial(), 2026112201);
        assert_eq!(d.len(), 4);
        assert_eq!(d.name_text(0), "example.cn.");
        assert_eq!(
            d.set_text(0),
            "ns1.example.cn.\nns2.other.net.",
            "omitted owner, dedup"
        );
        assert_eq!(d.name_text(1), "deep.sub.cn.");
        assert_eq!(d.set_text(1), "ns.deep.sub.cn.");
        assert_eq!(d.name_text(2), "xn--fiqs8s.sub.cn.");
        assert_eq!(
            d.name_text(3),
            "xn--fiq228c.sub.cn.",
            "IDN owner in A-label form"
        );
    }

    #[test]
    fn origin_from_the_caller_or_the_file_name() {
        let text = "@ SOA a b 1 2 3 4 5\nd1 NS ns.d1\n";
        let d = parse_zone_reader(
            text.as_bytes(),
            Path::new("x"),
            Some(&Name::from_str("Example.CN").unwrap()),
        )
        .unwrap();
        assert_eq!(d.name_text(0), "d1.example.cn.");
        let d = parse(text).unwrap();
        assert_eq!(d.name_text(0), "d1.cn.");
    }

    #[test]
    fn malformed_lines_give_file_and_line() {
        let head = "$ORIGIN cn.\n@ SOA a b 1 2 3 4 5\n";
        for (body, line, what) in [
            ("d1 NS\n", 3, "NS: expected one name"),
            ("d1 NS a b\n", 3, "found 2 fields"),
            ("d1 FOO x\n", 3, "unknown record type"),
            ("d1 IN\n", 3, "no record type"),
            ("d1 CH NS x\n", 3, "class CH"),
            ("d1 NS x\n\nd2 NS (y\n", 5, "'(' without ')'"),
            ("d1 NS x )\n", 3, "')' without '('"),
            ("d1 TXT \"open\n", 3, "unterminated"),
            ("d..x NS y\n", 3, "empty label"),
            ("d1 NS y\nd1.org. NS y\n", 4, "outside the zone"),
            ("$INCLUDE other.zone\n", 3, "$INCLUDE"),
            ("$TTL\n", 3, "$TTL takes one TTL"),
            ("$TTL 1x\n", 3, "bad TTL"),
            ("@ SOA a b 1 2 3 4 5\n", 3, "second SOA"),
            ("d1 SOA a b 1 2 3 4 5\n", 3, "is not the apex"),
            ("x 1zz NS y\n", 3, "bad TTL"),
            (&format!("{} NS y\n", "a".repeat(64)), 3, "63"),
        ] {
            let e = parse(&format!("{head}{body}")).expect_err(body);
            let s = e.to_string();
            assert_eq!(e.line(), Some(line), "{body:?}: {s}");
            assert!(s.starts_with(&format!("cn.zone:{line}: ")), "{s}");
            assert!(s.contains(what), "{body:?}: {s}");
        }
        let e = parse("  NS x\n").expect_err("no owner");
        assert!(e.to_string().contains("cn.zone:1: no owner name"), "{e}");
        let e = parse("$ORIGIN cn.\nd1 NS x\n").expect_err("no soa");
        assert!(e.to_string().contains("no SOA"), "{e}");
        let e = parse("@ SOA a b 1 2 3 4\n").expect_err("short soa");
        assert!(e.to_string().contains("cn.zone:1: SOA: expected"), "{e}");
    }

    #[test]
    fn binary_garbage_is_an_error_not_a_panic() {
        let mut bytes = b"$ORIGIN cn.\n@ SOA a b 1 2 3 4 5\n".to_vec();
        bytes.extend([0xff, 0xfe, b' ', b'N', b'S', b' ', 0x80, b'\n']);
        let r = parse_zone_reader(&bytes[..], Path::new("g.zone"), None);
        assert!(r.is_err());
        let e = parse_zone_reader(&b"\xff\xff"[..], Path::new("g.zone"), None);
        assert!(e.is_err());
    }

    #[test]
    fn same_delegations_as_the_lab_parser() {
        let mut text = String::from("$ORIGIN cn.\n$TTL 86400\n@ IN SOA a.dns.cn. hostmaster.cn. 7 7200 3600 2419200 21600\n@ IN NS a.dns.cn.\n");
        for i in 0..300 {
            text.push_str(&format!(
                "d{i} IN NS ns1.d{i}\nd{i} IN NS ns2.d{i}.example.net.\nns1.d{i} IN A 127.1.0.1\n"
            ));
        }
        let d = parse(&text).unwrap();
        let z = crate::lab::Zone::parse("cn.", &text).unwrap();
        let all = |d: &Delegations| {
            let mut v: Vec<(String, String)> = (0..d.len())
                .map(|i| (d.name_text(i).to_string(), d.set_text(i).to_string()))
                .collect();
            v.sort();
            v
        };
        assert_eq!(all(&d), all(&Delegations::from_zone(&z)));
        assert_eq!(d.len(), 300);
        assert_eq!(d.serial(), 7);
    }
}
