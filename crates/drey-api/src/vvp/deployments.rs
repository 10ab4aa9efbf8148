//! `/api/v1/namespaces/{ns}/deployments`: a VVP Deployment is a core
//! application. Its VVP spec is translated into the application spec the
//! reconciler reads (and kept verbatim under `spec.vvp`, so it reads back as
//! it was written); a change made through CMF shows through VVP, because the
//! VVP view is rebuilt from the core fields every time.

use super::specs::{Artifact, DeploymentSpec, Strategy};
use super::{
    all, check_name, list_of, metadata, name_in, reply, string_map_in, version_in, VvpError,
    VvpPayload,
};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::QueryOf;
use crate::AppState;
use axum::extract::Path;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::WithRejection;
use drey_control::applications::CLUSTER_ANNOTATION;
use drey_control::ResourceInput;
use drey_model::application::{JobState, UpgradeMode};
use drey_model::application_spec::{
    ApplicationSpec, ApplicationStatus, ComponentSpec, JobSpec, Lifecycle,
};
use drey_model::loose::{checked, to_json, typed, typed_or_default, view, Loose};
use drey_model::{Error, Object};
use serde_json::{json, Map, Value};

/// The VVP spec of a deployment body, checked, as the core application spec.
pub(super) fn to_core(spec: &Value) -> Result<Value, Error> {
    if !spec.is_object() {
        return Err(Error::invalid("spec", "is required and must be an object"));
    }
    let given: DeploymentSpec = view(spec);
    let text = |field: &Option<Loose<String>>, path: &str| -> Result<Option<String>, Error> {
        Ok(checked(field, path, "a string")?.cloned())
    };
    let state = text(&given.state, "spec.state")?.unwrap_or_else(|| "RUNNING".into());
    if !matches!(state.as_str(), "RUNNING" | "SUSPENDED" | "CANCELLED") {
        return Err(Error::invalid(
            "spec.state",
            format!("must be RUNNING, SUSPENDED or CANCELLED, not '{state}'"),
        ));
    }
    let upgrade = checked(&given.upgrade_strategy, "spec.upgradeStrategy", "an object")?
        .cloned()
        .unwrap_or_default();
    let upgrade =
        text(&upgrade.kind, "spec.upgradeStrategy.kind")?.unwrap_or_else(|| "STATEFUL".into());
    if !matches!(upgrade.as_str(), "STATEFUL" | "STATELESS" | "NONE") {
        return Err(Error::invalid(
            "spec.upgradeStrategy.kind",
            format!("must be STATEFUL, STATELESS or NONE, not '{upgrade}'"),
        ));
    }
    let restore_strategy = checked(&given.restore_strategy, "spec.restoreStrategy", "an object")?
        .cloned()
        .unwrap_or_default();
    let restore = text(&restore_strategy.kind, "spec.restoreStrategy.kind")?
        .unwrap_or_else(|| "LATEST_SAVEPOINT".into());
    if !matches!(
        restore.as_str(),
        "LATEST_STATE" | "LATEST_SAVEPOINT" | "NONE"
    ) {
        return Err(Error::invalid(
            "spec.restoreStrategy.kind",
            format!("must be LATEST_STATE, LATEST_SAVEPOINT or NONE, not '{restore}'"),
        ));
    }
    let template = checked(&given.template, "spec.template", "an object")?
        .cloned()
        .unwrap_or_default();
    let t = checked(&template.spec, "spec.template.spec", "an object")?
        .cloned()
        .unwrap_or_default();
    let artifact_path = "spec.template.spec.artifact";
    let artifact = checked(&t.artifact, artifact_path, "an object")?
        .cloned()
        .unwrap_or_default();
    if let Some(kind) = text(&artifact.kind, &format!("{artifact_path}.kind"))? {
        if kind != "JAR" {
            return Err(Error::invalid(
                format!("{artifact_path}.kind"),
                format!("'{kind}' is not supported here: only JAR artifacts run"),
            ));
        }
    }
    let jar = text(&artifact.jar_uri, &format!("{artifact_path}.jarUri"))?
        .ok_or_else(|| Error::invalid(format!("{artifact_path}.jarUri"), "is required"))?;
    let positive =
        |field: &Option<Loose<u64>>, path: &str, what: &str| -> Result<Option<u64>, Error> {
            match field {
                Some(Loose::Typed(n)) if *n >= 1 => Ok(Some(*n)),
                None => Ok(None),
                Some(Loose::Typed(n)) => Err(Error::invalid(
                    path,
                    format!("{what} must be a positive integer, not {n}"),
                )),
                Some(Loose::Odd(v)) => Err(Error::invalid(
                    path,
                    format!("{what} must be a positive integer, not {v}"),
                )),
            }
        };
    let parallelism = positive(
        &t.parallelism,
        "spec.template.spec.parallelism",
        "parallelism",
    )?;
    let task_managers = positive(
        &t.number_of_task_managers,
        "spec.template.spec.numberOfTaskManagers",
        "numberOfTaskManagers",
    )?;
    let max_jobs = positive(
        &given.max_job_creation_attempts,
        "spec.maxJobCreationAttempts",
        "maxJobCreationAttempts",
    )?;
    let max_savepoints = positive(
        &given.max_savepoint_creation_attempts,
        "spec.maxSavepointCreationAttempts",
        "maxSavepointCreationAttempts",
    )?;
    // VVP's two strategies, as the one upgrade mode the reconciler knows.
    let mode = if state == "CANCELLED" || restore == "NONE" || upgrade == "STATELESS" {
        UpgradeMode::Stateless
    } else if restore == "LATEST_STATE" {
        UpgradeMode::LastState
    } else {
        UpgradeMode::Savepoint
    };
    let job = JobSpec {
        jar_uri: Some(Loose::Typed(jar)),
        state: Some(Loose::Typed(if state == "RUNNING" {
            JobState::Running
        } else {
            JobState::Suspended
        })),
        upgrade_mode: Some(Loose::Typed(mode)),
        parallelism: Some(Loose::Typed(parallelism.unwrap_or(1))),
        entry_class: text(
            &artifact.entry_class,
            &format!("{artifact_path}.entryClass"),
        )?
        .map(Loose::Typed),
        args: text(&artifact.main_args, &format!("{artifact_path}.mainArgs"))?
            .map(|args| Loose::Typed(args.split_whitespace().map(str::to_owned).collect())),
        allow_non_restored_state: (typed(&restore_strategy.allow_non_restored_state)
            == Some(&true))
        .then_some(Loose::Typed(true)),
        max_job_creation_attempts: max_jobs.map(Loose::Typed),
        max_savepoint_creation_attempts: max_savepoints.map(Loose::Typed),
        ..JobSpec::default()
    };
    // What a Kubernetes backend's pods would run (drey's own runs the
    // Flink it has).
    let (image, version) = super::specs::image_of(&artifact.extra, artifact_path)?;
    let mut core = ApplicationSpec {
        job: Some(Loose::Typed(job)),
        vvp: Some(spec.clone()),
        image: image.map(Loose::Typed),
        flink_version: version.map(Loose::Typed),
        ..ApplicationSpec::default()
    };
    // A deployment in a session cluster is a session job of the core
    // application, in the SHARED compute pool of that name.
    let session = text(&given.session_cluster_name, "spec.sessionClusterName")?;
    if let Some(session) = session.filter(|s| !s.is_empty()) {
        let target = text(&given.deployment_target_name, "spec.deploymentTargetName")?;
        if target.is_some_and(|t| !t.is_empty()) {
            return Err(Error::invalid(
                "spec.sessionClusterName",
                "cannot be set together with spec.deploymentTargetName",
            ));
        }
        core.deployment_name = Some(Loose::Typed(session));
    }
    let conf_path = "spec.template.spec.flinkConfiguration";
    if let Some(conf) = checked(&t.flink_configuration, conf_path, "a map")? {
        // Merge-patch nulls are gone by now; values become strings.
        let conf: Map<String, Value> = conf
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| {
                (
                    k.clone(),
                    json!(v.as_str().map_or_else(|| v.to_string(), str::to_owned)),
                )
            })
            .collect();
        core.flink_configuration = Some(Loose::Typed(conf));
    }
    let resources = checked(&t.resources, "spec.template.spec.resources", "an object")?
        .cloned()
        .unwrap_or_default();
    let component = |resource: &Option<Loose<Map<String, Value>>>,
                     vvp: &str|
     -> Result<Option<ComponentSpec>, Error> {
        let path = format!("spec.template.spec.resources.{vvp}");
        Ok(
            checked(resource, &path, "an object")?.map(|r| ComponentSpec {
                resource: Some(Loose::Typed(r.clone())),
                ..ComponentSpec::default()
            }),
        )
    };
    core.job_manager = component(&resources.jobmanager, "jobmanager")?.map(Loose::Typed);
    let mut task_manager = component(&resources.taskmanager, "taskmanager")?;
    if let Some(n) = task_managers {
        task_manager
            .get_or_insert_with(ComponentSpec::default)
            .replicas = Some(Loose::Typed(n));
    }
    core.task_manager = task_manager.map(Loose::Typed);
    Ok(to_json(&core))
}

