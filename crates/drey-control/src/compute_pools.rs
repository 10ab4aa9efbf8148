//! Compute pools: the Flink clusters statements run on.

use crate::access::{Need, Scope};
use crate::{store_error, Core, ResourceInput};
use drey_model::application::JobState;
use drey_model::application_spec::ApplicationSpec;
use drey_model::compute_pool_spec::PoolStatus;
use drey_model::environment_spec::EnvironmentSpec;
use drey_model::loose::{to_json, view};
use drey_model::name::check_cmf_name;
use drey_model::validate::compute_pool_spec;
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{Delete, FieldFilter, Write, WriteMode};
use serde_json::Value;

fn pool_key(org: &str, env: &str, name: &str) -> ObjectKey {
    ObjectKey::in_env(org, Kind::ComputePool, env, name)
}

/// A pool on a registered `flink` cluster is that cluster: SHARED only,
/// since drey starts no cluster there for a DEDICATED pool's statements.
fn check_pool_type(on_cluster: Option<&str>, spec: &Value) -> Result<(), Error> {
    let dedicated = spec.get("type").and_then(Value::as_str) == Some("DEDICATED");
    match on_cluster {
        Some(cluster) if dedicated => Err(Error::invalid(
            "spec.type",
            format!(
                "compute pools on Flink cluster '{cluster}' are SHARED: drey starts no \
                 cluster of its own there, so every statement's job runs on that cluster"
            ),
        )),
        _ => Ok(()),
    }
}

impl Core {
    /// The registered `flink` cluster a new pool of `environment` would be,
    /// by name: the one its `drey.io/cluster` annotation names,
    /// else the one the environment is bound to; `None` for this machine.
    /// A cluster drey cannot drive is refused, naming the field.
    async fn pool_cluster(
        &self,
        org: &str,
        environment: &Object,
        annotations: &std::collections::BTreeMap<String, String>,
    ) -> Result<Option<String>, Error> {
        use drey_model::cluster::{ClusterKind, ClusterRegistration};
        let annotation = crate::applications::CLUSTER_ANNOTATION;
        let (name, field) = match annotations.get(annotation) {
            Some(name) => (name.clone(), format!("metadata.annotations.{annotation}")),
            None => match view::<EnvironmentSpec>(&environment.spec).cluster_name() {
                Some(name) => (name.to_owned(), "environment".to_owned()),
                None => return Ok(None),
            },
        };
        self.runnable_cluster(org, &name, &field).await?;
        let Some(cluster) = self.as_drey().find_cluster(org, &name).await? else {
            return Ok(None);
        };
        let registration = ClusterRegistration::parse(&cluster.spec)?;
        Ok((registration.kind == ClusterKind::Flink).then_some(name))
    }

    /// Creates a compute pool; 409 semantics if the name is taken.
    pub async fn create_compute_pool(
        &self,
        org: &str,
        env: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        check_cmf_name("metadata.name", &input.name)?;
        compute_pool_spec(&input.spec)?;
        let environment = self.require_environment(org, env).await?;
        let on_cluster = self
            .pool_cluster(org, &environment, &input.annotations)
            .await?;
        check_pool_type(on_cluster.as_deref(), &input.spec)?;
        let key = pool_key(org, env, &input.name);
        // A registered cluster's memory is its own: only pools drey starts
        // here are admitted against this machine's budget.
        let _admitted = match on_cluster {
            Some(_) => None,
            None => Some(self.admit_cluster(&key, &environment, &input.spec).await?),
        };
        let mut write = Write::new(key, WriteMode::Create, input.spec);
        write.labels = input.labels;
        write.annotations = input.annotations;
        write.requires = vec![ObjectKey::global(org, Kind::Environment, env)];
        write.status = Some(to_json(&PoolStatus::<Value> {
            phase: Some(crate::reconcile::pools::phase::PENDING.into()),
            ..PoolStatus::default()
        }));
        let pool = self.store.write(write).await.map_err(store_error)?;
        self.wake_object(&pool.key);
        Ok(pool)
    }

