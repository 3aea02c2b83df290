//! The lab server: UDP and TCP on one address and port, its tasks, and its controls.

use super::counters::{bump, Counters, LabCounters};
use super::faults::Faults;
use super::respond::{respond, Context, Draws, Transport};
use super::zone::Zone;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// Delayed UDP replies waiting at once, at most. Beyond this a reply is not sent and counted
/// as `overloaded`, so a client flooding a slow server cannot grow its memory.
const MAX_DELAYED: usize = 10_000;
/// TCP connections served at once, at most (each holds up to a 64 KiB message buffer and at
/// most one delayed reply, since a connection answers its queries in order); more are closed
/// on accept and counted as `overloaded`.
const MAX_TCP_CONNECTIONS: usize = 256;
/// A TCP connection with no complete query for this long is closed; so is one whose reply
/// cannot be written for this long.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Pause after a failed UDP receive before trying again.
const RECV_BACKOFF: Duration = Duration::from_millis(1);
/// Pause after a failed `accept` (say, out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Attempts at finding a port free for both UDP and TCP when asked for port 0.
const BIND_ATTEMPTS: usize = 32;
/// NSIDs are cut to this many bytes, so the OPT record always fits a truncated reply.
const MAX_NSID: usize = 256;

/// An in-process authoritative DNS server with fault injection: UDP and TCP on the same
/// address and port, serving its zones until [`LabServer::stop`] or drop.
pub struct LabServer {
    /// Where it listens, UDP and TCP.
    addr: SocketAddr,
    /// What the tasks share with the controls.
    shared: Arc<Shared>,
    /// Cancelled by `stop` and drop; the tasks end when it is.
    shutdown: CancellationToken,
    /// The UDP and TCP tasks; `stop` waits for them so the port is free when it returns.
    tasks: Vec<JoinHandle<()>>,
}

/// State shared by the serving tasks and the controls.
struct Shared {
    /// The zones served; replaced whole by `set_zones`, read once per query.
    zones: RwLock<Arc<[Zone]>>,
    /// Faults, their random generator and the NSID, changed together under one lock so a
    /// query sees one consistent set.
    control: Mutex<Control>,
    /// What happened.
    counters: Counters,
}

/// The mutable controls.
struct Control {
    /// The faults in force; an `Arc` so a query can use them without holding the lock.
    faults: Arc<Faults>,
    /// Per-query fault draws; reseeded from `Faults::seed` by every `set_faults`.
    rng: StdRng,
    /// The NSID returned when a query asks for it.
    nsid: Option<Arc<[u8]>>,
}

/// The outcome of one query for a serving task.
struct Handled {
    /// The reply to send, if any.
    reply: Option<Vec<u8>>,
    /// How long to hold it back.
    delay: Duration,
    /// Whether the server is stopped (TCP then closes the connection).
    stopped: bool,
}

impl Shared {
    fn handle(&self, query: &[u8], transport: Transport) -> Handled {
        let (faults, draws, nsid) = {
            let mut control = lock(&self.control);
            let draws = Draws::new(&mut control.rng);
            (control.faults.clone(), draws, control.nsid.clone())
        };
        let zones = self
            .zones
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let ctx = Context {
            zones: &zones,
            faults: &faults,
            nsid: nsid.as_deref(),
            counters: &self.counters,
        };
        // The decoder is a dependency; whatever it does with hostile bytes, the server must
        // keep serving. A panic costs this one query its reply.
        let reply = catch_unwind(AssertUnwindSafe(|| respond(&ctx, query, transport, draws)))
            .unwrap_or_else(|_| {
                tracing::error!("lab server: panic while answering a query; no reply sent");
                None
            });
        Handled {
            reply,
            delay: faults.delay,
            stopped: faults.stopped,
        }
    }

    /// The messages of a zone transfer when `query` is an AXFR for the apex of a zone served
    /// (and the server is not stopped); `None` for anything else, answered as usual (AXFR over
    /// UDP, or for a name that is no apex, is REFUSED).
    fn transfer(&self, query: &[u8]) -> Option<Vec<Vec<u8>>> {
        if self.stopped() {
            return None;
        }
        let zones = self
            .zones
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let messages = super::axfr::transfer(&zones, query)?;
        bump(&self.counters.queries);
        Some(messages)
    }

