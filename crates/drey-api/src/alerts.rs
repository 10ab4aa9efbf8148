//! drey's alert API (an extension no dialect has): the alerts drey raised
//! and their deliveries to the receivers, newest first, of the caller's
//! organization (every organization's for a server administrator).
//!
//! - `GET /api/drey/v1/alerts[?status=firing|resolved][&limit=N]`
//! - `GET /api/drey/v1/alert-deliveries[?state=pending|delivered|abandoned][&limit=N]`
//! - `GET /api/drey/v1/environments/{env}/applications/{app}/health`: what the
//!   latest look at the application's job found (the figures the metrics and
//!   alerts come from) and its firing alerts, for the console.

use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::rest_error;
use crate::error::{CmfError, QueryOf};
use crate::AppState;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use axum_extra::extract::WithRejection;
use drey_control::observability::alerts::Alert;
use drey_control::observability::delivery::{DeliverySpec, DeliveryStatus};
use drey_control::observability::environment_receivers::ReceiverInput;
use drey_model::{Kind, Object};
use serde::Deserialize;
use serde_json::json;

/// The alert routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/drey/v1/alerts", get(alerts))
        .route("/api/drey/v1/alert-deliveries", get(deliveries))
        .route(
            "/api/drey/v1/environments/{env}/applications/{app}/health",
            get(application_health),
        )
        .route(
            "/api/drey/v1/environments/{env}/alert-receivers",
            get(environment_receivers).put(set_environment_receivers),
        )
}

/// `GET .../alert-receivers`: `{"receivers": [{"id", "kind", "signed"}]}`,
/// never a URL or secret.
async fn environment_receivers(
    Acting(state): Acting,
    caller: Caller,
    Path(env): Path<String>,
) -> Result<Response, CmfError> {
    let receivers = (state.core)
        .environment_receivers(&caller.0.org, &env)
        .await?;
    Ok(axum::Json(json!({ "receivers": receivers })).into_response())
}

/// `PUT .../alert-receivers` with `{"receivers": [{"kind": "webhook" |
/// "slack" | "alertmanager", "url": ..., "secret": ...}]}`: replaces them;
/// answers what `GET` does.
async fn set_environment_receivers(
    Acting(state): Acting,
    caller: Caller,
    Path(env): Path<String>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        receivers: Vec<ReceiverInput>,
    }
    let body: Body = serde_json::from_value(body).map_err(|e| {
        drey_model::Error::invalid(
            "receivers",
            format!("must be [{{\"kind\": \"webhook\", \"url\": ...}}, ...]: {e}"),
        )
    })?;
    let receivers = (state.core)
        .set_environment_receivers(&caller.0.org, &env, body.receivers)
        .await?;
    Ok(axum::Json(json!({ "receivers": receivers })).into_response())
}

/// The latest look at an application's job and its firing alerts; 404 for
/// an application the caller's organization does not have. The looks are
/// the leader's: a replica that does not lead says `NOT_LOOKED_AT`.
async fn application_health(
    Acting(state): Acting,
    caller: Caller,
    Path((env, app)): Path<(String, String)>,
) -> Response {
    use drey_control::observability::{JobLook, Subject, SubjectKind};
    if let Err(e) = state.core.get_application(&caller.0.org, &env, &app).await {
        return CmfError::from(e).into_response();
    }
    let subject = Subject {
        kind: SubjectKind::Application,
        organization: caller.0.org.clone(),
        environment: env.clone(),
        name: app.clone(),
    };
    let board = state.core.board().latest();
    let look = board
        .jobs
        .iter()
        .find(|(s, _)| *s == subject)
        .map(|(_, look)| look);
    let (look, message, figures) = match look {
        None => ("NOT_LOOKED_AT", None, None),
        Some(JobLook::Seen(f)) => (
            "SEEN",
            None,
            Some(json!({
                "jobId": f.job_id,
                "state": f.state,
                "restarts": f.restarts,
                "uptimeSeconds": f.uptime_seconds,
                "lastCheckpointAgeSeconds": f.last_checkpoint.as_ref().map(|c| c.age_seconds),
                "lastCheckpointDurationSeconds":
                    f.last_checkpoint.as_ref().map(|c| c.duration_seconds),
                "lastCheckpointSizeBytes": f.last_checkpoint.as_ref().map(|c| c.size_bytes),
                "checkpointsFailed": f.checkpoints_failed,
                "checkpointFailing": f.checkpoint_failing,
                "recordsInPerSecond": f.records_in_per_second,
                "recordsOutPerSecond": f.records_out_per_second,
                "busyRatio": f.busy_ratio,
                "backpressureRatio": f.backpressure_ratio,
            })),
        ),
        Some(JobLook::NotDeployed) => ("NOT_DEPLOYED", None, None),
        Some(JobLook::Failed { job_id, detail }) => (
            "FAILED",
            Some(detail.clone()),
            Some(json!({"jobId": job_id, "state": "FAILED"})),
        ),
        Some(JobLook::ClusterLost(why)) => ("CLUSTER_LOST", Some(why.clone()), None),
        Some(JobLook::NotAnswering(why)) => ("NOT_ANSWERING", Some(why.clone()), None),
        Some(JobLook::Unknown(why)) => ("UNKNOWN", Some(why.clone()), None),
    };
    let objects = match objects(&state, Kind::Alert).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut firing: Vec<Alert> = objects
        .into_iter()
        .filter_map(|o| serde_json::from_value::<Alert>(o.spec).ok())
        .filter(|a| {
            a.status.as_str() == "firing"
                && a.organization == subject.organization
                && a.environment == env
                && a.application == app
        })
        .collect();
    firing.sort_by_key(|a| std::cmp::Reverse(a.starts_at));
    let alerts: Vec<serde_json::Value> = firing
        .iter()
        .map(|a| {
            json!({"alert": a.alert, "severity": a.severity, "message": a.message,
                   "startsAt": a.starts_at.to_string()})
        })
        .collect();
    axum::Json(json!({
        "application": app,
        "environment": env,
        "observedAt": board.at.map(|t| t.to_string()),
        "look": look,
        "message": message,
        "figures": figures,
        "alerts": alerts,
    }))
    .into_response()
}

