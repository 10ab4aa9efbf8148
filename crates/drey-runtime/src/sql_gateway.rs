//! drey's SQL gateway: the Java service in `sql-gateway/` (the Flink SQL Gateway REST API
//! over Flink's Table API) as a local process that outlives drey.
//!
//! It lives in `<data-dir>/sql-gateway/`:
//!
//! ```text
//! service.json          pid, process start time, boot id, port (written atomically)
//! port                  the bound port, written by the service once it accepts requests
//! log/sql-gateway.out   the service's stdout and stderr (one line per session/operation event)
//! log/flink-client.log  Flink's own client-side log (planning, job submission)
//! tmp/                  java.io.tmpdir: the table planner loader unpacks the planner here
//! ```
//!
//! The JVM runs in its own session (`setsid`) with stdin from /dev/null, like the local
//! clusters' processes, with drey's environment reduced to what a JVM needs. Sandboxed (as
//! the clusters are, unless `--cluster-isolation none`), it runs under bubblewrap and sees
//! the system, Flink, Java, its jar, this directory and what [`GatewaySandbox`] names — not
//! drey's database or keys: code a statement loads (a `USING JAR` function is instantiated
//! and may be evaluated while the statement is planned) runs here. The recorded pid is the
//! JVM's; its process group (bwrap's, when sandboxed) is what drey signals, and only after
//! checking in `/proc` that the JVM's start time and command line (which names this
//! directory) are the recorded ones. A JVM found dead takes what is left of its group with
//! it (a sandbox whose JVM was killed alone, a JVM whose bwrap was).
//! Sessions point their statements at a cluster with `execution.target: remote`,
//! `rest.address` and `rest.port`; jobs an `INSERT` submitted keep running when the service
//! stops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use drey_flink::{ClientConfig, SqlGatewayClient};
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

use crate::error::RuntimeError;
use crate::home::{drey_data_home, FlinkHome};
use crate::process::{
    boot_id, group_has_live_member_with, is_same_live_process, port_is_free, proc_stat,
    signal_group, tail, wait_for_group, write_atomic,
};
use crate::sandbox::{self, Isolation, Mounts};

/// The environment variable naming the gateway jar.
pub const SQL_GATEWAY_JAR_ENV: &str = "DREY_SQL_GATEWAY_JAR";

/// Where `scripts/build-sql-gateway.sh` installs the jar, under drey's data home.
pub const SQL_GATEWAY_JAR_INSTALL_PATH: &str = "sql-gateway/drey-sql-gateway.jar";

/// The service's main class.
const MAIN_CLASS: &str = "io.drey.sqlgateway.Main";

/// The JVM options Flink 2.3 runs with on Java 17 (`env.java.opts.all` of its config.yaml):
/// Flink's serializers reflect into these JDK packages when a job graph is built.
const JAVA17_OPTS: &[&str] = &[
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED",
    "--add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED",
    "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.text=ALL-UNNAMED",
    "--add-opens=java.base/java.time=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED",
];

/// A verified gateway jar (`drey-sql-gateway.jar`, built by `scripts/build-sql-gateway.sh`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlGatewayJar {
    path: PathBuf,
}

