//! VVP's SQL job graphs (`deployments/{d}:create-jobgraph`,
//! `:delete-jobgraphs`): a deployment's SQL translated by Flink's planner
//! into its compiled plan (`COMPILE PLAN ... FOR <statement>`), the JSON
//! Flink restores a SQL job from, kept under
//! `<state-dir>/jobgraphs/<org>/<env>/<deployment>/<id>.json`. The tables it
//! reads and writes come from the plan itself.

use crate::access::{Need, Scope};
use crate::sql_engine::RunError;
use crate::sql_scripts::SqlContext;
use crate::Core;
use drey_model::{Error, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a job graph is made from (VVP's `JobGraphSpec`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobGraphSpec {
    /// The statement: an `INSERT INTO` or a `STATEMENT SET`.
    #[serde(default)]
    pub sql_statement: String,
    /// The Flink version asked for (drey plans with the one it runs).
    #[serde(default)]
    pub flink_version: Option<String>,
    /// Flink configuration the statement is planned with.
    #[serde(default)]
    pub full_flink_configuration: BTreeMap<String, String>,
    /// The part of it the user set.
    #[serde(default)]
    pub user_flink_configuration: BTreeMap<String, String>,
    /// Kept as given.
    #[serde(default)]
    pub job_id: Option<String>,
    /// Kept as given.
    #[serde(default)]
    pub savepoint_location: Option<String>,
    /// Kept as given.
    #[serde(default)]
    pub allow_non_restored_state: Option<bool>,
}

/// A configuration change a SQL editor asks about (VVP's `ConfigSpec`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigChange {
    /// The Flink version asked for (drey runs one).
    #[serde(default)]
    pub flink_version: Option<String>,
    /// The Flink options the deployment would get.
    #[serde(default)]
    pub new_config: BTreeMap<String, String>,
}

/// A table a job graph reads or writes (VVP's `ReferencedTable`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferencedTable {
    /// Its catalog.
    pub catalog_name: String,
    /// Its database.
    pub database_name: String,
    /// Its name.
    pub table_name: String,
    /// Whether it is a temporary table (the plan does not say: false).
    pub temporary: bool,
}

/// A job graph (VVP's `JobGraph`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobGraph {
    /// `namespaces/<ns>/deployments/<deployment>/jobgraphs/<id>`.
    pub name: String,
    /// `JOBGRAPH_STATE_COMPLETED` or `JOBGRAPH_STATE_FAILED`.
    pub state: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_details: Option<Value>,
    /// The statement.
    pub sql_statement: String,
    /// The Flink version it was planned with.
    pub flink_version: String,
    /// As given.
    pub full_flink_configuration: BTreeMap<String, String>,
    /// As given.
    pub user_flink_configuration: BTreeMap<String, String>,
    /// The compiled plan (`file://`), when it completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobgraph_path: Option<String>,
    /// The jars it needs besides Flink's (none: functions are the catalog's).
    pub jar_uris: Vec<String>,
    /// Tables it reads.
    pub source_tables: Vec<ReferencedTable>,
    /// Tables it writes.
    pub sink_tables: Vec<ReferencedTable>,
    /// When it was made.
    pub create_time: String,
    /// The same.
    pub update_time: String,
}

