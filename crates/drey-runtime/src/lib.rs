//! Cluster backends: where Flink runs, behind one seam ([`backend::JobBackend`]):
//! real Flink clusters as local processes, and existing clusters drey did not start.
//!
//! - [`FlinkHome`] finds the Flink 2.3 distribution (`--flink-home`, `FLINK_HOME`, or the one
//!   `scripts/install-flink.sh` installs under drey's data home).
//! - [`LocalBackend`] starts Flink session clusters (one JobManager, N TaskManagers) as child
//!   processes that outlive the drey process, records them in a [`ClusterRegistry`]
//!   (drey's store) and in `<data-dir>/clusters/<id>/cluster.json`, and re-adopts them
//!   after a restart — or from another replica, on this host or (over REST) another.
//! - [`LocalCluster`] is a handle on one running cluster: its REST URL, a typed
//!   [`drey_flink::FlinkClient`], its directories, and `stop`.
//! - [`SqlGatewayService`] runs drey's SQL gateway (the Java service in `sql-gateway/`, found
//!   by [`SqlGatewayJar`]) as a process that outlives drey, recorded in
//!   `<data-dir>/sql-gateway/service.json` and re-adopted by `ensure()`; clients talk to it
//!   with [`drey_flink::SqlGatewayClient`].

mod admission;
pub use admission::cluster_memory_budget_mb;
pub mod backend;
mod error;
mod home;
mod local;
mod network;
mod process;
pub mod registry;
mod sandbox;
mod sql_gateway;
mod tls;

pub use backend::{
    ClusterHandle, JobBackend, LocalStateDirs, StartStep, StateLocations, StateOwner,
};
pub use error::RuntimeError;
pub use home::{drey_data_home, FlinkHome, FLINK_VERSION};
pub use local::{
    client_for_url, client_tls_for_url, default_host_id, recorded_at, ClusterDirs, ClusterRecord,
    ClusterSpec, ListedCluster, LocalBackend, LocalCluster, ProcessRecord, ProcessRole, Readiness,
    LOOPBACK,
};
pub use network::{check_network, ClusterNetwork, NetworkRecord};
pub use registry::{ClusterRegistry, RecordedCluster};
pub use sandbox::{check_sandbox, Isolation};
pub use sql_gateway::{
    GatewaySandbox, SqlGatewayJar, SqlGatewayOptions, SqlGatewayRecord, SqlGatewayService,
    SQL_GATEWAY_JAR_ENV, SQL_GATEWAY_JAR_INSTALL_PATH,
};
pub use tls::ClientTls;
