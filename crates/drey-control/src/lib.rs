//! The application functions every dialect calls, and (in later layers of this
//! crate) the reconcilers. Handlers parse and render; the rules — what may be
//! created, what blocks a delete, which defaults apply — live here once.

pub mod access;
pub mod api_tokens;
pub mod applications;
pub mod artifacts;
/// Who writes: see [`drey_store::audit`].
pub use drey_store::audit;
pub mod auth;
pub mod catalogs;
pub mod cluster_health;
pub mod cluster_records;
pub mod clusters;
pub mod compute_pools;
pub mod documents;
pub mod environments;
pub mod identities;
pub mod job_graphs;
pub mod leadership;
pub mod manifests;
pub mod observability;
pub mod outbound;
pub mod proxy;
pub mod quotas;
pub mod reconcile;
pub mod retention;
pub mod savepoints;
pub mod secret_mappings;
pub mod secrets;
pub mod signed_urls;
pub mod sql_engine;
pub mod sql_objects;
pub mod sql_scripts;
pub mod statements;

use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{ListQuery, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The user-owned parts of a k8s-style object as a client sent them.
#[derive(Clone, Debug, Default)]
pub struct ResourceInput {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `spec`, kept as given.
    pub spec: serde_json::Value,
}

/// Whether a create-or-update created the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist before.
    Created,
    /// It existed and was replaced.
    Updated,
}

/// What a write tells the controllers: which object changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wake {
    /// This object was written (a controller of another kind looks at the
    /// objects of its environment).
    Object(ObjectKey),
    /// Anything may have changed: look at every known object.
    All,
}

/// How many wake-ups may wait for a slow controller before it resyncs.
const WAKE_BACKLOG: usize = 1024;

/// drey's core: the store plus the rules. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    store: Arc<dyn Store>,
    wake: Arc<tokio::sync::broadcast::Sender<Wake>>,
    sql: Option<Arc<sql_engine::SqlEngine>>,
    artifacts: Option<std::path::PathBuf>,
    /// Largest artifact upload, bytes.
    artifact_limit: u64,
    /// Held while the artifact store changes (and while it is read, since a
    /// read may adopt jars from before versions).
    artifact_writes: Arc<tokio::sync::Mutex<()>>,
    data_dir: Option<std::path::PathBuf>,
    /// Where savepoints and retained checkpoints are (`--state-dir`); the
    /// data dir when `None`.
    state_dir: Option<std::path::PathBuf>,
    leadership: Option<leadership::Leadership>,
    board: observability::Board,
    /// Limits for what organizations and environments do not set.
    default_limits: drey_model::quota::Limits,
    /// Held from a quota check to the write it admits.
    admission: Arc<tokio::sync::Mutex<()>>,
    /// Who the operations of this handle run for: drey itself unless
    /// [`Core::acting_as`] says otherwise.
    caller: access::Caller,
    /// Where requests on a tenant's behalf may go (an environment's alert
    /// receivers).
    outbound: Arc<outbound::OutboundPolicy>,
}

