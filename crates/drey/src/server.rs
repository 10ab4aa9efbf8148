//! `drey server`: opens the store, serves the API, shuts down gracefully.

use crate::database::Database;
use crate::settings::{DatabaseUrl, ServerSettings, DEFAULT_LISTEN};
use anyhow::{bail, Context};
use drey_api::auth::AuthMode;
use drey_api::ApiConfig;
use drey_control::cluster_records::StoreClusterRegistry;
use drey_control::leadership::Leadership;
use drey_control::observability::alerts::{AlertEvaluator, AlertRules};
use drey_control::observability::delivery::{DeliverySender, Receiver, ReceiverKind, Receivers};
use drey_control::observability::watch::JobWatch;
use drey_control::reconcile::controller::{Controller, ControllerConfig, PanicFault};
use drey_control::reconcile::pools::PoolReconciler;
use drey_control::reconcile::statements::StatementReconciler;
use drey_control::reconcile::{ApplicationReconciler, Backend, ReconcilerConfig};
use drey_control::retention::RetentionSettings;
use drey_control::sql_engine::{Gateway, SqlEngine};
use drey_control::Core;
use drey_runtime::{
    ClusterNetwork, FlinkHome, GatewaySandbox, Isolation, LocalBackend, SqlGatewayJar,
    SqlGatewayService,
};
use drey_store::Sealer;
use std::fs::File;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Runs the server until SIGTERM or SIGINT.
pub fn run(settings: ServerSettings) -> anyhow::Result<()> {
    init_logging(&settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(settings))
}

fn init_logging(settings: &ServerSettings) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .with_context(|| format!("invalid --log filter '{}'", settings.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if settings.log_format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// Holds an exclusive lock on the data dir so two servers never share one
/// SQLite store (the kernel drops it when the process dies, even by kill -9).
/// Servers on PostgreSQL take no lock: the database serializes them.
pub(crate) fn lock_data_dir(dir: &Path) -> anyhow::Result<nix::fcntl::Flock<File>> {
    let path = dir.join("drey.lock");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((_, errno)) => bail!(
            "data dir {} is in use by another drey server ({errno}); \
             give each server its own --data-dir",
            dir.display()
        ),
    }
}

/// Whether `address` reaches this host only (IPv4-mapped IPv6 too).
fn is_loopback(address: &SocketAddr) -> bool {
    match address.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Refuses to serve anonymous callers (who act as a server administrator)
/// beyond this host, unless `--insecure-allow-anonymous-remote` says so.
fn check_exposure(settings: &ServerSettings) -> anyhow::Result<()> {
    if settings.auth != "none" || is_loopback(&settings.listen) {
        return Ok(());
    }
    if !settings.insecure_allow_anonymous_remote {
        bail!(
            "refusing to listen on {} with --auth none: everyone who can reach it would act \
             as a server administrator and could run any code on this host. Use --auth token, \
             or a loopback --listen address (the default is {DEFAULT_LISTEN}), or accept the \
             risk with --insecure-allow-anonymous-remote (DREY_INSECURE_ALLOW_ANONYMOUS_REMOTE=true)",
            settings.listen
        );
    }
    tracing::warn!(
        listen = %settings.listen,
        "INSECURE: serving anonymous callers beyond this host (--auth none with \
         --insecure-allow-anonymous-remote): everyone who can reach the port is a server \
         administrator and can run any code on this host; use --auth token"
    );
    Ok(())
}

/// Files in the data dir only drey's user may read: the database (and
/// SQLite's journal files), the keys.
const PRIVATE_FILES: &[&str] = &[
    "drey.db",
    "drey.db-wal",
    "drey.db-shm",
    "drey.db-journal",
    "secret.key",
    "root.key",
];

/// Makes the data dir (mode 0700) or tightens an existing looser one.
fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    private_dir(dir, "data dir")?;
    tighten_private_files(dir)
}

/// Creates `dir` (a `what`) mode 0700, or tightens it to that.
fn private_dir(dir: &Path, what: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {what} {}", dir.display()))?;
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("cannot read {what} {}", dir.display()))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {what} {} private (mode 0700)", dir.display()))?;
        tracing::warn!(dir = %dir.display(), was = %format!("{mode:o}"),
                       "tightened the {what} to mode 0700");
    }
    Ok(())
}

