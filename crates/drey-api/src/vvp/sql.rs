//! `/sql/v1beta1/namespaces/{ns}/...`: VVP's SQL resources. Connectors,
//! formats and catalog connectors describe what SQL tables may use; SQL
//! scripts are stored statements; UDF artifacts name a jar and its function
//! classes. All are stored documents of the namespace (one handler set for
//! all five, by collection), in the platform API's shapes
//! (`{"connector": {...}}`, lists `{"connectors": [...]}`). Flink's own
//! packaged connectors and formats are listed too, read-only.
//! `sqlscripts:validate` and `sqlscripts:execute` run through drey's SQL
//! engine.

use super::{check_name, reply, VvpError, VvpPayload};
use crate::auth::Acting;
use crate::auth::Caller;
use crate::error::QueryOf;
use crate::AppState;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::WithRejection;
use drey_control::documents::DocumentInput;
use drey_control::job_graphs::{ConfigChange, JobGraphSpec};
use drey_control::sql_scripts::{CompletionKind, SqlContext, SqlShape, TextTable};
use drey_model::{Error, Kind, Object, Timestamp};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One collection of stored SQL resources.
struct Collection {
    /// Path segment, also the document collection (prefixed `sql-`).
    plural: &'static str,
    /// Key of one item in responses (`connector`).
    one: &'static str,
    /// Key of a list in responses (`connectors`).
    many: &'static str,
    /// Whether `name` is the resource name `namespaces/{ns}/{plural}/{name}`
    /// (SQL scripts, UDF artifacts) rather than a plain identifier.
    resource_name: bool,
    /// Fields a body must have, as strings.
    required: &'static [&'static str],
    /// Optional string fields.
    strings: &'static [&'static str],
    /// Optional boolean fields.
    booleans: &'static [&'static str],
    /// Optional lists of strings.
    lists: &'static [&'static str],
}

const COLLECTIONS: [Collection; 5] = [
    Collection {
        plural: "connectors",
        one: "connector",
        many: "connectors",
        resource_name: false,
        required: &["type"],
        strings: &[],
        booleans: &["lookup", "packaged", "sink", "source"],
        lists: &["dependencies", "supportedFormats"],
    },
    Collection {
        plural: "formats",
        one: "format",
        many: "formats",
        resource_name: false,
        required: &["type"],
        strings: &[],
        booleans: &["packaged", "sink", "source"],
        lists: &["dependencies"],
    },
    Collection {
        plural: "catalog-connectors",
        one: "catalogConnector",
        many: "catalogConnectors",
        resource_name: false,
        required: &["type"],
        strings: &[],
        booleans: &["packaged", "readOnly"],
        lists: &["dependencies"],
    },
    Collection {
        plural: "sqlscripts",
        one: "sqlScript",
        many: "sqlScripts",
        resource_name: true,
        required: &["script"],
        strings: &["displayName", "description"],
        booleans: &[],
        lists: &[],
    },
    Collection {
        plural: "udfartifacts",
        one: "udfArtifact",
        many: "udfArtifacts",
        resource_name: true,
        required: &["jarUrl"],
        strings: &[],
        booleans: &[],
        lists: &[],
    },
];

fn collection(plural: &str) -> Result<&'static Collection, Error> {
    COLLECTIONS
        .iter()
        .find(|c| c.plural == plural)
        .ok_or_else(|| Error::NotFound {
            kind: Kind::Document,
            name: plural.to_owned(),
        })
}

fn doc_collection(c: &Collection) -> String {
    format!("sql-{}", c.plural)
}

/// Flink's connectors and formats that drey's Flink distribution carries.
fn packaged(c: &Collection) -> Vec<Value> {
    let connector = |name: &str, source: bool, sink: bool, formats: &[&str]| {
        json!({"name": name, "type": name, "packaged": true, "source": source, "sink": sink,
               "lookup": false, "supportedFormats": formats, "properties": [], "dependencies": []})
    };
    let format = |name: &str| {
        json!({"name": name, "type": name, "packaged": true, "source": true, "sink": true,
               "properties": [], "dependencies": []})
    };
    match c.plural {
        "connectors" => vec![
            connector("blackhole", false, true, &[]),
            connector("datagen", true, false, &[]),
            connector("filesystem", true, true, &["csv", "json", "raw"]),
            connector("print", false, true, &[]),
        ],
        "formats" => vec![format("csv"), format("json"), format("raw")],
        "catalog-connectors" => vec![json!({
            "name": "generic_in_memory", "type": "generic_in_memory", "packaged": true,
            "readOnly": false, "properties": [], "dependencies": []
        })],
        _ => vec![],
    }
}

