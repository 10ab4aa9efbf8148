//! `/namespaces/v1/namespaces`: VVP namespaces are core environments (a VVP
//! namespace and a CMF environment of one name are one object).

use super::{all, check_name, reply, VvpError, VvpPayload};
use crate::auth::Caller;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use drey_control::environments::EnvironmentInput;
use drey_model::{Error, Kind, Object};
use serde_json::{json, Value};

/// A namespace in the platform API's shape (`name` is `namespaces/<ns>`).
fn render(env: &Object) -> Value {
    json!({
        "name": format!("namespaces/{}", env.meta.name),
        "createTime": env.meta.creation_timestamp.to_string(),
        "lifecyclePhase": "LIFECYCLE_PHASE_ACTIVE",
        "roleBindings": [],
    })
}

/// `namespaces/x` or `x` → `x`.
fn short_name(name: &str) -> &str {
    name.strip_prefix("namespaces/").unwrap_or(name)
}

pub(super) async fn list(
    State(state): State<AppState>,
    Caller(who): Caller,
) -> Result<Response, VvpError> {
    let envs = all(|page| state.core.list_environments(&who.org, page)).await?;
    let items: Vec<Value> = envs.iter().map(render).collect();
    Ok(reply(StatusCode::OK, json!({"namespaces": items})))
}

pub(super) async fn create(
    State(state): State<AppState>,
    Caller(who): Caller,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .map(short_name)
        .ok_or_else(|| Error::invalid("name", "is required"))?
        .to_owned();
    check_name("name", &name)?;
    if state.core.get_environment(&who.org, &name).await.is_ok() {
        return Err(Error::AlreadyExists {
            kind: Kind::Environment,
            name,
        }
        .into());
    }
    let (env, _) = state
        .core
        .upsert_environment(
            &who.org,
            EnvironmentInput {
                name,
                kubernetes_namespace: None,
                flink_application_defaults: None,
                compute_pool_defaults: None,
                statement_defaults: None,
            },
        )
        .await?;
    Ok(reply(
        StatusCode::CREATED,
        json!({"namespace": render(&env)}),
    ))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let env = state
        .core
        .get_environment(&who.org, short_name(&ns))
        .await?;
    Ok(reply(StatusCode::OK, json!({"namespace": render(&env)})))
}

/// PUT and PATCH: a namespace has nothing drey lets change (its role
/// bindings are the authorization layer's); the name must match.
pub(super) async fn update(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(ns): Path<String>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let ns = short_name(&ns);
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        if short_name(name) != ns {
            return Err(Error::invalid("name", "is immutable").into());
        }
    }
    let env = state.core.get_environment(&who.org, ns).await?;
    Ok(reply(StatusCode::OK, json!({"namespace": render(&env)})))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let env = state
        .core
        .delete_environment(&who.org, short_name(&ns))
        .await?;
    Ok(reply(StatusCode::OK, json!({"namespace": render(&env)})))
}
