//! Identities and API keys. A token is `drey_<key id>_<secret>`: the secret is
//! 256 random bits, shown once when the key is made; the store keeps only its
//! SHA-256, compared in constant time. Keys live in the server's own
//! organization namespace (`""`), so no tenant can list them as objects.

use crate::access::{Need, Scope};
use crate::{store_error, Core};
use base64::Engine;
use drey_model::identity::{ApiKeySpec, ApiKeyStatus, PrincipalSpec};
use drey_model::loose::{to_json, view};
use drey_model::object::DEFAULT_ORG;
use drey_model::{Error, Kind, ObjectKey, Timestamp};
use drey_store::{Write, WriteMode};
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// Where keys are stored (no tenant's organization).
const KEYS_ORG: &str = "";
const PREFIX: &str = "drey_";

/// What an identity may do: in its whole organization, or on one
/// environment (a workspace or namespace grant, a VVP API token).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read.
    Viewer,
    /// Read and write.
    Editor,
    /// Read, write and grant roles on the environment.
    Owner,
    /// Everything in the organization, its identities and keys included.
    Admin,
}

impl Role {
    /// Parses `viewer`, `editor`, `owner` or `admin`.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// A role that can be granted on one environment: viewer, editor, owner.
    pub fn parse_grant(text: &str) -> Option<Role> {
        Role::parse(text).filter(|r| *r != Role::Admin)
    }

    /// An organization-wide role: viewer, editor, admin.
    pub fn parse_org(text: &str) -> Option<Role> {
        Role::parse(text).filter(|r| *r != Role::Owner)
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
            Role::Admin => "admin",
        }
    }
}

/// Who a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalKind {
    /// A human.
    User,
    /// A program.
    ServiceAccount,
}

impl PrincipalKind {
    /// The core kind its objects are stored as.
    pub fn kind(self) -> Kind {
        match self {
            PrincipalKind::User => Kind::User,
            PrincipalKind::ServiceAccount => Kind::ServiceAccount,
        }
    }

    /// The `kind` its keys are recorded with.
    pub fn key_kind(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::ServiceAccount => "service-account",
        }
    }

    fn of_key_kind(kind: &str) -> Option<PrincipalKind> {
        match kind {
            "user" => Some(PrincipalKind::User),
            "service-account" => Some(PrincipalKind::ServiceAccount),
            _ => None,
        }
    }
}

/// A user or service account of an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// User or service account.
    pub kind: PrincipalKind,
    /// Its id.
    pub id: String,
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The organization the caller acts in.
    pub org: String,
    /// The key id (never the secret), for audit.
    pub key_id: String,
    /// Server administrators hold root keys.
    pub server_admin: bool,
    /// The caller's role in its whole organization; `None` when it has only
    /// the roles granted on single environments.
    pub role: Option<Role>,
    /// Roles on single environments, by environment name.
    pub grants: BTreeMap<String, Role>,
    /// The user or service account the key belongs to, if any.
    pub principal: Option<Principal>,
}

impl Identity {
    /// The caller when authentication is off: the default organization.
    pub fn anonymous() -> Self {
        Identity {
            org: DEFAULT_ORG.to_owned(),
            key_id: "anonymous".to_owned(),
            server_admin: true,
            role: Some(Role::Admin),
            grants: BTreeMap::new(),
            principal: None,
        }
    }

    /// A member of `org` (no server administrator, no principal) holding
    /// `role` organization-wide and `grants` on single environments.
    pub fn member(org: &str, role: Option<Role>, grants: &[(&str, Role)]) -> Self {
        Identity {
            org: org.to_owned(),
            key_id: format!("{org}-member"),
            server_admin: false,
            role,
            grants: (grants.iter())
                .map(|(env, role)| ((*env).to_owned(), *role))
                .collect(),
            principal: None,
        }
    }