/// Sets the private files that exist to mode 0600 (logging those that were looser).
fn tighten_private_files(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for name in PRIVATE_FILES {
        let path = dir.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private (mode 0600)", path.display()))?;
            tracing::warn!(path = %path.display(), was = %format!("{mode:o}"),
                           "tightened a private file to mode 0600");
        }
    }
    Ok(())
}

/// Everything drey creates from here on is its user's only (the database,
/// SQLite's journal files, cluster dirs, uploaded jars).
fn private_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

async fn serve(settings: ServerSettings) -> anyhow::Result<()> {
    check_exposure(&settings)?;
    private_umask();
    let data_dir = settings.data_dir()?;
    prepare_data_dir(&data_dir)?;
    let state_dir = settings.state_dir()?;
    if state_dir != data_dir {
        private_dir(&state_dir, "state dir")?;
    }
    let _lock = match settings.database_url {
        None => Some(lock_data_dir(&data_dir)?),
        Some(_) => None,
    };
    let sealer = match &settings.secret_key {
        Some(key) => Sealer::from_base64(key).context("invalid --secret-key")?,
        None => Sealer::load_or_create(&data_dir.join("secret.key"))
            .context("cannot load the secret key file")?,
    };
    let database = Database::open(settings.database_url.as_ref(), &data_dir, sealer).await?;
    tighten_private_files(&data_dir)?;
    tracing::info!(store = %database.describe(&data_dir), "store open");
    let core = Core::new(database.store())
        .with_artifact_dir(state_dir.join("artifacts"))
        .with_artifact_limit(settings.max_artifact_bytes)
        .with_data_dir(data_dir.clone())
        .with_state_dir(state_dir.clone())
        .with_outbound_policy(drey_control::outbound::OutboundPolicy::new(
            settings.outbound_allow.clone(),
        ));
    let receivers = alert_receivers(&settings)?;
    let auth = if settings.auth == "token" {
        ensure_root_key(&core, &data_dir).await?;
        AuthMode::Token
    } else {
        AuthMode::None
    };
    // Another replica's writes wake this one's controllers.
    drey_control::leadership::follow_changes(core.clone());
    let (core, controllers) = if settings.reconciler == "on" {
        let leadership = Leadership::new(
            replica_id(settings.replica_id.as_deref()),
            Duration::from_secs(settings.leader_lease_seconds),
        );
        tracing::info!(replica = %leadership.replica(), "taking part in the reconciler election");
        let core = core
            .with_leadership(leadership)
            .with_default_limits(machine_limits()?);
        let (core, controllers) = controllers(&settings, &data_dir, core, receivers);
        (core, Some(controllers))
    } else {
        tracing::info!("reconciler off: serving the API only");
        (core, None)
    };
    let leadership = core.leadership().cloned();
    let store = core.store().clone();
    let app = drey_api::app(
        core,
        ApiConfig {
            max_body_bytes: settings.max_body_bytes,
            auth,
            public_url: settings.public_url.as_ref().map(|u| u.as_str().to_owned()),
        },
    );
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr().context("no local address")?;
    tracing::info!(%address, data_dir = %data_dir.display(), "drey is serving");
    // The one line on stdout: scripts and tests read the bound port from it.
    println!("drey listening on http://{address}");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let election = leadership
        .clone()
        .map(|l| tokio::spawn(l.run(store.clone(), stop_rx.clone())));
    let controller_tasks = controllers.map(|c| c.spawn(&stop_rx)).unwrap_or_default();
    let server = tokio::spawn(async move {
        let mut stop_rx = stop_rx;
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.changed().await;
            })
            .await
    });
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(settings.shutdown_grace_seconds);
    match tokio::time::timeout(grace, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "server error"),
        Ok(Err(e)) => tracing::error!(error = %e, "server task failed"),
        Err(_) => tracing::warn!("in-flight requests did not finish within the grace period"),
    }
    for task in controller_tasks {
        let _ = task.await;
    }
    if let Some(election) = election {
        let _ = election.await;
    }
    // The reconcilers stopped: another replica may take over at once.
    if let Some(leadership) = leadership {
        leadership.release(store.as_ref()).await;
    }
    database.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// This replica's name in the election: the one given, or host, pid and a
