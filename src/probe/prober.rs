//! Sending one query and timing its reply: a shared UDP socket pool and TCP.
//!
//! hickory's own UDP client binds a fresh socket per query and sends hedged retries, which
//! distorts what a monitor measures; here one query is one measurement. A fixed pool of UDP
//! sockets (kernel-chosen random source ports) is shared by all probes; each socket has one
//! receive task that hands a reply to the probe waiting for it only when source address, ID and
//! question all match. A reply from the server with an ID nobody waits for marks the probes
//! waiting on that server, which then end as `mismatch` (or `malformed` for unparseable bytes)
//! instead of `timeout` if no matching reply arrives: the server answered, but not properly.
//! Entries are removed when a probe ends for any reason, so a server that never answers costs
//! nothing beyond its probes in flight, and the in-flight cap bounds those.

use super::classify::{build_query, question_matches, reply_nsid, Question};
use super::Outcome;
use crate::config::Transport;
use hickory_proto::op::Message;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Settings of a [`Prober`].
#[derive(Debug, Clone)]
pub struct ProberConfig {
    /// UDP sockets per address family.
    pub udp_sockets: usize,
    /// EDNS(0) payload size advertised.
    pub edns_payload: u16,
    /// How long a probe waits for its reply (UDP and a TCP fallback together).
    pub timeout: Duration,
    /// Probes waiting for a reply at once, at most.
    pub max_in_flight: usize,
    /// The local address probes are sent from (`[daemon] source_address`); `None` lets the
    /// kernel choose. Only the sockets of its address family are bound to it.
    pub source: Option<std::net::IpAddr>,
}

/// The same numbers as the configuration's `[daemon]` defaults, so a prober built in code
/// (the CLI, `sweep`, tests) behaves like the daemon's.
impl Default for ProberConfig {
    fn default() -> Self {
        Self {
            udp_sockets: crate::config::DEFAULT_UDP_SOCKETS as usize,
            edns_payload: crate::config::DEFAULT_EDNS_PAYLOAD,
            timeout: crate::config::DEFAULT_TIMEOUT,
            max_in_flight: crate::config::DEFAULT_MAX_IN_FLIGHT as usize,
            source: None,
        }
    }
}

/// Counters of the prober's own health, for metrics.
#[derive(Debug, Default)]
pub struct ProberCounters {
    /// Replies that matched no probe in flight (wrong ID, late after a timeout, a duplicate, or
    /// strangers).
    pub stray_replies: AtomicU64,
    /// Socket errors from send or receive.
    pub socket_errors: AtomicU64,
    /// Probes the monitor could not make itself ([`Outcome::LocalError`]: out of file
    /// descriptors, buffers or ports, no socket of the family, local policy).
    pub local_errors: AtomicU64,
    /// Probes sent.
    pub sent: AtomicU64,
    /// Probes waiting for a permit because the in-flight cap was reached (ever).
    pub in_flight_waits: AtomicU64,
    /// Configured probes waiting right now for the in-flight cap or a rate limit.
    pub waiting: AtomicU64,
    /// Configured probes not sent because their slot passed while they waited for the
    /// in-flight cap or a rate limit (never sent late, never recorded).
    pub late: AtomicU64,
    /// Samples against a reference not sent because the node's sampling budget was full.
    pub samples_skipped: AtomicU64,
    /// Samples in flight right now, all nodes together (outside the in-flight cap).
    pub samples_in_flight: AtomicU64,
    /// Configured probes that waited for a rate limit (the address's or the global one).
    pub rate_limited: AtomicU64,
}

/// What came back for one probe, before classification against its check.
#[derive(Debug, Clone)]
pub struct ProbeReply {
    /// The matching reply with its send-to-receive time (including a TCP fallback), or why no
    /// usable reply arrived (timeout, network error, malformed, mismatch).
    pub answer: Result<(Message, Duration), Outcome>,
    /// The transport that carried the final reply.
    pub transport: Transport,
    /// True when a TC=1 UDP reply made the probe retry over TCP.
    pub tcp_fallback: bool,
    /// The server's NSID, if it sent one.
    pub nsid: Option<String>,
}

