//! `/api/flink/v1/workspaces/{ws}/sessions`: a LakeSail Flink session is a
//! core SHARED compute pool (its session cluster, named `session-<id>`), and
//! a session job is a core application whose job runs in that cluster
//! (`spec.deploymentName`, named `job-<id>`). Both are visible through CMF
//! and VVP (a SessionCluster and a Deployment) and run on the same
//! reconcilers as everything else.

use super::flink::{
    check_id, cluster_of, env_of, job_of, patch_application, require, savepoint_list, signed_url,
    take_savepoint, CLUSTER_FIELDS,
};
use super::spec::LakeSailSpec;
use super::{json_reply, page, Json, LakeSailError, Paging};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::QueryOf;
use crate::AppState;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::WithRejection;
use drey_control::auth::{new_id, Identity};
use drey_control::ResourceInput;
use drey_model::application_spec::{ApplicationSpec, ApplicationStatus};
use drey_model::compute_pool_spec::{PoolSpec, PoolStatus, PoolType};
use drey_model::loose::{to_json, view, Loose};
use drey_model::{Error, Object};
use serde_json::{json, Value};

fn pool_name(id: &str) -> String {
    format!("session-{}", id.to_ascii_lowercase())
}

fn job_name(id: &str) -> String {
    format!("job-{}", id.to_ascii_lowercase())
}

fn id_of(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix).to_ascii_uppercase()
}

/// A FlinkSessionSpec, checked, as a SHARED compute pool's spec.
fn pool_spec(spec: &Value, state: &str) -> Result<Value, Error> {
    require(spec, &CLUSTER_FIELDS)?;
    if spec.get("job").is_some() {
        return Err(Error::invalid(
            "job",
            "a session runs no job of its own: create session jobs in it",
        ));
    }
    Ok(to_json(&PoolSpec {
        pool_type: Some(Loose::Typed(PoolType::Shared)),
        state: Some(Loose::of(&json!(state))),
        cluster_spec: Some(Loose::Typed(cluster_of(spec))),
        lakesail: Some(spec.clone()),
        ..PoolSpec::default()
    }))
}

/// `desiredState` of a session: RUNNING unless asked to stop.
fn desired_pool_state(spec: &PoolSpec) -> &'static str {
    if spec.is_suspended() {
        "SUSPENDED"
    } else {
        "RUNNING"
    }
}

/// The session summary: `id`, `name`, `state` (the pool's phase: PENDING,
/// RUNNING, SUSPENDED, FAILED), `desiredState`, times.
fn session_summary(pool: &Object) -> Value {
    let spec: PoolSpec = view(&pool.spec);
    let observed: PoolStatus = view(&pool.status);
    json!({
        "id": id_of(&pool.meta.name, "session-"),
        "name": LakeSailSpec::of(spec.lakesail.as_ref()).name_or(&pool.meta.name),
        "state": observed.phase().unwrap_or("PENDING"),
        "desiredState": desired_pool_state(&spec),
        "createdAt": pool.meta.creation_timestamp.to_string(),
        "updatedAt": pool.meta.update_timestamp.to_string(),
    })
}

/// `FlinkSessionJobSummary`: `id`, `name`, `state` (the Flink job's state,
/// or the lifecycle before there is one), times.
fn job_summary(app: &Object) -> Value {
    let spec: ApplicationSpec = view(&app.spec);
    json!({
        "id": id_of(&app.meta.name, "job-"),
        "name": LakeSailSpec::of(spec.lakesail.as_ref()).name_or(&app.meta.name),
        "state": super::flink::observed_state(app),
        "desiredState": super::flink::desired_state(&spec),
        "createdAt": app.meta.creation_timestamp.to_string(),
        "updatedAt": app.meta.update_timestamp.to_string(),
    })
}

async fn session(state: &AppState, who: &Identity, ws: &str, id: &str) -> Result<Object, Error> {
    check_id("workspace", ws)?;
    check_id("session", id)?;
    state
        .core
        .get_compute_pool(&who.org, &env_of(ws), &pool_name(id))
        .await
}