/// The VVP view of a core application: the stored VVP spec (or one made
/// from the application's fields) with what the core says now laid over it.
pub(super) fn render(app: &Object, ns: &str) -> Value {
    let core: ApplicationSpec = view(&app.spec);
    let mut spec: DeploymentSpec = core.vvp.as_ref().map(view).unwrap_or_default();
    let job = core.job().cloned().unwrap_or_default();
    let stored_state = typed(&spec.state).map_or("RUNNING", String::as_str);
    let state = match typed(&job.state) {
        Some(JobState::Running) => "RUNNING",
        _ if stored_state == "CANCELLED" => "CANCELLED",
        _ => "SUSPENDED",
    };
    spec.state = Some(Loose::Typed(state.to_owned()));
    let mode = typed(&job.upgrade_mode)
        .copied()
        .unwrap_or(UpgradeMode::Stateless);
    let strategy = |kind: &str| {
        Some(Loose::Typed(Strategy {
            kind: Some(Loose::Typed(kind.to_owned())),
            ..Strategy::default()
        }))
    };
    if typed(&spec.upgrade_strategy).is_none() {
        spec.upgrade_strategy = strategy(if mode == UpgradeMode::Stateless {
            "STATELESS"
        } else {
            "STATEFUL"
        });
    }
    if typed(&spec.restore_strategy).is_none() {
        spec.restore_strategy = strategy(match mode {
            UpgradeMode::LastState => "LATEST_STATE",
            UpgradeMode::Savepoint => "LATEST_SAVEPOINT",
            UpgradeMode::Stateless => "NONE",
        });
    }
    let mut template = typed_or_default(&spec.template);
    let mut t = typed_or_default(&template.spec);
    let mut artifact = typed(&t.artifact).cloned().unwrap_or_else(|| Artifact {
        kind: Some(Loose::Typed("JAR".into())),
        ..Artifact::default()
    });
    artifact.jar_uri = job.jar_uri.clone();
    if job.entry_class.is_some() {
        artifact.entry_class = job.entry_class.clone();
    }
    t.artifact = Some(Loose::Typed(artifact));
    if job.parallelism.is_some() {
        t.parallelism = job.parallelism.clone();
    }
    if core.flink_configuration.is_some() {
        t.flink_configuration = core.flink_configuration.clone();
    }
    if let Some(n) = core.task_manager_replicas() {
        t.number_of_task_managers = Some(Loose::Typed(n));
    }
    template.spec = Some(Loose::Typed(t));
    spec.template = Some(Loose::Typed(template));
    let mut meta = metadata(app, ns);
    meta.insert("displayName".into(), json!(app.meta.name));
    json!({
        "kind": "Deployment",
        "apiVersion": "v1",
        "metadata": meta,
        "spec": to_json(&spec),
        "status": status(app, state),
    })
}

