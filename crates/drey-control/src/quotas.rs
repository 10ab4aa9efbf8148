//! Quotas per organization and per environment: what their Flink clusters
//! take (applications with a cluster of their own that should run, SHARED
//! compute pools that should run) summed from the stored desired state, and
//! the admission of a write that would add to it. Every dialect's create and
//! update of those objects goes through [`Core::admit_cluster`]; the memory
//! the machine has free is checked again by the local backend when it
//! starts a cluster (`drey_runtime`'s admission), where what does not fit
//! waits PENDING.

use crate::access::{Need, Scope};
use crate::{store_error, Core};
use drey_model::application::{effective_spec, JobState};
use drey_model::application_spec::ApplicationSpec;
use drey_model::application_spec::ApplicationStatus;
use drey_model::compute_pool_spec::{PoolSpec, PoolState, PoolType};
use drey_model::environment_spec::EnvironmentSpec;
use drey_model::loose::{typed, view};
use drey_model::quota::{Limits, Usage};
use drey_model::{Error, Kind, Object, ObjectKey};
use serde_json::Value;
use std::collections::BTreeMap;

/// Limits as set on an object and as they apply with the server's defaults,
/// with what is in use now.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaReport {
    /// As set by an administrator (absent fields: the default).
    pub limits: Limits,
    /// What applies.
    pub effective: Limits,
    /// What the clusters of the scope take now.
    pub usage: Usage,
}

/// An application whose job failed holds no cluster until it is changed
/// (a change is admitted then, like a create).
fn holds_nothing(app: &Object) -> bool {
    let status: drey_model::application_spec::ApplicationStatus = view(&app.status);
    status.lifecycle_state == Some(drey_model::application_spec::Lifecycle::Failed)
}

/// How long one admission may hold its organization's lease at most.
const ADMISSION_LEASE: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a write waits for the lease before it is refused as busy.
const ADMISSION_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// Held while a cluster's admission is decided and its write stored.
pub(crate) struct Admission {
    _local: tokio::sync::OwnedMutexGuard<()>,
    shared: Option<SharedAdmission>,
}

/// The organization's admission lease in a store replicas share.
struct SharedAdmission {
    store: std::sync::Arc<dyn drey_store::Store>,
    name: String,
    holder: String,
}

impl Drop for Admission {
    /// Gives the lease back at once (it would expire anyway).
    fn drop(&mut self) {
        let Some(lease) = self.shared.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = lease.store.release_lease(&lease.name, &lease.holder).await {
                    tracing::debug!(lease = %lease.name, error = %e, "admission lease not released; it expires");
                }
            });
        }
    }
}

impl Core {
    /// The same core, with `defaults` for every limit an organization or
    /// environment does not set (derived from the machine's size on a
    /// server that runs clusters; none on an API-only one).
    pub fn with_default_limits(mut self, defaults: Limits) -> Self {
        self.default_limits = defaults;
        self
    }

    /// What the cluster an object would run takes, if it runs one of its own:
    /// an application that is not suspended and has no session pool, a
    /// SHARED compute pool that is not suspended. `env` is the environment
    /// whose defaults are merged in.
    pub fn cluster_demand(kind: Kind, spec: &Value, env: Option<&Object>) -> Option<Usage> {
        let defaults = |field: &str| env.and_then(|e| e.spec.get(field));
        match kind {
            Kind::Application => {
                let app: ApplicationSpec = view(spec);
                if app.desired_state() == Some(JobState::Suspended) || app.session_pool().is_some()
                {
                    return None;
                }
                let effective = effective_spec(spec, defaults("flinkApplicationDefaults"));
                Some(Usage::of_cluster(&effective))
            }
            Kind::ComputePool => {
                let pool: PoolSpec = view(spec);
                if typed(&pool.pool_type) == Some(&PoolType::Dedicated)
                    || typed(&pool.state) == Some(&PoolState::Suspended)
                {
                    return None;
                }
                let effective = effective_spec(spec, defaults("computePoolDefaults"));
                Some(Usage::of_cluster(
                    effective.get("clusterSpec").unwrap_or(&Value::Null),
                ))
            }
            _ => None,
        }
    }

