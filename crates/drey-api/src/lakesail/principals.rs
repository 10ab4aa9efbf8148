//! `/api/org/v1/users` and `/api/org/v1/service-accounts`: an organization's
//! principals, one handler set for both (they differ only in their fields),
//! with their keys (a service account's keys; a user's tokens, drey's
//! completion since drey has no sign-in) and `GET /api/org/v1/me`.
//!
//! drey adds `role` to both: the organization-wide role (`viewer`, `editor`,
//! `admin`, or `none` for a principal that has only the roles granted on
//! single workspaces); it defaults to `editor`.

use super::{
    expires_at, json_reply, key_summary, page, require_org_admin, times, Json, LakeSailError,
    Paging,
};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::QueryOf;
use crate::AppState;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::WithRejection;
use drey_control::auth::{Identity, PrincipalKind, Role};
use drey_model::{Error, Object};
use serde_json::{json, Map, Value};

/// The fields a principal's spec holds, all required strings.
fn fields(kind: PrincipalKind) -> &'static [&'static str] {
    match kind {
        PrincipalKind::User => &["username", "email", "firstName", "lastName", "displayName"],
        PrincipalKind::ServiceAccount => &["username", "description"],
    }
}

/// The routes of one kind of principal under `base`.
pub(super) fn routes(base: &'static str, kind: PrincipalKind) -> Router<AppState> {
    Router::new()
        .route(
            base,
            post(move |s: Acting, c: Caller, b: Json| create(kind, s, c, b)).get(
                move |s: Acting, c: Caller, q: QueryOf<Paging, LakeSailError>| list(kind, s, c, q),
            ),
        )
        .route(
            &format!("{base}/{{id}}"),
            get(move |s: Acting, c: Caller, p: Path<String>| describe(kind, s, c, p))
                .patch(move |s: Acting, c: Caller, p: Path<String>, b: Json| {
                    update(kind, s, c, p, b)
                })
                .delete(move |s: Acting, c: Caller, p: Path<String>| delete(kind, s, c, p)),
        )
        .route(
            &format!("{base}/{{id}}/keys"),
            post(move |s: Acting, c: Caller, p: Path<String>, b: Json| {
                create_key(kind, s, c, p, b)
            })
            .get(
                move |s: Acting, c: Caller, p: Path<String>, q: QueryOf<Paging, LakeSailError>| {
                    list_keys(kind, s, c, p, q)
                },
            ),
        )
        .route(
            &format!("{base}/{{id}}/keys/{{key}}"),
            get(move |s: Acting, c: Caller, p: Path<(String, String)>| get_key(kind, s, c, p))
                .patch(
                    move |s: Acting, c: Caller, p: Path<(String, String)>, b: Json| {
                        update_key(kind, s, c, p, b)
                    },
                )
                .delete(move |s: Acting, c: Caller, p: Path<(String, String)>| {
                    delete_key(kind, s, c, p)
                }),
        )
}

/// A principal as LakeSail shows it (`User` or `ServiceAccount`), with
/// drey's `role`.
pub(super) fn render(kind: PrincipalKind, p: &Object) -> Value {
    let (created, updated) = times(p);
    let mut out = Map::new();
    out.insert("id".into(), json!(p.meta.name));
    for field in fields(kind) {
        out.insert(
            (*field).into(),
            p.spec.get(*field).cloned().unwrap_or(Value::Null),
        );
    }
    out.insert(
        "role".into(),
        p.spec
            .get("role")
            .filter(|r| !r.is_null())
            .cloned()
            .unwrap_or_else(|| json!("none")),
    );
    out.insert("createdAt".into(), json!(created));
    out.insert("updatedAt".into(), json!(updated));
    Value::Object(out)
}

/// The organization-wide role a body asks for: absent → editor, `none` or
/// null → none.
fn role_in(body: &Value, default: Option<Role>) -> Result<Option<Role>, Error> {
    match body.get("role") {
        None => Ok(default),
        Some(Value::Null) => Ok(None),
        Some(Value::String(r)) if r == "none" => Ok(None),
        Some(Value::String(r)) => Role::parse_org(r).map(Some).ok_or_else(|| {
            Error::invalid(
                "role",
                format!("'{r}' is not viewer, editor, admin or none"),
            )
        }),
        Some(other) => Err(Error::invalid(
            "role",
            format!("must be a string, not {other}"),
        )),
    }
}

/// The spec a body gives: every field a string, present.
fn spec_of(kind: PrincipalKind, body: &Value) -> Result<Value, Error> {
    let mut spec = Map::new();
    for field in fields(kind) {
        match body.get(*field) {
            Some(Value::String(v)) => {
                spec.insert((*field).into(), json!(v));
            }
            None | Some(Value::Null) => return Err(Error::invalid(*field, "is required")),
            Some(_) => return Err(Error::invalid(*field, "must be a string")),
        }
    }
    Ok(Value::Object(spec))
}

async fn create(
    kind: PrincipalKind,
    Acting(state): Acting,
    Caller(who): Caller,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    let spec = spec_of(kind, &body)?;
    let role = role_in(&body, Some(Role::Editor))?;
    let p = state
        .core
        .create_principal(&who.org, kind, spec, role)
        .await?;
    Ok(json_reply(StatusCode::CREATED, render(kind, &p)))
}

