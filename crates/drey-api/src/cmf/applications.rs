//! `/cmf/api/v1/environments/{env}/applications` and their instances and events.

use super::environments::reply_empty;
use super::{metadata, page_reply, page_request, reply, resource_input, resource_with};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::Payload;
use crate::error::CmfError;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use drey_model::application::JobState;
use drey_model::loose::to_json;
use drey_model::public_status::public_status;
use drey_model::Object;
use serde_json::{json, Value};

const KIND: &str = "FlinkApplication";

/// A FlinkApplication: its metadata is Kubernetes ObjectMeta, so it carries
/// `generation` (the spec's version; status writes leave it).
fn render(app: &Object) -> Value {
    let mut meta = metadata(app);
    meta.insert("generation".into(), json!(app.meta.generation));
    resource_with(app, KIND, meta)
}

/// `status` of a child object, `{}` when nothing is recorded yet.
fn child_status(object: &Object) -> Value {
    if object.status.is_null() {
        json!({})
    } else {
        public_status(&object.status)
    }
}

fn render_instance(instance: &Object) -> Value {
    // CMF: an instance's uid is identical to its name (a uuid).
    let mut meta = metadata(instance);
    meta.insert("uid".into(), json!(instance.meta.name));
    json!({
        "apiVersion": super::API_VERSION,
        "kind": "FlinkApplicationInstance",
        "metadata": meta,
        "status": child_status(instance),
    })
}

fn render_event(event: &Object) -> Value {
    let mut meta = metadata(event);
    // CMF: an event's uid is identical to its name.
    meta.insert("uid".into(), json!(event.meta.name));
    if let Some(instance) = event.spec.get("flinkApplicationInstance") {
        meta.insert("flinkApplicationInstance".into(), instance.clone());
    }
    json!({
        "apiVersion": "cmf.confluent.io/v1alpha1",
        "kind": "FlinkApplicationEvent",
        "metadata": meta,
        "status": child_status(event),
    })
}

pub(super) async fn upsert(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
    Payload(body): Payload,
) -> Result<Response, CmfError> {
    let input = resource_input(body, KIND, true)?;
    let (app, _) = state.core.upsert_application(&who.org, &env, input).await?;
    Ok(reply(StatusCode::CREATED, render(&app)))
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let apps = state
        .core
        .list_applications(&who.org, &env, page.clone())
        .await?;
    Ok(page_reply(&page, apps, render))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, app)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let app = state.core.get_application(&who.org, &env, &app).await?;
    Ok(reply(StatusCode::OK, render(&app)))
}

/// drey's extension: the FlinkDeployment or FlinkSessionJob the Flink
/// Kubernetes Operator would be given for the application.
pub(super) async fn manifest(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, app)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let manifest = state
        .core
        .application_manifest(&who.org, &env, &app)
        .await?;
    Ok(reply(StatusCode::OK, to_json(&manifest)))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, app)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    state.core.delete_application(&who.org, &env, &app).await?;
    Ok(reply_empty(StatusCode::OK))
}

pub(super) async fn start(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, app)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let app = state
        .core
        .set_application_state(&who.org, &env, &app, JobState::Running)
        .await?;
    Ok(reply(StatusCode::OK, render(&app)))
}

pub(super) async fn suspend(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, app)): Path<(String, String)>,
) -> Result<Response, CmfError> {
    let app = state
        .core
        .set_application_state(&who.org, &env, &app, JobState::Suspended)
        .await?;
    Ok(reply(StatusCode::OK, render(&app)))
}

pub(super) async fn list_instances(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, app)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let instances = state
        .core
        .list_instances(&who.org, &env, &app, page.clone())
        .await?;
    Ok(page_reply(&page, instances, render_instance))
}

pub(super) async fn get_instance(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, app, instance)): Path<(String, String, String)>,
) -> Result<Response, CmfError> {
    let instance = state
        .core
        .get_instance(&who.org, &env, &app, &instance)
        .await?;
    Ok(reply(StatusCode::OK, render_instance(&instance)))
}

pub(super) async fn list_events(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, app)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query)?;
    let events = state
        .core
        .list_events(&who.org, &env, &app, page.clone())
        .await?;
    Ok(page_reply(&page, events, render_event))
}
