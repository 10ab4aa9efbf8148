//! The statement reconciler. A statement that only touches the catalog or
//! reads metadata completes when it is created ([`prepare`]); a query or an
//! `INSERT` runs as a Flink job on its compute pool: the pool's session
//! cluster (SHARED) or a cluster of its own (DEDICATED). Every step is
//! recorded in `status.reconciler` before the next, and a job's id is fixed
//! before it is submitted, so a crash at any point never runs a job twice.

mod plan;
mod prepare;
mod savepoints;

pub use plan::{
    plan, record_of, Action, Desired, JobObs, Observed, PoolObs, Run, StatementRecord, StopObs,
    Stopping,
};
pub use prepare::{cmf_rows, prepare};

use super::controller::Reconcile;
use super::pools::cluster_spec_of;
use super::{job_state_text, root_cause, Backend, PassOutcome, ReconcilerConfig};
use crate::sql_engine::{RunError, Session, SqlEngine};
use crate::{store_error, Core};
use drey_flink::{OperationHandle, OperationStatus, QueueStatusId, SessionHandle, StopRequest};
use drey_model::application::effective_spec;
use drey_model::compute_pool_spec::{PoolSpec, PoolStatus, PoolType};
use drey_model::loose::{to_json, typed, view};
use drey_model::object::statement_scope;
use drey_model::statement_spec::{StatementException, StatementStatus};
use drey_model::{Error, Kind, Object, ObjectKey, Observation, Timestamp};
use drey_store::Delete;
use prepare::statement_properties;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Statement phases, as CMF spells them.
pub mod phase {
    /// Accepted, not running yet.
    pub const PENDING: &str = "PENDING";
    /// Its job runs.
    pub const RUNNING: &str = "RUNNING";
    /// Done: a bounded job finished, or a DDL / metadata statement ran.
    pub const COMPLETED: &str = "COMPLETED";
    /// Its job is failing and restarting.
    pub const FAILING: &str = "FAILING";
    /// The SQL was refused, or its job failed.
    pub const FAILED: &str = "FAILED";
    /// `spec.stopped`: its job was stopped (with a savepoint for a detached job).
    pub const STOPPED: &str = "STOPPED";
    /// Being deleted: its job is being cancelled.
    pub const DELETING: &str = "DELETING";
}

/// A statement's status as the reconciler reads and writes it.
type Status = StatementStatus<StatementRecord>;

fn phase_of(statement: &Object) -> String {
    view::<Status>(&statement.status)
        .phase
        .unwrap_or_else(|| phase::PENDING.into())
}

/// Whether a statement may still submit a job (and so load the jars its SQL
/// names): not COMPLETED, FAILED or being deleted.
pub(crate) fn may_run_again(statement: &Object) -> bool {
    !matches!(
        phase_of(statement).as_str(),
        phase::COMPLETED | phase::FAILED | phase::DELETING
    )
}

/// Reconciles statements.
pub struct StatementReconciler {
    core: Core,
    engine: Arc<SqlEngine>,
    backend: Backend,
    config: ReconcilerConfig,
    sweep: super::sweep::OrphanSweep,
}

/// Prefix of a DEDICATED statement cluster's id; the rest is the statement's uid.
const CLUSTER_PREFIX: &str = "stmt-";

/// The conflict a step meets when the statement changed since it was read.
const STALE: &str = "the statement changed while it was being reconciled";

impl StatementReconciler {
    /// A reconciler running statements on `engine` and clusters of `backend`.
    pub fn new(
        core: Core,
        engine: Arc<SqlEngine>,
        backend: Backend,
        config: ReconcilerConfig,
    ) -> Self {
        StatementReconciler {
            sweep: super::sweep::OrphanSweep::new(CLUSTER_PREFIX, config.orphan_grace),
            core,
            engine,
            backend,
            config,
        }
    }

