//! Raw schema → checked [`Config`], collecting every error with its line and column.
//!
//! This file holds the `Validator`, its shared helpers (error reporting, names, servers,
//! checks) and the entry point `Validator::finish`; each section of `probes.toml` is
//! validated in its own file, as an `impl Validator` block.

mod alert;
mod contact;
mod control;
mod daemon;
mod defaults;
mod institution;
mod maintenance;
mod normalize;
mod recursive;
mod registry;
mod tld;
mod website;

pub use defaults::{
    DEFAULT_CONTACT_REVIEW_EVERY, DEFAULT_EDNS_PAYLOAD, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT,
    DEFAULT_UDP_SOCKETS,
};
pub use normalize::{
    authority_province, normalize_authority, normalize_province, normalize_rdata, normalize_value,
    parse_address, EMERGENCY_OFFICE, PROVINCES,
};

use super::error::{ConfigError, Locator};
use super::model::*;
use super::raw::*;
use defaults::{DEFAULT_DNSSEC, DEFAULT_DNSSEC_WARN_BEFORE, DEFAULT_DNS_PORT, DEFAULT_QTYPE};
use hickory_proto::rr::{Name, RecordType};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use toml::Spanned;

/// The matrix's latency threshold. A probe timeout at or below it would make "slower than
/// 5 s" invisible (docs/matrix.md, "What is measured"), so validation refuses such a timeout.
pub const LATENCY_THRESHOLD: Duration = Duration::from_secs(5);

/// The most characters a name or a short text may have: object, server, operator and contact
/// names end up in metric labels, URLs, the API and the status page.
pub const MAX_NAME_CHARS: usize = 255;

/// The most characters of a free text (a maintenance window's reason).
pub const MAX_TEXT_CHARS: usize = 1024;

/// The most octets of a domain name in presentation form without its final dot (RFC 1035's
/// 255 octets on the wire); each label is at most 63.
const MAX_DNS_NAME: usize = 253;

/// Turns the raw schema into the model, collecting every error instead of stopping at the
/// first.
pub(crate) struct Validator<'a> {
    loc: Locator<'a>,
    /// The config file's directory, for relative paths.
    base_dir: std::path::PathBuf,
    errors: Vec<ConfigError>,
}

/// The objects validated so far, and where each `(class, name)` was first defined.
#[derive(Default)]
struct Objects {
    list: Vec<Object>,
    seen: HashMap<(ObjectClass, String), usize>,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(loc: Locator<'a>, base_dir: std::path::PathBuf) -> Self {
        Self {
            loc,
            base_dir,
            errors: Vec::new(),
        }
    }

    fn err<T>(&mut self, at: &Spanned<T>, msg: impl Into<String>) {
        let e = self.loc.error(at.span().start, msg);
        self.errors.push(e);
    }

    fn line_of<T>(&self, at: &Spanned<T>) -> usize {
        self.loc.line_col(at.span().start).0
    }

    /// Validates the whole file: the checked config, or every error in file order.
    pub(crate) fn finish(
        mut self,
        source: PathBuf,
        raw: RawConfig,
    ) -> Result<Config, Vec<ConfigError>> {
        let daemon = self.daemon(&raw.daemon);
        let objects = self.objects(&raw);
        let maintenance = self.maintenance(&raw.maintenance, &objects);
        let alert = self.alert(&raw.alert);
        let contacts = self.contacts(&raw.contact);
        if self.errors.is_empty() {
            Ok(Config {
                source,
                daemon,
                objects,
                maintenance,
                alert,
                contacts,
            })
        } else {
            self.errors.sort_by_key(|e| (e.line, e.column));
            Err(self.errors)
        }
    }

    /// Every monitored object: the TLDs, institutions, websites, recursive systems and
    /// controls, each class in file order; a name used twice in one class is an error at the
    /// second use.
    fn objects(&mut self, raw: &RawConfig) -> Vec<Object> {
        let mut out = Objects::default();
        self.section(&mut out, ObjectClass::Tld, &raw.tld, Self::tld, |t| &t.name);
        self.section(
            &mut out,
            ObjectClass::Institution,
            &raw.institution,
            Self::institution,
            |i| &i.name,
        );
        self.section(
            &mut out,
            ObjectClass::Website,
            &raw.website,
            Self::website,
            |w| &w.name,
        );
        self.section(
            &mut out,
            ObjectClass::Recursive,
            &raw.recursive,
            Self::recursive,
            |r| &r.name,
        );
        self.section(
            &mut out,
            ObjectClass::Control,
            &raw.control,
            Self::control,
            |c| &c.name,
        );
        out.list
    }