fn is_packaged(c: &Collection, name: &str) -> bool {
    packaged(c).iter().any(|p| p["name"] == name)
}

/// `namespaces/{ns}/{plural}/x`, or `x`, → `x`.
fn short<'a>(ns: &str, c: &Collection, name: &'a str) -> &'a str {
    name.strip_prefix(&format!("namespaces/{ns}/{}/", c.plural))
        .unwrap_or(name)
}

fn render(c: &Collection, ns: &str, doc: &Object) -> Value {
    let name = doc.meta.name.split_once('/').map_or("", |(_, n)| n);
    let mut out = doc.spec.clone();
    out["name"] = if c.resource_name {
        json!(format!("namespaces/{ns}/{}/{name}", c.plural))
    } else {
        json!(name)
    };
    if c.resource_name {
        out["createTime"] = json!(doc.meta.creation_timestamp.to_string());
        out["updateTime"] = json!(doc.meta.update_timestamp.to_string());
    }
    out
}

/// Checks a body against the collection's fields and keeps only those.
fn spec_of(c: &Collection, body: &Value) -> Result<Value, Error> {
    let Some(fields) = body.as_object() else {
        return Err(Error::invalid(c.one, "must be an object"));
    };
    let mut spec = Map::new();
    for field in c.required {
        match fields.get(*field) {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                spec.insert((*field).into(), json!(s));
            }
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(Error::invalid(*field, "is required"))
            }
            Some(_) => return Err(Error::invalid(*field, "must be a string")),
        }
    }
    for field in c.strings {
        match fields.get(*field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                spec.insert((*field).into(), json!(s));
            }
            Some(_) => return Err(Error::invalid(*field, "must be a string")),
        }
    }
    for field in c.booleans {
        match fields.get(*field) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => {
                spec.insert((*field).into(), json!(b));
            }
            Some(_) => return Err(Error::invalid(*field, "must be true or false")),
        }
    }
    for field in c.lists {
        match fields.get(*field) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                spec.insert((*field).into(), json!(items));
            }
            Some(_) => return Err(Error::invalid(*field, "must be a list of strings")),
        }
    }
    if c.booleans.contains(&"packaged") {
        spec.insert("packaged".into(), json!(false));
        spec.insert(
            "properties".into(),
            properties_of(fields.get("properties"))?,
        );
    }
    Ok(Value::Object(spec))
}

/// `properties`: a list of `Property` (`key` required).
fn properties_of(v: Option<&Value>) -> Result<Value, Error> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(json!([]));
    };
    let Some(items) = v.as_array() else {
        return Err(Error::invalid("properties", "must be a list"));
    };
    for (i, p) in items.iter().enumerate() {
        let has_key = p
            .get("key")
            .and_then(Value::as_str)
            .is_some_and(|k| !k.is_empty());
        if !has_key {
            return Err(Error::invalid(
                format!("properties[{i}].key"),
                "is required",
            ));
        }
    }
    Ok(v.clone())
}

/// A UDF artifact's jar must be one of the namespace's uploaded artifacts
/// (or a remote URL); its function classes are read from it.
fn udf_spec(state: &AppState, org: &str, ns: &str, mut spec: Value) -> Result<Value, Error> {
    let url = spec["jarUrl"].as_str().unwrap_or_default().to_owned();
    let classes = if url.starts_with("http://") || url.starts_with("https://") {
        json!([])
    } else {
        let Some(path) = state.core.artifact_of_uri(org, ns, &url) else {
            return Err(Error::invalid(
                "jarUrl",
                format!("'{url}' is not an artifact of namespace '{ns}': upload it to /artifacts/v1/namespaces/{ns}/artifacts:upload"),
            ));
        };
        let found = drey_control::artifacts::udf_classes(&path)?;
        json!(found
            .iter()
            .map(|c| json!({"className": c.class_name, "classType": c.class_type, "functionNames": []}))
            .collect::<Vec<_>>())
    };
    spec["udfClasses"] = classes;
    spec["jarUpdateTime"] = json!(Timestamp::now().to_string());
    Ok(spec)
}

