//! The validated configuration: what the rest of dnsgrade builds from.

use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

/// A whole validated `probes.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub source: PathBuf,
    /// Daemon-wide settings.
    pub daemon: DaemonConfig,
    /// Every monitored object, in file order (TLDs, institutions, websites, recursive, controls).
    pub objects: Vec<Object>,
    /// Declared maintenance windows.
    pub maintenance: Vec<Maintenance>,
    /// Alert delivery (`[alert]`).
    pub alert: AlertConfig,
    /// The emergency roster (`[[contact]]`), in file order.
    pub contacts: Vec<Contact>,
}

/// `[alert]`, with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertConfig {
    /// An event not delivered to a sink within this age (from when it happened) is given up,
    /// logged and counted (default 24 h).
    pub give_up_after: Duration,
    /// Alertmanager sinks re-post active alerts this often (default 1 min), well within
    /// Alertmanager's `resolve_timeout` (5 min by default).
    pub resend_interval: Duration,
    /// Alertmanager sinks re-post resolved alerts for this long (default 5 min).
    pub resend_resolved_for: Duration,
    /// The sinks, in file order (webhooks first).
    pub sinks: Vec<SinkConfig>,
}

/// Default `give_up_after`.
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_secs(86_400);
/// Default `resend_interval`.
pub const DEFAULT_RESEND_INTERVAL: Duration = Duration::from_secs(60);
/// Default `resend_resolved_for`.
pub const DEFAULT_RESEND_RESOLVED_FOR: Duration = Duration::from_secs(300);
/// Default timeout of one delivery attempt.
pub const DEFAULT_SINK_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            resend_interval: DEFAULT_RESEND_INTERVAL,
            resend_resolved_for: DEFAULT_RESEND_RESOLVED_FOR,
            sinks: Vec::new(),
        }
    }
}

/// What a sink speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkKind {
    /// A signed JSON webhook (the README, "Alerts": body and headers).
    Webhook,
    /// Prometheus Alertmanager, `POST /api/v2/alerts`.
    Alertmanager,
}

impl SinkKind {
    /// The name in the config and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Webhook => "webhook",
            SinkKind::Alertmanager => "alertmanager",
        }
    }
}

/// One alert sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Unique name (`sink` label; key of its delivery state in the ledger).
    pub name: String,
    /// Webhook or Alertmanager.
    pub kind: SinkKind,
    /// The URL (for Alertmanager the base URL, `/api/v2/alerts` is appended).
    pub url: String,
    /// HMAC key of the webhook signature, if any.
    pub secret: Option<Secret>,
    /// Which incidents it gets.
    pub filter: SinkFilter,
    /// Timeout of one attempt.
    pub timeout: Duration,
}

impl SinkConfig {
    /// The URL without user information, safe to show in the API and logs.
    pub fn display_url(&self) -> String {
        match reqwest::Url::parse(&self.url) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.set_query(None);
                u.to_string()
            }
            Err(_) => "(invalid url)".into(),
        }
    }
}

/// Which incident events a sink gets. Monitor events (isolated, recovered) go to every sink.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkFilter {
    /// Only incidents whose highest grade so far is at least this (so a sink that got an
    /// incident also gets its de-escalation and resolution).
    pub min_grade: Option<crate::level::Level>,
    /// Only these classes (empty: all).
    pub classes: Vec<ObjectClass>,
    /// Only objects whose response this authority leads or is notified of, at some grade
    /// (normalised by [`crate::config::normalize_authority`]: "广东省通信管理局", "广东" →
    /// "广东通信管理局").
    pub authority: Option<String>,
}

/// A webhook signing key. Never printed: `Debug` shows `Secret(<redacted>)`, and it has no
/// `Serialize`, so it cannot reach the API, the metrics or a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Secret(key.into())
    }

    /// The key bytes, for the HMAC only.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A maintenance window from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintenance {
    /// `class/name` of the object.
    pub object: String,
    /// Start, Unix ms.
    pub starts: u64,
    /// End, Unix ms.
    pub ends: u64,
    /// Why.
    pub reason: String,
}

impl Config {
    /// Objects of one class.
    pub fn objects_of(&self, class: ObjectClass) -> impl Iterator<Item = &Object> {
        self.objects.iter().filter(move |o| o.class == class)
    }