    /// Validates the objects of one class with `validate` and adds them to `out`.
    fn section<R>(
        &mut self,
        out: &mut Objects,
        class: ObjectClass,
        list: &[Spanned<R>],
        validate: fn(&mut Self, &Spanned<R>) -> Option<Object>,
        name_of: fn(&R) -> &Spanned<String>,
    ) {
        for r in list {
            if let Some(o) = validate(self, r) {
                let name = name_of(r.get_ref());
                let key = o.name.clone();
                let line = self.line_of(name);
                if let Some(prev) = out.seen.insert((class, key.clone()), line) {
                    self.err(
                        name,
                        format!(
                            "duplicate {} name \"{}\": already used at line {prev}",
                            class.as_str(),
                            key
                        ),
                    );
                }
                out.list.push(o);
            }
        }
    }

    fn duration(
        &mut self,
        v: &Option<Spanned<super::duration::HumanDuration>>,
        default: Duration,
    ) -> Duration {
        v.as_ref().map(|d| d.get_ref().0).unwrap_or(default)
    }

    /// A domain name in Unicode or ASCII → fully qualified, lowercase A-label form, at most 253
    /// octets (63 per label) in that form.
    fn name(&mut self, s: &Spanned<String>, what: &str) -> Option<Name> {
        let text = s.get_ref().trim();
        if text.is_empty() {
            self.err(s, format!("{what} is empty"));
            return None;
        }
        // Every character is at least one octet of the A-label form: a longer text is refused
        // before it is converted (a 10 MB name costs nothing).
        if text.trim_end_matches('.').chars().count() > MAX_DNS_NAME {
            self.err(
                s,
                format!("{what} is longer than {MAX_DNS_NAME} characters, the most a domain name can have"),
            );
            return None;
        }
        let parsed = if text == "." {
            Ok(Name::root())
        } else {
            Name::from_utf8(text)
        };
        match parsed {
            Ok(mut n) => {
                n.set_fqdn(true);
                let n = n.to_lowercase();
                self.dns_name_fits(s, what, &n).then_some(n)
            }
            Err(e) => {
                self.err(
                    s,
                    format!("{what} \"{}\" is not a valid domain name: {e}", shown(text)),
                );
                None
            }
        }
    }

    /// True when `n` is at most 253 octets and each label at most 63 (as hickory checks too);
    /// otherwise an error at `s`.
    fn dns_name_fits(&mut self, s: &Spanned<String>, what: &str, n: &Name) -> bool {
        let ascii = n.to_ascii();
        let long_label = n.iter().any(|l| l.len() > 63);
        if ascii.trim_end_matches('.').len() > MAX_DNS_NAME || long_label {
            self.err(
                s,
                format!("{what} \"{}\" is too long: a domain name has at most {MAX_DNS_NAME} octets in its A-label form, each label at most 63", shown(&ascii)),
            );
            return false;
        }
        true
    }

    /// A name or short text: trimmed, not empty, at most [`MAX_NAME_CHARS`] characters, no
    /// control characters.
    fn nonempty(&mut self, s: &Spanned<String>, what: &str) -> Option<String> {
        self.text(s, what, MAX_NAME_CHARS)
    }

    /// A text of at most `max` characters without control characters, trimmed and not empty.
    fn text(&mut self, s: &Spanned<String>, what: &str, max: usize) -> Option<String> {
        let t = s.get_ref().trim();
        if t.is_empty() {
            self.err(s, format!("{what} is empty"));
            None
        } else if t.chars().count() > max {
            self.err(s, format!("{what} is longer than {max} characters"));
            None
        } else if t.chars().any(char::is_control) {
            self.err(
                s,
                format!("{what} contains a control character (a line break, a tab, …)"),
            );
            None
        } else {
            Some(t.to_string())
        }
    }

    fn tier(&mut self, t: &Spanned<i64>) -> Option<Tier> {
        match t.get_ref() {
            1 => Some(Tier::One),
            2 => Some(Tier::Two),
            other => {
                self.err(t, format!("tier must be 1 or 2, not {other}"));
                None
            }
        }
    }

    /// The servers of an object (`what` is their table's name: "node" or "server").
    fn servers(
        &mut self,
        list: &[Spanned<RawServer>],
        owner: &Spanned<String>,
        what: &str,
    ) -> Vec<Server> {
        if list.is_empty() {
            self.err(
                owner,
                format!(
                    "\"{}\" has no {what}: add at least one [[…{what}]] with a host or addresses",
                    owner.get_ref()
                ),
            );
        }
        let mut out = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        for s in list {
            let raw = s.get_ref();
            let Some(name) = self.nonempty(&raw.name, "server name") else {
                continue;
            };
            let line = self.line_of(&raw.name);
            if let Some(prev) = names.insert(name.to_lowercase(), line) {
                self.err(
                    &raw.name,
                    format!("duplicate {what} name \"{name}\": already used at line {prev}"),
                );
            }
            let port = raw.port.unwrap_or(DEFAULT_DNS_PORT);
            let pinned = self.pinned(&raw.addresses, port);
            let host = raw.host.as_ref().and_then(|h| self.host(h));
            if host.is_none() && raw.host.is_none() && raw.addresses.is_empty() {
                self.err(
                    &raw.name,
                    format!("{what} \"{name}\" has neither a host nor addresses"),
                );
            }
            out.push(Server {
                name,
                host,
                pinned,
                port,
            });
        }
        out
    }

