//! The application planner: a pure function from what is desired, what drey
//! recorded and what it observed to the one next step. It knows no Flink
//! client and no store, so every transition is a table-driven unit test.
//!
//! Each step is recorded in the application's status before the next one is
//! planned, so a pass that dies at any line is resumed by the next pass.

use super::autoscale::RescaleHow;
use drey_model::application::UpgradeMode;
use drey_model::{Observation, Silence};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the user asked for, after the environment's defaults are merged.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// `spec.job.state == running`.
    pub running: bool,
    /// `spec.job.upgradeMode` (stateless when absent).
    pub upgrade_mode: UpgradeMode,
    /// Fingerprint of the effective spec; a change is an upgrade.
    pub fingerprint: String,
    /// `spec.job.savepointTriggerNonce`, as text.
    pub savepoint_nonce: Option<String>,
    /// `spec.job.initialSavepointPath`, used by the first deployment only.
    pub initial_savepoint: Option<String>,
    /// The application is being deleted.
    pub deleting: bool,
    /// The oldest savepoint resource waiting to be taken.
    pub pending_savepoint: Option<String>,
    /// `spec.job.maxJobCreationAttempts`: failed submissions before FAILED.
    pub max_job_attempts: Option<u64>,
    /// `spec.job.maxSavepointCreationAttempts`: failed savepoints before a
    /// transition that needs one gives up.
    pub max_savepoint_attempts: Option<u64>,
    /// A periodic savepoint is due ([`periodic_savepoint_due`]).
    pub periodic_savepoint_due: bool,
    /// The health check found the job unhealthy: why ([`super::health`]).
    pub unhealthy: Option<String>,
    /// The autoscaler wants the job's vertices at another parallelism
    /// ([`super::autoscale`]).
    pub rescale: Option<super::autoscale::Rescale>,
}

impl Desired {
    /// The state asked for: the spec and whether it should run.
    pub fn transition(&self) -> String {
        format!("{}/{}", self.fingerprint, self.running)
    }
}

/// One deployment drey made: an instance, its cluster and its job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The FlinkApplicationInstance's name (a uuid).
    pub instance: String,
    /// The Flink job id, derived from the instance uid before submission.
    pub job_id: String,
    /// The local cluster's id.
    pub cluster_id: String,
    /// The fingerprint of the spec this deployment runs.
    pub fingerprint: String,
    /// Savepoint or checkpoint the job restores from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<String>,
    /// The job runs in a cluster it neither starts nor stops: a compute
    /// pool's session cluster, or an existing Flink cluster.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub session: bool,
    /// The registered Flink cluster the job runs on (its registration id);
    /// `None` for this machine's clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_cluster: Option<String>,
    /// The cluster's processes were launched (it may not be ready yet).
    #[serde(default)]
    pub cluster_launched: bool,
    /// The cluster answered and all TaskManagers registered.
    #[serde(default)]
    pub cluster_started: bool,
    /// The job was submitted (with `job_id`).
    #[serde(default)]
    pub job_submitted: bool,
}

/// Why a running deployment is being taken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// `job.state` became suspended.
    Suspend,
    /// The spec changed: a new deployment follows.
    Upgrade,
    /// The application is being deleted.
    Delete,
    /// The job ended on its own (failed or finished).
    JobEnded,
    /// The health check found the job unhealthy: a new deployment follows.
    Unhealthy,
    /// The autoscaler decided on another parallelism for a job that cannot
    /// be rescaled in place: a new deployment follows, with it.
    Rescale,
}

/// A stop in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopping {
    /// Why.
    pub reason: StopReason,
    /// Stop-with-savepoint trigger id, once triggered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
    /// The job is no longer running (savepoint taken, or cancelled).
    #[serde(default)]
    pub job_stopped: bool,
}