async fn put_doc(
    state: &AppState,
    org: &str,
    ns: &str,
    c: &Collection,
    name: &str,
    body: &Value,
    create_only: bool,
) -> Result<(Object, bool), Error> {
    if is_packaged(c, name) {
        return Err(Error::Conflict(format!(
            "'{name}' is packaged with Flink and cannot be changed"
        )));
    }
    check_name("name", name)?;
    let mut spec = spec_of(c, body)?;
    if c.plural == "udfartifacts" {
        spec = udf_spec(state, org, ns, spec)?;
    }
    let existed = state
        .core
        .get_document(org, ns, &doc_collection(c), name)
        .await
        .is_ok();
    let doc = state
        .core
        .put_document(
            org,
            ns,
            DocumentInput {
                plural: doc_collection(c),
                name: name.to_owned(),
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                spec,
                secret: None,
            },
            create_only,
            None,
        )
        .await?;
    Ok((doc, !existed))
}

/// `{plural}` or `{plural}:{verb}`.
fn split_verb(segment: &str) -> (&str, Option<&str>) {
    match segment.split_once(':') {
        Some((p, v)) => (p, Some(v)),
        None => (segment, None),
    }
}

/// `?catalog=&database=` of the script verbs.
#[derive(Deserialize, Default)]
pub(super) struct ScriptQuery {
    catalog: Option<String>,
    database: Option<String>,
    /// `sqlscripts:execute-multi`: skip the rest after a failure (VVP's
    /// default).
    #[serde(rename = "stopOnError")]
    stop_on_error: Option<bool>,
}

pub(super) async fn list(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, segment)): Path<(String, String)>,
) -> Result<Response, VvpError> {
    let (plural, verb) = split_verb(&segment);
    if verb.is_some() {
        return Err(Error::NotImplemented(format!("GET {segment} is not served by drey")).into());
    }
    let c = collection(plural)?;
    state.core.get_environment(&who.org, &ns).await?;
    let mut items = packaged(c);
    for doc in state
        .core
        .list_documents(&who.org, &ns, &doc_collection(c))
        .await?
    {
        items.push(render(c, &ns, &doc));
    }
    Ok(reply(StatusCode::OK, json!({ c.many: items })))
}

/// POST: create (201, 409 if the name exists), or a collection verb
/// (`sqlscripts:validate`, `sqlscripts:execute`).
pub(super) async fn create(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, segment)): Path<(String, String)>,
    WithRejection(Query(query), _): QueryOf<ScriptQuery, VvpError>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let (plural, verb) = split_verb(&segment);
    let c = collection(plural)?;
    match (c.plural, verb) {
        ("sqlscripts", Some("validate")) => {
            return validate(&state, &who.org, &ns, &query, &body).await
        }
        ("sqlscripts", Some("execute")) => {
            return execute(&state, &who.org, &ns, &query, &body).await
        }
        ("sqlscripts", Some("execute-multi")) => {
            return execute_multi(&state, &who.org, &ns, &query, &body).await
        }
        ("sqlscripts", Some("suggest")) => return suggest(&state, &who.org, &ns, &body).await,
        ("catalog-connectors", Some("analyze-jars")) => {
            return analyze_jars(&state, &who.org, &ns, &body).await
        }
        (_, Some(other)) => {
            return Err(
                Error::NotImplemented(format!("{plural}:{other} is not served by drey")).into(),
            )
        }
        (_, None) => {}
    }
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .map(|n| short(&ns, c, n).to_owned())
        .ok_or_else(|| Error::invalid("name", "is required"))?;
    let (doc, _) = put_doc(&state, &who.org, &ns, c, &name, &body, true).await?;
    Ok(reply(
        StatusCode::CREATED,
        json!({ c.one: render(c, &ns, &doc) }),
    ))
}

pub(super) async fn get(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, plural, name)): Path<(String, String, String)>,
) -> Result<Response, VvpError> {
    let c = collection(&plural)?;
    let name = short(&ns, c, &name);
    if let Some((bare, verb)) = name.split_once(':') {
        return references(&state, &who, &ns, c, bare, verb).await;
    }
    if let Some(p) = packaged(c).into_iter().find(|p| p["name"] == name) {
        state.core.get_environment(&who.org, &ns).await?;
        return Ok(reply(StatusCode::OK, json!({ c.one: p })));
    }
    let doc = state
        .core
        .get_document(&who.org, &ns, &doc_collection(c), name)
        .await?;
    Ok(reply(
        StatusCode::OK,
        json!({ c.one: render(c, &ns, &doc) }),
    ))
}

