//! drey's way to a Flink SQL engine: a Flink SQL Gateway (drey's own small
//! service, started on first use, or one the user runs), sessions opened for
//! a statement of an environment with that environment's catalog replayed
//! into them, and the split between SQL errors (the user's) and engine errors
//! (drey's).

use crate::Core;
use drey_flink::{Collected, FlinkError, OperationHandle, SessionHandle, SqlGatewayClient};
use drey_model::Error;
use drey_runtime::SqlGatewayService;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

/// Where the SQL Gateway is.
pub enum Gateway {
    /// A gateway the user runs, at this URL.
    External(String),
    /// drey's own gateway service: one per environment, each started (or adopted) on
    /// first use from this one ([`SqlGatewayService::for_environment`]), so code a
    /// statement loads sees its environment's artifacts and clusters only.
    Local(Arc<SqlGatewayService>),
}

/// The value behind `mutex`, even when a thread panicked holding it (the maps it guards
/// stay consistent: every change is one insert or remove).
fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A path that does not exist: the artifact store of a server that keeps none (a
/// sandbox binds only what exists).
const NO_ARTIFACTS: &str = "/nonexistent/drey-artifacts";

/// The environment a gateway serves: `(organization, environment)`; the one external
/// gateway serves every environment.
type Tenant = (String, String);

/// The SQL engine statements run on.
pub struct SqlEngine {
    gateway: Gateway,
    /// drey's gateway services by environment.
    services: Mutex<BTreeMap<Tenant, Arc<SqlGatewayService>>>,
    /// Clients of running gateways, by environment.
    clients: Mutex<BTreeMap<Tenant, SqlGatewayClient>>,
    /// When each environment's gateway was last asked for (drey's own).
    last_used: Mutex<BTreeMap<Tenant, std::time::Instant>>,
    /// Directories every environment's statements may name besides its own
    /// artifacts (the operator's jar and shared dirs).
    shared_paths: Vec<std::path::PathBuf>,
}

/// The session property that confines the paths a statement may name
/// (`USING JAR`, `ADD JAR`, a `filesystem` table's `path`): `;`-separated
/// directories, enforced by drey's SQL gateway (its `PathPolicy`).
pub const ALLOWED_PATHS_PROPERTY: &str = "drey.sql.allowed-paths";

/// Directories no statement may name unless an allowed directory inside
/// them grants it: drey's data dir (its database, keys, every cluster's
/// state), even when an operator shares a directory that holds it.
pub const DENIED_PATHS_PROPERTY: &str = "drey.sql.denied-paths";

/// Why a statement did not run.
#[derive(Debug)]
pub enum RunError {
    /// The engine refused the SQL: the message is for the user.
    Sql(String),
    /// The engine could not be reached or failed; try again later.
    Engine(Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Sql(message) => f.write_str(message),
            RunError::Engine(e) => write!(f, "{e}"),
        }
    }
}

impl From<Error> for RunError {
    fn from(e: Error) -> Self {
        RunError::Engine(e)
    }
}

/// Sorts a gateway failure into the user's and the engine's.
pub fn run_error(e: FlinkError) -> RunError {
    match &e {
        FlinkError::Api { status, .. } if *status != 404 && *status < 502 => {
            RunError::Sql(e.root_cause_message().unwrap_or_else(|| e.to_string()))
        }
        _ => RunError::Engine(engine_error(e)),
    }
}

/// A gateway failure as drey's error.
pub fn engine_error(e: FlinkError) -> Error {
    match &e {
        FlinkError::Api { status: 404, .. } => Error::Gone(e.to_string()),
        _ => Error::Unavailable(format!("the SQL engine is unavailable: {e}")),
    }
}

/// Rows a statement that completes at once may return, at most.
pub const INLINE_ROWS: usize = 10_000;

/// How long a statement that completes at once may take.
const INLINE_WAIT: Duration = Duration::from_secs(60);