async fn list(
    kind: PrincipalKind,
    Acting(state): Acting,
    Caller(who): Caller,
    WithRejection(Query(paging), _): QueryOf<Paging, LakeSailError>,
) -> Result<Response, LakeSailError> {
    let all = state.core.list_principals(&who.org, kind).await?;
    let items = all.iter().map(|p| render(kind, p)).collect();
    Ok(json_reply(StatusCode::OK, page(items, &paging)?))
}

async fn describe(
    kind: PrincipalKind,
    Acting(state): Acting,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, LakeSailError> {
    let p = state.core.get_principal(&who.org, kind, &id).await?;
    Ok(json_reply(StatusCode::OK, render(kind, &p)))
}

/// PATCH: a JSON merge patch over the principal's fields and `role`.
async fn update(
    kind: PrincipalKind,
    Acting(state): Acting,
    Caller(who): Caller,
    Path(id): Path<String>,
    Json(patch): Json,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    if !patch.is_object() {
        return Err(Error::BadRequest("the body must be a JSON object".into()).into());
    }
    let current = state.core.get_principal(&who.org, kind, &id).await?;
    let mut merged = render(kind, &current);
    json_patch::merge(&mut merged, &patch);
    let mut spec = spec_of(kind, &merged)?;
    let current_role = current
        .spec
        .get("role")
        .and_then(Value::as_str)
        .and_then(Role::parse_org);
    let role = match patch.get("role") {
        None => current_role,
        Some(_) => role_in(&patch, current_role)?,
    };
    spec["role"] = role.map_or(Value::Null, |r| json!(r.as_str()));
    let p = state.core.update_principal(&current, spec).await?;
    Ok(json_reply(StatusCode::OK, render(kind, &p)))
}

async fn delete(
    kind: PrincipalKind,
    Acting(state): Acting,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    state.core.delete_principal(&who.org, kind, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn create_key(
    kind: PrincipalKind,
    Acting(state): Acting,
    Caller(who): Caller,
    Path(id): Path<String>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    let (token, key) = state
        .core
        .create_principal_key(&who.org, kind, &id, expires_at(&body)?)
        .await?;
    let mut out = key_summary(&key);
    out["key"] = json!(token.token);
    Ok(json_reply(StatusCode::CREATED, out))
}

async fn keys_of(
    kind: PrincipalKind,
    state: &AppState,
    who: &Identity,
    id: &str,
) -> Result<Vec<Object>, Error> {
    state.core.get_principal(&who.org, kind, id).await?;
    state
        .core
        .list_keys(kind.key_kind(), Some(&who.org), Some(id))
        .await
}

async fn list_keys(
    kind: PrincipalKind,
    Acting(state): Acting,
    Caller(who): Caller,
    Path(id): Path<String>,
    WithRejection(Query(paging), _): QueryOf<Paging, LakeSailError>,
) -> Result<Response, LakeSailError> {
    let keys = keys_of(kind, &state, &who, &id).await?;
    Ok(json_reply(
        StatusCode::OK,
        page(keys.iter().map(key_summary).collect(), &paging)?,
    ))
}

async fn get_key(
    kind: PrincipalKind,
    Acting(state): Acting,
    Caller(who): Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    let keys = keys_of(kind, &state, &who, &id).await?;
    let key = keys
        .iter()
        .find(|k| k.meta.name == key)
        .ok_or_else(|| Error::not_found(drey_model::Kind::ApiKey, &key))?;
    Ok(json_reply(StatusCode::OK, key_summary(key)))
}

/// PATCH of a key: `expiresAt` set, or cleared with null.
async fn update_key(
    kind: PrincipalKind,
    Acting(state): Acting,
    Caller(who): Caller,
    Path((id, key)): Path<(String, String)>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    let keys = keys_of(kind, &state, &who, &id).await?;
    let key = keys
        .iter()
        .find(|k| k.meta.name == key)
        .ok_or_else(|| Error::not_found(drey_model::Kind::ApiKey, &key))?;
    let key = super::patch_key(&state, key, &body).await?;
    Ok(json_reply(StatusCode::OK, key_summary(&key)))
}

async fn delete_key(
    kind: PrincipalKind,
    Acting(state): Acting,
    Caller(who): Caller,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    let keys = keys_of(kind, &state, &who, &id).await?;
    if !keys.iter().any(|k| k.meta.name == key) {
        return Err(Error::not_found(drey_model::Kind::ApiKey, &key).into());
    }
    state.core.revoke_key(&key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/org/v1/me`: `{"root": {}}`, `{"user": ...}` or
/// `{"serviceAccount": ...}` by the credential; a VVP API token is
/// `{"apiToken": {...}}` (drey's).
pub(super) async fn me(
    Acting(state): Acting,
    Caller(who): Caller,
) -> Result<Response, LakeSailError> {
    let body = match &who.principal {
        Some(p) => {
            let object = state.core.get_principal(&who.org, p.kind, &p.id).await?;
            let field = match p.kind {
                PrincipalKind::User => "user",
                PrincipalKind::ServiceAccount => "serviceAccount",
            };
            json!({ field: render(p.kind, &object) })
        }
        None if who.server_admin => json!({"root": {}}),
        None => {
            let grants: Map<String, Value> = who
                .grants
                .iter()
                .map(|(env, role)| (env.clone(), json!(role.as_str())))
                .collect();
            json!({"apiToken": {"id": who.key_id, "grants": grants}})
        }
    };
    Ok(json_reply(StatusCode::OK, body))
}
