//! `/api/org/v1/workspaces` and the Flink group `/api/flink/v1/workspaces/
//! {ws}/applications`: a workspace is a core environment (named
//! `ws-<id in lower case>`, its display name kept beside it), a Flink
//! application is a core application run by the same reconciler, and its
//! Web UI is reachable through a pre-signed URL.

use super::spec::LakeSailSpec;
use super::{json_reply, page, require_org_admin, Json, LakeSailError, Paging};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::cmf::flink_web_ui;
use crate::error::QueryOf;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::WithRejection;
use drey_control::auth::{new_id, Identity};
use drey_control::documents::DocumentInput;
use drey_control::environments::EnvironmentInput;
use drey_control::signed_urls::{Grant, GrantKind};
use drey_control::ResourceInput;
use drey_model::application::JobState;
use drey_model::application::UpgradeMode;
use drey_model::application_spec::{
    ApplicationSpec, ApplicationStatus, ComponentSpec, JobSpec, Lifecycle,
};
use drey_model::compute_pool_spec::ClusterSpec;
use drey_model::json::get_path;
use drey_model::loose::{to_json, view, Loose};
use drey_model::savepoint::{SavepointState, SavepointStatus};
use drey_model::{Error, Object, Timestamp};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const INFO: &str = "workspace";

pub(super) fn env_of(ws: &str) -> String {
    format!("ws-{}", ws.to_ascii_lowercase())
}

pub(super) fn check_id(field: &str, id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 20
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::BadRequest(format!(
            "{field} '{id}' is not a resource id ([A-Z0-9], 1-20)"
        )))
    }
}

fn workspace(env: &Object, info: Option<&Object>) -> Value {
    let id = env.meta.name.trim_start_matches("ws-").to_ascii_uppercase();
    let mut out = json!({
        "id": id,
        "name": info.and_then(|i| i.spec.get("name").cloned()).unwrap_or_else(|| json!(id)),
        "namespace": env.meta.name,
        "createdAt": env.meta.creation_timestamp.to_string(),
        "updatedAt": info.map_or(env.meta.update_timestamp, |i| i.meta.update_timestamp).to_string(),
    });
    if let Some(cluster) = info
        .and_then(|i| i.spec.get("clusterId"))
        .filter(|c| !c.is_null())
    {
        super::set_field(&mut out, "clusterId", cluster.clone());
    }
    out
}

/// The workspace that runs on cluster `id`, if one does.
pub(super) async fn workspace_on_cluster(
    state: &AppState,
    who: &Identity,
    id: &str,
) -> Result<Option<String>, Error> {
    let envs = crate::vvp::all_of(|p| state.core.list_environments(&who.org, p)).await?;
    for env in envs.iter().filter(|e| e.meta.name.starts_with("ws-")) {
        if let Ok(info) = state
            .core
            .get_document(&who.org, &env.meta.name, INFO, "info")
            .await
        {
            if info.spec.get("clusterId").and_then(Value::as_str) == Some(id) {
                return Ok(Some(
                    env.meta.name.trim_start_matches("ws-").to_ascii_uppercase(),
                ));
            }
        }
    }
    Ok(None)
}

/// `clusterId` of a workspace body: absent, null, or a usable cluster.
async fn cluster_in(state: &AppState, who: &Identity, body: &Value) -> Result<Value, Error> {
    match body.get("clusterId") {
        None | Some(Value::Null) => Ok(Value::Null),
        Some(Value::String(id)) => {
            state.core.usable_cluster(&who.org, id).await?;
            Ok(json!(id))
        }
        Some(_) => Err(Error::invalid("clusterId", "must be a cluster id")),
    }
}

async fn workspace_of(state: &AppState, who: &Identity, ws: &str) -> Result<Value, Error> {
    check_id("workspace", ws)?;
    let env = state.core.get_environment(&who.org, &env_of(ws)).await?;
    let info = state
        .core
        .get_document(&who.org, &env.meta.name, INFO, "info")
        .await
        .ok();
    Ok(workspace(&env, info.as_ref()))
}

