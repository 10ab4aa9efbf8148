//! The stored records of identities: API keys (root keys, users' and
//! service accounts' keys, VVP API tokens) and principals (users, service
//! accounts). Only drey writes them; reading stays tolerant of records an
//! older version wrote (unknown fields kept, odd shapes read as absent).

use crate::loose::lenient;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `spec` of an API key: who it is, never its secret (only a SHA-256).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiKeySpec {
    /// `root`, `service-account`, `user` or `api-token`.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The organization it acts in.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// SHA-256 of the secret, hex.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// When it was made.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// The user or service account it belongs to.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// When it stops working.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// A VVP API token's namespace (the one environment it acts on).
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A VVP API token's name.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A VVP API token's role on its namespace.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Anything else an older version wrote, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `status` of an API key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiKeyStatus {
    /// Revoked keys stop working at once.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub revoked: Option<bool>,
    /// When it was revoked.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Anything else, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ApiKeyStatus {
    /// Whether the key was revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked == Some(true)
    }
}

/// `spec` of a user or service account: what the dialect was given
/// (`username`, `description`, ...: kept as given in `extra`), its
/// organization-wide role and its grants on single environments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PrincipalSpec {
    /// The login name.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Its organization-wide role (`viewer`, `editor`, `admin`); `null`
    /// when it has only what is granted per environment.
    #[serde(deserialize_with = "lenient")]
    pub role: Option<String>,
    /// Roles on single environments, by environment name.
    #[serde(deserialize_with = "lenient_grants")]
    pub grants: BTreeMap<String, Grant>,
    /// Everything else the dialect gave, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A role on one environment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    /// `viewer`, `editor` or `owner`.
    pub role: String,
    /// When it was first granted.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<Timestamp>,
    /// When it last changed.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<Timestamp>,
}

/// Grants that read as they can: an entry of an odd shape is dropped (it
/// grants nothing), never a failure to read the principal.
fn lenient_grants<'de, D>(deserializer: D) -> Result<BTreeMap<String, Grant>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value
        .and_then(|v| match v {
            Value::Object(map) => Some(
                map.into_iter()
                    .filter_map(|(env, g)| Grant::deserialize(g).ok().map(|g| (env, g)))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loose::{to_json, view};
    use serde_json::json;

    #[test]
    fn a_key_reads_back_as_written_and_odd_fields_read_as_absent() {
        let stored = json!({"kind": "api-token", "org": "default", "sha256": "ab",
                            "createdAt": "2026-01-01T00:00:00.000Z", "namespace": "ns",
                            "name": "t", "role": "editor", "later": [1]});
        let spec: ApiKeySpec = view(&stored);
        assert_eq!(spec.namespace.as_deref(), Some("ns"));
        assert_eq!(to_json(&spec), stored);
        let odd: ApiKeySpec = view(&json!({"kind": 5, "expiresAt": "soon"}));
        assert_eq!((odd.kind, odd.expires_at), (None, None));
        let status: ApiKeyStatus = view(&json!({"revoked": "yes"}));
        assert!(!status.is_revoked());
    }

    #[test]
    fn grants_of_odd_shape_grant_nothing() {
        let spec: PrincipalSpec = view(&json!({
            "username": "ann", "role": null, "description": "d",
            "grants": {"a": {"role": "owner"}, "b": 5, "c": {"x": 1}}}));
        assert_eq!(spec.grants.keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(spec.extra["description"], "d");
        let back = to_json(&spec);
        assert_eq!(back["role"], Value::Null);
        assert_eq!(back["grants"], json!({"a": {"role": "owner"}}));
        let spec: PrincipalSpec = view(&json!({"grants": []}));
        assert!(spec.grants.is_empty());
    }
}