/// `status.state` from the core application's status.
fn status(app: &Object, desired: &str) -> Value {
    let s: ApplicationStatus = view(&app.status);
    let (lifecycle, job_state) = (s.lifecycle(), s.job_state());
    let state = if lifecycle == Some(Lifecycle::Failed) || job_state == "FAILED" {
        "FAILED"
    } else if job_state == "FINISHED" {
        "FINISHED"
    } else if desired == "RUNNING" && lifecycle == Some(Lifecycle::Stable) && job_state == "RUNNING"
    {
        "RUNNING"
    } else if desired != "RUNNING"
        && matches!(lifecycle, Some(Lifecycle::Suspended | Lifecycle::Created))
    {
        desired
    } else {
        "TRANSITIONING"
    };
    if state == "RUNNING" {
        json!({"state": state, "running": {
            "jobId": s.job_id(),
            "transitionTime": app.meta.update_timestamp.to_string(),
            "conditions": [],
        }})
    } else {
        json!({"state": state})
    }
}

/// A deployment by id (its uid) or by name, as VVP resolves it.
pub(super) async fn find(
    state: &AppState,
    org: &str,
    ns: &str,
    name_or_id: &str,
) -> Result<Object, Error> {
    if uuid::Uuid::parse_str(name_or_id).is_ok() {
        let apps = all(|page| state.core.list_applications(org, ns, page)).await?;
        if let Some(app) = apps
            .into_iter()
            .find(|a| a.meta.uid.to_string() == name_or_id)
        {
            return Ok(app);
        }
    }
    state.core.get_application(org, ns, name_or_id).await
}

