//! The statement reconciler. A statement that only touches the catalog or
//! reads metadata completes when it is created ([`prepare`]); a query or an
//! `INSERT` runs as a Flink job on its compute pool: the pool's session
//! cluster (SHARED) or a cluster of its own (DEDICATED). Every step is
//! recorded in `status.reconciler` before the next, and a job's id is fixed
//! before it is submitted, so a crash at any point never runs a job twice.

use super::controller::Reconcile;
use super::pools::{cluster_spec_of, start_cluster};
use super::{job_state_text, root_cause, Backend, PassOutcome, ReconcilerConfig};
use crate::sql_engine::{RunError, Session, SqlEngine};
use crate::{store_error, Core};
use drey_flink::{
    FlinkClient, OperationHandle, OperationStatus, QueueStatusId, SessionHandle, StopRequest,
};
use drey_model::application::effective_spec;
use drey_model::json::string_map;
use drey_model::object::statement_scope;
use drey_model::sql::{changelog_traits, classify, cmf_data_type, sql_kind, Execution};
use drey_model::{Error, Kind, Object, ObjectKey, Timestamp};
use drey_store::Delete;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
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

/// What the reconciler keeps about a statement, in `status.reconciler`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatementRecord {
    /// The SQL was checked (and, for DDL and metadata, run).
    pub prepared: bool,
    /// `query`, `job`, `catalog` or `metadata`.
    pub execution: String,
    /// Runs started so far; a run's job id derives from it.
    pub runs: u32,
    /// The current run.
    pub run: Option<Run>,
    /// The latest savepoint: where a resumed job restores from.
    pub savepoint: Option<String>,
    /// A stop in flight.
    pub stopping: Option<Stopping>,
}

/// One run of a statement's job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Run {
    /// The Flink job id, fixed before submission.
    pub job_id: String,
    /// The cluster's REST URL.
    pub rest_url: String,
    /// The statement's own cluster (DEDICATED pools).
    pub cluster_id: Option<String>,
    /// The job was submitted (or found on the cluster).
    pub submitted: bool,
    /// The gateway session and operation that hold a query's results.
    pub session: Option<String>,
    /// See `session`.
    pub operation: Option<String>,
    /// Parallelism it was submitted with.
    pub parallelism: Option<u64>,
    /// The job reached a terminal state and was recorded.
    pub finished: bool,
}

/// Why and how a job is being stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopping {
    /// `stop`, `rescale` or `delete`.
    pub reason: String,
    /// Flink's trigger id of the stop-with-savepoint; none for a cancel.
    pub trigger_id: Option<String>,
}

/// What the user wants of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// Delete was asked for.
    pub deleting: bool,
    /// `spec.stopped`.
    pub stopped: bool,
    /// `spec.parallelism`.
    pub parallelism: Option<u64>,
}

/// Where the statement's job can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolObs {
    /// A SHARED pool whose cluster runs at this URL.
    Ready(String),
    /// A DEDICATED pool: the statement starts a cluster of its own.
    Dedicated,
    /// The pool is not ready; why.
    NotReady(String),
}

/// What the statement's job is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobObs {
    /// Not on the cluster.
    NotFound,
    /// Flink's job state.
    State(String),
    /// The cluster does not answer.
    Unreachable,
}

/// A stop-with-savepoint's progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopObs {
    /// Still going.
    InProgress,
    /// Done; the savepoint's path.
    Completed(String),
    /// Failed; why.
    Failed(String),
}

/// What the reconciler saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// The pool.
    pub pool: PoolObs,
    /// The current run's job, if there is a submitted run.
    pub job: Option<JobObs>,
    /// The stop in flight.
    pub stop: Option<StopObs>,
}

