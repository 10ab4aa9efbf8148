//! Looking at a deployment: its processes, its job and a savepoint in flight; what was seen.

use super::*;
use drey_model::application_spec::InstanceStatus;

/// The error of a FAILED job whose cause Flink has not shown yet.
const NO_CAUSE: &str = "the job failed";

impl ApplicationReconciler {
    /// Looks at the recorded deployment through its backend: its cluster,
    /// then its job and any savepoint in flight over REST. A cluster the
    /// backend knows is dead is *gone*; one that does not answer is
    /// *unknown*, never a reason to act.
    pub(super) async fn observe(
        &self,
        backend: &ChosenBackend,
        app: &Object,
        recorded: &Recorded,
    ) -> (Observed, Option<ClusterHandle>) {
        let Some(deployment) = &recorded.deployment else {
            return (Observed::nothing(), None);
        };
        if !deployment.cluster_started {
            return (Observed::nothing(), None);
        }
        let backend = match backend {
            Ok(b) => b,
            Err(why) => return (Observed::unknown(why.clone()), None),
        };
        let cluster = match backend.look(&deployment.cluster_id).await {
            drey_model::Observation::Seen(c) => c,
            drey_model::Observation::Gone(why) => return (Observed::gone(why), None),
            drey_model::Observation::Unknown(why) => return (Observed::unknown(why), None),
        };
        let client = cluster.observer().clone();
        let job_state = if deployment.job_submitted {
            match client.job_status(&deployment.job_id).await {
                Ok(info) => Some(job_state_text(&info.status)),
                // A cluster the job shares forgot it (a pool's cluster was
                // restarted, an existing cluster restarted without HA):
                // for this application that is a lost cluster.
                Err(e) if e.is_not_found() && deployment.session => {
                    return (
                        Observed::gone(format!(
                            "{} no longer knows job {}",
                            backend.describe(),
                            deployment.job_id
                        )),
                        None,
                    );
                }
                Err(e) if e.is_not_found() => None,
                Err(e) => {
                    return (
                        Observed::unknown(format!("job status of {}: {e}", deployment.job_id)),
                        Some(cluster),
                    );
                }
            }
        } else {
            None
        };
        let trigger = recorded
            .stopping
            .as_ref()
            .and_then(|s| s.trigger_id.clone())
            .or_else(|| recorded.savepoint_trigger.clone());
        let operation = match trigger {
            Some(trigger) => Some(
                match client.savepoint_status(&deployment.job_id, &trigger).await {
                    Ok(op) if op.status.id == QueueStatusId::InProgress => OperationObs::InProgress,
                    Ok(op) => match op.operation {
                        Some(info) => match (info.location, info.failure_cause) {
                            (Some(location), _) => OperationObs::Completed(location),
                            (None, Some(cause)) => OperationObs::Failed(cause.summary()),
                            (None, None) => {
                                OperationObs::Failed("savepoint finished without a location".into())
                            }
                        },
                        None => OperationObs::Failed("savepoint finished without a result".into()),
                    },
                    // Flink forgot the trigger (its JobManager restarted).
                    Err(e) if e.is_not_found() => OperationObs::Failed(e.to_string()),
                    Err(e) => OperationObs::Unknown(e.to_string()),
                },
            ),
            None => None,
        };
        // Where the job's state is not on this machine, drey cannot find
        // its newest checkpoint once the cluster forgets the job: ask now.
        let off_machine = backend
            .local_state_dirs(&super::state_owner(&app.key, &app.meta.uid.to_string()))
            .is_none();
        let latest_checkpoint = match job_state.as_deref() {
            Some("RUNNING") if off_machine => client
                .checkpoints(&deployment.job_id)
                .await
                .ok()
                .and_then(|stats| stats.latest.completed)
                .and_then(|c| c.external_path),
            _ => None,
        };
        let mut observed = Observed::up(job_state, operation);
        observed.latest_checkpoint = latest_checkpoint;
        (observed, Some(cluster))
    }

    /// Records the job's newest checkpoint when it changed, at most every
    /// [`CHECKPOINT_RECORD_INTERVAL`]: a status write per checkpoint would
    /// cost more than the few seconds of progress it saves.
    async fn record_checkpoint(&self, step: &Step<'_>) -> Result<(), Error> {
        let Some(location) = &step.observed.latest_checkpoint else {
            return Ok(());
        };
        let now = Timestamp::now();
        let due = match &step.recorded.seen_checkpoint {
            Some(seen) if &seen.location == location => false,
            Some(seen) => {
                now.millis() - seen.recorded_at.millis()
                    >= i64::try_from(CHECKPOINT_RECORD_INTERVAL.as_millis()).unwrap_or(i64::MAX)
            }
            None => true,
        };
        if !due {
            return Ok(());
        }
        let mut recorded = step.recorded.clone();
        recorded.seen_checkpoint = Some(plan::SeenCheckpoint {
            location: location.clone(),
            recorded_at: now,
        });
        self.record(step, &recorded, |_| {}).await.map(drop)
    }

