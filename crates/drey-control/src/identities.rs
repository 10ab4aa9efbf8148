//! Organizations (tenants) and their principals: users and service
//! accounts. Organizations live in the server's own namespace (only server
//! administrators see them); principals live in their organization and carry,
//! for every key made for them, an organization-wide role (or none) and the
//! roles granted to them on single environments (`spec.grants`).

use crate::access::{Need, Scope};
use crate::auth::{new_id, KeyRequest, NewToken, PrincipalKind, Role};
use crate::{store_error, Core};
use drey_model::identity::{ApiKeySpec, Grant, PrincipalSpec};
use drey_model::loose::{to_json, view};
use drey_model::object::DEFAULT_ORG;
use drey_model::{Error, Kind, Object, ObjectKey, PageRequest, Timestamp};
use drey_store::{Delete, Write, WriteMode};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Organizations are kept here, out of every tenant's reach.
const SERVER_ORG: &str = "";

pub(crate) fn org_key(id: &str) -> ObjectKey {
    ObjectKey::global(SERVER_ORG, Kind::Organization, id)
}

fn principal_key(org: &str, kind: PrincipalKind, id: &str) -> ObjectKey {
    ObjectKey::global(org, kind.kind(), id)
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
        self.allow(Need::Administer, Scope::Server)?;
        non_empty("name", name, 200)?;
        let write = Write::new(org_key(&new_id()), WriteMode::Create, json!({"name": name}));
        self.store.write(write).await.map_err(store_error)
    }

    /// Renames an organization.
    pub async fn rename_organization(&self, id: &str, name: &str) -> Result<Object, Error> {
        self.allow(Need::Administer, Scope::Server)?;
        non_empty("name", name, 200)?;
        let current = self.get_organization(id).await?;
        let mut spec = serde_json::Map::new();
        spec.insert("name".into(), json!(name));
        // Its limits are kept.
        if let Some(limits) = current.spec.get("limits") {
            spec.insert("limits".into(), limits.clone());
        }
        let spec = Value::Object(spec);
        let write = Write::new(
            current.key.clone(),
            WriteMode::Update {
                expected_version: Some(current.meta.resource_version),
            },
            spec,
        );
        self.store.write(write).await.map_err(store_error)
    }

    /// Sets an organization's quota limits (all-default limits: none set).
    pub async fn set_organization_limits(
        &self,
        id: &str,
        limits: drey_model::quota::Limits,
    ) -> Result<Object, Error> {
        self.allow(Need::Administer, Scope::Server)?;
        let current = self.get_organization(id).await?;
        let mut spec = serde_json::Map::new();
        spec.insert(
            "name".into(),
            current.spec.get("name").cloned().unwrap_or_default(),
        );
        if limits != drey_model::quota::Limits::default() {
            spec.insert("limits".into(), drey_model::loose::to_json(&limits));
        }
        let spec = Value::Object(spec);
        let write = Write::new(
            current.key.clone(),
            WriteMode::Update {
                expected_version: Some(current.meta.resource_version),
            },
            spec,
        );
        self.store.write(write).await.map_err(store_error)
    }

    /// One organization.
    pub async fn get_organization(&self, id: &str) -> Result<Object, Error> {
        self.allow(Need::Member, Scope::Organization(id))?;
        self.get(&org_key(id)).await
    }

    /// Every organization, oldest first.
    pub async fn list_organizations(&self) -> Result<Vec<Object>, Error> {
        self.allow(Need::Administer, Scope::Server)?;
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
        self.allow(Need::Administer, Scope::Server)?;
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
        for kind in ["service-account", "user", crate::auth::API_TOKEN] {
            for key in self.list_keys(kind, Some(id), None).await? {
                self.revoke_key(&key.meta.name).await?;
            }
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

    /// Creates a user or service account in `org`: `spec` as the dialect
    /// gave it (checked there), `role` its organization-wide role (`None`:
    /// only what is granted per environment).
    pub async fn create_principal(
        &self,
        org: &str,
        kind: PrincipalKind,
        spec: Value,
        role: Option<Role>,
    ) -> Result<Object, Error> {
        self.allow(Need::Administer, Scope::Organization(org))?;
        let mut spec: PrincipalSpec = view(&spec);
        non_empty(
            "username",
            spec.username.as_deref().unwrap_or_default(),
            200,
        )?;
        self.require_organization(org).await?;
        spec.role = role.map(|r| r.as_str().to_owned());
        spec.grants = BTreeMap::new();
        let write = Write::new(
            principal_key(org, kind, &new_id()),
            WriteMode::Create,
            to_json(&spec),
        );
        self.store.write(write).await.map_err(store_error)
    }

    /// Creates a service account with an organization-wide role.
    pub async fn create_service_account(
        &self,
        org: &str,
        username: &str,
        description: &str,
        role: Role,
    ) -> Result<Object, Error> {
        self.allow(Need::Administer, Scope::Organization(org))?;
        self.create_principal(
            org,
            PrincipalKind::ServiceAccount,
            json!({"username": username, "description": description}),
            Some(role),
        )
        .await
    }

    /// One user or service account of `org`.
    pub async fn get_principal(
        &self,
        org: &str,
        kind: PrincipalKind,
        id: &str,
    ) -> Result<Object, Error> {
        // Everyone may read who they are themselves.
        let own = self.caller().identity().is_some_and(|who| {
            who.org == org && (who.principal.as_ref()).is_some_and(|p| p.kind == kind && p.id == id)
        });
        if !own {
            self.allow(Need::Read, Scope::Organization(org))?;
        }
        self.get(&principal_key(org, kind, id)).await
    }

    /// One service account of `org`.
    pub async fn get_service_account(&self, org: &str, id: &str) -> Result<Object, Error> {
        self.get_principal(org, PrincipalKind::ServiceAccount, id)
            .await
    }

    /// The users or service accounts of `org`, oldest first.
    pub async fn list_principals(
        &self,
        org: &str,
        kind: PrincipalKind,
    ) -> Result<Vec<Object>, Error> {
        self.allow(Need::Read, Scope::Organization(org))?;
        let mut out = Vec::new();
        for key in self.store.keys(kind.kind()).await.map_err(store_error)? {
            if key.org == org {
                if let Some(p) = self.store.get(&key).await.map_err(store_error)? {
                    out.push(p);
                }
            }
        }
        out.sort_by_key(|o| o.meta.creation_timestamp);
        Ok(out)
    }

    /// Replaces a principal's spec (its grants are kept), checked against
    /// the version read so a concurrent grant is never lost.
    pub async fn update_principal(&self, current: &Object, spec: Value) -> Result<Object, Error> {
        self.allow(Need::Administer, Scope::Organization(&current.key.org))?;
        let mut spec: PrincipalSpec = view(&spec);
        non_empty(
            "username",
            spec.username.as_deref().unwrap_or_default(),
            200,
        )?;
        spec.grants = view::<PrincipalSpec>(&current.spec).grants;
        let write = Write::new(
            current.key.clone(),
            WriteMode::Update {
                expected_version: Some(current.meta.resource_version),
            },
            to_json(&spec),
        );
        self.store.write(write).await.map_err(store_error)
    }

    /// Deletes a user or service account; its keys stop working at once.
    pub async fn delete_principal(
        &self,
        org: &str,
        kind: PrincipalKind,
        id: &str,
    ) -> Result<(), Error> {
        self.allow(Need::Administer, Scope::Organization(org))?;
        self.get_principal(org, kind, id).await?;
        for key in self.list_keys(kind.key_kind(), Some(org), Some(id)).await? {
            self.revoke_key(&key.meta.name).await?;
        }
        self.store
            .delete(Delete::new(principal_key(org, kind, id)))
            .await
            .map_err(store_error)
            .map(drop)
    }

    /// A key (service-account key, user token) for a principal of `org`.
    pub async fn create_principal_key(
        &self,
        org: &str,
        kind: PrincipalKind,
        id: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(NewToken, Object), Error> {
        self.allow(Need::Administer, Scope::Organization(org))?;
        self.get_principal(org, kind, id).await?;
        self.create_key(KeyRequest {
            kind: kind.key_kind(),
            org: org.to_owned(),
            owner: Some(id.to_owned()),
            expires_at,
            ..KeyRequest::default()
        })
        .await
    }

    /// A key for a service account of `org`.
    pub async fn create_service_account_key(
        &self,
        org: &str,
        account: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<(NewToken, Object), Error> {
        self.allow(Need::Administer, Scope::Organization(org))?;
        self.create_principal_key(org, PrincipalKind::ServiceAccount, account, expires_at)
            .await
    }

    /// Grants `role` on `env` to a principal of the caller's organization,
    /// or (`None`) takes its grant away, when the caller may grant there
    /// ([`Identity::may_grant`]). Read-modify-write against the principal's
    /// version.
    pub async fn set_grant(
        &self,
        org: &str,
        env: &str,
        kind: PrincipalKind,
        id: &str,
        role: Option<Role>,
    ) -> Result<Object, Error> {
        self.allow(Need::Grant, Scope::env(org, env))?;
        if role == Some(Role::Admin) {
            return Err(Error::invalid("role", "must be viewer, editor or owner"));
        }
        self.require_environment(org, env).await?;
        for _ in 0..20 {
            let current = self.as_drey().get_principal(org, kind, id).await?;
            let mut spec: PrincipalSpec = view(&current.spec);
            let now = Timestamp::now();
            match role {
                Some(role) => {
                    let created = spec.grants.get(env).and_then(|g| g.created_at);
                    spec.grants.insert(
                        env.to_owned(),
                        Grant {
                            role: role.as_str().to_owned(),
                            created_at: Some(created.unwrap_or(now)),
                            updated_at: Some(now),
                        },
                    );
                }
                None => {
                    spec.grants.remove(env);
                }
            }
            let write = Write::new(
                current.key.clone(),
                WriteMode::Update {
                    expected_version: Some(current.meta.resource_version),
                },
                to_json(&spec),
            );
            match self.store.write(write).await {
                Ok(stored) => return Ok(stored),
                Err(drey_store::StoreError::VersionConflict { .. }) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(Error::Unavailable(format!(
            "principal '{id}' keeps changing; retry"
        )))
    }

    /// Checks, before anything is written, that the caller may grant roles
    /// on `env` (for a namespace about to be made: as its organization role
    /// allows) and that every member named exists.
    pub async fn check_grants(
        &self,
        org: &str,
        env: &str,
        members: &[(PrincipalKind, String)],
    ) -> Result<(), Error> {
        self.allow(Need::Grant, Scope::env(org, env))?;
        for (kind, id) in members {
            self.as_drey()
                .get_principal(org, *kind, id)
                .await
                .map_err(|_| {
                    let kind = match kind {
                        PrincipalKind::User => "user",
                        PrincipalKind::ServiceAccount => "serviceaccount",
                    };
                    Error::invalid(
                        "roleBindings",
                        format!("member '{kind}:{id}' does not exist"),
                    )
                })?;
        }
        Ok(())
    }

    /// Every grant on `env`: the principals holding one, with their kind.
    pub async fn grants_on(
        &self,
        org: &str,
        env: &str,
    ) -> Result<Vec<(PrincipalKind, Object)>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let mut out = Vec::new();
        for kind in [PrincipalKind::User, PrincipalKind::ServiceAccount] {
            for p in self.as_drey().list_principals(org, kind).await? {
                if view::<PrincipalSpec>(&p.spec).grants.contains_key(env) {
                    out.push((kind, p));
                }
            }
        }
        Ok(out)
    }

    /// Forgets every grant on a deleted environment and revokes its VVP API
    /// tokens, so an environment made later under the same name starts bare.
    pub(crate) async fn forget_environment_access(
        &self,
        org: &str,
        env: &str,
    ) -> Result<(), Error> {
        // Part of a delete already allowed: whoever deleted cannot see them all.
        let core = self.as_drey();
        for (_, p) in core.grants_on(org, env).await? {
            core.set_grant_unchecked(&p, env).await?;
        }
        for key in core
            .list_keys(crate::auth::API_TOKEN, Some(org), None)
            .await?
        {
            if view::<ApiKeySpec>(&key.spec).namespace.as_deref() == Some(env) {
                core.revoke_key(&key.meta.name).await?;
            }
        }
        Ok(())
    }

    /// Removes `env` from a principal's grants without checking that the
    /// environment exists (it is being deleted).
    async fn set_grant_unchecked(&self, principal: &Object, env: &str) -> Result<(), Error> {
        let mut spec: PrincipalSpec = view(&principal.spec);
        spec.grants.remove(env);
        self.store
            .write(Write::new(
                principal.key.clone(),
                WriteMode::Upsert,
                to_json(&spec),
            ))
            .await
            .map_err(store_error)
            .map(drop)
    }
}
