//! The compute pool reconciler. A SHARED pool is one session cluster that
//! every statement of the pool runs its job in; a DEDICATED pool owns no
//! cluster (each statement gets its own, sized by the pool's `clusterSpec`).
//!
//! A SHARED pool whose environment is bound to a registered `flink` cluster
//! (or that names one itself, `drey.io/cluster`) *is* that cluster: drey
//! starts nothing, the pool runs once the cluster answers, and its statements
//! and session jobs are jobs there. The choice is recorded with the pool
//! (`status.reconciler.existingCluster`), so a later change of the binding
//! moves the pool only when it is started again.

use super::backends::{Backends, Placement};
use super::controller::Reconcile;
use super::{owner_of, Backend, PassOutcome, ReconcilerConfig};
use crate::{store_error, Core};
use drey_model::application::{effective_spec, fingerprint};
use drey_model::compute_pool_spec::{ClusterInfo, PoolStatus};
use drey_model::loose::{to_json, view};
use drey_model::{Error, Kind, Object, ObjectKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// Pool phases, as CMF spells them.
pub mod phase {
    /// Waiting for its cluster.
    pub const PENDING: &str = "PENDING";
    /// Its cluster runs.
    pub const RUNNING: &str = "RUNNING";
    /// A dedicated pool: clusters come and go with its statements.
    pub const DEDICATED: &str = "DEDICATED";
    /// `spec.state: SUSPENDED`: no cluster.
    pub const SUSPENDED: &str = "SUSPENDED";
    /// The cluster could not be started.
    pub const FAILED: &str = "FAILED";
}

/// How a pool's status message begins while a restart waits.
const DEFERRED: &str = "The pool's configuration changed";

/// The prefix of every pool cluster's id; the rest is the pool's uid.
const CLUSTER_PREFIX: &str = "pool-";

/// What the pool reconciler keeps in `status.reconciler`: the cluster it
/// started, and with which configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolRecord {
    /// Fingerprint of the effective `clusterSpec` the cluster was started with.
    pub fingerprint: String,
    /// The cluster's id.
    #[serde(default)]
    pub cluster_id: String,
    /// Its processes were launched (it may still be starting).
    #[serde(default)]
    pub launched: bool,
    /// The registered `flink` cluster the pool is (by registration id), when
    /// it is not a cluster of drey's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_cluster: Option<String>,
}

/// A pool's status as the reconciler reads and writes it.
type Status = PoolStatus<PoolRecord>;

/// What a pool wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolWants {
    /// No cluster of its own.
    Dedicated,
    /// A running cluster with this configuration fingerprint.
    Running {
        /// Fingerprint of the effective `clusterSpec`.
        fingerprint: String,
    },
    /// No cluster.
    Suspended,
}

/// What the pool reconciler does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolAction {
    /// Record the phase (and nothing else).
    SetPhase(&'static str),
    /// Start (or adopt) the cluster and record it.
    StartCluster,
    /// Stop the recorded cluster (it is not wanted, or its spec changed).
    StopCluster,
    /// The configuration changed but statements or session jobs run on the
    /// cluster: keep it, say why, restart once they are gone.
    DeferRestart,
    /// Nothing to do.
    Nothing,
}

/// Pure: what to do given what the pool wants, the fingerprint its cluster
/// was started with (if one is recorded), whether that cluster is alive, and
/// the phase recorded.
pub fn plan_pool(
    wants: &PoolWants,
    recorded: Option<&str>,
    alive: bool,
    in_use: bool,
    phase: &str,
) -> PoolAction {
    match (wants, recorded) {
        (PoolWants::Running { fingerprint }, Some(running))
            if running != fingerprint && alive && in_use =>
        {
            PoolAction::DeferRestart
        }
        (PoolWants::Dedicated | PoolWants::Suspended, Some(_)) => PoolAction::StopCluster,
        (PoolWants::Dedicated, None) if phase != phase::DEDICATED => {
            PoolAction::SetPhase(phase::DEDICATED)
        }
        (PoolWants::Suspended, None) if phase != phase::SUSPENDED => {
            PoolAction::SetPhase(phase::SUSPENDED)
        }
        (PoolWants::Running { fingerprint }, Some(running)) if running != fingerprint => {
            PoolAction::StopCluster
        }
        (PoolWants::Running { .. }, Some(_)) if !alive => PoolAction::StartCluster,
        (PoolWants::Running { .. }, Some(_)) if phase != phase::RUNNING => {
            PoolAction::SetPhase(phase::RUNNING)
        }
        (PoolWants::Running { .. }, None) => PoolAction::StartCluster,
        _ => PoolAction::Nothing,
    }
}

