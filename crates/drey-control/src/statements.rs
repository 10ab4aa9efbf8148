//! Flink SQL statements: stored, validated and filtered here; checked by the
//! SQL engine when they are created (a SQL error shows in the create
//! response); run on their compute pool by the statement reconciler.

use crate::access::{Need, Scope};
use crate::reconcile::statements::{cmf_rows, record_of, StatementRecord};
use crate::{store_error, Core, ResourceInput};
use drey_flink::{OperationHandle, ResultType, SessionHandle};
use drey_model::loose::{to_json, view};
use drey_model::name::check_cmf_name;
use drey_model::statement_spec::{
    StatementException, StatementResult, StatementSpec, StatementStatus,
};
use drey_model::validate::statement_spec;
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest, Timestamp};
use drey_store::{Delete, FieldFilter, StoreError, Write, WriteMode};
use serde_json::Value;

/// Statement phases, as CMF spells them.
pub const PHASES: [&str; 7] = [
    "PENDING",
    "RUNNING",
    "COMPLETED",
    "DELETING",
    "FAILING",
    "FAILED",
    "STOPPED",
];

/// What a delete did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Nothing was running: the statement is gone.
    Deleted,
    /// A job is being cancelled; the statement goes once it stops.
    Deleting,
}

fn statement_key(org: &str, env: &str, name: &str) -> ObjectKey {
    ObjectKey::in_env(org, Kind::Statement, env, name)
}

impl Core {
    /// Creates a statement on a compute pool of the environment.
    pub async fn create_statement(
        &self,
        org: &str,
        env: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        check_cmf_name("metadata.name", &input.name)?;
        statement_spec(&input.spec)?;
        self.require_environment(org, env).await?;
        let pool = view::<StatementSpec>(&input.spec).pool().to_owned();
        let pool_key = ObjectKey::in_env(org, Kind::ComputePool, env, &pool);
        let mut write = Write::new(
            statement_key(org, env, &input.name),
            WriteMode::Create,
            input.spec,
        );
        write.labels = input.labels;
        write.annotations = input.annotations;
        write.requires = vec![
            ObjectKey::global(org, Kind::Environment, env),
            pool_key.clone(),
        ];
        write.refs = vec![pool_key];
        write.status = Some(to_json(&StatementStatus::<Value> {
            phase: Some(crate::reconcile::statements::phase::PENDING.into()),
            detail: Some(format!("Waiting to be scheduled on compute pool '{pool}'.")),
            ..StatementStatus::default()
        }));
        let statement = self.store.write(write).await.map_err(store_error)?;
        let Some(engine) = self.sql.clone() else {
            return Ok(statement);
        };
        let statement = match crate::reconcile::statements::prepare(self, &engine, &statement).await
        {
            Ok(prepared) => prepared,
            Err(e) => {
                // The reconciler tries again; the statement is accepted.
                tracing::warn!(statement = %statement.meta.name, error = %e,
                               "cannot check the statement now");
                self.get(&statement.key).await?
            }
        };
        self.wake_object(&statement.key);
        Ok(statement)
    }

    /// Updates a statement. The SQL text and the compute pool are fixed once
    /// created; `stopped`, `parallelism`, properties and configuration change.
    pub async fn update_statement(
        &self,
        org: &str,
        env: &str,
        name: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        if !input.name.is_empty() && input.name != name {
            return Err(Error::invalid(
                "metadata.name",
                format!(
                    "'{}' does not match the statement '{name}' in the path",
                    input.name
                ),
            ));
        }
        statement_spec(&input.spec)?;
        let current = self.get_statement(org, env, name).await?;
        for field in ["statement", "computePoolName"] {
            if current.spec.get(field) != input.spec.get(field) {
                return Err(Error::invalid(
                    format!("spec.{field}"),
                    "cannot be changed once the statement exists",
                ));
            }
        }
        let mut write = Write::new(
            current.key,
            WriteMode::Update {
                expected_version: Some(current.meta.resource_version),
            },
            input.spec,
        );
        write.labels = input.labels;
        write.annotations = input.annotations;
        // A requested deletion is not undone by an update.
        if let Some(mark) = current
            .meta
            .annotations
            .get(crate::applications::DELETION_REQUESTED)
        {
            write.annotations.insert(
                crate::applications::DELETION_REQUESTED.to_owned(),
                mark.clone(),
            );
        }
        write.refs = vec![ObjectKey::in_env(
            org,
            Kind::ComputePool,
            env,
            view::<StatementSpec>(&current.spec).pool(),
        )];
        let statement = self.store.write(write).await.map_err(store_error)?;
        self.wake_object(&statement.key);
        Ok(statement)
    }

