//! `dnsgrade incidents result|organisations|reported|coordinator-confirmed|receipt`: the
//! record of the incident-coordination circular (docs/records.md), written through the API.

use super::api::{ApiCallError, ApiClient};
use super::time::{parse_instant, utc};
use crate::http::wire::{ConfirmedBody, OrganisationsBody, ReceiptBody, ReportedBody, ResultBody};
use crate::incident::IncidentEvent;

/// One write of the record.
#[derive(Debug, Clone)]
pub enum RecordCall {
    /// `result ID --text TEXT`.
    Result {
        /// Incident id.
        id: i64,
        /// The troubleshooting result.
        text: String,
    },
    /// `organisations ID --organisation A --organisation B`.
    Organisations {
        /// Incident id.
        id: i64,
        /// The organisations involved.
        organisations: Vec<String>,
    },
    /// `reported ID --to BODY --by NAME [--at TIME]`.
    Reported {
        /// Incident id.
        id: i64,
        /// The coordinating body.
        to: String,
        /// Who reported.
        by: String,
        /// When (default: now).
        at: Option<String>,
    },
    /// `coordinator-confirmed ID --by NAME [--at TIME]`.
    CoordinatorConfirmed {
        /// Incident id.
        id: i64,
        /// Who confirmed.
        by: String,
        /// When (default: now).
        at: Option<String>,
    },
    /// `receipt ID --organisation ORG [--by NAME] [--at TIME]`.
    Receipt {
        /// Incident id.
        id: i64,
        /// The receiver.
        organisation: String,
        /// Who recorded it.
        by: Option<String>,
        /// When (default: now).
        at: Option<String>,
    },
}

/// A typed `--at`, sent in UTC.
fn at(value: Option<String>) -> Result<Option<String>, ApiCallError> {
    value
        .map(|s| parse_instant("--at", &s).map(utc))
        .transpose()
        .map_err(ApiCallError::Usage)
}

/// Sends one write of the record; answers the event it wrote.
pub(super) async fn send(
    client: &ApiClient,
    call: RecordCall,
) -> Result<IncidentEvent, ApiCallError> {
    match call {
        RecordCall::Result { id, text } => client.record(id, "result", &ResultBody { text }).await,
        RecordCall::Organisations { id, organisations } => {
            let body = OrganisationsBody { organisations };
            client.record(id, "organisations", &body).await
        }
        RecordCall::Reported { id, to, by, at: t } => {
            let body = ReportedBody { to, by, at: at(t)? };
            client.record(id, "reported", &body).await
        }
        RecordCall::CoordinatorConfirmed { id, by, at: t } => {
            let body = ConfirmedBody { by, at: at(t)? };
            client.record(id, "coordinator-confirmed", &body).await
        }
        RecordCall::Receipt {
            id,
            organisation,
            by,
            at: t,
        } => {
            let body = ReceiptBody {
                organisation,
                by,
                at: at(t)?,
            };
            client.record(id, "receipt", &body).await
        }
    }
}
