//! The health watch of `flink` clusters: drey looks at each registered Flink
//! cluster on a timer (`GET /overview`, `GET /jobs/overview` through its
//! REST endpoint), records CONNECTED with the last heartbeat, or
//! DISCONNECTED with why, and an event when the state changes. A cluster
//! that does not answer is only reported: nothing is torn down or moved.
//! Jobs drey did not submit are listed, never touched.

use crate::reconcile::events;
use crate::{store_error, Core};
use drey_model::cluster::{
    ClusterHealth, ClusterJob, ClusterKind, ClusterRegistration, ConnectionState, LifecycleState,
};
use drey_model::event::EventType;
use drey_model::{Error, Kind, Object, Timestamp};
use std::time::Duration;

/// How long one look at a cluster may take.
const LOOK_TIMEOUT: Duration = Duration::from_secs(3);

/// A heartbeat is written at least this often while nothing else changes.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);

/// Watches every registered `flink` cluster of every organization.
pub struct ClusterHealthWatch {
    core: Core,
    interval: Duration,
}

impl ClusterHealthWatch {
    /// A watch over the reconcilers' core (its writes are fenced), looking
    /// every `interval`.
    pub fn new(core: Core, interval: Duration) -> Self {
        ClusterHealthWatch { core, interval }
    }

    /// Looks until `stop` turns true; idles while this replica does not lead.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let leads = self.core.leadership().is_none_or(|l| l.is_leader());
            if leads {
                self.look_at_all().await;
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

    /// One look at every cluster; a store error skips this round.
    pub async fn look_at_all(&self) {
        let keys = match self.core.store().keys(Kind::Cluster).await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list clusters; skipping this health round");
                return;
            }
        };
        for key in keys {
            let cluster = match self.core.store().get(&key).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a cluster; skipping it this round");
                    continue;
                }
            };
            if let Err(e) = self.look_at(&cluster).await {
                tracing::warn!(cluster = %key.name, error = %e, "cannot record a cluster's health");
            }
        }
    }

    async fn look_at(&self, cluster: &Object) -> Result<(), Error> {
        let Ok(registration) = ClusterRegistration::parse(&cluster.spec) else {
            return Ok(());
        };
        if registration.kind != ClusterKind::Flink {
            return Ok(());
        }
        let before = ClusterHealth::of(&cluster.status);
        let now = Timestamp::now();
        let mut health = if registration.lifecycle_state == LifecycleState::Decommissioned {
            ClusterHealth {
                state: ConnectionState::Decommissioned,
                message: None,
                last_heartbeat_timestamp: before.as_ref().and_then(|b| b.last_heartbeat_timestamp),
                ..empty(ConnectionState::Decommissioned)
            }
        } else {
            self.probe(cluster, now).await
        };
        if health.state != ConnectionState::Connected {
            if let Some(b) = &before {
                health.last_heartbeat_timestamp = b.last_heartbeat_timestamp;
                health.flink_version = b.flink_version.clone();
                health.jobs = b.jobs.clone();
            }
        }
        let changed = before.as_ref().map(|b| b.state) != Some(health.state);
        health.since = match (&before, changed) {
            (Some(b), false) => b.since,
            _ => Some(now),
        };
        if !changed && !worth_writing(before.as_ref(), &health, now) {
            return Ok(());
        }
        let status = serde_json::to_value(&health).map_err(|e| Error::Internal(e.to_string()))?;
        self.core
            .store()
            .write_status(&cluster.key, None, status)
            .await
            .map_err(store_error)?;
        if changed {
            let (kind, message) = match health.state {
                ConnectionState::Connected => {
                    (EventType::ClusterConnected, "the cluster answers".into())
                }
                ConnectionState::Disconnected => (
                    EventType::ClusterDisconnected,
                    health.message.clone().unwrap_or_default(),
                ),
                ConnectionState::Decommissioned => {
                    (EventType::ClusterDecommissioned, "decommissioned".into())
                }
            };
            tracing::info!(cluster = %registration.name, state = kind.as_str(), %message, "cluster state changed");
            events::record(
                self.core.store().as_ref(),
                &cluster.key,
                None,
                kind,
                &message,
                None,
            )
            .await?;
        }
        Ok(())
    }

    /// Asks the cluster how it is.
    async fn probe(&self, cluster: &Object, now: Timestamp) -> ClusterHealth {
        let config = drey_flink::ClientConfig {
            connect_timeout: LOOK_TIMEOUT,
            request_timeout: LOOK_TIMEOUT,
            get_retries: 0,
            ..Default::default()
        };
        let client = match self.core.cluster_client(cluster, config).await {
            Ok(c) => c,
            Err(e) => return disconnected(e.to_string()),
        };
        let overview = match client.overview().await {
            Ok(o) => o,
            Err(e) => return disconnected(format!("{} does not answer: {e}", client.base_url())),
        };
        let jobs = match client.jobs_overview().await {
            Ok(j) => j.jobs,
            Err(e) => {
                return disconnected(format!("{} does not list its jobs: {e}", client.base_url()))
            }
        };
        ClusterHealth {
            state: ConnectionState::Connected,
            message: None,
            last_heartbeat_timestamp: Some(now),
            since: None,
            flink_version: Some(overview.flink_version),
            task_managers: overview.taskmanagers,
            slots_total: overview.slots_total,
            slots_available: overview.slots_available,
            jobs: jobs
                .into_iter()
                .map(|j| ClusterJob {
                    job_id: j.jid,
                    name: j.name,
                    state: serde_json::to_value(j.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    managed: false,
                })
                .collect(),
        }
    }
}

fn empty(state: ConnectionState) -> ClusterHealth {
    ClusterHealth {
        state,
        message: None,
        last_heartbeat_timestamp: None,
        since: None,
        flink_version: None,
        task_managers: 0,
        slots_total: 0,
        slots_available: 0,
        jobs: Vec::new(),
    }
}

fn disconnected(message: String) -> ClusterHealth {
    ClusterHealth {
        message: Some(message),
        ..empty(ConnectionState::Disconnected)
    }
}

/// Whether a look that did not change the state is worth a write: what it
/// saw differs, or the recorded heartbeat is getting old.
fn worth_writing(before: Option<&ClusterHealth>, now_seen: &ClusterHealth, now: Timestamp) -> bool {
    let Some(before) = before else {
        return true;
    };
    let seen_differently = before.message != now_seen.message
        || before.flink_version != now_seen.flink_version
        || before.task_managers != now_seen.task_managers
        || before.slots_total != now_seen.slots_total
        || before.slots_available != now_seen.slots_available
        || before.jobs != now_seen.jobs;
    if seen_differently {
        return true;
    }
    match (
        before.last_heartbeat_timestamp,
        now_seen.last_heartbeat_timestamp,
    ) {
        (Some(then), Some(latest)) if latest != then => {
            now.millis() - then.millis() >= HEARTBEAT_EVERY.as_millis() as i64
        }
        _ => false,
    }
}