    /// The contacts of the authority that leads (or is notified of) a response, for the status
    /// page and whoever else shows who to call. `authority` is a name as grading renders it
    /// (an assessment's `lead_zh`: "广东省通信管理局", "互联网应急办") or as the config writes it
    /// ("广东", "MIIT"); it is normalised like the config's own names. The unit lead of level IV
    /// (涉事单位自行处置, "the unit itself") gives every unit's contacts, a unit's name that
    /// unit's. File order; empty when nobody is listed.
    pub fn contacts_for(&self, authority: &str) -> Vec<&Contact> {
        let t = authority.trim();
        if UNIT_LEAD_NAMES.contains(&t) {
            return self
                .contacts
                .iter()
                .filter(|c| matches!(c.owner, ContactFor::Unit(_)))
                .collect();
        }
        let key = super::normalize_authority(t);
        self.contacts
            .iter()
            .filter(|c| match &c.owner {
                ContactFor::Authority(a) => *a == key,
                ContactFor::Unit(u) => u == t,
            })
            .collect()
    }

    /// The contacts whose review is overdue at `now` (see [`Contact::overdue`]), file order.
    pub fn overdue_contacts(&self, now: crate::clock::UnixMillis) -> Vec<&Contact> {
        let every = self.daemon.contact_review_every;
        self.contacts
            .iter()
            .filter(|c| c.overdue(now, every))
            .collect()
    }
}

/// How the shipped rules name the lead at level IV (`unit_zh`, `unit_en`): asked for these,
/// [`Config::contacts_for`] gives the units' contacts.
const UNIT_LEAD_NAMES: [&str; 2] = ["涉事单位自行处置", "the unit itself"];

/// Whom a contact answers for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactFor {
    /// An authority of plan section 5.1 by its normalised name (互联网应急办, 广东通信管理局:
    /// [`crate::config::normalize_authority`]).
    Authority(String),
    /// One of the operator's own units, as written (the lead at level IV).
    Unit(String),
}

impl ContactFor {
    /// The name: the authority's normalised name or the unit's. It is configuration, not
    /// personal data: the `authority` label of `dnsgrade_contacts_review_overdue`.
    pub fn name(&self) -> &str {
        match self {
            ContactFor::Authority(a) | ContactFor::Unit(a) => a,
        }
    }
}

/// One entry of the emergency roster (`[[contact]]`). Names, phones and emails are personal
/// data: they are shown by check-config and `GET /api/v1/contacts` (behind the API token),
/// never in metrics, and without phone and email in `/api/v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Contact {
    /// The authority or unit.
    pub owner: ContactFor,
    /// The person's (or desk's) name.
    pub name: String,
    /// Their role.
    pub role: String,
    /// Telephone, as written.
    pub phone: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// When the entry was last checked (a calendar date, read in China Standard Time).
    #[serde(serialize_with = "date_text")]
    pub reviewed_at: jiff::civil::Date,
    /// When they can be reached: "24x7", or as written.
    pub hours: Option<String>,
}

