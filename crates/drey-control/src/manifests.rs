//! What the Flink Kubernetes Operator would be given for an application or a
//! compute pool: a `flink.apache.org/v1beta1` FlinkDeployment (an
//! application, or a SHARED pool's session cluster) or FlinkSessionJob (an
//! application in a SHARED pool). The CMF application spec *is* a
//! FlinkDeployment spec, so rendering is mostly choosing: the fields the
//! operator's CRD knows, in the shapes and spellings it accepts, without
//! drey's own records and the dialects' copies (`spec.vvp`,
//! `spec.lakesail`, `status`).
//!
//! The renderers are pure; [`Core::application_manifest`] and
//! [`Core::compute_pool_manifest`] gather what they need from the store.

use crate::access::{Need, Scope};
use crate::{store_error, Core};
use drey_model::application::{effective_spec, JobState, UpgradeMode};
use drey_model::application_spec::{ApplicationSpec, ComponentSpec};
use drey_model::compute_pool_spec::PoolSpec;
use drey_model::environment_spec::EnvironmentSpec;
use drey_model::loose::{to_json, typed, view, Loose};
use drey_model::{Error, Kind, Object, ObjectKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The operator's API version.
pub const API_VERSION: &str = "flink.apache.org/v1beta1";
/// The label every rendered resource carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "drey");

/// The `flinkVersion` values the operator's CRD accepts.
pub const OPERATOR_FLINK_VERSIONS: &[&str] = &[
    "v1_13", "v1_14", "v1_15", "v1_16", "v1_17", "v1_18", "v1_19", "v1_20", "v2_0", "v2_1", "v2_2",
    "v2_3", "v2_4",
];

/// A rendered resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Manifest {
    /// An application cluster, or a session cluster.
    Deployment(Box<FlinkDeployment>),
    /// A job in a session cluster.
    SessionJob(Box<FlinkSessionJob>),
}

/// The metadata of a rendered resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObjectMeta {
    /// The application's or pool's name.
    pub name: String,
    /// The environment's Kubernetes namespace.
    pub namespace: String,
    /// The object's labels, and [`MANAGED_BY`].
    pub labels: BTreeMap<String, String>,
    /// The object's annotations, without drey's own (`drey.io/...`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// `kind: FlinkDeployment`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlinkDeployment {
    /// [`API_VERSION`].
    pub api_version: &'static str,
    /// `FlinkDeployment`.
    pub kind: &'static str,
    /// Name, namespace, labels.
    pub metadata: ObjectMeta,
    /// The cluster, and the job unless it is a session cluster.
    pub spec: FlinkDeploymentSpec,
}

/// `FlinkDeployment.spec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlinkDeploymentSpec {
    /// The Flink image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Its pull policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    /// `v1_19`, `v2_1`, ... (one of [`OPERATOR_FLINK_VERSIONS`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flink_version: Option<String>,
    /// Flink configuration, every value a string.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub flink_configuration: BTreeMap<String, String>,
    /// The pods' service account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// A pod template for all pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Map<String, Value>>,
    /// The JobManager.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_manager: Option<Component>,
    /// The TaskManagers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_manager: Option<Component>,
    /// The job (none for a session cluster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
    /// A change redeploys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_nonce: Option<i64>,
}

/// `spec.jobManager` / `spec.taskManager`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// Number of pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    /// CPU and memory of each pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    /// A pod template for this component.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<Map<String, Value>>,
}

/// `resource`: what one pod gets.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// Cores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    /// Memory (`1024m`, `2g`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Ephemeral storage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<String>,
}

/// `spec.job`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The jar.
    #[serde(rename = "jarURI", skip_serializing_if = "Option::is_none")]
    pub jar_uri: Option<String>,
    /// The main class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_class: Option<String>,
    /// Program arguments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Job parallelism.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u64>,
    /// `running` or `suspended` (drey's default: running).
    pub state: JobState,
    /// `stateless`, `savepoint` or `last-state` (drey's default: stateless).
    pub upgrade_mode: UpgradeMode,
    /// Whether a restore may skip state no operator claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_non_restored_state: Option<bool>,
    /// Where the first deployment starts from: the savepoint drey would
    /// restore next, else the spec's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_savepoint_path: Option<String>,
    /// A change redeploys from `initialSavepointPath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub savepoint_redeploy_nonce: Option<i64>,
}