impl SqlGatewayJar {
    /// Finds the jar, in order: `explicit`, the `DREY_SQL_GATEWAY_JAR` environment variable,
    /// then `${XDG_DATA_HOME:-$HOME/.local/share}/drey/sql-gateway/drey-sql-gateway.jar`.
    /// An explicit or environment path that is not a file is an error, not a reason to look
    /// further.
    pub fn discover(explicit: Option<PathBuf>) -> Result<SqlGatewayJar, RuntimeError> {
        Self::discover_from(
            explicit,
            std::env::var_os(SQL_GATEWAY_JAR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            drey_data_home(),
        )
    }

    /// [`SqlGatewayJar::discover`] with the environment passed in.
    pub fn discover_from(
        explicit: Option<PathBuf>,
        env_jar: Option<PathBuf>,
        data_home: Option<PathBuf>,
    ) -> Result<SqlGatewayJar, RuntimeError> {
        let given = |p: PathBuf, what: &str| {
            if p.is_file() {
                Ok(SqlGatewayJar::at(p))
            } else {
                Err(RuntimeError::SqlGatewayJarNotFound {
                    looked_at: vec![format!("{} ({what}; not a file)", p.display())],
                })
            }
        };
        if let Some(p) = explicit {
            return given(p, "given explicitly");
        }
        if let Some(p) = env_jar {
            return given(p, SQL_GATEWAY_JAR_ENV);
        }
        let mut looked_at = vec![
            "an explicit path (not given)".to_string(),
            format!("{SQL_GATEWAY_JAR_ENV} (not set)"),
        ];
        if let Some(d) = data_home {
            let p = d.join(SQL_GATEWAY_JAR_INSTALL_PATH);
            if p.is_file() {
                return Ok(SqlGatewayJar::at(p));
            }
            looked_at.push(p.display().to_string());
        }
        Err(RuntimeError::SqlGatewayJarNotFound { looked_at })
    }

    fn at(path: PathBuf) -> SqlGatewayJar {
        let path = path.canonicalize().unwrap_or(path);
        SqlGatewayJar { path }
    }

    /// The jar file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How the service's JVM is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlGatewayOptions {
    /// Maximum heap (`-Xmx`), e.g. `512m`: planning and result buffers live here.
    pub heap: String,
    /// Sessions unused for longer than this are closed by the service.
    pub session_idle_timeout: Duration,
    /// How long [`SqlGatewayService::ensure`] waits for a new process to answer.
    pub start_timeout: Duration,
    /// Rows a query may buffer before its producer waits for a client to fetch them.
    pub buffer_rows: u32,
    /// The `java` binary; default `$JAVA_HOME/bin/java`, then `java` from `PATH`.
    pub java: Option<PathBuf>,
}

impl Default for SqlGatewayOptions {
    fn default() -> Self {
        SqlGatewayOptions {
            heap: "512m".to_string(),
            session_idle_timeout: Duration::from_secs(30 * 60),
            start_timeout: Duration::from_secs(60),
            buffer_rows: 10_000,
            java: None,
        }
    }
}

/// What `<data-dir>/sql-gateway/service.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlGatewayRecord {
    /// Format version of this file.
    pub format: u32,
    /// Process id of the JVM.
    pub pid: u32,
    /// Its process group and session, when that is not the JVM's own (bwrap's, sandboxed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgid: Option<u32>,
    /// Start time from `/proc/<pid>/stat` (clock ticks after boot).
    pub start_time: u64,
    /// Kernel boot id when it was started.
    pub boot_id: String,
    /// The port it listens on (127.0.0.1); 0 until the service has written its port file.
    pub port: u16,
    /// The jar it runs.
    pub jar: PathBuf,
    /// The Flink distribution on its class path.
    pub flink_home: PathBuf,
    /// The service directory (`<data-dir>/sql-gateway`); part of its command line.
    pub dir: PathBuf,
    /// When it was started, epoch milliseconds.
    pub started_at_ms: u64,
    /// File receiving its stdout and stderr.
    pub stdout_log: PathBuf,
}

impl SqlGatewayRecord {
    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn is_alive(&self) -> bool {
        self.boot_id == boot_id() && is_same_live_process(self.pid, self.start_time, &self.marker())
    }

    /// The process group drey signals.
    fn group(&self) -> u32 {
        self.pgid.unwrap_or(self.pid)
    }

    /// What every process of the service has on its command line.
    fn marker(&self) -> String {
        self.dir.display().to_string()
    }

    /// Kills what is left of a service whose JVM is gone: the group's live processes
    /// that are the service's (a pid is not reused while its group lives, and the
    /// command line check keeps a recycled group id safe).
    async fn kill_leftovers(&self) {
        if self.boot_id != boot_id() || !group_has_live_member_with(self.group(), &self.marker()) {
            return;
        }
        tracing::warn!(
            pgid = self.group(),
            "killing what is left of a dead SQL gateway"
        );
        if let Err(e) = signal_group(self.group(), Signal::SIGKILL) {
            tracing::warn!(pgid = self.group(), error = %e, "cannot SIGKILL the SQL gateway");
        }
        wait_for_group(self.group()).await;
    }
}

/// Starts, adopts and stops drey's SQL gateway under one data directory. Cheap to clone;
/// clones share a lock, so concurrent `ensure` calls start one process.
#[derive(Debug, Clone)]
pub struct SqlGatewayService {
    home: FlinkHome,
    jar: SqlGatewayJar,
    dir: PathBuf,
    options: SqlGatewayOptions,
    isolation: Isolation,
    sandbox: GatewaySandbox,
    lock: Arc<tokio::sync::Mutex<()>>,
}

