//! The reconcilers. This module holds the application reconciler's loop:
//! it reads what is desired and what is observed, asks the pure [`plan`] for
//! the next step, carries it out, and records the outcome in the
//! application's status before planning again. Its steps live beside it:
//! `observe` (what a look found), `deploy`, `stop`, `on_demand`
//! savepoints, `health` (the operator's restart check), `autoscale` and
//! `rescale` (the operator's autoscaler), `jobmanager` (a silent
//! JobManager), `checkpoints`; `backends`
//! says which backend (drey_runtime::JobBackend) a deployment runs on, and
//! no step knows which one it drives. Shared by every reconciler:
//! [`controller`], `cluster_start`, `downloads`, `sweep`.
//! [`pools`] and [`statements`] are the other two reconcilers.

pub mod autoscale;
pub mod backends;
mod checkpoints;
mod cluster_start;
pub mod controller;
mod deploy;
mod downloads;
pub(crate) mod events;
pub mod health;
mod jobmanager;
mod observe;
mod on_demand;
pub mod plan;
pub mod pools;
mod rescale;
pub mod statements;
mod stop;
pub(crate) mod sweep;

use crate::{store_error, Core};
pub use backends::LocalClusters;
use backends::{Backends, ChosenBackend, Placement};
use checkpoints::{latest_checkpoint_on_disk, usable_restore_point};
use drey_flink::{FlinkClient, JarRunRequest, QueueStatusId, SavepointRequest, StopRequest};
use drey_model::application::{
    cluster_shape, effective_spec, fingerprint, periodic_savepoint_interval, UpgradeMode,
};
use drey_model::application_spec::{ApplicationStatus, JobStatus, Lifecycle};
use drey_model::event::EventData;
use drey_model::loose::{to_json, view};
use drey_model::object::app_scope;
use drey_model::savepoint::{SavepointState, SavepointStatus};
use drey_model::{Error, Kind, Object, ObjectKey, Observation, Timestamp};
use drey_runtime::{ClusterHandle, ClusterSpec, JobBackend};
use drey_store::{Delete, Write, WriteMode};
pub(crate) use observe::{cluster_processes, job_state_text, observer_client_for};
use plan::{Action, Deployment, Desired, Observed, OperationObs, Recorded, StopReason, Stopping};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use drey_model::event::EventType;

/// An application's status as the reconciler reads and writes it.
pub type AppStatus = ApplicationStatus<Recorded>;

/// Settings of the reconciler.
#[derive(Clone, Debug)]
pub struct ReconcilerConfig {
    /// drey's data dir: downloaded jars go under it.
    pub data_dir: PathBuf,
    /// Where savepoints, retained checkpoints and uploaded artifacts go
    /// (`--state-dir`, the data dir by default): what replicas on several
    /// hosts must share.
    pub state_dir: PathBuf,
    /// Directories `local://` and `file://` jars may come from.
    pub jar_dirs: Vec<PathBuf>,
    /// How long a cluster may take to start.
    pub cluster_start_timeout: Duration,
    /// JobManager memory when the spec names none, MiB.
    pub default_jobmanager_mb: u64,
    /// TaskManager memory when the spec names none, MiB.
    pub default_taskmanager_mb: u64,
    /// How long a JobManager whose processes live may leave drey without an
    /// answer before it counts as hung, and its cluster as lost.
    pub hung_after: Duration,
    /// How long a cluster must stay without an owner before a sweep stops it.
    pub orphan_grace: Duration,
    /// Savepoint history limits and the download cache bound.
    pub retention: crate::retention::RetentionSettings,
    /// The outbound policy's allow-list and the download size cap.
    pub outbound: crate::outbound::OutboundSettings,
}

impl ReconcilerConfig {
    /// The local cluster an application-like spec asks for (`jobManager`,
    /// `taskManager`, `flinkConfiguration`, `job.parallelism`): applications,
    /// compute pools and statements are sized by the one rule.
    pub fn cluster_spec(&self, id: String, spec: &Value) -> ClusterSpec {
        let shape = cluster_shape(
            spec,
            self.default_jobmanager_mb,
            self.default_taskmanager_mb,
        );
        let mut cluster = ClusterSpec::new(id);
        cluster.task_managers = shape.task_managers;
        cluster.slots_per_task_manager = shape.slots;
        cluster.jobmanager_memory = format!("{}m", shape.jobmanager_mb);
        cluster.taskmanager_memory = format!("{}m", shape.taskmanager_mb);
        cluster.flink_configuration = shape.flink_configuration;
        cluster
    }

