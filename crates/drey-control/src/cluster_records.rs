//! The records of the local clusters drey started, in the store: one
//! `LocalCluster` object per cluster in the server's own namespace. Its spec
//! is the record (host, REST address, ports, pids, directories); drey's
//! client TLS identity for the cluster is the object's sealed secret, so it
//! is never in clear in the database, a response or a log. Through the
//! reconcilers' fenced store, only the leader writes them; every replica
//! reads them, so a replica with its own data dir, or on another host, finds
//! every cluster another replica started.

use drey_model::{Kind, ObjectKey};
use drey_runtime::{ClientTls, ClusterRecord, ClusterRegistry, RecordedCluster, RuntimeError};
use drey_store::{Delete, SecretData, Store, StoreError, Write, WriteMode};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Cluster records live in the server's namespace, not a tenant's.
const SERVER_ORG: &str = "";
/// The secret's one key: drey's client identity as JSON.
const TLS_KEY: &str = "clientTls";

/// Cluster records in a store.
pub struct StoreClusterRegistry {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for StoreClusterRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreClusterRegistry")
    }
}

impl StoreClusterRegistry {
    /// Records in `store` (the reconcilers' fenced store, for the writer).
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreClusterRegistry { store }
    }

    async fn read(&self, key: &ObjectKey) -> Result<Option<RecordedCluster>, RuntimeError> {
        let Some(object) = self.store.get(key).await.map_err(failed)? else {
            return Ok(None);
        };
        let record: ClusterRecord = serde_json::from_value(object.spec)
            .map_err(|e| RuntimeError::Registry(format!("cluster {}: {e}", key.name)))?;
        let tls = match self.store.secret_data(key).await.map_err(failed)? {
            Some(data) => match data.0.get(TLS_KEY) {
                Some(json) => Some(serde_json::from_str::<ClientTls>(json).map_err(|e| {
                    RuntimeError::Registry(format!("cluster {}: TLS identity: {e}", key.name))
                })?),
                None => None,
            },
            None => None,
        };
        Ok(Some(RecordedCluster { record, tls }))
    }
}

fn key(id: &str) -> ObjectKey {
    ObjectKey::global(SERVER_ORG, Kind::LocalCluster, id)
}

fn failed(e: StoreError) -> RuntimeError {
    RuntimeError::Registry(e.to_string())
}

#[async_trait::async_trait]
impl ClusterRegistry for StoreClusterRegistry {
    async fn put(&self, cluster: &RecordedCluster) -> Result<(), RuntimeError> {
        let spec = serde_json::to_value(&cluster.record)
            .map_err(|e| RuntimeError::Registry(format!("cluster {}: {e}", cluster.record.id)))?;
        let mut write = Write::new(key(&cluster.record.id), WriteMode::Upsert, spec);
        let mut secret = BTreeMap::new();
        if let Some(tls) = &cluster.tls {
            let json = serde_json::to_string(tls).map_err(|e| {
                RuntimeError::Registry(format!("cluster {}: {e}", cluster.record.id))
            })?;
            secret.insert(TLS_KEY.to_owned(), json);
        }
        write.secret = Some(SecretData(secret));
        self.store.write(write).await.map_err(failed).map(drop)
    }

    async fn get(&self, id: &str) -> Result<Option<RecordedCluster>, RuntimeError> {
        self.read(&key(id)).await
    }

