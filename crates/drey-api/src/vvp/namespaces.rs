//! `/namespaces/v1/namespaces`: VVP namespaces are core environments (a VVP
//! namespace and a CMF environment of one name are one object). Their
//! `roleBindings` are the environment's grants: `[{role, members}]` with
//! roles `viewer`, `editor`, `owner` and members `user:<id>` or
//! `serviceaccount:<id>` (the organization's users and service accounts);
//! writing them needs owner on the namespace or an organization admin.

use super::{all, check_name, reply, VvpError, VvpPayload};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::AppState;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use drey_control::auth::{Identity, PrincipalKind, Role};
use drey_control::environments::EnvironmentInput;
use drey_model::environment_spec::EnvironmentSpec;
use drey_model::loose::view;
use drey_model::{Error, Kind, Object};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn member(kind: PrincipalKind, id: &str) -> String {
    match kind {
        PrincipalKind::User => format!("user:{id}"),
        PrincipalKind::ServiceAccount => format!("serviceaccount:{id}"),
    }
}

/// A namespace in the platform API's shape (`name` is `namespaces/<ns>`).
async fn render(state: &AppState, who: &Identity, env: &Object) -> Result<Value, Error> {
    let mut by_role: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for (kind, p) in state.core.grants_on(&who.org, &env.meta.name).await? {
        let role = drey_control::auth::grants_of(&p)
            .get(&env.meta.name)
            .map(|r| r.as_str());
        if let Some(role) = role {
            by_role
                .entry(role)
                .or_default()
                .push(member(kind, &p.meta.name));
        }
    }
    let bindings: Vec<Value> = by_role
        .into_iter()
        .map(|(role, members)| json!({"role": role, "members": members}))
        .collect();
    let mut namespace = json!({
        "name": format!("namespaces/{}", env.meta.name),
        "createTime": env.meta.creation_timestamp.to_string(),
        "lifecyclePhase": "LIFECYCLE_PHASE_ACTIVE",
        "roleBindings": bindings,
    });
    let spec = view::<EnvironmentSpec>(&env.spec);
    if let (Some(pool), Some(fields)) = (spec.preview_session_cluster(), namespace.as_object_mut())
    {
        fields.insert("previewSessionClusterName".into(), json!(pool));
    }
    Ok(namespace)
}

/// `namespaces/x` or `x` → `x`.
fn short_name(name: &str) -> &str {
    name.strip_prefix("namespaces/").unwrap_or(name)
}

/// Roles by member (a user or service account and its id).
type Bindings = BTreeMap<(PrincipalKind, String), Role>;

/// The grants `roleBindings` asks for, by member; `None` when the body has none.
fn bindings_in(body: &Value) -> Result<Option<Bindings>, Error> {
    let Some(list) = body.get("roleBindings").filter(|b| !b.is_null()) else {
        return Ok(None);
    };
    let Some(list) = list.as_array() else {
        return Err(Error::invalid("roleBindings", "must be a list"));
    };
    let mut out = BTreeMap::new();
    for (i, binding) in list.iter().enumerate() {
        let role_text = binding
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let role = Role::parse_grant(role_text).ok_or_else(|| {
            Error::invalid(
                format!("roleBindings[{i}].role"),
                format!("'{role_text}' is not viewer, editor or owner"),
            )
        })?;
        let members = binding
            .get("members")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                Error::invalid(format!("roleBindings[{i}].members"), "must be a list")
            })?;
        for (j, m) in members.iter().enumerate() {
            let text = m.as_str().unwrap_or_default();
            let parsed = text
                .strip_prefix("user:")
                .map(|id| (PrincipalKind::User, id))
                .or_else(|| {
                    text.strip_prefix("serviceaccount:")
                        .map(|id| (PrincipalKind::ServiceAccount, id))
                });
            let Some((kind, id)) = parsed.filter(|(_, id)| !id.is_empty()) else {
                return Err(Error::invalid(
                    format!("roleBindings[{i}].members[{j}]"),
                    format!("'{text}' is not user:<id> or serviceaccount:<id>"),
                ));
            };
            let entry = out.entry((kind, id.to_owned())).or_insert(role);
            *entry = (*entry).max(role);
        }
    }
    Ok(Some(out))
}

/// Checks `wanted` before anything is written: the caller may grant on the
/// namespace (for a new one: as its organization role allows), and every
/// member exists.
async fn check_bindings(
    state: &AppState,
    who: &Identity,
    env: &str,
    wanted: &Bindings,
) -> Result<(), Error> {
    let members: Vec<_> = wanted.keys().cloned().collect();
    state.core.check_grants(&who.org, env, &members).await
}

