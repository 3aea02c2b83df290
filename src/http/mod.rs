//! The HTTP server: `/metrics`, `/healthz` (the process is alive), `/readyz` (its output can be
//! trusted: see `crate::state::health`), `/api/v1/status`, the incident API, and
//! `POST /-/reload`.
//!
//! Reads are open (bind the daemon to loopback or put it behind a proxy), except the roster of
//! contacts, `GET /api/v1/contacts`, which is personal data and needs the token. Writes — ack,
//! confirm-impact, false-positive, cause, the record (result, organisations, reported,
//! coordinator-confirmed, receipt), maintenance (declare, end) — need `Authorization: Bearer <token>`
//! with the `api_token` of the config, compared in constant time; without a configured token
//! the write API is off (403). A bad request body is a 400 with a reason.
//!
//! Every request passes [`guard`] (docs/operations.md, "HTTP limits"): a body must be JSON
//! (`Content-Type: application/json`, else 415), at most 64 KiB (413) and arrive within 10 s
//! (408); in it no text may exceed 4,096 characters and `by` 128 (400). The listener's own
//! limits (connections, header deadline) are in [`serve`].

mod contacts;
mod record;
mod serve;
pub mod wire;

pub use serve::{raise_nofile, Limits};

use record::{coordinator_confirmed, organisations, receipt, report, reported, result};

use crate::incident::{ListFilter, StateFilter, StoreError};
use crate::state::Shared;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use wire::{
    ByBody, CauseBody, ConfirmedBody, DrillBody, DrillEvents, ErrorAnswer, EventAnswer,
    IncidentList, ListQuery, MaintenanceBody, MaintenanceId, MaintenanceList, OrganisationsBody,
    ReasonBody, ReceiptBody, ReportedBody, ResultBody,
};

/// The router over the daemon's shared state.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/incidents/{id}", get(incident_page))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status))
        .route("/api/v1/contacts", get(contacts::contacts))
        .route("/api/v1/incidents", get(list_incidents))
        .route("/api/v1/incidents/{id}", get(get_incident))
        .route("/api/v1/incidents/{id}/ack", post(ack))
        .route(
            "/api/v1/incidents/{id}/confirm-impact",
            post(confirm_impact),
        )
        .route(
            "/api/v1/incidents/{id}/false-positive",
            post(false_positive),
        )
        .route("/api/v1/incidents/{id}/cause", post(cause))
        .route("/api/v1/incidents/{id}/result", post(result))
        .route("/api/v1/incidents/{id}/organisations", post(organisations))
        .route("/api/v1/incidents/{id}/reported", post(reported))
        .route(
            "/api/v1/incidents/{id}/coordinator-confirmed",
            post(coordinator_confirmed),
        )
        .route("/api/v1/incidents/{id}/receipt", post(receipt))
        .route(
            "/api/v1/maintenance",
            get(list_maintenance).post(declare_maintenance),
        )
        .route("/api/v1/maintenance/{id}/end", post(end_maintenance))
        .route("/api/v1/outbox", get(outbox))
        .route("/api/v1/report", get(report))
        .route("/api/v1/drills", get(list_drills).post(start_drill))
        .route("/api/v1/drills/{id}/end", post(end_drill))
        .route("/-/reload", post(reload))
        .layer(axum::middleware::from_fn(guard))
        .with_state(shared)
}

/// Serves until `cancel` fires, within `limits`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Shared,
    cancel: CancellationToken,
    limits: Limits,
) {
    serve::serve(listener, shared, cancel, limits).await;
}

/// The largest request body accepted (the largest write, a result with its text, is a few KiB).
const MAX_BODY: usize = 64 * 1024;
/// A request body must have arrived within this.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The longest text accepted in any field of a body, in characters.
const MAX_TEXT: usize = 4096;
/// The longest `by` (a person's name or handle), in characters.
const MAX_BY: usize = 128;

/// Checks every request before its handler: a body is JSON, bounded in size and read within
/// [`BODY_TIMEOUT`] here, so no handler waits on a client that trickles.
async fn guard(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = req.into_parts();
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let has_body =
        announced.is_some_and(|n| n > 0) || parts.headers.contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return next
            .run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::empty(),
            ))
            .await;
    }
    if !is_json(&parts.headers) {
        return ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a request body must be JSON (Content-Type: application/json)".into(),
        )
        .into_response();
    }
    if announced.is_some_and(|n| n > MAX_BODY as u64) {
        return too_large();
    }
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await
    {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return too_large(),
        Err(_) => {
            return ApiError(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            )
            .into_response()
        }
    };
    next.run(axum::extract::Request::from_parts(parts, bytes.into()))
        .await
}