    /// What the clusters of one environment take now, leaving out `except`
    /// (the object being written).
    async fn environment_usage(
        &self,
        env: &Object,
        except: Option<&ObjectKey>,
    ) -> Result<Usage, Error> {
        let mut usage = Usage::default();
        for kind in [Kind::Application, Kind::ComputePool] {
            let objects = self
                .list_all(&env.key.org, kind, Some(&env.key.name))
                .await?;
            for object in objects.iter().filter(|o| Some(&o.key) != except) {
                if kind == Kind::Application && holds_nothing(object) {
                    continue;
                }
                if let Some(u) = Self::cluster_demand(kind, &object.spec, Some(env)) {
                    usage = usage.plus(u);
                }
            }
        }
        Ok(usage)
    }

    /// The environments of an organization.
    async fn environments(&self, org: &str) -> Result<Vec<Object>, Error> {
        self.list_all(org, Kind::Environment, Some("")).await
    }

    /// What the clusters of an organization take now, leaving out `except`.
    async fn organization_usage(
        &self,
        org: &str,
        except: Option<&ObjectKey>,
    ) -> Result<Usage, Error> {
        let mut usage = Usage::default();
        for env in self.environments(org).await? {
            usage = usage.plus(self.environment_usage(&env, except).await?);
        }
        Ok(usage)
    }

    /// The limits set on an organization (none for the default organization
    /// or one without an object).
    async fn organization_limits(&self, org: &str) -> Result<Limits, Error> {
        let Some(object) = self
            .store
            .get(&crate::identities::org_key(org))
            .await
            .map_err(store_error)?
        else {
            return Ok(Limits::default());
        };
        Ok(object
            .spec
            .get("limits")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default())
    }

    /// Admits a write of `key` (an application or compute pool of
    /// environment `env`) with `spec`: refused with
    /// [`Error::QuotaExceeded`] when the cluster it runs would take the
    /// environment or its organization past a limit. Returns a guard to hold
    /// until the write is stored, so concurrent writes are counted one after
    /// another — on this replica, and across replicas of one database.
    pub(crate) async fn admit_cluster(
        &self,
        key: &ObjectKey,
        env: &Object,
        spec: &Value,
    ) -> Result<Admission, Error> {
        let local = self.admission.clone().lock_owned().await;
        let guard = Admission {
            shared: self.shared_admission(&key.org).await?,
            _local: local,
        };
        let Some(need) = Self::cluster_demand(key.kind, spec, Some(env)) else {
            return Ok(guard);
        };
        let env_limits = view::<EnvironmentSpec>(&env.spec)
            .limits()
            .or(self.default_limits);
        let used = self.environment_usage(env, Some(key)).await?;
        env_limits.admit(&format!("environment '{}'", env.key.name), used, need)?;
        let org_limits = self
            .organization_limits(&key.org)
            .await?
            .or(self.default_limits);
        if org_limits != Limits::default() {
            let used = self.organization_usage(&key.org, Some(key)).await?;
            org_limits.admit(&format!("organization '{}'", key.org), used, need)?;
        }
        Ok(guard)
    }

