//! SQL run on behalf of an editor rather than a statement resource (VVP's
//! `sqlscripts:validate` and `sqlscripts:execute`, and catalog browsing):
//! each call opens a session of drey's SQL engine with the environment's
//! catalog replayed, so it sees exactly what the environment's statements
//! see. DDL that succeeds is recorded like a statement's.

use crate::access::{Need, Scope};
use crate::sql_engine::{RunError, Session};
use crate::{store_error, Core};
pub use drey_flink::{CatalogFactoryInfo, FactoryOption};
use drey_model::compute_pool_spec::PoolStatus;
use drey_model::environment_spec::EnvironmentSpec;
use drey_model::loose::view;
use drey_model::sql::{classify, Execution};
use drey_model::Error;
use drey_model::{Kind, ObjectKey};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Rows a previewed query returns, at most.
pub const PREVIEW_ROWS: usize = 100;

/// How long a previewed query runs, at most.
pub const PREVIEW_WAIT: Duration = Duration::from_secs(20);

/// What a statement is, once the engine accepted it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlShape {
    /// A query.
    Select,
    /// A job writing somewhere (`INSERT`, statement sets).
    Insert,
    /// A change of the catalog.
    Ddl,
    /// Metadata or session commands (`SHOW`, `DESCRIBE`, `EXPLAIN`, `USE`).
    Command,
}

/// A table of text: what an executed statement returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TextTable {
    /// Column names.
    pub headers: Vec<String>,
    /// Cells, as text.
    pub rows: Vec<Vec<String>>,
}

/// Where unqualified names resolve.
#[derive(Clone, Debug, Default)]
pub struct SqlContext {
    /// `sql.current-catalog`, if not the default one.
    pub catalog: Option<String>,
    /// `sql.current-database`, if not the default one.
    pub database: Option<String>,
}

impl SqlContext {
    fn properties(&self) -> BTreeMap<String, String> {
        let mut props = BTreeMap::new();
        if let Some(c) = &self.catalog {
            props.insert("sql.current-catalog".into(), c.clone());
        }
        if let Some(d) = &self.database {
            props.insert("sql.current-database".into(), d.clone());
        }
        props
    }

    fn names(&self) -> (String, String) {
        (
            self.catalog
                .clone()
                .unwrap_or_else(|| "default_catalog".into()),
            self.database
                .clone()
                .unwrap_or_else(|| "default_database".into()),
        )
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "NULL".into(),
        other => other.to_string(),
    }
}

/// A failed run as the editor's calls answer it: the engine's verdict on
/// bad SQL (`Ok(Err(message))`), or drey's own error.
fn verdict<T>(e: RunError) -> Result<Result<T, String>, Error> {
    match e {
        RunError::Sql(message) => Ok(Err(message)),
        RunError::Engine(e) => Err(e),
    }
}

fn table_of(collected: drey_flink::Collected) -> TextTable {
    TextTable {
        headers: collected.columns.into_iter().map(|c| c.name).collect(),
        rows: collected
            .rows
            .iter()
            .map(|r| r.fields.iter().map(cell).collect())
            .collect(),
    }
}

impl Core {
    fn editor_engine(&self) -> Result<&crate::sql_engine::SqlEngine, RunError> {
        self.sql_engine().map(|e| e.as_ref()).ok_or_else(|| {
            RunError::Engine(Error::Unavailable("drey runs without a SQL engine".into()))
        })
    }

    pub(crate) async fn editor_session(
        &self,
        org: &str,
        env: &str,
        context: &SqlContext,
    ) -> Result<Session, RunError> {
        let engine = self.editor_engine()?;
        self.require_environment(org, env).await?;
        engine
            .open(self, org, env, "sql-editor", &context.properties())
            .await
    }