/// What drey recorded in the application's status: its memory across passes
/// and restarts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    /// The live deployment, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<Deployment>,
    /// A stop in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopping: Option<Stopping>,
    /// Where the next deployment restores from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<String>,
    /// The savepoint trigger nonce last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoint_nonce: Option<String>,
    /// An on-demand savepoint in progress (trigger id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoint_trigger: Option<String>,
    /// The savepoint resource the trigger serves, if one asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoint_resource: Option<String>,
    /// Whether any deployment was made before (initialSavepointPath applies once).
    #[serde(default)]
    pub deployed_before: bool,
    /// A deployment of this fingerprint failed for good (stateless cluster
    /// loss): do not redeploy until the spec (or `restartNonce`) changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halted_fingerprint: Option<String>,
    /// Deletion was requested; finish taking the deployment down first.
    #[serde(default)]
    pub deleting: bool,
    /// Failed submissions of the current deployment's job (for
    /// `job.maxJobCreationAttempts`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_submissions: u64,
    /// Failed stop-with-savepoint attempts (for
    /// `job.maxSavepointCreationAttempts`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_stops: u64,
    /// Failed attempts of the savepoint the nonce asks for (a savepoint
    /// resource counts its own), for `job.maxSavepointCreationAttempts`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_savepoints: u64,
    /// The desired state ([`Desired::transition`]) whose savepoint could not
    /// be taken in the allowed attempts: the job keeps running and no stop is
    /// tried again until the spec changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_given_up: Option<String>,
    /// Since when the deployment's JobManager has not answered, while its
    /// processes live: nothing is acted on until it answers or the silence
    /// outlasts the hung bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence: Option<Silence>,
    /// The newest completed checkpoint of the current deployment's job, kept
    /// where the backend's state is not on this machine (an existing
    /// cluster): what the job restores from when its cluster forgets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen_checkpoint: Option<SeenCheckpoint>,
    /// The deployment's cluster was lost (its processes died), and why: kept
    /// until a job runs again or the application is no longer meant to run,
    /// so the ClusterLost alert holds while drey recovers (the loss itself
    /// is seen for an instant only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_cluster: Option<drey_model::observation::Silence>,
    /// When the periodic savepoint clock last started: a savepoint trigger
    /// or a new deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoint_clock: Option<drey_model::Timestamp>,
    /// Where the health check's current restart window began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_baseline: Option<super::health::RestartBaseline>,
    /// What the autoscaler last did to the current job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler: Option<super::autoscale::AutoscalerRecord>,
}

/// A completed checkpoint drey saw, and when it recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeenCheckpoint {
    /// Its external path.
    pub location: String,
    /// When it was recorded.
    pub recorded_at: drey_model::Timestamp,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a Flink asynchronous operation is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperationObs {
    /// Not done yet.
    InProgress,
    /// Done; the savepoint's path.
    Completed(String),
    /// Failed, with Flink's cause.
    Failed(String),
    /// Flink did not answer about it: look again.
    Unknown(String),
}

/// What drey observed of the recorded deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// The recorded cluster: seen (its processes live and its REST API
    /// answered), gone (its processes are dead, or hung past the bound), or
    /// unknown (alive but not answering); `None` when there was nothing to
    /// look at (no deployment, or its cluster was not started yet).
    pub cluster: Option<Observation<()>>,
    /// The job's state as Flink reports it (`RUNNING`, `FAILED`, ...); `None`
    /// when the cluster does not know the job or was not asked.
    pub job_state: Option<String>,
    /// The recorded stop-with-savepoint or savepoint trigger, when one is recorded.
    pub operation: Option<OperationObs>,
    /// The job's newest completed checkpoint, when it was asked for (a
    /// running job whose state is not on this machine).
    pub latest_checkpoint: Option<String>,
}

impl Observed {
    /// Nothing deployed, nothing looked at.
    pub fn nothing() -> Self {
        Observed {
            cluster: None,
            job_state: None,
            operation: None,
            latest_checkpoint: None,
        }
    }

    /// The cluster certainly is not there.
    pub fn gone(why: impl Into<String>) -> Self {
        Observed {
            cluster: Some(Observation::Gone(why.into())),
            ..Observed::nothing()
        }
    }

