//! The application reconciler: reads what is desired and what is observed,
//! asks the pure [`plan`] for the next step, carries it out, and records the
//! outcome in the application's status before planning again.

mod cluster_start;
pub mod controller;
mod downloads;
pub(crate) mod events;
pub mod plan;
pub mod pools;
pub mod statements;
pub(crate) mod sweep;

use crate::{store_error, Core};
use drey_flink::{FlinkClient, JarRunRequest, QueueStatusId, SavepointRequest, StopRequest};
use drey_model::application::{cluster_shape, effective_spec, fingerprint, UpgradeMode};
use drey_model::object::app_scope;
use drey_model::{Error, Kind, Object, ObjectKey, Observation, Timestamp};
use drey_runtime::{ClusterSpec, LocalBackend, LocalCluster};
use drey_store::{Delete, Write, WriteMode};
use plan::{Action, Deployment, Desired, Observed, OperationObs, Recorded, StopReason, Stopping};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use events::EventType;

/// Settings of the reconciler.
#[derive(Clone, Debug)]
pub struct ReconcilerConfig {
    /// drey's data dir: savepoints, checkpoints and downloaded jars go under it.
    pub data_dir: PathBuf,
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
}

/// Where Flink clusters come from; `Err` holds why there is none (no Flink
/// distribution found), shown in every application that wants to run.
pub type Backend = Result<Arc<LocalBackend>, String>;

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
    backend: Backend,
    config: ReconcilerConfig,
    downloads: Arc<downloads::Downloads>,
    sweep: sweep::OrphanSweep,
    /// When the savepoint history's age limit was last applied to all.
    last_age_trim: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How often the age limit of savepoint histories is applied to every
/// application.
const AGE_TRIM_EVERY: Duration = Duration::from_secs(600);

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
        self.sweep.run(&self.backend, owned).await;
        self.trim_aged_savepoints().await;
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
            backend,
            config,
            downloads: Arc::default(),
            last_age_trim: std::sync::Mutex::new(None),
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
            let mut recorded = recorded_of(&app);
            let mut desired = desired_of(&effective, &recorded);
            desired.deleting |= crate::applications::deletion_requested(&app);
            desired.pending_savepoint = self.pending_savepoint(&app).await?;
            let (mut observed, cluster) = self.observe(&recorded).await;
            let was_silent = recorded.silence.is_some();
            let (silence, cluster_seen) = match observed.cluster.take() {
                Some(seen) => {
                    let (silence, seen) = drey_model::observation::fold_silence(
                        seen,
                        recorded.silence.as_ref(),
                        Timestamp::now(),
                        self.config.hung_after,
                    );
                    (silence, Some(seen))
                }
                None => (None, None),
            };
            observed.cluster = cluster_seen;
            recorded.silence = silence;
            if was_silent && recorded.silence.is_none() {
                let step = Step {
                    app: &app,
                    effective: &effective,
                    desired: &desired,
                    recorded,
                    observed: &observed,
                    cluster: cluster.as_ref(),
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
                effective: &effective,
                desired: &desired,
                recorded,
                observed: &observed,
                cluster: cluster.as_ref(),
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

    /// Applies the savepoint history's age limit to applications that take
    /// no new savepoints (a savepoint trims its own history at once), at
    /// most every [`AGE_TRIM_EVERY`].
    async fn trim_aged_savepoints(&self) {
        let due = self.last_age_trim.lock().is_ok_and(|mut last| {
            let due = last.is_none_or(|t| t.elapsed() >= AGE_TRIM_EVERY);
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        });
        if !due {
            return;
        }
        let Ok(keys) = self.core.store().keys(Kind::Application).await else {
            return;
        };
        for key in keys {
            if let Ok(Some(app)) = self.core.store().get(&key).await {
                let dir = self.savepoint_dir(&app);
                self.core
                    .trim_savepoints(&key, &self.config.retention, &dir)
                    .await;
            }
        }
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
                    equals: crate::savepoints::state::PENDING.into(),
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

    /// Looks at the recorded deployment: its processes, then its job and any
    /// savepoint in flight over REST. Dead processes are *gone*; live ones
    /// that do not answer are *unknown*, never a reason to act.
    async fn observe(&self, recorded: &Recorded) -> (Observed, Option<LocalCluster>) {
        let (Some(deployment), Ok(backend)) = (&recorded.deployment, &self.backend) else {
            return (Observed::nothing(), None);
        };
        if !deployment.cluster_started {
            return (Observed::nothing(), None);
        }
        let cluster = match backend.adopt(&deployment.cluster_id).await {
            Ok(Some(c)) if c.is_alive() => c,
            Ok(Some(c)) => {
                // Part of the cluster died: take the rest down, it is lost
                // (a pool's session cluster is its pool's to restart).
                if !deployment.session {
                    c.kill();
                }
                return (
                    Observed::gone(format!(
                        "a process of Flink cluster {} exited",
                        deployment.cluster_id
                    )),
                    None,
                );
            }
            Ok(None) => {
                return (
                    Observed::gone(format!(
                        "no process of Flink cluster {} runs",
                        deployment.cluster_id
                    )),
                    None,
                )
            }
            // The cluster's record could not be read: that says nothing
            // about its processes.
            Err(e) => return (Observed::unknown(e.to_string()), None),
        };
        let client = observer_client(&cluster);
        let job_state = if deployment.job_submitted {
            match client.job_status(&deployment.job_id).await {
                Ok(info) => Some(job_state_text(&info.status)),
                // A session cluster restarted by its pool forgot the job:
                // for this application that is a lost cluster.
                Err(e) if e.is_not_found() && deployment.session => {
                    return (
                        Observed::gone(format!(
                            "session cluster {} no longer knows job {}",
                            deployment.cluster_id, deployment.job_id
                        )),
                        None,
                    );
                }
                Err(e) if e.is_not_found() => None,
                Err(e) => {
                    return (
                        Observed::unknown(format!("job status of {}: {e}", deployment.job_id)),
                        Some(cluster),
                    );
                }
            }
        } else {
            None
        };
        let trigger = recorded
            .stopping
            .as_ref()
            .and_then(|s| s.trigger_id.clone())
            .or_else(|| recorded.savepoint_trigger.clone());
        let operation = match trigger {
            Some(trigger) => Some(
                match client.savepoint_status(&deployment.job_id, &trigger).await {
                    Ok(op) if op.status.id == QueueStatusId::InProgress => OperationObs::InProgress,
                    Ok(op) => match op.operation {
                        Some(info) => match (info.location, info.failure_cause) {
                            (Some(location), _) => OperationObs::Completed(location),
                            (None, Some(cause)) => OperationObs::Failed(cause.summary()),
                            (None, None) => {
                                OperationObs::Failed("savepoint finished without a location".into())
                            }
                        },
                        None => OperationObs::Failed("savepoint finished without a result".into()),
                    },
                    // Flink forgot the trigger (its JobManager restarted).
                    Err(e) if e.is_not_found() => OperationObs::Failed(e.to_string()),
                    Err(e) => OperationObs::Unknown(e.to_string()),
                },
            ),
            None => None,
        };
        (Observed::up(job_state, operation), Some(cluster))
    }
}

/// Whether the processes of local cluster `id` live: seen when all of them
/// do, gone when its record is gone or a process exited, unknown when the
/// record cannot be read.
pub(crate) async fn cluster_processes(backend: &Backend, id: &str) -> Observation<()> {
    let Ok(backend) = backend else {
        return Observation::Unknown("no Flink backend".into());
    };
    match backend.adopt(id).await {
        Ok(Some(c)) if c.is_alive() => Observation::Seen(()),
        Ok(Some(_)) => Observation::Gone(format!("a process of Flink cluster {id} exited")),
        Ok(None) => Observation::Gone(format!("no process of Flink cluster {id} runs")),
        Err(e) => Observation::Unknown(e.to_string()),
    }
}

/// A client for one look at a cluster: a short timeout and no retries, so a
/// JobManager that does not answer costs one pass a few seconds, and the
/// controller (not the client) decides when to look again.
fn observer_client(cluster: &LocalCluster) -> FlinkClient {
    observer_client_for(&cluster.rest_url()).unwrap_or_else(|_| cluster.client())
}

/// [`observer_client`] for a REST URL.
pub(crate) fn observer_client_for(url: &str) -> Result<FlinkClient, drey_flink::FlinkError> {
    let config = drey_flink::ClientConfig {
        request_timeout: OBSERVE_TIMEOUT,
        get_retries: 0,
        ..drey_flink::ClientConfig::default()
    };
    FlinkClient::with_config(url, config)
}

/// How long one observation call may take.
const OBSERVE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn job_state_text(state: &drey_flink::JobState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "UNKNOWN".into())
}

/// Reads the reconciler's record from an application's status.
pub fn recorded_of(app: &Object) -> Recorded {
    app.status
        .get("reconciler")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
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
    }
}

