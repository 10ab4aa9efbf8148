//! The typed application spec and status: what every layer reads of a
//! FlinkApplication (a VVP Deployment, a LakeSail application). Fields drey
//! does not act on, and fields of a shape it does not expect, are kept as
//! they were written (see [`crate::loose`]).

use crate::application::{JobState, UpgradeMode};
use crate::compute_pool_spec::ClusterInfo;
use crate::loose::{lenient, typed, Loose};
use crate::Timestamp;
use serde::de::DeserializeOwned;
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

/// The image a Kubernetes backend's pods run, from what a dialect names:
/// `[registry/]repository[:tag]` (the tag defaulting to the Flink version),
/// or Apache Flink's official `flink:<version>` when only a version is
/// named; `None` when neither is.
pub fn flink_image(
    registry: Option<&str>,
    repository: Option<&str>,
    tag: Option<&str>,
    version: Option<&str>,
) -> Option<String> {
    fn nonempty(s: Option<&str>) -> Option<&str> {
        s.map(str::trim).filter(|s| !s.is_empty())
    }
    let (registry, repository, tag, version) = (
        nonempty(registry),
        nonempty(repository),
        nonempty(tag),
        nonempty(version),
    );
    let Some(repository) = repository else {
        return version.map(|v| format!("flink:{v}"));
    };
    let mut image = match registry {
        Some(r) => format!("{}/{repository}", r.trim_end_matches('/')),
        None => repository.to_owned(),
    };
    if let Some(tag) = tag.or(version) {
        image.push(':');
        image.push_str(tag);
    }
    Some(image)
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

/// `status.lifecycleState`: where the application is, as the Flink
/// Kubernetes Operator names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Lifecycle {
    /// Nothing has acted on it yet.
    Created,
    /// A deployment is being made or its job is not running yet.
    Deployed,
    /// Its job runs.
    Stable,
    /// No job runs, as asked.
    Suspended,
    /// Its job failed, or could not be deployed.
    Failed,
    /// The job is being redeployed (a spec change, a lost cluster).
    Upgrading,
    /// Being deleted.
    Deleting,
}

impl Lifecycle {
    /// The state as every dialect spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Created => "CREATED",
            Lifecycle::Deployed => "DEPLOYED",
            Lifecycle::Stable => "STABLE",
            Lifecycle::Suspended => "SUSPENDED",
            Lifecycle::Failed => "FAILED",
            Lifecycle::Upgrading => "UPGRADING",
            Lifecycle::Deleting => "DELETING",
        }
    }
}

/// `status.jobManagerDeploymentStatus`: whether the JobManager answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobManagerDeploymentStatus {
    /// It answers.
    Ready,
    /// Its processes live but it does not answer.
    DeployedNotReady,
}

/// `status` of an application: what the reconciler observed and did. Only
/// drey writes it; it reads any stored status (see [`lenient`]). `R` is the
/// reconciler's own record (`status.reconciler`), which is drey-internal and
/// in no dialect's view ([`crate::public_status`]); a dialect reads it as
/// plain JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    default,
    rename_all = "camelCase",
    bound(
        serialize = "R: Serialize",
        deserialize = "R: DeserializeOwned + Default"
    )
)]
pub struct ApplicationStatus<R = Value> {
    /// Where the application is.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub lifecycle_state: Option<Lifecycle>,
    /// The Flink job.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub job_status: Option<JobStatus>,
    /// Why the application is not where it was asked to be.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Where the running cluster answers.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub cluster_info: Option<ClusterInfo>,
    /// Whether the JobManager answers.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub job_manager_deployment_status: Option<JobManagerDeploymentStatus>,
    /// Kubernetes-style conditions (`JobManagerReady`).
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// The spec the current deployment was made from.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub reconciliation_status: Option<ReconciliationStatus>,
    /// The newest savepoint drey took of the job.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub last_savepoint: Option<LastSavepoint>,
    /// The instance (deployment) that runs now.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub current_deployed_instance_name: Option<String>,
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

/// `status.jobStatus` (of an application and of an instance).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct JobStatus {
    /// The job's name.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// The Flink job id.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The Flink job's state (RUNNING, FAILED, ...), or drey's CREATED and
    /// RECONCILING before Flink has one.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// When the job was first seen RUNNING.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// When `state` last changed.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub update_time: Option<Timestamp>,
    /// The savepoint or checkpoint the job restores from (or was stopped with).
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub upgrade_savepoint_path: Option<String>,
    /// Everything else, kept as it was.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One Kubernetes-style condition of a status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// What it is about (`JobManagerReady`).
    #[serde(rename = "type")]
    pub condition_type: String,
    /// `True` or `False`.
    pub status: String,
    /// A word for why.
    pub reason: String,
    /// What a person reads.
    pub message: String,
    /// Since when `status` holds.
    pub last_transition_time: Timestamp,
}

