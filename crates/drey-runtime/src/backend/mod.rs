//! The seam between the reconcilers and where Flink runs.
//!
//! A [`JobBackend`] is asked, at the level of one deployment, for what
//! differs between the places a job can run: getting a cluster ready for it,
//! looking at that cluster (seen, gone or unknown), taking down what the
//! deployment started, where its savepoints and checkpoints live, and how
//! their files are disposed of. Everything said to the job itself — the jar
//! upload, the submission with drey's deterministic job id, its status,
//! savepoints, stop-with-savepoint, cancel — goes through the JobManager's
//! REST API of the [`ClusterHandle`] the backend hands out: every backend
//! drey drives exposes one, so that code exists once and no reconciler knows
//! which backend it drives.
//!
//! - [`local`]: clusters drey starts as processes on this machine (an
//!   application's own cluster, a compute pool's session cluster).
//! - [`existing`]: a Flink session cluster drey did not start, reached
//!   through its REST endpoint; drey submits jobs to it and never starts,
//!   stops or restarts it.
//! - [`kubernetes`]: not a backend yet: how the operator's resources are
//!   read back and changed, the part of one that can be tested without an
//!   API server.

pub mod existing;
pub mod kubernetes;
pub mod local;

use crate::{ClusterSpec, RuntimeError};
use async_trait::async_trait;
use drey_flink::FlinkClient;
use drey_model::Observation;
use std::time::Duration;

/// How soon a starting cluster is looked at again.
pub const START_POLL: Duration = Duration::from_millis(500);

/// How soon a cluster held for lack of memory is looked at again.
pub const ADMISSION_POLL: Duration = Duration::from_secs(5);

/// How long one observation call may take: a JobManager that does not answer
/// costs a pass a few seconds, and the controller (not the client) decides
/// when to look again.
pub const OBSERVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A cluster that answered a look (or was just made ready): where its REST
/// API is and clients to speak to it.
#[derive(Clone, Debug)]
pub struct ClusterHandle {
    id: String,
    rest_url: String,
    client: FlinkClient,
    observer: FlinkClient,
}

impl ClusterHandle {
    /// A handle on cluster `id` whose REST API `client` speaks to; looks
    /// use the same access with [`OBSERVE_TIMEOUT`] and no retries.
    pub fn new(id: impl Into<String>, client: FlinkClient) -> Self {
        let observer = observer_client(client.base_url(), client.client_config())
            .unwrap_or_else(|_| client.clone());
        ClusterHandle {
            id: id.into(),
            rest_url: client.base_url().to_owned(),
            client,
            observer,
        }
    }

    /// The cluster's id within its backend.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The REST base URL, as shown to users.
    pub fn rest_url(&self) -> String {
        self.rest_url.clone()
    }

    /// A client for actions (uploads, submissions, savepoints), with the
    /// backend's timeouts and retries.
    pub fn client(&self) -> FlinkClient {
        self.client.clone()
    }

    /// A client for one look: [`OBSERVE_TIMEOUT`] and no retries.
    pub fn observer(&self) -> &FlinkClient {
        &self.observer
    }
}

/// Where a cluster start is after one step.
#[derive(Debug)]
pub enum StartStep {
    /// Processes were spawned (or a running cluster adopted): record that and
    /// look again after [`START_POLL`].
    Launched,
    /// Not ready yet: look again after [`START_POLL`].
    Waiting,
    /// Ready to take the job.
    Ready(Box<ClusterHandle>),
    /// It will not become ready (what is left of it was stopped): record why
    /// and try again after a backoff.
    Failed(String),
    /// Not launched: it does not fit in memory now. The object waits; look
    /// again after [`ADMISSION_POLL`].
    Held(String),
}

/// Where an application's state goes, as Flink URIs (`file://`, `s3://`,
/// `hdfs://`, ...). `None` leaves it to the cluster's own configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateLocations {
    /// `execution.checkpointing.savepoint-dir` and the target of savepoints.
    pub savepoints: Option<String>,
    /// `execution.checkpointing.dir`: retained checkpoints.
    pub checkpoints: Option<String>,
}

/// Whose state: an object (an application, a statement) of an environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateOwner<'a> {
    /// Its organization.
    pub organization: &'a str,
    /// Its environment.
    pub environment: &'a str,
    /// Its uid, as it names the object's state directories.
    pub uid: &'a str,
}

/// What drey asks of the place a deployment runs. `owner` is the object whose
/// state it is (an application, a statement).
#[async_trait]
pub trait JobBackend: Send + Sync {
    /// A short description for messages ("this machine", "Flink cluster 'x'").
    fn describe(&self) -> String;

    /// One step of getting cluster `spec.id` ready for a deployment of its
    /// own; `launched` is what the caller recorded after an earlier
    /// [`StartStep::Launched`]. Never blocks for the whole start.
    async fn start_step(
        &self,
        spec: &ClusterSpec,
        launched: bool,
        timeout: Duration,
    ) -> Result<StartStep, RuntimeError>;

    /// One look at cluster `id`: *seen* with a handle when it is there,
    /// *gone* only when the backend is certain (its processes are dead),
    /// *unknown* otherwise. A job on a seen cluster is looked at through the
    /// handle.
    async fn look(&self, id: &str) -> Observation<ClusterHandle>;

    /// Takes down cluster `id` that a deployment started for itself (and
    /// what is left of it when it is lost). A backend that runs jobs on a
    /// cluster it shares never stops that cluster.
    async fn tear_down(&self, id: &str, grace: Duration) -> Result<(), RuntimeError>;

    /// Whether the backend starts and stops clusters of its own, so that a
    /// JobManager silent past the hung bound may be taken down and the job
    /// started again. On a cluster drey does not own, silence is only ever
    /// reported: a second job must never be submitted beside one that may
    /// still run.
    fn owns_clusters(&self) -> bool;

    /// Where `owner`'s savepoints and checkpoints go.
    fn state_locations(&self, owner: &StateOwner<'_>) -> StateLocations;

    /// `owner`'s savepoint and checkpoint directories when they are on this
    /// machine's file system, where drey can scan them for the newest
    /// retained checkpoint and remove what nothing needs; `None` when the
    /// state lives where only the cluster reaches it.
    fn local_state_dirs(&self, owner: &StateOwner<'_>) -> Option<LocalStateDirs>;

    /// Disposes of the files of the savepoint at `location`, when they are
    /// drey's to dispose of. Failures are logged, never raised: retention
    /// never stops a reconcile.
    async fn dispose_savepoint(&self, owner: &StateOwner<'_>, location: &str);
}

/// An owner's state directories on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalStateDirs {
    /// Its savepoints (`savepoint-*` dirs drey may dispose of).
    pub savepoints: std::path::PathBuf,
    /// Its retained checkpoints (`<job>/chk-N`).
    pub checkpoints: std::path::PathBuf,
}

/// A client for one look at `url` with `base`'s access (credentials, TLS
/// trust): [`OBSERVE_TIMEOUT`] and no retries.
pub fn observer_client(
    url: &str,
    base: &drey_flink::ClientConfig,
) -> Result<FlinkClient, drey_flink::FlinkError> {
    FlinkClient::with_config(
        url,
        drey_flink::ClientConfig {
            request_timeout: OBSERVE_TIMEOUT,
            get_retries: 0,
            ..base.clone()
        },
    )
}
