//! Checking a statement when it is created: DDL and metadata run to their
//! end, queries and jobs are planned for their traits; and the session
//! properties and result shapes every run uses.

use super::{phase, StatementRecord};
use crate::sql_engine::{RunError, SqlEngine};
use crate::{store_error, Core};
use drey_model::json::string_map;
use drey_model::loose::{to_json, view};
use drey_model::sql::{changelog_traits, classify, cmf_data_type, sql_kind, Execution};
use drey_model::statement_spec::{
    ResultColumn, ResultRow, ResultSchema, StatementException, StatementResult, StatementSpec,
    StatementStatus, StatementTraits,
};
use drey_model::{Error, Object};
use serde_json::Value;
use std::collections::BTreeMap;

/// The session properties a statement runs with: the environment's
/// `statementDefaults` for its kind (detached or interactive), then its own
/// `flinkConfiguration`, then its `properties`.
pub(super) async fn statement_properties(
    core: &Core,
    statement: &Object,
    interactive: bool,
) -> Result<BTreeMap<String, String>, Error> {
    let env = core.environment_of(&statement.key).await?;
    let which = if interactive {
        "interactive"
    } else {
        "detached"
    };
    let mut props = string_map(env.as_ref().and_then(|e| {
        e.spec
            .get("statementDefaults")
            .and_then(|d| d.get(which))
            .and_then(|d| d.get("flinkConfiguration"))
    }));
    props.extend(string_map(statement.spec.get("flinkConfiguration")));
    props.extend(string_map(statement.spec.get("properties")));
    Ok(props)
}

fn current_catalog(props: &BTreeMap<String, String>) -> (String, String) {
    (
        props
            .get("sql.current-catalog")
            .cloned()
            .unwrap_or_else(|| "default_catalog".into()),
        props
            .get("sql.current-database")
            .cloned()
            .unwrap_or_else(|| "default_database".into()),
    )
}

fn columns_schema(columns: &[drey_flink::ColumnInfo]) -> ResultSchema {
    ResultSchema {
        columns: columns
            .iter()
            .map(|c| ResultColumn {
                name: c.name.clone(),
                data_type: cmf_data_type(&c.logical_type),
            })
            .collect(),
    }
}

/// Rows in CMF's result shape: `{"op": 0..3, "row": [...]}`.
pub fn cmf_rows(rows: &[drey_flink::ResultRow]) -> Vec<ResultRow> {
    rows.iter()
        .map(|r| ResultRow {
            op: r.kind.op(),
            row: r.fields.clone(),
        })
        .collect()
}

/// Checks a new statement's SQL with the engine. DDL and metadata statements
/// run to completion here (their result goes inline into the statement); a
/// query or a job gets its traits and waits for the reconciler. A SQL error
/// makes the statement FAILED with the engine's message. An unreachable
/// engine leaves it PENDING (`Err`), for the reconciler to try again.
pub async fn prepare(core: &Core, engine: &SqlEngine, statement: &Object) -> Result<Object, Error> {
    let sql = statement
        .spec
        .get("statement")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let (org, env, name) = (
        statement.key.org.as_str(),
        statement.key.scope.as_str(),
        statement.meta.name.as_str(),
    );
    let own_props = string_map(statement.spec.get("properties"));
    let (catalog, database) = current_catalog(&own_props);
    let execution = classify(&sql, &catalog, &database);
    let interactive = !matches!(execution, Execution::Job);
    let props = statement_properties(core, statement, interactive).await?;
    let mut traits = StatementTraits {
        sql_kind: Some(sql_kind(&sql)),
        ..StatementTraits::default()
    };
    let mut status = StatementStatus::<StatementRecord>::default();
    let mut record = StatementRecord {
        prepared: true,
        ..StatementRecord::default()
    };
    let outcome = match &execution {
        Execution::CatalogChange(_) | Execution::Metadata => {
            record.execution = if matches!(execution, Execution::Metadata) {
                "metadata".into()
            } else {
                "catalog".into()
            };
            run_inline(core, engine, statement, &sql, &props, &execution).await
        }
        Execution::Query | Execution::Job => {
            record.execution = if execution == Execution::Query {
                "query".into()
            } else {
                "job".into()
            };
            analyze(core, engine, statement, &sql, &props).await
        }
    };
    match outcome {
        Ok(Prepared::Completed { columns, rows }) => {
            traits.is_bounded = Some(true);
            traits.is_append_only = Some(true);
            traits.schema = Some(columns_schema(&columns));
            status.phase = Some(phase::COMPLETED.into());
            status.detail = Some("The statement completed.".into());
            status.result = Some(StatementResult::page(cmf_rows(&rows), None));
        }
        Ok(Prepared::Analyzed {
            append_only,
            upsert_columns,
            bounded,
        }) => {
            traits.is_bounded = Some(bounded);
            traits.is_append_only = Some(append_only);
            traits.upsert_columns = upsert_columns;
            status.phase = Some(phase::PENDING.into());
            status.detail = Some(format!(
                "Waiting to run on compute pool '{}'.",
                view::<StatementSpec>(&statement.spec).pool()
            ));
        }
        Err(RunError::Sql(message)) => {
            status.phase = Some(phase::FAILED.into());
            status.exceptions = Some(vec![StatementException::now(&message)]);
            status.detail = Some(message);
        }
        Err(RunError::Engine(e)) => {
            let _ = (org, env, name);
            return Err(e);
        }
    }
    status.traits = Some(traits);
    status.reconciler = Some(record);
    core.store()
        .write_status(
            &statement.key,
            Some(statement.meta.resource_version),
            to_json(&status),
        )
        .await
        .map_err(store_error)
}

