//! The lab server: UDP and TCP on one loopback address and port.

use super::faults::{name_share, Faults};
use super::zone::{fqdn_lower, Zone};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::rdata::{A, AAAA, NS};
use hickory_proto::rr::{Name, RData};
use rand::Rng;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// Delayed replies waiting at once, at most; beyond this they are dropped and counted.
const MAX_DELAYED: usize = 10_000;
/// A TCP connection idle this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// What the server did, for tests to assert on.
#[derive(Debug, Default)]
pub struct LabCounters {
    /// Queries received (UDP and TCP).
    pub queries: AtomicU64,
    /// Replies sent (including faulty ones).
    pub replies: AtomicU64,
    /// Queries dropped on purpose (stopped, drop_ratio) or because too many replies were delayed.
    pub dropped: AtomicU64,
    /// Replies with wrong data.
    pub wrong: AtomicU64,
    /// Replies with missing data.
    pub missing: AtomicU64,
    /// Malformed replies sent.
    pub malformed: AtomicU64,
    /// Replies sent with a mismatched ID.
    pub mismatched: AtomicU64,
    /// Replies with an injected RCODE.
    pub rcode: AtomicU64,
    /// Queries that could not be parsed.
    pub bad_queries: AtomicU64,
}

struct State {
    zones: Vec<Zone>,
    faults: Mutex<Faults>,
    nsid: Mutex<Option<Vec<u8>>>,
    counters: LabCounters,
    delayed: AtomicUsize,
}

/// An in-process authoritative DNS server with fault injection, on a loopback address.
#[derive(Debug)]
pub struct LabServer {
    addr: SocketAddr,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("zones", &self.zones.len())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LabServer {
    /// Serves `zones` over UDP and TCP on `addr` (same port for both; port 0 picks a free one).
    pub async fn start(addr: SocketAddr, zones: Vec<Zone>) -> std::io::Result<LabServer> {
        let mut last_err = None;
        for _ in 0..20 {
            let udp = UdpSocket::bind(addr).await?;
            let bound = udp.local_addr()?;
            match TcpListener::bind(bound).await {
                Ok(tcp) => {
                    let state = Arc::new(State {
                        zones,
                        faults: Mutex::new(Faults::default()),
                        nsid: Mutex::new(None),
                        counters: LabCounters::default(),
                        delayed: AtomicUsize::new(0),
                    });
                    let udp = Arc::new(udp);
                    let tasks = vec![
                        tokio::spawn(udp_loop(udp, state.clone())),
                        tokio::spawn(tcp_loop(tcp, state.clone())),
                    ];
                    return Ok(LabServer {
                        addr: bound,
                        state,
                        tasks,
                    });
                }
                Err(e) if addr.port() == 0 => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| std::io::Error::other("no free port")))
    }

    /// The address (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the faults; takes effect for the next query.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.state.faults) = faults;
    }

    /// The current faults.
    pub fn faults(&self) -> Faults {
        lock(&self.state.faults).clone()
    }

    /// The NSID returned to queries that ask for one.
    pub fn set_nsid(&self, nsid: Option<Vec<u8>>) {
        *lock(&self.state.nsid) = nsid;
    }

    /// What the server did so far.
    pub fn counters(&self) -> &LabCounters {
        &self.state.counters
    }

    /// Stops serving and frees the port.
    pub async fn stop(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for LabServer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What to do with one query.
enum Action {
    Drop,
    Send(Vec<u8>),
}

async fn udp_loop(sock: Arc<UdpSocket>, state: Arc<State>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, src)) = sock.recv_from(&mut buf).await else {
            tokio::task::yield_now().await;
            continue;
        };
        let (action, delay) = handle(&state, &buf[..n], true);
        let Action::Send(bytes) = action else {
            continue;
        };
        if delay.is_zero() {
            if sock.send_to(&bytes, src).await.is_ok() {
                state.counters.replies.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            if state.delayed.fetch_add(1, Ordering::AcqRel) >= MAX_DELAYED {
                state.delayed.fetch_sub(1, Ordering::AcqRel);
                state.counters.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let (sock, state) = (sock.clone(), state.clone());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if sock.send_to(&bytes, src).await.is_ok() {
                    state.counters.replies.fetch_add(1, Ordering::Relaxed);
                }
                state.delayed.fetch_sub(1, Ordering::AcqRel);
            });
        }
    }
}