/// The next step for a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Check (and for DDL, run) the SQL.
    Prepare,
    /// Start the statement's own cluster, then submit.
    StartCluster,
    /// Submit the job to the cluster at this URL.
    Submit(String),
    /// The job was found on the cluster: mark the run submitted.
    MarkSubmitted,
    /// Record a phase and detail.
    SetPhase(&'static str, String),
    /// The job ended: record how, release what it held.
    Finish(&'static str, String),
    /// Stop the job: with a savepoint for a detached job, else cancel.
    Stop {
        /// `stop`, `rescale` or `delete`.
        reason: &'static str,
        /// Take a savepoint.
        savepoint: bool,
    },
    /// The stop completed (with this savepoint, for a detached job).
    StopDone(Option<String>),
    /// The stop failed.
    StopFailed(String),
    /// Remove the statement and everything it held.
    Cleanup,
    /// Look again soon.
    Wait,
    /// Nothing to do.
    Nothing,
}

fn terminal(phase: &str) -> bool {
    matches!(phase, phase::COMPLETED | phase::FAILED)
}

fn job_active(state: &str) -> bool {
    !matches!(state, "FINISHED" | "FAILED" | "CANCELED" | "SUSPENDED")
}

/// Pure: the next step from what is desired, recorded and observed.
pub fn plan(
    desired: &Desired,
    record: &StatementRecord,
    phase: &str,
    observed: &Observed,
) -> Action {
    let is_job = record.execution == "job";
    if let Some(stopping) = &record.stopping {
        return match (&observed.stop, &observed.job) {
            (Some(StopObs::InProgress), _) => Action::Wait,
            (Some(StopObs::Completed(path)), _) => Action::StopDone(Some(path.clone())),
            (Some(StopObs::Failed(why)), _) => Action::StopFailed(why.clone()),
            (None, Some(JobObs::State(s))) if job_active(s) && stopping.trigger_id.is_none() => {
                Action::Wait
            }
            (None, _) => Action::StopDone(None),
        };
    }
    let run = record.run.as_ref().filter(|r| !r.finished);
    let job = observed.job.as_ref();
    if desired.deleting {
        return match (run, job) {
            (Some(r), Some(JobObs::State(s))) if r.submitted && job_active(s) => Action::Stop {
                reason: "delete",
                savepoint: false,
            },
            _ => Action::Cleanup,
        };
    }
    if !record.prepared {
        return Action::Prepare;
    }
    if !matches!(record.execution.as_str(), "query" | "job") {
        return Action::Nothing;
    }
    let Some(run) = run else {
        if record.run.is_some() || terminal(phase) {
            return Action::Nothing; // finished; a new run needs a new statement
        }
        if desired.stopped {
            return if phase == phase::STOPPED {
                Action::Nothing
            } else {
                Action::SetPhase(phase::STOPPED, "The statement is stopped.".into())
            };
        }
        return match &observed.pool {
            PoolObs::Ready(url) => Action::Submit(url.clone()),
            PoolObs::Dedicated => Action::StartCluster,
            PoolObs::NotReady(why) if phase != phase::PENDING => {
                Action::SetPhase(phase::PENDING, why.clone())
            }
            PoolObs::NotReady(_) => Action::Wait,
        };
    };
    if !run.submitted {
        return match job {
            Some(JobObs::State(_)) => Action::MarkSubmitted,
            Some(JobObs::NotFound) | None => Action::Submit(run.rest_url.clone()),
            Some(JobObs::Unreachable) => Action::Finish(
                phase::FAILED,
                "The Flink cluster of the statement is gone.".into(),
            ),
        };
    }
    match job {
        Some(JobObs::State(state)) => match state.as_str() {
            "FINISHED" => Action::Finish(phase::COMPLETED, "The statement completed.".into()),
            "FAILED" => Action::Finish(phase::FAILED, "The statement's job failed.".into()),
            "CANCELED" => Action::Finish(
                phase::FAILED,
                format!("Job {} was cancelled outside drey.", run.job_id),
            ),
            "FAILING" | "RESTARTING" if phase != phase::FAILING => {
                Action::SetPhase(phase::FAILING, format!("Job {} is {state}.", run.job_id))
            }
            "FAILING" | "RESTARTING" => Action::Wait,
            _ if desired.stopped => Action::Stop {
                reason: "stop",
                savepoint: is_job,
            },
            _ if is_job
                && desired.parallelism.is_some()
                && desired.parallelism != run.parallelism =>
            {
                Action::Stop {
                    reason: "rescale",
                    savepoint: true,
                }
            }
            "RUNNING" if phase != phase::RUNNING => {
                Action::SetPhase(phase::RUNNING, format!("Job {} is running.", run.job_id))
            }
            _ => Action::Nothing,
        },
        Some(JobObs::NotFound) | Some(JobObs::Unreachable) | None => Action::Finish(
            phase::FAILED,
            format!(
                "Job {} is gone: its Flink cluster no longer runs it.",
                run.job_id
            ),
        ),
    }
}

/// The record kept in a statement's status.
pub fn record_of(statement: &Object) -> StatementRecord {
    statement
        .status
        .get("reconciler")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn phase_of(statement: &Object) -> &str {
    statement
        .status
        .get("phase")
        .and_then(Value::as_str)
        .unwrap_or(phase::PENDING)
}

/// The session properties a statement runs with: the environment's
/// `statementDefaults` for its kind (detached or interactive), then its own
/// `flinkConfiguration`, then its `properties`.
async fn statement_properties(
    core: &Core,
    statement: &Object,
    interactive: bool,
) -> Result<BTreeMap<String, String>, Error> {
    let env = core.environment_of(&statement.key).await?;
    let which = if interactive {
        "interactive"
    } else {
        "detached"
    };
    let mut props = string_map(env.as_ref().and_then(|e| {
        e.spec
            .get("statementDefaults")
            .and_then(|d| d.get(which))
            .and_then(|d| d.get("flinkConfiguration"))
    }));
    props.extend(string_map(statement.spec.get("flinkConfiguration")));
    props.extend(string_map(statement.spec.get("properties")));
    Ok(props)
}

fn current_catalog(props: &BTreeMap<String, String>) -> (String, String) {
    (
        props
            .get("sql.current-catalog")
            .cloned()
            .unwrap_or_else(|| "default_catalog".into()),
        props
            .get("sql.current-database")
            .cloned()
            .unwrap_or_else(|| "default_database".into()),
    )
}

fn columns_schema(columns: &[drey_flink::ColumnInfo]) -> Value {
    json!({"columns": columns.iter().map(|c| json!({
        "name": c.name,
        "type": cmf_data_type(&c.logical_type),
    })).collect::<Vec<_>>()})
}

/// Rows in CMF's result shape: `{"op": 0..3, "row": [...]}`.
pub fn cmf_rows(rows: &[drey_flink::ResultRow]) -> Vec<Value> {
    rows.iter()
        .map(|r| json!({"op": r.kind.op(), "row": r.fields}))
        .collect()
}

fn exception(message: &str) -> Value {
    json!({
        "name": "StatementException",
        "message": message,
        "timestamp": Timestamp::now().to_string(),
    })
}

/// Checks a new statement's SQL with the engine. DDL and metadata statements
/// run to completion here (their result goes inline into the statement); a
/// query or a job gets its traits and waits for the reconciler. A SQL error
/// makes the statement FAILED with the engine's message. An unreachable
/// engine leaves it PENDING (`Err`), for the reconciler to try again.
pub async fn prepare(core: &Core, engine: &SqlEngine, statement: &Object) -> Result<Object, Error> {
    let sql = statement
        .spec
        .get("statement")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let (org, env, name) = (
        statement.key.org.as_str(),
        statement.key.scope.as_str(),
        statement.meta.name.as_str(),
    );
    let own_props = string_map(statement.spec.get("properties"));
    let (catalog, database) = current_catalog(&own_props);
    let execution = classify(&sql, &catalog, &database);
    let interactive = !matches!(execution, Execution::Job);
    let props = statement_properties(core, statement, interactive).await?;
    let mut traits = json!({"sqlKind": sql_kind(&sql)});
    let mut status = Map::new();
    let mut record = StatementRecord {
        prepared: true,
        ..StatementRecord::default()
    };
    let outcome = match &execution {
        Execution::CatalogChange(_) | Execution::Metadata => {
            record.execution = if matches!(execution, Execution::Metadata) {
                "metadata".into()
            } else {
                "catalog".into()
            };
            run_inline(core, engine, statement, &sql, &props, &execution).await
        }
        Execution::Query | Execution::Job => {
            record.execution = if execution == Execution::Query {
                "query".into()
            } else {
                "job".into()
            };
            analyze(core, engine, statement, &sql, &props).await
        }
    };
    match outcome {
        Ok(Prepared::Completed { columns, rows }) => {
            traits["isBounded"] = json!(true);
            traits["isAppendOnly"] = json!(true);
            traits["schema"] = columns_schema(&columns);
            status.insert("phase".into(), json!(phase::COMPLETED));
            status.insert("detail".into(), json!("The statement completed."));
            status.insert(
                "result".into(),
                json!({
                    "apiVersion": "cmf.confluent.io/v1",
                    "kind": "StatementResult",
                    "metadata": {
                        "creationTimestamp": Timestamp::now().to_string(),
                        "annotations": {"nextPageToken": ""},
                    },
                    "results": {"data": cmf_rows(&rows)},
                }),
            );
        }
        Ok(Prepared::Analyzed {
            append_only,
            upsert_columns,
            bounded,
        }) => {
            traits["isBounded"] = json!(bounded);
            traits["isAppendOnly"] = json!(append_only);
            if let Some(columns) = upsert_columns {
                traits["upsertColumns"] = json!(columns);
            }
            status.insert("phase".into(), json!(phase::PENDING));
            status.insert(
                "detail".into(),
                json!(format!(
                    "Waiting to run on compute pool '{}'.",
                    statement.spec["computePoolName"]
                        .as_str()
                        .unwrap_or_default()
                )),
            );
        }
        Err(RunError::Sql(message)) => {
            status.insert("phase".into(), json!(phase::FAILED));
            status.insert("detail".into(), json!(message));
            status.insert("exceptions".into(), json!([exception(&message)]));
        }
        Err(RunError::Engine(e)) => {
            let _ = (org, env, name);
            return Err(e);
        }
    }
    status.insert("traits".into(), traits);
    status.insert(
        "reconciler".into(),
        serde_json::to_value(&record).map_err(|e| Error::Internal(e.to_string()))?,
    );
    core.store()
        .write_status(
            &statement.key,
            Some(statement.meta.resource_version),
            Value::Object(status),
        )
        .await
        .map_err(store_error)
}

enum Prepared {
    Completed {
        columns: Vec<drey_flink::ColumnInfo>,
        rows: Vec<drey_flink::ResultRow>,
    },
    Analyzed {
        append_only: bool,
        upsert_columns: Option<Vec<u32>>,
        bounded: bool,
    },
}

async fn run_inline(
    core: &Core,
    engine: &SqlEngine,
    statement: &Object,
    sql: &str,
    props: &BTreeMap<String, String>,
    execution: &Execution,
) -> Result<Prepared, RunError> {
    let (org, env) = (statement.key.org.as_str(), statement.key.scope.as_str());
    let session = engine
        .open(core, org, env, &statement.meta.name, props)
        .await?;
    let result = session.run_to_end(sql, &BTreeMap::new()).await;
    session.close().await;
    let collected = result?;
    if let Execution::CatalogChange(change) = execution {
        core.record_catalog_change(org, env, change, sql).await?;
    }
    Ok(Prepared::Completed {
        columns: collected.columns,
        rows: collected.rows,
    })
}

/// Plans the statement twice without running it: in streaming mode for its
/// changelog (append-only or updating), in batch mode for boundedness (Flink
/// refuses an unbounded source in batch mode).
async fn analyze(
    core: &Core,
    engine: &SqlEngine,
    statement: &Object,
    sql: &str,
    props: &BTreeMap<String, String>,
) -> Result<Prepared, RunError> {
    let mut batch_props = props.clone();
    batch_props.insert("execution.runtime-mode".into(), "batch".into());
    // Both plans at once: they are independent and each takes the planner a while.
    let changelog_sql = format!("EXPLAIN CHANGELOG_MODE {sql}");
    let batch_sql = format!("EXPLAIN {sql}");
    // Both plans at once: they are independent and each takes the planner a while.
    let (streaming, batch) = tokio::join!(
        explain(core, engine, statement, &changelog_sql, props),
        explain(core, engine, statement, &batch_sql, &batch_props),
    );
    let plan: String = streaming?
        .rows
        .iter()
        .flat_map(|r| r.fields.iter())
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    let (append_only, upsert_columns) = changelog_traits(&plan);
    let bounded = match batch {
        Ok(_) => true,
        Err(RunError::Sql(_)) => false,
        Err(e) => return Err(e),
    };
    Ok(Prepared::Analyzed {
        append_only,
        upsert_columns,
        bounded,
    })
}

/// Runs one EXPLAIN in a session of its own.
async fn explain(
    core: &Core,
    engine: &SqlEngine,
    statement: &Object,
    sql: &str,
    props: &BTreeMap<String, String>,
) -> Result<drey_flink::Collected, RunError> {
    let (org, env) = (statement.key.org.as_str(), statement.key.scope.as_str());
    let session = engine
        .open(core, org, env, &statement.meta.name, props)
        .await?;
    let result = session.run_to_end(sql, &BTreeMap::new()).await;
    session.close().await;
    result
}

/// Reconciles statements.
pub struct StatementReconciler {
    core: Core,
    engine: Arc<SqlEngine>,
    backend: Backend,
    config: ReconcilerConfig,
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
            let record = record_of(&statement);
            let desired = Desired {
                deleting: phase_of(&statement) == phase::DELETING,
                stopped: statement.spec.get("stopped").and_then(Value::as_bool) == Some(true),
                parallelism: statement.spec.get("parallelism").and_then(Value::as_u64),
            };
            let observed = self.observe(&statement, &record).await?;
            let action = plan(&desired, &record, phase_of(&statement), &observed);
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
                let client = FlinkClient::new(run.rest_url.clone())
                    .map_err(|e| Error::Internal(e.to_string()))?;
                let job = match client.job_status(&run.job_id).await {
                    Ok(info) => JobObs::State(job_state_text(&info.status)),
                    Err(e) if e.is_not_found() => JobObs::NotFound,
                    Err(_) => JobObs::Unreachable,
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
                            Err(e) => StopObs::Failed(e.to_string()),
                        })
                    }
                };
                (Some(job), stop)
            }
        };
        Ok(Observed { pool, job, stop })
    }

    async fn pool_of(&self, statement: &Object) -> Result<PoolObs, Error> {
        let name = statement.spec["computePoolName"]
            .as_str()
            .unwrap_or_default();
        let pool = self
            .core
            .store()
            .get(&ObjectKey::in_env(
                &statement.key.org,
                Kind::ComputePool,
                &statement.key.scope,
                name,
            ))
            .await
            .map_err(store_error)?;
        let Some(pool) = pool else {
            return Ok(PoolObs::NotReady(format!(
                "Compute pool '{name}' does not exist."
            )));
        };
        if pool.spec.get("type").and_then(Value::as_str) == Some("DEDICATED") {
            return Ok(PoolObs::Dedicated);
        }
        match pool
            .status
            .pointer("/clusterInfo/restUrl")
            .and_then(Value::as_str)
        {
            Some(url) if pool.status.get("phase").and_then(Value::as_str) == Some("RUNNING") => {
                Ok(PoolObs::Ready(url.to_owned()))
            }
            _ => Ok(PoolObs::NotReady(format!(
                "Waiting for compute pool '{name}' to be RUNNING (it is {}).",
                pool.status
                    .get("phase")
                    .and_then(Value::as_str)
                    .unwrap_or("PENDING")
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
                self.keep_alive(&record).await;
                self.savepoints(statement, &record).await
            }
            Action::Wait => Ok(Some(PassOutcome::Wait(Duration::from_millis(500)))),
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
                self.set(statement, &record, phase_of(statement), detail, None)
                    .await?;
                Ok(Some(PassOutcome::Wait(Duration::from_secs(1))))
            }
            Action::StopFailed(why) => {
                record.stopping = None;
                let detail = format!("Stopping the job failed: {why}");
                let mut extra = Map::new();
                extra.insert(
                    "exceptions".into(),
                    self.exceptions_with(statement, &detail),
                );
                self.set(
                    statement,
                    &record,
                    phase_of(statement),
                    &detail,
                    Some(extra),
                )
                .await?;
                Ok(Some(PassOutcome::Settled))
            }
            Action::Cleanup => self.cleanup(statement, &record).await,
        }
    }

    /// Writes the phase, detail and record against the version that was read.
    async fn set(
        &self,
        statement: &Object,
        record: &StatementRecord,
        phase: &str,
        detail: &str,
        extra: Option<Map<String, Value>>,
    ) -> Result<Object, Error> {
        let mut status = statement.status.as_object().cloned().unwrap_or_default();
        status.insert("phase".into(), json!(phase));
        status.insert("detail".into(), json!(detail));
        // The Flink job of the current (or last) run, for users to find it.
        if let Some(run) = &record.run {
            status.insert("jobId".into(), json!(run.job_id));
        }
        status.insert(
            "reconciler".into(),
            serde_json::to_value(record).map_err(|e| Error::Internal(e.to_string()))?,
        );
        for (k, v) in extra.unwrap_or_default() {
            status.insert(k, v);
        }
        self.core
            .store()
            .write_status(
                &statement.key,
                Some(statement.meta.resource_version),
                Value::Object(status),
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
        let backend = match &self.backend {
            Ok(b) => b.clone(),
            Err(why) => {
                self.set(statement, &record, phase::FAILED, why, None)
                    .await?;
                return Ok(Some(PassOutcome::Settled));
            }
        };
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
        let statement = self
            .set(
                statement,
                &record,
                phase::PENDING,
                &format!("Starting Flink cluster {id} on compute pool '{name}'."),
                None,
            )
            .await?;
        let spec = self
            .config
            .cluster_spec(id.clone(), &cluster_spec_of(&effective));
        match start_cluster(&backend, &spec, self.config.cluster_start_timeout).await {
            Ok(url) => {
                let statement = self.core.get(&statement.key).await?;
                let mut record = record_of(&statement);
                record.run = None;
                self.submit_to(&statement, &mut record, url, Some(id)).await
            }
            Err(why) => {
                record.run = None;
                self.set(&statement, &record, phase::PENDING, &why, None)
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
        let interactive = record.execution == "query";
        let mut props = statement_properties(&self.core, &statement, interactive).await?;
        let (host, port) = host_port(&run.rest_url)?;
        props.insert("execution.target".into(), "remote".into());
        props.insert("rest.address".into(), host);
        props.insert("rest.port".into(), port.to_string());
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

    /// The savepoint `spec.startFromSavepoint` names: a path, or one of the
    /// statement's savepoint resources by name or uid (it must be COMPLETED).
    async fn start_from_savepoint(&self, statement: &Object) -> Result<Option<String>, Error> {
        let Some(from) = statement.spec.get("startFromSavepoint") else {
            return Ok(None);
        };
        if let Some(path) = from.get("initialSavepointPath").and_then(Value::as_str) {
            return Ok(Some(path.to_owned()));
        }
        let by_name = from.get("savepointName").and_then(Value::as_str);
        let by_uid = from.get("uid").and_then(Value::as_str);
        if by_name.is_none() && by_uid.is_none() {
            return Ok(None);
        }
        let page = self
            .core
            .store()
            .list(&drey_store::ListQuery {
                org: statement.key.org.clone(),
                kind: Kind::Savepoint,
                scope: Some(statement_scope(&statement.key.scope, &statement.meta.name)),
                filters: vec![],
                page: drey_model::PageRequest {
                    page: 0,
                    size: 500,
                    sort: vec![],
                },
            })
            .await
            .map_err(store_error)?;
        let found = page.items.into_iter().find(|sp| {
            by_name.is_some_and(|n| sp.meta.name == n)
                || by_uid.is_some_and(|u| sp.meta.uid.to_string() == u)
        });
        match found.and_then(|sp| {
            sp.status
                .get("path")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }) {
            Some(path) => Ok(Some(path)),
            None => Err(Error::invalid(
                "spec.startFromSavepoint",
                "names no COMPLETED savepoint of this statement",
            )),
        }
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
        let client = FlinkClient::new(run.rest_url.clone())
            .map_err(|e| RunError::Engine(Error::Internal(e.to_string())))?;
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
        let mut extra = Map::new();
        extra.insert(
            "exceptions".into(),
            self.exceptions_with(statement, message),
        );
        self.set(statement, record, phase::FAILED, message, Some(extra))
            .await?;
        self.release(record).await;
        Ok(Some(PassOutcome::Settled))
    }

    async fn finish(
        &self,
        statement: &Object,
        mut record: StatementRecord,
        phase: &'static str,
        detail: String,
    ) -> Result<Option<PassOutcome>, Error> {
        let mut extra = Map::new();
        let mut detail = detail;
        if phase == phase::FAILED {
            if let Some(run) = &record.run {
                if let Ok(client) = FlinkClient::new(run.rest_url.clone()) {
                    if let Ok(ex) = client.job_exceptions(&run.job_id).await {
                        let mut list: Vec<Value> = ex
                            .exception_history
                            .entries
                            .iter()
                            .take(10)
                            .map(|e| {
                                json!({
                                    "name": e.exception_name,
                                    "message": root_cause(&e.stacktrace),
                                    "timestamp": Timestamp::from_millis(e.timestamp).unwrap_or_else(Timestamp::now).to_string(),
                                })
                            })
                            .collect();
                        if let Some(first) = list.first() {
                            detail = format!(
                                "{detail} {}",
                                first["message"].as_str().unwrap_or_default()
                            );
                        }
                        list.truncate(10);
                        extra.insert("exceptions".into(), Value::Array(list));
                    }
                }
            }
            if !extra.contains_key("exceptions") {
                extra.insert(
                    "exceptions".into(),
                    self.exceptions_with(statement, &detail),
                );
            }
        }
        if let Some(run) = record.run.as_mut() {
            run.finished = true;
        }
        self.set(statement, &record, phase, &detail, Some(extra))
            .await?;
        // A finished query keeps its session (and cluster): its results stay
        // readable until the statement is deleted.
        if record.execution != "query" {
            self.release(&record).await;
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
        let client =
            FlinkClient::new(run.rest_url.clone()).map_err(|e| Error::Internal(e.to_string()))?;
        let trigger_id = if savepoint {
            let dir = self.savepoint_dir(statement);
            let request = StopRequest {
                target_directory: Some(format!("file://{}", dir.display())),
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
            "delete" => (phase::DELETING, format!("Cancelling job {}.", run.job_id)),
            "rescale" => (
                phase_of(statement),
                format!("Rescaling job {} through a savepoint.", run.job_id),
            ),
            _ => (phase_of(statement), format!("Stopping job {}.", run.job_id)),
        };
        let phase = phase.to_owned();
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
                self.release(&released).await;
                Ok(Some(PassOutcome::Settled))
            }
        }
    }

    /// Cancels nothing; closes the run's session and stops its own cluster.
    async fn release(&self, record: &StatementRecord) {
        let Some(run) = &record.run else { return };
        if let (Some(session), Ok(client)) = (&run.session, self.engine.client().await) {
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
        self.release(record).await;
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

    /// The statement's exceptions with `message` in front, at most 10.
    fn exceptions_with(&self, statement: &Object, message: &str) -> Value {
        let mut list = vec![exception(message)];
        if let Some(old) = statement.status.get("exceptions").and_then(Value::as_array) {
            list.extend(old.iter().cloned());
        }
        list.truncate(10);
        Value::Array(list)
    }

    /// Serves the statement's savepoint resources: a PENDING one is
    /// triggered on the running job, an IN_PROGRESS one polled.
    async fn savepoints(
        &self,
        statement: &Object,
        record: &StatementRecord,
    ) -> Result<Option<PassOutcome>, Error> {
        use crate::savepoints::state;
        let scope = statement_scope(&statement.key.scope, &statement.meta.name);
        let page = self
            .core
            .store()
            .list(&drey_store::ListQuery {
                org: statement.key.org.clone(),
                kind: Kind::Savepoint,
                scope: Some(scope),
                filters: vec![],
                page: drey_model::PageRequest {
                    page: 0,
                    size: 50,
                    sort: vec![],
                },
            })
            .await
            .map_err(store_error)?;
        let run = record
            .run
            .as_ref()
            .filter(|r| r.submitted && !r.finished && phase_of(statement) == phase::RUNNING);
        let mut busy = false;
        for savepoint in page.items {
            let st = savepoint.status.get("state").and_then(Value::as_str);
            if !matches!(st, Some(state::PENDING) | Some(state::IN_PROGRESS)) {
                continue;
            }
            let Some(run) = run else {
                let status = json!({"state": state::FAILED,
                    "error": format!("Statement '{}' has no running job", statement.meta.name),
                    "resultTimestamp": Timestamp::now().to_string()});
                self.set_savepoint(&savepoint, status).await?;
                continue;
            };
            let client = FlinkClient::new(run.rest_url.clone())
                .map_err(|e| Error::Internal(e.to_string()))?;
            busy = true;
            let trigger = savepoint.status.get("triggerId").and_then(Value::as_str);
            let Some(trigger) = trigger.filter(|_| st == Some(state::IN_PROGRESS)) else {
                let request = drey_flink::SavepointRequest {
                    target_directory: Some(format!(
                        "file://{}",
                        self.savepoint_dir(statement).display()
                    )),
                    cancel_job: Some(false),
                    format_type: None,
                    trigger_id: None,
                };
                let status = match client.trigger_savepoint(&run.job_id, &request).await {
                    Ok(t) => json!({"state": state::IN_PROGRESS, "triggerId": t.request_id}),
                    Err(e) => json!({"state": state::FAILED, "error": e.to_string(),
                                     "resultTimestamp": Timestamp::now().to_string()}),
                };
                self.set_savepoint(&savepoint, status).await?;
                continue;
            };
            let status = match client.savepoint_status(&run.job_id, trigger).await {
                Ok(op) if op.status.id == QueueStatusId::InProgress => continue,
                Ok(op) => match op.operation.map(|i| i.location.ok_or(i.failure_cause)) {
                    Some(Ok(location)) => json!({"state": state::COMPLETED, "path": location,
                        "resultTimestamp": Timestamp::now().to_string()}),
                    Some(Err(cause)) => {
                        let why = cause.map(|c| c.summary()).unwrap_or_default();
                        let attempts = savepoint
                            .status
                            .get("attempts")
                            .and_then(Value::as_u64)
                            .unwrap_or(0);
                        if super::transient_savepoint_failure(&why) && attempts < 5 {
                            json!({"state": state::PENDING, "attempts": attempts + 1, "error": why})
                        } else {
                            json!({"state": state::FAILED, "error": why,
                                   "resultTimestamp": Timestamp::now().to_string()})
                        }
                    }
                    None => json!({"state": state::FAILED, "error": "the savepoint has no result"}),
                },
                Err(e) => json!({"state": state::FAILED, "error": e.to_string()}),
            };
            self.set_savepoint(&savepoint, status).await?;
        }
        Ok(Some(if busy {
            PassOutcome::Wait(Duration::from_millis(500))
        } else {
            PassOutcome::Settled
        }))
    }

    /// Merges `fields` into a savepoint resource's status.
    async fn set_savepoint(&self, savepoint: &Object, fields: Value) -> Result<(), Error> {
        let mut status = savepoint.status.clone();
        if let (Some(status), Some(fields)) = (status.as_object_mut(), fields.as_object()) {
            for (k, v) in fields {
                status.insert(k.clone(), v.clone());
            }
        }
        self.core
            .store()
            .write_status(&savepoint.key, None, status)
            .await
            .map(drop)
            .map_err(store_error)
    }

    /// Records a savepoint drey took (a stop, a rescale) as a COMPLETED
    /// savepoint resource of the statement.
    async fn record_savepoint(&self, statement: &Object, location: &str) -> Result<(), Error> {
        let now = Timestamp::now().to_string();
        let mut write = drey_store::Write::new(
            ObjectKey {
                org: statement.key.org.clone(),
                kind: Kind::Savepoint,
                scope: statement_scope(&statement.key.scope, &statement.meta.name),
                name: format!(
                    "savepoint-{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..12]
                ),
            },
            drey_store::WriteMode::Create,
            json!({"path": location, "formatType": "CANONICAL"}),
        );
        write.status = Some(json!({
            "state": crate::savepoints::state::COMPLETED, "path": location,
            "triggerTimestamp": now, "resultTimestamp": now,
        }));
        self.core
            .store()
            .write(write)
            .await
            .map(drop)
            .map_err(store_error)
    }

    fn savepoint_dir(&self, statement: &Object) -> std::path::PathBuf {
        self.config
            .data_dir
            .join("savepoints")
            .join(statement.meta.uid.simple().to_string())
    }

    /// Keeps a query's session (and with it its results) alive.
    async fn keep_alive(&self, record: &StatementRecord) {
        let Some(session) = record.run.as_ref().and_then(|r| r.session.clone()) else {
            return;
        };
        if let Ok(client) = self.engine.client().await {
            let _ = client.heartbeat(&SessionHandle(session)).await;
        }
    }

    /// Records a query's result schema once the engine knows it.
    async fn capture_schema(&self, statement: &Object, record: &StatementRecord) {
        if statement.status.pointer("/traits/schema").is_some() {
            return;
        }
        let Some(run) = &record.run else { return };
        let (Some(session), Some(op)) = (&run.session, &run.operation) else {
            return;
        };
        let Ok(page) = self
            .engine
            .fetch(
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

impl Core {
    /// Records a statement's result schema in `status.traits.schema`.
    pub async fn record_statement_schema(
        &self,
        statement: &Object,
        columns: &[drey_flink::ColumnInfo],
    ) -> Result<(), Error> {
        let mut status = statement.status.clone();
        if status.pointer("/traits/schema").is_some() || !status.is_object() {
            return Ok(());
        }
        if !status.get("traits").is_some_and(Value::is_object) {
            status["traits"] = json!({});
        }
        status["traits"]["schema"] = columns_schema(columns);
        self.store()
            .write_status(
                &statement.key,
                Some(statement.meta.resource_version),
                status,
            )
            .await
            .map(drop)
            .map_err(store_error)
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

    /// Stops the clusters of statements that no longer exist.
    async fn sweep(&self) {
        super::sweep_orphan_clusters(&self.core, &self.backend, Kind::Statement, CLUSTER_PREFIX)
            .await;
    }
}

/// The Flink job id of a statement's `n`th run: fixed before submission, so
/// a retried submit finds the job instead of starting a second one.
fn job_id(statement: &Object, run: u32) -> String {
    uuid::Uuid::new_v5(&statement.meta.uid, format!("run-{run}").as_bytes())
        .simple()
        .to_string()
}

fn host_port(url: &str) -> Result<(String, u16), Error> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| Error::Internal(format!("bad URL {url}: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| Error::Internal(format!("no host in {url}")))?
        .to_owned();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| Error::Internal(format!("no port in {url}")))?;
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired {
            deleting: false,
            stopped: false,
            parallelism: None,
        }
    }

    fn record(execution: &str, run: Option<Run>) -> StatementRecord {
        StatementRecord {
            prepared: true,
            execution: execution.into(),
            runs: 1,
            run,
            ..StatementRecord::default()
        }
    }

    fn submitted() -> Run {
        Run {
            job_id: "j".into(),
            rest_url: "http://x:1".into(),
            submitted: true,
            parallelism: Some(1),
            ..Run::default()
        }
    }

    fn observed(pool: PoolObs, job: Option<JobObs>) -> Observed {
        Observed {
            pool,
            job,
            stop: None,
        }
    }

    #[test]
    fn new_statements_are_prepared_then_submitted() {
        let ready = observed(PoolObs::Ready("http://x:1".into()), None);
        assert_eq!(
            plan(&desired(), &StatementRecord::default(), "PENDING", &ready),
            Action::Prepare
        );
        let r = record("job", None);
        assert_eq!(
            plan(&desired(), &r, "PENDING", &ready),
            Action::Submit("http://x:1".into())
        );
        let dedicated = observed(PoolObs::Dedicated, None);
        assert_eq!(
            plan(&desired(), &r, "PENDING", &dedicated),
            Action::StartCluster
        );
        let waiting = observed(PoolObs::NotReady("w".into()), None);
        assert_eq!(plan(&desired(), &r, "PENDING", &waiting), Action::Wait);
        assert_eq!(
            plan(&desired(), &r, "STOPPED", &waiting),
            Action::SetPhase("PENDING", "w".into())
        );
        // DDL and metadata statements are done once prepared.
        assert_eq!(
            plan(&desired(), &record("catalog", None), "COMPLETED", &ready),
            Action::Nothing
        );
    }

    #[test]
    fn a_crash_between_recording_and_submitting_never_submits_twice() {
        let run = Run {
            submitted: false,
            ..submitted()
        };
        let r = record("job", Some(run));
        let found = observed(
            PoolObs::Ready("u".into()),
            Some(JobObs::State("RUNNING".into())),
        );
        assert_eq!(
            plan(&desired(), &r, "PENDING", &found),
            Action::MarkSubmitted
        );
        let missing = observed(PoolObs::Ready("u".into()), Some(JobObs::NotFound));
        assert_eq!(
            plan(&desired(), &r, "PENDING", &missing),
            Action::Submit("http://x:1".into())
        );
    }

    #[test]
    fn job_states_map_to_phases() {
        let r = record("job", Some(submitted()));
        let with = |s: &str| observed(PoolObs::Dedicated, Some(JobObs::State(s.into())));
        assert!(matches!(
            plan(&desired(), &r, "PENDING", &with("RUNNING")),
            Action::SetPhase("RUNNING", _)
        ));
        assert_eq!(
            plan(&desired(), &r, "RUNNING", &with("RUNNING")),
            Action::Nothing
        );
        assert!(matches!(
            plan(&desired(), &r, "RUNNING", &with("FINISHED")),
            Action::Finish("COMPLETED", _)
        ));
        assert!(matches!(
            plan(&desired(), &r, "RUNNING", &with("FAILED")),
            Action::Finish("FAILED", _)
        ));
        assert!(matches!(
            plan(&desired(), &r, "RUNNING", &with("RESTARTING")),
            Action::SetPhase("FAILING", _)
        ));
        let lost = observed(PoolObs::Dedicated, Some(JobObs::Unreachable));
        assert!(matches!(
            plan(&desired(), &r, "RUNNING", &lost),
            Action::Finish("FAILED", _)
        ));
    }

    #[test]
    fn stop_resume_and_rescale() {
        let running = observed(
            PoolObs::Ready("u".into()),
            Some(JobObs::State("RUNNING".into())),
        );
        let stop = Desired {
            stopped: true,
            ..desired()
        };
        let r = record("job", Some(submitted()));
        assert_eq!(
            plan(&stop, &r, "RUNNING", &running),
            Action::Stop {
                reason: "stop",
                savepoint: true
            }
        );
        // A query is cancelled: its state is not worth a savepoint.
        assert_eq!(
            plan(
                &stop,
                &record("query", Some(submitted())),
                "RUNNING",
                &running
            ),
            Action::Stop {
                reason: "stop",
                savepoint: false
            }
        );
        let mut stopping = r.clone();
        stopping.stopping = Some(Stopping {
            reason: "stop".into(),
            trigger_id: Some("t".into()),
        });
        let mut obs = running.clone();
        obs.stop = Some(StopObs::InProgress);
        assert_eq!(plan(&stop, &stopping, "RUNNING", &obs), Action::Wait);
        obs.stop = Some(StopObs::Completed("file:///sp".into()));
        assert_eq!(
            plan(&stop, &stopping, "RUNNING", &obs),
            Action::StopDone(Some("file:///sp".into()))
        );
        // Stopped, then resumed: a new run on the pool.
        let stopped = record("job", None);
        let idle = observed(PoolObs::Ready("u".into()), None);
        assert_eq!(plan(&stop, &stopped, "STOPPED", &idle), Action::Nothing);
        assert_eq!(
            plan(&desired(), &stopped, "STOPPED", &idle),
            Action::Submit("u".into())
        );
        let rescale = Desired {
            parallelism: Some(2),
            ..desired()
        };
        assert_eq!(
            plan(&rescale, &r, "RUNNING", &running),
            Action::Stop {
                reason: "rescale",
                savepoint: true
            }
        );
    }

    #[test]
    fn delete_cancels_a_running_job_first() {
        let deleting = Desired {
            deleting: true,
            ..desired()
        };
        let r = record("job", Some(submitted()));
        let running = observed(PoolObs::Dedicated, Some(JobObs::State("RUNNING".into())));
        assert_eq!(
            plan(&deleting, &r, "DELETING", &running),
            Action::Stop {
                reason: "delete",
                savepoint: false
            }
        );
        let gone = observed(PoolObs::Dedicated, Some(JobObs::NotFound));
        assert_eq!(plan(&deleting, &r, "DELETING", &gone), Action::Cleanup);
        assert_eq!(
            plan(&deleting, &StatementRecord::default(), "DELETING", &gone),
            Action::Cleanup
        );
    }
}