    async fn pass(&self, key: &ObjectKey) -> Result<PassOutcome, Error> {
        for _ in 0..8 {
            let Some(statement) = self.core.store().get(key).await.map_err(store_error)? else {
                return Ok(PassOutcome::Gone);
            };
            let mut record = record_of(&statement);
            let desired = Desired {
                deleting: phase_of(&statement) == phase::DELETING
                    || crate::applications::deletion_requested(&statement),
                stopped: statement.spec.get("stopped").and_then(Value::as_bool) == Some(true),
                parallelism: statement.spec.get("parallelism").and_then(Value::as_u64),
            };
            let mut observed = self.observe(&statement, &record).await?;
            let was_silent = record.silence.is_some();
            if let Some(job) = observed.job.take() {
                let (silence, job) = drey_model::observation::fold_silence(
                    job,
                    record.silence.as_ref(),
                    Timestamp::now(),
                    self.config.hung_after,
                );
                record.silence = silence;
                observed.job = Some(job);
            } else {
                record.silence = None;
            }
            if was_silent && record.silence.is_none() {
                let detail = "The JobManager answers again.";
                match self
                    .set(&statement, &record, &phase_of(&statement), detail, None)
                    .await
                {
                    Ok(_) | Err(Error::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            let action = plan(&desired, &record, &phase_of(&statement), &observed);
            tracing::debug!(statement = %key.name, ?action, "statement step");
            let step = self.execute(&statement, record, action).await;
            match step {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) => continue,
                Err(Error::Conflict(reason)) if reason == STALE => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(PassOutcome::Wait(Duration::from_millis(200)))
    }

    async fn observe(
        &self,
        statement: &Object,
        record: &StatementRecord,
    ) -> Result<Observed, Error> {
        let pool = self.pool_of(statement).await?;
        let run = record.run.as_ref().filter(|r| !r.finished);
        let (job, stop) = match run {
            None => (None, None),
            Some(run) => {
                let client = super::observer_client_for(&self.core, &run.rest_url).await?;
                let job = match client.job_status(&run.job_id).await {
                    Ok(info) => JobObs::Seen(Some(job_state_text(&info.status))),
                    Err(e) if e.is_not_found() => JobObs::Seen(None),
                    // No answer: the processes say whether the cluster is gone.
                    Err(e) => match self.run_cluster(statement, run).await {
                        Some(id) => match super::cluster_processes(&self.backend, &id).await {
                            Observation::Gone(why) => JobObs::Gone(why),
                            _ => JobObs::Unknown(format!("job status of {}: {e}", run.job_id)),
                        },
                        None => JobObs::Unknown(format!("job status of {}: {e}", run.job_id)),
                    },
                };
                let stop = match record.stopping.as_ref().and_then(|s| s.trigger_id.as_ref()) {
                    None => None,
                    Some(trigger) => {
                        Some(match client.savepoint_status(&run.job_id, trigger).await {
                            Ok(op) if op.status.id == QueueStatusId::InProgress => {
                                StopObs::InProgress
                            }
                            Ok(op) => match op.operation {
                                Some(info) => match (info.location, info.failure_cause) {
                                    (Some(location), _) => StopObs::Completed(location),
                                    (None, Some(cause)) => StopObs::Failed(cause.summary()),
                                    (None, None) => {
                                        StopObs::Failed("the savepoint has no location".into())
                                    }
                                },
                                None => {
                                    StopObs::Failed("the stop finished without a result".into())
                                }
                            },
                            Err(e) if e.is_not_found() => StopObs::Failed(e.to_string()),
                            Err(e) => StopObs::Unknown(e.to_string()),
                        })
                    }
                };
                (Some(job), stop)
            }
        };
        Ok(Observed { pool, job, stop })
    }

    /// The local cluster a run's job lives on: its own, or its pool's;
    /// `None` when its pool is a registered cluster, whose processes drey
    /// cannot see (a job there is never *gone* for want of them).
    async fn run_cluster(&self, statement: &Object, run: &Run) -> Option<String> {
        if let Some(id) = &run.cluster_id {
            return Some(id.clone());
        }
        let pool = self.pool_object(statement).await.ok()??;
        match super::pools::existing_cluster_of(&pool) {
            Some(_) => None,
            None => Some(super::pools::pool_cluster_id(&pool)),
        }
    }

    async fn pool_object(&self, statement: &Object) -> Result<Option<Object>, Error> {
        let name = statement
            .spec
            .get("computePoolName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let key = ObjectKey::in_env(
            &statement.key.org,
            Kind::ComputePool,
            &statement.key.scope,
            name,
        );
        self.core.store().get(&key).await.map_err(store_error)
    }

    /// Where a statement's savepoints go: under the registered cluster's
    /// savepoint dir when its pool is one (`None`: the cluster's own
    /// `state.savepoints.dir`), else in the data dir.
    pub(super) async fn savepoint_target(
        &self,
        statement: &Object,
    ) -> Result<Option<String>, Error> {
        let existing = self
            .pool_object(statement)
            .await?
            .as_ref()
            .and_then(super::pools::existing_cluster_of);
        let Some(id) = existing else {
            let dir = self.savepoint_dir(statement);
            return Ok(Some(format!("file://{}", dir.display())));
        };
        let placement = super::backends::Placement::Existing(id);
        let backend = super::backends::Backends::new(self.backend.clone())
            .of(&self.core, &statement.key.org, &placement)
            .await
            .map_err(Error::Unavailable)?;
        let uid = statement.meta.uid.simple().to_string();
        Ok(backend
            .state_locations(&super::state_owner(&statement.key, &uid))
            .savepoints)
    }

    async fn pool_of(&self, statement: &Object) -> Result<PoolObs, Error> {
        let name = statement
            .spec
            .get("computePoolName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(pool) = self.pool_object(statement).await? else {
            return Ok(PoolObs::NotReady(format!(
                "Compute pool '{name}' does not exist."
            )));
        };
        if typed(&view::<PoolSpec>(&pool.spec).pool_type) == Some(&PoolType::Dedicated) {
            return Ok(PoolObs::Dedicated);
        }
        let observed: PoolStatus = view(&pool.status);
        match observed.rest_url() {
            Some(url) if observed.phase() == Some(super::pools::phase::RUNNING) => {
                Ok(PoolObs::Ready(url.to_owned()))
            }
            _ => Ok(PoolObs::NotReady(format!(
                "Waiting for compute pool '{name}' to be RUNNING (it is {}).",
                observed.phase().unwrap_or(super::pools::phase::PENDING)
            ))),
        }
    }

    /// Carries out one step; `Ok(None)` to plan again at once.
    async fn execute(
        &self,
        statement: &Object,
        mut record: StatementRecord,
        action: Action,
    ) -> Result<Option<PassOutcome>, Error> {
        match action {
            Action::Nothing => {
                self.capture_schema(statement, &record).await;
                self.keep_alive(statement, &record).await;
                self.savepoints(statement, &record).await
            }
            Action::Wait => Ok(Some(PassOutcome::Wait(Duration::from_millis(500)))),
            Action::Unanswered => {
                // Said once when the silence starts; nothing else is touched.
                if let (Some(silence), None) = (&record.silence, record_of(statement).silence) {
                    let detail = format!(
                        "The JobManager has not answered since {}: {}. The job is left as it is.",
                        silence.since, silence.reason
                    );
                    self.set(statement, &record, &phase_of(statement), &detail, None)
                        .await?;
                }
                Ok(Some(PassOutcome::Wait(Duration::from_secs(2))))
            }
            Action::Prepare => match prepare(&self.core, &self.engine, statement).await {
                Ok(_) => Ok(None),
                Err(Error::Conflict(_)) => Ok(None),
                Err(e) => {
                    self.set(statement, &record, phase::PENDING, &e.to_string(), None)
                        .await?;
                    Err(e)
                }
            },
            Action::SetPhase(phase, detail) => {
                self.set(statement, &record, phase, &detail, None).await?;
                Ok(None)
            }
            Action::StartCluster => self.start_cluster(statement, record).await,
            Action::Submit(url) => self.submit(statement, record, url).await,
            Action::MarkSubmitted => {
                if let Some(run) = record.run.as_mut() {
                    run.submitted = true;
                }
                self.set(statement, &record, phase::RUNNING, "The job runs.", None)
                    .await?;
                Ok(None)
            }
            Action::Finish(phase, detail) => self.finish(statement, record, phase, detail).await,
            Action::Stop { reason, savepoint } => {
                self.stop(statement, record, reason, savepoint).await
            }
            Action::StopDone(path) => self.stop_done(statement, record, path).await,
            Action::StopFailed(why) if super::transient_savepoint_failure(&why) => {
                // The job's tasks are not all running yet: try again shortly.
                record.stopping = None;
                let detail = "Waiting for every task to run before stopping.";
                self.set(statement, &record, &phase_of(statement), detail, None)
                    .await?;
                Ok(Some(PassOutcome::Wait(Duration::from_secs(1))))
            }
            Action::StopFailed(why) => {
                record.stopping = None;
                let detail = format!("Stopping the job failed: {why}");
                let exceptions = exceptions_with(statement, &detail);
                self.set(
                    statement,
                    &record,
                    &phase_of(statement),
                    &detail,
                    Some(exceptions),
                )
                .await?;
                Ok(Some(PassOutcome::Settled))
            }
            Action::Cleanup => self.cleanup(statement, &record).await,
        }
    }

    /// Writes the phase, detail, record and (when given) the exceptions
    /// over the status that was read, only if nothing was written since:
    /// the status has a second writer (whoever reads a query's results
    /// records its schema), whose write must not be overwritten. A conflict
    /// makes the pass plan again from what is stored.
    async fn set(
        &self,
        statement: &Object,
        record: &StatementRecord,
        phase: &str,
        detail: &str,
        exceptions: Option<Vec<StatementException>>,
    ) -> Result<Object, Error> {
        let mut status: Status = view(&statement.status);
        status.phase = Some(phase.to_owned());
        status.detail = Some(detail.to_owned());
        // The Flink job of the current (or last) run, for users to find it.
        if let Some(run) = &record.run {
            status.job_id = Some(run.job_id.clone());
        }
        status.reconciler = Some(record.clone());
        // What this pass acted on (Kubernetes' status.observedGeneration).
        status.observed_generation = Some(statement.meta.generation);
        if let Some(exceptions) = exceptions {
            status.exceptions = Some(exceptions);
        }
        self.core
            .store()
            .replace_status(
                &statement.key,
                statement.meta.resource_version,
                to_json(&status),
            )
            .await
            .map_err(|e| match e {
                drey_store::StoreError::VersionConflict { .. } => Error::Conflict(STALE.into()),
                e => store_error(e),
            })
    }

    async fn start_cluster(
        &self,
        statement: &Object,
        mut record: StatementRecord,
    ) -> Result<Option<PassOutcome>, Error> {
        if let Err(why) = &self.backend {
            self.set(statement, &record, phase::FAILED, why, None)
                .await?;
            return Ok(Some(PassOutcome::Settled));
        }
        let name = statement.spec["computePoolName"]
            .as_str()
            .unwrap_or_default();
        let pool = self
            .core
            .get(&ObjectKey::in_env(
                &statement.key.org,
                Kind::ComputePool,
                &statement.key.scope,
                name,
            ))
            .await?;
        let env = self.core.environment_of(&statement.key).await?;
        let effective = effective_spec(
            &pool.spec,
            env.as_ref().and_then(|e| e.spec.get("computePoolDefaults")),
        );
        let id = format!("{CLUSTER_PREFIX}{}", statement.meta.uid.simple());
        let mut spec = self
            .config
            .cluster_spec(id.clone(), &cluster_spec_of(&effective));
        spec.state_dirs = self
            .config
            .session_state_dirs(&statement.key.org, &statement.key.scope);
        spec.owner = Some(super::owner_of(&statement.key));
        use super::cluster_start::{start_step, StartStep, START_POLL};
        let step = start_step(
            &self.backend,
            &spec,
            record.cluster_launched,
            self.config.cluster_start_timeout,
        )
        .await?;
        match step {
            StartStep::Launched => {
                record.cluster_launched = true;
                let detail = format!("Starting Flink cluster {id} on compute pool '{name}'.");
                self.set(statement, &record, phase::PENDING, &detail, None)
                    .await?;
                Ok(Some(PassOutcome::Wait(START_POLL)))
            }
            StartStep::Waiting => Ok(Some(PassOutcome::Wait(START_POLL))),
            StartStep::Held(why) => {
                record.cluster_launched = false;
                self.set(statement, &record, phase::PENDING, &why, None)
                    .await?;
                Ok(Some(PassOutcome::Wait(
                    super::cluster_start::ADMISSION_POLL,
                )))
            }
            StartStep::Ready(cluster) => {
                record.cluster_launched = false;
                record.run = None;
                self.submit_to(statement, &mut record, cluster.rest_url(), Some(id))
                    .await
            }
            StartStep::Failed(why) => {
                record.cluster_launched = false;
                record.run = None;
                self.set(statement, &record, phase::PENDING, &why, None)
                    .await?;
                Err(Error::Unavailable(why))
            }
        }
    }

    async fn submit(
        &self,
        statement: &Object,
        mut record: StatementRecord,
        url: String,
    ) -> Result<Option<PassOutcome>, Error> {
        let cluster_id = record.run.as_ref().and_then(|r| r.cluster_id.clone());
        self.submit_to(statement, &mut record, url, cluster_id)
            .await
    }

    /// Records the run (with its job id) first, then submits through a
    /// gateway session pointed at the cluster.
    async fn submit_to(
        &self,
        statement: &Object,
        record: &mut StatementRecord,
        url: String,
        cluster_id: Option<String>,
    ) -> Result<Option<PassOutcome>, Error> {
        let parallelism = statement.spec.get("parallelism").and_then(Value::as_u64);
        let run = match record.run.take() {
            // A retried submit keeps the job id: Flink refuses a duplicate.
            Some(run) if !run.submitted && !run.finished => run,
            _ => {
                record.runs += 1;
                Run {
                    job_id: job_id(statement, record.runs),
                    rest_url: url.clone(),
                    cluster_id,
                    parallelism,
                    ..Run::default()
                }
            }
        };
        record.run = Some(run.clone());
        let statement = self
            .set(
                statement,
                record,
                phase::PENDING,
                &format!("Submitting job {} to {url}.", run.job_id),
                None,
            )
            .await?;
        let existing = self
            .pool_object(&statement)
            .await?
            .as_ref()
            .and_then(super::pools::existing_cluster_of);
        if let Some(id) = existing {
            if let Some(why) = self
                .core
                .statements_refused_on(&statement.key.org, &id)
                .await?
            {
                return self.refused(&statement, record, &why).await;
            }
        }
        let interactive = record.execution == "query";
        let mut props = statement_properties(&self.core, &statement, interactive).await?;
        props.extend(
            self.engine
                .remote_target(
                    &self.core,
                    &statement.key.org,
                    &statement.key.scope,
                    &run.rest_url,
                )
                .await?,
        );
        props.insert("$internal.pipeline.job-id".into(), run.job_id.clone());
        props
            .entry("pipeline.name".into())
            .or_insert_with(|| statement.meta.name.clone());
        if let Some(p) = parallelism {
            props.insert("parallelism.default".into(), p.to_string());
        }
        let restore = match &record.savepoint {
            Some(path) => Some(path.clone()),
            None => match self.start_from_savepoint(&statement).await {
                Ok(path) => path,
                Err(e) => return self.refused(&statement, record, &e.to_string()).await,
            },
        };
        if let (Some(path), false) = (&restore, interactive) {
            props.insert("execution.state-recovery.path".into(), path.clone());
            let allow = statement
                .spec
                .pointer("/startFromSavepoint/allowNonRestoredState")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            props.insert(
                "execution.state-recovery.ignore-unclaimed-state".into(),
                allow.to_string(),
            );
        }
        let sql = statement.spec["statement"].as_str().unwrap_or_default();
        let (org, env) = (statement.key.org.as_str(), statement.key.scope.as_str());
        let session = match self
            .engine
            .open(&self.core, org, env, &statement.meta.name, &props)
            .await
        {
            Ok(s) => s,
            Err(RunError::Sql(message)) => return self.refused(&statement, record, &message).await,
            Err(RunError::Engine(e)) => return Err(e),
        };
        let op = match session.execute(sql, &BTreeMap::new()).await {
            Ok(op) => op,
            Err(RunError::Sql(message)) => {
                session.close().await;
                return self.refused(&statement, record, &message).await;
            }
            Err(RunError::Engine(e)) => return Err(e),
        };
        match self
            .await_submission(&session, &op, &run, interactive)
            .await
        {
            Ok(()) => {}
            Err(RunError::Sql(message)) => {
                session.close().await;
                return self.refused(&statement, record, &message).await;
            }
            Err(RunError::Engine(e)) => return Err(e),
        }
        if let Some(r) = record.run.as_mut() {
            r.submitted = true;
            if interactive {
                r.session = Some(session.handle.0.clone());
                r.operation = Some(op.0.clone());
            }
        }
        if !interactive {
            session.close().await;
        }
        let detail = format!("Job {} runs on {}.", run.job_id, run.rest_url);
        self.set(&statement, record, phase::RUNNING, &detail, None)
            .await?;
        Ok(None)
    }

    /// Waits until the job is on the cluster and, for a detached job, the
    /// operation has finished (closing its session earlier would withdraw
    /// the submission); or until the operation failed.
    async fn await_submission(
        &self,
        session: &Session,
        op: &OperationHandle,
        run: &Run,
        interactive: bool,
    ) -> Result<(), RunError> {
        let client = self
            .core
            .flink_client(&run.rest_url, Default::default())
            .await
            .map_err(RunError::Engine)?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let status = session
                .client
                .operation_status(&session.handle, op)
                .await
                .map_err(crate::sql_engine::run_error)?;
            match status {
                OperationStatus::Error => {
                    // The failure's message comes with the result fetch.
                    return match session.client.fetch_results(&session.handle, op, 0).await {
                        Err(e) => Err(crate::sql_engine::run_error(e)),
                        Ok(_) => Err(RunError::Sql("the statement failed".into())),
                    };
                }
                OperationStatus::Canceled | OperationStatus::Closed | OperationStatus::Timeout => {
                    return Err(RunError::Sql(format!(
                        "the statement's operation is {status:?}"
                    )));
                }
                OperationStatus::Finished => return Ok(()),
                _ => {}
            }
            if interactive && client.job_status(&run.job_id).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(RunError::Engine(Error::Unavailable(format!(
                    "job {} did not appear on {} within 120 s",
                    run.job_id, run.rest_url
                ))));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The engine refused the SQL at submission.
    async fn refused(
        &self,
        statement: &Object,
        record: &mut StatementRecord,
        message: &str,
    ) -> Result<Option<PassOutcome>, Error> {
        if let Some(run) = record.run.as_mut() {
            run.finished = true;
        }
        let exceptions = exceptions_with(statement, message);
        self.set(statement, record, phase::FAILED, message, Some(exceptions))
            .await?;
        self.release(statement, record).await;
        Ok(Some(PassOutcome::Settled))
    }

    async fn finish(
        &self,
        statement: &Object,
        mut record: StatementRecord,
        phase: &'static str,
        detail: String,
    ) -> Result<Option<PassOutcome>, Error> {
        let mut exceptions = None;
        let mut detail = detail;
        if phase == phase::FAILED {
            if let Some(run) = &record.run {
                if let Ok(client) = self
                    .core
                    .flink_client(&run.rest_url, Default::default())
                    .await
                {
                    // Flink files a failure in the job's exception history a
                    // moment after the job is FAILED.
                    let mut history = client.job_exceptions(&run.job_id).await;
                    for _ in 0..10 {
                        match &history {
                            Ok(ex) if ex.exception_history.entries.is_empty() => {
                                tokio::time::sleep(Duration::from_millis(300)).await;
                                history = client.job_exceptions(&run.job_id).await;
                            }
                            _ => break,
                        }
                    }
                    if let Ok(ex) = history {
                        let list: Vec<StatementException> = ex
                            .exception_history
                            .entries
                            .iter()
                            .take(10)
                            .map(|e| StatementException {
                                name: e.exception_name.clone(),
                                message: root_cause(&e.stacktrace),
                                timestamp: Timestamp::from_millis(e.timestamp)
                                    .unwrap_or_else(Timestamp::now),
                            })
                            .collect();
                        if let Some(first) = list.first() {
                            detail = format!("{detail} {}", first.message);
                        }
                        exceptions = Some(list);
                    }
                }
            }
            if exceptions.is_none() {
                exceptions = Some(exceptions_with(statement, &detail));
            }
        }
        if let Some(run) = record.run.as_mut() {
            run.finished = true;
        }
        self.set(statement, &record, phase, &detail, exceptions)
            .await?;
        // A finished query keeps its session (and cluster): its results stay
        // readable until the statement is deleted.
        if record.execution != "query" {
            self.release(statement, &record).await;
        }
        Ok(Some(PassOutcome::Settled))
    }

    async fn stop(
        &self,
        statement: &Object,
        mut record: StatementRecord,
        reason: &'static str,
        savepoint: bool,
    ) -> Result<Option<PassOutcome>, Error> {
        let Some(run) = record.run.clone() else {
            return Ok(None);
        };
        let client = self
            .core
            .flink_client(&run.rest_url, Default::default())
            .await?;
        let trigger_id = if savepoint {
            let request = StopRequest {
                target_directory: self.savepoint_target(statement).await?,
                drain: Some(false),
                format_type: None,
                trigger_id: None,
            };
            let trigger = client
                .stop_with_savepoint(&run.job_id, &request)
                .await
                .map_err(|e| Error::Unavailable(e.to_string()))?;
            Some(trigger.request_id)
        } else {
            if let Err(e) = client.cancel_job(&run.job_id).await {
                if !e.is_not_found() {
                    return Err(Error::Unavailable(e.to_string()));
                }
            }
            None
        };
        record.stopping = Some(Stopping {
            reason: reason.into(),
            trigger_id,
        });
        let (phase, detail) = match reason {
            "delete" => (
                phase::DELETING.to_owned(),
                format!("Cancelling job {}.", run.job_id),
            ),
            "rescale" => (
                phase_of(statement),
                format!("Rescaling job {} through a savepoint.", run.job_id),
            ),
            _ => (phase_of(statement), format!("Stopping job {}.", run.job_id)),
        };
        self.set(statement, &record, &phase, &detail, None).await?;
        Ok(Some(PassOutcome::Wait(Duration::from_millis(500))))
    }

    async fn stop_done(
        &self,
        statement: &Object,
        mut record: StatementRecord,
        savepoint: Option<String>,
    ) -> Result<Option<PassOutcome>, Error> {
        let reason = record.stopping.take().map(|s| s.reason).unwrap_or_default();
        if let Some(path) = &savepoint {
            record.savepoint = Some(path.clone());
            self.record_savepoint(statement, path).await?;
        }
        let finished_run = record.run.take();
        let released = StatementRecord {
            run: finished_run.clone(),
            ..StatementRecord::default()
        };
        match reason.as_str() {
            "delete" => {
                record.run = finished_run.map(|r| Run {
                    finished: true,
                    ..r
                });
                self.set(
                    statement,
                    &record,
                    phase::DELETING,
                    "The job was cancelled.",
                    None,
                )
                .await?;
                Ok(None)
            }
            "rescale" => {
                // The same cluster takes the new run.
                let url = finished_run
                    .as_ref()
                    .map(|r| r.rest_url.clone())
                    .unwrap_or_default();
                let cluster_id = finished_run.as_ref().and_then(|r| r.cluster_id.clone());
                let detail = format!(
                    "Stopped with savepoint {} to rescale.",
                    savepoint.as_deref().unwrap_or("-")
                );
                let statement = self
                    .set(statement, &record, phase::PENDING, &detail, None)
                    .await?;
                self.submit_to(&statement, &mut record, url, cluster_id)
                    .await
            }
            _ => {
                let detail = match &savepoint {
                    Some(path) => format!("The statement was stopped with savepoint {path}."),
                    None => "The statement was stopped.".to_owned(),
                };
                self.set(statement, &record, phase::STOPPED, &detail, None)
                    .await?;
                self.release(statement, &released).await;
                Ok(Some(PassOutcome::Settled))
            }
        }
    }

    /// Cancels nothing; closes the run's session and stops its own cluster.
    async fn release(&self, statement: &Object, record: &StatementRecord) {
        let Some(run) = &record.run else { return };
        let (org, env) = (&statement.key.org, &statement.key.scope);
        if let (Some(session), Ok(client)) =
            (&run.session, self.engine.client(&self.core, org, env).await)
        {
            let _ = client.close_session(&SessionHandle(session.clone())).await;
        }
        if let (Some(id), Ok(backend)) = (&run.cluster_id, &self.backend) {
            if let Err(e) = backend.stop(id, Duration::from_secs(10)).await {
                tracing::warn!(cluster = %id, error = %e, "cannot stop statement cluster");
            }
        }
    }

    async fn cleanup(
        &self,
        statement: &Object,
        record: &StatementRecord,
    ) -> Result<Option<PassOutcome>, Error> {
        self.release(statement, record).await;
        let mut delete = Delete::new(statement.key.clone());
        delete.expected_version = Some(statement.meta.resource_version);
        delete.cascade = vec![(
            Kind::Savepoint,
            statement_scope(&statement.key.scope, &statement.meta.name),
        )];
        match self.core.store().delete(delete).await {
            Ok(_) => Ok(Some(PassOutcome::Gone)),
            Err(drey_store::StoreError::VersionConflict { .. }) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Keeps a query's session (and with it its results) alive.
    async fn keep_alive(&self, statement: &Object, record: &StatementRecord) {
        let Some(session) = record.run.as_ref().and_then(|r| r.session.clone()) else {
            return;
        };
        let (org, env) = (&statement.key.org, &statement.key.scope);
        if let Ok(client) = self.engine.client(&self.core, org, env).await {
            let _ = client.heartbeat(&SessionHandle(session)).await;
        }
    }

    /// Records a query's result schema once the engine knows it.
    async fn capture_schema(&self, statement: &Object, record: &StatementRecord) {
        let status: Status = view(&statement.status);
        if status.traits.is_some_and(|t| t.schema.is_some()) {
            return;
        }
        let Some(run) = &record.run else { return };
        let (Some(session), Some(op)) = (&run.session, &run.operation) else {
            return;
        };
        let Ok(page) = self
            .engine
            .fetch(
                &self.core,
                (&statement.key.org, &statement.key.scope),
                &SessionHandle(session.clone()),
                &OperationHandle(op.clone()),
                0,
            )
            .await
        else {
            return;
        };
        if page.columns.is_empty() {
            return;
        }
        let _ = self
            .core
            .record_statement_schema(statement, &page.columns)
            .await;
    }
}

impl Reconcile for StatementReconciler {
    const KIND: Kind = Kind::Statement;

    fn core(&self) -> &Core {
        &self.core
    }

    async fn reconcile(&self, key: &ObjectKey) -> Result<PassOutcome, Error> {
        self.pass(key).await
    }

    /// Says so in the statement's detail; the controller retries.
    async fn panicked(&self, key: &ObjectKey, message: &str) {
        if let Ok(Some(statement)) = self.core.store().get(key).await {
            let record = record_of(&statement);
            let phase = phase_of(&statement);
            if let Err(e) = self.set(&statement, &record, &phase, message, None).await {
                tracing::warn!(statement = %key.name, error = %e, "cannot record the panic");
            }
        }
    }

    /// Stops the clusters of statements that no longer exist.
    async fn sweep(&self) {
        let owned = super::sweep::owners_by_uid(&self.core, Kind::Statement, CLUSTER_PREFIX).await;
        self.sweep.run(&self.backend, owned).await;
    }
}

/// The statement's exceptions with `message` in front, at most 10.
fn exceptions_with(statement: &Object, message: &str) -> Vec<StatementException> {
    let mut list = vec![StatementException::now(message)];
    list.extend(
        view::<Status>(&statement.status)
            .exceptions
            .unwrap_or_default(),
    );
    list.truncate(10);
    list
}

/// The Flink job id of a statement's `n`th run: fixed before submission, so
/// a retried submit finds the job instead of starting a second one.
fn job_id(statement: &Object, run: u32) -> String {
    uuid::Uuid::new_v5(&statement.meta.uid, format!("run-{run}").as_bytes())
        .simple()
        .to_string()
}