/// The id of a SHARED pool's session cluster (statements and session jobs
/// of applications run in it).
pub(crate) fn pool_cluster_id(pool: &Object) -> String {
    format!("{CLUSTER_PREFIX}{}", pool.meta.uid.simple())
}

/// The registered `flink` cluster a pool was started on, if it is one.
pub(crate) fn existing_cluster_of(pool: &Object) -> Option<String> {
    view::<Status>(&pool.status)
        .reconciler
        .and_then(|r| r.existing_cluster)
}

/// Where a pool's session cluster is: where it was started, or else where
/// it would be started now (its `drey.io/cluster` annotation, else its
/// environment's binding).
pub(crate) async fn placement_of(
    core: &Core,
    backends: &Backends,
    pool: &Object,
) -> Result<Placement, Error> {
    let status: Status = view(&pool.status);
    match status.reconciler {
        Some(PoolRecord {
            existing_cluster: Some(id),
            ..
        }) => Ok(Placement::Existing(id)),
        Some(_) => Ok(Placement::Local),
        None => {
            let env = core.environment_of(&pool.key).await?;
            backends.placement(core, pool, env.as_ref()).await
        }
    }
}

/// Reconciles compute pools.
pub struct PoolReconciler {
    core: Core,
    backend: Backend,
    backends: Backends,
    config: ReconcilerConfig,
    sweep: super::sweep::OrphanSweep,
}

impl PoolReconciler {
    /// A reconciler over the core and a cluster backend.
    pub fn new(core: Core, backend: Backend, config: ReconcilerConfig) -> Self {
        PoolReconciler {
            sweep: super::sweep::OrphanSweep::new(CLUSTER_PREFIX, config.orphan_grace),
            core,
            backends: Backends::new(backend.clone()),
            backend,
            config,
        }
    }

    fn cluster_id(pool: &Object) -> String {
        pool_cluster_id(pool)
    }

