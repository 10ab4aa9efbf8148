//! `/cmf/api/v1/kubernetes-clusters` (CMF 2.3): every cluster the caller's
//! organization registered (through LakeSail's `/api/org/v1/clusters` or
//! `drey cluster add`), and `local`, the machine drey runs on, which every
//! environment uses unless its `kubernetesClusterName` names another.
//! `PUT` sets `spec.lifecycleState` and `metadata.labels`; a cluster that
//! environments use cannot be decommissioned.

use super::{page_request, reply, API_VERSION};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::CmfError;
use crate::vvp::all_of;
use crate::AppState;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use drey_control::access::{Need, Scope};
use drey_model::cluster::{
    ClusterHealth, ClusterRegistration, ConnectionState, LifecycleState, LOCAL_CLUSTER,
};
use drey_model::environment_spec::EnvironmentSpec;
use drey_model::loose::view;
use drey_model::{Error, Kind, Object};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The CMF status of the local machine: drey answers, so it is connected
/// (no heartbeat time: it would change every read, and with it the ETag).
pub(crate) fn local_status() -> Value {
    json!({"state": "CONNECTED", "message": "the machine drey runs on"})
}

fn local() -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "KubernetesCluster",
        "metadata": {"name": LOCAL_CLUSTER, "labels": {"drey.io/kind": "local"}},
        "spec": {"lifecycleState": "ACTIVE"},
        "status": local_status(),
    })
}

/// A registered cluster in CMF's words.
fn render(cluster: &Object) -> Value {
    let registration = ClusterRegistration::parse(&cluster.spec).ok();
    let name = registration
        .as_ref()
        .map_or(cluster.meta.name.clone(), |r| r.name.clone());
    let lifecycle = registration
        .as_ref()
        .map_or(LifecycleState::Active, |r| r.lifecycle_state);
    let health = ClusterHealth::of(&cluster.status);
    let mut status = serde_json::Map::new();
    let state = match (lifecycle, &health) {
        (LifecycleState::Decommissioned, _) => ConnectionState::Decommissioned,
        (_, Some(h)) => h.state,
        (_, None) => ConnectionState::Disconnected,
    };
    status.insert("state".into(), json!(state));
    match &health {
        Some(h) if state != ConnectionState::Decommissioned => {
            if let Some(m) = &h.message {
                status.insert("message".into(), json!(m));
            }
        }
        None if state == ConnectionState::Disconnected => {
            status.insert("message".into(), json!("not looked at yet"));
        }
        _ => {}
    }
    if let Some(beat) = health.as_ref().and_then(|h| h.last_heartbeat_timestamp) {
        status.insert("lastHeartbeatTimestamp".into(), json!(beat.to_string()));
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": "KubernetesCluster",
        "metadata": {
            "name": name,
            "uid": cluster.meta.uid,
            "creationTimestamp": cluster.meta.creation_timestamp.to_string(),
            "updateTimestamp": cluster.meta.update_timestamp.to_string(),
            "labels": cluster.meta.labels,
        },
        "spec": {"lifecycleState": lifecycle},
        "status": status,
    })
}

/// How many of the organization's clusters (`local` included) are in each
/// state, as the list shows them.
pub(super) async fn states(state: &AppState, org: &str) -> Result<BTreeMap<String, u64>, Error> {
    let mut items = vec![local()];
    items.extend(state.core.list_clusters(org).await?.iter().map(render));
    let mut out = BTreeMap::new();
    for item in items {
        if let Some(s) = item.pointer("/status/state").and_then(Value::as_str) {
            *out.entry(s.to_owned()).or_insert(0) += 1;
        }
    }
    Ok(out)
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let mut items = vec![local()];
    items.extend(state.core.list_clusters(&who.org).await?.iter().map(render));
    let total = items.len() as u64;
    let start = (page.page as usize).saturating_mul(page.size as usize);
    let items = items
        .into_iter()
        .skip(start)
        .take(page.size as usize)
        .collect();
    Ok(reply(
        StatusCode::OK,
        crate::paging::cmf_page(&page, total, items),
    ))
}

async fn registered(state: &AppState, org: &str, name: &str) -> Result<Object, Error> {
    state
        .core
        .find_cluster(org, name)
        .await?
        .ok_or_else(|| Error::not_found(Kind::Cluster, name))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(name): Path<String>,
) -> Result<Response, CmfError> {
    if name == LOCAL_CLUSTER {
        return Ok(reply(StatusCode::OK, local()));
    }
    let cluster = registered(&state, &who.org, &name).await?;
    Ok(reply(StatusCode::OK, render(&cluster)))
}

/// The environments of `org` that use cluster `name`.
async fn environments_on(state: &AppState, org: &str, name: &str) -> Result<Vec<String>, Error> {
    let all = all_of(|p| state.core.list_environments(org, p)).await?;
    Ok(all
        .into_iter()
        .filter(|e| {
            view::<EnvironmentSpec>(&e.spec)
                .cluster_name()
                .unwrap_or(LOCAL_CLUSTER)
                == name
        })
        .map(|e| e.meta.name)
        .collect())
}

pub(super) async fn update(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(name): Path<String>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    // Clusters are the organization administrators' (before the body is read).
    state
        .core
        .allow(Need::Administer, Scope::Organization(&who.org))?;
    let Some(fields) = body.as_object() else {
        return Err(Error::BadRequest("the body must be a KubernetesCluster object".into()).into());
    };
    if let Some(given) = fields
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
    {
        if given != name {
            return Err(Error::BadRequest(format!(
                "metadata.name '{given}' does not match the path's '{name}'"
            ))
            .into());
        }
    }
    let lifecycle = match fields.get("spec").and_then(|s| s.get("lifecycleState")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value::<LifecycleState>(v.clone()).map_err(|_| {
                Error::BadRequest(format!(
                    "spec.lifecycleState {v} is not ACTIVE or DECOMMISSIONED"
                ))
            })?,
        ),
    };
    let labels = match fields.get("metadata").and_then(|m| m.get("labels")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value::<BTreeMap<String, String>>(v.clone()).map_err(|_| {
                Error::BadRequest("metadata.labels must be a map of strings".into())
            })?,
        ),
    };
    if name == LOCAL_CLUSTER {
        return Err(Error::BadRequest(
            "'local' is the machine drey runs on: it cannot be changed".into(),
        )
        .into());
    }
    let cluster = registered(&state, &who.org, &name).await?;
    let current = ClusterRegistration::parse(&cluster.spec)?;
    let lifecycle = lifecycle.unwrap_or(current.lifecycle_state);
    if lifecycle == LifecycleState::Decommissioned {
        let users = environments_on(&state, &who.org, &name).await?;
        if !users.is_empty() {
            return Err(Error::BadRequest(format!(
                "Cannot decommission cluster '{name}': referenced by environments [{}]",
                users.join(", ")
            ))
            .into());
        }
    }
    let updated = state
        .core
        .set_cluster_lifecycle(&cluster, lifecycle, labels)
        .await?;
    Ok(reply(StatusCode::OK, render(&updated)))
}