    /// The catalog connectors the jars at `uris` bring (VVP's
    /// `catalog-connectors:analyze-jars`): each URI must name an artifact of
    /// the environment (`file://` as uploaded, or `cmf://`). The jars' code
    /// runs in the (sandboxed) SQL gateway, so it takes an editor.
    pub async fn analyze_catalog_jars(
        &self,
        org: &str,
        env: &str,
        uris: &[String],
    ) -> Result<Vec<CatalogFactoryInfo>, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        let mut jars = Vec::new();
        for (i, uri) in uris.iter().enumerate() {
            let path = match self.artifact_of_uri(org, env, uri) {
                Some(path) => path,
                None if uri.starts_with("cmf://") => self
                    .resolve_artifact_uri(org, env, uri)
                    .await
                    .map_err(|e| Error::invalid(format!("jarUris[{i}]"), e.to_string()))?,
                None => {
                    return Err(Error::invalid(
                        format!("jarUris[{i}]"),
                        format!("'{uri}' is not an artifact of '{env}'"),
                    ))
                }
            };
            jars.push(path.to_string_lossy().into_owned());
        }
        let Some(engine) = self.sql_engine() else {
            return Err(Error::Unavailable("drey runs without a SQL engine".into()));
        };
        let client = engine.client(self, org, env).await?;
        client
            .catalog_factories(&jars)
            .await
            .map_err(|e| match crate::sql_engine::run_error(e) {
                RunError::Sql(message) => Error::invalid("jarUris", message),
                RunError::Engine(e) => e,
            })
    }

    /// Runs one statement in a fresh session and closes it.
    async fn run_once(
        &self,
        org: &str,
        env: &str,
        context: &SqlContext,
        sql: &str,
    ) -> Result<drey_flink::Collected, RunError> {
        let session = self.editor_session(org, env, context).await?;
        let result = session.run_to_end(sql, &BTreeMap::new()).await;
        session.close().await;
        result
    }

    /// Runs a query on the environment's preview session cluster for a
    /// while (see [`Core::execute_sql`]).
    async fn preview(
        &self,
        org: &str,
        env: &str,
        context: &SqlContext,
        sql: &str,
    ) -> Result<drey_flink::Collected, RunError> {
        let engine = self.editor_engine()?;
        let url = self.preview_cluster_url(org, env).await?;
        let mut properties = context.properties();
        properties.extend(engine.remote_target(self, org, env, &url).await?);
        let session = engine
            .open(self, org, env, "sql-preview", &properties)
            .await?;
        let result = session
            .run_for(sql, &BTreeMap::new(), PREVIEW_ROWS, PREVIEW_WAIT)
            .await;
        session.close().await;
        result
    }

    /// The REST URL of the environment's preview session cluster, which must
    /// be set and running: a 400 saying what to do otherwise.
    async fn preview_cluster_url(&self, org: &str, env: &str) -> Result<String, Error> {
        let environment = self.require_environment(org, env).await?;
        let spec = view::<EnvironmentSpec>(&environment.spec);
        let Some(name) = spec.preview_session_cluster() else {
            return Err(Error::BadRequest(format!(
                "a SELECT is previewed on the namespace's preview session cluster, and '{env}' \
                 has none: set one with namespaces/{env}:setPreviewSessionCluster"
            )));
        };
        let key = ObjectKey::in_env(org, Kind::ComputePool, env, name);
        let Some(pool) = self.store.get(&key).await.map_err(store_error)? else {
            return Err(Error::BadRequest(format!(
                "the preview session cluster '{name}' of '{env}' no longer exists"
            )));
        };
        let status: PoolStatus = view(&pool.status);
        match status.rest_url() {
            Some(url) if status.phase() == Some(crate::reconcile::pools::phase::RUNNING) => {
                Ok(url.to_owned())
            }
            _ => {
                Err(Error::BadRequest(format!(
                "the preview session cluster '{name}' is not running (it is {}): start it first",
                status.phase().unwrap_or(crate::reconcile::pools::phase::PENDING)
            )))
            }
        }
    }

    /// Checks a statement without changing anything: queries and jobs are
    /// planned (`EXPLAIN`), DDL and commands run in a session of their own
    /// that is thrown away. `Ok(Err(message))` is the engine's verdict on
    /// bad SQL.
    pub async fn validate_sql(
        &self,
        org: &str,
        env: &str,
        context: &SqlContext,
        sql: &str,
    ) -> Result<Result<SqlShape, String>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let (catalog, database) = context.names();
        let (shape, checked) = match classify(sql, &catalog, &database) {
            Execution::Query => (SqlShape::Select, format!("EXPLAIN {sql}")),
            Execution::Job => (SqlShape::Insert, format!("EXPLAIN {sql}")),
            Execution::CatalogChange(_) => (SqlShape::Ddl, sql.to_owned()),
            Execution::Metadata => (SqlShape::Command, sql.to_owned()),
        };
        match self.run_once(org, env, context, &checked).await {
            Ok(_) => Ok(Ok(shape)),
            Err(e) => verdict(e),
        }
    }

    /// Executes a DDL statement (recorded for the environment, like a
    /// statement's) or a command, and returns its rows. A query is
    /// previewed on the environment's preview session cluster: its first
    /// [`PREVIEW_ROWS`] rows, or what came within [`PREVIEW_WAIT`], then its
    /// job is cancelled. Jobs (`INSERT`) belong to deployments and
    /// statements. `Ok(Err(message))` carries the engine's verdict on bad SQL.
    pub async fn execute_sql(
        &self,
        org: &str,
        env: &str,
        context: &SqlContext,
        sql: &str,
    ) -> Result<Result<TextTable, String>, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        let (catalog, database) = context.names();
        let execution = classify(sql, &catalog, &database);
        if execution == Execution::Query {
            return match self.preview(org, env, context, sql).await {
                Ok(collected) => Ok(Ok(table_of(collected))),
                Err(e) => verdict(e),
            };
        }
        if execution.runs_job() {
            return Err(Error::BadRequest(
                "INSERT runs a job: create a deployment or a statement for it".into(),
            ));
        }
        match self.run_once(org, env, context, sql).await {
            Ok(collected) => {
                if let Execution::CatalogChange(change) = &execution {
                    self.record_catalog_change(org, env, change, sql).await?;
                }
                Ok(Ok(table_of(collected)))
            }
            Err(e) => verdict(e),
        }
    }

    /// Runs a metadata statement (`SHOW TABLES FROM ...`, `DESCRIBE ...`)
    /// for catalog browsing; bad names are the caller's (404/400 by the
    /// engine's message).
    pub async fn sql_metadata(
        &self,
        org: &str,
        env: &str,
        context: &SqlContext,
        sql: &str,
    ) -> Result<Result<TextTable, String>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        match self.run_once(org, env, context, sql).await {
            Ok(collected) => Ok(Ok(table_of(collected))),
            Err(e) => verdict(e),
        }
    }

    /// Completions for the word of `script` that ends at `position` (a
    /// character offset): SQL keywords, and the tables and views the
    /// engine lists in the script's catalog and database. An empty word
    /// gets every table and no keyword.
    pub async fn suggest_sql(
        &self,
        org: &str,
        env: &str,
        context: &SqlContext,
        script: &str,
        position: usize,
    ) -> Result<Vec<Completion>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let word = word_before(script, position);
        let mut out: Vec<Completion> = Vec::new();
        if !word.is_empty() {
            out.extend(
                KEYWORDS
                    .iter()
                    .filter(|k| starts_with_ignoring_case(k, &word))
                    .map(|k| Completion {
                        text: (*k).to_owned(),
                        kind: CompletionKind::Keyword,
                    }),
            );
        }
        if let Ok(tables) = self.sql_metadata(org, env, context, "SHOW TABLES").await? {
            out.extend(
                tables
                    .rows
                    .into_iter()
                    .filter_map(|row| row.into_iter().next())
                    .filter(|t| starts_with_ignoring_case(t, &word))
                    .map(|text| Completion {
                        text,
                        kind: CompletionKind::Table,
                    }),
            );
        }
        Ok(out)
    }
}

