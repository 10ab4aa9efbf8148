//! VVP resources that are stored documents: DeploymentTargets and
//! SecretValues (one handler set for both, by collection), and the
//! namespace's DeploymentDefaults (merged under every deployment created
//! or replaced in it).

use super::{
    check_name, list_of, metadata, name_in, reply, string_map_in, version_in, VvpError, VvpPayload,
};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::AppState;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use drey_control::documents::DocumentInput;
use drey_model::{Error, Kind, Object};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A collection of stored documents.
struct Collection {
    kind: &'static str,
    /// Names of up to 250 of `[0-9a-zA-Z-_]` instead of VVP's 63.
    long_names: bool,
    /// `spec.value` is write-only: sealed at rest, never shown.
    secret_value: bool,
}

fn collection(plural: &str) -> Result<Collection, Error> {
    match plural {
        "deployment-targets" => Ok(Collection {
            kind: "DeploymentTarget",
            long_names: true,
            secret_value: false,
        }),
        "secret-values" => Ok(Collection {
            kind: "SecretValue",
            long_names: true,
            secret_value: true,
        }),
        other => Err(Error::NotFound {
            kind: Kind::Document,
            name: other.to_owned(),
        }),
    }
}

fn check_long_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 250
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "metadata.name",
            format!("'{name}' must be 1-250 characters of [0-9a-zA-Z-_]"),
        ))
    }
}

fn render(c: &Collection, doc: &Object, ns: &str) -> Value {
    let mut meta = metadata(doc, ns);
    let name = doc.meta.name.split_once('/').map_or("", |(_, n)| n);
    meta.insert("name".into(), json!(name));
    json!({"kind": c.kind, "apiVersion": "v1", "metadata": meta, "spec": doc.spec})
}

/// The document a body asks for, checked.
fn input(c: &Collection, plural: &str, name: &str, body: &Value) -> Result<DocumentInput, Error> {
    if c.long_names {
        check_long_name(name)?;
    } else {
        check_name("metadata.name", name)?;
    }
    if let Some(kind) = body.get("kind").and_then(Value::as_str) {
        if kind != c.kind {
            return Err(Error::invalid(
                "kind",
                format!("must be {}, not '{kind}'", c.kind),
            ));
        }
    }
    let mut spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    if !spec.is_object() {
        return Err(Error::invalid("spec", "must be an object"));
    }
    let mut secret = None;
    if c.secret_value {
        let value = spec
            .as_object_mut()
            .and_then(|s| s.remove("value"))
            .ok_or_else(|| Error::invalid("spec.value", "is required"))?;
        let Some(value) = value.as_str() else {
            return Err(Error::invalid("spec.value", "must be a string"));
        };
        secret = Some(BTreeMap::from([("value".to_owned(), value.to_owned())]));
        spec.as_object_mut()
            .map(|s| s.entry("kind").or_insert_with(|| json!("GENERIC")));
    }
    Ok(DocumentInput {
        plural: plural.to_owned(),
        name: name.to_owned(),
        labels: string_map_in(body, "labels")?,
        annotations: string_map_in(body, "annotations")?,
        spec,
        secret,
    })
}

/// A DeploymentTarget may name a registered cluster its deployments run on
/// (`spec.clusterName`, drey's extension; docs/clusters.md): it must be one
/// drey can run applications on.
async fn check_target(
    state: &AppState,
    org: &str,
    plural: &str,
    body: &Value,
) -> Result<(), Error> {
    if plural != "deployment-targets" {
        return Ok(());
    }
    match body.pointer("/spec/clusterName") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(name)) => state
            .core
            .runnable_cluster(org, name, "spec.clusterName")
            .await
            .map(drop),
        Some(_) => Err(Error::invalid("spec.clusterName", "must be a string")),
    }
}