/// What a sandboxed gateway sees besides the system, Flink, Java, its jar and its own
/// directory.
#[derive(Debug, Clone, Default)]
pub struct GatewaySandbox {
    /// Directories it reads: the artifact store (the jars statements name).
    pub read_only: Vec<PathBuf>,
    /// Directories it reads and writes (`--cluster-shared-dir`).
    pub shared: Vec<PathBuf>,
    /// Directories it must not see (drey's data and state dirs); what is bound inside
    /// them afterwards (its own directory, the artifacts) stays visible.
    pub hidden: Vec<PathBuf>,
}

impl SqlGatewayService {
    /// A service running `jar` against `home`'s Flink, kept in `<data_dir>/sql-gateway/`.
    pub fn new(home: FlinkHome, jar: SqlGatewayJar, data_dir: impl AsRef<Path>) -> Self {
        SqlGatewayService {
            home,
            jar,
            dir: data_dir.as_ref().join("sql-gateway"),
            options: SqlGatewayOptions::default(),
            isolation: Isolation::None,
            sandbox: GatewaySandbox::default(),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Runs the JVM under `isolation` (used by the next start); with
    /// [`Isolation::Sandbox`] it sees what `sandbox` names.
    pub fn with_isolation(mut self, isolation: Isolation, sandbox: GatewaySandbox) -> Self {
        self.isolation = isolation;
        self.sandbox = sandbox;
        self
    }

    /// The service for one environment's statements, beside this one's: its own
    /// directory (`environments/<org>/<env>/` under this service's), and of the artifact
    /// store `artifacts` (one of the read-only directories) only that environment's part,
    /// `own`. Code a statement of the environment loads into its gateway sees no other
    /// environment's jars, nor drey's client certificates for other environments' clusters
    /// (which drey writes into the directory of the gateway that submits there).
    pub fn for_environment(&self, org: &str, env: &str, artifacts: &Path, own: &Path) -> Self {
        let mut service = self.clone();
        service.dir = self.dir.join("environments").join(org).join(env);
        service.sandbox.read_only.retain(|d| d != artifacts);
        service.sandbox.read_only.push(own.to_path_buf());
        service.lock = Arc::new(tokio::sync::Mutex::new(()));
        service
    }

    /// The environments (`(org, env)`) whose services have a record under this one's
    /// directory, running or not.
    pub fn environments(&self) -> Vec<(String, String)> {
        let names = |dir: &Path| -> Vec<String> {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        };
        let root = self.dir.join("environments");
        let mut out = Vec::new();
        for org in names(&root) {
            for env in names(&root.join(&org)) {
                if root.join(&org).join(&env).join("service.json").is_file() {
                    out.push((org.clone(), env));
                }
            }
        }
        out
    }

    /// What the sandboxed JVM may see: `dir` is the (canonical) service directory.
    fn mounts(&self, dir: &Path) -> Mounts {
        let mut read_only = sandbox::with_resolved(self.home.root());
        read_only.extend(sandbox::java_home());
        read_only.extend(sandbox::with_resolved(self.jar.path()));
        read_only.extend(
            (self.sandbox.read_only.iter())
                .filter(|d| d.exists())
                .flat_map(|d| sandbox::with_resolved(d)),
        );
        let mut hidden: Vec<PathBuf> = (self.sandbox.hidden.iter())
            .filter(|d| d.exists())
            .flat_map(|d| sandbox::with_resolved(d))
            .collect();
        hidden.dedup();
        Mounts {
            shared: (self.sandbox.shared.iter())
                .filter(|d| d.exists())
                .flat_map(|d| sandbox::with_resolved(d))
                .collect(),
            hidden,
            read_only,
            read_write: vec![dir.to_path_buf()],
            chdir: Some(dir.to_path_buf()),
        }
    }

    /// Sets how the JVM is run (used by the next start).
    pub fn with_options(mut self, options: SqlGatewayOptions) -> Self {
        self.options = options;
        self
    }

    /// The service directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `service.json`.
    pub fn record_file(&self) -> PathBuf {
        self.dir.join("service.json")
    }

    /// The file receiving the service's stdout and stderr.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("log/sql-gateway.out")
    }

    /// What `service.json` says, whether or not that process is still alive.
    pub fn record(&self) -> Result<Option<SqlGatewayRecord>, RuntimeError> {
        let path = self.record_file();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RuntimeError::io("cannot read", &path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| RuntimeError::Record { path, source })
    }

    /// The URL of the recorded process when it is alive (it may not answer yet).
    pub fn url(&self) -> Option<String> {
        match self.record() {
            Ok(Some(r)) if r.port != 0 && r.is_alive() => Some(r.url()),
            _ => None,
        }
    }

    /// A client for the recorded, live process.
    pub fn client(&self) -> Option<SqlGatewayClient> {
        self.url().and_then(|u| SqlGatewayClient::new(&u).ok())
    }

    /// Makes sure the service runs and answers `GET /v1/info`: adopts the recorded process
    /// when it is alive (waiting up to the start timeout for one that is still starting),
    /// otherwise kills what is left of it and starts a new one. Returns its base URL, e.g.
    /// `http://127.0.0.1:41234` ([`SqlGatewayService::record`] has the rest).
    pub async fn ensure(&self) -> Result<String, RuntimeError> {
        self.ensure_record().await.map(|r| r.url())
    }

    async fn ensure_record(&self) -> Result<SqlGatewayRecord, RuntimeError> {
        let _guard = self.lock.lock().await;
        if let Some(mut rec) = self.record()? {
            if rec.is_alive() {
                match self.wait_ready(&mut rec, None).await {
                    Ok(()) => {
                        self.write_record(&rec)?;
                        return Ok(rec);
                    }
                    Err(reason) => {
                        tracing::warn!(pid = rec.pid, %reason, "SQL gateway does not answer; restarting it");
                        self.terminate(&rec, Duration::from_secs(5)).await?;
                    }
                }
            } else {
                rec.kill_leftovers().await;
            }
            self.remove_files()?;
        }
        self.start().await
    }

    /// Stops the service: SIGTERM (it closes its sessions: running queries are cancelled,
    /// `INSERT` jobs keep running), up to `grace` to exit, then SIGKILL; removes
    /// `service.json`. Returns whether it was running.
    pub async fn stop(&self, grace: Duration) -> Result<bool, RuntimeError> {
        let _guard = self.lock.lock().await;
        let Some(rec) = self.record()? else {
            return Ok(false);
        };
        let was_running = rec.is_alive();
        if !was_running {
            rec.kill_leftovers().await;
        }
        if was_running {
            self.terminate(&rec, grace).await?;
            let deadline = Instant::now() + Duration::from_secs(5);
            while rec.port != 0 && !port_is_free(rec.port) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tracing::info!(pid = rec.pid, "SQL gateway stopped");
        }
        self.remove_files()?;
        Ok(was_running)
    }

    /// Sends SIGKILL to the recorded process group if it is the live recorded process,
    /// without waiting. Synchronous, so it can run in a `Drop` guard.
    pub fn kill(&self) {
        if let Ok(Some(rec)) = self.record() {
            if rec.is_alive() {
                if let Err(e) = signal_group(rec.group(), Signal::SIGKILL) {
                    tracing::warn!(pid = rec.pid, error = %e, "cannot SIGKILL the SQL gateway");
                }
            }
        }
    }

    async fn start(&self) -> Result<SqlGatewayRecord, RuntimeError> {
        let log_dir = self.dir.join("log");
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&log_dir)
            .map_err(|e| RuntimeError::io("cannot create", &log_dir, e))?;
        // The planner loader unpacks a fresh copy of the planner on every start.
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| RuntimeError::io("cannot clean", &tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| RuntimeError::io("cannot create", &tmp, e))?;
        let dir = self
            .dir
            .canonicalize()
            .map_err(|e| RuntimeError::io("cannot resolve", &self.dir, e))?;
        let port_file = dir.join("port");
        let _ = std::fs::remove_file(&port_file);

        let stdout_log = dir.join("log/sql-gateway.out");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stdout_log)
            .map_err(|e| RuntimeError::io("cannot open", &stdout_log, e))?;
        let err = out
            .try_clone()
            .map_err(|e| RuntimeError::io("cannot open", &stdout_log, e))?;

