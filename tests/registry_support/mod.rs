//! In-process registry servers for `tests/registry_probes.rs`: a test PKI generated with
//! rcgen at test time, an EPP server over TLS, a minimal HTTPS responder for RDAP, and a
//! WHOIS server, each with faults. Loopback only, port 0.

#![allow(dead_code)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority made at test time.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = p.self_signed(&key).unwrap();
        Self { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// A leaf certificate for `names`, signed by this CA: (chain, key).
    pub fn issue(
        &self,
        names: &[&str],
        eku: ExtendedKeyUsagePurpose,
    ) -> (Vec<CertificateDer<'static>>, KeyPair, rcgen::Certificate) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("client"),
        );
        p.extended_key_usages = vec![eku];
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        (vec![cert.der().clone()], key, cert)
    }

    /// A TLS server configuration presenting a certificate for `names`.
    pub fn server_config(&self, names: &[&str]) -> Arc<ServerConfig> {
        let (chain, key, _) = self.issue(names, ExtendedKeyUsagePurpose::ServerAuth);
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Arc::new(
            ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap(),
        )
    }

    /// Like [`TestCa::server_config`], but the client must present a certificate issued by
    /// this CA.
    pub fn server_config_requiring_client_cert(&self, names: &[&str]) -> Arc<ServerConfig> {
        let (chain, key, _) = self.issue(names, ExtendedKeyUsagePurpose::ServerAuth);
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut roots = RootCertStore::empty();
        roots.add(self.der()).unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
        Arc::new(
            ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(chain, key)
                .unwrap(),
        )
    }
}

/// The trusted test CA, its PEM file in a temporary directory, and a client certificate.
pub struct TestPki {
    pub ca: TestCa,
    pub dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    pub client_cert_file: PathBuf,
    pub client_key_file: PathBuf,
}

impl TestPki {
    pub fn new() -> Self {
        let ca = TestCa::new("dnsgrade test CA");
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let (_, key, cert) = ca.issue(&["registrar.test"], ExtendedKeyUsagePurpose::ClientAuth);
        let client_cert_file = dir.path().join("client.pem");
        let client_key_file = dir.path().join("client.key");
        std::fs::write(&client_cert_file, cert.pem()).unwrap();
        std::fs::write(&client_key_file, key.serialize_pem()).unwrap();
        Self {
            ca,
            dir,
            ca_file,
            client_cert_file,
            client_key_file,
        }
    }
}

/// A port that refuses connections (bound, then closed).
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a
}

async fn hold_forever<T>(_conn: T) {
    std::future::pending::<()>().await
}

// ---------------------------------------------------------------------------------------- EPP

/// What the EPP server does wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum EppFault {
    /// Nothing: a well-behaved server.
    None,
    /// Completes TLS, then never sends a greeting.
    Stall,
    /// Sends the first greeting after this delay.
    SlowGreeting(Duration),
    /// A frame of bytes that are not XML.
    Garbage,
    /// A header announcing a 2 MiB frame.
    Oversized,
    /// Well-formed EPP, but a `<response>` where the greeting belongs.
    NotGreeting,
    /// A header whose length does not even cover itself.
    ShortLength,
    /// Closes the connection right after TLS.
    CloseAfterTls,
}

pub const GREETING: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><greeting><svID>dnsgrade test EPP</svID><svDate>2025-01-01T00:00:00.0Z</svDate><svcMenu><version>1.0</version><lang>en</lang><objURI>urn:ietf:params:xml:ns:domain-1.0</objURI><objURI>urn:ietf:params:xml:ns:host-1.0</objURI></svcMenu></greeting></epp>"#;

fn epp_result(code: u16, msg: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><response><result code="{code}"><msg>{msg}</msg></result><trID><svTRID>T-1</svTRID></trID></response></epp>"#
    )
}