async fn tcp_loop(listener: TcpListener, state: Arc<State>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if conns.len() >= 1024 {
                    continue; // drops the stream: a bounded number of connections
                }
                conns.spawn(tcp_conn(stream, state.clone()));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn tcp_conn(mut s: TcpStream, state: Arc<State>) {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(TCP_IDLE, s.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
        if !matches!(
            tokio::time::timeout(TCP_IDLE, s.read_exact(&mut body)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        if lock(&state.faults).stopped {
            state.counters.queries.fetch_add(1, Ordering::Relaxed);
            state.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (action, delay) = handle(&state, &body, false);
        let Action::Send(bytes) = action else {
            continue;
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&(bytes.len().min(65535) as u16).to_be_bytes());
        framed.extend_from_slice(&bytes[..bytes.len().min(65535)]);
        if s.write_all(&framed).await.is_err() {
            return;
        }
        state.counters.replies.fetch_add(1, Ordering::Relaxed);
    }
}

/// Decides the reply to one query (pure apart from counters and randomness).
fn handle(state: &State, query: &[u8], udp: bool) -> (Action, Duration) {
    let c = &state.counters;
    c.queries.fetch_add(1, Ordering::Relaxed);
    let faults = lock(&state.faults).clone();
    let mut rng = rand::rng();
    if faults.stopped || (faults.drop_ratio > 0.0 && rng.random::<f64>() < faults.drop_ratio) {
        c.dropped.fetch_add(1, Ordering::Relaxed);
        return (Action::Drop, Duration::ZERO);
    }
    let req = match Message::from_vec(query) {
        Ok(m) => m,
        Err(_) => {
            c.bad_queries.fetch_add(1, Ordering::Relaxed);
            if query.len() >= 12 {
                let id = u16::from_be_bytes([query[0], query[1]]);
                let m = Message::error_msg(id, OpCode::Query, ResponseCode::FormErr);
                return (
                    m.to_vec().map(Action::Send).unwrap_or(Action::Drop),
                    faults.delay,
                );
            }
            return (Action::Drop, Duration::ZERO);
        }
    };
    if req.metadata.message_type != MessageType::Query || req.queries.len() != 1 {
        let mut m =
            Message::error_msg(req.metadata.id, req.metadata.op_code, ResponseCode::FormErr);
        m.queries = req.queries.clone();
        return (
            m.to_vec().map(Action::Send).unwrap_or(Action::Drop),
            faults.delay,
        );
    }
    let q = &req.queries[0];
    let qname = fqdn_lower(&q.name);
    let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.queries = req.queries.clone();
    let payload = match &req.edns {
        Some(e) => {
            let mut edns = Edns::new();
            edns.set_max_payload(1232);
            edns.set_dnssec_ok(e.flags().dnssec_ok);
            if e.option(EdnsCode::NSID).is_some() {
                if let Some(nsid) = lock(&state.nsid).clone() {
                    if let Ok(p) = NSIDPayload::new(nsid) {
                        edns.options_mut().insert(EdnsOption::NSID(p));
                    }
                }
            }
            resp.set_edns(edns);
            usize::from(e.max_payload().clamp(512, 4096))
        }
        None => 512,
    };
    if faults.rcode.is_some() && rng.random::<f64>() < faults.rcode_ratio {
        resp.metadata.response_code = faults.rcode.unwrap_or(ResponseCode::ServFail);
        c.rcode.fetch_add(1, Ordering::Relaxed);
    } else if let Some(zone) = state
        .zones
        .iter()
        .filter(|z| z.contains(&qname))
        .max_by_key(|z| z.origin().num_labels())
    {
        let ans = zone.answer(&qname, q.query_type);
        resp.metadata.response_code = ans.rcode;
        resp.metadata.authoritative = ans.authoritative;
        resp.answers = ans.answers;
        resp.authorities = ans.authorities;
        resp.additionals = ans.additionals;
        let exists = !resp.answers.is_empty()
            || (!resp.metadata.authoritative && !resp.authorities.is_empty());
        if exists
            && faults.missing_ratio > 0.0
            && name_share(&qname, faults.seed, 1) < faults.missing_ratio
        {
            resp.metadata.response_code = ResponseCode::NXDomain;
            resp.metadata.authoritative = true;
            resp.answers.clear();
            resp.additionals.clear();
            resp.authorities = zone.lookup(zone.origin(), hickory_proto::rr::RecordType::SOA);
            c.missing.fetch_add(1, Ordering::Relaxed);
        } else if exists
            && (faults.wrong_names.iter().any(|n| fqdn_lower(n) == qname)
                || (faults.wrong_ratio > 0.0
                    && name_share(&qname, faults.seed, 2) < faults.wrong_ratio))
        {
            corrupt(&mut resp);
            c.wrong.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(serial) = faults.serial_override {
            for r in resp.answers.iter_mut().chain(resp.authorities.iter_mut()) {
                if let RData::SOA(s) = &mut r.data {
                    s.serial = serial;
                }
            }
        }
    } else {
        resp.metadata.response_code = ResponseCode::Refused;
    }
    if faults.mismatch_id_ratio > 0.0 && rng.random::<f64>() < faults.mismatch_id_ratio {
        resp.metadata.id = resp.metadata.id.wrapping_add(1 + rng.random_range(0..1000));
        c.mismatched.fetch_add(1, Ordering::Relaxed);
    }
    if faults.malformed_ratio > 0.0 && rng.random::<f64>() < faults.malformed_ratio {
        c.malformed.fetch_add(1, Ordering::Relaxed);
        return (
            Action::Send(garbage(req.metadata.id, &mut rng)),
            faults.delay,
        );
    }
    if udp && faults.truncate_udp {
        resp.metadata.truncation = true;
        resp.answers.clear();
        resp.authorities.clear();
        resp.additionals.clear();
    }
    let Ok(mut bytes) = resp.to_vec() else {
        return (Action::Drop, Duration::ZERO);
    };
    if udp && bytes.len() > payload {
        resp.metadata.truncation = true;
        resp.answers.clear();
        resp.authorities.clear();
        resp.additionals.clear();
        match resp.to_vec() {
            Ok(b) => bytes = b,
            Err(_) => return (Action::Drop, Duration::ZERO),
        }
    }
    (Action::Send(bytes), faults.delay)
}

/// Bytes that do not parse as a DNS message: either a header that promises records that are
/// not there, or a datagram shorter than a header.
fn garbage(id: u16, rng: &mut impl Rng) -> Vec<u8> {
    if rng.random_bool(0.5) {
        let mut b = id.to_be_bytes().to_vec();
        // QR=1, QDCOUNT=1, ANCOUNT=5, then a label that runs past the end.
        b.extend_from_slice(&[
            0x84, 0x00, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x3f, b'x',
        ]);
        b
    } else {
        vec![0xde, 0xad, 0xbe][..rng.random_range(1..=3)].to_vec()
    }
}

/// Alters the data of a reply: addresses moved, NS targets renamed.
fn corrupt(m: &mut Message) {
    let wrong_ns = Name::from_str("wrong.ns.invalid.").unwrap_or_else(|_| Name::root());
    for r in m.answers.iter_mut().chain(m.authorities.iter_mut()) {
        match &mut r.data {
            RData::A(A(ip)) => {
                let o = ip.octets();
                *ip = std::net::Ipv4Addr::new(o[0], o[1], o[2], o[3].wrapping_add(1));
            }
            RData::AAAA(AAAA(ip)) => {
                let mut s = ip.segments();
                s[7] = s[7].wrapping_add(1);
                *ip = std::net::Ipv6Addr::from(s);
            }
            RData::NS(NS(target)) => *target = wrong_ns.clone(),
            _ => {}
        }
    }
}
