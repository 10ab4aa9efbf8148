//! The LakeSail-style multi-tenant API: `/api/admin/v1` (server
//! administrators: root keys, organizations) and `/api/org/v1` (the caller's
//! organization, from its token: identity, service accounts and their keys)
//! with users, clusters and workspace grants, and `/api/flink/v1`
//! (applications, sessions and session jobs).
//! JSON only, `application/json; charset=utf-8`, errors `{"message"}`,
//! server-made IDs of `[A-Z0-9]`, lists paged by `limit` and an opaque
//! `marker`.

mod clusters;
mod flink;
mod grants;
mod principals;
mod sessions;
mod spec;

use crate::auth::Acting;
use crate::error::status_of;
use crate::error::QueryOf;
use crate::AppState;
use axum::extract::{FromRequest, Path, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use axum_extra::extract::WithRejection;
use base64::Engine;
use drey_control::access::{Need, Scope};
use drey_control::auth::{PrincipalKind, Role};
use drey_control::quotas::QuotaReport;
use drey_model::quota::Limits;
use drey_model::{Error, Object, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};

/// Pre-signed Flink UI URLs: outside authentication, their grant is their
/// credential (checked by the handler).
pub fn signed_router() -> Router<AppState> {
    Router::new()
        .route("/api/flink/v1/ui/{grant}/", any(flink::signed_proxy))
        .route("/api/flink/v1/ui/{grant}/{*path}", any(flink::signed_proxy))
}

/// The LakeSail routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/admin/v1/keys",
            post(create_root_key).get(list_root_keys),
        )
        .route(
            "/api/admin/v1/keys/{key}",
            get(get_root_key)
                .patch(update_root_key)
                .delete(delete_root_key),
        )
        .route(
            "/api/admin/v1/organizations",
            post(create_organization).get(list_organizations),
        )
        .route(
            "/api/admin/v1/organizations/{org}",
            get(get_organization)
                .patch(update_organization)
                .delete(delete_organization),
        )
        .route(
            "/api/admin/v1/organizations/{org}/keys",
            post(create_organization_key),
        )
        .route(
            "/api/admin/v1/organizations/{org}/quota",
            get(get_organization_quota),
        )
        .route(
            "/api/admin/v1/organizations/{org}/workspaces/{ws}/quota",
            get(get_workspace_quota).put(set_workspace_quota),
        )
        .route("/api/org/v1/me", get(principals::me))
        .route(
            "/api/org/v1/workspaces",
            post(flink::create_workspace).get(flink::list_workspaces),
        )
        .route(
            "/api/org/v1/workspaces/{ws}",
            get(flink::get_workspace)
                .patch(flink::update_workspace)
                .delete(flink::delete_workspace),
        )
        .route(
            "/api/flink/v1/workspaces/{ws}/applications",
            post(flink::create_application).get(flink::list_applications),
        )
        .route(
            "/api/flink/v1/workspaces/{ws}/applications/{app}",
            get(flink::get_application)
                .patch(flink::update_application)
                .delete(flink::delete_application),
        )
        .route(
            "/api/flink/v1/workspaces/{ws}/applications/{app}/savepoints",
            post(flink::create_savepoint).get(flink::list_savepoints),
        )
        .route(
            "/api/flink/v1/workspaces/{ws}/applications/{app}/urls",
            post(flink::create_url),
        )
        .route(
            "/api/flink/v1/workspaces/{ws}/sessions",
            post(sessions::create_session).get(sessions::list_sessions),
        )
        .route(
            "/api/flink/v1/workspaces/{ws}/sessions/{session}",
            get(sessions::get_session)
                .patch(sessions::update_session)
                .delete(sessions::delete_session),
        )
        .route(
            "/api/flink/v1/workspaces/{ws}/sessions/{session}/urls",
            post(sessions::create_session_url),
        )
        .route(
            "/api/flink/v1/workspaces/{ws}/sessions/{session}/jobs",
            post(sessions::create_job).get(sessions::list_jobs),
        )
        .route(
            "/api/flink/v1/workspaces/{ws}/sessions/{session}/jobs/{job}",
            get(sessions::get_job)
                .patch(sessions::update_job)
                .delete(sessions::delete_job),
        )
        .route(
            "/api/flink/v1/workspaces/{ws}/sessions/{session}/jobs/{job}/savepoints",
            post(sessions::create_job_savepoint).get(sessions::list_job_savepoints),
        )
        .route(
            "/api/org/v1/workspaces/{ws}/grants",
            post(grants::create).get(grants::list),
        )
        .route(
            "/api/org/v1/workspaces/{ws}/grants/{grant}",
            get(grants::describe)
                .patch(grants::update)
                .delete(grants::delete),
        )
        .route(
            "/api/org/v1/clusters",
            post(clusters::create).get(clusters::list),
        )
        .route(
            "/api/org/v1/clusters/{cluster}",
            get(clusters::describe)
                .patch(clusters::update)
                .delete(clusters::delete),
        )
        .merge(principals::routes(
            "/api/org/v1/service-accounts",
            PrincipalKind::ServiceAccount,
        ))
        .merge(principals::routes("/api/org/v1/users", PrincipalKind::User))
}

