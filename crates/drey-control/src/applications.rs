//! Flink applications: the desired job, its instances and its events.

use crate::{store_error, Core, Outcome, ResourceInput};
use drey_model::application::{validate_spec, JobState};
use drey_model::name::check_cmf_name;
use drey_model::object::app_scope;
use drey_model::page::{SortDirection, SortKey, SortOrder};
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{Delete, Write, WriteMode};
use serde_json::{json, Value};

fn app_key(org: &str, env: &str, name: &str) -> ObjectKey {
    ObjectKey::in_env(org, Kind::Application, env, name)
}

impl Core {
    /// Creates an application or replaces its spec (its status is kept).
    pub async fn upsert_application(
        &self,
        org: &str,
        env: &str,
        input: ResourceInput,
    ) -> Result<(Object, Outcome), Error> {
        self.upsert_application_at(org, env, input, None).await
    }

    /// [`Core::upsert_application`], refused with 409 when `expected` is
    /// given and the stored application is at another resource version
    /// (two writers never silently overwrite each other).
    pub async fn upsert_application_at(
        &self,
        org: &str,
        env: &str,
        input: ResourceInput,
        expected: Option<i64>,
    ) -> Result<(Object, Outcome), Error> {
        check_cmf_name("metadata.name", &input.name)?;
        validate_spec(&input.spec)?;
        let key = app_key(org, env, &input.name);
        self.require_environment(org, env).await?;
        let existing = self.store.get(&key).await.map_err(store_error)?;
        let mode = match (&existing, expected) {
            (Some(_), Some(version)) => WriteMode::Update {
                expected_version: Some(version),
            },
            _ => WriteMode::Upsert,
        };
        let mut write = Write::new(key, mode, input.spec);
        write.labels = input.labels;
        write.annotations = input.annotations;
        write.requires = vec![ObjectKey::global(org, Kind::Environment, env)];
        if let Some(pool) = self.session_pool_of(org, env, &write.spec).await? {
            // The pool cannot be deleted while the application runs in it.
            write.requires.push(pool.key.clone());
            write.refs.push(pool.key);
        }
        let outcome = match existing {
            Some(_) => Outcome::Updated,
            None => {
                write.status = Some(initial_status(&input.name));
                Outcome::Created
            }
        };
        let stored = self.store.write(write).await.map_err(store_error)?;
        let message = match outcome {
            Outcome::Created => "Application created",
            Outcome::Updated => "Application updated",
        };
        crate::reconcile::events::record(
            self.store.as_ref(),
            &stored.key,
            None,
            if outcome == Outcome::Created {
                "APPLICATION_CREATED"
            } else {
                "APPLICATION_UPDATED"
            },
            message,
            None,
        )
        .await?;
        self.wake();
        Ok((stored, outcome))
    }

    /// The SHARED compute pool an application's job runs in
    /// (`spec.deploymentName`: a session job), checked to exist and to own
    /// a session cluster; `None` for an application with a cluster of its own.
    async fn session_pool_of(
        &self,
        org: &str,
        env: &str,
        spec: &Value,
    ) -> Result<Option<Object>, Error> {
        let Some(name) = spec.get("deploymentName").and_then(Value::as_str) else {
            return Ok(None);
        };
        let key = ObjectKey::in_env(org, Kind::ComputePool, env, name);
        let Some(pool) = self.store.get(&key).await.map_err(store_error)? else {
            return Err(Error::invalid(
                "spec.deploymentName",
                format!("compute pool '{name}' does not exist in environment '{env}'"),
            ));
        };
        if pool.spec.get("type").and_then(Value::as_str) == Some("DEDICATED") {
            return Err(Error::invalid(
                "spec.deploymentName",
                format!(
                    "compute pool '{name}' is DEDICATED: only a SHARED pool runs a session cluster"
                ),
            ));
        }
        Ok(Some(pool))
    }

    /// One application.
    pub async fn get_application(&self, org: &str, env: &str, name: &str) -> Result<Object, Error> {
        match self
            .store
            .get(&app_key(org, env, name))
            .await
            .map_err(store_error)?
        {
            Some(app) => Ok(app),
            None => {
                self.require_environment(org, env).await?;
                Err(Error::not_found(Kind::Application, name))
            }
        }
    }

    /// A page of an environment's applications.
    pub async fn list_applications(
        &self,
        org: &str,
        env: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.require_environment(org, env).await?;
        self.list(org, Kind::Application, Some(env.to_owned()), vec![], page)
            .await
    }

