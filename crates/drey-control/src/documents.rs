//! Documents a dialect keeps in an environment without runtime meaning of
//! their own (VVP deployment targets, secret values, deployment defaults):
//! stored, versioned and deleted by one set of rules. A secret field is
//! sealed like every secret and never read back.

use crate::access::{Need, Scope};
use crate::{store_error, Core};
use drey_model::{Error, Kind, Object, ObjectKey, Page, PageRequest};
use drey_store::{Delete, SecretData, Write, WriteMode};
use serde_json::Value;
use std::collections::BTreeMap;

fn key(org: &str, env: &str, plural: &str, name: &str) -> ObjectKey {
    ObjectKey::in_env(org, Kind::Document, env, &format!("{plural}/{name}"))
}

/// One document to write.
pub struct DocumentInput {
    /// Its collection, e.g. `deployment-targets`.
    pub plural: String,
    /// Its name in the collection.
    pub name: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// What is stored and shown.
    pub spec: Value,
    /// Sealed at rest, never shown.
    pub secret: Option<BTreeMap<String, String>>,
}

impl Core {
    /// Creates (`create`: 409 if it exists) or replaces a document;
    /// `expected` refuses a stale resource version with 409.
    pub async fn put_document(
        &self,
        org: &str,
        env: &str,
        input: DocumentInput,
        create: bool,
        expected: Option<i64>,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        let mode = match (create, expected) {
            (true, _) => WriteMode::Create,
            (false, Some(v)) => WriteMode::Update {
                expected_version: Some(v),
            },
            (false, None) => WriteMode::Upsert,
        };
        let mut write = Write::new(key(org, env, &input.plural, &input.name), mode, input.spec);
        write.labels = input.labels;
        write.annotations = input.annotations;
        write.requires = vec![ObjectKey::global(org, Kind::Environment, env)];
        write.secret = input.secret.map(SecretData);
        self.store.write(write).await.map_err(store_error)
    }

    /// One document; 404 naming it when absent.
    pub async fn get_document(
        &self,
        org: &str,
        env: &str,
        plural: &str,
        name: &str,
    ) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        self.store
            .get(&key(org, env, plural, name))
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::NotFound {
                kind: Kind::Document,
                name: format!("{plural}/{name}"),
            })
    }

    /// The documents of a collection.
    pub async fn list_documents(
        &self,
        org: &str,
        env: &str,
        plural: &str,
    ) -> Result<Vec<Object>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        let mut out = Vec::new();
        for page in 0.. {
            let items: Page<Object> = self
                .list(
                    org,
                    Kind::Document,
                    Some(env.to_owned()),
                    vec![],
                    PageRequest {
                        page,
                        size: 1000,
                        sort: vec![],
                    },
                )
                .await?;
            let done = items.items.len() < 1000;
            out.extend(
                items
                    .items
                    .into_iter()
                    .filter(|o| o.meta.name.starts_with(&format!("{plural}/"))),
            );
            if done {
                break;
            }
        }
        Ok(out)
    }

    /// Deletes a document.
    pub async fn delete_document(
        &self,
        org: &str,
        env: &str,
        plural: &str,
        name: &str,
    ) -> Result<Object, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        self.store
            .delete(Delete::new(key(org, env, plural, name)))
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::NotFound {
                kind: Kind::Document,
                name: format!("{plural}/{name}"),
            })
    }
}
