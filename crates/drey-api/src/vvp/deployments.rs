//! `/api/v1/namespaces/{ns}/deployments`: a VVP Deployment is a core
//! application. Its VVP spec is translated into the application spec the
//! reconciler reads (and kept verbatim under `spec.vvp`, so it reads back as
//! it was written); a change made through CMF shows through VVP, because the
//! VVP view is rebuilt from the core fields every time.

use super::{
    all, check_name, list_of, metadata, name_in, reply, string_map_in, version_in, VvpError,
    VvpPayload,
};
use crate::auth::Caller;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use drey_control::ResourceInput;
use drey_model::json::get_path;
use drey_model::{Error, Kind, Object};
use serde_json::{json, Map, Value};

/// The VVP spec of a deployment body, checked, as the core application spec.
pub(super) fn to_core(spec: &Value) -> Result<Value, Error> {
    let Some(spec) = spec.as_object() else {
        return Err(Error::invalid("spec", "is required and must be an object"));
    };
    let field = |path: &str| get_path(&Value::Object(spec.clone()), path).cloned();
    let text = |path: &str| field(path).and_then(|v| v.as_str().map(str::to_owned));
    let state = text("state").unwrap_or_else(|| "RUNNING".into());
    if !matches!(state.as_str(), "RUNNING" | "SUSPENDED" | "CANCELLED") {
        return Err(Error::invalid(
            "spec.state",
            format!("must be RUNNING, SUSPENDED or CANCELLED, not '{state}'"),
        ));
    }
    let upgrade = text("upgradeStrategy.kind").unwrap_or_else(|| "STATEFUL".into());
    if !matches!(upgrade.as_str(), "STATEFUL" | "STATELESS" | "NONE") {
        return Err(Error::invalid(
            "spec.upgradeStrategy.kind",
            format!("must be STATEFUL, STATELESS or NONE, not '{upgrade}'"),
        ));
    }
    let restore = text("restoreStrategy.kind").unwrap_or_else(|| "LATEST_SAVEPOINT".into());
    if !matches!(
        restore.as_str(),
        "LATEST_STATE" | "LATEST_SAVEPOINT" | "NONE"
    ) {
        return Err(Error::invalid(
            "spec.restoreStrategy.kind",
            format!("must be LATEST_STATE, LATEST_SAVEPOINT or NONE, not '{restore}'"),
        ));
    }
    let artifact = "template.spec.artifact";
    if let Some(kind) = text(&format!("{artifact}.kind")) {
        if kind != "JAR" {
            return Err(Error::invalid(
                format!("spec.{artifact}.kind"),
                format!("'{kind}' is not supported here: only JAR artifacts run"),
            ));
        }
    }
    let jar = text(&format!("{artifact}.jarUri"))
        .ok_or_else(|| Error::invalid(format!("spec.{artifact}.jarUri"), "is required"))?;
    for (path, what) in [
        ("template.spec.parallelism", "parallelism"),
        ("template.spec.numberOfTaskManagers", "numberOfTaskManagers"),
        ("maxJobCreationAttempts", "maxJobCreationAttempts"),
        (
            "maxSavepointCreationAttempts",
            "maxSavepointCreationAttempts",
        ),
    ] {
        if let Some(v) = field(path).filter(|v| !v.is_null()) {
            if v.as_u64().filter(|n| *n >= 1).is_none() {
                return Err(Error::invalid(
                    format!("spec.{path}"),
                    format!("{what} must be a positive integer, not {v}"),
                ));
            }
        }
    }
    // VVP's two strategies, as the one upgrade mode the reconciler knows.
    let mode = if state == "CANCELLED" || restore == "NONE" || upgrade == "STATELESS" {
        "stateless"
    } else if restore == "LATEST_STATE" {
        "last-state"
    } else {
        "savepoint"
    };
    let mut job = json!({
        "jarURI": jar,
        "state": if state == "RUNNING" { "running" } else { "suspended" },
        "upgradeMode": mode,
        "parallelism": field("template.spec.parallelism").and_then(|v| v.as_u64()).unwrap_or(1),
    });
    if let Some(entry) = text(&format!("{artifact}.entryClass")) {
        job["entryClass"] = json!(entry);
    }
    if let Some(args) = text(&format!("{artifact}.mainArgs")) {
        job["args"] = json!(args.split_whitespace().collect::<Vec<_>>());
    }
    if field("restoreStrategy.allowNonRestoredState").and_then(|v| v.as_bool()) == Some(true) {
        job["allowNonRestoredState"] = json!(true);
    }
    for (vvp, core) in [
        ("maxJobCreationAttempts", "maxJobCreationAttempts"),
        (
            "maxSavepointCreationAttempts",
            "maxSavepointCreationAttempts",
        ),
    ] {
        if let Some(n) = field(vvp).and_then(|v| v.as_u64()) {
            job[core] = json!(n);
        }
    }
    let mut core = json!({"job": job, "vvp": Value::Object(spec.clone())});
    // A deployment in a session cluster is a session job of the core
    // application, in the SHARED compute pool of that name.
    if let Some(session) = text("sessionClusterName").filter(|s| !s.is_empty()) {
        if text("deploymentTargetName").is_some_and(|t| !t.is_empty()) {
            return Err(Error::invalid(
                "spec.sessionClusterName",
                "cannot be set together with spec.deploymentTargetName",
            ));
        }
        core["deploymentName"] = json!(session);
    }
    if let Some(conf) = field("template.spec.flinkConfiguration").filter(|v| !v.is_null()) {
        let Some(conf) = conf.as_object() else {
            return Err(Error::invalid(
                "spec.template.spec.flinkConfiguration",
                "must be a map",
            ));
        };
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
        core["flinkConfiguration"] = Value::Object(conf);
    }
    for (vvp, cmf) in [("jobmanager", "jobManager"), ("taskmanager", "taskManager")] {
        if let Some(resource) = field(&format!("template.spec.resources.{vvp}")) {
            core[cmf] = json!({"resource": resource});
        }
    }
    if let Some(n) = field("template.spec.numberOfTaskManagers").and_then(|v| v.as_u64()) {
        if !core["taskManager"].is_object() {
            core["taskManager"] = json!({});
        }
        core["taskManager"]["replicas"] = json!(n);
    }
    Ok(core)
}

