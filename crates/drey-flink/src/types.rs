//! Request and response bodies of the Flink JobManager REST API (Flink 2.3).
//!
//! Field names follow Flink verbatim (Flink mixes kebab-case, camelCase and snake_case).
//! Responses are read leniently: unknown fields are ignored and most fields default, so a
//! newer Flink that adds fields still parses.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The state of a Flink job (`JobStatus` in Flink).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// The job has been received and is being initialized.
    Initializing,
    /// The job is created but no task has been scheduled yet.
    Created,
    /// Some tasks are scheduled or running.
    Running,
    /// The job failed and waits for its tasks to finish.
    Failing,
    /// The job failed terminally.
    Failed,
    /// The job is being cancelled.
    Cancelling,
    /// The job was cancelled.
    Canceled,
    /// All tasks finished.
    Finished,
    /// The job is being restarted.
    Restarting,
    /// The job was suspended (only on JobManager failover without HA data).
    Suspended,
    /// The job is being reconciled with the JobManager's state.
    Reconciling,
    /// A state this client does not know (a newer Flink).
    #[serde(other)]
    Unknown,
}

impl JobState {
    /// True for FINISHED, CANCELED and FAILED: the job will not run again in this cluster.
    pub fn is_globally_terminal(self) -> bool {
        matches!(
            self,
            JobState::Finished | JobState::Canceled | JobState::Failed
        )
    }

    /// True for states that end the job's execution on this JobManager (includes SUSPENDED).
    pub fn is_terminal(self) -> bool {
        self.is_globally_terminal() || self == JobState::Suspended
    }

    /// Flink's name of the state, e.g. `RUNNING`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Initializing => "INITIALIZING",
            JobState::Created => "CREATED",
            JobState::Running => "RUNNING",
            JobState::Failing => "FAILING",
            JobState::Failed => "FAILED",
            JobState::Cancelling => "CANCELLING",
            JobState::Canceled => "CANCELED",
            JobState::Finished => "FINISHED",
            JobState::Restarting => "RESTARTING",
            JobState::Suspended => "SUSPENDED",
            JobState::Reconciling => "RECONCILING",
            JobState::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /overview`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct ClusterOverview {
    /// Number of registered TaskManagers.
    pub taskmanagers: u32,
    /// Total task slots.
    pub slots_total: u32,
    /// Free task slots.
    pub slots_available: u32,
    /// Running jobs.
    pub jobs_running: u32,
    /// Finished jobs.
    pub jobs_finished: u32,
    /// Cancelled jobs.
    pub jobs_cancelled: u32,
    /// Failed jobs.
    pub jobs_failed: u32,
    /// Flink version, e.g. `2.3.0`.
    pub flink_version: String,
    /// Flink commit id.
    pub flink_commit: String,
}

/// `GET /config`: the web dashboard configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct DashboardConfig {
    /// Dashboard refresh interval in milliseconds.
    pub refresh_interval: i64,
    /// Time zone name of the JobManager.
    pub timezone_name: String,
    /// Time zone offset in milliseconds.
    pub timezone_offset: i64,
    /// Flink version.
    pub flink_version: String,
    /// Flink revision (commit and build date).
    pub flink_revision: String,
    /// Enabled dashboard features (`web-submit`, `web-cancel`, ...).
    pub features: BTreeMap<String, Value>,
}

/// One configuration entry (`GET /jobmanager/config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigEntry {
    /// Configuration key.
    pub key: String,
    /// Configuration value.
    pub value: String,
}

/// `GET /jobmanager/logs`, `GET /taskmanagers/:id/logs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogList {
    /// The log files.
    pub logs: Vec<LogFile>,
}

/// One log file of a JobManager or TaskManager.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogFile {
    /// File name, usable with the log file endpoints.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Last modification, epoch milliseconds.
    pub mtime: i64,
}

/// `GET /taskmanagers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskManagerList {
    /// The registered TaskManagers.
    pub taskmanagers: Vec<TaskManagerInfo>,
}

