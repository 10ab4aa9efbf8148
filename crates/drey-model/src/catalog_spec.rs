//! The typed specs of Kafka catalogs and of environment secret mappings:
//! what the core reads of them. They are checked field by field when
//! written (`crate::validate`); reading stays tolerant (odd values read as
//! absent, unknown fields kept).

use crate::loose::lenient;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `spec` of a KafkaCatalog: its schema registry and Kafka clusters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KafkaCatalogSpec {
    /// The schema registry.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub sr_instance: Option<Connection>,
    /// The Kafka clusters, one database each.
    #[serde(deserialize_with = "lenient_list")]
    pub kafka_clusters: Vec<KafkaCluster>,
    /// Everything else, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How to reach a service: its configuration, and the id of the secret
/// (mapped per environment) whose values complete it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Connection {
    /// Configuration keys and values.
    #[serde(deserialize_with = "lenient_strings")]
    pub connection_config: BTreeMap<String, String>,
    /// The connection secret id an environment maps to a secret.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub connection_secret_id: Option<String>,
}

/// One Kafka cluster of a catalog: a database of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KafkaCluster {
    /// The database name statements see.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    /// How to reach it.
    #[serde(flatten)]
    pub connection: Connection,
}

impl KafkaCatalogSpec {
    /// Every connection secret id the catalog uses.
    pub fn connection_secret_ids(&self) -> Vec<String> {
        self.sr_instance
            .iter()
            .chain(self.kafka_clusters.iter().map(|c| &c.connection))
            .filter_map(|c| c.connection_secret_id.clone())
            .collect()
    }
}

/// `spec` of a KafkaDatabase: the Kafka cluster a catalog's database
/// stands for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KafkaDatabaseSpec {
    /// How to reach the cluster.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub kafka_cluster: Option<Connection>,
    /// The environments that may run DDL on its tables.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub ddl_environments: Option<Vec<String>>,
    /// Everything else, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `spec` of an EnvironmentSecretMapping.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecretMappingSpec {
    /// The secret the connection secret id stands for.
    #[serde(deserialize_with = "lenient", skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Everything else, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A list whose entries read as they can (an odd entry is dropped).
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| T::deserialize(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// A map of strings; values that are not strings are dropped.
fn lenient_strings<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(match value {
        Some(Value::Object(map)) => map
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loose::view;
    use serde_json::json;

    #[test]
    fn a_catalog_names_its_secrets_and_odd_parts_read_as_absent() {
        let spec: KafkaCatalogSpec = view(&json!({
        "srInstance": {"connectionConfig": {"schema.registry.url": "http://sr"},
                       "connectionSecretId": "sr-secret"},
        "kafkaClusters": [
            {"databaseName": "db1", "connectionConfig": {"bootstrap.servers": "k:9092", "n": 5},
             "connectionSecretId": "k-secret"},
            7,
            {"databaseName": "db2", "connectionConfig": {}}
        ]}));
        assert_eq!(spec.connection_secret_ids(), ["sr-secret", "k-secret"]);
        assert_eq!(spec.kafka_clusters.len(), 2);
        assert_eq!(
            spec.kafka_clusters[0].connection.connection_config.len(),
            1,
            "a value that is not a string is dropped"
        );
        let odd: KafkaCatalogSpec = view(&json!({"srInstance": 5, "kafkaClusters": {}}));
        assert!(odd.sr_instance.is_none() && odd.kafka_clusters.is_empty());
        let mapping: SecretMappingSpec = view(&json!({"secretName": ["x"]}));
        assert_eq!(mapping.secret_name, None);
    }
}