/// Writes a deployment body as the application `name` (`expected`: the
/// resourceVersion the client read, refused with 409 when stale).
/// How [`write`] stores a deployment.
enum Write {
    /// A new one: refused when the name is taken.
    Create,
    /// Create or replace, optionally only over the version the caller read.
    Upsert(Option<i64>),
}

async fn write(
    state: &AppState,
    org: &str,
    ns: &str,
    name: &str,
    body: &Value,
    how: Write,
) -> Result<Object, Error> {
    check_name("metadata.name", name)?;
    if let Some(kind) = body.get("kind").and_then(Value::as_str) {
        if kind != "Deployment" {
            return Err(Error::invalid(
                "kind",
                format!("must be Deployment, not '{kind}'"),
            ));
        }
    }
    // The namespace's DeploymentDefaults lie under what the body says.
    let mut spec = super::documents::defaults_spec(state, org, ns).await?;
    match body.get("spec") {
        Some(given) if given.is_object() => drey_model::json::deep_merge(&mut spec, given),
        _ => return Err(Error::invalid("spec", "is required and must be an object")),
    }
    let mut annotations = string_map_in(body, "annotations")?;
    // A DeploymentTarget that names a registered cluster places the
    // deployment there.
    if let Some(target) = spec
        .get("deploymentTargetName")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        if let Some(cluster) = super::documents::target_cluster(state, org, ns, target).await? {
            annotations.insert(CLUSTER_ANNOTATION.to_owned(), cluster);
        }
    }
    let input = ResourceInput {
        name: name.to_owned(),
        labels: string_map_in(body, "labels")?,
        annotations,
        spec: to_core(&spec)?,
    };
    let written = match how {
        Write::Create => state.core.create_application(org, ns, input).await,
        Write::Upsert(expected) => state
            .core
            .upsert_application_at(org, ns, input, expected)
            .await
            .map(|(app, _)| app),
    };
    let app = written.map_err(|e| match e {
        // The core's name for the session cluster, in VVP's words.
        Error::Invalid { field, message } if field == "spec.deploymentName" => {
            Error::invalid("spec.sessionClusterName", message)
        }
        other => other,
    })?;
    Ok(app)
}