/// An open gateway session.
pub struct Session {
    /// The client it was opened with.
    pub client: SqlGatewayClient,
    /// Its handle.
    pub handle: SessionHandle,
    /// Whose artifacts its statements name with `cmf://`.
    artifacts: ArtifactScope,
}

/// The environment whose artifacts a session's `cmf://` literals name.
struct ArtifactScope {
    core: Core,
    org: String,
    env: String,
}

impl Session {
    /// `sql` as the engine gets it: every `'cmf://<env>/<name>[?version=<n>]'`
    /// literal (a `USING JAR`, an `ADD JAR`, a connector option) becomes the
    /// `file://` path of that artifact version of the session's environment.
    async fn with_artifact_paths<'a>(&self, sql: &'a str) -> Result<Cow<'a, str>, RunError> {
        let named: Vec<_> = drey_model::sql::string_literals(sql)
            .into_iter()
            .filter(|(_, text)| text.starts_with("cmf://"))
            .collect();
        if named.is_empty() {
            return Ok(Cow::Borrowed(sql));
        }
        let ArtifactScope { core, org, env } = &self.artifacts;
        let mut out = String::with_capacity(sql.len());
        let mut at = 0;
        for (range, uri) in named {
            // The session was opened for an allowed operation of `env`.
            let path = match core.as_drey().resolve_artifact_uri(org, env, &uri).await {
                Ok(path) => path,
                Err(Error::Invalid { message, .. }) => return Err(RunError::Sql(message)),
                Err(e) => return Err(RunError::Engine(e)),
            };
            out.push_str(&sql[at..range.start]);
            let file = format!("file://{}", path.display());
            out.push_str(&drey_model::sql::string_literal(&file));
            at = range.end;
        }
        out.push_str(&sql[at..]);
        Ok(Cow::Owned(out))
    }

    /// Runs DDL that changes the session (a replayed catalog object, `USE`).
    async fn configure(&self, sql: &str) -> Result<(), RunError> {
        let sql = self.with_artifact_paths(sql).await?;
        self.client
            .configure_session(&self.handle, &sql)
            .await
            .map_err(run_error)
    }

    /// Runs a statement to its end (or [`INLINE_ROWS`] rows) and closes the
    /// operation.
    pub async fn run_to_end(
        &self,
        sql: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<Collected, RunError> {
        self.run_for(sql, config, INLINE_ROWS, INLINE_WAIT).await
    }

    /// Runs a statement until its end, `max_rows` rows or `wait`, whichever
    /// comes first, and closes the operation (a query's job is cancelled).
    pub async fn run_for(
        &self,
        sql: &str,
        config: &BTreeMap<String, String>,
        max_rows: usize,
        wait: Duration,
    ) -> Result<Collected, RunError> {
        let sql = self.with_artifact_paths(sql).await?;
        let (op, collected) = self
            .client
            .execute_and_collect(&self.handle, &sql, config, max_rows, wait)
            .await
            .map_err(run_error)?;
        let _ = self.client.close_operation(&self.handle, &op).await;
        Ok(collected)
    }

    /// Starts a statement and returns its operation.
    pub async fn execute(
        &self,
        sql: &str,
        config: &BTreeMap<String, String>,
    ) -> Result<OperationHandle, RunError> {
        let sql = self.with_artifact_paths(sql).await?;
        self.client
            .execute_statement(&self.handle, &sql, config)
            .await
            .map_err(run_error)
    }

    /// Closes the session; its detached jobs keep running.
    pub async fn close(self) {
        if let Err(e) = self.client.close_session(&self.handle).await {
            tracing::debug!(error = %e, "cannot close SQL session");
        }
    }
}

impl SqlEngine {
    /// An engine over a gateway.
    pub fn new(gateway: Gateway) -> Self {
        // Gateways a drey before this process started count as used now: each is
        // stopped once it has been left idle for the whole idle time.
        let running = match &gateway {
            Gateway::Local(base) => base.environments(),
            Gateway::External(_) => Vec::new(),
        };
        let now = std::time::Instant::now();
        SqlEngine {
            gateway,
            services: Mutex::new(BTreeMap::new()),
            clients: Mutex::new(BTreeMap::new()),
            last_used: Mutex::new(running.into_iter().map(|t| (t, now)).collect()),
            shared_paths: Vec::new(),
        }
    }

