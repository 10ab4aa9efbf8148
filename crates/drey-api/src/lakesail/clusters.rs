//! `/api/org/v1/clusters` (drey's completion of LakeSail's clusters: "registered
//! by giving network addresses and credentials"). Body: `name`, `kind`
//! (`local`: the machine drey runs on; `flink`: an existing Flink session
//! cluster by its REST `endpoint`, with `savepointDir`, `caFile` or
//! `insecure`, watched by drey; `kubernetes`: recorded with its API server
//! `endpoint`), `description`, `credentials` (a map of strings, sealed at
//! rest, never returned: responses say `hasCredentials`; for `flink`,
//! `username` and `password` or `token` for a reverse proxy in front of it).
//! Responses carry `status`: CONNECTED/DISCONNECTED, the last heartbeat and
//! the cluster's jobs. Organization administrators manage clusters;
//! workspaces name one with `clusterId`.

use super::{json_reply, page, require_org_admin, Json, LakeSailError, Paging};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::QueryOf;
use crate::AppState;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::WithRejection;
use drey_control::clusters::{render_cluster, ClusterInput};
use drey_model::{Error, Object};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Splits a body into the visible spec and the credentials.
fn input(body: &Value) -> Result<ClusterInput, Error> {
    let Some(fields) = body.as_object() else {
        return Err(Error::BadRequest("the body must be a JSON object".into()));
    };
    let mut spec = Map::new();
    for key in [
        "name",
        "kind",
        "endpoint",
        "description",
        "savepointDir",
        "caFile",
        "insecure",
        "lifecycleState",
    ] {
        if let Some(v) = fields.get(key).filter(|v| !v.is_null()) {
            spec.insert(key.into(), v.clone());
        }
    }
    let credentials = match fields.get("credentials") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(
            map.iter()
                .map(|(k, v)| match v.as_str() {
                    Some(s) => Ok((k.clone(), s.to_owned())),
                    None => Err(Error::invalid(
                        format!("credentials.{k}"),
                        "must be a string",
                    )),
                })
                .collect::<Result<BTreeMap<_, _>, _>>()?,
        ),
        Some(_) => return Err(Error::invalid("credentials", "must be a map of strings")),
    };
    Ok(ClusterInput {
        spec: Value::Object(spec),
        credentials,
    })
}

async fn shown(state: &AppState, cluster: &Object) -> Result<Value, Error> {
    let has = state.core.cluster_has_credentials(cluster).await?;
    Ok(render_cluster(cluster, has))
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    let cluster = state.core.create_cluster(&who.org, input(&body)?).await?;
    Ok(json_reply(
        StatusCode::CREATED,
        shown(&state, &cluster).await?,
    ))
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    WithRejection(Query(paging), _): QueryOf<Paging, LakeSailError>,
) -> Result<Response, LakeSailError> {
    let mut items = Vec::new();
    for cluster in state.core.list_clusters(&who.org).await? {
        items.push(shown(&state, &cluster).await?);
    }
    Ok(json_reply(StatusCode::OK, page(items, &paging)?))
}

pub(super) async fn describe(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, LakeSailError> {
    let cluster = state.core.get_cluster(&who.org, &id).await?;
    Ok(json_reply(StatusCode::OK, shown(&state, &cluster).await?))
}

/// PATCH: a JSON merge patch over `name`, `kind`, `endpoint`,
/// `description`; `credentials`, when given, replace the stored ones.
pub(super) async fn update(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(id): Path<String>,
    Json(patch): Json,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    let current = state.core.get_cluster(&who.org, &id).await?;
    let mut merged = current.spec.clone();
    let mut visible = patch.clone();
    let credentials = visible
        .as_object_mut()
        .and_then(|v| v.remove("credentials"));
    json_patch::merge(&mut merged, &visible);
    if let (Some(c), Some(fields)) = (credentials, merged.as_object_mut()) {
        fields.insert("credentials".into(), c);
    }
    let cluster = state.core.update_cluster(&current, input(&merged)?).await?;
    Ok(json_reply(StatusCode::OK, shown(&state, &cluster).await?))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    let in_use = super::flink::workspace_on_cluster(&state, &who, &id).await?;
    state
        .core
        .delete_cluster(&who.org, &id, in_use.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