/// A core error as LakeSail's `{"message": ...}`.
#[derive(Debug)]
pub struct LakeSailError(pub Error);

impl From<axum::extract::rejection::QueryRejection> for LakeSailError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        LakeSailError(crate::error::malformed_query(rejection))
    }
}

impl From<Error> for LakeSailError {
    fn from(e: Error) -> Self {
        LakeSailError(e)
    }
}

impl IntoResponse for LakeSailError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0, StatusCode::BAD_REQUEST);
        json_reply(status, json!({"message": self.0.to_string()}))
    }
}

/// Every LakeSail answer: JSON with the charset spelled out.
pub fn json_reply(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// A JSON body (LakeSail takes JSON only).
pub struct Json(Value);

impl FromRequest<AppState> for Json {
    type Rejection = LakeSailError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|ct| ct.starts_with("application/json"));
        if !is_json {
            return Err(
                Error::BadRequest("the body must be JSON (application/json)".into()).into(),
            );
        }
        let value = crate::body::read_document(req, state).await?;
        Ok(Json(if value.is_null() { json!({}) } else { value }))
    }
}

/// The admin group is the server administrators' (root keys), as
/// LakeSail documents it, whatever each operation would allow.
fn require_admin(state: &AppState) -> Result<(), LakeSailError> {
    Ok(state.core.allow(Need::Administer, Scope::Server)?)
}

/// Workspaces and clusters are the organization administrators'.
fn require_org_admin(state: &AppState, org: &str) -> Result<(), LakeSailError> {
    Ok(state
        .core
        .allow(Need::Administer, Scope::Organization(org))?)
}

pub(super) fn expires_at(body: &Value) -> Result<Option<Timestamp>, Error> {
    match body.get("expiresAt") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Timestamp::parse(s).map(Some).ok_or_else(|| {
            Error::invalid("expiresAt", format!("'{s}' is not an RFC 3339 date-time"))
        }),
        Some(_) => Err(Error::invalid("expiresAt", "must be a date-time string")),
    }
}

/// `?limit=&marker=`.
#[derive(Deserialize)]
struct Paging {
    limit: Option<String>,
    marker: Option<String>,
}

/// A page of `items` and the marker of the next one (absent at the end).
fn page(items: Vec<Value>, paging: &Paging) -> Result<Value, Error> {
    let limit = match &paging.limit {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| Error::BadRequest(format!("limit '{l}' must be 1-100")))?,
    };
    let start = match &paging.marker {
        None => 0,
        Some(m) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(m)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .ok_or_else(|| Error::BadRequest("marker is not one this server issued".into()))?,
    };
    let end = (start + limit).min(items.len());
    let mut out = json!({"items": items.get(start.min(items.len())..end).unwrap_or_default()});
    if end < items.len() {
        out["marker"] =
            json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{end}")));
    }
    Ok(out)
}

pub(super) fn times(object: &Object) -> (String, String) {
    (
        object.meta.creation_timestamp.to_string(),
        object.meta.update_timestamp.to_string(),
    )
}

pub(super) fn key_summary(key: &Object) -> Value {
    let (created, updated) = times(key);
    let mut out = json!({"id": key.meta.name, "createdAt": created, "updatedAt": updated});
    if let Some(e) = key.spec.get("expiresAt") {
        out["expiresAt"] = e.clone();
    }
    out
}

async fn create_root_key(
    Acting(state): Acting,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    let (token, key) = state
        .core
        .create_key(drey_control::auth::KeyRequest {
            kind: "root",
            org: drey_model::object::DEFAULT_ORG.to_owned(),
            expires_at: expires_at(&body)?,
            ..drey_control::auth::KeyRequest::default()
        })
        .await?;
    let mut out = key_summary(&key);
    out["key"] = json!(token.token);
    Ok(json_reply(StatusCode::CREATED, out))
}

async fn list_root_keys(
    Acting(state): Acting,
    WithRejection(Query(paging), _): QueryOf<Paging, LakeSailError>,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    let keys = state.core.list_keys("root", None, None).await?;
    let items = keys.iter().map(key_summary).collect();
    Ok(json_reply(StatusCode::OK, page(items, &paging)?))
}

async fn root_key(state: &AppState, id: &str) -> Result<Object, Error> {
    state
        .core
        .get_key(id)
        .await?
        .filter(|k| k.spec["kind"] == "root")
        .ok_or_else(|| Error::not_found(drey_model::Kind::ApiKey, id))
}

async fn get_root_key(
    Acting(state): Acting,
    Path(id): Path<String>,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    Ok(json_reply(
        StatusCode::OK,
        key_summary(&root_key(&state, &id).await?),
    ))
}

/// PATCH of a key: `expiresAt` set, or cleared with null.
pub(super) async fn patch_key(
    state: &AppState,
    key: &Object,
    body: &Value,
) -> Result<Object, Error> {
    if !body.is_object() {
        return Err(Error::BadRequest("the body must be a JSON object".into()));
    }
    match body.get("expiresAt") {
        None => Ok(key.clone()),
        Some(_) => {
            state
                .core
                .set_key_expiry(&key.meta.name, expires_at(body)?)
                .await
        }
    }
}