/// At most this many items unless `limit` says fewer.
const MAX_ITEMS: usize = 500;

#[derive(Debug, Deserialize)]
struct AlertQuery {
    status: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct DeliveryQuery {
    state: Option<String>,
    limit: Option<usize>,
}

fn bad_filter(name: &str, value: &str, allowed: &str) -> Response {
    rest_error(
        StatusCode::BAD_REQUEST,
        format!("query parameter '{name}' is '{value}'; it must be one of {allowed}"),
    )
}

async fn objects(state: &AppState, kind: Kind) -> Result<Vec<Object>, Response> {
    state
        .core
        .alert_records(kind)
        .await
        .map_err(|e| rest_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

async fn alerts(
    Acting(state): Acting,
    WithRejection(Query(query), _): QueryOf<AlertQuery, CmfError>,
) -> Response {
    if let Some(s) = query.status.as_deref() {
        if !matches!(s, "firing" | "resolved") {
            return bad_filter("status", s, "firing, resolved");
        }
    }
    let objects = match objects(&state, Kind::Alert).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut items: Vec<Alert> = objects
        .into_iter()
        .filter_map(|o| serde_json::from_value::<Alert>(o.spec).ok())
        .filter(|a| {
            query
                .status
                .as_deref()
                .is_none_or(|s| a.status.as_str() == s)
        })
        .collect();
    items.sort_by_key(|a| std::cmp::Reverse(a.ends_at.unwrap_or(a.starts_at)));
    items.truncate(query.limit.unwrap_or(MAX_ITEMS).min(MAX_ITEMS));
    let items: Vec<serde_json::Value> = items
        .into_iter()
        .map(|a| {
            let mut v = serde_json::to_value(&a).unwrap_or_default();
            if let Some(m) = v.as_object_mut() {
                m.remove("notified");
            }
            v
        })
        .collect();
    axum::Json(json!({ "items": items })).into_response()
}

async fn deliveries(
    Acting(state): Acting,
    WithRejection(Query(query), _): QueryOf<DeliveryQuery, CmfError>,
) -> Response {
    if let Some(s) = query.state.as_deref() {
        if !matches!(s, "pending" | "delivered" | "abandoned") {
            return bad_filter("state", s, "pending, delivered, abandoned");
        }
    }
    let objects = match objects(&state, Kind::AlertDelivery).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut items: Vec<(drey_model::Timestamp, serde_json::Value)> = Vec::new();
    for o in objects {
        let (Ok(spec), Ok(status)) = (
            serde_json::from_value::<DeliverySpec>(o.spec),
            serde_json::from_value::<DeliveryStatus>(o.status),
        ) else {
            continue;
        };
        let state_text = serde_json::to_value(status.state).unwrap_or_default();
        if query
            .state
            .as_deref()
            .is_some_and(|s| state_text.as_str() != Some(s))
        {
            continue;
        }
        let mut alert = serde_json::to_value(&spec.alert).unwrap_or_default();
        if let Some(m) = alert.as_object_mut() {
            m.remove("notified");
        }
        items.push((
            o.meta.creation_timestamp,
            json!({
                "id": o.meta.name,
                "receiver": spec.receiver,
                "createdAt": o.meta.creation_timestamp,
                "state": state_text,
                "attempts": status.attempts,
                "lastError": status.last_error,
                "deliveredAt": status.delivered_at,
                "alert": alert,
            }),
        ));
    }
    items.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    items.truncate(query.limit.unwrap_or(MAX_ITEMS).min(MAX_ITEMS));
    let items: Vec<serde_json::Value> = items.into_iter().map(|(_, v)| v).collect();
    axum::Json(json!({ "items": items })).into_response()
}
