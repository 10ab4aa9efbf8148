//! The FlinkApplication spec: the Flink Kubernetes Operator's FlinkDeployment
//! spec, kept as given. drey validates the fields it acts on and leaves the
//! rest untouched, so tools that add operator fields keep working.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The API version CMF gives applications.
pub const API_VERSION: &str = "cmf.confluent.io/v1";
/// The kind name CMF gives applications.
pub const KIND: &str = "FlinkApplication";

/// `spec.job.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// The job should run.
    Running,
    /// The job should be stopped (with a savepoint unless stateless).
    Suspended,
}

impl JobState {
    /// The spelling in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Suspended => "suspended",
        }
    }
}

/// `spec.job.upgradeMode`, as in the Flink Kubernetes Operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeMode {
    /// Cancel and start empty.
    Stateless,
    /// Stop with a savepoint and start from it.
    Savepoint,
    /// Start from the latest retained checkpoint.
    LastState,
}

impl UpgradeMode {
    /// Parses the spec spelling.
    pub fn parse(text: &str) -> Option<UpgradeMode> {
        match text {
            "stateless" => Some(UpgradeMode::Stateless),
            "savepoint" => Some(UpgradeMode::Savepoint),
            "last-state" => Some(UpgradeMode::LastState),
            _ => None,
        }
    }

    /// The spec spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UpgradeMode::Stateless => "stateless",
            UpgradeMode::Savepoint => "savepoint",
            UpgradeMode::LastState => "last-state",
        }
    }
}

/// Parses a Kubernetes/Flink memory size (`1024m`, `1g`, `1Gi`, `2048Mi`,
/// `512 mb`, plain bytes) into bytes.
pub fn parse_memory(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "ki" | "kib" => 1024.0,
        "m" | "mb" | "mi" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "ti" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = num * mult;
    (bytes.is_finite() && bytes > 0.0).then_some(bytes as u64)
}

/// Validates the fields of an application spec that drey acts on.
/// Field names in errors are full paths (`spec.job.upgradeMode`).
pub fn validate_spec(spec: &Value) -> Result<(), Error> {
    let Some(spec_obj) = spec.as_object() else {
        return Err(Error::invalid("spec", "must be an object"));
    };
    let job = match spec_obj.get("job") {
        Some(Value::Object(job)) => job,
        Some(_) => return Err(Error::invalid("spec.job", "must be an object")),
        None => return Err(Error::invalid("spec.job", "is required")),
    };
    match job.get("jarURI") {
        Some(Value::String(uri)) if !uri.trim().is_empty() => check_jar_uri(uri)?,
        Some(Value::String(_)) | None => {
            return Err(Error::invalid("spec.job.jarURI", "is required"))
        }
        Some(_) => return Err(Error::invalid("spec.job.jarURI", "must be a string")),
    }
    if let Some(state) = job.get("state") {
        match state.as_str() {
            Some("running") | Some("suspended") => {}
            _ => {
                return Err(Error::invalid(
                    "spec.job.state",
                    format!("must be 'running' or 'suspended', not {state}"),
                ))
            }
        }
    }
    if let Some(mode) = job.get("upgradeMode") {
        if mode.as_str().and_then(UpgradeMode::parse).is_none() {
            return Err(Error::invalid(
                "spec.job.upgradeMode",
                format!("must be one of 'stateless', 'savepoint', 'last-state', not {mode}"),
            ));
        }
    }
    for field in [
        "parallelism",
        "maxJobCreationAttempts",
        "maxSavepointCreationAttempts",
    ] {
        if let Some(v) = job.get(field) {
            positive_int(&format!("spec.job.{field}"), v)?;
        }
    }
    if let Some(v) = job.get("entryClass") {
        if !v.is_string() {
            return Err(Error::invalid("spec.job.entryClass", "must be a string"));
        }
    }
    if let Some(v) = job.get("args") {
        let ok = v
            .as_array()
            .map(|a| a.iter().all(Value::is_string))
            .unwrap_or(false);
        if !ok {
            return Err(Error::invalid("spec.job.args", "must be a list of strings"));
        }
    }
    for side in ["jobManager", "taskManager"] {
        if let Some(v) = spec_obj.get(side) {
            check_component(side, v)?;
        }
    }
    if let Some(pool) = spec_obj.get("deploymentName") {
        match pool.as_str() {
            Some(name) => crate::name::check_cmf_name("spec.deploymentName", name)?,
            None => {
                return Err(Error::invalid(
                    "spec.deploymentName",
                    "must be the name of a compute pool",
                ))
            }
        }
    }
    if let Some(conf) = spec_obj.get("flinkConfiguration") {
        let ok = conf
            .as_object()
            .map(|m| {
                m.values()
                    .all(|v| v.is_string() || v.is_number() || v.is_boolean())
            })
            .unwrap_or(false);
        if !ok {
            return Err(Error::invalid(
                "spec.flinkConfiguration",
                "must be a map of configuration keys to string values",
            ));
        }
        crate::flink_options::check_user_configuration("spec.flinkConfiguration", conf)?;
        check_savepoint_options(conf)?;
        crate::autoscaler::check(conf)?;
    }
    Ok(())
}

