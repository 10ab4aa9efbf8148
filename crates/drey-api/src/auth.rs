//! Authentication: every route but the open ones [`crate::app`] lists
//! (probes, the web console's files, the API documents, pre-signed Flink UI
//! URLs) carries `Authorization: Bearer <token>` when tokens are on. The
//! caller's identity (its organization) travels in the request; handlers
//! act through [`Acting`], whose core works for that caller and decides
//! what it may do (`drey_control::access`), whatever the path looks like.
//! Open routes carry no identity at all.

use crate::error::rest_error;
use crate::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use drey_control::auth::Identity;

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

/// The server's state with its core working for the request's caller (no
/// identity on an open route): what every handler acts through, so the
/// core decides what the caller may do.
pub struct Acting(pub AppState);

impl FromRequestParts<AppState> for Acting {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = match parts.extensions.get::<Identity>() {
            Some(identity) => drey_control::access::Caller::of(identity.clone()),
            None => drey_control::access::Caller::Nobody,
        };
        Ok(Acting(AppState {
            core: state.core.acting_as(caller),
            ..state.clone()
        }))
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