    /// On a database other replicas write to, the organization's admission
    /// lease (`admission:<org>` in the store's leases, with a short expiry
    /// so a replica that dies holding it blocks nobody for long).
    async fn shared_admission(&self, org: &str) -> Result<Option<SharedAdmission>, Error> {
        if !self.store.shared() {
            return Ok(None);
        }
        let name = format!("admission:{org}");
        let holder = uuid::Uuid::new_v4().to_string();
        let deadline = std::time::Instant::now() + ADMISSION_WAIT;
        loop {
            let held = self
                .store
                .acquire_lease(&name, &holder, ADMISSION_LEASE)
                .await
                .map_err(store_error)?;
            if held.is_some() {
                return Ok(Some(SharedAdmission {
                    store: self.store.clone(),
                    name,
                    holder,
                }));
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::Unavailable(format!(
                    "the quota check of organization '{org}' is busy; try again"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// An environment's limits and usage.
    pub async fn environment_quota(&self, org: &str, env: &str) -> Result<QuotaReport, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let env = self.require_environment(org, env).await?;
        let limits = view::<EnvironmentSpec>(&env.spec).limits();
        Ok(QuotaReport {
            limits,
            effective: limits.or(self.default_limits),
            usage: self.environment_usage(&env, None).await?,
        })
    }

    /// An organization's limits and usage.
    pub async fn organization_quota(&self, org: &str) -> Result<QuotaReport, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        let limits = self.organization_limits(org).await?;
        Ok(QuotaReport {
            limits,
            effective: limits.or(self.default_limits),
            usage: self.organization_usage(org, None).await?,
        })
    }

    /// Sets an environment's limits (a server administrator's act: the
    /// dialect checks the caller). Lowering a limit below what is in use
    /// stops nothing; it refuses what would add to it.
    pub async fn set_environment_limits(
        &self,
        org: &str,
        env: &str,
        limits: Limits,
    ) -> Result<QuotaReport, Error> {
        self.allow(Need::Administer, Scope::Server)?;
        let current = self.require_environment(org, env).await?;
        let mut spec: EnvironmentSpec = view(&current.spec);
        spec.set_limits(limits);
        let mut write = drey_store::Write::new(
            current.key.clone(),
            drey_store::WriteMode::Update {
                expected_version: Some(current.meta.resource_version),
            },
            drey_model::loose::to_json(&spec),
        );
        write.labels = current.meta.labels;
        write.annotations = current.meta.annotations;
        self.store.write(write).await.map_err(store_error)?;
        self.environment_quota(org, env).await
    }
}

/// How many objects an organization holds, by kind and state, and what its
/// clusters take (CMF's `resource-information`; the same sums as its quota).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceCounts {
    /// Environments.
    pub environments: u64,
    /// Applications by their job's state (`UNKNOWN` before one is seen).
    pub applications: BTreeMap<String, u64>,
    /// Compute pools.
    pub compute_pools: u64,
    /// Statements by phase.
    pub statements: BTreeMap<String, u64>,
    /// Secrets.
    pub secrets: u64,
    /// Kafka catalogs.
    pub catalogs: u64,
    /// Savepoints of applications and statements.
    pub savepoints: u64,
    /// Detached savepoints.
    pub detached_savepoints: u64,
    /// What the organization's clusters take.
    pub usage: Usage,
}

impl Core {
    /// Counts an organization's objects (see [`ResourceCounts`]).
    pub async fn resource_counts(&self, org: &str) -> Result<ResourceCounts, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        let by_state = |objects: &[Object], state: &dyn Fn(&Object) -> Option<String>| {
            let mut out = BTreeMap::new();
            for o in objects {
                *out.entry(state(o).unwrap_or_else(|| "UNKNOWN".into()))
                    .or_insert(0) += 1;
            }
            out
        };
        let count = |kind: Kind, scope: Option<&'static str>| async move {
            self.list_all(org, kind, scope)
                .await
                .map(|v| v.len() as u64)
        };
        let apps = self.list_all(org, Kind::Application, None).await?;
        let statements = self.list_all(org, Kind::Statement, None).await?;
        let all_savepoints = count(Kind::Savepoint, None).await?;
        let detached = count(Kind::Savepoint, Some("")).await?;
        Ok(ResourceCounts {
            environments: count(Kind::Environment, Some("")).await?,
            applications: by_state(&apps, &|a| {
                view::<ApplicationStatus>(&a.status)
                    .job_status
                    .and_then(|j| j.state)
            }),
            compute_pools: count(Kind::ComputePool, None).await?,
            statements: by_state(&statements, &|s| {
                s.status
                    .get("phase")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }),
            secrets: count(Kind::Secret, Some("")).await?,
            catalogs: count(Kind::Catalog, Some("")).await?,
            savepoints: all_savepoints - detached,
            detached_savepoints: detached,
            usage: self.organization_usage(org, None).await?,
        })
    }
}
