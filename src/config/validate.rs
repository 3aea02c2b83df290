//! Raw schema → checked [`Config`], collecting every error with its line and column.

use super::error::{ConfigError, Locator};
use super::model::*;
use super::raw::*;
use hickory_proto::rr::{Name, RecordType};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use toml::Spanned;

/// The matrix's latency threshold. A probe timeout at or below it would make "slower than
/// 5 s" invisible (docs/matrix.md, "What is measured"), so validation refuses such a timeout.
pub const LATENCY_THRESHOLD: Duration = Duration::from_secs(5);

/// The default probe interval: 5 s, so one check on one address gives at least 50 probes in
/// the worst tick's window (comfortably above the 30 of `min_samples`) and at least 7 attempts
/// within the 60 s stop window (above the 5 of `stop_min_probes`); at 10 s both sat on their
/// minimum and a server flipped between known and unknown (docs/measurement.md, "Budgets").
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// The 31 province-level divisions of the mainland, the names used for 通信管理局 routing.
pub const PROVINCES: [&str; 31] = [
    "北京",
    "天津",
    "河北",
    "山西",
    "内蒙古",
    "辽宁",
    "吉林",
    "黑龙江",
    "上海",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "广西",
    "海南",
    "重庆",
    "四川",
    "贵州",
    "云南",
    "西藏",
    "陕西",
    "甘肃",
    "青海",
    "宁夏",
    "新疆",
];

/// "广东省" → "广东", "新疆维吾尔自治区" → "新疆"; None when it names no province.
pub fn normalize_province(s: &str) -> Option<&'static str> {
    let s = s.trim();
    PROVINCES
        .iter()
        .copied()
        .filter(|p| s.starts_with(p))
        .max_by_key(|p| p.len())
        .filter(|p| {
            let rest = &s[p.len()..];
            rest.is_empty() || matches!(rest, "省" | "市" | "自治区") || rest.ends_with("自治区")
        })
}

