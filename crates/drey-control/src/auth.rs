//! Identities and API keys. A token is `drey_<key id>_<secret>`: the secret is
//! 256 random bits, shown once when the key is made; the store keeps only its
//! SHA-256, compared in constant time. Keys live in the server's own
//! organization namespace (`""`), so no tenant can list them as objects.

use crate::{store_error, Core};
use base64::Engine;
use drey_model::object::DEFAULT_ORG;
use drey_model::{Error, Kind, ObjectKey, Timestamp};
use drey_store::{Write, WriteMode};
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Where keys are stored (no tenant's organization).
const KEYS_ORG: &str = "";
const PREFIX: &str = "drey_";

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The organization the caller acts in.
    pub org: String,
    /// The key id (never the secret), for audit.
    pub key_id: String,
    /// Server administrators hold root keys.
    pub server_admin: bool,
}

impl Identity {
    /// The caller when authentication is off: the default organization.
    pub fn anonymous() -> Self {
        Identity {
            org: DEFAULT_ORG.to_owned(),
            key_id: "anonymous".to_owned(),
            server_admin: true,
        }
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

impl Core {
    /// Makes a root key (server administrator, acting in the default organization).
    pub async fn create_root_key(&self) -> Result<NewToken, Error> {
        let key_id = random_text(9).replace(['-', '_'], "x").to_ascii_lowercase();
        let secret = random_text(32);
        let mut write = Write::new(
            ObjectKey::global(KEYS_ORG, Kind::ApiKey, &key_id),
            WriteMode::Create,
            json!({
                "kind": "root",
                "org": DEFAULT_ORG,
                "sha256": hash(&secret),
                "createdAt": Timestamp::now().to_string(),
            }),
        );
        write.status = Some(json!({"revoked": false}));
        self.store.write(write).await.map_err(store_error)?;
        Ok(NewToken {
            token: format!("{PREFIX}{key_id}_{secret}"),
            key_id,
        })
    }

    /// Whether any root key exists.
    pub async fn has_root_key(&self) -> Result<bool, Error> {
        let keys = self.store.keys(Kind::ApiKey).await.map_err(store_error)?;
        Ok(!keys.is_empty())
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
        let stored = key.spec["sha256"].as_str().unwrap_or_default();
        let matches: bool = hash(secret).as_bytes().ct_eq(stored.as_bytes()).into();
        if !matches || key.status.get("revoked").and_then(Value::as_bool) == Some(true) {
            return Ok(None);
        }
        if let Some(expires) = key.spec.get("expiresAt").and_then(Value::as_str) {
            match Timestamp::parse(expires) {
                Some(t) if t > Timestamp::now() => {}
                _ => return Ok(None),
            }
        }
        Ok(Some(Identity {
            org: key.spec["org"].as_str().unwrap_or(DEFAULT_ORG).to_owned(),
            key_id: key_id.to_owned(),
            server_admin: key.spec["kind"] == "root",
        }))
    }
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