/// The VVP view of a core application: the stored VVP spec (or one made
/// from the application's fields) with what the core says now laid over it.
pub(super) fn render(app: &Object, ns: &str) -> Value {
    let core = &app.spec;
    let mut spec = core
        .get("vvp")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let job = core.get("job").cloned().unwrap_or_else(|| json!({}));
    let stored_state = spec
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("RUNNING");
    let state = match job.get("state").and_then(Value::as_str) {
        Some("running") => "RUNNING",
        _ if stored_state == "CANCELLED" => "CANCELLED",
        _ => "SUSPENDED",
    };
    spec.insert("state".into(), json!(state));
    let mode = job
        .get("upgradeMode")
        .and_then(Value::as_str)
        .unwrap_or("stateless");
    spec.entry("upgradeStrategy").or_insert_with(
        || json!({"kind": if mode == "stateless" { "STATELESS" } else { "STATEFUL" }}),
    );
    spec.entry("restoreStrategy").or_insert_with(|| {
        json!({"kind": match mode { "last-state" => "LATEST_STATE", "savepoint" => "LATEST_SAVEPOINT", _ => "NONE" }})
    });
    let template = spec
        .entry("template")
        .or_insert_with(|| json!({"spec": {}}));
    if !template["spec"].is_object() {
        template["spec"] = json!({});
    }
    let t = &mut template["spec"];
    if !t["artifact"].is_object() {
        t["artifact"] = json!({"kind": "JAR"});
    }
    t["artifact"]["jarUri"] = job.get("jarURI").cloned().unwrap_or(Value::Null);
    if let Some(entry) = job.get("entryClass") {
        t["artifact"]["entryClass"] = entry.clone();
    }
    if let Some(p) = job.get("parallelism") {
        t["parallelism"] = p.clone();
    }
    if let Some(conf) = core.get("flinkConfiguration") {
        t["flinkConfiguration"] = conf.clone();
    }
    if let Some(n) = get_path(core, "taskManager.replicas") {
        t["numberOfTaskManagers"] = n.clone();
    }
    let mut meta = metadata(app, ns);
    meta.insert("displayName".into(), json!(app.meta.name));
    json!({
        "kind": "Deployment",
        "apiVersion": "v1",
        "metadata": meta,
        "spec": spec,
        "status": status(app, state),
    })
}