impl ProbeReply {
    /// The matching reply, when one arrived.
    pub fn message(&self) -> Option<&Message> {
        self.answer.as_ref().ok().map(|(m, _)| m)
    }

    /// Why no usable reply arrived, when none did.
    pub fn failure(&self) -> Option<Outcome> {
        self.answer.as_ref().err().copied()
    }

    /// Send-to-receive time of the matching reply.
    pub fn rtt(&self) -> Option<Duration> {
        self.answer.as_ref().ok().map(|(_, rtt)| *rtt)
    }

    fn failed(kind: Outcome, transport: Transport) -> Self {
        Self {
            answer: Err(kind),
            transport,
            tcp_fallback: false,
            nsid: None,
        }
    }
}

enum Received {
    Reply(Box<Message>, Instant),
    Malformed,
    WrongQuestion,
}

struct Pending {
    question: Question,
    tx: Option<oneshot::Sender<Received>>,
}

#[derive(Default)]
struct PerServer {
    by_id: HashMap<u16, Pending>,
    /// Set when the server sent something no probe waits for; probes that time out while this
    /// is set end with this kind instead of `timeout`.
    anomaly: Option<Outcome>,
}

type PendingMap = Arc<Mutex<HashMap<SocketAddr, PerServer>>>;

struct UdpSlot {
    sock: Arc<UdpSocket>,
    pending: PendingMap,
    task: JoinHandle<()>,
}

/// Sends probes. Cheap to clone.
#[derive(Clone)]
pub struct Prober {
    inner: Arc<Inner>,
}

struct Inner {
    v4: Vec<UdpSlot>,
    v6: Vec<UdpSlot>,
    next: AtomicUsize,
    cfg: ProberConfig,
    permits: Arc<Semaphore>,
    counters: Arc<ProberCounters>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for s in self.v4.iter().chain(self.v6.iter()) {
            s.task.abort();
        }
    }
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("v4_sockets", &self.inner.v4.len())
            .field("v6_sockets", &self.inner.v6.len())
            .finish()
    }
}

impl Prober {
    /// Binds the UDP pool. IPv6 sockets are optional: on a host without IPv6 only IPv4 probes
    /// work and IPv6 ones end as network errors.
    pub async fn new(cfg: ProberConfig) -> std::io::Result<Prober> {
        let counters = Arc::new(ProberCounters::default());
        let n = cfg.udp_sockets.max(1);
        let mut v4 = Vec::with_capacity(n);
        let (any4, any6): (SocketAddr, SocketAddr) = (
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        );
        let bind4 = cfg
            .source
            .filter(|a| a.is_ipv4())
            .map_or(any4, |a| (a, 0).into());
        let bind6 = cfg
            .source
            .filter(|a| a.is_ipv6())
            .map_or(any6, |a| (a, 0).into());
        for _ in 0..n {
            v4.push(Self::slot(bind4, counters.clone()).await?);
        }
        let mut v6 = Vec::new();
        for _ in 0..n {
            match Self::slot(bind6, counters.clone()).await {
                Ok(s) => v6.push(s),
                Err(e) => {
                    tracing::warn!(error = %e, "no IPv6 UDP socket; IPv6 servers cannot be probed over UDP");
                    break;
                }
            }
        }
        Ok(Prober {
            inner: Arc::new(Inner {
                v4,
                v6,
                next: AtomicUsize::new(0),
                permits: Arc::new(Semaphore::new(cfg.max_in_flight.max(1))),
                cfg,
                counters,
            }),
        })
    }

    async fn slot(bind: SocketAddr, counters: Arc<ProberCounters>) -> std::io::Result<UdpSlot> {
        let sock = Arc::new(UdpSocket::bind(bind).await?);
        let pending: PendingMap = Arc::default();
        let task = tokio::spawn(recv_loop(sock.clone(), pending.clone(), counters));
        Ok(UdpSlot {
            sock,
            pending,
            task,
        })
    }