async fn set_info(
    state: &AppState,
    who: &Identity,
    env: &str,
    name: &str,
    cluster: Value,
) -> Result<(), Error> {
    state
        .core
        .put_document(
            &who.org,
            env,
            DocumentInput {
                plural: INFO.into(),
                name: "info".into(),
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                spec: json!({"name": name, "clusterId": cluster}),
                secret: None,
            },
            false,
            None,
        )
        .await
        .map(drop)
}

fn name_of(body: &Value) -> Result<&str, Error> {
    body.get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| Error::invalid("name", "is required"))
}

pub(super) async fn create_workspace(
    Acting(state): Acting,
    Caller(who): Caller,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    let name = name_of(&body)?;
    let cluster = cluster_in(&state, &who, &body).await?;
    let id = new_id();
    let (env, _) = state
        .core
        .upsert_environment(
            &who.org,
            EnvironmentInput {
                name: env_of(&id),
                kubernetes_namespace: None,
                kubernetes_cluster_name: None,
                flink_application_defaults: None,
                compute_pool_defaults: None,
                statement_defaults: None,
            },
        )
        .await?;
    state
        .core
        .bind_environment(&who.org, &env.meta.name, cluster.as_str())
        .await?;
    set_info(&state, &who, &env.meta.name, name, cluster).await?;
    Ok(json_reply(
        StatusCode::CREATED,
        workspace_of(&state, &who, &id).await?,
    ))
}

pub(super) async fn list_workspaces(
    Acting(state): Acting,
    Caller(who): Caller,
    WithRejection(Query(paging), _): QueryOf<Paging, LakeSailError>,
) -> Result<Response, LakeSailError> {
    let envs = crate::vvp::all_of(|p| state.core.list_environments(&who.org, p)).await?;
    let mut items = Vec::new();
    for env in envs.iter().filter(|e| e.meta.name.starts_with("ws-")) {
        let info = state
            .core
            .get_document(&who.org, &env.meta.name, INFO, "info")
            .await
            .ok();
        items.push(workspace(env, info.as_ref()));
    }
    Ok(json_reply(StatusCode::OK, page(items, &paging)?))
}

pub(super) async fn get_workspace(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ws): Path<String>,
) -> Result<Response, LakeSailError> {
    Ok(json_reply(
        StatusCode::OK,
        workspace_of(&state, &who, &ws).await?,
    ))
}

pub(super) async fn update_workspace(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ws): Path<String>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    let current = workspace_of(&state, &who, &ws).await?;
    // A JSON merge patch over `name` and `clusterId`.
    let name = match body.get("name") {
        Some(_) => name_of(&body)?.to_owned(),
        None => current["name"].as_str().unwrap_or_default().to_owned(),
    };
    let cluster = match body.get("clusterId") {
        Some(_) => cluster_in(&state, &who, &body).await?,
        None => current.get("clusterId").cloned().unwrap_or(Value::Null),
    };
    if body.get("clusterId").is_some() {
        state
            .core
            .bind_environment(&who.org, &env_of(&ws), cluster.as_str())
            .await?;
    }
    set_info(&state, &who, &env_of(&ws), &name, cluster).await?;
    Ok(json_reply(
        StatusCode::OK,
        workspace_of(&state, &who, &ws).await?,
    ))
}

