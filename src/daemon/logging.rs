//! Logging set-up: where events go and how they are written.
//!
//! Every event goes to stderr, filtered by `DNSGRADE_LOG` (tracing's filter syntax, e.g.
//! `info`, `warn,dnsgrade::alert=debug`; default `info`), as text or as one JSON object a line
//! (`--log-format json` or `DNSGRADE_LOG_FORMAT=json`). Colour only when stderr is a terminal
//! and `NO_COLOR` is unset or empty (<https://no-color.org>), so a journal or a redirected file
//! never gets escape codes.
//!
//! One event goes to stdout instead, whatever the filter: the readiness event of `dnsgrade run`
//! ([`ready`], target [`READY_TARGET`], message `listening`, field `http` = the URL of the bound
//! HTTP address), written in the same format. Scripts and tests wait for it and read the
//! address from it; stdout carries nothing else.

use std::io::IsTerminal;
use std::net::SocketAddr;
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "DNSGRADE_LOG";
/// The environment variable holding the log format (`text` or `json`).
pub const LOG_FORMAT_ENV: &str = "DNSGRADE_LOG_FORMAT";
/// The target of the readiness event, the only one written to stdout.
pub const READY_TARGET: &str = "dnsgrade::ready";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines: time, level, target, message, fields.
    #[default]
    Text,
    /// One JSON object per line with `timestamp`, `level`, `target`, `message` and the event's
    /// fields at the top level.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format {other:?}: text or json")),
        }
    }
}

impl LogFormat {
    /// The format from `flag`, else from `DNSGRADE_LOG_FORMAT`, else text. A bad value in the
    /// environment is an error, like a bad flag.
    pub fn resolve(flag: Option<LogFormat>) -> Result<LogFormat, String> {
        match (flag, std::env::var(LOG_FORMAT_ENV)) {
            (Some(f), _) => Ok(f),
            (None, Ok(v)) if !v.is_empty() => {
                v.parse().map_err(|e| format!("{LOG_FORMAT_ENV}: {e}"))
            }
            _ => Ok(LogFormat::Text),
        }
    }
}

/// Whether a stream may get ANSI colour: a terminal, and `NO_COLOR` unset or empty.
pub fn colour(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// One fmt layer in `format` on `writer`.
fn layer<W>(format: LogFormat, writer: W, ansi: bool) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => base.boxed(),
        LogFormat::Json => base.json().flatten_event(true).boxed(),
    }
}

/// Installs the global subscriber: every event but the readiness one to stderr through
/// `DNSGRADE_LOG`, the readiness event to stdout.
pub fn init(format: LogFormat) {
    let no_color = std::env::var_os("NO_COLOR");
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    let not_ready = filter_fn(|m| m.target() != READY_TARGET);
    let stderr = layer(
        format,
        std::io::stderr,
        colour(std::io::stderr().is_terminal(), no_color.as_deref()),
    )
    .with_filter(not_ready.and(filter))
    .boxed();
    let stdout = layer(
        format,
        std::io::stdout,
        colour(std::io::stdout().is_terminal(), no_color.as_deref()),
    )
    .with_filter(Targets::new().with_target(READY_TARGET, tracing::Level::INFO))
    .boxed();
    tracing_subscriber::registry()
        .with(vec![stderr, stdout])
        .init();
}

/// The readiness event: the HTTP address is bound and every service has started.
pub fn ready(http: SocketAddr) {
    tracing::info!(target: READY_TARGET, http = %format_args!("http://{http}"), "listening");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }

    #[test]
    fn formats_parse_by_name() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!("text".parse(), Ok(LogFormat::Text));
        assert!("yaml".parse::<LogFormat>().is_err());
        assert_eq!(
            LogFormat::resolve(Some(LogFormat::Json)),
            Ok(LogFormat::Json)
        );
    }
}
