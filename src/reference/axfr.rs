//! The AXFR reference: transfer a TLD zone from its primary at start, poll the primary's SOA
//! serial every refresh interval, transfer again when it changes. A failed poll or transfer is
//! logged and counted, and the last good reference stays in force.
//!
//! The transfer is streamed into a [`DelegationsBuilder`] message by message, so only the
//! delegations are ever held, as with a zone file.

use super::delegations::{Delegations, DelegationsBuilder};
use super::error::ReferenceError;
use super::live::LiveReference;
use crate::config::normalize_rdata;
use crate::metrics::Metrics;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// A transfer (or an SOA poll) that takes longer than this fails.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);
/// An SOA poll that takes longer than this fails.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(10);

fn fail(zone: &Name, primary: &str, reason: impl Into<String>) -> ReferenceError {
    ReferenceError::Transfer {
        zone: zone.to_ascii(),
        primary: primary.to_string(),
        reason: reason.into(),
    }
}

async fn connect(primary: &str, zone: &Name) -> Result<TcpStream, ReferenceError> {
    let s = TcpStream::connect(primary)
        .await
        .map_err(|e| fail(zone, primary, format!("cannot connect: {e}")))?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

async fn send<S: AsyncWrite + Unpin>(
    s: &mut S,
    msg: &Message,
    zone: &Name,
    primary: &str,
) -> Result<(), ReferenceError> {
    let wire = msg
        .to_vec()
        .map_err(|e| fail(zone, primary, format!("cannot encode the query: {e}")))?;
    let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&wire);
    s.write_all(&framed)
        .await
        .map_err(|e| fail(zone, primary, format!("cannot send: {e}")))
}

async fn read<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    zone: &Name,
    primary: &str,
) -> Result<Message, ReferenceError> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)
        .await
        .map_err(|e| fail(zone, primary, format!("connection ended early: {e}")))?;
    buf.resize(usize::from(u16::from_be_bytes(len)), 0);
    s.read_exact(buf)
        .await
        .map_err(|e| fail(zone, primary, format!("connection ended early: {e}")))?;
    Message::from_vec(buf).map_err(|e| fail(zone, primary, format!("malformed message: {e}")))
}

fn query(zone: &Name, qtype: RecordType) -> Message {
    let mut m = Message::new(rand::random(), MessageType::Query, OpCode::Query);
    m.add_query(Query::query(zone.clone(), qtype));
    m
}

/// The primary's SOA serial for `zone` (one query over TCP).
pub async fn soa_serial(primary: &str, zone: &Name) -> Result<u32, ReferenceError> {
    let work = async {
        let mut s = connect(primary, zone).await?;
        let q = query(zone, RecordType::SOA);
        send(&mut s, &q, zone, primary).await?;
        let mut buf = Vec::new();
        let m = read(&mut s, &mut buf, zone, primary).await?;
        if m.metadata.id != q.metadata.id {
            return Err(fail(zone, primary, "reply with another ID"));
        }
        if m.metadata.response_code != ResponseCode::NoError {
            return Err(fail(
                zone,
                primary,
                format!("SOA query answered {}", m.metadata.response_code),
            ));
        }
        m.answers
            .iter()
            .find_map(|r| match &r.data {
                hickory_proto::rr::RData::SOA(s) => Some(s.serial),
                _ => None,
            })
            .ok_or_else(|| fail(zone, primary, "no SOA in the answer"))
    };
    tokio::time::timeout(POLL_TIMEOUT, work)
        .await
        .map_err(|_| fail(zone, primary, "SOA query timed out"))?
}

/// Transfers `zone` from `primary` and keeps its delegations.
pub async fn transfer(primary: &str, zone: &Name) -> Result<Delegations, ReferenceError> {
    let work = async {
        let mut s = connect(primary, zone).await?;
        transfer_over(&mut s, zone, primary, rand::random()).await
    };
    tokio::time::timeout(TRANSFER_TIMEOUT, work)
        .await
        .map_err(|_| fail(zone, primary, "transfer timed out"))?
}