    async fn pass(&self, key: &ObjectKey) -> Result<PassOutcome, Error> {
        for _ in 0..4 {
            let Some(pool) = self.core.store().get(key).await.map_err(store_error)? else {
                return Ok(PassOutcome::Gone);
            };
            let effective = self.effective(&pool).await?;
            let wants = wants(&pool.spec, &effective);
            let status: Status = view(&pool.status);
            let existing = status
                .reconciler
                .as_ref()
                .and_then(|r| r.existing_cluster.clone());
            // Nothing of a registered cluster follows the pool's clusterSpec.
            let recorded = status.reconciler.as_ref().map(|r| match &wants {
                PoolWants::Running { fingerprint } if existing.is_some() => fingerprint.clone(),
                _ => r.fingerprint.clone(),
            });
            let phase = status.phase().unwrap_or_default();
            // Up means its processes live and it was recorded ready (RUNNING);
            // a cluster still starting is polled through StartCluster. A
            // registered cluster that stops answering is reported by its
            // health watch and never "restarted".
            let alive = phase == phase::RUNNING
                && recorded.is_some()
                && (existing.is_some()
                    || super::cluster_processes(&self.backend, &Self::cluster_id(&pool))
                        .await
                        .seen()
                        .is_some());
            // Only asked when it matters: the configuration changed under a
            // running cluster.
            let changed = matches!((&wants, &recorded),
                (PoolWants::Running { fingerprint }, Some(r)) if r != fingerprint);
            let user = if changed && alive {
                self.core.pool_user(&key.org, &key.scope, &key.name).await?
            } else {
                None
            };
            match plan_pool(&wants, recorded.as_deref(), alive, user.is_some(), phase) {
                PoolAction::Nothing => {
                    // A deferred restart no longer wanted: say what is true now.
                    let stale = status
                        .message
                        .as_deref()
                        .is_some_and(|m| m.starts_with(DEFERRED));
                    if stale && phase == phase::RUNNING {
                        let message = match status.rest_url() {
                            Some(url) => {
                                format!("Flink cluster {} runs at {url}", Self::cluster_id(&pool))
                            }
                            None => "The pool's Flink cluster runs".to_owned(),
                        };
                        self.record(&pool, |status| {
                            status.phase = Some(phase::RUNNING.into());
                            status.message = Some(message);
                        })
                        .await?;
                    }
                    return Ok(PassOutcome::Settled);
                }
                PoolAction::DeferRestart => {
                    let message = format!(
                        "{DEFERRED}; its Flink cluster restarts with it once nothing runs on it ({})",
                        user.unwrap_or_default()
                    );
                    if status.message.as_deref() != Some(message.as_str()) {
                        self.record(&pool, |status| {
                            status.phase = Some(phase::RUNNING.into());
                            status.message = Some(message);
                        })
                        .await?;
                    }
                    return Ok(PassOutcome::Settled);
                }
                PoolAction::SetPhase(phase) => {
                    self.record(&pool, |status| status.phase = Some(phase.into()))
                        .await?;
                }
                PoolAction::StopCluster => {
                    // A registered cluster is left alone: the pool only
                    // stops being it.
                    if let (Ok(backend), None) = (&self.backend, &existing) {
                        backend
                            .stop(&Self::cluster_id(&pool), Duration::from_secs(15))
                            .await
                            .map_err(|e| Error::Unavailable(e.to_string()))?;
                    }
                    self.record(&pool, |status| {
                        status.phase = Some(phase::PENDING.into());
                        status.reconciler = None;
                    })
                    .await?;
                }
                PoolAction::StartCluster => {
                    let PoolWants::Running { fingerprint } = &wants else {
                        return Ok(PassOutcome::Settled);
                    };
                    return match placement_of(&self.core, &self.backends, &pool).await {
                        Ok(placement) => {
                            self.start(&pool, &status, &effective, fingerprint, placement)
                                .await
                        }
                        Err(Error::Unavailable(why)) => self.wait_for_placement(&pool, why).await,
                        Err(e) => Err(e),
                    };
                }
            }
        }
        Ok(PassOutcome::Wait(Duration::from_millis(200)))
    }