pub(crate) struct Validator<'a> {
    loc: Locator<'a>,
    /// The config file's directory, for relative paths.
    base_dir: std::path::PathBuf,
    errors: Vec<ConfigError>,
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

    pub(crate) fn finish(
        mut self,
        source: PathBuf,
        raw: RawConfig,
    ) -> Result<Config, Vec<ConfigError>> {
        let daemon = self.daemon(&raw.daemon);
        let mut objects = Vec::new();
        let mut seen: HashMap<(ObjectClass, String), usize> = HashMap::new();
        let mut note = |v: &mut Self, class: ObjectClass, name: &Spanned<String>, key: String| {
            let line = v.line_of(name);
            if let Some(prev) = seen.insert((class, key.clone()), line) {
                v.err(
                    name,
                    format!(
                        "duplicate {} name \"{}\": already used at line {prev}",
                        class.as_str(),
                        key
                    ),
                );
            }
        };
        for t in &raw.tld {
            if let Some(o) = self.tld(t) {
                note(
                    &mut self,
                    ObjectClass::Tld,
                    &t.get_ref().name,
                    o.name.clone(),
                );
                objects.push(o);
            }
        }
        for i in &raw.institution {
            if let Some(o) = self.institution(i) {
                note(
                    &mut self,
                    ObjectClass::Institution,
                    &i.get_ref().name,
                    o.name.clone(),
                );
                objects.push(o);
            }
        }
        for w in &raw.website {
            if let Some(o) = self.website(w) {
                note(
                    &mut self,
                    ObjectClass::Website,
                    &w.get_ref().name,
                    o.name.clone(),
                );
                objects.push(o);
            }
        }
        for r in &raw.recursive {
            if let Some(o) = self.recursive(r) {
                note(
                    &mut self,
                    ObjectClass::Recursive,
                    &r.get_ref().name,
                    o.name.clone(),
                );
                objects.push(o);
            }
        }
        for c in &raw.control {
            if let Some(o) = self.control(c) {
                note(
                    &mut self,
                    ObjectClass::Control,
                    &c.get_ref().name,
                    o.name.clone(),
                );
                objects.push(o);
            }
        }
        let mut maintenance = Vec::new();
        for m in &raw.maintenance {
            let m = m.get_ref();
            let key = m.object.get_ref().trim();
            let known = key.split_once('/').is_some_and(|(class, name)| {
                objects
                    .iter()
                    .any(|o| o.class.as_str() == class && o.name == name)
            });
            if !known {
                self.err(&m.object, format!("maintenance object \"{key}\" is not a configured object; write class/name, e.g. \"tld/cn\" or \"recursive/gd-resolvers\""));
            }
            let starts = crate::clock::parse_rfc3339(m.starts.get_ref());
            let ends = crate::clock::parse_rfc3339(m.ends.get_ref());
            if starts.is_none() {
                self.err(
                    &m.starts,
                    format!(
                        "\"{}\" is not an RFC 3339 UTC time like 2026-11-22T16:00:00Z",
                        m.starts.get_ref()
                    ),
                );
            }
            if ends.is_none() {
                self.err(
                    &m.ends,
                    format!(
                        "\"{}\" is not an RFC 3339 UTC time like 2026-11-22T18:00:00Z",
                        m.ends.get_ref()
                    ),
                );
            }
            if let (Some(a), Some(b)) = (starts, ends) {
                if b <= a {
                    self.err(&m.ends, "a maintenance window must end after it starts");
                } else if known {
                    maintenance.push(Maintenance {
                        object: key.to_string(),
                        starts: a,
                        ends: b,
                        reason: m.reason.clone(),
                    });
                }
            }
        }
        let alert = self.alert(&raw.alert);
        if self.errors.is_empty() {
            Ok(Config {
                source,
                daemon,
                objects,
                maintenance,
                alert,
            })
        } else {
            self.errors.sort_by_key(|e| (e.line, e.column));
            Err(self.errors)
        }
    }

    fn duration(
        &mut self,
        v: &Option<Spanned<super::duration::HumanDuration>>,
        default: Duration,
    ) -> Duration {
        v.as_ref().map(|d| d.get_ref().0).unwrap_or(default)
    }

    fn daemon(&mut self, d: &RawDaemon) -> DaemonConfig {
        let listen = match &d.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 9553)),
            Some(s) => {
                match s.get_ref().parse::<SocketAddr>() {
                    Ok(a) => a,
                    Err(_) => {
                        self.err(s, format!("listen address \"{}\" is not IP:port (for example \"127.0.0.1:9553\")", s.get_ref()));
                        SocketAddr::from(([127, 0, 0, 1], 9553))
                    }
                }
            }
        };
        let interval = self.duration(&d.interval, DEFAULT_INTERVAL);
        let timeout = self.duration(&d.timeout, Duration::from_secs(10));
        let window = self.duration(&d.window, Duration::from_secs(300));
        let tick = self.duration(&d.tick, Duration::from_secs(10));
        let stop_window = self.duration(&d.stop_window, Duration::from_secs(60));
        let resolve_interval = self.duration(&d.resolve_interval, Duration::from_secs(300));
        if let Some(t) = &d.timeout {
            if timeout <= LATENCY_THRESHOLD {
                self.err(t, format!(
                    "timeout {:?} must be above the 5 s latency threshold, otherwise a reply slower than 5 s would be counted as a timeout instead of a slow success (default 10s)",
                    timeout));
            } else if timeout > Duration::from_secs(60) {
                self.err(t, "timeout must be at most 60s");
            }
        }
        if let Some(i) = &d.interval {
            if interval < Duration::from_millis(1) {
                self.err(i, "interval must be at least 1ms");
            }
        }
        if let Some(t) = &d.tick {
            if tick < Duration::from_secs(1) {
                self.err(t, "tick must be at least 1s");
            } else if tick > window {
                self.err(t, "tick must not be longer than the window");
            } else if !window.as_millis().is_multiple_of(tick.as_millis().max(1)) {
                self.err(t, "the window must be a whole number of ticks");
            }
        }
        if let Some(w) = &d.window {
            if window < Duration::from_secs(10) || window > Duration::from_secs(86400) {
                self.err(w, "window must be between 10s and 24h");
            } else if tick < Duration::from_secs(1) {
                // The tick's own error says it.
            } else if d.tick.is_none()
                && !window.as_millis().is_multiple_of(tick.as_millis().max(1))
            {
                self.err(
                    w,
                    "the window must be a whole number of ticks (10s by default)",
                );
            } else if window.as_millis() / tick.as_millis().max(1) > 8640 {
                self.err(
                    w,
                    "the window holds more than 8640 ticks; use a longer tick",
                );
            }
        }
        if let Some(s) = &d.stop_window {
            if stop_window > window {
                self.err(s, "stop_window must not be longer than the window");
            } else if stop_window < tick {
                self.err(s, "stop_window must be at least one tick");
            }
        }
        if let Some(r) = &d.resolve_interval {
            if resolve_interval < Duration::from_secs(1) {
                self.err(r, "resolve_interval must be at least 1s");
            }
        }
        let mut nonzero = |v: &Option<Spanned<u32>>, default: u32, what: &str| -> NonZeroU32 {
            match v {
                None => NonZeroU32::new(default).unwrap_or(NonZeroU32::MIN),
                Some(s) => match NonZeroU32::new(*s.get_ref()) {
                    Some(n) => n,
                    None => {
                        self.err(s, format!("{what} must be at least 1"));
                        NonZeroU32::MIN
                    }
                },
            }
        };
        let global_rate = nonzero(&d.global_rate, 5000, "global_rate");
        let per_server_rate = nonzero(&d.per_server_rate, 100, "per_server_rate");
        let max_in_flight = nonzero(&d.max_in_flight, 16_384, "max_in_flight").get() as usize;
        let udp_sockets = nonzero(&d.udp_sockets, 8, "udp_sockets").get() as usize;
        if let Some(u) = &d.udp_sockets {
            if *u.get_ref() > 1024 {
                self.err(u, "udp_sockets must be at most 1024");
            }
        }
        let jitter = match &d.jitter {
            None => 0.1,
            Some(j) => {
                let v = *j.get_ref();
                if !(0.0..=0.5).contains(&v) {
                    self.err(
                        j,
                        "jitter must be between 0 and 0.5 (a share of the interval)",
                    );
                }
                v
            }
        };
        let edns_payload = match &d.edns_payload {
            None => 1232,
            Some(p) => {
                let v = *p.get_ref();
                if !(512..=4096).contains(&v) {
                    self.err(
                        p,
                        "edns_payload must be between 512 and 4096 (1232 is the safe choice)",
                    );
                }
                v
            }
        };
        let mut resolvers = Vec::new();
        for r in &d.resolvers {
            match parse_address(r.get_ref(), 53) {
                Ok(a) => resolvers.push(a),
                Err(m) => self.err(r, m),
            }
        }
        let api_token = d.api_token.as_ref().map(|t| match t.strip_prefix("env:") {
            Some(var) => std::env::var(var).unwrap_or_default(),
            None => t.clone(),
        });
        DaemonConfig {
            listen,
            state_dir: PathBuf::from(
                d.state_dir
                    .clone()
                    .unwrap_or_else(|| "/var/lib/dnsgrade".into()),
            ),
            interval,
            timeout,
            window,
            tick,
            stop_window,
            resolve_interval,
            global_rate,
            per_server_rate,
            max_in_flight,
            udp_sockets,
            jitter,
            edns_payload,
            api_token: api_token.filter(|t| !t.is_empty()),
            resolvers,
            ledger_retention: match &d.ledger_retention {
                None => Duration::from_secs(365 * 86400),
                Some(r) => {
                    if r.get_ref().0 < Duration::from_secs(86400) {
                        self.err(r, "ledger_retention must be at least 1d (the ledger is the record of incidents)");
                    }
                    r.get_ref().0
                }
            },
        }
    }

    fn alert(&mut self, a: &RawAlert) -> AlertConfig {
        let give_up_after = self.duration(&a.give_up_after, DEFAULT_GIVE_UP_AFTER);
        if let Some(g) = &a.give_up_after {
            if give_up_after < Duration::from_secs(60)
                || give_up_after > Duration::from_secs(30 * 86_400)
            {
                self.err(g, "give_up_after must be between 1m and 30d (it must end before the ledger retention prunes the event)");
            }
        }
        let resend_interval = self.duration(&a.resend_interval, DEFAULT_RESEND_INTERVAL);
        if let Some(r) = &a.resend_interval {
            if resend_interval < Duration::from_secs(1)
                || resend_interval > Duration::from_secs(3600)
            {
                self.err(r, "resend_interval must be between 1s and 1h; keep it well below Alertmanager's resolve_timeout (5m by default)");
            }
        }
        let resend_resolved_for =
            self.duration(&a.resend_resolved_for, DEFAULT_RESEND_RESOLVED_FOR);
        if let Some(r) = &a.resend_resolved_for {
            if resend_resolved_for > Duration::from_secs(86_400) {
                self.err(r, "resend_resolved_for must be at most 24h");
            }
        }
        let mut sinks = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut name = |v: &mut Self, n: &Spanned<String>| -> Option<String> {
            let t = n.get_ref().trim();
            if t.is_empty()
                || t.len() > 64
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                v.err(n, format!("sink name \"{t}\" must be 1 to 64 characters of A-Z a-z 0-9 - _ . (it is a metric label)"));
                return None;
            }
            let line = v.line_of(n);
            if let Some(prev) = names.insert(t.to_string(), line) {
                v.err(
                    n,
                    format!("duplicate sink name \"{t}\": already used at line {prev}"),
                );
                return None;
            }
            Some(t.to_string())
        };
        for w in &a.webhook {
            let w = w.get_ref();
            let n = name(self, &w.name);
            let url = self.sink_url(&w.url);
            let secret = match (&w.secret, &w.secret_env) {
                (Some(s), Some(_)) => {
                    self.err(s, "write either secret or secret_env, not both");
                    None
                }
                (Some(s), None) => {
                    if s.get_ref().is_empty() {
                        self.err(s, "secret is empty");
                    }
                    Some(Secret::new(s.get_ref().clone()))
                }
                (None, Some(e)) => match std::env::var(e.get_ref()) {
                    Ok(v) if !v.is_empty() => Some(Secret::new(v)),
                    _ => {
                        self.err(
                            e,
                            format!(
                                "environment variable {} (secret_env) is not set or empty",
                                e.get_ref()
                            ),
                        );
                        None
                    }
                },
                (None, None) => None,
            };
            let filter = self.sink_filter(&w.min_grade, &w.classes, &w.authority);
            let timeout = self.sink_timeout(&w.timeout);
            if let (Some(name), Some(url)) = (n, url) {
                sinks.push(SinkConfig {
                    name,
                    kind: SinkKind::Webhook,
                    url,
                    secret,
                    filter,
                    timeout,
                });
            }
        }
        for m in &a.alertmanager {
            let m = m.get_ref();
            let n = name(self, &m.name);
            let url = self.sink_url(&m.url);
            let filter = self.sink_filter(&m.min_grade, &m.classes, &m.authority);
            let timeout = self.sink_timeout(&m.timeout);
            if let (Some(name), Some(url)) = (n, url) {
                sinks.push(SinkConfig {
                    name,
                    kind: SinkKind::Alertmanager,
                    url: url.trim_end_matches('/').to_string(),
                    secret: None,
                    filter,
                    timeout,
                });
            }
        }
        AlertConfig {
            give_up_after,
            resend_interval,
            resend_resolved_for,
            sinks,
        }
    }

    fn sink_url(&mut self, u: &Spanned<String>) -> Option<String> {
        let t = u.get_ref().trim();
        match reqwest::Url::parse(t) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(t.to_string())
            }
            _ => {
                self.err(
                    u,
                    format!("url \"{t}\" is not an http:// or https:// URL with a host"),
                );
                None
            }
        }
    }

    fn sink_timeout(&mut self, t: &Option<Spanned<super::duration::HumanDuration>>) -> Duration {
        let timeout = self.duration(t, DEFAULT_SINK_TIMEOUT);
        if let Some(s) = t {
            if timeout < Duration::from_millis(100) || timeout > Duration::from_secs(120) {
                self.err(s, "timeout must be between 100ms and 120s");
            }
        }
        timeout
    }

    fn sink_filter(
        &mut self,
        min_grade: &Option<Spanned<String>>,
        classes: &[Spanned<String>],
        authority: &Option<Spanned<String>>,
    ) -> SinkFilter {
        let min_grade = min_grade.as_ref().and_then(|g| {
            let t = g.get_ref().trim();
            let l = crate::level::Level::from_roman(t);
            if l.is_none() {
                self.err(
                    g,
                    format!("min_grade must be \"I\", \"II\", \"III\" or \"IV\", not \"{t}\""),
                );
            }
            l
        });
        let mut cls = Vec::new();
        for c in classes {
            let t = c.get_ref().trim();
            match ObjectClass::ALL
                .into_iter()
                .find(|k| k.as_str() == t && *k != ObjectClass::Control)
            {
                Some(k) => cls.push(k),
                None => self.err(c, format!("class must be one of \"tld\", \"institution\", \"website\", \"recursive\", not \"{t}\"")),
            }
        }
        let authority = authority.as_ref().and_then(|a| {
            let t = a.get_ref().trim();
            if t.is_empty() {
                self.err(a, "authority is empty");
                return None;
            }
            Some(normalize_authority(t))
        });
        SinkFilter {
            min_grade,
            classes: cls,
            authority,
        }
    }

    /// A domain name in Unicode or ASCII → fully qualified, lowercase A-label form.
    fn name(&mut self, s: &Spanned<String>, what: &str) -> Option<Name> {
        let text = s.get_ref().trim();
        if text.is_empty() {
            self.err(s, format!("{what} is empty"));
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
                Some(n.to_lowercase())
            }
            Err(e) => {
                self.err(
                    s,
                    format!("{what} \"{text}\" is not a valid domain name: {e}"),
                );
                None
            }
        }
    }

    fn nonempty(&mut self, s: &Spanned<String>, what: &str) -> Option<String> {
        let t = s.get_ref().trim();
        if t.is_empty() {
            self.err(s, format!("{what} is empty"));
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
            let port = raw.port.unwrap_or(53);
            let mut pinned = Vec::new();
            for a in &raw.addresses {
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
            let host = match &raw.host {
                None => None,
                Some(h) => {
                    let t = h.get_ref().trim();
                    if t.parse::<IpAddr>().is_ok() {
                        self.err(
                            h,
                            format!("host \"{t}\" is an address: put it in addresses = [\"{t}\"]"),
                        );
                        None
                    } else if Name::from_utf8(t).is_err() || t.is_empty() {
                        self.err(h, format!("host \"{t}\" is not a valid host name"));
                        None
                    } else {
                        Some(t.trim_end_matches('.').to_string())
                    }
                }
            };
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
            None => Some(RecordType::A),
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
                qtype.unwrap_or(RecordType::A),
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

    fn registry(&mut self, r: &RawRegistry) -> Registry {
        let mut hostport = |v: &Option<Spanned<String>>,
                            what: &str,
                            default_port: u16|
         -> Option<String> {
            let s = v.as_ref()?;
            let t = s.get_ref().trim();
            let ok = match t.rsplit_once(':') {
                Some((h, p)) => !h.is_empty() && p.parse::<u16>().is_ok(),
                None => !t.is_empty(),
            };
            if !ok {
                self.err(s, format!("{what} must be \"host:port\" (for example \"registry.example:{default_port}\")"));
                return None;
            }
            Some(if t.contains(':') {
                t.to_string()
            } else {
                format!("{t}:{default_port}")
            })
        };
        let epp = hostport(&r.epp, "epp", 700);
        let whois = hostport(&r.whois, "whois", 43);
        let rdap = r.rdap.as_ref().and_then(|s| {
            let t = s.get_ref().trim();
            if t.starts_with("https://") || t.starts_with("http://") {
                Some(t.to_string())
            } else {
                self.err(s, "rdap must be a base URL starting with https://");
                None
            }
        });
        let lookup_domain = r
            .lookup_domain
            .as_ref()
            .and_then(|d| self.name(d, "lookup_domain").map(|n| n.to_ascii()));
        let mut file = |v: &Option<Spanned<String>>, what: &str| -> Option<PathBuf> {
            let s = v.as_ref()?;
            let path = self.base_dir.join(s.get_ref().trim());
            if !path.is_file() {
                self.err(
                    s,
                    format!("{what} \"{}\" is not a readable file", path.display()),
                );
            }
            Some(path)
        };
        let ca_file = file(&r.ca_file, "ca_file");
        let cert = file(&r.client_cert, "client_cert");
        let key = file(&r.client_key, "client_key");
        let client_cert = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                let at = r.client_cert.as_ref().or(r.client_key.as_ref());
                if let Some(at) = at {
                    self.err(
                        at,
                        "client_cert and client_key go together: give both or neither",
                    );
                }
                None
            }
        };
        let text = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.get_ref().trim().to_string());
        let epp_login_env = match (text(&r.epp_client_id_env), text(&r.epp_password_env)) {
            (Some(c), Some(p)) if !c.is_empty() && !p.is_empty() => Some((c, p)),
            (None, None) => None,
            _ => {
                let at = r.epp_client_id_env.as_ref().or(r.epp_password_env.as_ref());
                if let Some(at) = at {
                    self.err(at, "epp_client_id_env and epp_password_env go together: name both environment variables or neither");
                }
                None
            }
        };
        if let Some(d) = r.lookup_domain.as_ref() {
            if r.rdap.is_none() && r.whois.is_none() {
                self.err(
                    d,
                    "lookup_domain is only used by rdap and whois, and neither is configured",
                );
            }
        } else if let Some(at) = r.rdap.as_ref().or(r.whois.as_ref()) {
            self.err(at, "rdap and whois need lookup_domain: the domain to look up (for example the registry's own)");
        }
        Registry {
            epp,
            rdap,
            whois,
            lookup_domain,
            ca_file,
            client_cert,
            tls_server_name: text(&r.tls_server_name),
            epp_login_env,
            whois_marker: text(&r.whois_marker),
        }
    }

    fn tld(&mut self, t: &Spanned<RawTld>) -> Option<Object> {
        let raw = t.get_ref();
        let apex = self.name(&raw.name, "TLD name");
        if let Some(a) = &apex {
            if a.num_labels() != 1 {
                self.err(
                    &raw.name,
                    format!(
                        "TLD name \"{}\" must be a single label such as \"cn\" or \"中国\"",
                        raw.name.get_ref()
                    ),
                );
            }
        }
        let servers = self.servers(&raw.node, &raw.name, "node");
        let mut checks = Vec::new();
        if let Some(a) = &apex {
            for qtype in [RecordType::SOA, RecordType::NS] {
                checks.push(Check {
                    qname: a.clone(),
                    qtype,
                    expect: Expect::Answer,
                    values: Vec::new(),
                    transport: Transport::Udp,
                    role: CheckRole::Plain,
                    recursion_desired: false,
                    authoritative: true,
                });
            }
        }
        if raw.expected_negative.unwrap_or(true) {
            if let Some(a) = &apex {
                checks.push(Check {
                    qname: a.clone(),
                    qtype: RecordType::A,
                    expect: Expect::NxDomain,
                    values: Vec::new(),
                    transport: Transport::Udp,
                    role: CheckRole::ExpectedNegative,
                    recursion_desired: false,
                    authoritative: true,
                });
            }
        }
        for k in &raw.key_domains {
            if let Some(n) = self.name(k, "key domain") {
                if let Some(a) = &apex {
                    if !a.zone_of(&n) || &n == a {
                        self.err(
                            k,
                            format!("key domain \"{}\" is not below the TLD {}", k.get_ref(), a),
                        );
                        continue;
                    }
                }
                checks.push(Check {
                    qname: n,
                    qtype: RecordType::NS,
                    expect: Expect::Referral,
                    values: Vec::new(),
                    transport: Transport::Udp,
                    role: CheckRole::KeyDomain,
                    recursion_desired: false,
                    authoritative: true,
                });
            }
        }
        for c in &raw.check {
            if let Some(ch) = self.check(c, Expect::Referral, false, true) {
                checks.push(ch);
            }
        }
        let registry = raw.registry.as_ref().map(|r| self.registry(r));
        let dnssec = self.dnssec(raw.dnssec, &raw.dnssec_warn_before);
        if let (Some(_), Some(a)) = (&dnssec, &apex) {
            // The zone's keys are checked like its SOA (an answer, signed).
            checks.push(Check {
                qname: a.clone(),
                qtype: RecordType::DNSKEY,
                expect: Expect::Answer,
                values: Vec::new(),
                transport: Transport::Udp,
                role: CheckRole::Plain,
                recursion_desired: false,
                authoritative: true,
            });
        }
        let reference = raw.reference.as_ref().and_then(|whole| {
            let r = whole.get_ref();
            let source = match (&r.zone_file, &r.axfr) {
                (Some(_), Some(a)) => {
                    self.err(a, "give either zone_file or axfr, not both");
                    return None;
                }
                (None, None) => {
                    self.err(whole, "[tld.reference] needs zone_file or axfr");
                    return None;
                }
                (Some(zf), None) => {
                    if let Some(rf) = &r.refresh {
                        self.err(rf, "refresh applies to axfr only");
                    }
                    let file = zf.get_ref().trim();
                    if file.is_empty() {
                        self.err(zf, "zone_file is empty");
                        return None;
                    }
                    let path = self.base_dir.join(file);
                    if !path.is_file() {
                        self.err(
                            zf,
                            format!("zone_file \"{}\" is not a readable file", path.display()),
                        );
                    }
                    ReferenceSource::ZoneFile(path)
                }
                (None, Some(a)) => {
                    let t = a.get_ref().trim();
                    let ok = t.rsplit_once(':').is_some_and(|(h, p)| {
                        !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0)
                    });
                    if !ok {
                        self.err(
                            a,
                            format!("axfr must be \"host:port\" of the primary, not \"{t}\""),
                        );
                    }
                    let refresh = match &r.refresh {
                        None => std::time::Duration::from_secs(300),
                        Some(rf) => match super::duration::parse_duration(rf.get_ref()) {
                            Ok(d) if d >= std::time::Duration::from_secs(1) => d,
                            Ok(_) => {
                                self.err(rf, "refresh must be at least 1s");
                                std::time::Duration::from_secs(1)
                            }
                            Err(m) => {
                                self.err(rf, m);
                                std::time::Duration::from_secs(300)
                            }
                        },
                    };
                    ReferenceSource::Axfr {
                        primary: t.to_string(),
                        refresh,
                    }
                }
            };
            let rate = match &r.sample_rate {
                None => NonZeroU32::new(200).unwrap_or(NonZeroU32::MIN),
                Some(v) => match NonZeroU32::new(*v.get_ref()) {
                    Some(n) if n.get() <= 100_000 => n,
                    _ => {
                        self.err(
                            v,
                            "sample_rate must be between 1 and 100000 names per second",
                        );
                        NonZeroU32::MIN
                    }
                },
            };
            let max_in_flight = match &r.max_in_flight {
                None => super::SAMPLE_MAX_IN_FLIGHT,
                Some(v) if (1..=4096).contains(v.get_ref()) => *v.get_ref() as usize,
                Some(v) => {
                    self.err(
                        v,
                        "max_in_flight must be between 1 and 4096 samples per node address",
                    );
                    1
                }
            };
            Some(Reference {
                source,
                sample_rate: rate,
                max_in_flight,
            })
        });
        let apex = apex?;
        let name = apex.to_ascii().trim_end_matches('.').to_string();
        Some(Object {
            class: ObjectClass::Tld,
            display_name: raw.name.get_ref().trim().trim_end_matches('.').to_string(),
            name,
            tier: None,
            operator: None,
            scope: None,
            licensed_by: None,
            zone: Some(apex),
            servers,
            checks,
            registry,
            reference,
            dnssec,
        })
    }

    fn dnssec(&mut self, on: Option<bool>, warn: &Option<Spanned<String>>) -> Option<Dnssec> {
        let default = Duration::from_secs(72 * 3600);
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
        match (on.unwrap_or(false), warn) {
            (true, _) => Some(Dnssec { warn_before }),
            (false, Some(w)) => {
                self.err(w, "dnssec_warn_before needs dnssec = true");
                None
            }
            (false, None) => None,
        }
    }

    fn institution(&mut self, i: &Spanned<RawInstitution>) -> Option<Object> {
        let raw = i.get_ref();
        let name = self.nonempty(&raw.name, "institution name");
        let tier = self.tier(&raw.tier);
        let servers = self.servers(&raw.server, &raw.name, "server");
        if raw.check.is_empty() {
            self.err(&raw.name, format!("institution \"{}\" has no [[institution.check]]: add test names it serves, with expected values", raw.name.get_ref()));
        }
        let checks: Vec<Check> = raw
            .check
            .iter()
            .filter_map(|c| self.check(c, Expect::Answer, false, true))
            .collect();
        let registry = raw.registration.as_ref().map(|r| self.registry(r));
        let dnssec = self.dnssec(raw.dnssec, &raw.dnssec_warn_before);
        Some(Object {
            class: ObjectClass::Institution,
            display_name: name.clone()?,
            name: name?,
            tier: Some(tier?),
            operator: None,
            scope: None,
            licensed_by: None,
            zone: None,
            servers,
            checks,
            registry,
            reference: None,
            dnssec,
        })
    }

    fn website(&mut self, w: &Spanned<RawWebsite>) -> Option<Object> {
        let raw = w.get_ref();
        let name = self.nonempty(&raw.name, "website name");
        let tier = self.tier(&raw.tier);
        let lic = raw.licensed_by.get_ref().trim();
        let licensed_by =
            if lic.eq_ignore_ascii_case("MIIT") || lic == "工业和信息化部" || lic == "工信部"
            {
                Some(Licensor::Miit)
            } else if let Some(p) = normalize_province(lic) {
                Some(Licensor::Province(p.to_string()))
            } else {
                self.err(
                    &raw.licensed_by,
                    format!(
                    "licensed_by must be \"MIIT\" or a province such as \"广东\", not \"{lic}\""
                ),
                );
                None
            };
        let domain = self.name(&raw.domain, "domain");
        let servers = self.servers(&raw.server, &raw.name, "server");
        let mut checks: Vec<Check> = raw
            .check
            .iter()
            .filter_map(|c| self.check(c, Expect::Answer, false, true))
            .collect();
        if raw.check.is_empty() {
            if let Some(d) = &domain {
                for qtype in [RecordType::SOA, RecordType::NS] {
                    checks.push(Check {
                        qname: d.clone(),
                        qtype,
                        expect: Expect::Answer,
                        values: Vec::new(),
                        transport: Transport::Udp,
                        role: CheckRole::Plain,
                        recursion_desired: false,
                        authoritative: true,
                    });
                }
            }
        }
        Some(Object {
            class: ObjectClass::Website,
            display_name: name.clone()?,
            name: name?,
            tier: Some(tier?),
            operator: None,
            scope: None,
            licensed_by: Some(licensed_by?),
            zone: Some(domain?),
            servers,
            checks,
            registry: None,
            reference: None,
            dnssec: None,
        })
    }

    fn recursive(&mut self, r: &Spanned<RawRecursive>) -> Option<Object> {
        let raw = r.get_ref();
        let name = self.nonempty(&raw.name, "recursive system name");
        let operator = self.nonempty(&raw.operator, "operator");
        let scope = match raw.scope.get_ref().as_str() {
            "multi-province" => {
                let mut ps = Vec::new();
                for p in &raw.provinces {
                    match normalize_province(p.get_ref()) {
                        Some(n) => ps.push(n.to_string()),
                        None => self.err(p, format!("\"{}\" is not a province", p.get_ref())),
                    }
                }
                if raw.provinces.len() < 2 {
                    self.err(
                        &raw.scope,
                        "a multi-province system lists at least two provinces = [\"…\", \"…\"]",
                    );
                }
                Some(Scope::MultiProvince(ps))
            }
            "province" => match &raw.province {
                None => {
                    self.err(
                        &raw.scope,
                        "scope \"province\" needs province = \"…\" (for example \"广东\")",
                    );
                    None
                }
                Some(p) => match normalize_province(p.get_ref()) {
                    Some(n) => Some(Scope::Province(n.to_string())),
                    None => {
                        self.err(p, format!("\"{}\" is not a province", p.get_ref()));
                        None
                    }
                },
            },
            "local-network" => match &raw.local_network {
                None => {
                    self.err(
                        &raw.scope,
                        "scope \"local-network\" needs local_network = \"…\"",
                    );
                    None
                }
                Some(l) => self.nonempty(l, "local_network").map(Scope::LocalNetwork),
            },
            other => {
                self.err(&raw.scope, format!("scope must be \"multi-province\", \"province\" or \"local-network\", not \"{other}\""));
                None
            }
        };
        let servers = self.servers(&raw.server, &raw.name, "server");
        let mut checks = Vec::new();
        for c in &raw.cached_names {
            if let Some(n) = self.name(c, "cached name") {
                checks.push(Check {
                    qname: n,
                    qtype: RecordType::A,
                    expect: Expect::Answer,
                    values: Vec::new(),
                    transport: Transport::Udp,
                    role: CheckRole::Cached,
                    recursion_desired: true,
                    authoritative: false,
                });
            }
        }
        if let Some(z) = &raw.canary_zone {
            if let Some(n) = self.name(z, "canary_zone") {
                checks.push(Check {
                    qname: n,
                    qtype: RecordType::A,
                    expect: Expect::Any,
                    values: Vec::new(),
                    transport: Transport::Udp,
                    role: CheckRole::CacheBusting,
                    recursion_desired: true,
                    authoritative: false,
                });
            }
        }
        if raw.cached_names.is_empty() && raw.canary_zone.is_none() {
            self.err(
                &raw.name,
                "a recursive system needs cached_names, a canary_zone, or both",
            );
        }
        Some(Object {
            class: ObjectClass::Recursive,
            display_name: name.clone()?,
            name: name?,
            tier: None,
            operator: Some(operator?),
            scope: Some(scope?),
            licensed_by: None,
            zone: None,
            servers,
            checks,
            registry: None,
            reference: None,
            dnssec: None,
        })
    }

    fn control(&mut self, c: &Spanned<RawControl>) -> Option<Object> {
        let raw = c.get_ref();
        let name = self.nonempty(&raw.name, "control name");
        let servers = self.servers(&raw.server, &raw.name, "server");
        let mut checks: Vec<Check> = raw
            .check
            .iter()
            .filter_map(|ch| self.check(ch, Expect::Any, false, false))
            .collect();
        if raw.check.is_empty() {
            checks.push(Check {
                qname: Name::root(),
                qtype: RecordType::SOA,
                expect: Expect::Any,
                values: Vec::new(),
                transport: Transport::Udp,
                role: CheckRole::Plain,
                recursion_desired: false,
                authoritative: false,
            });
        }
        Some(Object {
            class: ObjectClass::Control,
            display_name: name.clone()?,
            name: name?,
            tier: None,
            operator: None,
            scope: None,
            licensed_by: None,
            zone: None,
            servers,
            checks,
            registry: None,
            reference: None,
            dnssec: None,
        })
    }
}

