//! Quotas: what one Flink cluster takes (clusters, task slots, memory, CPU),
//! the limits an organization or an environment may not go past, and the
//! check that compares them. The core sums usage and decides; dialects only
//! render the [`Error::QuotaExceeded`] it answers.

use crate::application::cluster_shape;
use crate::json::get_path;
use crate::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// JobManager memory of a cluster whose spec names none, MiB (the local
/// backend's default; quotas count what it would start).
pub const DEFAULT_JOBMANAGER_MB: u64 = 768;
/// TaskManager memory of a cluster whose spec names none, MiB.
pub const DEFAULT_TASKMANAGER_MB: u64 = 1024;
/// CPU units of a JobManager or TaskManager whose spec names none (CMF's
/// `resource.cpu`).
pub const DEFAULT_CPU: f64 = 1.0;

/// What Flink clusters take, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Number of clusters.
    pub clusters: u64,
    /// Task slots of their TaskManagers.
    pub task_slots: u64,
    /// Process memory of their JobManagers and TaskManagers, MiB.
    pub memory_mb: u64,
    /// CPU units of their JobManagers and TaskManagers.
    pub cpu: f64,
}

impl Usage {
    /// What the cluster an application-like effective spec asks for takes
    /// (`jobManager`, `taskManager`, `flinkConfiguration`, `job.parallelism`;
    /// the same sizing rule the local backend starts it with).
    pub fn of_cluster(spec: &Value) -> Usage {
        let shape = cluster_shape(spec, DEFAULT_JOBMANAGER_MB, DEFAULT_TASKMANAGER_MB);
        let cpu = |path: &str| {
            get_path(spec, path)
                .and_then(Value::as_f64)
                .filter(|c| c.is_finite() && *c >= 0.0)
                .unwrap_or(DEFAULT_CPU)
        };
        let tms = u64::from(shape.task_managers);
        Usage {
            clusters: 1,
            task_slots: tms * u64::from(shape.slots),
            memory_mb: shape.jobmanager_mb + tms * shape.taskmanager_mb,
            cpu: cpu("jobManager.resource.cpu") + tms as f64 * cpu("taskManager.resource.cpu"),
        }
    }

    /// The sum of two usages.
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            clusters: self.clusters + other.clusters,
            task_slots: self.task_slots + other.task_slots,
            memory_mb: self.memory_mb + other.memory_mb,
            cpu: self.cpu + other.cpu,
        }
    }
}

/// Limits of an organization or an environment; an absent field has the
/// server's default (which may be none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Most clusters at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clusters: Option<u64>,
    /// Most task slots at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_slots: Option<u64>,
    /// Most process memory, MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Most CPU units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
}

impl Limits {
    /// Reads limits a client sent under `field`: a JSON object of
    /// non-negative numbers (`null` or absent fields: the default).
    pub fn parse(field: &str, value: &Value) -> Result<Limits, Error> {
        let limits: Limits = serde_json::from_value(value.clone()).map_err(|e| {
            Error::invalid(
                field,
                format!(
                    "must be an object of clusters, taskSlots, memoryMb (non-negative integers) \
                     and cpu (a non-negative number): {e}"
                ),
            )
        })?;
        if limits.cpu.is_some_and(|c| !c.is_finite() || c < 0.0) {
            return Err(Error::invalid(
                format!("{field}.cpu"),
                "must be a non-negative number",
            ));
        }
        Ok(limits)
    }

    /// These limits, each field not set taken from `defaults`.
    pub fn or(self, defaults: Limits) -> Limits {
        Limits {
            clusters: self.clusters.or(defaults.clusters),
            task_slots: self.task_slots.or(defaults.task_slots),
            memory_mb: self.memory_mb.or(defaults.memory_mb),
            cpu: self.cpu.or(defaults.cpu),
        }
    }

    /// Defaults for a machine of `memory_mb` MiB for Flink clusters and
    /// `cores` CPU cores: the memory itself; as many clusters as the
    /// smallest default cluster (one JobManager, one TaskManager) fits in
    /// it; four CPU units per core (Flink processes mostly wait, so a core
    /// serves several); four task slots per CPU unit of that.
    pub fn for_machine(memory_mb: u64, cores: u64) -> Limits {
        let cores = cores.max(1);
        Limits {
            clusters: Some((memory_mb / (DEFAULT_JOBMANAGER_MB + DEFAULT_TASKMANAGER_MB)).max(1)),
            task_slots: Some(16 * cores),
            memory_mb: Some(memory_mb),
            cpu: Some(4.0 * cores as f64),
        }
    }