        let java = self.java();
        let mut argv = sandbox::command_prefix(self.isolation, || self.mounts(&dir))?;
        argv.push(java.clone().into());
        let mut cmd = match setsid_binary() {
            Some(setsid) => {
                // setsid(1) execs in place (the child is no group leader): the pid is the
                // JVM's, or sandboxed bwrap's (the JVM in its process group).
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
        // drey's environment (a database URL, a token) is not the statements' to read.
        cmd.env_clear().envs(sandbox::kept_env());
        cmd.arg(format!("-Xmx{}", self.options.heap))
            .args(JAVA17_OPTS)
            .arg("-Dfile.encoding=UTF-8")
            .arg(format!("-Djava.io.tmpdir={}", dir.join("tmp").display()))
            .arg(format!(
                "-Dlog.file={}",
                dir.join("log/flink-client.log").display()
            ));
        let log4j = self.home.conf().join("log4j-cli.properties");
        if log4j.is_file() {
            cmd.arg(format!(
                "-Dlog4j.configurationFile=file:{}",
                log4j.display()
            ));
        }
        cmd.arg("-cp")
            .arg(format!(
                "{}:{}/*",
                self.jar.path().display(),
                self.home.lib().display()
            ))
            .arg(MAIN_CLASS)
            .args(["--bind", "127.0.0.1", "--port", "0", "--port-file"])
            .arg(&port_file)
            .arg("--session-idle-timeout-seconds")
            .arg(
                self.options
                    .session_idle_timeout
                    .as_secs()
                    .max(1)
                    .to_string(),
            )
            .arg("--buffer-rows")
            .arg(self.options.buffer_rows.max(1).to_string())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(false);
        let what = format!("the SQL gateway ({})", java.display());
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
                Some(jvm) => (jvm, Some(spawned)),
                None => {
                    let _ = signal_group(spawned, Signal::SIGKILL);
                    let _ = child.wait().await;
                    return Err(RuntimeError::SqlGatewayStartFailed {
                        reason: "its sandbox did not start".into(),
                        log_tail: tail(&stdout_log, 40),
                        log_file: stdout_log,
                    });
                }
            },
        };
        let start_time = proc_stat(pid).map(|s| s.start_time).ok_or_else(exited)?;
        let mut rec = SqlGatewayRecord {
            format: 1,
            pid,
            pgid,
            start_time,
            boot_id: boot_id(),
            port: 0,
            jar: self.jar.path().to_path_buf(),
            flink_home: self.home.root().to_path_buf(),
            dir,
            started_at_ms: now_ms(),
            stdout_log: stdout_log.clone(),
        };
        // Recorded before it is ready, so it is never orphaned untracked.
        let ready = match self.write_record(&rec) {
            Ok(()) => self.wait_ready(&mut rec, Some(&mut child)).await,
            Err(e) => Err(e.to_string()),
        };
        let ready = ready.and_then(|()| self.write_record(&rec).map_err(|e| e.to_string()));
        match ready {
            Ok(()) => {
                tracing::info!(pid, url = %rec.url(), "SQL gateway ready");
                Ok(rec)
            }
            Err(reason) => {
                if let Err(e) = signal_group(rec.group(), Signal::SIGKILL) {
                    tracing::warn!(pid, error = %e, "cannot SIGKILL the SQL gateway");
                }
                let _ = child.wait().await;
                wait_for_group(rec.group()).await;
                let _ = self.remove_files();
                Err(RuntimeError::SqlGatewayStartFailed {
                    reason,
                    log_tail: tail(&stdout_log, 40),
                    log_file: stdout_log,
                })
            }
        }
    }

    /// Waits until the process has written its port and answers `GET /v1/info`.
    async fn wait_ready(
        &self,
        rec: &mut SqlGatewayRecord,
        mut child: Option<&mut Child>,
    ) -> Result<(), String> {
        let timeout = self.options.start_timeout;
        let start = Instant::now();
        let config = ClientConfig {
            connect_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_secs(3),
            get_retries: 0,
            ..ClientConfig::default()
        };
        let mut last_seen = "no port file yet".to_string();
        loop {
            if let Some(c) = child.as_deref_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!("the process exited with {status}"));
                }
            } else if !rec.is_alive() {
                return Err("the process is gone".to_string());
            }
            if rec.port == 0 {
                if let Some(p) = read_port(&rec.dir.join("port")) {
                    rec.port = p;
                }
            }
            if rec.port != 0 {
                match SqlGatewayClient::with_config(&rec.url(), config.clone()) {
                    Ok(client) => match client.info().await {
                        Ok(_) => return Ok(()),
                        Err(e) => last_seen = e.to_string(),
                    },
                    Err(e) => return Err(e.to_string()),
                }
            }
            if start.elapsed() >= timeout {
                return Err(format!(
                    "not ready within {:?}: {last_seen}",
                    start.elapsed()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, up to `grace`, SIGKILL; fails when the process survives that.
    async fn terminate(&self, rec: &SqlGatewayRecord, grace: Duration) -> Result<(), RuntimeError> {
        signal_group(rec.group(), Signal::SIGTERM)?;
        let deadline = Instant::now() + grace;
        while rec.is_alive() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if rec.is_alive() {
            tracing::warn!(
                pid = rec.pid,
                "SQL gateway ignored SIGTERM; sending SIGKILL"
            );
            signal_group(rec.group(), Signal::SIGKILL)?;
            let deadline = Instant::now() + Duration::from_secs(5);
            while rec.is_alive() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        wait_for_group(rec.group()).await;
        if rec.is_alive() {
            return Err(RuntimeError::SqlGatewayStopFailed { pid: rec.pid });
        }
        Ok(())
    }

    fn write_record(&self, rec: &SqlGatewayRecord) -> Result<(), RuntimeError> {
        let path = self.record_file();
        let bytes = serde_json::to_vec_pretty(rec).map_err(|source| RuntimeError::Record {
            path: path.clone(),
            source,
        })?;
        write_atomic(&path, &bytes)
    }

    fn remove_files(&self) -> Result<(), RuntimeError> {
        for f in [self.record_file(), self.dir.join("port")] {
            match std::fs::remove_file(&f) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(RuntimeError::io("cannot remove", &f, e)),
            }
        }
        Ok(())
    }

    fn java(&self) -> PathBuf {
        if let Some(j) = &self.options.java {
            return j.clone();
        }
        std::env::var_os("JAVA_HOME")
            .filter(|v| !v.is_empty())
            .map(|h| PathBuf::from(h).join("bin/java"))
            .filter(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from("java"))
    }
}

fn read_port(path: &Path) -> Option<u16> {
    std::fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|p| *p != 0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jar_discovery_order_and_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let explicit = tmp.path().join("explicit.jar");
        let env = tmp.path().join("env.jar");
        let data = tmp.path().join("data/drey");
        std::fs::create_dir_all(data.join("sql-gateway")).unwrap();
        for f in [&explicit, &env, &data.join(SQL_GATEWAY_JAR_INSTALL_PATH)] {
            std::fs::write(f, b"jar").unwrap();
        }
        let j = SqlGatewayJar::discover_from(
            Some(explicit.clone()),
            Some(env.clone()),
            Some(data.clone()),
        )
        .unwrap();
        assert!(j.path().ends_with("explicit.jar"));
        let j = SqlGatewayJar::discover_from(None, Some(env.clone()), Some(data.clone())).unwrap();
        assert!(j.path().ends_with("env.jar"));
        let j = SqlGatewayJar::discover_from(None, None, Some(data.clone())).unwrap();
        assert!(j.path().ends_with("drey-sql-gateway.jar"));

        let err =
            SqlGatewayJar::discover_from(None, None, Some(tmp.path().join("nothing"))).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("scripts/build-sql-gateway.sh"), "{msg}");
        assert!(msg.contains("DREY_SQL_GATEWAY_JAR"), "{msg}");
        assert!(
            msg.contains("nothing/sql-gateway/drey-sql-gateway.jar"),
            "{msg}"
        );
        let err = SqlGatewayJar::discover_from(None, Some(tmp.path().join("nope.jar")), Some(data))
            .unwrap_err();
        assert!(err.to_string().contains("nope.jar"), "{err}");
    }

    #[test]
    fn port_file_is_read_strictly() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("port");
        assert_eq!(read_port(&p), None);
        std::fs::write(&p, "41234\n").unwrap();
        assert_eq!(read_port(&p), Some(41234));
        std::fs::write(&p, "0\n").unwrap();
        assert_eq!(read_port(&p), None);
    }
}