    /// The cluster's processes live but it did not answer.
    pub fn unknown(why: impl Into<String>) -> Self {
        Observed {
            cluster: Some(Observation::Unknown(why.into())),
            ..Observed::nothing()
        }
    }

    /// The cluster answered.
    pub fn up(job_state: Option<String>, operation: Option<OperationObs>) -> Self {
        Observed {
            cluster: Some(Observation::Seen(())),
            job_state,
            operation,
            latest_checkpoint: None,
        }
    }

    fn unanswered(&self) -> bool {
        self.cluster.as_ref().is_some_and(Observation::is_unknown)
    }
}

/// The one next step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Record a new instance (uuid, job id, cluster id) restoring from the
    /// given path; nothing runs yet.
    NewDeployment {
        /// Savepoint or checkpoint to restore from.
        restore_from: Option<String>,
    },
    /// Start (or adopt) the recorded deployment's cluster.
    StartCluster,
    /// Upload the jar and run it with the recorded job id (a job with that id
    /// already on the cluster counts as submitted).
    SubmitJob,
    /// Stop the job with a savepoint; record the trigger id.
    StopWithSavepoint(StopReason),
    /// Wait for the recorded trigger; on completion record the savepoint.
    AwaitStop,
    /// Cancel the job, first noting the latest retained checkpoint as the
    /// restore point when `keep_checkpoint`.
    Cancel {
        /// Why.
        reason: StopReason,
        /// Restore from the latest checkpoint (last-state).
        keep_checkpoint: bool,
    },
    /// The job is stopped (or gone): stop the cluster and clear the deployment.
    TearDown,
    /// The cluster of the deployment is gone: record the failure and clear it.
    ClusterLost,
    /// The JobManager does not answer while its processes live: say so, act
    /// on nothing, look again.
    Unanswered,
    /// Trigger an on-demand savepoint (nonce changed).
    TriggerSavepoint,
    /// Give the running job's vertices the parallelism the autoscaler
    /// decided, in place (or only say what it would do).
    Rescale,
    /// Wait for the on-demand savepoint.
    AwaitSavepoint,
    /// Fail the pending savepoint resource: no job runs to take it from.
    RejectSavepoint,
    /// Delete the application and its records.
    Finalize,
    /// Record what is observed (job state, exceptions); nothing to change.
    Observe,
    /// Nothing to do.
    Idle,
}

/// Attempts an on-demand savepoint gets when `job.maxSavepointCreationAttempts`
/// names none.
pub const SAVEPOINT_ATTEMPTS: u64 = 6;

/// What follows the failure of attempt `attempts` (from 1) of an on-demand
/// savepoint: `Some(wait)` to try again after `wait` (backing off), or
/// `None` to give it up. Only a refusal for now (`refused_for_now`: Flink
/// could not take it while the job's tasks were starting, finishing or
/// restarting) is worth another try; the job is never touched either way.
pub fn savepoint_retry(
    refused_for_now: bool,
    attempts: u64,
    max_attempts: u64,
) -> Option<Duration> {
    if !refused_for_now || attempts >= max_attempts {
        return None;
    }
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(5);
    Some(Duration::from_secs(1 << exponent))
}

/// Whether a periodic savepoint is due: `interval` (the operator's
/// `kubernetes.operator.periodic.savepoint.interval`) has passed since the
/// latest of `since` (the clock's start, the last completed savepoint of
/// any kind). With no point to count from, none is due: the clock starts
/// with the next deployment or savepoint.
pub fn periodic_savepoint_due(
    interval: Option<Duration>,
    since: &[Option<drey_model::Timestamp>],
    now: drey_model::Timestamp,
) -> bool {
    let (Some(interval), Some(latest)) = (interval, since.iter().flatten().max()) else {
        return false;
    };
    let elapsed = u64::try_from(now.millis() - latest.millis()).unwrap_or(0);
    elapsed >= u64::try_from(interval.as_millis()).unwrap_or(u64::MAX)
}

/// Whether the observed job is in a final state (a failed job is handled
/// as such, not as an unhealthy one).
fn is_terminal_opt(observed: &Observed) -> bool {
    observed.job_state.as_deref().is_some_and(is_terminal)
}

