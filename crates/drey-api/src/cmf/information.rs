//! `/cmf/api/v1/system-information`, `/resource-information` and
//! `/c3/license`: what drey is, what an organization holds and uses (the
//! numbers its quotas count), and an honest licence answer.

use super::{kubernetes_clusters, reply};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::CmfError;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

/// drey's version, the git revision it was built from and when it was built
/// (seconds since the epoch, from `build.rs`).
pub(super) async fn system(Caller(_who): Caller) -> Response {
    let built = env!("DREY_BUILD_TIME")
        .parse::<i64>()
        .ok()
        .and_then(|s| drey_model::Timestamp::from_millis(s.saturating_mul(1000)))
        .map(|t| t.to_string());
    reply(
        StatusCode::OK,
        json!({"status": {
            "version": env!("CARGO_PKG_VERSION"),
            "revision": env!("DREY_GIT_REVISION"),
            "buildTime": built,
        }}),
    )
}

/// Counts by kind and state, and the CPU and memory the organization's
/// clusters are given (bytes), from the sums its quotas admit against.
pub(super) async fn resources(
    Acting(state): Acting,
    Caller(who): Caller,
) -> Result<Response, CmfError> {
    let counts = state.core.resource_counts(&who.org).await?;
    let clusters = kubernetes_clusters::states(&state, &who.org).await?;
    Ok(reply(
        StatusCode::OK,
        json!({"status": {
            "resources": {
                "environments": counts.environments,
                "applications": counts.applications,
                "computePools": counts.compute_pools,
                "statements": counts.statements,
                "secrets": counts.secrets,
                "catalogs": counts.catalogs,
                "savepoints": counts.savepoints,
                "detachedSavepoints": counts.detached_savepoints,
                "kubernetesClusters": clusters,
            },
            "resourceSummary": {
                "cpu": counts.usage.cpu,
                "memory": counts.usage.memory_mb.saturating_mul(1024 * 1024),
            },
        }}),
    ))
}

/// drey holds no Confluent licence and needs none: the answer says so
/// (`INVALID`: there is no licence to be valid; type `NONE`; no expiry).
pub(super) async fn license(Caller(_who): Caller) -> Response {
    reply(
        StatusCode::OK,
        json!({
            "kind": "C3LicenseInformation",
            "status": {"status": "INVALID", "licenseType": "NONE"},
        }),
    )
}
