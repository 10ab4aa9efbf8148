//! `/cmf/api/v1/environments/{env}/secret-mappings`.

use super::environments::reply_empty;
use super::{page_reply, page_request, reply, resource, resource_input};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::CmfError;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use drey_model::Object;
use serde_json::Value;

const KIND: &str = "EnvironmentSecretMapping";

fn render(mapping: &Object) -> Value {
    resource(mapping, KIND)
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true).map_err(CmfError::invalid_is_400)?;
    let mapping = state
        .core
        .create_secret_mapping(&who.org, &env, input)
        .await
        .map_err(CmfError::invalid_is_400)?;
    Ok(reply(StatusCode::OK, render(&mapping)))
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let mappings = state
        .core
        .list_secret_mappings(&who.org, &env, page.clone())
        .await?;
    Ok(page_reply(&page, mappings, render))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let mapping = state.core.get_secret_mapping(&who.org, &env, &name).await?;
    Ok(reply(StatusCode::OK, render(&mapping)))
}

pub(super) async fn update(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true).map_err(CmfError::invalid_is_400)?;
    let mapping = state
        .core
        .update_secret_mapping(&who.org, &env, &name, input)
        .await
        .map_err(CmfError::invalid_is_400)?;
    Ok(reply(StatusCode::OK, render(&mapping)))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    state
        .core
        .delete_secret_mapping(&who.org, &env, &name)
        .await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}
