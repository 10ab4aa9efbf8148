//! The VVP Deployment and SessionCluster specs as drey reads them: typed
//! where drey acts on them, everything else kept as written. Read from a request body (checked) and
//! from the copy kept with the core application (tolerantly: it may have
//! been written through another dialect in any shape).

use drey_model::loose::Loose;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `spec` of a Deployment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct DeploymentSpec {
    /// RUNNING, SUSPENDED or CANCELLED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Loose<String>>,
    /// `{kind: STATEFUL | STATELESS | NONE}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_strategy: Option<Loose<Strategy>>,
    /// `{kind: LATEST_STATE | LATEST_SAVEPOINT | NONE, allowNonRestoredState}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_strategy: Option<Loose<Strategy>>,
    /// What the job runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<Loose<Template>>,
    /// The session cluster it runs in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_cluster_name: Option<Loose<String>>,
    /// The deployment target it runs on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_target_name: Option<Loose<String>>,
    /// Submissions tried before the deployment fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_job_creation_attempts: Option<Loose<u64>>,
    /// Savepoints tried before a stop fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_savepoint_creation_attempts: Option<Loose<u64>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `upgradeStrategy` and `restoreStrategy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Strategy {
    /// The strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Loose<String>>,
    /// `restoreStrategy.allowNonRestoredState`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_non_restored_state: Option<Loose<bool>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `template`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Template {
    /// The job's spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<Loose<TemplateSpec>>,
    /// Everything else (`metadata`), kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `template.spec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct TemplateSpec {
    /// The jar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Loose<Artifact>>,
    /// Job parallelism.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<Loose<u64>>,
    /// TaskManagers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_task_managers: Option<Loose<u64>>,
    /// Flink configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flink_configuration: Option<Loose<Map<String, Value>>>,
    /// `{jobmanager, taskmanager}` memory and CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Loose<Resources>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `template.spec.artifact`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Artifact {
    /// Only JAR runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<Loose<String>>,
    /// The jar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jar_uri: Option<Loose<String>>,
    /// Its main class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_class: Option<Loose<String>>,
    /// Program arguments, one string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub main_args: Option<Loose<String>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `resources` of a template or session cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct Resources {
    /// JobManager memory and CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobmanager: Option<Loose<Map<String, Value>>>,
    /// TaskManager memory and CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taskmanager: Option<Loose<Map<String, Value>>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec` of a SessionCluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct SessionClusterSpec {
    /// RUNNING or STOPPED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Loose<String>>,
    /// Flink configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flink_configuration: Option<Loose<Map<String, Value>>>,
    /// TaskManagers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_task_managers: Option<Loose<u64>>,
    /// `{jobmanager, taskmanager}` memory and CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Loose<Resources>>,
    /// Everything else, kept as given.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The image and Flink version VVP names in an Artifact or a SessionCluster
/// spec (`flinkVersion`, `flinkImageRegistry`, `flinkImageRepository`,
/// `flinkImageTag`, under `path`): what a Kubernetes backend's pods would
/// run. drey's own backend runs the Flink it has.
pub(super) fn image_of(
    fields: &Map<String, Value>,
    path: &str,
) -> Result<(Option<String>, Option<String>), drey_model::Error> {
    let text = |field: &str| match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(drey_model::Error::invalid(
            format!("{path}.{field}"),
            format!("must be a string, not {other}"),
        )),
    };
    let version = text("flinkVersion")?;
    let image = drey_model::application_spec::flink_image(
        text("flinkImageRegistry")?,
        text("flinkImageRepository")?,
        text("flinkImageTag")?,
        version,
    );
    Ok((image, version.map(str::to_owned)))
}
