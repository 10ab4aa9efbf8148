//! Registered clusters: where an organization's Flink runs. `local` is the
//! machine drey runs on; `flink` is a Flink session cluster drey did not
//! start (standalone on other hosts, a YARN or Kubernetes session), reached
//! through its REST endpoint; `kubernetes` is an API server (recorded, not
//! driven). The spec is what the registrant wrote; the status is what drey
//! last saw of the cluster.

use crate::{Error, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What kind of cluster a registration names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterKind {
    /// The machine drey runs on.
    Local,
    /// An existing Flink session cluster, by its REST endpoint.
    Flink,
    /// A Kubernetes API server (recorded only).
    Kubernetes,
}

/// Whether a cluster may be used (CMF's `spec.lifecycleState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LifecycleState {
    /// In use; watched.
    #[default]
    Active,
    /// Taken offline on purpose: not watched, no environment may use it.
    Decommissioned,
}

/// The spec of a registered cluster, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterRegistration {
    /// Unique within the organization.
    pub name: String,
    /// What it is.
    pub kind: ClusterKind,
    /// The REST endpoint (`flink`) or API server URL (`kubernetes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where savepoints go (`file://`, `s3://`, `hdfs://`, ...) when the
    /// cluster's own `state.savepoints.dir` is not to be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub savepoint_dir: Option<String>,
    /// A PEM file on drey's host with the CA that signed the endpoint's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Accept any TLS certificate (spelled out: never the default).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// ACTIVE or DECOMMISSIONED.
    #[serde(default)]
    pub lifecycle_state: LifecycleState,
}

/// Longest cluster name.
const MAX_NAME: usize = 253;

impl ClusterRegistration {
    /// Reads and checks a spec: each wrong field is named.
    pub fn parse(spec: &Value) -> Result<Self, Error> {
        let registration: ClusterRegistration = serde_path_to_error::deserialize(spec.clone())
            .map_err(|e| {
                let path = e.path().to_string();
                let text = e.inner().to_string();
                // A missing or unknown field is reported at the object itself.
                let field = match text.split('`').nth(1) {
                    Some(name) if path == "." => name.to_owned(),
                    _ => path,
                };
                Error::invalid(field, text)
            })?;
        registration.check()?;
        Ok(registration)
    }

    fn check(&self) -> Result<(), Error> {
        if self.name.trim().is_empty() || self.name.len() > MAX_NAME {
            return Err(Error::invalid(
                "name",
                format!("is required (1-{MAX_NAME} characters)"),
            ));
        }
        if self.name == LOCAL_CLUSTER && self.kind != ClusterKind::Local {
            return Err(Error::invalid(
                "name",
                "'local' names the machine drey runs on",
            ));
        }
        let endpoint = self.endpoint.as_deref().unwrap_or_default();
        match self.kind {
            ClusterKind::Local => {}
            ClusterKind::Flink | ClusterKind::Kubernetes => {
                let url = url::Url::parse(endpoint)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
                if url.is_none() {
                    let what = if self.kind == ClusterKind::Flink {
                        "a flink cluster needs the http(s) URL of its REST endpoint"
                    } else {
                        "a kubernetes cluster needs the http(s) URL of its API server"
                    };
                    return Err(Error::invalid("endpoint", what));
                }
            }
        }
        if let Some(dir) = &self.savepoint_dir {
            let scheme_ok = url::Url::parse(dir)
                .map(|u| !u.scheme().is_empty() && u.scheme().len() > 1)
                .unwrap_or(false);
            if !scheme_ok {
                return Err(Error::invalid(
                    "savepointDir",
                    "must be a URI with a scheme (file:///..., s3://..., hdfs://...)",
                ));
            }
        }
        if let Some(ca) = &self.ca_file {
            if !ca.starts_with('/') {
                return Err(Error::invalid(
                    "caFile",
                    "must be an absolute path on drey's host",
                ));
            }
            if self.insecure {
                return Err(Error::invalid(
                    "insecure",
                    "give either caFile or insecure, not both",
                ));
            }
        }
        Ok(())
    }
}

