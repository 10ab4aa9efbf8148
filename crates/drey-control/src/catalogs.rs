//! Kafka catalogs that statements can reference.

use crate::access::{Need, Scope};
use crate::{store_error, Core, ResourceInput};
use drey_model::catalog_spec::{KafkaCatalogSpec, KafkaDatabaseSpec, SecretMappingSpec};
use drey_model::loose::view;
use drey_model::name::check_cmf_name;
use drey_model::validate::{kafka_catalog_spec, kafka_database_spec};
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{Delete, Write, WriteMode};

fn catalog_key(org: &str, name: &str) -> ObjectKey {
    ObjectKey::global(org, Kind::Catalog, name)
}

fn database_key(org: &str, catalog: &str, name: &str) -> ObjectKey {
    ObjectKey {
        org: org.to_owned(),
        kind: Kind::KafkaDatabase,
        scope: catalog.to_owned(),
        name: name.to_owned(),
    }
}

/// Refuses a body whose `metadata.name` is not the name in the path.
fn same_name(kind: Kind, input: &ResourceInput, name: &str) -> Result<(), Error> {
    if !input.name.is_empty() && input.name != name {
        return Err(Error::invalid(
            "metadata.name",
            format!(
                "'{}' does not match the {kind} '{name}' in the path",
                input.name
            ),
        ));
    }
    Ok(())
}

impl Core {
    /// Creates a Kafka catalog; 409 semantics if the name is taken.
    pub async fn create_catalog(&self, org: &str, input: ResourceInput) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::Organization(org))?;
        check_cmf_name("metadata.name", &input.name)?;
        kafka_catalog_spec(&input.spec)?;
        let mut write = Write::new(catalog_key(org, &input.name), WriteMode::Create, input.spec);
        write.labels = input.labels;
        write.annotations = input.annotations;
        self.store.write(write).await.map_err(store_error)
    }

    /// One catalog.
    pub async fn get_catalog(&self, org: &str, name: &str) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        self.get(&catalog_key(org, name)).await
    }

    /// A page of catalogs.
    pub async fn list_catalogs(&self, org: &str, page: PageRequest) -> Result<Page<Object>, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        self.list(org, Kind::Catalog, Some(String::new()), vec![], page)
            .await
    }

    /// Replaces a catalog's spec, labels and annotations (CMF's `PUT`).
    pub async fn update_catalog(
        &self,
        org: &str,
        name: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::Organization(org))?;
        same_name(Kind::Catalog, &input, name)?;
        kafka_catalog_spec(&input.spec)?;
        let current = self.get_catalog(org, name).await?;
        let mut write = Write::new(
            current.key,
            WriteMode::Update {
                expected_version: None,
            },
            input.spec,
        );
        write.labels = input.labels;
        write.annotations = input.annotations;
        self.store.write(write).await.map_err(store_error)
    }

    /// Deletes a catalog; refused (409) while it holds databases, as CMF does.
    pub async fn delete_catalog(&self, org: &str, name: &str) -> Result<(), Error> {
        self.allow(Need::Write, Scope::Organization(org))?;
        self.get_catalog(org, name).await?;
        let databases = self.list_all(org, Kind::KafkaDatabase, Some(name)).await?;
        if !databases.is_empty() {
            let names: Vec<&str> = databases.iter().map(|d| d.meta.name.as_str()).collect();
            return Err(Error::Conflict(format!(
                "{} '{name}' contains databases and cannot be deleted: {}",
                Kind::Catalog,
                names.join(", ")
            )));
        }
        self.store
            .delete(Delete::new(catalog_key(org, name)))
            .await
            .map_err(store_error)?
            .map(|_| ())
            .ok_or_else(|| Error::not_found(Kind::Catalog, name))
    }
}

impl Core {
    /// Creates a database in a catalog; 409 semantics if the name is taken,
    /// 404 when the catalog does not exist.
    pub async fn create_kafka_database(
        &self,
        org: &str,
        catalog: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::Organization(org))?;
        check_cmf_name("metadata.name", &input.name)?;
        kafka_database_spec(&input.spec)?;
        self.get_catalog(org, catalog).await?;
        let mut write = Write::new(
            database_key(org, catalog, &input.name),
            WriteMode::Create,
            input.spec,
        );
        write.labels = input.labels;
        write.annotations = input.annotations;
        // The catalog stays while the database does (and must exist now).
        write.requires = vec![catalog_key(org, catalog)];
        write.refs = vec![catalog_key(org, catalog)];
        self.store.write(write).await.map_err(store_error)
    }

    /// One database of a catalog.
    pub async fn get_kafka_database(
        &self,
        org: &str,
        catalog: &str,
        name: &str,
    ) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        self.get_catalog(org, catalog).await?;
        self.get(&database_key(org, catalog, name)).await
    }

    /// A page of a catalog's databases.
    pub async fn list_kafka_databases(
        &self,
        org: &str,
        catalog: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        self.get_catalog(org, catalog).await?;
        self.list(
            org,
            Kind::KafkaDatabase,
            Some(catalog.to_owned()),
            vec![],
            page,
        )
        .await
    }

    /// Replaces a database's spec, labels and annotations.
    pub async fn update_kafka_database(
        &self,
        org: &str,
        catalog: &str,
        name: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::Organization(org))?;
        same_name(Kind::KafkaDatabase, &input, name)?;
        kafka_database_spec(&input.spec)?;
        let current = self.get_kafka_database(org, catalog, name).await?;
        let mut write = Write::new(
            current.key,
            WriteMode::Update {
                expected_version: None,
            },
            input.spec,
        );
        write.labels = input.labels;
        write.annotations = input.annotations;
        write.refs = vec![catalog_key(org, catalog)];
        self.store.write(write).await.map_err(store_error)
    }

    /// Deletes a database of a catalog.
    pub async fn delete_kafka_database(
        &self,
        org: &str,
        catalog: &str,
        name: &str,
    ) -> Result<(), Error> {
        self.allow(Need::Write, Scope::Organization(org))?;
        self.get_catalog(org, catalog).await?;
        self.store
            .delete(Delete::new(database_key(org, catalog, name)))
            .await
            .map_err(store_error)?
            .map(|_| ())
            .ok_or_else(|| Error::not_found(Kind::KafkaDatabase, name))
    }

    /// The environments whose secret mappings make `database` usable.
    pub async fn database_environments(&self, database: &Object) -> Result<Vec<String>, Error> {
        self.allow(Need::Read, Scope::Organization(&database.key.org))?;
        let ids = database_secret_ids(&database.spec);
        self.environments_mapping(&database.key.org, &ids).await
    }
}