/// One registered TaskManager.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskManagerInfo {
    /// Resource id (`taskmanager.resource-id`).
    pub id: String,
    /// RPC path.
    pub path: String,
    /// Data (shuffle) port.
    pub data_port: i64,
    /// JMX port, -1 when disabled.
    pub jmx_port: i64,
    /// Milliseconds since the last heartbeat.
    pub time_since_last_heartbeat: i64,
    /// Number of task slots.
    pub slots_number: u32,
    /// Free task slots.
    pub free_slots: u32,
    /// Tasks assigned to this TaskManager.
    pub assigned_tasks: u32,
    /// Whether the TaskManager is blocked.
    pub blocked: bool,
    /// Hardware description.
    pub hardware: Value,
    /// Memory configuration.
    pub memory_configuration: Value,
    /// Total resources.
    pub total_resource: Value,
    /// Free resources.
    pub free_resource: Value,
}

/// `GET /jars`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JarList {
    /// The REST address the jars were uploaded to.
    pub address: String,
    /// The uploaded jars.
    pub files: Vec<JarFile>,
}

/// One uploaded jar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JarFile {
    /// Jar id, used with `/jars/:jarid/...`.
    pub id: String,
    /// The original file name.
    pub name: String,
    /// Upload time, epoch milliseconds.
    pub uploaded: i64,
    /// Entry classes found in the jar.
    pub entry: Vec<JarEntry>,
}

/// An entry class of a jar.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JarEntry {
    /// Fully qualified class name.
    pub name: String,
    /// Description, if any.
    pub description: Option<String>,
}

/// `POST /jars/upload`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JarUploadResponse {
    /// Server-side path of the stored jar; its file name is the jar id.
    pub filename: String,
    /// `success` when the upload worked.
    pub status: String,
}

impl JarUploadResponse {
    /// The jar id (the file name of `filename`), used with `/jars/:jarid/...`.
    pub fn jar_id(&self) -> &str {
        self.filename
            .rsplit('/')
            .next()
            .unwrap_or(self.filename.as_str())
    }
}

/// How a job restored from a savepoint or checkpoint treats its files (`claimMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimMode {
    /// Flink takes ownership of the snapshot and may delete it.
    Claim,
    /// Flink never deletes the snapshot; the first checkpoint is a full one.
    NoClaim,
}

/// Body of `POST /jars/:jarid/run` and `POST /jars/:jarid/plan`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JarRunRequest {
    /// Entry class; overrides the jar manifest's `Main-Class`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_class: Option<String>,
    /// Program arguments, one element per argument.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub program_args_list: Vec<String>,
    /// Default parallelism of the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// The job id to use (32 hex characters); lets a retry find the job it already started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Whether state in the savepoint that maps to no operator may be skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_non_restored_state: Option<bool>,
    /// Savepoint or retained checkpoint to restore from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savepoint_path: Option<String>,
    /// Claim mode for the restored snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_mode: Option<ClaimMode>,
    /// Job-level Flink configuration.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub flink_configuration: BTreeMap<String, String>,
}

/// `POST /jars/:jarid/run`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JarRunResponse {
    /// The id of the submitted job.
    pub jobid: String,
}

/// `GET /jobs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobIdList {
    /// Every job with its state.
    pub jobs: Vec<JobIdWithStatus>,
}

/// A job id with its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobIdWithStatus {
    /// Job id.
    pub id: String,
    /// Job state.
    pub status: JobState,
}

/// `GET /jobs/overview`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobsOverview {
    /// One entry per job known to the cluster.
    pub jobs: Vec<JobOverview>,
}

/// A job in `GET /jobs/overview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JobOverview {
    /// Job id.
    pub jid: String,
    /// Job name.
    #[serde(default)]
    pub name: String,
    /// Job state.
    pub state: JobState,
    /// Start time, epoch milliseconds.
    #[serde(default)]
    pub start_time: i64,
    /// End time, epoch milliseconds, -1 while running.
    #[serde(default)]
    pub end_time: i64,
    /// Duration in milliseconds.
    #[serde(default)]
    pub duration: i64,
    /// Last state change, epoch milliseconds.
    #[serde(default)]
    pub last_modification: i64,
    /// Task counts per task state, plus `total`.
    #[serde(default)]
    pub tasks: BTreeMap<String, i64>,
}