/// The Flink Kubernetes Operator's option: savepoints kept per application.
pub const SAVEPOINT_HISTORY_MAX_COUNT: &str = "kubernetes.operator.savepoint.history.max.count";
/// The Flink Kubernetes Operator's option: how long savepoints are kept.
pub const SAVEPOINT_HISTORY_MAX_AGE: &str = "kubernetes.operator.savepoint.history.max.age";

/// The Flink Kubernetes Operator's option: take a savepoint this often
/// (`0` or absent: never).
pub const PERIODIC_SAVEPOINT_INTERVAL: &str = "kubernetes.operator.periodic.savepoint.interval";

/// The periodic savepoint interval an effective spec's configuration asks
/// for; `None` when absent, zero or unparsable (applications are validated,
/// environment defaults may not be).
pub fn periodic_savepoint_interval(conf: &Value) -> Option<std::time::Duration> {
    configuration_text(conf, PERIODIC_SAVEPOINT_INTERVAL)
        .and_then(|t| crate::duration::parse_flink_duration(&t))
        .filter(|d| !d.is_zero())
}

/// The Flink Kubernetes Operator's options of its cluster health check:
/// on (`true`), restarts allowed within a window before the job is
/// redeployed.
pub const HEALTH_CHECK_ENABLED: &str = "kubernetes.operator.cluster.health-check.enabled";
/// See [`HEALTH_CHECK_ENABLED`]; the operator's default is 64.
pub const HEALTH_CHECK_RESTARTS_THRESHOLD: &str =
    "kubernetes.operator.cluster.health-check.restarts.threshold";
/// See [`HEALTH_CHECK_ENABLED`]; the operator's default is 2 minutes.
pub const HEALTH_CHECK_RESTARTS_WINDOW: &str =
    "kubernetes.operator.cluster.health-check.restarts.window";

/// See [`HEALTH_CHECK_ENABLED`]: whether checkpoints that stop completing
/// make a job unhealthy too.
pub const HEALTH_CHECK_CHECKPOINT_PROGRESS_ENABLED: &str =
    "kubernetes.operator.cluster.health-check.checkpoint-progress.enabled";
/// See [`HEALTH_CHECK_CHECKPOINT_PROGRESS_ENABLED`]; the operator's default
/// is 5 minutes.
pub const HEALTH_CHECK_CHECKPOINT_PROGRESS_WINDOW: &str =
    "kubernetes.operator.cluster.health-check.checkpoint-progress.window";

