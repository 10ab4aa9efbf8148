//! What drey sees of the jobs it runs, for people who run them: the figures
//! of every application's and statement's job (`/metrics`), the Flink
//! metrics endpoints of the clusters drey started (Prometheus service
//! discovery), and alerts about what went wrong.
//!
//! One [`watch::JobWatch`], on the leader, looks at each cluster's Flink REST
//! API once per reconcile interval and publishes what it saw on the
//! [`Board`]; `/metrics` renders the board (a scrape never reaches Flink),
//! and the alert rules ([`alerts`]) are evaluated from the same look.

pub mod alerts;
pub mod delivery;
pub mod environment_receivers;
mod scrape;
pub mod watch;

use drey_model::Timestamp;
use std::sync::{Arc, RwLock};

/// What a figure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubjectKind {
    /// A FlinkApplication (VVP Deployment).
    Application,
    /// A SQL statement's job.
    Statement,
}

impl SubjectKind {
    /// The `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Application => "application",
            SubjectKind::Statement => "statement",
        }
    }
}

/// An application or statement, by organization, environment and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject {
    /// Application or statement.
    pub kind: SubjectKind,
    /// Its organization.
    pub organization: String,
    /// Its environment.
    pub environment: String,
    /// Its name.
    pub name: String,
}

/// The figures of one job, as one look at its cluster found them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobFigures {
    /// The Flink job id.
    pub job_id: String,
    /// The cluster it runs on (drey's id for it).
    pub cluster: String,
    /// Flink's job state (`RUNNING`, `FAILED`, ...).
    pub state: String,
    /// Restarts since the job was submitted (`numRestarts`).
    pub restarts: u64,
    /// Seconds since the job started, while it runs.
    pub uptime_seconds: f64,
    /// The newest completed checkpoint, if any.
    pub last_checkpoint: Option<CheckpointFigures>,
    /// Checkpoints that failed since the job was submitted.
    pub checkpoints_failed: u64,
    /// Whether the newest checkpoint attempt failed (a failed one is newer
    /// than the newest completed one).
    pub checkpoint_failing: bool,
    /// Records the sources read per second.
    pub records_in_per_second: Option<f64>,
    /// Records the sinks wrote per second.
    pub records_out_per_second: Option<f64>,
    /// The busiest subtask's busy time, 0..1.
    pub busy_ratio: Option<f64>,
    /// The most back-pressured subtask's back-pressured time, 0..1.
    pub backpressure_ratio: Option<f64>,
}

/// The newest completed checkpoint of a job.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckpointFigures {
    /// Seconds since it completed.
    pub age_seconds: f64,
    /// How long it took, end to end.
    pub duration_seconds: f64,
    /// Its size in bytes (checkpointed, as Flink reports it).
    pub size_bytes: u64,
}

/// What one look found of a subject's job.
#[derive(Clone, Debug, PartialEq)]
pub enum JobLook {
    /// The job answered.
    Seen(JobFigures),
    /// Nothing is deployed (suspended, not yet started, finished).
    NotDeployed,
    /// The job ended FAILED and nothing runs any more (a statement's
    /// finished run, as its reconciler recorded it).
    Failed {
        /// The job.
        job_id: String,
        /// Why, as recorded.
        detail: String,
    },
    /// The cluster the job ran on is certainly gone (its processes died).
    ClusterLost(String),
    /// The cluster's processes live but its JobManager did not answer.
    NotAnswering(String),
    /// Nothing certain can be said (a store or backend error).
    Unknown(String),
}

/// The figures of one cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterFigures {
    /// The organization it serves (empty when not known).
    pub organization: String,
    /// drey's id of the cluster (a local cluster id or a registration id).
    pub cluster: String,
    /// Registered TaskManagers.
    pub taskmanagers: u32,
    /// Free task slots.
    pub slots_free: u32,
}

/// A Flink process's own Prometheus endpoint, for service discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsTarget {
    /// The organization the cluster serves (empty when not known: a compute
    /// pool's cluster with no statement on it).
    pub organization: String,
    /// `host:port`.
    pub address: String,
    /// The local cluster's id.
    pub cluster: String,
    /// `jobmanager` or `taskmanager`.
    pub role: String,
    /// The process's index within its role.
    pub index: u32,
}

/// Everything one round of the watch saw.
#[derive(Clone, Debug, Default)]
pub struct Observations {
    /// When the round ended; `None` before the first.
    pub at: Option<Timestamp>,
    /// Every application and statement, with what was seen of its job.
    pub jobs: Vec<(Subject, JobLook)>,
    /// Every cluster that answered.
    pub clusters: Vec<ClusterFigures>,
    /// Flink's own metrics endpoints of the running local clusters.
    pub targets: Vec<MetricsTarget>,
}

/// The latest observations, shared between the watch (which writes them
/// once per round) and `/metrics` and service discovery (which read them).
#[derive(Clone, Debug, Default)]
pub struct Board {
    latest: Arc<RwLock<Arc<Observations>>>,
}

impl Board {
    /// What the last round saw (empty until the first round, and on a
    /// replica that does not lead).
    pub fn latest(&self) -> Arc<Observations> {
        self.latest
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Publishes a round.
    pub fn publish(&self, observations: Observations) {
        let new = Arc::new(observations);
        match self.latest.write() {
            Ok(mut l) => *l = new,
            Err(p) => *p.into_inner() = new,
        }
    }
}