    /// The directories a session cluster of environment `env` of `org` (a
    /// compute pool's) reads and writes besides its own: its jobs'
    /// checkpoints and savepoints, which come and go while it runs, so all of
    /// its environment's (an application's own cluster sees only its
    /// application's).
    pub fn session_state_dirs(&self, org: &str, env: &str) -> Vec<PathBuf> {
        drey_runtime::backend::local::session_state_dirs(&self.state_dir, org, env)
    }
}

/// The owner of the state of the object at `key` (an application, a statement: its scope
/// is its environment), whose state dirs are named by `uid`.
pub(crate) fn state_owner<'a>(key: &'a ObjectKey, uid: &'a str) -> drey_runtime::StateOwner<'a> {
    drey_runtime::StateOwner {
        organization: &key.org,
        environment: &key.scope,
        uid,
    }
}

/// Who a cluster is for, as its record says: `<Kind> <org>/<scope>/<name>`.
pub(crate) fn owner_of(key: &ObjectKey) -> String {
    format!("{} {}/{}/{}", key.kind, key.org, key.scope, key.name)
}

/// The local clusters compute pools and statements run on (and where
/// applications run unless their environment names another cluster).
pub type Backend = LocalClusters;

/// What a pass achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassOutcome {
    /// Converged for now; look again on the next tick.
    Settled,
    /// An operation is in flight; look again soon.
    Wait(Duration),
    /// The application no longer exists.
    Gone,
}

/// Reconciles applications.
pub struct ApplicationReconciler {
    core: Core,
    backends: Backends,
    config: ReconcilerConfig,
    downloads: Arc<downloads::Downloads>,
    sweep: sweep::OrphanSweep,
}

/// The prefix of an application's own cluster id; the rest is its job id.
const APP_CLUSTER_PREFIX: &str = "app-";

/// The conflict a step meets when the application changed since it was read.
const STALE: &str = "the application changed while it was being reconciled";

/// What a step meets while its jar is being downloaded: look again soon.
const DOWNLOADING: &str = "the application's jar is being downloaded";

/// Steps one pass may take before yielding to other applications.
const MAX_STEPS: usize = 12;

impl controller::Reconcile for ApplicationReconciler {
    const KIND: Kind = Kind::Application;

    fn core(&self) -> &Core {
        &self.core
    }

    async fn reconcile(&self, key: &ObjectKey) -> Result<PassOutcome, Error> {
        ApplicationReconciler::reconcile(self, key).await
    }

    async fn sweep(&self) {
        let owned = sweep::application_clusters(&self.core).await;
        self.sweep.run(self.backends.local(), owned).await;
    }

    async fn panicked(&self, key: &ObjectKey, message: &str) {
        if let Ok(Some(app)) = self.core.store().get(key).await {
            if let Err(e) = self
                .event(&app, None, EventType::Error, message, None)
                .await
            {
                tracing::warn!(app = %key.name, error = %e, "cannot record the panic as an event");
            }
        }
    }
}

impl ApplicationReconciler {
    /// A reconciler over the core and a cluster backend.
    pub fn new(core: Core, backend: Backend, config: ReconcilerConfig) -> Self {
        ApplicationReconciler {
            sweep: sweep::OrphanSweep::new(APP_CLUSTER_PREFIX, config.orphan_grace),
            core,
            backends: Backends::new(backend),
            downloads: Arc::new(downloads::Downloads::new(&config.outbound)),
            config,
        }
    }

