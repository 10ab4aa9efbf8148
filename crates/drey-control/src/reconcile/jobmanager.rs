//! A JobManager that does not answer while its processes live: reported, never acted on.

use super::*;
use drey_model::application_spec::{Condition, JobManagerDeploymentStatus};

impl ApplicationReconciler {
    /// The JobManager's processes live but it does not answer: report what
    /// was last seen and since when it is silent, touch nothing, look again.
    pub(super) async fn unanswered(&self, step: Step<'_>) -> Result<StepResult, Error> {
        let Some(silence) = step.recorded.silence.clone() else {
            return Ok(StepResult::Done(PassOutcome::Wait(UNANSWERED_RETRY)));
        };
        // Written once when the silence starts, not on every look.
        if recorded_of(step.app).silence.is_none() {
            let message = format!(
                "JobManager not answering since {}: {}; the job is left as it is",
                silence.since, silence.reason
            );
            self.report_jobmanager(&step, false, &message, silence.since)
                .await?;
        }
        Ok(StepResult::Done(PassOutcome::Wait(UNANSWERED_RETRY)))
    }

    /// The JobManager answers again after a silence: say so.
    pub(super) async fn answering_again(&self, step: Step<'_>) -> Result<(), Error> {
        let silence = recorded_of(step.app).silence;
        let now = Timestamp::now();
        let message = match &silence {
            Some(s) => format!(
                "JobManager answers again after {} s of silence",
                s.lasted(now).as_secs()
            ),
            None => "JobManager answers again".to_owned(),
        };
        self.report_jobmanager(&step, true, &message, now).await
    }

    /// Records whether the JobManager answers (condition, deployment status)
    /// and an event saying so.
    pub(super) async fn report_jobmanager(
        &self,
        step: &Step<'_>,
        answering: bool,
        message: &str,
        since: Timestamp,
    ) -> Result<(), Error> {
        let (deployment_status, event) = if answering {
            (
                JobManagerDeploymentStatus::Ready,
                EventType::JobManagerAnswering,
            )
        } else {
            (
                JobManagerDeploymentStatus::DeployedNotReady,
                EventType::JobManagerNotAnswering,
            )
        };
        self.record(step, &step.recorded, |status| {
            status.job_manager_deployment_status = Some(deployment_status);
            status.conditions = Some(vec![jobmanager_condition(answering, message, since)]);
        })
        .await?;
        let instance = step
            .recorded
            .deployment
            .as_ref()
            .map(|d| d.instance.clone());
        self.event(step.app, instance.as_deref(), event, message, None)
            .await
    }
}

/// How soon a silent JobManager is looked at again.
pub(super) const UNANSWERED_RETRY: Duration = Duration::from_secs(2);

/// The Kubernetes-style condition (as the operator's FlinkDeployment status
/// has) that says whether the JobManager answers.
pub(super) fn jobmanager_condition(answering: bool, message: &str, since: Timestamp) -> Condition {
    Condition {
        condition_type: "JobManagerReady".into(),
        status: if answering { "True" } else { "False" }.into(),
        reason: if answering {
            "Answering"
        } else {
            "NotAnswering"
        }
        .into(),
        message: message.to_owned(),
        last_transition_time: since,
    }
}
