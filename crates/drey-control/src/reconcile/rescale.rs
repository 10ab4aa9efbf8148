//! The autoscaler in the loop: each pass asks [`super::autoscale::decide`]
//! about the job watch's recent rounds of the running job, and a decision
//! is carried out in place through Flink's adaptive scheduler (its
//! resource requirements), recorded, and told in a `JOB_RESCALED` event
//! with the figures it was made from.

use super::autoscale::{decide, AutoscalerRecord, Verdict};
use super::*;
use drey_flink::{ParallelismBounds, ResourceRequirements, VertexResourceRequirements};
use drey_model::application::configuration_text;
use drey_model::autoscaler::{Autoscaler, SCALING_ENABLED};

/// Flink's option that selects the adaptive scheduler, which rescales a
/// running job in place.
const SCHEDULER: &str = "jobmanager.scheduler";

impl ApplicationReconciler {
    /// Asks the autoscaler the application turned on about its running job:
    /// keeps its record in `recorded` and, when it decides on another
    /// parallelism than it last asked for, says so in `desired`.
    pub(super) fn check_scale(
        &self,
        effective: &Value,
        app: &Object,
        status: &AppStatus,
        desired: &mut Desired,
        recorded: &mut Recorded,
    ) {
        let conf = effective.get("flinkConfiguration").unwrap_or(&Value::Null);
        let (Some(config), Some(deployment)) = (
            Autoscaler::of(conf),
            recorded.deployment.as_ref().filter(|d| d.job_submitted),
        ) else {
            recorded.autoscaler = None;
            return;
        };
        // A new deployment (a user's own change included) starts afresh.
        let record = recorded
            .autoscaler
            .take()
            .filter(|r| r.job_id == deployment.job_id)
            .unwrap_or_else(|| AutoscalerRecord {
                job_id: deployment.job_id.clone(),
                ..AutoscalerRecord::default()
            });
        let history = self
            .core
            .board()
            .vertex_history(&subject_of(app), &deployment.job_id);
        let started = status.job_status.as_ref().and_then(|j| j.start_time);
        let trusted_from = [record.last_rescale, started, history.first().map(|r| r.at)]
            .into_iter()
            .flatten()
            .max();
        if let Some(from) = trusted_from {
            if let Verdict::Rescale(rescale) = decide(&config, &history, from, Timestamp::now()) {
                if rescale.parallelism != record.parallelism {
                    desired.rescale = Some(rescale);
                }
            }
        }
        recorded.autoscaler = Some(record);
    }

    /// Carries out the autoscaler's decision: in place when the job runs
    /// with the adaptive scheduler and scaling is on; otherwise the event
    /// says what it would have done and why it did not.
    pub(super) async fn rescale(&self, step: Step<'_>) -> Result<(), Error> {
        let (Some(cluster), Some(deployment), Some(rescale)) = (
            step.cluster,
            &step.recorded.deployment,
            &step.desired.rescale,
        ) else {
            return Ok(());
        };
        let conf = step
            .effective
            .get("flinkConfiguration")
            .unwrap_or(&Value::Null);
        let scaling = Autoscaler::of(conf).is_some_and(|c| c.scaling);
        let adaptive =
            configuration_text(conf, SCHEDULER).is_some_and(|s| s.eq_ignore_ascii_case("adaptive"));
        let job = &deployment.job_id;
        let message = if !scaling {
            format!(
                "The autoscaler would rescale job {job} ({SCALING_ENABLED} is false, nothing \
                 changed): {}",
                rescale.summary
            )
        } else if !adaptive {
            format!(
                "The autoscaler would rescale job {job}, but rescales in place only, which \
                 needs {SCHEDULER}: adaptive (nothing changed): {}",
                rescale.summary
            )
        } else {
            let requirements: ResourceRequirements = rescale
                .parallelism
                .iter()
                .map(|(vertex, p)| {
                    let bounds = ParallelismBounds {
                        lower_bound: 1,
                        upper_bound: *p,
                    };
                    let requirement = VertexResourceRequirements {
                        parallelism: bounds,
                    };
                    (vertex.clone(), requirement)
                })
                .collect();
            cluster
                .client()
                .set_resource_requirements(job, &requirements)
                .await
                .map_err(|e| Error::Unavailable(format!("cannot rescale job {job}: {e}")))?;
            format!("Rescaled job {job}: {}", rescale.summary)
        };
        let mut recorded = step.recorded.clone();
        let record = recorded
            .autoscaler
            .get_or_insert_with(AutoscalerRecord::default);
        record.job_id = job.clone();
        record.last_rescale = Some(Timestamp::now());
        record.parallelism = rescale.parallelism.clone();
        self.record(&step, &recorded, |_| {}).await?;
        tracing::info!(app = %step.app.key.name, "{message}");
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::JobRescaled,
            &message,
            None,
        )
        .await
    }
}

/// The application as the job watch names it.
pub(super) fn subject_of(app: &Object) -> crate::observability::Subject {
    crate::observability::Subject {
        kind: crate::observability::SubjectKind::Application,
        organization: app.key.org.clone(),
        environment: app.key.scope.clone(),
        name: app.key.name.clone(),
    }
}