/// The connection secret id a database spec uses, if any.
fn database_secret_ids(spec: &serde_json::Value) -> Vec<String> {
    view::<KafkaDatabaseSpec>(spec)
        .kafka_cluster
        .and_then(|c| c.connection_secret_id)
        .into_iter()
        .collect()
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

/// The connection secret ids a catalog spec uses.
fn connection_secret_ids(spec: &serde_json::Value) -> Vec<String> {
    view::<KafkaCatalogSpec>(spec).connection_secret_ids()
}

impl Core {
    /// The connection secret ids of `catalog` that environment `env` does
    /// not map; empty when the environment can use the catalog.
    async fn unmapped_secret_ids(
        &self,
        org: &str,
        env: &str,
        ids: &[String],
    ) -> Result<Vec<String>, Error> {
        let mut missing = Vec::new();
        for id in ids {
            let mapping = self
                .store
                .get(&ObjectKey::in_env(org, Kind::SecretMapping, env, id))
                .await
                .map_err(store_error)?;
            if mapping.is_none() {
                missing.push(id.clone());
            }
        }
        Ok(missing)
    }

    /// The environments whose secret mappings make `catalog` usable (CMF's
    /// `status.environmentsWithAccess`).
    pub async fn catalog_environments(&self, catalog: &Object) -> Result<Vec<String>, Error> {
        self.allow(Need::Read, Scope::Organization(&catalog.key.org))?;
        let ids = connection_secret_ids(&catalog.spec);
        self.environments_mapping(&catalog.key.org, &ids).await
    }

    /// The environments whose secret mappings cover every one of `ids`.
    async fn environments_mapping(&self, org: &str, ids: &[String]) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for key in self
            .store
            .keys(Kind::Environment)
            .await
            .map_err(store_error)?
        {
            if key.org == org
                && self
                    .unmapped_secret_ids(org, &key.name, ids)
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
        let catalog = self.as_drey().get_catalog(org, name).await?;
        if !self
            .unmapped_secret_ids(org, env, &connection_secret_ids(&catalog.spec))
            .await?
            .is_empty()
        {
            return Err(Error::not_found(Kind::Catalog, name));
        }
        let spec: KafkaCatalogSpec = view(&catalog.spec);
        let mut secret_values = Vec::new();
        let registry_connection = spec.sr_instance.clone().unwrap_or_default();
        let mut registry = registry_connection.connection_config;
        if let Some(id) = registry_connection.connection_secret_id {
            let data = self.mapped_secret(org, env, &id).await?;
            secret_values.extend(data.values().cloned());
            registry.extend(data);
        }
        let mut clusters = Vec::new();
        for cluster in spec.kafka_clusters {
            let mut config = cluster.connection.connection_config;
            if let Some(id) = cluster.connection.connection_secret_id {
                let data = self.mapped_secret(org, env, &id).await?;
                secret_values.extend(data.values().cloned());
                config.extend(data);
            }
            clusters.push((cluster.database_name.unwrap_or_default(), config));
        }
        // The catalog's KafkaDatabases are databases of it too, those whose
        // connection secret the environment maps.
        for database in self.list_all(org, Kind::KafkaDatabase, Some(name)).await? {
            let ids = database_secret_ids(&database.spec);
            if !self.unmapped_secret_ids(org, env, &ids).await?.is_empty() {
                continue;
            }
            let mut config = view::<KafkaDatabaseSpec>(&database.spec)
                .kafka_cluster
                .unwrap_or_default()
                .connection_config;
            for id in ids {
                let data = self.mapped_secret(org, env, &id).await?;
                secret_values.extend(data.values().cloned());
                config.extend(data);
            }
            clusters.push((database.meta.name.clone(), config));
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
        let secret = view::<SecretMappingSpec>(&mapping.spec)
            .secret_name
            .unwrap_or_default();
        let secret = secret.as_str();
        let data = self
            .store
            .secret_data(&ObjectKey::global(org, Kind::Secret, secret))
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::not_found(Kind::Secret, secret))?;
        Ok(data.0)
    }
}
