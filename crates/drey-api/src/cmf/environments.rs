//! `/cmf/api/v1/environments`: the flat Environment shape.

use super::{page_reply, page_request, reply};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::CmfError;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use drey_control::environments::{empty_statement_defaults, EnvironmentInput};
use drey_model::{Error, Object};
use serde_json::{json, Map, Value};

/// Renders the flat CMF Environment; `secrets` only on single reads.
fn render(env: &Object, secrets: Option<Map<String, Value>>) -> Value {
    let field = |name: &str| env.spec.get(name).filter(|v| !v.is_null()).cloned();
    let mut out = json!({
        "name": env.meta.name,
        "created_time": env.meta.creation_timestamp.to_string(),
        "updated_time": env.meta.update_timestamp.to_string(),
        "flinkApplicationDefaults": field("flinkApplicationDefaults").unwrap_or_else(|| json!({})),
        "kubernetesNamespace": field("kubernetesNamespace").unwrap_or_else(|| json!(env.meta.name)),
        "kubernetesClusterName": field("kubernetesClusterName")
            .filter(Value::is_string)
            .unwrap_or_else(|| json!(drey_model::cluster::LOCAL_CLUSTER)),
        "computePoolDefaults": field("computePoolDefaults").unwrap_or_else(|| json!({})),
        "statementDefaults": field("statementDefaults").unwrap_or_else(empty_statement_defaults),
        // Environments run on the local machine (others are refused), which answers.
        "status": {"kubernetesCluster": super::kubernetes_clusters::local_status()},
    });
    if let (Some(secrets), Some(map)) = (secrets, out.as_object_mut()) {
        map.insert("secrets".into(), Value::Object(secrets));
    }
    out
}

fn input(body: Value) -> Result<EnvironmentInput, Error> {
    let Value::Object(mut body) = body else {
        return Err(Error::BadRequest(
            "request body must be an Environment object".into(),
        ));
    };
    let name = match body.remove("name") {
        Some(Value::String(n)) => n,
        Some(_) => return Err(Error::BadRequest("name must be a string".into())),
        None => return Err(Error::BadRequest("name is required".into())),
    };
    let kubernetes_namespace = match body.remove("kubernetesNamespace") {
        None | Some(Value::Null) => None,
        Some(Value::String(ns)) => Some(ns),
        Some(_) => {
            return Err(Error::BadRequest(
                "kubernetesNamespace must be a string".into(),
            ))
        }
    };
    let kubernetes_cluster_name = match body.remove("kubernetesClusterName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => {
            return Err(Error::BadRequest(
                "kubernetesClusterName must be a string".into(),
            ))
        }
    };
    let mut take = |field: &str| body.remove(field).filter(|v| !v.is_null());
    Ok(EnvironmentInput {
        name,
        kubernetes_namespace,
        kubernetes_cluster_name,
        flink_application_defaults: take("flinkApplicationDefaults"),
        compute_pool_defaults: take("computePoolDefaults"),
        statement_defaults: take("statementDefaults"),
    })
}

pub(super) async fn upsert(
    Acting(state): Acting,
    Caller(who): Caller,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = input(body).map_err(CmfError::invalid_is_400)?;
    let (env, _) = state
        .core
        .upsert_environment(&who.org, input)
        .await
        .map_err(CmfError::invalid_is_400)?;
    let secrets = state
        .core
        .environment_secrets(&who.org, &env.meta.name)
        .await?;
    Ok(reply(StatusCode::CREATED, render(&env, Some(secrets))))
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let envs = state.core.list_environments(&who.org, page.clone()).await?;
    Ok(page_reply(&page, envs, |e| render(e, None)))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
) -> Result<Response, CmfError> {
    let object = state.core.get_environment(&who.org, &env).await?;
    let secrets = state.core.environment_secrets(&who.org, &env).await?;
    Ok(reply(StatusCode::OK, render(&object, Some(secrets))))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
) -> Result<Response, CmfError> {
    state.core.delete_environment(&who.org, &env).await?;
    Ok(reply_empty(StatusCode::OK))
}

pub(super) fn reply_empty(status: StatusCode) -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = status;
    response
}