/// Replaces a deployment's `flinkConfiguration` (over the version read),
/// as a PUT of the deployment with it would: for the dialect's other
/// resources kept in it (an Autopilot policy).
pub(super) async fn set_flink_configuration(
    state: &AppState,
    org: &str,
    ns: &str,
    app: &Object,
    configuration: Map<String, Value>,
) -> Result<Object, Error> {
    let mut body = render(app, ns);
    let template = body
        .pointer_mut("/spec/template/spec")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            Error::Internal(format!(
                "deployment '{}' renders no template",
                app.meta.name
            ))
        })?;
    template.insert("flinkConfiguration".into(), Value::Object(configuration));
    let how = Write::Upsert(Some(app.meta.resource_version));
    write(state, org, ns, &app.meta.name, &body, how).await
}

/// The query of the list operation.
#[derive(serde::Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "labelSelector")]
    label_selector: Option<String>,
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    WithRejection(Query(query), _): QueryOf<ListQuery, VvpError>,
) -> Result<Response, VvpError> {
    let selector =
        drey_model::labels::LabelSelector::parse(query.label_selector.as_deref().unwrap_or(""))?;
    let apps = all(|page| state.core.list_applications(&who.org, &ns, page)).await?;
    let items = apps
        .iter()
        .filter(|a| selector.matches(&a.meta.labels))
        .map(|a| render(a, &ns))
        .collect();
    Ok(reply(StatusCode::OK, list_of("Deployment", items)))
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let name = name_in(&body)?;
    check_name("metadata.name", &name)?;
    let app = write(&state, &who.org, &ns, &name, &body, Write::Create).await?;
    Ok(reply(StatusCode::CREATED, render(&app, &ns)))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let app = find(&state, &who.org, &ns, &name).await?;
    Ok(reply(StatusCode::OK, render(&app, &ns)))
}

/// PUT: create or replace.
pub(super) async fn put(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let existing = find(&state, &who.org, &ns, &name).await.ok();
    let name = existing.as_ref().map_or(name, |a| a.meta.name.clone());
    if let Some(given) = body
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
    {
        if given != name {
            return Err(Error::invalid("metadata.name", "is immutable").into());
        }
    }
    let app = write(
        &state,
        &who.org,
        &ns,
        &name,
        &body,
        Write::Upsert(version_in(&body)?),
    )
    .await?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(reply(status, render(&app, &ns)))
}

/// PATCH: an RFC 7386 merge patch over the deployment as VVP shows it.
pub(super) async fn patch(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let app = find(&state, &who.org, &ns, &name).await?;
    let mut merged = render(&app, &ns);
    json_patch::merge(&mut merged, &body);
    if merged["metadata"]["name"] != json!(app.meta.name) {
        return Err(Error::invalid("metadata.name", "is immutable").into());
    }
    let expected = version_in(&body)?.or(Some(app.meta.resource_version));
    let app = write(
        &state,
        &who.org,
        &ns,
        &app.meta.name,
        &merged,
        Write::Upsert(expected),
    )
    .await?;
    Ok(reply(StatusCode::OK, render(&app, &ns)))
}

/// DELETE: only a deployment that is not running (VVP's rule).
pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let app = find(&state, &who.org, &ns, &name).await?;
    let spec: ApplicationSpec = view(&app.spec);
    if spec.desired_state() == Some(JobState::Running) {
        return Err(Error::Conflict(format!(
            "Deployment '{}' must be CANCELLED or SUSPENDED before it is deleted",
            app.meta.name
        ))
        .into());
    }
    let app = state
        .core
        .delete_application(&who.org, &ns, &app.meta.name)
        .await?;
    Ok(reply(StatusCode::OK, render(&app, &ns)))
}
