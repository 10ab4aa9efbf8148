//! What happens to deployments: Jobs (the core instances), Events and
//! Savepoints (the core application's), filtered by `deploymentId` / `jobId`
//! as VVP lists them; and the server's status.

use super::deployments::find;
use super::{all, list_of, reply, VvpError, VvpPayload};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::QueryOf;
use crate::AppState;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::WithRejection;
use drey_control::ResourceInput;
use drey_model::application_spec::InstanceStatus;
use drey_model::event::{EventSpec, EventStatus, EventType};
use drey_model::json::get_path;
use drey_model::loose::{typed, view};
use drey_model::savepoint::{SavepointState, SavepointStatus};
use drey_model::{Error, Kind, Object};
use serde::Deserialize;
use serde_json::{json, Value};

/// `?deploymentId=&jobId=`.
#[derive(Deserialize, Default)]
pub(super) struct Filter {
    #[serde(rename = "deploymentId")]
    deployment: Option<String>,
    #[serde(rename = "jobId")]
    job: Option<String>,
}

/// The deployments of a namespace a filter selects.
async fn deployments(
    state: &AppState,
    org: &str,
    ns: &str,
    deployment: Option<&str>,
) -> Result<Vec<Object>, Error> {
    match deployment {
        Some(id) => Ok(vec![find(state, org, ns, id).await?]),
        None => all(|page| state.core.list_applications(org, ns, page)).await,
    }
}

fn job_state(flink: &str) -> &'static str {
    match flink {
        "RUNNING" => "STARTED",
        "FAILED" => "FAILED",
        "FINISHED" => "FINISHED",
        "CANCELED" | "CANCELLING" | "SUSPENDED" => "TERMINATED",
        _ => "STARTING",
    }
}

fn render_job(app: &Object, instance: &Object, ns: &str) -> Value {
    let observed: InstanceStatus = view(&instance.status);
    let spec = observed.spec.clone().unwrap_or_default();
    let job = spec.job().cloned().unwrap_or_default();
    let flink_state = match observed.job_state() {
        "" => "CREATED",
        state => state,
    };
    let artifact = json!({
        "kind": "JAR",
        "jarUri": typed(&job.jar_uri),
        "entryClass": typed(&job.entry_class),
    });
    let conf = typed(&spec.flink_configuration)
        .cloned()
        .unwrap_or_default();
    let job_spec = match typed(&job.initial_savepoint_path) {
        Some(path) => json!({"artifact": artifact, "parallelism": typed(&job.parallelism),
            "flinkConfiguration": conf, "savepointLocation": path}),
        None => json!({"artifact": artifact, "parallelism": typed(&job.parallelism),
            "flinkConfiguration": conf}),
    };
    json!({
        "kind": "Job",
        "apiVersion": "v1",
        "metadata": {
            "id": instance.meta.name,
            "namespace": ns,
            "deploymentId": app.meta.uid.to_string(),
            "deploymentName": app.meta.name,
            "createdAt": instance.meta.creation_timestamp.to_string(),
            "modifiedAt": instance.meta.update_timestamp.to_string(),
            "resourceVersion": instance.meta.resource_version,
            "annotations": {},
        },
        "spec": job_spec,
        "status": {
            "state": job_state(flink_state),
            "started": {
                "flinkJobId": observed.job_id(),
                "observedFlinkJobStatus": flink_state,
                "startedAt": instance.meta.creation_timestamp.to_string(),
                "lastUpdateTime": instance.meta.update_timestamp.to_string(),
            },
        },
    })
}

async fn jobs_of(state: &AppState, org: &str, ns: &str, app: &Object) -> Result<Vec<Value>, Error> {
    let instances = all(|page| state.core.list_instances(org, ns, &app.meta.name, page)).await?;
    Ok(instances.iter().map(|i| render_job(app, i, ns)).collect())
}

