//! Prometheus metrics: request counts and latencies by route and status,
//! and the figures of every job and cluster as the job watch last saw them
//! (drey_control::observability: a scrape of `/metrics` never reaches
//! Flink). The registry belongs to the server instance (no global
//! recorder), so several servers in one process — as in tests — never mix
//! their figures.

use drey_control::observability::{JobLook, Observations};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::gauge::Gauge as FloatGaugeBase;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

type FloatGauge = FloatGaugeBase<f64, AtomicU64>;

/// Labels of a job metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// The application's or statement's organization.
    pub organization: String,
    /// Its environment.
    pub environment: String,
    /// Its name.
    pub name: String,
    /// `application` or `statement`.
    pub kind: String,
}

/// Labels of `drey_job_state`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobStateLabels {
    /// The application's or statement's organization.
    pub organization: String,
    /// Its environment.
    pub environment: String,
    /// Its name.
    pub name: String,
    /// `application` or `statement`.
    pub kind: String,
    /// Flink's job state.
    pub state: String,
}

/// Labels of a cluster metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    /// The organization the cluster serves (empty when not known).
    pub organization: String,
    /// drey's id of the cluster.
    pub cluster: String,
}

/// A registry of the job and cluster figures of one scrape; its names
/// (`drey_job_up`, ...) are a contract (docs/observability.md).
fn job_registry(observations: &Observations, org: Option<&str>) -> Registry {
    let mut registry = Registry::with_prefix("drey");
    let gauge = |registry: &mut Registry, name: &str, help: &str| {
        let family = Family::<JobLabels, FloatGauge>::default();
        registry.register(name, help, family.clone());
        family
    };
    let up = gauge(
        &mut registry,
        "job_up",
        "1 while the job is RUNNING, else 0",
    );
    let state = Family::<JobStateLabels, Gauge>::default();
    registry.register(
        "job_state",
        "1 for the job's current Flink state",
        state.clone(),
    );
    let restarts = Family::<JobLabels, Counter>::default();
    registry.register(
        "job_restarts",
        "Restarts of the job since it was submitted (Flink's numRestarts)",
        restarts.clone(),
    );
    let uptime = gauge(
        &mut registry,
        "job_uptime_seconds",
        "Seconds since the job started RUNNING",
    );
    let cp_age = gauge(
        &mut registry,
        "job_last_checkpoint_age_seconds",
        "Seconds since the newest completed checkpoint",
    );
    let cp_duration = gauge(
        &mut registry,
        "job_last_checkpoint_duration_seconds",
        "End-to-end duration of the newest completed checkpoint",
    );
    let cp_size = gauge(
        &mut registry,
        "job_last_checkpoint_size_bytes",
        "Size of the newest completed checkpoint",
    );
    let cp_failed = Family::<JobLabels, Counter>::default();
    registry.register(
        "job_checkpoints_failed",
        "Checkpoints of the job that failed",
        cp_failed.clone(),
    );
    let records_in = gauge(
        &mut registry,
        "job_records_in_per_second",
        "Records the job's sources emit per second",
    );
    let records_out = gauge(
        &mut registry,
        "job_records_out_per_second",
        "Records the job's sinks take per second",
    );
    let busy = gauge(
        &mut registry,
        "job_busy_ratio",
        "Busy time of the busiest subtask of any vertex, 0..1",
    );
    let backpressure = gauge(
        &mut registry,
        "job_backpressure_ratio",
        "Back-pressured time of the most back-pressured subtask of any vertex, 0..1",
    );
    let taskmanagers = Family::<ClusterLabels, Gauge>::default();
    registry.register(
        "cluster_taskmanagers",
        "TaskManagers registered with the cluster",
        taskmanagers.clone(),
    );
    let slots_free = Family::<ClusterLabels, Gauge>::default();
    registry.register(
        "cluster_slots_free",
        "Free task slots of the cluster",
        slots_free.clone(),
    );
    let visible = |o: &str| org.is_none_or(|org| org == o);
    for (subject, look) in &observations.jobs {
        if !visible(&subject.organization) {
            continue;
        }
        let labels = JobLabels {
            organization: subject.organization.clone(),
            environment: subject.environment.clone(),
            name: subject.name.clone(),
            kind: subject.kind.as_str().to_owned(),
        };
        let f = match look {
            JobLook::Seen(f) => f,
            JobLook::Failed { .. } => {
                up.get_or_create(&labels).set(0.0);
                state
                    .get_or_create(&JobStateLabels {
                        state: "FAILED".to_owned(),
                        organization: labels.organization.clone(),
                        environment: labels.environment.clone(),
                        name: labels.name.clone(),
                        kind: labels.kind.clone(),
                    })
                    .set(1);
                continue;
            }
            _ => {
                up.get_or_create(&labels).set(0.0);
                continue;
            }
        };
        up.get_or_create(&labels)
            .set(if f.state == "RUNNING" { 1.0 } else { 0.0 });
        state
            .get_or_create(&JobStateLabels {
                organization: labels.organization.clone(),
                environment: labels.environment.clone(),
                name: labels.name.clone(),
                kind: labels.kind.clone(),
                state: f.state.clone(),
            })
            .set(1);
        restarts.get_or_create(&labels).inc_by(f.restarts);
        uptime.get_or_create(&labels).set(f.uptime_seconds);
        if let Some(c) = &f.last_checkpoint {
            cp_age.get_or_create(&labels).set(c.age_seconds);
            cp_duration.get_or_create(&labels).set(c.duration_seconds);
            cp_size.get_or_create(&labels).set(c.size_bytes as f64);
        }
        cp_failed
            .get_or_create(&labels)
            .inc_by(f.checkpoints_failed);
        for (family, value) in [
            (&records_in, f.records_in_per_second),
            (&records_out, f.records_out_per_second),
            (&busy, f.busy_ratio),
            (&backpressure, f.backpressure_ratio),
        ] {
            if let Some(v) = value {
                family.get_or_create(&labels).set(v);
            }
        }
    }
    for c in &observations.clusters {
        if !visible(&c.organization) {
            continue;
        }
        let labels = ClusterLabels {
            organization: c.organization.clone(),
            cluster: c.cluster.clone(),
        };
        taskmanagers
            .get_or_create(&labels)
            .set(i64::from(c.taskmanagers));
        slots_free
            .get_or_create(&labels)
            .set(i64::from(c.slots_free));
    }
    registry
}

