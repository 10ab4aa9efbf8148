//! `/artifacts/v1/namespaces/{ns}/artifacts`: jars uploaded into drey's
//! artifact store (`artifacts:upload`, multipart with a `file` part), listed
//! and deleted. The `file://` URI an upload answers is what deployments
//! (`jarUri`), UDF artifacts (`jarUrl`) and statements (`USING JAR`) name.

use super::{reply, VvpError};
use crate::auth::Caller;
use crate::error::QueryOf;
use crate::AppState;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::WithRejection;
use drey_control::artifacts::{Artifact, MAX_ARTIFACT_BYTES};
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
    State(state): State<AppState>,
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
/// own file name.
pub(super) async fn upload(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((ns, verb)): Path<(String, String)>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, VvpError> {
    if verb != "artifacts:upload" {
        return Err(Error::NotImplemented(format!("POST {verb} is not served by drey")).into());
    }
    let mut form = form.map_err(|e| {
        Error::BadRequest(format!(
            "send the jar as multipart/form-data with a 'file' part: {}",
            e.body_text()
        ))
    })?;
    let bad = |e: axum::extract::multipart::MultipartError| {
        let text = e.body_text();
        if text.contains("length limit") {
            Error::PayloadTooLarge {
                limit: MAX_ARTIFACT_BYTES,
            }
        } else {
            Error::BadRequest(format!("not a multipart upload: {text}"))
        }
    };
    while let Some(field) = form.next_field().await.map_err(bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let filename = field
            .file_name()
            .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_owned())
            .ok_or_else(|| Error::invalid("file", "has no file name"))?;
        let bytes = field.bytes().await.map_err(bad)?;
        let artifact = state
            .core
            .store_artifact(&who.org, &ns, &filename, &bytes)
            .await?;
        return Ok(reply(
            StatusCode::CREATED,
            json!({"artifact": render(&artifact)}),
        ));
    }
    Err(Error::invalid("file", "the multipart body has no 'file' part").into())
}

/// `?filename=`.
#[derive(Deserialize)]
pub(super) struct Named {
    filename: Option<String>,
}

pub(super) async fn delete(
    State(state): State<AppState>,
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
