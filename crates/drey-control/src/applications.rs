//! Flink applications: the desired job, its instances and its events.

use crate::access::{Need, Scope};
use crate::{store_error, Core, Outcome, ResourceInput};
use drey_model::application::{validate_spec, JobState};
use drey_model::application_spec::{ApplicationSpec, ApplicationStatus, JobStatus, Lifecycle};
use drey_model::compute_pool_spec::{PoolSpec, PoolType};
use drey_model::event::EventType;
use drey_model::loose::{to_json, typed, view, Loose};
use drey_model::name::check_cmf_name;
use drey_model::object::app_scope;
use drey_model::page::{SortDirection, SortKey, SortOrder};
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest, Timestamp};
use drey_store::{Delete, Write, WriteMode};
use serde_json::Value;

/// The annotation that says a delete was asked for (and when).
pub const DELETION_REQUESTED: &str = "drey.io/deletion-requested";

/// Whether a delete of the application was asked for.
pub fn deletion_requested(app: &Object) -> bool {
    app.meta.annotations.contains_key(DELETION_REQUESTED)
}

fn app_key(org: &str, env: &str, name: &str) -> ObjectKey {
    ObjectKey::in_env(org, Kind::Application, env, name)
}

/// The annotation that places one application on a registered cluster
/// (by name), over its environment's `kubernetesClusterName`: how a VVP
/// DeploymentTarget that names a cluster places its deployments.
pub const CLUSTER_ANNOTATION: &str = "drey.io/cluster";

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
    /// given and another user wrote the application since that resource
    /// version (two writers never silently overwrite each other; a status
    /// the reconciler wrote since is no conflict).
    pub async fn upsert_application_at(
        &self,
        org: &str,
        env: &str,
        input: ResourceInput,
        expected: Option<i64>,
    ) -> Result<(Object, Outcome), Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.write_application(org, env, input, expected, false)
            .await
    }

    /// Creates an application, refused with [`Error::AlreadyExists`] when
    /// the name is taken, whoever took it in the meantime: the store's
    /// create is the check (VVP's POST, LakeSail's creates).
    pub async fn create_application(
        &self,
        org: &str,
        env: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.write_application(org, env, input, None, true)
            .await
            .map(|(stored, _)| stored)
    }

    async fn write_application(
        &self,
        org: &str,
        env: &str,
        input: ResourceInput,
        expected: Option<i64>,
        create_only: bool,
    ) -> Result<(Object, Outcome), Error> {
        check_cmf_name("metadata.name", &input.name)?;
        validate_spec(&input.spec)?;
        let key = app_key(org, env, &input.name);
        let environment = self.require_environment(org, env).await?;
        // A cmf:// jar must name an artifact version of this environment now,
        // not only when the job is submitted.
        if let Some(uri) = input
            .spec
            .pointer("/job/jarURI")
            .and_then(|u| u.as_str())
            .filter(|u| u.starts_with("cmf://"))
        {
            self.resolve_artifact_uri(org, env, uri).await?;
        }
        let _admitted = self.admit_cluster(&key, &environment, &input.spec).await?;
        let current = self.store.get(&key).await.map_err(store_error)?;
        let exists = current.is_some();
        if exists && create_only {
            return Err(already_exists(&input.name));
        }
        if let Some(cluster) = input.annotations.get(CLUSTER_ANNOTATION) {
            let field = format!("metadata.annotations.{CLUSTER_ANNOTATION}");
            self.runnable_cluster(org, cluster, &field).await?;
        }
        let mut write = Write::new(key, WriteMode::Upsert, input.spec);
        write.labels = input.labels;
        write.annotations = input.annotations;
        // A requested deletion is not undone by an update.
        if let Some(mark) = current
            .as_ref()
            .and_then(|c| c.meta.annotations.get(DELETION_REQUESTED))
        {
            write
                .annotations
                .insert(DELETION_REQUESTED.to_owned(), mark.clone());
        }
        write.requires = vec![ObjectKey::global(org, Kind::Environment, env)];
        if let Some(pool) = self.session_pool_of(org, env, &write.spec).await? {
            // The pool cannot be deleted while the application runs in it.
            write.requires.push(pool.key.clone());
            write.refs.push(pool.key);
        }
        let (stored, outcome) = self
            .create_or_update(write, exists, expected, create_only, &input.name)
            .await?;
        let message = match outcome {
            Outcome::Created => "Application created",
            Outcome::Updated => "Application updated",
        };
        crate::reconcile::events::record(
            self.store.as_ref(),
            &stored.key,
            None,
            if outcome == Outcome::Created {
                EventType::ApplicationCreated
            } else {
                EventType::ApplicationUpdated
            },
            message,
            None,
        )
        .await?;
        self.wake_object(&stored.key);
        Ok((stored, outcome))
    }

    /// Stores an application: a create (with its initial status) when none
    /// was there, else an update that keeps the status. Each is one atomic
    /// store write, so a status the reconciler writes meanwhile is never
    /// overwritten; when the object appeared or went between the read and
    /// the write, the other one is made instead.
    async fn create_or_update(
        &self,
        mut write: Write,
        exists: bool,
        expected: Option<i64>,
        create_only: bool,
        name: &str,
    ) -> Result<(Object, Outcome), Error> {
        let mut create = !exists;
        // The second round is only for an object created or deleted between
        // the read and the first write.
        for _ in 0..2 {
            if create {
                write.mode = WriteMode::Create;
                write.status = Some(initial_status(name));
            } else {
                write.mode = WriteMode::Update {
                    expected_version: expected,
                };
                write.status = None;
            }
            match self.store.write(write.clone()).await {
                Ok(stored) if create => return Ok((stored, Outcome::Created)),
                Ok(stored) => return Ok((stored, Outcome::Updated)),
                Err(drey_store::StoreError::AlreadyExists(_)) if create_only => {
                    return Err(already_exists(name));
                }
                Err(drey_store::StoreError::AlreadyExists(_)) if create && expected.is_none() => {
                    create = false;
                }
                Err(drey_store::StoreError::NotFound(_)) if !create => create = true,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(Error::Conflict(format!(
            "{} '{name}' was created and deleted concurrently; retry",
            Kind::Application
        )))
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
        let spec: ApplicationSpec = view(spec);
        let Some(name) = spec.session_pool() else {
            return Ok(None);
        };
        let key = ObjectKey::in_env(org, Kind::ComputePool, env, name);
        let Some(pool) = self.store.get(&key).await.map_err(store_error)? else {
            return Err(Error::invalid(
                "spec.deploymentName",
                format!("compute pool '{name}' does not exist in environment '{env}'"),
            ));
        };
        if typed(&view::<PoolSpec>(&pool.spec).pool_type) == Some(&PoolType::Dedicated) {
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
        self.allow(Need::Read, Scope::env(org, env))?;
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
        self.allow(Need::Read, Scope::env(org, env))?;
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
        self.allow(Need::Write, Scope::env(org, env))?;
        // Against the version read: a status the reconciler writes
        // meanwhile is no conflict (the store's rule), another user's write is.
        let current = self.get_application(org, env, name).await?;
        let mut spec: ApplicationSpec = view(&current.spec);
        let Some(mut job) = spec.job().cloned() else {
            return Err(Error::invalid("spec.job", "is required"));
        };
        job.state = Some(Loose::Typed(state));
        spec.job = Some(Loose::Typed(job));
        let spec = to_json(&spec);
        let environment = self.require_environment(org, env).await?;
        let _admitted = self
            .admit_cluster(&current.key, &environment, &spec)
            .await?;
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
        let stored = self.store.write(write).await.map_err(store_error)?;
        self.wake_object(&stored.key);
        Ok(stored)
    }

    /// Deletes an application. The request is a user write (the
    /// `drey.io/deletion-requested` annotation, like Kubernetes'
    /// `deletionTimestamp`), so a reconciler pass that read the application
    /// before it can no longer record anything: its next write conflicts and
    /// it plans again, now to take the deployment down. With nothing
    /// deployed the application then goes at once, with its instances and
    /// events; otherwise the reconciler cancels the job, stops the cluster
    /// and removes it.
    pub async fn delete_application(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        let current = self.get_application(org, env, name).await?;
        let marked = if deletion_requested(&current) {
            current
        } else {
            let mut write = Write::new(
                current.key.clone(),
                WriteMode::Update {
                    expected_version: None,
                },
                current.spec.clone(),
            );
            write.labels = current.meta.labels.clone();
            write.annotations = current.meta.annotations.clone();
            write
                .annotations
                .insert(DELETION_REQUESTED.to_owned(), Timestamp::now().to_string());
            // Every write states the references again (the store replaces them).
            if let Some(pool) = self.session_pool_of(org, env, &write.spec).await? {
                write.refs.push(pool.key);
            }
            match self.store.write(write).await {
                Ok(marked) => marked,
                Err(drey_store::StoreError::NotFound(_)) => {
                    return Err(Error::not_found(Kind::Application, name))
                }
                Err(e) => return Err(store_error(e)),
            }
        };
        self.wake_object(&marked.key);
        if crate::reconcile::recorded_of(&marked).deployment.is_some() {
            return Ok(marked);
        }
        // Nothing deployed as of the mark, and no pass that read before it can
        // record a deployment now: delete against the mark's version.
        let scope = app_scope(env, name);
        let mut delete = Delete::new(marked.key.clone());
        delete.cascade = vec![
            (Kind::Instance, scope.clone()),
            (Kind::Event, scope.clone()),
            (Kind::Savepoint, scope),
        ];
        delete.expected_version = Some(marked.meta.resource_version);
        match self.store.delete(delete).await {
            Ok(gone) => {
                let app = gone.unwrap_or(marked);
                self.remove_deleted_app_state(&app).await;
                Ok(app)
            }
            // Another user wrote since the mark: the reconciler finishes.
            Err(drey_store::StoreError::VersionConflict { .. }) => Ok(marked),
            Err(e) => Err(store_error(e)),
        }
    }

    /// A page of an application's instances, newest first unless sorted.
    pub async fn list_instances(
        &self,
        org: &str,
        env: &str,
        app: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
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
        self.allow(Need::Read, Scope::env(org, env))?;
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
        self.allow(Need::Read, Scope::env(org, env))?;
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
    to_json(&ApplicationStatus::<Value> {
        lifecycle_state: Some(Lifecycle::Created),
        job_status: Some(JobStatus {
            job_name: Some(name.to_owned()),
            state: Some("CREATED".into()),
            ..JobStatus::default()
        }),
        ..ApplicationStatus::default()
    })
}

fn already_exists(name: &str) -> Error {
    Error::AlreadyExists {
        kind: Kind::Application,
        name: name.to_owned(),
    }
}