/// Labels of a request metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// The route template (`/cmf/api/v1/environments/{envName}`), or `unmatched`.
    pub route: String,
    /// The response status code.
    pub status: u16,
}

/// Labels of the leader gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReplicaLabels {
    /// The replica's id in the reconciler election.
    pub replica: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    leader: Family<ReplicaLabels, Gauge>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
    encode_lock: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Metrics {
    /// A fresh registry with drey's request metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("drey");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_requests",
            "HTTP requests served, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by method, route and status",
            latency.clone(),
        );
        let leader = Family::<ReplicaLabels, Gauge>::default();
        registry.register(
            "leader",
            "1 while this replica runs the reconcilers (holds the lease), else 0",
            leader.clone(),
        );
        Metrics {
            registry,
            leader,
            requests,
            latency,
            encode_lock: Mutex::new(()),
        }
    }

    /// Records one served request.
    pub fn observe(&self, labels: RequestLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// Whether this replica leads, as the scrape sees it.
    pub fn set_leader(&self, replica: &str, leader: bool) {
        self.leader
            .get_or_create(&ReplicaLabels {
                replica: replica.to_owned(),
            })
            .set(i64::from(leader));
    }

    /// The text exposition format: the request metrics, then the figures
    /// of `observations` (those of organization `org` only, when given).
    pub fn encode(&self, observations: &Observations, org: Option<&str>) -> String {
        let _guard = self.encode_lock.lock();
        let mut out = String::new();
        if prometheus_client::encoding::text::encode_registry(&mut out, &self.registry).is_err() {
            out.clear();
        }
        let jobs = job_registry(observations, org);
        if prometheus_client::encoding::text::encode(&mut out, &jobs).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