fn too_large() -> Response {
    ApiError(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("a request body may be at most {} KiB", MAX_BODY / 1024),
    )
    .into_response()
}

/// `application/json`, or a `+json` type, with any parameters, in any case.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// An API error: status and a plain reason.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorAnswer { error: self.1 })).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Conflict(_) => StatusCode::CONFLICT,
            StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(code, e.to_string())
    }
}

type ApiResult = Result<Response, ApiError>;

async fn metrics(State(s): State<Shared>) -> Response {
    s.sync_prober();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

/// `GET /`, `GET /?wall=1`: the wallboard. The objects and their open incidents come from one
/// published board (the ledger as the tick that graded them left it); only the resolved list
/// of the last 30 days is read from the ledger here.
async fn status_page(State(s): State<Shared>, Query(q): Query<WallQuery>) -> Response {
    const DAYS_30_MS: u64 = 30 * 86_400_000;
    let now = s.clock.now_ms();
    let board = s.board.lock().map(|b| b.clone()).unwrap_or_default();
    let trends = crate::state::lock(&s.trends).clone();
    let clear_after_ms = s.rules.load().measure.clear_after.as_millis() as u64;
    let store = s.incidents.clone();
    let resolved = tokio::task::spawn_blocking(move || {
        store.list(&ListFilter {
            state: StateFilter::Resolved,
            since: Some(now.saturating_sub(DAYS_30_MS)),
            include_drill: true,
            limit: Some(200),
            without_evidence: true,
            ..ListFilter::default()
        })
    })
    .await
    .ok()
    .and_then(|r| r.ok())
    .unwrap_or_default();
    let page = crate::status_page::render(&crate::status_page::WallInput {
        board: &board,
        trends: &trends,
        resolved: &resolved,
        now,
        clear_after_ms,
        wall: q.wall.as_deref().is_some_and(|w| w != "0" && w != "false"),
        config: &s.config.load(),
    });
    axum::response::Html(page).into_response()
}

/// The wallboard's query: `wall=1` for the full-screen mode.
#[derive(Debug, serde::Deserialize)]
struct WallQuery {
    wall: Option<String>,
}

/// `GET /incidents/{id}`: one incident's page with its timeline and evidence.
async fn incident_page(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let now = s.clock.now_ms();
    let clear_after_ms = s.rules.load().measure.clear_after.as_millis() as u64;
    let detail = match id.parse::<i64>() {
        Ok(n) => {
            let store = s.incidents.clone();
            tokio::task::spawn_blocking(move || store.get(n))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
        }
        Err(_) => Ok(None),
    };
    match detail {
        Ok(Some(d)) => axum::response::Html(crate::status_page::render_incident(
            &d,
            now,
            clear_after_ms,
            &s.config.load(),
        ))
        .into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            axum::response::Html(crate::status_page::render_not_found(&id, now)),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when every readiness check holds, else 503; the body names each check
/// (`crate::state::health`).
async fn readyz(State(s): State<Shared>) -> Response {
    let r = s
        .health
        .readiness(s.clock.now_ms(), s.config.load().daemon.tick);
    let code = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(r)).into_response()
}

async fn status(State(s): State<Shared>) -> Response {
    /// The document, serialized straight from the daemon's own values: no intermediate JSON
    /// tree, which at 10,000 servers would cost many times the size of the answer.
    #[derive(serde::Serialize)]
    struct Monitor {
        vantage: crate::config::VantageIdentity,
        isolated: bool,
        control_addresses: usize,
        control_failing: usize,
        local_fault: bool,
        local_fault_addresses: usize,
        probed_addresses: usize,
        local_errors: u64,
        probes_in_flight: usize,
        samples_in_flight: u64,
    }
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        now_ms: u64,
        evaluated_at_ms: u64,
        monitor: Monitor,
        objects: &'a [crate::evaluator::ObjectStatus],
        servers: &'a [crate::state::ServerStatus],
        resolution: &'a std::collections::BTreeMap<String, crate::state::ResolveState>,
        contacts: serde_json::Value,
    }
    let now = s.clock.now_ms();
    let servers = s.status(now);
    let resolve = s.resolve.lock().map(|r| r.clone()).unwrap_or_default();
    let board = s.board.lock().map(|b| b.clone()).unwrap_or_default();
    let doc = Doc {
        now_ms: now,
        evaluated_at_ms: board.at,
        monitor: Monitor {
            vantage: s.config.load().daemon.vantage.clone(),
            isolated: board.isolated,
            control_addresses: board.control_addresses,
            control_failing: board.control_failing,
            local_fault: board.local_fault,
            local_fault_addresses: board.local_fault_addresses,
            probed_addresses: board.probed_addresses,
            local_errors: s
                .prober
                .counters()
                .local_errors
                .load(std::sync::atomic::Ordering::Relaxed),
            probes_in_flight: s.prober.in_flight(),
            samples_in_flight: s
                .prober
                .counters()
                .samples_in_flight
                .load(std::sync::atomic::Ordering::Relaxed),
        },
        objects: &board.objects,
        servers: &servers,
        resolution: &resolve,
        contacts: contacts::status_section(&s.config.load(), &s.rules.load(), now),
    };
    // Sized by the last answer: serializing 10,000 servers into a buffer that doubles its way
    // up would hold two copies at the end.
    let hint = s.status_len.load(std::sync::atomic::Ordering::Relaxed);
    let mut body = Vec::with_capacity(hint + hint / 16);
    if let Err(e) = serde_json::to_writer(&mut body, &doc) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    s.status_len
        .store(body.len(), std::sync::atomic::Ordering::Relaxed);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `GET /api/v1/outbox`: per sink its kind, URL (without credentials), filters and delivery
/// figures, and the most recent given-up deliveries. Secrets are never part of it.
async fn outbox(State(s): State<Shared>) -> ApiResult {
    let now = s.clock.now_ms();
    let alert = s.config.load().alert.clone();
    let store = s.incidents.clone();
    let v = tokio::task::spawn_blocking(move || -> Result<serde_json::Value, StoreError> {
        let mut sinks = Vec::new();
        for k in &alert.sinks {
            let sum = store.outbox_summary(&k.name)?;
            sinks.push(json!({
                "name": k.name,
                "kind": k.kind,
                "url": k.display_url(),
                "signed": k.secret.is_some(),
                "filter": k.filter,
                "pending": sum.pending,
                "delivered": sum.delivered,
                "given_up": sum.given_up,
                "pending_attempts": sum.pending_attempts,
                "oldest_pending_at": sum.oldest_pending_at,
                "oldest_pending_age_s": sum.oldest_pending_at.map(|t| now.saturating_sub(t.ms()) / 1000),
                "last_error": sum.last_error,
            }));
        }
        Ok(json!({
            "give_up_after_s": alert.give_up_after.as_secs(),
            "sinks": sinks,
            "given_up": store.outbox_given_up(100)?,
        }))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(v).into_response())
}

/// "1700000000000" (Unix ms) or RFC 3339 with any offset: "2026-11-22T10:00:00Z",
/// "2026-11-22T18:00:00+08:00".
fn parse_time(s: &str) -> Option<u64> {
    s.parse::<u64>()
        .ok()
        .or_else(|| crate::clock::parse_rfc3339(s))
}

/// A 400 for a time parameter that does not parse.
fn bad_time(what: &str, t: &str) -> ApiError {
    ApiError(
        StatusCode::BAD_REQUEST,
        format!("{what} \"{t}\" is neither Unix milliseconds nor an RFC 3339 time like 2026-11-22T10:00:00Z or 2026-11-22T18:00:00+08:00"),
    )
}

async fn list_incidents(State(s): State<Shared>, Query(q): Query<ListQuery>) -> ApiResult {
    let state = match q.state.as_deref() {
        None | Some("open") => StateFilter::Open,
        Some("all") => StateFilter::All,
        Some("resolved") => StateFilter::Resolved,
        Some(other) => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("state must be open, all or resolved, not \"{other}\""),
            ))
        }
    };
    let since = match q.since.as_deref() {
        None => None,
        Some(t) => Some(parse_time(t).ok_or_else(|| bad_time("since", t))?),
    };
    let filter = ListFilter {
        state,
        since,
        include_false_positive: q.include_false_positive.unwrap_or(false),
        include_drill: q.include_drill.unwrap_or(false),
        limit: q.limit,
        without_evidence: false,
    };
    let store = s.incidents.clone();
    let list = tokio::task::spawn_blocking(move || store.list(&filter))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(IncidentList { incidents: list }).into_response())
}

fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>().map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("incident id \"{id}\" is not a number"),
        )
    })
}

async fn get_incident(State(s): State<Shared>, Path(id): Path<String>) -> ApiResult {
    let id = parse_id(&id)?;
    let store = s.incidents.clone();
    let (now, ack_within) = (s.clock.now_ms(), s.config.load().daemon.ack_within);
    match tokio::task::spawn_blocking(move || store.detail(id, now, ack_within))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??
    {
        Some(d) => Ok(Json(d).into_response()),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("incident {id} not found"),
        )),
    }
}

/// `POST /-/reload` (bearer token): re-reads `probes.toml` and the rules, as SIGHUP does, and
/// answers with what the reload did. 200 when applied or unchanged; 422 when the files are
/// invalid or differ in a setting that needs a restart (the body lists why; the old
/// configuration keeps running); 503 when the daemon was not started from files or is
/// stopping.
async fn reload(State(s): State<Shared>, headers: HeaderMap) -> ApiResult {
    use crate::state::ReloadResult;
    authorize(&s, &headers)?;
    let unavailable = |m: &str| ApiError(StatusCode::SERVICE_UNAVAILABLE, m.to_string());
    let Some(tx) = s.reload.get() else {
        return Err(unavailable(
            "this daemon was not started from files: there is nothing to re-read",
        ));
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    tx.send(reply)
        .await
        .map_err(|_| unavailable("the daemon is stopping"))?;
    let outcome = answer
        .await
        .map_err(|_| unavailable("the daemon is stopping"))?;
    let status = match outcome.result {
        ReloadResult::Applied | ReloadResult::Unchanged => StatusCode::OK,
        ReloadResult::Invalid | ReloadResult::RestartRequired => StatusCode::UNPROCESSABLE_ENTITY,
    };
    Ok((status, Json(outcome)).into_response())
}

/// The token of an `Authorization: Bearer <token>` header, or "". The scheme is
/// case-insensitive (RFC 7235): "bearer" is "Bearer".
fn bearer_token(headers: &HeaderMap) -> &str {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, t)| t.trim())
}