impl Core {
    /// A core over a store.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Core {
            store,
            wake: Arc::new(tokio::sync::broadcast::channel(WAKE_BACKLOG).0),
            sql: None,
            artifacts: None,
            artifact_limit: artifacts::MAX_ARTIFACT_BYTES,
            artifact_writes: Arc::new(tokio::sync::Mutex::new(())),
            data_dir: None,
            state_dir: None,
            leadership: None,
            board: observability::Board::default(),
            default_limits: drey_model::quota::Limits::default(),
            admission: Arc::new(tokio::sync::Mutex::new(())),
            caller: access::Caller::System,
            outbound: Arc::new(outbound::OutboundPolicy::default()),
        }
    }

    /// The same core, sending what tenants name (an environment's alert
    /// receivers) only where `policy` permits.
    pub fn with_outbound_policy(mut self, policy: outbound::OutboundPolicy) -> Self {
        self.outbound = Arc::new(policy);
        self
    }

    /// Where requests on a tenant's behalf may go.
    pub fn outbound_policy(&self) -> &Arc<outbound::OutboundPolicy> {
        &self.outbound
    }

    /// The same core, working for `caller`: every operation decides whether
    /// the caller may do it before it touches anything.
    pub fn acting_as(&self, caller: access::Caller) -> Core {
        Core {
            caller,
            ..self.clone()
        }
    }

    /// The same core working for drey itself: for what an allowed operation
    /// must look at beyond what its caller may read (the cluster an
    /// environment runs on, the catalog a statement uses).
    pub(crate) fn as_drey(&self) -> Core {
        self.acting_as(access::Caller::System)
    }

    /// Who this handle works for.
    pub fn caller(&self) -> &access::Caller {
        &self.caller
    }

    /// Allows `need` on `scope` for this handle's caller, or a 403 saying why not.
    pub fn allow(&self, need: access::Need, scope: access::Scope<'_>) -> Result<(), Error> {
        self.caller.decide(need, scope)
    }

    /// The same core, on a replica that takes part in the reconciler
    /// election (`/readyz` and metrics say whether it leads).
    pub fn with_leadership(mut self, leadership: leadership::Leadership) -> Self {
        self.leadership = Some(leadership);
        self
    }

    /// This replica's part in the election, when reconcilers run here.
    pub fn leadership(&self) -> Option<&leadership::Leadership> {
        self.leadership.as_ref()
    }

    /// What the job watch saw last (shared by every clone of this core).
    pub fn board(&self) -> &observability::Board {
        &self.board
    }

    /// The core the reconcilers use: the same wake-ups and settings, its
    /// store fenced by this replica's lease (unchanged without one).
    pub fn for_reconcilers(&self) -> Core {
        let mut core = self.acting_as(access::Caller::System);
        if let Some(leadership) = &self.leadership {
            core.store = Arc::new(leadership::FencedStore::new(
                self.store.clone(),
                leadership.clone(),
            ));
        }
        core
    }

    /// The same core, running SQL through `engine` (statements validate and
    /// run DDL at once instead of waiting for a reconciler).
    pub fn with_sql_engine(mut self, engine: Arc<sql_engine::SqlEngine>) -> Self {
        self.sql = Some(engine);
        self
    }

    /// The SQL engine, when this server runs statements.
    pub fn sql_engine(&self) -> Option<&Arc<sql_engine::SqlEngine>> {
        self.sql.as_ref()
    }

    /// What controllers wait on: every write of desired state names the
    /// object it wrote, and every subscriber sees it.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Wake> {
        self.wake.subscribe()
    }

    /// Tells the controllers that `key` was written. Nobody listening (an
    /// API-only server) is fine.
    pub(crate) fn wake_object(&self, key: &ObjectKey) {
        let _ = self.wake.send(Wake::Object(key.clone()));
    }

    /// Anything may have changed: every controller looks at all it knows.
    pub(crate) fn wake_all(&self) {
        let _ = self.wake.send(Wake::All);
    }

    /// A client for a Flink REST URL drey recorded: for a local cluster drey started (its
    /// record in the store, or an older drey's `cluster.json` in the data dir), with drey's
    /// client certificate and that cluster's CA as the only root (its REST API takes no
    /// other client); for any other URL, a plain client.
    pub async fn flink_client(
        &self,
        url: &str,
        config: drey_flink::ClientConfig,
    ) -> Result<drey_flink::FlinkClient, Error> {
        let unavailable =
            |e: &dyn std::fmt::Display| Error::Unavailable(format!("Flink cluster at {url}: {e}"));
        match self.recorded_cluster_at(url).await? {
            Some(found) => drey_runtime::LocalCluster::client_for_record(&found, config)
                .map_err(|e| unavailable(&e)),
            None => drey_flink::FlinkClient::with_config(url, config).map_err(|e| unavailable(&e)),
        }
    }

    /// drey's TLS material for the local cluster at REST URL `url` (what a JVM client,
    /// the SQL gateway, needs to reach it); `None` for a cluster without TLS. With
    /// `into`, its key and trust stores are written under `<into>/<id>/` (a sandboxed
    /// gateway sees no cluster's directory); for a cluster another host started, under
    /// `<data-dir>/clusters-elsewhere/<id>/`.
    pub async fn flink_client_tls(
        &self,
        url: &str,
        into: Option<&std::path::Path>,
    ) -> Result<Option<drey_runtime::ClientTls>, Error> {
        let Some(found) = self.recorded_cluster_at(url).await? else {
            return Ok(None);
        };
        let Some(tls) = found.tls else {
            return Ok(None);
        };
        let id = &found.record.id;
        if let Some(into) = into {
            return tls
                .written_to(&into.join(id), id)
                .map(Some)
                .map_err(|e| Error::Unavailable(format!("Flink cluster at {url}: {e}")));
        }
        let Some(data_dir) = &self.data_dir else {
            return Ok(Some(tls));
        };
        let dir = data_dir.join("clusters-elsewhere").join(id);
        tls.materialized_in(&dir, id)
            .map(Some)
            .map_err(|e| Error::Unavailable(format!("Flink cluster at {url}: {e}")))
    }

    async fn recorded_cluster_at(
        &self,
        url: &str,
    ) -> Result<Option<drey_runtime::RecordedCluster>, Error> {
        let registry = cluster_records::StoreClusterRegistry::new(self.store.clone());
        let no_dir = std::path::PathBuf::new();
        let dir = self.data_dir.as_ref().unwrap_or(&no_dir);
        drey_runtime::recorded_at(Some(&registry), dir, url)
            .await
            .map_err(|e| Error::Unavailable(format!("Flink cluster at {url}: {e}")))
    }

    /// The store, for layers that need raw access (reconcilers, tests).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Checks the store answers; used by `/readyz`.
    pub async fn ready(&self) -> Result<(), Error> {
        self.store
            .get(&ObjectKey::global("", Kind::Environment, ""))
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    pub(crate) async fn get(&self, key: &ObjectKey) -> Result<Object, Error> {
        self.store
            .get(key)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::not_found(key.kind, &key.name))
    }

    pub(crate) async fn list(
        &self,
        org: &str,
        kind: Kind,
        scope: Option<String>,
        filters: Vec<drey_store::FieldFilter>,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.store
            .list(&ListQuery {
                org: org.to_owned(),
                kind,
                scope,
                filters,
                page,
            })
            .await
            .map_err(store_error)
    }

    /// Every object of a kind in one scope (`None`: in every scope), page by page.
    pub(crate) async fn list_all(
        &self,
        org: &str,
        kind: Kind,
        scope: Option<&str>,
    ) -> Result<Vec<Object>, Error> {
        let mut out = Vec::new();
        for page in 0.. {
            let got = self
                .list(
                    org,
                    kind,
                    scope.map(str::to_owned),
                    vec![],
                    PageRequest {
                        page,
                        size: drey_model::page::MAX_PAGE_SIZE,
                        sort: vec![],
                    },
                )
                .await?;
            let done = got.items.len() < drey_model::page::MAX_PAGE_SIZE as usize;
            out.extend(got.items);
            if done || out.len() as u64 >= got.total {
                break;
            }
        }
        Ok(out)
    }

    /// The environment an environment-scoped object (application, pool,
    /// statement) lives in, if it still exists.
    pub(crate) async fn environment_of(&self, key: &ObjectKey) -> Result<Option<Object>, Error> {
        self.store
            .get(&ObjectKey::global(&key.org, Kind::Environment, &key.scope))
            .await
            .map_err(store_error)
    }

    /// Fails with 404 semantics unless the environment exists.
    pub(crate) async fn require_environment(&self, org: &str, env: &str) -> Result<Object, Error> {
        self.get(&ObjectKey::global(org, Kind::Environment, env))
            .await
    }
}

/// Turns a storage failure into the domain error users see. Database details
/// go to the log, never into a response.
pub(crate) fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound(key) | StoreError::MissingParent(key) => {
            Error::not_found(key.kind, key.name)
        }
        StoreError::AlreadyExists(key) => Error::AlreadyExists {
            kind: key.kind,
            name: key.name,
        },
        e @ StoreError::VersionConflict { .. } => Error::Conflict(e.to_string()),
        StoreError::Blocked(msg) => Error::Conflict(msg),
        StoreError::Fenced(cause) => {
            tracing::warn!(reason = %cause, "write refused: this replica does not lead");
            Error::Unavailable("this replica does not run the reconcilers now".into())
        }
        StoreError::Unavailable(cause) => {
            tracing::error!(error = %cause, "database unavailable");
            Error::Unavailable("the database is busy; retry shortly".into())
        }
        StoreError::Database(cause) => {
            tracing::error!(error = %cause, "database error");
            Error::Internal("database error".into())
        }
        other => {
            tracing::error!(error = %other, "store error");
            Error::Internal(other.to_string())
        }
    }
}