async fn update_root_key(
    Acting(state): Acting,
    Path(id): Path<String>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    let key = root_key(&state, &id).await?;
    let key = patch_key(&state, &key, &body).await?;
    Ok(json_reply(StatusCode::OK, key_summary(&key)))
}

async fn delete_root_key(
    Acting(state): Acting,
    Path(id): Path<String>,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    root_key(&state, &id).await?;
    state.core.revoke_key(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn organization(org: &Object) -> Value {
    let (created, updated) = times(org);
    let mut out = json!({"id": org.meta.name, "name": org.spec["name"], "createdAt": created, "updatedAt": updated});
    if let Some(limits) = org.spec.get("limits") {
        set_field(&mut out, "limits", limits.clone());
    }
    out
}

async fn create_organization(
    Acting(state): Acting,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("name", "is required"))?;
    let limits = limits_of(&body)?;
    let mut org = state.core.create_organization(name).await?;
    if let Some(limits) = limits {
        org = state
            .core
            .set_organization_limits(&org.meta.name, limits)
            .await?;
    }
    Ok(json_reply(StatusCode::CREATED, organization(&org)))
}

async fn list_organizations(
    Acting(state): Acting,
    WithRejection(Query(paging), _): QueryOf<Paging, LakeSailError>,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    let orgs = state.core.list_organizations().await?;
    Ok(json_reply(
        StatusCode::OK,
        page(orgs.iter().map(organization).collect(), &paging)?,
    ))
}

async fn get_organization(
    Acting(state): Acting,
    Path(id): Path<String>,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    let org = state.core.get_organization(&id).await?;
    Ok(json_reply(StatusCode::OK, organization(&org)))
}

async fn update_organization(
    Acting(state): Acting,
    Path(id): Path<String>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    let limits = limits_of(&body)?;
    let mut org = match body.get("name") {
        None => state.core.get_organization(&id).await?,
        Some(Value::String(name)) => state.core.rename_organization(&id, name).await?,
        Some(_) => return Err(Error::invalid("name", "must be a string").into()),
    };
    if let Some(limits) = limits {
        org = state.core.set_organization_limits(&id, limits).await?;
    }
    Ok(json_reply(StatusCode::OK, organization(&org)))
}

/// `limits` of a body (drey's addition: quota limits a server administrator
/// sets; `null` clears them).
fn limits_of(body: &Value) -> Result<Option<Limits>, Error> {
    match body.get("limits") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Limits::default())),
        Some(limits) => Limits::parse("limits", limits).map(Some),
    }
}

/// A quota report: the limits set, those that apply, and what is in use.
fn quota_json(report: &QuotaReport) -> Value {
    json!({
        "limits": report.limits,
        "effectiveLimits": report.effective,
        "usage": report.usage,
    })
}

/// `GET /api/admin/v1/organizations/{org}/quota`.
async fn get_organization_quota(
    Acting(state): Acting,
    Path(id): Path<String>,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    let report = state.core.organization_quota(&id).await?;
    Ok(json_reply(StatusCode::OK, quota_json(&report)))
}

/// `GET /api/admin/v1/organizations/{org}/workspaces/{ws}/quota`.
async fn get_workspace_quota(
    Acting(state): Acting,
    Path((org, ws)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    let report = state.core.environment_quota(&org, &ws).await?;
    Ok(json_reply(StatusCode::OK, quota_json(&report)))
}

/// `PUT /api/admin/v1/organizations/{org}/workspaces/{ws}/quota`: `{"limits": {...}}`.
async fn set_workspace_quota(
    Acting(state): Acting,
    Path((org, ws)): Path<(String, String)>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    let limits = limits_of(&body)?.unwrap_or_default();
    let report = state.core.set_environment_limits(&org, &ws, limits).await?;
    Ok(json_reply(StatusCode::OK, quota_json(&report)))
}

async fn delete_organization(
    Acting(state): Acting,
    Path(id): Path<String>,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    state.core.delete_organization(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// drey's way in to a new organization: an administrator service account
/// and a key for it, made by a server administrator.
async fn create_organization_key(
    Acting(state): Acting,
    Path(org): Path<String>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_admin(&state)?;
    state.core.get_organization(&org).await?;
    let account = state
        .core
        .create_service_account(&org, "admin", "organization administrator", Role::Admin)
        .await?;
    let (token, key) = state
        .core
        .create_service_account_key(&org, &account.meta.name, expires_at(&body)?)
        .await?;
    let mut out = key_summary(&key);
    out["key"] = json!(token.token);
    out["serviceAccountId"] = json!(account.meta.name);
    Ok(json_reply(StatusCode::CREATED, out))
}

/// Sets a field of a JSON object drey built; anything else is left as it is.
pub(crate) fn set_field(out: &mut serde_json::Value, key: &str, value: serde_json::Value) {
    if let Some(map) = out.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
}
