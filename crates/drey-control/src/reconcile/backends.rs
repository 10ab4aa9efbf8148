//! Which backend a deployment runs on. A new deployment goes where its
//! application is placed (the `drey.io/cluster` annotation) or else its
//! environment is bound (`kubernetesClusterName`: the local machine by
//! default, or a registered `flink` cluster); the choice is recorded with
//! the deployment, so a later change of the binding moves the application
//! only with its next deployment, never under a running job.

use super::plan::Deployment;
use crate::applications::CLUSTER_ANNOTATION;
use crate::Core;
use drey_model::cluster::{ClusterKind, ClusterRegistration, LifecycleState, LOCAL_CLUSTER};
use drey_model::environment_spec::EnvironmentSpec;
use drey_model::loose::view;
use drey_model::{Error, Object};
use drey_runtime::backend::existing::ExistingCluster;
use drey_runtime::{JobBackend, LocalBackend};
use std::sync::Arc;

/// Local Flink clusters; `Err` holds why there are none (no Flink
/// distribution found), shown in every object that wants to run.
pub type LocalClusters = Result<Arc<LocalBackend>, String>;

/// A deployment's backend, or why it cannot be had now.
pub(crate) type ChosenBackend = Result<Arc<dyn JobBackend>, String>;

/// Where deployments run: this machine, and the organizations' registered
/// Flink clusters.
#[derive(Clone)]
pub struct Backends {
    local: LocalClusters,
}

/// Where a new deployment goes.
pub(crate) enum Placement {
    /// A cluster of drey's own on this machine (or a compute pool's).
    Local,
    /// A registered Flink cluster, by registration id.
    Existing(String),
}

impl Backends {
    /// Backends over the local clusters.
    pub fn new(local: LocalClusters) -> Self {
        Backends { local }
    }

    /// The local clusters.
    pub fn local(&self) -> &LocalClusters {
        &self.local
    }

    fn local_backend(&self) -> ChosenBackend {
        self.local.clone().map(|b| b as Arc<dyn JobBackend>)
    }

    /// Where a new deployment of `app` in `env` goes: the cluster the
    /// application names ([`CLUSTER_ANNOTATION`]), else its environment's.
    pub(crate) async fn placement(
        &self,
        core: &Core,
        app: &Object,
        env: Option<&Object>,
    ) -> Result<Placement, Error> {
        let org = &app.key.org;
        let name = app
            .meta
            .annotations
            .get(CLUSTER_ANNOTATION)
            .cloned()
            .or_else(|| {
                env.map(|e| view::<EnvironmentSpec>(&e.spec))
                    .and_then(|s| s.cluster_name().map(str::to_owned))
            });
        let Some(name) = name.filter(|n| n != LOCAL_CLUSTER) else {
            return Ok(Placement::Local);
        };
        let cluster = core.find_cluster(org, &name).await?.ok_or_else(|| {
            Error::Unavailable(format!("cluster '{name}' is no longer registered"))
        })?;
        let registration = ClusterRegistration::parse(&cluster.spec)?;
        if registration.lifecycle_state == LifecycleState::Decommissioned {
            return Err(Error::Unavailable(format!(
                "cluster '{name}' is decommissioned"
            )));
        }
        match registration.kind {
            ClusterKind::Local => Ok(Placement::Local),
            ClusterKind::Flink => Ok(Placement::Existing(cluster.meta.name)),
            ClusterKind::Kubernetes => Err(Error::Unavailable(format!(
                "cluster '{name}' is a kubernetes cluster, which drey records but does \
                 not drive (see docs/kubernetes.md)"
            ))),
        }
    }

    /// The backend of a placement.
    pub(crate) async fn of(&self, core: &Core, org: &str, placement: &Placement) -> ChosenBackend {
        match placement {
            Placement::Local => self.local_backend(),
            Placement::Existing(id) => existing(core, org, id)
                .await
                .map(|b| Arc::new(b) as Arc<dyn JobBackend>)
                .map_err(|e| e.to_string()),
        }
    }

    /// The backend a recorded deployment runs on.
    pub(crate) async fn of_deployment(
        &self,
        core: &Core,
        org: &str,
        deployment: &Deployment,
    ) -> ChosenBackend {
        match &deployment.existing_cluster {
            None => self.local_backend(),
            Some(id) => self.of(core, org, &Placement::Existing(id.clone())).await,
        }
    }
}

/// A registered `flink` cluster as a backend: its client carries the
/// registration's credentials and TLS trust.
async fn existing(core: &Core, org: &str, id: &str) -> Result<ExistingCluster, Error> {
    let cluster = core
        .get_cluster(org, id)
        .await
        .map_err(|_| Error::Unavailable(format!("Flink cluster '{id}' is no longer registered")))?;
    let registration = ClusterRegistration::parse(&cluster.spec)?;
    let client = core
        .cluster_client(&cluster, drey_flink::ClientConfig::default())
        .await?;
    Ok(ExistingCluster::new(
        id,
        registration.name,
        client,
        registration.savepoint_dir,
    ))
}
