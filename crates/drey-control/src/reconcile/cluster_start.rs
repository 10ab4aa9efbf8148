//! Starting a local cluster as steps that never block a pass, shared by the
//! application, pool and statement reconcilers: *launch* the processes (the
//! caller records that), then one readiness look per pass until the cluster
//! is ready, a process died, or the start timed out. The steps themselves
//! are the local backend's ([`drey_runtime::JobBackend::start_step`]).

use super::Backend;
use drey_model::Error;
use drey_runtime::{ClusterSpec, JobBackend};
use std::time::Duration;

pub(crate) use drey_runtime::backend::{ADMISSION_POLL, START_POLL};
pub(crate) use drey_runtime::StartStep;

/// One step of starting `spec` on this machine; `launched` is what the
/// caller recorded.
pub(crate) async fn start_step(
    backend: &Backend,
    spec: &ClusterSpec,
    launched: bool,
    timeout: Duration,
) -> Result<StartStep, Error> {
    let backend = backend
        .as_ref()
        .map_err(|why| Error::Unavailable(why.clone()))?;
    backend
        .start_step(spec, launched, timeout)
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))
}