    async fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        self.store
            .delete(Delete::new(key(id)))
            .await
            .map_err(failed)
            .map(drop)
    }

    async fn list(&self) -> Result<Vec<RecordedCluster>, RuntimeError> {
        let mut out = Vec::new();
        for key in self.store.keys(Kind::LocalCluster).await.map_err(failed)? {
            // Removed since it was listed: no error.
            if let Some(found) = self.read(&key).await? {
                out.push(found);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drey_runtime::ClusterSpec;

    fn record(id: &str) -> ClusterRecord {
        serde_json::from_value(serde_json::json!({
            "format": 1, "id": id, "flink_home": "/flink", "cluster_dir": format!("/d/clusters/{id}"),
            "rest_port": 8081, "rpc_port": 6123, "blob_port": 6124, "boot_id": "b",
            "started_at_ms": 1, "spec": ClusterSpec::new(id), "processes": [], "tls": true,
            "host": "h1", "rest_address": "10.0.0.7"
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn records_round_trip_with_the_identity_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drey.db");
        let store = drey_store::SqliteStore::open(&path, drey_store::Sealer::from_key(&[7; 32]))
            .await
            .unwrap();
        let registry = StoreClusterRegistry::new(Arc::new(store));
        let tls: ClientTls = serde_json::from_value(serde_json::json!({
            "ca_pem": "CA", "identity_pem": "-----BEGIN PRIVATE KEY-----\nSECRETKEYBODY\n",
            "keystore": "/k.p12", "truststore": "/t.p12", "password": "PASSWORDXYZ"
        }))
        .unwrap();
        let cluster = RecordedCluster {
            record: record("app-1"),
            tls: Some(tls.clone()),
        };
        registry.put(&cluster).await.unwrap();
        let got = registry.get("app-1").await.unwrap().unwrap();
        assert_eq!(got.record, cluster.record);
        assert_eq!(got.tls, Some(tls));
        assert_eq!(got.record.rest_url(), "https://10.0.0.7:8081");
        assert_eq!(registry.list().await.unwrap().len(), 1);
        // Nothing of the identity in clear in the database files (WAL too),
        // while the record is there to be found.
        let mut text = String::new();
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(f.path()).unwrap()));
        }
        assert!(
            text.contains("10.0.0.7"),
            "the record is not where it was looked for"
        );
        assert!(!text.contains("SECRETKEYBODY") && !text.contains("PASSWORDXYZ"));
        registry.remove("app-1").await.unwrap();
        assert!(registry.get("app-1").await.unwrap().is_none());
        registry.remove("app-1").await.unwrap();
    }

    /// A cluster recorded with another host is driven over REST only: a
    /// JobManager that does not answer is unknown (never gone), a start
    /// waits for it instead of launching a second one here, and its
    /// processes are never stopped from here. The same record on this host
    /// with no live process is gone.
    #[tokio::test]
    async fn a_cluster_of_another_host_is_never_touched_here() {
        use drey_model::Observation;
        use drey_runtime::{JobBackend, StartStep};
        let dir = tempfile::tempdir().unwrap();
        // A Flink layout whose scripts do nothing: a launch would not start.
        let flink = dir.path().join("flink");
        for d in ["bin", "lib", "conf"] {
            std::fs::create_dir_all(flink.join(d)).unwrap();
        }
        for f in ["bin/jobmanager.sh", "bin/taskmanager.sh"] {
            std::fs::write(flink.join(f), "").unwrap();
        }
        let home = drey_runtime::FlinkHome::at(&flink, "test").unwrap();
        let store = drey_store::SqliteStore::open(
            &dir.path().join("drey.db"),
            drey_store::Sealer::from_key(&[7; 32]),
        )
        .await
        .unwrap();
        let registry = Arc::new(StoreClusterRegistry::new(Arc::new(store)));
        let backend = drey_runtime::LocalBackend::new(home, dir.path().join("data"))
            .with_registry(registry.clone())
            .with_host("h1");
        // Nothing listens on the recorded port.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut elsewhere = record("app-2");
        elsewhere.host = Some("h2".into());
        elsewhere.rest_address = Some("127.0.0.1".into());
        elsewhere.rest_port = port;
        elsewhere.tls = false;
        registry
            .put(&RecordedCluster {
                record: elsewhere.clone(),
                tls: None,
            })
            .await
            .unwrap();
        match backend.look("app-2").await {
            Observation::Unknown(why) => assert!(why.contains("h2"), "{why}"),
            other => panic!("a silent cluster of another host is {other:?}"),
        }
        let spec = ClusterSpec::new("app-2");
        for launched in [false, true] {
            let step = backend
                .start_step(&spec, launched, std::time::Duration::from_secs(1))
                .await
                .unwrap();
            assert!(matches!(step, StartStep::Waiting), "{step:?}");
        }
        let refused = backend
            .tear_down("app-2", std::time::Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, RuntimeError::Elsewhere { .. }),
            "{refused}"
        );
        assert!(
            registry.get("app-2").await.unwrap().is_some(),
            "record kept"
        );

        // The same record on this host, with no process alive: gone.
        let mut here = elsewhere;
        here.host = Some("h1".into());
        registry
            .put(&RecordedCluster {
                record: here,
                tls: None,
            })
            .await
            .unwrap();
        assert!(matches!(backend.look("app-2").await, Observation::Gone(_)));
    }
}