pub(super) async fn delete_workspace(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ws): Path<String>,
) -> Result<Response, LakeSailError> {
    require_org_admin(&state, &who.org)?;
    workspace_of(&state, &who, &ws).await?;
    state
        .core
        .delete_environment(&who.org, &env_of(&ws))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn app_name(id: &str) -> String {
    format!("app-{}", id.to_ascii_lowercase())
}

/// The fields of a FlinkSessionSpec (all required); a FlinkApplicationSpec
/// is these and `job`.
pub(super) const CLUSTER_FIELDS: [&str; 8] = [
    "name",
    "runtime",
    "jars",
    "plugins",
    "flinkConfiguration",
    "logConfiguration",
    "jobManagerResource",
    "taskManagerResource",
];

/// 400 naming the first of `fields` the body lacks.
pub(super) fn require(spec: &Value, fields: &[&str]) -> Result<(), Error> {
    match fields
        .iter()
        .find(|f| spec.get(**f).is_none_or(Value::is_null))
    {
        Some(field) => Err(Error::invalid(*field, "is required")),
        None => Ok(()),
    }
}

/// A LakeSail job spec (`jarUri`, `entryClass`, `args`, `parallelism`) as
/// the core's `job`; `jar` is used when it names no `jarUri`. Fields of
/// another type are kept for the core's check to name.
pub(super) fn job_of(spec: &Value, jar: Option<&str>) -> Result<JobSpec, Error> {
    let jar = get_path(spec, "job.jarUri")
        .and_then(Value::as_str)
        .or(jar)
        .ok_or_else(|| Error::invalid("job.jarUri", "is required to run a job"))?;
    let parallelism = get_path(spec, "job.parallelism")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    Ok(JobSpec {
        jar_uri: Some(Loose::Typed(jar.to_owned())),
        state: Some(Loose::Typed(JobState::Running)),
        upgrade_mode: Some(Loose::Typed(UpgradeMode::Savepoint)),
        parallelism: Some(Loose::Typed(parallelism)),
        entry_class: get_path(spec, "job.entryClass").map(Loose::of),
        args: get_path(spec, "job.args").map(Loose::of),
        ..JobSpec::default()
    })
}

/// The cluster a FlinkApplicationSpec or FlinkSessionSpec asks for, in the
/// core's words (`flinkConfiguration`, `jobManager`, `taskManager`).
pub(super) fn cluster_of(spec: &Value) -> ClusterSpec {
    let component = |field: &str| {
        // Only memory and CPU of a LakeSail resource mean something to Flink.
        let resource: Map<String, Value> = ["cpu", "memory"]
            .into_iter()
            .filter_map(|key| Some((key.to_owned(), spec.get(field)?.get(key)?.clone())))
            .collect();
        Some(Loose::Typed(ComponentSpec {
            resource: Some(Loose::Typed(resource)),
            ..ComponentSpec::default()
        }))
    };
    // What a Kubernetes backend's pods would run: `FLINK_1_17` names
    // Flink 1.17 (drey's own backend runs the Flink it has).
    let mut extra = Map::new();
    if let Some(version) = spec
        .get("runtime")
        .and_then(Value::as_str)
        .and_then(runtime_version)
    {
        if let Some(image) =
            drey_model::application_spec::flink_image(None, None, None, Some(&version))
        {
            extra.insert("image".into(), json!(image));
        }
        extra.insert("flinkVersion".into(), json!(version));
    }
    ClusterSpec {
        flink_configuration: spec.get("flinkConfiguration").map(Loose::of),
        job_manager: component("jobManagerResource"),
        task_manager: component("taskManagerResource"),
        extra,
    }
}

/// The Flink version a LakeSail runtime names (`FLINK_1_17` → `1.17`,
/// a `_PYTHON...` suffix aside).
fn runtime_version(runtime: &str) -> Option<String> {
    let mut parts = runtime.strip_prefix("FLINK_")?.split('_');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some(format!("{major}.{minor}"))
}

/// A FlinkApplicationSpec, checked, as the core application spec.
fn to_core(spec: &Value) -> Result<Value, Error> {
    require(spec, &CLUSTER_FIELDS)?;
    require(spec, &["job"])?;
    let cluster = cluster_of(spec);
    let text = |field: &str| {
        cluster
            .extra
            .get(field)
            .and_then(Value::as_str)
            .map(|s| Loose::Typed(s.to_owned()))
    };
    Ok(to_json(&ApplicationSpec {
        job: Some(Loose::Typed(job_of(spec, None)?)),
        image: text("image"),
        flink_version: text("flinkVersion"),
        flink_configuration: cluster.flink_configuration,
        job_manager: cluster.job_manager,
        task_manager: cluster.task_manager,
        lakesail: Some(spec.clone()),
        ..ApplicationSpec::default()
    }))
}

/// `state` of an application or session job: the Flink job's state, or
/// the lifecycle before there is one.
pub(super) fn observed_state(app: &Object) -> String {
    let observed: ApplicationStatus = view(&app.status);
    let lifecycle = observed.lifecycle().map_or("", Lifecycle::as_str);
    let state = [observed.job_state(), lifecycle]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("CREATED")
        .to_owned();
    state
}

/// `desiredState`: RUNNING or SUSPENDED, as the spec asks.
pub(super) fn desired_state(spec: &ApplicationSpec) -> Option<String> {
    spec.desired_state()
        .map(|s| s.as_str().to_ascii_uppercase())
}

fn summary(app: &Object) -> Value {
    let spec: ApplicationSpec = view(&app.spec);
    json!({
        "id": app.meta.name.trim_start_matches("app-").to_ascii_uppercase(),
        "name": LakeSailSpec::of(spec.lakesail.as_ref()).name_or(&app.meta.name),
        "state": observed_state(app),
        "desiredState": desired_state(&spec),
        "createdAt": app.meta.creation_timestamp.to_string(),
        "updatedAt": app.meta.update_timestamp.to_string(),
    })
}

async fn application(
    state: &AppState,
    who: &Identity,
    ws: &str,
    app: &str,
) -> Result<Object, Error> {
    check_id("workspace", ws)?;
    check_id("application", app)?;
    state
        .core
        .get_application(&who.org, &env_of(ws), &app_name(app))
        .await
}

pub(super) async fn create_application(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ws): Path<String>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    check_id("workspace", &ws)?;
    let spec = to_core(&body)?;
    let app = state
        .core
        .create_application(
            &who.org,
            &env_of(&ws),
            ResourceInput {
                name: app_name(&new_id()),
                spec,
                ..ResourceInput::default()
            },
        )
        .await?;
    Ok(json_reply(StatusCode::CREATED, summary(&app)))
}

