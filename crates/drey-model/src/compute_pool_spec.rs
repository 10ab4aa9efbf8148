//! The typed compute pool spec and status (a CMF ComputePool, a VVP
//! SessionCluster, a LakeSail session). Unknown and odd fields are kept as
//! written (see [`crate::loose`]).

use crate::application_spec::ComponentSpec;
use crate::loose::{lenient, typed, Loose};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PoolType {
    /// One cluster per statement.
    Dedicated,
    /// One session cluster that statements and session jobs share.
    Shared,
}

/// `spec.state` of a SHARED pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PoolState {
    /// The session cluster should run.
    Running,
    /// The session cluster should be stopped.
    Suspended,
}

/// `spec` of a compute pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PoolSpec {
    /// DEDICATED or SHARED.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub pool_type: Option<Loose<PoolType>>,
    /// RUNNING or SUSPENDED (SHARED pools).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Loose<PoolState>>,
    /// The cluster's shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_spec: Option<Loose<ClusterSpec>>,
    /// The VVP SessionCluster spec it was written as (VVP reads it leniently).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vvp: Option<Value>,
    /// The LakeSail session spec it was written as (LakeSail reads it leniently).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lakesail: Option<Value>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec.clusterSpec`: the cluster parts of an application spec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Flink configuration, values as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flink_configuration: Option<Loose<Map<String, Value>>>,
    /// The JobManager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_manager: Option<Loose<ComponentSpec>>,
    /// The TaskManagers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_manager: Option<Loose<ComponentSpec>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PoolSpec {
    /// Whether the pool runs a session cluster.
    pub fn is_shared(&self) -> bool {
        typed(&self.pool_type) == Some(&PoolType::Shared)
    }

    /// Whether a SHARED pool is asked to stop.
    pub fn is_suspended(&self) -> bool {
        typed(&self.state) == Some(&PoolState::Suspended)
    }
}

/// `status` of a compute pool. Only drey writes it; it reads any stored
/// status (see [`lenient`]). `R` is the reconciler's own record
/// (`status.reconciler`), in no dialect's view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    default,
    rename_all = "camelCase",
    bound(
        serialize = "R: Serialize",
        deserialize = "R: DeserializeOwned + Default"
    )
)]
pub struct PoolStatus<R = Value> {
    /// PENDING, RUNNING, DEDICATED, SUSPENDED, FAILED.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Why the pool is in its phase.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Where the running cluster answers.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub cluster_info: Option<ClusterInfo>,
    /// The `metadata.generation` the reconciler last acted on.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The reconciler's own record.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub reconciler: Option<R>,
    /// Fields an older or newer drey wrote, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `status.clusterInfo` of a pool or an application: the cluster it runs on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ClusterInfo {
    /// The cluster's REST endpoint.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub rest_url: Option<String>,
    /// drey's id of the cluster.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// The SHARED pool whose session cluster a session job runs in.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub compute_pool_name: Option<String>,
    /// Everything else, kept as it was.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<R> PoolStatus<R> {
    /// `phase`, when known.
    pub fn phase(&self) -> Option<&str> {
        self.phase.as_deref()
    }

    /// `clusterInfo.restUrl`, when known.
    pub fn rest_url(&self) -> Option<&str> {
        self.cluster_info
            .as_ref()
            .and_then(|c| c.rest_url.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loose::{to_json, view};
    use serde_json::json;

    #[test]
    fn a_pool_reads_back_as_written_and_odd_fields_read_as_absent() {
        let given =
            json!({"type": "SHARED", "state": 5, "clusterSpec": {"taskManager": []}, "vvp": []});
        let spec: PoolSpec = view(&given);
        assert!(spec.is_shared() && !spec.is_suspended());
        assert_eq!(to_json(&spec), given);
        let spec: PoolSpec = view(&json!({"type": "shared", "state": "SUSPENDED"}));
        assert!(!spec.is_shared() && spec.is_suspended());
        let status: PoolStatus = view(&json!({"phase": 5, "clusterInfo": {"restUrl": "http://x"}}));
        assert_eq!(
            (status.phase(), status.rest_url()),
            (None, Some("http://x"))
        );
    }

    #[test]
    fn a_pool_status_keeps_unknown_fields_and_drops_odd_ones() {
        let given = json!({"phase": "RUNNING", "message": "m", "observedGeneration": 2,
            "clusterInfo": {"clusterId": "pool-1", "restUrl": "http://x", "port": 1},
            "reconciler": {"fingerprint": "f"}, "later": true});
        let status: PoolStatus = view(&given);
        assert_eq!(to_json(&status), given);
        let old: PoolStatus = view(&json!({"phase": "PENDING", "message": {"a": 1}, "x": 1}));
        assert_eq!(old.message, None);
        assert_eq!(to_json(&old), json!({"phase": "PENDING", "x": 1}));
    }
}
