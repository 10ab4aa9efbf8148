//! Kafka catalogs that statements can reference.

use crate::{store_error, Core, ResourceInput};
use drey_model::json::string_map;
use drey_model::name::check_cmf_name;
use drey_model::validate::kafka_catalog_spec;
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{Delete, Write, WriteMode};

fn catalog_key(org: &str, name: &str) -> ObjectKey {
    ObjectKey::global(org, Kind::Catalog, name)
}

impl Core {
    /// Creates a Kafka catalog; 409 semantics if the name is taken.
    pub async fn create_catalog(&self, org: &str, input: ResourceInput) -> Result<Object, Error> {
        check_cmf_name("metadata.name", &input.name)?;
        kafka_catalog_spec(&input.spec)?;
        let mut write = Write::new(catalog_key(org, &input.name), WriteMode::Create, input.spec);
        write.labels = input.labels;
        write.annotations = input.annotations;
        self.store.write(write).await.map_err(store_error)
    }

    /// One catalog.
    pub async fn get_catalog(&self, org: &str, name: &str) -> Result<Object, Error> {
        self.get(&catalog_key(org, name)).await
    }

    /// A page of catalogs.
    pub async fn list_catalogs(&self, org: &str, page: PageRequest) -> Result<Page<Object>, Error> {
        self.list(org, Kind::Catalog, Some(String::new()), vec![], page)
            .await
    }

    /// Deletes a catalog.
    pub async fn delete_catalog(&self, org: &str, name: &str) -> Result<(), Error> {
        self.store
            .delete(Delete::new(catalog_key(org, name)))
            .await
            .map_err(store_error)?
            .map(|_| ())
            .ok_or_else(|| Error::not_found(Kind::Catalog, name))
    }
}

/// A Kafka catalog as one environment sees it: connection configs with the
/// data of the mapped secrets merged in. Holds secret values: it has no
/// `Debug`/`Serialize`, and [`ResolvedCatalog::redact`] scrubs them from
/// any text (an engine's error message) before it is shown.
pub struct ResolvedCatalog {
    /// The catalog's name.
    pub name: String,
    /// `srInstance.connectionConfig` plus its secret's data.
    pub schema_registry: std::collections::BTreeMap<String, String>,
    /// Per `kafkaClusters[].databaseName`: connection config plus secret data.
    pub kafka_clusters: Vec<(String, std::collections::BTreeMap<String, String>)>,
    secret_values: Vec<String>,
}

impl ResolvedCatalog {
    /// `text` with every secret value replaced by `******`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for value in self.secret_values.iter().filter(|v| v.len() >= 3) {
            out = out.replace(value.as_str(), "******");
        }
        out
    }

    /// The engine's `CREATE CATALOG` for it (type `kafka`; options are the
    /// schema registry's connection config, and each Kafka cluster's under
    /// `kafka.<database>.`).
    pub fn create_statement(&self) -> String {
        let mut options = vec![("type".to_owned(), "kafka".to_owned())];
        options.extend(self.schema_registry.clone());
        for (db, config) in &self.kafka_clusters {
            for (k, v) in config {
                options.push((format!("kafka.{db}.{k}"), v.clone()));
            }
        }
        let quoted: Vec<String> = options
            .iter()
            .map(|(k, v)| format!("'{}' = '{}'", k.replace('\'', "''"), v.replace('\'', "''")))
            .collect();
        format!(
            "CREATE CATALOG {} WITH ({})",
            drey_model::sql::quote_identifier(&self.name),
            quoted.join(", ")
        )
    }
}

/// The connection secret ids a catalog spec uses, with where they appear.
fn connection_secret_ids(spec: &serde_json::Value) -> Vec<String> {
    let mut ids = Vec::new();
    if let Some(id) = spec
        .pointer("/srInstance/connectionSecretId")
        .and_then(serde_json::Value::as_str)
    {
        ids.push(id.to_owned());
    }
    for cluster in spec
        .get("kafkaClusters")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = cluster
            .get("connectionSecretId")
            .and_then(serde_json::Value::as_str)
        {
            ids.push(id.to_owned());
        }
    }
    ids
}