pub(super) async fn list_applications(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ws): Path<String>,
    WithRejection(Query(paging), _): QueryOf<Paging, LakeSailError>,
) -> Result<Response, LakeSailError> {
    check_id("workspace", &ws)?;
    let env = env_of(&ws);
    let apps = crate::vvp::all_of(|p| state.core.list_applications(&who.org, &env, p)).await?;
    let items = apps
        .iter()
        .filter(|a| a.meta.name.starts_with("app-"))
        .map(summary)
        .collect();
    Ok(json_reply(StatusCode::OK, page(items, &paging)?))
}

pub(super) async fn get_application(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, app)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    let app = application(&state, &who, &ws, &app).await?;
    let mut out = summary(&app);
    super::set_field(
        &mut out,
        "spec",
        view::<ApplicationSpec>(&app.spec)
            .lakesail
            .unwrap_or(Value::Null),
    );
    Ok(json_reply(StatusCode::OK, out))
}

/// PATCH: a JSON merge patch over the FlinkApplicationSpec, plus `state`
/// RUNNING or SUSPENDED. A changed spec is an upgrade (through a savepoint).
pub(super) async fn update_application(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    let app = application(&state, &who, &ws, &id).await?;
    let app = patch_application(&state, &who, &ws, &app, &body, to_core).await?;
    Ok(json_reply(StatusCode::OK, summary(&app)))
}

