//! The typed statement spec and status (a CMF Statement). Unknown and odd
//! fields are kept as written (see [`crate::loose`]).

use crate::loose::{lenient, typed, Loose};
use crate::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of a statement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StatementSpec {
    /// The SQL text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<Loose<String>>,
    /// The compute pool it runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute_pool_name: Option<Loose<String>>,
    /// SQL properties (`sql.current-catalog`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Loose<Map<String, Value>>>,
    /// Flink configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flink_configuration: Option<Loose<Map<String, Value>>>,
    /// Whether the statement is asked to stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Loose<bool>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StatementSpec {
    /// `computePoolName`, `""` when unset.
    pub fn pool(&self) -> &str {
        typed(&self.compute_pool_name).map_or("", String::as_str)
    }
}

/// `status` of a statement. Only drey writes it; it reads any stored
/// status (see [`lenient`]). `R` is the reconciler's own record
/// (`status.reconciler`), in no dialect's view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    default,
    rename_all = "camelCase",
    bound(
        serialize = "R: Serialize",
        deserialize = "R: DeserializeOwned + Default"
    )
)]
pub struct StatementStatus<R = Value> {
    /// PENDING, RUNNING, COMPLETED, FAILING, FAILED, STOPPED, DELETING.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// What the phase means now.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The Flink job of the current (or last) run.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// What the SQL is: its kind, boundedness, changelog and result schema.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub traits: Option<StatementTraits>,
    /// The last exceptions, newest first (at most 10).
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<Vec<StatementException>>,
    /// The whole result of a DDL or metadata statement, run when created.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub result: Option<StatementResult>,
    /// The `metadata.generation` the reconciler last acted on.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The reconciler's own record.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub reconciler: Option<R>,
    /// Fields an older or newer drey wrote, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<R> StatementStatus<R> {
    /// `phase`, when known.
    pub fn phase(&self) -> Option<&str> {
        self.phase.as_deref()
    }
}

/// `status.traits` of a statement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StatementTraits {
    /// `SELECT`, `INSERT_INTO`, `CREATE_TABLE`, ...
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub sql_kind: Option<String>,
    /// Whether its job ends by itself.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub is_bounded: Option<bool>,
    /// Whether its result only ever appends rows.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub is_append_only: Option<bool>,
    /// The columns an updating result is keyed by.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub upsert_columns: Option<Vec<u32>>,
    /// The result's columns, once the engine knows them.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub schema: Option<ResultSchema>,
    /// Everything else, kept as it was.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A result's columns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultSchema {
    /// In order.
    pub columns: Vec<ResultColumn>,
}

/// One result column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultColumn {
    /// Its name.
    pub name: String,
    /// Its CMF data type (see [`crate::sql::cmf_data_type`]).
    #[serde(rename = "type")]
    pub data_type: Value,
}

/// One entry of `status.exceptions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatementException {
    /// The exception's class (`StatementException` for drey's own).
    pub name: String,
    /// What went wrong.
    pub message: String,
    /// When.
    pub timestamp: Timestamp,
}

impl StatementException {
    /// One of drey's own, now.
    pub fn now(message: &str) -> Self {
        StatementException {
            name: "StatementException".into(),
            message: message.to_owned(),
            timestamp: Timestamp::now(),
        }
    }
}

/// CMF's `StatementResult`: a page of rows and the token of the next page
/// (empty at the end). Kept whole in the status of a statement run when
/// created; served a page at a time for a query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementResult {
    /// `cmf.confluent.io/v1`.
    pub api_version: String,
    /// `StatementResult`.
    pub kind: String,
    /// When the page was made and what comes next.
    pub metadata: ResultMetadata,
    /// The rows.
    pub results: ResultRows,
}

/// `metadata` of a [`StatementResult`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultMetadata {
    /// When the page was made.
    pub creation_timestamp: Timestamp,
    /// `nextPageToken`.
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// `results` of a [`StatementResult`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRows {
    /// Rows in CMF's shape.
    pub data: Vec<ResultRow>,
}

/// A row in CMF's shape: its change kind (`op`, 0..3) and its fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// +I 0, -U 1, +U 2, -D 3.
    pub op: u8,
    /// The fields, as JSON.
    pub row: Vec<Value>,
}

impl StatementResult {
    /// A page of `rows`; `next` continues after it (none at the end).
    pub fn page(rows: Vec<ResultRow>, next: Option<u64>) -> Self {
        StatementResult {
            api_version: "cmf.confluent.io/v1".into(),
            kind: "StatementResult".into(),
            metadata: ResultMetadata {
                creation_timestamp: Timestamp::now(),
                annotations: [(
                    "nextPageToken".to_owned(),
                    next.map(|t| t.to_string()).unwrap_or_default(),
                )]
                .into(),
            },
            results: ResultRows { data: rows },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loose::{to_json, view};
    use serde_json::json;

    #[test]
    fn a_statement_status_round_trips() {
        let given = json!({
            "phase": "COMPLETED", "detail": "d", "jobId": "j",
            "traits": {"sqlKind": "SHOW_TABLES", "isBounded": true, "isAppendOnly": true,
                       "schema": {"columns": [{"name": "t", "type": {"type": "VARCHAR"}}]}},
            "exceptions": [{"name": "StatementException", "message": "m",
                            "timestamp": "2025-03-31T11:34:01.503Z"}],
            "result": {"apiVersion": "cmf.confluent.io/v1", "kind": "StatementResult",
                       "metadata": {"creationTimestamp": "2025-03-31T11:34:01.503Z",
                                    "annotations": {"nextPageToken": ""}},
                       "results": {"data": [{"op": 0, "row": ["a"]}]}},
            "observedGeneration": 1,
            "reconciler": {"prepared": true},
            "later": [1],
        });
        let status: StatementStatus = view(&given);
        assert_eq!(status.phase(), Some("COMPLETED"));
        assert_eq!(to_json(&status), given);
    }

    #[test]
    fn odd_statement_fields_read_as_absent() {
        let status: StatementStatus = view(&json!({
            "phase": 1, "exceptions": [{"message": "no name"}], "traits": {"isBounded": "yes"},
            "result": "rows"}));
        assert_eq!(status.phase(), None);
        assert_eq!(status.exceptions, None);
        assert_eq!(status.result, None);
        assert_eq!(status.traits.and_then(|t| t.is_bounded), None);
    }

    #[test]
    fn a_result_page_says_what_comes_next() {
        let row = ResultRow {
            op: 0,
            row: vec![json!(1)],
        };
        let page = to_json(&StatementResult::page(vec![row], Some(3)));
        assert_eq!(page["metadata"]["annotations"]["nextPageToken"], "3");
        assert_eq!(page["results"]["data"], json!([{"op": 0, "row": [1]}]));
        let last = to_json(&StatementResult::page(vec![], None));
        assert_eq!(last["metadata"]["annotations"]["nextPageToken"], "");
    }
}
