//! Organizations (tenants) and their service accounts. Organizations live
//! in the server's own namespace (only server administrators see them);
//! service accounts live in their organization and carry its role for
//! every key made for them.

use crate::auth::{new_id, KeyRequest, NewToken, Role};
use crate::{store_error, Core};
use drey_model::object::DEFAULT_ORG;
use drey_model::{Error, Kind, Object, ObjectKey, PageRequest, Timestamp};
use drey_store::{Delete, Write, WriteMode};
use serde_json::json;

/// Organizations are kept here, out of every tenant's reach.
const SERVER_ORG: &str = "";

fn org_key(id: &str) -> ObjectKey {
    ObjectKey::global(SERVER_ORG, Kind::Organization, id)
}

fn account_key(org: &str, id: &str) -> ObjectKey {
    ObjectKey::global(org, Kind::ServiceAccount, id)
}

fn non_empty(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() || value.len() > max {
        return Err(Error::invalid(field, format!("must be 1-{max} characters")));
    }
    Ok(())
}

impl Core {
    /// Creates an organization.
    pub async fn create_organization(&self, name: &str) -> Result<Object, Error> {
        non_empty("name", name, 200)?;
        let write = Write::new(org_key(&new_id()), WriteMode::Create, json!({"name": name}));
        self.store.write(write).await.map_err(store_error)
    }

    /// One organization.
    pub async fn get_organization(&self, id: &str) -> Result<Object, Error> {
        self.get(&org_key(id)).await
    }

    /// Every organization, oldest first.
    pub async fn list_organizations(&self) -> Result<Vec<Object>, Error> {
        let mut out = Vec::new();
        for key in self
            .store
            .keys(Kind::Organization)
            .await
            .map_err(store_error)?
        {
            if let Some(org) = self.store.get(&key).await.map_err(store_error)? {
                out.push(org);
            }
        }
        out.sort_by_key(|o| o.meta.creation_timestamp);
        Ok(out)
    }

    /// Deletes an organization that holds no environments; its keys stop working.
    pub async fn delete_organization(&self, id: &str) -> Result<(), Error> {
        self.get_organization(id).await?;
        let envs = self
            .list(
                id,
                Kind::Environment,
                Some(String::new()),
                vec![],
                PageRequest {
                    page: 0,
                    size: 1,
                    sort: vec![],
                },
            )
            .await?;
        if envs.total > 0 {
            return Err(Error::Conflict(format!(
                "Organization '{id}' still holds environments"
            )));
        }
        for key in self.list_keys("service-account", Some(id), None).await? {
            self.revoke_key(&key.meta.name).await?;
        }
        self.store
            .delete(Delete::new(org_key(id)))
            .await
            .map_err(store_error)
            .map(drop)
    }

    /// Fails with 404 semantics unless `org` exists (the default one always does).
    async fn require_organization(&self, org: &str) -> Result<(), Error> {
        if org == DEFAULT_ORG {
            return Ok(());
        }
        self.get_organization(org).await.map(drop)
    }

    /// Creates a service account in `org` with a role for its keys.
    pub async fn create_service_account(
        &self,
        org: &str,
        username: &str,
        description: &str,
        role: Role,
    ) -> Result<Object, Error> {
        non_empty("username", username, 200)?;
        self.require_organization(org).await?;
        let write = Write::new(
            account_key(org, &new_id()),
            WriteMode::Create,
            json!({"username": username, "description": description, "role": role.as_str()}),
        );
        self.store.write(write).await.map_err(store_error)
    }

    /// One service account of `org`.
    pub async fn get_service_account(&self, org: &str, id: &str) -> Result<Object, Error> {
        self.get(&account_key(org, id)).await
    }

    /// The service accounts of `org`, oldest first.
    pub async fn list_service_accounts(&self, org: &str) -> Result<Vec<Object>, Error> {
        let mut out = Vec::new();
        for key in self
            .store
            .keys(Kind::ServiceAccount)
            .await
            .map_err(store_error)?
        {
            if key.org == org {
                if let Some(sa) = self.store.get(&key).await.map_err(store_error)? {
                    out.push(sa);
                }
            }
        }
        out.sort_by_key(|o| o.meta.creation_timestamp);
        Ok(out)
    }

    /// Deletes a service account; its keys stop working at once.
    pub async fn delete_service_account(&self, org: &str, id: &str) -> Result<(), Error> {
        self.get_service_account(org, id).await?;
        for key in self
            .list_keys("service-account", Some(org), Some(id))
            .await?
        {
            self.revoke_key(&key.meta.name).await?;
        }
        self.store
            .delete(Delete::new(account_key(org, id)))
            .await
            .map_err(store_error)
            .map(drop)
    }

    /// A key for a service account of `org`.
    pub async fn create_service_account_key(
        &self,
        org: &str,
        account: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(NewToken, Object), Error> {
        self.get_service_account(org, account).await?;
        self.create_key(KeyRequest {
            kind: "service-account",
            org: org.to_owned(),
            owner: Some(account.to_owned()),
            expires_at,
        })
        .await
    }
}
