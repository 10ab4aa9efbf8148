//! Pre-signed URLs to an application's or a session's Flink Web UI: the credential is in
//! the path (`/api/flink/v1/ui/<grant>/...`), so a browser, or a Flink REST
//! client that only appends paths to a base URL, needs no header. A grant
//! names the organization, environment and application, the key that issued
//! it, the instant by which it must be opened and the end of the web
//! session, and is signed with HMAC-SHA256 under a key kept sealed in the
//! store. The URL handed out is an *open* grant: every path works until
//! `open_by`, and nothing after. Opening its page before then trades it for
//! a *session* grant (a redirect), which works until `session_until`. Both
//! die with the key that issued them (revoked, expired or deleted).

use crate::access::{Caller, Need, Scope};
use crate::{store_error, Core};
use base64::Engine;
use drey_model::{Error, Kind, ObjectKey, Timestamp};
use drey_store::{SecretData, Write, WriteMode};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What a pre-signed URL grants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The organization.
    pub org: String,
    /// The environment (workspace).
    pub env: String,
    /// The application, or with `session` the compute pool (a LakeSail
    /// session), whose cluster the URL opens.
    pub app: String,
    /// `app` names a compute pool's session cluster.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub session: bool,
    /// Unix seconds by which the UI's page must be opened.
    pub open_by: i64,
    /// Unix seconds until which the UI keeps working once opened.
    pub session_until: i64,
    /// The API key that issued it (`anonymous` without authentication).
    #[serde(default)]
    pub key_id: String,
    /// Handed out (valid until `open_by`) or a web session (until `session_until`).
    #[serde(default)]
    pub kind: GrantKind,
    /// Whether the key that signed it could write in the environment (set
    /// when it is signed): without, the URL opens the UI read-only.
    #[serde(default)]
    pub writes: bool,
}

impl Grant {
    /// Who its holder is to the core.
    pub fn caller(&self) -> Caller {
        Caller::SignedUrl {
            org: self.org.clone(),
            env: self.env.clone(),
            writes: self.writes,
        }
    }
}

/// What a grant is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantKind {
    /// The URL as handed out: every path until `open_by`.
    #[default]
    Open,
    /// A web session begun by opening the URL: every path until `session_until`.
    Session,
}

fn key_ref() -> ObjectKey {
    ObjectKey::global("", Kind::ApiKey, "url-signing")
}

impl Core {
    /// The signing key, made (sealed in the store) on first use.
    async fn signing_key(&self) -> Result<Vec<u8>, Error> {
        if let Some(data) = self
            .store
            .secret_data(&key_ref())
            .await
            .map_err(store_error)?
        {
            if let Some(key) = data.0.get("hmac").and_then(|k| B64.decode(k).ok()) {
                return Ok(key);
            }
        }
        let mut key = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let mut write = Write::new(
            key_ref(),
            WriteMode::Create,
            serde_json::json!({"kind": "url-signing"}),
        );
        write.secret = Some(SecretData(BTreeMap::from([(
            "hmac".to_owned(),
            B64.encode(&key),
        )])));
        match self.store.write(write).await {
            Ok(_) => Ok(key),
            // Another request made it first: use that one.
            Err(drey_store::StoreError::AlreadyExists(_)) => {
                let data = self
                    .store
                    .secret_data(&key_ref())
                    .await
                    .map_err(store_error)?
                    .ok_or_else(|| Error::Internal("the URL signing key vanished".into()))?;
                data.0
                    .get("hmac")
                    .and_then(|k| B64.decode(k).ok())
                    .ok_or_else(|| Error::Internal("the URL signing key is unreadable".into()))
            }
            Err(e) => Err(store_error(e)),
        }
    }

    fn mac(key: &[u8]) -> Result<Hmac<Sha256>, Error> {
        Hmac::<Sha256>::new_from_slice(key).map_err(|e| Error::Internal(e.to_string()))
    }

    /// The path segment that carries a signed grant for the caller, who
    /// must be able to read the environment; the grant writes only if the
    /// caller may write there.
    pub async fn sign_grant(&self, grant: &Grant) -> Result<String, Error> {
        let env = Scope::env(&grant.org, &grant.env);
        self.allow(Need::Read, env)?;
        let writes = self.allow(Need::Write, env).is_ok();
        self.seal(&Grant {
            writes,
            ..grant.clone()
        })
        .await
    }

    /// The signed path segment of a grant.
    async fn seal(&self, grant: &Grant) -> Result<String, Error> {
        let payload = serde_json::to_vec(grant).map_err(|e| Error::Internal(e.to_string()))?;
        let mut mac = Self::mac(&self.signing_key().await?)?;
        mac.update(&payload);
        let signature = mac.finalize().into_bytes();
        Ok(format!("{}.{}", B64.encode(payload), B64.encode(signature)))
    }

    /// The grant a path segment carries, if its signature holds, it has not
    /// run out and the key that issued it still holds.
    pub async fn verify_grant(&self, token: &str) -> Result<Option<Grant>, Error> {
        let Some((payload, signature)) = token.split_once('.') else {
            return Ok(None);
        };
        let (Ok(payload), Ok(signature)) = (B64.decode(payload), B64.decode(signature)) else {
            return Ok(None);
        };
        let mut mac = Self::mac(&self.signing_key().await?)?;
        mac.update(&payload);
        if mac.verify_slice(&signature).is_err() {
            return Ok(None);
        }
        let Ok(grant) = serde_json::from_slice::<Grant>(&payload) else {
            return Ok(None);
        };
        let now = Timestamp::now().millis() / 1000;
        let deadline = match grant.kind {
            GrantKind::Open => grant.open_by,
            GrantKind::Session => grant.session_until,
        };
        if now > deadline || !self.key_is_live(&grant.key_id).await? {
            return Ok(None);
        }
        Ok(Some(grant))
    }

    /// The session grant an open grant is traded for when its page is opened.
    pub async fn session_grant(&self, open: &Grant) -> Result<String, Error> {
        self.seal(&Grant {
            kind: GrantKind::Session,
            ..open.clone()
        })
        .await
    }
}
