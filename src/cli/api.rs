//! A typed client of the daemon's incident API: the request and answer bodies are the
//! server's own types ([`crate::http::wire`], [`crate::incident`]).

use super::exit;
use crate::http::wire::{
    ByBody, CauseBody, DrillBody, DrillEvents, DrillList, ErrorAnswer, EventAnswer, IncidentList,
    ListQuery, MaintenanceBody, MaintenanceId, MaintenanceList, ReasonBody,
};
use crate::incident::{IncidentDetail, IncidentEvent};
use serde::de::DeserializeOwned;

/// How long one API call may take.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiCallError {
    /// An argument is wrong; nothing was sent.
    #[error("{0}")]
    Usage(String),
    /// The daemon could not be reached.
    #[error("cannot reach the dnsgrade API at {api}: {source}")]
    Unreachable {
        /// Base URL.
        api: String,
        /// Cause.
        source: reqwest::Error,
    },
    /// The daemon answered with an error.
    #[error("the API answered {status}: {reason}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The reason it gave.
        reason: String,
    },
    /// The daemon answered something this client cannot read (another version, or not
    /// dnsgrade at that address).
    #[error("the API at {api} answered {status} with a body this version cannot read: {reason}")]
    Unreadable {
        /// Base URL.
        api: String,
        /// HTTP status.
        status: u16,
        /// What did not decode.
        reason: String,
    },
}

impl ApiCallError {
    /// The exit code for this failure ([`exit`]): only a daemon that cannot be reached is
    /// 69; an answer is classed by its HTTP status.
    pub fn exit_code(&self) -> u8 {
        match self {
            ApiCallError::Usage(_) => exit::USAGE,
            ApiCallError::Unreachable { .. } => exit::UNAVAILABLE,
            ApiCallError::Refused { status, .. } => match status {
                401 | 403 => exit::NO_PERMISSION,
                404 => exit::NOT_FOUND,
                500.. => exit::SERVER_ERROR,
                _ => exit::USAGE,
            },
            ApiCallError::Unreadable { .. } => exit::PROTOCOL,
        }
    }
}

