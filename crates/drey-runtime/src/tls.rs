//! TLS for a local cluster: only drey talks to its JobManager.
//!
//! Every cluster drey starts gets certificates of its own, made at each start:
//!
//! - **REST** (`security.ssl.rest.*` with `authentication-enabled`): the JobManager's REST
//!   endpoint presents a certificate for `127.0.0.1`/`localhost` (and the address it
//!   advertises, `--cluster-rest-address`) signed by a CA made for this
//!   cluster alone, and accepts clients whose certificate that CA signed for client
//!   authentication: drey's only (the CA signs nothing else, and the endpoint's own
//!   certificate is for server authentication, which Java refuses from a client). The CA is
//!   the endpoint's trust anchor, so Java clients (drey's SQL gateway) find their key by the
//!   CA the endpoint names. drey's HTTP client trusts this cluster's CA only.
//! - **Internal** (`security.ssl.internal.*`: RPC, blob server, data exchange): every process
//!   of the cluster presents the same certificate, signed by a second CA of this cluster, and
//!   trusts that CA only; a process of another cluster cannot connect.
//!
//! The CA keys are dropped once the certificates are signed. Files, all mode 0600:
//!
//! ```text
//! <cluster>/tls/    what the cluster's processes read (inside their sandbox)
//!   rest.p12            REST key and certificate chain (PKCS #12)
//!   rest-trust.p12      the REST CA, which signed drey's client certificate
//!   internal.p12        internal key and certificate chain
//!   internal-trust.p12  the internal CA
//! <cluster>/drey/   drey's side; never visible to the cluster's processes
//!   rest-ca.pem         the REST CA: the only root drey trusts for this cluster
//!   client.pem          drey's client certificate and key (PEM)
//!   client.p12          the same for a JVM client (drey's SQL gateway)
//!   rest-ca.p12         the REST CA as a trust store for a JVM client
//! ```
//!
//! The passwords of the PKCS #12 files are random; the cluster's are in its `config.yaml`,
//! drey's side's in `drey/client.json`. Java 17 reads these files (PBES2 with AES-256 and
//! an HMAC-SHA256 MAC, trusted certificates marked as Java expects).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
use rand::distributions::{Alphanumeric, DistString};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

/// The protocol and cipher suites of every TLS connection of a local cluster: TLS 1.3 only.
const PROTOCOL: &str = "TLSv1.3";
const CIPHER_SUITES: &str = "TLS_AES_256_GCM_SHA384,TLS_AES_128_GCM_SHA256";

/// Where the TLS files of a cluster are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsDirs {
    /// Read by the cluster's processes.
    pub cluster: PathBuf,
    /// drey's side.
    pub drey: PathBuf,
}

impl TlsDirs {
    pub(crate) fn new(root: &Path) -> Self {
        TlsDirs {
            cluster: root.join("tls"),
            drey: root.join("drey"),
        }
    }
}

