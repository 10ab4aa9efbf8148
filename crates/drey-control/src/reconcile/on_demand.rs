//! Savepoints on request (nonce or savepoint resource) and the history they leave.

use super::*;

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
                    target_directory: Some(format!(
                        "file://{}",
                        self.savepoint_dir(step.app).display()
                    )),
                    cancel_job: Some(false),
                    ..SavepointRequest::default()
                },
            )
            .await
            .map_err(|e| Error::Unavailable(format!("cannot trigger a savepoint: {e}")))?;
        let mut recorded = step.recorded.clone();
        recorded.savepoint_trigger = Some(trigger.request_id);
        recorded.savepoint_resource = step.desired.pending_savepoint.clone();
        if let Some(name) = &recorded.savepoint_resource {
            self.set_savepoint(
                step.app,
                name,
                json!({"state": crate::savepoints::state::IN_PROGRESS}),
            )
            .await?;
        }
        self.record(&step, &recorded, StatusPatch::default())
            .await?;
        self.event(
            step.app,
            Some(&deployment.instance),
            EventType::SavepointTriggered,
            "Savepoint triggered",
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
                self.record(
                    &step,
                    &recorded,
                    StatusPatch::default()
                        .set(
                            "lastSavepoint",
                            json!({"location": location, "time": Timestamp::now().to_string()}),
                        )
                        .set("error", Value::Null),
                )
                .await?;
                match resource {
                    Some(name) => {
                        self.set_savepoint(
                            step.app,
                            &name,
                            json!({"state": crate::savepoints::state::COMPLETED, "path": location,
                                   "resultTimestamp": Timestamp::now().to_string()}),
                        )
                        .await?
                    }
                    None => self.record_savepoint(step.app, location).await?,
                }
                let dir = self.savepoint_dir(step.app);
                self.core
                    .trim_savepoints(&step.app.key, &self.config.retention, &dir)
                    .await;
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
                    let state = if retry.is_some() {
                        crate::savepoints::state::PENDING
                    } else {
                        crate::savepoints::state::FAILED
                    };
                    self.set_savepoint(
                        step.app,
                        &name,
                        json!({"state": state, "error": cause, "attempts": attempts,
                               "resultTimestamp": Timestamp::now().to_string()}),
                    )
                    .await?;
                }
                let message = match retry {
                    Some(wait) => format!(
                        "{cause}; trying again in {} s (attempt {attempts} of {max})",
                        wait.as_secs()
                    ),
                    None => cause,
                };
                self.record(
                    &step,
                    &recorded,
                    StatusPatch::default().set("error", json!(message)),
                )
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
            .and_then(|sp| sp.status.get("attempts").and_then(Value::as_u64))
            .unwrap_or(0))
    }

    /// Records a savepoint drey took (suspend, upgrade, nonce) as a
    /// COMPLETED savepoint resource of the application.
    pub(super) async fn record_savepoint(&self, app: &Object, location: &str) -> Result<(), Error> {
        let name = format!(
            "savepoint-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let now = Timestamp::now().to_string();
        let mut write = Write::new(
            ObjectKey::in_app(
                &app.key.org,
                Kind::Savepoint,
                &app.key.scope,
                &app.key.name,
                &name,
            ),
            WriteMode::Create,
            json!({"path": location, "formatType": "CANONICAL"}),
        );
        write.status = Some(json!({
            "state": crate::savepoints::state::COMPLETED, "path": location,
            "triggerTimestamp": now, "resultTimestamp": now,
        }));
        self.core.store().write(write).await.map_err(store_error)?;
        self.trim(&app.key, Kind::Savepoint).await
    }

    /// Merges fields into a savepoint resource's status.
    pub(super) async fn set_savepoint(
        &self,
        app: &Object,
        name: &str,
        fields: Value,
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
        let mut status = current.status.clone();
        drey_model::json::deep_merge(&mut status, &fields);
        self.core
            .store()
            .write_status(&key, None, status)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
