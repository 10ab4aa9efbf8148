//! The `kind: kubernetes` backend as far as it can be built without an API
//! server (docs/kubernetes.md): how drey reads a FlinkDeployment or
//! FlinkSessionJob that the Flink Kubernetes Operator reconciles back as the
//! three-outcome observation, and the changes it applies to one to suspend,
//! start and take a savepoint.
//!
//! The client half — kube-rs server-side apply with field manager `drey`,
//! a watcher on the resources drey manages — is not built: no API server
//! runs where drey is tested, and a stand-in for one would test nothing
//! real. What is here is the part that decides, so that half only moves
//! documents.

use drey_model::Observation;
use serde::Deserialize;
use serde_json::{json, Value};

/// The operator's resources drey drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperatorKind {
    /// An application's cluster, or a SHARED pool's session cluster.
    FlinkDeployment,
    /// A job in a session cluster.
    FlinkSessionJob,
}

impl std::fmt::Display for OperatorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OperatorKind::FlinkDeployment => "FlinkDeployment",
            OperatorKind::FlinkSessionJob => "FlinkSessionJob",
        })
    }
}

/// What the operator says of a resource it has reconciled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperatorState {
    /// `status.lifecycleState`: CREATED, DEPLOYED, STABLE, SUSPENDED,
    /// UPGRADING, ROLLING_BACK, ROLLED_BACK, FAILED, DELETING, DELETED.
    pub lifecycle_state: String,
    /// `status.jobStatus.jobId`.
    pub job_id: Option<String>,
    /// `status.jobStatus.state`: Flink's job state.
    pub job_state: Option<String>,
    /// `status.error`.
    pub error: Option<String>,
    /// `status.jobStatus.upgradeSavepointPath`: where a start restores from.
    pub upgrade_savepoint_path: Option<String>,
    /// `status.jobStatus.savepointInfo.lastSavepoint.location`.
    pub last_savepoint: Option<String>,
}