/// Normalises an authority name for sink filters: a provincial 通信管理局 is written the way
/// the rules name it ("广东省通信管理局" and "广东通信管理局" → "广东通信管理局"); anything else
/// is kept as written (trimmed).
pub fn normalize_authority(s: &str) -> String {
    let t = s.trim();
    if let Some(prefix) = t.strip_suffix("通信管理局") {
        if let Some(p) = normalize_province(prefix) {
            return format!("{p}通信管理局");
        }
    }
    t.to_string()
}

/// `"192.0.2.1"`, `"2001:db8::1"`, `"127.0.0.1:5353"`, `"[::1]:5353"` → a socket address.
pub fn parse_address(s: &str, default_port: u16) -> Result<SocketAddr, String> {
    let t = s.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    t.parse::<SocketAddr>().map_err(|_| {
        format!("\"{t}\" is not an IP address (write \"192.0.2.1\", \"2001:db8::1\", \"127.0.0.1:5353\" or \"[::1]:5353\")")
    })
}

/// One RDATA of a reply in the form [`normalize_value`] gives expected values, so the two
/// compare as strings (the probe's verdicts, the reference zone, node consensus).
pub fn normalize_rdata(d: &hickory_proto::rr::RData) -> String {
    match d {
        hickory_proto::rr::RData::A(a) => a.0.to_string(),
        hickory_proto::rr::RData::AAAA(a) => a.0.to_string(),
        hickory_proto::rr::RData::NS(n) => fqdn_lower(&n.0),
        hickory_proto::rr::RData::CNAME(n) => fqdn_lower(&n.0),
        hickory_proto::rr::RData::PTR(n) => fqdn_lower(&n.0),
        other => other.to_string().to_lowercase(),
    }
}