    pub(super) async fn observe_job(&self, step: &Step<'_>) -> Result<(), Error> {
        let Some(deployment) = &step.recorded.deployment else {
            return Ok(());
        };
        let state = step
            .observed
            .job_state
            .clone()
            .unwrap_or_else(|| "RECONCILING".into());
        // Flink may answer FAILED before its exception history holds the
        // cause: a FAILED job whose status has no cause yet is looked at again.
        let cause_missing = state == "FAILED" && step.status.error.as_deref() == Some(NO_CAUSE);
        let changed = step.status.job_state() != state;
        if !changed && !cause_missing {
            // The health check's window moved on: keep where it begins.
            let stored = step
                .status
                .reconciler
                .as_ref()
                .and_then(|r| r.restart_baseline.as_ref());
            if stored != step.recorded.restart_baseline.as_ref() {
                return self.record(step, &step.recorded, |_| {}).await.map(drop);
            }
            return self.record_checkpoint(step).await;
        }
        let lifecycle = match state.as_str() {
            "RUNNING" => Lifecycle::Stable,
            "FAILED" => Lifecycle::Failed,
            _ => Lifecycle::Deployed,
        };
        let mut exception = None;
        if state == "FAILED" {
            if let Some(cluster) = step.cluster {
                if let Ok(ex) = cluster.client().job_exceptions(&deployment.job_id).await {
                    exception = ex
                        .exception_history
                        .entries
                        .first()
                        .map(|e| e.stacktrace.clone());
                }
            }
        }
        let now = Timestamp::now();
        self.record(step, &step.recorded, |status| {
            let job = status.job_status_mut();
            job.state = Some(state.clone());
            job.job_id = Some(deployment.job_id.clone());
            job.job_name = Some(step.app.key.name.clone());
            job.update_time = Some(now);
            if state == "RUNNING" && job.start_time.is_none() {
                job.start_time = Some(now);
            }
            status.lifecycle_state = Some(lifecycle);
            if state == "FAILED" {
                // A later look that cannot read the exception (the cluster
                // is going) keeps the cause an earlier one recorded.
                let message = exception
                    .as_deref()
                    .map(root_cause)
                    .or_else(|| status.error.take());
                status.error = Some(message.unwrap_or_else(|| NO_CAUSE.to_owned()));
            } else if state == "RUNNING" {
                status.error = None;
            }
        })
        .await?;
        if changed {
            self.update_instance(step.app, deployment, &state).await?;
            self.event(
                step.app,
                Some(&deployment.instance),
                EventType::JobStatus,
                &format!("Job {} is {state}", deployment.job_id),
                Some(EventData::new_status(&state)),
            )
            .await?;
        }
        if let Some(trace) = exception {
            self.event(
                step.app,
                Some(&deployment.instance),
                EventType::JobException,
                "The job failed with an exception",
                Some(EventData::exception(&trace)),
            )
            .await?;
        }
        Ok(())
    }

    pub(super) async fn update_instance(
        &self,
        app: &Object,
        deployment: &Deployment,
        state: &str,
    ) -> Result<(), Error> {
        let key = ObjectKey::in_app(
            &app.key.org,
            Kind::Instance,
            &app.key.scope,
            &app.key.name,
            &deployment.instance,
        );
        if let Some(instance) = self.core.store().get(&key).await.map_err(store_error)? {
            let mut status: InstanceStatus = view(&instance.status);
            if let Some(job) = status.job_status.as_mut() {
                job.state = Some(state.to_owned());
            }
            self.core
                .store()
                .write_status(&key, None, to_json(&status))
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }
}

/// Whether the processes of local cluster `id` live: seen when all of them
/// do, gone when its record is gone or a process exited, unknown when the
/// record cannot be read.
pub(crate) async fn cluster_processes(backend: &Backend, id: &str) -> Observation<()> {
    match backend {
        Ok(backend) => backend.look(id).await.map(drop),
        Err(_) => Observation::Unknown("no Flink backend".into()),
    }
}

/// How often the newest checkpoint of a job whose state is not on this
/// machine is recorded, at most.
const CHECKPOINT_RECORD_INTERVAL: Duration = Duration::from_secs(5);

/// A client for one look at a cluster drey started, by the REST URL it
/// recorded (with the cluster's TLS identity): a short timeout and no
/// retries, so a JobManager that does not answer costs one pass a few
/// seconds, and the controller (not the client) decides when to look again.
pub(crate) async fn observer_client_for(core: &Core, url: &str) -> Result<FlinkClient, Error> {
    core.flink_client(url, observer_config()).await
}

fn observer_config() -> drey_flink::ClientConfig {
    drey_flink::ClientConfig {
        request_timeout: drey_runtime::backend::OBSERVE_TIMEOUT,
        get_retries: 0,
        ..drey_flink::ClientConfig::default()
    }
}

pub(crate) fn job_state_text(state: &drey_flink::JobState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "UNKNOWN".into())
}
