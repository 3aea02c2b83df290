//! Lab zones from master-file text, read by [`crate::zonefile`] with full RDATA.

use super::error::LabError;
use super::zone::Zone;
use crate::zonefile::{parse_name, ZoneFileError, ZoneReader};
use hickory_proto::rr::{Name, Record};
use std::path::Path;

/// Parses `text` as the zone `origin` (the reader's subset: [`crate::zonefile`]; RDATA of the
/// types A, AAAA, NS, CNAME, MX, TXT, SOA, DS, others in the generic form).
pub(crate) fn parse_zone(origin: &str, text: &str) -> Result<Zone, LabError> {
    let apex = parse_name(origin, &Name::root()).map_err(|e| LabError::Zone {
        origin: origin.to_string(),
        reason: format!("bad origin: {e}"),
    })?;
    let mut zone = Zone::empty(&apex);
    let apex = zone.origin().clone();
    let lab_error = |e: ZoneFileError| match e {
        ZoneFileError::Syntax { line, reason, .. } => LabError::Syntax {
            origin: origin.to_string(),
            line,
            reason,
        },
        ZoneFileError::Zone { reason, .. } => LabError::Zone {
            origin: origin.to_string(),
            reason,
        },
        ZoneFileError::Io { source, .. } => LabError::Zone {
            origin: origin.to_string(),
            reason: source.to_string(),
        },
    };
    let mut reader = ZoneReader::new(text.as_bytes(), Path::new(origin), Some(&apex));
    while let Some(record) = reader.next_record().map_err(lab_error)? {
        let data = record.rdata().map_err(lab_error)?;
        zone.insert(Record::from_rdata(
            record.owner().to_name(),
            record.ttl(),
            data,
        ));
    }
    Ok(zone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::NS;
    use hickory_proto::rr::{RData, RecordType};
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
}