/// random suffix (a restarted process is a new holder, in a new epoch).
fn replica_id(given: Option<&str>) -> String {
    if let Some(id) = given {
        return id.to_owned();
    }
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "drey".to_owned());
    let suffix: u32 = rand::random();
    format!("{host}-{}-{:06x}", std::process::id(), suffix & 0xff_ffff)
}

/// On the first start in token mode, makes a root key and writes it to
/// `<data-dir>/root.key` (mode 0600). The log names the file, never the key.
async fn ensure_root_key(core: &Core, data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join("root.key");
    if path.exists() || core.has_root_key().await? {
        return Ok(());
    }
    let token = core.create_root_key().await?;
    write_private(&path, &token.token)?;
    tracing::info!(path = %path.display(), key_id = %token.key_id,
                   "created a root key; it is in the file (mode 0600)");
    Ok(())
}

/// Writes a file only its owner can read, atomically.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(format!("{text}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `drey admin create-root-key`: makes another root key in the store of
/// `data_dir` (or the PostgreSQL database `database_url`) and prints it once
/// on stdout.
pub fn create_root_key(
    data_dir: &Path,
    database_url: Option<&DatabaseUrl>,
    secret_key: Option<&str>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    private_umask();
    prepare_data_dir(data_dir)?;
    runtime.block_on(async {
        let sealer = match secret_key {
            Some(key) => Sealer::from_base64(key)?,
            None => Sealer::load_or_create(&data_dir.join("secret.key"))?,
        };
        let database = Database::open(database_url, data_dir, sealer).await?;
        let token = Core::new(database.store()).create_root_key().await;
        database.close().await;
        let token = token?;
        println!("{}", token.token);
        anyhow::Ok(())
    })
}

/// The controllers of a server that drives Flink.
struct Controllers {
    applications: Controller<ApplicationReconciler>,
    pools: Controller<PoolReconciler>,
    statements: Option<Controller<StatementReconciler>>,
    /// Looks at registered `flink` clusters.
    health: drey_control::cluster_health::ClusterHealthWatch,
    /// Looks at every job: metrics and alerts.
    jobs: drey_control::observability::watch::JobWatch,
    /// Sends alerts.
    alerts: drey_control::observability::delivery::DeliverySender,
}

impl Controllers {
    fn spawn(self, stop: &tokio::sync::watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = vec![
            tokio::spawn(self.applications.run(stop.clone())),
            tokio::spawn(self.pools.run(stop.clone())),
            tokio::spawn(self.health.run(stop.clone())),
            tokio::spawn(self.jobs.run(stop.clone())),
            tokio::spawn(self.alerts.run(stop.clone())),
        ];
        if let Some(statements) = self.statements {
            tasks.push(tokio::spawn(statements.run(stop.clone())));
        }
        tasks
    }
}

