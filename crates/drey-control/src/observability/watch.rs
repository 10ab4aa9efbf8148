//! The job watch: on the leader, once per reconcile interval, one look at
//! every application's and statement's job and at every running cluster;
//! what it saw goes on the [`Board`] and through the alert rules.
//!
//! A look never acts on a job: a cluster that does not answer is only
//! reported (the reconcilers decide what to do about it).

use super::alerts::AlertEvaluator;
use super::{
    scrape, Board, ClusterFigures, JobLook, MetricsTarget, Observations, Subject, SubjectKind,
};
use crate::reconcile::backends::Backends;
use crate::reconcile::{observer_client_for, recorded_of, LocalClusters};
use crate::Core;
use drey_model::cluster::{ClusterHealth, ConnectionState};
use drey_model::{Kind, Object, Observation, Timestamp};
use drey_runtime::ProcessRole;
use std::collections::BTreeMap;
use std::time::Duration;

/// Watches the jobs drey runs.
pub struct JobWatch {
    core: Core,
    backends: Backends,
    interval: Duration,
    alerts: AlertEvaluator,
}

impl JobWatch {
    /// A watch over the reconcilers' core (its alert writes are fenced) and
    /// the local clusters, looking every `interval`.
    pub fn new(
        core: Core,
        local: LocalClusters,
        interval: Duration,
        alerts: AlertEvaluator,
    ) -> Self {
        JobWatch {
            core,
            backends: Backends::new(local),
            interval,
            alerts,
        }
    }

    fn board(&self) -> &Board {
        self.core.board()
    }

    /// Looks until `stop` turns true. While this replica does not lead, the
    /// board is empty: the leader's figures are the ones that count.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let leads = self.core.leadership().is_none_or(|l| l.is_leader());
            if leads {
                let observations = self.round().await;
                self.alerts.evaluate(&self.core, &observations).await;
                self.board().publish(observations);
            } else {
                self.board().publish(Observations::default());
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// One round: every application, every statement, every cluster.
    pub async fn round(&self) -> Observations {
        let mut jobs = Vec::new();
        // Which organization each local cluster serves, for its labels.
        let mut owners: BTreeMap<String, String> = BTreeMap::new();
        for app in self.objects(Kind::Application).await {
            let subject = subject(SubjectKind::Application, &app);
            let look = self.look_at_application(&app, &mut owners).await;
            jobs.push((subject, look));
        }
        for statement in self.objects(Kind::Statement).await {
            let subject = subject(SubjectKind::Statement, &statement);
            let look = self.look_at_statement(&statement, &mut owners).await;
            jobs.push((subject, look));
        }
        let (mut clusters, targets) = self.local_clusters(&owners).await;
        clusters.extend(self.registered_clusters().await);
        Observations {
            at: Some(Timestamp::now()),
            jobs,
            clusters,
            targets,
        }
    }

    async fn objects(&self, kind: Kind) -> Vec<Object> {
        let keys = match self.core.store().keys(kind).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(%kind, error = %e, "cannot list objects to watch");
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Ok(Some(object)) = self.core.store().get(&key).await {
                out.push(object);
            }
        }
        out
    }

    async fn look_at_application(
        &self,
        app: &Object,
        owners: &mut BTreeMap<String, String>,
    ) -> JobLook {
        let recorded = recorded_of(app);
        // A deployment drey is taking down (suspend, upgrade, delete) is
        // not looked at: its cluster going away is no loss.
        if recorded.stopping.is_some() || recorded.deleting {
            return JobLook::NotDeployed;
        }
        // Lost and not running again yet: drey replaces the cluster within a
        // moment, but the job is down until its new one runs.
        if let Some(lost) = &recorded.lost_cluster {
            return JobLook::ClusterLost(lost.reason.clone());
        }
        let Some(deployment) = recorded.deployment.filter(|d| d.job_submitted) else {
            return JobLook::NotDeployed;
        };
        if deployment.existing_cluster.is_none() {
            owners.insert(deployment.cluster_id.clone(), app.key.org.clone());
        }
        let backend = match self
            .backends
            .of_deployment(&self.core, &app.key.org, &deployment)
            .await
        {
            Ok(b) => b,
            Err(why) => return JobLook::Unknown(why),
        };
        let cluster = match backend.look(&deployment.cluster_id).await {
            Observation::Seen(c) => c,
            Observation::Gone(why) => return JobLook::ClusterLost(why),
            Observation::Unknown(why) => return JobLook::Unknown(why),
        };
        let cluster_name = deployment
            .existing_cluster
            .clone()
            .unwrap_or_else(|| deployment.cluster_id.clone());
        look_at_job(cluster.observer(), &deployment.job_id, &cluster_name).await
    }