/// What refers to a connector, a format or a catalog connector:
/// `connectors/{name}:list-tables` and `formats/{name}:list-tables` (the
/// namespace's tables whose options name it, from the DDL drey keeps) and
/// `catalog-connectors/{name}:list-catalogs`. 404 for one that does not
/// exist.
async fn references(
    state: &AppState,
    who: &drey_control::auth::Identity,
    ns: &str,
    c: &Collection,
    name: &str,
    verb: &str,
) -> Result<Response, VvpError> {
    if is_packaged(c, name) {
        state.core.get_environment(&who.org, ns).await?;
    } else {
        state
            .core
            .get_document(&who.org, ns, &doc_collection(c), name)
            .await?;
    }
    let tables = |keys: &'static [&'static str]| async move {
        let paths = state
            .core
            .sql_tables_using(&who.org, ns, keys, name)
            .await?;
        let tables: Vec<Value> = paths
            .iter()
            .filter_map(|p| match p.as_slice() {
                [catalog, database, table] => Some(json!({
                    "catalogName": catalog, "databaseName": database, "tableName": table
                })),
                _ => None,
            })
            .collect();
        Ok::<_, Error>(json!({ "tables": tables }))
    };
    let out = match (c.plural, verb) {
        ("connectors", "list-tables") => tables(&["connector"]).await?,
        ("formats", "list-tables") => tables(&["format", "key.format", "value.format"]).await?,
        ("catalog-connectors", "list-catalogs") => {
            let catalogs: Vec<Value> = super::catalogs::catalogs(state, who, ns)
                .await?
                .iter()
                .filter(|(_, properties)| properties["type"] == name)
                .map(|(catalog, _)| json!({"name": format!("namespaces/{ns}/catalogs/{catalog}")}))
                .collect();
            json!({ "catalogs": catalogs })
        }
        (plural, _) => {
            return Err(Error::NotImplemented(format!(
                "{plural}/{name}:{verb} is not served by drey"
            ))
            .into())
        }
    };
    Ok(reply(StatusCode::OK, out))
}

/// PUT: create (201) or replace (200); the body's name, if any, must match.
pub(super) async fn put(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, plural, name)): Path<(String, String, String)>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    let c = collection(&plural)?;
    let name = short(&ns, c, &name).to_owned();
    if let Some(given) = body.get("name").and_then(Value::as_str) {
        if short(&ns, c, given) != name {
            return Err(Error::invalid("name", "does not match the name in the path").into());
        }
    }
    let (doc, created) = put_doc(&state, &who.org, &ns, c, &name, &body, false).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(reply(status, json!({ c.one: render(c, &ns, &doc) })))
}

/// `deployments/{deployment}:create-jobgraph`: the deployment's SQL as a
/// compiled plan (`{"jobgraph": ...}`; a plan Flink refuses is a job graph
/// in state FAILED saying why). `deployments/{deployment}:validate-config-change`:
/// the options of a `ConfigSpec` drey would refuse. No other item takes a POST.
pub(super) async fn post_verb(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, plural, name)): Path<(String, String, String)>,
    VvpPayload(body): VvpPayload,
) -> Result<Response, VvpError> {
    if plural != "deployments" {
        return Ok(StatusCode::METHOD_NOT_ALLOWED.into_response());
    }
    // serde would read a list as the fields in order: only an object is one.
    if !body.is_object() {
        return Err(Error::BadRequest("the body must be a JSON object".into()).into());
    }
    if let Some(deployment) = name.strip_suffix(":validate-config-change") {
        let change: ConfigChange = serde_json::from_value(body)
            .map_err(|e| Error::invalid("configSpec", format!("is not a ConfigSpec: {e}")))?;
        let app = super::deployments::find(&state, &who.org, &ns, deployment).await?;
        let unsupported = state
            .core
            .unsupported_config_options(&who.org, &ns, &app.meta.name, &change)
            .await?;
        return Ok(reply(
            StatusCode::OK,
            json!({ "unsupportedConfigOptions": unsupported }),
        ));
    }
    let Some(deployment) = name.strip_suffix(":create-jobgraph") else {
        return Ok(StatusCode::METHOD_NOT_ALLOWED.into_response());
    };
    let spec: JobGraphSpec = serde_json::from_value(body)
        .map_err(|e| Error::invalid("jobGraphSpec", format!("is not a JobGraphSpec: {e}")))?;
    let app = super::deployments::find(&state, &who.org, &ns, deployment).await?;
    let graph = state
        .core
        .create_job_graph(&who.org, &ns, &app.meta.name, spec)
        .await?;
    Ok(reply(StatusCode::OK, json!({ "jobgraph": graph })))
}