pub struct EppServer {
    pub addr: SocketAddr,
    /// Every command frame received, as text.
    pub received: Arc<Mutex<Vec<String>>>,
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Option<String> {
    let mut h = [0u8; 4];
    r.read_exact(&mut h).await.ok()?;
    let len = (u32::from_be_bytes(h) as usize).checked_sub(4)?;
    if len > 1 << 20 {
        return None;
    }
    let mut b = vec![0u8; len];
    r.read_exact(&mut b).await.ok()?;
    String::from_utf8(b).ok()
}

/// One write per frame, as real servers do: a length header written on its own would wait
/// for the client's delayed ACK (Nagle), adding 40 ms to every exchange.
async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, s: &str) -> std::io::Result<()> {
    let mut frame = ((s.len() + 4) as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(s.as_bytes());
    w.write_all(&frame).await?;
    w.flush().await
}

impl EppServer {
    /// Starts a server with `tls`; `credentials` = the (clID, password) a login must carry
    /// (escaped as they appear in the XML).
    pub async fn start(
        tls: Arc<ServerConfig>,
        fault: EppFault,
        credentials: Option<(String, String)>,
    ) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), tls, fault, credentials).await
    }

    /// [`EppServer::start`] on a chosen address (a service coming back on its port).
    pub async fn start_on(
        bind: SocketAddr,
        tls: Arc<ServerConfig>,
        fault: EppFault,
        credentials: Option<(String, String)>,
    ) -> Self {
        let l = TcpListener::bind(bind).await.unwrap();
        let addr = l.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let acceptor = TlsAcceptor::from(tls);
        let rec = received.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = l.accept().await {
                let (acceptor, fault, creds, rec) = (
                    acceptor.clone(),
                    fault.clone(),
                    credentials.clone(),
                    rec.clone(),
                );
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(tcp).await else {
                        return;
                    };
                    match fault {
                        EppFault::None => {}
                        EppFault::Stall => return hold_forever(s).await,
                        EppFault::SlowGreeting(d) => {
                            tokio::time::sleep(d).await;
                        }
                        EppFault::Garbage => {
                            let _ = write_frame(&mut s, "\u{1}\u{2}garbage\u{0}").await;
                            return hold_forever(s).await;
                        }
                        EppFault::Oversized => {
                            let _ = s.write_all(&(2u32 << 20).to_be_bytes()).await;
                            let _ = s.write_all(&[b'<'; 1024]).await;
                            let _ = s.flush().await;
                            return hold_forever(s).await;
                        }
                        EppFault::NotGreeting => {
                            let _ = write_frame(&mut s, &epp_result(1000, "hi")).await;
                            return hold_forever(s).await;
                        }
                        EppFault::ShortLength => {
                            let _ = s.write_all(&2u32.to_be_bytes()).await;
                            let _ = s.flush().await;
                            return hold_forever(s).await;
                        }
                        EppFault::CloseAfterTls => {
                            let _ = s.shutdown().await;
                            return;
                        }
                    }
                    if write_frame(&mut s, GREETING).await.is_err() {
                        return;
                    }
                    while let Some(cmd) = read_frame(&mut s).await {
                        rec.lock().unwrap().push(cmd.clone());
                        let answer = if cmd.contains("<hello/>") {
                            GREETING.to_string()
                        } else if cmd.contains("<login>") {
                            let good = creds.as_ref().is_some_and(|(id, pw)| {
                                cmd.contains(&format!("<clID>{id}</clID>"))
                                    && cmd.contains(&format!("<pw>{pw}</pw>"))
                            });
                            if good {
                                epp_result(1000, "Command completed successfully")
                            } else {
                                epp_result(2200, "Authentication error")
                            }
                        } else if cmd.contains("<logout/>") {
                            let _ = write_frame(
                                &mut s,
                                &epp_result(1500, "Command completed successfully; ending session"),
                            )
                            .await;
                            let _ = s.shutdown().await;
                            return;
                        } else {
                            epp_result(2000, "Unknown command")
                        };
                        if write_frame(&mut s, &answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { addr, received }
    }
}

// --------------------------------------------------------------------------------------- RDAP

/// How the RDAP server answers.
#[derive(Debug, Clone, PartialEq)]
pub enum RdapMode {
    /// 200 with a domain object for the requested name.
    Ok,
    /// 404.
    NotFound,
    /// 500.
    ServerError,
    /// 200 with a body that is not JSON.
    BadJson,
    /// 200 with a domain object for another name.
    WrongName,
    /// Like `Ok`, after this delay.
    Slow(Duration),
    /// Completes TLS, reads the request, never answers.
    Stall,
}

pub struct RdapServer {
    pub addr: SocketAddr,
    /// (request line, Accept header) of every request.
    pub requests: Arc<Mutex<Vec<(String, String)>>>,
}

async fn read_head<R: AsyncRead + Unpin>(r: &mut R) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = r.read(&mut b).await.ok()?;
        if n == 0 || buf.len() > 16 * 1024 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    }
    String::from_utf8(buf).ok()
}