    fn stopped(&self) -> bool {
        lock(&self.control).faults.stopped
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LabServer {
    /// Binds UDP and TCP on `addr` (the same port for both; with port 0, a port free for both
    /// is found) and serves `zones` until stopped. Bind it to a loopback address.
    pub async fn start(addr: SocketAddr, zones: Vec<Zone>) -> std::io::Result<LabServer> {
        let (udp, tcp) = bind_pair(addr).await?;
        let addr = udp.local_addr()?;
        let shared = Arc::new(Shared {
            zones: RwLock::new(zones.into()),
            control: Mutex::new(Control {
                faults: Arc::new(Faults::default()),
                rng: StdRng::seed_from_u64(0),
                nsid: None,
            }),
            counters: Counters::default(),
        });
        let shutdown = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(serve_udp(Arc::new(udp), shared.clone(), shutdown.clone())),
            tokio::spawn(serve_tcp(tcp, shared.clone(), shutdown.clone())),
        ];
        tracing::debug!(%addr, "lab server started");
        Ok(LabServer {
            addr,
            shared,
            shutdown,
            tasks,
        })
    }

    /// The address it serves on, UDP and TCP.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the faults; they apply from the next query on. Reseeds the per-query random
    /// draws from `faults.seed`.
    pub fn set_faults(&self, faults: Faults) {
        let mut control = lock(&self.shared.control);
        control.rng = StdRng::seed_from_u64(faults.seed);
        control.faults = Arc::new(faults);
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        Faults::clone(&lock(&self.shared.control).faults)
    }

    /// The NSID (RFC 5001) returned to queries that ask for one; `None` returns none. Cut to
    /// 256 bytes.
    pub fn set_nsid(&self, nsid: Option<Vec<u8>>) {
        let nsid = nsid.map(|mut id| {
            id.truncate(MAX_NSID);
            Arc::from(id)
        });
        lock(&self.shared.control).nsid = nsid;
    }

    /// Replaces the zones served, from the next query on (a zone update on this node only).
    pub fn set_zones(&self, zones: Vec<Zone>) {
        *self
            .shared
            .zones
            .write()
            .unwrap_or_else(PoisonError::into_inner) = zones.into();
    }

    /// What the server did since it started.
    pub fn counters(&self) -> LabCounters {
        self.shared.counters.snapshot()
    }

    /// Stops serving: ends its tasks, drops pending delayed replies and closes connections.
    /// The port is free when this returns.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        for task in std::mem::take(&mut self.tasks) {
            if let Err(e) = task.await {
                tracing::debug!(error = %e, "lab server task ended abnormally");
            }
        }
        tracing::debug!(addr = %self.addr, "lab server stopped");
    }
}

impl Drop for LabServer {
    /// Stops the tasks without waiting for them (use [`LabServer::stop`] to wait).
    fn drop(&mut self) {
        self.shutdown.cancel();
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for LabServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabServer")
            .field("addr", &self.addr)
            .field("faults", &self.faults())
            .field("counters", &self.counters())
            .finish_non_exhaustive()
    }
}

/// A UDP socket and a TCP listener on the same address and port.
async fn bind_pair(addr: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let attempts = if addr.port() == 0 { BIND_ATTEMPTS } else { 1 };
    let mut last_error = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("no port free for UDP and TCP")))
}

async fn serve_udp(socket: Arc<UdpSocket>, shared: Arc<Shared>, shutdown: CancellationToken) {
    // Delayed replies live here, so stopping the server drops them and frees the socket.
    let mut delayed = JoinSet::new();
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = delayed.join_next(), if !delayed.is_empty() => {}
            received = socket.recv_from(&mut buf) => {
                let (len, peer) = match received {
                    Ok(received) => received,
                    Err(e) => {
                        // Keep serving, without spinning if the error persists.
                        tracing::debug!(error = %e, "lab server: UDP receive failed");
                        tokio::time::sleep(RECV_BACKOFF).await;
                        continue;
                    }
                };
                let handled = shared.handle(&buf[..len], Transport::Udp);
                let Some(reply) = handled.reply else { continue };
                if handled.delay.is_zero() {
                    send_udp(&socket, &shared, &reply, peer).await;
                } else if delayed.len() >= MAX_DELAYED {
                    bump(&shared.counters.overloaded);
                } else {
                    bump(&shared.counters.delayed);
                    let (socket, shared) = (socket.clone(), shared.clone());
                    delayed.spawn(async move {
                        tokio::time::sleep(handled.delay).await;
                        send_udp(&socket, &shared, &reply, peer).await;
                    });
                }
            }
        }
    }
    delayed.shutdown().await;
}

async fn send_udp(socket: &UdpSocket, shared: &Shared, reply: &[u8], peer: SocketAddr) {
    match socket.send_to(reply, peer).await {
        Ok(_) => bump(&shared.counters.replies),
        Err(e) => tracing::debug!(error = %e, %peer, "lab server: UDP send failed"),
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::debug!(error = %e, "lab server: TCP accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                if shared.stopped() {
                    bump(&shared.counters.stopped);
                } else if connections.len() >= MAX_TCP_CONNECTIONS {
                    bump(&shared.counters.overloaded);
                } else {
                    bump(&shared.counters.tcp_connections);
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
            }
        }
    }
    connections.shutdown().await;
}

/// Serves length-framed queries on one connection, one after the other, until the client
/// closes it, goes idle, or the server is stopped.
async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut body = Vec::new();
    loop {
        let mut len = [0u8; 2];
        if !matches!(
            tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        body.resize(usize::from(u16::from_be_bytes(len)), 0);
        if !matches!(
            tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut body)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        if let Some(messages) = shared.transfer(&body) {
            for m in messages {
                let Ok(len) = u16::try_from(m.len()) else {
                    return;
                };
                let mut framed = Vec::with_capacity(m.len() + 2);
                framed.extend_from_slice(&len.to_be_bytes());
                framed.extend_from_slice(&m);
                if !matches!(
                    tokio::time::timeout(TCP_IDLE, stream.write_all(&framed)).await,
                    Ok(Ok(()))
                ) {
                    return;
                }
            }
            bump(&shared.counters.transfers);
            continue;
        }
        let handled = shared.handle(&body, Transport::Tcp);
        if handled.stopped {
            return;
        }
        let Some(reply) = handled.reply else { continue };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            continue;
        };
        if !handled.delay.is_zero() {
            bump(&shared.counters.delayed);
            tokio::time::sleep(handled.delay).await;
        }
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        match tokio::time::timeout(TCP_IDLE, stream.write_all(&framed)).await {
            Ok(Ok(())) => bump(&shared.counters.replies),
            _ => return,
        }
    }
}
