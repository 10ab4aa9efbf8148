//! The layers every request passes through, outermost first: panic guard,
//! tracing, metrics, ETag/304, YAML rendering, authentication.

use crate::auth::Acting;
use crate::body::Format;
use crate::error::rest_error;
use crate::metrics::RequestLabels;
use crate::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

/// Bodies larger than this are not buffered for an ETag (large log files).
const MAX_ETAG_BODY: usize = 8 * 1024 * 1024;

/// Wraps the routes with the shared layers and attaches the state.
pub fn wrap(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .route_layer(middleware::from_fn(remember_route))
        .layer(middleware::from_fn(render_yaml))
        .layer(middleware::from_fn(etag))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(
            // Spans name the path without credentials (pre-signed URLs).
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                tracing::debug_span!(
                    "request",
                    method = %req.method(),
                    path = %crate::auth::loggable_path(req.uri().path()),
                )
            }),
        )
        .layer(CatchPanicLayer::custom(|_| {
            rest_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }))
        .with_state(state)
}

/// The route template, carried on the response so outer layers can label it.
#[derive(Clone)]
struct RouteTemplate(String);

async fn remember_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteTemplate(route));
    }
    response
}

async fn record_metrics(Acting(state): Acting, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".into());
    state.metrics.observe(
        RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        },
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `ETag` on every successful GET; `If-None-Match` with it answers 304.
async fn etag(req: Request, next: Next) -> Response {
    let is_get = req.method() == Method::GET || req.method() == Method::HEAD;
    let if_none_match = req.headers().get(IF_NONE_MATCH).cloned();
    let response = next.run(req).await;
    if !is_get || response.status() != StatusCode::OK || response.headers().contains_key(ETAG) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ETAG_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return rest_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "response too large to tag",
            )
        }
    };
    let tag = format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(&bytes));
    let matches = if_none_match
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == tag)
        })
        .unwrap_or(false);
    if let Ok(value) = HeaderValue::from_str(&tag) {
        parts.headers.insert(ETAG, value);
    }
    if matches {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(CONTENT_TYPE);
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Re-encodes JSON responses as YAML when the client's `Accept` asks for it.
/// Handlers always produce JSON; this is the one place YAML is written.
async fn render_yaml(req: Request, next: Next) -> Response {
    let wants_yaml = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(Format::accepts_yaml)
        .unwrap_or(false);
    let response = next.run(req).await;
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.starts_with("application/json"))
        .unwrap_or(false);
    if !wants_yaml || !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ETAG_BODY).await else {
        return rest_error(StatusCode::INTERNAL_SERVER_ERROR, "response too large");
    };
    let yaml = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| serde_yaml_ng::to_string(&v).ok());
    match yaml {
        Some(text) => {
            parts
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/yaml"));
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(text))
        }
        None => Response::from_parts(parts, Body::from(bytes)).into_response(),
    }
}
