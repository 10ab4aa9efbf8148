//! `/cmf/api/v1/environments/{env}/statements`, with results and exceptions.

use super::environments::reply_empty;
use super::{page_reply, page_request, reply, resource, resource_input};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::CmfError;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use drey_control::statements::DeleteOutcome;
use drey_model::Object;
use serde_json::{json, Value};

const KIND: &str = "Statement";

fn render(statement: &Object) -> Value {
    let mut out = resource(statement, KIND);
    if let Some(map) = out.as_object_mut() {
        // Internal bookkeeping (results, exceptions) stays out of the status.
        if let Some(status) = map.get_mut("status").and_then(Value::as_object_mut) {
            status.remove("exceptions");
            if let Some(result) = status.remove("result") {
                map.insert("result".into(), result);
            }
        }
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
    let statement = state.core.create_statement(&who.org, &env, input).await?;
    Ok(reply(StatusCode::OK, render(&statement)))
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (pairs, page) = page_request(query)?;
    let statements = state
        .core
        .list_statements(
            &who.org,
            &env,
            pairs.get("compute-pool"),
            pairs.get("phase"),
            page.clone(),
        )
        .await?;
    Ok(page_reply(&page, statements, render))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let statement = state.core.get_statement(&who.org, &env, &name).await?;
    Ok(reply(StatusCode::OK, render(&statement)))
}

pub(super) async fn update(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true)?;
    let statement = state
        .core
        .update_statement(&who.org, &env, &name, input)
        .await?;
    Ok(reply(StatusCode::OK, render(&statement)))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let status = match state.core.delete_statement(&who.org, &env, &name).await? {
        DeleteOutcome::Deleted => StatusCode::NO_CONTENT,
        DeleteOutcome::Deleting => StatusCode::ACCEPTED,
    };
    Ok(reply_empty(status))
}

pub(super) async fn results(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (pairs, _) = page_request(query)?;
    let page = state
        .core
        .statement_results(&who.org, &env, &name, pairs.get("page-token"))
        .await?;
    Ok(reply(StatusCode::OK, page))
}

pub(super) async fn exceptions(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let data = state
        .core
        .statement_exceptions(&who.org, &env, &name)
        .await?;
    Ok(reply(
        StatusCode::OK,
        json!({"apiVersion": super::API_VERSION, "kind": "StatementExceptionList", "data": data}),
    ))
}