/// The name under which CMF and the CLI show the machine drey runs on.
pub const LOCAL_CLUSTER: &str = "local";

/// How the cluster answered (CMF's `status.state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConnectionState {
    /// It answered the last look.
    Connected,
    /// It did not.
    Disconnected,
    /// Not watched: taken offline on purpose.
    Decommissioned,
}

/// A job on a cluster, as the cluster reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterJob {
    /// Flink's job id.
    pub job_id: String,
    /// The job's name.
    pub name: String,
    /// Flink's job state.
    pub state: String,
    /// Whether drey submitted it; drey never touches a job it did not submit.
    pub managed: bool,
}

/// The status of a registered cluster: what drey last saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterHealth {
    /// CONNECTED, DISCONNECTED or DECOMMISSIONED.
    pub state: ConnectionState,
    /// Why it is disconnected, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The last time it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_timestamp: Option<Timestamp>,
    /// Since when it has been in `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// The Flink version it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flink_version: Option<String>,
    /// Registered TaskManagers.
    #[serde(default)]
    pub task_managers: u32,
    /// Task slots in all.
    #[serde(default)]
    pub slots_total: u32,
    /// Free task slots.
    #[serde(default)]
    pub slots_available: u32,
    /// Its jobs, as last seen.
    #[serde(default)]
    pub jobs: Vec<ClusterJob>,
}

impl ClusterHealth {
    /// Reads a stored status; `None` before the first look.
    pub fn of(status: &Value) -> Option<ClusterHealth> {
        serde_json::from_value(status.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(spec: Value) -> String {
        match ClusterRegistration::parse(&spec) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn a_flink_cluster_needs_its_rest_endpoint() {
        let ok = ClusterRegistration::parse(&json!({
            "name": "prod", "kind": "flink", "endpoint": "https://flink.example:8081",
            "savepointDir": "s3://bucket/savepoints", "caFile": "/etc/ssl/ca.pem"
        }))
        .unwrap();
        assert_eq!(ok.kind, ClusterKind::Flink);
        assert_eq!(ok.lifecycle_state, LifecycleState::Active);
        assert_eq!(field_of(json!({"name": "p", "kind": "flink"})), "endpoint");
        assert_eq!(
            field_of(json!({"name": "p", "kind": "flink", "endpoint": "ftp://x"})),
            "endpoint"
        );
        assert_eq!(
            field_of(
                json!({"name": "p", "kind": "flink", "endpoint": "http://x", "savepointDir": "/no/scheme"})
            ),
            "savepointDir"
        );
        assert_eq!(
            field_of(
                json!({"name": "p", "kind": "flink", "endpoint": "http://x", "caFile": "rel.pem"})
            ),
            "caFile"
        );
        assert_eq!(
            field_of(
                json!({"name": "p", "kind": "flink", "endpoint": "http://x", "caFile": "/a.pem", "insecure": true})
            ),
            "insecure"
        );
        assert_eq!(field_of(json!({"name": "p", "kind": "yarn"})), "kind");
        assert_eq!(field_of(json!({"kind": "local"})), "name");
        assert_eq!(
            field_of(json!({"name": "local", "kind": "flink", "endpoint": "http://x"})),
            "name"
        );
        assert_eq!(
            field_of(json!({"name": "p", "kind": "local", "insecure": "yes"})),
            "insecure"
        );
    }

    #[test]
    fn health_round_trips_in_cmf_words() {
        let h = ClusterHealth {
            state: ConnectionState::Disconnected,
            message: Some("connection refused".into()),
            last_heartbeat_timestamp: None,
            since: None,
            flink_version: None,
            task_managers: 0,
            slots_total: 0,
            slots_available: 0,
            jobs: vec![],
        };
        let v = serde_json::to_value(&h).unwrap();
        assert_eq!(v["state"], "DISCONNECTED");
        assert_eq!(ClusterHealth::of(&v), Some(h));
        assert_eq!(ClusterHealth::of(&json!({})), None);
    }
}