/// `kind: FlinkSessionJob`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlinkSessionJob {
    /// [`API_VERSION`].
    pub api_version: &'static str,
    /// `FlinkSessionJob`.
    pub kind: &'static str,
    /// Name, namespace, labels.
    pub metadata: ObjectMeta,
    /// The session cluster and the job.
    pub spec: FlinkSessionJobSpec,
}

/// `FlinkSessionJob.spec`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlinkSessionJobSpec {
    /// The session cluster's FlinkDeployment (the compute pool's name).
    pub deployment_name: String,
    /// The job's own configuration, every value a string.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub flink_configuration: BTreeMap<String, String>,
    /// The job.
    pub job: Job,
    /// A change redeploys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_nonce: Option<i64>,
}

/// The operator's spelling of a Flink version: `v1_19` as given, `1.19` or
/// `1.19.1` as `v1_19`; `None` for anything the CRD does not accept.
pub fn operator_flink_version(given: &str) -> Option<String> {
    let given = given.trim();
    let spelled = match given.strip_prefix('v') {
        Some(rest) if rest.contains('_') => format!("v{rest}"),
        _ => {
            let mut parts = given.split('.');
            let major: u32 = parts.next()?.parse().ok()?;
            let minor: u32 = parts.next()?.parse().ok()?;
            format!("v{major}_{minor}")
        }
    };
    OPERATOR_FLINK_VERSIONS
        .contains(&spelled.as_str())
        .then_some(spelled)
}

