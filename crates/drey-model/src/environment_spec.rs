//! The typed environment spec (a CMF Environment, a VVP namespace, a
//! LakeSail workspace): the Kubernetes namespace and the defaults merged into
//! what the environment holds. Odd fields are kept as written.

use crate::loose::{typed, Loose};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of an environment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EnvironmentSpec {
    /// The Kubernetes namespace CMF reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_namespace: Option<Loose<String>>,
    /// The registered cluster its applications and pools use (CMF's
    /// `kubernetesClusterName`); the machine drey runs on when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_cluster_name: Option<Loose<String>>,
    /// Merged over every application's spec (`{spec: ...}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flink_application_defaults: Option<Loose<Map<String, Value>>>,
    /// Merged over every compute pool's spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute_pool_defaults: Option<Loose<Map<String, Value>>>,
    /// Statement defaults, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_defaults: Option<Value>,
    /// Quota limits a server administrator set (drey's own field; a
    /// dialect's environment write keeps it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Loose<crate::quota::Limits>>,
    /// The session cluster (a SHARED compute pool) a SQL editor's queries
    /// are previewed on (VVP's `previewSessionClusterName`; drey's own field,
    /// kept by a dialect's environment write).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_session_cluster: Option<Loose<String>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EnvironmentSpec {
    /// `kubernetesNamespace`, when set.
    pub fn namespace(&self) -> Option<&str> {
        typed(&self.kubernetes_namespace).map(String::as_str)
    }

    /// The limits set on the environment (none set: every field absent).
    pub fn limits(&self) -> crate::quota::Limits {
        typed(&self.limits).copied().unwrap_or_default()
    }

    /// Sets the limits; all-default limits are not stored.
    pub fn set_limits(&mut self, limits: crate::quota::Limits) {
        self.limits = (limits != crate::quota::Limits::default()).then_some(Loose::Typed(limits));
    }

    /// The preview session cluster, when set.
    pub fn preview_session_cluster(&self) -> Option<&str> {
        typed(&self.preview_session_cluster).map(String::as_str)
    }

    /// `kubernetesClusterName`, when set.
    pub fn cluster_name(&self) -> Option<&str> {
        typed(&self.kubernetes_cluster_name).map(String::as_str)
    }
}
