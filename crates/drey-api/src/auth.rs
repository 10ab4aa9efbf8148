//! Authentication: every request but `/healthz`, `/readyz` and the web
//! console's static files (`/ui/...`, see [`crate::ui`]) carries
//! `Authorization: Bearer <token>` when tokens are on. The caller's identity
//! (its organization) travels in the request; handlers read it with [`Caller`].

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
    let path = req.uri().path();
    // The console's page and files hold no data; its API calls carry the token.
    // Pre-signed Flink UI URLs carry their own credential (checked by the handler).
    let open = path == "/healthz"
        || path == "/readyz"
        || crate::ui::is_console_path(path)
        || path.starts_with("/api/flink/v1/ui/");
    let identity = match state.config.auth {
        AuthMode::None => Identity::anonymous(),
        AuthMode::Token if open => Identity::anonymous(),
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
    if !identity.may_write() && !req.method().is_safe() {
        return forbidden(req.uri().path(), "this token may only read (role viewer)");
    }
    let writes = !req.method().is_safe();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
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

/// 403 in the body of the dialect the path belongs to.
fn forbidden(path: &str, message: &str) -> Response {
    let error = drey_model::Error::Forbidden(message.to_owned());
    if path.starts_with("/api/admin/")
        || path.starts_with("/api/org/")
        || path.starts_with("/api/flink/")
    {
        crate::lakesail::LakeSailError(error).into_response()
    } else if path.starts_with("/api/v1/") || path.starts_with("/namespaces/") {
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
