//! Liveness, readiness and metrics endpoints, and Prometheus service
//! discovery of the Flink clusters drey runs.

use crate::auth::Acting;
use crate::auth::Caller;
use crate::AppState;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use drey_control::access::{Need, Scope};

/// `/healthz` and `/readyz`: open to anyone (probes carry no token).
pub fn probes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `/metrics` and [`TARGETS_PATH`]: behind authentication like the API
/// (they name every tenant's objects).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route(TARGETS_PATH, get(targets))
}

/// Prometheus HTTP service discovery (`http_sd_configs`): the Prometheus
/// endpoint of every process of every running local cluster.
pub const TARGETS_PATH: &str = "/api/prometheus/v1/targets";

/// The organization whose figures a caller sees: its readers see its own,
/// a server administrator (and everyone without authentication) every
/// organization's; anyone else (a token for one environment) nothing: 403.
fn visible_org<'a>(
    state: &AppState,
    caller: &'a Caller,
) -> Result<Option<&'a str>, drey_model::Error> {
    let org = caller.0.org.as_str();
    state.core.allow(Need::Read, Scope::Organization(org))?;
    let everyone = state.core.allow(Need::Administer, Scope::Server).is_ok();
    Ok((!everyone).then_some(org))
}

/// `[{"targets": ["127.0.0.1:port"], "labels": {...}}]`, one group per
/// process, as Prometheus's HTTP SD expects.
async fn targets(Acting(state): Acting, caller: Caller) -> Response {
    let org = match visible_org(&state, &caller) {
        Ok(org) => org,
        Err(refused) => return crate::error::CmfError::from(refused).into_response(),
    };
    let observations = state.core.board().latest();
    let groups: Vec<serde_json::Value> = observations
        .targets
        .iter()
        .filter(|t| org.is_none_or(|o| o == t.organization))
        .map(|t| {
            serde_json::json!({
                "targets": [t.address],
                "labels": {
                    "drey_organization": t.organization,
                    "drey_cluster": t.cluster,
                    "drey_role": t.role,
                    "drey_index": t.index.to_string(),
                },
            })
        })
        .collect();
    axum::Json(groups).into_response()
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Ready when the store answers. Every replica serves the API; the body says
/// which one runs the reconcilers (`leader`), when this one takes part.
async fn readyz(Acting(state): Acting) -> Response {
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

async fn metrics(Acting(state): Acting, caller: Caller) -> Response {
    let org = match visible_org(&state, &caller) {
        Ok(org) => org,
        Err(refused) => return crate::error::CmfError::from(refused).into_response(),
    };
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
        state.metrics.encode(&state.core.board().latest(), org),
    )
        .into_response()
}
