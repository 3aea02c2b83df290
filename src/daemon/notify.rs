//! systemd's readiness protocol (sd_notify(3)) for `Type=notify`: one datagram to the socket
//! named by `NOTIFY_SOCKET` when the daemon is ready (`READY=1`, with a `STATUS=` line) and
//! when it begins to stop (`STOPPING=1`). Without `NOTIFY_SOCKET` (not started by systemd)
//! nothing is sent. A socket name starting with `@` is in the abstract namespace.

use std::os::unix::net::UnixDatagram;

/// The environment variable systemd sets for a `Type=notify` service.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Sends `state` (newline-separated `KEY=value` assignments) to systemd. Returns whether there
/// was a socket to send to.
pub fn notify(state: &str) -> std::io::Result<bool> {
    let Some(path) = std::env::var_os(NOTIFY_SOCKET) else {
        return Ok(false);
    };
    let sock = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    match bytes.strip_prefix(b"@") {
        Some(name) => send_abstract(&sock, name, state)?,
        None => {
            sock.send_to(state.as_bytes(), &path)?;
        }
    }
    Ok(true)
}

#[cfg(target_os = "linux")]
fn send_abstract(sock: &UnixDatagram, name: &[u8], state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sock.send_to_addr(state.as_bytes(), &addr).map(|_| ())
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &str) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "abstract socket names exist on Linux only",
    ))
}

/// `READY=1`: the HTTP address is bound and every service has started.
pub fn ready(http: std::net::SocketAddr) {
    report(&format!("READY=1\nSTATUS=listening on http://{http}\n"));
}

/// `RELOADING=1` with the monotonic time systemd asks for: a reload has begun; [`reloaded`]
/// says it is over.
pub fn reloading() {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the struct it is given.
    let usec = if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } == 0 {
        (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
    } else {
        0
    };
    report(&format!("RELOADING=1\nMONOTONIC_USEC={usec}\n"));
}

/// `READY=1` again after a reload, with its result in `STATUS`.
pub fn reloaded(result: &str) {
    report(&format!("READY=1\nSTATUS=reload {result}\n"));
}

/// `STOPPING=1`: the daemon is shutting down.
pub fn stopping() {
    report("STOPPING=1\n");
}

fn report(state: &str) {
    if let Err(e) = notify(state) {
        tracing::warn!(error = %e, "cannot notify systemd ({NOTIFY_SOCKET})");
    }
}