fn date_text<S: serde::Serializer>(d: &jiff::civil::Date, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

impl Contact {
    /// Reachable 24 hours a day, as the plan asks (`hours = "24x7"`).
    pub fn always_reachable(&self) -> bool {
        self.hours.as_deref() == Some("24x7")
    }

    /// When the review falls due: the start of `reviewed_at` in China Standard Time (UTC+8),
    /// plus `every`.
    pub fn review_due(&self, every: Duration) -> crate::clock::UnixMillis {
        let cst = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
        let start = self
            .reviewed_at
            .to_zoned(cst)
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(0);
        (start.max(0) as u64).saturating_add(every.as_millis() as u64)
    }

    /// Overdue for review at `now`: more than `every` has passed since `reviewed_at`.
    pub fn overdue(&self, now: crate::clock::UnixMillis, every: Duration) -> bool {
        now > self.review_due(every)
    }
}

/// `[daemon]`, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// HTTP listen address (default 127.0.0.1:9553).
    pub listen: SocketAddr,
    /// State directory (SQLite ledger, clocks).
    pub state_dir: PathBuf,
    /// Interval between two probes of the same check on the same server address.
    pub interval: Duration,
    /// Probe timeout; always above the 5 s latency threshold.
    pub timeout: Duration,
    /// Statistics window.
    pub window: Duration,
    /// Evaluation tick (also the statistics slice length).
    pub tick: Duration,
    /// Span without a success that makes a server stopped.
    pub stop_window: Duration,
    /// Host names are resolved again this often.
    pub resolve_interval: Duration,
    /// Probes per second, all servers together.
    pub global_rate: NonZeroU32,
    /// Probes per second to one server address.
    pub per_server_rate: NonZeroU32,
    /// Probes in flight at once, at most.
    pub max_in_flight: usize,
    /// UDP sockets in the shared pool.
    pub udp_sockets: usize,
    /// Random share of the interval by which each probe is moved (0 to 0.5).
    pub jitter: f64,
    /// EDNS(0) payload size advertised.
    pub edns_payload: u16,
    /// Bearer token for the write API, if any.
    pub api_token: Option<String>,
    /// Resolved incidents are kept this long.
    pub ledger_retention: Duration,
    /// An incident not acknowledged this long after its detection is overdue
    /// (`ack_overdue`, `dnsgrade_incidents_ack_overdue`).
    pub ack_within: Duration,
    /// Resolvers for server host names; empty means the system configuration.
    pub resolvers: Vec<SocketAddr>,
    /// A contact not reviewed within this span is overdue (default 90 days).
    pub contact_review_every: Duration,
    /// Who this vantage point is (docs/operations.md, "Vantage point").
    pub vantage: VantageIdentity,
    /// The local address DNS probes are sent from; `None` lets the kernel choose.
    pub source_address: Option<std::net::IpAddr>,
    /// HTTP connections open at once, at most, before the descriptor limit is applied
    /// (docs/operations.md, "HTTP limits").
    pub http_max_connections: usize,
    /// Time for a request's headers, and idle time of a kept-alive connection.
    pub http_header_timeout: Duration,
}

/// A vantage point's identity: its name and where it probes from. Each value is 1 to 63
/// characters of letters, digits, `.`, `_` and `-`, so it is safe as a label value and in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VantageIdentity {
    /// The name (`[daemon] vantage`, default the host name).
    pub name: String,
    /// `[daemon] region`, if given.
    pub region: Option<String>,
    /// `[daemon] network`, if given.
    pub network: Option<String>,
}

/// The object classes of the plan's matrix, plus control targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ObjectClass {
    /// 顶级域名系统.
    Tld,
    /// 域名服务机构.
    Institution,
    /// 互联网站.
    Website,
    /// 电信运营企业的递归.
    Recursive,
    /// Control targets (monitor health).
    Control,
}

impl ObjectClass {
    /// Every class.
    pub const ALL: [ObjectClass; 5] = [
        ObjectClass::Tld,
        ObjectClass::Institution,
        ObjectClass::Website,
        ObjectClass::Recursive,
        ObjectClass::Control,
    ];

    /// Label value for metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectClass::Tld => "tld",
            ObjectClass::Institution => "institution",
            ObjectClass::Website => "website",
            ObjectClass::Recursive => "recursive",
            ObjectClass::Control => "control",
        }
    }

    /// The class's name in the plan.
    pub fn zh(self) -> &'static str {
        match self {
            ObjectClass::Tld => "顶级域名系统",
            ObjectClass::Institution => "域名服务机构",
            ObjectClass::Website => "互联网站",
            ObjectClass::Recursive => "递归域名解析系统",
            ObjectClass::Control => "监测对照",
        }
    }
}

/// Tier of an institution or website (plan section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Tier {
    /// 一级.
    One,
    /// 二级.
    Two,
}

impl Tier {
    /// 1 or 2.
    pub fn number(self) -> u8 {
        match self {
            Tier::One => 1,
            Tier::Two => 2,
        }
    }
}

/// Coverage of a recursive resolver system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "area")]
pub enum Scope {
    /// Serves several provinces.
    MultiProvince(Vec<String>),
    /// Serves one province.
    Province(String),
    /// Limited to one local network.
    LocalNetwork(String),
}

/// As operators write it: `province 广东`, `multi-province 广东,广西`, `local-network 校园网`.
impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::MultiProvince(ps) => write!(f, "multi-province {}", ps.join(",")),
            Scope::Province(p) => write!(f, "province {p}"),
            Scope::LocalNetwork(n) => write!(f, "local-network {n}"),
        }
    }
}

