//! Clusters an organization registers (LakeSail's concept: where its
//! workspaces' Flink runs). drey runs Flink on its own machine, the `local`
//! kind; a `kubernetes` cluster's address and credentials can be recorded
//! (credentials sealed at rest, never shown) but no workspace can use one
//! until drey has a Kubernetes backend.

use crate::auth::new_id;
use crate::{store_error, Core};
use drey_model::{Error, Kind, Object, ObjectKey};
use drey_store::{Delete, SecretData, Write, WriteMode};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn cluster_key(org: &str, id: &str) -> ObjectKey {
    ObjectKey::global(org, Kind::Cluster, id)
}

/// A cluster as asked for: the visible spec and the sealed credentials.
pub struct ClusterInput {
    /// `name`, `kind`, `endpoint`, `description`.
    pub spec: Value,
    /// Credentials (sealed); `None` keeps the stored ones on update.
    pub credentials: Option<BTreeMap<String, String>>,
}

/// Checks a cluster spec: a name, a known kind, and an endpoint URL for a
/// `kubernetes` cluster.
fn check(spec: &Value) -> Result<(), Error> {
    let name = spec.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.trim().is_empty() || name.len() > 200 {
        return Err(Error::invalid("name", "is required (1-200 characters)"));
    }
    match spec.get("kind").and_then(Value::as_str) {
        Some("local") => {}
        Some("kubernetes") => {
            let endpoint = spec
                .get("endpoint")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                return Err(Error::invalid(
                    "endpoint",
                    "a kubernetes cluster needs the http(s) URL of its API server",
                ));
            }
        }
        Some(other) => {
            return Err(Error::invalid(
                "kind",
                format!("'{other}' is not local or kubernetes"),
            ))
        }
        None => return Err(Error::invalid("kind", "is required: local or kubernetes")),
    }
    if let Some(d) = spec.get("description").filter(|d| !d.is_null()) {
        if !d.is_string() {
            return Err(Error::invalid("description", "must be a string"));
        }
    }
    Ok(())
}

impl Core {
    /// Registers a cluster.
    pub async fn create_cluster(&self, org: &str, input: ClusterInput) -> Result<Object, Error> {
        check(&input.spec)?;
        let mut write = Write::new(cluster_key(org, &new_id()), WriteMode::Create, input.spec);
        write.secret = input.credentials.map(SecretData);
        self.store.write(write).await.map_err(store_error)
    }

    /// One cluster of `org`.
    pub async fn get_cluster(&self, org: &str, id: &str) -> Result<Object, Error> {
        self.get(&cluster_key(org, id)).await
    }

    /// The clusters of `org`, oldest first.
    pub async fn list_clusters(&self, org: &str) -> Result<Vec<Object>, Error> {
        let mut out = Vec::new();
        for key in self.store.keys(Kind::Cluster).await.map_err(store_error)? {
            if key.org == org {
                if let Some(c) = self.store.get(&key).await.map_err(store_error)? {
                    out.push(c);
                }
            }
        }
        out.sort_by_key(|o| o.meta.creation_timestamp);
        Ok(out)
    }

    /// Replaces a cluster's spec (and its credentials when given).
    pub async fn update_cluster(
        &self,
        current: &Object,
        input: ClusterInput,
    ) -> Result<Object, Error> {
        check(&input.spec)?;
        let mut write = Write::new(
            current.key.clone(),
            WriteMode::Update {
                expected_version: Some(current.meta.resource_version),
            },
            input.spec,
        );
        write.secret = match input.credentials {
            Some(c) => Some(SecretData(c)),
            None => self
                .store
                .secret_data(&current.key)
                .await
                .map_err(store_error)?,
        };
        self.store.write(write).await.map_err(store_error)
    }

    /// Whether credentials are stored for a cluster (never what they are).
    pub async fn cluster_has_credentials(&self, cluster: &Object) -> Result<bool, Error> {
        Ok(self
            .store
            .secret_data(&cluster.key)
            .await
            .map_err(store_error)?
            .is_some_and(|d| !d.0.is_empty()))
    }

    /// A cluster a workspace may run on: it exists and drey can drive it.
    pub async fn usable_cluster(&self, org: &str, id: &str) -> Result<Object, Error> {
        let cluster = self
            .get_cluster(org, id)
            .await
            .map_err(|_| Error::invalid("clusterId", format!("cluster '{id}' does not exist")))?;
        if cluster.spec.get("kind").and_then(Value::as_str) != Some("local") {
            return Err(Error::invalid(
                "clusterId",
                format!("cluster '{id}' is not local: drey runs Flink on its own machine only"),
            ));
        }
        Ok(cluster)
    }

    /// Deletes a cluster no workspace uses (`in_use` names one that does).
    pub async fn delete_cluster(
        &self,
        org: &str,
        id: &str,
        in_use: Option<&str>,
    ) -> Result<(), Error> {
        self.get_cluster(org, id).await?;
        if let Some(ws) = in_use {
            return Err(Error::Conflict(format!(
                "cluster '{id}' is used by workspace '{ws}'"
            )));
        }
        self.store
            .delete(Delete::new(cluster_key(org, id)))
            .await
            .map_err(store_error)
            .map(drop)
    }
}

/// The cluster as shown: never its credentials.
pub fn render_cluster(cluster: &Object, has_credentials: bool) -> Value {
    let mut out = json!({
        "id": cluster.meta.name,
        "createdAt": cluster.meta.creation_timestamp.to_string(),
        "updatedAt": cluster.meta.update_timestamp.to_string(),
        "hasCredentials": has_credentials,
    });
    if let (Some(out), Some(spec)) = (out.as_object_mut(), cluster.spec.as_object()) {
        for (k, v) in spec {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}
