//! Clusters an organization registers: where its Flink runs. `local` is the
//! machine drey runs on; `flink` is an existing Flink session cluster drey
//! did not start, reached through its REST endpoint (optionally behind a
//! reverse proxy that wants a basic or bearer `Authorization`, sealed at rest
//! like every credential, and on HTTPS with a private CA or, spelled out,
//! `insecure`); `kubernetes` records an API server. drey watches `flink`
//! clusters ([`crate::cluster_health`]) and runs the applications of the
//! environments bound to one there (`crate::reconcile::backends`).

use crate::access::{Need, Scope};
use crate::auth::new_id;
use crate::{store_error, Core};
use drey_model::cluster::{ClusterKind, ClusterRegistration, LifecycleState};
use drey_model::{Error, Kind, Object, ObjectKey};
use drey_store::{Delete, SecretData, Write, WriteMode};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn cluster_key(org: &str, id: &str) -> ObjectKey {
    ObjectKey::global(org, Kind::Cluster, id)
}

/// A cluster as asked for: the visible spec and the sealed credentials.
pub struct ClusterInput {
    /// The registration ([`ClusterRegistration`] fields).
    pub spec: Value,
    /// Credentials (sealed); `None` keeps the stored ones on update.
    pub credentials: Option<BTreeMap<String, String>>,
}

/// The credentials of a `flink` cluster: what its reverse proxy wants.
fn check_credentials(
    registration: &ClusterRegistration,
    credentials: Option<&BTreeMap<String, String>>,
) -> Result<(), Error> {
    let Some(credentials) = credentials.filter(|c| !c.is_empty()) else {
        return Ok(());
    };
    if registration.kind != ClusterKind::Flink {
        return Ok(());
    }
    authorization(credentials).map(drop)
}

/// The `Authorization` header value the credentials of a `flink` cluster
/// stand for: `username` and `password` (basic) or `token` (bearer).
fn authorization(credentials: &BTreeMap<String, String>) -> Result<String, Error> {
    use base64::Engine as _;
    let keys: Vec<&str> = credentials.keys().map(String::as_str).collect();
    match keys[..] {
        ["password", "username"] => {
            let pair = format!("{}:{}", credentials["username"], credentials["password"]);
            Ok(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ))
        }
        ["token"] => Ok(format!("Bearer {}", credentials["token"])),
        _ => Err(Error::invalid(
            "credentials",
            "give username and password (basic) or token (bearer)",
        )),
    }
}