/// The health check an application asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// More restarts than this within `restarts_window` is unhealthy.
    pub restarts_threshold: u64,
    /// The window restarts are counted in.
    pub restarts_window: std::time::Duration,
    /// No checkpoint completed for this long is unhealthy (when on).
    pub checkpoint_progress_window: Option<std::time::Duration>,
}

impl HealthCheck {
    /// The check an effective spec's configuration turns on; `None` when
    /// off (values that do not parse count as the defaults: applications
    /// are validated, environment defaults may not be).
    pub fn of(conf: &Value) -> Option<HealthCheck> {
        let on = configuration_text(conf, HEALTH_CHECK_ENABLED)
            .is_some_and(|t| t.eq_ignore_ascii_case("true"));
        on.then(|| HealthCheck {
            restarts_threshold: configuration_text(conf, HEALTH_CHECK_RESTARTS_THRESHOLD)
                .and_then(|t| t.parse().ok())
                .unwrap_or(64),
            restarts_window: configuration_text(conf, HEALTH_CHECK_RESTARTS_WINDOW)
                .and_then(|t| crate::duration::parse_flink_duration(&t))
                .unwrap_or(std::time::Duration::from_secs(120)),
            checkpoint_progress_window: configuration_text(
                conf,
                HEALTH_CHECK_CHECKPOINT_PROGRESS_ENABLED,
            )
            .is_some_and(|t| t.eq_ignore_ascii_case("true"))
            .then(|| {
                configuration_text(conf, HEALTH_CHECK_CHECKPOINT_PROGRESS_WINDOW)
                    .and_then(|t| crate::duration::parse_flink_duration(&t))
                    .unwrap_or(std::time::Duration::from_secs(300))
            }),
        })
    }
}

/// A value of `flinkConfiguration` as text (numbers and booleans as written).
pub fn configuration_text(conf: &Value, key: &str) -> Option<String> {
    conf.get(key).map(|v| match v {
        Value::String(s) => s.trim().to_owned(),
        other => other.to_string(),
    })
}

/// The savepoint history limits, the periodic interval and the health
/// check, when set, must parse as the operator parses them.
fn check_savepoint_options(conf: &Value) -> Result<(), Error> {
    if let Some(count) = configuration_text(conf, SAVEPOINT_HISTORY_MAX_COUNT) {
        if !count.parse::<u32>().is_ok_and(|n| n >= 1) {
            return Err(Error::invalid(
                format!("spec.flinkConfiguration.{SAVEPOINT_HISTORY_MAX_COUNT}"),
                format!("must be a positive integer, not '{count}'"),
            ));
        }
    }
    if let Some(age) = configuration_text(conf, SAVEPOINT_HISTORY_MAX_AGE) {
        if crate::duration::parse_flink_duration(&age).is_none() {
            return Err(Error::invalid(
                format!("spec.flinkConfiguration.{SAVEPOINT_HISTORY_MAX_AGE}"),
                format!("must be a duration such as '24h', '30 min' or '1d', not '{age}'"),
            ));
        }
    }
    for key in [
        HEALTH_CHECK_ENABLED,
        HEALTH_CHECK_CHECKPOINT_PROGRESS_ENABLED,
    ] {
        if let Some(on) = configuration_text(conf, key) {
            if !on.eq_ignore_ascii_case("true") && !on.eq_ignore_ascii_case("false") {
                return Err(Error::invalid(
                    format!("spec.flinkConfiguration.{key}"),
                    format!("must be 'true' or 'false', not '{on}'"),
                ));
            }
        }
    }
    if let Some(threshold) = configuration_text(conf, HEALTH_CHECK_RESTARTS_THRESHOLD) {
        if threshold.parse::<u64>().is_err() {
            return Err(Error::invalid(
                format!("spec.flinkConfiguration.{HEALTH_CHECK_RESTARTS_THRESHOLD}"),
                format!("must be a whole number of restarts, not '{threshold}'"),
            ));
        }
    }
    for key in [
        HEALTH_CHECK_RESTARTS_WINDOW,
        HEALTH_CHECK_CHECKPOINT_PROGRESS_WINDOW,
    ] {
        if let Some(window) = configuration_text(conf, key) {
            if crate::duration::parse_flink_duration(&window).is_none_or(|d| d.is_zero()) {
                return Err(Error::invalid(
                    format!("spec.flinkConfiguration.{key}"),
                    format!("must be a duration such as '2 min' or '30s', not '{window}'"),
                ));
            }
        }
    }
    if let Some(interval) = configuration_text(conf, PERIODIC_SAVEPOINT_INTERVAL) {
        if crate::duration::parse_flink_duration(&interval).is_none() {
            return Err(Error::invalid(
                format!("spec.flinkConfiguration.{PERIODIC_SAVEPOINT_INTERVAL}"),
                format!("must be a duration such as '1h' or '10 min' (0: off), not '{interval}'"),
            ));
        }
    }
    Ok(())
}