    /// The same engine, letting statements of every environment name files
    /// under `dirs` too.
    pub fn with_shared_paths(mut self, dirs: Vec<std::path::PathBuf>) -> Self {
        self.shared_paths = dirs;
        self
    }

    /// What statements of `env` may name on this machine: its artifacts and
    /// the shared directories.
    fn allowed_paths(&self, core: &Core, org: &str, env: &str) -> String {
        let own = core.artifact_dir(org, env).ok();
        own.iter()
            .chain(&self.shared_paths)
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(";")
    }

    /// drey's gateway service of environment `env` of `org` (`None`: an external
    /// gateway). Its part of the artifact store is made now, so the sandbox binds it.
    fn service(&self, core: &Core, org: &str, env: &str) -> Option<Arc<SqlGatewayService>> {
        let Gateway::Local(base) = &self.gateway else {
            return None;
        };
        let mut services = locked(&self.services);
        let tenant = (org.to_owned(), env.to_owned());
        let service = services.entry(tenant).or_insert_with(|| {
            let service = match (core.artifact_root(), core.artifact_dir(org, env)) {
                (Some(root), Ok(own)) => {
                    if let Err(e) = std::fs::create_dir_all(&own) {
                        tracing::warn!(dir = %own.display(), error = %e, "cannot create an environment's artifact dir");
                    }
                    base.for_environment(org, env, root, &own)
                }
                _ => {
                    let none = Path::new(NO_ARTIFACTS);
                    base.for_environment(org, env, none, none)
                }
            };
            Arc::new(service)
        });
        Some(service.clone())
    }

    /// Where drey's client key and trust stores for the clusters go for the
    /// gateway of `env` to read: its own directory when it is drey's (it may
    /// be sandboxed); `None` for a gateway elsewhere.
    pub fn client_material_dir(&self, core: &Core, org: &str, env: &str) -> Option<PathBuf> {
        let service = self.service(core, org, env)?;
        // The path the sandbox binds: the canonical one, once it exists.
        Some(
            (service.dir().canonicalize())
                .unwrap_or_else(|_| service.dir().to_path_buf())
                .join("clients"),
        )
    }

    /// Where the gateway of `env` may write files drey then takes (compiled
    /// plans): its own directory when it is drey's; `None` for a gateway
    /// elsewhere (which writes where drey keeps them).
    pub fn scratch_dir(&self, core: &Core, org: &str, env: &str) -> Option<PathBuf> {
        self.client_material_dir(core, org, env)
            .and_then(|clients| clients.parent().map(|dir| dir.join("plans")))
    }

    /// A client of the running gateway of `env`; starts drey's own on first use.
    pub async fn client(
        &self,
        core: &Core,
        org: &str,
        env: &str,
    ) -> Result<SqlGatewayClient, Error> {
        let tenant = match &self.gateway {
            Gateway::External(_) => (String::new(), String::new()),
            Gateway::Local(_) => (org.to_owned(), env.to_owned()),
        };
        if let Gateway::Local(_) = &self.gateway {
            locked(&self.last_used).insert(tenant.clone(), std::time::Instant::now());
        }
        let cached = locked(&self.clients).get(&tenant).cloned();
        if let Some(client) = cached {
            if client.info().await.is_ok() {
                return Ok(client);
            }
        }
        // Starting one environment's gateway holds up no other's.
        let url = match (&self.gateway, self.service(core, org, env)) {
            (Gateway::External(url), _) => url.clone(),
            (Gateway::Local(_), Some(service)) => service
                .ensure()
                .await
                .map_err(|e| Error::Unavailable(format!("the SQL engine did not start: {e}")))?,
            (Gateway::Local(_), None) => {
                return Err(Error::Internal("no SQL gateway service".into()))
            }
        };
        let client = SqlGatewayClient::new(&url).map_err(engine_error)?;
        locked(&self.clients).insert(tenant, client.clone());
        Ok(client)
    }