impl Core {
    /// Checks a registration: the spec's fields, the credentials' shape, the
    /// name free within the organization.
    async fn check_cluster(
        &self,
        org: &str,
        input: &ClusterInput,
        updating: Option<&ObjectKey>,
    ) -> Result<ClusterRegistration, Error> {
        let registration = ClusterRegistration::parse(&input.spec)?;
        check_credentials(&registration, input.credentials.as_ref())?;
        if let Some(ca) = &registration.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| Error::invalid("caFile", format!("cannot read {ca}: {e}")))?;
            drey_flink::FlinkClient::with_config(
                "https://ca.check",
                drey_flink::ClientConfig {
                    access: drey_flink::Access {
                        ca_pem: Some(pem),
                        ..Default::default()
                    },
                    ..Default::default()
                },
            )
            .map_err(|e| Error::invalid("caFile", e.to_string()))?;
        }
        if let Some(other) = self.find_cluster(org, &registration.name).await? {
            if Some(&other.key) != updating {
                return Err(Error::Conflict(format!(
                    "a cluster named '{}' already exists",
                    registration.name
                )));
            }
        }
        Ok(registration)
    }

    /// Registers a cluster.
    pub async fn create_cluster(&self, org: &str, input: ClusterInput) -> Result<Object, Error> {
        self.allow(Need::Administer, Scope::Organization(org))?;
        let registration = self.check_cluster(org, &input, None).await?;
        let spec =
            serde_json::to_value(&registration).map_err(|e| Error::Internal(e.to_string()))?;
        let mut write = Write::new(cluster_key(org, &new_id()), WriteMode::Create, spec);
        write.secret = input.credentials.map(SecretData);
        self.store.write(write).await.map_err(store_error)
    }

    /// One cluster of `org`.
    pub async fn get_cluster(&self, org: &str, id: &str) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        self.get(&cluster_key(org, id)).await
    }

    /// The cluster of `org` named `name`, if any.
    pub async fn find_cluster(&self, org: &str, name: &str) -> Result<Option<Object>, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        Ok(self
            .list_clusters(org)
            .await?
            .into_iter()
            .find(|c| c.spec.get("name").and_then(Value::as_str) == Some(name)))
    }

    /// The clusters of `org`, oldest first.
    pub async fn list_clusters(&self, org: &str) -> Result<Vec<Object>, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
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
        self.allow(Need::Administer, Scope::Organization(&current.key.org))?;
        let registration = self
            .check_cluster(&current.key.org, &input, Some(&current.key))
            .await?;
        let spec =
            serde_json::to_value(&registration).map_err(|e| Error::Internal(e.to_string()))?;
        let mut write = Write::new(
            current.key.clone(),
            WriteMode::Update {
                expected_version: Some(current.meta.resource_version),
            },
            spec,
        );
        write.labels = current.meta.labels.clone();
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

    /// Sets a cluster's lifecycle state and labels (CMF's PUT).
    pub async fn set_cluster_lifecycle(
        &self,
        current: &Object,
        lifecycle: LifecycleState,
        labels: Option<BTreeMap<String, String>>,
    ) -> Result<Object, Error> {
        self.allow(Need::Administer, Scope::Organization(&current.key.org))?;
        let mut registration = ClusterRegistration::parse(&current.spec)?;
        registration.lifecycle_state = lifecycle;
        let spec =
            serde_json::to_value(&registration).map_err(|e| Error::Internal(e.to_string()))?;
        let mut write = Write::new(
            current.key.clone(),
            WriteMode::Update {
                expected_version: Some(current.meta.resource_version),
            },
            spec,
        );
        write.labels = labels.unwrap_or_else(|| current.meta.labels.clone());
        write.secret = self
            .store
            .secret_data(&current.key)
            .await
            .map_err(store_error)?;
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

    /// Why statements cannot run on registered cluster `id`, if they cannot:
    /// they are submitted by Flink's own client in drey's SQL gateway, which
    /// speaks plain HTTP to a JobManager and sends no proxy credentials.
    pub(crate) async fn statements_refused_on(
        &self,
        org: &str,
        id: &str,
    ) -> Result<Option<String>, Error> {
        let cluster = self.as_drey().get_cluster(org, id).await?;
        let registration = ClusterRegistration::parse(&cluster.spec)?;
        let name = &registration.name;
        if self.cluster_has_credentials(&cluster).await? {
            return Ok(Some(format!(
                "statements cannot run on Flink cluster '{name}': it is registered with \
                 credentials for a reverse proxy, which Flink's SQL client cannot send; \
                 register the JobManager's own REST endpoint to run statements there"
            )));
        }
        if registration
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("https:"))
        {
            return Ok(Some(format!(
                "statements cannot run on Flink cluster '{name}': its endpoint is HTTPS, \
                 and drey's SQL gateway reaches registered clusters over plain HTTP only"
            )));
        }
        Ok(None)
    }

    /// A client for a `flink` cluster's REST endpoint, with its credentials
    /// and TLS trust.
    pub async fn cluster_client(
        &self,
        cluster: &Object,
        mut config: drey_flink::ClientConfig,
    ) -> Result<drey_flink::FlinkClient, Error> {
        let registration = ClusterRegistration::parse(&cluster.spec)?;
        let endpoint = registration
            .endpoint
            .as_deref()
            .ok_or_else(|| Error::invalid("endpoint", "the cluster has no endpoint"))?;
        let credentials = self
            .store
            .secret_data(&cluster.key)
            .await
            .map_err(store_error)?;
        config.access.authorization = match credentials.filter(|c| !c.0.is_empty()) {
            Some(c) => Some(authorization(&c.0)?),
            None => None,
        };
        config.access.ca_pem = match &registration.ca_file {
            Some(ca) => Some(std::fs::read(ca).map_err(|e| {
                Error::Unavailable(format!("cannot read the cluster's CA file {ca}: {e}"))
            })?),
            None => None,
        };
        config.access.insecure_tls = registration.insecure;
        drey_flink::FlinkClient::with_config(endpoint, config)
            .map_err(|e| Error::invalid("endpoint", e.to_string()))
    }

    /// A cluster a workspace may run on: it exists, is active, and drey can
    /// drive it (this machine, or an existing Flink cluster).
    pub async fn usable_cluster(&self, org: &str, id: &str) -> Result<Object, Error> {
        let cluster =
            self.as_drey().get_cluster(org, id).await.map_err(|_| {
                Error::invalid("clusterId", format!("cluster '{id}' does not exist"))
            })?;
        let registration = ClusterRegistration::parse(&cluster.spec)?;
        if registration.lifecycle_state == drey_model::cluster::LifecycleState::Decommissioned {
            return Err(Error::invalid(
                "clusterId",
                format!("cluster '{id}' is decommissioned"),
            ));
        }
        if registration.kind == ClusterKind::Kubernetes {
            return Err(Error::invalid(
                "clusterId",
                format!(
                    "cluster '{id}' is a kubernetes cluster: drey records it and renders \
                     manifests for it, but does not drive it"
                ),
            ));
        }
        Ok(cluster)
    }

    /// Binds environment `env` to the registered cluster `id` (`None`: this
    /// machine): its next deployments go there. Running ones move only with
    /// their next deployment.
    pub async fn bind_environment(
        &self,
        org: &str,
        env: &str,
        id: Option<&str>,
    ) -> Result<(), Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        let name = match id {
            Some(id) => {
                let cluster = self.usable_cluster(org, id).await?;
                ClusterRegistration::parse(&cluster.spec)?.name
            }
            None => drey_model::cluster::LOCAL_CLUSTER.to_owned(),
        };
        self.set_environment_cluster(org, env, &name).await
    }

    /// Deletes a cluster no workspace uses (`in_use` names one that does).
    pub async fn delete_cluster(
        &self,
        org: &str,
        id: &str,
        in_use: Option<&str>,
    ) -> Result<(), Error> {
        self.allow(Need::Administer, Scope::Organization(org))?;
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
        if let Some(health) = drey_model::cluster::ClusterHealth::of(&cluster.status) {
            out.insert("status".into(), json!(health));
        }
    }
    out
}