    async fn look_at_statement(
        &self,
        statement: &Object,
        owners: &mut BTreeMap<String, String>,
    ) -> JobLook {
        let record = crate::reconcile::statements::record_of(statement);
        let Some(run) = record.run.filter(|r| r.submitted) else {
            return JobLook::NotDeployed;
        };
        if run.finished {
            // A job that ended FAILED stays failed until the statement changes.
            let status = |field: &str| {
                statement
                    .status
                    .get(field)
                    .and_then(serde_json::Value::as_str)
            };
            return match status("phase") {
                Some(crate::reconcile::statements::phase::FAILED) => JobLook::Failed {
                    job_id: run.job_id,
                    detail: status("detail").unwrap_or_default().to_owned(),
                },
                _ => JobLook::NotDeployed,
            };
        }
        let cluster = run
            .cluster_id
            .clone()
            .unwrap_or_else(|| run.rest_url.clone());
        if let Some(id) = &run.cluster_id {
            owners.insert(id.clone(), statement.key.org.clone());
        }
        let client = match observer_client_for(&self.core, &run.rest_url).await {
            Ok(c) => c,
            Err(e) => return JobLook::Unknown(e.to_string()),
        };
        look_at_job(&client, &run.job_id, &cluster).await
    }

    /// The local clusters that run: their TaskManagers and free slots, and
    /// their processes' Prometheus endpoints.
    async fn local_clusters(
        &self,
        owners: &BTreeMap<String, String>,
    ) -> (Vec<ClusterFigures>, Vec<MetricsTarget>) {
        let Ok(local) = self.backends.local() else {
            return (Vec::new(), Vec::new());
        };
        let listed = match local.list().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the local clusters to watch");
                return (Vec::new(), Vec::new());
            }
        };
        let (mut clusters, mut targets) = (Vec::new(), Vec::new());
        for cluster in listed.into_iter().filter(|c| c.alive) {
            let record = cluster.record;
            for process in &record.processes {
                if let Some(port) = process.metrics_port {
                    targets.push(MetricsTarget {
                        organization: owners.get(&record.id).cloned().unwrap_or_default(),
                        address: format!("127.0.0.1:{port}"),
                        cluster: record.id.clone(),
                        role: match process.role {
                            ProcessRole::Jobmanager => "jobmanager",
                            ProcessRole::Taskmanager => "taskmanager",
                        }
                        .to_owned(),
                        index: process.index,
                    });
                }
            }
            let Ok(client) = observer_client_for(&self.core, &record.rest_url()).await else {
                continue;
            };
            if let Ok(overview) = client.overview().await {
                clusters.push(ClusterFigures {
                    organization: owners.get(&record.id).cloned().unwrap_or_default(),
                    cluster: record.id.clone(),
                    taskmanagers: overview.taskmanagers,
                    slots_free: overview.slots_available,
                });
            }
        }
        (clusters, targets)
    }

    /// Registered `flink` clusters, as the cluster health watch last saw
    /// them (it already looks at each once per interval).
    async fn registered_clusters(&self) -> Vec<ClusterFigures> {
        self.objects(Kind::Cluster)
            .await
            .into_iter()
            .filter_map(|c| {
                let health = ClusterHealth::of(&c.status)?;
                (health.state == ConnectionState::Connected).then(|| ClusterFigures {
                    organization: c.key.org.clone(),
                    cluster: c.key.name.clone(),
                    taskmanagers: health.task_managers,
                    slots_free: health.slots_available,
                })
            })
            .collect()
    }
}

async fn look_at_job(client: &drey_flink::FlinkClient, job_id: &str, cluster: &str) -> JobLook {
    match scrape::job(client, job_id, cluster).await {
        Ok(figures) => JobLook::Seen(figures),
        // The cluster answers but no longer knows the job: nothing runs.
        Err(e) if e.is_not_found() => JobLook::NotDeployed,
        Err(e) => JobLook::NotAnswering(format!("{}: {e}", client.base_url())),
    }
}

fn subject(kind: SubjectKind, object: &Object) -> Subject {
    Subject {
        kind,
        organization: object.key.org.clone(),
        environment: object.key.scope.clone(),
        name: object.key.name.clone(),
    }
}
