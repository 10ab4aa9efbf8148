//! Savepoints as resources (CMF 2.3): taken on demand or by suspend and
//! upgrades, listed per application or statement, detached to outlive it,
//! and usable as `initialSavepointPath`.

use crate::access::{Need, Scope};
use crate::{store_error, Core, ResourceInput};
use drey_model::loose::{to_json, view, Loose};
use drey_model::name::check_cmf_name;
use drey_model::object::{app_scope, statement_scope};
use drey_model::savepoint::{SavepointSpec, SavepointStatus};
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{Delete, Write, WriteMode};
use serde_json::Value;

/// The spec of a savepoint request, checked; its `path` when it names one.
fn check_spec(spec: &Value) -> Result<Option<String>, Error> {
    let spec: SavepointSpec = view(spec);
    match &spec.format_type {
        None => {}
        Some(Loose::Typed(f)) if f == "CANONICAL" || f == "NATIVE" => {}
        Some(Loose::Typed(f)) => return Err(bad_format(&Value::String(f.clone()))),
        Some(Loose::Odd(v)) => return Err(bad_format(v)),
    }
    match spec.path {
        None => Ok(None),
        Some(Loose::Typed(p)) if !p.trim().is_empty() => Ok(Some(p)),
        Some(_) => Err(Error::invalid("spec.path", "must be a non-empty string")),
    }
}

fn bad_format(given: &Value) -> Error {
    Error::invalid(
        "spec.formatType",
        format!("must be 'CANONICAL' or 'NATIVE', not {given}"),
    )
}

/// What a savepoint belongs to.
#[derive(Clone, Copy, Debug)]
pub enum Owner<'a> {
    /// An application's job.
    Application(&'a str),
    /// A statement's job.
    Statement(&'a str),
}

impl Owner<'_> {
    /// The scope its savepoints live in.
    pub fn scope(&self, env: &str) -> String {
        match self {
            Owner::Application(app) => app_scope(env, app),
            Owner::Statement(stmt) => statement_scope(env, stmt),
        }
    }

    fn key(&self, org: &str, env: &str, name: &str) -> ObjectKey {
        ObjectKey {
            org: org.to_owned(),
            kind: Kind::Savepoint,
            scope: self.scope(env),
            name: name.to_owned(),
        }
    }
}

impl Core {
    /// The application or statement itself (404 when it or its environment is missing).
    async fn savepoint_owner(
        &self,
        org: &str,
        env: &str,
        owner: Owner<'_>,
    ) -> Result<Object, Error> {
        match owner {
            Owner::Application(app) => self.get_application(org, env, app).await,
            Owner::Statement(stmt) => self.get_statement(org, env, stmt).await,
        }
    }

    /// Asks for a savepoint of the owner's running job.
    pub async fn create_savepoint(
        &self,
        org: &str,
        env: &str,
        owner: Owner<'_>,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        check_cmf_name("metadata.name", &input.name)?;
        check_spec(&input.spec)?;
        let parent = self.savepoint_owner(org, env, owner).await?;
        let mut write = Write::new(
            owner.key(org, env, &input.name),
            WriteMode::Create,
            input.spec,
        );
        write.labels = input.labels;
        write.annotations = input.annotations;
        write.requires = vec![parent.key];
        write.status = Some(to_json(&SavepointStatus::pending()));
        let stored = self.store.write(write).await.map_err(store_error)?;
        self.wake_object(&stored.key);
        Ok(stored)
    }

    /// Asks for a savepoint of the application's running job.
    pub async fn create_app_savepoint(
        &self,
        org: &str,
        env: &str,
        app: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.create_savepoint(org, env, Owner::Application(app), input)
            .await
    }

    /// A page of the owner's savepoints, newest first unless sorted.
    pub async fn list_savepoints(
        &self,
        org: &str,
        env: &str,
        owner: Owner<'_>,
        mut page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.savepoint_owner(org, env, owner).await?;
        if page.sort.is_empty() {
            page.sort.push(drey_model::SortOrder {
                key: drey_model::SortKey::CreationTime,
                direction: drey_model::SortDirection::Desc,
            });
        }
        self.list(org, Kind::Savepoint, Some(owner.scope(env)), vec![], page)
            .await
    }

    /// A page of an application's savepoints, newest first unless sorted.
    pub async fn list_app_savepoints(
        &self,
        org: &str,
        env: &str,
        app: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.list_savepoints(org, env, Owner::Application(app), page)
            .await
    }

    /// One of the owner's savepoints.
    pub async fn get_savepoint(
        &self,
        org: &str,
        env: &str,
        owner: Owner<'_>,
        name: &str,
    ) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.savepoint_owner(org, env, owner).await?;
        self.get(&owner.key(org, env, name)).await
    }

    /// One of an application's savepoints.
    pub async fn get_app_savepoint(
        &self,
        org: &str,
        env: &str,
        app: &str,
        name: &str,
    ) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.get_savepoint(org, env, Owner::Application(app), name)
            .await
    }

    /// Deletes a savepoint record; an application's savepoint files go with
    /// it unless something may still restore from them (see
    /// [`crate::retention`]). A statement's stay where Flink wrote them.
    pub async fn delete_savepoint(
        &self,
        org: &str,
        env: &str,
        owner: Owner<'_>,
        name: &str,
    ) -> Result<(), Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.savepoint_owner(org, env, owner).await?;
        let deleted = self
            .store
            .delete(Delete::new(owner.key(org, env, name)))
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::not_found(Kind::Savepoint, name))?;
        if let Owner::Application(_) = owner {
            self.dispose_deleted_savepoint(&deleted).await;
        }
        Ok(())
    }

    /// Deletes an application's savepoint record.
    pub async fn delete_app_savepoint(
        &self,
        org: &str,
        env: &str,
        app: &str,
        name: &str,
    ) -> Result<(), Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.delete_savepoint(org, env, Owner::Application(app), name)
            .await
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
        self.allow(Need::Write, Scope::env(org, env))?;
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
        self.allow(Need::Write, Scope::Organization(org))?;
        check_cmf_name("metadata.name", &input.name)?;
        let Some(path) = check_spec(&input.spec)? else {
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
        write.status = Some(to_json(&SavepointStatus::completed_at(&path)));
        self.store.write(write).await.map_err(store_error)
    }

    /// A page of detached savepoints.
    pub async fn list_detached_savepoints(
        &self,
        org: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        self.list(org, Kind::Savepoint, Some(String::new()), vec![], page)
            .await
    }

    /// One detached savepoint.
    pub async fn get_detached_savepoint(&self, org: &str, name: &str) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        self.get(&ObjectKey::global(org, Kind::Savepoint, name))
            .await
    }

    /// Deletes a detached savepoint record, and its files when drey wrote
    /// them and nothing restores from them.
    pub async fn delete_detached_savepoint(&self, org: &str, name: &str) -> Result<(), Error> {
        self.allow(Need::Write, Scope::Organization(org))?;
        let deleted = self
            .store
            .delete(Delete::new(ObjectKey::global(org, Kind::Savepoint, name)))
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::not_found(Kind::Savepoint, name))?;
        self.dispose_deleted_savepoint(&deleted).await;
        Ok(())
    }
}
