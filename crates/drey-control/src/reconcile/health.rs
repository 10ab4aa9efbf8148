//! The Flink Kubernetes Operator's cluster health check
//! (`kubernetes.operator.cluster.health-check.*`): a job that restarted
//! more than the threshold within the window, or (when asked) whose newest
//! completed checkpoint is older than the progress window, is redeployed
//! per its upgrade mode. The figures come from the job watch's last look
//! (`numRestarts`, checkpoint statistics), so the check costs Flink no
//! extra request.

use drey_model::application::{
    HealthCheck, HEALTH_CHECK_CHECKPOINT_PROGRESS_WINDOW, HEALTH_CHECK_RESTARTS_THRESHOLD,
};
use drey_model::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The restart count the current window is measured from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestartBaseline {
    /// The job it counts (a new deployment's job starts a new window).
    pub job_id: String,
    /// `numRestarts` when the window began.
    pub restarts: u64,
    /// When the window began.
    pub since: Timestamp,
}

/// What the job watch last saw of a job, as far as the check needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobHealth<'a> {
    /// The Flink job id.
    pub job_id: &'a str,
    /// Restarts since it was submitted.
    pub restarts: u64,
    /// How old its newest completed checkpoint was; `None` before its first
    /// (a job that never completed one is not judged on progress: it may
    /// not checkpoint at all).
    pub checkpoint_age: Option<Duration>,
}

/// Judges a job. Like the operator's, restart windows follow one another:
/// once `check.restarts_window` has passed, counting starts again from the
/// current figure. Returns the baseline to keep and, when the job restarted
/// more often than allowed or its checkpoints stopped completing, why it is
/// unhealthy.
pub fn judge(
    check: &HealthCheck,
    baseline: Option<&RestartBaseline>,
    job: JobHealth<'_>,
    now: Timestamp,
) -> (RestartBaseline, Option<String>) {
    let JobHealth {
        job_id, restarts, ..
    } = job;
    let window_ms = i64::try_from(check.restarts_window.as_millis()).unwrap_or(i64::MAX);
    let current = baseline.filter(|b| {
        b.job_id == job_id && b.restarts <= restarts && now.millis() - b.since.millis() <= window_ms
    });
    let baseline = match current {
        Some(b) => b.clone(),
        None => RestartBaseline {
            job_id: job_id.to_owned(),
            restarts,
            since: now,
        },
    };
    let counted = restarts - baseline.restarts;
    let restarting = (counted > check.restarts_threshold).then(|| {
        format!(
            "job {job_id} restarted {counted} times within {} s, more than \
             {HEALTH_CHECK_RESTARTS_THRESHOLD} ({}): redeploying it",
            check.restarts_window.as_secs(),
            check.restarts_threshold
        )
    });
    let stalled = match (check.checkpoint_progress_window, job.checkpoint_age) {
        (Some(window), Some(age)) if age > window => Some(format!(
            "no checkpoint of job {job_id} completed for {} s, longer than \
             {HEALTH_CHECK_CHECKPOINT_PROGRESS_WINDOW} ({} s): redeploying it",
            age.as_secs(),
            window.as_secs()
        )),
        _ => None,
    };
    (baseline, restarting.or(stalled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_millis(s * 1000).unwrap()
    }

    const CHECK: HealthCheck = HealthCheck {
        restarts_threshold: 3,
        restarts_window: Duration::from_secs(60),
        checkpoint_progress_window: None,
    };

    fn judge(
        check: &HealthCheck,
        baseline: Option<&RestartBaseline>,
        job_id: &str,
        restarts: u64,
        now: Timestamp,
    ) -> (RestartBaseline, Option<String>) {
        super::judge(
            check,
            baseline,
            JobHealth {
                job_id,
                restarts,
                checkpoint_age: Some(Duration::from_secs(3600)),
            },
            now,
        )
    }

    #[test]
    fn restarts_past_the_threshold_within_the_window_are_unhealthy() {
        let (b, why) = judge(&CHECK, None, "j", 10, at(0));
        assert_eq!((b.restarts, why), (10, None));
        let (b, why) = judge(&CHECK, Some(&b), "j", 13, at(30));
        assert_eq!((b.restarts, b.since), (10, at(0)));
        assert_eq!(why, None, "three is the threshold, not past it");
        let (_, why) = judge(&CHECK, Some(&b), "j", 14, at(59));
        assert!(why.unwrap().contains("restarted 4 times"));
    }

    #[test]
    fn a_new_window_or_a_new_job_counts_afresh() {
        let (b, _) = judge(&CHECK, None, "j", 0, at(0));
        let (b2, why) = judge(&CHECK, Some(&b), "j", 100, at(61));
        assert_eq!((b2.restarts, b2.since, why), (100, at(61), None));
        let (b3, why) = judge(&CHECK, Some(&b), "k", 100, at(10));
        assert_eq!((b3.job_id.as_str(), b3.restarts, why), ("k", 100, None));
        // A count lower than the baseline (Flink forgot it) starts afresh.
        let (b4, why) = judge(&CHECK, Some(&b2), "j", 5, at(70));
        assert_eq!((b4.restarts, why), (5, None));
    }

    #[test]
    fn checkpoints_that_stop_completing_are_unhealthy_when_asked() {
        let check = HealthCheck {
            checkpoint_progress_window: Some(Duration::from_secs(30)),
            ..CHECK
        };
        let job = |age: Option<u64>| JobHealth {
            job_id: "j",
            restarts: 0,
            checkpoint_age: age.map(Duration::from_secs),
        };
        assert_eq!(super::judge(&check, None, job(Some(29)), at(0)).1, None);
        assert_eq!(super::judge(&check, None, job(None), at(0)).1, None);
        let why = super::judge(&check, None, job(Some(31)), at(0)).1.unwrap();
        assert!(why.contains("checkpoint-progress.window (30 s)"), "{why}");
        // Not asked for: an old checkpoint is no reason.
        assert_eq!(super::judge(&CHECK, None, job(Some(3600)), at(0)).1, None);
    }
}