fn check_jar_uri(uri: &str) -> Result<(), Error> {
    let scheme = uri.split_once("://").map(|(s, _)| s);
    match scheme {
        Some("local") | Some("file") | Some("http") | Some("https") | Some("cmf") => Ok(()),
        _ => Err(Error::invalid(
            "spec.job.jarURI",
            format!("'{uri}' must be a local://, file://, http://, https:// or cmf:// URI"),
        )),
    }
}

fn positive_int(field: &str, v: &Value) -> Result<u64, Error> {
    match v.as_u64() {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(Error::invalid(
            field,
            format!("must be a positive integer, not {v}"),
        )),
    }
}

fn check_component(side: &str, v: &Value) -> Result<(), Error> {
    let Some(obj) = v.as_object() else {
        return Err(Error::invalid(format!("spec.{side}"), "must be an object"));
    };
    if let Some(replicas) = obj.get("replicas") {
        positive_int(&format!("spec.{side}.replicas"), replicas)?;
    }
    let Some(resource) = obj.get("resource") else {
        return Ok(());
    };
    let Some(resource) = resource.as_object() else {
        return Err(Error::invalid(
            format!("spec.{side}.resource"),
            "must be an object",
        ));
    };
    if let Some(memory) = resource.get("memory") {
        let ok = memory.as_str().and_then(parse_memory).is_some();
        if !ok {
            return Err(Error::invalid(
                format!("spec.{side}.resource.memory"),
                format!("must be a memory size such as '1024m' or '1g', not {memory}"),
            ));
        }
    }
    if let Some(cpu) = resource.get("cpu") {
        let ok = match cpu {
            Value::Number(n) => n.as_f64().map(|c| c > 0.0).unwrap_or(false),
            Value::String(s) => s.parse::<f64>().map(|c| c > 0.0).unwrap_or(false),
            _ => false,
        };
        if !ok {
            return Err(Error::invalid(
                format!("spec.{side}.resource.cpu"),
                format!("must be a positive number, not {cpu}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seed_spec() -> Value {
        json!({
            "image": "confluentinc/cp-flink:1.19.1-cp2",
            "flinkVersion": "v1_19",
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "1"},
            "serviceAccount": "flink",
            "jobManager": {"resource": {"memory": "1024m", "cpu": 1}},
            "taskManager": {"resource": {"memory": "1024m", "cpu": 1}},
            "job": {
                "jarURI": "local:///opt/flink/examples/streaming/StateMachineExample.jar",
                "state": "running", "parallelism": 3, "upgradeMode": "stateless"
            }
        })
    }

    #[test]
    fn the_seed_example_is_valid() {
        validate_spec(&seed_spec()).unwrap();
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("/job/upgradeMode", json!("rolling"), "spec.job.upgradeMode"),
            ("/job/state", json!("paused"), "spec.job.state"),
            ("/job/parallelism", json!(0), "spec.job.parallelism"),
            ("/job/parallelism", json!("3"), "spec.job.parallelism"),
            ("/job/jarURI", json!("s3://bucket/x.jar"), "spec.job.jarURI"),
            ("/job/jarURI", json!(5), "spec.job.jarURI"),
            (
                "/jobManager/resource/memory",
                json!("lots"),
                "spec.jobManager.resource.memory",
            ),
            (
                "/taskManager/resource/cpu",
                json!(-1),
                "spec.taskManager.resource.cpu",
            ),
            (
                "/taskManager",
                json!({"replicas": 0}),
                "spec.taskManager.replicas",
            ),
            (
                "/flinkConfiguration",
                json!({"a": {"b": 1}}),
                "spec.flinkConfiguration",
            ),
            (
                "/flinkConfiguration",
                json!({SAVEPOINT_HISTORY_MAX_COUNT: "0"}),
                "spec.flinkConfiguration.kubernetes.operator.savepoint.history.max.count",
            ),
            (
                "/flinkConfiguration",
                json!({SAVEPOINT_HISTORY_MAX_AGE: "a while"}),
                "spec.flinkConfiguration.kubernetes.operator.savepoint.history.max.age",
            ),
            (
                "/flinkConfiguration",
                json!({PERIODIC_SAVEPOINT_INTERVAL: "hourly"}),
                "spec.flinkConfiguration.kubernetes.operator.periodic.savepoint.interval",
            ),
            (
                "/flinkConfiguration",
                json!({HEALTH_CHECK_ENABLED: "yes"}),
                "spec.flinkConfiguration.kubernetes.operator.cluster.health-check.enabled",
            ),
            (
                "/flinkConfiguration",
                json!({HEALTH_CHECK_RESTARTS_THRESHOLD: "-1"}),
                "spec.flinkConfiguration.kubernetes.operator.cluster.health-check.restarts.threshold",
            ),
            (
                "/flinkConfiguration",
                json!({HEALTH_CHECK_RESTARTS_WINDOW: "0s"}),
                "spec.flinkConfiguration.kubernetes.operator.cluster.health-check.restarts.window",
            ),
            (
                "/flinkConfiguration",
                json!({HEALTH_CHECK_CHECKPOINT_PROGRESS_WINDOW: "soon"}),
                "spec.flinkConfiguration.kubernetes.operator.cluster.health-check.checkpoint-progress.window",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut spec = seed_spec();
            *spec.pointer_mut(pointer).unwrap() = value;
            match validate_spec(&spec) {
                Err(Error::Invalid { field: f, .. }) => assert_eq!(f, field, "{pointer}"),
                other => panic!("{pointer}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("1024m"), Some(1024 * 1024 * 1024));
        assert_eq!(parse_memory("1g"), Some(1024 * 1024 * 1024));
        assert_eq!(parse_memory("1Gi"), Some(1024 * 1024 * 1024));
        assert_eq!(parse_memory("512 mb"), Some(512 * 1024 * 1024));
        assert_eq!(parse_memory("lots"), None);
        assert_eq!(parse_memory("0m"), None);
    }
}

/// The spec drey deploys: the application's spec with the environment's
/// `flinkApplicationDefaults.spec` merged over it (CMF semantics: the
/// environment's values win).
pub fn effective_spec(spec: &Value, env_defaults: Option<&Value>) -> Value {
    let mut merged = spec.clone();
    if let Some(defaults) = env_defaults.and_then(|d| d.get("spec")) {
        crate::json::deep_merge(&mut merged, defaults);
    }
    merged
}

/// A stable fingerprint of what a deployment runs: the effective spec
/// without the fields that do not need a new deployment (`job.state`,
/// `job.savepointTriggerNonce`). A change of fingerprint is an upgrade.
pub fn fingerprint(effective: &Value) -> String {
    let mut v = effective.clone();
    if let Some(job) = v.get_mut("job").and_then(Value::as_object_mut) {
        job.remove("state");
        job.remove("savepointTriggerNonce");
        job.remove("maxJobCreationAttempts");
        job.remove("maxSavepointCreationAttempts");
    }
    let canonical = canonical_json(&v);
    format!("{:016x}", fnv1a(canonical.as_bytes()))
}

fn canonical_json(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", parts.join(","))
        }
        other => other.to_string(),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The shape of the Flink cluster an application needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterShape {
    /// Number of TaskManagers.
    pub task_managers: u32,
    /// Slots per TaskManager.
    pub slots: u32,
    /// JobManager process memory in MiB.
    pub jobmanager_mb: u64,
    /// TaskManager process memory in MiB.
    pub taskmanager_mb: u64,
    /// Job parallelism.
    pub parallelism: u32,
    /// `flinkConfiguration`, values as strings.
    pub flink_configuration: std::collections::BTreeMap<String, String>,
}

/// Sizes the cluster from a (validated) effective spec: `taskManager.replicas`
/// when given, else enough TaskManagers for `job.parallelism` at
/// `taskmanager.numberOfTaskSlots` slots each.
pub fn cluster_shape(spec: &Value, default_jm_mb: u64, default_tm_mb: u64) -> ClusterShape {
    let flink_configuration = crate::json::string_map(spec.get("flinkConfiguration"));
    let slots = flink_configuration
        .get("taskmanager.numberOfTaskSlots")
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1);
    let parallelism = crate::json::get_path(spec, "job.parallelism")
        .and_then(Value::as_u64)
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(1)
        .max(1);
    let task_managers = crate::json::get_path(spec, "taskManager.replicas")
        .and_then(Value::as_u64)
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or_else(|| parallelism.div_ceil(slots))
        .max(1);
    let memory_mb = |path: &str, default: u64| {
        crate::json::get_path(spec, path)
            .and_then(Value::as_str)
            .and_then(parse_memory)
            .map(|b| b / (1024 * 1024))
            .unwrap_or(default)
    };
    ClusterShape {
        task_managers,
        slots,
        jobmanager_mb: memory_mb("jobManager.resource.memory", default_jm_mb),
        taskmanager_mb: memory_mb("taskManager.resource.memory", default_tm_mb),
        parallelism,
        flink_configuration,
    }
}

#[cfg(test)]
mod deploy_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn environment_defaults_win() {
        let spec =
            json!({"flinkConfiguration": {"a": "1", "b": "2"}, "job": {"jarURI": "file:///x.jar"}});
        let defaults = json!({"spec": {"flinkConfiguration": {"a": "9"}}});
        let eff = effective_spec(&spec, Some(&defaults));
        assert_eq!(eff["flinkConfiguration"], json!({"a": "9", "b": "2"}));
    }

    #[test]
    fn fingerprint_ignores_state_and_key_order() {
        let a =
            json!({"job": {"jarURI": "x", "state": "running", "parallelism": 1}, "z": 1, "a": 2});
        let b =
            json!({"a": 2, "z": 1, "job": {"parallelism": 1, "jarURI": "x", "state": "suspended"}});
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let c = json!({"a": 2, "z": 1, "job": {"parallelism": 2, "jarURI": "x"}});
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }

    #[test]
    fn shape_from_parallelism_and_slots() {
        let spec = json!({"flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
                          "taskManager": {"resource": {"memory": "1g"}}, "job": {"parallelism": 3}});
        let s = cluster_shape(&spec, 768, 1024);
        assert_eq!(
            (s.task_managers, s.slots, s.taskmanager_mb, s.jobmanager_mb),
            (2, 2, 1024, 768)
        );
        let spec = json!({"taskManager": {"replicas": 4}, "job": {"parallelism": 1}});
        assert_eq!(cluster_shape(&spec, 768, 1024).task_managers, 4);
    }
}
