//! Kafka catalogs that statements can reference.

use crate::{store_error, Core, ResourceInput};
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
