//! `/cmf/api/v1/catalogs/kafka`.

use super::environments::reply_empty;
use super::{page_reply, page_request, reply, resource, resource_input, ORG};
use crate::body::Payload;
use crate::error::CmfError;
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use drey_model::Object;
use serde_json::Value;

const KIND: &str = "KafkaCatalog";

fn render(catalog: &Object) -> Value {
    resource(catalog, KIND)
}

pub(super) async fn create(
    State(state): State<AppState>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true)?;
    let catalog = state.core.create_catalog(ORG, input).await?;
    Ok(reply(StatusCode::OK, render(&catalog)))
}

pub(super) async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let catalogs = state.core.list_catalogs(ORG, page.clone()).await?;
    Ok(page_reply(&page, catalogs, render))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    let catalog = state.core.get_catalog(ORG, &name).await?;
    Ok(reply(StatusCode::OK, render(&catalog)))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    state.core.delete_catalog(ORG, &name).await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}