pub(super) async fn delete(
    Acting(state): Acting,
    Caller(who): Caller,
    Path((ns, plural, name)): Path<(String, String, String)>,
) -> Result<Response, VvpError> {
    if let ("deployments", Some(deployment)) =
        (plural.as_str(), name.strip_suffix(":delete-jobgraphs"))
    {
        let app = super::deployments::find(&state, &who.org, &ns, deployment).await?;
        let deleted = state
            .core
            .delete_job_graphs(&who.org, &ns, &app.meta.name)
            .await?;
        let deleted: Vec<Value> = deleted
            .into_iter()
            .map(|files| json!({ "notDeletedFiles": files }))
            .collect();
        return Ok(reply(
            StatusCode::OK,
            json!({ "deletedJobGraphs": deleted }),
        ));
    }
    let c = collection(&plural)?;
    let name = short(&ns, c, &name);
    if is_packaged(c, name) {
        return Err(Error::Conflict(format!(
            "'{name}' is packaged with Flink and cannot be deleted"
        ))
        .into());
    }
    state
        .core
        .delete_document(&who.org, &ns, &doc_collection(c), name)
        .await?;
    Ok(reply(StatusCode::OK, json!({})))
}

fn context(query: &ScriptQuery) -> SqlContext {
    SqlContext {
        catalog: query.catalog.clone().filter(|c| !c.is_empty()),
        database: query.database.clone().filter(|d| !d.is_empty()),
    }
}

fn statement_of(body: &Value) -> Result<String, Error> {
    body.get("statement")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid("statement", "is required"))
}

/// `ErrorDetails` from an engine message, with the position Flink's parser
/// names (`at line 1, column 8`) when it names one.
fn error_details(message: &str) -> Value {
    let mut details = json!({"message": message});
    if let Some(at) = message.find("line ") {
        let rest = &message[at + 5..];
        let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let column = rest.find("column ").map(|c| {
            rest[c + 7..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        });
        if let (Ok(line), Some(Ok(column))) =
            (line.parse::<i32>(), column.map(|c| c.parse::<i32>()))
        {
            details["lineNumber"] = json!(line);
            details["columnNumber"] = json!(column);
        }
    }
    details
}

async fn validate(
    state: &AppState,
    org: &str,
    ns: &str,
    query: &ScriptQuery,
    body: &Value,
) -> Result<Response, VvpError> {
    let sql = statement_of(body)?;
    let verdict = state
        .core
        .validate_sql(org, ns, &context(query), &sql)
        .await?;
    let out = match verdict {
        Ok(shape) => json!({"validationResult": match shape {
            SqlShape::Select => "VALIDATION_RESULT_VALID_SELECT_QUERY",
            SqlShape::Insert => "VALIDATION_RESULT_VALID_INSERT_QUERY",
            SqlShape::Ddl => "VALIDATION_RESULT_VALID_DDL_STATEMENT",
            SqlShape::Command => "VALIDATION_RESULT_VALID_COMMAND_STATEMENT",
        }}),
        Err(message) => json!({
            "validationResult": "VALIDATION_RESULT_INVALID_QUERY",
            "errorDetails": error_details(&message),
        }),
    };
    Ok(reply(StatusCode::OK, out))
}

/// `ResultTable`: headers and rows of text cells.
fn result_table(table: &TextTable) -> Value {
    json!({
        "headers": table.headers.iter().map(|h| json!({"name": h})).collect::<Vec<_>>(),
        "rows": table.rows.iter().map(|r| json!({
            "cells": r.iter().map(|c| json!({"value": c})).collect::<Vec<_>>()
        })).collect::<Vec<_>>(),
    })
}

async fn execute(
    state: &AppState,
    org: &str,
    ns: &str,
    query: &ScriptQuery,
    body: &Value,
) -> Result<Response, VvpError> {
    let sql = statement_of(body)?;
    let outcome = state
        .core
        .execute_sql(org, ns, &context(query), &sql)
        .await?;
    Ok(reply(StatusCode::OK, execution_result(outcome)))
}

/// `catalog-connectors:analyze-jars`: `{"jarUris": [{"jarUri": ...}]}`, each
/// an artifact of the namespace; answers the catalog connectors the jars
/// bring, their options as `properties`.
async fn analyze_jars(
    state: &AppState,
    org: &str,
    ns: &str,
    body: &Value,
) -> Result<Response, VvpError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct JarUris {
        jar_uris: Vec<JarUri>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct JarUri {
        jar_uri: String,
    }
    let given: JarUris = serde_json::from_value(body.clone()).map_err(|e| {
        Error::invalid(
            "jarUris",
            format!("must be [{{\"jarUri\": \"...\"}}, ...]: {e}"),
        )
    })?;
    if given.jar_uris.is_empty() {
        return Err(Error::invalid("jarUris", "must name at least one jar").into());
    }
    let uris: Vec<String> = given.jar_uris.into_iter().map(|j| j.jar_uri).collect();
    let found = state.core.analyze_catalog_jars(org, ns, &uris).await?;
    let property = |o: &drey_control::sql_scripts::FactoryOption, required: bool| {
        json!({"key": o.key, "required": required, "defaultValue": o.default_value,
               "description": o.description, "definesFormat": false})
    };
    let connectors: Vec<Value> = found
        .iter()
        .map(|f| {
            let properties: Vec<Value> = (f.required.iter().map(|o| property(o, true)))
                .chain(f.optional.iter().map(|o| property(o, false)))
                .collect();
            json!({"name": f.kind, "type": f.kind, "packaged": false, "readOnly": false,
                   "properties": properties, "dependencies": uris})
        })
        .collect();
    Ok(reply(
        StatusCode::OK,
        json!({ "catalogConnectors": connectors }),
    ))
}

/// `sqlscripts:execute-multi`: the body's statements (a JSON array of
/// strings) one after another, each answered as `:execute` answers it;
/// after a failure the rest are `RESULT_SKIPPED` unless `stopOnError=false`.
/// A statement drey does not run here (a query) fails as an engine error
/// would, naming why.
async fn execute_multi(
    state: &AppState,
    org: &str,
    ns: &str,
    query: &ScriptQuery,
    body: &Value,
) -> Result<Response, VvpError> {
    let statements: Vec<&str> = body
        .as_array()
        .ok_or_else(|| Error::BadRequest("the body must be an array of SQL statements".into()))?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_str()
                .ok_or_else(|| Error::invalid(format!("statements[{i}]"), "must be a string"))
        })
        .collect::<Result<_, _>>()?;
    let stop_on_error = query.stop_on_error.unwrap_or(true);
    let mut responses = Vec::with_capacity(statements.len());
    let mut failed = false;
    for sql in statements {
        if failed && stop_on_error {
            responses.push(json!({"result": "RESULT_SKIPPED"}));
            continue;
        }
        let outcome = match state.core.execute_sql(org, ns, &context(query), sql).await {
            Err(Error::BadRequest(message)) | Err(Error::Invalid { message, .. }) => Err(message),
            other => other?,
        };
        failed |= outcome.is_err();
        responses.push(execution_result(outcome));
    }
    Ok(reply(StatusCode::OK, json!({ "responses": responses })))
}

