//! The sweep's UDP engine: one thread, connected non-blocking sockets, batched syscalls.
//!
//! Queries go out in batches with `sendmmsg` and replies come in with `recvmmsg`, so a
//! syscall carries up to [`BATCH`] datagrams; the thread sleeps in `ppoll` only when there is
//! nothing to send or read. Nothing is allocated per query: each socket has a table of 65,536
//! slots indexed by query ID (the delegation, a sequence number and the send time), and a FIFO
//! of sends finds timeouts in order. One query is still one measurement: a random ID per query,
//! a reply counts only for the slot of its ID and only when its question is the one asked (the
//! sockets are connected, so the kernel drops datagrams from any other source), replies to IDs
//! nobody waits for are strays that turn later timeouts into `mismatch`/`malformed` as in the
//! daemon's prober, and TC=1 retries the query over TCP (on a helper thread) within the same
//! deadline, timed from the UDP send.

use super::wire::{confirm_correct, write_query, Scratch};
use super::{SweepOptions, Tally};
use crate::config::{Check, CheckRole, Expect, Transport};
use crate::probe::classify::{
    build_query, classify, question_matches, referral_targets, relevant_answers, Question,
};
use crate::probe::{Outcome, Verdict};
use crate::reference::Delegations;
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::Duration;
use tokio::time::Instant;

/// Datagrams per `sendmmsg`/`recvmmsg`.
const BATCH: usize = 64;
/// Receive buffer per datagram (the advertised EDNS size is 1232).
const RECV_BUF: usize = 4096;
/// Query IDs in flight per socket, at most (half the ID space, so a free random ID is found
/// in a couple of draws).
const IDS_PER_SOCKET: usize = 32_768;
/// Kernel socket buffers asked for.
const SOCKET_BUFFER: libc::c_int = 4 << 20;
/// EDNS payload advertised.
const PAYLOAD: u16 = 1232;
/// Threads that carry TC=1 fallbacks over TCP.
const TCP_WORKERS: usize = 4;

const FREE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Slot {
    idx: u32,
    seq: u32,
    sent: Instant,
}

struct Sock {
    sock: UdpSocket,
    slots: Vec<Slot>,
    /// Set when the server sent something no query waits for; queries that then time out end
    /// with this kind instead of `timeout`.
    anomaly: Option<Outcome>,
    in_flight: usize,
}

/// A TC=1 reply's query, retried over TCP.
struct TcpJob {
    idx: u32,
    qname: Name,
    sent: Instant,
    deadline: Instant,
}

type TcpDone = (u32, Result<(Message, Instant), Outcome>, Instant);

/// Runs the sweep of every `every`-th delegation over UDP.
pub(super) fn run(
    list: &Delegations,
    opts: &SweepOptions,
    tally: &mut Tally,
) -> std::io::Result<()> {
    let mut engine = Engine::new(list, opts, tally)?;
    engine.sweep();
    engine.results.tcp.stop();
    Ok(())
}

/// The state of one sweep: the sockets with their slot tables, the send side, the FIFO of
/// sends, the receive buffers and where replies end up.
struct Engine<'a> {
    socks: Vec<Sock>,
    /// Queries in flight per socket, at most.
    per_sock: usize,
    /// (socket, ID, sequence number) of every send, oldest first, to find timeouts in order.
    fifo: VecDeque<(u16, u16, u32)>,
    out: Outbox,
    recv_bufs: Vec<u8>,
    results: Results<'a>,
}

/// The send side: which delegation goes next, the pacing, and the batch being sent.
struct Outbox {
    every: usize,
    /// Delegations to check.
    total: usize,
    /// Delegations taken from the list so far (the next one is `next * every`).
    next: usize,
    /// Delegations of a batch that did not go (a full socket buffer, or behind a failed
    /// datagram), sent again first.
    retry: VecDeque<u32>,
    rate: f64,
    burst: u64,
    start: Instant,
    sent_total: u64,
    /// Round-robin position over the sockets.
    rr: usize,
    seq: u32,
    rng: rand::rngs::StdRng,
    bufs: Vec<Vec<u8>>,
    ids: [u16; BATCH],
    idx: [u32; BATCH],
}

/// Where replies end up: the reference they are judged against, the tally, and the TCP
/// fallback for truncated ones.
struct Results<'a> {
    list: &'a Delegations,
    tally: &'a mut Tally,
    scratch: Scratch,
    timeout: Duration,
    /// Delegations with a final result.
    finished: usize,
    tcp: TcpFallback,
}

