//! Socket helpers shared by the EPP and WHOIS probes: connecting with outcome classification,
//! and bounded reads.

use super::tls::find_rustls_error;
use super::RegistryOutcome;
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

/// Checks the parts every TCP registry target has: a host, a port, a timeout.
pub(crate) fn check_endpoint(
    service: &str,
    host: &str,
    port: u16,
    timeout: std::time::Duration,
) -> Result<(), super::RegistryError> {
    let bad = |what: &str| {
        Err(super::RegistryError::InvalidTarget(format!(
            "{service} {what}"
        )))
    };
    if host.trim().is_empty() {
        return bad("host is empty");
    }
    if port == 0 {
        return bad("port is 0");
    }
    if timeout.is_zero() {
        return bad("timeout is zero");
    }
    Ok(())
}

/// A failed step: the outcome kind and a short explanation.
pub(crate) type Failure = (RegistryOutcome, String);

/// The outcome kind of an I/O error: refused, TLS (a rustls error inside), this host's own
/// fault (see [`crate::probe::Outcome::of_io_error`]), or network.
pub(crate) fn io_outcome(e: &io::Error) -> RegistryOutcome {
    if crate::probe::Outcome::of_io_error(e) == crate::probe::Outcome::LocalError {
        RegistryOutcome::LocalError
    } else if e.kind() == io::ErrorKind::ConnectionRefused {
        RegistryOutcome::Refused
    } else if find_rustls_error(e).is_some() {
        RegistryOutcome::TlsError
    } else {
        RegistryOutcome::NetworkError
    }
}

/// Resolves `host` (an IP literal needs no lookup). Failing to resolve is a network error.
pub(crate) async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Failure> {
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| {
            (
                RegistryOutcome::NetworkError,
                format!("cannot resolve {host}: {e}"),
            )
        })?
        .collect();
    if addrs.is_empty() {
        return Err((
            RegistryOutcome::NetworkError,
            format!("{host} has no address"),
        ));
    }
    Ok(addrs)
}

/// Connects to `addrs` in turn until one accepts; the last error decides the outcome.
pub(crate) async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = (RegistryOutcome::NetworkError, "no address".to_string());
    for &addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                // Small request/response exchanges: do not wait for Nagle.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = (io_outcome(&e), format!("connect to {addr}: {e}")),
        }
    }
    Err(last)
}

/// Reads until EOF, keeping at most `max` bytes. Returns the bytes and whether more arrived
/// than `max` (reading stops there: the peer cannot make us buffer more).
pub(crate) async fn read_to_end_bounded<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
) -> io::Result<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok((out, false));
        }
        if out.len() + n > max {
            let room = max - out.len();
            out.extend_from_slice(&buf[..room]);
            return Ok((out, true));
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Case-insensitive (ASCII) search for `needle` in `hay`, on bytes: WHOIS replies are not
/// always UTF-8.
pub(crate) fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_ignores_ascii_case() {
        assert!(contains_ignore_ascii_case(
            b"Domain Name: CNNIC.CN\r\n",
            b"cnnic.cn"
        ));
        assert!(!contains_ignore_ascii_case(b"No match", b"cnnic.cn"));
        assert!(contains_ignore_ascii_case(b"\xff\xfeabc", b"ABC"));
        assert!(!contains_ignore_ascii_case(b"ab", b"abc"));
    }

    #[tokio::test]
    async fn bounded_read_stops_at_the_limit() {
        let data = vec![7u8; 20_000];
        let (v, over) = read_to_end_bounded(&mut &data[..], 10_000).await.unwrap();
        assert_eq!(v.len(), 10_000);
        assert!(over);
        let (v, over) = read_to_end_bounded(&mut &data[..], 20_000).await.unwrap();
        assert_eq!(v.len(), 20_000);
        assert!(!over);
    }
}