/// `sqlscripts:suggest`: completions for the word before `position` in
/// `sqlScript` (keywords and the tables of the namespace's catalog).
async fn suggest(
    state: &AppState,
    org: &str,
    ns: &str,
    body: &Value,
) -> Result<Response, VvpError> {
    let script = body
        .get("sqlScript")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("sqlScript", "is required"))?;
    let position = match body.get("position") {
        None | Some(Value::Null) => script.chars().count(),
        Some(p) => p
            .as_u64()
            .and_then(|p| usize::try_from(p).ok())
            .ok_or_else(|| Error::invalid("position", "must be a character offset (0 or more)"))?,
    };
    let completions = state
        .core
        .suggest_sql(org, ns, &SqlContext::default(), script, position)
        .await?;
    let completions: Vec<Value> = completions
        .into_iter()
        .map(|c| {
            let kind = match c.kind {
                CompletionKind::Keyword => "HINT_TYPE_KEYWORD",
                CompletionKind::Table => "HINT_TYPE_TABLE",
            };
            json!({"text": c.text, "type": kind})
        })
        .collect();
    Ok(reply(StatusCode::OK, json!({ "completions": completions })))
}

/// One statement's outcome as VVP's `ExecuteStatementResponse`.
fn execution_result(outcome: Result<TextTable, String>) -> Value {
    match outcome {
        Ok(table) if table.rows.is_empty() || table.headers == ["result"] => {
            json!({"result": "RESULT_SUCCESS", "resultTable": result_table(&table)})
        }
        Ok(table) => {
            json!({"result": "RESULT_SUCCESS_WITH_ROWS", "resultTable": result_table(&table)})
        }
        Err(message) => json!({
            "result": "RESULT_ERROR_WITH_DETAILS",
            "errorMessage": error_details(&message),
        }),
    }
}