pub(super) async fn list_jobs(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    WithRejection(Query(filter), _): QueryOf<Filter, VvpError>,
) -> Result<Response, VvpError> {
    let mut items = Vec::new();
    for app in deployments(&state, &who.org, &ns, filter.deployment.as_deref()).await? {
        items.extend(jobs_of(&state, &who.org, &ns, &app).await?);
    }
    Ok(reply(StatusCode::OK, list_of("Job", items)))
}

pub(super) async fn get_job(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, job)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    for app in deployments(&state, &who.org, &ns, None).await? {
        if let Ok(instance) = state
            .core
            .get_instance(&who.org, &ns, &app.meta.name, &job)
            .await
        {
            return Ok(reply(StatusCode::OK, render_job(&app, &instance, &ns)));
        }
    }
    Err(Error::not_found(Kind::Instance, &job).into())
}

fn render_event(app: &Object, event: &Object, ns: &str) -> Value {
    let job = view::<EventSpec>(&event.spec).flink_application_instance;
    let status: EventStatus = view(&event.status);
    let name = match status.event_type {
        Some(EventType::ApplicationCreated | EventType::ApplicationUpdated) => {
            "STATE_TRANSITION_IS_NEEDED"
        }
        Some(EventType::JobStatus) => "STATE_TRANSITION_IS_COMPLETED",
        Some(EventType::SavepointCompleted) => "SUCCESSFULLY_TRIGGERED_A_SAVEPOINT",
        Some(EventType::JobException | EventType::Error) => "GENERAL_FAILURE",
        _ => "EXTERNAL",
    };
    json!({
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {
            "id": event.meta.name,
            "name": name,
            "namespace": ns,
            "deploymentId": app.meta.uid.to_string(),
            "jobId": job,
            "resourceName": app.meta.name,
            "createdAt": event.meta.creation_timestamp.to_string(),
            "resourceVersion": event.meta.resource_version,
        },
        "spec": {"message": status.message},
    })
}

pub(super) async fn list_events(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    WithRejection(Query(filter), _): QueryOf<Filter, VvpError>,
) -> Result<Response, VvpError> {
    let mut items = Vec::new();
    for app in deployments(&state, &who.org, &ns, filter.deployment.as_deref()).await? {
        let events =
            all(|page| state.core.list_events(&who.org, &ns, &app.meta.name, page)).await?;
        items.extend(
            events
                .iter()
                .filter(|e| {
                    filter.job.as_deref().is_none_or(|j| {
                        view::<EventSpec>(&e.spec)
                            .flink_application_instance
                            .as_deref()
                            == Some(j)
                    })
                })
                .map(|e| render_event(&app, e, &ns)),
        );
    }
    Ok(reply(StatusCode::OK, list_of("Event", items)))
}

fn render_savepoint(app: &Object, sp: &Object, ns: &str) -> Value {
    let status: SavepointStatus = view(&sp.status);
    let state = match status.state {
        Some(SavepointState::Completed) => "COMPLETED",
        Some(SavepointState::Failed) => "FAILED",
        _ => "STARTED",
    };
    // Savepoints drey takes on suspend and upgrades are named savepoint-<id>.
    let origin = if sp.meta.name.starts_with("savepoint-") {
        "SUSPEND"
    } else {
        "USER_REQUEST"
    };
    json!({
        "kind": "Savepoint",
        "apiVersion": "v1",
        "metadata": {
            "id": sp.meta.uid.to_string(),
            "namespace": ns,
            "deploymentId": app.meta.uid.to_string(),
            "createdAt": sp.meta.creation_timestamp.to_string(),
            "modifiedAt": sp.meta.update_timestamp.to_string(),
            "origin": origin,
            "type": "FULL",
            "annotations": sp.meta.annotations,
            "resourceVersion": sp.meta.resource_version,
        },
        "spec": {"savepointLocation": status.path},
        "status": match &status.error {
            Some(error) => json!({"state": state,
                "failure": {"message": error, "reason": "SAVEPOINT_FAILED"}}),
            None => json!({"state": state}),
        },
    })
}

