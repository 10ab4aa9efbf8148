//! The typed savepoint resource (CMF 2.3): its spec, as a user writes it
//! (tolerant, see [`crate::loose`]), and its status, which drey alone writes.

use crate::loose::{lenient, Loose};
use crate::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a savepoint is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SavepointState {
    /// Waiting for the reconciler to trigger it.
    Pending,
    /// Triggered, not done.
    InProgress,
    /// Done; `status.path` holds it.
    Completed,
    /// Failed; `status.error` says why.
    Failed,
}

impl SavepointState {
    /// The state as CMF spells it (and as the store filters on it).
    pub fn as_str(self) -> &'static str {
        match self {
            SavepointState::Pending => "PENDING",
            SavepointState::InProgress => "IN_PROGRESS",
            SavepointState::Completed => "COMPLETED",
            SavepointState::Failed => "FAILED",
        }
    }
}

/// `spec` of a savepoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SavepointSpec {
    /// Where it is (a detached savepoint) or should go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<Loose<String>>,
    /// `CANONICAL` or `NATIVE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format_type: Option<Loose<String>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SavepointSpec {
    /// The spec of a savepoint drey took itself, at `location`.
    pub fn taken_at(location: &str) -> Self {
        SavepointSpec {
            path: Some(Loose::Typed(location.to_owned())),
            format_type: Some(Loose::Typed("CANONICAL".into())),
            extra: Map::new(),
        }
    }
}

/// `status` of a savepoint. Only drey writes it; it reads any stored status.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SavepointStatus {
    /// Where it is.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub state: Option<SavepointState>,
    /// Where Flink wrote it (COMPLETED).
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why it failed (or why the last try did).
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Tries that failed so far.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u64>,
    /// Flink's trigger id while IN_PROGRESS.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub trigger_id: Option<String>,
    /// When it was asked for.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub trigger_timestamp: Option<Timestamp>,
    /// When it completed or failed.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub result_timestamp: Option<Timestamp>,
    /// Fields an older or newer drey wrote, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SavepointStatus {
    /// A savepoint asked for now, waiting to be triggered.
    pub fn pending() -> Self {
        SavepointStatus {
            state: Some(SavepointState::Pending),
            trigger_timestamp: Some(Timestamp::now()),
            ..SavepointStatus::default()
        }
    }

    /// A savepoint that exists at `path` (taken by drey, or registered).
    pub fn completed_at(path: &str) -> Self {
        let now = Timestamp::now();
        SavepointStatus {
            state: Some(SavepointState::Completed),
            path: Some(path.to_owned()),
            trigger_timestamp: Some(now),
            result_timestamp: Some(now),
            ..SavepointStatus::default()
        }
    }

    /// Records that it completed at `path`.
    pub fn complete(&mut self, path: &str) {
        self.state = Some(SavepointState::Completed);
        self.path = Some(path.to_owned());
        self.result_timestamp = Some(Timestamp::now());
    }

    /// Records that it failed for good.
    pub fn fail(&mut self, error: &str) {
        self.state = Some(SavepointState::Failed);
        self.error = Some(error.to_owned());
        self.result_timestamp = Some(Timestamp::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loose::{to_json, view};
    use serde_json::json;

    #[test]
    fn a_savepoint_status_round_trips_and_reads_old_ones() {
        let given = json!({"state": "IN_PROGRESS", "triggerId": "t", "attempts": 1,
                           "triggerTimestamp": "2025-03-31T11:34:01.503Z", "later": 1});
        let status: SavepointStatus = view(&given);
        assert_eq!(status.state, Some(SavepointState::InProgress));
        assert_eq!(to_json(&status), given);
        let old: SavepointStatus = view(&json!({"state": "LOST", "attempts": "2"}));
        assert_eq!((old.state, old.attempts), (None, None));
    }

    #[test]
    fn edits_set_what_the_state_needs() {
        let mut status = SavepointStatus::pending();
        status.complete("file:///sp");
        assert_eq!(status.state, Some(SavepointState::Completed));
        assert!(status.result_timestamp.is_some() && status.trigger_timestamp.is_some());
        let mut status = SavepointStatus::pending();
        status.fail("no");
        assert_eq!(
            (status.state, status.error.as_deref()),
            (Some(SavepointState::Failed), Some("no"))
        );
        for s in [
            SavepointState::Pending,
            SavepointState::InProgress,
            SavepointState::Completed,
            SavepointState::Failed,
        ] {
            assert_eq!(to_json(&s), json!(s.as_str()));
        }
    }

    #[test]
    fn a_savepoint_spec_keeps_what_the_user_wrote() {
        let given = json!({"path": 5, "formatType": "NATIVE", "x": 1});
        let spec: SavepointSpec = view(&given);
        assert_eq!(to_json(&spec), given);
        assert_eq!(
            to_json(&SavepointSpec::taken_at("file:///sp")),
            json!({"path": "file:///sp", "formatType": "CANONICAL"})
        );
    }
}
