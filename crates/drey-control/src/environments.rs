//! Environments: a scope for applications, statements and compute pools, with
//! the defaults merged into them.

use crate::access::{Need, Scope};
use crate::{store_error, Core, Outcome};
use drey_model::environment_spec::EnvironmentSpec;
use drey_model::flink_options::check_user_configuration;
use drey_model::json::get_path;
use drey_model::loose::{to_json, view, Loose};
use drey_model::name::{check_cmf_name, check_dns_subdomain};
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{Delete, Write, WriteMode};
use serde_json::{json, Map, Value};

/// The fields a client sets on an environment.
#[derive(Clone, Debug, Default)]
pub struct EnvironmentInput {
    /// The name.
    pub name: String,
    /// `kubernetesNamespace`; defaults to the name.
    pub kubernetes_namespace: Option<String>,
    /// `kubernetesClusterName`; `None` keeps what is set (the local machine
    /// for a new environment).
    pub kubernetes_cluster_name: Option<String>,
    /// `flinkApplicationDefaults`.
    pub flink_application_defaults: Option<Value>,
    /// `computePoolDefaults`.
    pub compute_pool_defaults: Option<Value>,
    /// `statementDefaults`.
    pub statement_defaults: Option<Value>,
}

impl Core {
    /// Creates an environment or replaces its defaults.
    pub async fn upsert_environment(
        &self,
        org: &str,
        input: EnvironmentInput,
    ) -> Result<(Object, Outcome), Error> {
        // A new environment is the organization's to make; an existing one
        // is changed by those who may write in it.
        let known = ObjectKey::global(org, Kind::Environment, &input.name);
        match self.store.get(&known).await.map_err(store_error)? {
            Some(_) => self.allow(Need::Write, Scope::env(org, &input.name))?,
            None => self.allow(Need::Write, Scope::Organization(org))?,
        }
        check_cmf_name("name", &input.name)?;
        if let Some(ns) = &input.kubernetes_namespace {
            check_dns_subdomain("kubernetesNamespace", ns, 1)?;
        }
        for (field, value) in [
            (
                "flinkApplicationDefaults",
                &input.flink_application_defaults,
            ),
            ("computePoolDefaults", &input.compute_pool_defaults),
        ] {
            if let Some(v) = value {
                if !v.is_object() {
                    return Err(Error::invalid(field, "must be an object"));
                }
            }
        }
        if let Some(v) = &input.statement_defaults {
            check_statement_defaults(v)?;
        }
        // The defaults are merged into what the environment runs: they may
        // not set the Flink options drey owns either.
        for (field, value) in [
            (
                "flinkApplicationDefaults.spec.flinkConfiguration",
                input
                    .flink_application_defaults
                    .as_ref()
                    .and_then(|d| get_path(d, "spec.flinkConfiguration")),
            ),
            (
                "computePoolDefaults.spec.clusterSpec.flinkConfiguration",
                input
                    .compute_pool_defaults
                    .as_ref()
                    .and_then(|d| get_path(d, "spec.clusterSpec.flinkConfiguration")),
            ),
        ] {
            if let Some(conf) = value {
                check_user_configuration(field, conf)?;
            }
        }
        let key = ObjectKey::global(org, Kind::Environment, &input.name);
        let existing = self.store.get(&key).await.map_err(store_error)?;
        let namespace = match (&existing, input.kubernetes_namespace) {
            (Some(current), requested) => {
                let current_ns = view::<EnvironmentSpec>(&current.spec)
                    .namespace()
                    .unwrap_or(&input.name)
                    .to_owned();
                if let Some(requested) = requested {
                    if requested != current_ns {
                        return Err(Error::invalid(
                            "kubernetesNamespace",
                            format!(
                                "cannot be changed once the environment exists (it is '{current_ns}')"
                            ),
                        ));
                    }
                }
                current_ns
            }
            (None, Some(requested)) => requested,
            (None, None) => input.name.clone(),
        };
        let cluster_name = match input.kubernetes_cluster_name {
            Some(name) => Some(self.environment_cluster(org, &name).await?),
            None => existing.as_ref().and_then(|e| {
                view::<EnvironmentSpec>(&e.spec)
                    .cluster_name()
                    .map(str::to_owned)
            }),
        };
        let object = |v: Option<Value>| match v {
            Some(Value::Object(map)) => Some(Loose::Typed(map)),
            _ => None,
        };
        let spec = EnvironmentSpec {
            kubernetes_namespace: Some(Loose::Typed(namespace)),
            kubernetes_cluster_name: cluster_name.map(Loose::Typed),
            flink_application_defaults: object(input.flink_application_defaults),
            compute_pool_defaults: object(input.compute_pool_defaults),
            statement_defaults: input.statement_defaults,
            // Limits are a server administrator's: a dialect's write keeps them.
            limits: existing
                .as_ref()
                .and_then(|e| view::<EnvironmentSpec>(&e.spec).limits),
            preview_session_cluster: existing
                .as_ref()
                .and_then(|e| view::<EnvironmentSpec>(&e.spec).preview_session_cluster),
            extra: Map::new(),
        };
        let outcome = if existing.is_some() {
            Outcome::Updated
        } else {
            Outcome::Created
        };
        let stored = self
            .store
            .write(Write::new(key, WriteMode::Upsert, to_json(&spec)))
            .await
            .map_err(store_error)?;
        Ok((stored, outcome))
    }