/// What drey keeps to talk to one cluster: `drey/client.json`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTls {
    /// The REST CA (PEM).
    pub ca_pem: String,
    /// drey's client certificate and key (PEM).
    pub identity_pem: String,
    /// `client.p12`.
    pub keystore: PathBuf,
    /// `rest-ca.p12`.
    pub truststore: PathBuf,
    /// The password of both.
    pub password: String,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("keystore", &self.keystore)
            .field("truststore", &self.truststore)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// The [`drey_flink::Access`] of a client for this cluster.
    pub fn access(&self) -> drey_flink::Access {
        drey_flink::Access {
            ca_pem: Some(self.ca_pem.clone().into_bytes()),
            ca_pem_only: true,
            identity_pem: Some(self.identity_pem.clone().into_bytes()),
            ..drey_flink::Access::default()
        }
    }

    /// The Flink options that make a JVM client (the SQL gateway's session) speak to the
    /// cluster's REST endpoint as drey.
    pub fn flink_client_options(&self) -> BTreeMap<String, String> {
        let path = |p: &Path| p.display().to_string();
        [
            ("security.ssl.rest.enabled", "true".to_string()),
            ("security.ssl.rest.authentication-enabled", "true".into()),
            ("security.ssl.rest.keystore", path(&self.keystore)),
            ("security.ssl.rest.keystore-type", "PKCS12".into()),
            ("security.ssl.rest.keystore-password", self.password.clone()),
            ("security.ssl.rest.key-password", self.password.clone()),
            ("security.ssl.rest.truststore", path(&self.truststore)),
            ("security.ssl.rest.truststore-type", "PKCS12".into()),
            (
                "security.ssl.rest.truststore-password",
                self.password.clone(),
            ),
            ("security.ssl.protocol", PROTOCOL.into()),
            ("security.ssl.algorithms", CIPHER_SUITES.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The same identity with its JVM key and trust stores where this host
    /// has them: the recorded files when they are here, else files written
    /// under `dir` from the PEMs (a replica on another host than the one that
    /// started the cluster; what it knows comes from the store).
    pub fn materialized_in(&self, dir: &Path, id: &str) -> Result<ClientTls, RuntimeError> {
        if self.keystore.is_file() && self.truststore.is_file() {
            return Ok(self.clone());
        }
        self.written_to(dir, id)
    }

    /// The same identity with its JVM key and trust stores written under
    /// `dir` from the PEMs (for a sandboxed SQL gateway, which sees no
    /// cluster's directory but its own).
    pub fn written_to(&self, dir: &Path, id: &str) -> Result<ClientTls, RuntimeError> {
        let bad = |what: &str| RuntimeError::Tls(format!("cluster {id}: {what}"));
        let identity = pem::parse_many(&self.identity_pem)
            .map_err(|e| bad(&format!("drey's client identity is not PEM: {e}")))?;
        let cert = identity
            .iter()
            .find(|p| p.tag() == "CERTIFICATE")
            .ok_or_else(|| bad("drey's client identity has no certificate"))?;
        let key = identity
            .iter()
            .find(|p| p.tag().ends_with("PRIVATE KEY"))
            .ok_or_else(|| bad("drey's client identity has no key"))?;
        let ca = pem::parse(&self.ca_pem).map_err(|e| bad(&format!("the CA is not PEM: {e}")))?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| RuntimeError::io("cannot create", dir, e))?;
        let made = ClientTls {
            keystore: dir.join("client.p12"),
            truststore: dir.join("rest-ca.p12"),
            ..self.clone()
        };
        write_private(
            &made.keystore,
            &key_store_of(
                &[cert.contents(), ca.contents()],
                key.contents(),
                &self.password,
                id,
            )?,
        )?;
        write_private(
            &made.truststore,
            &trust_store(ca.contents(), "ca", &self.password, id)?,
        )?;
        Ok(made)
    }

    /// Reads `drey/client.json` of the cluster at `root`; `None` when the cluster has none
    /// (started without TLS by an older drey).
    pub(crate) fn load(root: &Path) -> Result<Option<ClientTls>, RuntimeError> {
        let path = TlsDirs::new(root).drey.join("client.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RuntimeError::io("cannot read", &path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| RuntimeError::Record { path, source })
    }
}

/// Makes the certificates of a cluster, writes its files and returns the Flink options of
/// the cluster's side (SSL on REST with mutual authentication, and on internal connections).
pub(crate) fn generate(
    id: &str,
    root: &Path,
    rest_address: &str,
) -> Result<(BTreeMap<String, String>, ClientTls), RuntimeError> {
    let dirs = TlsDirs::new(root);
    for d in [&dirs.cluster, &dirs.drey] {
        if d.exists() {
            std::fs::remove_dir_all(d).map_err(|e| RuntimeError::io("cannot clean", d, e))?;
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(d)
            .map_err(|e| RuntimeError::io("cannot create", d, e))?;
    }
    let cert_error = |e: rcgen::Error| RuntimeError::Tls(format!("cluster {id}: {e}"));

    // REST: a CA, the endpoint's certificate, drey's client certificate.
    let rest_ca = Ca::new(&format!("drey cluster {id} REST CA")).map_err(cert_error)?;
    // The endpoint answers at the address it advertises (`--cluster-rest-address`), which
    // other hosts' drey servers connect to.
    let mut rest_names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    if !rest_names.iter().any(|n| n == rest_address) {
        rest_names.push(rest_address.to_owned());
    }
    let server = rest_ca
        .leaf(
            &format!("drey cluster {id} REST"),
            rest_names,
            &[ExtendedKeyUsagePurpose::ServerAuth],
        )
        .map_err(cert_error)?;
    let client = rest_ca
        .leaf(
            &format!("drey (client of cluster {id})"),
            Vec::new(),
            &[ExtendedKeyUsagePurpose::ClientAuth],
        )
        .map_err(cert_error)?;
    // Internal: one certificate every process presents (as server and as client) and
    // accepts.
    let internal_ca = Ca::new(&format!("drey cluster {id} internal CA")).map_err(cert_error)?;
    let internal = internal_ca
        .leaf(
            &format!("drey cluster {id} internal"),
            vec!["127.0.0.1".into(), "localhost".into()],
            &[
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        )
        .map_err(cert_error)?;

    let cluster_password = password();
    let drey_password = password();
    let rest_ks = dirs.cluster.join("rest.p12");
    let rest_ts = dirs.cluster.join("rest-trust.p12");
    let internal_ks = dirs.cluster.join("internal.p12");
    let internal_ts = dirs.cluster.join("internal-trust.p12");
    write_private(
        &rest_ks,
        &key_store(&server, &rest_ca, &cluster_password, id)?,
    )?;
    write_private(
        &rest_ts,
        &trust_store(rest_ca.cert.der(), "ca", &cluster_password, id)?,
    )?;
    write_private(
        &internal_ks,
        &key_store(&internal, &internal_ca, &cluster_password, id)?,
    )?;
    write_private(
        &internal_ts,
        &trust_store(internal_ca.cert.der(), "ca", &cluster_password, id)?,
    )?;

    let client_tls = ClientTls {
        ca_pem: rest_ca.cert.pem(),
        identity_pem: format!("{}{}", client.cert.pem(), client.key.serialize_pem()),
        keystore: dirs.drey.join("client.p12"),
        truststore: dirs.drey.join("rest-ca.p12"),
        password: drey_password,
    };
    write_private(
        &client_tls.keystore,
        &key_store(&client, &rest_ca, &client_tls.password, id)?,
    )?;
    write_private(
        &client_tls.truststore,
        &trust_store(rest_ca.cert.der(), "ca", &client_tls.password, id)?,
    )?;
    write_private(&dirs.drey.join("rest-ca.pem"), client_tls.ca_pem.as_bytes())?;
    write_private(
        &dirs.drey.join("client.pem"),
        client_tls.identity_pem.as_bytes(),
    )?;
    let json = serde_json::to_vec_pretty(&client_tls).map_err(|source| RuntimeError::Record {
        path: dirs.drey.join("client.json"),
        source,
    })?;
    write_private(&dirs.drey.join("client.json"), &json)?;

    let path = |p: &Path| p.display().to_string();
    let options: BTreeMap<String, String> = [
        ("security.ssl.protocol", PROTOCOL.to_string()),
        ("security.ssl.algorithms", CIPHER_SUITES.into()),
        ("security.ssl.rest.enabled", "true".into()),
        ("security.ssl.rest.authentication-enabled", "true".into()),
        ("security.ssl.rest.keystore", path(&rest_ks)),
        ("security.ssl.rest.keystore-type", "PKCS12".into()),
        (
            "security.ssl.rest.keystore-password",
            cluster_password.clone(),
        ),
        ("security.ssl.rest.key-password", cluster_password.clone()),
        ("security.ssl.rest.truststore", path(&rest_ts)),
        ("security.ssl.rest.truststore-type", "PKCS12".into()),
        (
            "security.ssl.rest.truststore-password",
            cluster_password.clone(),
        ),
        ("security.ssl.internal.enabled", "true".into()),
        ("security.ssl.internal.keystore", path(&internal_ks)),
        ("security.ssl.internal.keystore-type", "PKCS12".into()),
        (
            "security.ssl.internal.keystore-password",
            cluster_password.clone(),
        ),
        (
            "security.ssl.internal.key-password",
            cluster_password.clone(),
        ),
        ("security.ssl.internal.truststore", path(&internal_ts)),
        ("security.ssl.internal.truststore-type", "PKCS12".into()),
        (
            "security.ssl.internal.truststore-password",
            cluster_password,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Ok((options, client_tls))
}

/// A CA made for one cluster; its key lives only as long as this value.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert: rcgen::Certificate,
}

/// A certificate with its key.
struct Leaf {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Result<Ca, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            issuer: Issuer::new(params, key),
            cert,
        })
    }

    fn leaf(
        &self,
        name: &str,
        hosts: Vec<String>,
        usages: &[ExtendedKeyUsagePurpose],
    ) -> Result<Leaf, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(hosts)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = usages.to_vec();
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Leaf { cert, key })
    }
}