    /// One statement.
    pub async fn get_statement(&self, org: &str, env: &str, name: &str) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        self.get(&statement_key(org, env, name)).await
    }

    /// A page of an environment's statements, optionally filtered by compute
    /// pool and phase (case-insensitive, CMF's lower-case enum).
    pub async fn list_statements(
        &self,
        org: &str,
        env: &str,
        compute_pool: Option<&str>,
        phase: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        let mut filters = Vec::new();
        if let Some(pool) = compute_pool {
            filters.push(FieldFilter {
                path: vec!["spec".into(), "computePoolName".into()],
                equals: pool.to_owned(),
            });
        }
        if let Some(phase) = phase {
            let upper = phase.to_ascii_uppercase();
            if !PHASES.contains(&upper.as_str()) {
                return Err(Error::BadRequest(format!(
                    "unknown phase '{phase}': expected one of {}",
                    PHASES.map(|p| p.to_ascii_lowercase()).join(", ")
                )));
            }
            filters.push(FieldFilter {
                path: vec!["status".into(), "phase".into()],
                equals: upper,
            });
        }
        self.list(org, Kind::Statement, Some(env.to_owned()), filters, page)
            .await
    }

    /// Deletes a statement. With nothing running it is gone at once;
    /// otherwise it turns DELETING and goes once its job is cancelled.
    pub async fn delete_statement(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<DeleteOutcome, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        let statement = self.get_statement(org, env, name).await?;
        if crate::applications::deletion_requested(&statement) {
            return Ok(DeleteOutcome::Deleting);
        }
        // The request is a user write, as for applications: a reconciler
        // pass that read before it can record nothing more.
        let mut write = Write::new(
            statement.key.clone(),
            WriteMode::Update {
                expected_version: None,
            },
            statement.spec.clone(),
        );
        write.labels = statement.meta.labels.clone();
        write.annotations = statement.meta.annotations.clone();
        write.annotations.insert(
            crate::applications::DELETION_REQUESTED.to_owned(),
            Timestamp::now().to_string(),
        );
        write.refs = vec![ObjectKey::in_env(
            org,
            Kind::ComputePool,
            env,
            view::<StatementSpec>(&statement.spec).pool(),
        )];
        let marked = match self.store.write(write).await {
            Ok(marked) => marked,
            Err(StoreError::NotFound(_)) => return Err(Error::not_found(Kind::Statement, name)),
            Err(e) => return Err(store_error(e)),
        };
        self.wake_object(&marked.key);
        let record = record_of(&marked);
        if record.run.as_ref().is_some_and(|r| !r.finished) {
            return Ok(DeleteOutcome::Deleting);
        }
        let mut delete = Delete::new(marked.key.clone());
        delete.expected_version = Some(marked.meta.resource_version);
        delete.cascade = vec![(
            Kind::Savepoint,
            drey_model::object::statement_scope(env, name),
        )];
        match self.store.delete(delete).await {
            // Whatever the statement still held (a finished query's session
            // or cluster) the reconciler's sweep releases.
            Ok(Some(_)) => Ok(DeleteOutcome::Deleted),
            Ok(None) => Err(Error::not_found(Kind::Statement, name)),
            // Another user wrote since the mark: the reconciler finishes.
            Err(StoreError::VersionConflict { .. }) => Ok(DeleteOutcome::Deleting),
            Err(e) => Err(store_error(e)),
        }
    }

    /// A page of the statement's results: inline for a DDL or metadata
    /// statement, from the SQL engine for a query (`page_token` continues
    /// where the last page ended; an empty next token means the end).
    /// Refused for a statement that has none.
    pub async fn statement_results(
        &self,
        org: &str,
        env: &str,
        name: &str,
        page_token: Option<&str>,
    ) -> Result<Value, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let statement = self.get_statement(org, env, name).await?;
        let status: StatementStatus<StatementRecord> = view(&statement.status);
        if let Some(result) = &status.result {
            return Ok(to_json(result));
        }
        let record = status.reconciler.clone().unwrap_or_default();
        let no_results = || {
            let phase = status.phase().unwrap_or("PENDING");
            Error::BadRequest(format!(
                "Statement '{name}' has no results: it is {phase} and does not return rows"
            ))
        };
        if record.execution != "query" {
            return Err(no_results());
        }
        let token: u64 = match page_token.filter(|t| !t.is_empty()) {
            None => 0,
            Some(t) => t.parse().map_err(|_| {
                Error::BadRequest(format!(
                    "page-token '{t}' is not a token this server issued"
                ))
            })?,
        };
        let run = record.run.as_ref();
        let (Some(session), Some(op)) = (
            run.and_then(|r| r.session.clone()),
            run.and_then(|r| r.operation.clone()),
        ) else {
            if record.runs > 0 && run.is_none_or(|r| r.submitted) {
                return Err(Error::Gone(format!(
                    "the results of Statement '{name}' are gone"
                )));
            }
            // Not running yet: nothing to show, ask again with the same token.
            return Ok(to_json(&StatementResult::page(vec![], Some(token))));
        };
        let Some(engine) = self.sql.clone() else {
            return Err(Error::Unavailable("this server runs no SQL engine".into()));
        };
        let page = engine
            .fetch(
                self,
                (org, env),
                &SessionHandle(session),
                &OperationHandle(op),
                token,
            )
            .await?;
        if !page.columns.is_empty() {
            let _ = self
                .record_statement_schema(&statement, &page.columns)
                .await;
        }
        let next = match page.result_type {
            ResultType::Eos => None,
            _ => Some(page.next_token.unwrap_or(token)),
        };
        Ok(to_json(&StatementResult::page(cmf_rows(&page.rows), next)))
    }

    /// The statement's last exceptions, newest first.
    pub async fn statement_exceptions(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<Vec<StatementException>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let statement = self.get_statement(org, env, name).await?;
        Ok(view::<StatementStatus>(&statement.status)
            .exceptions
            .unwrap_or_default())
    }
}