async fn session_job(
    state: &AppState,
    who: &Identity,
    ws: &str,
    session_id: &str,
    id: &str,
) -> Result<Object, Error> {
    let pool = session(state, who, ws, session_id).await?;
    check_id("job", id)?;
    let app = state
        .core
        .get_application(&who.org, &env_of(ws), &job_name(id))
        .await?;
    // A job is found only under its own session.
    if view::<ApplicationSpec>(&app.spec).session_pool() != Some(pool.meta.name.as_str()) {
        return Err(Error::not_found(drey_model::Kind::Application, id));
    }
    Ok(app)
}

pub(super) async fn create_session(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ws): Path<String>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    check_id("workspace", &ws)?;
    let pool = state
        .core
        .create_compute_pool(
            &who.org,
            &env_of(&ws),
            ResourceInput {
                name: pool_name(&new_id()),
                spec: pool_spec(&body, "RUNNING")?,
                ..ResourceInput::default()
            },
        )
        .await?;
    Ok(json_reply(StatusCode::CREATED, session_summary(&pool)))
}

pub(super) async fn list_sessions(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ws): Path<String>,
    WithRejection(Query(paging), _): QueryOf<Paging, LakeSailError>,
) -> Result<Response, LakeSailError> {
    check_id("workspace", &ws)?;
    let env = env_of(&ws);
    let pools = crate::vvp::all_of(|p| state.core.list_compute_pools(&who.org, &env, p)).await?;
    let items = pools
        .iter()
        .filter(|p| p.meta.name.starts_with("session-"))
        .map(session_summary)
        .collect();
    Ok(json_reply(StatusCode::OK, page(items, &paging)?))
}

pub(super) async fn get_session(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    let pool = session(&state, &who, &ws, &id).await?;
    let mut out = session_summary(&pool);
    super::set_field(
        &mut out,
        "spec",
        view::<PoolSpec>(&pool.spec).lakesail.unwrap_or(Value::Null),
    );
    if let Some(url) = view::<PoolStatus>(&pool.status).rest_url() {
        super::set_field(&mut out, "restUrl", json!(url));
    }
    Ok(json_reply(StatusCode::OK, out))
}

/// PATCH: a JSON merge patch over the FlinkSessionSpec, plus `state`
/// RUNNING or SUSPENDED (a suspended session has no cluster). Refused with
/// 409 while a session job runs in it, since the change restarts its cluster.
pub(super) async fn update_session(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    let pool = session(&state, &who, &ws, &id).await?;
    let Some(patch) = body.as_object() else {
        return Err(Error::BadRequest("the body must be a JSON object".into()).into());
    };
    let current: PoolSpec = view(&pool.spec);
    let wanted = match patch.get("state") {
        None => desired_pool_state(&current).to_owned(),
        Some(Value::String(s)) if s == "RUNNING" || s == "SUSPENDED" => s.clone(),
        Some(other) => {
            return Err(Error::invalid(
                "state",
                format!("must be RUNNING or SUSPENDED, not {other}"),
            )
            .into())
        }
    };
    let mut spec = current.lakesail.unwrap_or(Value::Null);
    let mut fields = patch.clone();
    fields.remove("state");
    json_patch::merge(&mut spec, &Value::Object(fields));
    let updated = state
        .core
        .update_compute_pool(
            &who.org,
            &env_of(&ws),
            &pool.meta.name,
            ResourceInput {
                name: pool.meta.name.clone(),
                labels: pool.meta.labels.clone(),
                annotations: pool.meta.annotations.clone(),
                spec: pool_spec(&spec, &wanted)?,
            },
        )
        .await?;
    Ok(json_reply(StatusCode::OK, session_summary(&updated)))
}

