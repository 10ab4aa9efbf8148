//! The local backend: Flink session clusters as processes on this machine.
//!
//! Each cluster lives in `<data-dir>/clusters/<id>/`:
//!
//! ```text
//! cluster.json   pids, process start times, ports, dirs (written atomically)
//! conf/          FLINK_CONF_DIR: config.yaml + the distribution's log4j/logback files
//! log/<ident>/   FLINK_LOG_DIR of each process (`jobmanager`, `taskmanager-<n>`):
//!                <ident>.out (stdout/stderr) and Flink's flink-<ident>-*.log
//! checkpoints/   execution.checkpointing.dir
//! savepoints/    execution.checkpointing.savepoint-dir
//! uploads/       web.upload.dir (uploaded jars survive a drey restart)
//! tmp/           io.tmp.dirs, web.tmpdir
//! pid/           FLINK_PID_DIR (used by Flink's scripts only)
//! ```
//!
//! Every process runs `bin/jobmanager.sh start-foreground` or `bin/taskmanager.sh
//! start-foreground` (which `exec` the JVM, so the pid drey records is the JVM's) in its own
//! session (`setsid`), with stdin from /dev/null and output to its log file, so it outlives
//! drey. A process is only ever signalled after checking, in `/proc/<pid>`, that its start
//! time and command line (which contains the cluster directory) are the ones recorded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use drey_flink::{ClientConfig, FlinkClient};
use drey_model::flink_options;
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value as Yaml;
use tokio::process::{Child, Command};

use crate::error::RuntimeError;
use crate::home::FlinkHome;
use crate::network::{self, ClusterNetwork, NetworkRecord};
use crate::process::{
    boot_id, free_ports, group_has_live_members, is_same_live_process, port_is_free, proc_cmdline,
    proc_stat, signal_group, tail, write_atomic,
};
use crate::registry::{same_rest_url, ClusterRegistry, RecordedCluster};
use crate::sandbox::{self, Isolation, Mounts};
use crate::tls::{self, ClientTls};
use std::sync::Arc;

/// What to start: one JobManager and `task_managers` TaskManagers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// Cluster id: 1-64 characters of `[A-Za-z0-9._-]`, not starting with `.`; names the
    /// cluster's directory.
    pub id: String,
    /// Number of TaskManager processes.
    pub task_managers: u32,
    /// Task slots per TaskManager (`taskmanager.numberOfTaskSlots`).
    pub slots_per_task_manager: u32,
    /// `jobmanager.memory.process.size`, e.g. `768m`.
    pub jobmanager_memory: String,
    /// `taskmanager.memory.process.size`, e.g. `1024m`.
    pub taskmanager_memory: String,
    /// Extra Flink configuration. drey-owned options (ports, addresses, directories,
    /// `security.*`, `env.*`) are ignored, except the checkpoint and savepoint directories.
    pub flink_configuration: BTreeMap<String, String>,
    /// Directories outside the cluster's own that its processes read and write (the state
    /// of the jobs it runs), besides the checkpoint and savepoint directories named in
    /// `flink_configuration`; created when missing. Nothing else outside the cluster's
    /// directory is visible to a sandboxed cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub state_dirs: Vec<PathBuf>,
    /// State its jobs restore from (a savepoint or checkpoint directory), visible read-only
    /// to a sandboxed cluster when it lies in the data dir's `checkpoints/` or
    /// `savepoints/`; nothing else of the machine is shown this way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restore_dirs: Vec<PathBuf>,
    /// What the cluster is for (`application default/env/app`), as recorded
    /// and shown; `None` when nobody said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl ClusterSpec {
    /// drey's default JobManager process size. Flink 2.3 starts with 640m (a 64 MiB heap);
    /// 768m gives a 192 MiB heap, enough for jar submission and several small jobs.
    pub const DEFAULT_JOBMANAGER_MEMORY: &'static str = "768m";
    /// drey's default TaskManager process size. Measured minimums on Flink 2.3: 1024m with
    /// Flink's default managed-memory fraction (0.4; 896m fails), 832m with the 0.1 fraction
    /// drey sets by default (768m fails). 1024m leaves the task heap ~200 MiB.
    pub const DEFAULT_TASKMANAGER_MEMORY: &'static str = "1024m";

    /// A small cluster: one TaskManager with two slots and the default memory sizes.
    pub fn new(id: impl Into<String>) -> Self {
        ClusterSpec {
            id: id.into(),
            task_managers: 1,
            slots_per_task_manager: 2,
            jobmanager_memory: Self::DEFAULT_JOBMANAGER_MEMORY.to_string(),
            taskmanager_memory: Self::DEFAULT_TASKMANAGER_MEMORY.to_string(),
            flink_configuration: BTreeMap::new(),
            state_dirs: Vec::new(),
            restore_dirs: Vec::new(),
            owner: None,
        }
    }

    fn validate(&self) -> Result<(), RuntimeError> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= 64
            && !self.id.starts_with('.')
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !id_ok {
            return Err(RuntimeError::InvalidSpec(format!(
                "id {:?} must be 1-64 characters of [A-Za-z0-9._-], not starting with '.'",
                self.id
            )));
        }
        if self.task_managers == 0 || self.task_managers > 64 {
            return Err(RuntimeError::InvalidSpec(
                "task_managers must be between 1 and 64".to_string(),
            ));
        }
        if self.slots_per_task_manager == 0 {
            return Err(RuntimeError::InvalidSpec(
                "slots_per_task_manager must be at least 1".to_string(),
            ));
        }
        for (name, v) in [
            ("jobmanager_memory", &self.jobmanager_memory),
            ("taskmanager_memory", &self.taskmanager_memory),
        ] {
            if v.trim().is_empty() {
                return Err(RuntimeError::InvalidSpec(format!(
                    "{name} must not be empty"
                )));
            }
        }
        Ok(())
    }
}

/// Which Flink process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProcessRole {
    /// The JobManager (standalone session entrypoint).
    Jobmanager,
    /// A TaskManager (task executor).
    Taskmanager,
}

/// One recorded Flink process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// JobManager or TaskManager.
    pub role: ProcessRole,
    /// 0 for the JobManager; the TaskManager's index.
    pub index: u32,
    /// Process id of the JVM.
    pub pid: u32,
    /// The process group (and session) the process is in: the sandbox's outermost process
    /// when sandboxed; `None` when it is `pid` itself (unsandboxed, or an older drey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgid: Option<u32>,
    /// Start time from `/proc/<pid>/stat` (clock ticks after boot).
    pub start_time: u64,
    /// RPC port (TaskManagers; the JobManager's is in the record).
    pub rpc_port: Option<u16>,
    /// Data port (TaskManagers).
    pub data_port: Option<u16>,
    /// The port of the process's Prometheus reporter ([`METRICS_REPORTER`]);
    /// `None` in records of an older drey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<u16>,
    /// `FLINK_IDENT_STRING`; names the process's log files.
    pub ident: String,
    /// File receiving the process's stdout and stderr.
    pub stdout_log: PathBuf,
}

impl ProcessRecord {
    /// The process group to signal.
    pub fn group(&self) -> u32 {
        self.pgid.unwrap_or(self.pid)
    }
}

/// The name of the Prometheus reporter drey enables in every cluster it
/// starts (Flink's bundled `flink-metrics-prometheus` plugin), so a
/// Prometheus finds each process's full metric set through drey's service
/// discovery. Its port is drey's to pick (`metrics.reporter.*.port` is a
/// drey-owned option).
pub const METRICS_REPORTER: &str = "drey_prom";

const REPORTER_PORT_KEY: &str = "metrics.reporter.drey_prom.port";

/// The options that enable [`METRICS_REPORTER`] on `port` (the
/// JobManager's; each TaskManager gets its own with `-D`).
fn reporter_options(port: u16) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            format!("metrics.reporter.{METRICS_REPORTER}.factory.class"),
            "org.apache.flink.metrics.prometheus.PrometheusReporterFactory".to_owned(),
        ),
        (REPORTER_PORT_KEY.to_owned(), port.to_string()),
    ])
}

