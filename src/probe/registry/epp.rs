//! The EPP probe: the registry's registration service (RFC 5730 over TCP + TLS, RFC 5734).
//!
//! ## Framing
//!
//! Every EPP data unit is a 4-byte big-endian *total* length — the header's 4 bytes included —
//! followed by that many bytes minus 4 of UTF-8 XML. A length below 5 is invalid; a length whose
//! payload exceeds [`MAX_EPP_FRAME`] (1 MiB) is refused without reading it, so a broken or
//! hostile server cannot make the probe buffer more.
//!
//! ## The exchange
//!
//! 1. resolve the host; **the clock starts**; TCP connect; TLS handshake (SNI = the configured
//!    server name, else the host) → `connect_time`;
//! 2. the server speaks first: read its `<greeting>`;
//! 3. send `<hello/>` and read the second `<greeting>` → **`rtt`** (connect start to here);
//! 4. only when the target has credentials: `<login>` (client ID and password read from the
//!    environment variables the target names), which must answer result code 1000 (else
//!    [`RegistryOutcome::LoginFailed`]) → `login_time`; then `<logout>`, which must answer 1500.
//!
//! ## What counts as success
//!
//! A greeting is a frame whose payload is UTF-8 text starting with `<` (after a BOM or
//! whitespace) that has an `<epp>` element holding a `<greeting>` element and is closed by
//! `</epp>` (namespace prefixes allowed). This is a structural check, not a schema validation:
//! the probe measures the service, it does not audit the registry's XML. Anything else where a
//! greeting belongs is [`RegistryOutcome::BadGreeting`]; a command answer without a `<result
//! code="NNNN">` is [`RegistryOutcome::BadResponse`].
//!
//! Credentials are read once when the probe is built, kept in a wrapper whose `Debug` prints
//! `<redacted>`, XML-escaped into `<login>`, and removed from any server text copied into
//! `detail`. They are never logged.

use super::net::{self, Failure};
use super::{RegistryError, RegistryOutcome, RegistryProbeResult, Service, TlsSettings};
use rustls_pki_types::ServerName;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

/// The largest EPP payload accepted, in bytes (the frame length minus its 4-byte header).
pub const MAX_EPP_FRAME: usize = 1 << 20;

/// The IANA port for EPP over TLS.
pub const DEFAULT_EPP_PORT: u16 = 700;

/// The default probe timeout: above the 4 s EPP round-trip limit, so that "slower than the
/// limit" can be seen as a slow success rather than a timeout.
pub const DEFAULT_EPP_TIMEOUT: Duration = Duration::from_secs(10);

const EPP_NS: &str = "urn:ietf:params:xml:ns:epp-1.0";
const XML_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>"#;

/// Where and how to probe an EPP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EppTarget {
    /// Host name or IP address to connect to.
    pub host: String,
    /// TCP port (700 by default).
    pub port: u16,
    /// TLS server name (SNI and certificate check) when it differs from `host`, for example
    /// when `host` is an address.
    pub server_name: Option<String>,
    /// Trust anchors and client certificate.
    pub tls: TlsSettings,
    /// Log in (and out) after the hello, when set.
    pub login: Option<EppLogin>,
    /// The whole probe, connect to the last answer, must finish within this.
    pub timeout: Duration,
}

impl EppTarget {
    /// A target with default settings: no extra CA, no client certificate, no login, a 10 s
    /// timeout.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            server_name: None,
            tls: TlsSettings::default(),
            login: None,
            timeout: DEFAULT_EPP_TIMEOUT,
        }
    }
}

/// The names of the environment variables holding EPP credentials. The names are
/// configuration; the values are secrets and never appear in logs, `Debug` output or results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EppLogin {
    /// Variable holding the client identifier (`<clID>`).
    pub client_id_env: String,
    /// Variable holding the password (`<pw>`).
    pub password_env: String,
}

/// A secret string whose `Debug` output is redacted.
#[derive(Clone)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone)]
struct Credentials {
    client_id: Secret,
    password: Secret,
}

impl Credentials {
    fn from_env(login: &EppLogin) -> Result<Self, RegistryError> {
        let read = |var: &str| match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Secret(v)),
            _ => Err(RegistryError::MissingCredential {
                var: var.to_string(),
            }),
        };
        Ok(Self {
            client_id: read(&login.client_id_env)?,
            password: read(&login.password_env)?,
        })
    }

    /// Removes both values from text that came from the server.
    fn redact(&self, s: &str) -> String {
        let mut s = s.to_string();
        for v in [&self.password.0, &self.client_id.0] {
            if !v.is_empty() {
                s = s.replace(v.as_str(), "***");
            }
        }
        s
    }
}