/// Metadata for an object: its name, the namespace, its labels with
/// [`MANAGED_BY`], its annotations without drey's own.
pub fn metadata_of(object: &Object, namespace: &str) -> ObjectMeta {
    let mut labels = object.meta.labels.clone();
    labels.insert(MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned());
    let annotations = object
        .meta
        .annotations
        .iter()
        .filter(|(k, _)| !k.starts_with("drey.io/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ObjectMeta {
        name: object.meta.name.clone(),
        namespace: namespace.to_owned(),
        labels,
        annotations,
    }
}

/// The resource for an application: a FlinkSessionJob when it runs in a
/// SHARED compute pool (`spec.deploymentName`), else a FlinkDeployment of
/// its own. `spec` is the effective spec (environment defaults merged);
/// `restore_from` is the savepoint drey would start its next deployment from.
pub fn render_application(
    metadata: ObjectMeta,
    spec: &ApplicationSpec,
    restore_from: Option<&str>,
) -> Manifest {
    let job = render_job(spec, restore_from);
    let flink_configuration = configuration(spec);
    let restart_nonce = typed(&spec.restart_nonce).copied();
    if let Some(pool) = spec.session_pool() {
        return Manifest::SessionJob(Box::new(FlinkSessionJob {
            api_version: API_VERSION,
            kind: "FlinkSessionJob",
            metadata,
            spec: FlinkSessionJobSpec {
                deployment_name: pool.to_owned(),
                flink_configuration,
                job,
                restart_nonce,
            },
        }));
    }
    let mut deployment = render_cluster(metadata, spec);
    deployment.spec.job = Some(job);
    deployment.spec.restart_nonce = restart_nonce;
    Manifest::Deployment(Box::new(deployment))
}

/// The session-mode FlinkDeployment (no job) of a SHARED compute pool,
/// from its effective `clusterSpec` read as the cluster parts of an
/// application spec.
pub fn render_cluster(metadata: ObjectMeta, cluster: &ApplicationSpec) -> FlinkDeployment {
    let text = |field: &Option<Loose<String>>| typed(field).cloned();
    FlinkDeployment {
        api_version: API_VERSION,
        kind: "FlinkDeployment",
        metadata,
        spec: FlinkDeploymentSpec {
            image: text(&cluster.image),
            image_pull_policy: text(&cluster.image_pull_policy),
            flink_version: typed(&cluster.flink_version).and_then(|v| operator_flink_version(v)),
            flink_configuration: configuration(cluster),
            service_account: text(&cluster.service_account),
            pod_template: typed(&cluster.pod_template).cloned(),
            job_manager: typed(&cluster.job_manager).map(component),
            task_manager: typed(&cluster.task_manager).map(component),
            job: None,
            restart_nonce: None,
        },
    }
}

fn render_job(spec: &ApplicationSpec, restore_from: Option<&str>) -> Job {
    let given = spec.job().cloned().unwrap_or_default();
    Job {
        jar_uri: typed(&given.jar_uri).cloned(),
        entry_class: typed(&given.entry_class).cloned(),
        args: typed(&given.args).cloned().unwrap_or_default(),
        parallelism: typed(&given.parallelism).copied(),
        state: spec.desired_state().unwrap_or(JobState::Running),
        upgrade_mode: typed(&given.upgrade_mode)
            .copied()
            .unwrap_or(UpgradeMode::Stateless),
        allow_non_restored_state: typed(&given.allow_non_restored_state).copied(),
        initial_savepoint_path: restore_from
            .map(str::to_owned)
            .or_else(|| typed(&given.initial_savepoint_path).cloned()),
        savepoint_redeploy_nonce: typed(&given.savepoint_redeploy_nonce).copied(),
    }
}

/// `flinkConfiguration` with every value a string (numbers and booleans as written).
fn configuration(spec: &ApplicationSpec) -> BTreeMap<String, String> {
    typed(&spec.flink_configuration)
        .map(|conf| {
            conf.iter()
                .filter_map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(_) | Value::Bool(_) => v.to_string(),
                        _ => return None,
                    };
                    Some((k.clone(), text))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// How drey reads a component's `resource`.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GivenResource {
    cpu: Option<Loose<Cpu>>,
    memory: Option<Loose<String>>,
    ephemeral_storage: Option<Loose<String>>,
}

/// A CPU count as a number or as text (`"1"`, `"0.5"`, `"500m"`).
#[derive(Clone, Deserialize)]
#[serde(untagged)]
enum Cpu {
    Number(f64),
    Text(String),
}

impl Cpu {
    fn cores(&self) -> Option<f64> {
        match self {
            Cpu::Number(n) => Some(*n),
            Cpu::Text(t) => match t.trim().strip_suffix('m') {
                Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
                None => t.trim().parse().ok(),
            },
        }
        .filter(|c| c.is_finite() && *c > 0.0)
    }
}

fn component(given: &ComponentSpec) -> Component {
    let resource = typed(&given.resource).map(|r| {
        let r: GivenResource = view(&Value::Object(r.clone()));
        Resource {
            cpu: typed(&r.cpu).and_then(Cpu::cores),
            memory: typed(&r.memory).cloned(),
            ephemeral_storage: typed(&r.ephemeral_storage).cloned(),
        }
    });
    Component {
        replicas: typed(&given.replicas).copied(),
        resource,
        pod_template: typed(&given.pod_template).cloned(),
    }
}

impl Core {
    /// The operator resource for an application (see [`render_application`]).
    pub async fn application_manifest(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<Manifest, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let app = self.get_application(org, env, name).await?;
        let env_object = self.require_environment(org, env).await?;
        let env_spec: EnvironmentSpec = view(&env_object.spec);
        let defaults = env_object.spec.get("flinkApplicationDefaults");
        let effective: ApplicationSpec = view(&effective_spec(&app.spec, defaults));
        let recorded = crate::reconcile::recorded_of(&app);
        Ok(render_application(
            metadata_of(&app, env_spec.namespace().unwrap_or(env)),
            &effective,
            recorded.restore_from.as_deref(),
        ))
    }

    /// The session-mode FlinkDeployment of a SHARED compute pool; a
    /// DEDICATED pool has no cluster of its own to render.
    pub async fn compute_pool_manifest(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<FlinkDeployment, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let env_object = self.require_environment(org, env).await?;
        let pool = self
            .store
            .get(&ObjectKey::in_env(org, Kind::ComputePool, env, name))
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::not_found(Kind::ComputePool, name))?;
        let env_spec: EnvironmentSpec = view(&env_object.spec);
        let defaults = env_object.spec.get("computePoolDefaults");
        let effective: PoolSpec = view(&effective_spec(&pool.spec, defaults));
        if !effective.is_shared() {
            return Err(Error::Conflict(format!(
                "compute pool '{name}' is not SHARED: it has no session cluster of its own \
                 (each statement gets a cluster), so there is no FlinkDeployment to render"
            )));
        }
        let cluster: ApplicationSpec = view(&to_json(&effective.cluster_spec));
        Ok(render_cluster(
            metadata_of(&pool, env_spec.namespace().unwrap_or(env)),
            &cluster,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drey_model::loose::view;
    use serde_json::json;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            name: "orders".into(),
            namespace: "prod".into(),
            labels: BTreeMap::from([(MANAGED_BY.0.into(), MANAGED_BY.1.into())]),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn flink_versions_are_spelled_as_the_operator_wants() {
        assert_eq!(operator_flink_version("v1_19").as_deref(), Some("v1_19"));
        assert_eq!(operator_flink_version("1.20").as_deref(), Some("v1_20"));
        assert_eq!(operator_flink_version("2.1.0").as_deref(), Some("v2_1"));
        assert_eq!(operator_flink_version("v1_2"), None);
        assert_eq!(operator_flink_version("latest"), None);
    }

    #[test]
    fn an_application_drops_what_is_drey_s_and_keeps_what_is_flink_s() {
        let spec: ApplicationSpec = view(&json!({
            "image": "flink:1.19", "flinkVersion": "1.19", "serviceAccount": "flink",
            "flinkConfiguration": {"a": "1", "b": 2, "c": true, "d": {"nested": 1}},
            "jobManager": {"resource": {"memory": "1g", "cpu": "500m"}},
            "taskManager": {"replicas": 2, "resource": {"memory": "2g", "cpu": 2}},
            "job": {"jarURI": "local:///x.jar", "upgradeMode": "savepoint",
                    "initialSavepointPath": "file:///sp/given", "maxJobCreationAttempts": 3,
                    "savepointTriggerNonce": 7},
            "vvp": {"x": 1}, "lakesail": {"y": 2}, "somethingElse": 1,
            "restartNonce": 4,
        }));
        let Manifest::Deployment(d) = render_application(meta(), &spec, Some("file:///sp/drey"))
        else {
            panic!("not a FlinkDeployment")
        };
        assert_eq!(
            to_json(&d),
            json!({
                "apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
                "metadata": {"name": "orders", "namespace": "prod",
                             "labels": {"app.kubernetes.io/managed-by": "drey"}},
                "spec": {
                    "image": "flink:1.19", "flinkVersion": "v1_19", "serviceAccount": "flink",
                    "flinkConfiguration": {"a": "1", "b": "2", "c": "true"},
                    "jobManager": {"resource": {"memory": "1g", "cpu": 0.5}},
                    "taskManager": {"replicas": 2, "resource": {"memory": "2g", "cpu": 2.0}},
                    "job": {"jarURI": "local:///x.jar", "state": "running",
                            "upgradeMode": "savepoint", "initialSavepointPath": "file:///sp/drey"},
                    "restartNonce": 4,
                }
            })
        );
    }

    #[test]
    fn a_session_job_names_its_pool() {
        let spec: ApplicationSpec = view(&json!({
            "deploymentName": "shared", "flinkConfiguration": {"x": "y"},
            "job": {"jarURI": "local:///x.jar", "state": "suspended", "parallelism": 2,
                    "args": ["--a"], "entryClass": "Main"},
        }));
        let Manifest::SessionJob(j) = render_application(meta(), &spec, None) else {
            panic!("not a FlinkSessionJob")
        };
        assert_eq!(
            to_json(&j.spec),
            json!({"deploymentName": "shared", "flinkConfiguration": {"x": "y"},
                   "job": {"jarURI": "local:///x.jar", "entryClass": "Main", "args": ["--a"],
                           "parallelism": 2, "state": "suspended", "upgradeMode": "stateless"}})
        );
    }

    #[test]
    fn a_session_cluster_has_no_job_and_odd_values_are_left_out() {
        let cluster: ApplicationSpec = view(&json!({
            "flinkVersion": "v9_9", "image": 5,
            "flinkConfiguration": {"slots": 2},
            "taskManager": {"replicas": 3, "resource": {"cpu": "lots", "memory": "1g"}},
        }));
        let d = render_cluster(meta(), &cluster);
        assert_eq!(
            to_json(&d.spec),
            json!({"flinkConfiguration": {"slots": "2"},
                   "taskManager": {"replicas": 3, "resource": {"memory": "1g"}}})
        );
    }
}