/// `status.reconciliationStatus`, as the operator keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconciliationStatus {
    /// `DEPLOYED`.
    pub state: String,
    /// The effective spec of the current deployment, as JSON text.
    pub last_reconciled_spec: String,
}

/// `status.lastSavepoint`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastSavepoint {
    /// Where it is.
    pub location: String,
    /// When it completed.
    pub time: Timestamp,
}

/// `status` of an instance (one deployment of an application).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstanceStatus {
    /// The effective spec the instance runs.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub spec: Option<ApplicationSpec>,
    /// Its job.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub job_status: Option<JobStatus>,
    /// Fields an older or newer drey wrote, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `state` of a job status, `""` when unknown.
fn job_state_of(job: Option<&JobStatus>) -> &str {
    job.and_then(|j| j.state.as_deref()).unwrap_or_default()
}

impl<R> ApplicationStatus<R> {
    /// `lifecycleState`, when known.
    pub fn lifecycle(&self) -> Option<Lifecycle> {
        self.lifecycle_state
    }

    /// `jobStatus.state`, `""` when unknown.
    pub fn job_state(&self) -> &str {
        job_state_of(self.job_status.as_ref())
    }

    /// `jobStatus.jobId`.
    pub fn job_id(&self) -> Option<&str> {
        self.job_status.as_ref().and_then(|j| j.job_id.as_deref())
    }

    /// The job status, created empty when there is none, to set fields of.
    pub fn job_status_mut(&mut self) -> &mut JobStatus {
        self.job_status.get_or_insert_with(JobStatus::default)
    }
}

impl InstanceStatus {
    /// `jobStatus.state`, `""` when unknown.
    pub fn job_state(&self) -> &str {
        job_state_of(self.job_status.as_ref())
    }

    /// `jobStatus.jobId`.
    pub fn job_id(&self) -> Option<&str> {
        self.job_status.as_ref().and_then(|j| j.job_id.as_deref())
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
        assert_eq!((status.lifecycle(), status.job_state()), (None, ""));
    }

    /// A status as drey writes it reads back and writes back unchanged.
    #[test]
    fn a_status_drey_wrote_round_trips() {
        let given = json!({
            "lifecycleState": "STABLE",
            "jobStatus": {"jobName": "a", "jobId": "j1", "state": "RUNNING",
                          "startTime": "2025-03-31T11:34:01.503Z",
                          "updateTime": "2025-03-31T11:34:02.000Z",
                          "upgradeSavepointPath": "file:///sp/1"},
            "error": "x",
            "clusterInfo": {"restUrl": "http://127.0.0.1:1", "clusterId": "app-1",
                            "computePoolName": "p"},
            "jobManagerDeploymentStatus": "DEPLOYED_NOT_READY",
            "conditions": [{"type": "JobManagerReady", "status": "False",
                            "reason": "NotAnswering", "message": "m",
                            "lastTransitionTime": "2025-03-31T11:34:01.503Z"}],
            "reconciliationStatus": {"state": "DEPLOYED", "lastReconciledSpec": "{}"},
            "lastSavepoint": {"location": "file:///sp/1", "time": "2025-03-31T11:34:01.503Z"},
            "currentDeployedInstanceName": "i1",
            "observedGeneration": 3,
            "reconciler": {"deployment": {"clusterId": "app-1"}},
        });
        let status: ApplicationStatus = view(&given);
        assert_eq!(status.lifecycle(), Some(Lifecycle::Stable));
        assert_eq!(status.job_id(), Some("j1"));
        assert!(status.extra.is_empty());
        assert_eq!(to_json(&status), given);
    }

