//! The web console at `/ui/`: one HTML page, one stylesheet and one vanilla
//! JavaScript module, compiled into the binary (no files on disk, no CDN, no
//! build step). The page is public; everything it shows comes from the CMF
//! API, which it calls with the bearer token the user enters (kept in the
//! browser's `sessionStorage`) when the server runs with `--auth token`.
//!
//! Everything under `/ui` is served from the constants below and nothing
//! else, which is why its routes are open ones (no token, no identity).

use crate::auth::Acting;
use crate::auth::AuthMode;
use crate::AppState;
use axum::extract::{Path, RawQuery};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use std::sync::OnceLock;

/// One file of the console.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

/// The console's files; `index.html` names the others with `?v=<version>`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("ui/index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("ui/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("ui/app.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("ui/favicon.svg"),
    },
];

/// In `index.html`, replaced by the assets' version on first use.
const VERSION_PLACEHOLDER: &str = "__DREY_ASSET_VERSION__";

/// The page may load only its own script, styles and images, and talk only
/// to its own origin; nobody may frame it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The assets as served: bodies (index.html with the version filled in) and
/// their strong ETags, computed once.
struct Prepared {
    version: String,
    files: Vec<(&'static Asset, Vec<u8>, String)>,
}

fn prepared() -> &'static Prepared {
    static PREPARED: OnceLock<Prepared> = OnceLock::new();
    PREPARED.get_or_init(|| {
        let mut all = Vec::new();
        for asset in ASSETS {
            all.extend_from_slice(asset.body);
        }
        let version = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&all));
        let files = ASSETS
            .iter()
            .map(|asset| {
                let body = if asset.name == "index.html" {
                    String::from_utf8_lossy(asset.body)
                        .replace(VERSION_PLACEHOLDER, &version)
                        .into_bytes()
                } else {
                    asset.body.to_vec()
                };
                let etag = format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(&body));
                (asset, body, etag)
            })
            .collect();
        Prepared { version, files }
    })
}

/// `/ui` (redirects to `/ui/`), `/ui/` and `/ui/{file}`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(index))
        .route("/ui/config.json", get(config))
        .route("/ui/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", None, &headers)
}

async fn asset(
    Path(path): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if path == "index.html" {
        // One address for the page.
        return Redirect::permanent("/ui/").into_response();
    }
    let response = serve(&path, query.as_deref(), &headers);
    if response.status() == StatusCode::NOT_FOUND {
        return crate::error::unknown_route(uri).await;
    }
    response
}

/// What the page needs to know before its first API call.
async fn config(Acting(state): Acting) -> Response {
    let auth = match state.config.auth {
        AuthMode::None => "none",
        AuthMode::Token => "token",
    };
    let mut response = axum::Json(serde_json::json!({ "auth": auth })).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn serve(name: &str, query: Option<&str>, headers: &HeaderMap) -> Response {
    let prepared = prepared();
    let Some((asset, body, etag)) = prepared.files.iter().find(|(a, _, _)| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Files asked for with the current version never change: cache them for
    // good. The page itself (and unversioned requests) are revalidated with
    // the ETag on every load, which costs a 304.
    let versioned = query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "v" && v == prepared.version)
        })
        .unwrap_or(false);
    let cache = if versioned && asset.name != "index.html" {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t == etag)
        })
        .unwrap_or(false);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.clone().into_response();
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(ETAG, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if asset.name == "index.html" {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_names_every_asset_with_the_version() {
        let prepared = prepared();
        let index = prepared
            .files
            .iter()
            .find(|(a, _, _)| a.name == "index.html")
            .map(|(_, body, _)| String::from_utf8_lossy(body).to_string())
            .unwrap_or_default();
        assert!(!index.contains(VERSION_PLACEHOLDER));
        for name in ["app.js", "app.css", "favicon.svg"] {
            assert!(
                index.contains(&format!("{name}?v={}", prepared.version)),
                "{name} is referenced with the version"
            );
        }
    }
}
