//! Looking at a deployment: its processes, its job and a savepoint in flight; what was seen.

use super::*;

impl ApplicationReconciler {
    /// Looks at the recorded deployment: its processes, then its job and any
    /// savepoint in flight over REST. Dead processes are *gone*; live ones
    /// that do not answer are *unknown*, never a reason to act.
    pub(super) async fn observe(&self, recorded: &Recorded) -> (Observed, Option<LocalCluster>) {
        let (Some(deployment), Ok(backend)) = (&recorded.deployment, &self.backend) else {
            return (Observed::nothing(), None);
        };
        if !deployment.cluster_started {
            return (Observed::nothing(), None);
        }
        let cluster = match backend.adopt(&deployment.cluster_id).await {
            Ok(Some(c)) if c.is_alive() => c,
            Ok(Some(c)) => {
                // Part of the cluster died: take the rest down, it is lost
                // (a pool's session cluster is its pool's to restart).
                if !deployment.session {
                    c.kill();
                }
                return (
                    Observed::gone(format!(
                        "a process of Flink cluster {} exited",
                        deployment.cluster_id
                    )),
                    None,
                );
            }
            Ok(None) => {
                return (
                    Observed::gone(format!(
                        "no process of Flink cluster {} runs",
                        deployment.cluster_id
                    )),
                    None,
                )
            }
            // The cluster's record could not be read: that says nothing
            // about its processes.
            Err(e) => return (Observed::unknown(e.to_string()), None),
        };
        let client = observer_client(&cluster);
        let job_state = if deployment.job_submitted {
            match client.job_status(&deployment.job_id).await {
                Ok(info) => Some(job_state_text(&info.status)),
                // A session cluster restarted by its pool forgot the job:
                // for this application that is a lost cluster.
                Err(e) if e.is_not_found() && deployment.session => {
                    return (
                        Observed::gone(format!(
                            "session cluster {} no longer knows job {}",
                            deployment.cluster_id, deployment.job_id
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
        (Observed::up(job_state, operation), Some(cluster))
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
        let previous = step
            .app
            .status
            .pointer("/jobStatus/state")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if previous == state {
            return Ok(());
        }
        let now = Timestamp::now().to_string();
        let mut job_status = job_status_with(
            step.app,
            json!({"state": state, "jobId": deployment.job_id,
                   "jobName": step.app.key.name, "updateTime": now}),
        );
        if let Some(js) = job_status.as_object_mut() {
            if state == "RUNNING" && js.get("startTime").map(Value::is_null).unwrap_or(true) {
                js.insert("startTime".into(), json!(now));
            }
        }
        let lifecycle = match state.as_str() {
            "RUNNING" => "STABLE",
            "FAILED" => "FAILED",
            _ => "DEPLOYED",
        };
        let mut patch = StatusPatch::default()
            .set("jobStatus", job_status)
            .set("lifecycleState", json!(lifecycle));
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
            let message = exception
                .as_deref()
                .map(root_cause)
                .unwrap_or_else(|| "the job failed".to_owned());
            patch = patch.set("error", json!(message));
        } else if state == "RUNNING" {
            patch = patch.set("error", Value::Null);
        }
        self.record(step, &step.recorded, patch).await?;
        self.update_instance(step.app, deployment, &state).await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::JobStatus,
            &format!("Job {} is {state}", deployment.job_id),
            Some(json!({"newStatus": state})),
        )
        .await?;
        if let Some(trace) = exception {
            self.event(
                step.app,
                Some(&deployment.instance),
                EventType::JobException,
                "The job failed with an exception",
                Some(json!({"exceptionString": trace})),
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
            let mut status = instance.status.clone();
            if let Some(js) = status.get_mut("jobStatus").and_then(Value::as_object_mut) {
                js.insert("state".into(), json!(state));
            }
            self.core
                .store()
                .write_status(&key, None, status)
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
    let Ok(backend) = backend else {
        return Observation::Unknown("no Flink backend".into());
    };
    match backend.adopt(id).await {
        Ok(Some(c)) if c.is_alive() => Observation::Seen(()),
        Ok(Some(_)) => Observation::Gone(format!("a process of Flink cluster {id} exited")),
        Ok(None) => Observation::Gone(format!("no process of Flink cluster {id} runs")),
        Err(e) => Observation::Unknown(e.to_string()),
    }
}

/// A client for one look at a cluster: a short timeout and no retries, so a
/// JobManager that does not answer costs one pass a few seconds, and the
/// controller (not the client) decides when to look again.
pub(super) fn observer_client(cluster: &LocalCluster) -> FlinkClient {
    cluster
        .client_with_config(observer_config())
        .unwrap_or_else(|_| cluster.client())
}

/// [`observer_client`] for a REST URL drey recorded.
pub(crate) fn observer_client_for(core: &Core, url: &str) -> Result<FlinkClient, Error> {
    core.flink_client(url, observer_config())
}

fn observer_config() -> drey_flink::ClientConfig {
    drey_flink::ClientConfig {
        request_timeout: OBSERVE_TIMEOUT,
        get_retries: 0,
        ..drey_flink::ClientConfig::default()
    }
}

/// How long one observation call may take.
pub(super) const OBSERVE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn job_state_text(state: &drey_flink::JobState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "UNKNOWN".into())
}