/// The controllers over the local Flink backend, and the core with the SQL
/// engine they run statements on. Without a Flink distribution the API
/// still works; what wants to run shows why it cannot.
fn controllers(
    settings: &ServerSettings,
    data_dir: &Path,
    core: Core,
    receivers: Receivers,
) -> (Core, Controllers) {
    let home = FlinkHome::discover(settings.flink_home.clone());
    let state_dir = settings
        .state_dir()
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let isolation = settings.cluster_isolation;
    let isolated = match isolation {
        Isolation::Sandbox => drey_runtime::check_sandbox()
            .and_then(|()| match settings.cluster_network {
                ClusterNetwork::Namespace => drey_runtime::check_network(),
                ClusterNetwork::Host => {
                    tracing::warn!(
                        "--cluster-network host: Flink jobs share the host's network; a job \
                         can serve on a port of every address of this machine and reach \
                         everything listening on its loopback"
                    );
                    Ok(())
                }
            })
            .map_err(|e| e.to_string()),
        Isolation::None => {
            tracing::warn!(
                "INSECURE: --cluster-isolation none: Flink jobs run as drey's user and can \
                 read drey's keys, database and every other tenant's state; use the default \
                 (sandbox) unless every user of this drey is trusted"
            );
            Ok(())
        }
    };
    let backend: Backend = match (&home, isolated) {
        (Ok(home), Ok(())) => {
            tracing::info!(flink_home = %home.root().display(), %isolation, "using Flink");
            let host = settings
                .host_id
                .clone()
                .unwrap_or_else(drey_runtime::default_host_id);
            tracing::info!(%host, rest_address = %settings.cluster_rest_address,
                           "Flink clusters are recorded in the store");
            // Records are written under this replica's lease, like every
            // reconciler write.
            let records = StoreClusterRegistry::new(core.for_reconcilers().store().clone());
            Ok(Arc::new(
                LocalBackend::new(home.clone(), data_dir)
                    .with_memory_budget_mb(settings.cluster_memory_budget_mb)
                    .with_isolation(isolation)
                    .with_network(settings.cluster_network)
                    .with_shared_dirs(settings.cluster_shared_dirs.clone())
                    .with_state_dir(state_dir.clone())
                    .with_registry(Arc::new(records))
                    .with_host(host)
                    .with_rest_address(settings.cluster_rest_address.to_string()),
            ))
        }
        (Ok(_), Err(e)) => {
            tracing::error!(error = %e, "Flink clusters cannot be isolated: applications will not run");
            Err(e)
        }
        (Err(e), _) => {
            tracing::warn!(error = %e, "no Flink distribution: applications will not run");
            Err(e.to_string())
        }
    };
    let mut jar_dirs = if settings.jar_dirs.is_empty() {
        let default = data_dir.join("jars");
        let _ = std::fs::create_dir_all(&default);
        vec![default]
    } else {
        settings.jar_dirs.clone()
    };
    // Jars uploaded through the API (VVP artifacts) run like the others. It
    // exists from the start: a sandboxed SQL gateway sees only the dirs there
    // were when it started.
    let artifacts = state_dir.join("artifacts");
    if let Err(e) = std::fs::create_dir_all(&artifacts) {
        tracing::warn!(dir = %artifacts.display(), error = %e, "cannot create the artifact store");
    }
    jar_dirs.push(artifacts);
    let config = ReconcilerConfig {
        data_dir: data_dir.to_owned(),
        state_dir: state_dir.to_owned(),
        jar_dirs,
        cluster_start_timeout: Duration::from_secs(settings.cluster_start_timeout_seconds),
        default_jobmanager_mb: 768,
        default_taskmanager_mb: 1024,
        hung_after: Duration::from_secs(settings.jobmanager_hung_after_seconds),
        orphan_grace: Duration::from_secs(60),
        retention: RetentionSettings {
            savepoint_history_max_count: settings.savepoint_history_max_count,
            savepoint_history_max_age: settings.savepoint_history_max_age,
            download_cache_max_bytes: settings.download_cache_max_bytes,
        },
        outbound: drey_control::outbound::OutboundSettings {
            allow: settings.outbound_allow.clone(),
            download_max_bytes: settings.download_max_bytes,
        },
    };
    let controller_config = ControllerConfig {
        interval: Duration::from_secs(settings.reconcile_interval_seconds.max(1)),
        // Test-only fault injection: `NAME:TIMES` passes over objects named
        // NAME panic (see tests/control_faults.rs).
        panic_fault: std::env::var("DREY_FAULT_PANIC_PASS")
            .ok()
            .and_then(|v| PanicFault::parse(&v)),
        ..ControllerConfig::default()
    };
    let gateway = match (&settings.sql_gateway, &home) {
        (Some(url), _) => Some(Gateway::External(url.clone())),
        (None, Ok(home)) => match SqlGatewayJar::discover(settings.sql_gateway_jar.clone()) {
            Ok(jar) => {
                // Code statements load runs in the gateway: sandboxed like the
                // clusters, it sees the jars statements may name, not drey's files.
                let sandbox = GatewaySandbox {
                    read_only: config.jar_dirs.clone(),
                    shared: settings.cluster_shared_dirs.clone(),
                    hidden: vec![data_dir.to_path_buf(), state_dir.clone()],
                };
                let service = SqlGatewayService::new(home.clone(), jar, data_dir)
                    .with_isolation(isolation, sandbox);
                // Statements run on a gateway per environment now; the one an older
                // drey shared between environments is stopped (its detached INSERT
                // jobs keep running on their clusters).
                let shared = service.clone();
                tokio::spawn(async move {
                    if let Ok(true) = shared.stop(Duration::from_secs(10)).await {
                        tracing::info!(
                            "stopped the SQL gateway an older drey shared between environments"
                        );
                    }
                });
                Some(Gateway::Local(Arc::new(service)))
            }
            Err(e) => {
                tracing::warn!(error = %e, "no SQL Gateway: statements will stay PENDING");
                None
            }
        },
        (None, Err(_)) => None,
    };
    let (core, statements) = match gateway {
        Some(gateway) => {
            // Statements may name jars and files of their environment and
            // of the directories the operator shares, nothing else.
            let shared = settings
                .jar_dirs
                .iter()
                .chain(&settings.cluster_shared_dirs)
                .cloned()
                .collect();
            let engine = Arc::new(SqlEngine::new(gateway).with_shared_paths(shared));
            // Each environment's gateway is a JVM: the ones left unused are stopped.
            let idle = Duration::from_secs(settings.sql_gateway_idle_seconds);
            let sweeper = engine.clone();
            tokio::spawn(async move {
                let every = (idle / 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
                loop {
                    tokio::time::sleep(every).await;
                    sweeper.stop_idle(idle).await;
                }
            });
            let core = core.with_sql_engine(engine.clone());
            let reconciler = StatementReconciler::new(
                core.for_reconcilers(),
                engine,
                backend.clone(),
                config.clone(),
            );
            (
                core,
                Some(Controller::new(reconciler, controller_config.clone())),
            )
        }
        None => (core, None),
    };
    // The reconcilers write under this replica's lease.
    let reconciling = core.for_reconcilers();
    let health = drey_control::cluster_health::ClusterHealthWatch::new(
        reconciling.clone(),
        controller_config.interval,
    );
    let wake_sender = Arc::new(tokio::sync::Notify::new());
    let rules = AlertRules {
        restarts_max: settings.alert_restarts_max,
        restarts_window: Duration::from_secs(settings.alert_restarts_window_seconds),
        checkpoint_age_max: Duration::from_secs(settings.alert_checkpoint_age_seconds),
        jobmanager_silent_after: Duration::from_secs(settings.alert_jobmanager_silent_seconds),
    };
    let jobs = JobWatch::new(
        reconciling.clone(),
        backend.clone(),
        controller_config.interval,
        AlertEvaluator::new(rules, receivers.ids(), wake_sender.clone()),
    );
    let alerts = DeliverySender::new(reconciling.clone(), receivers, wake_sender);
    let applications = Controller::new(
        ApplicationReconciler::new(reconciling.clone(), backend.clone(), config.clone()),
        controller_config.clone(),
    );
    let pools = Controller::new(
        PoolReconciler::new(reconciling, backend, config),
        controller_config,
    );
    (
        core,
        Controllers {
            applications,
            pools,
            statements,
            health,
            jobs,
            alerts,
        },
    )
}

/// The alert receivers the settings name; a URL that is not one fails the start.
fn alert_receivers(settings: &ServerSettings) -> anyhow::Result<Receivers> {
    let mut receivers = Vec::new();
    for (kind, urls) in [
        (ReceiverKind::Webhook, &settings.alert_webhook),
        (ReceiverKind::Slack, &settings.alert_slack_webhook),
        (ReceiverKind::Alertmanager, &settings.alert_alertmanager),
    ] {
        for url in urls.iter().filter(|u| !u.trim().is_empty()) {
            receivers.push(Receiver::new(kind, url).map_err(anyhow::Error::msg)?);
        }
    }
    if !receivers.is_empty() {
        let ids: Vec<String> = receivers.iter().map(Receiver::id).collect();
        tracing::info!(receivers = ?ids, "alert receivers");
    }
    Ok(Receivers::new(
        receivers,
        settings.alert_webhook_secret.clone(),
    ))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

/// The limits of every organization and environment that sets none, on a
/// server that runs clusters: sized from this machine (its memory budget for
/// Flink clusters and its cores; see `docs/security.md`). An API-only server
/// (`--reconciler off`) runs nothing here and has no defaults.
/// Default quota limits from the machine's size (80 % of its memory, its
/// cores), not from `--cluster-memory-budget-mb`: a quota bounds what may be
/// asked for; the budget decides what runs now, and what does not fit in it
/// waits PENDING instead of being refused.
fn machine_limits() -> anyhow::Result<drey_model::quota::Limits> {
    let memory_mb = drey_runtime::cluster_memory_budget_mb(None).map_err(anyhow::Error::msg)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let limits = drey_model::quota::Limits::for_machine(memory_mb, cores);
    tracing::info!(
        ?limits,
        "default quota limits per organization and environment"
    );
    Ok(limits)
}