fn fqdn_lower(n: &hickory_proto::rr::Name) -> String {
    let mut n = n.to_lowercase();
    n.set_fqdn(true);
    n.to_ascii()
}

/// Normalises an expected value for comparison with replies: addresses in canonical form,
/// names lowercase and fully qualified, other data as written (trimmed, lowercased).
pub fn normalize_value(v: &str, qtype: RecordType, expect: Expect) -> Result<String, String> {
    let t = v.trim();
    let as_name = expect == Expect::Referral
        || matches!(qtype, RecordType::NS | RecordType::CNAME | RecordType::PTR);
    match qtype {
        RecordType::A if !as_name => t
            .parse::<std::net::Ipv4Addr>()
            .map(|a| a.to_string())
            .map_err(|_| format!("\"{t}\" is not an IPv4 address")),
        RecordType::AAAA if !as_name => t
            .parse::<std::net::Ipv6Addr>()
            .map(|a| a.to_string())
            .map_err(|_| format!("\"{t}\" is not an IPv6 address")),
        _ if as_name => Name::from_utf8(t)
            .map(|mut n| {
                n.set_fqdn(true);
                n.to_lowercase().to_ascii()
            })
            .map_err(|e| format!("\"{t}\" is not a domain name: {e}")),
        _ => Ok(t.to_lowercase()),
    }
}
