//! Encryption at rest for secret data: ChaCha20-Poly1305 with a 256-bit key
//! from settings or a key file, a fresh random nonce per write, and the
//! object's uid as associated data so a sealed value cannot be moved to
//! another row.

use crate::StoreError;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::Path;
use zeroize::Zeroizing;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// Secret key/value data. Its `Debug` never shows the values, so it cannot
/// leak through a log line by accident; it has no `Serialize` on purpose.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretData(pub BTreeMap<String, String>);

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()?;
        f.write_str(" (values redacted)")
    }
}

/// Seals and unseals secret data with one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer from 32 raw key bytes.
    pub fn from_key(key: &[u8; 32]) -> Self {
        Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// A sealer from a base64-encoded 32-byte key (the `--secret-key` setting).
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| StoreError::Crypto(format!("secret key is not base64: {e}")))?,
        );
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            StoreError::Crypto(format!("secret key must be 32 bytes, got {}", bytes.len()))
        })?;
        Ok(Sealer::from_key(&key))
    }

    /// Reads the key file, or creates it (mode 0600) with a random key.
    pub fn load_or_create(path: &Path) -> Result<Self, StoreError> {
        let io = |context: String| move |source| StoreError::Io { context, source };
        match std::fs::read_to_string(path) {
            Ok(text) => Sealer::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(key.as_mut());
                let encoded =
                    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key.as_ref()));
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options
                    .open(path)
                    .map_err(io(format!("creating key file {}", path.display())))?;
                file.write_all(encoded.as_bytes())
                    .and_then(|_| file.sync_all())
                    .map_err(io(format!("writing key file {}", path.display())))?;
                Ok(Sealer::from_key(&key))
            }
            Err(e) => Err(StoreError::Io {
                context: format!("reading key file {}", path.display()),
                source: e,
            }),
        }
    }

    /// Encrypts data for the object with `uid`.
    pub fn seal(&self, uid: &str, data: &SecretData) -> Result<Vec<u8>, StoreError> {
        let plain = Zeroizing::new(
            serde_json::to_vec(&data.0).map_err(|e| StoreError::Crypto(e.to_string()))?,
        );
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: uid.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts data sealed for the object with `uid`.
    pub fn unseal(&self, uid: &str, sealed: &[u8]) -> Result<SecretData, StoreError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != FORMAT_V1 {
            return Err(StoreError::Crypto("unknown sealed data format".into()));
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_LEN);
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: body,
                        aad: uid.as_bytes(),
                    },
                )
                .map_err(|_| {
                    StoreError::Crypto(
                        "cannot decrypt secret data: wrong key or tampered row".into(),
                    )
                })?,
        );
        serde_json::from_slice(&plain)
            .map(SecretData)
            .map_err(|e| StoreError::Crypto(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let sealer = Sealer::from_key(&[7u8; 32]);
        let data = SecretData(BTreeMap::from([("password".into(), "hunter2".into())]));
        let sealed = sealer.seal("uid-1", &data).unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(sealer.unseal("uid-1", &sealed).unwrap(), data);
        assert!(sealer.unseal("uid-2", &sealed).is_err());
        assert!(Sealer::from_key(&[8u8; 32])
            .unseal("uid-1", &sealed)
            .is_err());
        assert!(!format!("{data:?}").contains("hunter2"));
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let a = Sealer::load_or_create(&path).unwrap();
        let sealed = a.seal("u", &SecretData::default()).unwrap();
        let b = Sealer::load_or_create(&path).unwrap();
        b.unseal("u", &sealed).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
