//! Request bodies in JSON or YAML, with limits enforced before anything else
//! looks at them: size (413), UTF-8, nesting depth, YAML aliases.

use crate::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use drey_model::json::{depth, MAX_DEPTH};
use drey_model::Error;
use serde_json::Value;

/// The wire formats drey reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/yaml`.
    Yaml,
}

impl Format {
    /// The format a `Content-Type` names; `None` when it names neither.
    pub fn from_content_type(value: &str) -> Option<Format> {
        let mime = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime == "application/json" || mime.ends_with("+json") {
            Some(Format::Json)
        } else if matches!(
            mime.as_str(),
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml"
        ) || mime.ends_with("+yaml")
        {
            Some(Format::Yaml)
        } else {
            None
        }
    }

    /// Whether an `Accept` header prefers YAML (JSON is the default).
    pub fn accepts_yaml(accept: &str) -> bool {
        accept
            .split(',')
            .any(|part| Format::from_content_type(part) == Some(Format::Yaml))
            && !accept
                .split(',')
                .next()
                .map(|first| Format::from_content_type(first) == Some(Format::Json))
                .unwrap_or(false)
    }
}

/// Parses a document in the given format (or sniffs it when unknown) into
/// JSON, refusing what no legitimate request contains.
pub fn parse_document(bytes: &[u8], format: Option<Format>) -> Result<Value, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::BadRequest(format!(
            "request body is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    if text.trim().is_empty() {
        return Err(Error::BadRequest("request body is empty".into()));
    }
    let format = format.unwrap_or_else(|| {
        if text.trim_start().starts_with(['{', '[']) {
            Format::Json
        } else {
            Format::Yaml
        }
    });
    let value: Value = match format {
        Format::Json => serde_json::from_str(text)
            .map_err(|e| Error::BadRequest(format!("malformed JSON: {e}")))?,
        Format::Yaml => parse_yaml(text)?,
    };
    if depth(&value) > MAX_DEPTH {
        return Err(Error::BadRequest(format!(
            "request body is nested deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(value)
}

fn parse_yaml(text: &str) -> Result<Value, Error> {
    let mut documents = serde_yaml_ng::Deserializer::from_str(text);
    let Some(first) = documents.next() else {
        return Err(Error::BadRequest("request body is empty".into()));
    };
    let value = serde::Deserialize::deserialize(first)
        .map_err(|e| Error::BadRequest(format!("malformed YAML: {e}")))?;
    if documents.next().is_some() {
        return Err(Error::BadRequest(
            "request body holds more than one YAML document; send one".into(),
        ));
    }
    Ok(value)
}

/// Reads a whole body, refusing more than `limit` bytes with
/// [`Error::PayloadTooLarge`] (a 413 in the dialect's error body); the rest of a refused
/// body is read and thrown away as far as [`drain`] goes.
pub async fn read_limited(body: axum::body::Body, limit: usize) -> Result<bytes::Bytes, Error> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut bytes = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| Error::BadRequest(format!("could not read the request body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            drain_stream(stream, (bytes.len() + chunk.len()) as u64).await;
            return Err(Error::PayloadTooLarge { limit });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

/// The most of a refused body that is read and thrown away (see [`drain`]).
const DRAIN_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// How long a refused body may take to arrive.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and discards a refused body of `declared` bytes, when it is not huge, so the
/// client finishes sending and reads the 413: a server that answers and closes while the
/// client still writes leaves it with a broken connection instead of the answer.
async fn drain(body: axum::body::Body, declared: u64) {
    if declared <= DRAIN_MAX_BYTES {
        drain_stream(body.into_data_stream(), 0).await;
    }
}

/// Reads and discards what is left of `stream`, of which `read` bytes were read, up to
/// [`DRAIN_MAX_BYTES`] in all and for [`DRAIN_TIMEOUT`] at most.
async fn drain_stream(mut stream: axum::body::BodyDataStream, mut read: u64) {
    use futures::StreamExt;
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while read <= DRAIN_MAX_BYTES {
            match stream.next().await {
                Some(Ok(chunk)) => read += chunk.len() as u64,
                _ => break,
            }
        }
    })
    .await;
}

/// A parsed request body.
#[derive(Debug)]
pub struct Payload(pub Value);

impl FromRequest<AppState> for Payload {
    type Rejection = crate::error::CmfError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Payload(read_document(req, state).await?))
    }
}

/// The request's body as one JSON or YAML document (by `Content-Type`),
/// within the body limit; every dialect's body extractor reads through it.
pub async fn read_document(req: Request, state: &AppState) -> Result<Value, Error> {
    let limit = state.config.max_body_bytes;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > limit as u64) {
        drain(req.into_body(), n).await;
        return Err(Error::PayloadTooLarge { limit });
    }
    let format = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Format::from_content_type);
    let bytes = read_limited(req.into_body(), limit).await?;
    parse_document(&bytes, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert!(Format::accepts_yaml("application/yaml"));
        assert!(Format::accepts_yaml("text/html, application/x-yaml"));
        assert!(!Format::accepts_yaml("application/json, application/yaml"));
        assert!(!Format::accepts_yaml("*/*"));
    }

    #[test]
    fn yaml_alias_bomb_is_refused() {
        let bomb = "a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n\
                    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n\
                    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n\
                    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n\
                    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n\
                    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n\
                    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n\
                    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n\
                    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
        assert!(matches!(
            parse_document(bomb.as_bytes(), Some(Format::Yaml)),
            Err(Error::BadRequest(_))
        ));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(parse_document(deep.as_bytes(), Some(Format::Json)).is_err());
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_document(deep.as_bytes(), Some(Format::Json)).is_err());
        let deep_yaml = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_document(deep_yaml.as_bytes(), Some(Format::Yaml)).is_err());
    }

    #[test]
    fn non_utf8_and_multi_doc() {
        assert!(parse_document(b"{\"a\": \"\xff\"}", None).is_err());
        assert!(parse_document(b"a: 1\n---\nb: 2\n", Some(Format::Yaml)).is_err());
        assert_eq!(
            parse_document(b"name: x", None).unwrap(),
            serde_json::json!({"name": "x"})
        );
    }
}
