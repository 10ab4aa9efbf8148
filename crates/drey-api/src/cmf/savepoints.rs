//! Savepoints of applications and detached savepoints (CMF 2.3).

use super::environments::reply_empty;
use super::{page_reply, page_request, reply, resource, resource_input};
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::CmfError;
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use drey_model::Object;
use serde_json::Value;

const KIND: &str = "Savepoint";

fn render(savepoint: &Object) -> Value {
    resource(savepoint, KIND)
}

pub(super) async fn create(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((env, app)): Path<(String, String)>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, false)?;
    let savepoint = state
        .core
        .create_app_savepoint(&who.org, &env, &app, input)
        .await?;
    Ok(reply(StatusCode::CREATED, render(&savepoint)))
}

pub(super) async fn list(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((env, app)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let savepoints = state
        .core
        .list_app_savepoints(&who.org, &env, &app, page.clone())
        .await?;
    Ok(page_reply(&page, savepoints, render))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((env, app, name)): Path<(String, String, String)>,
) -> Result<Response, CmfError> {
    let savepoint = state
        .core
        .get_app_savepoint(&who.org, &env, &app, &name)
        .await?;
    Ok(reply(StatusCode::OK, render(&savepoint)))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((env, app, name)): Path<(String, String, String)>,
) -> Result<Response, CmfError> {
    state
        .core
        .delete_app_savepoint(&who.org, &env, &app, &name)
        .await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}

pub(super) async fn detach(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((env, app, name)): Path<(String, String, String)>,
) -> Result<Response, CmfError> {
    let savepoint = state
        .core
        .detach_app_savepoint(&who.org, &env, &app, &name)
        .await?;
    Ok(reply(StatusCode::OK, render(&savepoint)))
}

pub(super) async fn create_detached(
    State(state): State<AppState>,
    Caller(who): Caller,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true)?;
    let savepoint = state
        .core
        .create_detached_savepoint(&who.org, input)
        .await?;
    Ok(reply(StatusCode::CREATED, render(&savepoint)))
}

pub(super) async fn list_detached(
    State(state): State<AppState>,
    Caller(who): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let savepoints = state
        .core
        .list_detached_savepoints(&who.org, page.clone())
        .await?;
    Ok(page_reply(&page, savepoints, render))
}

pub(super) async fn get_detached(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    let savepoint = state.core.get_detached_savepoint(&who.org, &name).await?;
    Ok(reply(StatusCode::OK, render(&savepoint)))
}

pub(super) async fn delete_detached(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    state
        .core
        .delete_detached_savepoint(&who.org, &name)
        .await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}
