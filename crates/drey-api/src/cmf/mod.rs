//! The Confluent Manager for Apache Flink dialect, under `/cmf/api/v1` (events
//! under `/cmf/api/v1alpha1`): paths, bodies and status codes as CMF defines
//! them, over drey's core.

mod applications;
mod artifacts;
mod catalogs;
mod compute_pools;
mod environments;
pub(crate) mod flink_web_ui;
mod information;
mod kubernetes_clusters;
mod savepoints;
mod secret_mappings;
mod secrets;
mod statements;

use crate::paging::{cmf_page, QueryPairs};
use crate::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use drey_control::ResourceInput;
use drey_model::public_status::public_status;
use drey_model::{Error, Object, Page, PageRequest};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// CMF's API version for v1 resources.
pub(crate) const API_VERSION: &str = "cmf.confluent.io/v1";

/// Every CMF route.
pub fn router() -> Router<AppState> {
    let env = "/cmf/api/v1/environments/{envName}";
    Router::new()
        .route(
            "/cmf/api/v1/environments",
            post(environments::upsert).get(environments::list),
        )
        .route(env, get(environments::get).delete(environments::delete))
        .route(
            "/cmf/api/v1/kubernetes-clusters",
            get(kubernetes_clusters::list),
        )
        .route(
            "/cmf/api/v1/kubernetes-clusters/{kubernetesClusterName}",
            get(kubernetes_clusters::get).put(kubernetes_clusters::update),
        )
        .route(
            &format!("{env}/artifacts"),
            // Uploads are counted against the artifact store's own limit.
            post(artifacts::create)
                .get(artifacts::list)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            &format!("{env}/artifacts/{{artifactName}}"),
            get(artifacts::get)
                .put(artifacts::update)
                .delete(artifacts::delete)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            &format!("{env}/artifacts/{{artifactName}}/versions"),
            get(artifacts::list_versions),
        )
        .route(
            &format!("{env}/artifacts/{{artifactName}}/content"),
            get(artifacts::content),
        )
        .route(
            &format!("{env}/applications"),
            post(applications::upsert).get(applications::list),
        )
        .route(
            &format!("{env}/applications/{{appName}}"),
            get(applications::get).delete(applications::delete),
        )
        .route(
            &format!("{env}/applications/{{appName}}/start"),
            post(applications::start),
        )
        .route(
            &format!("{env}/applications/{{appName}}/suspend"),
            post(applications::suspend),
        )
        .route(
            &format!("{env}/applications/{{appName}}/manifest"),
            get(applications::manifest),
        )
        .route(
            &format!("{env}/applications/{{appName}}/instances"),
            get(applications::list_instances),
        )
        .route(
            &format!("{env}/applications/{{appName}}/instances/{{instName}}"),
            get(applications::get_instance),
        )
        .route(
            &format!("{env}/applications/{{appName}}/savepoints"),
            post(savepoints::create).get(savepoints::list),
        )
        .route(
            &format!("{env}/applications/{{appName}}/savepoints/{{savepointName}}"),
            get(savepoints::get).delete(savepoints::delete),
        )
        .route(
            &format!("{env}/applications/{{appName}}/savepoints/{{savepointName}}/detach"),
            post(savepoints::detach),
        )
        .route(
            &format!("{env}/applications/{{appName}}/flink-web-ui"),
            any(flink_web_ui::redirect),
        )
        .route(
            &format!("{env}/applications/{{appName}}/flink-web-ui/"),
            any(flink_web_ui::proxy),
        )
        .route(
            &format!("{env}/applications/{{appName}}/flink-web-ui/{{*path}}"),
            any(flink_web_ui::proxy),
        )
        .route(
            &format!("{env}/statements/{{stmtName}}/flink-web-ui"),
            any(flink_web_ui::redirect),
        )
        .route(
            &format!("{env}/statements/{{stmtName}}/flink-web-ui/"),
            any(flink_web_ui::proxy),
        )
        .route(
            &format!("{env}/statements/{{stmtName}}/flink-web-ui/{{*path}}"),
            any(flink_web_ui::proxy),
        )
        .route(
            &format!("{env}/compute-pools/{{computePoolName}}/flink-web-ui"),
            any(flink_web_ui::redirect),
        )
        .route(
            &format!("{env}/compute-pools/{{computePoolName}}/flink-web-ui/"),
            any(flink_web_ui::proxy),
        )
        .route(
            &format!("{env}/compute-pools/{{computePoolName}}/flink-web-ui/{{*path}}"),
            any(flink_web_ui::proxy),
        )
        .route(
            "/cmf/api/v1/detached-savepoints",
            post(savepoints::create_detached).get(savepoints::list_detached),
        )
        .route(
            "/cmf/api/v1/detached-savepoints/{detachedSavepointName}",
            get(savepoints::get_detached).delete(savepoints::delete_detached),
        )
        .route(
            "/cmf/api/v1alpha1/environments/{envName}/applications/{appName}/events",
            get(applications::list_events),
        )
        .route(
            &format!("{env}/secret-mappings"),
            post(secret_mappings::create).get(secret_mappings::list),
        )
        .route(
            &format!("{env}/secret-mappings/{{name}}"),
            get(secret_mappings::get)
                .put(secret_mappings::update)
                .delete(secret_mappings::delete),
        )
        .route(
            &format!("{env}/statements"),
            post(statements::create).get(statements::list),
        )
        .route(
            &format!("{env}/statements/{{stmtName}}"),
            get(statements::get)
                .put(statements::update)
                .delete(statements::delete),
        )
        .route(
            &format!("{env}/statements/{{stmtName}}/savepoints"),
            post(savepoints::create).get(savepoints::list),
        )
        .route(
            &format!("{env}/statements/{{stmtName}}/savepoints/{{savepointName}}"),
            get(savepoints::get).delete(savepoints::delete),
        )
        .route(
            &format!("{env}/statements/{{stmtName}}/results"),
            get(statements::results),
        )
        .route(
            &format!("{env}/statements/{{stmtName}}/exceptions"),
            get(statements::exceptions),
        )
        .route(
            &format!("{env}/compute-pools"),
            post(compute_pools::create).get(compute_pools::list),
        )
        .route(
            &format!("{env}/compute-pools/{{computePoolName}}"),
            get(compute_pools::get)
                .put(compute_pools::update)
                .delete(compute_pools::delete),
        )
        .route(
            &format!("{env}/compute-pools/{{computePoolName}}/manifest"),
            get(compute_pools::manifest),
        )
        .route(
            "/cmf/api/v1/secrets",
            post(secrets::create).get(secrets::list),
        )
        .route(
            "/cmf/api/v1/secrets/{secretName}",
            get(secrets::get)
                .put(secrets::update)
                .delete(secrets::delete),
        )
        .route(
            "/cmf/api/v1/catalogs/kafka",
            post(catalogs::create).get(catalogs::list),
        )
        .route(
            "/cmf/api/v1/catalogs/kafka/{catName}",
            get(catalogs::get)
                .put(catalogs::update)
                .delete(catalogs::delete),
        )
        .route(
            "/cmf/api/v1/catalogs/kafka/{catName}/databases",
            post(catalogs::create_database).get(catalogs::list_databases),
        )
        .route(
            "/cmf/api/v1/catalogs/kafka/{catName}/databases/{dbName}",
            get(catalogs::get_database)
                .put(catalogs::update_database)
                .delete(catalogs::delete_database),
        )
        .route("/cmf/api/v1/system-information", get(information::system))
        .route(
            "/cmf/api/v1/resource-information",
            get(information::resources),
        )
        .route("/cmf/api/v1/c3/license", get(information::license))
}

