//! Where drey keeps what it knows about the local clusters it started.
//!
//! A [`ClusterRegistry`] holds one [`RecordedCluster`] per cluster id: its
//! record (the host that runs it, its REST address, ports, pids) and the TLS
//! identity drey speaks to its REST API with. drey's server keeps them in its
//! store (sealed there, written under the reconcilers' fence), so a replica
//! with its own data dir, or on another host, finds every cluster any
//! replica started. The local backend also writes `cluster.json` in the
//! cluster's directory (the host's own copy, and what clusters started by an
//! older drey have only); without a registry (`drey-local-flink`) that file
//! is all there is.

use crate::local::ClusterRecord;
use crate::tls::ClientTls;
use crate::RuntimeError;
use async_trait::async_trait;

/// A cluster as drey recorded it: where and what it is, and how to reach it.
#[derive(Clone, Debug)]
pub struct RecordedCluster {
    /// Its record.
    pub record: ClusterRecord,
    /// drey's client certificate and the cluster's REST CA (`None`: a
    /// cluster started without TLS by an older drey).
    pub tls: Option<ClientTls>,
}

/// The records of local clusters, wherever they run.
#[async_trait]
pub trait ClusterRegistry: Send + Sync + std::fmt::Debug {
    /// Records (or replaces) a cluster.
    async fn put(&self, cluster: &RecordedCluster) -> Result<(), RuntimeError>;
    /// The cluster with id `id`, if recorded.
    async fn get(&self, id: &str) -> Result<Option<RecordedCluster>, RuntimeError>;
    /// Forgets cluster `id` (nothing when it is not recorded).
    async fn remove(&self, id: &str) -> Result<(), RuntimeError>;
    /// Every recorded cluster, on every host.
    async fn list(&self) -> Result<Vec<RecordedCluster>, RuntimeError>;
}

/// The REST base URL of a record, without the API version, for comparing
/// URLs drey recorded elsewhere (`https://10.0.0.1:8081/v1/` is
/// `https://10.0.0.1:8081`).
pub fn same_rest_url(record: &ClusterRecord, url: &str) -> bool {
    record.rest_url() == url.trim_end_matches('/').trim_end_matches("/v1")
}
