//! Human durations in config files: `"10s"`, `"250ms"`, `"5m"`, `"1h30m"`, or a bare number
//! of seconds. Written either way, a duration is at most [`MAX_DURATION`] (366 days): a larger
//! one is always a mistake, and a huge one would overflow the clocks it is added to.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::time::Duration;

/// The longest duration a config or rules file may write, as a string or as a number of
/// seconds: 366 days.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 86_400);

/// A duration written the way operators write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

/// Written the way [`parse_duration`] reads it: `1d`, `1h30m`, `10s`, `250ms`, `1s500ms`
/// (`0s` for zero; below a millisecond is dropped).
impl std::fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        let mut rest = ms;
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
            ("ms", 1),
        ] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

/// Parses `"1h30m"`, `"10s"`, `"250ms"`, `"2d"`, `"0.5s"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(
            "a duration is empty; write it like \"10s\", \"250ms\", \"5m\" or \"1h\"".into(),
        );
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "\"{s}\" is not a duration: expected a number before the unit"
            ));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("\"{s}\" is not a duration: bad number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "" => {
                return Err(format!(
                    "\"{s}\" has no unit: write ms, s, m, h or d (for example \"10s\")"
                ))
            }
            other => {
                return Err(format!(
                    "\"{s}\" has an unknown unit \"{other}\": use ms, s, m, h or d"
                ))
            }
        };
        total += value * scale;
    }
    if !total.is_finite() || total > MAX_DURATION.as_secs_f64() {
        return Err(format!("\"{s}\" is longer than a year"));
    }
    Ok(Duration::from_secs_f64(total))
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a duration like \"10s\", \"250ms\", \"5m\", \"1h\", or seconds as a number",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                parse_duration(v).map(HumanDuration).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom("a duration cannot be negative")),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<HumanDuration, E> {
                if v > MAX_DURATION.as_secs() {
                    return Err(E::custom(format!(
                        "{v} seconds is longer than a year; write durations like \"30s\", \"5m\" or \"1d\""
                    )));
                }
                Ok(HumanDuration(Duration::from_secs(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<HumanDuration, E> {
                if !(0.0..=MAX_DURATION.as_secs_f64()).contains(&v) {
                    return Err(E::custom(
                        "a duration must be between 0 and a year; write it like \"30s\" or \"1d\"",
                    ));
                }
                Ok(HumanDuration(Duration::from_secs_f64(v)))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0.5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172800));
    }

    #[test]
    fn displays_as_operators_write_and_reads_back() {
        for (ms, text) in [
            (0, "0s"),
            (250, "250ms"),
            (10_000, "10s"),
            (1_500, "1s500ms"),
            (5_400_000, "1h30m"),
            (86_400_000, "1d"),
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(HumanDuration(d).to_string(), text);
            assert_eq!(parse_duration(text).unwrap(), d, "{text}");
        }
    }

    #[test]
    fn rejects_nonsense() {
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("10x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("999999d").is_err());
    }
}
