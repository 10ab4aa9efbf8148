//! `/api/v1/namespaces/{ns}/sessionclusters`: a VVP SessionCluster is a core
//! SHARED compute pool (the same session cluster CMF statements run on).

use super::{check_name, list_of, metadata, name_in, reply, VvpError, VvpPayload};
use crate::auth::Caller;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use drey_control::ResourceInput;
use drey_model::json::get_path;
use drey_model::{Error, Kind, Object};
use serde_json::{json, Value};

/// A SessionCluster spec as a compute pool spec.
fn to_pool(spec: &Value) -> Result<Value, Error> {
    if !spec.is_object() {
        return Err(Error::invalid("spec", "is required and must be an object"));
    }
    let state = spec
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("RUNNING");
    let state = match state {
        "RUNNING" => "RUNNING",
        "STOPPED" => "SUSPENDED",
        other => {
            return Err(Error::invalid(
                "spec.state",
                format!("must be RUNNING or STOPPED, not '{other}'"),
            ))
        }
    };
    let mut cluster = json!({});
    if let Some(conf) = spec.get("flinkConfiguration").filter(|c| !c.is_null()) {
        cluster["flinkConfiguration"] = conf.clone();
    }
    if let Some(n) = spec.get("numberOfTaskManagers").filter(|n| !n.is_null()) {
        if n.as_u64().filter(|n| *n >= 1).is_none() {
            return Err(Error::invalid(
                "spec.numberOfTaskManagers",
                format!("must be a positive integer, not {n}"),
            ));
        }
        cluster["taskManager"] = json!({"replicas": n});
    }
    for (vvp, cmf) in [("jobmanager", "jobManager"), ("taskmanager", "taskManager")] {
        if let Some(resource) = get_path(spec, &format!("resources.{vvp}")) {
            if !cluster[cmf].is_object() {
                cluster[cmf] = json!({});
            }
            cluster[cmf]["resource"] = resource.clone();
        }
    }
    Ok(json!({"type": "SHARED", "state": state, "clusterSpec": cluster, "vvp": spec}))
}

fn render(pool: &Object, ns: &str) -> Value {
    let mut spec = pool.spec.get("vvp").cloned().unwrap_or_else(|| json!({}));
    let desired = if pool.spec.get("state").and_then(Value::as_str) == Some("SUSPENDED") {
        "STOPPED"
    } else {
        "RUNNING"
    };
    spec["state"] = json!(desired);
    let state = match pool.status.get("phase").and_then(Value::as_str) {
        Some("RUNNING") => "RUNNING",
        Some("SUSPENDED") => "STOPPED",
        Some("FAILED") => "FAILED",
        _ if desired == "STOPPED" => "STOPPING",
        _ => "STARTING",
    };
    let mut status = json!({"state": state});
    if let Some(message) = pool.status.get("message").filter(|_| state == "FAILED") {
        status["failure"] = json!({"message": message, "reason": "CLUSTER_FAILED"});
    }
    json!({
        "kind": "SessionCluster",
        "apiVersion": "v1",
        "metadata": metadata(pool, ns),
        "spec": spec,
        "status": status,
    })
}

fn input(name: &str, body: &Value) -> Result<ResourceInput, Error> {
    check_name("metadata.name", name)?;
    Ok(ResourceInput {
        name: name.to_owned(),
        spec: to_pool(body.get("spec").unwrap_or(&Value::Null))?,
        ..ResourceInput::default()
    })
}

pub(super) async fn list(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let pools = super::all(|page| state.core.list_compute_pools(&who.org, &ns, page)).await?;
    let items = pools
        .iter()
        .filter(|p| p.spec.get("type").and_then(Value::as_str) == Some("SHARED"))
        .map(|p| render(p, &ns))
        .collect();
    Ok(reply(StatusCode::OK, list_of("SessionCluster", items)))
}

pub(super) async fn create(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(ns): Path<String>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let name = name_in(&body)?;
    let pool = state
        .core
        .create_compute_pool(&who.org, &ns, input(&name, &body)?)
        .await?;
    Ok(reply(StatusCode::CREATED, render(&pool, &ns)))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let pool = state.core.get_compute_pool(&who.org, &ns, &name).await?;
    Ok(reply(StatusCode::OK, render(&pool, &ns)))
}

/// PUT (create or replace) and PATCH (merge over the current spec).
pub(super) async fn replace(
    State(state): State<AppState>,
    Caller(who): Caller,
    method: Method,
    Path((ns, name)): Path<(String, String)>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let existing = state.core.get_compute_pool(&who.org, &ns, &name).await.ok();
    let body = match (&existing, method == Method::PATCH) {
        (Some(pool), true) => {
            let mut merged = render(pool, &ns);
            json_patch::merge(&mut merged, &body);
            merged
        }
        (None, true) => return Err(Error::not_found(Kind::ComputePool, &name).into()),
        _ => body,
    };
    let pool = match existing {
        Some(_) => {
            state
                .core
                .update_compute_pool(&who.org, &ns, &name, input(&name, &body)?)
                .await?
        }
        None => {
            let pool = state
                .core
                .create_compute_pool(&who.org, &ns, input(&name, &body)?)
                .await?;
            return Ok(reply(StatusCode::CREATED, render(&pool, &ns)));
        }
    };
    Ok(reply(StatusCode::OK, render(&pool, &ns)))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let pool = state.core.get_compute_pool(&who.org, &ns, &name).await?;
    state.core.delete_compute_pool(&who.org, &ns, &name).await?;
    Ok(reply(StatusCode::OK, render(&pool, &ns)))
}
