//! `/api/v1/namespaces/{ns}/sessionclusters`: a VVP SessionCluster is a core
//! SHARED compute pool (the same session cluster CMF statements run on).

use super::specs::SessionClusterSpec;
use super::{check_name, list_of, metadata, name_in, reply, VvpError, VvpPayload};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::AppState;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use drey_control::ResourceInput;
use drey_model::application_spec::ComponentSpec;
use drey_model::compute_pool_spec::{ClusterSpec, PoolSpec, PoolState, PoolStatus, PoolType};
use drey_model::loose::{checked, to_json, view, Loose};
use drey_model::{Error, Kind, Object};
use serde_json::{json, Map, Value};

/// A SessionCluster spec as a compute pool spec.
fn to_pool(spec: &Value) -> Result<Value, Error> {
    if !spec.is_object() {
        return Err(Error::invalid("spec", "is required and must be an object"));
    }
    let given: SessionClusterSpec = view(spec);
    let state = checked(&given.state, "spec.state", "RUNNING or STOPPED")?;
    let state = match state.map_or("RUNNING", String::as_str) {
        "RUNNING" => PoolState::Running,
        "STOPPED" => PoolState::Suspended,
        other => {
            return Err(Error::invalid(
                "spec.state",
                format!("must be RUNNING or STOPPED, not '{other}'"),
            ))
        }
    };
    let mut cluster = ClusterSpec::default();
    if let Some(conf) = checked(
        &given.flink_configuration,
        "spec.flinkConfiguration",
        "a map",
    )? {
        cluster.flink_configuration = Some(Loose::Typed(conf.clone()));
    }
    // What a Kubernetes backend's pods would run (drey's own runs the
    // Flink it has).
    let (image, version) = super::specs::image_of(&given.extra, "spec")?;
    if let Some(image) = image {
        cluster.extra.insert("image".into(), json!(image));
    }
    if let Some(version) = version {
        cluster.extra.insert("flinkVersion".into(), json!(version));
    }
    let mut task_manager = ComponentSpec::default();
    match &given.number_of_task_managers {
        None => {}
        Some(Loose::Typed(n)) if *n >= 1 => task_manager.replicas = Some(Loose::Typed(*n)),
        Some(Loose::Typed(n)) => return Err(positive(&json!(n))),
        Some(Loose::Odd(v)) => return Err(positive(v)),
    }
    let resources = checked(&given.resources, "spec.resources", "an object")?
        .cloned()
        .unwrap_or_default();
    let resource = |field: &Option<Loose<Map<String, Value>>>, vvp: &str| {
        checked(field, &format!("spec.resources.{vvp}"), "an object")
            .map(|r| r.map(|r| Loose::Typed(r.clone())))
    };
    if let Some(r) = resource(&resources.jobmanager, "jobmanager")? {
        cluster.job_manager = Some(Loose::Typed(ComponentSpec {
            resource: Some(r),
            ..ComponentSpec::default()
        }));
    }
    task_manager.resource = resource(&resources.taskmanager, "taskmanager")?;
    if task_manager != ComponentSpec::default() {
        cluster.task_manager = Some(Loose::Typed(task_manager));
    }
    Ok(to_json(&PoolSpec {
        pool_type: Some(Loose::Typed(PoolType::Shared)),
        state: Some(Loose::Typed(state)),
        cluster_spec: Some(Loose::Typed(cluster)),
        vvp: Some(spec.clone()),
        ..PoolSpec::default()
    }))
}

fn positive(n: &Value) -> Error {
    Error::invalid(
        "spec.numberOfTaskManagers",
        format!("must be a positive integer, not {n}"),
    )
}

/// The SessionCluster view of a SHARED compute pool.
fn render(pool: &Object, ns: &str) -> Value {
    let core: PoolSpec = view(&pool.spec);
    let mut spec: SessionClusterSpec = core.vvp.as_ref().map(view).unwrap_or_default();
    let desired = if core.is_suspended() {
        "STOPPED"
    } else {
        "RUNNING"
    };
    spec.state = Some(Loose::Typed(desired.to_owned()));
    let observed: PoolStatus = view(&pool.status);
    let state = match observed.phase() {
        Some("RUNNING") => "RUNNING",
        Some("SUSPENDED") => "STOPPED",
        Some("FAILED") => "FAILED",
        _ if desired == "STOPPED" => "STOPPING",
        _ => "STARTING",
    };
    let status = match observed.message.as_ref().filter(|_| state == "FAILED") {
        Some(message) => json!({"state": state,
            "failure": {"message": message, "reason": "CLUSTER_FAILED"}}),
        None => json!({"state": state}),
    };
    json!({
        "kind": "SessionCluster",
        "apiVersion": "v1",
        "metadata": metadata(pool, ns),
        "spec": to_json(&spec),
        "status": status,
    })
}

