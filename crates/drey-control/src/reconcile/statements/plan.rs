//! The statement reconciler's memory (`status.reconciler`), what it observes,
//! and the pure planner that picks the next step from them.

use super::phase;
use drey_model::loose::view;
use drey_model::statement_spec::StatementStatus;
use drey_model::{Object, Observation, Silence};
use serde::{Deserialize, Serialize};

/// What the reconciler keeps about a statement, in `status.reconciler`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StatementRecord {
    /// The SQL was checked (and, for DDL and metadata, run).
    pub prepared: bool,
    /// `query`, `job`, `catalog` or `metadata`.
    pub execution: String,
    /// Runs started so far; a run's job id derives from it.
    pub runs: u32,
    /// The current run.
    pub run: Option<Run>,
    /// The latest savepoint: where a resumed job restores from.
    pub savepoint: Option<String>,
    /// A stop in flight.
    pub stopping: Option<Stopping>,
    /// Since when the run's JobManager has not answered while its processes
    /// live; nothing is acted on meanwhile.
    pub silence: Option<Silence>,
    /// The statement's own cluster was launched and is starting.
    pub cluster_launched: bool,
}

/// One run of a statement's job.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Run {
    /// The Flink job id, fixed before submission.
    pub job_id: String,
    /// The cluster's REST URL.
    pub rest_url: String,
    /// The statement's own cluster (DEDICATED pools).
    pub cluster_id: Option<String>,
    /// The job was submitted (or found on the cluster).
    pub submitted: bool,
    /// The gateway session and operation that hold a query's results.
    pub session: Option<String>,
    /// See `session`.
    pub operation: Option<String>,
    /// Parallelism it was submitted with.
    pub parallelism: Option<u64>,
    /// The job reached a terminal state and was recorded.
    pub finished: bool,
}

/// Why and how a job is being stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopping {
    /// `stop`, `rescale` or `delete`.
    pub reason: String,
    /// Flink's trigger id of the stop-with-savepoint; none for a cancel.
    pub trigger_id: Option<String>,
}

/// What the user wants of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// Delete was asked for.
    pub deleting: bool,
    /// `spec.stopped`.
    pub stopped: bool,
    /// `spec.parallelism`.
    pub parallelism: Option<u64>,
}

/// Where the statement's job can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolObs {
    /// A SHARED pool whose cluster runs at this URL.
    Ready(String),
    /// A DEDICATED pool: the statement starts a cluster of its own.
    Dedicated,
    /// The pool is not ready; why.
    NotReady(String),
}

/// What the statement's job is doing: seen with its state (`None` when the
/// cluster answered that it does not know the job), gone (the cluster's
/// processes are dead, or hung past the bound), or unknown.
pub type JobObs = Observation<Option<String>>;

/// A stop-with-savepoint's progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopObs {
    /// Still going.
    InProgress,
    /// Done; the savepoint's path.
    Completed(String),
    /// Failed; why.
    Failed(String),
    /// Flink did not answer about it.
    Unknown(String),
}

/// What the reconciler saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// The pool.
    pub pool: PoolObs,
    /// The current run's job, if there is a submitted run.
    pub job: Option<JobObs>,
    /// The stop in flight.
    pub stop: Option<StopObs>,
}

