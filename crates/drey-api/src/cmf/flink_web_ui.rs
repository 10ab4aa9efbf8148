//! `.../{applications|statements|compute-pools}/{name}/flink-web-ui/...`:
//! the Flink Web UI and REST API of the cluster behind an application, a
//! statement or a compute pool, through drey and behind drey's
//! authentication (the paths the Confluent CLI uses).
//!
//! Flink's pages come from drey's own origin, the web console's, and a
//! tenant's job can influence what they show. So every proxied answer is
//! sandboxed (`Content-Security-Policy: sandbox allow-scripts allow-forms
//! allow-popups`, without `allow-same-origin`): the page runs in an opaque
//! origin and cannot read the console's `sessionStorage` (its bearer token),
//! cookies or anything else of drey's origin. Its own requests to the proxy
//! are then cross-origin (from origin `null`): the proxy allows them
//! (`Access-Control-Allow-Origin: null` with credentials, since Flink's UI
//! sends its requests `withCredentials`; drey sets no cookies and reads no
//! credential from them, so they carry nothing), answers their preflights
//! itself, and answers everyone else with `*` without credentials. Only the
//! method, path, content type and body reach Flink.

use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::CmfError;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    LOCATION, ORIGIN, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use drey_control::proxy::{ProxyRequest, ProxyTarget};
use serde::Deserialize;

/// Largest request forwarded (jar uploads).
pub(super) const MAX_PROXY_BODY: usize = 512 * 1024 * 1024;

/// A proxy path: the environment, whose cluster, and the path under it.
#[derive(Deserialize)]
pub(super) struct ProxyPath {
    #[serde(rename = "envName")]
    env: String,
    #[serde(rename = "appName")]
    app: Option<String>,
    #[serde(rename = "stmtName")]
    statement: Option<String>,
    #[serde(rename = "computePoolName")]
    pool: Option<String>,
    #[serde(default)]
    path: String,
}

impl ProxyPath {
    fn target(&self) -> ProxyTarget<'_> {
        match (&self.app, &self.statement, &self.pool) {
            (Some(app), _, _) => ProxyTarget::Application(app),
            (None, Some(stmt), _) => ProxyTarget::Statement(stmt),
            (None, None, Some(pool)) => ProxyTarget::ComputePool(pool),
            (None, None, None) => ProxyTarget::Application(""),
        }
    }
}

/// Any path under a proxy, its root page included.
pub(super) async fn proxy(
    Acting(state): Acting,
    who: Caller,
    Path(target): Path<ProxyPath>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, CmfError> {
    forward_to(
        &state,
        &who.0.org,
        &target.env,
        target.target(),
        &target.path,
        query,
        method,
        headers,
        body,
    )
    .await
}

/// Forwards a request to the cluster behind `target` in `org`/`env`: the
/// CMF proxy paths and LakeSail's pre-signed URLs both come through here.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn forward_to(
    state: &AppState,
    org: &str,
    env: &str,
    target: ProxyTarget<'_>,
    path: &str,
    query: Option<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, CmfError> {
    let origin = headers.get(ORIGIN).cloned();
    if method == Method::OPTIONS {
        // A sandboxed page's preflight: answered here, never forwarded.
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        h.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE"),
        );
        // The page's own headers (Flink's UI sends a few of its own); no
        // credentials travel either way.
        let asked = headers
            .get("access-control-request-headers")
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("content-type"));
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked);
        h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        sandbox(&mut response, origin.as_ref());
        return Ok(response);
    }
    let body = crate::body::read_limited(body, MAX_PROXY_BODY).await?;
    let mut path_and_query = format!("/{}", path.trim_start_matches('/'));
    if let Some(q) = query {
        path_and_query.push('?');
        path_and_query.push_str(&q);
    }
    let answer = state
        .core
        .proxy(
            org,
            env,
            target,
            ProxyRequest {
                method: method.to_string(),
                path_and_query,
                content_type: headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                body: body.to_vec(),
            },
        )
        .await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, answer.body).into_response();
    if let Some(ct) = answer
        .content_type
        .and_then(|c| HeaderValue::from_str(&c).ok())
    {
        response.headers_mut().insert(CONTENT_TYPE, ct);
    }
    sandbox(&mut response, origin.as_ref());
    Ok(response)
}

/// The policy every proxied answer carries: an opaque origin for Flink's
/// pages, readable by them without credentials.
pub(crate) const SANDBOX_POLICY: &str = "sandbox allow-scripts allow-forms allow-popups";

fn sandbox(response: &mut Response, origin: Option<&HeaderValue>) {
    let h = response.headers_mut();
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX_POLICY),
    );
    if origin.is_some_and(|o| o == "null") {
        // A sandboxed page (Flink's own, opened through the proxy).
        h.insert(
            ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("null"),
        );
        h.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    } else {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    h.insert(VARY, HeaderValue::from_static("origin"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// Without the trailing slash the UI's relative links would break: redirect.
pub(super) async fn redirect(uri: Uri) -> Response {
    let target = format!("{}/", uri.path());
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if let Ok(v) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}