/// The TC=1 fallback: worker threads that retry queries over TCP.
struct TcpFallback {
    jobs: mpsc::Sender<TcpJob>,
    done: mpsc::Receiver<TcpDone>,
    workers: Vec<std::thread::JoinHandle<()>>,
    /// Jobs handed to the workers and not collected yet.
    pending: usize,
}

impl<'a> Engine<'a> {
    /// Opens the sockets, starts the TCP workers and prepares the buffers.
    fn new(
        list: &'a Delegations,
        opts: &SweepOptions,
        tally: &'a mut Tally,
    ) -> std::io::Result<Self> {
        let concurrency = opts.concurrency.max(1);
        let nsock = concurrency.div_ceil(IDS_PER_SOCKET).max(1);
        let now = Instant::now();
        let mut socks = Vec::with_capacity(nsock);
        for _ in 0..nsock {
            socks.push(Sock::open(opts.server, now)?);
        }
        let per_sock = concurrency.div_ceil(nsock).min(IDS_PER_SOCKET);
        let tcp = TcpFallback::start(opts.server);
        let fifo = VecDeque::with_capacity(concurrency * 2);
        let recv_bufs = vec![0u8; BATCH * RECV_BUF];
        // Last: the pacing starts now.
        let out = Outbox::new(list.len(), opts);
        Ok(Engine {
            socks,
            per_sock,
            fifo,
            out,
            recv_bufs,
            results: Results {
                list,
                tally,
                scratch: Scratch::default(),
                timeout: opts.timeout,
                finished: 0,
                tcp,
            },
        })
    }

    /// The main loop: send, read, collect TCP fallbacks, expire timeouts, and sleep only when
    /// none of them made progress, until every delegation has a result.
    fn sweep(&mut self) {
        while self.results.finished < self.out.total {
            let (sent, want_write) = self.send();
            let received = self.receive();
            let tcp = self.results.collect_tcp();
            let t = Instant::now();
            let (expired, next_deadline) = self.expire(t);
            if sent || received || tcp || expired || self.results.finished >= self.out.total {
                continue;
            }
            self.sleep(t, next_deadline, want_write);
        }
    }

    /// Sends as many as the window, the rate and the socket allow, a batch per socket in
    /// turn. Returns whether anything went, and whether a socket buffer is full (wait until
    /// writable).
    fn send(&mut self) -> (bool, bool) {
        let mut progress = false;
        loop {
            let s = self.out.rr % self.socks.len();
            let n = self
                .out
                .batch_len(self.per_sock.saturating_sub(self.socks[s].in_flight));
            if n == 0 {
                return (progress, false);
            }
            self.out.rr += 1;
            let sock = &mut self.socks[s];
            let k = self.out.fill(sock, n, &mut self.results);
            if k == 0 {
                continue;
            }
            let (sent, want_write) =
                self.out
                    .flush(sock, s as u16, k, &mut self.fifo, &mut self.results);
            progress |= sent > 0;
            if want_write {
                return (progress, true);
            }
        }
    }

    /// Reads everything that is there, a batch at a time; returns whether anything came.
    fn receive(&mut self) -> bool {
        let mut progress = false;
        for sock in self.socks.iter_mut() {
            loop {
                let (got, lens) = recvmmsg(sock.sock.as_raw_fd(), &mut self.recv_bufs);
                if got == 0 {
                    break;
                }
                progress = true;
                let t = Instant::now();
                for (j, &len) in lens.iter().enumerate().take(got) {
                    let bytes = &self.recv_bufs[j * RECV_BUF..j * RECV_BUF + len];
                    self.results.on_datagram(sock, bytes, t);
                }
                if got < BATCH {
                    break;
                }
            }
        }
        progress
    }

    /// Ends the queries whose deadline passed at `t` as timeouts (or the socket's anomaly),
    /// oldest first; answered entries at the front are dropped on the way. Returns whether any
    /// ended, and the deadline of the oldest query still waiting.
    fn expire(&mut self, t: Instant) -> (bool, Option<Instant>) {
        let mut progress = false;
        while let Some(&(s, id, sq)) = self.fifo.front() {
            let sock = &mut self.socks[usize::from(s)];
            let slot = sock.slots[usize::from(id)];
            if slot.idx == FREE || slot.seq != sq {
                self.fifo.pop_front();
                continue;
            }
            let deadline = slot.sent + self.results.timeout;
            if deadline > t {
                return (progress, Some(deadline));
            }
            self.fifo.pop_front();
            sock.slots[usize::from(id)].idx = FREE;
            sock.in_flight -= 1;
            self.results.fail(sock.anomaly.unwrap_or(Outcome::Timeout));
            progress = true;
        }
        (progress, None)
    }