/// A ready-to-run EPP probe (TLS settings loaded, credentials read). Cheap to share.
#[derive(Clone)]
pub struct EppProbe {
    target: EppTarget,
    server_name: ServerName<'static>,
    connector: TlsConnector,
    credentials: Option<Credentials>,
}

impl fmt::Debug for EppProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EppProbe")
            .field("target", &self.target)
            .field("server_name", &self.server_name)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// How far a probe got, kept outside the timed future so a timeout can say where it stopped.
struct Progress {
    stage: &'static str,
    connect_time: Option<Duration>,
    login_time: Option<Duration>,
}

/// Why a frame could not be read.
enum FrameError {
    Io(io::Error),
    Closed,
    Invalid(String),
}

impl EppProbe {
    /// Builds the probe: checks the target, loads the TLS files, reads the credentials from
    /// the environment. Errors are configuration errors, never counted against the registry.
    pub fn new(target: EppTarget) -> Result<Self, RegistryError> {
        super::net::check_endpoint("EPP", &target.host, target.port, target.timeout)?;
        let sni = target
            .server_name
            .clone()
            .unwrap_or_else(|| target.host.clone());
        let server_name =
            ServerName::try_from(sni.clone()).map_err(|e| RegistryError::InvalidName {
                name: sni,
                reason: e.to_string(),
            })?;
        let config = target.tls.client_config(&[])?;
        let credentials = target
            .login
            .as_ref()
            .map(Credentials::from_env)
            .transpose()?;
        Ok(Self {
            target,
            server_name,
            connector: TlsConnector::from(Arc::new(config)),
            credentials,
        })
    }

    /// The target this probe measures.
    pub fn target(&self) -> &EppTarget {
        &self.target
    }

    /// Runs one probe. Never fails: every ending is a [`RegistryOutcome`].
    pub async fn probe(&self) -> RegistryProbeResult {
        let mut p = Progress {
            stage: "resolving the host",
            connect_time: None,
            login_time: None,
        };
        let t = self.target.timeout;
        let mut r = match tokio::time::timeout(t, self.run(&mut p)).await {
            Ok(Ok(r)) => r,
            Ok(Err((outcome, detail))) => {
                RegistryProbeResult::failed(Service::Epp, outcome, p.connect_time, detail)
            }
            Err(_) => RegistryProbeResult::failed(
                Service::Epp,
                RegistryOutcome::Timeout,
                p.connect_time,
                format!("no answer within {} ms {}", t.as_millis(), p.stage),
            ),
        };
        r.login_time = p.login_time;
        if let Some(c) = &self.credentials {
            r.detail = c.redact(&r.detail);
        }
        tracing::debug!(
            service = %"epp",
            host = %self.target.host,
            port = self.target.port,
            outcome = %r.outcome.as_str(),
            rtt_ms = r.rtt.map(|d| d.as_millis() as u64),
            detail = %r.detail,
            "EPP probe finished"
        );
        r
    }

    async fn run(&self, p: &mut Progress) -> Result<RegistryProbeResult, Failure> {
        let addrs = net::resolve(&self.target.host, self.target.port).await?;
        let start = Instant::now();
        p.stage = "connecting";
        let tcp = net::connect(&addrs).await?;
        p.stage = "in the TLS handshake";
        let mut s = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| (net::io_outcome(&e), format!("TLS handshake: {e}")))?;
        p.connect_time = Some(start.elapsed());
        let greeting = greet(&mut s, p).await?;
        let rtt = start.elapsed();
        let mut detail = String::new();
        if let Some(c) = &self.credentials {
            login(&mut s, c, &greeting.obj_uris, p).await?;
            logout(&mut s, p).await?;
            detail = "login 1000, logout 1500".into();
        }
        // Best effort: a close_notify only goes into the socket buffer.
        let _ = s.shutdown().await;
        Ok(RegistryProbeResult::ok(Service::Epp, rtt, p.connect_time).with_detail(detail))
    }
}