    /// The caller's role on one environment: the stronger of its
    /// organization-wide role and the environment's grant.
    pub fn role_in(&self, env: &str) -> Option<Role> {
        self.role.max(self.grants.get(env).copied())
    }
}

/// A newly made token. Its `Debug` hides the secret.
pub struct NewToken {
    /// The key id (public).
    pub key_id: String,
    /// The whole bearer token; shown once.
    pub token: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewToken({}, secret redacted)", self.key_id)
    }
}

fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_text(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// A server-made id: 16 of `[A-Z0-9]` (LakeSail's `ResourceId`).
pub fn new_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut buf = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    buf.iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The key a token names, by id.
pub fn key_ref(key_id: &str) -> ObjectKey {
    ObjectKey::global(KEYS_ORG, Kind::ApiKey, key_id)
}

/// What a new key is for.
#[derive(Default)]
pub struct KeyRequest {
    /// `root`, `service-account`, `user` or [`API_TOKEN`].
    pub kind: &'static str,
    /// The organization it acts in.
    pub org: String,
    /// The user or service account it belongs to.
    pub owner: Option<String>,
    /// When it stops working.
    pub expires_at: Option<Timestamp>,
    /// A VVP API token's namespace, name and role.
    pub api_token: Option<ApiTokenFields>,
}

/// What a VVP API token adds to its key: one role on one namespace.
pub struct ApiTokenFields {
    /// The namespace (environment).
    pub namespace: String,
    /// The token's name.
    pub name: String,
    /// Its role there.
    pub role: Role,
}

impl Core {
    /// Makes a root key (server administrator, acting in the default organization).
    pub async fn create_root_key(&self) -> Result<NewToken, Error> {
        self.create_key(KeyRequest {
            kind: "root",
            org: DEFAULT_ORG.to_owned(),
            ..KeyRequest::default()
        })
        .await
        .map(|(token, _)| token)
    }

    /// Makes a key: a random 256-bit secret, shown once; only its SHA-256 is kept.
    pub async fn create_key(
        &self,
        request: KeyRequest,
    ) -> Result<(NewToken, drey_model::Object), Error> {
        let namespace = request.api_token.as_ref().map(|t| t.namespace.as_str());
        self.allow_on_key(request.kind, &request.org, namespace)?;
        let key_id = new_id();
        let secret = random_text(32);
        let token = request.api_token;
        let spec = ApiKeySpec {
            kind: Some(request.kind.to_owned()),
            org: Some(request.org),
            sha256: Some(hash(&secret)),
            created_at: Some(Timestamp::now()),
            owner: request.owner,
            expires_at: request.expires_at,
            namespace: token.as_ref().map(|t| t.namespace.clone()),
            name: token.as_ref().map(|t| t.name.clone()),
            role: token.as_ref().map(|t| t.role.as_str().to_owned()),
            extra: Default::default(),
        };
        let mut write = Write::new(key_ref(&key_id), WriteMode::Create, to_json(&spec));
        write.status = Some(to_json(&ApiKeyStatus {
            revoked: Some(false),
            ..ApiKeyStatus::default()
        }));
        let stored = self.store.write(write).await.map_err(store_error)?;
        Ok((
            NewToken {
                token: format!("{PREFIX}{key_id}_{secret}"),
                key_id,
            },
            stored,
        ))
    }

    /// A key's record (never its secret), if it exists and is not revoked.
    pub async fn get_key(&self, key_id: &str) -> Result<Option<drey_model::Object>, Error> {
        let key = self.live_key(key_id).await?;
        if let Some(key) = &key {
            let spec: ApiKeySpec = view(&key.spec);
            self.allow_on_key(
                spec.kind.as_deref().unwrap_or_default(),
                spec.org.as_deref().unwrap_or_default(),
                spec.namespace.as_deref(),
            )?;
        }
        Ok(key)
    }

    /// Who may see and change a key: root keys are the server
    /// administrators', a VVP API token its namespace's owners', any other
    /// key its organization's administrators'.
    fn allow_on_key(&self, kind: &str, org: &str, namespace: Option<&str>) -> Result<(), Error> {
        match (kind, namespace) {
            ("root", _) => self.allow(Need::Administer, Scope::Server),
            (API_TOKEN, Some(env)) => self.allow(Need::Grant, Scope::env(org, env)),
            _ => self.allow(Need::Administer, Scope::Organization(org)),
        }
    }

    /// A key's record whoever asks (for the checks that decide who asks).
    async fn live_key(&self, key_id: &str) -> Result<Option<drey_model::Object>, Error> {
        Ok(self
            .store
            .get(&key_ref(key_id))
            .await
            .map_err(store_error)?
            .filter(|k| !view::<ApiKeyStatus>(&k.status).is_revoked()))
    }

    /// Every live key of a kind (and organization / owner when given).
    pub async fn list_keys(
        &self,
        kind: &str,
        org: Option<&str>,
        owner: Option<&str>,
    ) -> Result<Vec<drey_model::Object>, Error> {
        match org {
            Some(org) if kind != "root" => {
                self.allow(Need::Administer, Scope::Organization(org))?
            }
            _ => self.allow(Need::Administer, Scope::Server)?,
        }
        let mut out = Vec::new();
        for key in self.store.keys(Kind::ApiKey).await.map_err(store_error)? {
            let Some(k) = self.live_key(&key.name).await? else {
                continue;
            };
            let spec: ApiKeySpec = view(&k.spec);
            let same = |field: &Option<String>, want: Option<&str>| {
                want.is_none_or(|w| field.as_deref() == Some(w))
            };
            if spec.kind.as_deref() == Some(kind)
                && same(&spec.org, org)
                && same(&spec.owner, owner)
            {
                out.push(k);
            }
        }
        out.sort_by_key(|o| o.meta.creation_timestamp);
        Ok(out)
    }

    /// Sets (or with `None` clears) a live key's expiry.
    pub async fn set_key_expiry(
        &self,
        key_id: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<drey_model::Object, Error> {
        let key = self
            .get_key(key_id)
            .await?
            .ok_or_else(|| Error::not_found(Kind::ApiKey, key_id))?;
        let mut spec: ApiKeySpec = view(&key.spec);
        spec.expires_at = expires_at;
        let write = Write::new(
            key.key.clone(),
            WriteMode::Update {
                expected_version: Some(key.meta.resource_version),
            },
            to_json(&spec),
        );
        self.store.write(write).await.map_err(store_error)
    }

    /// Revokes a key: it stops working at once.
    pub async fn revoke_key(&self, key_id: &str) -> Result<(), Error> {
        let key = self
            .get_key(key_id)
            .await?
            .ok_or_else(|| Error::not_found(Kind::ApiKey, key_id))?;
        let mut status: ApiKeyStatus = view(&key.status);
        status.revoked = Some(true);
        status.revoked_at = Some(Timestamp::now());
        self.store
            .write_status(&key.key, None, to_json(&status))
            .await
            .map(drop)
            .map_err(store_error)
    }

    /// Whether any root key exists.
    pub async fn has_root_key(&self) -> Result<bool, Error> {
        let keys = self.store.keys(Kind::ApiKey).await.map_err(store_error)?;
        Ok(!keys.is_empty())
    }

    /// Whether the key `key_id` may still act: it exists, is not revoked and
    /// has not expired (`anonymous`, without authentication, always may).
    pub async fn key_is_live(&self, key_id: &str) -> Result<bool, Error> {
        if key_id == "anonymous" {
            return Ok(true);
        }
        if key_id.is_empty() || key_id.len() > 64 {
            return Ok(false);
        }
        let Some(key) = self
            .store
            .get(&ObjectKey::global(KEYS_ORG, Kind::ApiKey, key_id))
            .await
            .map_err(store_error)?
        else {
            return Ok(false);
        };
        if key.status.get("revoked").and_then(Value::as_bool) == Some(true) {
            return Ok(false);
        }
        Ok(match key.spec.get("expiresAt").and_then(Value::as_str) {
            Some(expires) => Timestamp::parse(expires).is_some_and(|t| t > Timestamp::now()),
            None => true,
        })
    }

    /// The identity a bearer token stands for; `None` for anything that is
    /// not a valid, unrevoked, unexpired key (the caller answers 401).
    pub async fn authenticate(&self, token: &str) -> Result<Option<Identity>, Error> {
        let Some(rest) = token.strip_prefix(PREFIX) else {
            return Ok(None);
        };
        let Some((key_id, secret)) = rest.split_once('_') else {
            return Ok(None);
        };
        if key_id.is_empty() || key_id.len() > 64 || secret.is_empty() {
            return Ok(None);
        }
        let key = self
            .store
            .get(&ObjectKey::global(KEYS_ORG, Kind::ApiKey, key_id))
            .await
            .map_err(store_error)?;
        let Some(key) = key else {
            return Ok(None);
        };
        let spec: ApiKeySpec = view(&key.spec);
        let stored = spec.sha256.as_deref().unwrap_or_default();
        let matches: bool = hash(secret).as_bytes().ct_eq(stored.as_bytes()).into();
        if !matches || view::<ApiKeyStatus>(&key.status).is_revoked() {
            return Ok(None);
        }
        // An expiry that cannot be read is no expiry to trust: refused.
        if key.spec.get("expiresAt").is_some_and(|v| !v.is_null()) {
            match spec.expires_at {
                Some(t) if t > Timestamp::now() => {}
                _ => return Ok(None),
            }
        }
        let org = spec.org.clone().unwrap_or_else(|| DEFAULT_ORG.to_owned());
        let mut identity = Identity {
            org,
            key_id: key_id.to_owned(),
            server_admin: false,
            role: None,
            grants: BTreeMap::new(),
            principal: None,
        };
        let kind = spec.kind.as_deref().unwrap_or_default();
        if kind == "root" {
            identity.server_admin = true;
            identity.role = Some(Role::Admin);
        } else if kind == API_TOKEN {
            // A VVP API token: one role on one namespace.
            let ns = spec.namespace.as_deref().unwrap_or_default();
            let role = spec.role.as_deref().and_then(Role::parse_grant);
            match role {
                Some(role) if !ns.is_empty() => {
                    identity.grants.insert(ns.to_owned(), role);
                }
                _ => return Ok(None),
            }
        } else if let Some(principal_kind) = PrincipalKind::of_key_kind(kind) {
            let id = spec.owner.as_deref().unwrap_or_default();
            // A deleted user's or service account's keys die with it.
            let Some(principal) = self
                .store
                .get(&ObjectKey::global(&identity.org, principal_kind.kind(), id))
                .await
                .map_err(store_error)?
            else {
                return Ok(None);
            };
            identity.role = view::<PrincipalSpec>(&principal.spec)
                .role
                .as_deref()
                .and_then(Role::parse_org);
            identity.grants = grants_of(&principal);
            identity.principal = Some(Principal {
                kind: principal_kind,
                id: id.to_owned(),
            });
        } else {
            return Ok(None);
        }
        Ok(Some(identity))
    }
}

/// The `kind` of a VVP API token's key.
pub const API_TOKEN: &str = "api-token";

/// A principal's grants: `spec.grants` is `{<environment>: {"role": ...}}`.
pub fn grants_of(principal: &drey_model::Object) -> BTreeMap<String, Role> {
    view::<PrincipalSpec>(&principal.spec)
        .grants
        .into_iter()
        .filter_map(|(env, g)| Some((env, Role::parse_grant(&g.role)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_and_hashes_hex() {
        assert!(random_text(32).len() >= 43);
        assert_eq!(hash("x").len(), 64);
        assert_ne!(hash("x"), hash("y"));
    }
}
