//! The one error type of the runtime crate.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong finding Flink and running local clusters.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No Flink distribution was found anywhere drey looks.
    #[error(
        "no Flink {version} distribution found (looked at: {}); run scripts/install-flink.sh \
         or set FLINK_HOME (or pass --flink-home)",
        looked_at.join(", ")
    )]
    FlinkNotFound {
        /// The Flink version drey needs.
        version: &'static str,
        /// Where drey looked, in order.
        looked_at: Vec<String>,
    },
    /// A directory given as Flink home is not a Flink distribution.
    #[error("{path} (from {source_name}) is not a Flink distribution: {missing} is missing; run scripts/install-flink.sh or fix FLINK_HOME")]
    InvalidFlinkHome {
        /// The directory.
        path: PathBuf,
        /// Where the path came from (`--flink-home`, `FLINK_HOME`, the default install).
        source_name: &'static str,
        /// What is missing, e.g. `bin/jobmanager.sh`.
        missing: String,
    },
    /// A cluster spec is invalid.
    #[error("invalid cluster spec: {0}")]
    InvalidSpec(String),
    /// A cluster with this id is already running.
    #[error("cluster {id} is already running (REST {rest_url})")]
    AlreadyRunning {
        /// Cluster id.
        id: String,
        /// Its REST URL.
        rest_url: String,
    },
    /// A file or directory operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done, e.g. `cannot write`.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A Flink process could not be spawned.
    #[error("cannot start {what}")]
    Spawn {
        /// Which process, e.g. `the JobManager of cluster c1`.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The cluster was started but did not become ready; it has been torn down.
    #[error("cluster {id} did not start: {reason}\n--- last lines of {} ---\n{log_tail}", log_file.display())]
    StartFailed {
        /// Cluster id.
        id: String,
        /// What went wrong (a process exited, a timeout, ...).
        reason: String,
        /// The log the tail comes from.
        log_file: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },
    /// The cluster did not become ready in time; it has been torn down.
    #[error("cluster {id} was not ready within {waited:?}: {last_seen}\n--- last lines of {} ---\n{log_tail}", log_file.display())]
    StartTimeout {
        /// Cluster id.
        id: String,
        /// How long drey waited.
        waited: Duration,
        /// The last observation (e.g. `1 of 2 TaskManagers registered`).
        last_seen: String,
        /// The log the tail comes from.
        log_file: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },
    /// `cluster.json` could not be read or written.
    #[error("cluster record {path} is unreadable")]
    Record {
        /// The record file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The distribution's `conf/config.yaml` could not be read.
    #[error("cannot parse Flink configuration {path}")]
    FlinkConfig {
        /// The configuration file.
        path: PathBuf,
        /// The YAML error.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// Processes were still alive after SIGKILL.
    #[error("cluster {id}: processes {pids:?} are still alive after SIGKILL")]
    StopFailed {
        /// Cluster id.
        id: String,
        /// The surviving pids.
        pids: Vec<u32>,
    },
    /// A signal could not be sent.
    #[error("cannot signal process group {pgid}")]
    Signal {
        /// The process group.
        pgid: u32,
        /// The errno.
        #[source]
        source: nix::Error,
    },
    /// drey's SQL gateway jar was not found anywhere drey looks.
    #[error(
        "drey's SQL gateway jar was not found (looked at: {}); run scripts/build-sql-gateway.sh \
         or set DREY_SQL_GATEWAY_JAR",
        looked_at.join(", ")
    )]
    SqlGatewayJarNotFound {
        /// Where drey looked, in order.
        looked_at: Vec<String>,
    },
    /// The SQL gateway was started but did not become ready; it has been killed.
    #[error("the SQL gateway did not start: {reason}\n--- last lines of {} ---\n{log_tail}", log_file.display())]
    SqlGatewayStartFailed {
        /// What went wrong (the process exited, a timeout, ...).
        reason: String,
        /// The log the tail comes from.
        log_file: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },
    /// The SQL gateway's process could not be stopped.
    #[error("the SQL gateway (pid {pid}) is still alive after SIGKILL")]
    SqlGatewayStopFailed {
        /// Its pid.
        pid: u32,
    },
    /// A cluster's certificates could not be made.
    #[error("cannot make TLS certificates: {0}")]
    Tls(String),
    /// The cluster records could not be read or written (the store).
    #[error("cluster records: {0}")]
    Registry(String),
    /// The cluster runs on another host: only a drey there starts or stops
    /// its processes.
    #[error("Flink cluster {id} runs on host '{host}', not on this one ('{here}'); only a drey server there can stop its processes")]
    Elsewhere {
        /// The cluster.
        id: String,
        /// The host that runs it.
        host: String,
        /// This host.
        here: String,
    },
    /// The cluster's processes live but its network namespace is down and could not be
    /// repaired: its jobs may run on, so nothing of it is stopped or started again.
    #[error("the network namespace of Flink cluster {id} is down and could not be repaired; its processes live, so drey leaves them alone and tries again")]
    NetworkDown {
        /// The cluster.
        id: String,
    },
    /// A cluster cannot be started isolated as drey is set up to.
    #[error("{0}")]
    Isolation(String),
    /// A talk with the cluster's REST API failed.
    #[error(transparent)]
    Flink(#[from] drey_flink::FlinkError),
}

impl RuntimeError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        RuntimeError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