    /// The prober's own counters.
    pub fn counters(&self) -> &Arc<ProberCounters> {
        &self.inner.counters
    }

    /// The cap on probes in flight.
    pub fn max_in_flight(&self) -> usize {
        self.inner.cfg.max_in_flight.max(1)
    }

    /// Probes waiting for replies right now.
    pub fn in_flight(&self) -> usize {
        self.inner.cfg.max_in_flight.max(1) - self.inner.permits.available_permits()
    }

    /// The probe timeout.
    pub fn timeout(&self) -> Duration {
        self.inner.cfg.timeout
    }

    /// A permit of the in-flight cap if one is free now.
    pub fn try_permit(&self) -> Option<OwnedSemaphorePermit> {
        self.inner.permits.clone().try_acquire_owned().ok()
    }

    /// Waits for a permit of the in-flight cap until `deadline`; None if none came in time.
    /// The wait is counted in [`ProberCounters::waiting`] while it lasts.
    pub async fn permit_until(&self, deadline: Instant) -> Option<OwnedSemaphorePermit> {
        if let Some(p) = self.try_permit() {
            return Some(p);
        }
        let c = &self.inner.counters;
        c.in_flight_waits.fetch_add(1, Ordering::Relaxed);
        c.waiting.fetch_add(1, Ordering::Relaxed);
        let got =
            tokio::time::timeout_at(deadline, self.inner.permits.clone().acquire_owned()).await;
        c.waiting.fetch_sub(1, Ordering::Relaxed);
        match got {
            Ok(Ok(p)) => Some(p),
            _ => None,
        }
    }