/// What `<cluster dir>/cluster.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRecord {
    /// Format version of this file.
    pub format: u32,
    /// Cluster id.
    pub id: String,
    /// The Flink distribution the processes run.
    pub flink_home: PathBuf,
    /// The cluster directory.
    pub cluster_dir: PathBuf,
    /// `rest.port`.
    pub rest_port: u16,
    /// `jobmanager.rpc.port`.
    pub rpc_port: u16,
    /// `blob.server.port`.
    pub blob_port: u16,
    /// Kernel boot id when the processes were started (start times are per boot).
    pub boot_id: String,
    /// When the cluster was started, epoch milliseconds.
    pub started_at_ms: u64,
    /// The spec it was started with.
    pub spec: ClusterSpec,
    /// The processes, JobManager first.
    pub processes: Vec<ProcessRecord>,
    /// Whether the REST endpoint speaks TLS with mutual authentication (and internal
    /// connections TLS): every cluster this drey starts; `false` in the records of clusters
    /// an older drey started, which are adopted as they are.
    #[serde(default)]
    pub tls: bool,
    /// How the processes are isolated (`None` in records of an older drey: not at all).
    #[serde(default)]
    pub isolation: Option<Isolation>,
    /// The host that runs the processes (drey's `--host-id`); `None` in records of an
    /// older drey, whose clusters ran on the host that reads the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The address the REST API binds and advertises (`--cluster-rest-address`); `None`
    /// in records of an older drey: 127.0.0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_address: Option<String>,
    /// The cluster's network namespace; `None`: the processes use the host's network
    /// (`--cluster-network host`, no sandbox, or a record of an older drey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkRecord>,
}

impl ClusterRecord {
    /// The REST base URL: `https://<rest address>:<port>` (or `http://` for a cluster
    /// started without TLS by an older drey).
    pub fn rest_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let address = self.rest_address.as_deref().unwrap_or(LOOPBACK);
        let host = if address.contains(':') {
            format!("[{address}]")
        } else {
            address.to_owned()
        };
        format!("{scheme}://{host}:{}", self.rest_port)
    }

    /// Whether the processes run on host `here` (a record without a host is from an
    /// older drey, which ran its clusters where its data dir is).
    pub fn runs_on(&self, here: &str) -> bool {
        self.host.as_deref().is_none_or(|h| h == here)
    }
}

/// Where a cluster's REST API listens unless drey is told otherwise.
pub const LOOPBACK: &str = "127.0.0.1";

/// The directories of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDirs {
    /// `<data-dir>/clusters/<id>`.
    pub root: PathBuf,
    /// `FLINK_CONF_DIR`.
    pub conf: PathBuf,
    /// Parent of each process's `FLINK_LOG_DIR` (`log/<ident>/`).
    pub log: PathBuf,
    /// `execution.checkpointing.dir`.
    pub checkpoints: PathBuf,
    /// `execution.checkpointing.savepoint-dir`.
    pub savepoints: PathBuf,
    /// `web.upload.dir`.
    pub uploads: PathBuf,
    /// `io.tmp.dirs`, `web.tmpdir`.
    pub tmp: PathBuf,
    /// `FLINK_PID_DIR`.
    pub pid: PathBuf,
}

impl ClusterDirs {
    fn new(root: PathBuf) -> Self {
        ClusterDirs {
            conf: root.join("conf"),
            log: root.join("log"),
            checkpoints: root.join("checkpoints"),
            savepoints: root.join("savepoints"),
            uploads: root.join("uploads"),
            tmp: root.join("tmp"),
            pid: root.join("pid"),
            root,
        }
    }

    /// `cluster.json`.
    pub fn record_file(&self) -> PathBuf {
        self.root.join("cluster.json")
    }

    fn create(&self) -> Result<(), RuntimeError> {
        for d in [
            &self.conf,
            &self.log,
            &self.checkpoints,
            &self.savepoints,
            &self.uploads,
            &self.tmp,
            &self.pid,
        ] {
            std::fs::create_dir_all(d).map_err(|e| RuntimeError::io("cannot create", d, e))?;
        }
        Ok(())
    }
}

/// A cluster found by [`LocalBackend::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCluster {
    /// Its record.
    pub record: ClusterRecord,
    /// Whether every recorded process is still the live process drey started.
    pub alive: bool,
    /// How many recorded processes are still alive (0: a stale record).
    pub live_processes: usize,
}

/// Starts, adopts, lists and stops local Flink clusters under one data directory.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    home: FlinkHome,
    data_dir: PathBuf,
    /// Where jobs' savepoints and checkpoints go; the data dir when `None`.
    state_dir: Option<PathBuf>,
    client_config: ClientConfig,
    /// MiB the clusters of this data dir may take in all; `None`: 80 % of the machine.
    pub(crate) memory_budget_mb: Option<u64>,
    /// How the clusters' processes are isolated.
    isolation: Isolation,
    /// Directories every sandboxed cluster reads and writes besides its own.
    shared_dirs: Vec<PathBuf>,
    /// Where cluster records are kept besides `cluster.json` (drey's store).
    registry: Option<Arc<dyn ClusterRegistry>>,
    /// This host's identity in the records.
    host: String,
    /// The address the clusters' REST APIs bind and advertise.
    rest_address: String,
    /// Whether a sandboxed cluster gets a network namespace of its own.
    network: ClusterNetwork,
    /// Held while a cluster's network namespace is repaired.
    network_repairs: Arc<tokio::sync::Mutex<()>>,
}