/// `GET /jobs/:jobid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetails {
    /// Job id.
    pub jid: String,
    /// Job name.
    #[serde(default)]
    pub name: String,
    /// Whether the job can be stopped (all sources support it).
    #[serde(rename = "isStoppable", default)]
    pub is_stoppable: bool,
    /// Job state.
    pub state: JobState,
    /// `STREAMING` or `BATCH`.
    #[serde(rename = "job-type", default)]
    pub job_type: Option<String>,
    /// Start time, epoch milliseconds.
    #[serde(rename = "start-time", default)]
    pub start_time: i64,
    /// End time, epoch milliseconds, -1 while running.
    #[serde(rename = "end-time", default)]
    pub end_time: i64,
    /// Duration in milliseconds.
    #[serde(default)]
    pub duration: i64,
    /// Maximum parallelism.
    #[serde(rename = "maxParallelism", default)]
    pub max_parallelism: i64,
    /// Server time of the answer, epoch milliseconds.
    #[serde(default)]
    pub now: i64,
    /// When the job entered each state, epoch milliseconds.
    #[serde(default)]
    pub timestamps: BTreeMap<String, i64>,
    /// The job's vertices.
    #[serde(default)]
    pub vertices: Vec<JobVertex>,
    /// Vertex counts per state.
    #[serde(rename = "status-counts", default)]
    pub status_counts: BTreeMap<String, i64>,
    /// The job plan.
    #[serde(default)]
    pub plan: Value,
}

/// A vertex in [`JobDetails`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobVertex {
    /// Vertex id, used with `/jobs/:jobid/vertices/:vertexid/...`.
    pub id: String,
    /// Vertex name.
    pub name: String,
    /// Parallelism.
    pub parallelism: u32,
    /// Maximum parallelism.
    #[serde(rename = "maxParallelism")]
    pub max_parallelism: i64,
    /// Vertex execution state, e.g. `RUNNING`.
    pub status: String,
    /// Start time, epoch milliseconds.
    #[serde(rename = "start-time")]
    pub start_time: i64,
    /// End time, epoch milliseconds.
    #[serde(rename = "end-time")]
    pub end_time: i64,
    /// Duration in milliseconds.
    pub duration: i64,
    /// Subtask counts per state.
    pub tasks: BTreeMap<String, i64>,
    /// I/O metrics.
    pub metrics: Value,
}

/// `GET /jobs/:jobid/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatusInfo {
    /// Job state.
    pub status: JobState,
}

/// `GET /jobs/:jobid/exceptions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobExceptions {
    /// The job's exception history, newest first.
    pub exception_history: ExceptionHistory,
}

impl JobExceptions {
    /// The most recent exception, if any.
    pub fn latest(&self) -> Option<&ExceptionEntry> {
        self.exception_history.entries.first()
    }
}

/// Exception history of a job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExceptionHistory {
    /// Entries, newest first.
    pub entries: Vec<ExceptionEntry>,
    /// Whether older entries were left out.
    pub truncated: bool,
}

/// One failure in a job's exception history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExceptionEntry {
    /// Java class of the exception.
    pub exception_name: String,
    /// The stack trace, starting with `class: message`.
    pub stacktrace: String,
    /// When it happened, epoch milliseconds.
    pub timestamp: i64,
    /// Task that failed, if the failure is local to a task.
    pub task_name: Option<String>,
    /// Endpoint (host:port) of the failed task.
    pub endpoint: Option<String>,
    /// TaskManager of the failed task.
    pub task_manager_id: Option<String>,
    /// Labels attached by failure enrichers.
    pub failure_labels: BTreeMap<String, String>,
    /// Exceptions that happened concurrently.
    pub concurrent_exceptions: Vec<ExceptionEntry>,
}

/// Status of an asynchronous operation or result (`{"id": "IN_PROGRESS" | "COMPLETED"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QueueStatusId {
    /// Still running.
    InProgress,
    /// Done (successfully or not: look at the operation).
    Completed,
}