impl Core {
    /// The options of `change` the deployment `deployment` of `env` could not
    /// take: those drey owns, which a write would refuse with 422 naming them
    /// (VVP's `:validate-config-change`, asked before the change is made).
    pub async fn unsupported_config_options(
        &self,
        org: &str,
        env: &str,
        deployment: &str,
        change: &ConfigChange,
    ) -> Result<Vec<String>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.get_application(org, env, deployment).await?;
        Ok(change
            .new_config
            .keys()
            .filter(|key| drey_model::flink_options::is_drey_owned(key))
            .cloned()
            .collect())
    }

    fn job_graph_dir(&self, org: &str, env: &str, deployment: &str) -> Result<PathBuf, Error> {
        let root = (self.state_root())
            .ok_or_else(|| Error::Unavailable("this server keeps no state on disk".into()))?;
        // Organization ids, environment and deployment names are path-safe by their rules.
        Ok(root.join("jobgraphs").join(org).join(env).join(deployment))
    }

    /// Translates `spec.sql_statement` for deployment `deployment` of `env`:
    /// a plan that Flink refuses is a job graph in state FAILED saying why.
    pub async fn create_job_graph(
        &self,
        org: &str,
        env: &str,
        deployment: &str,
        spec: JobGraphSpec,
    ) -> Result<JobGraph, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.get_application(org, env, deployment).await?;
        if spec.sql_statement.trim().is_empty() {
            return Err(Error::invalid("sqlStatement", "is required"));
        }
        let engine = self
            .sql_engine()
            .ok_or_else(|| Error::Unavailable("drey runs without a SQL engine".into()))?;
        let id = uuid::Uuid::new_v4().to_string();
        // The engine writes the plan where it may (its own directory, when
        // it is drey's sandboxed one); drey keeps it with the deployment.
        let kept_in = self.job_graph_dir(org, env, deployment)?;
        let scratch = engine
            .scratch_dir(self, org, env)
            .unwrap_or_else(|| kept_in.clone());
        std::fs::create_dir_all(&scratch).map_err(|e| Error::Internal(e.to_string()))?;
        let written = scratch.join(format!("{id}.json"));
        let statement = spec.sql_statement.trim().trim_end_matches(';');
        let compile = format!(
            "COMPILE PLAN {} FOR {statement}",
            drey_model::sql::string_literal(&format!("file://{}", written.display()))
        );
        let now = Timestamp::now().to_string();
        let mut graph = JobGraph {
            name: format!("namespaces/{env}/deployments/{deployment}/jobgraphs/{id}"),
            state: "JOBGRAPH_STATE_FAILED",
            error_details: None,
            sql_statement: spec.sql_statement.clone(),
            flink_version: drey_runtime::FLINK_VERSION.to_owned(),
            full_flink_configuration: spec.full_flink_configuration.clone(),
            user_flink_configuration: spec.user_flink_configuration.clone(),
            jobgraph_path: None,
            jar_uris: Vec::new(),
            source_tables: Vec::new(),
            sink_tables: Vec::new(),
            create_time: now.clone(),
            update_time: now,
        };
        let session = match self.editor_session(org, env, &SqlContext::default()).await {
            Ok(session) => session,
            Err(RunError::Sql(message)) => return Ok(failed(graph, message)),
            Err(RunError::Engine(e)) => return Err(e),
        };
        let mut config = spec.user_flink_configuration.clone();
        config.extend(spec.full_flink_configuration.clone());
        let ran = session.run_to_end(&compile, &config).await;
        session.close().await;
        match ran {
            Ok(_) => {}
            Err(RunError::Sql(message)) => return Ok(failed(graph, message)),
            Err(RunError::Engine(e)) => return Err(e),
        }
        let kept = kept_in.join(format!("{id}.json"));
        let plan = keep(&written, &kept).map_err(|e| Error::Internal(e.to_string()))?;
        let plan: Value =
            serde_json::from_str(&plan).map_err(|e| Error::Internal(e.to_string()))?;
        graph.source_tables = tables_at(&plan, "/scanTableSource/table/identifier");
        graph.sink_tables = tables_at(&plan, "/dynamicTableSink/table/identifier");
        graph.state = "JOBGRAPH_STATE_COMPLETED";
        graph.jobgraph_path = Some(format!("file://{}", kept.display()));
        Ok(graph)
    }

    /// Deletes every job graph of `deployment`: one entry per graph, with
    /// the files that could not be removed.
    pub async fn delete_job_graphs(
        &self,
        org: &str,
        env: &str,
        deployment: &str,
    ) -> Result<Vec<Vec<String>>, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.get_application(org, env, deployment).await?;
        let dir = self.job_graph_dir(org, env, deployment)?;
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                out.push(match std::fs::remove_file(&path) {
                    Ok(()) => Vec::new(),
                    Err(_) => vec![format!("file://{}", path.display())],
                });
            }
        }
        let _ = std::fs::remove_dir(&dir);
        Ok(out)
    }
}

fn failed(graph: JobGraph, message: String) -> JobGraph {
    JobGraph {
        state: "JOBGRAPH_STATE_FAILED",
        error_details: Some(serde_json::json!({ "message": message })),
        ..graph
    }
}

/// Moves the plan the engine wrote to where drey keeps it; answers its text.
fn keep(written: &Path, kept: &Path) -> std::io::Result<String> {
    if let Some(dir) = kept.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = std::fs::read_to_string(written)?;
    if written != kept {
        std::fs::write(kept, &text)?;
        std::fs::remove_file(written)?;
    }
    Ok(text)
}

/// The tables the plan's nodes name at `pointer` (Flink writes an
/// identifier as `` `catalog`.`database`.`table` ``), each once.
fn tables_at(plan: &Value, pointer: &str) -> Vec<ReferencedTable> {
    let mut out: Vec<ReferencedTable> = Vec::new();
    let nodes = plan.get("nodes").and_then(Value::as_array);
    for identifier in nodes
        .into_iter()
        .flatten()
        .filter_map(|node| node.pointer(pointer).and_then(Value::as_str))
    {
        let parts = identifier_parts(identifier);
        if let [catalog, database, table] = parts.as_slice() {
            let table = ReferencedTable {
                catalog_name: catalog.clone(),
                database_name: database.clone(),
                table_name: table.clone(),
                temporary: false,
            };
            if !out.contains(&table) {
                out.push(table);
            }
        }
    }
    out
}

/// `` `a`.`b``c`.d `` → `a`, ``b`c``, `d`.
fn identifier_parts(identifier: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = identifier.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '`' if quoted && chars.peek() == Some(&'`') => {
                chars.next();
                current.push('`');
            }
            '`' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_come_from_the_plans_nodes() {
        let plan = serde_json::json!({"nodes": [
            {"type": "stream-exec-table-source-scan_1",
             "scanTableSource": {"table": {"identifier": "`default_catalog`.`default_database`.`orders`"}}},
            {"type": "stream-exec-calc_1"},
            {"type": "stream-exec-sink_1",
             "dynamicTableSink": {"table": {"identifier": "`c`.`d``b`.`out.put`"}}}
        ]});
        let sources = tables_at(&plan, "/scanTableSource/table/identifier");
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].table_name, "orders");
        let sinks = tables_at(&plan, "/dynamicTableSink/table/identifier");
        assert_eq!(
            (
                sinks[0].catalog_name.as_str(),
                sinks[0].database_name.as_str(),
                sinks[0].table_name.as_str()
            ),
            ("c", "d`b", "out.put")
        );
    }
}
