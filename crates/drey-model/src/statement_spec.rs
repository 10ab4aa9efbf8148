//! The typed statement spec and status (a CMF Statement). Unknown and odd
//! fields are kept as written (see [`crate::loose`]).

use crate::loose::{typed, Loose};
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

/// `status` of a statement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StatementStatus {
    /// PENDING, RUNNING, COMPLETED, DELETING, FAILED...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<Loose<String>>,
    /// What the phase means now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Loose<String>>,
    /// Everything else (results, exceptions, the reconciler's record).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StatementStatus {
    /// `phase`, when known.
    pub fn phase(&self) -> Option<&str> {
        typed(&self.phase).map(String::as_str)
    }
}