    /// Starts the pool's cluster in steps that never block a pass
    /// ([`super::cluster_start`]), on the backend of its placement: a
    /// cluster of drey's own, or a registered cluster, which is ready once
    /// it answers and is never started. The fingerprint and the launch are
    /// recorded first, so a crash while a cluster starts finds (and adopts)
    /// it instead of starting another.
    async fn start(
        &self,
        pool: &Object,
        status: &Status,
        effective: &Value,
        fingerprint: &str,
        placement: Placement,
    ) -> Result<PassOutcome, Error> {
        let existing = match placement {
            Placement::Existing(ref id) => Some(id.clone()),
            Placement::Local => None,
        };
        let backend = match self
            .backends
            .of(&self.core, &pool.key.org, &placement)
            .await
        {
            Ok(backend) => backend,
            // The registered cluster cannot be had now: wait for it.
            Err(why) if existing.is_some() => return self.wait_for_placement(pool, why).await,
            // No Flink on this machine: nothing will change that by itself.
            Err(why) => {
                self.record(pool, |status| {
                    status.phase = Some(phase::FAILED.into());
                    status.message = Some(why);
                })
                .await?;
                return Ok(PassOutcome::Settled);
            }
        };
        let id = existing.clone().unwrap_or_else(|| Self::cluster_id(pool));
        let launched = status
            .reconciler
            .as_ref()
            .is_some_and(|r| r.launched && r.fingerprint == fingerprint);
        let mut spec = self
            .config
            .cluster_spec(id.clone(), &cluster_spec_of(effective));
        spec.state_dirs = self
            .config
            .session_state_dirs(&pool.key.org, &pool.key.scope);
        spec.owner = Some(owner_of(&pool.key));
        let record = |launched: bool| {
            Some(PoolRecord {
                fingerprint: fingerprint.to_owned(),
                cluster_id: id.clone(),
                launched,
                existing_cluster: existing.clone(),
            })
        };
        use super::cluster_start::{StartStep, ADMISSION_POLL, START_POLL};
        let step = backend
            .start_step(&spec, launched, self.config.cluster_start_timeout)
            .await
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        match step {
            StartStep::Launched => {
                self.record(pool, |status| {
                    status.phase = Some(phase::PENDING.into());
                    status.message = Some("starting the pool's Flink cluster".into());
                    status.reconciler = record(true);
                })
                .await?;
                Ok(PassOutcome::Wait(START_POLL))
            }
            StartStep::Waiting if existing.is_none() => Ok(PassOutcome::Wait(START_POLL)),
            // Held for memory, or a registered cluster that does not answer
            // yet: wait at the admission pace, saying why.
            step @ (StartStep::Waiting | StartStep::Held(_)) => {
                let why = match step {
                    StartStep::Held(why) => why,
                    _ => format!("waiting for {} to answer", backend.describe()),
                };
                if status.message.as_deref() != Some(why.as_str()) {
                    self.record(pool, |status| {
                        status.phase = Some(phase::PENDING.into());
                        status.message = Some(why);
                        status.reconciler = record(false);
                    })
                    .await?;
                }
                Ok(PassOutcome::Wait(ADMISSION_POLL))
            }
            StartStep::Ready(cluster) => {
                let rest_url = cluster.rest_url();
                let message = if backend.owns_clusters() {
                    format!("Flink cluster {id} runs at {rest_url}")
                } else {
                    format!(
                        "The pool's jobs run on {} at {rest_url}",
                        backend.describe()
                    )
                };
                self.record(pool, |status| {
                    status.phase = Some(phase::RUNNING.into());
                    status.message = Some(message);
                    status.cluster_info = Some(ClusterInfo {
                        cluster_id: Some(id.clone()),
                        rest_url: Some(rest_url.clone()),
                        ..ClusterInfo::default()
                    });
                    status.reconciler = record(true);
                })
                .await?;
                Ok(PassOutcome::Settled)
            }
            StartStep::Failed(message) => {
                self.record(pool, |status| {
                    status.phase = Some(phase::FAILED.into());
                    status.message = Some(message.clone());
                    status.reconciler = record(false);
                })
                .await?;
                Err(Error::Unavailable(message))
            }
        }
    }

    /// The cluster the pool should be cannot be had now (no longer
    /// registered, decommissioned): say why and look again later.
    async fn wait_for_placement(&self, pool: &Object, why: String) -> Result<PassOutcome, Error> {
        let status: Status = view(&pool.status);
        if status.message.as_deref() != Some(why.as_str()) {
            self.record(pool, |status| {
                status.phase = Some(phase::PENDING.into());
                status.message = Some(why);
            })
            .await?;
        }
        Ok(PassOutcome::Wait(super::cluster_start::ADMISSION_POLL))
    }

    async fn effective(&self, pool: &Object) -> Result<Value, Error> {
        let env = self.core.environment_of(&pool.key).await?;
        Ok(effective_spec(
            &pool.spec,
            env.as_ref().and_then(|e| e.spec.get("computePoolDefaults")),
        ))
    }

    /// Writes the pool's status as `edit` changes it; where the cluster
    /// answers is only said while it runs.
    async fn record(&self, pool: &Object, edit: impl FnOnce(&mut Status)) -> Result<Object, Error> {
        let mut status: Status = view(&pool.status);
        edit(&mut status);
        if status.phase() != Some(phase::RUNNING) {
            status.cluster_info = None;
        }
        // What this pass acted on (Kubernetes' status.observedGeneration).
        status.observed_generation = Some(pool.meta.generation);
        self.core
            .store()
            .write_status(&pool.key, None, to_json(&status))
            .await
            .map_err(store_error)
    }
}