impl LocalBackend {
    /// A backend running `home`'s Flink, keeping clusters in `<data_dir>/clusters/`.
    pub fn new(home: FlinkHome, data_dir: impl Into<PathBuf>) -> Self {
        LocalBackend {
            home,
            data_dir: data_dir.into(),
            state_dir: None,
            client_config: ClientConfig::default(),
            memory_budget_mb: None,
            isolation: Isolation::Sandbox,
            shared_dirs: Vec::new(),
            registry: None,
            host: default_host_id(),
            rest_address: LOOPBACK.to_owned(),
            network: ClusterNetwork::Namespace,
            network_repairs: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Keeps the cluster records in `registry` (drey's store) as well as in each
    /// cluster's `cluster.json`, and finds clusters there first.
    pub fn with_registry(mut self, registry: Arc<dyn ClusterRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Names this host in the records (default: the host name). A cluster recorded with
    /// another host is never started, signalled or looked at through `/proc` here.
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// This host's identity in the records.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The address the clusters' REST APIs bind and advertise (default 127.0.0.1); what
    /// other hosts' drey servers reach them at. Their certificates name it.
    pub fn with_rest_address(mut self, address: impl Into<String>) -> Self {
        self.rest_address = address.into();
        self
    }

    /// Directories every sandboxed cluster may read and write besides its own (a shared
    /// output directory, a mounted volume): a space all tenants share, not isolated.
    /// drey's data dir stays hidden even when it lies inside one.
    pub fn with_shared_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.shared_dirs = dirs;
        self
    }

    /// Keeps jobs' savepoints and checkpoints under `dir` (`--state-dir`, a
    /// mount every replica shares) instead of the data dir. Like the data
    /// dir it is hidden from the clusters but for each one's own state.
    pub fn with_state_dir(mut self, dir: PathBuf) -> Self {
        self.state_dir = Some(dir);
        self
    }

    /// Where jobs' savepoints (`savepoints/<org>/<env>/<uid>`) and checkpoints
    /// (`checkpoints/<org>/<env>/<uid>`) go ([`crate::backend::local::local_dirs`]).
    pub fn state_dir(&self) -> &Path {
        self.state_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// Sets how the clusters' processes are isolated ([`Isolation::Sandbox`] by default).
    pub fn with_isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// How the clusters' processes are isolated.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// Sets whether a sandboxed cluster gets a network namespace of its own
    /// ([`ClusterNetwork::Namespace`] by default; without the sandbox the processes always
    /// use the host's network).
    pub fn with_network(mut self, network: ClusterNetwork) -> Self {
        self.network = network;
        self
    }

    /// Whether the clusters started now get a network namespace each.
    fn namespaced(&self) -> bool {
        self.isolation == Isolation::Sandbox && self.network == ClusterNetwork::Namespace
    }

    /// A client for the REST API at `url` with `config`: when `url` is a cluster drey
    /// recorded and it speaks TLS, with drey's client certificate and the cluster's CA;
    /// otherwise a plain client.
    pub async fn client_for_url(
        &self,
        url: &str,
        config: ClientConfig,
    ) -> Result<FlinkClient, RuntimeError> {
        let found = recorded_at(self.registry.as_deref(), &self.data_dir, url).await?;
        client_for(found, url, config)
    }

    /// drey's TLS material for the cluster at REST URL `url`, when drey recorded it and it
    /// speaks TLS (what a JVM client such as the SQL gateway needs).
    pub async fn client_tls_for_url(&self, url: &str) -> Result<Option<ClientTls>, RuntimeError> {
        Ok(recorded_at(self.registry.as_deref(), &self.data_dir, url)
            .await?
            .and_then(|found| found.tls))
    }

    /// Bounds the memory (process sizes, MiB) all clusters may take together.
    pub fn with_memory_budget_mb(mut self, budget: Option<u64>) -> Self {
        self.memory_budget_mb = budget;
        self
    }

    /// Sets the timeouts and retries of the clients handed out by clusters.
    pub fn with_client_config(mut self, config: ClientConfig) -> Self {
        self.client_config = config;
        self
    }

    /// The Flink distribution.
    pub fn home(&self) -> &FlinkHome {
        &self.home
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directories of cluster `id` (whether or not it exists).
    pub fn cluster_dirs(&self, id: &str) -> ClusterDirs {
        ClusterDirs::new(self.data_dir.join("clusters").join(id))
    }

    /// Starts a session cluster and waits until its REST API answers and all TaskManagers
    /// and their slots registered, for at most `timeout`. On failure every started process is killed and
    /// the error carries the tail of the relevant log.
    pub async fn start(
        &self,
        spec: &ClusterSpec,
        timeout: Duration,
    ) -> Result<LocalCluster, RuntimeError> {
        spec.validate()?;
        self.refuse_elsewhere(&spec.id).await?;
        if let Some(running) = self.adopt(&spec.id).await? {
            return Err(RuntimeError::AlreadyRunning {
                id: spec.id.clone(),
                rest_url: running.rest_url(),
            });
        }
        // Free ports are picked, released, then bound by Flink: another process can take one
        // in between. Such a start is retried once with new ports.
        match self.start_once(spec, timeout).await {
            Err(e) if is_port_conflict(&e) => {
                tracing::warn!(id = %spec.id, error = %e, "port taken while starting; retrying with new ports");
                self.start_once(spec, timeout).await
            }
            other => other,
        }
    }

    async fn start_once(
        &self,
        spec: &ClusterSpec,
        timeout: Duration,
    ) -> Result<LocalCluster, RuntimeError> {
        let mut cluster = self.spawn_recorded(spec).await?;
        if let Err(e) = cluster.wait_ready(timeout).await {
            cluster.teardown().await;
            self.forget_quietly(&spec.id).await;
            return Err(e);
        }
        tracing::info!(id = %spec.id, rest = %cluster.rest_url(), "local Flink cluster ready");
        Ok(cluster)
    }

    /// Cleans the cluster's dirs, picks its ports and writes its
    /// configuration: everything before the processes are spawned.
    fn prepare(&self, spec: &ClusterSpec) -> Result<LocalCluster, RuntimeError> {
        let dirs = self.cluster_dirs(&spec.id);
        for stale in [&dirs.conf, &dirs.pid, &dirs.tmp] {
            if stale.exists() {
                std::fs::remove_dir_all(stale)
                    .map_err(|e| RuntimeError::io("cannot clean", stale, e))?;
            }
        }
        dirs.create()?;
        for d in state_dirs(spec) {
            std::fs::create_dir_all(&d).map_err(|e| RuntimeError::io("cannot create", &d, e))?;
        }
        let root = dirs
            .root
            .canonicalize()
            .map_err(|e| RuntimeError::io("cannot resolve", &dirs.root, e))?;
        let dirs = ClusterDirs::new(root);

        let tm_count = spec.task_managers as usize;
        // REST, RPC, blob and the JobManager's metrics port; then rpc,
        // data and metrics per TaskManager.
        let ports = free_ports(4 + 3 * tm_count)?;
        let (rest_port, rpc_port, blob_port) = (ports[0], ports[1], ports[2]);
        let (tls_options, client_tls) = tls::generate(&spec.id, &dirs.root, &self.rest_address)?;
        let mut owned_options = tls_options;
        owned_options.extend(reporter_options(ports[3]));
        let config = self.write_conf(
            spec,
            &dirs,
            (rest_port, rpc_port, blob_port),
            &owned_options,
        )?;
        let port_of = |key: &str, fallback: u16| {
            config
                .get(key)
                .and_then(yaml_scalar)
                .and_then(|s| s.parse().ok())
                .unwrap_or(fallback)
        };
        let rest_port = port_of("rest.port", rest_port);
        let rpc_port = port_of("jobmanager.rpc.port", rpc_port);
        let blob_port = port_of("blob.server.port", blob_port);

        let record = ClusterRecord {
            format: 1,
            id: spec.id.clone(),
            flink_home: self.home.root().to_path_buf(),
            cluster_dir: dirs.root.clone(),
            rest_port,
            rpc_port,
            blob_port,
            boot_id: boot_id(),
            started_at_ms: now_ms(),
            spec: spec.clone(),
            processes: Vec::new(),
            tls: true,
            isolation: Some(self.isolation),
            host: Some(self.host.clone()),
            rest_address: Some(self.rest_address.clone()),
            network: None,
        };
        LocalCluster::new(
            record,
            Some(client_tls),
            &self.client_config,
            ports[3..].to_vec(),
        )
    }

    async fn spawn_all(
        &self,
        cluster: &mut LocalCluster,
        tm_ports: &[u16],
    ) -> Result<(), RuntimeError> {
        // The JobManager's metrics port first (in its configuration), then
        // (rpc, data, metrics) per TaskManager.
        let (jm_metrics, tm_ports) = match tm_ports.split_first() {
            Some((m, rest)) => (Some(*m), rest),
            None => (None, tm_ports),
        };
        if self.namespaced() {
            // drey reaches the REST API and each process's metrics reporter; nothing else
            // is forwarded into the namespace.
            let mut forwarded = vec![cluster.record.rest_port];
            forwarded.extend(jm_metrics);
            forwarded.extend(tm_ports.chunks(3).filter_map(|p| p.get(2).copied()));
            let network = network::start(
                &cluster.record.id,
                &cluster.dirs.root,
                &self.rest_address,
                &forwarded,
            )
            .await?;
            cluster.record.network = Some(network);
            cluster.write_record()?;
        }
        let mut jm = self
            .spawn(cluster, ProcessRole::Jobmanager, 0, Vec::new(), None)
            .await?;
        jm.0.metrics_port = jm_metrics;
        cluster.record.processes.push(jm.0);
        cluster.children.push(jm.1);
        // Recorded after every process, not once at the end: a drey killed
        // while a cluster starts leaves a record of each process it spawned,
        // so the next one adopts (and, degraded, stops) them instead of
        // starting a second cluster beside orphans.
        cluster.write_record()?;
        for (i, ports) in tm_ports.chunks(3).enumerate() {
            let (rpc, data) = (ports[0], ports.get(1).copied().unwrap_or(0));
            let metrics = ports.get(2).copied();
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let mut args = vec![
                "-D".to_string(),
                format!("taskmanager.rpc.port={rpc}"),
                "-D".to_string(),
                format!("taskmanager.data.port={data}"),
                "-D".to_string(),
                format!("taskmanager.resource-id={}-tm-{index}", cluster.record.id),
            ];
            if let Some(port) = metrics {
                args.push("-D".to_string());
                args.push(format!("{REPORTER_PORT_KEY}={port}"));
            }
            let mut tm = self
                .spawn(
                    cluster,
                    ProcessRole::Taskmanager,
                    index,
                    args,
                    Some((rpc, data)),
                )
                .await?;
            tm.0.metrics_port = metrics;
            cluster.record.processes.push(tm.0);
            cluster.children.push(tm.1);
            cluster.write_record()?;
        }
        Ok(())
    }

    async fn spawn(
        &self,
        cluster: &LocalCluster,
        role: ProcessRole,
        index: u32,
        extra_args: Vec<String>,
        tm_ports: Option<(u16, u16)>,
    ) -> Result<(ProcessRecord, Child), RuntimeError> {
        let dirs = &cluster.dirs;
        let (script, ident) = match role {
            ProcessRole::Jobmanager => ("jobmanager.sh", "jobmanager".to_string()),
            ProcessRole::Taskmanager => ("taskmanager.sh", format!("taskmanager-{index}")),
        };
        let what = format!("{ident} of cluster {}", cluster.record.id);
        // One log dir per process, so each process's REST log list shows its own files.
        let log_dir = dirs.log.join(&ident);
        std::fs::create_dir_all(&log_dir)
            .map_err(|e| RuntimeError::io("cannot create", &log_dir, e))?;
        let stdout_log = log_dir.join(format!("{ident}.out"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stdout_log)
            .map_err(|e| RuntimeError::io("cannot open", &stdout_log, e))?;
        let err = out
            .try_clone()
            .map_err(|e| RuntimeError::io("cannot open", &stdout_log, e))?;

        let script = self.home.bin().join(script);
        let mut argv = match &cluster.record.network {
            Some(network) => network.enter_prefix()?,
            None => Vec::new(),
        };
        argv.extend(sandbox::command_prefix(self.isolation, || {
            self.mounts(cluster)
        })?);
        argv.push(script.into());
        argv.push("start-foreground".into());
        argv.push("-D".into());
        argv.push(format!("drey.cluster-dir={}", dirs.root.display()).into());
        argv.extend(extra_args.into_iter().map(Into::into));
        let mut cmd = match setsid_binary() {
            Some(setsid) => {
                // setsid(1) calls setsid(2) and execs in place: the child is not a process
                // group leader, so no fork happens and the pid stays the spawned one.
                let mut c = Command::new(setsid);
                c.args(&argv);
                c
            }
            None => {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                c.process_group(0);
                c
            }
        };
        cmd.env_clear()
            .envs(sandbox::kept_env())
            .env("FLINK_CONF_DIR", &dirs.conf)
            .env("FLINK_LOG_DIR", &log_dir)
            .env("FLINK_PID_DIR", &dirs.pid)
            .env("FLINK_IDENT_STRING", &ident)
            .current_dir(&dirs.root)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(false);
        let mut child = cmd.spawn().map_err(|source| RuntimeError::Spawn {
            what: what.clone(),
            source,
        })?;
        let exited = || RuntimeError::Spawn {
            what: what.clone(),
            source: std::io::Error::other("the process exited at once"),
        };
        let spawned = child.id().ok_or_else(exited)?;
        let (pid, pgid) = match self.isolation {
            Isolation::None => (spawned, None),
            Isolation::Sandbox => match sandbox::sandboxed_jvm(spawned, &mut child).await {
                Some(pid) => (pid, Some(spawned)),
                None => {
                    let _ = signal_group(spawned, Signal::SIGKILL);
                    let _ = child.wait().await;
                    return Err(RuntimeError::StartFailed {
                        id: cluster.record.id.clone(),
                        reason: format!("the sandbox of {what} did not start"),
                        log_tail: tail(&stdout_log, 40),
                        log_file: stdout_log,
                    });
                }
            },
        };
        let start_time = proc_stat(pid).map(|s| s.start_time).ok_or_else(exited)?;
        Ok((
            ProcessRecord {
                role,
                index,
                pid,
                pgid,
                start_time,
                rpc_port: tm_ports.map(|p| p.0),
                data_port: tm_ports.map(|p| p.1),
                metrics_port: None,
                ident,
                stdout_log,
            },
            child,
        ))
    }

    /// What a sandboxed process of `cluster` sees: the Flink distribution and Java
    /// read-only, its configuration and certificates read-only, its own directories and
    /// the state directories its spec names read-write.
    fn mounts(&self, cluster: &LocalCluster) -> Mounts {
        let dirs = &cluster.dirs;
        let mut read_only = sandbox::with_resolved(self.home.root());
        read_only.extend(sandbox::java_home());
        read_only.push(dirs.conf.clone());
        read_only.push(tls::TlsDirs::new(&dirs.root).cluster);
        let mut read_write = vec![
            dirs.log.clone(),
            dirs.checkpoints.clone(),
            dirs.savepoints.clone(),
            dirs.uploads.clone(),
            dirs.tmp.clone(),
            dirs.pid.clone(),
        ];
        let own_state = state_dirs(&cluster.record.spec);
        let state_roots = self.restore_roots(&own_state);
        read_write.extend(own_state);
        for dir in &cluster.record.spec.restore_dirs {
            let Ok(real) = dir.canonicalize() else {
                continue;
            };
            let in_state = state_roots
                .iter()
                .filter_map(|r| r.canonicalize().ok())
                .any(|r| real.starts_with(r));
            let writable = read_write.iter().any(|d| real.starts_with(d));
            if !in_state {
                tracing::warn!(cluster = %cluster.record.id, dir = %dir.display(),
                    "not showing a restore path outside its environment's state to a sandboxed cluster");
            } else if !writable {
                read_only.push(real);
            }
        }
        // The data dir as the processes see it: the canonical one (the cluster's own
        // paths are canonical), and the path given if it differs.
        let mut hidden = sandbox::with_resolved(&self.data_dir);
        if let Some(state) = &self.state_dir {
            hidden.extend(sandbox::with_resolved(state));
        }
        hidden.dedup();
        Mounts {
            shared: self
                .shared_dirs
                .iter()
                .flat_map(|d| sandbox::with_resolved(d))
                .collect(),
            hidden,
            read_only,
            read_write,
            chdir: Some(dirs.root.clone()),
        }
    }

    /// The state a cluster whose own state dirs are `own` may be shown to restore from: its
    /// environment's (`<state>/{savepoints,checkpoints}/<org>/<env>` of an own dir
    /// `.../<org>/<env>/<uid>`); for an object an older drey keeps at `.../<uid>`, the whole
    /// roots, as that drey did.
    fn restore_roots(&self, own: &[PathBuf]) -> Vec<PathBuf> {
        let roots = [
            self.state_dir().join("savepoints"),
            self.state_dir().join("checkpoints"),
        ];
        let mut out = Vec::new();
        for dir in own {
            for root in &roots {
                let Ok(rest) = dir.strip_prefix(root) else {
                    continue;
                };
                let parts: Vec<_> = rest.components().collect();
                match parts.len() {
                    1 => out.extend(roots.iter().cloned()),
                    3 => {
                        let env: PathBuf = parts[..2].iter().collect();
                        out.extend(roots.iter().map(|r| r.join(&env)));
                    }
                    _ => {}
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Writes `conf/` and returns the effective flat configuration.
    fn write_conf(
        &self,
        spec: &ClusterSpec,
        dirs: &ClusterDirs,
        (rest_port, rpc_port, blob_port): (u16, u16, u16),
        tls_options: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, Yaml>, RuntimeError> {
        let home_conf = self.home.conf();
        let entries = std::fs::read_dir(&home_conf)
            .map_err(|e| RuntimeError::io("cannot read", &home_conf, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let path = entry.path();
            if name == "config.yaml" || name == "flink-conf.yaml" || !path.is_file() {
                continue;
            }
            let to = dirs.conf.join(&name);
            std::fs::copy(&path, &to).map_err(|e| RuntimeError::io("cannot copy to", &to, e))?;
        }

        let mut config = BTreeMap::new();
        let defaults = home_conf.join("config.yaml");
        if defaults.exists() {
            let text = std::fs::read_to_string(&defaults)
                .map_err(|e| RuntimeError::io("cannot read", &defaults, e))?;
            let doc: Yaml =
                serde_yaml_ng::from_str(&text).map_err(|source| RuntimeError::FlinkConfig {
                    path: defaults.clone(),
                    source,
                })?;
            flatten("", &doc, &mut config);
        }
        let file_url = |p: &Path| format!("file://{}", p.display());
        let ours: [(&str, String); 23] = [
            ("jobmanager.rpc.address", "localhost".into()),
            ("jobmanager.bind-host", "localhost".into()),
            ("jobmanager.rpc.port", rpc_port.to_string()),
            (
                "jobmanager.memory.process.size",
                spec.jobmanager_memory.clone(),
            ),
            ("taskmanager.host", "localhost".into()),
            ("taskmanager.bind-host", "localhost".into()),
            (
                "taskmanager.memory.process.size",
                spec.taskmanager_memory.clone(),
            ),
            // Small-footprint default: managed memory (RocksDB, batch operators) at 10%
            // leaves the task heap ~200 MiB in a 1 GiB TaskManager instead of ~25 MiB.
            ("taskmanager.memory.managed.fraction", "0.1".into()),
            (
                "taskmanager.numberOfTaskSlots",
                spec.slots_per_task_manager.to_string(),
            ),
            ("rest.address", self.rest_address.clone()),
            // pasta hands connections from the host's loopback to the namespace's; from
            // another address, to the namespace's copy of the host's address: there the
            // REST API listens on every address of the namespace, which only the port
            // pasta forwards reaches.
            (
                "rest.bind-address",
                if self.namespaced() && !is_loopback(&self.rest_address) {
                    "0.0.0.0".to_owned()
                } else {
                    self.rest_address.clone()
                },
            ),
            ("rest.port", rest_port.to_string()),
            ("blob.server.port", blob_port.to_string()),
            ("execution.checkpointing.dir", file_url(&dirs.checkpoints)),
            (
                "execution.checkpointing.savepoint-dir",
                file_url(&dirs.savepoints),
            ),
            (
                "execution.checkpointing.externalized-checkpoint-retention",
                "RETAIN_ON_CANCELLATION".into(),
            ),
            ("io.tmp.dirs", dirs.tmp.display().to_string()),
            ("web.tmpdir", dirs.tmp.join("web").display().to_string()),
            ("web.upload.dir", dirs.uploads.display().to_string()),
            ("drey.cluster-id", spec.id.clone()),
            // TaskManagers start together with the JobManager; a registration
            // that comes too early is retried after `error-delay` (10 s by
            // default), which made every other start take 10 s longer.
            ("cluster.registration.error-delay", "500 ms".into()),
            (
                "cluster.registration.refused-registration-delay",
                "500 ms".into(),
            ),
            ("cluster.registration.initial-timeout", "200 ms".into()),
        ];
        for (k, v) in ours {
            config.insert(k.to_string(), Yaml::String(v));
        }
        for (k, v) in tls_options {
            config.insert(k.clone(), Yaml::String(v.clone()));
        }
        // Defence in depth: the API refuses drey-owned options, and none
        // from a cluster spec replaces drey's (ports, addresses, dirs,
        // security.*, env.*); only the control plane's state locations pass.
        for (k, v) in &spec.flink_configuration {
            if flink_options::is_drey_owned(k) && !flink_options::is_state_location(k) {
                tracing::warn!(cluster = %spec.id, key = %k, "ignoring a drey-owned Flink option");
                continue;
            }
            config.insert(k.clone(), Yaml::String(v.clone()));
        }
        let text =
            serde_yaml_ng::to_string(&config).map_err(|source| RuntimeError::FlinkConfig {
                path: dirs.conf.join("config.yaml"),
                source,
            })?;
        let header = "# Written by drey for this cluster; regenerated on every start.\n";
        write_atomic(
            &dirs.conf.join("config.yaml"),
            format!("{header}{text}").as_bytes(),
        )?;
        Ok(config)
    }

    /// Makes sure cluster `spec.id` runs: adopts it when all its processes are alive,
    /// otherwise stops what is left of it and starts it. It does not compare specs: a
    /// running cluster is returned as it is; compare `record().spec` to decide on a restart.
    pub async fn ensure(
        &self,
        spec: &ClusterSpec,
        timeout: Duration,
    ) -> Result<LocalCluster, RuntimeError> {
        self.refuse_elsewhere(&spec.id).await?;
        match self.running_or_cleared(&spec.id).await? {
            Some(running) => Ok(running),
            None => self.start(spec, timeout).await,
        }
    }

    /// Cluster `id` when every process of it lives; otherwise what is left of it is
    /// stopped and `None` returned. A cluster whose JVMs live but whose network namespace
    /// could not be repaired is neither: its jobs may run on, so it is left alone
    /// ([`RuntimeError::NetworkDown`]).
    async fn running_or_cleared(&self, id: &str) -> Result<Option<LocalCluster>, RuntimeError> {
        let Some(existing) = self.adopt(id).await? else {
            return Ok(None);
        };
        if existing.is_alive() {
            return Ok(Some(existing));
        }
        if existing.jvms_alive() {
            return Err(RuntimeError::NetworkDown { id: id.to_owned() });
        }
        tracing::warn!(id, "cluster is degraded; restarting it");
        existing.stop(Duration::from_secs(10)).await?;
        Ok(None)
    }

    /// Starts cluster `spec.id` without waiting for it: adopts it when all its
    /// processes are alive, otherwise stops what is left of it and spawns it
    /// anew. The caller polls [`LocalCluster::readiness`] instead of blocking
    /// for the whole start (the reconcilers' requeue-after steps).
    pub async fn launch(&self, spec: &ClusterSpec) -> Result<LocalCluster, RuntimeError> {
        spec.validate()?;
        self.refuse_elsewhere(&spec.id).await?;
        match self.running_or_cleared(&spec.id).await? {
            Some(running) => Ok(running),
            None => self.spawn_recorded(spec).await,
        }
    }

    /// Spawns the cluster's processes and records them, without waiting.
    async fn spawn_recorded(&self, spec: &ClusterSpec) -> Result<LocalCluster, RuntimeError> {
        let mut cluster = self.prepare(spec)?;
        let tm_ports = cluster.tm_ports.clone();
        let spawned = self.spawn_all(&mut cluster, &tm_ports).await;
        // Record what was started even when a later spawn failed, so nothing is orphaned
        // untracked if this process dies right now. A record the store refuses (this
        // replica no longer leads) takes the processes down again.
        let recorded = match spawned {
            Ok(()) => self.save(&cluster).await,
            Err(e) => {
                let _ = cluster.write_record();
                Err(e)
            }
        };
        if let Err(e) = recorded {
            cluster.teardown().await;
            self.forget_quietly(&spec.id).await;
            return Err(e);
        }
        tracing::info!(id = %spec.id, rest = %cluster.rest_url(), "local Flink cluster starting");
        Ok(cluster)
    }

    /// Records `cluster`: its `cluster.json`, then the registry (drey's store).
    async fn save(&self, cluster: &LocalCluster) -> Result<(), RuntimeError> {
        cluster.write_record()?;
        if let Some(registry) = &self.registry {
            registry
                .put(&RecordedCluster {
                    record: cluster.record.clone(),
                    tls: cluster.client_tls.clone(),
                })
                .await?;
        }
        Ok(())
    }

    /// Forgets cluster `id` in the registry after its processes are gone.
    async fn forget(&self, id: &str) -> Result<(), RuntimeError> {
        match &self.registry {
            Some(registry) => registry.remove(id).await,
            None => Ok(()),
        }
    }

    async fn forget_quietly(&self, id: &str) {
        if let Err(e) = self.forget(id).await {
            tracing::warn!(id, error = %e, "cannot remove the record of a cluster that did not start");
        }
    }

    /// What drey recorded about cluster `id`: the registry's record, else the
    /// `cluster.json` of this data dir (a cluster an older drey started; it is copied
    /// into the registry when its processes still run here, so every replica finds it).
    pub async fn recorded(&self, id: &str) -> Result<Option<RecordedCluster>, RuntimeError> {
        if let Some(registry) = &self.registry {
            if let Some(found) = registry.get(id).await? {
                return Ok(Some(found));
            }
        }
        let Some(record) = read_record(&self.cluster_dirs(id).record_file())? else {
            return Ok(None);
        };
        let found = RecordedCluster {
            tls: tls_of(&record)?,
            record,
        };
        if let Some(registry) = &self.registry {
            let alive = found
                .record
                .processes
                .iter()
                .any(|p| is_same_live_process(p.pid, p.start_time, &marker_of(&found.record)));
            if alive && found.record.boot_id == boot_id() {
                match registry.put(&found).await {
                    Ok(()) => {
                        tracing::info!(id, "recorded a cluster of an older drey in the store")
                    }
                    Err(e) => {
                        tracing::warn!(id, error = %e, "cannot record a cluster of an older drey in the store")
                    }
                }
            }
        }
        Ok(Some(found))
    }

    /// Refuses to start or stop processes of a cluster recorded on another host.
    async fn refuse_elsewhere(&self, id: &str) -> Result<(), RuntimeError> {
        match self.recorded(id).await? {
            Some(found) if !found.record.runs_on(&self.host) => Err(self.elsewhere(&found.record)),
            _ => Ok(()),
        }
    }

    pub(crate) fn elsewhere(&self, record: &ClusterRecord) -> RuntimeError {
        RuntimeError::Elsewhere {
            id: record.id.clone(),
            host: record.host.clone().unwrap_or_default(),
            here: self.host.clone(),
        }
    }

    /// Re-adopts cluster `id` from its record (see [`LocalBackend::recorded`]): `Ok(None)`
    /// when there is no record, it runs on another host, or none of the recorded processes
    /// is still alive (exited, pid recycled, machine rebooted). A cluster with some
    /// processes gone is still adopted, so it can be stopped; [`LocalCluster::is_alive`]
    /// is then false. Only processes verified in `/proc` (start time, command line) are
    /// ever signalled.
    pub async fn adopt(&self, id: &str) -> Result<Option<LocalCluster>, RuntimeError> {
        let adopted = match self.recorded(id).await? {
            Some(found) if found.record.runs_on(&self.host) => self.adopt_record(found)?,
            _ => None,
        };
        match adopted {
            Some(cluster) if cluster.network_needs_repair() => self.repair_network(id).await,
            other => Ok(other),
        }
    }

    /// Gives cluster `id`, whose JVMs all live, back the keeper or pasta its network
    /// namespace lost ([`network::repair`]), one caller at a time; returns it as adopted
    /// afterwards (still degraded when the repair failed, which is logged).
    async fn repair_network(&self, id: &str) -> Result<Option<LocalCluster>, RuntimeError> {
        let _one_at_a_time = self.network_repairs.lock().await;
        // Another caller may have repaired it meanwhile: look again.
        let Some(mut cluster) = (match self.recorded(id).await? {
            Some(found) if found.record.runs_on(&self.host) => self.adopt_record(found)?,
            _ => None,
        }) else {
            return Ok(None);
        };
        let (Some(network), Some(member)) = (
            cluster.record.network.clone(),
            cluster.record.processes.first().map(|p| p.pid),
        ) else {
            return Ok(Some(cluster));
        };
        if !cluster.network_needs_repair() {
            return Ok(Some(cluster));
        }
        match network::repair(id, &cluster.dirs.root, &network, member).await {
            Ok(repaired) => {
                cluster.record.network = Some(repaired.clone());
                if let Err(e) = self.save(&cluster).await {
                    // Not recorded (this replica no longer leads): what was started for
                    // it goes again.
                    repaired.kill_replacements(&network, &cluster.marker());
                    cluster.record.network = Some(network);
                    tracing::warn!(cluster = %id, error = %e, "cannot record a repaired network namespace");
                }
            }
            Err(e) => {
                tracing::warn!(cluster = %id, error = %e, "cannot repair a cluster's network namespace")
            }
        }
        Ok(Some(cluster))
    }

    fn adopt_record(&self, found: RecordedCluster) -> Result<Option<LocalCluster>, RuntimeError> {
        let RecordedCluster { record, tls } = found;
        if record.boot_id != boot_id() {
            tracing::info!(id = %record.id, "cluster record is from an earlier boot; not adopting");
            return Ok(None);
        }
        let marker = marker_of(&record);
        let live = record
            .processes
            .iter()
            .filter(|p| is_same_live_process(p.pid, p.start_time, &marker))
            .count();
        if live == 0 {
            // What is left of its network namespace serves nothing any more.
            if let Some(network) = &record.network {
                network.kill(&marker);
            }
            for p in &record.processes {
                let now = proc_stat(p.pid);
                tracing::info!(id = %record.id, pid = p.pid, start_time = p.start_time,
                    seen_start_time = now.as_ref().map(|s| s.start_time),
                    state = now.as_ref().map(|s| s.state.to_string()),
                    marked = proc_cmdline(p.pid).is_some_and(|c| c.contains(&marker)),
                    "a recorded process of the cluster is gone; not adopting it");
            }
            return Ok(None);
        }
        if live < record.processes.len() {
            tracing::warn!(
                id = %record.id,
                live,
                recorded = record.processes.len(),
                "adopting a degraded cluster: some recorded processes are gone"
            );
        }
        if record.tls && tls.is_none() {
            return Err(missing_tls(&record));
        }
        LocalCluster::new(record, tls, &self.client_config, Vec::new()).map(Some)
    }

    /// Every cluster recorded on this host (in the registry, and in this data dir's
    /// `cluster.json` files), with whether it is alive. Stale records (no live process)
    /// are listed too; [`LocalBackend::stop`] removes them.
    pub async fn list(&self) -> Result<Vec<ListedCluster>, RuntimeError> {
        let mut found: BTreeMap<String, RecordedCluster> = BTreeMap::new();
        if let Some(registry) = &self.registry {
            for c in registry.list().await? {
                if c.record.runs_on(&self.host) {
                    found.insert(c.record.id.clone(), c);
                }
            }
        }
        for record in self.file_records()? {
            if !found.contains_key(&record.id) {
                let tls = tls_of(&record).unwrap_or(None);
                found.insert(record.id.clone(), RecordedCluster { record, tls });
            }
        }
        let mut out = Vec::new();
        for (_, c) in found {
            let record = c.record.clone();
            let (alive, live_processes) = match self.adopt_record(c) {
                Ok(Some(c)) => (c.is_alive(), c.live_pids().len()),
                Ok(None) => (false, 0),
                Err(e) => {
                    tracing::warn!(id = %record.id, error = %e, "cannot adopt a recorded cluster");
                    (false, 0)
                }
            };
            out.push(ListedCluster {
                record,
                alive,
                live_processes,
            });
        }
        Ok(out)
    }

    /// The `cluster.json` records under this data dir.
    fn file_records(&self) -> Result<Vec<ClusterRecord>, RuntimeError> {
        let clusters = self.data_dir.join("clusters");
        let entries = match std::fs::read_dir(&clusters) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RuntimeError::io("cannot read", &clusters, e)),
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        let mut out = Vec::new();
        for dir in paths {
            if let Some(record) = read_record(&dir.join("cluster.json"))? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Stops cluster `id` if it is running (see [`LocalCluster::stop`]), forgets its
    /// record, then removes its directory (configuration, logs, uploaded jars: nothing a
    /// later start reads); returns whether it was running. A stale record goes the same
    /// way. A cluster recorded on another host is refused ([`RuntimeError::Elsewhere`]).
    pub async fn stop(&self, id: &str, grace: Duration) -> Result<bool, RuntimeError> {
        let recorded = self.recorded(id).await?;
        if let Some(found) = &recorded {
            if !found.record.runs_on(&self.host) {
                return Err(self.elsewhere(&found.record));
            }
        }
        let root = recorded
            .as_ref()
            .map(|f| f.record.cluster_dir.clone())
            .unwrap_or_else(|| self.cluster_dirs(id).root);
        let adopted = match recorded {
            Some(found) => self.adopt_record(found)?,
            None => None,
        };
        let was_running = match adopted {
            Some(c) => {
                c.stop(grace).await?;
                true
            }
            None => false,
        };
        self.forget(id).await?;
        match std::fs::remove_dir_all(&root) {
            Ok(()) => tracing::debug!(id, "removed the cluster directory"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // The processes are gone; a directory left behind is only disk.
            Err(e) => {
                tracing::warn!(id, dir = %root.display(), error = %e, "cannot remove the cluster directory")
            }
        }
        Ok(was_running)
    }
}

/// What identifies a cluster's processes in `/proc/<pid>/cmdline`: its directory.
fn marker_of(record: &ClusterRecord) -> String {
    record.cluster_dir.display().to_string()
}

fn missing_tls(record: &ClusterRecord) -> RuntimeError {
    RuntimeError::Tls(format!(
        "cluster {} speaks TLS but drey's client certificate for it is missing",
        record.id
    ))
}

/// drey's TLS material of a cluster recorded in a `cluster.json` (in `drey/client.json`
/// beside it).
fn tls_of(record: &ClusterRecord) -> Result<Option<ClientTls>, RuntimeError> {
    if !record.tls {
        return Ok(None);
    }
    ClientTls::load(&record.cluster_dir)?
        .map(Some)
        .ok_or_else(|| missing_tls(record))
}

/// This host's name, the default host identity in cluster records.
pub fn default_host_id() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A running local cluster.
#[derive(Debug)]
pub struct LocalCluster {
    record: ClusterRecord,
    dirs: ClusterDirs,
    client: FlinkClient,
    /// drey's client certificate and the cluster's CA (`None`: a cluster started without
    /// TLS by an older drey).
    client_tls: Option<ClientTls>,
    /// Handles of processes this drey process spawned (empty for adopted clusters); kept so
    /// their exit status is reaped. Dropping them does not stop anything.
    children: Vec<Child>,
    /// TaskManager (rpc, data) ports picked for the spawn.
    tm_ports: Vec<u16>,
}

/// How a starting cluster is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Its REST API answers with every TaskManager registered.
    Ready,
    /// Not yet; what was last seen.
    Starting(String),
    /// A process died: it will not become ready.
    Failed(String),
}

impl LocalCluster {
    fn new(
        record: ClusterRecord,
        client_tls: Option<ClientTls>,
        config: &ClientConfig,
        tm_ports: Vec<u16>,
    ) -> Result<LocalCluster, RuntimeError> {
        let client = client_with(&record, client_tls.as_ref(), config.clone())?;
        Ok(LocalCluster {
            dirs: ClusterDirs::new(record.cluster_dir.clone()),
            client,
            client_tls,
            record,
            children: Vec::new(),
            tm_ports,
        })
    }

    /// A client for the REST API of a recorded cluster (wherever it runs), with its TLS
    /// access.
    pub fn client_for_record(
        found: &RecordedCluster,
        config: ClientConfig,
    ) -> Result<FlinkClient, RuntimeError> {
        client_with(&found.record, found.tls.as_ref(), config)
    }

    /// A client for the cluster's REST API with other timeouts and retries (and the
    /// cluster's TLS access).
    pub fn client_with_config(&self, config: ClientConfig) -> Result<FlinkClient, RuntimeError> {
        client_with(&self.record, self.client_tls.as_ref(), config)
    }

    /// drey's TLS material for this cluster (`None`: started without TLS by an older drey).
    pub fn client_tls(&self) -> Option<&ClientTls> {
        self.client_tls.as_ref()
    }

    /// Cluster id.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// REST base URL, e.g. `https://127.0.0.1:41234`.
    pub fn rest_url(&self) -> String {
        self.record.rest_url()
    }

    /// A client for the cluster's REST API.
    pub fn client(&self) -> FlinkClient {
        self.client.clone()
    }

    /// The cluster's directories.
    pub fn dirs(&self) -> &ClusterDirs {
        &self.dirs
    }

    /// What is recorded in `cluster.json`.
    pub fn record(&self) -> &ClusterRecord {
        &self.record
    }

    /// The cluster's processes, JobManager first.
    pub fn processes(&self) -> &[ProcessRecord] {
        &self.record.processes
    }

    fn marker(&self) -> String {
        self.record.cluster_dir.display().to_string()
    }

    fn live_processes(&self) -> Vec<&ProcessRecord> {
        let marker = self.marker();
        self.record
            .processes
            .iter()
            .filter(|p| is_same_live_process(p.pid, p.start_time, &marker))
            .collect()
    }

    /// Whether every recorded JVM is still the live process drey started (whatever
    /// became of the network namespace).
    pub fn jvms_alive(&self) -> bool {
        !self.record.processes.is_empty() && self.live_pids().len() == self.record.processes.len()
    }

    /// Whether every JVM lives but the network namespace lost its keeper or pasta.
    fn network_needs_repair(&self) -> bool {
        self.jvms_alive()
            && self
                .record
                .network
                .as_ref()
                .is_some_and(|n| !n.is_alive(&self.marker()))
    }

    fn live_pids(&self) -> Vec<u32> {
        self.live_processes().iter().map(|p| p.pid).collect()
    }

    /// The process groups of the live processes (a sandboxed process's group also holds
    /// bwrap's processes).
    fn live_groups(&self) -> Vec<u32> {
        self.live_processes().iter().map(|p| p.group()).collect()
    }

    /// True when every recorded process is still the live process drey started, and so is
    /// its network namespace's (without which its REST API is cut off).
    pub fn is_alive(&self) -> bool {
        self.jvms_alive()
            && self
                .record
                .network
                .as_ref()
                .is_none_or(|n| n.is_alive(&self.marker()))
    }

    /// The JobManager's Flink log file (`flink-jobmanager-standalonesession-*.log`), or its
    /// stdout file when Flink has not created the log yet.
    pub fn jobmanager_log(&self) -> PathBuf {
        self.log_file(ProcessRole::Jobmanager, 0)
    }

    /// The Flink log file of a process (`flink-<ident>-*.log`), or its stdout file when
    /// Flink has not created the log yet.
    pub fn log_file(&self, role: ProcessRole, index: u32) -> PathBuf {
        let Some(p) = self
            .record
            .processes
            .iter()
            .find(|p| p.role == role && p.index == index)
        else {
            return self.dirs.log.join("jobmanager/jobmanager.out");
        };
        let prefix = format!("flink-{}-", p.ident);
        let dir = p
            .stdout_log
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.dirs.log.clone());
        let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|path| {
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".log"))
                })
                .max_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        });
        match found {
            Some(f) if std::fs::metadata(&f).map(|m| m.len() > 0).unwrap_or(false) => f,
            _ => p.stdout_log.clone(),
        }
    }

    fn write_record(&self) -> Result<(), RuntimeError> {
        let path = self.dirs.record_file();
        let bytes =
            serde_json::to_vec_pretty(&self.record).map_err(|source| RuntimeError::Record {
                path: path.clone(),
                source,
            })?;
        write_atomic(&path, &bytes)
    }

    /// One look at a starting cluster: ready when its REST API answers with
    /// every TaskManager and slot registered.
    pub async fn readiness(&self) -> Readiness {
        if self.jvms_alive() && !self.is_alive() {
            return Readiness::Starting(
                RuntimeError::NetworkDown {
                    id: self.record.id.clone(),
                }
                .to_string(),
            );
        }
        if !self.is_alive() {
            let log_file = self.jobmanager_log();
            return Readiness::Failed(format!(
                "a process of cluster {} exited while it started; log {}:\n{}",
                self.record.id,
                log_file.display(),
                tail(&log_file, 40)
            ));
        }
        let probe = match self.client_with_config(probe_config()) {
            Ok(p) => p,
            Err(e) => return Readiness::Failed(e.to_string()),
        };
        let wanted = self.record.spec.task_managers;
        let wanted_slots = wanted.saturating_mul(self.record.spec.slots_per_task_manager);
        match probe.overview().await {
            Ok(ov) if ov.taskmanagers >= wanted && ov.slots_total >= wanted_slots => {
                Readiness::Ready
            }
            Ok(ov) => Readiness::Starting(format!(
                "{} of {wanted} TaskManagers and {} of {wanted_slots} slots registered",
                ov.taskmanagers, ov.slots_total
            )),
            Err(e) => Readiness::Starting(e.to_string()),
        }
    }

    /// When the cluster's processes were started.
    pub fn started_at_ms(&self) -> u64 {
        self.record.started_at_ms
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), RuntimeError> {
        let probe = self.client_with_config(probe_config())?;
        let wanted = self.record.spec.task_managers;
        let wanted_slots = wanted.saturating_mul(self.record.spec.slots_per_task_manager);
        let start = Instant::now();
        loop {
            // children[i] was spawned for processes[i].
            for (i, child) in self.children.iter_mut().enumerate() {
                if let Ok(Some(status)) = child.try_wait() {
                    let (ident, log_file) = match self.record.processes.get(i) {
                        Some(p) => (p.ident.clone(), p.stdout_log.clone()),
                        None => (
                            "a process".to_string(),
                            self.dirs.log.join("jobmanager/jobmanager.out"),
                        ),
                    };
                    return Err(RuntimeError::StartFailed {
                        id: self.record.id.clone(),
                        reason: format!("{ident} exited with {status}"),
                        log_tail: tail(&log_file, 40),
                        log_file,
                    });
                }
            }
            let last_seen = match probe.overview().await {
                Ok(ov) if ov.taskmanagers >= wanted && ov.slots_total >= wanted_slots => {
                    return Ok(())
                }
                Ok(ov) => format!(
                    "{} of {wanted} TaskManagers and {} of {wanted_slots} slots registered",
                    ov.taskmanagers, ov.slots_total
                ),
                Err(e) => e.to_string(),
            };
            if start.elapsed() >= timeout {
                let log_file = self.jobmanager_log();
                return Err(RuntimeError::StartTimeout {
                    id: self.record.id.clone(),
                    waited: start.elapsed(),
                    last_seen,
                    log_tail: tail(&log_file, 40),
                    log_file,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Kills everything at once (SIGKILL to each verified process group), waits (bounded)
    /// until the groups are empty and removes the record; used when a start fails.
    async fn teardown(&mut self) {
        let groups = self.live_groups();
        self.kill();
        for child in &mut self.children {
            let _ = child.wait().await;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while groups.iter().any(|g| group_has_live_members(*g)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = std::fs::remove_file(self.dirs.record_file());
    }

    /// Sends SIGKILL to every process group of the cluster that is still the recorded
    /// process, without waiting. Synchronous, so it can run in a `Drop` guard.
    pub fn kill(&self) {
        for p in self.live_processes() {
            if let Err(e) = signal_group(p.group(), Signal::SIGKILL) {
                tracing::warn!(pid = p.pid, error = %e, "cannot SIGKILL Flink process group");
            }
        }
        if let Some(network) = &self.record.network {
            network.kill(&self.marker());
        }
    }

    /// Stops the cluster: SIGTERM to each process group, up to `grace` for them to exit,
    /// then SIGKILL; waits until the REST and RPC ports are free and removes `cluster.json`
    /// (the cluster directory with checkpoints, savepoints and logs stays).
    pub async fn stop(mut self, grace: Duration) -> Result<(), RuntimeError> {
        let marker = self.marker();
        let groups = self.live_groups();
        // TaskManagers first, so they do not log connection errors for a vanished JobManager.
        let mut order: Vec<&ProcessRecord> = self.record.processes.iter().collect();
        order.sort_by_key(|p| p.role == ProcessRole::Jobmanager);
        for p in order {
            if is_same_live_process(p.pid, p.start_time, &marker) {
                signal_group(p.group(), Signal::SIGTERM)?;
            }
        }
        let deadline = Instant::now() + grace;
        while !self.all_gone().await && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !self.all_gone().await {
            tracing::warn!(id = %self.record.id, "Flink processes ignored SIGTERM; sending SIGKILL");
            self.kill();
            let deadline = Instant::now() + Duration::from_secs(5);
            while !self.all_gone().await && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while groups.iter().any(|g| group_has_live_members(*g)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let survivors = self.live_pids();
        if !survivors.is_empty() {
            return Err(RuntimeError::StopFailed {
                id: self.record.id.clone(),
                pids: survivors,
            });
        }
        if let Some(network) = &self.record.network {
            network.stop(&marker).await;
        }
        let ports = [
            self.record.rest_port,
            self.record.rpc_port,
            self.record.blob_port,
        ];
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ports.iter().all(|p| port_is_free(*p)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let f = self.dirs.record_file();
        if f.exists() {
            std::fs::remove_file(&f).map_err(|e| RuntimeError::io("cannot remove", &f, e))?;
        }
        tracing::info!(id = %self.record.id, "local Flink cluster stopped");
        Ok(())
    }

    /// Reaps exited children and reports whether no recorded process is alive.
    async fn all_gone(&mut self) -> bool {
        for child in &mut self.children {
            let _ = child.try_wait();
        }
        self.live_pids().is_empty()
    }
}

/// A short look: how readiness is probed.
fn probe_config() -> ClientConfig {
    ClientConfig {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_secs(3),
        get_retries: 0,
        ..ClientConfig::default()
    }
}

/// A client for `record`'s REST API: with drey's client certificate and only the cluster's
/// CA as root when it speaks TLS.
pub(crate) fn client_with(
    record: &ClusterRecord,
    tls: Option<&ClientTls>,
    mut config: ClientConfig,
) -> Result<FlinkClient, RuntimeError> {
    if let Some(tls) = tls {
        config.access = tls.access();
    }
    Ok(FlinkClient::with_config(record.rest_url(), config)?)
}

/// A client for the REST API at `url` with `config`: for a cluster recorded in a
/// `cluster.json` under `data_dir`, with its TLS access; otherwise a plain client
/// (`drey-local-flink`, tests; drey's server looks in its store first, see
/// [`recorded_at`]).
pub fn client_for_url(
    data_dir: &Path,
    url: &str,
    config: ClientConfig,
) -> Result<FlinkClient, RuntimeError> {
    client_for(recorded_in_dir(data_dir, url)?, url, config)
}

/// drey's TLS material for the cluster recorded under `data_dir` at REST URL `url`;
/// `None` when none is there or it speaks plain HTTP.
pub fn client_tls_for_url(data_dir: &Path, url: &str) -> Result<Option<ClientTls>, RuntimeError> {
    Ok(recorded_in_dir(data_dir, url)?.and_then(|found| found.tls))
}

fn client_for(
    found: Option<RecordedCluster>,
    url: &str,
    config: ClientConfig,
) -> Result<FlinkClient, RuntimeError> {
    match found {
        Some(found) => client_with(&found.record, found.tls.as_ref(), config),
        None => Ok(FlinkClient::with_config(url, config)?),
    }
}

/// The cluster drey recorded at REST URL `url`: in `registry`, else in a `cluster.json`
/// under `data_dir`.
pub async fn recorded_at(
    registry: Option<&dyn ClusterRegistry>,
    data_dir: &Path,
    url: &str,
) -> Result<Option<RecordedCluster>, RuntimeError> {
    if let Some(registry) = registry {
        if let Some(found) = registry
            .list()
            .await?
            .into_iter()
            .find(|c| same_rest_url(&c.record, url))
        {
            return Ok(Some(found));
        }
    }
    recorded_in_dir(data_dir, url)
}

/// The cluster recorded in a `cluster.json` under `data_dir` at REST URL `url`.
fn recorded_in_dir(data_dir: &Path, url: &str) -> Result<Option<RecordedCluster>, RuntimeError> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("clusters")) else {
        return Ok(None);
    };
    for dir in entries.flatten() {
        let Ok(Some(record)) = read_record(&dir.path().join("cluster.json")) else {
            continue;
        };
        if same_rest_url(&record, url) {
            return Ok(Some(RecordedCluster {
                tls: tls_of(&record)?,
                record,
            }));
        }
    }
    Ok(None)
}

/// The directories outside its own a cluster's processes use: `spec.state_dirs` and the
/// `file://` checkpoint and savepoint directories of its configuration.
fn state_dirs(spec: &ClusterSpec) -> Vec<PathBuf> {
    let mut dirs = spec.state_dirs.clone();
    for (k, v) in &spec.flink_configuration {
        if flink_options::is_state_location(k) {
            if let Some(path) = v.trim().strip_prefix("file://") {
                dirs.push(PathBuf::from(path));
            } else if v.trim().starts_with('/') {
                dirs.push(PathBuf::from(v.trim()));
            }
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs
}

fn read_record(path: &Path) -> Result<Option<ClusterRecord>, RuntimeError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RuntimeError::io("cannot read", path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| RuntimeError::Record {
            path: path.to_path_buf(),
            source,
        })
}

fn is_port_conflict(e: &RuntimeError) -> bool {
    match e {
        RuntimeError::StartFailed { log_tail, .. }
        | RuntimeError::StartTimeout { log_tail, .. } => {
            log_tail.contains("BindException") || log_tail.contains("Address already in use")
        }
        _ => false,
    }
}

/// Whether `address` (an IP address or a name) is the host's loopback.
fn is_loopback(address: &str) -> bool {
    address == "localhost"
        || address
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn setsid_binary() -> Option<PathBuf> {
    ["/usr/bin/setsid", "/bin/setsid"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Flattens nested YAML mappings into Flink's dotted keys.
fn flatten(prefix: &str, value: &Yaml, out: &mut BTreeMap<String, Yaml>) {
    match value {
        Yaml::Mapping(m) => {
            for (k, v) in m {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    other => yaml_scalar(other).unwrap_or_default(),
                };
                let full = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&full, v, out);
            }
        }
        Yaml::Null if prefix.is_empty() => {}
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

fn yaml_scalar(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_nested_flink_config() {
        let doc: Yaml = serde_yaml_ng::from_str(
            "jobmanager:\n  rpc:\n    port: 6123\n  bind-host: localhost\nparallelism.default: 1\nlist: [a, b]\n",
        )
        .unwrap();
        let mut out = BTreeMap::new();
        flatten("", &doc, &mut out);
        assert_eq!(
            yaml_scalar(&out["jobmanager.rpc.port"]).as_deref(),
            Some("6123")
        );
        assert_eq!(
            yaml_scalar(&out["jobmanager.bind-host"]).as_deref(),
            Some("localhost")
        );
        assert_eq!(
            yaml_scalar(&out["parallelism.default"]).as_deref(),
            Some("1")
        );
        assert!(matches!(out["list"], Yaml::Sequence(_)));
    }

    #[test]
    fn spec_validation() {
        assert!(ClusterSpec::new("ok-1.a_b").validate().is_ok());
        for bad in ["", ".x", "a/b", "a b", &"x".repeat(65)] {
            assert!(ClusterSpec::new(bad).validate().is_err(), "{bad:?}");
        }
        let mut s = ClusterSpec::new("x");
        s.task_managers = 0;
        assert!(s.validate().is_err());
    }
}
