//! Authentication: every route but the open ones [`crate::app`] lists
//! (probes, the web console's files, the API documents, pre-signed Flink UI
//! URLs) carries `Authorization: Bearer <token>` when tokens are on. The
//! caller's identity (its organization) travels in the request; handlers
//! read it with [`Caller`]. Open routes carry no identity at all.

use crate::error::rest_error;
use crate::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use drey_control::auth::{Identity, Role};

/// How requests are authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication: everyone acts in the default organization.
    None,
    /// Bearer tokens (API keys) are required.
    Token,
}

/// 401 with `WWW-Authenticate: Bearer` and a RestError body.
fn unauthorized(message: &str) -> Response {
    let mut response = rest_error(StatusCode::UNAUTHORIZED, message);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Resolves the caller and puts its [`Identity`] into the request.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let identity = match state.config.auth {
        AuthMode::None => Identity::anonymous(),
        AuthMode::Token => {
            let token = req
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim);
            let Some(token) = token.filter(|t| !t.is_empty()) else {
                return unauthorized("authentication required: send Authorization: Bearer <token>");
            };
            match state.core.authenticate(token).await {
                Ok(Some(identity)) => identity,
                Ok(None) => return unauthorized("the bearer token is invalid, expired or revoked"),
                Err(e) => return rest_error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            }
        }
    };
    if let Err(why) = authorize(&identity, req.method().is_safe(), req.uri().path()) {
        return forbidden(req.uri().path(), &why);
    }
    let writes = !req.method().is_safe();
    let (method, path) = (req.method().clone(), loggable_path(req.uri().path()));
    let actor = format!("{}/{}", identity.org, identity.key_id);
    let (org, key_id) = (identity.org.clone(), identity.key_id.clone());
    req.extensions_mut().insert(identity);
    let response = drey_control::audit::ACTOR.scope(actor, next.run(req)).await;
    if writes {
        // The audit trail: who changed what (never a secret or a token).
        tracing::info!(target: "drey::audit", %org, key_id = %key_id, %method, %path,
                       status = response.status().as_u16(), "write");
    }
    response
}

/// The prefix of pre-signed Flink UI URLs; the next segment is a credential.
const SIGNED_UI: &str = "/api/flink/v1/ui/";

/// A request path fit for a log line: a pre-signed URL's grant (a
/// credential) is replaced by `<grant>`.
pub fn loggable_path(path: &str) -> String {
    match path.strip_prefix(SIGNED_UI) {
        Some(rest) => {
            let after = rest.find('/').map_or("", |i| &rest[i..]);
            format!("{SIGNED_UI}<grant>{after}")
        }
        None => path.to_owned(),
    }
}

/// The environment a path acts in, for every dialect: a CMF environment,
/// a VVP namespace (Application Manager and platform paths), a LakeSail
/// workspace (`ws-<id>`).
pub fn environment_of_path(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let after = |prefix: &[&str]| segment_after(&segments, prefix);
    let named = after(&["cmf", "api", "v1", "environments"])
        .or_else(|| after(&["api", "v1", "namespaces"]))
        .or_else(|| after(&["namespaces", "v1", "namespaces"]))
        .or_else(|| after(&["apitokens", "v1", "namespaces"]))
        .or_else(|| after(&["catalog", "v1beta2", "namespaces"]))
        .or_else(|| after(&["sql", "v1beta1", "namespaces"]))
        .or_else(|| after(&["artifacts", "v1", "namespaces"]))
        .or_else(|| after(&["api", "drey", "v1", "environments"]))
        // `/namespaces/v1/namespaces/{ns}:setPreviewSessionCluster`
        .map(|s| s.split(':').next().unwrap_or(s).to_owned());
    named.or_else(|| {
        after(&["api", "flink", "v1", "workspaces"])
            .or_else(|| after(&["api", "org", "v1", "workspaces"]))
            .map(|ws| format!("ws-{}", ws.to_ascii_lowercase()))
    })
}

/// The path segment right after `prefix`, if the path starts with it.
fn segment_after<'a>(segments: &[&'a str], prefix: &[&str]) -> Option<&'a str> {
    let starts = segments.len() > prefix.len() && segments.iter().zip(prefix).all(|(a, b)| a == b);
    segments
        .get(prefix.len())
        .copied()
        .filter(|s| starts && !s.is_empty())
}

/// Paths a caller with roles on single environments only may still read:
/// who it is, and the lists of environments (which show it only its own).
fn open_to_members(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "/api/org/v1/me"
            | "/cmf/api/v1/environments"
            | "/namespaces/v1/namespaces"
            | "/api/org/v1/workspaces"
    )
}

