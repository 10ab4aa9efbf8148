//! `/apitokens/v1/namespaces/{ns}/apitokens`: VVP API tokens. A token is a
//! drey key (shown once, stored as a hash, usable as
//! `Authorization: Bearer`) holding one role — `viewer`, `editor` or
//! `owner` — on its namespace only. Making or deleting one needs owner on
//! the namespace (or an organization admin).

use super::{check_name, reply, VvpError, VvpPayload};
use crate::auth::Acting;
use crate::auth::Caller;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use drey_control::auth::{Identity, Role};
use drey_model::{Error, Object};
use serde_json::{json, Value};

fn render(ns: &str, key: &Object) -> Value {
    json!({
        "name": format!("namespaces/{ns}/apitokens/{}", key.spec["name"].as_str().unwrap_or_default()),
        "role": key.spec["role"],
        "createTime": key.meta.creation_timestamp.to_string(),
    })
}

/// `namespaces/{ns}/apitokens/x` or `x` → `x`.
fn short_name<'a>(ns: &str, name: &'a str) -> &'a str {
    name.strip_prefix(&format!("namespaces/{ns}/apitokens/"))
        .unwrap_or(name)
}

fn may_manage(who: &Identity, ns: &str) -> Result<(), Error> {
    if who.role_in(ns) >= Some(Role::Owner) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only the namespace's owners and organization administrators manage API tokens".into(),
        ))
    }
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let tokens = state.core.list_api_tokens(&who.org, &ns).await?;
    let items: Vec<Value> = tokens.iter().map(|k| render(&ns, k)).collect();
    Ok(reply(StatusCode::OK, json!({"apiTokens": items})))
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    may_manage(&who, &ns)?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .map(|n| short_name(&ns, n).to_owned())
        .ok_or_else(|| Error::invalid("name", "is required"))?;
    check_name("name", &name)?;
    let role_text = body.get("role").and_then(Value::as_str).unwrap_or_default();
    let role = Role::parse_grant(role_text).ok_or_else(|| {
        Error::invalid(
            "role",
            format!("'{role_text}' is not viewer, editor or owner"),
        )
    })?;
    let (token, key) = state
        .core
        .create_api_token(&who.org, &ns, &name, role)
        .await?;
    let mut shown = render(&ns, &key);
    shown["secret"] = json!(token.token);
    Ok(reply(StatusCode::CREATED, json!({"apiToken": shown})))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let key = state.core.get_api_token(&who.org, &ns, &name).await?;
    Ok(reply(
        StatusCode::OK,
        json!({"apiToken": render(&ns, &key)}),
    ))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    may_manage(&who, &ns)?;
    state.core.delete_api_token(&who.org, &ns, &name).await?;
    Ok(reply(StatusCode::OK, json!({})))
}
