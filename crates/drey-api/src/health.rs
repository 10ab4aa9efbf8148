//! Liveness, readiness and metrics endpoints.

use crate::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// `/healthz` and `/readyz`: open to anyone (probes carry no token).
pub fn probes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `/metrics`: behind authentication like the API (it names every tenant's
/// objects).
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Ready when the store answers. Every replica serves the API; the body says
/// which one runs the reconcilers (`leader`), when this one takes part.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.core.ready().await {
        Ok(()) => {
            let mut body = serde_json::Map::new();
            body.insert("status".into(), "ready".into());
            if let Some(leadership) = state.core.leadership() {
                body.insert("replica".into(), leadership.replica().into());
                body.insert("leader".into(), leadership.is_leader().into());
            }
            axum::Json(body).into_response()
        }
        Err(e) => crate::error::rest_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    if let Some(leadership) = state.core.leadership() {
        state
            .metrics
            .set_leader(leadership.replica(), leadership.is_leader());
    }
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}