/// `metadata` of a k8s-style CMF object.
pub(crate) fn metadata(object: &Object) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(object.meta.name));
    m.insert("uid".into(), json!(object.meta.uid.to_string()));
    m.insert(
        "creationTimestamp".into(),
        json!(object.meta.creation_timestamp.to_string()),
    );
    m.insert(
        "updateTimestamp".into(),
        json!(object.meta.update_timestamp.to_string()),
    );
    m.insert(
        "resourceVersion".into(),
        json!(object.meta.resource_version.to_string()),
    );
    m.insert("labels".into(), json!(object.meta.labels));
    m.insert("annotations".into(), json!(object.meta.annotations));
    m
}

/// A k8s-style CMF object: `apiVersion`, `kind`, `metadata`, `spec`, and
/// `status` without drey's internal records.
pub(crate) fn resource(object: &Object, kind: &str) -> Value {
    resource_with(object, kind, metadata(object))
}

/// [`resource`] with the metadata given.
pub(crate) fn resource_with(object: &Object, kind: &str, metadata: Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(API_VERSION));
    out.insert("kind".into(), json!(kind));
    out.insert("metadata".into(), Value::Object(metadata));
    out.insert("spec".into(), object.spec.clone());
    if !object.status.is_null() {
        out.insert("status".into(), public_status(&object.status));
    }
    Value::Object(out)
}