fn is_shared(pool: &Object) -> bool {
    view::<PoolSpec>(&pool.spec).is_shared()
}

/// A SHARED compute pool by name: a DEDICATED one is no session cluster.
async fn session_cluster(
    state: &AppState,
    org: &str,
    ns: &str,
    name: &str,
) -> Result<Object, Error> {
    let pool = state.core.get_compute_pool(org, ns, name).await?;
    if is_shared(&pool) {
        Ok(pool)
    } else {
        Err(Error::not_found(Kind::ComputePool, name))
    }
}

/// The pool a SessionCluster body asks for. A `spec.deploymentTargetName`
/// whose DeploymentTarget names a registered cluster makes the session
/// cluster that cluster (as it places deployments there).
async fn input(
    state: &AppState,
    org: &str,
    ns: &str,
    name: &str,
    body: &Value,
) -> Result<ResourceInput, Error> {
    check_name("metadata.name", name)?;
    let spec = body.get("spec").unwrap_or(&Value::Null);
    let mut annotations = std::collections::BTreeMap::new();
    if let Some(target) = spec
        .get("deploymentTargetName")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        if let Some(cluster) = super::documents::target_cluster(state, org, ns, target).await? {
            annotations.insert(
                drey_control::applications::CLUSTER_ANNOTATION.to_owned(),
                cluster,
            );
        }
    }
    Ok(ResourceInput {
        name: name.to_owned(),
        spec: to_pool(spec)?,
        annotations,
        ..ResourceInput::default()
    })
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let pools = super::all(|page| state.core.list_compute_pools(&who.org, &ns, page)).await?;
    let items = pools
        .iter()
        .filter(|p| is_shared(p))
        .map(|p| render(p, &ns))
        .collect();
    Ok(reply(StatusCode::OK, list_of("SessionCluster", items)))
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let name = name_in(&body)?;
    let pool = state
        .core
        .create_compute_pool(
            &who.org,
            &ns,
            input(&state, &who.org, &ns, &name, &body).await?,
        )
        .await?;
    Ok(reply(StatusCode::CREATED, render(&pool, &ns)))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let pool = session_cluster(&state, &who.org, &ns, &name).await?;
    Ok(reply(StatusCode::OK, render(&pool, &ns)))
}

/// PUT (create or replace) and PATCH (merge over the current spec).
pub(super) async fn replace(
    Acting(state): Acting,
    Caller(who): Caller,
    method: Method,
    Path((ns, name)): Path<(String, String)>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let existing = state.core.get_compute_pool(&who.org, &ns, &name).await.ok();
    if existing.as_ref().is_some_and(|p| !is_shared(p)) {
        return Err(Error::Conflict(format!(
            "'{name}' is a DEDICATED compute pool, not a session cluster"
        ))
        .into());
    }
    let body = match (&existing, method == Method::PATCH) {
        (Some(pool), true) => {
            let mut merged = render(pool, &ns);
            json_patch::merge(&mut merged, &body);
            merged
        }
        (None, true) => return Err(Error::not_found(Kind::ComputePool, &name).into()),
        _ => body,
    };
    let pool = match existing {
        Some(_) => {
            state
                .core
                .update_compute_pool(
                    &who.org,
                    &ns,
                    &name,
                    input(&state, &who.org, &ns, &name, &body).await?,
                )
                .await?
        }
        None => {
            let pool = state
                .core
                .create_compute_pool(
                    &who.org,
                    &ns,
                    input(&state, &who.org, &ns, &name, &body).await?,
                )
                .await?;
            return Ok(reply(StatusCode::CREATED, render(&pool, &ns)));
        }
    };
    Ok(reply(StatusCode::OK, render(&pool, &ns)))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let pool = session_cluster(&state, &who.org, &ns, &name).await?;
    state.core.delete_compute_pool(&who.org, &ns, &name).await?;
    Ok(reply(StatusCode::OK, render(&pool, &ns)))
}