    /// One pass over one application: plan and execute steps until it
    /// settles, waits, or fails (the caller backs off).
    pub async fn reconcile(&self, key: &ObjectKey) -> Result<PassOutcome, Error> {
        for _ in 0..MAX_STEPS {
            let Some(app) = self.core.store().get(key).await.map_err(store_error)? else {
                return Ok(PassOutcome::Gone);
            };
            let env = self.core.environment_of(key).await?;
            let effective = effective_spec(
                &app.spec,
                env.as_ref()
                    .and_then(|e| e.spec.get("flinkApplicationDefaults")),
            );
            let status: AppStatus = view(&app.status);
            let mut recorded = status.reconciler.clone().unwrap_or_default();
            let mut desired = desired_of(&effective, &recorded);
            desired.deleting |= crate::applications::deletion_requested(&app);
            desired.pending_savepoint = self.pending_savepoint(&app).await?;
            desired.periodic_savepoint_due = plan::periodic_savepoint_due(
                periodic_savepoint_interval(
                    effective.get("flinkConfiguration").unwrap_or(&Value::Null),
                ),
                &[
                    recorded.savepoint_clock,
                    status.last_savepoint.as_ref().map(|s| s.time),
                    status.job_status.as_ref().and_then(|j| j.start_time),
                ],
                Timestamp::now(),
            );
            self.check_health(&effective, &app, &mut desired, &mut recorded);
            self.check_scale(&effective, &app, &status, &mut desired, &mut recorded);
            let (backend, existing_cluster) = self
                .backend_of(&app, env.as_ref(), &effective, &recorded)
                .await?;
            let (mut observed, cluster) = self.observe(&backend, &app, &recorded).await;
            // A JobManager silent past the bound counts as hung only where
            // drey can take the cluster down: on a cluster it does not own,
            // a second job must never be started beside one that may run.
            let owns_cluster = backend.as_ref().is_ok_and(|b| b.owns_clusters())
                && recorded.deployment.as_ref().is_some_and(|d| !d.session);
            let hung_after = if owns_cluster {
                self.config.hung_after
            } else {
                Duration::MAX
            };
            let was_silent = recorded.silence.is_some();
            let (silence, cluster_seen) = match observed.cluster.take() {
                Some(seen) => {
                    let (silence, seen) = drey_model::observation::fold_silence(
                        seen,
                        recorded.silence.as_ref(),
                        Timestamp::now(),
                        hung_after,
                    );
                    (silence, Some(seen))
                }
                None => (None, None),
            };
            observed.cluster = cluster_seen;
            recorded.silence = silence;
            // A lost cluster is over once a job runs again, or nothing is to run.
            let job_running =
                recorded.deployment.is_some() && observed.job_state.as_deref() == Some("RUNNING");
            if job_running || !desired.running || desired.deleting {
                recorded.lost_cluster = None;
            }
            if was_silent && recorded.silence.is_none() {
                let step = Step {
                    app: &app,
                    status: &status,
                    effective: &effective,
                    desired: &desired,
                    recorded,
                    observed: &observed,
                    cluster: cluster.as_ref(),
                    backend: &backend,
                    existing_cluster: existing_cluster.as_deref(),
                };
                match self.answering_again(step).await {
                    Ok(()) | Err(Error::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            let action = plan::plan(&desired, &recorded, &observed);
            tracing::debug!(app = %key.name, ?action, "reconcile step");
            let step = Step {
                app: &app,
                status: &status,
                effective: &effective,
                desired: &desired,
                recorded,
                observed: &observed,
                cluster: cluster.as_ref(),
                backend: &backend,
                existing_cluster: existing_cluster.as_deref(),
            };
            match self.execute(action, step).await {
                Ok(StepResult::Continue) => continue,
                Ok(StepResult::Done(outcome)) => return Ok(outcome),
                // Every step is safe to run again: re-read and re-plan.
                Err(Error::Conflict(reason)) if reason == STALE => continue,
                Err(Error::Conflict(reason)) if reason == DOWNLOADING => {
                    return Ok(PassOutcome::Wait(Duration::from_secs(1)))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(PassOutcome::Wait(Duration::from_millis(200)))
    }

    /// The backend of the application's deployment, or where a new one
    /// goes (with the registered cluster's id when that is an existing
    /// cluster). A placement that cannot be decided (a store error) fails
    /// the pass; one that cannot be had (no Flink, an unregistered cluster)
    /// is an `Err` the steps that need it report.
    async fn backend_of(
        &self,
        app: &Object,
        env: Option<&Object>,
        effective: &Value,
        recorded: &Recorded,
    ) -> Result<(ChosenBackend, Option<String>), Error> {
        let org = &app.key.org;
        if let Some(deployment) = &recorded.deployment {
            let backend = self
                .backends
                .of_deployment(&self.core, org, deployment)
                .await;
            return Ok((backend, deployment.existing_cluster.clone()));
        }
        // A session job runs where its compute pool's cluster is: on this
        // machine, or the registered cluster the pool is.
        let placement = match self.session_pool(app, effective).await? {
            Some(pool) => pools::placement_of(&self.core, &self.backends, &pool).await,
            None if effective
                .get("deploymentName")
                .is_some_and(Value::is_string) =>
            {
                Ok(Placement::Local)
            }
            None => self.backends.placement(&self.core, app, env).await,
        };
        match placement {
            Ok(placement) => {
                let backend = self.backends.of(&self.core, org, &placement).await;
                let existing = match placement {
                    Placement::Existing(id) => Some(id),
                    Placement::Local => None,
                };
                Ok((backend, existing))
            }
            Err(Error::Unavailable(why)) | Err(Error::Invalid { message: why, .. }) => {
                Ok((Err(why), None))
            }
            Err(e) => Err(e),
        }
    }

    /// Applies the health check the application asked for to the restart
    /// count the job watch last saw of its job: moves the window's baseline
    /// in `recorded` and says in `desired` when the job is to be redeployed.
    fn check_health(
        &self,
        effective: &Value,
        app: &Object,
        desired: &mut Desired,
        recorded: &mut Recorded,
    ) {
        let conf = effective.get("flinkConfiguration").unwrap_or(&Value::Null);
        let (Some(check), Some(deployment)) = (
            drey_model::application::HealthCheck::of(conf),
            recorded.deployment.as_ref().filter(|d| d.job_submitted),
        ) else {
            recorded.restart_baseline = None;
            return;
        };
        let subject = rescale::subject_of(app);
        let board = self.core.board().latest();
        let seen = board.jobs.iter().find_map(|(s, look)| match look {
            crate::observability::JobLook::Seen(f)
                if *s == subject && f.job_id == deployment.job_id =>
            {
                Some(f)
            }
            _ => None,
        });
        let Some(figures) = seen else {
            return;
        };
        let job = health::JobHealth {
            job_id: &deployment.job_id,
            restarts: figures.restarts,
            // Checkpoints pause while a job restarts: that is the restart
            // check's to judge.
            checkpoint_age: figures
                .last_checkpoint
                .as_ref()
                .filter(|_| figures.state == "RUNNING")
                .map(|c| Duration::from_secs_f64(c.age_seconds.max(0.0))),
        };
        let (baseline, why) = health::judge(
            &check,
            recorded.restart_baseline.as_ref(),
            job,
            Timestamp::now(),
        );
        recorded.restart_baseline = Some(baseline);
        desired.unhealthy = why;
    }

    /// The oldest savepoint resource of the application still PENDING.
    async fn pending_savepoint(&self, app: &Object) -> Result<Option<String>, Error> {
        let page = self
            .core
            .store()
            .list(&drey_store::ListQuery {
                org: app.key.org.clone(),
                kind: Kind::Savepoint,
                scope: Some(app_scope(&app.key.scope, &app.key.name)),
                filters: vec![drey_store::FieldFilter {
                    path: vec!["status".into(), "state".into()],
                    equals: SavepointState::Pending.as_str().into(),
                }],
                page: drey_model::PageRequest {
                    page: 0,
                    size: 1,
                    sort: vec![drey_model::SortOrder {
                        key: drey_model::SortKey::CreationTime,
                        direction: drey_model::SortDirection::Asc,
                    }],
                },
            })
            .await
            .map_err(store_error)?;
        Ok(page.items.into_iter().next().map(|o| o.meta.name))
    }
}

/// Reads the reconciler's record from an application's status.
pub fn recorded_of(app: &Object) -> Recorded {
    view::<AppStatus>(&app.status)
        .reconciler
        .unwrap_or_default()
}

fn desired_of(effective: &Value, recorded: &Recorded) -> Desired {
    let job = effective.get("job").cloned().unwrap_or(Value::Null);
    let text = |v: Option<&Value>| {
        v.filter(|v| !v.is_null()).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    Desired {
        running: job
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or("running")
            == "running",
        upgrade_mode: job
            .get("upgradeMode")
            .and_then(Value::as_str)
            .and_then(UpgradeMode::parse)
            .unwrap_or(UpgradeMode::Stateless),
        fingerprint: fingerprint(effective),
        savepoint_nonce: text(job.get("savepointTriggerNonce")),
        initial_savepoint: text(job.get("initialSavepointPath")),
        deleting: recorded.deleting,
        pending_savepoint: None,
        max_job_attempts: job.get("maxJobCreationAttempts").and_then(Value::as_u64),
        max_savepoint_attempts: job
            .get("maxSavepointCreationAttempts")
            .and_then(Value::as_u64),
        periodic_savepoint_due: false,
        unhealthy: None,
        rescale: None,
    }
}

struct Step<'a> {
    app: &'a Object,
    /// `app.status`, read once.
    status: &'a AppStatus,
    effective: &'a Value,
    desired: &'a Desired,
    recorded: Recorded,
    observed: &'a Observed,
    cluster: Option<&'a ClusterHandle>,
    backend: &'a ChosenBackend,
    /// The registered cluster a new deployment goes to, if not this machine.
    existing_cluster: Option<&'a str>,
}

impl Step<'_> {
    /// The deployment's backend, or why there is none now.
    fn backend(&self) -> Result<&Arc<dyn JobBackend>, Error> {
        self.backend
            .as_ref()
            .map_err(|why| Error::Unavailable(why.clone()))
    }

    /// Where the application's savepoints and checkpoints go.
    fn state_locations(&self) -> drey_runtime::StateLocations {
        let uid = self.app.meta.uid.to_string();
        self.backend
            .as_ref()
            .map(|b| b.state_locations(&state_owner(&self.app.key, &uid)))
            .unwrap_or_default()
    }

    /// The application's state dirs, when they are on this machine.
    fn local_state_dirs(&self) -> Option<drey_runtime::LocalStateDirs> {
        let uid = self.app.meta.uid.to_string();
        self.backend
            .as_ref()
            .ok()
            .and_then(|b| b.local_state_dirs(&state_owner(&self.app.key, &uid)))
    }
}

enum StepResult {
    Continue,
    Done(PassOutcome),
}

impl ApplicationReconciler {
    /// Writes the record and the status as `edit` changes the status the
    /// step read, checking the version read at the start of the step so a
    /// concurrent spec write is never lost.
    async fn record(
        &self,
        step: &Step<'_>,
        recorded: &Recorded,
        edit: impl FnOnce(&mut AppStatus),
    ) -> Result<Object, Error> {
        let mut status = step.status.clone();
        edit(&mut status);
        status.reconciler = Some(recorded.clone());
        // What this step acted on (Kubernetes' status.observedGeneration).
        status.observed_generation = Some(step.app.meta.generation);
        // Against the version this step read: a user's write (a new spec, a
        // delete request) in the meantime is never overwritten; the pass
        // plans again from the fresh state instead.
        self.core
            .store()
            .write_status(
                &step.app.key,
                Some(step.app.meta.resource_version),
                to_json(&status),
            )
            .await
            .map_err(|e| match e {
                drey_store::StoreError::VersionConflict { .. } => Error::Conflict(STALE.into()),
                other => store_error(other),
            })
    }

    async fn execute(&self, action: Action, step: Step<'_>) -> Result<StepResult, Error> {
        match action {
            Action::Idle => {
                self.settle_idle(&step).await?;
                Ok(StepResult::Done(PassOutcome::Settled))
            }
            Action::Observe => {
                self.observe_job(&step).await?;
                Ok(StepResult::Done(PassOutcome::Settled))
            }
            Action::NewDeployment { restore_from } => {
                self.new_deployment(step, restore_from).await?;
                Ok(StepResult::Continue)
            }
            Action::StartCluster
                if step.recorded.deployment.as_ref().is_some_and(|d| d.session) =>
            {
                self.join_session_cluster(step).await
            }
            Action::StartCluster => self.start_cluster(step).await,
            Action::SubmitJob => {
                self.submit_job(step).await?;
                Ok(StepResult::Continue)
            }
            Action::StopWithSavepoint(reason) => {
                self.stop_with_savepoint(step, reason).await?;
                Ok(StepResult::Continue)
            }
            Action::AwaitStop => self.await_stop(step).await,
            Action::Cancel {
                reason,
                keep_checkpoint,
            } => {
                self.cancel(step, reason, keep_checkpoint).await?;
                Ok(StepResult::Continue)
            }
            Action::TearDown => {
                self.tear_down(step).await?;
                Ok(StepResult::Continue)
            }
            Action::ClusterLost => {
                self.cluster_lost(step).await?;
                Ok(StepResult::Continue)
            }
            Action::Unanswered => self.unanswered(step).await,
            Action::TriggerSavepoint => {
                self.trigger_savepoint(step).await?;
                Ok(StepResult::Continue)
            }
            Action::Rescale => {
                self.rescale(step).await?;
                Ok(StepResult::Continue)
            }
            Action::AwaitSavepoint => self.await_savepoint(step).await,
            Action::RejectSavepoint => {
                if let Some(name) = &step.desired.pending_savepoint {
                    self.set_savepoint(step.app, name, |sp| {
                        sp.fail("the application's job is not running")
                    })
                    .await?;
                }
                Ok(StepResult::Continue)
            }
            Action::Finalize => {
                self.finalize(&step).await?;
                Ok(StepResult::Done(PassOutcome::Gone))
            }
        }
    }

    async fn settle_idle(&self, step: &Step<'_>) -> Result<(), Error> {
        let lifecycle = step.status.lifecycle_state;
        if !step.desired.running
            && lifecycle != Some(Lifecycle::Suspended)
            && lifecycle != Some(Lifecycle::Created)
        {
            self.record(step, &step.recorded, |status| {
                status.lifecycle_state = Some(Lifecycle::Suspended);
            })
            .await?;
        } else if let (true, Err(why)) = (step.desired.running, step.backend) {
            if step.status.error.as_deref() != Some(why.as_str()) {
                let why = why.clone();
                self.record(step, &step.recorded, |status| status.error = Some(why))
                    .await?;
            }
        }
        Ok(())
    }
}

/// The root cause of a Java stack trace: its last `Caused by:` line, else
/// its first line (Flink wraps user exceptions in `JobException`s).
/// Flink refused a savepoint only because the job's tasks are changing state:
/// not all running yet (just deployed or restarting), or one finishing as the
/// trigger reached its TaskManager (Flink's `TASK_CHECKPOINT_FAILURE`, e.g. a
/// source subtask left without a split after a rescale).
pub(crate) fn transient_savepoint_failure(message: &str) -> bool {
    [
        "Not all required tasks are currently running",
        "is not being executed at the moment",
        "Checkpoint was declined (tasks not ready)",
        "Checkpoint was declined (task is closing)",
        "Task local checkpoint failure",
        "Checkpoint Coordinator is suspending",
    ]
    .iter()
    .any(|refusal| message.contains(refusal))
}

pub(crate) fn root_cause(trace: &str) -> String {
    trace
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("Caused by: "))
        .or_else(|| trace.lines().next())
        .unwrap_or("the job failed")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savepoints_refused_while_tasks_change_state_are_transient() {
        // What Flink 2.3 answered in the chaos soak: a source subtask
        // finished just as the savepoint's trigger reached it.
        assert!(transient_savepoint_failure(
            "savepoint failed: java.util.concurrent.CompletionException: \
             org.apache.flink.runtime.checkpoint.CheckpointException: Task local checkpoint failure."
        ));
        assert!(transient_savepoint_failure(
            "savepoint failed: org.apache.flink.runtime.checkpoint.CheckpointException: \
             Not all required tasks are currently running."
        ));
        assert!(!transient_savepoint_failure(
            "savepoint failed: java.io.IOException: No space left on device"
        ));
    }

    #[test]
    fn root_cause_is_the_innermost_exception() {
        let trace = "org.apache.flink.runtime.JobException: Recovery is suppressed\n\tat a.b(C.java:1)\n\
                     Caused by: java.lang.RuntimeException: wrapper\n\tat x\n\
                     Caused by: java.lang.IllegalStateException: drey-test-failure after 5 records\n\tat y";
        assert_eq!(
            root_cause(trace),
            "java.lang.IllegalStateException: drey-test-failure after 5 records"
        );
        assert_eq!(
            root_cause("java.lang.Error: boom\n\tat z"),
            "java.lang.Error: boom"
        );
    }
}