struct Step<'a> {
    app: &'a Object,
    effective: &'a Value,
    desired: &'a Desired,
    recorded: Recorded,
    observed: &'a Observed,
    cluster: Option<&'a LocalCluster>,
}

enum StepResult {
    Continue,
    Done(PassOutcome),
}

/// The parts of the status this pass changes; merged over the stored status.
#[derive(Default)]
struct StatusPatch(Map<String, Value>);

impl StatusPatch {
    fn set(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.into(), value);
        self
    }
}

impl ApplicationReconciler {
    fn backend(&self) -> Result<&Arc<LocalBackend>, Error> {
        self.backend
            .as_ref()
            .map_err(|why| Error::Unavailable(why.clone()))
    }

    /// Writes the record and the status fields, checking the version read at
    /// the start of the step so a concurrent spec write is never lost.
    async fn record(
        &self,
        step: &Step<'_>,
        recorded: &Recorded,
        patch: StatusPatch,
    ) -> Result<Object, Error> {
        let mut status = step.app.status.as_object().cloned().unwrap_or_default();
        for (k, v) in patch.0 {
            status.insert(k, v);
        }
        status.insert(
            "reconciler".into(),
            serde_json::to_value(recorded).map_err(|e| Error::Internal(e.to_string()))?,
        );
        // What this step acted on (Kubernetes' status.observedGeneration).
        status.insert("observedGeneration".into(), json!(step.app.meta.generation));
        // Against the version this step read: a user's write (a new spec, a
        // delete request) in the meantime is never overwritten; the pass
        // plans again from the fresh state instead.
        self.core
            .store()
            .write_status(
                &step.app.key,
                Some(step.app.meta.resource_version),
                Value::Object(status),
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
            Action::AwaitSavepoint => self.await_savepoint(step).await,
            Action::RejectSavepoint => {
                if let Some(name) = &step.desired.pending_savepoint {
                    self.set_savepoint(
                        step.app,
                        name,
                        json!({"state": crate::savepoints::state::FAILED,
                               "error": "the application's job is not running",
                               "resultTimestamp": Timestamp::now().to_string()}),
                    )
                    .await?;
                }
                Ok(StepResult::Continue)
            }
            Action::Finalize => {
                self.finalize(step.app).await?;
                Ok(StepResult::Done(PassOutcome::Gone))
            }
        }
    }

