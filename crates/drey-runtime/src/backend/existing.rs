//! Jobs on a Flink session cluster drey did not start (standalone on other
//! hosts, a YARN or Kubernetes session), reached through its REST endpoint
//! with the access it was registered with. drey submits jobs to it, stops
//! them, and never starts, stops or restarts the cluster itself.
//!
//! drey cannot see the cluster's processes, so a look is *seen* when the
//! REST API answers and *unknown* otherwise — never *gone*: only Flink
//! saying that a job does not exist makes a job gone. State lives where the
//! registration says (`savepointDir`, any URI the cluster can write), or
//! where the cluster's own configuration puts it.

use super::{ClusterHandle, JobBackend, LocalStateDirs, StartStep, StateLocations, StateOwner};
use crate::{ClusterSpec, RuntimeError};
use async_trait::async_trait;
use drey_flink::FlinkClient;
use drey_model::Observation;
use std::time::Duration;

/// A registered Flink cluster.
#[derive(Clone, Debug)]
pub struct ExistingCluster {
    id: String,
    name: String,
    client: FlinkClient,
    savepoint_dir: Option<String>,
}

impl ExistingCluster {
    /// The cluster registered as `id` (shown as `name`), spoken to with
    /// `client` (its endpoint, credentials and TLS trust); drey's state goes
    /// under `savepoint_dir` when one is given.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        client: FlinkClient,
        savepoint_dir: Option<String>,
    ) -> Self {
        ExistingCluster {
            id: id.into(),
            name: name.into(),
            client,
            savepoint_dir: savepoint_dir.map(|d| d.trim_end_matches('/').to_owned()),
        }
    }

    /// The registration id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn handle(&self) -> ClusterHandle {
        ClusterHandle::new(self.id.clone(), self.client.clone())
    }

    /// `owner`'s directory under the registered savepoint dir.
    fn owner_dir(&self, owner: &str) -> Option<String> {
        self.savepoint_dir.as_ref().map(|d| format!("{d}/{owner}"))
    }
}

#[async_trait]
impl JobBackend for ExistingCluster {
    fn describe(&self) -> String {
        format!("Flink cluster '{}'", self.name)
    }

    /// Nothing to start: ready when it answers.
    async fn start_step(
        &self,
        _spec: &ClusterSpec,
        _launched: bool,
        _timeout: Duration,
    ) -> Result<StartStep, RuntimeError> {
        Ok(match self.look(&self.id).await {
            Observation::Seen(handle) => StartStep::Ready(Box::new(handle)),
            Observation::Gone(_) | Observation::Unknown(_) => StartStep::Waiting,
        })
    }

    async fn look(&self, _id: &str) -> Observation<ClusterHandle> {
        let handle = self.handle();
        match handle.observer().overview().await {
            Ok(_) => Observation::Seen(handle),
            Err(e) => Observation::Unknown(format!("{} does not answer: {e}", self.describe())),
        }
    }

    /// The cluster is not drey's: its jobs are stopped one by one, the
    /// cluster never.
    async fn tear_down(&self, _id: &str, _grace: Duration) -> Result<(), RuntimeError> {
        Ok(())
    }

    fn owns_clusters(&self) -> bool {
        false
    }

    /// Under the cluster's configured dir by uid: that storage is the cluster's, not
    /// drey's, and what it lets each job read is its owner's business.
    fn state_locations(&self, owner: &StateOwner<'_>) -> StateLocations {
        match self.owner_dir(owner.uid) {
            Some(dir) => StateLocations {
                checkpoints: Some(format!("{dir}/checkpoints")),
                savepoints: Some(dir),
            },
            None => StateLocations::default(),
        }
    }

    fn local_state_dirs(&self, _owner: &StateOwner<'_>) -> Option<LocalStateDirs> {
        None
    }

    /// Through Flink (`POST /savepoint-disposal`), and only savepoints drey
    /// wrote under the owner's directory.
    async fn dispose_savepoint(&self, owner: &StateOwner<'_>, location: &str) {
        let Some(dir) = self.owner_dir(owner.uid) else {
            return;
        };
        let inside = location
            .strip_prefix(&dir)
            .is_some_and(|rest| rest.starts_with("/savepoint-") && !rest[1..].contains('/'));
        if !inside {
            tracing::debug!(%location, "not disposing of a savepoint drey did not write");
            return;
        }
        match self.client.dispose_savepoint(location).await {
            Ok(_) => {
                tracing::info!(%location, cluster = %self.name, "disposing of savepoint files through Flink")
            }
            Err(e) => {
                tracing::warn!(%location, cluster = %self.name, error = %e, "cannot dispose of savepoint files")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_goes_under_the_registered_savepoint_dir() {
        let client = FlinkClient::new("http://192.0.2.1:8081").unwrap();
        let c = ExistingCluster::new("C1", "prod", client.clone(), Some("s3://b/sp/".into()));
        let u1 = StateOwner {
            organization: "o",
            environment: "e",
            uid: "u1",
        };
        assert_eq!(
            c.state_locations(&u1),
            StateLocations {
                savepoints: Some("s3://b/sp/u1".into()),
                checkpoints: Some("s3://b/sp/u1/checkpoints".into()),
            }
        );
        assert!(!c.owns_clusters() && c.local_state_dirs(&u1).is_none());
        let bare = ExistingCluster::new("C1", "prod", client, None);
        assert_eq!(bare.state_locations(&u1), StateLocations::default());
    }
}
