//! A typed client of the daemon's incident API: the request and answer bodies are the
//! server's own types ([`crate::http::wire`], [`crate::incident`]).

use crate::http::wire::{
    ByBody, DrillBody, DrillEvents, DrillList, ErrorAnswer, EventAnswer, IncidentList, ListQuery,
};
use crate::incident::{IncidentDetail, IncidentEvent};
use serde::de::DeserializeOwned;

/// How long one API call may take.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why an API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiCallError {
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
        let req = self.authorized(self.http.post(self.url(path)).json(body));
        let a: EventAnswer = self.call(req).await?;
        Ok(a.event)
    }

    /// Sends `req` and decodes the answer: the typed body on success, the error's reason on a
    /// 4xx or 5xx.
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
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ApiCallError::Unreachable {
                api: self.base.clone(),
                source,
            })?;
        if status >= 400 {
            let reason = serde_json::from_slice::<ErrorAnswer>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| "no reason given".to_string());
            return Err(ApiCallError::Refused { status, reason });
        }
        serde_json::from_slice(&bytes).map_err(|e| ApiCallError::Unreadable {
            api: self.base.clone(),
            status,
            reason: e.to_string(),
        })
    }
}