    /// Nothing to do now: sleeps until a reply, writability, the next deadline, the next rate
    /// token, or (with TCP fallbacks out) a short while.
    fn sleep(&self, t: Instant, next_deadline: Option<Instant>, want_write: bool) {
        let out = &self.out;
        let mut wait = next_deadline.map(|d| d.saturating_duration_since(t));
        if (out.next < out.total || !out.retry.is_empty())
            && self.socks.iter().any(|s| s.in_flight < self.per_sock)
        {
            let due = Duration::from_secs_f64(
                (out.sent_total + 1).saturating_sub(out.burst) as f64 / out.rate,
            );
            let until = (out.start + due).saturating_duration_since(t);
            wait = Some(wait.map_or(until, |w| w.min(until)));
        }
        if self.results.tcp.pending > 0 {
            let cap = Duration::from_millis(2);
            wait = Some(wait.map_or(cap, |w| w.min(cap)));
        }
        poll(&self.socks, want_write, wait);
    }
}

impl Sock {
    /// A non-blocking UDP socket connected to `server`, with large buffers and a free slot
    /// table.
    fn open(server: SocketAddr, now: Instant) -> std::io::Result<Sock> {
        let bind: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().map_err(std::io::Error::other)?
        } else {
            "[::]:0".parse().map_err(std::io::Error::other)?
        };
        let sock = UdpSocket::bind(bind)?;
        sock.connect(server)?;
        sock.set_nonblocking(true)?;
        for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
            // Best effort: the kernel caps it at rmem_max/wmem_max.
            // SAFETY: a valid fd, a pointer to a c_int and its size.
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&SOCKET_BUFFER as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        Ok(Sock {
            sock,
            slots: vec![
                Slot {
                    idx: FREE,
                    seq: 0,
                    sent: now,
                };
                65_536
            ],
            anomaly: None,
            in_flight: 0,
        })
    }
}

impl Outbox {
    /// The send side of a sweep of `len` delegations; its pacing starts now.
    fn new(len: usize, opts: &SweepOptions) -> Self {
        let every = opts.every.max(1);
        Outbox {
            every,
            total: len.div_ceil(every),
            next: 0,
            retry: VecDeque::new(),
            rate: f64::from(opts.rate.get()),
            burst: (opts.rate.get() / 100).max(1) as u64,
            sent_total: 0,
            rr: 0,
            seq: 0,
            rng: rand::rngs::StdRng::from_rng(&mut rand::rng()),
            bufs: (0..BATCH).map(|_| Vec::with_capacity(300)).collect(),
            ids: [0u16; BATCH],
            idx: [0u32; BATCH],
            start: Instant::now(),
        }
    }

    /// How many queries the next batch may hold: at most [`BATCH`], the socket's free `room`,
    /// the delegations left and the rate's tokens.
    #[inline]
    fn batch_len(&self, room: usize) -> usize {
        let allowed = ((self.start.elapsed().as_secs_f64() * self.rate) as u64 + self.burst)
            .saturating_sub(self.sent_total);
        let left = self.total - self.next + self.retry.len();
        BATCH
            .min(room)
            .min(left)
            .min(allowed.min(BATCH as u64) as usize)
    }

    /// The next delegation to send: a retried one first, else the next of the list.
    #[inline]
    fn next_delegation(&mut self) -> u32 {
        match self.retry.pop_front() {
            Some(i) => i,
            None => {
                self.next += 1;
                ((self.next - 1) * self.every) as u32
            }
        }
    }

    /// Writes up to `n` queries for `sock` into the batch, each with a random free ID that is
    /// reserved at once (so the next query of the batch cannot draw it); a name that cannot be
    /// asked ends as a network error. Returns how many were written.
    #[inline]
    fn fill(&mut self, sock: &mut Sock, n: usize, res: &mut Results<'_>) -> usize {
        let mut k = 0;
        for _ in 0..n {
            let idx = self.next_delegation();
            let mut id: u16 = self.rng.random();
            while sock.slots[usize::from(id)].idx != FREE {
                id = self.rng.random();
            }
            let name = res.list.name_text(idx as usize);
            if !write_query(&mut self.bufs[k], id, name, PAYLOAD) {
                // Not a name that can be asked: a failure of this delegation, not a hang.
                res.fail(Outcome::NetworkError);
                continue;
            }
            sock.slots[usize::from(id)].idx = idx;
            self.ids[k] = id;
            self.idx[k] = idx;
            k += 1;
        }
        k
    }