/// Checks the bearer token in constant time.
fn authorize(s: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    use subtle::ConstantTimeEq;
    let Some(token) = &s.api_token else {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "the write API is disabled: set api_token in [daemon]".into(),
        ));
    };
    let given = bearer_token(headers);
    // subtle compares equal-length slices in constant time (only the length can leak).
    if !given.is_empty() && bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token".into(),
        ))
    }
}

/// Parses a JSON body, turning every problem into a 400 with the reason: bad JSON, a text over
/// [`MAX_TEXT`] characters anywhere in it, a `by` over [`MAX_BY`].
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bad = |e: String| ApiError(StatusCode::BAD_REQUEST, format!("bad request body: {e}"));
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    texts_fit(&v, None).map_err(bad)?;
    serde_json::from_value(v).map_err(|e| bad(e.to_string()))
}

/// Every string in `v` (keys too) within its limit; `field` is the key `v` is the value of.
fn texts_fit(v: &serde_json::Value, field: Option<&str>) -> Result<(), String> {
    use serde_json::Value;
    let limit = |f: Option<&str>| if f == Some("by") { MAX_BY } else { MAX_TEXT };
    match v {
        Value::String(t) if t.chars().count() > limit(field) => Err(format!(
            "\"{}\" is longer than {} characters",
            field.unwrap_or("text"),
            limit(field)
        )),
        Value::Array(a) => a.iter().try_for_each(|x| texts_fit(x, field)),
        Value::Object(o) => o.iter().try_for_each(|(k, x)| {
            if k.chars().count() > MAX_BY {
                return Err(format!("a field name is longer than {MAX_BY} characters"));
            }
            texts_fit(x, Some(k))
        }),
        _ => Ok(()),
    }
}

async fn write<F, T>(s: &Shared, f: F) -> ApiResult
where
    F: FnOnce(&crate::incident::IncidentStore, u64) -> Result<T, StoreError> + Send + 'static,
    T: serde::Serialize + Send + 'static,
{
    let store = s.incidents.clone();
    let now = s.clock.now_ms();
    let v = tokio::task::spawn_blocking(move || f(&store, now))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(v).into_response())
}