/// One completion of a SQL script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// What to insert.
    pub text: String,
    /// What it names.
    pub kind: CompletionKind,
}

/// What a completion names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    /// A SQL keyword.
    Keyword,
    /// A table or view of the current database.
    Table,
}

/// The keywords completed: Flink SQL's statement and clause words.
const KEYWORDS: &[&str] = &[
    "ALTER",
    "AND",
    "AS",
    "ASC",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "CATALOG",
    "CREATE",
    "DATABASE",
    "DESC",
    "DESCRIBE",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "EXPLAIN",
    "FROM",
    "FUNCTION",
    "GROUP",
    "HAVING",
    "IN",
    "INSERT",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "LEFT",
    "LIKE",
    "LIMIT",
    "NOT",
    "NULL",
    "ON",
    "OR",
    "ORDER",
    "OVER",
    "PARTITION",
    "RIGHT",
    "SELECT",
    "SET",
    "SHOW",
    "TABLE",
    "TABLES",
    "TEMPORARY",
    "THEN",
    "UNION",
    "USE",
    "VALUES",
    "VIEW",
    "WATERMARK",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
];

/// The identifier characters right before `position` (characters, clamped
/// to the script's length).
fn word_before(script: &str, position: usize) -> String {
    let before: Vec<char> = script.chars().take(position).collect();
    let start = before
        .iter()
        .rposition(|c| !(c.is_alphanumeric() || *c == '_'))
        .map_or(0, |i| i + 1);
    before[start..].iter().collect()
}

fn starts_with_ignoring_case(text: &str, prefix: &str) -> bool {
    text.to_lowercase().starts_with(&prefix.to_lowercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_word_before_the_cursor() {
        assert_eq!(super::word_before("SELECT * FROM or", 16), "or");
        assert_eq!(super::word_before("SEL", 3), "SEL");
        assert_eq!(super::word_before("SELECT * FROM ", 14), "");
        assert_eq!(super::word_before("SELECT", 99), "SELECT");
        assert_eq!(super::word_before("a.b_c", 5), "b_c");
    }
}
