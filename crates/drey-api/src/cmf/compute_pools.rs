//! `/cmf/api/v1/environments/{env}/compute-pools`.

use super::environments::reply_empty;
use super::{page_reply, page_request, reply, resource, resource_input};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::CmfError;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use drey_model::loose::to_json;
use drey_model::Object;
use serde_json::Value;

const KIND: &str = "ComputePool";

fn render(pool: &Object) -> Value {
    let mut out = resource(pool, KIND);
    // The reconciler's bookkeeping is not part of CMF's pool status.
    if let Some(status) = out.get_mut("status").and_then(Value::as_object_mut) {
        status.remove("reconciler");
    }
    out
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true)?;
    let pool = state
        .core
        .create_compute_pool(&who.org, &env, input)
        .await?;
    Ok(reply(StatusCode::OK, render(&pool)))
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let pools = state
        .core
        .list_compute_pools(&who.org, &env, page.clone())
        .await?;
    Ok(page_reply(&page, pools, render))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let pool = state.core.get_compute_pool(&who.org, &env, &name).await?;
    Ok(reply(StatusCode::OK, render(&pool)))
}

/// drey's extension: the session-mode FlinkDeployment the Flink Kubernetes
/// Operator would be given for a SHARED pool.
pub(super) async fn manifest(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let manifest = state
        .core
        .compute_pool_manifest(&who.org, &env, &name)
        .await?;
    Ok(reply(StatusCode::OK, to_json(&manifest)))
}

pub(super) async fn update(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true)?;
    let pool = state
        .core
        .update_compute_pool(&who.org, &env, &name, input)
        .await?;
    Ok(reply(StatusCode::OK, render(&pool)))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    state
        .core
        .delete_compute_pool(&who.org, &env, &name)
        .await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}