    /// Sets `spec.job.state` (the CMF `start` and `suspend` endpoints).
    pub async fn set_application_state(
        &self,
        org: &str,
        env: &str,
        name: &str,
        state: JobState,
    ) -> Result<Object, Error> {
        // The reconciler writes the status meanwhile: a version that moved is
        // read again, never answered with a conflict.
        for _ in 0..50 {
            let current = self.get_application(org, env, name).await?;
            let mut spec = current.spec;
            match spec.get_mut("job").and_then(Value::as_object_mut) {
                Some(job) => {
                    job.insert("state".into(), Value::String(state.as_str().into()));
                }
                None => return Err(Error::invalid("spec.job", "is required")),
            }
            let mut write = Write::new(
                current.key,
                WriteMode::Update {
                    expected_version: Some(current.meta.resource_version),
                },
                spec,
            );
            write.labels = current.meta.labels;
            write.annotations = current.meta.annotations;
            // Every write states the references again (the store replaces them).
            if let Some(pool) = self.session_pool_of(org, env, &write.spec).await? {
                write.refs.push(pool.key);
            }
            match self.store.write(write).await {
                Ok(stored) => {
                    self.wake();
                    return Ok(stored);
                }
                Err(drey_store::StoreError::VersionConflict { .. }) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(Error::Unavailable(format!(
            "{} '{name}' keeps changing; retry",
            Kind::Application
        )))
    }

    /// Deletes an application. With nothing deployed it goes at once, with
    /// its instances and events; otherwise it is marked DELETING and the
    /// reconciler cancels the job, stops the cluster and then removes it.
    pub async fn delete_application(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<Object, Error> {
        // The reconciler writes this object too: act against the version
        // read, and read again if it moved, so a deployment that starts
        // meanwhile is never orphaned.
        for _ in 0..50 {
            let current = self.get_application(org, env, name).await?;
            let version = Some(current.meta.resource_version);
            let mut recorded = crate::reconcile::recorded_of(&current);
            let direct = recorded.deployment.is_none();
            let result = if direct {
                let scope = app_scope(env, name);
                let mut delete = Delete::new(current.key.clone());
                delete.cascade = vec![
                    (Kind::Instance, scope.clone()),
                    (Kind::Event, scope.clone()),
                    (Kind::Savepoint, scope),
                ];
                delete.expected_version = version;
                self.store
                    .delete(delete)
                    .await
                    .map(|gone| gone.unwrap_or(current))
            } else {
                recorded.deleting = true;
                let mut status = current.status.as_object().cloned().unwrap_or_default();
                status.insert("lifecycleState".into(), Value::String("DELETING".into()));
                status.insert(
                    "reconciler".into(),
                    serde_json::to_value(&recorded).map_err(|e| Error::Internal(e.to_string()))?,
                );
                let marked = self
                    .store
                    .write_status(&current.key, version, Value::Object(status))
                    .await;
                self.wake();
                marked
            };
            match result {
                Ok(app) => {
                    if direct {
                        self.remove_deleted_app_state(&app).await;
                    }
                    return Ok(app);
                }
                Err(drey_store::StoreError::VersionConflict { .. }) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(Error::Unavailable(format!(
            "{} '{name}' keeps changing; retry the delete",
            Kind::Application
        )))
    }

    /// A page of an application's instances, newest first unless sorted.
    pub async fn list_instances(
        &self,
        org: &str,
        env: &str,
        app: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.list_app_children(org, env, app, Kind::Instance, page)
            .await
    }

    /// One instance.
    pub async fn get_instance(
        &self,
        org: &str,
        env: &str,
        app: &str,
        name: &str,
    ) -> Result<Object, Error> {
        self.get_app_child(org, env, app, Kind::Instance, name)
            .await
    }

    /// A page of an application's events, newest first unless sorted.
    pub async fn list_events(
        &self,
        org: &str,
        env: &str,
        app: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.list_app_children(org, env, app, Kind::Event, page)
            .await
    }

    /// A page of the objects of `kind` under an application (instances,
    /// events, savepoints), newest first unless sorted; 404 for a missing
    /// environment or application.
    pub(crate) async fn list_app_children(
        &self,
        org: &str,
        env: &str,
        app: &str,
        kind: Kind,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.get_application(org, env, app).await?;
        self.list(
            org,
            kind,
            Some(app_scope(env, app)),
            vec![],
            newest_first(page),
        )
        .await
    }

    /// One object of `kind` under an application.
    pub(crate) async fn get_app_child(
        &self,
        org: &str,
        env: &str,
        app: &str,
        kind: Kind,
        name: &str,
    ) -> Result<Object, Error> {
        self.get_application(org, env, app).await?;
        self.get(&ObjectKey::in_app(org, kind, env, app, name))
            .await
    }
}

fn newest_first(mut page: PageRequest) -> PageRequest {
    if page.sort.is_empty() {
        page.sort.push(SortOrder {
            key: SortKey::CreationTime,
            direction: SortDirection::Desc,
        });
    }
    page
}

/// The status of an application nothing has acted on yet. `jobStatus.jobName`
/// and `.state` are always strings: the CMF CLI reads them on every item.
fn initial_status(name: &str) -> Value {
    json!({
        "lifecycleState": "CREATED",
        "jobStatus": {"jobName": name, "state": "CREATED"},
    })
}