    /// A server's pinned addresses; `port` for those written without one.
    fn pinned(&mut self, addresses: &[Spanned<String>], port: u16) -> Vec<std::net::SocketAddr> {
        let mut pinned = Vec::new();
        for a in addresses {
            match parse_address(a.get_ref(), port) {
                Ok(addr) => {
                    if pinned.contains(&addr) {
                        self.err(a, format!("address {addr} is listed twice"));
                    }
                    pinned.push(addr)
                }
                Err(m) => self.err(a, m),
            }
        }
        pinned
    }

    /// A server's host name, without its trailing dot.
    fn host(&mut self, h: &Spanned<String>) -> Option<String> {
        let t = h.get_ref().trim();
        if t.parse::<IpAddr>().is_ok() {
            self.err(
                h,
                format!("host \"{t}\" is an address: put it in addresses = [\"{t}\"]"),
            );
            None
        } else if t.is_empty()
            || t.trim_end_matches('.').chars().count() > MAX_DNS_NAME
            || t.chars().any(char::is_control)
        {
            self.err(
                h,
                format!(
                    "host \"{}\" is not a valid host name (at most {MAX_DNS_NAME} characters)",
                    shown(t)
                ),
            );
            None
        } else {
            match Name::from_utf8(t) {
                Ok(n) if self.dns_name_fits(h, "host", &n) => {
                    Some(t.trim_end_matches('.').to_string())
                }
                Ok(_) => None,
                Err(_) => {
                    self.err(h, format!("host \"{t}\" is not a valid host name"));
                    None
                }
            }
        }
    }

    /// One `[[….check]]`: `default_expect` when it says none; `rd` and `auth` say whether the
    /// query asks for recursion and whether the reply must be authoritative.
    fn check(
        &mut self,
        c: &Spanned<RawCheck>,
        default_expect: Expect,
        rd: bool,
        auth: bool,
    ) -> Option<Check> {
        let raw = c.get_ref();
        let qname = self.name(&raw.name, "check name");
        let qtype = match &raw.qtype {
            None => Some(DEFAULT_QTYPE),
            Some(t) => match RecordType::from_str(&t.get_ref().to_ascii_uppercase()) {
                Ok(RecordType::Unknown(_)) | Err(_) => {
                    self.err(t, format!("unknown query type \"{}\" (for example A, AAAA, NS, SOA, MX, TXT, DS, DNSKEY)", t.get_ref()));
                    None
                }
                Ok(rt) => Some(rt),
            },
        };
        let expect = match &raw.expect {
            None => Some(default_expect),
            Some(e) => match Expect::parse(e.get_ref()) {
                Some(x) => Some(x),
                None => {
                    self.err(e, format!("expect must be \"answer\", \"referral\", \"nxdomain\" or \"any\", not \"{}\"", e.get_ref()));
                    None
                }
            },
        };
        let mut values = Vec::new();
        for v in &raw.values {
            match normalize_value(
                v.get_ref(),
                qtype.unwrap_or(DEFAULT_QTYPE),
                expect.unwrap_or(default_expect),
            ) {
                Ok(x) => values.push(x),
                Err(m) => self.err(v, m),
            }
        }
        if expect == Some(Expect::NxDomain) && !raw.values.is_empty() {
            self.err(
                &raw.name,
                "a check that expects nxdomain cannot list values",
            );
        }
        values.sort();
        values.dedup();
        Some(Check {
            qname: qname?,
            qtype: qtype?,
            expect: expect?,
            values,
            transport: if raw.tcp {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            role: CheckRole::Plain,
            recursion_desired: rd,
            authoritative: auth,
        })
    }

    /// `dnssec` and `dnssec_warn_before` of a TLD or an institution.
    fn dnssec(&mut self, on: Option<bool>, warn: &Option<Spanned<String>>) -> Option<Dnssec> {
        let default = DEFAULT_DNSSEC_WARN_BEFORE;
        let warn_before = match warn {
            None => default,
            Some(w) => match super::duration::parse_duration(w.get_ref()) {
                Ok(d) => d,
                Err(m) => {
                    self.err(w, m);
                    default
                }
            },
        };
        match (on.unwrap_or(DEFAULT_DNSSEC), warn) {
            (true, _) => Some(Dnssec { warn_before }),
            (false, Some(w)) => {
                self.err(w, "dnssec_warn_before needs dnssec = true");
                None
            }
            (false, None) => None,
        }
    }
}

/// `text` as an error message shows it: at most 64 characters, control characters escaped.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(64).flat_map(char::escape_debug).collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// A built-in check of an authoritative server: plain UDP, no recursion, the reply must be
/// authoritative, no expected values.
fn authoritative(qname: Name, qtype: RecordType, expect: Expect, role: CheckRole) -> Check {
    Check {
        qname,
        qtype,
        expect,
        values: Vec::new(),
        transport: Transport::Udp,
        role,
        recursion_desired: false,
        authoritative: true,
    }
}
