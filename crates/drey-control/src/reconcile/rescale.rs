//! The autoscaler in the loop: each pass asks [`super::autoscale::decide`]
//! about the job watch's recent rounds of the running job. A decision is
//! carried out in place through Flink's adaptive scheduler (its resource
//! requirements) when the job runs with it, and otherwise by a new
//! deployment per the upgrade mode whose submission names each vertex's
//! parallelism; either way it is recorded and told in a `JOB_RESCALED`
//! event with the figures it was made from.

use super::autoscale::{
    decide, parallelism_overrides, AutoscalerRecord, RescaleHow, Verdict, PARALLELISM_OVERRIDES,
};
use super::*;
use drey_flink::{ParallelismBounds, ResourceRequirements, VertexResourceRequirements};
use drey_model::application::configuration_text;
use drey_model::autoscaler::{Autoscaler, SCALING_ENABLED};
use std::collections::BTreeMap;

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
        let Some(config) = Autoscaler::of(conf) else {
            recorded.autoscaler = None;
            return;
        };
        // Between deployments the record stays: the next one is submitted
        // with the parallelism it holds.
        let Some(deployment) = recorded.deployment.as_ref().filter(|d| d.job_submitted) else {
            return;
        };
        // A change of the spec (a user's own parallelism included) starts
        // afresh: the autoscaler never fights it.
        let record = recorded
            .autoscaler
            .take()
            .filter(|r| r.fingerprint == desired.fingerprint)
            .unwrap_or_else(|| AutoscalerRecord {
                fingerprint: desired.fingerprint.clone(),
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
            if let Verdict::Rescale(mut rescale) = decide(&config, &history, from, Timestamp::now())
            {
                let adaptive = configuration_text(conf, SCHEDULER)
                    .is_some_and(|s| s.eq_ignore_ascii_case("adaptive"));
                rescale.how = match (config.scaling, adaptive) {
                    (false, _) => RescaleHow::ReportOnly,
                    (true, true) => RescaleHow::InPlace,
                    (true, false) => RescaleHow::Redeploy,
                };
                if rescale.parallelism != record.parallelism {
                    desired.rescale = Some(rescale);
                }
            }
        }
        recorded.autoscaler = Some(record);
    }

    /// Carries out the autoscaler's decision in place (or, with scaling
    /// off, only says what it would have done).
    pub(super) async fn rescale(&self, step: Step<'_>) -> Result<(), Error> {
        let (Some(cluster), Some(deployment), Some(rescale)) = (
            step.cluster,
            &step.recorded.deployment,
            &step.desired.rescale,
        ) else {
            return Ok(());
        };
        let job = &deployment.job_id;
        if rescale.how == RescaleHow::InPlace {
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
        }
        let mut recorded = step.recorded.clone();
        let message = self.note_rescale(&step, &mut recorded, StopReason::Rescale);
        self.record(&step, &recorded, |_| {}).await?;
        self.rescale_event(&step, deployment, message).await
    }

    /// Records the decision being carried out (for a stop, `reason` says
    /// whether it is this one) in `recorded`, and returns what the event is
    /// to say.
    pub(super) fn note_rescale(
        &self,
        step: &Step<'_>,
        recorded: &mut Recorded,
        reason: StopReason,
    ) -> Option<String> {
        let rescale = step.desired.rescale.as_ref()?;
        if reason != StopReason::Rescale {
            return None;
        }
        let record = recorded
            .autoscaler
            .get_or_insert_with(AutoscalerRecord::default);
        record.fingerprint = step.desired.fingerprint.clone();
        record.last_rescale = Some(Timestamp::now());
        record.parallelism = rescale.parallelism.clone();
        let job = step
            .recorded
            .deployment
            .as_ref()
            .map_or("", |d| d.job_id.as_str());
        Some(match rescale.how {
            RescaleHow::InPlace => format!("Rescaled job {job}: {}", rescale.summary),
            RescaleHow::Redeploy => format!(
                "Rescaling job {job} through a new deployment ({}: {SCHEDULER} is not \
                 adaptive): {}",
                step.desired.upgrade_mode.as_str(),
                rescale.summary
            ),
            RescaleHow::ReportOnly => format!(
                "The autoscaler would rescale job {job} ({SCALING_ENABLED} is false, \
                 nothing changed): {}",
                rescale.summary
            ),
        })
    }

    /// Tells a decision [`Self::note_rescale`] recorded, if any.
    pub(super) async fn rescale_event(
        &self,
        step: &Step<'_>,
        deployment: &Deployment,
        message: Option<String>,
    ) -> Result<(), Error> {
        let Some(message) = message else {
            return Ok(());
        };
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

/// The parallelism the autoscaler last decided for this spec, per vertex.
fn decided<'a>(recorded: &'a Recorded, fingerprint: &str) -> Option<&'a BTreeMap<String, u32>> {
    recorded
        .autoscaler
        .as_ref()
        .filter(|r| r.fingerprint == fingerprint && !r.parallelism.is_empty())
        .map(|r| &r.parallelism)
}

/// The configuration a new deployment's cluster gets for the autoscaler:
/// each vertex's parallelism, which Flink's Dispatcher applies to a job
/// submitted as a job graph.
pub(super) fn submission_overrides(
    recorded: &Recorded,
    fingerprint: &str,
) -> Option<(String, String)> {
    decided(recorded, fingerprint)
        .map(|p| (PARALLELISM_OVERRIDES.to_owned(), parallelism_overrides(p)))
}

/// The job parallelism a new deployment is submitted with for the
/// autoscaler: the largest it decided for a vertex. Flink 2 submits a jar
/// run as a stream graph, to which the Dispatcher applies no per-vertex
/// override, so this is what takes effect there (every vertex without a
/// parallelism of its own runs with it).
pub(super) fn submission_parallelism(recorded: &Recorded, fingerprint: &str) -> Option<u32> {
    decided(recorded, fingerprint).and_then(|p| p.values().copied().max())
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
