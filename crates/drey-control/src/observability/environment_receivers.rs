//! An environment's own alert receivers, beside the operator's: its
//! editors name webhooks (drey's JSON, Slack, Alertmanager) that get the
//! alerts of its applications and statements. Their URLs (which may hold a
//! credential) and signing secrets are sealed in the store and never shown;
//! a receiver is reached only where the outbound policy permits (a tenant
//! must not make drey call the host's loopback or a metadata service).

use super::delivery::{Receiver, ReceiverKind};
use crate::access::{Need, Scope};
use crate::{store_error, Core};
use drey_model::{Error, Kind, ObjectKey};
use drey_store::{SecretData, Write, WriteMode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The document that holds them, in the environment.
const DOCUMENT: &str = "alert-receivers/receivers";

/// A receiver as it is asked for.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiverInput {
    /// `webhook`, `slack` or `alertmanager`.
    pub kind: ReceiverKind,
    /// Where to send.
    pub url: String,
    /// Signs a webhook's bodies (`X-Drey-Signature`) when set.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A receiver as it is shown: never its URL or secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverView {
    /// The id its deliveries name.
    pub id: String,
    /// What it speaks.
    pub kind: ReceiverKind,
    /// Whether its bodies are signed.
    pub signed: bool,
}

#[derive(Default, Serialize, Deserialize)]
struct Stored {
    receivers: Vec<ReceiverView>,
}

fn key(org: &str, env: &str) -> ObjectKey {
    ObjectKey::in_env(org, Kind::Document, env, DOCUMENT)
}

impl Core {
    /// Replaces the environment's receivers. Each URL must be http(s) and
    /// permitted by the outbound policy; a refusal names
    /// `receivers[<i>].url` and why, never the URL.
    pub async fn set_environment_receivers(
        &self,
        org: &str,
        env: &str,
        inputs: Vec<ReceiverInput>,
    ) -> Result<Vec<ReceiverView>, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        let mut views: Vec<ReceiverView> = Vec::new();
        let mut sealed = BTreeMap::new();
        for (i, input) in inputs.into_iter().enumerate() {
            let field = format!("receivers[{i}].url");
            let receiver = Receiver::for_environment(input.kind, &input.url, input.secret.clone())
                .map_err(|why| Error::invalid(&field, why))?;
            let parsed = reqwest::Url::parse(receiver.url())
                .map_err(|e| Error::invalid(&field, e.to_string()))?;
            if let Some(why) = self.outbound_policy().refuses_url(&parsed) {
                return Err(Error::invalid(
                    &field,
                    format!("{why} (an operator allows addresses with --outbound-allow)"),
                ));
            }
            let id = receiver.id();
            if views.iter().any(|v| v.id == id) {
                continue;
            }
            sealed.insert(format!("{id}.url"), receiver.url().to_owned());
            if let Some(secret) = input.secret.filter(|s| !s.is_empty()) {
                sealed.insert(format!("{id}.secret"), secret);
            }
            views.push(ReceiverView {
                id,
                kind: receiver.kind(),
                signed: receiver.signed(),
            });
        }
        let spec = serde_json::to_value(Stored {
            receivers: views.clone(),
        })
        .map_err(|e| Error::Internal(e.to_string()))?;
        let mut write = Write::new(key(org, env), WriteMode::Upsert, spec);
        write.secret = Some(SecretData(sealed));
        self.store.write(write).await.map_err(store_error)?;
        Ok(views)
    }

    /// The environment's receivers, without URLs or secrets.
    pub async fn environment_receivers(
        &self,
        org: &str,
        env: &str,
    ) -> Result<Vec<ReceiverView>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.require_environment(org, env).await?;
        Ok(self.stored_receivers(org, env).await?.receivers)
    }

    async fn stored_receivers(&self, org: &str, env: &str) -> Result<Stored, Error> {
        let object = self.store.get(&key(org, env)).await.map_err(store_error)?;
        Ok(object
            .and_then(|o| serde_json::from_value(o.spec).ok())
            .unwrap_or_default())
    }

    /// The environment's receivers with their URLs and secrets, for the
    /// alerts and their sender (drey's own use, never shown).
    pub(crate) async fn environment_receivers_unsealed(
        &self,
        org: &str,
        env: &str,
    ) -> Result<Vec<Receiver>, Error> {
        let stored = self.stored_receivers(org, env).await?;
        if stored.receivers.is_empty() {
            return Ok(Vec::new());
        }
        let sealed = (self.store.secret_data(&key(org, env)))
            .await
            .map_err(store_error)?
            .unwrap_or_default()
            .0;
        Ok(stored
            .receivers
            .iter()
            .filter_map(|view| {
                let url = sealed.get(&format!("{}.url", view.id))?;
                let secret = sealed.get(&format!("{}.secret", view.id)).cloned();
                Receiver::for_environment(view.kind, url, secret).ok()
            })
            .collect())
    }
}
