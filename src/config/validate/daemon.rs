//! `[daemon]`: the listen address, the probe and window timing, rates and sizes.

use super::defaults::*;
use super::{parse_address, Validator, LATENCY_THRESHOLD};
use crate::config::duration::HumanDuration;
use crate::config::model::DaemonConfig;
use crate::config::raw::RawDaemon;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// The durations of `[daemon]`, defaults applied.
struct Timing {
    interval: Duration,
    timeout: Duration,
    window: Duration,
    tick: Duration,
    stop_window: Duration,
    resolve_interval: Duration,
}

impl Validator<'_> {
    pub(super) fn daemon(&mut self, d: &RawDaemon) -> DaemonConfig {
        let listen = self.listen(&d.listen);
        let timing = self.timing(d);
        let global_rate = self.nonzero(&d.global_rate, DEFAULT_GLOBAL_RATE, "global_rate");
        let per_server_rate = self.nonzero(
            &d.per_server_rate,
            DEFAULT_PER_SERVER_RATE,
            "per_server_rate",
        );
        let max_in_flight = self
            .nonzero(&d.max_in_flight, DEFAULT_MAX_IN_FLIGHT, "max_in_flight")
            .get() as usize;
        let udp_sockets = self
            .nonzero(&d.udp_sockets, DEFAULT_UDP_SOCKETS, "udp_sockets")
            .get() as usize;
        if let Some(u) = &d.udp_sockets {
            if *u.get_ref() > 1024 {
                self.err(u, "udp_sockets must be at most 1024");
            }
        }
        let jitter = self.jitter(&d.jitter);
        let edns_payload = self.edns_payload(&d.edns_payload);
        let resolvers = self.resolvers(&d.resolvers);
        let api_token = d.api_token.as_ref().and_then(|t| self.api_token(t));
        DaemonConfig {
            listen,
            state_dir: PathBuf::from(
                d.state_dir
                    .clone()
                    .unwrap_or_else(|| DEFAULT_STATE_DIR.into()),
            ),
            interval: timing.interval,
            timeout: timing.timeout,
            window: timing.window,
            tick: timing.tick,
            stop_window: timing.stop_window,
            resolve_interval: timing.resolve_interval,
            global_rate,
            per_server_rate,
            max_in_flight,
            udp_sockets,
            jitter,
            edns_payload,
            api_token,
            resolvers,
            ledger_retention: self
                .ledger_retention(&d.ledger_retention, d.ledger_retention_below_minimum),
            ack_within: self.ack_within(&d.ack_within),
            contact_review_every: self.contact_review_every(&d.contact_review_every),
            vantage: self.vantage(d),
            source_address: self.source_address(&d.source_address),
            http_max_connections: self.http_max_connections(&d.http_max_connections),
            http_header_timeout: self.http_header_timeout(&d.http_header_timeout),
        }
    }

    /// `vantage` (default: the host name, made label-safe), `region`, `network`.
    fn vantage(&mut self, d: &RawDaemon) -> crate::config::VantageIdentity {
        let name = match &d.vantage {
            Some(v) => self.identity_value(v, "vantage"),
            None => default_vantage(),
        };
        let mut optional = |v: &Option<Spanned<String>>, key: &str| {
            v.as_ref().map(|v| self.identity_value(v, key))
        };
        let region = optional(&d.region, "region");
        let network = optional(&d.network, "network");
        crate::config::VantageIdentity {
            name,
            region,
            network,
        }
    }

    fn identity_value(&mut self, v: &Spanned<String>, key: &str) -> String {
        let s = v.get_ref();
        if !identity_ok(s) {
            self.err(
                v,
                format!("{key} must be 1 to 63 letters, digits, '.', '_' or '-' (it is a label value of every series and alert)"),
            );
        }
        s.clone()
    }

    fn source_address(&mut self, a: &Option<Spanned<String>>) -> Option<std::net::IpAddr> {
        let a = a.as_ref()?;
        match a.get_ref().parse::<std::net::IpAddr>() {
            Ok(ip) if !ip.is_unspecified() && !ip.is_multicast() => Some(ip),
            _ => {
                self.err(
                    a,
                    format!("source_address \"{}\" is not an IP address of this host (for example \"192.0.2.10\" or \"2001:db8::10\")", a.get_ref()),
                );
                None
            }
        }
    }

    fn http_max_connections(&mut self, max: &Option<Spanned<u32>>) -> usize {
        let Some(m) = max else {
            return DEFAULT_HTTP_MAX_CONNECTIONS;
        };
        let v = *m.get_ref();
        if !(8..=65_536).contains(&v) {
            self.err(
                m,
                "http_max_connections must be between 8 and 65536 (default 256)",
            );
        }
        v as usize
    }

    fn http_header_timeout(&mut self, t: &Option<Spanned<HumanDuration>>) -> Duration {
        let Some(t) = t else {
            return DEFAULT_HTTP_HEADER_TIMEOUT;
        };
        let v = t.get_ref().0;
        if v < Duration::from_secs(1) || v > Duration::from_secs(300) {
            self.err(
                t,
                "http_header_timeout must be between 1s and 5m (default 10s)",
            );
        }
        v
    }

    /// The write API's token, written or read from `env:NAME`. An empty token, or a variable
    /// that is unset or empty, is an error: it would leave the write API off although the
    /// file asks for a token (leave `api_token` out to turn the write API off).
    fn api_token(&mut self, t: &Spanned<String>) -> Option<String> {
        let (value, source) = match t.get_ref().strip_prefix("env:") {
            Some(var) => {
                let var = var.trim();
                if var.is_empty() {
                    self.err(t, "api_token = \"env:\" names no variable: write env:NAME, for example \"env:DNSGRADE_API_TOKEN\"");
                    return None;
                }
                let value = std::env::var(var).unwrap_or_default();
                (value, format!("environment variable {var} (api_token)"))
            }
            None => (t.get_ref().clone(), "api_token".to_string()),
        };
        if value.trim().is_empty() {
            self.err(t, format!("{source} is not set or empty: set it, or leave api_token out to turn the write API off"));
            return None;
        }
        if value.chars().any(char::is_control) || value.trim() != value {
            self.err(t, format!("{source} has spaces at its ends or control characters, which a bearer token cannot carry"));
            return None;
        }
        Some(value)
    }

    fn listen(&mut self, listen: &Option<Spanned<String>>) -> SocketAddr {
        match listen {
            None => DEFAULT_LISTEN,
            Some(s) => {
                match s.get_ref().parse::<SocketAddr>() {
                    Ok(a) => a,
                    Err(_) => {
                        self.err(s, format!("listen address \"{}\" is not IP:port (for example \"127.0.0.1:9553\")", s.get_ref()));
                        DEFAULT_LISTEN
                    }
                }
            }
        }
    }

    /// The durations, each checked against its range and against the others.
    fn timing(&mut self, d: &RawDaemon) -> Timing {
        let t = Timing {
            interval: self.duration(&d.interval, DEFAULT_INTERVAL),
            timeout: self.duration(&d.timeout, DEFAULT_TIMEOUT),
            window: self.duration(&d.window, DEFAULT_WINDOW),
            tick: self.duration(&d.tick, DEFAULT_TICK),
            stop_window: self.duration(&d.stop_window, DEFAULT_STOP_WINDOW),
            resolve_interval: self.duration(&d.resolve_interval, DEFAULT_RESOLVE_INTERVAL),
        };
        self.check_timeout(&d.timeout, t.timeout);
        if let Some(i) = &d.interval {
            if t.interval < Duration::from_millis(1) {
                self.err(i, "interval must be at least 1ms");
            }
        }
        self.check_tick(&d.tick, &t);
        self.check_window(d, &t);
        if let Some(s) = &d.stop_window {
            if t.stop_window > t.window {
                self.err(s, "stop_window must not be longer than the window");
            } else if t.stop_window < t.tick {
                self.err(s, "stop_window must be at least one tick");
            }
        }
        if let Some(r) = &d.resolve_interval {
            if t.resolve_interval < Duration::from_secs(1) {
                self.err(r, "resolve_interval must be at least 1s");
            }
        }
        t
    }

    fn check_timeout(&mut self, written: &Option<Spanned<HumanDuration>>, timeout: Duration) {
        if let Some(t) = written {
            if timeout <= LATENCY_THRESHOLD {
                self.err(t, format!(
                    "timeout {:?} must be above the 5 s latency threshold, otherwise a reply slower than 5 s would be counted as a timeout instead of a slow success (default 10s)",
                    timeout));
            } else if timeout > Duration::from_secs(60) {
                self.err(t, "timeout must be at most 60s");
            }
        }
    }

    fn check_tick(&mut self, written: &Option<Spanned<HumanDuration>>, t: &Timing) {
        if let Some(s) = written {
            if t.tick < Duration::from_secs(1) {
                self.err(s, "tick must be at least 1s");
            } else if t.tick > t.window {
                self.err(s, "tick must not be longer than the window");
            } else if !t
                .window
                .as_millis()
                .is_multiple_of(t.tick.as_millis().max(1))
            {
                self.err(s, "the window must be a whole number of ticks");
            }
        }
    }

    fn check_window(&mut self, d: &RawDaemon, t: &Timing) {
        let Some(w) = &d.window else {
            return;
        };
        let (window, tick) = (t.window, t.tick);
        if window < Duration::from_secs(10) || window > Duration::from_secs(86400) {
            self.err(w, "window must be between 10s and 24h");
        } else if tick < Duration::from_secs(1) {
            // The tick's own error says it.
        } else if d.tick.is_none() && !window.as_millis().is_multiple_of(tick.as_millis().max(1)) {
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

    /// A count that must be at least 1: `default` when not written.
    fn nonzero(&mut self, v: &Option<Spanned<u32>>, default: u32, what: &str) -> NonZeroU32 {
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
    }

    fn jitter(&mut self, jitter: &Option<Spanned<f64>>) -> f64 {
        match jitter {
            None => DEFAULT_JITTER,
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
        }
    }

    fn edns_payload(&mut self, payload: &Option<Spanned<u16>>) -> u16 {
        match payload {
            None => DEFAULT_EDNS_PAYLOAD,
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
        }
    }

    fn resolvers(&mut self, list: &[Spanned<String>]) -> Vec<SocketAddr> {
        let mut resolvers = Vec::new();
        for r in list {
            match parse_address(r.get_ref(), DEFAULT_DNS_PORT) {
                Ok(a) => resolvers.push(a),
                Err(m) => self.err(r, m),
            }
        }
        resolvers
    }

    /// At least a day: the overdue check runs daily.
    fn contact_review_every(&mut self, every: &Option<Spanned<HumanDuration>>) -> Duration {
        match every {
            None => DEFAULT_CONTACT_REVIEW_EVERY,
            Some(e) => {
                if e.get_ref().0 < Duration::from_secs(86400) {
                    self.err(
                        e,
                        "contact_review_every must be at least 1d (the roster is checked daily)",
                    );
                }
                e.get_ref().0
            }
        }
    }

    /// At least 365 days (the circular's year of records) unless the operator wrote
    /// `ledger_retention_below_minimum = true`; never below a day.
    fn ledger_retention(
        &mut self,
        retention: &Option<Spanned<HumanDuration>>,
        below_minimum: Option<bool>,
    ) -> Duration {
        let Some(r) = retention else {
            return DEFAULT_LEDGER_RETENTION;
        };
        let v = r.get_ref().0;
        if v < Duration::from_secs(86400) {
            self.err(
                r,
                "ledger_retention must be at least 1d (the ledger is the record of incidents)",
            );
        } else if v < MIN_LEDGER_RETENTION && below_minimum != Some(true) {
            self.err(r, format!(
                "ledger_retention {} is below the 365d minimum: incident records must be kept for at least a year (docs/records.md); set ledger_retention_below_minimum = true in [daemon] to keep less on purpose",
                r.get_ref()));
        }
        v
    }

    fn ack_within(&mut self, ack_within: &Option<Spanned<HumanDuration>>) -> Duration {
        let Some(a) = ack_within else {
            return DEFAULT_ACK_WITHIN;
        };
        let v = a.get_ref().0;
        if v < Duration::from_secs(60) || v > Duration::from_secs(30 * 86400) {
            self.err(a, "ack_within must be between 1m and 30d (default 24h)");
        }
        v
    }
}

/// A vantage name, region or network: 1 to 63 of `[A-Za-z0-9._-]`.
fn identity_ok(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The host name, kept to the characters a vantage name may hold; "dnsgrade" without one.
fn default_vantage() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let raw = if ok {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    if name.is_empty() {
        "dnsgrade".to_string()
    } else {
        name
    }
}
