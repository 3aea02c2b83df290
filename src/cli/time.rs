//! Times on the command line: what a person types (`--since`, `--starts`, `--ends`) is read
//! with any RFC 3339 offset and sent to the API in UTC; times the API returns are shown in
//! UTC, as it writes them, or in the zone of `--tz`.

use crate::incident::Timestamp;
use jiff::tz::TimeZone;

/// Reads a time: `now`, Unix milliseconds, or RFC 3339 with any offset
/// (`2026-12-01T08:00:00+08:00`, `2026-12-01T00:00:00Z`). `what` names the option in the
/// error.
pub fn parse_instant(what: &str, s: &str) -> Result<jiff::Timestamp, String> {
    let t = s.trim();
    if t == "now" {
        use crate::clock::Clock;
        let now = i64::try_from(crate::clock::SystemClock.now_ms()).unwrap_or(i64::MAX);
        return jiff::Timestamp::from_millisecond(now).map_err(|e| e.to_string());
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .ok()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .ok_or_else(|| format!("{what} \"{t}\" is out of range as Unix milliseconds"));
    }
    t.parse::<jiff::Timestamp>().map_err(|e| {
        format!(
            "{what} \"{t}\" is neither Unix milliseconds nor an RFC 3339 time with an offset \
             like 2026-12-01T08:00:00+08:00 or 2026-12-01T00:00:00Z: {e}"
        )
    })
}

/// The form a time is sent to the API in: RFC 3339 in UTC, e.g. `2026-12-01T00:00:00Z`.
pub fn utc(t: jiff::Timestamp) -> String {
    t.to_string()
}

/// A `--tz` value: `UTC`, `local` (the system's zone, which `$TZ` sets), or an IANA zone
/// name such as `Asia/Shanghai`.
pub fn parse_zone(s: &str) -> Result<TimeZone, String> {
    match s.trim() {
        "UTC" | "utc" | "Z" => Ok(TimeZone::UTC),
        "local" => Ok(TimeZone::system()),
        name => TimeZone::get(name).map_err(|e| format!("unknown time zone \"{name}\": {e}")),
    }
}

/// How times are shown: in UTC with milliseconds, as the API writes them (the default), or
/// in a zone with its offset.
#[derive(Debug, Clone, Default)]
pub struct Times {
    zone: Option<TimeZone>,
}

impl Times {
    /// Times shown in `zone`; `None` is UTC as the API writes it.
    pub fn new(zone: Option<TimeZone>) -> Times {
        Times { zone }
    }

    /// One time, e.g. `2026-12-01T00:00:00.000Z` or, in Asia/Shanghai,
    /// `2026-12-01T08:00:00+08:00`.
    pub fn show(&self, t: Timestamp) -> String {
        let Some(zone) = &self.zone else {
            return t.rfc3339();
        };
        let ms = i64::try_from(t.ms()).unwrap_or(i64::MAX);
        match jiff::Timestamp::from_millisecond(ms) {
            Ok(ts) => ts
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            Err(_) => t.rfc3339(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_with_any_offset_are_sent_in_utc() {
        let t = parse_instant("--since", "2026-12-01T08:00:00+08:00").expect("parse");
        assert_eq!(utc(t), "2026-12-01T00:00:00Z");
        let t = parse_instant("--since", "2026-11-30T19:00:00-05:00").expect("parse");
        assert_eq!(utc(t), "2026-12-01T00:00:00Z");
        let t = parse_instant("--since", "1795341600000").expect("ms");
        assert_eq!(utc(t), "2026-11-22T10:00:00Z");
        let e = parse_instant("--since", "yesterday").expect_err("refused");
        assert!(e.starts_with("--since \"yesterday\" is neither"), "{e}");
        assert!(parse_instant("--since", "2026-12-01T08:00:00").is_err());
        assert!(parse_instant("--starts", "now").is_ok());
    }

    #[test]
    fn times_show_in_utc_or_the_given_zone() {
        let t = Timestamp(1_795_341_600_250);
        assert_eq!(Times::default().show(t), "2026-11-22T10:00:00.250Z");
        let shanghai = parse_zone("Asia/Shanghai").expect("zone");
        assert_eq!(
            Times::new(Some(shanghai)).show(t),
            "2026-11-22T18:00:00+08:00"
        );
        assert_eq!(
            Times::new(Some(parse_zone("UTC").expect("utc"))).show(t),
            "2026-11-22T10:00:00+00:00"
        );
        assert!(parse_zone("Mars/Olympus").is_err());
    }
}
