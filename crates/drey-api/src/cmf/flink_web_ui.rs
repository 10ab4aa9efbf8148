//! `.../applications/{app}/flink-web-ui/...`: the application's Flink Web UI
//! and REST API through drey, behind drey's authentication (the path the
//! Confluent CLI uses).

use crate::auth::Caller;
use crate::error::CmfError;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use drey_control::proxy::ProxyRequest;

/// Largest request forwarded (jar uploads).
pub(super) const MAX_PROXY_BODY: usize = 512 * 1024 * 1024;

#[allow(clippy::too_many_arguments)]
async fn forward(
    state: AppState,
    who: Caller,
    env: String,
    app: String,
    path: String,
    query: Option<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, CmfError> {
    let body = crate::body::read_limited(body, MAX_PROXY_BODY).await?;
    let mut path_and_query = format!("/{}", path.trim_start_matches('/'));
    if let Some(q) = query {
        path_and_query.push('?');
        path_and_query.push_str(&q);
    }
    let answer = state
        .core
        .proxy_application(
            &who.0.org,
            &env,
            &app,
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
    Ok(response)
}

/// Any path under the proxy.
#[allow(clippy::too_many_arguments)]
pub(super) async fn proxy(
    State(state): State<AppState>,
    who: Caller,
    Path((env, app, path)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, CmfError> {
    forward(state, who, env, app, path, query, method, headers, body).await
}

/// The UI's root page.
pub(super) async fn root(
    State(state): State<AppState>,
    who: Caller,
    Path((env, app)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, CmfError> {
    forward(
        state,
        who,
        env,
        app,
        String::new(),
        None,
        method,
        headers,
        body,
    )
    .await
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
