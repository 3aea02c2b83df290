//! Zone transfers (RFC 5936 AXFR) from the lab server, over TCP only.

use super::zone::{normalize, Zone};
use hickory_proto::op::{Message, Metadata, ResponseCode};
use hickory_proto::rr::{Record, RecordType};

/// Records per transfer message (each message stays far below 64 KiB).
const RECORDS_PER_MESSAGE: usize = 200;

/// The messages of an AXFR of the zone whose apex `query` asks for: the SOA, every other
/// record, the SOA again. `None` when `query` is not a readable AXFR query for an apex served.
pub(crate) fn transfer(zones: &[Zone], query: &[u8]) -> Option<Vec<Vec<u8>>> {
    let request = Message::from_vec(query).ok()?;
    let q = request.queries.first()?;
    if request.queries.len() != 1 || q.query_type() != RecordType::AXFR {
        return None;
    }
    let apex = normalize(q.name());
    let zone = zones.iter().find(|z| z.origin() == &apex)?;
    let soa = zone.soa()?.clone();
    let mut all: Vec<Record> = Vec::with_capacity(zone.len() + 1);
    all.push(soa.clone());
    all.extend(
        zone.records()
            .filter(|r| r.record_type() != RecordType::SOA)
            .cloned(),
    );
    all.push(soa);
    let mut out = Vec::new();
    for chunk in all.chunks(RECORDS_PER_MESSAGE) {
        let mut m = Message::response(request.metadata.id, request.metadata.op_code);
        m.metadata = Metadata::response_from_request(&request.metadata);
        m.metadata.authoritative = true;
        m.metadata.response_code = ResponseCode::NoError;
        m.queries = request.queries.clone();
        m.answers = chunk.to_vec();
        out.push(m.to_vec().ok()?);
    }
    Some(out)
}