/// A JSON response with a status code.
pub(crate) fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// A CMF page of rendered objects.
pub(crate) fn page_reply<T>(
    request: &PageRequest,
    page: Page<T>,
    render: impl Fn(&T) -> Value,
) -> Response {
    let items = page.items.iter().map(render).collect();
    reply(StatusCode::OK, cmf_page(request, page.total, items))
}

/// Parses the paging parameters of a list request.
pub(crate) fn page_request(query: Option<String>) -> Result<(QueryPairs, PageRequest), Error> {
    let pairs = QueryPairs::parse(query.as_deref());
    let page = pairs.page_request()?;
    Ok((pairs, page))
}

fn string_map(field: &str, value: Option<&Value>) -> Result<BTreeMap<String, String>, Error> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(Error::invalid(format!("{field}.{k}"), "must be a string")),
            })
            .collect(),
        Some(_) => Err(Error::invalid(field, "must be a map of strings")),
    }
}

/// Reads the envelope of a k8s-style CMF object: checks `kind` and
/// `apiVersion` when given, requires `metadata.name` and (optionally) `spec`.
pub(crate) fn resource_input(
    body: Value,
    kind: &str,
    spec_required: bool,
) -> Result<ResourceInput, Error> {
    let Value::Object(mut body) = body else {
        return Err(Error::BadRequest(format!(
            "request body must be a {kind} object"
        )));
    };
    if let Some(k) = body.get("kind").filter(|k| !k.is_null()) {
        if k.as_str() != Some(kind) {
            return Err(Error::invalid("kind", format!("must be '{kind}', not {k}")));
        }
    }
    if let Some(v) = body.get("apiVersion").filter(|v| !v.is_null()) {
        let ok = v
            .as_str()
            .map(|s| s.starts_with("cmf.confluent.io/"))
            .unwrap_or(false);
        if !ok {
            return Err(Error::invalid(
                "apiVersion",
                format!("must be '{API_VERSION}', not {v}"),
            ));
        }
    }
    let metadata = match body.remove("metadata") {
        Some(Value::Object(m)) => m,
        Some(_) => return Err(Error::BadRequest("metadata must be an object".into())),
        None => return Err(Error::BadRequest("metadata is required".into())),
    };
    let name = match metadata.get("name") {
        Some(Value::String(n)) => n.clone(),
        Some(_) => return Err(Error::BadRequest("metadata.name must be a string".into())),
        None => return Err(Error::BadRequest("metadata.name is required".into())),
    };
    let spec = match body.remove("spec") {
        Some(spec @ Value::Object(_)) => spec,
        Some(Value::Null) | None if !spec_required => json!({}),
        Some(Value::Null) | None => return Err(Error::BadRequest("spec is required".into())),
        Some(_) => return Err(Error::BadRequest("spec must be an object".into())),
    };
    Ok(ResourceInput {
        name,
        labels: string_map("metadata.labels", metadata.get("labels"))?,
        annotations: string_map("metadata.annotations", metadata.get("annotations"))?,
        spec,
    })
}