    /// Unknown fields are kept; fields of a shape drey never wrote read as
    /// absent, and the next write leaves them out.
    #[test]
    fn unknown_fields_are_kept_and_odd_ones_read_as_absent() {
        let given = json!({
            "lifecycleState": "ROLLING_BACK",
            "jobStatus": {"state": "RUNNING", "startTime": "yesterday", "savepointInfo": {"a": 1}},
            "error": {"message": "not a string"},
            "conditions": [{"type": "JobManagerReady"}],
            "observedGeneration": "3",
            "somethingNew": [1, 2],
        });
        let status: ApplicationStatus = view(&given);
        assert_eq!(status.lifecycle(), None);
        assert_eq!(status.job_state(), "RUNNING");
        assert_eq!(status.error, None);
        assert_eq!(status.conditions, None);
        assert_eq!(status.observed_generation, None);
        assert_eq!(
            to_json(&status),
            json!({"jobStatus": {"state": "RUNNING", "savepointInfo": {"a": 1}},
                   "somethingNew": [1, 2]})
        );
    }

    /// What older versions stored: `null`s where a field was cleared, a
    /// status that is not an object at all.
    #[test]
    fn an_old_status_reads_as_what_it_said() {
        let status: ApplicationStatus = view(&json!({
            "lifecycleState": "SUSPENDED", "error": null, "clusterInfo": null,
            "jobStatus": {"jobName": "a", "state": "CANCELED", "upgradeSavepointPath": null},
        }));
        assert_eq!(status.lifecycle(), Some(Lifecycle::Suspended));
        assert_eq!(
            (status.error.as_deref(), status.cluster_info.as_ref()),
            (None, None)
        );
        assert_eq!(
            to_json(&status),
            json!({"lifecycleState": "SUSPENDED", "jobStatus": {"jobName": "a", "state": "CANCELED"}})
        );
        for odd in [json!(null), json!([1]), json!("x")] {
            assert_eq!(
                view::<ApplicationStatus>(&odd),
                ApplicationStatus::default()
            );
        }
    }

    /// The reconciler's record reads as its own type, or as absent when it
    /// does not fit (the reconciler then starts from an empty record).
    #[test]
    fn the_record_reads_as_its_type() {
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        struct Record {
            runs: u32,
        }
        let status: ApplicationStatus<Record> =
            view(&json!({"lifecycleState": "CREATED", "reconciler": {"runs": 2}}));
        assert_eq!(status.reconciler, Some(Record { runs: 2 }));
        let status: ApplicationStatus<Record> =
            view(&json!({"lifecycleState": "CREATED", "reconciler": {"runs": "two"}}));
        assert_eq!(status.reconciler, None);
        assert_eq!(status.lifecycle(), Some(Lifecycle::Created));
    }

    #[test]
    fn lifecycle_names_are_the_stored_ones() {
        for l in [
            Lifecycle::Created,
            Lifecycle::Deployed,
            Lifecycle::Stable,
            Lifecycle::Suspended,
            Lifecycle::Failed,
            Lifecycle::Upgrading,
            Lifecycle::Deleting,
        ] {
            assert_eq!(to_json(&l), json!(l.as_str()));
        }
    }

    #[test]
    fn an_instance_status_keeps_its_spec() {
        let given = json!({"spec": {"job": {"jarURI": "file:///x.jar", "parallelism": "odd"}},
                           "jobStatus": {"jobId": "j", "state": "CREATED"}});
        let status: InstanceStatus = view(&given);
        assert_eq!(
            (status.job_id(), status.job_state()),
            (Some("j"), "CREATED")
        );
        assert_eq!(to_json(&status), given);
    }

    #[test]
    fn images_from_dialect_fields() {
        assert_eq!(
            flink_image(
                Some("registry.ververica.com/v2.6/"),
                Some("flink"),
                Some("1.19.1-stream1"),
                Some("1.19")
            )
            .as_deref(),
            Some("registry.ververica.com/v2.6/flink:1.19.1-stream1")
        );
        assert_eq!(
            flink_image(None, Some("acme/flink"), None, Some("1.20")).as_deref(),
            Some("acme/flink:1.20")
        );
        assert_eq!(
            flink_image(None, None, Some("x"), Some("1.17")).as_deref(),
            Some("flink:1.17")
        );
        assert_eq!(flink_image(None, Some(" "), None, None), None);
    }
}