/// The `status` object of asynchronous results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// The status.
    pub id: QueueStatusId,
}

/// `GET /jobs/:jobid/execution-result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobExecutionResult {
    /// Whether the job has finished.
    pub status: QueueStatus,
    /// The result, once the job reached a globally terminal state.
    #[serde(rename = "job-execution-result", default)]
    pub job_execution_result: Option<JobResult>,
}

/// The result of a finished job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct JobResult {
    /// Job id.
    pub id: String,
    /// Final application status: `SUCCEEDED`, `FAILED`, `CANCELED`, `UNKNOWN`.
    pub application_status: String,
    /// Accumulator results (serialized).
    pub accumulator_results: Value,
    /// Net runtime in milliseconds.
    pub net_runtime: i64,
    /// Failure cause when the job failed.
    pub failure_cause: Option<SerializedThrowable>,
}

/// A Java throwable as Flink sends it in asynchronous results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SerializedThrowable {
    /// Java class name.
    pub class: Option<String>,
    /// Stack trace text, starting with `class: message`.
    #[serde(rename = "stack-trace")]
    pub stack_trace: Option<String>,
    /// Base64 of the Java-serialized throwable.
    #[serde(rename = "serialized-throwable")]
    pub serialized_throwable: Option<String>,
}

impl SerializedThrowable {
    /// The first line of the stack trace (`class: message`), or the class name.
    pub fn summary(&self) -> String {
        if let Some(line) = self
            .stack_trace
            .as_deref()
            .and_then(|s| s.lines().next())
            .filter(|l| !l.trim().is_empty())
        {
            return line.trim().to_string();
        }
        self.class
            .clone()
            .unwrap_or_else(|| "unknown failure".to_string())
    }
}

/// `{"request-id": ...}`: the trigger id of an asynchronous operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TriggerResponse {
    /// The trigger id, used to poll the operation.
    #[serde(rename = "request-id")]
    pub request_id: String,
}

/// The result of polling an asynchronous operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AsyncOperation<T> {
    /// Whether the operation completed.
    pub status: QueueStatus,
    /// The outcome, present once completed.
    #[serde(default = "Option::default")]
    pub operation: Option<T>,
}

impl<T> AsyncOperation<T> {
    /// True once the operation completed (successfully or not).
    pub fn is_completed(&self) -> bool {
        self.status.id == QueueStatusId::Completed
    }
}

/// Outcome of a savepoint or stop-with-savepoint operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SavepointInfo {
    /// Where the savepoint was written (on success).
    pub location: Option<String>,
    /// Why it failed (on failure).
    #[serde(rename = "failure-cause")]
    pub failure_cause: Option<SerializedThrowable>,
}

/// Outcome of a manually triggered checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckpointInfo {
    /// The id of the completed checkpoint.
    #[serde(rename = "checkpointId")]
    pub checkpoint_id: Option<i64>,
    /// Why it failed (on failure).
    #[serde(rename = "failure-cause")]
    pub failure_cause: Option<SerializedThrowable>,
}

/// Outcome of an operation that only reports failure (savepoint disposal, dataset delete).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OperationInfo {
    /// Why it failed (on failure).
    #[serde(rename = "failure-cause")]
    pub failure_cause: Option<SerializedThrowable>,
}

/// Something that may carry a failure cause; used to turn completed-but-failed operations
/// into [`crate::FlinkError::OperationFailed`].
pub trait OperationOutcome {
    /// The failure cause, if the operation failed.
    fn failure(&self) -> Option<&SerializedThrowable>;
}

impl OperationOutcome for SavepointInfo {
    fn failure(&self) -> Option<&SerializedThrowable> {
        self.failure_cause.as_ref()
    }
}

impl OperationOutcome for CheckpointInfo {
    fn failure(&self) -> Option<&SerializedThrowable> {
        self.failure_cause.as_ref()
    }
}

impl OperationOutcome for OperationInfo {
    fn failure(&self) -> Option<&SerializedThrowable> {
        self.failure_cause.as_ref()
    }
}

/// Savepoint format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SavepointFormat {
    /// Portable across state backends.
    Canonical,
    /// The state backend's native format (faster).
    Native,
}