    async fn settle_idle(&self, step: &Step<'_>) -> Result<(), Error> {
        let lifecycle = step
            .app
            .status
            .get("lifecycleState")
            .and_then(Value::as_str);
        if !step.desired.running && lifecycle != Some("SUSPENDED") && lifecycle != Some("CREATED") {
            self.record(
                step,
                &step.recorded,
                StatusPatch::default().set("lifecycleState", json!("SUSPENDED")),
            )
            .await?;
        } else if step.desired.running && self.backend.is_err() {
            let why = self
                .backend()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            if step.app.status.get("error").and_then(Value::as_str) != Some(why.as_str()) {
                self.record(
                    step,
                    &step.recorded,
                    StatusPatch::default().set("error", json!(why)),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn new_deployment(
        &self,
        step: Step<'_>,
        restore_from: Option<String>,
    ) -> Result<(), Error> {
        self.backend()?;
        let app = step.app;
        // A retained checkpoint can be subsumed (and deleted) by a newer one
        // between the moment it was recorded and the job's end: restore from
        // the newest one still on disk instead.
        let restore_from = restore_from.map(|p| usable_restore_point(p, &self.checkpoint_dir(app)));
        // A jar that cannot be had is the spec's fault: say so and wait for
        // the spec to change instead of retrying.
        let uri = step
            .effective
            .pointer("/job/jarURI")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Err(e) = self.jar_path(app, uri).await {
            if let Error::Invalid { .. } = e {
                let mut recorded = step.recorded.clone();
                recorded.halted_fingerprint = Some(step.desired.fingerprint.clone());
                let message = e.to_string();
                self.record(
                    &step,
                    &recorded,
                    StatusPatch::default()
                        .set("lifecycleState", json!("FAILED"))
                        .set("error", json!(message)),
                )
                .await?;
                return self
                    .event(app, None, EventType::Error, &message, None)
                    .await;
            }
            return Err(e);
        }
        let session_cluster = self.session_cluster_of(app, step.effective).await?;
        let instance = uuid::Uuid::new_v4();
        let job_id = instance.simple().to_string();
        let env = &app.key.scope;
        let mut write = Write::new(
            ObjectKey::in_app(
                &app.key.org,
                Kind::Instance,
                env,
                &app.key.name,
                &instance.to_string(),
            ),
            WriteMode::Create,
            json!({}),
        );
        write.status = Some(json!({
            "spec": step.effective,
            "jobStatus": {"jobId": job_id, "state": "CREATED"},
        }));
        self.core.store().write(write).await.map_err(store_error)?;
        self.trim(&app.key, Kind::Instance).await?;

        let mut recorded = step.recorded.clone();
        recorded.deployment = Some(Deployment {
            instance: instance.to_string(),
            job_id: job_id.clone(),
            session: session_cluster.is_some(),
            cluster_id: session_cluster.unwrap_or_else(|| format!("{APP_CLUSTER_PREFIX}{job_id}")),
            fingerprint: step.desired.fingerprint.clone(),
            restore_from: restore_from.clone(),
            cluster_launched: false,
            cluster_started: false,
            job_submitted: false,
        });
        recorded.deployed_before = true;
        recorded.halted_fingerprint = None;
        let upgrading = step
            .app
            .status
            .get("lifecycleState")
            .and_then(Value::as_str)
            == Some("UPGRADING");
        let patch = StatusPatch::default()
            .set("lifecycleState", json!(if upgrading { "UPGRADING" } else { "DEPLOYED" }))
            .set("currentDeployedInstanceName", json!(instance.to_string()))
            .set("error", Value::Null)
            .set(
                "reconciliationStatus",
                json!({"state": "DEPLOYED",
                       "lastReconciledSpec": serde_json::to_string(step.effective).unwrap_or_default()}),
            )
            .set(
                "jobStatus",
                json!({"jobId": job_id, "jobName": app.key.name, "state": "RECONCILING",
                       "updateTime": Timestamp::now().to_string(),
                       "upgradeSavepointPath": restore_from}),
            );
        self.record(&step, &recorded, patch).await?;
        self.event(
            app,
            Some(&instance.to_string()),
            EventType::InstanceCreated,
            &match &restore_from {
                Some(p) => format!("Created instance {instance}; the job restores from {p}"),
                None => format!("Created instance {instance}; the job starts without state"),
            },
            None,
        )
        .await
    }

    fn cluster_spec(&self, step: &Step<'_>, deployment: &Deployment) -> ClusterSpec {
        let mut spec = self
            .config
            .cluster_spec(deployment.cluster_id.clone(), step.effective);
        let conf = std::mem::take(&mut spec.flink_configuration);
        spec.flink_configuration = self.with_state_locations(step, conf);
        spec
    }

    /// Where the application's checkpoints and savepoints go, over its own
    /// configuration: for its own cluster, or for its job in a session
    /// cluster (as job-level configuration).
    fn with_state_locations(
        &self,
        step: &Step<'_>,
        mut conf: std::collections::BTreeMap<String, String>,
    ) -> std::collections::BTreeMap<String, String> {
        let checkpoints = self.checkpoint_dir(step.app);
        // Outside the cluster dir, so checkpoints outlive the cluster (last-state).
        conf.entry("execution.checkpointing.dir".into())
            .or_insert_with(|| format!("file://{}", checkpoints.display()));
        conf.entry("execution.checkpointing.savepoint-dir".into())
            .or_insert_with(|| format!("file://{}", self.savepoint_dir(step.app).display()));
        conf.entry("execution.checkpointing.externalized-checkpoint-retention".into())
            .or_insert_with(|| "RETAIN_ON_CANCELLATION".into());
        if step.desired.upgrade_mode == UpgradeMode::LastState {
            conf.entry("execution.checkpointing.interval".into())
                .or_insert_with(|| "5s".into());
        }
        conf
    }

    /// The session cluster of the compute pool named by `spec.deploymentName`,
    /// if the application runs its job in one.
    async fn session_cluster_of(
        &self,
        app: &Object,
        effective: &Value,
    ) -> Result<Option<String>, Error> {
        let Some(name) = effective.get("deploymentName").and_then(Value::as_str) else {
            return Ok(None);
        };
        let key = ObjectKey::in_env(&app.key.org, Kind::ComputePool, &app.key.scope, name);
        match self.core.store().get(&key).await.map_err(store_error)? {
            Some(pool) => Ok(Some(pools::pool_cluster_id(&pool))),
            None => Err(Error::Unavailable(format!(
                "compute pool '{name}' does not exist"
            ))),
        }
    }

    /// A session job's "cluster start": the pool's cluster must be up (the
    /// pool reconciler starts it); until it is, wait and say why.
    async fn join_session_cluster(&self, step: Step<'_>) -> Result<StepResult, Error> {
        let backend = self.backend()?.clone();
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(StepResult::Continue);
        };
        let pool = step
            .effective
            .get("deploymentName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let cluster = backend
            .adopt(&deployment.cluster_id)
            .await
            .ok()
            .flatten()
            .filter(|c| c.is_alive());
        let Some(cluster) = cluster else {
            let message = format!("waiting for the session cluster of compute pool '{pool}'");
            if step.app.status.get("error").and_then(Value::as_str) != Some(message.as_str()) {
                self.record(
                    &step,
                    &step.recorded,
                    StatusPatch::default().set("error", json!(message)),
                )
                .await?;
            }
            return Ok(StepResult::Done(PassOutcome::Wait(Duration::from_secs(1))));
        };
        let mut recorded = step.recorded.clone();
        if let Some(d) = recorded.deployment.as_mut() {
            d.cluster_started = true;
        }
        self.record(
            &step,
            &recorded,
            StatusPatch::default().set("error", Value::Null).set(
                "clusterInfo",
                json!({"restUrl": cluster.rest_url(), "clusterId": deployment.cluster_id,
                       "computePoolName": pool}),
            ),
        )
        .await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::ClusterStarted,
            &format!(
                "The job runs in the session cluster of compute pool '{pool}' at {}",
                cluster.rest_url()
            ),
            None,
        )
        .await?;
        Ok(StepResult::Continue)
    }

    fn savepoint_dir(&self, app: &Object) -> PathBuf {
        self.config
            .data_dir
            .join("savepoints")
            .join(app.meta.uid.to_string())
    }

    fn checkpoint_dir(&self, app: &Object) -> PathBuf {
        self.config
            .data_dir
            .join("checkpoints")
            .join(app.meta.uid.to_string())
    }

    /// Starts the deployment's cluster in steps that never block a pass
    /// ([`cluster_start`]).
    async fn start_cluster(&self, step: Step<'_>) -> Result<StepResult, Error> {
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(StepResult::Continue);
        };
        let mut recorded = step.recorded.clone();
        let spec = self.cluster_spec(&step, &deployment);
        let started = cluster_start::start_step(
            &self.backend,
            &spec,
            deployment.cluster_launched,
            self.config.cluster_start_timeout,
        )
        .await?;
        let cluster = match started {
            cluster_start::StartStep::Launched => {
                if let Some(d) = recorded.deployment.as_mut() {
                    d.cluster_launched = true;
                }
                self.record(&step, &recorded, StatusPatch::default())
                    .await?;
                return Ok(StepResult::Done(PassOutcome::Wait(
                    cluster_start::START_POLL,
                )));
            }
            cluster_start::StartStep::Waiting => {
                return Ok(StepResult::Done(PassOutcome::Wait(
                    cluster_start::START_POLL,
                )));
            }
            cluster_start::StartStep::Failed(message) => {
                if let Some(d) = recorded.deployment.as_mut() {
                    d.cluster_launched = false;
                }
                self.record(
                    &step,
                    &recorded,
                    StatusPatch::default().set("error", json!(message)),
                )
                .await?;
                self.event(step.app, None, EventType::Error, &message, None)
                    .await?;
                return Err(Error::Unavailable(message));
            }
            cluster_start::StartStep::Ready(cluster) => cluster,
        };
        if let Some(d) = recorded.deployment.as_mut() {
            d.cluster_started = true;
        }
        self.record(
            &step,
            &recorded,
            StatusPatch::default().set(
                "clusterInfo",
                json!({"restUrl": cluster.rest_url(), "clusterId": deployment.cluster_id}),
            ),
        )
        .await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::ClusterStarted,
            &format!(
                "Flink cluster {} is up with {} TaskManager(s) at {}",
                deployment.cluster_id,
                spec.task_managers,
                cluster.rest_url()
            ),
            None,
        )
        .await?;
        Ok(StepResult::Continue)
    }

    /// Resolves `job.jarURI` to a file on this machine.
    async fn jar_path(&self, app: &Object, uri: &str) -> Result<PathBuf, Error> {
        if let Some(path) = uri
            .strip_prefix("local://")
            .or_else(|| uri.strip_prefix("file://"))
        {
            let path = Path::new(path);
            check_jar_path(path, &self.config.jar_dirs)?;
            // Uploaded jars belong to their environment: another's are not there.
            let artifacts = self.config.data_dir.join("artifacts");
            let own = artifacts.join(&app.key.org).join(&app.key.scope);
            let inside = |dir: &Path| {
                path.canonicalize()
                    .ok()
                    .zip(dir.canonicalize().ok())
                    .is_some_and(|(p, d)| p.starts_with(d))
            };
            if inside(&artifacts) && !inside(&own) {
                return Err(Error::invalid(
                    "spec.job.jarURI",
                    format!("{} is an artifact of another environment", path.display()),
                ));
            }
            return Ok(path.to_owned());
        }
        // http(s): downloaded once into the data dir, named by the URI's hash,
        // in the background ([`downloads`]).
        let name = format!("{}.jar", drey_model::application::fingerprint(&json!(uri)));
        let dir = self.config.data_dir.join("jars").join("downloads");
        let path = dir.join(name);
        let max = self.config.retention.download_cache_max_bytes;
        match self.downloads.fetch(uri, path, &dir, max)? {
            downloads::Fetch::Ready(path) => Ok(path),
            downloads::Fetch::Pending => Err(Error::Conflict(DOWNLOADING.into())),
        }
    }

    async fn submit_job(&self, step: Step<'_>) -> Result<(), Error> {
        let (Some(cluster), Some(deployment)) = (step.cluster, step.recorded.deployment.clone())
        else {
            return Ok(());
        };
        let client = cluster.client();
        // A retried submission finds the job it already started; without a
        // clear answer either way, nothing is submitted (look again later).
        let already = match client.job_status(&deployment.job_id).await {
            Ok(_) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => {
                return Err(Error::Unavailable(format!(
                    "cannot tell whether job {} runs: {e}",
                    deployment.job_id
                )))
            }
        };
        if !already {
            match self.run_jar(&client, &step, &deployment).await {
                Ok(()) => {}
                // The jar left the cache and is fetched again: not a failure.
                Err(Error::Conflict(reason)) if reason == DOWNLOADING => {
                    return Err(Error::Conflict(reason))
                }
                Err(e) => return self.submission_failed(step, &deployment, e).await,
            }
        }
        let mut recorded = step.recorded.clone();
        recorded.failed_submissions = 0;
        if let Some(d) = recorded.deployment.as_mut() {
            d.job_submitted = true;
        }
        recorded.restore_from = None;
        self.record(&step, &recorded, StatusPatch::default())
            .await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::JobSubmitted,
            &format!("Submitted job {}", deployment.job_id),
            None,
        )
        .await
    }