/// A client of one daemon's API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl ApiClient {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:9553`), sending `token` as the
    /// bearer token of writes.
    pub fn new(base: &str, token: Option<&str>) -> Result<ApiClient, ApiCallError> {
        let base = base.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|source| ApiCallError::Unreachable {
                api: base.clone(),
                source,
            })?;
        Ok(ApiClient {
            base,
            token: token.map(str::to_string),
            http,
        })
    }

    /// `GET /api/v1/incidents`.
    pub async fn incidents(&self, query: &ListQuery) -> Result<IncidentList, ApiCallError> {
        self.call(self.http.get(self.url("/api/v1/incidents")).query(query))
            .await
    }

    /// `GET /api/v1/incidents/{id}`: the incident with its timeline.
    pub async fn incident(&self, id: i64) -> Result<IncidentDetail, ApiCallError> {
        self.call(self.http.get(self.url(&format!("/api/v1/incidents/{id}"))))
            .await
    }

    /// `POST /api/v1/incidents/{id}/ack`.
    pub async fn acknowledge(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
    ) -> Result<IncidentEvent, ApiCallError> {
        let body = ByBody {
            by: by.to_string(),
            note: note.map(str::to_string),
        };
        self.event(&format!("/api/v1/incidents/{id}/ack"), &body)
            .await
    }

    /// `POST /api/v1/incidents/{id}/confirm-impact`.
    pub async fn confirm_impact(&self, id: i64, by: &str) -> Result<IncidentEvent, ApiCallError> {
        let body = ByBody {
            by: by.to_string(),
            note: None,
        };
        self.event(&format!("/api/v1/incidents/{id}/confirm-impact"), &body)
            .await
    }

    /// `POST /api/v1/incidents/{id}/false-positive`.
    pub async fn mark_false_positive(
        &self,
        id: i64,
        reason: &str,
    ) -> Result<IncidentEvent, ApiCallError> {
        let body = ReasonBody {
            reason: reason.to_string(),
        };
        self.post(&format!("/api/v1/incidents/{id}/false-positive"), &body)
            .await
            .map(|a: EventAnswer| a.event)
    }

    /// `POST /api/v1/incidents/{id}/cause`.
    pub async fn set_cause(&self, id: i64, text: &str) -> Result<IncidentEvent, ApiCallError> {
        let body = CauseBody {
            text: text.to_string(),
        };
        self.post(&format!("/api/v1/incidents/{id}/cause"), &body)
            .await
            .map(|a: EventAnswer| a.event)
    }

    /// `POST /api/v1/incidents/{id}/{action}` with `body`: one of the record's writes
    /// (`result`, `organisations`, `reported`, `coordinator-confirmed`, `receipt`), answered
    /// by the event it wrote.
    pub async fn record<B: serde::Serialize>(
        &self,
        id: i64,
        action: &str,
        body: &B,
    ) -> Result<IncidentEvent, ApiCallError> {
        self.post(&format!("/api/v1/incidents/{id}/{action}"), body)
            .await
            .map(|a: EventAnswer| a.event)
    }

    /// `GET /api/v1/report`: the periodic report of a period.
    pub async fn report(
        &self,
        query: &crate::http::wire::ReportQuery,
    ) -> Result<crate::report::Report, ApiCallError> {
        self.call(self.http.get(self.url("/api/v1/report")).query(query))
            .await
    }

    /// `GET /api/v1/maintenance`: the windows that have not ended.
    pub async fn maintenance(&self) -> Result<MaintenanceList, ApiCallError> {
        self.call(self.http.get(self.url("/api/v1/maintenance")))
            .await
    }

    /// `POST /api/v1/maintenance`: declares a window; answers its id.
    pub async fn declare_maintenance(
        &self,
        body: &MaintenanceBody,
    ) -> Result<MaintenanceId, ApiCallError> {
        self.post("/api/v1/maintenance", body).await
    }

    /// `POST /api/v1/maintenance/{id}/end`: ends a window now (deletes one not yet begun).
    pub async fn end_maintenance(&self, id: i64) -> Result<MaintenanceId, ApiCallError> {
        self.post(
            &format!("/api/v1/maintenance/{id}/end"),
            &serde_json::json!({}),
        )
        .await
    }

    /// `GET /api/v1/drills`.
    pub async fn drills(&self) -> Result<DrillList, ApiCallError> {
        self.call(self.http.get(self.url("/api/v1/drills"))).await
    }

    /// `POST /api/v1/drills`.
    pub async fn start_drill(&self, body: &DrillBody) -> Result<DrillEvents, ApiCallError> {
        let req = self.http.post(self.url("/api/v1/drills")).json(body);
        self.call(self.authorized(req)).await
    }

    /// `POST /api/v1/drills/{id}/end`.
    pub async fn end_drill(&self, id: i64, by: &str) -> Result<IncidentEvent, ApiCallError> {
        let body = ByBody {
            by: by.to_string(),
            note: None,
        };
        self.event(&format!("/api/v1/drills/{id}/end"), &body).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorized(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// A write answered by one event.
    async fn event(&self, path: &str, body: &ByBody) -> Result<IncidentEvent, ApiCallError> {
        let a: EventAnswer = self.post(path, body).await?;
        Ok(a.event)
    }

    /// A token-protected write of `body` to `path`.
    async fn post<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiCallError> {
        let req = self.authorized(self.http.post(self.url(path)).json(body));
        self.call(req).await
    }

    /// Sends `req` and decodes the answer: the typed body on success, the error's reason on a
    /// 4xx or 5xx. Once a status line has arrived the daemon was reached: a failure after it
    /// is never reported as "cannot reach".
    async fn call<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ApiCallError> {
        let resp = req
            .send()
            .await
            .map_err(|source| ApiCallError::Unreachable {
                api: self.base.clone(),
                source,
            })?;
        let status = resp.status().as_u16();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) if status >= 400 => {
                return Err(ApiCallError::Refused {
                    status,
                    reason: format!("the error body was cut off: {e}"),
                })
            }
            Err(e) => {
                return Err(ApiCallError::Unreadable {
                    api: self.base.clone(),
                    status,
                    reason: format!("the body was cut off: {e}"),
                })
            }
        };
        if status >= 400 {
            let reason = serde_json::from_slice::<ErrorAnswer>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| plain_reason(&bytes));
            return Err(ApiCallError::Refused { status, reason });
        }
        serde_json::from_slice(&bytes).map_err(|e| ApiCallError::Unreadable {
            api: self.base.clone(),
            status,
            reason: e.to_string(),
        })
    }
}

/// The reason of an error answer that is not the API's JSON (a proxy's page, a crash): its
/// first line, shortened.
fn plain_reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    match line {
        None => "no reason given".to_string(),
        Some(l) if l.chars().count() > 200 => {
            format!("{}…", l.chars().take(200).collect::<String>())
        }
        Some(l) => l.to_string(),
    }
}
