//! drey's HTTP face. One router per dialect, all over the same [`Core`]; the
//! behaviours every endpoint shares (content negotiation, paging, ETags,
//! errors, metrics, limits) are implemented once here and used by all.

pub mod alerts;
pub mod artifact_form;
pub mod auth;
pub mod body;
pub mod cmf;
pub mod error;
pub mod health;
pub mod lakesail;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod paging;
pub mod ui;
pub mod vvp;

use axum::Router;
use drey_control::Core;
use std::sync::Arc;

/// Settings of the HTTP layer.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Largest request body accepted, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Whether bearer tokens are required.
    pub auth: auth::AuthMode,
    /// The base URL (`https://drey.example.com`, no trailing slash) of the
    /// URLs drey hands out; without it, `http://` and the request's Host.
    pub public_url: Option<String>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 1024 * 1024,
            auth: auth::AuthMode::None,
            public_url: None,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The core.
    pub core: Core,
    /// HTTP settings.
    pub config: Arc<ApiConfig>,
    /// Request metrics.
    pub metrics: Arc<metrics::Metrics>,
}

/// Builds the whole HTTP application.
pub fn app(core: Core, config: ApiConfig) -> Router {
    let state = AppState {
        // Handlers act through [`auth::Acting`]; this handle works for nobody.
        core: core.acting_as(drey_control::access::Caller::Nobody),
        config: Arc::new(config),
        metrics: Arc::new(metrics::Metrics::new()),
    };
    // A route is open only when it is listed here: it carries no identity,
    // so a handler that needs a caller fails closed (401). Everything else
    // is authenticated, whatever its path looks like.
    let open = Router::new()
        .merge(health::probes())
        .merge(ui::router())
        .merge(openapi::router())
        .merge(lakesail::signed_router());
    let authenticated = Router::new()
        .merge(cmf::router())
        .merge(vvp::router())
        .merge(lakesail::router())
        .merge(health::router())
        .merge(alerts::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    // An unknown path says nothing to a caller without a token (401).
    let unknown = axum::handler::Handler::layer(
        error::unknown_route,
        axum::middleware::from_fn_with_state(state.clone(), auth::authenticate),
    );
    let routes = open
        .merge(authenticated)
        .fallback(unknown)
        .method_not_allowed_fallback(error::method_not_allowed);
    middleware::wrap(routes, state)
}