/// The transfer itself, on a connected stream: sends the AXFR query with ID `id` and reads
/// the answer into delegations. Public (and hidden) for the fuzz targets in fuzz/, which feed
/// it an in-memory stream; [`transfer`] is the entry point.
#[doc(hidden)]
pub async fn transfer_over<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    zone: &Name,
    primary: &str,
    id: u16,
) -> Result<Delegations, ReferenceError> {
    let mut q = query(zone, RecordType::AXFR);
    q.metadata.id = id;
    send(s, &q, zone, primary).await?;
    let apex = {
        let mut a = zone.to_lowercase();
        a.set_fqdn(true);
        a
    };
    let mut b = DelegationsBuilder::new(apex.clone());
    let mut buf = Vec::new();
    let mut soas = 0;
    let mut records = 0u64;
    while soas < 2 {
        let m = read(s, &mut buf, zone, primary).await?;
        if m.metadata.id != q.metadata.id {
            return Err(fail(zone, primary, "message with another ID"));
        }
        if m.metadata.response_code != ResponseCode::NoError {
            return Err(fail(
                zone,
                primary,
                format!("transfer refused: {}", m.metadata.response_code),
            ));
        }
        if m.answers.is_empty() {
            return Err(fail(zone, primary, "empty transfer message"));
        }
        for r in &m.answers {
            if records == 0 && r.record_type() != RecordType::SOA {
                return Err(fail(
                    zone,
                    primary,
                    "the transfer does not start with the SOA",
                ));
            }
            records += 1;
            match &r.data {
                RData::SOA(soa) => {
                    soas += 1;
                    if soas == 1 {
                        b.set_serial(soa.serial);
                    }
                }
                RData::NS(_) => {
                    let owner = r.name.to_lowercase();
                    if owner != apex && apex.zone_of(&owner) {
                        let mut owner = owner;
                        owner.set_fqdn(true);
                        let text = owner.to_ascii();
                        // The reference keeps owners as text, and checks are made from the
                        // text: an owner whose labels the text form does not carry (bytes
                        // hickory-proto will not read back) would be probed as another name,
                        // so it is left out.
                        if Name::from_ascii(&text).is_ok_and(|n| n == owner) {
                            b.add_ns(&text, &normalize_rdata(&r.data));
                        }
                    }
                }
                _ => {}
            }
            if soas >= 2 {
                break;
            }
        }
    }
    Ok(b.finish())
}

/// Keeps `live` up to date with the zone on `primary`: a transfer now (unless `live`
/// already holds a transfer), then an SOA poll every `refresh`, and a transfer whenever the
/// serial differs from the reference's. Ends when `cancel` fires.
pub async fn keep_fresh(
    object: String,
    primary: String,
    zone: Name,
    refresh: Duration,
    live: Arc<LiveReference>,
    metrics: Metrics,
    cancel: CancellationToken,
) {
    let mut have: Option<u32> = None;
    loop {
        let due = match have {
            None => true,
            Some(serial) => match soa_serial(&primary, &zone).await {
                Ok(s) => s != serial,
                Err(e) => {
                    tracing::warn!(object = %object, primary = %primary, error = %e, "reference SOA poll failed; keeping the last good reference");
                    metrics
                        .reference_transfers
                        .with_label_values(&[&object, "poll_failed"])
                        .inc();
                    false
                }
            },
        };
        if due {
            match transfer(&primary, &zone).await {
                Ok(d) => {
                    tracing::info!(object = %object, primary = %primary, serial = d.serial(), delegations = d.len(), "reference transferred");
                    metrics
                        .reference_transfers
                        .with_label_values(&[&object, "ok"])
                        .inc();
                    metrics
                        .reference_serial
                        .with_label_values(&[&object])
                        .set(i64::from(d.serial()));
                    metrics
                        .reference_delegations
                        .with_label_values(&[&object])
                        .set(d.len() as i64);
                    have = Some(d.serial());
                    live.replace(d);
                }
                Err(e) => {
                    tracing::warn!(object = %object, primary = %primary, error = %e, "reference transfer failed; keeping the last good reference");
                    metrics
                        .reference_transfers
                        .with_label_values(&[&object, "failed"])
                        .inc();
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(refresh) => {}
        }
    }
}
