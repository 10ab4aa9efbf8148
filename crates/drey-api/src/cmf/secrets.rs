//! `/cmf/api/v1/secrets`. `spec.data` is write-only: it goes into the store
//! sealed and is never rendered.

use super::environments::reply_empty;
use super::{page_reply, page_request, reply, resource, resource_input};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::CmfError;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use drey_control::secrets::SecretView;
use serde_json::{json, Value};

const KIND: &str = "Secret";

fn render(view: &SecretView) -> Value {
    let mut out = resource(&view.object, KIND);
    if let Some(map) = out.as_object_mut() {
        // The stored spec never holds data; say so explicitly in the shape.
        map.insert(
            "status".into(),
            json!({
                "version": view.object.meta.resource_version.to_string(),
                "environments": view.environments,
            }),
        );
    }
    out
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true).map_err(CmfError::invalid_is_400)?;
    let view = state
        .core
        .create_secret(&who.org, input)
        .await
        .map_err(CmfError::invalid_is_400)?;
    Ok(reply(StatusCode::OK, render(&view)))
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let secrets = state.core.list_secrets(&who.org, page.clone()).await?;
    Ok(page_reply(&page, secrets, render))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    let view = state.core.get_secret(&who.org, &name).await?;
    Ok(reply(StatusCode::OK, render(&view)))
}

pub(super) async fn update(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(name): Path<String>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true).map_err(CmfError::invalid_is_400)?;
    let view = state.core.update_secret(&who.org, &name, input).await?;
    Ok(reply(StatusCode::OK, render(&view)))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    state.core.delete_secret(&who.org, &name).await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}
