//! Savepoints of applications and detached savepoints (CMF 2.3).

use super::environments::reply_empty;
use super::{page_reply, page_request, reply, resource, resource_input};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::CmfError;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use drey_control::savepoints::Owner;
use drey_model::Object;
use serde::Deserialize;
use serde_json::Value;

const KIND: &str = "Savepoint";

fn render(savepoint: &Object) -> Value {
    resource(savepoint, KIND)
}

/// The path of a savepoint endpoint: under `applications/{appName}` or
/// `statements/{stmtName}`, one handler serving both.
#[derive(Deserialize)]
pub(super) struct SavepointPath {
    #[serde(rename = "envName")]
    env: String,
    #[serde(rename = "appName")]
    app: Option<String>,
    #[serde(rename = "stmtName")]
    statement: Option<String>,
    #[serde(rename = "savepointName")]
    name: Option<String>,
}

impl SavepointPath {
    fn owner(&self) -> Owner<'_> {
        match (&self.app, &self.statement) {
            (Some(app), _) => Owner::Application(app),
            (None, Some(stmt)) => Owner::Statement(stmt),
            (None, None) => Owner::Application(""),
        }
    }

    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }
}

/// `POST .../{applications|statements}/{name}/savepoints`.
pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(path): Path<SavepointPath>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, false)?;
    let savepoint = state
        .core
        .create_savepoint(&who.org, &path.env, path.owner(), input)
        .await?;
    Ok(reply(StatusCode::CREATED, render(&savepoint)))
}

/// `GET .../{applications|statements}/{name}/savepoints`.
pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(path): Path<SavepointPath>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let savepoints = state
        .core
        .list_savepoints(&who.org, &path.env, path.owner(), page.clone())
        .await?;
    Ok(page_reply(&page, savepoints, render))
}

/// `GET .../{applications|statements}/{name}/savepoints/{savepoint}`.
pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(path): Path<SavepointPath>,
) -> Result<Response, CmfError> {
    let savepoint = state
        .core
        .get_savepoint(&who.org, &path.env, path.owner(), path.name())
        .await?;
    Ok(reply(StatusCode::OK, render(&savepoint)))
}

/// `DELETE .../{applications|statements}/{name}/savepoints/{savepoint}`.
pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(path): Path<SavepointPath>,
) -> Result<Response, CmfError> {
    state
        .core
        .delete_savepoint(&who.org, &path.env, path.owner(), path.name())
        .await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}

pub(super) async fn detach(
    Acting(state): Acting,
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
    Acting(state): Acting,
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
    Acting(state): Acting,
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
    Acting(state): Acting,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    let savepoint = state.core.get_detached_savepoint(&who.org, &name).await?;
    Ok(reply(StatusCode::OK, render(&savepoint)))
}

pub(super) async fn delete_detached(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    state
        .core
        .delete_detached_savepoint(&who.org, &name)
        .await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}