impl Core {
    /// The connection secret ids of `catalog` that environment `env` does
    /// not map; empty when the environment can use the catalog.
    async fn unmapped_secret_ids(
        &self,
        org: &str,
        env: &str,
        catalog: &Object,
    ) -> Result<Vec<String>, Error> {
        let mut missing = Vec::new();
        for id in connection_secret_ids(&catalog.spec) {
            let mapping = self
                .store
                .get(&ObjectKey::in_env(org, Kind::SecretMapping, env, &id))
                .await
                .map_err(store_error)?;
            if mapping.is_none() {
                missing.push(id);
            }
        }
        Ok(missing)
    }

    /// The environments whose secret mappings make `catalog` usable (CMF's
    /// `status.environmentsWithAccess`).
    pub async fn catalog_environments(&self, catalog: &Object) -> Result<Vec<String>, Error> {
        let org = catalog.key.org.as_str();
        let mut out = Vec::new();
        for key in self
            .store
            .keys(Kind::Environment)
            .await
            .map_err(store_error)?
        {
            if key.org == org
                && self
                    .unmapped_secret_ids(org, &key.name, catalog)
                    .await?
                    .is_empty()
            {
                out.push(key.name);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Resolves a catalog for a statement of environment `env`: each
    /// `connectionSecretId` through the environment's secret mappings to a
    /// secret, whose data is merged over the connection config. A catalog
    /// that the environment's mappings do not make usable is invisible (404).
    pub async fn resolve_catalog(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<ResolvedCatalog, Error> {
        let catalog = self.get_catalog(org, name).await?;
        if !self
            .unmapped_secret_ids(org, env, &catalog)
            .await?
            .is_empty()
        {
            return Err(Error::not_found(Kind::Catalog, name));
        }
        let mut secret_values = Vec::new();
        let resolve = |config: Option<&serde_json::Value>, id: Option<&str>| {
            let config = string_map(config);
            let id = id.map(str::to_owned);
            (config, id)
        };
        let (mut registry, registry_id) = resolve(
            catalog.spec.pointer("/srInstance/connectionConfig"),
            catalog
                .spec
                .pointer("/srInstance/connectionSecretId")
                .and_then(serde_json::Value::as_str),
        );
        if let Some(id) = registry_id {
            let data = self.mapped_secret(org, env, &id).await?;
            secret_values.extend(data.values().cloned());
            registry.extend(data);
        }
        let mut clusters = Vec::new();
        for cluster in catalog
            .spec
            .get("kafkaClusters")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            let (mut config, id) = resolve(
                cluster.get("connectionConfig"),
                cluster
                    .get("connectionSecretId")
                    .and_then(serde_json::Value::as_str),
            );
            if let Some(id) = id {
                let data = self.mapped_secret(org, env, &id).await?;
                secret_values.extend(data.values().cloned());
                config.extend(data);
            }
            let db = cluster
                .get("databaseName")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            clusters.push((db, config));
        }
        Ok(ResolvedCatalog {
            name: name.to_owned(),
            schema_registry: registry,
            kafka_clusters: clusters,
            secret_values,
        })
    }

    /// The data of the secret environment `env` maps under `id`.
    async fn mapped_secret(
        &self,
        org: &str,
        env: &str,
        id: &str,
    ) -> Result<std::collections::BTreeMap<String, String>, Error> {
        let mapping = self
            .get(&ObjectKey::in_env(org, Kind::SecretMapping, env, id))
            .await?;
        let secret = mapping
            .spec
            .get("secretName")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        let data = self
            .store
            .secret_data(&ObjectKey::global(org, Kind::Secret, secret))
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::not_found(Kind::Secret, secret))?;
        Ok(data.0)
    }
}
