//! A statement's savepoint resources (CMF 2.3): triggered on its running
//! job, recorded when a stop takes one, and where `startFromSavepoint` points.

use super::PassOutcome;
use super::StatementRecord;
use super::{phase, phase_of, StatementReconciler};
use crate::store_error;
use drey_flink::QueueStatusId;
use drey_model::loose::{to_json, view};
use drey_model::object::statement_scope;
use drey_model::savepoint::{SavepointSpec, SavepointState, SavepointStatus};
use drey_model::{Error, Kind, Object, ObjectKey, Timestamp};
use serde_json::Value;
use std::time::Duration;

/// How long a savepoint refused because the job's tasks are not all
/// running is tried again.
const TRANSIENT_RETRY_MS: i64 = 120_000;

impl StatementReconciler {
    /// The savepoint `spec.startFromSavepoint` names: a path, or one of the
    /// statement's savepoint resources by name or uid (it must be COMPLETED).
    pub(super) async fn start_from_savepoint(
        &self,
        statement: &Object,
    ) -> Result<Option<String>, Error> {
        let Some(from) = statement.spec.get("startFromSavepoint") else {
            return Ok(None);
        };
        if let Some(path) = from.get("initialSavepointPath").and_then(Value::as_str) {
            return Ok(Some(path.to_owned()));
        }
        let by_name = from.get("savepointName").and_then(Value::as_str);
        let by_uid = from.get("uid").and_then(Value::as_str);
        if by_name.is_none() && by_uid.is_none() {
            return Ok(None);
        }
        let page = self
            .core
            .store()
            .list(&drey_store::ListQuery {
                org: statement.key.org.clone(),
                kind: Kind::Savepoint,
                scope: Some(statement_scope(&statement.key.scope, &statement.meta.name)),
                filters: vec![],
                page: drey_model::PageRequest {
                    page: 0,
                    size: 500,
                    sort: vec![],
                },
            })
            .await
            .map_err(store_error)?;
        let found = page.items.into_iter().find(|sp| {
            by_name.is_some_and(|n| sp.meta.name == n)
                || by_uid.is_some_and(|u| sp.meta.uid.to_string() == u)
        });
        match found.and_then(|sp| view::<SavepointStatus>(&sp.status).path) {
            Some(path) => Ok(Some(path)),
            None => Err(Error::invalid(
                "spec.startFromSavepoint",
                "names no COMPLETED savepoint of this statement",
            )),
        }
    }

    /// Serves the statement's savepoint resources: a PENDING one is
    /// triggered on the running job, an IN_PROGRESS one polled.
    pub(super) async fn savepoints(
        &self,
        statement: &Object,
        record: &StatementRecord,
    ) -> Result<Option<PassOutcome>, Error> {
        let scope = statement_scope(&statement.key.scope, &statement.meta.name);
        let page = self
            .core
            .store()
            .list(&drey_store::ListQuery {
                org: statement.key.org.clone(),
                kind: Kind::Savepoint,
                scope: Some(scope),
                filters: vec![],
                page: drey_model::PageRequest {
                    page: 0,
                    size: 50,
                    sort: vec![],
                },
            })
            .await
            .map_err(store_error)?;
        let run = record
            .run
            .as_ref()
            .filter(|r| r.submitted && !r.finished && phase_of(statement) == phase::RUNNING);
        let mut busy = false;
        for savepoint in page.items {
            let mut status: SavepointStatus = view(&savepoint.status);
            let st = status.state;
            if !matches!(
                st,
                Some(SavepointState::Pending | SavepointState::InProgress)
            ) {
                continue;
            }
            let Some(run) = run else {
                status.fail(&format!(
                    "Statement '{}' has no running job",
                    statement.meta.name
                ));
                self.set_savepoint(&savepoint, &status).await?;
                continue;
            };
            let client = self
                .core
                .flink_client(&run.rest_url, Default::default())
                .await?;
            busy = true;
            let trigger = status.trigger_id.clone();
            let Some(trigger) = trigger.filter(|_| st == Some(SavepointState::InProgress)) else {
                let request = drey_flink::SavepointRequest {
                    target_directory: self.savepoint_target(statement).await?,
                    cancel_job: Some(false),
                    format_type: None,
                    trigger_id: None,
                };
                match client.trigger_savepoint(&run.job_id, &request).await {
                    Ok(t) => {
                        status.state = Some(SavepointState::InProgress);
                        status.trigger_id = Some(t.request_id);
                    }
                    Err(e) => status.fail(&e.to_string()),
                }
                self.set_savepoint(&savepoint, &status).await?;
                continue;
            };
            match client.savepoint_status(&run.job_id, &trigger).await {
                Ok(op) if op.status.id == QueueStatusId::InProgress => continue,
                Ok(op) => match op.operation.map(|i| i.location.ok_or(i.failure_cause)) {
                    Some(Ok(location)) => status.complete(&location),
                    Some(Err(cause)) => {
                        let why = cause.map(|c| c.summary()).unwrap_or_default();
                        // Tasks not running yet (a job just started or
                        // restarting): tried again for a while, not a
                        // number of times, so a slow machine gets as long.
                        let asked = status
                            .trigger_timestamp
                            .map_or(0, |t| Timestamp::now().millis() - t.millis());
                        if crate::reconcile::transient_savepoint_failure(&why)
                            && asked < TRANSIENT_RETRY_MS
                        {
                            status.state = Some(SavepointState::Pending);
                            status.attempts = Some(status.attempts.unwrap_or(0) + 1);
                            status.error = Some(why);
                        } else {
                            status.fail(&why);
                        }
                    }
                    None => {
                        status.state = Some(SavepointState::Failed);
                        status.error = Some("the savepoint has no result".into());
                    }
                },
                // Flink forgot the trigger: it is lost. Any other error says
                // nothing about the savepoint: look again.
                Err(e) if e.is_not_found() => status.fail(&e.to_string()),
                Err(_) => continue,
            }
            self.set_savepoint(&savepoint, &status).await?;
        }
        Ok(Some(if busy {
            PassOutcome::Wait(Duration::from_millis(500))
        } else {
            PassOutcome::Settled
        }))
    }

    /// Writes a savepoint resource's status.
    async fn set_savepoint(
        &self,
        savepoint: &Object,
        status: &SavepointStatus,
    ) -> Result<(), Error> {
        self.core
            .store()
            .write_status(&savepoint.key, None, to_json(status))
            .await
            .map(drop)
            .map_err(store_error)
    }

    /// Records a savepoint drey took (a stop, a rescale) as a COMPLETED
    /// savepoint resource of the statement.
    pub(super) async fn record_savepoint(
        &self,
        statement: &Object,
        location: &str,
    ) -> Result<(), Error> {
        let mut write = drey_store::Write::new(
            ObjectKey {
                org: statement.key.org.clone(),
                kind: Kind::Savepoint,
                scope: statement_scope(&statement.key.scope, &statement.meta.name),
                name: format!(
                    "savepoint-{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..12]
                ),
            },
            drey_store::WriteMode::Create,
            to_json(&SavepointSpec::taken_at(location)),
        );
        write.status = Some(to_json(&SavepointStatus::completed_at(location)));
        self.core
            .store()
            .write(write)
            .await
            .map(drop)
            .map_err(store_error)
    }

    pub(super) fn savepoint_dir(&self, statement: &Object) -> std::path::PathBuf {
        let uid = statement.meta.uid.simple().to_string();
        let owner = super::super::state_owner(&statement.key, &uid);
        drey_runtime::backend::local::local_dirs(&self.config.state_dir, &owner).savepoints
    }
}