enum Prepared {
    Completed {
        columns: Vec<drey_flink::ColumnInfo>,
        rows: Vec<drey_flink::ResultRow>,
    },
    Analyzed {
        append_only: bool,
        upsert_columns: Option<Vec<u32>>,
        bounded: bool,
    },
}

async fn run_inline(
    core: &Core,
    engine: &SqlEngine,
    statement: &Object,
    sql: &str,
    props: &BTreeMap<String, String>,
    execution: &Execution,
) -> Result<Prepared, RunError> {
    let (org, env) = (statement.key.org.as_str(), statement.key.scope.as_str());
    let session = engine
        .open(core, org, env, &statement.meta.name, props)
        .await?;
    let result = session.run_to_end(sql, &BTreeMap::new()).await;
    session.close().await;
    let collected = result?;
    if let Execution::CatalogChange(change) = execution {
        core.record_catalog_change(org, env, change, sql).await?;
    }
    Ok(Prepared::Completed {
        columns: collected.columns,
        rows: collected.rows,
    })
}

/// Plans the statement twice without running it: in streaming mode for its
/// changelog (append-only or updating), in batch mode for boundedness (Flink
/// refuses an unbounded source in batch mode).
async fn analyze(
    core: &Core,
    engine: &SqlEngine,
    statement: &Object,
    sql: &str,
    props: &BTreeMap<String, String>,
) -> Result<Prepared, RunError> {
    let mut batch_props = props.clone();
    batch_props.insert("execution.runtime-mode".into(), "batch".into());
    // Both plans at once: they are independent and each takes the planner a while.
    let changelog_sql = format!("EXPLAIN CHANGELOG_MODE {sql}");
    let batch_sql = format!("EXPLAIN {sql}");
    // Both plans at once: they are independent and each takes the planner a while.
    let (streaming, batch) = tokio::join!(
        explain(core, engine, statement, &changelog_sql, props),
        explain(core, engine, statement, &batch_sql, &batch_props),
    );
    let plan: String = streaming?
        .rows
        .iter()
        .flat_map(|r| r.fields.iter())
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    let (append_only, upsert_columns) = changelog_traits(&plan);
    let bounded = match batch {
        Ok(_) => true,
        Err(RunError::Sql(_)) => false,
        Err(e) => return Err(e),
    };
    Ok(Prepared::Analyzed {
        append_only,
        upsert_columns,
        bounded,
    })
}

/// Runs one EXPLAIN in a session of its own.
async fn explain(
    core: &Core,
    engine: &SqlEngine,
    statement: &Object,
    sql: &str,
    props: &BTreeMap<String, String>,
) -> Result<drey_flink::Collected, RunError> {
    let (org, env) = (statement.key.org.as_str(), statement.key.scope.as_str());
    let session = engine
        .open(core, org, env, &statement.meta.name, props)
        .await?;
    let result = session.run_to_end(sql, &BTreeMap::new()).await;
    session.close().await;
    result
}

impl Core {
    /// Records a statement's result schema in `status.traits.schema`.
    /// Whoever sees the columns first records them, and only once: the
    /// engine hands a page's columns out only while that page is current, so
    /// the write must not be lost. It is made over exactly the version read
    /// (the reconciler writes this status too) and tried again on a newer.
    pub async fn record_statement_schema(
        &self,
        statement: &Object,
        columns: &[drey_flink::ColumnInfo],
    ) -> Result<(), Error> {
        let mut current = statement.clone();
        for _ in 0..5 {
            let mut status: StatementStatus = view(&current.status);
            let traits = status.traits.get_or_insert_with(StatementTraits::default);
            if traits.schema.is_some() {
                return Ok(());
            }
            traits.schema = Some(columns_schema(columns));
            match self
                .store()
                .replace_status(
                    &current.key,
                    current.meta.resource_version,
                    to_json(&status),
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(drey_store::StoreError::VersionConflict { .. }) => {
                    match self.store().get(&current.key).await.map_err(store_error)? {
                        Some(newer) => current = newer,
                        None => return Ok(()),
                    }
                }
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(Error::Conflict(format!(
            "statement '{}' keeps changing; its schema was not recorded",
            statement.meta.name
        )))
    }
}
