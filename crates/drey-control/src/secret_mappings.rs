//! Environment secret mappings: `connection secret id -> secret` per environment.

use crate::access::{Need, Scope};
use crate::{store_error, Core, ResourceInput};
use drey_model::name::check_cmf_name;
use drey_model::validate::secret_mapping_spec;
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{Delete, Write, WriteMode};

fn mapping_key(org: &str, env: &str, name: &str) -> ObjectKey {
    ObjectKey::in_env(org, Kind::SecretMapping, env, name)
}

impl Core {
    async fn write_mapping(
        &self,
        org: &str,
        env: &str,
        input: ResourceInput,
        mode: WriteMode,
    ) -> Result<Object, Error> {
        let secret = secret_mapping_spec(&input.spec)?;
        self.require_environment(org, env).await?;
        let secret_key = ObjectKey::global(org, Kind::Secret, &secret);
        let mut write = Write::new(mapping_key(org, env, &input.name), mode, input.spec);
        write.labels = input.labels;
        write.annotations = input.annotations;
        write.requires = vec![
            ObjectKey::global(org, Kind::Environment, env),
            secret_key.clone(),
        ];
        write.refs = vec![secret_key];
        self.store.write(write).await.map_err(store_error)
    }

    /// Creates a mapping; the environment and the secret must exist.
    pub async fn create_secret_mapping(
        &self,
        org: &str,
        env: &str,
        input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        check_cmf_name("metadata.name", &input.name)?;
        self.write_mapping(org, env, input, WriteMode::Create).await
    }

    /// Points an existing mapping at another secret.
    pub async fn update_secret_mapping(
        &self,
        org: &str,
        env: &str,
        name: &str,
        mut input: ResourceInput,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        if input.name.is_empty() {
            input.name = name.to_owned();
        } else if input.name != name {
            return Err(Error::invalid(
                "metadata.name",
                format!(
                    "'{}' does not match the mapping '{name}' in the path",
                    input.name
                ),
            ));
        }
        self.write_mapping(
            org,
            env,
            input,
            WriteMode::Update {
                expected_version: None,
            },
        )
        .await
    }

    /// One mapping.
    pub async fn get_secret_mapping(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        self.get(&mapping_key(org, env, name)).await
    }

    /// A page of an environment's mappings.
    pub async fn list_secret_mappings(
        &self,
        org: &str,
        env: &str,
        page: PageRequest,
    ) -> Result<Page<Object>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        self.list(org, Kind::SecretMapping, Some(env.to_owned()), vec![], page)
            .await
    }

    /// Deletes a mapping.
    pub async fn delete_secret_mapping(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<(), Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        self.store
            .delete(Delete::new(mapping_key(org, env, name)))
            .await
            .map_err(store_error)?
            .map(|_| ())
            .ok_or_else(|| Error::not_found(Kind::SecretMapping, name))
    }
}