fn password() -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 32)
}

fn p12_error(id: &str, e: p12_keystore::error::Error) -> RuntimeError {
    RuntimeError::Tls(format!("cluster {id}: cannot write a PKCS #12 file: {e}"))
}

/// A PKCS #12 key store: the leaf's key with the chain leaf, CA.
fn key_store(leaf: &Leaf, ca: &Ca, password: &str, id: &str) -> Result<Vec<u8>, RuntimeError> {
    key_store_of(
        &[leaf.cert.der().as_ref(), ca.cert.der().as_ref()],
        leaf.key.serialized_der(),
        password,
        id,
    )
}

/// A PKCS #12 key store of a key (DER) and its chain (DER, leaf first).
fn key_store_of(
    chain: &[&[u8]],
    key: &[u8],
    password: &str,
    id: &str,
) -> Result<Vec<u8>, RuntimeError> {
    let certs = chain
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| p12_error(id, e))?;
    let key = PrivateKey::from_der(key).map_err(|e| p12_error(id, e))?;
    let chain = PrivateKeyChain::new(b"drey".to_vec(), key, certs);
    let mut store = KeyStore::new();
    store.add_entry("key", KeyStoreEntry::PrivateKeyChain(chain));
    store.writer(password).write().map_err(|e| p12_error(id, e))
}

