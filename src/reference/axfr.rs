//! The AXFR reference: transfer a TLD zone from its primary at start, poll the primary's SOA
//! serial every refresh interval, transfer again when it changes. A failed poll or transfer is
//! logged and counted, and the last good reference stays in force.
//!
//! The transfer is streamed into a [`DelegationsBuilder`] message by message, so only the
//! delegations are ever held, as with a zone file. A primary cannot make it hold more than its
//! [`TransferLimits`] allow: the bytes read, the records read and the delegations held are
//! counted as each message comes in, and the whole transfer has a deadline. Reaching a limit
//! ends the transfer with an error naming the setting (`max_transfer_mib`,
//! `max_transfer_records`, `transfer_timeout`); what was read is dropped.

use super::delegations::{Delegations, DelegationsBuilder};
use super::error::ReferenceError;
use super::live::LiveReference;
use crate::config::{normalize_rdata, TransferLimits};
use crate::metrics::Metrics;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// An SOA poll that takes longer than this fails.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where an AXFR reference comes from and how it is kept fresh.
#[derive(Debug, Clone)]
pub struct AxfrSource {
    /// The primary, "host:port".
    pub primary: String,
    /// The zone's apex.
    pub zone: Name,
    /// How often the primary's SOA serial is polled.
    pub refresh: Duration,
    /// Bounds on one transfer.
    pub limits: TransferLimits,
}

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

/// The delegations a transfer may hold, at most: its byte cap, and never more than the
/// builder's 32-bit offsets can address.
fn held_cap(limits: &TransferLimits) -> u64 {
    limits.max_bytes.min(u64::from(u32::MAX))
}

/// What one transfer has read so far, against its limits.
struct Budget<'a> {
    limits: &'a TransferLimits,
    bytes: u64,
    records: u64,
}

impl Budget<'_> {
    /// Counts one message of `len` bytes (before it is read, so a message over the cap is
    /// never read) and its `records`; the setting that it exceeds, as the error's reason.
    fn take(&mut self, len: usize, records: usize) -> Result<(), String> {
        self.bytes += 2 + len as u64;
        self.records += records as u64;
        if self.bytes > self.limits.max_bytes {
            return Err(format!(
                "transfer exceeds max_transfer_mib = {} ({} bytes): stopped",
                self.limits.max_bytes >> 20,
                self.limits.max_bytes
            ));
        }
        if self.records > self.limits.max_records {
            return Err(format!(
                "transfer exceeds max_transfer_records = {}: stopped",
                self.limits.max_records
            ));
        }
        Ok(())
    }
}

/// Reads one transfer message, counted against `budget` before its body is read.
async fn read_counted<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    budget: &mut Budget<'_>,
    zone: &Name,
    primary: &str,
) -> Result<Message, ReferenceError> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)
        .await
        .map_err(|e| fail(zone, primary, format!("connection ended early: {e}")))?;
    let len = usize::from(u16::from_be_bytes(len));
    budget.take(len, 0).map_err(|r| fail(zone, primary, r))?;
    buf.resize(len, 0);
    s.read_exact(buf)
        .await
        .map_err(|e| fail(zone, primary, format!("connection ended early: {e}")))?;
    let m = Message::from_vec(buf)
        .map_err(|e| fail(zone, primary, format!("malformed message: {e}")))?;
    budget
        .take(0, m.answers.len())
        .map(|()| m)
        .map_err(|r| fail(zone, primary, r))
}

/// Transfers `zone` from `primary` and keeps its delegations, within `limits`.
pub async fn transfer(
    primary: &str,
    zone: &Name,
    limits: &TransferLimits,
) -> Result<Delegations, ReferenceError> {
    let work = async {
        let mut s = connect(primary, zone).await?;
        transfer_over(&mut s, zone, primary, rand::random(), limits).await
    };
    tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| {
            fail(
                zone,
                primary,
                format!(
                    "transfer did not end within transfer_timeout = {}",
                    crate::config::HumanDuration(limits.timeout)
                ),
            )
        })?
}

/// The transfer itself, on a connected stream: sends the AXFR query with ID `id` and reads
/// the answer into delegations, within `limits` (but the deadline, which [`transfer`] keeps).
/// Public (and hidden) for the fuzz targets in fuzz/, which feed it an in-memory stream;
/// [`transfer`] is the entry point.
#[doc(hidden)]
pub async fn transfer_over<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    zone: &Name,
    primary: &str,
    id: u16,
    limits: &TransferLimits,
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
    let mut budget = Budget {
        limits,
        bytes: 0,
        records: 0,
    };
    let mut soas = 0;
    while soas < 2 {
        let m = read_counted(s, &mut buf, &mut budget, zone, primary).await?;
        check_message(&m, &q, zone, primary)?;
        let first = budget.records == m.answers.len() as u64;
        if first && m.answers[0].record_type() != RecordType::SOA {
            return Err(fail(
                zone,
                primary,
                "the transfer does not start with the SOA",
            ));
        }
        soas += take_records(&m, &apex, &mut b, soas);
        if b.held_bytes() as u64 > held_cap(limits) {
            return Err(fail(
                zone,
                primary,
                format!(
                    "the delegations transferred exceed {} bytes (max_transfer_mib): stopped",
                    held_cap(limits)
                ),
            ));
        }
    }
    Ok(b.finish())
}