    /// Refuses `need` on top of `used` when it goes past a limit; the error
    /// names `scope` (e.g. `environment 'dev'`) and the limit.
    pub fn admit(&self, scope: &str, used: Usage, need: Usage) -> Result<(), Error> {
        let after = used.plus(need);
        let over = |limit: &'static str, max: String, used: String, need: String| {
            Err(Error::QuotaExceeded {
                limit,
                message: format!(
                    "{scope} may use at most {max} {limit}; {used} are in use and this needs {need} more"
                ),
            })
        };
        if let Some(max) = self.clusters.filter(|m| after.clusters > *m) {
            return over(
                "clusters",
                max.to_string(),
                used.clusters.to_string(),
                need.clusters.to_string(),
            );
        }
        if let Some(max) = self.task_slots.filter(|m| after.task_slots > *m) {
            return over(
                "taskSlots",
                max.to_string(),
                used.task_slots.to_string(),
                need.task_slots.to_string(),
            );
        }
        if let Some(max) = self.memory_mb.filter(|m| after.memory_mb > *m) {
            return over(
                "memoryMb",
                max.to_string(),
                used.memory_mb.to_string(),
                need.memory_mb.to_string(),
            );
        }
        if let Some(max) = self.cpu.filter(|m| after.cpu > *m + 1e-9) {
            return over(
                "cpu",
                Cpu(max).to_string(),
                Cpu(used.cpu).to_string(),
                Cpu(need.cpu).to_string(),
            );
        }
        Ok(())
    }
}

/// CPU units as people write them (`2`, `1.5`).
struct Cpu(f64);

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounded = (self.0 * 1000.0).round() / 1000.0;
        write!(f, "{rounded}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cluster_takes_its_jobmanager_and_taskmanagers() {
        let spec = json!({
            "flinkConfiguration": {"taskmanager.numberOfTaskSlots": "2"},
            "jobManager": {"resource": {"memory": "1g", "cpu": 0.5}},
            "taskManager": {"resource": {"memory": "2g", "cpu": 2}},
            "job": {"parallelism": 3}
        });
        let u = Usage::of_cluster(&spec);
        assert_eq!(
            (u.clusters, u.task_slots, u.memory_mb),
            (1, 4, 1024 + 2 * 2048)
        );
        assert!((u.cpu - 4.5).abs() < 1e-9);
        let d = Usage::of_cluster(&json!({}));
        assert_eq!((d.task_slots, d.memory_mb), (1, 1792));
        assert!((d.cpu - 2.0).abs() < 1e-9);
    }

    #[test]
    fn the_first_limit_passed_is_named() {
        let limits = Limits {
            clusters: Some(2),
            memory_mb: Some(10_000),
            ..Limits::default()
        };
        let one = Usage::of_cluster(&json!({}));
        assert!(limits.admit("environment 'e'", one, one).is_ok());
        let err = limits
            .admit("environment 'e'", one.plus(one), one)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::QuotaExceeded {
                    limit: "clusters",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("environment 'e' may use at most 2 clusters"),
            "{err}"
        );
        let big = Usage {
            memory_mb: 9000,
            ..one
        };
        let err = limits.admit("organization 'o'", one, big).unwrap_err();
        assert!(
            matches!(
                err,
                Error::QuotaExceeded {
                    limit: "memoryMb",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn limits_are_read_strictly_and_defaults_fill_the_rest() {
        let l = Limits::parse("limits", &json!({"clusters": 3, "cpu": 1.5})).unwrap();
        assert_eq!(l.clusters, Some(3));
        assert!(Limits::parse("limits", &json!({"clusters": -1})).is_err());
        assert!(Limits::parse("limits", &json!({"cluster": 1})).is_err());
        assert!(Limits::parse("limits", &json!({"cpu": -1})).is_err());
        let machine = Limits::for_machine(19_000, 2);
        assert_eq!(machine.clusters, Some(10));
        assert_eq!(l.or(machine).memory_mb, Some(19_000));
        assert_eq!(l.or(machine).clusters, Some(3));
    }
}
