//! Savepoints as resources (CMF 2.3): taken on demand or by suspend and
//! upgrades, listed per application, detached to outlive it, and usable as
//! `initialSavepointPath`.

use crate::{store_error, Core, ResourceInput};
use drey_model::name::check_cmf_name;
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest, Timestamp};
use drey_store::{Delete, Write, WriteMode};
use serde_json::{json, Value};

/// Savepoint states.
pub mod state {
    /// Waiting for the reconciler to trigger it.
    pub const PENDING: &str = "PENDING";
    /// Triggered, not done.
    pub const IN_PROGRESS: &str = "IN_PROGRESS";
    /// Done; `status.path` holds it.
    pub const COMPLETED: &str = "COMPLETED";
    /// Failed; `status.error` says why.
    pub const FAILED: &str = "FAILED";
}

fn check_spec(spec: &Value) -> Result<(), Error> {
    if let Some(format) = spec.get("formatType").filter(|v| !v.is_null()) {
        if !matches!(format.as_str(), Some("CANONICAL") | Some("NATIVE")) {
            return Err(Error::invalid(
                "spec.formatType",
                format!("must be 'CANONICAL' or 'NATIVE', not {format}"),
            ));
        }
    }
    if let Some(path) = spec.get("path").filter(|v| !v.is_null()) {
        if path.as_str().map(str::trim).unwrap_or("").is_empty() {
            return Err(Error::invalid("spec.path", "must be a non-empty string"));
        }
    }
    Ok(())
}

impl Core {
    /// Asks for a savepoint of the application's running job.
    pub async fn create_app_savepoint(
        &self,
        org: &str,
        env: &str,
        app: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        check_cmf_name("metadata.name", &input.name)?;
        check_spec(&input.spec)?;
        let application = self.get_application(org, env, app).await?;
        let mut write = Write::new(
            ObjectKey::in_app(org, Kind::Savepoint, env, app, &input.name),
            WriteMode::Create,
            input.spec,
        );
        write.labels = input.labels;
        write.annotations = input.annotations;
        write.requires = vec![application.key];
        write.status = Some(json!({
            "state": state::PENDING,
            "triggerTimestamp": Timestamp::now().to_string(),
        }));
        let stored = self.store.write(write).await.map_err(store_error)?;
        self.wake();
        Ok(stored)
    }

    /// A page of an application's savepoints, newest first unless sorted.
    pub async fn list_app_savepoints(
        &self,
        org: &str,
        env: &str,
        app: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.list_app_children(org, env, app, Kind::Savepoint, page)
            .await
    }

    /// One of an application's savepoints.
    pub async fn get_app_savepoint(
        &self,
        org: &str,
        env: &str,
        app: &str,
        name: &str,
    ) -> Result<Object, Error> {
        self.get_app_child(org, env, app, Kind::Savepoint, name)
            .await
    }

    /// Deletes a savepoint record (the files stay where Flink wrote them).
    pub async fn delete_app_savepoint(
        &self,
        org: &str,
        env: &str,
        app: &str,
        name: &str,
    ) -> Result<(), Error> {
        self.get_application(org, env, app).await?;
        self.store
            .delete(Delete::new(ObjectKey::in_app(
                org,
                Kind::Savepoint,
                env,
                app,
                name,
            )))
            .await
            .map_err(store_error)?
            .map(|_| ())
            .ok_or_else(|| Error::not_found(Kind::Savepoint, name))
    }

    /// Detaches a savepoint from its application: it becomes a detached
    /// savepoint that outlives the application.
    pub async fn detach_app_savepoint(
        &self,
        org: &str,
        env: &str,
        app: &str,
        name: &str,
    ) -> Result<Object, Error> {
        let savepoint = self.get_app_savepoint(org, env, app, name).await?;
        let mut write = Write::new(
            ObjectKey::global(org, Kind::Savepoint, name),
            WriteMode::Create,
            savepoint.spec.clone(),
        );
        write.labels = savepoint.meta.labels.clone();
        write.annotations = savepoint.meta.annotations.clone();
        write.status = Some(savepoint.status.clone());
        let detached = self.store.write(write).await.map_err(store_error)?;
        self.store
            .delete(Delete::new(savepoint.key))
            .await
            .map_err(store_error)?;
        Ok(detached)
    }

    /// Registers a savepoint that exists outside any application (`spec.path`).
    pub async fn create_detached_savepoint(
        &self,
        org: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        check_cmf_name("metadata.name", &input.name)?;
        check_spec(&input.spec)?;
        let Some(path) = input
            .spec
            .get("path")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Err(Error::invalid(
                "spec.path",
                "is required for a detached savepoint",
            ));
        };
        let mut write = Write::new(
            ObjectKey::global(org, Kind::Savepoint, &input.name),
            WriteMode::Create,
            input.spec,
        );
        write.labels = input.labels;
        write.annotations = input.annotations;
        let now = Timestamp::now().to_string();
        write.status = Some(json!({
            "state": state::COMPLETED, "path": path,
            "triggerTimestamp": now, "resultTimestamp": now,
        }));
        self.store.write(write).await.map_err(store_error)
    }

    /// A page of detached savepoints.
    pub async fn list_detached_savepoints(
        &self,
        org: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.list(org, Kind::Savepoint, Some(String::new()), vec![], page)
            .await
    }

    /// One detached savepoint.
    pub async fn get_detached_savepoint(&self, org: &str, name: &str) -> Result<Object, Error> {
        self.get(&ObjectKey::global(org, Kind::Savepoint, name))
            .await
    }

    /// Deletes a detached savepoint record.
    pub async fn delete_detached_savepoint(&self, org: &str, name: &str) -> Result<(), Error> {
        self.store
            .delete(Delete::new(ObjectKey::global(org, Kind::Savepoint, name)))
            .await
            .map_err(store_error)?
            .map(|_| ())
            .ok_or_else(|| Error::not_found(Kind::Savepoint, name))
    }
}