    /// Stops drey's gateways that nobody asked for in the last `idle` (each
    /// closed its idle sessions itself by then); returns how many. The next
    /// statement of such an environment starts its gateway again.
    pub async fn stop_idle(&self, idle: Duration) -> usize {
        let Gateway::Local(base) = &self.gateway else {
            return 0;
        };
        let idle_ones: Vec<Tenant> = {
            let last_used = locked(&self.last_used);
            last_used
                .iter()
                .filter(|(_, at)| at.elapsed() >= idle)
                .map(|(t, _)| t.clone())
                .collect()
        };
        let mut stopped = 0;
        let still_idle = |tenant: &Tenant| {
            locked(&self.last_used)
                .get(tenant)
                .is_some_and(|at| at.elapsed() >= idle)
        };
        for tenant in idle_ones {
            if !still_idle(&tenant) {
                continue;
            }
            locked(&self.clients).remove(&tenant);
            let (org, env) = (&tenant.0, &tenant.1);
            let service = locked(&self.services)
                .get(&tenant)
                .cloned()
                .unwrap_or_else(|| {
                    let none = Path::new(NO_ARTIFACTS);
                    Arc::new(base.for_environment(org, env, none, none))
                });
            match service.stop(Duration::from_secs(10)).await {
                Ok(was_running) => {
                    if was_running {
                        tracing::info!(organization = %org, environment = %env, "stopped an idle SQL gateway");
                        stopped += 1;
                    }
                    // Asked for again while it stopped: it starts again and counts anew.
                    if still_idle(&tenant) {
                        locked(&self.last_used).remove(&tenant);
                    }
                }
                Err(e) => {
                    tracing::warn!(organization = %org, environment = %env, error = %e, "cannot stop an idle SQL gateway")
                }
            }
        }
        stopped
    }