    /// Sends one query to `server` and waits for the reply or the timeout, first waiting for a
    /// permit of the in-flight cap (for one-off probes: the CLI, tests). The daemon's schedule
    /// takes its permits itself and calls [`Prober::send`].
    pub async fn probe(
        &self,
        server: SocketAddr,
        q: &Question,
        transport: Transport,
    ) -> ProbeReply {
        let permit = match self.try_permit() {
            Some(p) => p,
            None => {
                self.inner
                    .counters
                    .in_flight_waits
                    .fetch_add(1, Ordering::Relaxed);
                match self.inner.permits.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => return ProbeReply::failed(Outcome::LocalError, transport),
                }
            }
        };
        let reply = self.send(server, q, transport).await;
        drop(permit);
        reply
    }

    /// Sends one query to `server` and waits for the reply or the timeout, outside the
    /// in-flight cap: the caller holds whatever budget the probe counts against.
    pub async fn send(&self, server: SocketAddr, q: &Question, transport: Transport) -> ProbeReply {
        self.inner.counters.sent.fetch_add(1, Ordering::Relaxed);
        match transport {
            Transport::Udp => self.udp(server, q).await,
            Transport::Tcp => {
                let start = Instant::now();
                // Boxed here and below: a TCP exchange's future is several times a UDP one's,
                // and every UDP probe in flight would otherwise reserve room for it.
                let r = Box::pin(tcp_query(
                    server,
                    q,
                    &self.inner.cfg,
                    start + self.inner.cfg.timeout,
                    start,
                ))
                .await;
                self.count_local(&r);
                r
            }
        }
    }

    async fn udp(&self, server: SocketAddr, q: &Question) -> ProbeReply {
        let Some(slot) = self.udp_slot(server) else {
            // No socket of the family on this host: the monitor cannot probe this address.
            self.inner
                .counters
                .local_errors
                .fetch_add(1, Ordering::Relaxed);
            return ProbeReply::failed(Outcome::LocalError, Transport::Udp);
        };
        let (tx, rx) = oneshot::channel();
        let id = register(&slot.pending, server, q, tx);
        let guard = PendingGuard {
            map: &slot.pending,
            server,
            id,
        };
        let wire = build_query(id, q, self.inner.cfg.edns_payload);
        let sent = Instant::now();
        let deadline = sent + self.inner.cfg.timeout;
        let sent_ok = slot.sock.send_to(&wire, server).await;
        // Not kept through the wait for the reply: with every server dark, tens of thousands
        // of probes wait at once.
        drop(wire);
        if let Err(e) = sent_ok {
            self.inner
                .counters
                .socket_errors
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%server, error = %e, "UDP send failed");
            let kind = Outcome::of_io_error(&e);
            if kind == Outcome::LocalError {
                self.inner
                    .counters
                    .local_errors
                    .fetch_add(1, Ordering::Relaxed);
            }
            return ProbeReply::failed(kind, Transport::Udp);
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(Received::Reply(msg, at))) => {
                drop(guard);
                self.udp_reply(server, q, msg, at, sent, deadline).await
            }
            Ok(Ok(Received::Malformed)) => ProbeReply::failed(Outcome::Malformed, Transport::Udp),
            Ok(Ok(Received::WrongQuestion)) => {
                ProbeReply::failed(Outcome::Mismatch, Transport::Udp)
            }
            // The receive task is gone: the monitor's fault.
            Ok(Err(_)) => ProbeReply::failed(Outcome::LocalError, Transport::Udp),
            Err(_) => {
                // Read while the guard still holds this probe's entry, which keeps the
                // server's anomaly in the map.
                let anomaly = lock(&slot.pending).get(&server).and_then(|p| p.anomaly);
                ProbeReply::failed(anomaly.unwrap_or(Outcome::Timeout), Transport::Udp)
            }
        }
    }

    fn count_local(&self, r: &ProbeReply) {
        if r.failure() == Some(Outcome::LocalError) {
            self.inner
                .counters
                .local_errors
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The next socket of the pool for `server`'s address family, round robin; None when the
    /// family has no sockets.
    fn udp_slot(&self, server: SocketAddr) -> Option<&UdpSlot> {
        let slots = if server.is_ipv4() {
            &self.inner.v4
        } else {
            &self.inner.v6
        };
        if slots.is_empty() {
            return None;
        }
        Some(&slots[self.inner.next.fetch_add(1, Ordering::Relaxed) % slots.len()])
    }

    /// The probe's result for the matching UDP reply `msg` received at `at`: the reply, or
    /// for TC=1 the TCP fallback within the same deadline, timed from the UDP send.
    async fn udp_reply(
        &self,
        server: SocketAddr,
        q: &Question,
        msg: Box<Message>,
        at: Instant,
        sent: Instant,
        deadline: Instant,
    ) -> ProbeReply {
        if msg.metadata.truncation {
            let mut r = Box::pin(tcp_query(server, q, &self.inner.cfg, deadline, sent)).await;
            self.count_local(&r);
            r.tcp_fallback = true;
            return r;
        }
        let nsid = reply_nsid(&msg);
        ProbeReply {
            answer: Ok((*msg, at.saturating_duration_since(sent))),
            transport: Transport::Udp,
            tcp_fallback: false,
            nsid,
        }
    }
}

/// Enters a probe for `server` with a random ID no probe of that server waits for; returns
/// the ID.
fn register(
    pending: &PendingMap,
    server: SocketAddr,
    q: &Question,
    tx: oneshot::Sender<Received>,
) -> u16 {
    let mut map = lock(pending);
    let per = map.entry(server).or_default();
    let mut id: u16 = rand::random();
    while per.by_id.contains_key(&id) {
        id = rand::random();
    }
    per.by_id.insert(
        id,
        Pending {
            question: q.clone(),
            tx: Some(tx),
        },
    );
    id
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned map only means another probe panicked mid-update; the map is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes a probe's entry however the probe ends (reply, timeout, cancellation).
struct PendingGuard<'a> {
    map: &'a PendingMap,
    server: SocketAddr,
    id: u16,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        let mut map = lock(self.map);
        if let Some(per) = map.get_mut(&self.server) {
            per.by_id.remove(&self.id);
            if per.by_id.is_empty() {
                map.remove(&self.server);
            }
        }
    }
}