    /// Sets the session cluster (a compute pool of `env`) the SQL editor's
    /// queries are previewed on, or clears it (`None`): VVP's
    /// `namespaces/{ns}:setPreviewSessionCluster`.
    pub async fn set_preview_session_cluster(
        &self,
        org: &str,
        env: &str,
        pool: Option<&str>,
    ) -> Result<(), Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        let current = self.require_environment(org, env).await?;
        if let Some(pool) = pool {
            let key = ObjectKey::in_env(org, Kind::ComputePool, env, pool);
            if self.store.get(&key).await.map_err(store_error)?.is_none() {
                return Err(Error::not_found(Kind::ComputePool, pool));
            }
        }
        let mut spec = view::<EnvironmentSpec>(&current.spec);
        spec.preview_session_cluster = pool.map(|p| Loose::Typed(p.to_owned()));
        self.write_environment_spec(&current, &spec).await
    }

    /// Sets the cluster environment `env` runs on (`kubernetesClusterName`),
    /// leaving the rest of it as it is.
    pub(crate) async fn set_environment_cluster(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<(), Error> {
        let name = self.environment_cluster(org, name).await?;
        let current = self.require_environment(org, env).await?;
        let mut spec = view::<EnvironmentSpec>(&current.spec);
        spec.kubernetes_cluster_name = Some(Loose::Typed(name));
        self.write_environment_spec(&current, &spec).await
    }

    /// Writes `spec` over the environment `current` was read as (a conflict
    /// if it changed since).
    async fn write_environment_spec(
        &self,
        current: &Object,
        spec: &EnvironmentSpec,
    ) -> Result<(), Error> {
        self.store
            .write(Write::new(
                current.key.clone(),
                WriteMode::Update {
                    expected_version: Some(current.meta.resource_version),
                },
                to_json(spec),
            ))
            .await
            .map_err(store_error)
            .map(drop)
    }

    /// Checks the cluster an environment is to use: the local machine, or a
    /// registered, active cluster of the organization that drey can run
    /// applications on (an existing Flink cluster).
    async fn environment_cluster(&self, org: &str, name: &str) -> Result<String, Error> {
        self.runnable_cluster(org, name, "kubernetesClusterName")
            .await
    }

    /// Checks that `name` (given as `FIELD`) is a cluster applications can
    /// run on: this machine, or an active registered cluster of `org` that
    /// drey drives.
    pub async fn runnable_cluster(
        &self,
        org: &str,
        name: &str,
        field: &str,
    ) -> Result<String, Error> {
        use drey_model::cluster::{
            ClusterKind, ClusterRegistration, LifecycleState, LOCAL_CLUSTER,
        };
        if name == LOCAL_CLUSTER {
            return Ok(name.to_owned());
        }
        let Some(cluster) = self.as_drey().find_cluster(org, name).await? else {
            return Err(Error::invalid(
                field,
                format!("no cluster named '{name}' is registered"),
            ));
        };
        let registration = ClusterRegistration::parse(&cluster.spec)?;
        if registration.lifecycle_state == LifecycleState::Decommissioned {
            return Err(Error::invalid(
                field,
                format!("cluster '{name}' is decommissioned"),
            ));
        }
        match registration.kind {
            ClusterKind::Local | ClusterKind::Flink => Ok(name.to_owned()),
            ClusterKind::Kubernetes => Err(Error::invalid(
                field,
                format!(
                    "cluster '{name}' is a kubernetes cluster: drey records it and renders \
                     manifests for it, but does not drive it (docs/kubernetes.md)"
                ),
            )),
        }
    }

    /// One environment.
    pub async fn get_environment(&self, org: &str, name: &str) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::env(org, name))?;
        self.require_environment(org, name).await
    }

    /// A page of environments.
    pub async fn list_environments(
        &self,
        org: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.allow(Need::Member, Scope::Organization(org))?;
        let list = |page| self.list(org, Kind::Environment, Some(String::new()), vec![], page);
        if self.allow(Need::Read, Scope::Organization(org)).is_ok() {
            return list(page).await;
        }
        // Roles on single environments only: those environments, paged here.
        let mut visible = Vec::new();
        for number in 0.. {
            let batch = list(PageRequest {
                page: number,
                size: drey_model::page::MAX_PAGE_SIZE,
                sort: page.sort.clone(),
            })
            .await?
            .items;
            let last = batch.len() < drey_model::page::MAX_PAGE_SIZE as usize;
            visible.extend((batch.into_iter()).filter(|e| self.caller.sees(org, &e.meta.name)));
            if last {
                break;
            }
        }
        let start = (page.page as usize).saturating_mul(page.size as usize);
        Ok(Page {
            total: visible.len() as u64,
            items: visible
                .into_iter()
                .skip(start)
                .take(page.size as usize)
                .collect(),
        })
    }

    /// The environment's secret mappings as `connection secret id -> secret name`.
    pub async fn environment_secrets(
        &self,
        org: &str,
        env: &str,
    ) -> Result<Map<String, Value>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let mappings = self
            .list(
                org,
                Kind::SecretMapping,
                Some(env.to_owned()),
                vec![],
                PageRequest::all(),
            )
            .await?;
        Ok(mappings
            .items
            .into_iter()
            .map(|m| {
                let secret = view::<drey_model::catalog_spec::SecretMappingSpec>(&m.spec)
                    .secret_name
                    .map_or(Value::Null, Value::String);
                (m.meta.name, secret)
            })
            .collect())
    }

    /// Deletes an environment. Refused while it holds applications,
    /// statements or compute pools; its secret mappings and SQL catalog go
    /// with it.
    pub async fn delete_environment(&self, org: &str, name: &str) -> Result<Object, Error> {
        // The organization's editors, or the environment's owners.
        self.allow(Need::Write, Scope::Organization(org))
            .or_else(|_| self.allow(Need::Grant, Scope::env(org, name)))?;
        let mut delete = Delete::new(ObjectKey::global(org, Kind::Environment, name));
        delete.must_be_empty = vec![
            (Kind::Application, name.to_owned()),
            (Kind::Statement, name.to_owned()),
            (Kind::ComputePool, name.to_owned()),
        ];
        delete.cascade = vec![
            (Kind::SecretMapping, name.to_owned()),
            (Kind::SqlObject, name.to_owned()),
            (Kind::Document, name.to_owned()),
        ];
        let deleted = self
            .store
            .delete(delete)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::not_found(Kind::Environment, name))?;
        self.forget_environment_access(org, name).await?;
        Ok(deleted)
    }
}

fn check_statement_defaults(v: &Value) -> Result<(), Error> {
    let Some(map) = v.as_object() else {
        return Err(Error::invalid("statementDefaults", "must be an object"));
    };
    for (mode, defaults) in map {
        if mode != "detached" && mode != "interactive" {
            return Err(Error::invalid(
                format!("statementDefaults.{mode}"),
                "unknown key: expected 'detached' or 'interactive'",
            ));
        }
        if defaults.is_null() {
            continue;
        }
        let Some(defaults) = defaults.as_object() else {
            return Err(Error::invalid(
                format!("statementDefaults.{mode}"),
                "must be an object",
            ));
        };
        if let Some(conf) = defaults.get("flinkConfiguration").filter(|c| !c.is_null()) {
            drey_model::validate::string_map(
                &format!("statementDefaults.{mode}.flinkConfiguration"),
                conf,
            )?;
            check_user_configuration(
                &format!("statementDefaults.{mode}.flinkConfiguration"),
                conf,
            )?;
        }
    }
    Ok(())
}

/// The empty statement defaults CMF shows when none are set.
pub fn empty_statement_defaults() -> Value {
    json!({"detached": {"flinkConfiguration": {}}, "interactive": {"flinkConfiguration": {}}})
}
