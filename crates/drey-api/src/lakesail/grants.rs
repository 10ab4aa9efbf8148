//! `/api/org/v1/workspaces/{ws}/grants` (drey's completion of LakeSail's
//! "users and service accounts are given access to workspaces"): a grant
//! gives one user or service account a role on one workspace — `viewer`
//! (read), `editor` (write) or `owner` (write and grant). The grant's id is
//! its principal's id (one grant per principal and workspace). Organization
//! administrators and the workspace's owners may grant.

use super::flink::{check_id, env_of};
use super::{json_reply, page, Json, LakeSailError, Paging};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::QueryOf;
use crate::AppState;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::WithRejection;
use drey_control::auth::{Identity, PrincipalKind, Role};
use drey_model::{Error, Kind, Object};
use serde_json::{json, Value};

fn field_of(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "userId",
        PrincipalKind::ServiceAccount => "serviceAccountId",
    }
}

fn render(kind: PrincipalKind, principal: &Object, env: &str) -> Value {
    let grant = principal
        .spec
        .get("grants")
        .and_then(|g| g.get(env))
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "id": principal.meta.name,
        field_of(kind): principal.meta.name,
        "role": grant.get("role"),
        "createdAt": grant.get("createdAt"),
        "updatedAt": grant.get("updatedAt"),
    })
}

/// The workspace's environment, checked to exist in the caller's organization.
async fn workspace(state: &AppState, who: &Identity, ws: &str) -> Result<String, Error> {
    check_id("workspace", ws)?;
    let env = env_of(ws);
    state.core.get_environment(&who.org, &env).await?;
    Ok(env)
}

fn role_of(body: &Value) -> Result<Role, Error> {
    let text = body
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("role", "is required: viewer, editor or owner"))?;
    Role::parse_grant(text)
        .ok_or_else(|| Error::invalid("role", format!("'{text}' is not viewer, editor or owner")))
}

/// The principal a grant id names, whichever kind it is.
/// The holder of a grant on `env` (to whoever may read `env`).
async fn granted(
    state: &AppState,
    who: &Identity,
    env: &str,
    id: &str,
) -> Result<(PrincipalKind, Object), Error> {
    state
        .core
        .grants_on(&who.org, env)
        .await?
        .into_iter()
        .find(|(_, p)| p.meta.name == id)
        .ok_or_else(|| Error::NotFound {
            kind: Kind::User,
            name: format!("grant {id}"),
        })
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ws): Path<String>,
    WithRejection(Query(paging), _): QueryOf<Paging, LakeSailError>,
) -> Result<Response, LakeSailError> {
    let env = workspace(&state, &who, &ws).await?;
    let items = state
        .core
        .grants_on(&who.org, &env)
        .await?
        .iter()
        .map(|(kind, p)| render(*kind, p, &env))
        .collect();
    Ok(json_reply(StatusCode::OK, page(items, &paging)?))
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ws): Path<String>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    let env = workspace(&state, &who, &ws).await?;
    let role = role_of(&body)?;
    let (kind, id) = match (
        body.get("userId").and_then(Value::as_str),
        body.get("serviceAccountId").and_then(Value::as_str),
    ) {
        (Some(user), None) => (PrincipalKind::User, user),
        (None, Some(sa)) => (PrincipalKind::ServiceAccount, sa),
        _ => {
            return Err(Error::invalid(
                "userId",
                "exactly one of userId and serviceAccountId is required",
            )
            .into())
        }
    };
    let p = state
        .core
        .set_grant(&who.org, &env, kind, id, Some(role))
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => {
                Error::invalid(field_of(kind), format!("'{id}' does not exist"))
            }
            other => other,
        })?;
    Ok(json_reply(StatusCode::CREATED, render(kind, &p, &env)))
}

pub(super) async fn describe(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    let env = workspace(&state, &who, &ws).await?;
    let (kind, p) = granted(&state, &who, &env, &id).await?;
    Ok(json_reply(StatusCode::OK, render(kind, &p, &env)))
}

pub(super) async fn update(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    let env = workspace(&state, &who, &ws).await?;
    let (kind, _) = granted(&state, &who, &env, &id).await?;
    let role = role_of(&body)?;
    let p = state
        .core
        .set_grant(&who.org, &env, kind, &id, Some(role))
        .await?;
    Ok(json_reply(StatusCode::OK, render(kind, &p, &env)))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    let env = workspace(&state, &who, &ws).await?;
    let (kind, _) = granted(&state, &who, &env, &id).await?;
    state
        .core
        .set_grant(&who.org, &env, kind, &id, None)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