/// Whether a Flink job state is final.
pub fn is_terminal(state: &str) -> bool {
    matches!(state, "FAILED" | "FINISHED" | "CANCELED" | "SUSPENDED")
}

/// Decides the next step.
pub fn plan(desired: &Desired, recorded: &Recorded, observed: &Observed) -> Action {
    let Some(deployment) = &recorded.deployment else {
        if desired.deleting {
            return Action::Finalize;
        }
        if desired.pending_savepoint.is_some() {
            return Action::RejectSavepoint;
        }
        if !desired.running
            || recorded.halted_fingerprint.as_deref() == Some(desired.fingerprint.as_str())
        {
            return Action::Idle;
        }
        let restore_from = if recorded.deployed_before {
            match desired.upgrade_mode {
                UpgradeMode::Stateless => None,
                _ => recorded.restore_from.clone(),
            }
        } else {
            desired
                .initial_savepoint
                .clone()
                .or_else(|| recorded.restore_from.clone())
        };
        return Action::NewDeployment { restore_from };
    };

    if let Some(stopping) = &recorded.stopping {
        if stopping.job_stopped {
            return Action::TearDown;
        }
        if observed.unanswered() {
            return Action::Unanswered;
        }
        if stopping.trigger_id.is_some() {
            // The executor records the savepoint, or the failure, or a
            // cluster that went away while it was taken.
            return Action::AwaitStop;
        }
        return Action::Cancel {
            reason: stopping.reason,
            keep_checkpoint: false,
        };
    }

    if !deployment.cluster_started {
        return Action::StartCluster;
    }
    match &observed.cluster {
        Some(Observation::Seen(())) => {}
        Some(Observation::Unknown(_)) => return Action::Unanswered,
        // Started, and now certainly not there (or never looked at, which a
        // started deployment always is).
        Some(Observation::Gone(_)) | None => return Action::ClusterLost,
    }
    if !deployment.job_submitted {
        if desired.deleting || !desired.running {
            return Action::TearDown;
        }
        return Action::SubmitJob;
    }

    let job_running = observed.job_state.as_deref() == Some("RUNNING");
    let rescale_how = desired.rescale.as_ref().map(|r| r.how);
    let reason = if desired.deleting {
        Some(StopReason::Delete)
    } else if !desired.running {
        Some(StopReason::Suspend)
    } else if desired.fingerprint != deployment.fingerprint {
        Some(StopReason::Upgrade)
    } else if desired.unhealthy.is_some() && !is_terminal_opt(observed) {
        Some(StopReason::Unhealthy)
    } else if job_running && rescale_how == Some(RescaleHow::Redeploy) {
        Some(StopReason::Rescale)
    } else {
        None
    };

    if let Some(reason) = reason {
        if !job_running {
            // Nothing to snapshot: a savepoint needs a running job.
            return Action::Cancel {
                reason,
                keep_checkpoint: desired.upgrade_mode != UpgradeMode::Stateless,
            };
        }
        if recorded.stop_given_up.as_deref() == Some(desired.transition().as_str()) {
            // The savepoint failed too often: stay until the spec changes.
            return Action::Observe;
        }
        return match (reason, desired.upgrade_mode) {
            // A job restarting in a loop takes no savepoint: it restarts from
            // its latest checkpoint, as the operator restarts it.
            (StopReason::Unhealthy, mode) => Action::Cancel {
                reason,
                keep_checkpoint: mode != UpgradeMode::Stateless,
            },
            (StopReason::Delete, _) | (_, UpgradeMode::Stateless) => Action::Cancel {
                reason,
                keep_checkpoint: false,
            },
            (StopReason::Upgrade | StopReason::Rescale, UpgradeMode::LastState) => Action::Cancel {
                reason,
                keep_checkpoint: true,
            },
            _ => Action::StopWithSavepoint(reason),
        };
    }

    if recorded.savepoint_trigger.is_some() {
        return Action::AwaitSavepoint;
    }
    let nonce_changed =
        desired.savepoint_nonce.is_some() && desired.savepoint_nonce != recorded.savepoint_nonce;
    if job_running
        && (nonce_changed || desired.pending_savepoint.is_some() || desired.periodic_savepoint_due)
    {
        return Action::TriggerSavepoint;
    }
    if desired.pending_savepoint.is_some() {
        return Action::RejectSavepoint;
    }
    if job_running && rescale_how.is_some() {
        return Action::Rescale;
    }
    Action::Observe
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(running: bool, mode: UpgradeMode, fp: &str) -> Desired {
        Desired {
            running,
            upgrade_mode: mode,
            fingerprint: fp.into(),
            savepoint_nonce: None,
            initial_savepoint: None,
            deleting: false,
            pending_savepoint: None,
            max_job_attempts: None,
            max_savepoint_attempts: None,
            periodic_savepoint_due: false,
            unhealthy: None,
            rescale: None,
        }
    }

    fn deployed(fp: &str) -> Recorded {
        Recorded {
            deployment: Some(Deployment {
                instance: "i".into(),
                job_id: "j".into(),
                cluster_id: "c".into(),
                fingerprint: fp.into(),
                restore_from: None,
                session: false,
                existing_cluster: None,
                cluster_launched: true,
                cluster_started: true,
                job_submitted: true,
            }),
            deployed_before: true,
            ..Recorded::default()
        }
    }

    fn running_job() -> Observed {
        Observed::up(Some("RUNNING".into()), None)
    }

    use UpgradeMode::*;

    #[test]
    fn first_deploy_uses_the_initial_savepoint() {
        let mut d = desired(true, Savepoint, "a");
        d.initial_savepoint = Some("/sp/1".into());
        assert_eq!(
            plan(&d, &Recorded::default(), &Observed::nothing()),
            Action::NewDeployment {
                restore_from: Some("/sp/1".into())
            }
        );
    }

    #[test]
    fn suspended_and_undeployed_is_idle() {
        assert_eq!(
            plan(
                &desired(false, Savepoint, "a"),
                &Recorded::default(),
                &Observed::nothing()
            ),
            Action::Idle
        );
    }

    #[test]
    fn resume_restores_unless_stateless() {
        let recorded = Recorded {
            restore_from: Some("/sp/2".into()),
            deployed_before: true,
            ..Recorded::default()
        };
        let mut d = desired(true, Savepoint, "a");
        d.initial_savepoint = Some("/sp/initial".into());
        assert_eq!(
            plan(&d, &recorded, &Observed::nothing()),
            Action::NewDeployment {
                restore_from: Some("/sp/2".into())
            }
        );
        assert_eq!(
            plan(
                &desired(true, Stateless, "a"),
                &recorded,
                &Observed::nothing()
            ),
            Action::NewDeployment { restore_from: None }
        );
    }

    #[test]
    fn deploy_steps_in_order() {
        let mut r = deployed("a");
        let d = desired(true, Savepoint, "a");
        if let Some(dep) = r.deployment.as_mut() {
            dep.cluster_started = false;
            dep.job_submitted = false;
        }
        assert_eq!(plan(&d, &r, &Observed::nothing()), Action::StartCluster);
        if let Some(dep) = r.deployment.as_mut() {
            dep.cluster_started = true;
        }
        let up = Observed::up(None, None);
        assert_eq!(plan(&d, &r, &up), Action::SubmitJob);
        assert_eq!(plan(&d, &deployed("a"), &running_job()), Action::Observe);
    }

    #[test]
    fn suspend_per_upgrade_mode() {
        let r = deployed("a");
        assert_eq!(
            plan(&desired(false, Savepoint, "a"), &r, &running_job()),
            Action::StopWithSavepoint(StopReason::Suspend)
        );
        assert_eq!(
            plan(&desired(false, LastState, "a"), &r, &running_job()),
            Action::StopWithSavepoint(StopReason::Suspend)
        );
        assert_eq!(
            plan(&desired(false, Stateless, "a"), &r, &running_job()),
            Action::Cancel {
                reason: StopReason::Suspend,
                keep_checkpoint: false
            }
        );
    }

    #[test]
    fn upgrade_per_upgrade_mode() {
        let r = deployed("a");
        assert_eq!(
            plan(&desired(true, Savepoint, "b"), &r, &running_job()),
            Action::StopWithSavepoint(StopReason::Upgrade)
        );
        assert_eq!(
            plan(&desired(true, LastState, "b"), &r, &running_job()),
            Action::Cancel {
                reason: StopReason::Upgrade,
                keep_checkpoint: true
            }
        );
        assert_eq!(
            plan(&desired(true, Stateless, "b"), &r, &running_job()),
            Action::Cancel {
                reason: StopReason::Upgrade,
                keep_checkpoint: false
            }
        );
    }

    #[test]
    fn a_recorded_stop_is_resumed() {
        let mut r = deployed("a");
        r.stopping = Some(Stopping {
            reason: StopReason::Upgrade,
            trigger_id: Some("t".into()),
            job_stopped: false,
        });
        let mut o = running_job();
        o.operation = Some(OperationObs::InProgress);
        assert_eq!(
            plan(&desired(true, Savepoint, "b"), &r, &o),
            Action::AwaitStop
        );
        r.stopping = Some(Stopping {
            reason: StopReason::Upgrade,
            trigger_id: Some("t".into()),
            job_stopped: true,
        });
        assert_eq!(
            plan(&desired(true, Savepoint, "b"), &r, &o),
            Action::TearDown
        );
    }

    #[test]
    fn a_dead_cluster_is_noticed() {
        let o = Observed::gone("the JobManager process exited");
        assert_eq!(
            plan(&desired(true, Savepoint, "a"), &deployed("a"), &o),
            Action::ClusterLost
        );
    }

    #[test]
    fn an_unanswering_cluster_is_never_acted_on() {
        let silent = Observed::unknown("timed out");
        for mode in [Stateless, Savepoint, LastState] {
            // Running, upgrading, suspending, deleting: nothing but waiting.
            assert_eq!(
                plan(&desired(true, mode, "a"), &deployed("a"), &silent),
                Action::Unanswered
            );
            assert_eq!(
                plan(&desired(true, mode, "b"), &deployed("a"), &silent),
                Action::Unanswered
            );
            assert_eq!(
                plan(&desired(false, mode, "a"), &deployed("a"), &silent),
                Action::Unanswered
            );
            let mut deleting = desired(true, mode, "a");
            deleting.deleting = true;
            assert_eq!(plan(&deleting, &deployed("a"), &silent), Action::Unanswered);
        }
        // A stop in flight waits too, unless the job already stopped.
        let mut r = deployed("a");
        r.stopping = Some(Stopping {
            reason: StopReason::Suspend,
            trigger_id: Some("t".into()),
            job_stopped: false,
        });
        assert_eq!(
            plan(&desired(false, Savepoint, "a"), &r, &silent),
            Action::Unanswered
        );
        r.stopping = Some(Stopping {
            reason: StopReason::Suspend,
            trigger_id: None,
            job_stopped: false,
        });
        assert_eq!(
            plan(&desired(false, Savepoint, "a"), &r, &silent),
            Action::Unanswered
        );
    }

    #[test]
    fn a_failed_job_is_observed_until_the_spec_changes() {
        let failed = Observed::up(Some("FAILED".into()), None);
        assert_eq!(
            plan(&desired(true, Savepoint, "a"), &deployed("a"), &failed),
            Action::Observe
        );
        // A restartNonce bump changes the fingerprint: redeploy from the last checkpoint.
        assert_eq!(
            plan(&desired(true, Savepoint, "b"), &deployed("a"), &failed),
            Action::Cancel {
                reason: StopReason::Upgrade,
                keep_checkpoint: true
            }
        );
    }

    #[test]
    fn savepoint_nonce_triggers_once() {
        let mut d = desired(true, Savepoint, "a");
        d.savepoint_nonce = Some("1".into());
        let mut r = deployed("a");
        assert_eq!(plan(&d, &r, &running_job()), Action::TriggerSavepoint);
        r.savepoint_trigger = Some("t".into());
        assert_eq!(plan(&d, &r, &running_job()), Action::AwaitSavepoint);
        r.savepoint_trigger = None;
        r.savepoint_nonce = Some("1".into());
        assert_eq!(plan(&d, &r, &running_job()), Action::Observe);
    }

    #[test]
    fn a_nonce_savepoint_refused_for_now_is_triggered_again() {
        // Flink refused the nonce's savepoint while the job's tasks started:
        // the nonce stays unacted on, so the next plan triggers again.
        let mut d = desired(true, Savepoint, "a");
        d.savepoint_nonce = Some("1".into());
        let mut r = deployed("a");
        r.failed_savepoints = 1;
        assert_eq!(plan(&d, &r, &running_job()), Action::TriggerSavepoint);
    }

    #[test]
    fn a_refused_savepoint_is_tried_again_backing_off_up_to_the_limit() {
        let waits: Vec<_> = (1..=7)
            .map(|n| savepoint_retry(true, n, SAVEPOINT_ATTEMPTS))
            .collect();
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            waits,
            [secs(1), secs(2), secs(4), secs(8), secs(16), None, None]
        );
        // A real failure is not tried again; nor past the spec's own limit.
        assert_eq!(savepoint_retry(false, 1, SAVEPOINT_ATTEMPTS), None);
        assert_eq!(savepoint_retry(true, 1, 1), None);
        assert_eq!(savepoint_retry(true, 1, 0), None);
        // A large limit never waits more than 32 s between tries.
        assert_eq!(savepoint_retry(true, 40, 100), secs(32));
    }

    #[test]
    fn a_halted_spec_is_not_redeployed_until_it_changes() {
        let r = Recorded {
            halted_fingerprint: Some("a".into()),
            deployed_before: true,
            ..Recorded::default()
        };
        assert_eq!(
            plan(&desired(true, Stateless, "a"), &r, &Observed::nothing()),
            Action::Idle
        );
        assert_eq!(
            plan(&desired(true, Stateless, "b"), &r, &Observed::nothing()),
            Action::NewDeployment { restore_from: None }
        );
    }

    #[test]
    fn savepoint_resources_are_taken_from_a_running_job_only() {
        let mut d = desired(true, Savepoint, "a");
        d.pending_savepoint = Some("sp-1".into());
        assert_eq!(
            plan(&d, &deployed("a"), &running_job()),
            Action::TriggerSavepoint
        );
        let failed = Observed::up(Some("FAILED".into()), None);
        assert_eq!(plan(&d, &deployed("a"), &failed), Action::RejectSavepoint);
        d.running = false;
        assert_eq!(
            plan(&d, &Recorded::default(), &Observed::nothing()),
            Action::RejectSavepoint
        );
    }

    #[test]
    fn delete_cancels_then_finalizes() {
        let mut d = desired(true, Savepoint, "a");
        d.deleting = true;
        assert_eq!(
            plan(&d, &deployed("a"), &running_job()),
            Action::Cancel {
                reason: StopReason::Delete,
                keep_checkpoint: false
            }
        );
        assert_eq!(
            plan(&d, &Recorded::default(), &Observed::nothing()),
            Action::Finalize
        );
    }

    #[test]
    fn periodic_savepoints_are_taken_when_due_from_a_running_job_only() {
        let mut d = desired(true, Savepoint, "a");
        d.periodic_savepoint_due = true;
        assert_eq!(
            plan(&d, &deployed("a"), &running_job()),
            Action::TriggerSavepoint
        );
        let restarting = Observed::up(Some("RESTARTING".into()), None);
        assert_eq!(plan(&d, &deployed("a"), &restarting), Action::Observe);
        let mut waiting = deployed("a");
        waiting.savepoint_trigger = Some("t".into());
        assert_eq!(plan(&d, &waiting, &running_job()), Action::AwaitSavepoint);
    }

    #[test]
    fn the_periodic_clock_counts_from_the_latest_point() {
        let at = |s: i64| drey_model::Timestamp::from_millis(s * 1000);
        let ten = Some(Duration::from_secs(10));
        let now = at(1_000).unwrap();
        assert!(periodic_savepoint_due(ten, &[at(990), None], now));
        assert!(!periodic_savepoint_due(ten, &[at(990), at(995)], now));
        assert!(!periodic_savepoint_due(ten, &[None, None], now));
        assert!(!periodic_savepoint_due(None, &[at(0)], now));
        // A clock ahead of this replica's (another replica's time) waits.
        assert!(!periodic_savepoint_due(ten, &[at(1_005)], now));
    }

    #[test]
    fn a_running_job_is_rescaled_when_the_autoscaler_decided() {
        let mut d = desired(true, Savepoint, "a");
        d.rescale = Some(super::super::autoscale::Rescale {
            parallelism: [("v".to_string(), 2)].into(),
            summary: "v 1→2".into(),
            how: RescaleHow::InPlace,
        });
        assert_eq!(plan(&d, &deployed("a"), &running_job()), Action::Rescale);
        // Not while it restarts, nor over an upgrade or a suspend.
        let restarting = Observed::up(Some("RESTARTING".into()), None);
        assert_eq!(plan(&d, &deployed("a"), &restarting), Action::Observe);
        let mut upgrade = d.clone();
        upgrade.fingerprint = "b".into();
        assert_eq!(
            plan(&upgrade, &deployed("a"), &running_job()),
            Action::StopWithSavepoint(StopReason::Upgrade)
        );
        d.running = false;
        assert_eq!(
            plan(&d, &deployed("a"), &running_job()),
            Action::StopWithSavepoint(StopReason::Suspend)
        );
        // Without the adaptive scheduler: a new deployment per upgrade mode.
        d.running = true;
        if let Some(r) = d.rescale.as_mut() {
            r.how = RescaleHow::Redeploy;
        }
        assert_eq!(
            plan(&d, &deployed("a"), &running_job()),
            Action::StopWithSavepoint(StopReason::Rescale)
        );
        d.upgrade_mode = LastState;
        assert_eq!(
            plan(&d, &deployed("a"), &running_job()),
            Action::Cancel {
                reason: StopReason::Rescale,
                keep_checkpoint: true
            }
        );
        d.upgrade_mode = Stateless;
        assert_eq!(
            plan(&d, &deployed("a"), &running_job()),
            Action::Cancel {
                reason: StopReason::Rescale,
                keep_checkpoint: false
            }
        );
        // A JobManager that does not answer is never stopped for a rescale,
        // nor rescaled in place: nothing is acted on while it is unknown.
        let silent = Observed::unknown("timed out");
        assert_eq!(plan(&d, &deployed("a"), &silent), Action::Unanswered);
        if let Some(r) = d.rescale.as_mut() {
            r.how = RescaleHow::InPlace;
        }
        assert_eq!(plan(&d, &deployed("a"), &silent), Action::Unanswered);
    }

    #[test]
    fn an_unhealthy_job_is_cancelled_keeping_its_checkpoint_unless_stateless() {
        let mut d = desired(true, Savepoint, "a");
        d.unhealthy = Some("restarted 9 times".into());
        let restarting = Observed::up(Some("RESTARTING".into()), None);
        for observed in [running_job(), restarting] {
            assert_eq!(
                plan(&d, &deployed("a"), &observed),
                Action::Cancel {
                    reason: StopReason::Unhealthy,
                    keep_checkpoint: true
                }
            );
        }
        d.upgrade_mode = Stateless;
        assert_eq!(
            plan(&d, &deployed("a"), &running_job()),
            Action::Cancel {
                reason: StopReason::Unhealthy,
                keep_checkpoint: false
            }
        );
        // A job that failed for good is not "unhealthy": it stays FAILED.
        let failed = Observed::up(Some("FAILED".into()), None);
        assert_eq!(plan(&d, &deployed("a"), &failed), Action::Observe);
    }
}
