//! `/artifacts/v1/namespaces/{ns}/artifacts`: jars uploaded into drey's
//! artifact store (`artifacts:upload`, multipart with a `file` part), listed
//! and deleted. The `file://` URI an upload answers is what deployments
//! (`jarUri`), UDF artifacts (`jarUrl`) and statements (`USING JAR`) name.

use super::{reply, VvpError};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::QueryOf;
use axum::extract::{Multipart, Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::WithRejection;
use drey_control::artifacts::Artifact;
use drey_model::Error;
use serde::Deserialize;
use serde_json::{json, Value};

fn render(a: &Artifact) -> Value {
    json!({
        "filename": a.filename,
        "uri": a.uri,
        "size": a.size,
        "modifiedAt": a.modified.to_string(),
    })
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let items: Vec<Value> = state
        .core
        .list_artifacts(&who.org, &ns)
        .await?
        .iter()
        .map(render)
        .collect();
    Ok(reply(StatusCode::OK, json!({"artifacts": items})))
}

/// `artifacts:upload` (the only POST): the `file` part is stored under its
/// own file name, as a new version of the artifact of that name.
pub(super) async fn upload(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, verb)): Path<(String, String)>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, VvpError> {
    if verb != "artifacts:upload" {
        return Err(Error::NotImplemented(format!("POST {verb} is not served by drey")).into());
    }
    let form = crate::artifact_form::read(&state.core, &who.org, &ns, form).await?;
    let Some((filename, upload)) = form.file else {
        return Err(Error::invalid("file", "the multipart body has no 'file' part").into());
    };
    let filename = filename.ok_or_else(|| Error::invalid("file", "has no file name"))?;
    let artifact = state
        .core
        .store_artifact(&who.org, &ns, &filename, upload)
        .await?;
    Ok(reply(
        StatusCode::CREATED,
        json!({"artifact": render(&artifact)}),
    ))
}

/// `?filename=`.
#[derive(Deserialize)]
pub(super) struct Named {
    filename: Option<String>,
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    WithRejection(Query(named), _): QueryOf<Named, VvpError>,
) -> Result<Response, VvpError> {
    let filename = named
        .filename
        .ok_or_else(|| Error::invalid("filename", "is required"))?;
    state.core.delete_artifact(&who.org, &ns, &filename).await?;
    Ok(reply(StatusCode::OK, json!({})))
}