    /// Sends the first `k` queries of the batch on `sock` (number `s`) in one `sendmmsg`:
    /// the sent ones get their slot and a FIFO entry, the others are freed and queued for a
    /// retry (but for the one whose error stopped the batch, a network error). Returns how
    /// many went and whether the socket buffer is full.
    fn flush(
        &mut self,
        sock: &mut Sock,
        s: u16,
        k: usize,
        fifo: &mut VecDeque<(u16, u16, u32)>,
        res: &mut Results<'_>,
    ) -> (usize, bool) {
        let t = Instant::now();
        let (sent, err) = sendmmsg(sock.sock.as_raw_fd(), &self.bufs[..k]);
        for j in 0..sent {
            self.seq = self.seq.wrapping_add(1);
            sock.slots[usize::from(self.ids[j])] = Slot {
                idx: self.idx[j],
                seq: self.seq,
                sent: t,
            };
            fifo.push_back((s, self.ids[j], self.seq));
        }
        for &id in &self.ids[sent..k] {
            sock.slots[usize::from(id)].idx = FREE;
        }
        sock.in_flight += sent;
        self.sent_total += sent as u64;
        if sent == k {
            return (sent, false);
        }
        let mut unsent = sent;
        let mut want_write = false;
        match err {
            Some(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Socket buffer full: wait until writable, then send the rest.
                want_write = true;
            }
            e => {
                // The first unsent datagram failed; the others are retried.
                res.tally.socket_error();
                tracing::debug!(
                    error = e.as_ref().map(tracing::field::display),
                    "UDP send failed"
                );
                res.fail(Outcome::NetworkError);
                unsent += 1;
            }
        }
        for &idx in self.idx[unsent..k].iter().rev() {
            self.retry.push_front(idx);
        }
        (sent, want_write)
    }
}

impl Results<'_> {
    /// A delegation that ends without a usable reply.
    #[inline]
    fn fail(&mut self, kind: Outcome) {
        self.tally.failure(kind);
        self.finished += 1;
    }

    /// Takes one datagram received at `t` on `sock`: a stray (no query waits for its ID), a
    /// correct referral confirmed from the bytes, or a reply for the daemon's rules.
    #[inline]
    fn on_datagram(&mut self, sock: &mut Sock, bytes: &[u8], t: Instant) {
        if bytes.len() < 2 {
            self.tally.stray();
            sock.anomaly = Some(Outcome::Malformed);
            return;
        }
        let id = u16::from_be_bytes([bytes[0], bytes[1]]);
        let slot = sock.slots[usize::from(id)];
        if slot.idx == FREE {
            self.tally.stray();
            sock.anomaly = Some(if Message::from_vec(bytes).is_ok() {
                Outcome::Mismatch
            } else {
                Outcome::Malformed
            });
            return;
        }
        sock.slots[usize::from(id)].idx = FREE;
        sock.in_flight -= 1;
        let idx = slot.idx as usize;
        let rtt = t.saturating_duration_since(slot.sent);
        let (name, set) = (self.list.name_text(idx), self.list.set_text(idx));
        if bytes.len() < RECV_BUF && confirm_correct(bytes, name, set, &mut self.scratch) {
            self.tally.correct(rtt);
            self.finished += 1;
            return;
        }
        self.on_unconfirmed(slot, bytes, rtt);
    }

    /// Judges a reply the shortcut did not confirm with the daemon's rules; a truncated one
    /// goes to the TCP fallback, with the deadline of its UDP send.
    fn on_unconfirmed(&mut self, slot: Slot, bytes: &[u8], rtt: Duration) {
        let idx = slot.idx as usize;
        match slow(self.list, idx, bytes) {
            Slow::Done(outcome, verdict, got) => {
                self.tally
                    .record(self.list, idx, outcome, verdict, Some(rtt), got);
                self.finished += 1;
            }
            Slow::Truncated(qname) => {
                let job = TcpJob {
                    idx: slot.idx,
                    qname,
                    sent: slot.sent,
                    deadline: slot.sent + self.timeout,
                };
                if !self.tcp.submit(job) {
                    self.fail(Outcome::NetworkError);
                }
            }
        }
    }

    /// Records the TCP fallbacks that finished; returns whether any did.
    fn collect_tcp(&mut self) -> bool {
        let mut progress = false;
        while let Ok((idx, r, sent)) = self.tcp.done.try_recv() {
            self.tcp.pending -= 1;
            self.finished += 1;
            progress = true;
            match r {
                Err(kind) => self.tally.failure(kind),
                Ok((msg, at)) => {
                    let (outcome, verdict, got) = judge(self.list, idx as usize, &msg);
                    self.tally.record(
                        self.list,
                        idx as usize,
                        outcome,
                        verdict,
                        Some(at.saturating_duration_since(sent)),
                        got,
                    );
                }
            }
        }
        progress
    }
}