    /// Replaces a pool's spec (CMF 2.3 `PUT`); refused with 409 while a
    /// statement of the pool runs or waits to, since their jobs live on the
    /// pool's cluster.
    pub async fn update_compute_pool(
        &self,
        org: &str,
        env: &str,
        name: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        if !input.name.is_empty() && input.name != name {
            return Err(Error::invalid(
                "metadata.name",
                format!(
                    "'{}' does not match the compute pool '{name}' in the path",
                    input.name
                ),
            ));
        }
        compute_pool_spec(&input.spec)?;
        let current = self.get_compute_pool(org, env, name).await?;
        if current.spec != input.spec {
            if let Some(user) = self.pool_user(org, env, name).await? {
                return Err(Error::Conflict(format!(
                    "ComputePool '{name}' cannot be updated: {user}"
                )));
            }
        }
        let environment = self.require_environment(org, env).await?;
        let on_cluster = match crate::reconcile::pools::existing_cluster_of(&current) {
            Some(id) => Some(match self.as_drey().get_cluster(org, &id).await {
                Ok(c) => drey_model::cluster::ClusterRegistration::parse(&c.spec)?.name,
                Err(_) => id,
            }),
            None => {
                self.pool_cluster(org, &environment, &input.annotations)
                    .await?
            }
        };
        check_pool_type(on_cluster.as_deref(), &input.spec)?;
        let _admitted = match on_cluster {
            Some(_) => None,
            None => Some(
                self.admit_cluster(&current.key, &environment, &input.spec)
                    .await?,
            ),
        };
        let mut write = Write::new(
            current.key,
            WriteMode::Update {
                expected_version: Some(current.meta.resource_version),
            },
            input.spec,
        );
        write.labels = input.labels;
        write.annotations = input.annotations;
        let pool = self.store.write(write).await.map_err(store_error)?;
        self.wake_object(&pool.key);
        Ok(pool)
    }

    /// What runs on a pool's session cluster now, if anything: a statement
    /// that is not finished, or an application that should run with its job
    /// in it (`spec.deploymentName`). A change of the pool's configuration
    /// restarts that cluster, so it waits while this answers `Some`: the
    /// update path refuses (409) and the reconciler defers a restart that
    /// inherited defaults asked for.
    pub(crate) async fn pool_user(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<Option<String>, Error> {
        for phase in ["PENDING", "RUNNING", "FAILING", "DELETING"] {
            let busy = self
                .list(
                    org,
                    Kind::Statement,
                    Some(env.to_owned()),
                    vec![
                        FieldFilter {
                            path: vec!["spec".into(), "computePoolName".into()],
                            equals: name.to_owned(),
                        },
                        FieldFilter {
                            path: vec!["status".into(), "phase".into()],
                            equals: phase.to_owned(),
                        },
                    ],
                    PageRequest {
                        page: 0,
                        size: 1,
                        sort: vec![],
                    },
                )
                .await?;
            if let Some(statement) = busy.items.first() {
                return Ok(Some(format!(
                    "Statement '{}' is {phase} on it",
                    statement.meta.name
                )));
            }
        }
        let apps = self
            .list(
                org,
                Kind::Application,
                Some(env.to_owned()),
                vec![FieldFilter {
                    path: vec!["spec".into(), "deploymentName".into()],
                    equals: name.to_owned(),
                }],
                PageRequest {
                    page: 0,
                    size: 1000,
                    sort: vec![],
                },
            )
            .await?;
        let running = apps.items.iter().find(|app| {
            view::<ApplicationSpec>(&app.spec).desired_state() != Some(JobState::Suspended)
        });
        Ok(running.map(|app| format!("application '{}' runs its job in it", app.meta.name)))
    }

    /// One compute pool.
    pub async fn get_compute_pool(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        self.get(&pool_key(org, env, name)).await
    }

    /// A page of an environment's compute pools.
    pub async fn list_compute_pools(
        &self,
        org: &str,
        env: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        self.list(org, Kind::ComputePool, Some(env.to_owned()), vec![], page)
            .await
    }

    /// Deletes a compute pool; refused while a statement uses it.
    pub async fn delete_compute_pool(&self, org: &str, env: &str, name: &str) -> Result<(), Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        let mut delete = Delete::new(pool_key(org, env, name));
        delete.refuse_if_referenced = true;
        self.store
            .delete(delete)
            .await
            .map_err(store_error)?
            .map(|_| ())
            .ok_or_else(|| Error::not_found(Kind::ComputePool, name))
    }
}
