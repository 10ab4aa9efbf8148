//! Flink SQL statements. Running them on a compute pool is the statement
//! reconciler's job; here they are stored, validated and filtered.

use crate::{store_error, Core, ResourceInput};
use drey_model::name::check_cmf_name;
use drey_model::validate::statement_spec;
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{Delete, FieldFilter, Write, WriteMode};
use serde_json::{json, Value};

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
        check_cmf_name("metadata.name", &input.name)?;
        statement_spec(&input.spec)?;
        self.require_environment(org, env).await?;
        let pool = input.spec["computePoolName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
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
        write.status = Some(json!({
            "phase": "PENDING",
            "detail": format!("Waiting to be scheduled on compute pool '{pool}'."),
        }));
        self.store.write(write).await.map_err(store_error)
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
        write.refs = vec![ObjectKey::in_env(
            org,
            Kind::ComputePool,
            env,
            current.spec["computePoolName"].as_str().unwrap_or_default(),
        )];
        self.store.write(write).await.map_err(store_error)
    }

    /// One statement.
    pub async fn get_statement(&self, org: &str, env: &str, name: &str) -> Result<Object, Error> {
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

    /// Deletes a statement. With nothing running it is gone at once.
    pub async fn delete_statement(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<DeleteOutcome, Error> {
        self.require_environment(org, env).await?;
        self.store
            .delete(Delete::new(statement_key(org, env, name)))
            .await
            .map_err(store_error)?
            .map(|_| DeleteOutcome::Deleted)
            .ok_or_else(|| Error::not_found(Kind::Statement, name))
    }

    /// The statement's result page; refused for a statement that has none.
    pub async fn statement_results(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<Value, Error> {
        let statement = self.get_statement(org, env, name).await?;
        match statement.status.get("phase").and_then(Value::as_str) {
            Some(phase) => Err(Error::BadRequest(format!(
                "Statement '{name}' has no results: it is {phase} and has not produced any"
            ))),
            None => Err(Error::BadRequest(format!(
                "Statement '{name}' has no results"
            ))),
        }
    }

    /// The statement's last exceptions, newest first.
    pub async fn statement_exceptions(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<Vec<Value>, Error> {
        let statement = self.get_statement(org, env, name).await?;
        Ok(statement
            .status
            .get("exceptions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }
}
