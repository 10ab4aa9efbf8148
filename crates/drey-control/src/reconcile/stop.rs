//! Taking a deployment down: stop with a savepoint, cancel, tear down, a lost cluster, delete.

use super::*;
use drey_model::application_spec::LastSavepoint;

impl ApplicationReconciler {
    pub(super) async fn stop_with_savepoint(
        &self,
        step: Step<'_>,
        reason: StopReason,
    ) -> Result<(), Error> {
        let (Some(cluster), Some(deployment)) = (step.cluster, &step.recorded.deployment) else {
            return Ok(());
        };
        let target = step.state_locations().savepoints;
        let trigger = cluster
            .client()
            .stop_with_savepoint(
                &deployment.job_id,
                &StopRequest {
                    target_directory: target,
                    drain: Some(false),
                    ..StopRequest::default()
                },
            )
            .await
            .map_err(|e| {
                Error::Unavailable(format!(
                    "cannot stop job {} with a savepoint: {e}",
                    deployment.job_id
                ))
            })?;
        let mut recorded = step.recorded.clone();
        recorded.stopping = Some(Stopping {
            reason,
            trigger_id: Some(trigger.request_id.clone()),
            job_stopped: false,
        });
        let rescaled = self.note_rescale(&step, &mut recorded, reason);
        let lifecycle = if matches!(reason, StopReason::Upgrade | StopReason::Rescale) {
            Lifecycle::Upgrading
        } else {
            Lifecycle::Deployed
        };
        self.record(&step, &recorded, |status| {
            status.lifecycle_state = Some(lifecycle);
        })
        .await?;
        self.rescale_event(&step, deployment, rescaled).await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::SavepointTriggered,
            &format!(
                "Stopping job {} with a savepoint ({:?})",
                deployment.job_id, reason
            ),
            None,
        )
        .await
    }

    pub(super) async fn await_stop(&self, step: Step<'_>) -> Result<StepResult, Error> {
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(StepResult::Continue);
        };
        let mut recorded = step.recorded.clone();
        match &step.observed.operation {
            Some(OperationObs::InProgress | OperationObs::Unknown(_)) => Ok(StepResult::Done(
                PassOutcome::Wait(Duration::from_millis(500)),
            )),
            Some(OperationObs::Completed(location)) => {
                recorded.failed_stops = 0;
                recorded.restore_from = Some(location.clone());
                if let Some(s) = recorded.stopping.as_mut() {
                    s.job_stopped = true;
                }
                self.record(&step, &recorded, |status| {
                    status.job_status_mut().upgrade_savepoint_path = Some(location.clone());
                    status.last_savepoint = Some(LastSavepoint {
                        location: location.clone(),
                        time: Timestamp::now(),
                    });
                })
                .await?;
                self.record_savepoint(step.app, location).await?;
                self.trim_savepoints(&step).await;
                self.event(
                    step.app,
                    Some(&deployment.instance),
                    EventType::SavepointCompleted,
                    &format!("Savepoint completed at {location}"),
                    None,
                )
                .await?;
                Ok(StepResult::Continue)
            }
            Some(OperationObs::Failed(cause)) => {
                // The job keeps running; the stop is retried after a backoff,
                // up to `job.maxSavepointCreationAttempts` times.
                recorded.stopping = None;
                recorded.failed_stops += 1;
                let attempts = recorded.failed_stops;
                let exhausted = step
                    .desired
                    .max_savepoint_attempts
                    .is_some_and(|max| attempts >= max);
                let message = if exhausted {
                    recorded.failed_stops = 0;
                    recorded.stop_given_up = Some(step.desired.transition());
                    format!(
                        "the savepoint could not be taken in {attempts} attempt(s); the job keeps running: {cause}"
                    )
                } else {
                    format!("stop-with-savepoint failed: {cause}")
                };
                self.record(&step, &recorded, |status| {
                    if exhausted {
                        status.lifecycle_state = Some(Lifecycle::Failed);
                    }
                    status.error = Some(message.clone());
                })
                .await?;
                self.event(
                    step.app,
                    Some(&deployment.instance),
                    EventType::Error,
                    &message,
                    None,
                )
                .await?;
                if exhausted {
                    return Ok(StepResult::Done(PassOutcome::Settled));
                }
                Err(Error::Unavailable(message))
            }
            None => {
                // The cluster is gone mid-stop: nothing more to save.
                if let Some(s) = recorded.stopping.as_mut() {
                    s.job_stopped = true;
                }
                self.record(&step, &recorded, |_| {}).await?;
                Ok(StepResult::Continue)
            }
        }
    }

    pub(super) async fn cancel(
        &self,
        step: Step<'_>,
        reason: StopReason,
        keep_checkpoint: bool,
    ) -> Result<(), Error> {
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(());
        };
        let mut recorded = step.recorded.clone();
        if let Some(cluster) = step.cluster {
            let client = cluster.client();
            if keep_checkpoint {
                if let Ok(stats) = client.checkpoints(&deployment.job_id).await {
                    if let Some(path) = stats.latest.completed.and_then(|c| c.external_path) {
                        recorded.restore_from = Some(path);
                    }
                }
                if recorded.restore_from.is_none() {
                    recorded.restore_from = step
                        .local_state_dirs()
                        .and_then(|d| latest_checkpoint_on_disk(&d.checkpoints));
                }
            } else if !matches!(reason, StopReason::Upgrade | StopReason::Rescale)
                || step.desired.upgrade_mode == UpgradeMode::Stateless
            {
                recorded.restore_from = recorded
                    .restore_from
                    .filter(|_| step.desired.upgrade_mode != UpgradeMode::Stateless);
            }
            let still_running = step
                .observed
                .job_state
                .as_deref()
                .map(|s| !plan::is_terminal(s))
                .unwrap_or(false);
            if still_running {
                if let Err(e) = client.cancel_job(&deployment.job_id).await {
                    if !e.is_not_found() {
                        return Err(Error::Unavailable(format!(
                            "cannot cancel job {}: {e}",
                            deployment.job_id
                        )));
                    }
                }
            }
        }
        recorded.stopping = Some(Stopping {
            reason,
            trigger_id: None,
            job_stopped: true,
        });
        let rescaled = self.note_rescale(&step, &mut recorded, reason);
        self.record(&step, &recorded, |status| {
            if reason == StopReason::Delete {
                status.lifecycle_state = Some(Lifecycle::Deleting);
            }
        })
        .await?;
        self.rescale_event(&step, &deployment, rescaled).await?;
        if let (StopReason::Unhealthy, Some(why)) = (reason, &step.desired.unhealthy) {
            self.event(
                step.app,
                Some(&deployment.instance),
                EventType::JobUnhealthy,
                why,
                None,
            )
            .await?;
        }
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::JobCancelled,
            &format!("Cancelled job {} ({reason:?})", deployment.job_id),
            None,
        )
        .await
    }

    pub(super) async fn tear_down(&self, step: Step<'_>) -> Result<(), Error> {
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(());
        };
        if !deployment.session {
            let torn = step
                .backend()?
                .tear_down(&deployment.cluster_id, Duration::from_secs(15))
                .await;
            if let Err(e) = torn {
                // Said in the status, not only the log: the job is stopped,
                // and what is left waits (e.g. for a replica on the host
                // whose processes these are).
                let message = format!("cannot stop cluster {}: {e}", deployment.cluster_id);
                if step.status.error.as_deref() != Some(message.as_str()) {
                    self.record(&step, &step.recorded, |status| {
                        status.error = Some(message.clone());
                        if let Some(state) = &step.observed.job_state {
                            let job = status.job_status_mut();
                            job.state = Some(state.clone());
                            job.update_time = Some(Timestamp::now());
                        }
                    })
                    .await?;
                }
                return Err(Error::Unavailable(message));
            }
        }
        let reason = step.recorded.stopping.as_ref().map(|s| s.reason);
        let halted =
            step.recorded.halted_fingerprint.as_deref() == Some(deployment.fingerprint.as_str());
        let final_state = match reason {
            _ if halted => "FAILED",
            Some(StopReason::Suspend) => "SUSPENDED",
            _ => step.observed.job_state.as_deref().unwrap_or("CANCELED"),
        };
        let final_state = if final_state == "RUNNING" {
            "CANCELED"
        } else {
            final_state
        }
        .to_owned();
        self.update_instance(step.app, &deployment, &final_state)
            .await?;
        let mut recorded = step.recorded.clone();
        recorded.deployment = None;
        recorded.stopping = None;
        recorded.savepoint_trigger = None;
        let lifecycle = match reason {
            _ if halted => Lifecycle::Failed,
            Some(StopReason::Suspend) => Lifecycle::Suspended,
            Some(StopReason::Upgrade | StopReason::Unhealthy | StopReason::Rescale) => {
                Lifecycle::Upgrading
            }
            Some(StopReason::Delete) => Lifecycle::Deleting,
            _ => Lifecycle::Suspended,
        };
        self.record(&step, &recorded, |status| {
            status.lifecycle_state = Some(lifecycle);
            let job = status.job_status_mut();
            job.state = Some(final_state.clone());
            job.update_time = Some(Timestamp::now());
            status.cluster_info = None;
            // The wait for another host's replica is over.
            if status
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("cannot stop cluster"))
            {
                status.error = None;
            }
        })
        .await?;
        if let Some(dirs) = step.local_state_dirs() {
            self.core
                .remove_stale_checkpoints(&step.app.key, &dirs.checkpoints)
                .await;
        }
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::ClusterStopped,
            &if deployment.session {
                format!("The job left session cluster {}", deployment.cluster_id)
            } else {
                format!("Flink cluster {} stopped", deployment.cluster_id)
            },
            None,
        )
        .await
    }

    pub(super) async fn cluster_lost(&self, step: Step<'_>) -> Result<(), Error> {
        let Some(deployment) = step.recorded.deployment.clone() else {
            return Ok(());
        };
        if let (Ok(backend), false) = (step.backend(), deployment.session) {
            if let Err(e) = backend
                .tear_down(&deployment.cluster_id, Duration::from_secs(5))
                .await
            {
                tracing::warn!(app = %step.app.key.name, cluster = %deployment.cluster_id, error = %e, "cannot stop what is left of a lost cluster");
            }
        }
        let mut recorded = step.recorded.clone();
        recorded.deployment = None;
        recorded.stopping = None;
        recorded.savepoint_trigger = None;
        recorded.silence = None;
        recorded.seen_checkpoint = None;
        let keeps_state = step.desired.upgrade_mode != UpgradeMode::Stateless;
        let why = match &step.observed.cluster {
            Some(drey_model::Observation::Gone(why)) => why.clone(),
            _ => "its processes are gone".to_owned(),
        };
        let message = format!(
            "Flink cluster {} of job {} is lost: {why}",
            deployment.cluster_id, deployment.job_id
        );
        recorded.lost_cluster = Some(drey_model::observation::Silence {
            since: Timestamp::now(),
            reason: why.clone(),
        });
        // Redeployed per upgradeMode, as the operator's JobManager deployment
        // recovery does: from the latest checkpoint, or without state.
        if keeps_state {
            recorded.restore_from = step
                .local_state_dirs()
                .and_then(|d| latest_checkpoint_on_disk(&d.checkpoints))
                .or_else(|| {
                    step.recorded
                        .seen_checkpoint
                        .as_ref()
                        .map(|c| c.location.clone())
                })
                .or(recorded.restore_from)
                .or(deployment.restore_from.clone());
        } else {
            recorded.restore_from = None;
        }
        self.update_instance(step.app, &deployment, "FAILED")
            .await?;
        self.record(&step, &recorded, |status| {
            status.lifecycle_state = Some(Lifecycle::Upgrading);
            let job = status.job_status_mut();
            job.state = Some("FAILED".into());
            job.update_time = Some(Timestamp::now());
            status.error = Some(message.clone());
        })
        .await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::ClusterLost,
            &if keeps_state {
                format!("{message}; redeploying from the latest checkpoint")
            } else {
                format!("{message}; redeploying without state (upgradeMode stateless)")
            },
            Some(EventData::new_status("FAILED")),
        )
        .await
    }

    pub(super) async fn finalize(&self, step: &Step<'_>) -> Result<(), Error> {
        let app = step.app;
        // State on this machine goes with the application; state where only
        // a cluster drey does not own reaches it stays (docs/clusters.md).
        if let Some(dirs) = step.local_state_dirs() {
            self.core
                .remove_app_state(&app.key, &[&dirs.savepoints, &dirs.checkpoints])
                .await;
        }
        let scope = app_scope(&app.key.scope, &app.key.name);
        let mut delete = Delete::new(app.key.clone());
        delete.cascade = vec![
            (Kind::Instance, scope.clone()),
            (Kind::Event, scope.clone()),
            (Kind::Savepoint, scope),
        ];
        self.core
            .store()
            .delete(delete)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