    /// Counts a failed submission; after `job.maxJobCreationAttempts` the
    /// deployment is taken down and the application is FAILED until its
    /// spec changes, otherwise the submission is retried after a backoff.
    async fn submission_failed(
        &self,
        step: Step<'_>,
        deployment: &Deployment,
        error: Error,
    ) -> Result<(), Error> {
        let mut recorded = step.recorded.clone();
        recorded.failed_submissions += 1;
        let attempts = recorded.failed_submissions;
        let exhausted = step
            .desired
            .max_job_attempts
            .is_some_and(|max| attempts >= max);
        let message = if exhausted {
            recorded.halted_fingerprint = Some(deployment.fingerprint.clone());
            recorded.stopping = Some(Stopping {
                reason: StopReason::JobEnded,
                trigger_id: None,
                job_stopped: true,
            });
            format!("the job could not be created in {attempts} attempt(s): {error}")
        } else {
            error.to_string()
        };
        self.record(
            &step,
            &recorded,
            StatusPatch::default().set("error", json!(message)),
        )
        .await?;
        self.event(step.app, None, EventType::Error, &message, None)
            .await?;
        if exhausted {
            Ok(())
        } else {
            Err(error)
        }
    }

    async fn run_jar(
        &self,
        client: &FlinkClient,
        step: &Step<'_>,
        deployment: &Deployment,
    ) -> Result<(), Error> {
        let job = step.effective.get("job").cloned().unwrap_or(Value::Null);
        let uri = job
            .get("jarURI")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = self.jar_path(step.app, uri).await?;
        if !path.is_file() {
            return Err(Error::invalid(
                "spec.job.jarURI",
                format!("{} does not exist", path.display()),
            ));
        }
        let uploaded = client.upload_jar(&path).await.map_err(|e| {
            Error::invalid(
                "spec.job.jarURI",
                format!("Flink refused the jar {}: {e}", path.display()),
            )
        })?;
        let jar_id = uploaded
            .filename
            .rsplit('/')
            .next()
            .unwrap_or(&uploaded.filename)
            .to_owned();
        let request = JarRunRequest {
            entry_class: job
                .get("entryClass")
                .and_then(Value::as_str)
                .map(str::to_owned),
            program_args_list: job
                .get("args")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            parallelism: job
                .get("parallelism")
                .and_then(Value::as_u64)
                .and_then(|p| u32::try_from(p).ok()),
            job_id: Some(deployment.job_id.clone()),
            allow_non_restored_state: job.get("allowNonRestoredState").and_then(Value::as_bool),
            savepoint_path: deployment.restore_from.clone(),
            flink_configuration: if deployment.session {
                self.with_state_locations(step, job_configuration(step.effective))
            } else {
                Default::default()
            },
            ..JarRunRequest::default()
        };
        client
            .run_jar(&jar_id, &request)
            .await
            .map_err(|e| Error::Unavailable(format!("Flink did not run the job: {e}")))?;
        let _ = client.delete_jar(&jar_id).await;
        Ok(())
    }