/// Applies a LakeSail PATCH to a core application (a Flink application or
/// a session job): `state` sets the job's desired state, every other field
/// is merged (RFC 7386) into the LakeSail spec kept with it, which `build`
/// turns into the core spec again.
pub(super) async fn patch_application(
    state: &AppState,
    who: &Identity,
    ws: &str,
    app: &Object,
    patch: &Value,
    build: impl Fn(&Value) -> Result<Value, Error>,
) -> Result<Object, Error> {
    let Some(fields) = patch.as_object() else {
        return Err(Error::BadRequest("the body must be a JSON object".into()));
    };
    let wanted = match fields.get("state") {
        None => None,
        Some(Value::String(s)) if s == "RUNNING" => Some(JobState::Running),
        Some(Value::String(s)) if s == "SUSPENDED" => Some(JobState::Suspended),
        Some(other) => {
            return Err(Error::invalid(
                "state",
                format!("must be RUNNING or SUSPENDED, not {other}"),
            ))
        }
    };
    let mut spec_patch = fields.clone();
    spec_patch.remove("state");
    let env = env_of(ws);
    if spec_patch.is_empty() {
        return match wanted {
            Some(w) => {
                state
                    .core
                    .set_application_state(&who.org, &env, &app.meta.name, w)
                    .await
            }
            None => Ok(app.clone()),
        };
    }
    // Against the version the caller read: a status the reconciler wrote
    // since is no conflict (the store's rule), another user's write is a 409.
    let spec_patch = Value::Object(spec_patch);
    let current: ApplicationSpec = view(&app.spec);
    let mut given = current.lakesail.clone().unwrap_or(Value::Null);
    json_patch::merge(&mut given, &spec_patch);
    let mut core: ApplicationSpec = view(&build(&given)?);
    let job_state = wanted
        .or_else(|| current.desired_state())
        .unwrap_or(JobState::Running);
    if let Some(mut job) = core.job().cloned() {
        job.state = Some(Loose::Typed(job_state));
        core.job = Some(Loose::Typed(job));
    }
    let input = ResourceInput {
        name: app.meta.name.clone(),
        labels: app.meta.labels.clone(),
        annotations: app.meta.annotations.clone(),
        spec: to_json(&core),
    };
    let (updated, _) = state
        .core
        .upsert_application_at(&who.org, &env, input, Some(app.meta.resource_version))
        .await?;
    Ok(updated)
}

pub(super) async fn delete_application(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    let app = application(&state, &who, &ws, &id).await?;
    state
        .core
        .delete_application(&who.org, &env_of(&ws), &app.meta.name)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) fn savepoint(sp: &Object) -> Value {
    let manual = !sp.meta.name.starts_with("savepoint-");
    let mut out = json!({
        "triggerType": if manual { "MANUAL" } else { "UPGRADE" },
        "triggeredAt": sp.meta.creation_timestamp.to_string(),
    });
    if manual {
        super::set_field(&mut out, "triggerNonce", json!(sp.meta.name));
    }
    if let Some(path) = view::<SavepointStatus>(&sp.status).path {
        super::set_field(&mut out, "location", json!(path));
    }
    out
}

pub(super) async fn create_savepoint(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    let app = application(&state, &who, &ws, &id).await?;
    take_savepoint(&state, &who, &ws, &app).await
}

/// A manual savepoint of a core application (a Flink application or a
/// session job): 201 with the trigger, followed in the savepoint list.
pub(super) async fn take_savepoint(
    state: &AppState,
    who: &Identity,
    ws: &str,
    app: &Object,
) -> Result<Response, LakeSailError> {
    let sp = state
        .core
        .create_app_savepoint(
            &who.org,
            &env_of(ws),
            &app.meta.name,
            ResourceInput {
                name: format!("manual-{}", new_id().to_ascii_lowercase()),
                spec: json!({}),
                ..ResourceInput::default()
            },
        )
        .await?;
    Ok(json_reply(StatusCode::CREATED, savepoint(&sp)))
}

pub(super) async fn list_savepoints(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    let app = application(&state, &who, &ws, &id).await?;
    savepoint_list(&state, &who, &ws, &app).await
}

/// `FlinkSavepointList` of a core application: at most one pending, and the
/// completed ones.
pub(super) async fn savepoint_list(
    state: &AppState,
    who: &Identity,
    ws: &str,
    app: &Object,
) -> Result<Response, LakeSailError> {
    let env = env_of(ws);
    let all = crate::vvp::all_of(|p| {
        state
            .core
            .list_app_savepoints(&who.org, &env, &app.meta.name, p)
    })
    .await?;
    let state_of = |sp: &Object| view::<SavepointStatus>(&sp.status).state;
    let (completed, pending): (Vec<&Object>, Vec<&Object>) = all
        .iter()
        .filter(|sp| state_of(sp) != Some(SavepointState::Failed))
        .partition(|sp| state_of(sp) == Some(SavepointState::Completed));
    Ok(json_reply(
        StatusCode::OK,
        json!({
            "pending": pending.into_iter().map(savepoint).take(1).collect::<Vec<_>>(),
            "completed": completed.into_iter().map(savepoint).collect::<Vec<_>>(),
        }),
    ))
}