impl Reconcile for PoolReconciler {
    const KIND: Kind = Kind::ComputePool;

    fn core(&self) -> &Core {
        &self.core
    }

    async fn reconcile(&self, key: &ObjectKey) -> Result<PassOutcome, Error> {
        self.pass(key).await
    }

    /// Says so in the pool's message; the controller retries.
    async fn panicked(&self, key: &ObjectKey, message: &str) {
        if let Ok(Some(pool)) = self.core.store().get(key).await {
            let edit = |status: &mut Status| {
                status.phase.get_or_insert_with(|| phase::PENDING.into());
                status.message = Some(message.to_owned());
            };
            if let Err(e) = self.record(&pool, edit).await {
                tracing::warn!(pool = %key.name, error = %e, "cannot record the panic");
            }
        }
    }

    /// Stops the clusters of pools that no longer exist.
    async fn sweep(&self) {
        let owned =
            super::sweep::owners_by_uid(&self.core, Kind::ComputePool, CLUSTER_PREFIX).await;
        self.sweep.run(&self.backend, owned).await;
    }
}

/// What a pool's effective spec asks for.
fn wants(spec: &Value, effective: &Value) -> PoolWants {
    if spec.get("type").and_then(Value::as_str) == Some("DEDICATED") {
        return PoolWants::Dedicated;
    }
    if spec.get("state").and_then(Value::as_str) == Some("SUSPENDED") {
        return PoolWants::Suspended;
    }
    PoolWants::Running {
        fingerprint: fingerprint(&cluster_spec_of(effective)),
    }
}

/// A pool's `clusterSpec` (the application-like part that sizes its clusters).
pub fn cluster_spec_of(effective: &Value) -> Value {
    effective
        .get("clusterSpec")
        .cloned()
        .unwrap_or_else(|| json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(f: &str) -> PoolWants {
        PoolWants::Running {
            fingerprint: f.into(),
        }
    }

    #[test]
    fn plans() {
        use PoolAction::*;
        assert_eq!(
            plan_pool(&running("a"), None, false, false, "PENDING"),
            StartCluster
        );
        assert_eq!(
            plan_pool(&running("a"), Some("a"), false, false, "RUNNING"),
            StartCluster
        );
        assert_eq!(
            plan_pool(&running("a"), Some("a"), true, false, "PENDING"),
            SetPhase("RUNNING")
        );
        assert_eq!(
            plan_pool(&running("a"), Some("a"), true, false, "RUNNING"),
            Nothing
        );
        assert_eq!(
            plan_pool(&running("b"), Some("a"), true, true, "RUNNING"),
            PoolAction::DeferRestart
        );
        assert_eq!(
            plan_pool(&running("b"), Some("a"), true, false, "RUNNING"),
            StopCluster
        );
        assert_eq!(
            plan_pool(&PoolWants::Suspended, Some("a"), true, false, "RUNNING"),
            StopCluster
        );
        assert_eq!(
            plan_pool(&PoolWants::Suspended, None, false, false, "PENDING"),
            SetPhase("SUSPENDED")
        );
        assert_eq!(
            plan_pool(&PoolWants::Suspended, None, false, false, "SUSPENDED"),
            Nothing
        );
        assert_eq!(
            plan_pool(&PoolWants::Dedicated, None, false, false, "PENDING"),
            SetPhase("DEDICATED")
        );
        assert_eq!(
            plan_pool(&PoolWants::Dedicated, None, false, false, "DEDICATED"),
            Nothing
        );
    }

    #[test]
    fn wants_of_spec() {
        let spec = json!({"type": "SHARED", "clusterSpec": {"taskManager": {"replicas": 2}}});
        assert!(matches!(wants(&spec, &spec), PoolWants::Running { .. }));
        let spec = json!({"type": "SHARED", "state": "SUSPENDED", "clusterSpec": {}});
        assert_eq!(wants(&spec, &spec), PoolWants::Suspended);
        let spec = json!({"type": "DEDICATED", "clusterSpec": {}});
        assert_eq!(wants(&spec, &spec), PoolWants::Dedicated);
    }
}