async fn savepoints_of(
    state: &AppState,
    org: &str,
    ns: &str,
    app: &Object,
) -> Result<Vec<Object>, Error> {
    all(|page| {
        state
            .core
            .list_app_savepoints(org, ns, &app.meta.name, page)
    })
    .await
}

pub(super) async fn list_savepoints(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    WithRejection(Query(filter), _): QueryOf<Filter, VvpError>,
) -> Result<Response, VvpError> {
    let mut items = Vec::new();
    for app in deployments(&state, &who.org, &ns, filter.deployment.as_deref()).await? {
        let savepoints = savepoints_of(&state, &who.org, &ns, &app).await?;
        items.extend(savepoints.iter().map(|sp| render_savepoint(&app, sp, &ns)));
    }
    Ok(reply(StatusCode::OK, list_of("Savepoint", items)))
}

pub(super) async fn get_savepoint(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, id)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    for app in deployments(&state, &who.org, &ns, None).await? {
        let savepoints = savepoints_of(&state, &who.org, &ns, &app).await?;
        if let Some(sp) = savepoints.iter().find(|sp| sp.meta.uid.to_string() == id) {
            return Ok(reply(StatusCode::OK, render_savepoint(&app, sp, &ns)));
        }
    }
    Err(Error::not_found(Kind::Savepoint, &id).into())
}

/// `?force=`: VVP deletes a savepoint that is not eligible for deletion only
/// when forced.
#[derive(Deserialize, Default)]
pub(super) struct Force {
    #[serde(default)]
    #[allow(dead_code)]
    force: bool,
}

/// `DELETE .../savepoints/{savepointId}`: the record goes; its files go
/// with it unless a deployment restores (or restored) from them, which
/// keeps them until the deployment is deleted. drey never refuses a
/// deletion, so `force` changes nothing (it is still checked to be a
/// boolean).
pub(super) async fn delete_savepoint(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, id)): Path<(String, String)>,
    WithRejection(Query(_force), _): QueryOf<Force, VvpError>,
) -> Result<Response, VvpError> {
    for app in deployments(&state, &who.org, &ns, None).await? {
        let savepoints = savepoints_of(&state, &who.org, &ns, &app).await?;
        if let Some(sp) = savepoints.iter().find(|sp| sp.meta.uid.to_string() == id) {
            state
                .core
                .delete_app_savepoint(&who.org, &ns, &app.meta.name, &sp.meta.name)
                .await?;
            return Ok(reply(StatusCode::OK, render_savepoint(&app, sp, &ns)));
        }
    }
    Err(Error::not_found(Kind::Savepoint, &id).into())
}

/// POST with `metadata.deploymentId`: a savepoint of the deployment's job.
pub(super) async fn create_savepoint(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let deployment = get_path(&body, "metadata.deploymentId")
        .or_else(|| get_path(&body, "spec.deploymentId"))
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("metadata.deploymentId", "is required"))?;
    let app = find(&state, &who.org, &ns, deployment).await?;
    let name = format!("user-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let sp = state
        .core
        .create_app_savepoint(
            &who.org,
            &ns,
            &app.meta.name,
            ResourceInput {
                name,
                spec: json!({}),
                ..ResourceInput::default()
            },
        )
        .await?;
    Ok(reply(StatusCode::CREATED, render_savepoint(&app, &sp, &ns)))
}

/// `GET /api/v1/status`: the server answers and its store too.
pub(super) async fn status(Acting(state): Acting) -> Result<Response, VvpError> {
    state.core.ready().await?;
    Ok(reply(StatusCode::OK, json!({"status": "OK"})))
}

/// `GET /api/v1/status/system-info`: drey's version.
pub(super) async fn system_info() -> Response {
    reply(
        StatusCode::OK,
        json!({
            "kind": "SystemInformation",
            "apiVersion": "v1",
            "status": {
                "revisionInformation": {
                    "buildVersion": env!("CARGO_PKG_VERSION"),
                    "buildTime": "",
                    "commitShaLong": "",
                    "commitShaShort": "",
                },
                "jvmVersion": "",
            },
        }),
    )
}
