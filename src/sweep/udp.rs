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
    let concurrency = opts.concurrency.max(1);
    let nsock = concurrency.div_ceil(IDS_PER_SOCKET).max(1);
    let now = Instant::now();
    let mut socks = Vec::with_capacity(nsock);
    for _ in 0..nsock {
        let bind: SocketAddr = if opts.server.is_ipv4() {
            "0.0.0.0:0".parse().map_err(std::io::Error::other)?
        } else {
            "[::]:0".parse().map_err(std::io::Error::other)?
        };
        let sock = UdpSocket::bind(bind)?;
        sock.connect(opts.server)?;
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
        socks.push(Sock {
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
        });
    }
    let per_sock = concurrency.div_ceil(nsock).min(IDS_PER_SOCKET);

    let (job_tx, job_rx) = mpsc::channel::<TcpJob>();
    let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<TcpDone>();
    let mut workers = Vec::new();
    for _ in 0..TCP_WORKERS {
        let (rx, tx, server) = (job_rx.clone(), done_tx.clone(), opts.server);
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

    let every = opts.every.max(1);
    let total = list.len().div_ceil(every);
    let rate = f64::from(opts.rate.get());
    let burst = (opts.rate.get() / 100).max(1) as u64;
    let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
    let mut fifo: VecDeque<(u16, u16, u32)> = VecDeque::with_capacity(concurrency * 2);
    let mut scratch = Scratch::default();
    let mut send_bufs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(300)).collect();
    let mut send_ids = [0u16; BATCH];
    let mut send_idx = [0u32; BATCH];
    let mut recv_bufs = vec![0u8; BATCH * RECV_BUF];
    let mut next = 0usize;
    let mut seq = 0u32;
    let mut sent_total = 0u64;
    let mut tcp_pending = 0usize;
    let mut finished = 0usize;
    let mut rr = 0usize;
    let mut retry: VecDeque<u32> = VecDeque::new();
    let start = Instant::now();

    while finished < total {
        let mut progress = false;
        let mut want_write = false;
        // Send as many as the window, the rate and the socket allow.
        loop {
            let allowed =
                ((start.elapsed().as_secs_f64() * rate) as u64 + burst).saturating_sub(sent_total);
            let s = rr % nsock;
            let room = per_sock.saturating_sub(socks[s].in_flight);
            let left = total - next + retry.len();
            let n = BATCH
                .min(room)
                .min(left)
                .min(allowed.min(BATCH as u64) as usize);
            if n == 0 {
                break;
            }
            rr += 1;
            let sock = &mut socks[s];
            let mut k = 0;
            for _ in 0..n {
                let idx = match retry.pop_front() {
                    Some(i) => i,
                    None => {
                        next += 1;
                        ((next - 1) * every) as u32
                    }
                };
                let mut id: u16 = rng.random();
                while sock.slots[usize::from(id)].idx != FREE {
                    id = rng.random();
                }
                if !write_query(&mut send_bufs[k], id, list.name_text(idx as usize), PAYLOAD) {
                    // Not a name that can be asked: a failure of this delegation, not a hang.
                    tally.failure(Outcome::NetworkError);
                    finished += 1;
                    continue;
                }
                // Reserved now, so the next query of this batch cannot draw the same ID.
                sock.slots[usize::from(id)].idx = idx;
                send_ids[k] = id;
                send_idx[k] = idx;
                k += 1;
            }
            if k == 0 {
                continue;
            }
            let t = Instant::now();
            let (sent, err) = sendmmsg(sock.sock.as_raw_fd(), &send_bufs[..k]);
            for j in 0..sent {
                seq = seq.wrapping_add(1);
                sock.slots[usize::from(send_ids[j])] = Slot {
                    idx: send_idx[j],
                    seq,
                    sent: t,
                };
                fifo.push_back((s as u16, send_ids[j], seq));
            }
            for &id in &send_ids[sent..k] {
                sock.slots[usize::from(id)].idx = FREE;
            }
            sock.in_flight += sent;
            sent_total += sent as u64;
            progress |= sent > 0;
            if sent < k {
                let mut unsent = sent;
                match err {
                    Some(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        // Socket buffer full: wait until writable, then send the rest.
                        want_write = true;
                    }
                    e => {
                        // The first unsent datagram failed; the others are retried.
                        tally.socket_error();
                        tracing::debug!(error = ?e, "UDP send failed");
                        tally.failure(Outcome::NetworkError);
                        finished += 1;
                        unsent += 1;
                    }
                }
                for &idx in send_idx[unsent..k].iter().rev() {
                    retry.push_front(idx);
                }
                if want_write {
                    break;
                }
            }
        }

        // Read everything that is there.
        for sock in socks.iter_mut() {
            loop {
                let (got, lens) = recvmmsg(sock.sock.as_raw_fd(), &mut recv_bufs);
                if got == 0 {
                    break;
                }
                progress = true;
                let t = Instant::now();
                for (j, &len) in lens.iter().enumerate().take(got) {
                    let bytes = &recv_bufs[j * RECV_BUF..j * RECV_BUF + len];
                    if bytes.len() < 2 {
                        tally.stray();
                        sock.anomaly = Some(Outcome::Malformed);
                        continue;
                    }
                    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
                    let slot = sock.slots[usize::from(id)];
                    if slot.idx == FREE {
                        tally.stray();
                        sock.anomaly = Some(if Message::from_vec(bytes).is_ok() {
                            Outcome::Mismatch
                        } else {
                            Outcome::Malformed
                        });
                        continue;
                    }
                    sock.slots[usize::from(id)].idx = FREE;
                    sock.in_flight -= 1;
                    let idx = slot.idx as usize;
                    let rtt = t.saturating_duration_since(slot.sent);
                    let (name, set) = (list.name_text(idx), list.set_text(idx));
                    if len < RECV_BUF && confirm_correct(bytes, name, set, &mut scratch) {
                        tally.correct(rtt);
                        finished += 1;
                        continue;
                    }
                    match slow(list, idx, bytes) {
                        Slow::Done(outcome, verdict, got) => {
                            tally.record(list, idx, outcome, verdict, Some(rtt), got);
                            finished += 1;
                        }
                        Slow::Truncated(qname) => {
                            tcp_pending += 1;
                            let job = TcpJob {
                                idx: slot.idx,
                                qname,
                                sent: slot.sent,
                                deadline: slot.sent + opts.timeout,
                            };
                            if job_tx.send(job).is_err() {
                                tcp_pending -= 1;
                                tally.failure(Outcome::NetworkError);
                                finished += 1;
                            }
                        }
                    }
                }
                if got < BATCH {
                    break;
                }
            }
        }

        // TCP fallbacks that finished.
        while let Ok((idx, r, sent)) = done_rx.try_recv() {
            tcp_pending -= 1;
            finished += 1;
            progress = true;
            match r {
                Err(kind) => tally.failure(kind),
                Ok((msg, at)) => {
                    let (outcome, verdict, got) = judge(list, idx as usize, &msg);
                    tally.record(
                        list,
                        idx as usize,
                        outcome,
                        verdict,
                        Some(at.saturating_duration_since(sent)),
                        got,
                    );
                }
            }
        }

        // Timeouts, oldest first; answered entries at the front are dropped on the way.
        let t = Instant::now();
        let mut next_deadline = None;
        while let Some(&(s, id, sq)) = fifo.front() {
            let sock = &mut socks[usize::from(s)];
            let slot = sock.slots[usize::from(id)];
            if slot.idx == FREE || slot.seq != sq {
                fifo.pop_front();
                continue;
            }
            let deadline = slot.sent + opts.timeout;
            if deadline > t {
                next_deadline = Some(deadline);
                break;
            }
            fifo.pop_front();
            sock.slots[usize::from(id)].idx = FREE;
            sock.in_flight -= 1;
            tally.failure(sock.anomaly.unwrap_or(Outcome::Timeout));
            finished += 1;
            progress = true;
        }

        if progress || finished >= total {
            continue;
        }
        // Nothing to do now: sleep until a reply, writability, the next deadline, the next
        // rate token, or (with TCP fallbacks out) a short while.
        let mut wait = next_deadline.map(|d| d.saturating_duration_since(t));
        if (next < total || !retry.is_empty()) && socks.iter().any(|s| s.in_flight < per_sock) {
            let due = Duration::from_secs_f64((sent_total + 1).saturating_sub(burst) as f64 / rate);
            let until = (start + due).saturating_duration_since(t);
            wait = Some(wait.map_or(until, |w| w.min(until)));
        }
        if tcp_pending > 0 {
            let cap = Duration::from_millis(2);
            wait = Some(wait.map_or(cap, |w| w.min(cap)));
        }
        poll(&socks, want_write, wait);
    }
    drop(job_tx);
    for w in workers {
        let _ = w.join();
    }
    Ok(())
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
    // Blocking socket timeouts, renewed before each step so the whole query ends by `deadline`.
    let _ = s.set_nodelay(true);
    s.set_write_timeout(Some(left()?)).map_err(io)?;
    let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&wire);
    s.write_all(&framed).map_err(io)?;
    s.set_read_timeout(Some(left()?)).map_err(io)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).map_err(io)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut body).map_err(io)?;
    let at = Instant::now();
    let msg = Message::from_vec(&body).map_err(|_| Outcome::Malformed)?;
    if msg.metadata.id != id || !question_matches(&msg, &q) {
        return Err(Outcome::Mismatch);
    }
    Ok((msg, at))
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