impl RdapServer {
    pub async fn start(tls: Arc<ServerConfig>, mode: RdapMode) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let acceptor = TlsAcceptor::from(tls);
        let rec = requests.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = l.accept().await {
                let (acceptor, mode, rec) = (acceptor.clone(), mode.clone(), rec.clone());
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Some(head) = read_head(&mut s).await else {
                        return;
                    };
                    let line = head.lines().next().unwrap_or("").to_string();
                    let accept = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("accept")
                                .then(|| v.trim().to_string())
                        })
                        .unwrap_or_default();
                    rec.lock().unwrap().push((line.clone(), accept));
                    let name = line
                        .split_whitespace()
                        .nth(1)
                        .and_then(|p| p.rsplit('/').next())
                        .unwrap_or("")
                        .to_uppercase();
                    let domain = |n: &str| {
                        format!(
                            r#"{{"objectClassName":"domain","handle":"D1","ldhName":"{n}","status":["active"],"rdapConformance":["rdap_level_0"]}}"#
                        )
                    };
                    let (status, body) = match mode {
                        RdapMode::Ok => ("200 OK", domain(&name)),
                        RdapMode::Slow(d) => {
                            tokio::time::sleep(d).await;
                            ("200 OK", domain(&name))
                        }
                        RdapMode::NotFound => (
                            "404 Not Found",
                            r#"{"errorCode":404,"title":"Not Found"}"#.to_string(),
                        ),
                        RdapMode::ServerError => ("500 Internal Server Error", "oops".to_string()),
                        RdapMode::BadJson => ("200 OK", "{\"ldhName\": ".to_string()),
                        RdapMode::WrongName => ("200 OK", domain("OTHER.TEST")),
                        RdapMode::Stall => return hold_forever(s).await,
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/rdap+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        Self { addr, requests }
    }
}

// -------------------------------------------------------------------------------------- WHOIS

/// How the WHOIS server answers.
#[derive(Debug, Clone, PartialEq)]
pub enum WhoisMode {
    /// Sends these bytes and closes.
    Reply(Vec<u8>),
    /// Reads the query and never answers.
    Stall,
    /// Sends 2 MiB and closes.
    Huge,
}

pub struct WhoisServer {
    pub addr: SocketAddr,
    /// Every query received, raw.
    pub queries: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl WhoisServer {
    pub async fn start(mode: WhoisMode) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let queries = Arc::new(Mutex::new(Vec::new()));
        let rec = queries.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let (mode, rec) = (mode.clone(), rec.clone());
                tokio::spawn(async move {
                    let q = read_line(&mut s).await;
                    rec.lock().unwrap().push(q);
                    match mode {
                        WhoisMode::Reply(b) => {
                            let _ = s.write_all(&b).await;
                        }
                        WhoisMode::Stall => hold_forever(s).await,
                        WhoisMode::Huge => {
                            let _ = s.write_all(&vec![b'x'; 2 << 20]).await;
                        }
                    }
                });
            }
        });
        Self { addr, queries }
    }
}

async fn read_line(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = [0u8; 256];
    while !out.ends_with(b"\n") && out.len() < 4096 {
        match s.read(&mut b).await {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&b[..n]),
        }
    }
    out
}