/// Who issued a website's licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "province")]
pub enum Licensor {
    /// 工业和信息化部.
    Miit,
    /// A province's 通信管理局.
    Province(String),
}

/// As operators write it: `MIIT` or the province, `广东`.
impl std::fmt::Display for Licensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Licensor::Miit => f.write_str("MIIT"),
            Licensor::Province(p) => f.write_str(p),
        }
    }
}

/// One monitored object (the unit that gets a grade).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its class.
    pub class: ObjectClass,
    /// Unique name within the class ("cn", "xn--fiqs8s", an institution's name, ...).
    pub name: String,
    /// For a TLD: the name as written (e.g. "中国"), for display.
    pub display_name: String,
    /// Tier, for institutions and websites.
    pub tier: Option<Tier>,
    /// Operator, for recursive systems.
    pub operator: Option<String>,
    /// Coverage, for recursive systems.
    pub scope: Option<Scope>,
    /// Licence issuer, for websites.
    pub licensed_by: Option<Licensor>,
    /// The zone the object serves: a TLD's apex, a website's domain.
    pub zone: Option<Name>,
    /// Its servers (nodes, name servers, resolvers).
    pub servers: Vec<Server>,
    /// The checks sent to every server of the object.
    pub checks: Vec<Check>,
    /// Registry or registration endpoints.
    pub registry: Option<Registry>,
    /// For a TLD: the reference zone its nodes are sampled against.
    pub reference: Option<Reference>,
    /// For signed zones (TLDs, institutions): DNSSEC checks.
    pub dnssec: Option<Dnssec>,
}

/// DNSSEC checks of a signed zone: probes set DO; every RRSIG in a reply must be within its
/// validity window (inception ≤ now ≤ expiration, by the injected clock), and an
/// authoritative answer must be signed. Signatures are not verified cryptographically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dnssec {
    /// Signatures expiring within this are warned about (default 72 h).
    pub warn_before: std::time::Duration,
}

/// Samples a node may have in flight at most (its sampling budget's ceiling), unless the
/// reference says otherwise (`max_in_flight`).
pub const SAMPLE_MAX_IN_FLIGHT: usize = 64;

/// A reference zone and the sampling rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Where the reference comes from.
    pub source: ReferenceSource,
    /// Delegations checked per second on each node address.
    pub sample_rate: NonZeroU32,
    /// Samples in flight to one node address at most (the ceiling of its sampling budget,
    /// which halves on timeouts: see `probe::schedule::SampleBudget`).
    pub max_in_flight: usize,
}

/// Where a TLD's reference delegations come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceSource {
    /// A zone file, read once at start (relative paths are relative to the config file's
    /// directory).
    ZoneFile(PathBuf),
    /// A zone transfer (AXFR over TCP) from a primary, re-transferred when its SOA serial
    /// changes.
    Axfr {
        /// The primary, "host:port".
        primary: String,
        /// How often the primary's SOA serial is polled.
        refresh: std::time::Duration,
        /// Bounds on one transfer.
        limits: TransferLimits,
    },
}

/// Bounds on one zone transfer of an AXFR reference (`[tld.reference]` `max_transfer_mib`,
/// `max_transfer_records`, `transfer_timeout`). A transfer that reaches one fails with an error
/// naming it, and the last good reference stays in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferLimits {
    /// Bytes of transfer messages read, at most (the delegations kept from them are bounded
    /// by the same figure).
    pub max_bytes: u64,
    /// Resource records read, at most (of every type, the two SOAs included).
    pub max_records: u64,
    /// The whole transfer, from the connection to the closing SOA, ends within this.
    pub timeout: Duration,
}

impl TransferLimits {
    /// The defaults: 4 GiB, 100 million records, 10 minutes — room for a signed zone of
    /// 20 million delegations (about 2 GB and 60 million records in AXFR) over a slow link.
    pub const DEFAULT: TransferLimits = TransferLimits {
        max_bytes: 4 << 30,
        max_records: 100_000_000,
        timeout: Duration::from_secs(600),
    };
}

