//! `/cmf/api/v1/environments/{envName}/artifacts` (CMF 2.4): named,
//! versioned jars of an environment in drey's one artifact store (the one
//! VVP's artifacts and UDF artifacts use too). Uploads are
//! `multipart/form-data` with an `artifact` part (the Artifact document,
//! JSON or YAML) and a `file` part (the content); applications reference a
//! version as `cmf://<environment>/<name>?version=<n>`.

use super::environments::reply_empty;
use super::{page_request, reply, resource_input, API_VERSION};
use crate::artifact_form::{self, ArtifactForm};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::body::{parse_document, Format};
use crate::error::CmfError;
use crate::paging::{cmf_page, QueryPairs};
use crate::AppState;
use axum::extract::{Multipart, Path, RawQuery};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use drey_control::artifacts::{
    ArtifactMeta, ArtifactUpload, ArtifactVersion, StoredArtifact, VersionRef, WriteMode,
};
use drey_model::{Error, PageRequest};
use serde_json::{json, Value};

const KIND: &str = "Artifact";

type Form = Result<Multipart, axum::extract::multipart::MultipartRejection>;

fn render(
    state: &AppState,
    org: &str,
    env: &str,
    a: &StoredArtifact,
    v: &ArtifactVersion,
) -> Value {
    let blob = state.core.artifact_blob(org, env, v).ok();
    let present = blob.as_ref().is_some_and(|p| p.is_file());
    let mut status = json!({
        "version": v.version,
        "creationTimestamp": v.created.to_string(),
        "path": blob.map(|p| format!("file://{}", p.display())),
        "size": v.size,
        "checksum": format!("sha256:{}", v.sha256),
        "phase": if present { "READY" } else { "FILE_MISSING" },
    });
    if let (false, Some(fields)) = (present, status.as_object_mut()) {
        fields.insert(
            "message".into(),
            json!("the stored file of this version is missing"),
        );
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": a.name,
            "uid": a.uid,
            "creationTimestamp": a.created.to_string(),
            "updateTimestamp": a.updated.to_string(),
            "labels": a.labels,
            "annotations": a.annotations,
        },
        "spec": {},
        "status": status,
    })
}