/// A transfer message must answer the query, without error, with records.
fn check_message(
    m: &Message,
    q: &Message,
    zone: &Name,
    primary: &str,
) -> Result<(), ReferenceError> {
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
    Ok(())
}

/// Takes the records of one message into `b` (the serial of the first SOA, the delegations),
/// `soas` having been seen before; returns the SOAs seen in it, up to the closing one.
fn take_records(m: &Message, apex: &Name, b: &mut DelegationsBuilder, mut soas: usize) -> usize {
    let before = soas;
    for r in &m.answers {
        match &r.data {
            RData::SOA(soa) => {
                soas += 1;
                if soas == 1 {
                    b.set_serial(soa.serial);
                }
            }
            RData::NS(_) => {
                let owner = r.name.to_lowercase();
                if &owner != apex && apex.zone_of(&owner) {
                    let mut owner = owner;
                    owner.set_fqdn(true);
                    let text = owner.to_ascii();
                    // The reference keeps owners as text, and checks are made from the text:
                    // an owner whose labels the text form does not carry (bytes hickory-proto
                    // will not read back) would be probed as another name, so it is left out.
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
    soas - before
}

/// Keeps `live` up to date with the zone of `src`: a transfer now, then an SOA poll every
/// refresh interval, and a transfer whenever the serial differs from the reference's. A
/// failed transfer leaves `live` as it was. Ends when `cancel` fires.
pub async fn keep_fresh(
    object: String,
    src: AxfrSource,
    live: Arc<LiveReference>,
    metrics: Metrics,
    cancel: CancellationToken,
) {
    let AxfrSource {
        primary,
        zone,
        refresh,
        limits,
    } = src;
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
            match transfer(&primary, &zone, &limits).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{NS, SOA};
    use hickory_proto::rr::Record;
    use std::str::FromStr;
    use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
    use tokio::net::TcpListener;

    /// How the test primary answers an AXFR.
    const FINITE: u8 = 0;
    /// SOA, then NS records of new names, forever.
    const ENDLESS: u8 = 1;
    /// The first message, one byte a second.
    const DRIP: u8 = 2;

    /// A primary on loopback for `cn.`: SOA queries get `serial`; an AXFR gets 50 delegations
    /// or, as `mode` says, an endless or a dripping transfer.
    struct Primary {
        addr: String,
        serial: Arc<AtomicU32>,
        mode: Arc<AtomicU8>,
    }

    fn name(s: &str) -> Name {
        Name::from_str(s).expect("name")
    }

    fn soa(serial: u32) -> Record {
        let rdata = SOA::new(name("a.dns.cn."), name("h.cn."), serial, 1, 1, 1, 1);
        Record::from_rdata(name("cn."), 60, RData::SOA(rdata))
    }

    /// The framed reply to `q` with `answers`.
    fn framed(q: &Message, answers: Vec<Record>) -> Vec<u8> {
        let mut m = Message::response(q.metadata.id, q.metadata.op_code);
        m.queries = q.queries.clone();
        m.answers = answers;
        let wire = m.to_vec().expect("encode");
        let mut out = (wire.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(&wire);
        out
    }

    /// Delegations `from..to`, two NS records each.
    fn delegations(from: u64, to: u64) -> Vec<Record> {
        (from..to)
            .flat_map(|i| {
                ["ns1", "ns2"].map(|ns| {
                    let owner = name(&format!("d{i}.cn."));
                    let target = name(&format!("{ns}.d{i}.cn."));
                    Record::from_rdata(owner, 60, RData::NS(NS(target)))
                })
            })
            .collect()
    }

    async fn answer(mut s: TcpStream, serial: u32, mode: u8) -> std::io::Result<()> {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await?;
        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut q).await?;
        let q = Message::from_vec(&q).map_err(std::io::Error::other)?;
        if q.queries[0].query_type() == RecordType::SOA {
            return s.write_all(&framed(&q, vec![soa(serial)])).await;
        }
        match mode {
            FINITE => {
                let mut all = vec![soa(serial)];
                all.extend(delegations(0, 50));
                all.push(soa(serial));
                s.write_all(&framed(&q, all)).await
            }
            ENDLESS => {
                s.write_all(&framed(&q, vec![soa(serial)])).await?;
                for n in 0.. {
                    s.write_all(&framed(&q, delegations(n * 100, n * 100 + 100)))
                        .await?;
                }
                Ok(())
            }
            _ => {
                for b in framed(&q, vec![soa(serial)]) {
                    s.write_all(&[b]).await?;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                std::future::pending().await
            }
        }
    }

    async fn primary(serial: u32, mode: u8) -> Primary {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let p = Primary {
            addr: l.local_addr().expect("addr").to_string(),
            serial: Arc::new(AtomicU32::new(serial)),
            mode: Arc::new(AtomicU8::new(mode)),
        };
        let (serial, mode) = (p.serial.clone(), p.mode.clone());
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let (serial, mode) = (serial.load(Ordering::SeqCst), mode.load(Ordering::SeqCst));
                tokio::spawn(answer(s, serial, mode));
            }
        });
        p
    }

    fn limits(max_bytes: u64, max_records: u64, secs: u64) -> TransferLimits {
        TransferLimits {
            max_bytes,
            max_records,
            timeout: Duration::from_secs(secs),
        }
    }

    #[tokio::test]
    async fn a_transfer_within_the_limits_keeps_the_delegations() {
        let p = primary(10, FINITE).await;
        let d = transfer(&p.addr, &name("cn."), &limits(1 << 20, 102, 60))
            .await
            .expect("transfer");
        assert_eq!((d.serial(), d.len()), (10, 50));
        let e = transfer(&p.addr, &name("cn."), &limits(1 << 20, 101, 60))
            .await
            .expect_err("102 records");
        assert!(e.to_string().contains("max_transfer_records = 101"), "{e}");
    }

    /// Records forever: the transfer ends at the byte cap (the delegations held reach it
    /// before the bytes read do, names being compressed on the wire), or at the record cap,
    /// whichever comes first, with an error naming it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_endless_transfer_ends_at_its_cap() {
        let p = primary(10, ENDLESS).await;
        let e = transfer(&p.addr, &name("cn."), &limits(1 << 20, u64::MAX, 600))
            .await
            .expect_err("endless");
        assert!(e.to_string().contains("max_transfer_mib"), "{e}");
        let e = transfer(&p.addr, &name("cn."), &limits(1 << 40, 5_000, 600))
            .await
            .expect_err("endless");
        assert!(e.to_string().contains("max_transfer_records = 5000"), "{e}");
    }

    #[test]
    fn the_byte_cap_counts_every_message_before_it_is_read() {
        let l = limits(1 << 20, 10, 60);
        let mut b = Budget {
            limits: &l,
            bytes: 0,
            records: 0,
        };
        assert!(b.take((1 << 20) - 2, 0).is_ok(), "exactly the cap");
        let e = b.take(1, 0).expect_err("one byte over");
        assert!(e.contains("max_transfer_mib = 1 (1048576 bytes)"), "{e}");
        assert_eq!(held_cap(&limits(1 << 40, 1, 1)), u64::from(u32::MAX));
    }

    /// A primary that sends one byte a second ends at the deadline (time is paused: the test
    /// does not wait it out).
    #[tokio::test(start_paused = true)]
    async fn a_dripping_primary_ends_at_the_transfer_timeout() {
        let p = primary(10, DRIP).await;
        let e = transfer(&p.addr, &name("cn."), &limits(1 << 20, 1_000, 30))
            .await
            .expect_err("drip");
        assert!(
            e.to_string().contains("within transfer_timeout = 30s"),
            "{e}"
        );
    }

    /// Polls `done` every 50 ms, for 30 s at most.
    async fn until(what: &str, done: impl Fn() -> bool) {
        for _ in 0..600 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// A new serial whose transfer never ends: the failure is counted and the reference of
    /// the last good transfer stays in force.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_refresh_keeps_the_last_good_reference() {
        let p = primary(10, FINITE).await;
        let live = Arc::new(LiveReference::new(
            DelegationsBuilder::new(name("cn.")).finish(),
        ));
        let metrics = Metrics::new();
        let cancel = CancellationToken::new();
        let src = AxfrSource {
            primary: p.addr.clone(),
            zone: name("cn."),
            refresh: Duration::from_millis(100),
            limits: limits(1 << 20, u64::MAX, 600),
        };
        let task = tokio::spawn(keep_fresh(
            "cn".into(),
            src,
            live.clone(),
            metrics.clone(),
            cancel.clone(),
        ));
        let count = |result: &str| {
            metrics
                .reference_transfers
                .with_label_values(&["cn", result])
                .get()
        };
        until("the first transfer", || count("ok") == 1).await;
        assert_eq!((live.get().serial(), live.get().len()), (10, 50));
        p.mode.store(ENDLESS, Ordering::SeqCst);
        p.serial.store(11, Ordering::SeqCst);
        until("a failed transfer", || count("failed") >= 1).await;
        let d = live.get();
        assert_eq!((d.serial(), d.len(), live.generation()), (10, 50, 1));
        assert_eq!(count("ok"), 1);
        cancel.cancel();
        task.await.expect("task");
    }
}
