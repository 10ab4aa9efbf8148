//! Starting a local cluster as steps that never block a pass, shared by the
//! application, pool and statement reconcilers: *launch* the processes (the
//! caller records that), then one readiness look per pass until the cluster
//! is ready, a process died, or the start timed out.

use super::Backend;
use drey_model::{Error, Timestamp};
use drey_runtime::{ClusterSpec, LocalCluster, Readiness};
use std::time::Duration;

/// How soon a starting cluster is looked at again.
pub(crate) const START_POLL: Duration = Duration::from_millis(500);

/// Where a start is after one step.
pub(crate) enum StartStep {
    /// The processes were spawned (or a running cluster adopted): record
    /// that and look again after [`START_POLL`].
    Launched,
    /// Not ready yet: look again after [`START_POLL`].
    Waiting,
    /// Ready: every TaskManager registered.
    Ready(Box<LocalCluster>),
    /// It will not become ready (what is left of it was stopped): record why
    /// and launch again after a backoff.
    Failed(String),
    /// Not launched: it does not fit in memory now. Record why (the object
    /// waits) and look again after [`ADMISSION_POLL`].
    Held(String),
}

/// How soon a cluster held for memory is looked at again.
pub(crate) const ADMISSION_POLL: Duration = Duration::from_secs(5);

/// One step of starting `spec`; `launched` is what the caller recorded.
pub(crate) async fn start_step(
    backend: &Backend,
    spec: &ClusterSpec,
    launched: bool,
    timeout: Duration,
) -> Result<StartStep, Error> {
    let backend = backend
        .as_ref()
        .map_err(|why| Error::Unavailable(why.clone()))?;
    let failed = |e: &dyn std::fmt::Display| {
        StartStep::Failed(format!("Flink cluster {} did not start: {e}", spec.id))
    };
    if !launched {
        if let Err(why) = backend.admit(spec).await {
            return Ok(StartStep::Held(why));
        }
        return Ok(match backend.launch(spec).await {
            Ok(_) => StartStep::Launched,
            Err(e) => failed(&e),
        });
    }
    let cluster = match backend.adopt(&spec.id).await {
        Ok(Some(c)) => c,
        // Its processes are gone: launch it again, if it fits.
        Ok(None) => {
            if let Err(why) = backend.admit(spec).await {
                return Ok(StartStep::Held(why));
            }
            return Ok(match backend.launch(spec).await {
                Ok(_) => StartStep::Launched,
                Err(e) => failed(&e),
            });
        }
        Err(e) => return Err(Error::Unavailable(e.to_string())),
    };
    let started_ms = i64::try_from(cluster.started_at_ms()).unwrap_or(i64::MAX);
    let waited =
        Duration::from_millis(u64::try_from(Timestamp::now().millis() - started_ms).unwrap_or(0));
    let why = match cluster.readiness().await {
        Readiness::Ready => return Ok(StartStep::Ready(Box::new(cluster))),
        Readiness::Starting(_) if waited < timeout => return Ok(StartStep::Waiting),
        Readiness::Starting(last_seen) => {
            format!("not ready after {} s: {last_seen}", waited.as_secs())
        }
        Readiness::Failed(why) => why,
    };
    // Taken down; the next launch picks new ports.
    if let Err(e) = cluster.stop(Duration::from_secs(5)).await {
        tracing::warn!(cluster = %spec.id, error = %e, "cannot stop a cluster that failed to start");
    }
    Ok(failed(&why))
}