    async fn observe_job(&self, step: &Step<'_>) -> Result<(), Error> {
        let Some(deployment) = &step.recorded.deployment else {
            return Ok(());
        };
        let state = step
            .observed
            .job_state
            .clone()
            .unwrap_or_else(|| "RECONCILING".into());
        let previous = step
            .app
            .status
            .pointer("/jobStatus/state")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if previous == state {
            return Ok(());
        }
        let now = Timestamp::now().to_string();
        let mut job_status = job_status_with(
            step.app,
            json!({"state": state, "jobId": deployment.job_id,
                   "jobName": step.app.key.name, "updateTime": now}),
        );
        if let Some(js) = job_status.as_object_mut() {
            if state == "RUNNING" && js.get("startTime").map(Value::is_null).unwrap_or(true) {
                js.insert("startTime".into(), json!(now));
            }
        }
        let lifecycle = match state.as_str() {
            "RUNNING" => "STABLE",
            "FAILED" => "FAILED",
            _ => "DEPLOYED",
        };
        let mut patch = StatusPatch::default()
            .set("jobStatus", job_status)
            .set("lifecycleState", json!(lifecycle));
        let mut exception = None;
        if state == "FAILED" {
            if let Some(cluster) = step.cluster {
                if let Ok(ex) = cluster.client().job_exceptions(&deployment.job_id).await {
                    exception = ex
                        .exception_history
                        .entries
                        .first()
                        .map(|e| e.stacktrace.clone());
                }
            }
            let message = exception
                .as_deref()
                .map(root_cause)
                .unwrap_or_else(|| "the job failed".to_owned());
            patch = patch.set("error", json!(message));
        } else if state == "RUNNING" {
            patch = patch.set("error", Value::Null);
        }
        self.record(step, &step.recorded, patch).await?;
        self.update_instance(step.app, deployment, &state).await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::JobStatus,
            &format!("Job {} is {state}", deployment.job_id),
            Some(json!({"newStatus": state})),
        )
        .await?;
        if let Some(trace) = exception {
            self.event(
                step.app,
                Some(&deployment.instance),
                EventType::JobException,
                "The job failed with an exception",
                Some(json!({"exceptionString": trace})),
            )
            .await?;
        }
        Ok(())
    }

    async fn update_instance(
        &self,
        app: &Object,
        deployment: &Deployment,
        state: &str,
    ) -> Result<(), Error> {
        let key = ObjectKey::in_app(
            &app.key.org,
            Kind::Instance,
            &app.key.scope,
            &app.key.name,
            &deployment.instance,
        );
        if let Some(instance) = self.core.store().get(&key).await.map_err(store_error)? {
            let mut status = instance.status.clone();
            if let Some(js) = status.get_mut("jobStatus").and_then(Value::as_object_mut) {
                js.insert("state".into(), json!(state));
            }
            self.core
                .store()
                .write_status(&key, None, status)
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    async fn stop_with_savepoint(&self, step: Step<'_>, reason: StopReason) -> Result<(), Error> {
        let (Some(cluster), Some(deployment)) = (step.cluster, &step.recorded.deployment) else {
            return Ok(());
        };
        let target = self.savepoint_dir(step.app);
        let trigger = cluster
            .client()
            .stop_with_savepoint(
                &deployment.job_id,
                &StopRequest {
                    target_directory: Some(format!("file://{}", target.display())),
                    drain: Some(false),
                    ..StopRequest::default()
                },
            )
            .await
            .map_err(|e| {
                Error::Unavailable(format!(
                    "cannot stop job {} with a savepoint: {e}",
                    deployment.job_id
                ))
            })?;
        let mut recorded = step.recorded.clone();
        recorded.stopping = Some(Stopping {
            reason,
            trigger_id: Some(trigger.request_id.clone()),
            job_stopped: false,
        });
        let lifecycle = if reason == StopReason::Upgrade {
            "UPGRADING"
        } else {
            "DEPLOYED"
        };
        self.record(
            &step,
            &recorded,
            StatusPatch::default().set("lifecycleState", json!(lifecycle)),
        )
        .await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::SavepointTriggered,
            &format!(
                "Stopping job {} with a savepoint ({:?})",
                deployment.job_id, reason
            ),
            None,
        )
        .await
    }

    async fn await_stop(&self, step: Step<'_>) -> Result<StepResult, Error> {
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(StepResult::Continue);
        };
        let mut recorded = step.recorded.clone();
        match &step.observed.operation {
            Some(OperationObs::InProgress | OperationObs::Unknown(_)) => Ok(StepResult::Done(
                PassOutcome::Wait(Duration::from_millis(500)),
            )),
            Some(OperationObs::Completed(location)) => {
                recorded.failed_stops = 0;
                recorded.restore_from = Some(location.clone());
                if let Some(s) = recorded.stopping.as_mut() {
                    s.job_stopped = true;
                }
                let job_status =
                    job_status_with(step.app, json!({"upgradeSavepointPath": location}));
                self.record(
                    &step,
                    &recorded,
                    StatusPatch::default().set("jobStatus", job_status).set(
                        "lastSavepoint",
                        json!({"location": location, "time": Timestamp::now().to_string()}),
                    ),
                )
                .await?;
                self.record_savepoint(step.app, location).await?;
                let dir = self.savepoint_dir(step.app);
                self.core
                    .trim_savepoints(&step.app.key, &self.config.retention, &dir)
                    .await;
                self.event(
                    step.app,
                    Some(&deployment.instance),
                    EventType::SavepointCompleted,
                    &format!("Savepoint completed at {location}"),
                    None,
                )
                .await?;
                Ok(StepResult::Continue)
            }
            Some(OperationObs::Failed(cause)) => {
                // The job keeps running; the stop is retried after a backoff,
                // up to `job.maxSavepointCreationAttempts` times.
                recorded.stopping = None;
                recorded.failed_stops += 1;
                let attempts = recorded.failed_stops;
                let exhausted = step
                    .desired
                    .max_savepoint_attempts
                    .is_some_and(|max| attempts >= max);
                let mut patch = StatusPatch::default();
                let message = if exhausted {
                    recorded.failed_stops = 0;
                    recorded.stop_given_up = Some(step.desired.transition());
                    patch = patch.set("lifecycleState", json!("FAILED"));
                    format!(
                        "the savepoint could not be taken in {attempts} attempt(s); the job keeps running: {cause}"
                    )
                } else {
                    format!("stop-with-savepoint failed: {cause}")
                };
                self.record(&step, &recorded, patch.set("error", json!(message)))
                    .await?;
                self.event(
                    step.app,
                    Some(&deployment.instance),
                    EventType::Error,
                    &message,
                    None,
                )
                .await?;
                if exhausted {
                    return Ok(StepResult::Done(PassOutcome::Settled));
                }
                Err(Error::Unavailable(message))
            }
            None => {
                // The cluster is gone mid-stop: nothing more to save.
                if let Some(s) = recorded.stopping.as_mut() {
                    s.job_stopped = true;
                }
                self.record(&step, &recorded, StatusPatch::default())
                    .await?;
                Ok(StepResult::Continue)
            }
        }
    }

    async fn cancel(
        &self,
        step: Step<'_>,
        reason: StopReason,
        keep_checkpoint: bool,
    ) -> Result<(), Error> {
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(());
        };
        let mut recorded = step.recorded.clone();
        if let Some(cluster) = step.cluster {
            let client = cluster.client();
            if keep_checkpoint {
                if let Ok(stats) = client.checkpoints(&deployment.job_id).await {
                    if let Some(path) = stats.latest.completed.and_then(|c| c.external_path) {
                        recorded.restore_from = Some(path);
                    }
                }
                if recorded.restore_from.is_none() {
                    recorded.restore_from =
                        latest_checkpoint_on_disk(&self.checkpoint_dir(step.app));
                }
            } else if reason != StopReason::Upgrade
                || step.desired.upgrade_mode == UpgradeMode::Stateless
            {
                recorded.restore_from = recorded
                    .restore_from
                    .filter(|_| step.desired.upgrade_mode != UpgradeMode::Stateless);
            }
            let still_running = step
                .observed
                .job_state
                .as_deref()
                .map(|s| !plan::is_terminal(s))
                .unwrap_or(false);
            if still_running {
                if let Err(e) = client.cancel_job(&deployment.job_id).await {
                    if !e.is_not_found() {
                        return Err(Error::Unavailable(format!(
                            "cannot cancel job {}: {e}",
                            deployment.job_id
                        )));
                    }
                }
            }
        }
        recorded.stopping = Some(Stopping {
            reason,
            trigger_id: None,
            job_stopped: true,
        });
        let mut patch = StatusPatch::default();
        if reason == StopReason::Delete {
            patch = patch.set("lifecycleState", json!("DELETING"));
        }
        self.record(&step, &recorded, patch).await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::JobCancelled,
            &format!("Cancelled job {} ({reason:?})", deployment.job_id),
            None,
        )
        .await
    }

    async fn tear_down(&self, step: Step<'_>) -> Result<(), Error> {
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(());
        };
        if let (Ok(backend), false) = (&self.backend, deployment.session) {
            backend
                .stop(&deployment.cluster_id, Duration::from_secs(15))
                .await
                .map_err(|e| {
                    Error::Unavailable(format!(
                        "cannot stop cluster {}: {e}",
                        deployment.cluster_id
                    ))
                })?;
        }
        let reason = step.recorded.stopping.as_ref().map(|s| s.reason);
        let halted =
            step.recorded.halted_fingerprint.as_deref() == Some(deployment.fingerprint.as_str());
        let final_state = match reason {
            _ if halted => "FAILED",
            Some(StopReason::Suspend) => "SUSPENDED",
            _ => step.observed.job_state.as_deref().unwrap_or("CANCELED"),
        };
        let final_state = if final_state == "RUNNING" {
            "CANCELED"
        } else {
            final_state
        }
        .to_owned();
        self.update_instance(step.app, &deployment, &final_state)
            .await?;
        let mut recorded = step.recorded.clone();
        recorded.deployment = None;
        recorded.stopping = None;
        recorded.savepoint_trigger = None;
        let lifecycle = match reason {
            _ if halted => "FAILED",
            Some(StopReason::Suspend) => "SUSPENDED",
            Some(StopReason::Upgrade) => "UPGRADING",
            Some(StopReason::Delete) => "DELETING",
            _ => "SUSPENDED",
        };
        let job_status = job_status_with(
            step.app,
            json!({"state": final_state, "updateTime": Timestamp::now().to_string()}),
        );
        self.record(
            &step,
            &recorded,
            StatusPatch::default()
                .set("lifecycleState", json!(lifecycle))
                .set("jobStatus", job_status)
                .set("clusterInfo", Value::Null),
        )
        .await?;
        let dir = self.checkpoint_dir(step.app);
        self.core
            .remove_stale_checkpoints(&step.app.key, &dir)
            .await;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::ClusterStopped,
            &if deployment.session {
                format!("The job left session cluster {}", deployment.cluster_id)
            } else {
                format!("Flink cluster {} stopped", deployment.cluster_id)
            },
            None,
        )
        .await
    }

    async fn cluster_lost(&self, step: Step<'_>) -> Result<(), Error> {
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(());
        };
        if let (Ok(backend), false) = (&self.backend, deployment.session) {
            let _ = backend
                .stop(&deployment.cluster_id, Duration::from_secs(5))
                .await;
        }
        let mut recorded = step.recorded.clone();
        recorded.deployment = None;
        recorded.stopping = None;
        recorded.savepoint_trigger = None;
        recorded.silence = None;
        let keeps_state = step.desired.upgrade_mode != UpgradeMode::Stateless;
        let why = match &step.observed.cluster {
            Some(drey_model::Observation::Gone(why)) => why.clone(),
            _ => "its processes are gone".to_owned(),
        };
        let message = format!(
            "Flink cluster {} of job {} is lost: {why}",
            deployment.cluster_id, deployment.job_id
        );
        // Redeployed per upgradeMode, as the operator's JobManager deployment
        // recovery does: from the latest checkpoint, or without state.
        if keeps_state {
            recorded.restore_from = latest_checkpoint_on_disk(&self.checkpoint_dir(step.app))
                .or(recorded.restore_from)
                .or(deployment.restore_from.clone());
        } else {
            recorded.restore_from = None;
        }
        let lifecycle = "UPGRADING";
        self.update_instance(step.app, &deployment, "FAILED")
            .await?;
        let job_status = job_status_with(
            step.app,
            json!({"state": "FAILED", "updateTime": Timestamp::now().to_string()}),
        );
        self.record(
            &step,
            &recorded,
            StatusPatch::default()
                .set("lifecycleState", json!(lifecycle))
                .set("jobStatus", job_status)
                .set("error", json!(message)),
        )
        .await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::ClusterLost,
            &if keeps_state {
                format!("{message}; redeploying from the latest checkpoint")
            } else {
                format!("{message}; redeploying without state (upgradeMode stateless)")
            },
            Some(json!({"newStatus": "FAILED"})),
        )
        .await
    }

    /// The JobManager's processes live but it does not answer: report what
    /// was last seen and since when it is silent, touch nothing, look again.
    async fn unanswered(&self, step: Step<'_>) -> Result<StepResult, Error> {
        let Some(silence) = step.recorded.silence.clone() else {
            return Ok(StepResult::Done(PassOutcome::Wait(UNANSWERED_RETRY)));
        };
        // Written once when the silence starts, not on every look.
        if recorded_of(step.app).silence.is_none() {
            let message = format!(
                "JobManager not answering since {}: {}; the job is left as it is",
                silence.since, silence.reason
            );
            self.report_jobmanager(&step, false, &message, silence.since)
                .await?;
        }
        Ok(StepResult::Done(PassOutcome::Wait(UNANSWERED_RETRY)))
    }

    /// The JobManager answers again after a silence: say so.
    async fn answering_again(&self, step: Step<'_>) -> Result<(), Error> {
        let silence = recorded_of(step.app).silence;
        let now = Timestamp::now();
        let message = match &silence {
            Some(s) => format!(
                "JobManager answers again after {} s of silence",
                s.lasted(now).as_secs()
            ),
            None => "JobManager answers again".to_owned(),
        };
        self.report_jobmanager(&step, true, &message, now).await
    }

    /// Records whether the JobManager answers (condition, deployment status)
    /// and an event saying so.
    async fn report_jobmanager(
        &self,
        step: &Step<'_>,
        answering: bool,
        message: &str,
        since: Timestamp,
    ) -> Result<(), Error> {
        let (deployment_status, event) = if answering {
            ("READY", EventType::JobManagerAnswering)
        } else {
            ("DEPLOYED_NOT_READY", EventType::JobManagerNotAnswering)
        };
        self.record(
            step,
            &step.recorded,
            StatusPatch::default()
                .set("jobManagerDeploymentStatus", json!(deployment_status))
                .set(
                    "conditions",
                    json!([jobmanager_condition(answering, message, since)]),
                ),
        )
        .await?;
        let instance = step
            .recorded
            .deployment
            .as_ref()
            .map(|d| d.instance.clone());
        self.event(step.app, instance.as_deref(), event, message, None)
            .await
    }

    async fn trigger_savepoint(&self, step: Step<'_>) -> Result<(), Error> {
        let (Some(cluster), Some(deployment)) = (step.cluster, &step.recorded.deployment) else {
            return Ok(());
        };
        let trigger = cluster
            .client()
            .trigger_savepoint(
                &deployment.job_id,
                &SavepointRequest {
                    target_directory: Some(format!(
                        "file://{}",
                        self.savepoint_dir(step.app).display()
                    )),
                    cancel_job: Some(false),
                    ..SavepointRequest::default()
                },
            )
            .await
            .map_err(|e| Error::Unavailable(format!("cannot trigger a savepoint: {e}")))?;
        let mut recorded = step.recorded.clone();
        recorded.savepoint_trigger = Some(trigger.request_id);
        recorded.savepoint_resource = step.desired.pending_savepoint.clone();
        if let Some(name) = &recorded.savepoint_resource {
            self.set_savepoint(
                step.app,
                name,
                json!({"state": crate::savepoints::state::IN_PROGRESS}),
            )
            .await?;
        }
        self.record(&step, &recorded, StatusPatch::default())
            .await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::SavepointTriggered,
            "Savepoint triggered",
            None,
        )
        .await
    }

    async fn await_savepoint(&self, step: Step<'_>) -> Result<StepResult, Error> {
        let mut recorded = step.recorded.clone();
        match &step.observed.operation {
            Some(OperationObs::InProgress | OperationObs::Unknown(_)) => Ok(StepResult::Done(
                PassOutcome::Wait(Duration::from_millis(500)),
            )),
            Some(OperationObs::Completed(location)) => {
                recorded.savepoint_trigger = None;
                recorded.savepoint_nonce = step.desired.savepoint_nonce.clone();
                let resource = recorded.savepoint_resource.take();
                self.record(
                    &step,
                    &recorded,
                    StatusPatch::default().set(
                        "lastSavepoint",
                        json!({"location": location, "time": Timestamp::now().to_string()}),
                    ),
                )
                .await?;
                match resource {
                    Some(name) => {
                        self.set_savepoint(
                            step.app,
                            &name,
                            json!({"state": crate::savepoints::state::COMPLETED, "path": location,
                                   "resultTimestamp": Timestamp::now().to_string()}),
                        )
                        .await?
                    }
                    None => self.record_savepoint(step.app, location).await?,
                }
                let dir = self.savepoint_dir(step.app);
                self.core
                    .trim_savepoints(&step.app.key, &self.config.retention, &dir)
                    .await;
                self.event(
                    step.app,
                    None,
                    EventType::SavepointCompleted,
                    &format!("Savepoint completed at {location}"),
                    None,
                )
                .await?;
                Ok(StepResult::Continue)
            }
            other => {
                recorded.savepoint_trigger = None;
                recorded.savepoint_nonce = step.desired.savepoint_nonce.clone();
                let message = match other {
                    Some(OperationObs::Failed(cause)) => format!("savepoint failed: {cause}"),
                    _ => "savepoint lost with the cluster".to_owned(),
                };
                let mut retry = false;
                if let Some(name) = recorded.savepoint_resource.take() {
                    // Right after a (re)start Flink refuses savepoints until
                    // every task runs: that is worth a few more tries.
                    let attempts = self.savepoint_attempts(step.app, &name).await?;
                    let max = step.desired.max_savepoint_attempts.unwrap_or(6);
                    retry = transient_savepoint_failure(&message) && attempts + 1 < max;
                    let state = if retry {
                        crate::savepoints::state::PENDING
                    } else {
                        crate::savepoints::state::FAILED
                    };
                    self.set_savepoint(
                        step.app,
                        &name,
                        json!({"state": state, "error": message, "attempts": attempts + 1,
                               "resultTimestamp": Timestamp::now().to_string()}),
                    )
                    .await?;
                }
                self.record(
                    &step,
                    &recorded,
                    StatusPatch::default().set("error", json!(message)),
                )
                .await?;
                self.event(step.app, None, EventType::Error, &message, None)
                    .await?;
                if retry {
                    return Ok(StepResult::Done(PassOutcome::Wait(Duration::from_secs(1))));
                }
                Ok(StepResult::Continue)
            }
        }
    }

    /// How often the savepoint resource `name` was triggered and failed.
    async fn savepoint_attempts(&self, app: &Object, name: &str) -> Result<u64, Error> {
        let key = ObjectKey::in_app(
            &app.key.org,
            Kind::Savepoint,
            &app.key.scope,
            &app.key.name,
            name,
        );
        Ok(self
            .core
            .store()
            .get(&key)
            .await
            .map_err(store_error)?
            .and_then(|sp| sp.status.get("attempts").and_then(Value::as_u64))
            .unwrap_or(0))
    }

    /// Records a savepoint drey took (suspend, upgrade, nonce) as a
    /// COMPLETED savepoint resource of the application.
    async fn record_savepoint(&self, app: &Object, location: &str) -> Result<(), Error> {
        let name = format!(
            "savepoint-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let now = Timestamp::now().to_string();
        let mut write = Write::new(
            ObjectKey::in_app(
                &app.key.org,
                Kind::Savepoint,
                &app.key.scope,
                &app.key.name,
                &name,
            ),
            WriteMode::Create,
            json!({"path": location, "formatType": "CANONICAL"}),
        );
        write.status = Some(json!({
            "state": crate::savepoints::state::COMPLETED, "path": location,
            "triggerTimestamp": now, "resultTimestamp": now,
        }));
        self.core.store().write(write).await.map_err(store_error)?;
        self.trim(&app.key, Kind::Savepoint).await
    }

    /// Merges fields into a savepoint resource's status.
    async fn set_savepoint(&self, app: &Object, name: &str, fields: Value) -> Result<(), Error> {
        let key = ObjectKey::in_app(
            &app.key.org,
            Kind::Savepoint,
            &app.key.scope,
            &app.key.name,
            name,
        );
        let Some(current) = self.core.store().get(&key).await.map_err(store_error)? else {
            return Ok(());
        };
        let mut status = current.status.clone();
        drey_model::json::deep_merge(&mut status, &fields);
        self.core
            .store()
            .write_status(&key, None, status)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn finalize(&self, app: &Object) -> Result<(), Error> {
        let dirs = [self.savepoint_dir(app), self.checkpoint_dir(app)];
        self.core
            .remove_app_state(&app.key, &[&dirs[0], &dirs[1]])
            .await;
        let scope = app_scope(&app.key.scope, &app.key.name);
        let mut delete = Delete::new(app.key.clone());
        delete.cascade = vec![
            (Kind::Instance, scope.clone()),
            (Kind::Event, scope.clone()),
            (Kind::Savepoint, scope),
        ];
        self.core
            .store()
            .delete(delete)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

/// How soon a silent JobManager is looked at again.
const UNANSWERED_RETRY: Duration = Duration::from_secs(2);

/// The Kubernetes-style condition (as the operator's FlinkDeployment status
/// has) that says whether the JobManager answers.
fn jobmanager_condition(answering: bool, message: &str, since: Timestamp) -> Value {
    json!({
        "type": "JobManagerReady",
        "status": if answering { "True" } else { "False" },
        "reason": if answering { "Answering" } else { "NotAnswering" },
        "message": message,
        "lastTransitionTime": since.to_string(),
    })
}

/// `spec.flinkConfiguration` as strings: a session job's own configuration.
fn job_configuration(effective: &Value) -> std::collections::BTreeMap<String, String> {
    effective
        .get("flinkConfiguration")
        .and_then(Value::as_object)
        .map(|conf| {
            conf.iter()
                .map(|(k, v)| {
                    let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The application's `status.jobStatus` with `fields` set over it.
fn job_status_with(app: &Object, fields: Value) -> Value {
    let mut job_status = app
        .status
        .get("jobStatus")
        .cloned()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    drey_model::json::deep_merge(&mut job_status, &fields);
    job_status
}

/// The root cause of a Java stack trace: its last `Caused by:` line, else
/// its first line (Flink wraps user exceptions in `JobException`s).
/// Flink refused a savepoint only because the job's tasks are not all
/// running yet (just deployed or restarting).
pub(crate) fn transient_savepoint_failure(message: &str) -> bool {
    message.contains("Not all required tasks are currently running")
        || message.contains("is not being executed at the moment")
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

/// `local://` and `file://` jars must live under one of the allowed dirs.
fn check_jar_path(path: &Path, allowed: &[PathBuf]) -> Result<(), Error> {
    let canonical = path.canonicalize().map_err(|_| {
        Error::invalid(
            "spec.job.jarURI",
            format!("{} does not exist", path.display()),
        )
    })?;
    let ok = allowed.iter().any(|dir| {
        dir.canonicalize()
            .map(|d| canonical.starts_with(d))
            .unwrap_or(false)
    });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "spec.job.jarURI",
            format!(
                "{} is outside the allowed jar directories ({}); see --jar-dir",
                path.display(),
                allowed
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

/// `path`, unless it is one of the application's checkpoints that is gone
/// from disk: then the newest retained checkpoint, if there is one.
fn usable_restore_point(path: String, checkpoint_dir: &Path) -> String {
    let local = path
        .strip_prefix("file://")
        .or_else(|| path.strip_prefix("file:"))
        .map(PathBuf::from);
    match local {
        Some(dir) if dir.starts_with(checkpoint_dir) && !dir.join("_metadata").is_file() => {
            latest_checkpoint_on_disk(checkpoint_dir).unwrap_or(path)
        }
        _ => path,
    }
}

/// The newest retained checkpoint (`<job>/chk-N` with `_metadata`) under a
/// dir, by the time its metadata was written (checkpoint numbers restart per job).
fn latest_checkpoint_on_disk(dir: &Path) -> Option<String> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for job in std::fs::read_dir(dir).ok()?.flatten() {
        for chk in std::fs::read_dir(job.path())
            .ok()
            .into_iter()
            .flatten()
            .flatten()
        {
            if !chk.file_name().to_string_lossy().starts_with("chk-") {
                continue;
            }
            let Ok(written) = chk
                .path()
                .join("_metadata")
                .metadata()
                .and_then(|m| m.modified())
            else {
                continue;
            };
            if best.as_ref().map(|(t, _)| written > *t).unwrap_or(true) {
                best = Some((written, chk.path()));
            }
        }
    }
    best.map(|(_, p)| format!("file://{}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subsumed_checkpoint_gives_way_to_the_newest_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("job");
        std::fs::create_dir_all(job.join("chk-7")).unwrap();
        std::fs::write(job.join("chk-7").join("_metadata"), b"x").unwrap();
        let gone = format!("file:{}", job.join("chk-6").display());
        assert_eq!(
            usable_restore_point(gone, dir.path()),
            format!("file://{}", job.join("chk-7").display())
        );
        let savepoint = "file:/elsewhere/savepoint-1".to_owned();
        assert_eq!(
            usable_restore_point(savepoint.clone(), dir.path()),
            savepoint
        );
        let kept = format!("file://{}", job.join("chk-7").display());
        assert_eq!(usable_restore_point(kept.clone(), dir.path()), kept);
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

    #[test]
    fn jar_paths_outside_the_allowed_dirs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("job.jar");
        std::fs::write(&jar, b"x").unwrap();
        check_jar_path(&jar, &[dir.path().to_owned()]).unwrap();
        let other = tempfile::tempdir().unwrap();
        let err = check_jar_path(&jar, &[other.path().to_owned()]).unwrap_err();
        assert!(err.to_string().contains("outside the allowed"));
        // `..` cannot escape an allowed dir.
        let sneaky = dir
            .path()
            .join("..")
            .join(other.path().file_name().unwrap());
        assert!(check_jar_path(&sneaky, &[dir.path().to_owned()]).is_err());
    }
}
