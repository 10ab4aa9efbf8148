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
                let resource = recorded.savepoint_resource.take();
                self.record(
                    &step,
                    &recorded,
                    StatusPatch::default().set(
                        "lastSavepoint",
                        json!({"location": location, "time": Timestamp::now().to_string()}),
                    ),
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
                recorded.savepoint_nonce = step.desired.savepoint_nonce.clone();
                let message = match other {
                    Some(OperationObs::Failed(cause)) => format!("savepoint failed: {cause}"),
                    _ => "savepoint lost with the cluster".to_owned(),
                };
                let mut retry = false;
                if let Some(name) = recorded.savepoint_resource.take() {
                    // Right after a (re)start Flink refuses savepoints until
                    // every task runs: that is worth a few more tries.
                    let attempts = self.savepoint_attempts(step.app, &name).await?;
                    let max = step.desired.max_savepoint_attempts.unwrap_or(6);
                    retry = transient_savepoint_failure(&message) && attempts + 1 < max;
                    let state = if retry {
                        crate::savepoints::state::PENDING
                    } else {
                        crate::savepoints::state::FAILED
                    };
                    self.set_savepoint(
                        step.app,
                        &name,
                        json!({"state": state, "error": message, "attempts": attempts + 1,
                               "resultTimestamp": Timestamp::now().to_string()}),
                    )
                    .await?;
                }
                self.record(
                    &step,
                    &recorded,
                    StatusPatch::default().set("error", json!(message)),
                )
                .await?;
                self.event(step.app, None, EventType::Error, &message, None)
                    .await?;
                if retry {
                    return Ok(StepResult::Done(PassOutcome::Wait(Duration::from_secs(1))));
                }
                Ok(StepResult::Continue)
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
