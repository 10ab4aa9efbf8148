//! Reading an artifact upload (`multipart/form-data`), for every dialect
//! that takes one: the `file` part streams into the core's artifact store
//! (hashed, counted against the size limit) without being held in memory;
//! other parts are small documents kept as bytes.

use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::Multipart;
use drey_control::artifacts::ArtifactUpload;
use drey_control::Core;
use drey_model::Error;
use std::collections::BTreeMap;

/// Largest non-file part (an `artifact` document).
const PART_LIMIT: usize = 64 * 1024;

/// A received form.
pub struct ArtifactForm {
    /// The `file` part: its file name (without directories) and content.
    pub file: Option<(Option<String>, ArtifactUpload)>,
    /// Every other part by name: its content type and bytes.
    pub parts: BTreeMap<String, (Option<String>, Vec<u8>)>,
}

fn multipart_error(e: MultipartError, limit: u64) -> Error {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge {
            limit: limit as usize,
        }
    } else {
        Error::BadRequest(format!("not a multipart upload: {}", e.body_text()))
    }
}

/// Reads the whole form, storing the `file` part's content for `env` (which
/// must exist) as it arrives.
pub async fn read(
    core: &Core,
    org: &str,
    env: &str,
    form: Result<Multipart, MultipartRejection>,
) -> Result<ArtifactForm, Error> {
    let mut form = form.map_err(|e| {
        Error::BadRequest(format!(
            "send the upload as multipart/form-data with a 'file' part: {}",
            e.body_text()
        ))
    })?;
    let limit = core.artifact_limit();
    let mut out = ArtifactForm {
        file: None,
        parts: BTreeMap::new(),
    };
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| multipart_error(e, limit))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            if out.file.is_some() {
                return Err(Error::invalid("file", "is given twice; send one"));
            }
            let filename = field
                .file_name()
                .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_owned());
            let mut upload = core.begin_artifact_upload(org, env).await?;
            while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
                upload.push(&chunk)?;
            }
            out.file = Some((filename, upload));
        } else {
            let content_type = field.content_type().map(str::to_owned);
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, limit))? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > PART_LIMIT {
                    return Err(Error::invalid(
                        name,
                        format!("is larger than {PART_LIMIT} bytes"),
                    ));
                }
            }
            out.parts.insert(name, (content_type, bytes));
        }
    }
    Ok(out)
}