/// A pre-signed URL that opens the application's Flink Web UI.
pub(super) async fn create_url(
    Acting(state): Acting,
    Caller(who): Caller,
    headers: HeaderMap,
    Path((ws, id)): Path<(String, String)>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    let app = application(&state, &who, &ws, &id).await?;
    signed_url(&state, &who, &headers, &ws, &app.meta.name, false, &body).await
}

/// A `FlinkUrl` for the cluster of an application, or (`session`) of a
/// compute pool, from a checked `FlinkUrlSpec`.
pub(super) async fn signed_url(
    state: &AppState,
    who: &Identity,
    headers: &HeaderMap,
    ws: &str,
    target: &str,
    session: bool,
    body: &Value,
) -> Result<Response, LakeSailError> {
    let number = |field: &str, lo: i64, hi: i64| -> Result<i64, Error> {
        body.get(field)
            .and_then(Value::as_i64)
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| Error::invalid(field, format!("must be an integer from {lo} to {hi}")))
    };
    let expires = number("expiresInSeconds", 5, 300)?;
    let web_session = number("webSessionDurationInSeconds", 600, 86_400)?;
    let now = Timestamp::now().millis() / 1000;
    let token = state
        .core
        .sign_grant(&Grant {
            org: who.org.clone(),
            env: env_of(ws),
            app: target.to_owned(),
            session,
            open_by: now + expires,
            session_until: now + web_session,
            key_id: who.key_id.clone(),
            kind: GrantKind::Open,
            writes: false,
        })
        .await?;
    let base = match &state.config.public_url {
        Some(base) => base.clone(),
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    Ok(json_reply(
        StatusCode::CREATED,
        json!({"url": format!("{base}/api/flink/v1/ui/{token}/")}),
    ))
}

/// `/api/flink/v1/ui/<grant>/...`: the Web UI and REST API behind a
/// pre-signed URL; the grant is the credential (no bearer token).
pub(super) async fn signed_proxy(
    Acting(state): Acting,
    Path(params): Path<BTreeMap<String, String>>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, LakeSailError> {
    let token = params.get("grant").cloned().unwrap_or_default();
    let path = params.get("path").cloned().unwrap_or_default();
    let Some(grant) = state.core.verify_grant(&token).await? else {
        return Err(Error::Forbidden("the URL is invalid or has expired".into()).into());
    };
    if grant.kind == GrantKind::Open && path.is_empty() {
        // Opening the page begins a web session at a URL of its own.
        let session = state.core.session_grant(&grant).await?;
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(location) = axum::http::HeaderValue::from_str(&format!("../{session}/")) {
            response
                .headers_mut()
                .insert(axum::http::header::LOCATION, location);
        }
        return Ok(response);
    }
    let writes = !method.is_safe();
    let logged_method = method.clone();
    // The grant is the credential: the core acts for its holder.
    let state = AppState {
        core: state.core.acting_as(grant.caller()),
        ..state
    };
    let response = flink_web_ui::forward_to(
        &state,
        &grant.org,
        &grant.env,
        if grant.session {
            drey_control::proxy::ProxyTarget::ComputePool(&grant.app)
        } else {
            drey_control::proxy::ProxyTarget::Application(&grant.app)
        },
        &path,
        query,
        method,
        headers,
        body,
    )
    .await
    .map_err(|e| LakeSailError(e.into_error()));
    if writes {
        // The route is open (the grant is its credential): its writes are
        // audited here, under the key that issued the grant, never the grant.
        let status = match &response {
            Ok(r) => r.status().as_u16(),
            Err(e) => crate::error::status_of(&e.0, StatusCode::BAD_REQUEST).as_u16(),
        };
        tracing::info!(target: "drey::audit", org = %grant.org, key_id = %grant.key_id,
                       method = %logged_method, path = %format!("/api/flink/v1/ui/<grant>/{path}"),
                       status, "write");
    }
    response
}