/// Reads the server's greeting, sends `<hello>` and reads the second greeting; returns the
/// first.
async fn greet<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    p: &mut Progress,
) -> Result<Greeting, Failure> {
    p.stage = "waiting for the greeting";
    let g = read_frame(s)
        .await
        .map_err(|e| frame_failure(e, RegistryOutcome::BadGreeting, "greeting"))?;
    let greeting =
        parse_greeting(&g).map_err(|d| (RegistryOutcome::BadGreeting, format!("greeting: {d}")))?;

    p.stage = "waiting for the answer to <hello>";
    write_frame(s, hello_xml().as_bytes())
        .await
        .map_err(|e| (net::io_outcome(&e), format!("sending <hello>: {e}")))?;
    let g2 = read_frame(s)
        .await
        .map_err(|e| frame_failure(e, RegistryOutcome::BadGreeting, "answer to <hello>"))?;
    parse_greeting(&g2).map_err(|d| {
        (
            RegistryOutcome::BadGreeting,
            format!("answer to <hello>: {d}"),
        )
    })?;
    Ok(greeting)
}

/// Sends `<login>` with the credentials and the greeting's object URIs; it must answer 1000.
/// Sets the login time.
async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    c: &Credentials,
    obj_uris: &[String],
    p: &mut Progress,
) -> Result<(), Failure> {
    p.stage = "waiting for the answer to <login>";
    let t0 = Instant::now();
    write_frame(s, login_xml(c, obj_uris).as_bytes())
        .await
        .map_err(|e| (net::io_outcome(&e), format!("sending <login>: {e}")))?;
    let a = read_frame(s)
        .await
        .map_err(|e| frame_failure(e, RegistryOutcome::BadResponse, "answer to <login>"))?;
    p.login_time = Some(t0.elapsed());
    let (code, msg) = result_code(&a).ok_or_else(|| {
        (
            RegistryOutcome::BadResponse,
            "answer to <login> has no <result code>".to_string(),
        )
    })?;
    if code != 1000 {
        return Err((
            RegistryOutcome::LoginFailed,
            format!("login answered {code} {msg}"),
        ));
    }
    Ok(())
}

/// Sends `<logout>`; it must answer 1500.
async fn logout<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    p: &mut Progress,
) -> Result<(), Failure> {
    p.stage = "waiting for the answer to <logout>";
    write_frame(s, logout_xml().as_bytes())
        .await
        .map_err(|e| (net::io_outcome(&e), format!("sending <logout>: {e}")))?;
    let a = read_frame(s)
        .await
        .map_err(|e| frame_failure(e, RegistryOutcome::BadResponse, "answer to <logout>"))?;
    match result_code(&a) {
        Some((1500, _)) => Ok(()),
        Some((code, msg)) => Err((
            RegistryOutcome::BadResponse,
            format!("logout answered {code} {msg}"),
        )),
        None => Err((
            RegistryOutcome::BadResponse,
            "answer to <logout> has no <result code>".to_string(),
        )),
    }
}

fn frame_failure(e: FrameError, invalid: RegistryOutcome, what: &str) -> Failure {
    match e {
        FrameError::Io(e) => (net::io_outcome(&e), format!("reading the {what}: {e}")),
        FrameError::Closed => (
            RegistryOutcome::NetworkError,
            format!("connection closed before the {what}"),
        ),
        FrameError::Invalid(d) => (invalid, format!("{what}: {d}")),
    }
}

/// Reads one EPP data unit and returns its payload (bounded by [`MAX_EPP_FRAME`]).
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(FrameError::Io(e)),
    }
    let total = u32::from_be_bytes(header) as usize;
    if total <= 4 {
        return Err(FrameError::Invalid(format!(
            "invalid frame length {total} (must exceed the 4-byte header)"
        )));
    }
    let len = total - 4;
    if len > MAX_EPP_FRAME {
        return Err(FrameError::Invalid(format!(
            "frame of {len} bytes exceeds the {MAX_EPP_FRAME}-byte limit"
        )));
    }
    let mut payload = vec![0u8; len];
    match r.read_exact(&mut payload).await {
        Ok(_) => Ok(payload),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(FrameError::Invalid(format!(
            "connection closed inside a {len}-byte frame"
        ))),
        Err(e) => Err(FrameError::Io(e)),
    }
}

/// Writes one EPP data unit.
async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    let total = u32::try_from(payload.len() + 4)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut buf = Vec::with_capacity(payload.len() + 4);
    buf.extend_from_slice(&total.to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf).await?;
    w.flush().await
}

/// What the probe takes from a greeting.
#[derive(Debug, Default, PartialEq, Eq)]
struct Greeting {
    /// `<objURI>` values of the service menu (sent back in `<login>`), at most 32.
    obj_uris: Vec<String>,
}

