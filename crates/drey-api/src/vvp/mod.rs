//! The Ververica Platform 2.x dialect: the Application Manager API under
//! `/api/v1/namespaces/{ns}/...`, the platform's namespaces under
//! `/namespaces/v1/...` and API tokens under `/apitokens/v1/...`, over the same core as CMF. A VVP namespace is a core
//! environment; a Deployment is a core application; a Job is one of its
//! instances; a SessionCluster is a SHARED compute pool. The conventions of the dialect (object envelope, list wrapper,
//! names, merge-patch, resourceVersion, ApiException bodies) live here once.

mod api_tokens;
mod artifacts;
mod autopilot;
mod catalogs;
mod deployments;
mod documents;
mod namespaces;
mod runs;
mod session_clusters;
mod specs;
mod sql;

use crate::body::read_document;
use crate::error::status_of;
use crate::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use drey_model::{Error, Object};
use serde_json::{json, Map, Value};

/// The VVP routes.
pub fn router() -> Router<AppState> {
    let ns = "/api/v1/namespaces/{namespace}";
    Router::new()
        .route(
            "/namespaces/v1/namespaces",
            get(namespaces::list).post(namespaces::create),
        )
        .route(
            "/namespaces/v1/namespaces/{ns}",
            get(namespaces::get)
                .post(namespaces::post_verb)
                .put(namespaces::update)
                .patch(namespaces::update)
                .delete(namespaces::delete),
        )
        .route(
            "/apitokens/v1/namespaces/{ns}/apitokens",
            get(api_tokens::list).post(api_tokens::create),
        )
        .route(
            "/apitokens/v1/namespaces/{ns}/apitokens/{name}",
            get(api_tokens::get).delete(api_tokens::delete),
        )
        .route(
            "/sql/v1beta1/namespaces/{ns}/{collection}",
            get(sql::list).post(sql::create),
        )
        .route(
            "/sql/v1beta1/namespaces/{ns}/{collection}/{name}",
            get(sql::get)
                .put(sql::put)
                .delete(sql::delete)
                .post(sql::post_verb),
        )
        .route(
            "/catalog/v1beta2/namespaces/{ns}/catalogs",
            get(catalogs::list),
        )
        .route(
            "/catalog/v1beta2/namespaces/{ns}/catalogs/{cat}",
            get(catalogs::get),
        )
        .route(
            "/artifacts/v1/namespaces/{ns}/artifacts",
            get(artifacts::list).delete(artifacts::delete),
        )
        .route(
            "/artifacts/v1/namespaces/{ns}/{verb}",
            // The store counts the upload against its own limit as it arrives.
            axum::routing::post(artifacts::upload)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            &format!("{ns}/deployments"),
            get(deployments::list).post(deployments::create),
        )
        .route(
            &format!("{ns}/deployments/{{name}}"),
            get(deployments::get)
                .put(deployments::put)
                .patch(deployments::patch)
                .delete(deployments::delete),
        )
        .route(&format!("{ns}/jobs"), get(runs::list_jobs))
        .route(&format!("{ns}/jobs/{{jobId}}"), get(runs::get_job))
        .route(&format!("{ns}/events"), get(runs::list_events))
        .route(
            &format!("{ns}/savepoints"),
            get(runs::list_savepoints).post(runs::create_savepoint),
        )
        .route(
            &format!("{ns}/savepoints/{{savepointId}}"),
            get(runs::get_savepoint).delete(runs::delete_savepoint),
        )
        .route(
            &format!("{ns}/sessionclusters"),
            get(session_clusters::list).post(session_clusters::create),
        )
        .route(
            &format!("{ns}/sessionclusters/{{name}}"),
            get(session_clusters::get)
                .put(session_clusters::replace)
                .patch(session_clusters::replace)
                .delete(session_clusters::delete),
        )
        .route(
            &format!("{ns}/deployment-defaults"),
            get(documents::get_defaults).patch(documents::patch_defaults),
        )
        .route(
            &format!("{ns}/{{plural}}"),
            get(documents::list).post(documents::create),
        )
        .route(
            &format!("{ns}/{{plural}}/{{name}}"),
            get(documents::get)
                .put(documents::replace)
                .patch(documents::replace)
                .delete(documents::delete),
        )
        .route(
            "/autopilot/v1alpha1/namespaces/{ns}",
            get(autopilot::list),
        )
        .route(
            "/autopilot/v1alpha1/namespaces/{ns}/deployments/{deployment}/autopilotpolicy",
            get(autopilot::get).put(autopilot::put),
        )
        .route(
            "/autopilot/v1alpha1/namespaces/{ns}/deployments/{deployment}/autopilotpolicy:recommendation",
            get(autopilot::recommendation),
        )
        .route(
            "/autopilot/v1alpha1/namespaces/{ns}/deployments/{deployment}/autopilotpolicy:status",
            get(autopilot::status),
        )
        .route("/api/v1/status", get(runs::status))
        .route("/api/v1/status/system-info", get(runs::system_info))
}