impl Default for TransferLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl std::fmt::Display for ReferenceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReferenceSource::ZoneFile(p) => write!(f, "zone file {}", p.display()),
            ReferenceSource::Axfr { primary, .. } => write!(f, "AXFR from {primary}"),
        }
    }
}

/// One server of an object, before its host name (if any) is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Display name, unique within the object.
    pub name: String,
    /// Host name to resolve, if given.
    pub host: Option<String>,
    /// Pinned socket addresses.
    pub pinned: Vec<SocketAddr>,
    /// Port for addresses found by resolving `host`.
    pub port: u16,
}

/// What a right reply to a check looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// An authoritative (AA=1) or, for recursive checks, a recursive NOERROR answer.
    Answer,
    /// A referral (AA=0, NS in the authority section), or an authoritative answer.
    Referral,
    /// NXDOMAIN: the name must not exist.
    NxDomain,
    /// Any NOERROR or NXDOMAIN reply.
    Any,
}

impl Expect {
    /// Parses the config spelling, in any case (`nxdomain`, `NXDOMAIN`).
    pub fn parse(s: &str) -> Option<Expect> {
        match s.to_ascii_lowercase().as_str() {
            "answer" => Some(Expect::Answer),
            "referral" => Some(Expect::Referral),
            "nxdomain" => Some(Expect::NxDomain),
            "any" => Some(Expect::Any),
            _ => None,
        }
    }
}

/// `answer`, `referral` and `any` as the config spells them; the RCODE as DNS people write
/// it, `NXDOMAIN`.
impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Expect::Answer => "answer",
            Expect::Referral => "referral",
            Expect::NxDomain => "NXDOMAIN",
            Expect::Any => "any",
        })
    }
}

/// Why a check exists; drives statistics and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum CheckRole {
    /// An ordinary check.
    Plain,
    /// A key domain (重点域名) of a TLD.
    KeyDomain,
    /// A recursive check of a name expected to be cached.
    Cached,
    /// A recursive check of a fresh random name under the canary zone.
    CacheBusting,
    /// A fresh random name under a TLD that must not exist: a node that answers it with data
    /// is wrong (RSSAC047 measures correctness this way).
    ExpectedNegative,
    /// A delegation drawn from the reference zone (continuous sampling).
    Sampled,
}

impl CheckRole {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckRole::Plain => "plain",
            CheckRole::KeyDomain => "key_domain",
            CheckRole::Cached => "cached",
            CheckRole::CacheBusting => "cache_busting",
            CheckRole::ExpectedNegative => "expected_negative",
            CheckRole::Sampled => "sampled",
        }
    }
}

/// UDP or TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// UDP, falling back to TCP on TC=1.
    Udp,
    /// TCP.
    Tcp,
}

impl Transport {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// One check: a question and what a right reply is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Query name; for [`CheckRole::CacheBusting`] and [`CheckRole::ExpectedNegative`], the zone
    /// under which a random label
    /// is put for each probe.
    pub qname: Name,
    /// Query type.
    pub qtype: RecordType,
    /// Expected reply shape.
    pub expect: Expect,
    /// Expected RRset values, normalised (lowercase, names fully qualified); empty = unchecked.
    pub values: Vec<String>,
    /// Transport.
    pub transport: Transport,
    /// Why the check exists.
    pub role: CheckRole,
    /// Recursion desired (recursive resolvers).
    pub recursion_desired: bool,
    /// The reply must be authoritative (AA=1) for `Expect::Answer`.
    pub authoritative: bool,
}

/// Registry or registration-system endpoints, probed by [`crate::probe::registry`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    /// EPP "host:port".
    pub epp: Option<String>,
    /// RDAP base URL.
    pub rdap: Option<String>,
    /// WHOIS "host:port".
    pub whois: Option<String>,
    /// Domain looked up with RDAP and WHOIS.
    pub lookup_domain: Option<String>,
    /// Extra trust anchors (PEM) for EPP and RDAP, added to the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// EPP client certificate chain and key (PEM files).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// TLS server name for EPP when `epp` names an address.
    pub tls_server_name: Option<String>,
    /// Names of the environment variables with the EPP client id and password: the probe
    /// logs in and out after the hello. The values are never logged.
    pub epp_login_env: Option<(String, String)>,
    /// Text a WHOIS reply must contain (default: the looked-up domain).
    pub whois_marker: Option<String>,
}
