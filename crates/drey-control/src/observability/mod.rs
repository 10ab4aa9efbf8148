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
use std::collections::{BTreeMap, VecDeque};
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
    /// Each vertex of the running job (empty while it does not run).
    pub vertices: Vec<VertexFigures>,
}

/// One vertex of a running job, its subtasks' metrics aggregated: what the
/// autoscaler decides from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VertexFigures {
    /// Flink's vertex id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its current parallelism.
    pub parallelism: u32,
    /// Its max parallelism (key groups), when known.
    pub max_parallelism: Option<u32>,
    /// The vertices feeding it (none for a source).
    pub inputs: Vec<String>,
    /// The subtasks' average busy time, 0..1.
    pub busy_ratio: Option<f64>,
    /// The subtasks' average back-pressured time, 0..1.
    pub backpressure_ratio: Option<f64>,
    /// Records it takes in per second, all subtasks.
    pub records_in_per_second: Option<f64>,
    /// Records it emits per second, all subtasks.
    pub records_out_per_second: Option<f64>,
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
/// once per round) and `/metrics` and service discovery (which read them);
/// and, per running job, the vertex figures of recent rounds, which the
/// autoscaler averages.
#[derive(Clone, Debug, Default)]
pub struct Board {
    latest: Arc<RwLock<Arc<Observations>>>,
    history: Arc<RwLock<History>>,
}

/// Recent rounds' vertex figures per job (subject and Flink job id).
type History = BTreeMap<(Subject, String), VecDeque<VertexSample>>;

/// One round's figures of a running job's vertices.
#[derive(Clone, Debug, PartialEq)]
pub struct VertexSample {
    /// When the round ended.
    pub at: Timestamp,
    /// Every vertex, as seen.
    pub vertices: Vec<VertexFigures>,
}

/// How far back the vertex history reaches: the longest metrics window an
/// autoscaler may average over.
pub const HISTORY_SPAN: std::time::Duration = std::time::Duration::from_secs(3600);

/// At most this many rounds are kept per job (an hour at 2 s rounds).
const HISTORY_ROUNDS: usize = 1800;

impl Board {
    /// What the last round saw (empty until the first round, and on a
    /// replica that does not lead).
    pub fn latest(&self) -> Arc<Observations> {
        self.latest
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Publishes a round, adding its running jobs' vertex figures to their
    /// history (a job not running in this round loses its history).
    pub fn publish(&self, observations: Observations) {
        if let Some(at) = observations.at {
            let mut history = self.history.write().unwrap_or_else(|p| p.into_inner());
            let mut kept = History::new();
            for (subject, look) in &observations.jobs {
                let JobLook::Seen(f) = look else { continue };
                if f.state != "RUNNING" || f.vertices.is_empty() {
                    continue;
                }
                let key = (subject.clone(), f.job_id.clone());
                let mut rounds = history.remove(&key).unwrap_or_default();
                rounds.push_back(VertexSample {
                    at,
                    vertices: f.vertices.clone(),
                });
                let span = i64::try_from(HISTORY_SPAN.as_millis()).unwrap_or(i64::MAX);
                while rounds.len() > HISTORY_ROUNDS
                    || rounds
                        .front()
                        .is_some_and(|r| at.millis() - r.at.millis() > span)
                {
                    rounds.pop_front();
                }
                kept.insert(key, rounds);
            }
            *history = kept;
        }
        let new = Arc::new(observations);
        match self.latest.write() {
            Ok(mut l) => *l = new,
            Err(p) => *p.into_inner() = new,
        }
    }

    /// The recent rounds' vertex figures of `job_id` of `subject`, oldest
    /// first (empty when it was not seen running).
    pub fn vertex_history(&self, subject: &Subject, job_id: &str) -> Vec<VertexSample> {
        let history = self.history.read().unwrap_or_else(|p| p.into_inner());
        history
            .get(&(subject.clone(), job_id.to_owned()))
            .map(|rounds| rounds.iter().cloned().collect())
            .unwrap_or_default()
    }
}
