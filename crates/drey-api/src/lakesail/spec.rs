//! The part of a LakeSail spec (FlinkApplicationSpec, FlinkSessionSpec,
//! FlinkSessionJobSpec) drey reads back from the copy kept with the core
//! object. Read tolerantly: another dialect may have written any shape there.

use drey_model::loose::{typed, view, Loose};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The fields of a kept LakeSail spec drey reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct LakeSailSpec {
    /// The display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Loose<String>>,
    /// The session's jars (session jobs run the first one by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jars: Option<Loose<Vec<String>>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LakeSailSpec {
    /// The kept spec of a core spec's `lakesail` field.
    pub fn of(kept: Option<&Value>) -> LakeSailSpec {
        kept.map(view).unwrap_or_default()
    }

    /// The display name, or `fallback` when none is kept.
    pub fn name_or(&self, fallback: &str) -> String {
        typed(&self.name).map_or_else(|| fallback.to_owned(), Clone::clone)
    }

    /// The first jar.
    pub fn first_jar(&self) -> Option<&str> {
        typed(&self.jars)
            .and_then(|jars| jars.first())
            .map(String::as_str)
    }
}