/// A PKCS #12 trust store holding one trusted certificate.
fn trust_store(der: &[u8], alias: &str, password: &str, id: &str) -> Result<Vec<u8>, RuntimeError> {
    let cert = Certificate::from_der(der).map_err(|e| p12_error(id, e))?;
    let mut store = KeyStore::new();
    store.add_entry(alias, KeyStoreEntry::Certificate(cert));
    store.writer(password).write().map_err(|e| p12_error(id, e))
}

/// Writes a file only its owner may read (0600), whatever the umask.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| RuntimeError::io("cannot create", path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| RuntimeError::io("cannot write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writes_private_files_and_readable_stores() {
        let dir = tempfile::tempdir().unwrap();
        let (options, client) = generate("c1", dir.path(), "10.0.0.7").unwrap();
        assert_eq!(options["security.ssl.rest.authentication-enabled"], "true");
        assert_eq!(options["security.ssl.internal.enabled"], "true");
        let dirs = TlsDirs::new(dir.path());
        for d in [&dirs.cluster, &dirs.drey] {
            for f in std::fs::read_dir(d).unwrap() {
                let meta = f.unwrap().metadata().unwrap();
                assert_eq!(meta.permissions().mode() & 0o777, 0o600);
            }
        }
        let password = &options["security.ssl.rest.keystore-password"];
        let rest = std::fs::read(dirs.cluster.join("rest.p12")).unwrap();
        let store =
            KeyStore::from_pkcs12(&rest, password, p12_keystore::Pkcs12ImportPolicy::Relaxed)
                .unwrap();
        let (_, chain) = store.private_key_chain().unwrap();
        assert_eq!(chain.certs().len(), 2);
        let trust = std::fs::read(dirs.cluster.join("rest-trust.p12")).unwrap();
        let trust =
            KeyStore::from_pkcs12(&trust, password, p12_keystore::Pkcs12ImportPolicy::Relaxed)
                .unwrap();
        assert!(matches!(
            trust.entry("ca"),
            Some(KeyStoreEntry::Certificate(_))
        ));
        assert!(client.identity_pem.contains("PRIVATE KEY"));
        assert_eq!(ClientTls::load(dir.path()).unwrap(), Some(client.clone()));
        // The client's password and key never reach a Debug line.
        let shown = format!("{client:?}");
        assert!(!shown.contains(&client.password) && !shown.contains("PRIVATE"));
    }

    #[test]
    fn another_host_writes_the_client_stores_from_the_recorded_pems() {
        let dir = tempfile::tempdir().unwrap();
        let (_, client) = generate("c1", dir.path(), "10.0.0.7").unwrap();
        // Here: the recorded files are used as they are.
        let here = client.materialized_in(&dir.path().join("x"), "c1").unwrap();
        assert_eq!(here, client);
        // Elsewhere: the files are not there; they are made from the PEMs.
        let elsewhere = ClientTls {
            keystore: PathBuf::from("/nonexistent/client.p12"),
            truststore: PathBuf::from("/nonexistent/rest-ca.p12"),
            ..client.clone()
        };
        let other = dir.path().join("other-host");
        let made = elsewhere.materialized_in(&other, "c1").unwrap();
        assert_eq!(made.keystore, other.join("client.p12"));
        let policy = p12_keystore::Pkcs12ImportPolicy::Relaxed;
        let original = KeyStore::from_pkcs12(
            &std::fs::read(&client.keystore).unwrap(),
            &client.password,
            policy,
        )
        .unwrap();
        let rebuilt = KeyStore::from_pkcs12(
            &std::fs::read(&made.keystore).unwrap(),
            &made.password,
            policy,
        )
        .unwrap();
        let ((_, a), (_, b)) = (
            original.private_key_chain().unwrap(),
            rebuilt.private_key_chain().unwrap(),
        );
        assert_eq!(a.key().as_der(), b.key().as_der());
        let ders = |c: &PrivateKeyChain| -> Vec<Vec<u8>> {
            c.certs().iter().map(|c| c.as_der().to_vec()).collect()
        };
        assert_eq!(ders(a), ders(b));
        let trust = KeyStore::from_pkcs12(
            &std::fs::read(&made.truststore).unwrap(),
            &made.password,
            policy,
        )
        .unwrap();
        assert!(matches!(
            trust.entry("ca"),
            Some(KeyStoreEntry::Certificate(_))
        ));
        let meta = std::fs::metadata(&made.keystore).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(elsewhere
            .materialized_in(&other, "c1")
            .is_ok_and(|again| again.keystore == made.keystore));
    }
}