/// A token-protected write on incident `id` that records one event: the token, the id and
/// the body (`B`, then `check`ed) are verified before `apply` runs on the ledger.
async fn incident_event<B, C, F>(
    s: &Shared,
    headers: &HeaderMap,
    id: &str,
    raw: &[u8],
    check: C,
    apply: F,
) -> ApiResult
where
    B: serde::de::DeserializeOwned + Send + 'static,
    C: FnOnce(&B) -> Result<(), ApiError>,
    F: FnOnce(
            &crate::incident::IncidentStore,
            i64,
            B,
            u64,
        ) -> Result<crate::incident::IncidentEvent, StoreError>
        + Send
        + 'static,
{
    authorize(s, headers)?;
    let id = parse_id(id)?;
    let b: B = body(raw)?;
    check(&b)?;
    write(s, move |st, now| {
        Ok(EventAnswer {
            event: apply(st, id, b, now)?,
        })
    })
    .await
}

/// A check that `by` names someone: `who` says what they do.
fn named(who: &'static str) -> impl FnOnce(&ByBody) -> Result<(), ApiError> {
    move |b| filled(&b.by, "by", &format!("name {who}"))
}

/// 400 unless `value` has text: `"field" must <what>`.
fn filled(value: &str, field: &str, what: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("\"{field}\" must {what}"),
        ))
    } else {
        Ok(())
    }
}

async fn ack(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    incident_event(
        &s,
        &headers,
        &id,
        &raw,
        named("who acknowledges"),
        |st, id, b: ByBody, now| st.acknowledge(id, b.by.trim(), b.note.as_deref(), now),
    )
    .await
}

async fn confirm_impact(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    incident_event(
        &s,
        &headers,
        &id,
        &raw,
        named("who confirms"),
        |st, id, b: ByBody, now| st.confirm_impact(id, b.by.trim(), now),
    )
    .await
}

async fn false_positive(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let check = |_: &ReasonBody| Ok(());
    incident_event(
        &s,
        &headers,
        &id,
        &raw,
        check,
        |st, id, b: ReasonBody, now| st.mark_false_positive(id, &b.reason, now),
    )
    .await
}

async fn cause(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    let check = |_: &CauseBody| Ok(());
    incident_event(
        &s,
        &headers,
        &id,
        &raw,
        check,
        |st, id, b: CauseBody, now| st.set_cause(id, &b.text, now),
    )
    .await
}

async fn list_maintenance(State(s): State<Shared>) -> ApiResult {
    write(&s, |st, now| {
        Ok(MaintenanceList {
            windows: st.maintenance_windows(now)?,
        })
    })
    .await
}

async fn declare_maintenance(
    State(s): State<Shared>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    authorize(&s, &headers)?;
    let b: MaintenanceBody = body(&raw)?;
    let starts = parse_time(&b.starts).ok_or_else(|| bad_time("starts", &b.starts))?;
    let ends = parse_time(&b.ends).ok_or_else(|| bad_time("ends", &b.ends))?;
    maintenance_fits(&s.config.load(), &b.object, starts, ends)?;
    write(&s, move |st, _| {
        Ok(MaintenanceId {
            id: st.declare_maintenance(&b.object, starts, ends, &b.reason)?,
        })
    })
    .await
}

/// The longest maintenance window the API takes: planned work, not a way to mute an object.
const MAX_MAINTENANCE: u64 = 30 * 86_400_000;

/// 400 unless `object` is configured (`class/name`) and the window is at most
/// [`MAX_MAINTENANCE`] long.
fn maintenance_fits(
    config: &crate::config::Config,
    object: &str,
    starts: crate::clock::UnixMillis,
    ends: crate::clock::UnixMillis,
) -> Result<(), ApiError> {
    let bad = |m: String| Err(ApiError(StatusCode::BAD_REQUEST, m));
    if !config
        .objects
        .iter()
        .any(|o| crate::grading::object_key(o).as_str() == object)
    {
        return bad(format!(
            "object {object:?} is not configured (write class/name, e.g. tld/cn)"
        ));
    }
    if ends.saturating_sub(starts) > MAX_MAINTENANCE {
        return bad("a maintenance window is at most 30 days long".to_string());
    }
    Ok(())
}

/// `POST /api/v1/maintenance/{id}/end`: ends the window now, or deletes it if it has not
/// begun; 404 for an unknown id. The body is ignored.
async fn end_maintenance(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&s, &headers)?;
    let id = id.parse::<i64>().map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("maintenance window id \"{id}\" is not a number"),
        )
    })?;
    let store = s.incidents.clone();
    let now = s.clock.now_ms();
    match tokio::task::spawn_blocking(move || store.end_maintenance(id, now))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    {
        Ok(()) => Ok(Json(MaintenanceId { id }).into_response()),
        Err(StoreError::NotFound(_)) => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("maintenance window {id} not found"),
        )),
        Err(e) => Err(e.into()),
    }
}