/// Start of the first element named `local` (any namespace prefix) at or after `from`:
/// returns the index of its `<` and the index just after its name.
fn find_tag(xml: &str, from: usize, local: &str) -> Option<(usize, usize)> {
    let b = xml.as_bytes();
    let mut i = from;
    while let Some(off) = xml.get(i..)?.find('<') {
        let lt = i + off;
        let name_start = lt + 1;
        let mut j = name_start;
        while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'>' && b[j] != b'/' {
            j += 1;
        }
        let name = &xml[name_start..j];
        let local_name = name.rsplit(':').next().unwrap_or(name);
        if !name.starts_with(['/', '?', '!']) && local_name == local && j < b.len() {
            return Some((lt, j));
        }
        i = name_start;
    }
    None
}

/// Start of the first end tag `</local>` (any namespace prefix) at or after `from`.
fn find_end_tag(xml: &str, from: usize, local: &str) -> Option<usize> {
    let mut i = from;
    while let Some(off) = xml.get(i..)?.find("</") {
        let lt = i + off;
        let rest = &xml[lt + 2..];
        let end = rest.find('>')?;
        let name = rest[..end].trim_end();
        if name.rsplit(':').next() == Some(local) {
            return Some(lt);
        }
        i = lt + 2;
    }
    None
}

/// The text content right after the tag that ends at `name_end` (up to the next `<`).
fn text_after(xml: &str, name_end: usize) -> Option<&str> {
    let gt = name_end + xml[name_end..].find('>')?;
    if xml[..gt].ends_with('/') {
        return Some("");
    }
    let rest = &xml[gt + 1..];
    Some(rest[..rest.find('<').unwrap_or(rest.len())].trim())
}

fn as_xml_text(payload: &[u8]) -> Result<&str, String> {
    let s = std::str::from_utf8(payload).map_err(|_| "not UTF-8".to_string())?;
    let s = s.trim_start_matches('\u{feff}').trim_start();
    if !s.starts_with('<') {
        return Err("not XML".into());
    }
    Ok(s)
}

/// Checks that `payload` is an EPP greeting and extracts what the login needs.
fn parse_greeting(payload: &[u8]) -> Result<Greeting, String> {
    let xml = as_xml_text(payload)?;
    let (_, epp_end) = find_tag(xml, 0, "epp").ok_or("no <epp> element")?;
    let (_, g_end) = find_tag(xml, epp_end, "greeting").ok_or("no <greeting> in <epp>")?;
    find_end_tag(xml, g_end, "epp").ok_or("<epp> is not closed")?;
    let mut obj_uris = Vec::new();
    let mut at = g_end;
    while let Some((_, e)) = find_tag(xml, at, "objURI") {
        if let Some(t) = text_after(xml, e) {
            if !t.is_empty() && t.len() <= 256 && obj_uris.len() < 32 {
                obj_uris.push(t.to_string());
            }
        }
        at = e;
    }
    Ok(Greeting { obj_uris })
}

