//! `/cmf/api/v1/catalogs/kafka`.

use super::environments::reply_empty;
use super::{page_reply, page_request, reply, resource, resource_input};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::CmfError;
use crate::AppState;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use drey_model::Object;
use drey_model::Page;
use serde_json::{json, Value};

const KIND: &str = "KafkaCatalog";

/// The catalog with `status.environmentsWithAccess`: the environments whose
/// secret mappings cover every connection secret it names.
async fn render(state: &AppState, catalog: &Object) -> Result<Value, CmfError> {
    let envs = state.core.catalog_environments(catalog).await?;
    Ok(with_access(resource(catalog, KIND), envs))
}

/// `out` with `status.environmentsWithAccess` set to `envs`.
fn with_access(mut out: Value, envs: Vec<String>) -> Value {
    if let Some(fields) = out.as_object_mut() {
        fields.insert("status".into(), json!({"environmentsWithAccess": envs}));
    }
    out
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true)?;
    let catalog = state.core.create_catalog(&who.org, input).await?;
    Ok(reply(StatusCode::OK, render(&state, &catalog).await?))
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let catalogs = state.core.list_catalogs(&who.org, page.clone()).await?;
    let mut items = Vec::with_capacity(catalogs.items.len());
    for catalog in &catalogs.items {
        items.push(render(&state, catalog).await?);
    }
    let rendered = Page {
        items,
        total: catalogs.total,
    };
    Ok(page_reply(&page, rendered, Value::clone))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    let catalog = state.core.get_catalog(&who.org, &name).await?;
    Ok(reply(StatusCode::OK, render(&state, &catalog).await?))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    state.core.delete_catalog(&who.org, &name).await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}

pub(super) async fn update(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(name): Path<String>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true)?;
    let catalog = state.core.update_catalog(&who.org, &name, input).await?;
    Ok(reply(StatusCode::OK, render(&state, &catalog).await?))
}

const DATABASE_KIND: &str = "KafkaDatabase";

/// A database with `status.environmentsWithAccess`: the environments whose
/// secret mappings cover its connection secret.
async fn render_database(state: &AppState, database: &Object) -> Result<Value, CmfError> {
    let envs = state.core.database_environments(database).await?;
    Ok(with_access(resource(database, DATABASE_KIND), envs))
}

pub(super) async fn create_database(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(catalog): Path<String>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, DATABASE_KIND, true)?;
    let database = state
        .core
        .create_kafka_database(&who.org, &catalog, input)
        .await?;
    Ok(reply(
        StatusCode::OK,
        render_database(&state, &database).await?,
    ))
}

pub(super) async fn list_databases(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(catalog): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let databases = state
        .core
        .list_kafka_databases(&who.org, &catalog, page.clone())
        .await?;
    let mut items = Vec::with_capacity(databases.items.len());
    for database in &databases.items {
        items.push(render_database(&state, database).await?);
    }
    let rendered = Page {
        items,
        total: databases.total,
    };
    Ok(page_reply(&page, rendered, Value::clone))
}

pub(super) async fn get_database(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((catalog, name)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let database = state
        .core
        .get_kafka_database(&who.org, &catalog, &name)
        .await?;
    Ok(reply(
        StatusCode::OK,
        render_database(&state, &database).await?,
    ))
}

pub(super) async fn update_database(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((catalog, name)): Path<(String, String)>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, DATABASE_KIND, true)?;
    let database = state
        .core
        .update_kafka_database(&who.org, &catalog, &name, input)
        .await?;
    Ok(reply(
        StatusCode::OK,
        render_database(&state, &database).await?,
    ))
}

pub(super) async fn delete_database(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((catalog, name)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    state
        .core
        .delete_kafka_database(&who.org, &catalog, &name)
        .await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}
