//! Savepoints on request (nonce or savepoint resource) and the history they leave.

use super::*;
use drey_model::application_spec::LastSavepoint;
use drey_model::savepoint::SavepointSpec;

impl ApplicationReconciler {
    pub(super) async fn trigger_savepoint(&self, step: Step<'_>) -> Result<(), Error> {
        let (Some(cluster), Some(deployment)) = (step.cluster, &step.recorded.deployment) else {
            return Ok(());
        };
        let trigger = cluster
            .client()
            .trigger_savepoint(
                &deployment.job_id,
                &SavepointRequest {
                    target_directory: step.state_locations().savepoints,
                    cancel_job: Some(false),
                    ..SavepointRequest::default()
                },
            )
            .await
            .map_err(|e| Error::Unavailable(format!("cannot trigger a savepoint: {e}")))?;
        let mut recorded = step.recorded.clone();
        recorded.savepoint_trigger = Some(trigger.request_id);
        recorded.savepoint_resource = step.desired.pending_savepoint.clone();
        // Any savepoint, and any attempt, restarts the periodic clock: a
        // refused periodic savepoint is tried again an interval later.
        recorded.savepoint_clock = Some(Timestamp::now());
        let asked = recorded.savepoint_resource.is_some()
            || step.desired.savepoint_nonce != step.recorded.savepoint_nonce;
        let message = if asked {
            "Savepoint triggered"
        } else {
            "Periodic savepoint triggered"
        };
        if let Some(name) = &recorded.savepoint_resource {
            self.set_savepoint(step.app, name, |sp| {
                sp.state = Some(SavepointState::InProgress);
            })
            .await?;
        }
        self.record(&step, &recorded, |_| {}).await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::SavepointTriggered,
            message,
            None,
        )
        .await
    }

    pub(super) async fn await_savepoint(&self, step: Step<'_>) -> Result<StepResult, Error> {
        let mut recorded = step.recorded.clone();
        match &step.observed.operation {
            Some(OperationObs::InProgress | OperationObs::Unknown(_)) => Ok(StepResult::Done(
                PassOutcome::Wait(Duration::from_millis(500)),
            )),
            Some(OperationObs::Completed(location)) => {
                recorded.savepoint_trigger = None;
                recorded.savepoint_nonce = step.desired.savepoint_nonce.clone();
                recorded.failed_savepoints = 0;
                let resource = recorded.savepoint_resource.take();
                // Clears what an attempt Flink refused left in `error`.
                self.record(&step, &recorded, |status| {
                    status.last_savepoint = Some(LastSavepoint {
                        location: location.clone(),
                        time: Timestamp::now(),
                    });
                    status.error = None;
                })
                .await?;
                match resource {
                    Some(name) => {
                        self.set_savepoint(step.app, &name, |sp| sp.complete(location))
                            .await?
                    }
                    None => self.record_savepoint(step.app, location).await?,
                }
                self.trim_savepoints(&step).await;
                self.event(
                    step.app,
                    None,
                    EventType::SavepointCompleted,
                    &format!("Savepoint completed at {location}"),
                    None,
                )
                .await?;
                Ok(StepResult::Continue)
            }
            other => {
                recorded.savepoint_trigger = None;
                let cause = match other {
                    Some(OperationObs::Failed(cause)) => format!("savepoint failed: {cause}"),
                    _ => "savepoint lost with the cluster".to_owned(),
                };
                // Right after a (re)start, or as a task finishes, Flink
                // refuses savepoints for a moment: that is worth a few more
                // tries, for a nonce as for a savepoint resource.
                let resource = recorded.savepoint_resource.take();
                let attempts = match &resource {
                    Some(name) => self.savepoint_attempts(step.app, name).await? + 1,
                    None => recorded.failed_savepoints + 1,
                };
                let max = step
                    .desired
                    .max_savepoint_attempts
                    .unwrap_or(plan::SAVEPOINT_ATTEMPTS);
                let retry =
                    plan::savepoint_retry(transient_savepoint_failure(&cause), attempts, max);
                if retry.is_some() {
                    if resource.is_none() {
                        recorded.failed_savepoints = attempts;
                    }
                } else {
                    // Given up: the nonce counts as acted on.
                    recorded.savepoint_nonce = step.desired.savepoint_nonce.clone();
                    recorded.failed_savepoints = 0;
                }
                if let Some(name) = resource {
                    self.set_savepoint(step.app, &name, |sp| {
                        sp.fail(&cause);
                        sp.attempts = Some(attempts);
                        if retry.is_some() {
                            sp.state = Some(SavepointState::Pending);
                        }
                    })
                    .await?;
                }
                let message = match retry {
                    Some(wait) => format!(
                        "{cause}; trying again in {} s (attempt {attempts} of {max})",
                        wait.as_secs()
                    ),
                    None => cause,
                };
                self.record(&step, &recorded, |status| {
                    status.error = Some(message.clone());
                })
                .await?;
                self.event(step.app, None, EventType::Error, &message, None)
                    .await?;
                Ok(match retry {
                    Some(wait) => StepResult::Done(PassOutcome::Wait(wait)),
                    None => StepResult::Continue,
                })
            }
        }
    }

    /// Trims the application's savepoint history to its limits, disposing
    /// of the files through its backend.
    pub(super) async fn trim_savepoints(&self, step: &Step<'_>) {
        if let Ok(backend) = step.backend() {
            self.core
                .trim_savepoints(&step.app.key, &self.config.retention, backend.as_ref())
                .await;
        }
    }

    /// How often the savepoint resource `name` was triggered and failed.
    pub(super) async fn savepoint_attempts(&self, app: &Object, name: &str) -> Result<u64, Error> {
        let key = ObjectKey::in_app(
            &app.key.org,
            Kind::Savepoint,
            &app.key.scope,
            &app.key.name,
            name,
        );
        Ok(self
            .core
            .store()
            .get(&key)
            .await
            .map_err(store_error)?
            .and_then(|sp| view::<SavepointStatus>(&sp.status).attempts)
            .unwrap_or(0))
    }

    /// Records a savepoint drey took (suspend, upgrade, nonce) as a
    /// COMPLETED savepoint resource of the application.
    pub(super) async fn record_savepoint(&self, app: &Object, location: &str) -> Result<(), Error> {
        let name = format!(
            "savepoint-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let mut write = Write::new(
            ObjectKey::in_app(
                &app.key.org,
                Kind::Savepoint,
                &app.key.scope,
                &app.key.name,
                &name,
            ),
            WriteMode::Create,
            to_json(&SavepointSpec::taken_at(location)),
        );
        write.status = Some(to_json(&SavepointStatus::completed_at(location)));
        self.core.store().write(write).await.map_err(store_error)?;
        self.trim(&app.key, Kind::Savepoint).await
    }

    /// Changes a savepoint resource's status as `edit` says.
    pub(super) async fn set_savepoint(
        &self,
        app: &Object,
        name: &str,
        edit: impl FnOnce(&mut SavepointStatus),
    ) -> Result<(), Error> {
        let key = ObjectKey::in_app(
            &app.key.org,
            Kind::Savepoint,
            &app.key.scope,
            &app.key.name,
            name,
        );
        let Some(current) = self.core.store().get(&key).await.map_err(store_error)? else {
            return Ok(());
        };
        let mut status: SavepointStatus = view(&current.status);
        edit(&mut status);
        self.core
            .store()
            .write_status(&key, None, to_json(&status))
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
