//! VVP API tokens: keys like every other (256 random bits, only the hash
//! kept), each bound to one role on one namespace (environment) and named
//! uniquely in it.

use crate::access::{Need, Scope};
use crate::auth::{ApiTokenFields, KeyRequest, NewToken, Role, API_TOKEN};
use crate::Core;
use drey_model::{Error, Kind, Object};
use serde_json::Value;

impl Core {
    /// Makes a token named `name` with `role` on the namespace `env`.
    pub async fn create_api_token(
        &self,
        org: &str,
        env: &str,
        name: &str,
        role: Role,
    ) -> Result<(NewToken, Object), Error> {
        self.allow(Need::Grant, Scope::env(org, env))?;
        if role == Role::Admin {
            return Err(Error::invalid("role", "must be viewer, editor or owner"));
        }
        self.require_environment(org, env).await?;
        if self.find_api_token(org, env, name).await?.is_some() {
            return Err(Error::AlreadyExists {
                kind: Kind::ApiKey,
                name: name.to_owned(),
            });
        }
        self.create_key(KeyRequest {
            kind: API_TOKEN,
            org: org.to_owned(),
            api_token: Some(ApiTokenFields {
                namespace: env.to_owned(),
                name: name.to_owned(),
                role,
            }),
            ..KeyRequest::default()
        })
        .await
    }

    /// The live tokens of a namespace, oldest first.
    pub async fn list_api_tokens(&self, org: &str, env: &str) -> Result<Vec<Object>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        Ok(self
            .as_drey()
            .list_keys(API_TOKEN, Some(org), None)
            .await?
            .into_iter()
            .filter(|k| k.spec.get("namespace").and_then(Value::as_str) == Some(env))
            .collect())
    }

    async fn find_api_token(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<Option<Object>, Error> {
        Ok(self
            .list_api_tokens(org, env)
            .await?
            .into_iter()
            .find(|k| k.spec.get("name").and_then(Value::as_str) == Some(name)))
    }

    /// One token of a namespace, by name.
    pub async fn get_api_token(&self, org: &str, env: &str, name: &str) -> Result<Object, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.find_api_token(org, env, name)
            .await?
            .ok_or_else(|| Error::not_found(Kind::ApiKey, name))
    }

    /// Revokes a token: it stops working at once.
    pub async fn delete_api_token(&self, org: &str, env: &str, name: &str) -> Result<(), Error> {
        self.allow(Need::Grant, Scope::env(org, env))?;
        let token = self.get_api_token(org, env, name).await?;
        self.revoke_key(&token.meta.name).await
    }
}