/// CMF's rule for artifact names: lowercase letters, digits and hyphens,
/// starting with a letter and ending with a letter or digit, optionally
/// followed by one `.` extension; at most 45 characters.
fn check_name(name: &str) -> Result<(), Error> {
    let (stem, ext) = match name.split_once('.') {
        Some((s, e)) => (s, Some(e)),
        None => (name, None),
    };
    let stem_ok = stem.starts_with(|c: char| c.is_ascii_lowercase())
        && stem.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && stem
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ext_ok = ext.is_none_or(|e| {
        !e.is_empty()
            && e.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if stem_ok && ext_ok && name.len() <= 45 {
        Ok(())
    } else {
        Err(Error::invalid(
            "metadata.name",
            format!(
                "'{name}' must be lowercase letters, digits and hyphens, start with a letter, \
                 end with a letter or digit, optionally followed by one '.' extension \
                 (such as my-udf.jar), at most 45 characters"
            ),
        ))
    }
}

/// The `artifact` part: its name, and the labels and annotations it sets
/// (`None` when the document leaves them out).
fn artifact_part(form: &ArtifactForm) -> Result<(String, ArtifactMeta), Error> {
    let (content_type, bytes) = form.parts.get("artifact").ok_or_else(|| {
        Error::invalid(
            "artifact",
            "the multipart body has no 'artifact' part (the Artifact document, JSON or YAML)",
        )
    })?;
    let format = content_type.as_deref().and_then(Format::from_content_type);
    let body = parse_document(bytes, format)?;
    let given = |field: &str| {
        body.pointer(&format!("/metadata/{field}"))
            .is_some_and(|v| !v.is_null())
    };
    let (has_labels, has_annotations) = (given("labels"), given("annotations"));
    let input = resource_input(body, KIND, false)?;
    check_name(&input.name)?;
    Ok((
        input.name,
        ArtifactMeta {
            labels: has_labels.then_some(input.labels),
            annotations: has_annotations.then_some(input.annotations),
        },
    ))
}

fn version_param(query: &Option<String>) -> Result<VersionRef, Error> {
    let pairs = QueryPairs::parse(query.as_deref());
    VersionRef::parse(pairs.get("version"), "version")
}

fn pick(a: &StoredArtifact, version: VersionRef) -> Result<&ArtifactVersion, Error> {
    match version {
        VersionRef::Latest => a.latest(),
        VersionRef::Number(n) => a.version(n),
    }
    .ok_or_else(|| {
        let which = match version {
            VersionRef::Latest => "latest".to_owned(),
            VersionRef::Number(n) => n.to_string(),
        };
        Error::not_found(
            drey_model::Kind::Document,
            format!("artifacts/{}?version={which}", a.name),
        )
    })
}

fn paged(request: &PageRequest, items: Vec<Value>) -> Response {
    let total = items.len() as u64;
    let size = request.size.max(1) as usize;
    let page: Vec<Value> = items
        .into_iter()
        .skip(request.page as usize * size)
        .take(size)
        .collect();
    reply(StatusCode::OK, cmf_page(request, total, page))
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
    form: Form,
) -> Result<Response, CmfError> {
    let form = artifact_form::read(&state.core, &who.org, &env, form)
        .await
        .map_err(CmfError::invalid_is_400)?;
    let (name, meta) = artifact_part(&form).map_err(CmfError::invalid_is_400)?;
    let Some((_, upload)) = form.file else {
        return Err(CmfError::invalid_is_400(Error::invalid(
            "file",
            "the multipart body has no 'file' part (the JAR or ZIP content)",
        )));
    };
    write(
        &state,
        &who.org,
        &env,
        &name,
        WriteMode::Create,
        Some(upload),
        meta,
    )
    .await
}

pub(super) async fn update(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
    form: Form,
) -> Result<Response, CmfError> {
    let form = artifact_form::read(&state.core, &who.org, &env, form)
        .await
        .map_err(CmfError::invalid_is_400)?;
    let (given, meta) = artifact_part(&form).map_err(CmfError::invalid_is_400)?;
    if given != name {
        return Err(CmfError::invalid_is_400(Error::invalid(
            "metadata.name",
            format!("'{given}' must equal the artifact name in the path, '{name}'"),
        )));
    }
    let upload = form.file.map(|(_, u)| u);
    write(
        &state,
        &who.org,
        &env,
        &name,
        WriteMode::Update,
        upload,
        meta,
    )
    .await
}

/// Writes an artifact (a new one, or a new version or new metadata of one)
/// and answers with its latest version, as POST and PUT both do.
async fn write(
    state: &AppState,
    org: &str,
    env: &str,
    name: &str,
    mode: WriteMode,
    upload: Option<ArtifactUpload>,
    meta: ArtifactMeta,
) -> Result<Response, CmfError> {
    let a = state
        .core
        .write_artifact(org, env, name, mode, upload, meta)
        .await
        .map_err(CmfError::invalid_is_400)?;
    let latest = pick(&a, VersionRef::Latest)?;
    Ok(reply(StatusCode::OK, render(state, org, env, &a, latest)))
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(env): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query).map_err(CmfError::invalid_is_400)?;
    let items = state
        .core
        .artifacts(&who.org, &env)
        .await?
        .iter()
        .filter_map(|a| a.latest().map(|v| render(&state, &who.org, &env, a, v)))
        .collect();
    Ok(paged(&page, items))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let version = version_param(&query).map_err(CmfError::invalid_is_400)?;
    let a = state.core.artifact(&who.org, &env, &name).await?;
    let v = pick(&a, version)?;
    Ok(reply(StatusCode::OK, render(&state, &who.org, &env, &a, v)))
}

pub(super) async fn list_versions(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let (_, page) = page_request(query).map_err(CmfError::invalid_is_400)?;
    let a = state.core.artifact(&who.org, &env, &name).await?;
    // Newest first, as CMF orders them.
    let items = a
        .versions
        .iter()
        .rev()
        .map(|v| render(&state, &who.org, &env, &a, v))
        .collect();
    Ok(paged(&page, items))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let pairs = QueryPairs::parse(query.as_deref());
    let version = match pairs.get("version") {
        None | Some("all") => None,
        Some(n) => match VersionRef::parse(Some(n), "version") {
            Ok(VersionRef::Number(n)) => Some(n),
            _ => {
                return Err(CmfError::invalid_is_400(Error::invalid(
                    "version",
                    format!("'{n}' is not a version: give a positive number or 'all'"),
                )))
            }
        },
    };
    state
        .core
        .delete_artifact_versions(&who.org, &env, &name, version)
        .await?;
    Ok(reply_empty(StatusCode::NO_CONTENT))
}

pub(super) async fn content(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((env, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, CmfError> {
    let version = version_param(&query).map_err(CmfError::invalid_is_400)?;
    let a = state.core.artifact(&who.org, &env, &name).await?;
    let v = pick(&a, version)?;
    let path = state.core.artifact_blob(&who.org, &env, v)?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        Error::Gone(format!(
            "the stored file of artifact '{name}' version {} is missing: {e}",
            v.version
        ))
    })?;
    // `my-udf.jar` version 3 downloads as `my-udf-v3.jar`.
    let download = match name.split_once('.') {
        Some((stem, ext)) => format!("{stem}-v{}.{ext}", v.version),
        None => format!("{name}-v{}", v.version),
    };
    let chunks = futures::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = Response::new(axum::body::Body::from_stream(chunks));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(v.size));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{download}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names_follow_cmf_rule() {
        for ok in ["my-udf", "my-udf.jar", "a", "a1", "job-2.zip"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "My-udf",
            "1abc",
            "abc-",
            "a.b.c",
            "a_b",
            "a.",
            &"a".repeat(46),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