async fn list_drills(State(s): State<Shared>) -> ApiResult {
    let open = {
        let filter = ListFilter {
            state: StateFilter::Open,
            include_drill: true,
            ..ListFilter::default()
        };
        let store = s.incidents.clone();
        tokio::task::spawn_blocking(move || store.list(&filter))
            .await
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??
            .into_iter()
            .filter(|i| i.drill)
            .collect::<Vec<_>>()
    };
    Ok(Json(json!({ "scenarios": crate::drill::SCENARIOS, "open": open })).into_response())
}

async fn start_drill(
    State(s): State<Shared>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    authorize(&s, &headers)?;
    let b: DrillBody = body(&raw)?;
    if b.by.trim().is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "\"by\" must name who runs the drill".into(),
        ));
    }
    let scenario = crate::drill::scenario(&b.scenario)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    let (config, rules) = (s.config.load(), s.rules.load());
    let object = crate::drill::target(&config, scenario, b.object.as_deref())
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    let now = s.clock.now_ms();
    let assessment = crate::drill::assessment(scenario, object, &rules, now);
    let clear_after = rules.measure.clear_after;
    tracing::warn!(scenario = %scenario.name, object = %assessment.object, by = %b.by, "drill started");
    write(&s, move |st, now| {
        Ok(DrillEvents {
            events: st.apply_drill(&[assessment], now, clear_after)?,
        })
    })
    .await
}

async fn end_drill(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> ApiResult {
    authorize(&s, &headers)?;
    let id = parse_id(&id)?;
    let b: ByBody = body(&raw)?;
    let store = s.incidents.clone();
    let detail = tokio::task::spawn_blocking(move || store.get(id))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("incident {id} not found")))?;
    if !detail.incident.drill {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("incident {id} is not a drill"),
        ));
    }
    write(&s, move |st, now| {
        Ok(EventAnswer {
            event: st.resolve_manually(id, b.by.trim(), "end of drill", now)?,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, maintenance_fits, parse_time};

    #[test]
    fn maintenance_is_only_for_configured_objects_and_at_most_30_days() {
        let text = "[daemon]\nstate_dir = \"/tmp/x\"\n[[tld]]\nname = \"cn\"\n  [[tld.node]]\n  name = \"a\"\n  addresses = [\"127.0.0.1:5300\"]\n";
        let c = crate::config::parse(std::path::Path::new("t.toml"), text).expect("config");
        let day = 86_400_000;
        assert!(maintenance_fits(&c, "tld/cn", 0, 30 * day).is_ok());
        let e = maintenance_fits(&c, "tld/cn", 0, 30 * day + 1).expect_err("31 days");
        assert!(e.1.contains("30 days"), "{}", e.1);
        for object in ["../../etc/passwd", "tld/org", "cn", ""] {
            let e = maintenance_fits(&c, object, 0, day).expect_err(object);
            assert_eq!(e.0, axum::http::StatusCode::BAD_REQUEST);
            assert!(e.1.contains("not configured"), "{}", e.1);
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_nothing_else_is_a_token() {
        let with = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(
                axum::http::header::AUTHORIZATION,
                v.parse().expect("header"),
            );
            h
        };
        assert_eq!(bearer_token(&with("Bearer s3cret")), "s3cret");
        assert_eq!(bearer_token(&with("bearer s3cret")), "s3cret");
        assert_eq!(bearer_token(&with("BEARER  s3cret ")), "s3cret");
        assert_eq!(bearer_token(&with("Basic dXNlcjpwYXNz")), "");
        assert_eq!(bearer_token(&with("Bearers3cret")), "");
        assert_eq!(bearer_token(&axum::http::HeaderMap::new()), "");
    }

    #[test]
    fn times_parse_as_ms_or_rfc3339() {
        assert_eq!(parse_time("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-11-22T10:00:00Z"), Some(1_795_341_600_000));
        // Any offset: the same instant as 10:00 UTC.
        assert_eq!(
            parse_time("2026-11-22T18:00:00+08:00"),
            Some(1_795_341_600_000)
        );
        assert_eq!(
            parse_time("2026-11-22T05:00:00.250-05:00"),
            Some(1_795_341_600_250)
        );
        assert_eq!(parse_time("2026-13-22T10:00:00Z"), None);
        assert_eq!(parse_time("yesterday"), None);
    }
}