/// Where a savepoint asked for with a trigger nonce is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SavepointProgress {
    /// Not yet taken.
    InProgress,
    /// Taken, at this location.
    Completed(String),
    /// The operator gave up on it, saying why.
    Failed(String),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Resource {
    metadata: Metadata,
    spec: Spec,
    status: Option<Status>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Metadata {
    generation: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Spec {
    job: Option<JobSpec>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JobSpec {
    savepoint_trigger_nonce: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Status {
    observed_generation: Option<i64>,
    lifecycle_state: Option<String>,
    error: Option<String>,
    job_status: Option<JobStatus>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct JobStatus {
    job_id: Option<String>,
    state: Option<String>,
    upgrade_savepoint_path: Option<String>,
    savepoint_info: Option<SavepointInfo>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SavepointInfo {
    trigger_id: Option<String>,
    last_savepoint: Option<Savepoint>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Savepoint {
    location: Option<String>,
    trigger_nonce: Option<i64>,
}

/// The status the operator last wrote of a resource, or why it cannot be
/// trusted yet.
fn reconciled(kind: OperatorKind, resource: &Value) -> Result<Status, String> {
    let parsed: Resource = serde_json::from_value(resource.clone())
        .map_err(|e| format!("the {kind} cannot be read: {e}"))?;
    let generation = parsed.metadata.generation.unwrap_or(0);
    let Some(status) = parsed.status else {
        return Err(format!("the operator has not reconciled the {kind} yet"));
    };
    let observed = status.observed_generation.unwrap_or(0);
    if observed < generation {
        return Err(format!(
            "the operator has reconciled generation {observed} of the {kind}, not yet {generation}"
        ));
    }
    Ok(status)
}

/// One look at an operator resource, as the API server returned it (`None`:
/// it answered 404). *Gone* only when the resource does not exist; *unknown*
/// while the operator has not caught up with the generation drey applied,
/// or the document cannot be read; otherwise *seen*, with what the operator
/// reports — a FAILED lifecycle is seen, not gone: the operator still owns
/// the job and drey decides from the spec what to apply next.
pub fn observe(kind: OperatorKind, resource: Option<&Value>) -> Observation<OperatorState> {
    let Some(resource) = resource else {
        return Observation::Gone(format!("the {kind} does not exist"));
    };
    let status = match reconciled(kind, resource) {
        Ok(r) => r,
        Err(why) => return Observation::Unknown(why),
    };
    let Some(lifecycle_state) = status.lifecycle_state else {
        return Observation::Unknown(format!("the {kind}'s status has no lifecycleState yet"));
    };
    let job = status.job_status.unwrap_or_default();
    Observation::Seen(OperatorState {
        lifecycle_state,
        job_id: job.job_id,
        job_state: job.state,
        error: status.error.filter(|e| !e.is_empty()),
        upgrade_savepoint_path: job.upgrade_savepoint_path,
        last_savepoint: job
            .savepoint_info
            .and_then(|s| s.last_savepoint)
            .and_then(|s| s.location),
    })
}

/// The merge patch that asks the operator to run or suspend the job
/// (`spec.job.state`); with `upgradeMode: savepoint` the operator suspends
/// with a savepoint and records it as `upgradeSavepointPath`.
pub fn job_state_patch(running: bool) -> Value {
    let state = if running { "running" } else { "suspended" };
    json!({"spec": {"job": {"state": state}}})
}

/// The merge patch that asks for a savepoint of the running job, and the
/// nonce it carries: one more than the resource's current
/// `spec.job.savepointTriggerNonce`.
pub fn savepoint_patch(kind: OperatorKind, resource: &Value) -> Result<(Value, i64), String> {
    let parsed: Resource = serde_json::from_value(resource.clone())
        .map_err(|e| format!("the {kind} cannot be read: {e}"))?;
    let current = parsed
        .spec
        .job
        .ok_or_else(|| format!("the {kind} runs no job"))?
        .savepoint_trigger_nonce
        .unwrap_or(0);
    let nonce = current + 1;
    Ok((
        json!({"spec": {"job": {"savepointTriggerNonce": nonce}}}),
        nonce,
    ))
}

/// Where the savepoint asked for with `nonce` is: completed when the
/// operator's last savepoint carries that nonce; failed when the operator
/// has reconciled the request, holds no trigger in flight and reports an
/// error; in progress otherwise. Unknown while the status cannot be trusted.
pub fn savepoint_progress(
    kind: OperatorKind,
    resource: Option<&Value>,
    nonce: i64,
) -> Observation<SavepointProgress> {
    let Some(resource) = resource else {
        return Observation::Gone(format!("the {kind} does not exist"));
    };
    let status = match reconciled(kind, resource) {
        Ok(r) => r,
        Err(why) => return Observation::Unknown(why),
    };
    let info = status
        .job_status
        .and_then(|j| j.savepoint_info)
        .unwrap_or_default();
    let last = info.last_savepoint.unwrap_or_default();
    if last.trigger_nonce == Some(nonce) {
        if let Some(location) = last.location {
            return Observation::Seen(SavepointProgress::Completed(location));
        }
    }
    let in_flight = info.trigger_id.is_some_and(|t| !t.is_empty());
    match status.error.filter(|e| !e.is_empty()) {
        Some(error) if !in_flight => Observation::Seen(SavepointProgress::Failed(error)),
        _ => Observation::Seen(SavepointProgress::InProgress),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYMENT: OperatorKind = OperatorKind::FlinkDeployment;

    fn resource(generation: i64, status: Value) -> Value {
        json!({
            "metadata": {"name": "orders", "generation": generation},
            "spec": {"job": {"state": "running", "savepointTriggerNonce": 3}},
            "status": status,
        })
    }

    #[test]
    fn a_missing_resource_is_gone_and_an_unreconciled_one_unknown() {
        assert!(observe(DEPLOYMENT, None).is_gone());
        let fresh = json!({"metadata": {"generation": 1}, "spec": {}});
        assert!(observe(DEPLOYMENT, Some(&fresh)).is_unknown());
        let behind = resource(
            3,
            json!({"observedGeneration": 2, "lifecycleState": "STABLE"}),
        );
        let Observation::Unknown(why) = observe(DEPLOYMENT, Some(&behind)) else {
            panic!("a status of an older generation is trusted");
        };
        assert!(why.contains("generation 2") && why.contains('3'), "{why}");
    }

    #[test]
    fn a_reconciled_resource_is_seen_with_the_operators_words() {
        let stable = resource(
            2,
            json!({
                "observedGeneration": 2,
                "lifecycleState": "STABLE",
                "error": "",
                "jobStatus": {"jobId": "j1", "state": "RUNNING",
                              "upgradeSavepointPath": "s3://b/sp/savepoint-1",
                              "savepointInfo": {"lastSavepoint": {"location": "s3://b/sp/savepoint-2",
                                                                  "triggerNonce": 3}}}
            }),
        );
        assert_eq!(
            observe(DEPLOYMENT, Some(&stable)),
            Observation::Seen(OperatorState {
                lifecycle_state: "STABLE".into(),
                job_id: Some("j1".into()),
                job_state: Some("RUNNING".into()),
                error: None,
                upgrade_savepoint_path: Some("s3://b/sp/savepoint-1".into()),
                last_savepoint: Some("s3://b/sp/savepoint-2".into()),
            })
        );
        let failed = resource(
            2,
            json!({"observedGeneration": 2, "lifecycleState": "FAILED", "error": "no jar"}),
        );
        let seen = observe(DEPLOYMENT, Some(&failed));
        assert_eq!(seen.seen().unwrap().error.as_deref(), Some("no jar"));
    }

    #[test]
    fn savepoints_go_through_the_trigger_nonce() {
        let current = resource(
            2,
            json!({"observedGeneration": 2, "lifecycleState": "STABLE"}),
        );
        let (patch, nonce) = savepoint_patch(DEPLOYMENT, &current).unwrap();
        assert_eq!(nonce, 4);
        assert_eq!(patch["spec"]["job"]["savepointTriggerNonce"], 4);
        assert!(savepoint_patch(DEPLOYMENT, &json!({"spec": {}})).is_err());

        // Applied (generation 3), not yet reconciled: unknown.
        let applied = resource(
            3,
            json!({"observedGeneration": 2, "lifecycleState": "STABLE"}),
        );
        assert!(savepoint_progress(DEPLOYMENT, Some(&applied), 4).is_unknown());
        let in_flight = resource(
            3,
            json!({"observedGeneration": 3, "lifecycleState": "STABLE",
                   "jobStatus": {"savepointInfo": {"triggerId": "t1",
                       "lastSavepoint": {"location": "s3://old", "triggerNonce": 3}}}}),
        );
        assert_eq!(
            savepoint_progress(DEPLOYMENT, Some(&in_flight), 4),
            Observation::Seen(SavepointProgress::InProgress)
        );
        let done = resource(
            3,
            json!({"observedGeneration": 3, "lifecycleState": "STABLE",
                   "jobStatus": {"savepointInfo": {"triggerId": "",
                       "lastSavepoint": {"location": "s3://new", "triggerNonce": 4}}}}),
        );
        assert_eq!(
            savepoint_progress(DEPLOYMENT, Some(&done), 4),
            Observation::Seen(SavepointProgress::Completed("s3://new".into()))
        );
        let failed = resource(
            3,
            json!({"observedGeneration": 3, "lifecycleState": "STABLE",
                   "error": "Savepoint failed: task not running",
                   "jobStatus": {"savepointInfo": {"triggerId": ""}}}),
        );
        assert!(matches!(
            savepoint_progress(DEPLOYMENT, Some(&failed), 4),
            Observation::Seen(SavepointProgress::Failed(e)) if e.contains("task not running")
        ));
        assert!(savepoint_progress(DEPLOYMENT, None, 4).is_gone());
    }

    #[test]
    fn suspend_and_start_set_the_job_state() {
        assert_eq!(job_state_patch(false)["spec"]["job"]["state"], "suspended");
        assert_eq!(job_state_patch(true)["spec"]["job"]["state"], "running");
    }
}