/// DELETE: 204; 409 while jobs are left in the session.
pub(super) async fn delete_session(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
) -> Result<Response, LakeSailError> {
    let pool = session(&state, &who, &ws, &id).await?;
    state
        .core
        .delete_compute_pool(&who.org, &env_of(&ws), &pool.meta.name)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// CreateFlinkSessionUrl (drey's completion, as CreateFlinkApplicationUrl):
/// a pre-signed URL to the session cluster's Flink Web UI.
pub(super) async fn create_session_url(
    Acting(state): Acting,
    Caller(who): Caller,
    headers: HeaderMap,
    Path((ws, id)): Path<(String, String)>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    let pool = session(&state, &who, &ws, &id).await?;
    signed_url(&state, &who, &headers, &ws, &pool.meta.name, true, &body).await
}

/// A FlinkSessionJobSpec (`name`, `flinkConfiguration`, `job`, all
/// required) as a core application in the session's pool. Without a
/// `job.jarUri` the job's jar is the session's first jar.
fn job_spec(body: &Value, pool: &Object) -> Result<Value, Error> {
    require(body, &["name", "flinkConfiguration", "job"])?;
    let kept = LakeSailSpec::of(view::<PoolSpec>(&pool.spec).lakesail.as_ref());
    let session_jar = kept.first_jar();
    let Some(conf) = body.get("flinkConfiguration").and_then(Value::as_object) else {
        return Err(Error::invalid("flinkConfiguration", "must be a map"));
    };
    Ok(to_json(&ApplicationSpec {
        deployment_name: Some(Loose::Typed(pool.meta.name.clone())),
        job: Some(Loose::Typed(job_of(body, session_jar)?)),
        flink_configuration: Some(Loose::Typed(conf.clone())),
        lakesail: Some(body.clone()),
        ..ApplicationSpec::default()
    }))
}

pub(super) async fn create_job(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    let pool = session(&state, &who, &ws, &id).await?;
    let app = state
        .core
        .create_application(
            &who.org,
            &env_of(&ws),
            ResourceInput {
                name: job_name(&new_id()),
                spec: job_spec(&body, &pool)?,
                ..ResourceInput::default()
            },
        )
        .await?;
    Ok(json_reply(StatusCode::CREATED, job_summary(&app)))
}

pub(super) async fn list_jobs(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, id)): Path<(String, String)>,
    WithRejection(Query(paging), _): QueryOf<Paging, LakeSailError>,
) -> Result<Response, LakeSailError> {
    let pool = session(&state, &who, &ws, &id).await?;
    let env = env_of(&ws);
    let apps = crate::vvp::all_of(|p| state.core.list_applications(&who.org, &env, p)).await?;
    let items = apps
        .iter()
        .filter(|a| {
            a.meta.name.starts_with("job-")
                && view::<ApplicationSpec>(&a.spec).session_pool() == Some(pool.meta.name.as_str())
        })
        .map(job_summary)
        .collect();
    Ok(json_reply(StatusCode::OK, page(items, &paging)?))
}

pub(super) async fn get_job(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, session_id, id)): Path<(String, String, String)>,
) -> Result<Response, LakeSailError> {
    let app = session_job(&state, &who, &ws, &session_id, &id).await?;
    let mut out = job_summary(&app);
    super::set_field(
        &mut out,
        "spec",
        view::<ApplicationSpec>(&app.spec)
            .lakesail
            .unwrap_or(Value::Null),
    );
    if let Some(job_id) = view::<ApplicationStatus>(&app.status).job_id() {
        super::set_field(&mut out, "flinkJobId", json!(job_id));
    }
    Ok(json_reply(StatusCode::OK, out))
}

/// PATCH: a JSON merge patch over the FlinkSessionJobSpec, plus `state`
/// RUNNING or SUSPENDED (suspended with a savepoint, resumed from it).
pub(super) async fn update_job(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, session_id, id)): Path<(String, String, String)>,
    Json(body): Json,
) -> Result<Response, LakeSailError> {
    let pool = session(&state, &who, &ws, &session_id).await?;
    let app = session_job(&state, &who, &ws, &session_id, &id).await?;
    let app =
        patch_application(&state, &who, &ws, &app, &body, |spec| job_spec(spec, &pool)).await?;
    Ok(json_reply(StatusCode::OK, job_summary(&app)))
}

pub(super) async fn delete_job(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, session_id, id)): Path<(String, String, String)>,
) -> Result<Response, LakeSailError> {
    let app = session_job(&state, &who, &ws, &session_id, &id).await?;
    state
        .core
        .delete_application(&who.org, &env_of(&ws), &app.meta.name)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn create_job_savepoint(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, session_id, id)): Path<(String, String, String)>,
) -> Result<Response, LakeSailError> {
    let app = session_job(&state, &who, &ws, &session_id, &id).await?;
    take_savepoint(&state, &who, &ws, &app).await
}

pub(super) async fn list_job_savepoints(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ws, session_id, id)): Path<(String, String, String)>,
) -> Result<Response, LakeSailError> {
    let app = session_job(&state, &who, &ws, &session_id, &id).await?;
    savepoint_list(&state, &who, &ws, &app).await
}
