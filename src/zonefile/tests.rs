use super::*;
use std::str::FromStr;

fn name(s: &str) -> Name {
    Name::from_str(s).expect("name")
}

/// Owner, TTL, type and fields of a record.
type Read = (String, u32, RecordType, Vec<String>);

/// Every record of `text`, read as `cn.zone`.
fn records(text: &str) -> Result<Vec<Read>, ZoneFileError> {
    let mut r = ZoneReader::new(text.as_bytes(), Path::new("cn.zone"), None);
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        out.push((
            rec.owner().text().to_string(),
            rec.ttl(),
            rec.record_type(),
            rec.fields().map(str::to_string).collect(),
        ));
    }
    Ok(out)
}

const SOA: &str = "@ SOA a b 1 2 3 4 5\n";

#[test]
fn ttl_is_explicit_then_dollar_ttl_then_the_last_explicit_then_3600() {
    let r = records(&format!("{SOA}a A 127.0.0.1\nb 60 A 127.0.0.1\nc A 127.0.0.1\n$TTL 1h\nd A 127.0.0.1\ne IN 2m A 127.0.0.1\nf A 127.0.0.1\n")).unwrap();
    let ttls: Vec<(&str, u32)> = r.iter().map(|x| (x.0.as_str(), x.1)).collect();
    assert_eq!(
        ttls,
        [
            ("cn.", FALLBACK_TTL),
            ("a.cn.", FALLBACK_TTL),
            ("b.cn.", 60),
            ("c.cn.", 60),
            ("d.cn.", 3600),
            ("e.cn.", 120),
            ("f.cn.", 3600),
        ]
    );
}

#[test]
fn the_serial_and_the_apex_are_known_after_the_soa() {
    let text = "$ORIGIN Example.CN.\n@ SOA a b 2026120301 2 3 4 5\nwww A 127.0.0.1\n";
    let mut r = ZoneReader::new(text.as_bytes(), Path::new("x"), None);
    let first = r.next_record().unwrap().expect("soa");
    assert!(first.at_apex());
    assert_eq!(first.owner().text(), "example.cn.");
    let www = r.next_record().unwrap().expect("www");
    assert!(!www.at_apex());
    assert!(r.next_record().unwrap().is_none());
    assert_eq!(r.serial(), Some(2026120301));
    assert_eq!(r.apex().map(ZoneName::text), Some("example.cn."));
}

#[test]
fn any_type_by_mnemonic_or_number_and_the_generic_form() {
    let text = format!("{SOA}x TYPE65534 \\# 2 ab CD\nx SRV \\# 0\nx CAA \\# 3 000000\n");
    let mut r = ZoneReader::new(text.as_bytes(), Path::new("cn.zone"), None);
    let mut got = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        got.push((rec.record_type(), rec.rdata().unwrap()));
    }
    assert_eq!(got[1].0, RecordType::from(65534));
    let RData::Unknown { code, rdata } = &got[1].1 else {
        panic!("{:?}", got[1])
    };
    assert_eq!(
        (*code, rdata.anything.as_slice()),
        (RecordType::from(65534), &[0xab, 0xcd][..])
    );
    assert_eq!(got[2].0, RecordType::SRV);
    assert_eq!(got[3].0, RecordType::CAA);
    for (body, what) in [
        ("x TYPE65534 \\# 3 abcd\n", "says 3 bytes"),
        ("x TYPE65534 \\# z\n", "bad length"),
        ("x TYPE65534 \\# 1 zz\n", "bad hex"),
        ("x SRV 0 0 53 t\n", "generic form"),
        ("x A \\# 4 7f000001\n", "presentation form"),
    ] {
        let text = format!("{SOA}{body}");
        let mut r = ZoneReader::new(text.as_bytes(), Path::new("cn.zone"), None);
        r.next_record().unwrap();
        let e = r
            .next_record()
            .unwrap()
            .expect("record")
            .rdata()
            .expect_err(body);
        assert!(e.to_string().starts_with("cn.zone:2: "), "{e}");
        assert!(e.to_string().contains(what), "{body:?}: {e}");
    }
}

#[test]
fn plain_and_escaped_names_read_the_same() {
    let r = records(&format!(
        "{SOA}WWW A 127.0.0.1\n\\087ww A 127.0.0.1\nwww.cn. A 127.0.0.1\n中国 A 127.0.0.1\n"
    ))
    .unwrap();
    let owners: Vec<&str> = r.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        owners,
        ["cn.", "www.cn.", "www.cn.", "www.cn.", "xn--fiqs8s.cn."]
    );
    let mut r = ZoneReader::new(
        std::io::Cursor::new(format!("{SOA}WWW A 127.0.0.1\n\\087ww A 127.0.0.1\n")),
        Path::new("cn.zone"),
        None,
    );
    let mut seen = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        seen.push(rec.owner().clone());
    }
    assert!(seen[1].same(&seen[2]) && seen[0].zone_of(&seen[2]));
    assert_eq!(seen[1].to_name(), seen[2].to_name());
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
    assert!(parse_name("\\999", &origin).is_err());
}

#[test]
fn errors_name_file_and_line_and_never_panic() {
    for (text, line, what) in [
        (format!("{SOA}\n\nx A 127.0.0.1 (\n"), 4, "'(' without ')'"),
        (format!("{SOA}x NS y )\n"), 2, "')' without '('"),
        (format!("{SOA}x\n"), 2, "no record type"),
        (format!("{SOA}x NS\n"), 2, "NS: no data"),
        (
            format!("{SOA}$GENERATE 1-2 x A 127.0.0.1\n"),
            2,
            "unsupported directive",
        ),
        (format!("{SOA}$ORIGIN\n"), 2, "$ORIGIN takes one name"),
        (format!("{SOA}x 4294967296 A 127.0.0.1\n"), 2, "bad TTL"),
        ("@ SOA a b x 2 3 4 5\n".to_string(), 1, "bad serial"),
        ("@ SOA a b 1 2 3 4 zz\n".to_string(), 1, "bad number"),
    ] {
        let e = records(&text).expect_err(&text);
        let s = e.to_string();
        assert!(s.starts_with(&format!("cn.zone:{line}: ")), "{text:?}: {s}");
        assert!(s.contains(what), "{text:?}: {s}");
    }
    let e = records("").expect_err("empty");
    assert_eq!(e.to_string(), "cn.zone: no records");
    for garbage in [
        &b"\xff\xfe\n"[..],
        b"\x00\x01 NS \x80\n",
        b"(((((\n",
        b"\"\\",
    ] {
        assert!(ZoneReader::new(garbage, Path::new("g"), None)
            .next_record()
            .is_err());
    }
}