/// Body of `POST /jobs/:jobid/savepoints`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SavepointRequest {
    /// Target directory; defaults to the cluster's `execution.checkpointing.savepoint-dir`.
    #[serde(rename = "target-directory", skip_serializing_if = "Option::is_none")]
    pub target_directory: Option<String>,
    /// Cancel the job after the savepoint (deprecated in Flink; prefer stop).
    #[serde(rename = "cancel-job", skip_serializing_if = "Option::is_none")]
    pub cancel_job: Option<bool>,
    /// Savepoint format.
    #[serde(rename = "formatType", skip_serializing_if = "Option::is_none")]
    pub format_type: Option<SavepointFormat>,
    /// Idempotency key: triggering again with the same id returns the same operation.
    #[serde(rename = "triggerId", skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
}

/// Body of `POST /jobs/:jobid/stop` (stop with savepoint).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StopRequest {
    /// Target directory; defaults to the cluster's `execution.checkpointing.savepoint-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_directory: Option<String>,
    /// Emit MAX_WATERMARK before the savepoint (flushes event-time timers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain: Option<bool>,
    /// Savepoint format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_type: Option<SavepointFormat>,
    /// Idempotency key: triggering again with the same id returns the same operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
}

/// Body of `POST /jobs/:jobid/checkpoints` (manual checkpoint).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckpointRequest {
    /// `CONFIGURED`, `FULL` or `INCREMENTAL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_type: Option<String>,
    /// Idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
}

/// `GET /jobs/:jobid/checkpoints`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckpointStatistics {
    /// Counts per checkpoint status.
    pub counts: CheckpointCounts,
    /// Latest checkpoints of each kind.
    pub latest: LatestCheckpoints,
    /// Recent checkpoints, newest first.
    pub history: Vec<CheckpointStats>,
    /// Size and duration summaries.
    pub summary: Value,
}

/// Checkpoint counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckpointCounts {
    /// Restores from a checkpoint or savepoint.
    pub restored: i64,
    /// All triggered checkpoints.
    pub total: i64,
    /// Checkpoints in progress.
    pub in_progress: i64,
    /// Completed checkpoints.
    pub completed: i64,
    /// Failed checkpoints.
    pub failed: i64,
}

/// The latest checkpoints of each kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LatestCheckpoints {
    /// Latest completed checkpoint.
    pub completed: Option<CheckpointStats>,
    /// Latest completed savepoint.
    pub savepoint: Option<CheckpointStats>,
    /// Latest failed checkpoint.
    pub failed: Option<CheckpointStats>,
    /// What the job was restored from, if anything.
    pub restored: Option<RestoredCheckpoint>,
}

/// One checkpoint's statistics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckpointStats {
    /// Checkpoint id.
    pub id: i64,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    pub status: String,
    /// Whether it is a savepoint.
    pub is_savepoint: bool,
    /// `CHECKPOINT`, `SAVEPOINT`, `SYNC_SAVEPOINT`, ...
    pub checkpoint_type: String,
    /// Trigger time, epoch milliseconds.
    pub trigger_timestamp: i64,
    /// Time of the latest acknowledgement, epoch milliseconds.
    pub latest_ack_timestamp: i64,
    /// Checkpointed (incremental) size in bytes.
    pub checkpointed_size: i64,
    /// Full state size in bytes.
    pub state_size: i64,
    /// End-to-end duration in milliseconds.
    pub end_to_end_duration: i64,
    /// Number of subtasks.
    pub num_subtasks: i64,
    /// Subtasks that acknowledged.
    pub num_acknowledged_subtasks: i64,
    /// External path (completed checkpoints and savepoints).
    pub external_path: Option<String>,
    /// Whether the checkpoint has been discarded.
    pub discarded: Option<bool>,
    /// Failure time (failed checkpoints).
    pub failure_timestamp: Option<i64>,
    /// Failure message (failed checkpoints).
    pub failure_message: Option<String>,
}