/// Whether the caller's role allows the request: reads need viewer, writes
/// editor, on the environment the path names (the stronger of the
/// organization-wide role and that environment's grant) or, for paths
/// outside any environment, organization-wide. Finer rules (granting needs
/// owner, identities need admin) are the handlers'.
fn authorize(identity: &Identity, read: bool, path: &str) -> Result<(), String> {
    let needed = if read { Role::Viewer } else { Role::Editor };
    let (held, place) = match environment_of_path(path) {
        Some(env) => (identity.role_in(&env), format!("environment '{env}'")),
        None if read && open_to_members(path) => return Ok(()),
        None => (identity.role, "the organization".to_owned()),
    };
    match held {
        Some(role) if role >= needed => Ok(()),
        Some(role) => Err(format!(
            "role {} on {place} may not {}",
            role.as_str(),
            if read { "read" } else { "write" }
        )),
        None => Err(format!("no role on {place}")),
    }
}

/// 403 in the body of the dialect the path belongs to.
fn forbidden(path: &str, message: &str) -> Response {
    let error = drey_model::Error::Forbidden(message.to_owned());
    if path.starts_with("/api/admin/")
        || path.starts_with("/api/org/")
        || path.starts_with("/api/flink/")
    {
        crate::lakesail::LakeSailError(error).into_response()
    } else if path.starts_with("/api/v1/")
        || path.starts_with("/namespaces/")
        || path.starts_with("/apitokens/")
        || path.starts_with("/catalog/")
        || path.starts_with("/sql/")
        || path.starts_with("/artifacts/")
    {
        crate::vvp::VvpError(error).into_response()
    } else {
        rest_error(StatusCode::FORBIDDEN, message)
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Fail closed: a route reached without the auth layer has no caller.
        parts
            .extensions
            .get::<Identity>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| unauthorized("authentication required").into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_names_its_environment() {
        for (path, env) in [
            ("/cmf/api/v1/environments/prod", Some("prod")),
            (
                "/cmf/api/v1/environments/prod/applications/a/flink-web-ui/",
                Some("prod"),
            ),
            ("/cmf/api/v1/environments", None),
            ("/cmf/api/v1/secrets/s", None),
            ("/api/v1/namespaces/team/deployments", Some("team")),
            (
                "/namespaces/v1/namespaces/team:setPreviewSessionCluster",
                Some("team"),
            ),
            ("/apitokens/v1/namespaces/team/apitokens/t", Some("team")),
            (
                "/sql/v1beta1/namespaces/team/sqlscripts:execute",
                Some("team"),
            ),
            ("/catalog/v1beta2/namespaces/team/catalogs", Some("team")),
            (
                "/artifacts/v1/namespaces/team/artifacts:upload",
                Some("team"),
            ),
            ("/api/flink/v1/workspaces/AB12/sessions", Some("ws-ab12")),
            ("/api/org/v1/workspaces/AB12/grants", Some("ws-ab12")),
            ("/api/org/v1/workspaces", None),
            ("/api/org/v1/me", None),
        ] {
            assert_eq!(environment_of_path(path).as_deref(), env, "{path}");
        }
    }

    #[test]
    fn grants_and_organization_roles_combine() {
        let mut who = Identity::anonymous();
        who.role = None;
        who.grants.insert("a".into(), Role::Viewer);
        who.grants.insert("b".into(), Role::Editor);
        assert!(authorize(&who, true, "/cmf/api/v1/environments/a/applications").is_ok());
        assert!(authorize(&who, false, "/cmf/api/v1/environments/a/applications").is_err());
        assert!(authorize(&who, false, "/api/v1/namespaces/b/deployments").is_ok());
        assert!(authorize(&who, true, "/api/v1/namespaces/c/deployments").is_err());
        assert!(authorize(&who, true, "/cmf/api/v1/environments").is_ok());
        assert!(authorize(&who, true, "/cmf/api/v1/secrets").is_err());
        assert!(authorize(&who, false, "/cmf/api/v1/environments").is_err());
        who.role = Some(Role::Viewer);
        assert!(authorize(&who, true, "/cmf/api/v1/secrets").is_ok());
        assert!(authorize(&who, false, "/api/v1/namespaces/b/deployments").is_ok());
        assert!(authorize(&who, false, "/api/v1/namespaces/c/deployments").is_err());
    }
}

#[cfg(test)]
mod loggable_path_tests {
    use super::loggable_path;

    #[test]
    fn a_grant_never_reaches_a_log_line() {
        assert_eq!(
            loggable_path("/api/flink/v1/ui/eyJvcmci.c2ln/jobs/overview"),
            "/api/flink/v1/ui/<grant>/jobs/overview"
        );
        assert_eq!(
            loggable_path("/api/flink/v1/ui/eyJvcmci.c2ln"),
            "/api/flink/v1/ui/<grant>"
        );
        assert_eq!(
            loggable_path("/cmf/api/v1/environments"),
            "/cmf/api/v1/environments"
        );
    }
}
