//! The Flink options drey owns: the one list, and the one check every
//! `flinkConfiguration` (and statement `properties`) a user writes passes.
//!
//! Why: drey runs every cluster on its own host, next to drey's data dir and
//! the other tenants' clusters. The options below decide where a cluster
//! listens (ports, bind addresses), where it reads and writes on disk (temp,
//! upload, checkpoint and savepoint dirs, logs, pid files), how its REST and
//! RPC endpoints are secured (`security.*`), and how its JVMs start
//! (`env.*`: JVM options, Java home). A user value for any of them could
//! bind a public port, point a cluster at drey's data dir or another
//! environment's state, or run arbitrary JVM agents; so drey sets them and a
//! user cannot. A write naming one is refused (422 naming the key, or the
//! dialect's status for invalid content), and the local runtime never lets a
//! value from a cluster spec override its own (defence in depth).
//!
//! Everything else (slots, memory, checkpoint interval, restart strategy,
//! `kubernetes.operator.savepoint.history.*`, `pipeline.*`, `table.*`, …)
//! stays the user's.

use crate::error::Error;
use serde_json::Value;

/// Options drey owns, by exact name (compared case-insensitively, trimmed).
pub const OWNED_KEYS: &[&str] = &[
    // Where the JobManager and TaskManagers listen and are reached.
    "rest.port",
    "rest.bind-port",
    "rest.address",
    "rest.bind-address",
    "web.port",
    "jobmanager.rpc.port",
    "jobmanager.rpc.bind-port",
    "jobmanager.rpc.address",
    "jobmanager.bind-host",
    "blob.server.port",
    "taskmanager.rpc.port",
    "taskmanager.rpc.bind-port",
    "taskmanager.data.port",
    "taskmanager.data.bind-port",
    "taskmanager.host",
    "taskmanager.bind-host",
    "metrics.internal.query-service.port",
    "queryable-state.proxy.ports",
    "queryable-state.server.ports",
    // Where a cluster reads and writes on drey's disk.
    "io.tmp.dirs",
    "taskmanager.tmp.dirs",
    "web.tmpdir",
    "web.upload.dir",
    "blob.storage.directory",
    "taskmanager.state.local.root-dirs",
    "process.working-dir",
    "process.jobmanager.working-dir",
    "process.taskmanager.working-dir",
    "execution.checkpointing.dir",
    "execution.checkpointing.savepoint-dir",
    "state.checkpoints.dir",
    "state.savepoints.dir",
    "high-availability",
    // Per-query table options could point a filesystem table anywhere
    // (the SQL gateway confines paths named in DDL).
    "table.dynamic-table-options.enabled",
];

/// Options drey owns, by prefix: all of `security.*` (SSL, Kerberos,
/// delegation tokens), `env.*` (JVM options, Java home, log and pid dirs:
/// read by Flink's start scripts), `high-availability.*` (drey recovers
/// clusters itself; HA storage is a directory), `drey.*` (drey's own
/// markers: the cluster id, the paths a SQL session may name).
pub const OWNED_PREFIXES: &[&str] = &["security.", "env.", "high-availability.", "drey."];

/// Options the control plane sets per application through the cluster spec
/// (the runtime takes them from there): owned by drey, but not by the runtime.
pub const STATE_LOCATIONS: &[&str] = &[
    "execution.checkpointing.dir",
    "execution.checkpointing.savepoint-dir",
];

/// Whether drey owns the Flink option `key`.
pub fn is_drey_owned(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    OWNED_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&key))
        || OWNED_PREFIXES.iter().any(|p| key.starts_with(p))
        || is_reporter_endpoint(&key)
}

/// `metrics.reporter.<name>.port` / `.host`: a reporter (Prometheus, JMX)
/// listening on a port of drey's host.
fn is_reporter_endpoint(key: &str) -> bool {
    key.strip_prefix("metrics.reporter.")
        .is_some_and(|rest| rest.ends_with(".port") || rest.ends_with(".host"))
}

/// Whether `key` is a state location the control plane sets (see
/// [`STATE_LOCATIONS`]).
pub fn is_state_location(key: &str) -> bool {
    STATE_LOCATIONS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(key.trim()))
}

/// Refuses a user's configuration map (at `field`, e.g.
/// `spec.flinkConfiguration`) that sets an option drey owns, naming the key.
/// Anything that is not a map is left to the caller's shape checks.
pub fn check_user_configuration(field: &str, conf: &Value) -> Result<(), Error> {
    let Some(map) = conf.as_object() else {
        return Ok(());
    };
    match map.keys().find(|k| is_drey_owned(k)) {
        Some(key) => Err(Error::invalid(
            format!("{field}.{key}"),
            format!(
                "'{key}' is set by drey and cannot be set by users (drey owns the \
                 cluster's ports, addresses, directories, security.* and env.* options)"
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owned_and_free_keys() {
        for key in [
            "rest.port",
            " REST.BIND-ADDRESS ",
            "jobmanager.rpc.port",
            "security.ssl.rest.enabled",
            "security.kerberos.login.keytab",
            "env.java.opts.all",
            "env.java.opts",
            "env.java.home",
            "env.log.dir",
            "high-availability.storageDir",
            "high-availability.type",
            "execution.checkpointing.dir",
            "state.savepoints.dir",
            "metrics.reporter.prom.port",
            "drey.cluster-id",
        ] {
            assert!(is_drey_owned(key), "{key}");
        }
        for key in [
            "taskmanager.numberOfTaskSlots",
            "taskmanager.memory.process.size",
            "execution.checkpointing.interval",
            "kubernetes.operator.savepoint.history.max.count",
            "restart-strategy.type",
            "rest.flamegraph.enabled",
            "metrics.reporter.slf4j.interval",
            "pipeline.name",
            "environment",
        ] {
            assert!(!is_drey_owned(key), "{key}");
        }
    }

    #[test]
    fn the_check_names_the_key() {
        let conf = json!({"taskmanager.numberOfTaskSlots": "2", "rest.port": "80"});
        match check_user_configuration("spec.flinkConfiguration", &conf) {
            Err(Error::Invalid { field, message }) => {
                assert_eq!(field, "spec.flinkConfiguration.rest.port");
                assert!(message.contains("'rest.port'"), "{message}");
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
        let free = json!({"taskmanager.numberOfTaskSlots": "2"});
        assert!(check_user_configuration("spec.flinkConfiguration", &free).is_ok());
        assert!(check_user_configuration("x", &json!("not a map")).is_ok());
    }
}