/// The checkpoint or savepoint a job was restored from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RestoredCheckpoint {
    /// Checkpoint id.
    pub id: i64,
    /// Restore time, epoch milliseconds.
    pub restore_timestamp: i64,
    /// Whether it was a savepoint.
    pub is_savepoint: bool,
    /// Its path.
    pub external_path: Option<String>,
}

/// `GET /jobs/:jobid/checkpoints/config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckpointConfig {
    /// `exactly_once` or `at_least_once`.
    pub mode: String,
    /// Checkpoint interval in milliseconds (a very large value when disabled).
    pub interval: i64,
    /// Checkpoint timeout in milliseconds.
    pub timeout: i64,
    /// Minimum pause between checkpoints in milliseconds.
    pub min_pause: i64,
    /// Maximum concurrent checkpoints.
    pub max_concurrent: i64,
    /// Retention of checkpoints when the job ends.
    pub externalization: ExternalizationConfig,
    /// State backend, e.g. `HashMapStateBackend`.
    pub state_backend: String,
    /// Checkpoint storage, e.g. `FileSystemCheckpointStorage`.
    pub checkpoint_storage: String,
    /// Whether unaligned checkpoints are enabled.
    pub unaligned_checkpoints: bool,
    /// Failed checkpoints tolerated before the job fails.
    pub tolerable_failed_checkpoints: i64,
}

/// Checkpoint retention settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalizationConfig {
    /// Whether completed checkpoints are retained.
    pub enabled: bool,
    /// Whether they are deleted when the job is cancelled.
    pub delete_on_cancellation: bool,
}

/// `GET`/`PUT /jobs/:jobid/resource-requirements`: per vertex id.
pub type ResourceRequirements = BTreeMap<String, VertexResourceRequirements>;

/// Resource requirements of one vertex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VertexResourceRequirements {
    /// Parallelism bounds.
    pub parallelism: ParallelismBounds,
}

/// Lower and upper bound of a vertex's parallelism.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParallelismBounds {
    /// Lower bound.
    pub lower_bound: u32,
    /// Upper bound.
    pub upper_bound: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_real_flink_bodies() {
        let ov: JobsOverview = serde_json::from_str(
            r#"{"jobs":[{"jid":"00000000000000000000000000000a01","name":"n","jobType":"STREAMING","schedulerType":"Default","start-time":1,"end-time":-1,"duration":6551,"state":"RUNNING","last-modification":2,"tasks":{"running":4,"total":4},"pending-operators":0}]}"#,
        )
        .unwrap();
        assert_eq!(ov.jobs[0].state, JobState::Running);
        assert_eq!(ov.jobs[0].tasks["total"], 4);

        let op: AsyncOperation<SavepointInfo> = serde_json::from_str(
            r#"{"status":{"id":"COMPLETED"},"operation":{"location":"file:/tmp/sp/savepoint-000000-93b2310d51b0"}}"#,
        )
        .unwrap();
        assert!(op.is_completed());
        assert_eq!(
            op.operation.unwrap().location.as_deref(),
            Some("file:/tmp/sp/savepoint-000000-93b2310d51b0")
        );
        let pending: AsyncOperation<SavepointInfo> =
            serde_json::from_str(r#"{"status":{"id":"IN_PROGRESS"}}"#).unwrap();
        assert!(!pending.is_completed());

        let st: JobState = serde_json::from_str(r#""SOMETHING_NEW""#).unwrap();
        assert_eq!(st, JobState::Unknown);
    }

    #[test]
    fn jar_run_request_uses_flink_names_and_skips_unset_fields() {
        let req = JarRunRequest {
            job_id: Some("0".repeat(32)),
            program_args_list: vec!["--out".into(), "/x".into()],
            claim_mode: Some(ClaimMode::NoClaim),
            ..JarRunRequest::default()
        };
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"programArgsList": ["--out", "/x"], "jobId": "0".repeat(32), "claimMode": "NO_CLAIM"})
        );
        let up = JarUploadResponse {
            filename: "/tmp/x/flink-web-upload/abc_job.jar".into(),
            status: "success".into(),
        };
        assert_eq!(up.jar_id(), "abc_job.jar");
    }
}