/// The registered cluster the DeploymentTarget `target` of namespace `ns`
/// names, if it names one.
pub(super) async fn target_cluster(
    state: &AppState,
    org: &str,
    ns: &str,
    target: &str,
) -> Result<Option<String>, Error> {
    match state
        .core
        .get_document(org, ns, "deployment-targets", target)
        .await
    {
        Ok(doc) => Ok(doc
            .spec
            .get("clusterName")
            .and_then(Value::as_str)
            .map(str::to_owned)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, plural)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let c = collection(&plural)?;
    let docs = state.core.list_documents(&who.org, &ns, &plural).await?;
    let items = docs.iter().map(|d| render(&c, d, &ns)).collect();
    Ok(reply(StatusCode::OK, list_of(c.kind, items)))
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, plural)): Path<(String, String)>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let c = collection(&plural)?;
    let name = name_in(&body)?;
    check_target(&state, &who.org, &plural, &body).await?;
    let doc = state
        .core
        .put_document(&who.org, &ns, input(&c, &plural, &name, &body)?, true, None)
        .await?;
    Ok(reply(StatusCode::CREATED, render(&c, &doc, &ns)))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, plural, name)): Path<(String, String, String)>,
) -> Result<Response, VvpError> {
    let c = collection(&plural)?;
    let doc = state
        .core
        .get_document(&who.org, &ns, &plural, &name)
        .await?;
    Ok(reply(StatusCode::OK, render(&c, &doc, &ns)))
}

/// PUT (create or replace) and PATCH (merge over what is stored; a secret
/// value must be given again).
pub(super) async fn replace(
    Acting(state): Acting,
    Caller(who): Caller,
    method: axum::http::Method,
    Path((ns, plural, name)): Path<(String, String, String)>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let c = collection(&plural)?;
    let existing = state
        .core
        .get_document(&who.org, &ns, &plural, &name)
        .await
        .ok();
    let body = match (&existing, method == axum::http::Method::PATCH) {
        (Some(doc), true) => {
            let mut merged = render(&c, doc, &ns);
            json_patch::merge(&mut merged, &body);
            merged
        }
        (None, true) => return Err(Error::not_found(Kind::Document, &name).into()),
        _ => body,
    };
    if body["metadata"]["name"].as_str().is_some_and(|n| n != name) {
        return Err(Error::invalid("metadata.name", "is immutable").into());
    }
    check_target(&state, &who.org, &plural, &body).await?;
    let doc = state
        .core
        .put_document(
            &who.org,
            &ns,
            input(&c, &plural, &name, &body)?,
            false,
            version_in(&body)?,
        )
        .await?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(reply(status, render(&c, &doc, &ns)))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, plural, name)): Path<(String, String, String)>,
) -> Result<Response, VvpError> {
    let c = collection(&plural)?;
    let doc = state
        .core
        .delete_document(&who.org, &ns, &plural, &name)
        .await?;
    Ok(reply(StatusCode::OK, render(&c, &doc, &ns)))
}

const DEFAULTS: &str = "deployment-defaults";

/// The namespace's deployment defaults: the spec merged under deployments.
pub(super) async fn defaults_spec(state: &AppState, org: &str, ns: &str) -> Result<Value, Error> {
    match state.core.get_document(org, ns, DEFAULTS, "default").await {
        Ok(doc) => Ok(doc.spec),
        Err(Error::NotFound { .. }) => {
            state.core.get_environment(org, ns).await?;
            Ok(json!({}))
        }
        Err(e) => Err(e),
    }
}

fn render_defaults(spec: Value, doc: Option<&Object>, ns: &str) -> Value {
    let meta = match doc {
        Some(d) => {
            let mut m = metadata(d, ns);
            m.insert("name".into(), json!("default"));
            Value::Object(m)
        }
        None => json!({"name": "default", "namespace": ns}),
    };
    json!({"kind": "DeploymentDefaults", "apiVersion": "v1", "metadata": meta, "spec": spec})
}

pub(super) async fn get_defaults(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let doc = state
        .core
        .get_document(&who.org, &ns, DEFAULTS, "default")
        .await
        .ok();
    let spec = defaults_spec(&state, &who.org, &ns).await?;
    Ok(reply(
        StatusCode::OK,
        render_defaults(spec, doc.as_ref(), &ns),
    ))
}

pub(super) async fn patch_defaults(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let mut spec = defaults_spec(&state, &who.org, &ns).await?;
    if let Some(patch) = body.get("spec") {
        json_patch::merge(&mut spec, patch);
    }
    if !spec.is_object() {
        return Err(Error::invalid("spec", "must be an object").into());
    }
    let doc = state
        .core
        .put_document(
            &who.org,
            &ns,
            DocumentInput {
                plural: DEFAULTS.into(),
                name: "default".into(),
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                spec: spec.clone(),
                secret: None,
            },
            false,
            None,
        )
        .await?;
    Ok(reply(
        StatusCode::OK,
        render_defaults(spec, Some(&doc), &ns),
    ))
}