/// A core error in VVP's bodies: `ApiValidationException` (400, one entry
/// per invalid attribute) or `ApiException` (`message`, `reason`,
/// `statusCode`, `context`).
#[derive(Debug)]
pub struct VvpError(pub Error);

impl From<axum::extract::rejection::QueryRejection> for VvpError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        VvpError(crate::error::malformed_query(rejection))
    }
}

impl From<Error> for VvpError {
    fn from(e: Error) -> Self {
        VvpError(e)
    }
}

impl IntoResponse for VvpError {
    fn into_response(self) -> Response {
        let status = status_of(&self.0, StatusCode::BAD_REQUEST);
        let body = match &self.0 {
            Error::Invalid { field, message } => json!({
                "kind": "ApiValidationException",
                "apiVersion": "v1",
                "message": format!("Validation failed: {field}: {message}"),
                "statusCode": 400,
                "errors": [{"attribute": field, "message": message}],
            }),
            other => json!({
                "kind": "ApiException",
                "apiVersion": "v1",
                "message": other.to_string(),
                "reason": reason(status),
                "statusCode": status.as_u16(),
                "context": {},
            }),
        };
        if status.is_server_error() {
            tracing::warn!(error = %self.0, "request failed");
        }
        (status, axum::Json(body)).into_response()
    }
}

fn reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Gone",
        413 => "PayloadTooLarge",
        501 => "NotImplemented",
        503 => "Unavailable",
        _ => "InternalServerError",
    }
}

/// A request body in VVP's dialect (JSON or YAML, errors as ApiException).
pub struct VvpPayload(pub Value);

impl FromRequest<AppState> for VvpPayload {
    type Rejection = VvpError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(VvpPayload(read_document(req, state).await?))
    }
}

/// VVP's name rule for everything but DeploymentTarget and SecretValue: at
/// most 63 of `[-0-9a-z]`, not starting or ending with a hyphen.
pub fn check_name(field: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "'{name}' must be 1-63 characters of [-0-9a-z], not starting or ending with '-'"
            ),
        ))
    }
}

/// `metadata.name` of a request body; required.
fn name_in(body: &Value) -> Result<String, Error> {
    body.get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid("metadata.name", "is required"))
}

/// `metadata.labels` or `metadata.annotations` of a request body.
fn string_map_in(
    body: &Value,
    key: &str,
) -> Result<std::collections::BTreeMap<String, String>, Error> {
    match body.get("metadata").and_then(|m| m.get(key)) {
        None | Some(Value::Null) => Ok(Default::default()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(s) => Ok((k.clone(), s.to_owned())),
                None => Err(Error::invalid(
                    format!("metadata.{key}.{k}"),
                    "must be a string",
                )),
            })
            .collect(),
        Some(_) => Err(Error::invalid(
            format!("metadata.{key}"),
            "must be a map of strings",
        )),
    }
}

/// `metadata.resourceVersion` of a request body, when it carries one.
fn version_in(body: &Value) -> Result<Option<i64>, Error> {
    match body.get("metadata").and_then(|m| m.get("resourceVersion")) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .map(Some)
            .ok_or_else(|| Error::invalid("metadata.resourceVersion", "must be an integer")),
    }
}

/// `metadata` of a VVP object over a core object.
fn metadata(object: &Object, namespace: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(object.meta.uid.to_string()));
    m.insert("name".into(), json!(object.meta.name));
    m.insert("namespace".into(), json!(namespace));
    m.insert("labels".into(), json!(object.meta.labels));
    m.insert("annotations".into(), json!(object.meta.annotations));
    m.insert(
        "createdAt".into(),
        json!(object.meta.creation_timestamp.to_string()),
    );
    m.insert(
        "modifiedAt".into(),
        json!(object.meta.update_timestamp.to_string()),
    );
    m.insert(
        "resourceVersion".into(),
        json!(object.meta.resource_version),
    );
    m
}

/// `{"kind": "<Kind>List", "apiVersion": "v1", "items": [...]}`.
fn list_of(kind: &str, items: Vec<Value>) -> Value {
    json!({"kind": format!("{kind}List"), "apiVersion": "v1", "metadata": {}, "items": items})
}

/// A JSON answer (YAML when asked for, by the shared middleware).
fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Every item of a core listing, page after page.
pub(crate) async fn all_of<F, Fut>(page_of: F) -> Result<Vec<Object>, Error>
where
    F: FnMut(drey_model::PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<drey_model::Page<Object>, Error>>,
{
    all(page_of).await
}

async fn all<F, Fut>(mut page_of: F) -> Result<Vec<Object>, Error>
where
    F: FnMut(drey_model::PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<drey_model::Page<Object>, Error>>,
{
    let mut out = Vec::new();
    for page in 0.. {
        let items = page_of(drey_model::PageRequest {
            page,
            size: 1000,
            sort: vec![],
        })
        .await?
        .items;
        let done = items.len() < 1000;
        out.extend(items);
        if done {
            break;
        }
    }
    Ok(out)
}