/// The next step for a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Check (and for DDL, run) the SQL.
    Prepare,
    /// Start the statement's own cluster, then submit.
    StartCluster,
    /// Submit the job to the cluster at this URL.
    Submit(String),
    /// The job was found on the cluster: mark the run submitted.
    MarkSubmitted,
    /// Record a phase and detail.
    SetPhase(&'static str, String),
    /// The job ended: record how, release what it held.
    Finish(&'static str, String),
    /// Stop the job: with a savepoint for a detached job, else cancel.
    Stop {
        /// `stop`, `rescale` or `delete`.
        reason: &'static str,
        /// Take a savepoint.
        savepoint: bool,
    },
    /// The stop completed (with this savepoint, for a detached job).
    StopDone(Option<String>),
    /// The stop failed.
    StopFailed(String),
    /// Remove the statement and everything it held.
    Cleanup,
    /// Look again soon.
    Wait,
    /// The run's JobManager does not answer: say so, act on nothing.
    Unanswered,
    /// Nothing to do.
    Nothing,
}

fn terminal(phase: &str) -> bool {
    matches!(phase, phase::COMPLETED | phase::FAILED)
}

fn job_active(state: &str) -> bool {
    !matches!(state, "FINISHED" | "FAILED" | "CANCELED" | "SUSPENDED")
}

/// Pure: the next step from what is desired, recorded and observed.
pub fn plan(
    desired: &Desired,
    record: &StatementRecord,
    phase: &str,
    observed: &Observed,
) -> Action {
    let is_job = record.execution == "job";
    let active =
        |job: Option<&JobObs>| matches!(job, Some(Observation::Seen(Some(s))) if job_active(s));
    if observed.job.as_ref().is_some_and(Observation::is_unknown) {
        return Action::Unanswered;
    }
    if let Some(stopping) = &record.stopping {
        return match (&observed.stop, &observed.job) {
            (Some(StopObs::InProgress), _) => Action::Wait,
            (Some(StopObs::Unknown(_)), _) => Action::Unanswered,
            (Some(StopObs::Completed(path)), _) => Action::StopDone(Some(path.clone())),
            (Some(StopObs::Failed(why)), _) => Action::StopFailed(why.clone()),
            (None, job) if active(job.as_ref()) && stopping.trigger_id.is_none() => Action::Wait,
            (None, _) => Action::StopDone(None),
        };
    }
    let run = record.run.as_ref().filter(|r| !r.finished);
    let job = observed.job.as_ref();
    if desired.deleting {
        return match run {
            Some(r) if r.submitted && active(job) => Action::Stop {
                reason: "delete",
                savepoint: false,
            },
            _ => Action::Cleanup,
        };
    }
    if !record.prepared {
        return Action::Prepare;
    }
    if !matches!(record.execution.as_str(), "query" | "job") {
        return Action::Nothing;
    }
    let Some(run) = run else {
        if record.run.is_some() || terminal(phase) {
            return Action::Nothing; // finished; a new run needs a new statement
        }
        if desired.stopped {
            return if phase == phase::STOPPED {
                Action::Nothing
            } else {
                Action::SetPhase(phase::STOPPED, "The statement is stopped.".into())
            };
        }
        return match &observed.pool {
            PoolObs::Ready(url) => Action::Submit(url.clone()),
            PoolObs::Dedicated => Action::StartCluster,
            PoolObs::NotReady(why) if phase != phase::PENDING => {
                Action::SetPhase(phase::PENDING, why.clone())
            }
            PoolObs::NotReady(_) => Action::Wait,
        };
    };
    if !run.submitted {
        return match job {
            Some(Observation::Seen(Some(_))) => Action::MarkSubmitted,
            Some(Observation::Seen(None)) | None => Action::Submit(run.rest_url.clone()),
            Some(Observation::Gone(why)) => Action::Finish(
                phase::FAILED,
                format!("The Flink cluster of the statement is gone: {why}."),
            ),
            Some(Observation::Unknown(_)) => Action::Unanswered,
        };
    }
    match job {
        Some(Observation::Seen(Some(state))) => match state.as_str() {
            "FINISHED" => Action::Finish(phase::COMPLETED, "The statement completed.".into()),
            "FAILED" => Action::Finish(phase::FAILED, "The statement's job failed.".into()),
            "CANCELED" => Action::Finish(
                phase::FAILED,
                format!("Job {} was cancelled outside drey.", run.job_id),
            ),
            "FAILING" | "RESTARTING" if phase != phase::FAILING => {
                Action::SetPhase(phase::FAILING, format!("Job {} is {state}.", run.job_id))
            }
            "FAILING" | "RESTARTING" => Action::Wait,
            _ if desired.stopped => Action::Stop {
                reason: "stop",
                savepoint: is_job,
            },
            _ if is_job
                && desired.parallelism.is_some()
                && desired.parallelism != run.parallelism =>
            {
                Action::Stop {
                    reason: "rescale",
                    savepoint: true,
                }
            }
            "RUNNING" if phase != phase::RUNNING => {
                Action::SetPhase(phase::RUNNING, format!("Job {} is running.", run.job_id))
            }
            _ => Action::Nothing,
        },
        Some(Observation::Unknown(_)) => Action::Unanswered,
        Some(Observation::Seen(None)) | Some(Observation::Gone(_)) | None => Action::Finish(
            phase::FAILED,
            format!(
                "Job {} is gone: its Flink cluster no longer runs it.",
                run.job_id
            ),
        ),
    }
}

/// The record kept in a statement's status.
pub fn record_of(statement: &Object) -> StatementRecord {
    view::<StatementStatus<StatementRecord>>(&statement.status)
        .reconciler
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired {
            deleting: false,
            stopped: false,
            parallelism: None,
        }
    }

    fn record(execution: &str, run: Option<Run>) -> StatementRecord {
        StatementRecord {
            prepared: true,
            execution: execution.into(),
            runs: 1,
            run,
            ..StatementRecord::default()
        }
    }

    fn submitted() -> Run {
        Run {
            job_id: "j".into(),
            rest_url: "http://x:1".into(),
            submitted: true,
            parallelism: Some(1),
            ..Run::default()
        }
    }

    fn observed(pool: PoolObs, job: Option<JobObs>) -> Observed {
        Observed {
            pool,
            job,
            stop: None,
        }
    }

    #[test]
    fn new_statements_are_prepared_then_submitted() {
        let ready = observed(PoolObs::Ready("http://x:1".into()), None);
        assert_eq!(
            plan(&desired(), &StatementRecord::default(), "PENDING", &ready),
            Action::Prepare
        );
        let r = record("job", None);
        assert_eq!(
            plan(&desired(), &r, "PENDING", &ready),
            Action::Submit("http://x:1".into())
        );
        let dedicated = observed(PoolObs::Dedicated, None);
        assert_eq!(
            plan(&desired(), &r, "PENDING", &dedicated),
            Action::StartCluster
        );
        let waiting = observed(PoolObs::NotReady("w".into()), None);
        assert_eq!(plan(&desired(), &r, "PENDING", &waiting), Action::Wait);
        assert_eq!(
            plan(&desired(), &r, "STOPPED", &waiting),
            Action::SetPhase("PENDING", "w".into())
        );
        // DDL and metadata statements are done once prepared.
        assert_eq!(
            plan(&desired(), &record("catalog", None), "COMPLETED", &ready),
            Action::Nothing
        );
    }

    #[test]
    fn a_crash_between_recording_and_submitting_never_submits_twice() {
        let run = Run {
            submitted: false,
            ..submitted()
        };
        let r = record("job", Some(run));
        let found = observed(
            PoolObs::Ready("u".into()),
            Some(JobObs::Seen(Some("RUNNING".into()))),
        );
        assert_eq!(
            plan(&desired(), &r, "PENDING", &found),
            Action::MarkSubmitted
        );
        let missing = observed(PoolObs::Ready("u".into()), Some(JobObs::Seen(None)));
        assert_eq!(
            plan(&desired(), &r, "PENDING", &missing),
            Action::Submit("http://x:1".into())
        );
    }

    #[test]
    fn job_states_map_to_phases() {
        let r = record("job", Some(submitted()));
        let with = |s: &str| observed(PoolObs::Dedicated, Some(JobObs::Seen(Some(s.into()))));
        assert!(matches!(
            plan(&desired(), &r, "PENDING", &with("RUNNING")),
            Action::SetPhase("RUNNING", _)
        ));
        assert_eq!(
            plan(&desired(), &r, "RUNNING", &with("RUNNING")),
            Action::Nothing
        );
        assert!(matches!(
            plan(&desired(), &r, "RUNNING", &with("FINISHED")),
            Action::Finish("COMPLETED", _)
        ));
        assert!(matches!(
            plan(&desired(), &r, "RUNNING", &with("FAILED")),
            Action::Finish("FAILED", _)
        ));
        assert!(matches!(
            plan(&desired(), &r, "RUNNING", &with("RESTARTING")),
            Action::SetPhase("FAILING", _)
        ));
        let lost = observed(
            PoolObs::Dedicated,
            Some(JobObs::Gone("no process of the cluster runs".into())),
        );
        assert!(matches!(
            plan(&desired(), &r, "RUNNING", &lost),
            Action::Finish("FAILED", _)
        ));
        // A cluster that does not answer is left alone, whatever is asked.
        let silent = observed(
            PoolObs::Dedicated,
            Some(JobObs::Unknown("timed out".into())),
        );
        assert_eq!(plan(&desired(), &r, "RUNNING", &silent), Action::Unanswered);
        let mut deleting = desired();
        deleting.deleting = true;
        assert_eq!(plan(&deleting, &r, "RUNNING", &silent), Action::Unanswered);
    }

    #[test]
    fn stop_resume_and_rescale() {
        let running = observed(
            PoolObs::Ready("u".into()),
            Some(JobObs::Seen(Some("RUNNING".into()))),
        );
        let stop = Desired {
            stopped: true,
            ..desired()
        };
        let r = record("job", Some(submitted()));
        assert_eq!(
            plan(&stop, &r, "RUNNING", &running),
            Action::Stop {
                reason: "stop",
                savepoint: true
            }
        );
        // A query is cancelled: its state is not worth a savepoint.
        assert_eq!(
            plan(
                &stop,
                &record("query", Some(submitted())),
                "RUNNING",
                &running
            ),
            Action::Stop {
                reason: "stop",
                savepoint: false
            }
        );
        let mut stopping = r.clone();
        stopping.stopping = Some(Stopping {
            reason: "stop".into(),
            trigger_id: Some("t".into()),
        });
        let mut obs = running.clone();
        obs.stop = Some(StopObs::InProgress);
        assert_eq!(plan(&stop, &stopping, "RUNNING", &obs), Action::Wait);
        obs.stop = Some(StopObs::Completed("file:///sp".into()));
        assert_eq!(
            plan(&stop, &stopping, "RUNNING", &obs),
            Action::StopDone(Some("file:///sp".into()))
        );
        // Stopped, then resumed: a new run on the pool.
        let stopped = record("job", None);
        let idle = observed(PoolObs::Ready("u".into()), None);
        assert_eq!(plan(&stop, &stopped, "STOPPED", &idle), Action::Nothing);
        assert_eq!(
            plan(&desired(), &stopped, "STOPPED", &idle),
            Action::Submit("u".into())
        );
        let rescale = Desired {
            parallelism: Some(2),
            ..desired()
        };
        assert_eq!(
            plan(&rescale, &r, "RUNNING", &running),
            Action::Stop {
                reason: "rescale",
                savepoint: true
            }
        );
    }

    #[test]
    fn delete_cancels_a_running_job_first() {
        let deleting = Desired {
            deleting: true,
            ..desired()
        };
        let r = record("job", Some(submitted()));
        let running = observed(
            PoolObs::Dedicated,
            Some(JobObs::Seen(Some("RUNNING".into()))),
        );
        assert_eq!(
            plan(&deleting, &r, "DELETING", &running),
            Action::Stop {
                reason: "delete",
                savepoint: false
            }
        );
        let gone = observed(PoolObs::Dedicated, Some(JobObs::Seen(None)));
        assert_eq!(plan(&deleting, &r, "DELETING", &gone), Action::Cleanup);
        assert_eq!(
            plan(&deleting, &StatementRecord::default(), "DELETING", &gone),
            Action::Cleanup
        );
    }
}