impl TcpFallback {
    /// Starts [`TCP_WORKERS`] threads that carry jobs to `server` over TCP.
    fn start(server: SocketAddr) -> Self {
        let (job_tx, job_rx) = mpsc::channel::<TcpJob>();
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<TcpDone>();
        let mut workers = Vec::new();
        for _ in 0..TCP_WORKERS {
            let (rx, tx) = (job_rx.clone(), done_tx.clone());
            workers.push(std::thread::spawn(move || loop {
                let job = match rx.lock().map(|r| r.recv()) {
                    Ok(Ok(j)) => j,
                    _ => return,
                };
                let r = tcp_query(server, &job.qname, job.deadline);
                if tx.send((job.idx, r, job.sent)).is_err() {
                    return;
                }
            }));
        }
        drop(done_tx);
        TcpFallback {
            jobs: job_tx,
            done: done_rx,
            workers,
            pending: 0,
        }
    }

    /// Hands a job to the workers; false when they are gone.
    fn submit(&mut self, job: TcpJob) -> bool {
        self.pending += 1;
        if self.jobs.send(job).is_err() {
            self.pending -= 1;
            return false;
        }
        true
    }

    /// Closes the job queue and waits for the workers to end.
    fn stop(self) {
        let TcpFallback {
            jobs,
            done,
            workers,
            ..
        } = self;
        drop(jobs);
        for w in workers {
            let _ = w.join();
        }
        drop(done);
    }
}

enum Slow {
    Done(Outcome, Verdict, Vec<String>),
    Truncated(Name),
}

/// The daemon's rules on a reply the shortcut did not confirm.
fn slow(list: &Delegations, idx: usize, bytes: &[u8]) -> Slow {
    let Ok(msg) = Message::from_vec(bytes) else {
        return Slow::Done(Outcome::Malformed, Verdict::Unchecked, Vec::new());
    };
    let (qname, _) = list.get(idx);
    let q = Question {
        qname,
        qtype: RecordType::NS,
        recursion_desired: false,
        dnssec_ok: false,
    };
    if !question_matches(&msg, &q) {
        return Slow::Done(Outcome::Mismatch, Verdict::Unchecked, Vec::new());
    }
    if msg.metadata.truncation {
        return Slow::Truncated(q.qname);
    }
    let (o, v, got) = judge(list, idx, &msg);
    Slow::Done(o, v, got)
}

/// Classifies a matching reply for delegation `idx` as the daemon does; returns what the
/// node said, for examples.
fn judge(list: &Delegations, idx: usize, msg: &Message) -> (Outcome, Verdict, Vec<String>) {
    let (qname, values) = list.get(idx);
    let check = Check {
        qname: qname.clone(),
        qtype: RecordType::NS,
        expect: Expect::Referral,
        values,
        transport: Transport::Udp,
        role: CheckRole::Plain,
        recursion_desired: false,
        authoritative: true,
    };
    let (o, v) = classify(&check, &qname, msg);
    let mut got = referral_targets(msg, &qname);
    if got.is_empty() {
        got = relevant_answers(msg, &qname, RecordType::NS);
    }
    (o, v, got)
}

