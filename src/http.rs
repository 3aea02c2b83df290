//! The HTTP server: `/metrics`, `/healthz`, `/api/v1/status`.

use crate::daemon::Shared;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The router over the daemon's shared state.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/api/v1/status", get(status))
        .with_state(shared)
}

/// Serves until `cancel` fires.
pub async fn serve(listener: tokio::net::TcpListener, shared: Shared, cancel: CancellationToken) {
    let app = router(shared);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
    {
        tracing::error!(error = %e, "HTTP server failed");
    }
}

async fn metrics(State(s): State<Shared>) -> Response {
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

async fn healthz() -> &'static str {
    "ok\n"
}

async fn status(State(s): State<Shared>) -> Response {
    let now = s.clock.now_ms();
    let servers = s.status(now);
    let resolve = s.resolve.lock().map(|r| r.clone()).unwrap_or_default();
    Json(json!({
        "now_ms": now,
        "probes_in_flight": s.prober.in_flight(),
        "servers": servers,
        "resolution": resolve,
    }))
    .into_response()
}
