//! Admission of local clusters by memory: a cluster is launched only when
//! its processes' configured sizes fit in what is left of the budget (the
//! sizes of every cluster of this data dir that has a live process count as
//! taken, so a burst of creations starts clusters only while they fit) and
//! in the memory the machine has available now. What does not fit waits.

use crate::local::{ClusterSpec, LocalBackend};
use drey_model::application::parse_memory;
use procfs::Current;

const MIB: u64 = 1024 * 1024;

/// The memory a cluster's processes are configured to take, MiB.
pub fn cluster_mb(spec: &ClusterSpec) -> u64 {
    let mb = |size: &str| parse_memory(size).map_or(0, |b| b.div_ceil(MIB));
    mb(&spec.jobmanager_memory)
        + u64::from(spec.task_managers).saturating_mul(mb(&spec.taskmanager_memory))
}

/// The default memory for Flink clusters: 80 % of a machine of `total`
/// bytes.
fn default_budget_mb(total: u64) -> u64 {
    total / MIB * 8 / 10
}

/// The MiB of memory the Flink clusters of this machine may take: `configured`
/// (`--cluster-memory-budget-mb`), else 80 % of the machine's memory.
pub fn cluster_memory_budget_mb(configured: Option<u64>) -> Result<u64, String> {
    if let Some(mb) = configured {
        return Ok(mb);
    }
    let meminfo =
        procfs::Meminfo::current().map_err(|e| format!("cannot read the machine's memory: {e}"))?;
    Ok(default_budget_mb(meminfo.mem_total))
}

impl LocalBackend {
    /// Whether `spec` may be launched now; `Err` says why it waits, in
    /// words stable while nothing changes (the caller records them).
    pub async fn admit(&self, spec: &ClusterSpec) -> Result<(), String> {
        let listed = self
            .list()
            .await
            .map_err(|e| format!("cannot list the running clusters: {e}"))?;
        let others: Vec<_> = listed
            .iter()
            .filter(|c| c.live_processes > 0 && c.record.id != spec.id)
            .collect();
        let taken: u64 = others.iter().map(|c| cluster_mb(&c.record.spec)).sum();
        let need = cluster_mb(spec);
        let meminfo = procfs::Meminfo::current()
            .map_err(|e| format!("cannot read the machine's memory: {e}"))?;
        let budget = self
            .memory_budget_mb
            .unwrap_or(default_budget_mb(meminfo.mem_total));
        if taken + need > budget {
            return Err(format!(
                "waiting for memory: cluster {} needs {need} MiB; {taken} MiB of the {budget} MiB \
                 for Flink clusters are taken by {} running clusters",
                spec.id,
                others.len()
            ));
        }
        if let Some(available) = meminfo.mem_available.map(|b| b / MIB) {
            if need > available {
                return Err(format!(
                    "waiting for memory: cluster {} needs {need} MiB; the machine has {available} \
                     MiB available",
                    spec.id
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_takes_its_jobmanager_and_every_taskmanager() {
        let mut spec = ClusterSpec::new("c");
        spec.jobmanager_memory = "768m".into();
        spec.taskmanager_memory = "1g".into();
        spec.task_managers = 3;
        assert_eq!(cluster_mb(&spec), 768 + 3 * 1024);
    }
}