/// One query over TCP (the TC=1 fallback), finished by `deadline`.
fn tcp_query(
    server: SocketAddr,
    qname: &Name,
    deadline: Instant,
) -> Result<(Message, Instant), Outcome> {
    let left = || {
        let d = deadline.saturating_duration_since(Instant::now());
        if d.is_zero() {
            Err(Outcome::Timeout)
        } else {
            Ok(d)
        }
    };
    let id: u16 = rand::random();
    let q = Question {
        qname: qname.clone(),
        qtype: RecordType::NS,
        recursion_desired: false,
        dnssec_ok: false,
    };
    let wire = build_query(id, &q, PAYLOAD);
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Outcome::Timeout,
        _ => Outcome::NetworkError,
    };
    let mut s = TcpStream::connect_timeout(&server, left()?).map_err(io)?;
    let _ = s.set_nodelay(true);
    let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&wire);
    // A socket timeout bounds one syscall, not a whole `write_all` or `read_exact`: a node
    // that drips a byte at a time would keep every read under it for as long as it likes. So
    // each syscall gets only what is left until `deadline`.
    let mut done = 0;
    while done < framed.len() {
        s.set_write_timeout(Some(left()?)).map_err(io)?;
        match s.write(&framed[done..]) {
            Ok(0) => return Err(Outcome::NetworkError),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    let mut len = [0u8; 2];
    read_by(&mut s, &mut len, &left).map_err(io)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    read_by(&mut s, &mut body, &left).map_err(io)?;
    let at = Instant::now();
    let msg = Message::from_vec(&body).map_err(|_| Outcome::Malformed)?;
    if msg.metadata.id != id || !question_matches(&msg, &q) {
        return Err(Outcome::Mismatch);
    }
    Ok((msg, at))
}

/// Fills `buf` from `s`, each read given the time `left` says remains (a `TimedOut` error
/// once none does).
fn read_by(
    s: &mut TcpStream,
    buf: &mut [u8],
    left: &dyn Fn() -> Result<Duration, Outcome>,
) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let Ok(wait) = left() else {
            return Err(std::io::ErrorKind::TimedOut.into());
        };
        s.set_read_timeout(Some(wait))?;
        match s.read(&mut buf[done..]) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends `bufs` in one `sendmmsg`; returns how many went and the error that stopped it.
fn sendmmsg(fd: i32, bufs: &[Vec<u8>]) -> (usize, Option<std::io::Error>) {
    let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    let n = bufs.len().min(BATCH);
    for i in 0..n {
        iov[i].iov_base = bufs[i].as_ptr() as *mut libc::c_void;
        iov[i].iov_len = bufs[i].len();
        hdrs[i].msg_hdr.msg_iov = &mut iov[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    let mut done = 0;
    while done < n {
        // SAFETY: `hdrs[done..n]` point at live buffers for the duration of the call; the
        // socket is connected, so no address is given.
        let r = unsafe {
            libc::sendmmsg(
                fd,
                hdrs.as_mut_ptr().add(done),
                (n - done) as libc::c_uint,
                0,
            )
        };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return (done, Some(e));
        }
        done += r as usize;
    }
    (done, None)
}

/// Reads up to [`BATCH`] datagrams without waiting; returns how many and their lengths.
fn recvmmsg(fd: i32, buf: &mut [u8]) -> (usize, [usize; BATCH]) {
    let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for i in 0..BATCH {
        iov[i].iov_base = buf[i * RECV_BUF..].as_mut_ptr().cast();
        iov[i].iov_len = RECV_BUF;
        hdrs[i].msg_hdr.msg_iov = &mut iov[i];
        hdrs[i].msg_hdr.msg_iovlen = 1;
    }
    let mut lens = [0usize; BATCH];
    // SAFETY: every header points at its own RECV_BUF-sized part of `buf`, alive for the call.
    let r = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            BATCH as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if r <= 0 {
        // EAGAIN (nothing there) or an error such as ECONNREFUSED from an ICMP message: the
        // queries concerned end by their timeouts.
        return (0, lens);
    }
    let r = r as usize;
    for i in 0..r {
        lens[i] = hdrs[i].msg_len as usize;
    }
    (r, lens)
}

/// Waits until a socket is readable (or writable, with `write`), or `wait` passes.
fn poll(socks: &[Sock], write: bool, wait: Option<Duration>) {
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.sock.as_raw_fd(),
            events: libc::POLLIN | if write { libc::POLLOUT } else { 0 },
            revents: 0,
        })
        .collect();
    let ts = wait.map(|w| libc::timespec {
        tv_sec: w.as_secs() as libc::time_t,
        tv_nsec: w.subsec_nanos() as libc::c_long,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `fds` is a live array of pollfd, `tsp` null or a live timespec.
    unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            tsp,
            std::ptr::null(),
        );
    }
}
