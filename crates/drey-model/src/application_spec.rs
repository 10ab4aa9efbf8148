//! The typed application spec and status: what every layer reads of a
//! FlinkApplication (a VVP Deployment, a LakeSail application). Fields drey
//! does not act on, and fields of a shape it does not expect, are kept as
//! they were written (see [`crate::loose`]).

use crate::application::{JobState, UpgradeMode};
use crate::loose::{typed, Loose};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of an application: the Flink Kubernetes Operator's FlinkDeployment
/// spec, with the dialects' own copies of what they were given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationSpec {
    /// The Flink image (a Kubernetes backend's pods run it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Loose<String>>,
    /// The image's pull policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<Loose<String>>,
    /// The Flink version, as the operator spells it (`v1_19`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flink_version: Option<Loose<String>>,
    /// The Kubernetes service account of the pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<Loose<String>>,
    /// A pod template for both JobManager and TaskManagers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Loose<Map<String, Value>>>,
    /// A change redeploys the job (from its last state, per upgradeMode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_nonce: Option<Loose<i64>>,
    /// The job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<Loose<JobSpec>>,
    /// Flink configuration, values as given (strings, numbers, booleans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flink_configuration: Option<Loose<Map<String, Value>>>,
    /// The JobManager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_manager: Option<Loose<ComponentSpec>>,
    /// The TaskManagers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_manager: Option<Loose<ComponentSpec>>,
    /// The SHARED compute pool the job runs in (a session job).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_name: Option<Loose<String>>,
    /// The VVP Deployment spec it was written as (VVP reads it leniently).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vvp: Option<Value>,
    /// The LakeSail spec it was written as (LakeSail reads it leniently).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lakesail: Option<Value>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec.job`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct JobSpec {
    /// The job's jar.
    #[serde(rename = "jarURI", skip_serializing_if = "Option::is_none")]
    pub jar_uri: Option<Loose<String>>,
    /// Its main class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_class: Option<Loose<String>>,
    /// Its program arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Loose<Vec<String>>>,
    /// Running or suspended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Loose<JobState>>,
    /// How an upgrade carries state over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_mode: Option<Loose<UpgradeMode>>,
    /// Job parallelism.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<Loose<u64>>,
    /// Whether a restore may skip state no operator claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_non_restored_state: Option<Loose<bool>>,
    /// Submissions tried before the deployment fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_job_creation_attempts: Option<Loose<u64>>,
    /// Savepoints tried before a stop fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_savepoint_creation_attempts: Option<Loose<u64>>,
    /// Where the first deployment restores from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_savepoint_path: Option<Loose<String>>,
    /// A change redeploys the job from `initialSavepointPath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savepoint_redeploy_nonce: Option<Loose<i64>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec.jobManager` / `spec.taskManager` (and a pool's cluster parts).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ComponentSpec {
    /// Number of processes (TaskManagers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Loose<u64>>,
    /// Memory and CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Loose<Map<String, Value>>>,
    /// A pod template for this component.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Loose<Map<String, Value>>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ApplicationSpec {
    /// The typed job, if the spec has one.
    pub fn job(&self) -> Option<&JobSpec> {
        typed(&self.job)
    }

    /// `job.state`, when set to one drey knows.
    pub fn desired_state(&self) -> Option<JobState> {
        self.job().and_then(|j| typed(&j.state)).copied()
    }

    /// The SHARED compute pool of a session job.
    pub fn session_pool(&self) -> Option<&str> {
        typed(&self.deployment_name).map(String::as_str)
    }

    /// `taskManager.replicas`.
    pub fn task_manager_replicas(&self) -> Option<u64> {
        typed(&self.task_manager)
            .and_then(|t| typed(&t.replicas))
            .copied()
    }
}

/// `status` of an application: what the reconciler observed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApplicationStatus {
    /// CREATED, DEPLOYED, STABLE, SUSPENDED, FAILED, DELETING...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_state: Option<Loose<String>>,
    /// The Flink job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_status: Option<Loose<JobStatus>>,
    /// The effective spec an instance ran (instances only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<Loose<ApplicationSpec>>,
    /// Everything else (the reconciler's own record among it).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `status.jobStatus`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct JobStatus {
    /// The job's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<Loose<String>>,
    /// The Flink job id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<Loose<String>>,
    /// The Flink job's state (RUNNING, FAILED, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Loose<String>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ApplicationStatus {
    /// `lifecycleState`, `""` when unknown.
    pub fn lifecycle(&self) -> &str {
        typed(&self.lifecycle_state).map_or("", String::as_str)
    }

    /// `jobStatus.state`, `""` when unknown.
    pub fn job_state(&self) -> &str {
        self.job_status_typed()
            .and_then(|j| typed(&j.state))
            .map_or("", String::as_str)
    }

    /// `jobStatus.jobId`.
    pub fn job_id(&self) -> Option<&str> {
        self.job_status_typed()
            .and_then(|j| typed(&j.job_id))
            .map(String::as_str)
    }

    fn job_status_typed(&self) -> Option<&JobStatus> {
        typed(&self.job_status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loose::{to_json, view};
    use serde_json::json;

    #[test]
    fn a_spec_reads_back_as_written() {
        for given in [
            json!({"job": {"jarURI": "file:///x.jar", "state": "running", "upgradeMode": "last-state",
                           "parallelism": 2, "extra": [1]},
                   "taskManager": {"replicas": 2, "resource": {"memory": "1g", "cpu": 1}},
                   "flinkConfiguration": {"a": "1", "b": 2}, "vvp": {"state": "RUNNING"}, "image": "x"}),
            json!({"job": [], "vvp": [], "lakesail": "x", "deploymentName": 5, "taskManager": 5}),
            json!({"job": {"state": "paused", "parallelism": "abc"}}),
        ] {
            let spec: ApplicationSpec = view(&given);
            assert_eq!(to_json(&spec), given);
        }
    }

    #[test]
    fn odd_fields_read_as_absent() {
        let spec: ApplicationSpec =
            view(&json!({"job": {"state": "paused"}, "deploymentName": 5, "taskManager": []}));
        assert_eq!(spec.desired_state(), None);
        assert_eq!(spec.session_pool(), None);
        assert_eq!(spec.task_manager_replicas(), None);
        let spec: ApplicationSpec =
            view(&json!({"job": {"state": "suspended"}, "deploymentName": "p"}));
        assert_eq!(spec.desired_state(), Some(JobState::Suspended));
        assert_eq!(spec.session_pool(), Some("p"));
        let status: ApplicationStatus =
            view(&json!({"jobStatus": {"state": 5}, "lifecycleState": []}));
        assert_eq!((status.lifecycle(), status.job_state()), ("", ""));
    }
}
