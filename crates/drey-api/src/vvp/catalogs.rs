//! `/catalog/v1beta2/namespaces/{ns}/catalogs`: the catalogs a namespace's
//! SQL sees — Flink's built-in `default_catalog` (holding the tables, views
//! and functions the namespace's statements created) and every Kafka
//! catalog the namespace has access to (CMF's, through its secret
//! mappings). Browsing (`:listDatabases`, `:listTables`, `:listViews`,
//! `:listFunctions`, `:getDatabase`, `:getTable`, `:getView`,
//! `:getFunction`) asks drey's SQL engine, so it answers what a statement
//! would see.

use super::{reply, VvpError};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::QueryOf;
use crate::AppState;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::WithRejection;
use drey_control::auth::Identity;
use drey_control::sql_scripts::{SqlContext, TextTable};
use drey_model::{Error, Kind};
use serde::Deserialize;
use serde_json::{json, Value};

const DEFAULT: &str = "default_catalog";

/// The catalogs of a namespace: name → its properties.
pub(super) async fn catalogs(
    state: &AppState,
    who: &Identity,
    ns: &str,
) -> Result<Vec<(String, Value)>, Error> {
    state.core.get_environment(&who.org, ns).await?;
    let mut out = vec![(DEFAULT.to_owned(), json!({"type": "generic_in_memory"}))];
    for catalog in crate::vvp::all_of(|p| state.core.list_catalogs(&who.org, p)).await? {
        if state
            .core
            .catalog_environments(&catalog)
            .await?
            .iter()
            .any(|e| e == ns)
        {
            out.push((catalog.meta.name.clone(), json!({"type": "kafka"})));
        }
    }
    Ok(out)
}

fn render(ns: &str, name: &str, properties: &Value) -> Value {
    json!({"name": format!("namespaces/{ns}/catalogs/{name}"), "properties": properties})
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path(ns): Path<String>,
) -> Result<Response, VvpError> {
    let items: Vec<Value> = catalogs(&state, &who, &ns)
        .await?
        .iter()
        .map(|(name, props)| render(&ns, name, props))
        .collect();
    Ok(reply(StatusCode::OK, json!({"catalogs": items})))
}

/// `?database=&table=&view=&function=` of the browsing verbs.
#[derive(Deserialize, Default)]
pub(super) struct Browse {
    database: Option<String>,
    table: Option<String>,
    view: Option<String>,
    function: Option<String>,
}

/// A SQL identifier, quoted.
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn first_column(table: &TextTable) -> Vec<String> {
    table
        .rows
        .iter()
        .filter_map(|r| r.first().cloned())
        .collect()
}

/// `cat` (or `cat:verb`): one catalog, or a browsing verb on it.
pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, segment)): Path<(String, String)>,
    WithRejection(Query(browse), _): QueryOf<Browse, VvpError>,
) -> Result<Response, VvpError> {
    let (cat, verb) = match segment.split_once(':') {
        Some((c, v)) => (c.to_owned(), Some(v.to_owned())),
        None => (segment.clone(), None),
    };
    let all = catalogs(&state, &who, &ns).await?;
    let Some((_, props)) = all.iter().find(|(n, _)| *n == cat) else {
        return Err(Error::NotFound {
            kind: Kind::Catalog,
            name: cat,
        }
        .into());
    };
    let Some(verb) = verb else {
        return Ok(reply(
            StatusCode::OK,
            json!({"catalog": render(&ns, &cat, props)}),
        ));
    };
    let context = SqlContext {
        catalog: Some(cat.clone()),
        database: None,
    };
    let database = browse
        .database
        .clone()
        .unwrap_or_else(|| "default_database".to_owned());
    let in_db = format!("{}.{}", quoted(&cat), quoted(&database));
    let run = |sql: String| {
        let (state, who, ns, context) = (state.clone(), who.clone(), ns.clone(), context.clone());
        async move {
            match state
                .core
                .sql_metadata(&who.org, &ns, &context, &sql)
                .await?
            {
                Ok(table) => Ok(table),
                Err(message) => Err(Error::NotFound {
                    kind: Kind::Catalog,
                    name: message,
                }),
            }
        }
    };
    let named = |what: &str, v: &Option<String>| -> Result<String, Error> {
        v.clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::invalid(what, "is required"))
    };
    let out = match verb.as_str() {
        "listDatabases" => {
            let names = first_column(&run(format!("SHOW DATABASES IN {}", quoted(&cat))).await?);
            json!({"databases": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()})
        }
        "getDatabase" => {
            let wanted = named("database", &browse.database)?;
            let names = first_column(&run(format!("SHOW DATABASES IN {}", quoted(&cat))).await?);
            if !names.contains(&wanted) {
                return Err(Error::NotFound {
                    kind: Kind::Catalog,
                    name: format!("{cat}.{wanted}"),
                }
                .into());
            }
            json!({"database": {"name": wanted}})
        }
        "listTables" | "listViews" => {
            let views = first_column(&run(format!("SHOW VIEWS IN {in_db}")).await?);
            let tables = first_column(&run(format!("SHOW TABLES IN {in_db}")).await?);
            if verb == "listViews" {
                json!({"views": views.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()})
            } else {
                let only: Vec<Value> = tables
                    .iter()
                    .filter(|t| !views.contains(t))
                    .map(|n| json!({"name": n}))
                    .collect();
                json!({"tables": only})
            }
        }
        "getTable" | "getView" => {
            let (key, what) = if verb == "getTable" {
                ("table", named("table", &browse.table)?)
            } else {
                ("view", named("view", &browse.view)?)
            };
            let described = run(format!("DESCRIBE {in_db}.{}", quoted(&what))).await?;
            let columns: Vec<Value> = described
                .rows
                .iter()
                .map(|r| json!({"name": r.first(), "type": r.get(1)}))
                .collect();
            json!({ key: {"name": what, "schema": {"column": columns}} })
        }
        "listFunctions" => {
            let names = first_column(&run(format!("SHOW USER FUNCTIONS IN {in_db}")).await?);
            json!({"functions": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()})
        }
        "getFunction" => {
            let wanted = named("function", &browse.function)?;
            let names = first_column(&run(format!("SHOW USER FUNCTIONS IN {in_db}")).await?);
            if !names.contains(&wanted) {
                return Err(Error::NotFound {
                    kind: Kind::Catalog,
                    name: format!("function {wanted}"),
                }
                .into());
            }
            json!({"function": {"name": wanted}})
        }
        other => {
            return Err(Error::NotImplemented(format!(
                "catalogs/{cat}:{other} is not served by drey"
            ))
            .into())
        }
    };
    Ok(reply(StatusCode::OK, out))
}
