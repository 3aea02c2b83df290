//! Reading a reference from a zone file: the delegations (NS records below the apex) and the
//! SOA serial, streamed through [`crate::zonefile`]; the RDATA of other types is not
//! interpreted, and nothing but the delegations is kept.

use super::delegations::{Delegations, DelegationsBuilder};
use super::error::ReferenceError;
use crate::zonefile::{ZoneFileError, ZoneName, ZoneReader};
use hickory_proto::rr::{Name, RecordType};
use std::io::BufRead;
use std::path::Path;

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
    reader: R,
    file: &Path,
    origin: Option<&Name>,
) -> Result<Delegations, ReferenceError> {
    let mut zone = ZoneReader::new(reader, file, origin);
    let mut builder: Option<DelegationsBuilder> = None;
    // One target buffer for every NS record: reading allocates nothing per record.
    let mut target = ZoneName::default();
    while let Some(record) = zone.next_record()? {
        let b = builder.get_or_insert_with(|| DelegationsBuilder::new(record.apex().to_name()));
        if record.record_type() == RecordType::NS {
            record.ns_target_into(&mut target)?;
            if !record.at_apex() {
                b.add_ns(record.owner().text(), target.text());
            }
        }
    }
    // The reader ends without error only after an SOA, so there was a record.
    let mut builder = builder.ok_or_else(|| ReferenceError::Zone {
        file: file.to_path_buf(),
        reason: "no records".into(),
    })?;
    builder.set_serial(zone.serial().unwrap_or_default());
    Ok(builder.finish())
}

impl From<ZoneFileError> for ReferenceError {
    fn from(e: ZoneFileError) -> ReferenceError {
        match e {
            ZoneFileError::Io { file, source } => ReferenceError::Io { file, source },
            ZoneFileError::Syntax { file, line, reason } => {
                ReferenceError::Syntax { file, line, reason }
            }
            ZoneFileError::Zone { file, reason } => ReferenceError::Zone { file, reason },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

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
            ("d1 NS\n", 3, "NS: no data"),
            ("d1 NS a (\n b )\n", 3, "NS: expected one name"),
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
}
