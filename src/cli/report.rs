//! `dnsgrade report`: the periodic report of the incident-coordination circular, fetched from
//! the API (`GET /api/v1/report`) and written as HTML (printable to PDF), CSV or JSON.

use super::api::{ApiCallError, ApiClient};
use crate::http::wire::ReportQuery;

/// How `dnsgrade report` writes the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReportFormat {
    /// One HTML page with inline SVG charts, A4 landscape when printed.
    #[default]
    Html,
    /// One row per incident, with a header.
    Csv,
    /// The API's own body.
    Json,
}

/// Fetches the report of `from` to `to` (days in +08:00, both included) and formats it.
pub async fn report(
    api: &str,
    from: &str,
    to: &str,
    format: ReportFormat,
) -> Result<String, ApiCallError> {
    let client = ApiClient::new(api, None)?;
    let query = ReportQuery {
        from: from.to_string(),
        to: to.to_string(),
    };
    let r = client.report(&query).await?;
    Ok(match format {
        ReportFormat::Html => crate::report::html(&r),
        ReportFormat::Csv => crate::report::csv(&r),
        ReportFormat::Json => super::incidents::json(&r),
    })
}