async fn recv_loop(sock: Arc<UdpSocket>, pending: PendingMap, counters: Arc<ProberCounters>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, src) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP errors surface here on some systems; they are not fatal for the pool.
                counters.socket_errors.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(error = %e, "UDP receive error");
                tokio::task::yield_now().await;
                continue;
            }
        };
        let at = Instant::now();
        let bytes = &buf[..n];
        let parsed = Message::from_vec(bytes).ok();
        let mut map = lock(&pending);
        let Some(per) = map.get_mut(&src) else {
            counters.stray_replies.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let id = if n >= 2 {
            Some(u16::from_be_bytes([bytes[0], bytes[1]]))
        } else {
            None
        };
        let entry = id.and_then(|id| per.by_id.get_mut(&id));
        match (entry, parsed) {
            (Some(p), Some(msg)) if p.tx.is_some() => {
                let r = if question_matches(&msg, &p.question) {
                    Received::Reply(Box::new(msg), at)
                } else {
                    Received::WrongQuestion
                };
                if let Some(tx) = p.tx.take() {
                    let _ = tx.send(r);
                }
            }
            (Some(p), None) if p.tx.is_some() => {
                if let Some(tx) = p.tx.take() {
                    let _ = tx.send(Received::Malformed);
                }
            }
            // A second reply to a probe already answered (a duplicate): a stray that marks
            // nothing.
            (Some(_), _) => {
                counters.stray_replies.fetch_add(1, Ordering::Relaxed);
            }
            (None, parsed) => {
                counters.stray_replies.fetch_add(1, Ordering::Relaxed);
                per.anomaly = Some(if parsed.is_some() {
                    Outcome::Mismatch
                } else {
                    Outcome::Malformed
                });
            }
        }
    }
}

/// A TCP connection to `server`, from `source` when it is of the same family.
async fn connect(
    server: SocketAddr,
    source: Option<std::net::IpAddr>,
) -> std::io::Result<TcpStream> {
    let sock = if server.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if let Some(ip) = source.filter(|ip| ip.is_ipv4() == server.is_ipv4()) {
        sock.bind((ip, 0).into())?;
    }
    sock.connect(server).await
}

/// One query over TCP, timed from `rtt_from`, finished by `deadline`.
async fn tcp_query(
    server: SocketAddr,
    q: &Question,
    cfg: &ProberConfig,
    deadline: Instant,
    rtt_from: Instant,
) -> ProbeReply {
    let id: u16 = rand::random();
    let wire = build_query(id, q, cfg.edns_payload);
    let work = async {
        // A connect that fails for want of a descriptor or a port is the monitor's fault.
        let mut s = connect(server, cfg.source)
            .await
            .map_err(|e| Outcome::of_io_error(&e))?;
        let _ = s.set_nodelay(true);
        let mut framed = Vec::with_capacity(wire.len() + 2);
        framed.extend_from_slice(&(wire.len() as u16).to_be_bytes());
        framed.extend_from_slice(&wire);
        s.write_all(&framed)
            .await
            .map_err(|_| Outcome::NetworkError)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len)
            .await
            .map_err(|_| Outcome::NetworkError)?;
        let len = u16::from_be_bytes(len) as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body)
            .await
            .map_err(|_| Outcome::NetworkError)?;
        let at = Instant::now();
        let msg = Message::from_vec(&body).map_err(|_| Outcome::Malformed)?;
        if msg.metadata.id != id || !question_matches(&msg, q) {
            return Err(Outcome::Mismatch);
        }
        Ok((msg, at))
    };
    match tokio::time::timeout_at(deadline, work).await {
        Ok(Ok((msg, at))) => ProbeReply {
            nsid: reply_nsid(&msg),
            answer: Ok((msg, at.saturating_duration_since(rtt_from))),
            transport: Transport::Tcp,
            tcp_fallback: false,
        },
        Ok(Err(kind)) => ProbeReply::failed(kind, Transport::Tcp),
        Err(_) => ProbeReply::failed(Outcome::Timeout, Transport::Tcp),
    }
}