/// `status.state` from the core application's status.
fn status(app: &Object, desired: &str) -> Value {
    let s = &app.status;
    let lifecycle = s
        .get("lifecycleState")
        .and_then(Value::as_str)
        .unwrap_or("");
    let job_state = get_path(s, "jobStatus.state")
        .and_then(Value::as_str)
        .unwrap_or("");
    let job_id = get_path(s, "jobStatus.jobId").and_then(Value::as_str);
    let state = if lifecycle == "FAILED" || job_state == "FAILED" {
        "FAILED"
    } else if job_state == "FINISHED" {
        "FINISHED"
    } else if desired == "RUNNING" && lifecycle == "STABLE" && job_state == "RUNNING" {
        "RUNNING"
    } else if desired != "RUNNING" && (lifecycle == "SUSPENDED" || lifecycle == "CREATED") {
        desired
    } else {
        "TRANSITIONING"
    };
    let mut out = json!({"state": state});
    if state == "RUNNING" {
        out["running"] = json!({
            "jobId": job_id,
            "transitionTime": app.meta.update_timestamp.to_string(),
            "conditions": [],
        });
    }
    out
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
async fn write(
    state: &AppState,
    org: &str,
    ns: &str,
    name: &str,
    body: &Value,
    expected: Option<i64>,
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
    let input = ResourceInput {
        name: name.to_owned(),
        labels: string_map_in(body, "labels")?,
        annotations: string_map_in(body, "annotations")?,
        spec: to_core(&spec)?,
    };
    let (app, _) = state
        .core
        .upsert_application_at(org, ns, input, expected)
        .await
        .map_err(|e| match e {
            // The core's name for the session cluster, in VVP's words.
            Error::Invalid { field, message } if field == "spec.deploymentName" => {
                Error::invalid("spec.sessionClusterName", message)
            }
            other => other,
        })?;
    Ok(app)
}

/// The query of the list operation.
#[derive(serde::Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "labelSelector")]
    label_selector: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(ns): Path<String>,
    axum::extract::Query(query): axum::extract::Query<ListQuery>,
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
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(ns): Path<String>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let name = name_in(&body)?;
    check_name("metadata.name", &name)?;
    if state
        .core
        .get_application(&who.org, &ns, &name)
        .await
        .is_ok()
    {
        return Err(Error::AlreadyExists {
            kind: Kind::Application,
            name,
        }
        .into());
    }
    let app = write(&state, &who.org, &ns, &name, &body, None).await?;
    Ok(reply(StatusCode::CREATED, render(&app, &ns)))
}

pub(super) async fn get(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let app = find(&state, &who.org, &ns, &name).await?;
    Ok(reply(StatusCode::OK, render(&app, &ns)))
}

/// PUT: create or replace.
pub(super) async fn put(
    State(state): State<AppState>,
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
    let app = write(&state, &who.org, &ns, &name, &body, version_in(&body)?).await?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(reply(status, render(&app, &ns)))
}

/// PATCH: an RFC 7386 merge patch over the deployment as VVP shows it.
pub(super) async fn patch(
    State(state): State<AppState>,
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
    let app = write(&state, &who.org, &ns, &app.meta.name, &merged, expected).await?;
    Ok(reply(StatusCode::OK, render(&app, &ns)))
}

/// DELETE: only a deployment that is not running (VVP's rule).
pub(super) async fn delete(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let app = find(&state, &who.org, &ns, &name).await?;
    if get_path(&app.spec, "job.state").and_then(Value::as_str) == Some("running") {
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