/// Makes the namespace's grants those of `wanted` (see [`check_bindings`]).
async fn apply_bindings(
    state: &AppState,
    who: &Identity,
    env: &str,
    wanted: Bindings,
) -> Result<(), Error> {
    for (kind, p) in state.core.grants_on(&who.org, env).await? {
        if !wanted.contains_key(&(kind, p.meta.name.clone())) {
            state
                .core
                .set_grant(&who.org, env, kind, &p.meta.name, None)
                .await?;
        }
    }
    for ((kind, id), role) in wanted {
        state
            .core
            .set_grant(&who.org, env, kind, &id, Some(role))
            .await?;
    }
    Ok(())
}

pub(super) async fn list(Acting(state): Acting, Caller(who): Caller) -> Result<Response, VvpError> {
    let envs = all(|page| state.core.list_environments(&who.org, page)).await?;
    let mut items = Vec::new();
    for env in &envs {
        items.push(render(&state, &who, env).await?);
    }
    Ok(reply(StatusCode::OK, json!({"namespaces": items})))
}

pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .map(short_name)
        .ok_or_else(|| Error::invalid("name", "is required"))?
        .to_owned();
    check_name("name", &name)?;
    let bindings = bindings_in(&body)?;
    if state.core.get_environment(&who.org, &name).await.is_ok() {
        return Err(Error::AlreadyExists {
            kind: Kind::Environment,
            name,
        }
        .into());
    }
    // A denied request writes nothing: the bindings are checked first.
    if let Some(wanted) = &bindings {
        check_bindings(&state, &who, &name, wanted).await?;
    }
    let (env, _) = state
        .core
        .upsert_environment(
            &who.org,
            EnvironmentInput {
                name,
                kubernetes_namespace: None,
                kubernetes_cluster_name: None,
                flink_application_defaults: None,
                compute_pool_defaults: None,
                statement_defaults: None,
            },
        )
        .await?;
    if let Some(wanted) = bindings {
        apply_bindings(&state, &who, &env.meta.name, wanted).await?;
    }
    Ok(reply(
        StatusCode::CREATED,
        json!({"namespace": render(&state, &who, &env).await?}),
    ))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let env = state
        .core
        .get_environment(&who.org, short_name(&ns))
        .await?;
    Ok(reply(
        StatusCode::OK,
        json!({"namespace": render(&state, &who, &env).await?}),
    ))
}

/// PUT and PATCH: the name is immutable; `roleBindings`, when given,
/// replace the namespace's grants.
pub(super) async fn update(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let ns = short_name(&ns);
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        if short_name(name) != ns {
            return Err(Error::invalid("name", "is immutable").into());
        }
    }
    let bindings = bindings_in(&body)?;
    let env = state.core.get_environment(&who.org, ns).await?;
    if let Some(wanted) = bindings {
        check_bindings(&state, &who, ns, &wanted).await?;
        apply_bindings(&state, &who, ns, wanted).await?;
    }
    Ok(reply(
        StatusCode::OK,
        json!({"namespace": render(&state, &who, &env).await?}),
    ))
}

/// `namespaces/{ns}:setPreviewSessionCluster` (`{"name": "namespaces/<ns>",
/// "previewSessionClusterName": "<session cluster>"}`): the session cluster
/// `sqlscripts:execute` previews a SELECT on; empty or absent clears it. The
/// session cluster may be named as `<name>` or
/// `namespaces/<ns>/sessionclusters/<name>`.
pub(super) async fn post_verb(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let Some(ns) = short_name(&ns).strip_suffix(":setPreviewSessionCluster") else {
        return Ok(StatusCode::METHOD_NOT_ALLOWED.into_response());
    };
    if !body.is_object() {
        return Err(Error::BadRequest(
            "the body must be a SetPreviewSessionClusterRequest object".into(),
        )
        .into());
    }
    if let Some(name) = body.get("name").filter(|n| !n.is_null()) {
        if name.as_str().map(short_name) != Some(ns) {
            return Err(Error::invalid("name", format!("must be namespaces/{ns}")).into());
        }
    }
    let pool = match body.get("previewSessionClusterName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => {
            let prefix = format!("namespaces/{ns}/sessionclusters/");
            Some(s.strip_prefix(&prefix).unwrap_or(s).to_owned())
        }
        Some(_) => {
            return Err(Error::invalid("previewSessionClusterName", "must be a string").into())
        }
    };
    state
        .core
        .set_preview_session_cluster(&who.org, ns, pool.as_deref())
        .await?;
    Ok(reply(StatusCode::OK, json!({})))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let current = state
        .core
        .get_environment(&who.org, short_name(&ns))
        .await?;
    let shown = render(&state, &who, &current).await?;
    state
        .core
        .delete_environment(&who.org, short_name(&ns))
        .await?;
    Ok(reply(StatusCode::OK, json!({"namespace": shown})))
}
