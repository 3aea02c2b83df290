//! The HTTP listener with limits (docs/operations.md, "HTTP limits"), so that no client can
//! take what the probes need: a connection cap (and a smaller one per client address), a
//! deadline for each request's headers that also closes kept-alive connections left idle, a
//! deadline for the whole request, and accept errors (out of descriptors) that back off
//! instead of spinning. Connections over a cap are accepted and closed at once, so a flood
//! queues nothing in the kernel either.

use super::router;
use crate::state::Shared;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The listener's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once, at most.
    pub max_connections: usize,
    /// Connections open at once from one client address, at most.
    pub per_peer: usize,
    /// Time for a request's headers; also the idle time of a kept-alive connection.
    pub header_timeout: Duration,
}

impl Limits {
    /// The configured cap, lowered to an eighth of the soft descriptor limit `nofile` when
    /// that is smaller (the probes, the ledger and the registries keep the rest); a quarter
    /// of it per client address.
    pub fn new(configured: usize, nofile: u64, header_timeout: Duration) -> Self {
        let by_fds = usize::try_from(nofile / 8).unwrap_or(usize::MAX).max(4);
        let max_connections = configured.min(by_fds).max(4);
        Self {
            max_connections,
            per_peer: (max_connections / 4).max(2),
            header_timeout,
        }
    }
}

/// The descriptor limit (soft) of this process, raised first to the hard limit (at most
/// 2^20): the default soft limit of 1024 is far below what probes to thousands of servers over
/// TCP need, and the hard limit is what the administrator granted.
pub fn raise_nofile() -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a valid, initialised struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 1024;
        }
        let want = r.rlim_max.min(1 << 20);
        if want > r.rlim_cur {
            let raised = libc::rlimit {
                rlim_cur: want,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                r.rlim_cur = want;
            }
        }
    }
    r.rlim_cur
}

/// Open connections by client address; a [`Slot`] holds one.
#[derive(Default)]
struct Peers {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// One admitted connection, released when dropped.
struct Slot {
    peers: Arc<Mutex<Peers>>,
    ip: IpAddr,
}

impl Slot {
    /// A slot for a connection from `ip`, or the cap that refuses it.
    fn take(peers: &Arc<Mutex<Peers>>, ip: IpAddr, limits: &Limits) -> Result<Slot, &'static str> {
        let mut p = peers.lock().unwrap_or_else(|e| e.into_inner());
        if p.total >= limits.max_connections {
            return Err("limit");
        }
        let n = p.by_ip.entry(ip).or_insert(0);
        if *n >= limits.per_peer {
            return Err("peer_limit");
        }
        *n += 1;
        p.total += 1;
        Ok(Slot {
            peers: peers.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut p = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        p.total = p.total.saturating_sub(1);
        if let Some(n) = p.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                p.by_ip.remove(&self.ip);
            }
        }
    }
}

/// Serves until `cancel` fires, then lets the open requests finish (at most 5 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Shared,
    cancel: CancellationToken,
    limits: Limits,
) {
    let metrics = shared.metrics.clone();
    let service = TowerToHyperService::new(router(shared));
    let peers: Arc<Mutex<Peers>> = Arc::default();
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(64 * 1024);
    let mut last_accept_warning: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors, most likely: the listener stays, the loop backs off.
                metrics
                    .http_refused
                    .with_label_values(&["accept_error"])
                    .inc();
                if last_accept_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(error = %e, "HTTP accept failed; retrying in 100 ms");
                    last_accept_warning = Some(tokio::time::Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = match Slot::take(&peers, peer.ip(), &limits) {
            Ok(s) => s,
            Err(reason) => {
                metrics.http_refused.with_label_values(&[reason]).inc();
                drop(stream);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service.clone()));
        let open = metrics.http_connections.clone();
        open.inc();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "HTTP connection ended with an error");
            }
            open.dec();
            drop(slot);
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_follows_the_descriptor_limit_and_one_address_gets_a_quarter() {
        let t = Duration::from_secs(10);
        let l = Limits::new(256, 65_536, t);
        assert_eq!((l.max_connections, l.per_peer), (256, 64));
        let l = Limits::new(256, 256, t);
        assert_eq!((l.max_connections, l.per_peer), (32, 8));
        let l = Limits::new(256, 1, t);
        assert_eq!((l.max_connections, l.per_peer), (4, 2));
    }

    #[test]
    fn slots_are_counted_per_address_and_released_on_drop() {
        let limits = Limits {
            max_connections: 3,
            per_peer: 2,
            header_timeout: Duration::from_secs(1),
        };
        let peers: Arc<Mutex<Peers>> = Arc::default();
        let a: IpAddr = "127.0.0.2".parse().expect("ip");
        let b: IpAddr = "127.0.0.1".parse().expect("ip");
        let a1 = Slot::take(&peers, a, &limits).expect("a1");
        let _a2 = Slot::take(&peers, a, &limits).expect("a2");
        assert_eq!(Slot::take(&peers, a, &limits).err(), Some("peer_limit"));
        let _b1 = Slot::take(&peers, b, &limits).expect("b1");
        assert_eq!(Slot::take(&peers, b, &limits).err(), Some("limit"));
        drop(a1);
        assert!(Slot::take(&peers, b, &limits).is_ok());
        let p = peers.lock().expect("lock");
        assert_eq!(p.total, 2, "the slot taken just now was dropped at once");
    }
}
