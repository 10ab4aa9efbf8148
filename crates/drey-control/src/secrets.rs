//! Secrets: data encrypted at rest, never returned, made visible to an
//! environment through a secret mapping.

use crate::access::{Need, Scope};
use crate::{store_error, Core, ResourceInput};
use drey_model::name::check_cmf_name;
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{Delete, SecretData, Write, WriteMode};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A secret as the API may show it: the object (its spec holds no data) and
/// the environments that map it.
#[derive(Clone, Debug)]
pub struct SecretView {
    /// The stored object.
    pub object: Object,
    /// Names of the environments whose mappings name this secret.
    pub environments: Vec<String>,
}

fn secret_key(org: &str, name: &str) -> ObjectKey {
    ObjectKey::global(org, Kind::Secret, name)
}

/// Splits `spec.data` out of a secret's spec; the rest of the spec is kept.
fn take_data(spec: &Value) -> Result<(Value, SecretData), Error> {
    let Some(map) = spec.as_object() else {
        return Err(Error::invalid("spec", "must be an object"));
    };
    let mut rest = map.clone();
    let data = match rest.remove("data") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(d)) => d
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                _ => Err(Error::invalid(format!("spec.data.{k}"), "must be a string")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Error::invalid("spec.data", "must be a map of strings")),
    };
    Ok((Value::Object(rest), SecretData(data)))
}

impl Core {
    /// Creates a secret; 409 semantics if the name is taken.
    pub async fn create_secret(
        &self,
        org: &str,
        input: ResourceInput,
    ) -> Result<SecretView, Error> {
        self.allow(Need::Write, Scope::Organization(org))?;
        check_cmf_name("metadata.name", &input.name)?;
        let (spec, data) = take_data(&input.spec)?;
        let mut write = Write::new(secret_key(org, &input.name), WriteMode::Create, spec);
        write.labels = input.labels;
        write.annotations = input.annotations;
        write.secret = Some(data);
        write.status = Some(json!({}));
        let stored = self.store.write(write).await.map_err(store_error)?;
        self.secret_view(stored).await
    }

    /// Replaces a secret's data (and labels); its version changes.
    pub async fn update_secret(
        &self,
        org: &str,
        name: &str,
        input: ResourceInput,
    ) -> Result<SecretView, Error> {
        self.allow(Need::Write, Scope::Organization(org))?;
        if !input.name.is_empty() && input.name != name {
            return Err(Error::invalid(
                "metadata.name",
                format!(
                    "'{}' does not match the secret '{name}' in the path",
                    input.name
                ),
            ));
        }
        let (spec, data) = take_data(&input.spec)?;
        let mut write = Write::new(
            secret_key(org, name),
            WriteMode::Update {
                expected_version: None,
            },
            spec,
        );
        write.labels = input.labels;
        write.annotations = input.annotations;
        write.secret = Some(data);
        let stored = self.store.write(write).await.map_err(store_error)?;
        self.secret_view(stored).await
    }

    /// One secret, without its data.
    pub async fn get_secret(&self, org: &str, name: &str) -> Result<SecretView, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        let object = self.get(&secret_key(org, name)).await?;
        self.secret_view(object).await
    }

    /// A page of secrets, without their data.
    pub async fn list_secrets(
        &self,
        org: &str,
        page: PageRequest,
    ) -> Result<Page<SecretView>, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        let page = self
            .list(org, Kind::Secret, Some(String::new()), vec![], page)
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for object in page.items {
            items.push(self.secret_view(object).await?);
        }
        Ok(Page {
            items,
            total: page.total,
        })
    }

    /// Deletes a secret; refused while an environment maps it, so a mapping
    /// never points at nothing.
    pub async fn delete_secret(&self, org: &str, name: &str) -> Result<(), Error> {
        self.allow(Need::Write, Scope::Organization(org))?;
        let mut delete = Delete::new(secret_key(org, name));
        delete.refuse_if_referenced = true;
        self.store
            .delete(delete)
            .await
            .map_err(store_error)?
            .map(|_| ())
            .ok_or_else(|| Error::not_found(Kind::Secret, name))
    }

    async fn secret_view(&self, object: Object) -> Result<SecretView, Error> {
        let environments = self
            .store
            .referrers(&object.key, Kind::SecretMapping)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|k| k.scope)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(SecretView {
            object,
            environments,
        })
    }
}