/// The `code` of the first `<result>` and its `<msg>` text (shortened), if any.
fn result_code(payload: &[u8]) -> Option<(u16, String)> {
    let xml = as_xml_text(payload).ok()?;
    let (_, e) = find_tag(xml, 0, "result")?;
    let tag_end = e + xml[e..].find('>')?;
    let attrs = &xml[e..tag_end];
    let pos = attrs.find("code")?;
    let rest = attrs[pos + 4..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    let code: u16 = rest[..rest.find(quote)?].trim().parse().ok()?;
    let msg = find_tag(xml, tag_end, "msg")
        .and_then(|(_, m)| text_after(xml, m))
        .unwrap_or("")
        .chars()
        .take(120)
        .collect();
    Some((code, msg))
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn cl_trid() -> String {
    format!("dnsgrade-{:016x}", rand::random::<u64>())
}

fn hello_xml() -> String {
    format!(r#"{XML_DECL}<epp xmlns="{EPP_NS}"><hello/></epp>"#)
}

fn login_xml(c: &Credentials, obj_uris: &[String]) -> String {
    let uris: Vec<String> = if obj_uris.is_empty() {
        vec!["urn:ietf:params:xml:ns:domain-1.0".to_string()]
    } else {
        obj_uris.to_vec()
    };
    let svcs: String = uris
        .iter()
        .map(|u| format!("<objURI>{}</objURI>", xml_escape(u)))
        .collect();
    format!(
        r#"{XML_DECL}<epp xmlns="{EPP_NS}"><command><login><clID>{}</clID><pw>{}</pw><options><version>1.0</version><lang>en</lang></options><svcs>{svcs}</svcs></login><clTRID>{}</clTRID></command></epp>"#,
        xml_escape(&c.client_id.0),
        xml_escape(&c.password.0),
        cl_trid()
    )
}

fn logout_xml() -> String {
    format!(
        r#"{XML_DECL}<epp xmlns="{EPP_NS}"><command><logout/><clTRID>{}</clTRID></command></epp>"#,
        cl_trid()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GREETING: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting><svID>Example EPP server</svID>
<svDate>2000-06-08T22:00:00.0Z</svDate><svcMenu><version>1.0</version><lang>en</lang>
<objURI>urn:ietf:params:xml:ns:domain-1.0</objURI><objURI>urn:ietf:params:xml:ns:host-1.0</objURI>
</svcMenu></greeting></epp>"#;

    #[test]
    fn greeting_is_recognised_with_or_without_prefixes() {
        let g = parse_greeting(GREETING.as_bytes()).unwrap();
        assert_eq!(
            g.obj_uris,
            vec![
                "urn:ietf:params:xml:ns:domain-1.0",
                "urn:ietf:params:xml:ns:host-1.0"
            ]
        );
        let prefixed =
            "\u{feff}<e:epp xmlns:e=\"urn:ietf:params:xml:ns:epp-1.0\"><e:greeting/></e:epp>";
        assert!(parse_greeting(prefixed.as_bytes()).is_ok());
    }

    #[test]
    fn bad_greetings_are_rejected() {
        for bad in [
            &b"garbage"[..],
            b"\xff\xfe<epp>",
            b"<epp><response/></epp>",
            b"<greeting/>",
            b"<epp><greeting>",
            b"<eppx><greeting/></eppx>",
            b"<epp><greetingx/></epp>",
            b"",
        ] {
            assert!(
                parse_greeting(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn result_codes() {
        let r = br#"<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="2200"><msg lang="en">Authentication error</msg></result></response></epp>"#;
        assert_eq!(
            result_code(r),
            Some((2200, "Authentication error".to_string()))
        );
        let r = b"<epp:epp><epp:response><epp:result code = '1000'><epp:msg>ok</epp:msg></epp:result></epp:response></epp:epp>";
        assert_eq!(result_code(r), Some((1000, "ok".to_string())));
        assert_eq!(result_code(b"<epp><response/></epp>"), None);
        assert_eq!(result_code(b"<result code=\"abc\"/>"), None);
        assert_eq!(result_code(b"<result code=\"99999999\"/>"), None);
        assert_eq!(result_code(b"<result code=\"1000"), None);
    }

    #[test]
    fn login_escapes_and_redacts() {
        let c = Credentials {
            client_id: Secret("reg<1>".into()),
            password: Secret("p&ss\"w".into()),
        };
        let x = login_xml(&c, &["urn:x<y".into()]);
        assert!(x.contains("<clID>reg&lt;1&gt;</clID>"));
        assert!(x.contains("<pw>p&amp;ss&quot;w</pw>"));
        assert!(x.contains("<objURI>urn:x&lt;y</objURI>"));
        assert_eq!(c.redact("bad p&ss\"w for reg<1>"), "bad *** for ***");
        assert_eq!(
            format!("{c:?}"),
            "Credentials { client_id: <redacted>, password: <redacted> }"
        );
    }

    #[tokio::test]
    async fn frames_round_trip_and_are_bounded() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"<epp/>").await.unwrap();
        assert_eq!(&buf[..4], &10u32.to_be_bytes());
        assert_eq!(read_frame(&mut &buf[..]).await.ok().unwrap(), b"<epp/>");

        let huge = ((MAX_EPP_FRAME + 5) as u32).to_be_bytes();
        assert!(matches!(
            read_frame(&mut &huge[..]).await,
            Err(FrameError::Invalid(_))
        ));
        let tiny = 4u32.to_be_bytes();
        assert!(matches!(
            read_frame(&mut &tiny[..]).await,
            Err(FrameError::Invalid(_))
        ));
        assert!(matches!(
            read_frame(&mut &b""[..]).await,
            Err(FrameError::Closed)
        ));
        let short = [0, 0, 0, 20, b'<'];
        assert!(matches!(
            read_frame(&mut &short[..]).await,
            Err(FrameError::Invalid(_))
        ));
    }
}