    /// The session options that send a session's jobs to the cluster at
    /// `url` (`execution.target: remote`, its address and port), with
    /// drey's client certificate where the cluster takes only that (a local
    /// cluster's REST API).
    pub async fn remote_target(
        &self,
        core: &Core,
        org: &str,
        env: &str,
        url: &str,
    ) -> Result<BTreeMap<String, String>, Error> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| Error::Internal(format!("bad URL {url}: {e}")))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| Error::Internal(format!("no host in {url}")))?;
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| Error::Internal(format!("no port in {url}")))?;
        let mut props = BTreeMap::from([
            ("execution.target".to_owned(), "remote".to_owned()),
            ("rest.address".to_owned(), host.to_owned()),
            ("rest.port".to_owned(), port.to_string()),
        ]);
        let material = self.client_material_dir(core, org, env);
        if let Some(tls) = core.flink_client_tls(url, material.as_deref()).await? {
            props.extend(tls.flink_client_options());
        }
        Ok(props)
    }

    /// Opens a session with `properties` for a statement of environment
    /// `env` and replays the environment's catalog into it.
    pub async fn open(
        &self,
        core: &Core,
        org: &str,
        env: &str,
        name: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<Session, RunError> {
        let client = self.client(core, org, env).await?;
        let (mut config, uses) = session_properties(properties);
        config.insert(
            ALLOWED_PATHS_PROPERTY.to_owned(),
            self.allowed_paths(core, org, env),
        );
        if let Some(data) = &core.data_dir {
            config.insert(
                DENIED_PATHS_PROPERTY.to_owned(),
                data.to_string_lossy().into_owned(),
            );
        }
        let handle = client
            .open_session(Some(name), &config)
            .await
            .map_err(run_error)?;
        let session = Session {
            client,
            handle,
            artifacts: ArtifactScope {
                core: core.clone(),
                org: org.to_owned(),
                env: env.to_owned(),
            },
        };
        for ddl in core.sql_catalog(org, env).await? {
            if let Err(e) = session.configure(&ddl).await {
                // An object that no longer builds (a class gone from the
                // classpath) must not stop every other statement.
                tracing::warn!(environment = env, error = %e, "cannot replay DDL: {ddl}");
            }
        }
        if let Some(name) = properties
            .get("sql.current-catalog")
            .filter(|c| c.as_str() != "default_catalog")
        {
            if let Err(e) = self.register_catalog(core, org, env, name, &session).await {
                session.close().await;
                return Err(e);
            }
        }
        for use_statement in uses {
            if let Err(e) = session.configure(&use_statement).await {
                session.close().await;
                return Err(e);
            }
        }
        Ok(session)
    }

    /// Registers the Kafka catalog `name`, resolved for `env` (its secrets
    /// merged in), in the session. The engine's answer is shown with the
    /// secret values scrubbed.
    async fn register_catalog(
        &self,
        core: &Core,
        org: &str,
        env: &str,
        name: &str,
        session: &Session,
    ) -> Result<(), RunError> {
        let catalog = match core.resolve_catalog(org, env, name).await {
            Ok(c) => c,
            Err(Error::NotFound { .. }) => {
                return Err(RunError::Sql(format!(
                    "Catalog '{name}' does not exist in environment '{env}': no KafkaCatalog \
                     of that name, or the environment maps none of its connection secrets"
                )))
            }
            Err(e) => return Err(RunError::Engine(e)),
        };
        match session
            .client
            .configure_session(&session.handle, &catalog.create_statement())
            .await
        {
            Ok(()) => Ok(()),
            Err(e) => Err(match run_error(e) {
                RunError::Sql(message) => RunError::Sql(catalog.redact(&message)),
                RunError::Engine(e) => {
                    RunError::Engine(Error::Unavailable(catalog.redact(&e.to_string())))
                }
            }),
        }
    }

    /// Reads a page of a query's results; 410 semantics when the engine no
    /// longer has them.
    pub async fn fetch(
        &self,
        core: &Core,
        (org, env): (&str, &str),
        session: &SessionHandle,
        op: &OperationHandle,
        token: u64,
    ) -> Result<drey_flink::ResultPage, Error> {
        let client = self.client(core, org, env).await?;
        client
            .fetch_results(session, op, token)
            .await
            .map_err(|e| match e {
                FlinkError::Api { status, .. } if status == 404 || status == 500 => {
                    Error::Gone(format!("the results are gone: {}", summary(&e)))
                }
                e => engine_error(e),
            })
    }
}

fn summary(e: &FlinkError) -> String {
    e.root_cause_message().unwrap_or_else(|| e.to_string())
}

/// CMF's session properties as Flink configuration, and the `USE` statements
/// that select the current catalog and database.
pub fn session_properties(
    properties: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut config = BTreeMap::new();
    let mut uses = Vec::new();
    for (key, value) in properties {
        match key.as_str() {
            "sql.current-catalog" => uses.insert(
                0,
                format!("USE CATALOG {}", drey_model::sql::quote_identifier(value)),
            ),
            "sql.current-database" => {
                uses.push(format!("USE {}", drey_model::sql::quote_identifier(value)))
            }
            "sql.local-time-zone" => {
                config.insert("table.local-time-zone".into(), value.clone());
            }
            "sql.state-ttl" => {
                config.insert("table.exec.state.ttl".into(), value.clone());
            }
            _ => {
                config.insert(key.clone(), value.clone());
            }
        }
    }
    (config, uses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmf_properties_become_flink_configuration() {
        let props: BTreeMap<String, String> = [
            ("sql.current-database", "my db"),
            ("sql.current-catalog", "cat"),
            ("sql.local-time-zone", "UTC"),
            ("pipeline.name", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (config, uses) = session_properties(&props);
        assert_eq!(uses, vec!["USE CATALOG cat", "USE `my db`"]);
        assert_eq!(config["table.local-time-zone"], "UTC");
        assert_eq!(config["pipeline.name"], "x");
        assert!(!config.contains_key("sql.current-catalog"));
    }
}
