//! The status pages for the NOC wall, server-rendered with `maud` (compile-time templates that
//! escape every value): the wallboard at `/` (`/?wall=1` full screen: the banner and the
//! objects that need attention, in bigger type) and one page per incident
//! (`/incidents/{id}`).
//!
//! The wallboard reads one published board: each object's grade and its open incident come
//! from the same tick ([`crate::evaluator::Board::open_incidents`]), so they never disagree
//! unless they legitimately differ — clearing, held while isolated, a drill — and then both
//! are shown ([`agree`]). Grade names in Chinese with the English beside, in the plan's
//! colours; times in Beijing time with UTC beside. No external assets; the only script keeps
//! the escalation countdowns running, and the page reloads itself every 10 s.

pub mod agree;
mod call;
mod chrome;
mod incident;
mod spark;
mod wall;

use crate::clock::UnixMillis;
use crate::evaluator::Board;
use crate::incident::Incident;
use crate::stats::Trends;
use maud::html;

pub use agree::{reconcile, rows, Agreement, Row};
pub use incident::{render_incident, render_not_found};
pub use wall::worst;

/// What the wallboard shows.
#[derive(Debug, Clone, Copy)]
pub struct WallInput<'a> {
    /// The latest published board, with the ledger's open incidents of the same tick.
    pub board: &'a Board,
    /// Each object's last hour.
    pub trends: &'a Trends,
    /// The incidents resolved in the last 30 days, newest first.
    pub resolved: &'a [Incident],
    /// The time of the page (the daemon's clock).
    pub now: UnixMillis,
    /// The rules' `clear_after`: a clearing incident resolves that long after it began to.
    pub clear_after_ms: u64,
    /// Full-screen mode: only what needs attention, bigger type, no history.
    pub wall: bool,
    /// The configuration in force: the contacts of each lead authority.
    pub config: &'a crate::config::Config,
}

/// Renders the wallboard.
pub fn render(input: &WallInput<'_>) -> String {
    let board = input.board;
    let rows = rows(board, input.clear_after_ms);
    let title = match wall::worst(board) {
        Some(l) => format!("{} {} — dnsgrade", l.zh(), l.roman()),
        None => "正常 OK — dnsgrade".to_string(),
    };
    let (shown, calm): (Vec<&Row<'_>>, Vec<&Row<'_>>) = rows
        .iter()
        .partition(|r| !input.wall || r.severity().is_some() || r.incident.is_some());
    let body = html! {
        (wall::isolation(board))
        (wall::banner(board, &rows, input.now))
        main {
            h2 { "对象 Objects (" (rows.len()) ")" }
            section.cards id="objects" {
                @for r in &shown { (wall::card(r, input.trends, input.now, input.config)) }
            }
            @if !calm.is_empty() {
                p.ok id="calm" { "其余 " (calm.len()) " 个对象正常 " (calm.len()) " other objects OK" }
            }
            (wall::open_incidents(&board.open_incidents))
            @if !input.wall { (wall::resolved(input.resolved)) }
        }
        footer.muted {
            span id="vantage" {
                "监测点 vantage: " (input.config.daemon.vantage.name)
                @if let Some(r) = &input.config.daemon.vantage.region { " · " (r) }
                @if let Some(n) = &input.config.daemon.vantage.network { " · " (n) }
            }
            " · "
            @if input.wall { a href="/" { "标准视图 standard view" } } @else { a href="/?wall=1" { "全屏墙 wall mode" } }
            " · JSON: " a href="/api/v1/status" { "/api/v1/status" } " · "
            a href="/api/v1/incidents" { "/api/v1/incidents" } " · " a href="/metrics" { "/metrics" }
        }
    };
    chrome::page(&title, input.wall, input.now, body).into_string()
}

#[cfg(test)]
mod tests;
