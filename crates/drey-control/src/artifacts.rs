//! drey's artifact store: named, versioned jars (or zips) of an environment,
//! the one store behind CMF 2.4's artifacts, VVP's artifacts and VVP's UDF
//! artifacts. Under `<data-dir>/artifacts/<organization>/<environment>/`:
//!
//! - `.blobs/<sha256>.jar`: each distinct content once, named by its
//!   SHA-256 (content-addressed, never modified in place; `.jar` because
//!   Flink takes only jar file names, and every stored content is a zip);
//! - `.meta/<name>.json`: the artifact (labels, annotations, its versions
//!   with checksum and size), replaced atomically;
//! - `<name>`: a hard link to the latest version's blob, the stable
//!   `file://` path VVP's upload answers (an upload of the same name
//!   "overwrites" it, as VVP documents).
//!
//! Applications reference a version as `cmf://<environment>/<name>?version=N`
//! (without `version`: the latest when the job is submitted) or by a
//! `file://` path of the store; the reconciler accepts jars from here like
//! from `--jar-dir`. A version an application references cannot be deleted.
//! A jar's user-defined function classes are found by reading its class
//! files.

use crate::access::{Need, Scope};
use crate::Core;
use drey_model::{Error, Kind, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// An uploaded jar as VVP lists it: the latest version under its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// Its file name.
    pub filename: String,
    /// `file://` URI of the stored file.
    pub uri: String,
    /// Bytes.
    pub size: u64,
    /// When it was (last) uploaded.
    pub modified: Timestamp,
}

/// A class of a jar that Flink can register as a function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdfClass {
    /// Fully qualified, with dots.
    pub class_name: String,
    /// VVP's `UDF_TYPE_*`.
    pub class_type: &'static str,
}

/// Largest upload accepted unless the server says otherwise
/// (`--max-artifact-bytes`).
pub const MAX_ARTIFACT_BYTES: u64 = 256 * 1024 * 1024;

/// One uploaded content of an artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactVersion {
    /// 1, 2, …; never reused.
    pub version: u32,
    /// Hex SHA-256 of the content (its blob's name).
    pub sha256: String,
    /// Bytes.
    pub size: u64,
    /// When it was uploaded.
    pub created: Timestamp,
}

/// A named, versioned artifact of an environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredArtifact {
    /// Unique in its environment.
    pub name: String,
    /// Stable id.
    pub uid: String,
    /// First upload.
    pub created: Timestamp,
    /// Last change (new version, labels, annotations).
    pub updated: Timestamp,
    /// CMF's `metadata.labels`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// CMF's `metadata.annotations`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Oldest first; never empty.
    pub versions: Vec<ArtifactVersion>,
    /// The number the next upload gets.
    pub next_version: u32,
}

impl StoredArtifact {
    /// The newest version.
    pub fn latest(&self) -> Option<&ArtifactVersion> {
        self.versions.last()
    }

    /// Version `n`.
    pub fn version(&self, n: u32) -> Option<&ArtifactVersion> {
        self.versions.iter().find(|v| v.version == n)
    }
}

/// Which version a request means: a number, or the latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionRef {
    /// The newest.
    Latest,
    /// That number.
    Number(u32),
}

impl VersionRef {
    /// `latest` or a positive number; `field` names the parameter in errors.
    pub fn parse(text: Option<&str>, field: &str) -> Result<Self, Error> {
        match text {
            None | Some("latest") => Ok(VersionRef::Latest),
            Some(n) => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .map(VersionRef::Number)
                .ok_or_else(|| {
                    Error::invalid(
                        field,
                        format!("'{n}' is not a version: give a positive number or 'latest'"),
                    )
                }),
        }
    }
}

/// What a write may do with an existing artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Only a new artifact (CMF `POST`): 409 if the name exists.
    Create,
    /// Only an existing one (CMF `PUT`): 404 if not.
    Update,
    /// Either (VVP's upload, which overwrites by name).
    Upsert,
}

/// Labels and annotations a write sets (`None`: leave as they are).
#[derive(Clone, Debug, Default)]
pub struct ArtifactMeta {
    /// New labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// New annotations.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// Content being received: streamed into a temporary file of the store
/// while hashed and counted, refused past the size limit.
pub struct ArtifactUpload {
    file: std::fs::File,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

impl ArtifactUpload {
    /// Appends a chunk.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(Error::PayloadTooLarge {
                limit: self.limit as usize,
            });
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).map_err(io_error)
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for ArtifactUpload {
    fn drop(&mut self) {
        // Committed uploads were renamed away; this removes abandoned ones.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A `cmf://<environment>/<name>[?version=N|latest]` reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmfUri {
    /// The environment the artifact belongs to.
    pub environment: String,
    /// The artifact's name.
    pub name: String,
    /// Which of its versions.
    pub version: VersionRef,
}

impl CmfUri {
    /// `None` when `uri` is not a `cmf://` URI at all.
    pub fn parse(uri: &str) -> Option<Result<Self, Error>> {
        let rest = uri.strip_prefix("cmf://")?;
        let bad = |why: &str| {
            Error::invalid(
                "spec.job.jarURI",
                format!("'{uri}' {why}: write cmf://<environment>/<artifact>[?version=<n>]"),
            )
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let Some((environment, name)) = path.split_once('/') else {
            return Some(Err(bad("names no artifact")));
        };
        if environment.is_empty() || name.is_empty() || name.contains('/') {
            return Some(Err(bad(
                "is not of the form cmf://<environment>/<artifact>",
            )));
        }
        let mut version = VersionRef::Latest;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("version", v)) => match VersionRef::parse(Some(v), "spec.job.jarURI") {
                    Ok(v) => version = v,
                    Err(_) => return Some(Err(bad("has a version that is not a number"))),
                },
                _ => return Some(Err(bad(&format!("has an unknown parameter '{pair}'")))),
            }
        }
        Some(Ok(CmfUri {
            environment: environment.to_owned(),
            name: name.to_owned(),
            version,
        }))
    }
}

/// Names the store keeps: path-safe file names (each dialect checks its own
/// stricter rule first).
fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "metadata.name",
            format!("'{name}' must be a file name of [A-Za-z0-9._-] not starting with '.'"),
        ))
    }
}

/// VVP's rule for an uploaded file: a `.jar` name.
fn check_filename(name: &str) -> Result<(), Error> {
    if name.ends_with(".jar") && check_name(name).is_ok() {
        Ok(())
    } else {
        Err(Error::invalid(
            "file",
            format!("'{name}' must be a .jar file name of [A-Za-z0-9._-]"),
        ))
    }
}

fn io_error(e: std::io::Error) -> Error {
    Error::Internal(format!("artifact store: {e}"))
}

fn not_found(name: &str) -> Error {
    Error::not_found(Kind::Document, format!("artifacts/{name}"))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let part = dir.join(format!(
        ".{}.part",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut f = std::fs::File::create(&part).map_err(io_error)?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .and_then(|_| std::fs::rename(&part, path))
        .map_err(io_error)?;
    sync_dir(dir);
    Ok(())
}

/// One environment's part of the store.
struct EnvStore {
    dir: PathBuf,
}

impl EnvStore {
    fn blobs(&self) -> PathBuf {
        self.dir.join(".blobs")
    }
    fn meta(&self) -> PathBuf {
        self.dir.join(".meta")
    }
    fn blob(&self, sha256: &str) -> PathBuf {
        self.blobs().join(blob_name(sha256))
    }
    fn record_path(&self, name: &str) -> PathBuf {
        self.meta().join(format!("{name}.json"))
    }
    fn latest_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Result<Option<StoredArtifact>, Error> {
        match std::fs::read(self.record_path(name)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Internal(format!("artifact store: record of '{name}': {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(e)),
        }
    }

    fn write(&self, record: &StoredArtifact) -> Result<(), Error> {
        std::fs::create_dir_all(self.meta()).map_err(io_error)?;
        let bytes = serde_json::to_vec_pretty(record)
            .map_err(|e| Error::Internal(format!("artifact store: {e}")))?;
        write_atomically(&self.record_path(&record.name), &bytes)?;
        self.link_latest(record)
    }

    /// Points `<name>` at the latest version's blob.
    fn link_latest(&self, record: &StoredArtifact) -> Result<(), Error> {
        let Some(latest) = record.latest() else {
            return Ok(());
        };
        let tmp = self.dir.join(format!(".{}.link", record.name));
        let _ = std::fs::remove_file(&tmp);
        std::fs::hard_link(self.blob(&latest.sha256), &tmp)
            .and_then(|_| std::fs::rename(&tmp, self.latest_path(&record.name)))
            .map_err(io_error)?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// Every artifact, by name; jars put here before versions existed
    /// (plain `<name>` files) are adopted as version 1 first.
    fn all(&self) -> Result<Vec<StoredArtifact>, Error> {
        let mut out = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(self.meta()) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().to_string();
                if let Some(name) = file.strip_suffix(".json").filter(|n| !n.starts_with('.')) {
                    if let Some(record) = self.read(name)? {
                        out.insert(name.to_owned(), record);
                    }
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
                if is_file && check_name(&name).is_ok() && !out.contains_key(&name) {
                    let record = self.adopt(&name, &entry.path())?;
                    out.insert(name, record);
                }
            }
        }
        Ok(out.into_values().collect())
    }

    fn adopt(&self, name: &str, path: &Path) -> Result<StoredArtifact, Error> {
        let mut file = std::fs::File::open(path).map_err(io_error)?;
        let mut hasher = Sha256::new();
        let size = std::io::copy(&mut file, &mut hasher).map_err(io_error)?;
        let sha256 = hex(&hasher.finalize());
        std::fs::create_dir_all(self.blobs()).map_err(io_error)?;
        let blob = self.blob(&sha256);
        if !blob.exists() {
            std::fs::hard_link(path, &blob).map_err(io_error)?;
        }
        let created = modified_of(path);
        let record = StoredArtifact {
            name: name.to_owned(),
            uid: uuid::Uuid::new_v4().to_string(),
            created,
            updated: created,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            versions: vec![ArtifactVersion {
                version: 1,
                sha256,
                size,
                created,
            }],
            next_version: 2,
        };
        self.write(&record)?;
        Ok(record)
    }

    /// Removes blobs no version names any more.
    fn collect_garbage(&self) -> Result<(), Error> {
        let used: BTreeSet<String> = self
            .all()?
            .iter()
            .flat_map(|r| r.versions.iter().map(|v| v.sha256.clone()))
            .collect();
        if let Ok(entries) = std::fs::read_dir(self.blobs()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                let sha256 = name.strip_suffix(".jar").unwrap_or(&name);
                if !name.starts_with('.') && !used.contains(sha256) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }
}

/// The file name of a content's blob.
fn blob_name(sha256: &str) -> String {
    format!("{sha256}.jar")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn modified_of(path: &Path) -> Timestamp {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| Timestamp::from_millis(d.as_millis() as i64))
        .unwrap_or_else(Timestamp::now)
}

/// Which versions of which artifact an application's `jarURI` holds on to.
enum Reference {
    Latest(String),
    Version(String, u32),
    Blob(String),
}

impl Core {
    /// The same core, keeping uploaded artifacts under `dir`.
    pub fn with_artifact_dir(mut self, dir: PathBuf) -> Self {
        self.artifacts = Some(dir);
        self
    }

    /// The same core, refusing uploads larger than `bytes`.
    pub fn with_artifact_limit(mut self, bytes: u64) -> Self {
        self.artifact_limit = bytes;
        self
    }

    /// The largest upload accepted, in bytes.
    pub fn artifact_limit(&self) -> u64 {
        self.artifact_limit
    }

    /// Where `env`'s artifacts are kept.
    /// The artifact store, when this server keeps one.
    pub(crate) fn artifact_root(&self) -> Option<&std::path::Path> {
        self.artifacts.as_deref()
    }

    pub(crate) fn artifact_dir(&self, org: &str, env: &str) -> Result<PathBuf, Error> {
        let root = self
            .artifacts
            .as_ref()
            .ok_or_else(|| Error::Unavailable("this server keeps no artifacts".into()))?;
        // Organization ids and environment names are path-safe by their rules.
        Ok(root.join(org).join(env))
    }

    async fn env_store(&self, org: &str, env: &str) -> Result<EnvStore, Error> {
        self.require_environment(org, env).await?;
        Ok(EnvStore {
            dir: self.artifact_dir(org, env)?,
        })
    }

    /// Starts receiving content for `env` (checked to exist).
    pub async fn begin_artifact_upload(
        &self,
        org: &str,
        env: &str,
    ) -> Result<ArtifactUpload, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        let store = self.env_store(org, env).await?;
        std::fs::create_dir_all(store.blobs()).map_err(io_error)?;
        sweep_abandoned_uploads(&store.blobs());
        let path = store
            .blobs()
            .join(format!(".incoming-{}", uuid::Uuid::new_v4()));
        let file = std::fs::File::create(&path).map_err(io_error)?;
        Ok(ArtifactUpload {
            file,
            path,
            hasher: Sha256::new(),
            size: 0,
            limit: self.artifact_limit,
        })
    }

    /// Creates or updates an artifact: new content (if `upload` is given and
    /// differs from the latest version) becomes a new version; labels and
    /// annotations are set as `meta` says.
    pub async fn write_artifact(
        &self,
        org: &str,
        env: &str,
        name: &str,
        mode: WriteMode,
        upload: Option<ArtifactUpload>,
        meta: ArtifactMeta,
    ) -> Result<StoredArtifact, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        check_name(name)?;
        let store = self.env_store(org, env).await?;
        let _writing = self.artifact_writes.lock().await;
        let existing = match store.read(name)? {
            Some(r) => Some(r),
            // A jar from before versions: adopt it now.
            None => store.all()?.into_iter().find(|r| r.name == name),
        };
        let now = Timestamp::now();
        let mut record = match (existing, mode) {
            (Some(_), WriteMode::Create) => {
                return Err(Error::AlreadyExists {
                    kind: Kind::Document,
                    name: format!("artifacts/{name}"),
                })
            }
            (None, WriteMode::Update) => return Err(not_found(name)),
            (Some(r), _) => r,
            (None, _) => StoredArtifact {
                name: name.to_owned(),
                uid: uuid::Uuid::new_v4().to_string(),
                created: now,
                updated: now,
                labels: BTreeMap::new(),
                annotations: BTreeMap::new(),
                versions: vec![],
                next_version: 1,
            },
        };
        if let Some(upload) = upload {
            let sha256 = finish_upload(&store, upload)?;
            let size = std::fs::metadata(store.blob(&sha256))
                .map_err(io_error)?
                .len();
            // The same content as the latest version makes no new version.
            if record.latest().map(|v| v.sha256.as_str()) != Some(sha256.as_str()) {
                record.versions.push(ArtifactVersion {
                    version: record.next_version,
                    sha256,
                    size,
                    created: now,
                });
                record.next_version += 1;
                record.updated = now;
            }
        } else if record.versions.is_empty() {
            return Err(Error::invalid(
                "file",
                "is required: the artifact has no content yet",
            ));
        }
        if let Some(labels) = meta.labels {
            record.labels = labels;
            record.updated = now;
        }
        if let Some(annotations) = meta.annotations {
            record.annotations = annotations;
            record.updated = now;
        }
        store.write(&record)?;
        Ok(record)
    }

    /// One artifact.
    pub async fn artifact(
        &self,
        org: &str,
        env: &str,
        name: &str,
    ) -> Result<StoredArtifact, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let store = self.env_store(org, env).await?;
        let _reading = self.artifact_writes.lock().await;
        store
            .all()?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| not_found(name))
    }

    /// Every artifact of an environment, by name.
    pub async fn artifacts(&self, org: &str, env: &str) -> Result<Vec<StoredArtifact>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let store = self.env_store(org, env).await?;
        let _reading = self.artifact_writes.lock().await;
        store.all()
    }

    /// The file holding a version's content.
    pub fn artifact_blob(
        &self,
        org: &str,
        env: &str,
        version: &ArtifactVersion,
    ) -> Result<PathBuf, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        Ok(self
            .artifact_dir(org, env)?
            .join(".blobs")
            .join(blob_name(&version.sha256)))
    }

    /// Deletes one version (`Some`) or all of them; the artifact goes with
    /// its last version. Refused with a conflict while something of the
    /// environment will load a version to be deleted: an application's
    /// `jarURI`, a statement that may still run (not COMPLETED, FAILED or
    /// DELETING) naming it in a string literal (`USING JAR`, `ADD JAR`), or
    /// the environment's SQL catalog (a function created `USING JAR` is
    /// replayed into every session).
    pub async fn delete_artifact_versions(
        &self,
        org: &str,
        env: &str,
        name: &str,
        version: Option<u32>,
    ) -> Result<(), Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        let store = self.env_store(org, env).await?;
        let holders = self.artifact_holders(org, env).await?;
        let _writing = self.artifact_writes.lock().await;
        let mut record = store
            .all()?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| not_found(name))?;
        let doomed: Vec<ArtifactVersion> = match version {
            None => record.versions.clone(),
            Some(n) => vec![record.version(n).cloned().ok_or_else(|| {
                Error::not_found(Kind::Document, format!("artifacts/{name}?version={n}"))
            })?],
        };
        for (holder, uri) in &holders {
            let held = match self.reference_of(&store, env, uri) {
                Some(Reference::Latest(n)) if n == name => record.latest().cloned(),
                Some(Reference::Version(n, v)) if n == name => record.version(v).cloned(),
                Some(Reference::Blob(sha)) => {
                    record.versions.iter().find(|v| v.sha256 == sha).cloned()
                }
                _ => None,
            };
            if let Some(held) = held.filter(|h| doomed.contains(h)) {
                return Err(Error::Conflict(format!(
                    "artifact '{name}' version {} is referenced by {holder} ({uri}); \
                     delete it or point it at another version first",
                    held.version
                )));
            }
        }
        record.versions.retain(|v| !doomed.contains(v));
        if record.versions.is_empty() {
            let _ = std::fs::remove_file(store.latest_path(name));
            match std::fs::remove_file(store.record_path(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(e)),
            }
            sync_dir(&store.meta());
        } else {
            record.updated = Timestamp::now();
            store.write(&record)?;
        }
        store.collect_garbage()
    }

    /// What of the environment may still load a jar, and the URI it names:
    /// ("application 'a'", jarURI), ("statement 's'", a literal of its SQL),
    /// ("the SQL catalog's function:...", a literal of its DDL). An
    /// application being deleted submits no job again: it holds nothing.
    async fn artifact_holders(&self, org: &str, env: &str) -> Result<Vec<(String, String)>, Error> {
        let literals = |sql: &str| {
            drey_model::sql::string_literals(sql)
                .into_iter()
                .map(|(_, text)| text)
                .filter(|t| t.starts_with("cmf://") || t.starts_with("file://"))
                .collect::<Vec<_>>()
        };
        let mut holders = Vec::new();
        for app in self.list_all(org, Kind::Application, Some(env)).await? {
            if crate::applications::deletion_requested(&app) {
                continue;
            }
            if let Some(uri) = app.spec.pointer("/job/jarURI").and_then(|v| v.as_str()) {
                holders.push((format!("application '{}'", app.key.name), uri.to_owned()));
            }
        }
        for statement in self.list_all(org, Kind::Statement, Some(env)).await? {
            if !crate::reconcile::statements::may_run_again(&statement) {
                continue;
            }
            let sql = statement.spec.get("statement").and_then(|v| v.as_str());
            for uri in literals(sql.unwrap_or_default()) {
                holders.push((format!("statement '{}'", statement.key.name), uri));
            }
        }
        for (object, ddl) in self.sql_catalog_objects(org, env).await? {
            for uri in literals(&ddl) {
                holders.push((format!("the SQL catalog's {object}"), uri));
            }
        }
        Ok(holders)
    }

    fn reference_of(&self, store: &EnvStore, env: &str, uri: &str) -> Option<Reference> {
        if let Some(parsed) = CmfUri::parse(uri) {
            let parsed = parsed.ok().filter(|p| p.environment == env)?;
            return Some(match parsed.version {
                VersionRef::Latest => Reference::Latest(parsed.name),
                VersionRef::Number(n) => Reference::Version(parsed.name, n),
            });
        }
        let path = Path::new(
            uri.strip_prefix("file://")
                .or_else(|| uri.strip_prefix("local://"))?,
        );
        let file = path.file_name()?.to_string_lossy().to_string();
        if path.parent() == Some(store.dir.as_path()) {
            Some(Reference::Latest(file))
        } else if path.parent() == Some(store.blobs().as_path()) {
            Some(Reference::Blob(
                file.strip_suffix(".jar").unwrap_or(&file).to_owned(),
            ))
        } else {
            None
        }
    }

    /// The file a `cmf://` jar URI of an application in `env` names.
    pub async fn resolve_artifact_uri(
        &self,
        org: &str,
        env: &str,
        uri: &str,
    ) -> Result<PathBuf, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let parsed = CmfUri::parse(uri).unwrap_or_else(|| {
            Err(Error::invalid(
                "spec.job.jarURI",
                format!("'{uri}' is not a cmf:// URI"),
            ))
        })?;
        if parsed.environment != env {
            return Err(Error::invalid(
                "spec.job.jarURI",
                format!(
                    "'{uri}' names an artifact of environment '{}'; an application of '{env}' can only use its own",
                    parsed.environment
                ),
            ));
        }
        let record = self
            .artifact(org, env, &parsed.name)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::invalid(
                    "spec.job.jarURI",
                    format!(
                        "'{uri}': environment '{env}' has no artifact '{}'",
                        parsed.name
                    ),
                ),
                other => other,
            })?;
        let version = match parsed.version {
            VersionRef::Latest => record.latest(),
            VersionRef::Number(n) => record.version(n),
        }
        .ok_or_else(|| {
            Error::invalid(
                "spec.job.jarURI",
                format!("'{uri}': artifact '{}' has no such version", parsed.name),
            )
        })?;
        self.artifact_blob(org, env, version)
    }

    /// Stores a jar under its file name (VVP's upload: a new version of the
    /// artifact of that name, or a new artifact).
    pub async fn store_artifact(
        &self,
        org: &str,
        env: &str,
        filename: &str,
        upload: ArtifactUpload,
    ) -> Result<Artifact, Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        check_filename(filename)?;
        let record = self
            .write_artifact(
                org,
                env,
                filename,
                WriteMode::Upsert,
                Some(upload),
                ArtifactMeta::default(),
            )
            .await?;
        self.vvp_view(org, env, &record)
    }

    fn vvp_view(&self, org: &str, env: &str, record: &StoredArtifact) -> Result<Artifact, Error> {
        let latest = record.latest().ok_or_else(|| not_found(&record.name))?;
        let path = self.artifact_dir(org, env)?.join(&record.name);
        Ok(Artifact {
            filename: record.name.clone(),
            uri: format!("file://{}", path.display()),
            size: latest.size,
            modified: latest.created,
        })
    }

    /// The artifacts of an environment as VVP lists them, by name.
    pub async fn list_artifacts(&self, org: &str, env: &str) -> Result<Vec<Artifact>, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        self.artifacts(org, env)
            .await?
            .iter()
            .map(|r| self.vvp_view(org, env, r))
            .collect()
    }

    /// One artifact as VVP shows it.
    pub async fn get_artifact(
        &self,
        org: &str,
        env: &str,
        filename: &str,
    ) -> Result<Artifact, Error> {
        self.allow(Need::Read, Scope::env(org, env))?;
        let record = self.artifact(org, env, filename).await?;
        self.vvp_view(org, env, &record)
    }

    /// Deletes an artifact with all its versions (VVP's delete).
    pub async fn delete_artifact(&self, org: &str, env: &str, filename: &str) -> Result<(), Error> {
        self.allow(Need::Write, Scope::env(org, env))?;
        self.delete_artifact_versions(org, env, filename, None)
            .await
    }

    /// The stored jar a `file://` URI names, if it is one of this
    /// environment's artifacts (its latest view or a version's blob).
    pub fn artifact_of_uri(&self, org: &str, env: &str, uri: &str) -> Option<PathBuf> {
        self.allow(Need::Read, Scope::env(org, env)).ok()?;
        let path = Path::new(uri.strip_prefix("file://")?);
        let dir = self.artifact_dir(org, env).ok()?;
        let parent = path.parent()?;
        let inside = parent == dir.as_path() || parent == dir.join(".blobs").as_path();
        (inside && path.is_file()).then(|| path.to_owned())
    }
}

/// Removes temporary files of uploads a crash interrupted (none lasts a day).
fn sweep_abandoned_uploads(blobs: &Path) {
    let day = std::time::Duration::from_secs(24 * 3600);
    let Ok(entries) = std::fs::read_dir(blobs) else {
        return;
    };
    for entry in entries.flatten() {
        let abandoned = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if abandoned
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with(".incoming-")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Checks the received content is a zip archive (a jar is one) and moves it
/// to its content-addressed blob; answers the SHA-256.
fn finish_upload(store: &EnvStore, mut upload: ArtifactUpload) -> Result<String, Error> {
    if upload.size == 0 {
        return Err(Error::invalid("file", "is empty: send a JAR or ZIP file"));
    }
    upload.file.sync_all().map_err(io_error)?;
    let readable = std::fs::File::open(&upload.path).map_err(io_error)?;
    if zip::ZipArchive::new(readable).is_err() {
        return Err(Error::invalid("file", "is not a JAR or ZIP archive"));
    }
    let sha256 = hex(&std::mem::take(&mut upload.hasher).finalize());
    let blob = store.blob(&sha256);
    if !blob.exists() {
        std::fs::rename(&upload.path, &blob).map_err(io_error)?;
        sync_dir(&store.blobs());
    }
    Ok(sha256)
}

/// The function base classes of Flink's Table API and VVP's names for them.
const UDF_BASES: [(&str, &str); 4] = [
    (
        "org/apache/flink/table/functions/ScalarFunction",
        "UDF_TYPE_SCALAR",
    ),
    (
        "org/apache/flink/table/functions/TableFunction",
        "UDF_TYPE_TABLE",
    ),
    (
        "org/apache/flink/table/functions/AggregateFunction",
        "UDF_TYPE_AGGREGATE",
    ),
    (
        "org/apache/flink/table/functions/TableAggregateFunction",
        "UDF_TYPE_TABLE_AGGREGATE",
    ),
];

/// The concrete function classes of a jar: classes whose superclass chain
/// (within the jar) reaches one of Flink's function base classes.
pub fn udf_classes(jar: &Path) -> Result<Vec<UdfClass>, Error> {
    let file = std::fs::File::open(jar).map_err(io_error)?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| Error::invalid("jarUrl", format!("{} is not a jar: {e}", jar.display())))?;
    // class -> (superclass, abstract)
    let mut classes: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for i in 0..archive.len() {
        let Ok(mut entry) = archive.by_index(i) else {
            continue;
        };
        let is_class = entry.name().is_ok_and(|n| n.ends_with(".class"));
        if !is_class || entry.size() > 16 * 1024 * 1024 {
            continue;
        }
        let mut bytes = Vec::new();
        if entry.read_to_end(&mut bytes).is_err() {
            continue;
        }
        if let Some(header) = class_header(&bytes) {
            classes.insert(header.this, (header.superclass, header.is_abstract));
        }
    }
    let mut out = Vec::new();
    for (name, (_, is_abstract)) in &classes {
        if *is_abstract {
            continue;
        }
        let mut current = name.clone();
        for _ in 0..32 {
            let Some((parent, _)) = classes.get(&current) else {
                break;
            };
            if let Some((_, kind)) = UDF_BASES.iter().find(|(base, _)| base == parent) {
                out.push(UdfClass {
                    class_name: name.replace('/', "."),
                    class_type: kind,
                });
                break;
            }
            current = parent.clone();
        }
    }
    Ok(out)
}

struct ClassHeader {
    this: String,
    superclass: String,
    is_abstract: bool,
}

/// Reads a class file's own name, its superclass and whether it is
/// abstract (or an interface): the constant pool, then three fields.
fn class_header(bytes: &[u8]) -> Option<ClassHeader> {
    let u2 = |at: usize| -> Option<usize> {
        Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]) as usize)
    };
    if bytes.get(0..4)? != [0xCA, 0xFE, 0xBA, 0xBE] {
        return None;
    }
    let count = u2(8)?;
    let mut utf8: BTreeMap<usize, String> = BTreeMap::new();
    let mut class_names: BTreeMap<usize, usize> = BTreeMap::new();
    let mut at = 10;
    let mut index = 1;
    while index < count {
        let tag = *bytes.get(at)?;
        let (size, slots) = match tag {
            1 => {
                let len = u2(at + 1)?;
                let text = bytes.get(at + 3..at + 3 + len)?;
                utf8.insert(index, String::from_utf8_lossy(text).into_owned());
                (3 + len, 1)
            }
            7 => {
                class_names.insert(index, u2(at + 1)?);
                (3, 1)
            }
            3 | 4 => (5, 1),
            5 | 6 => (9, 2),
            8 | 16 | 19 | 20 => (3, 1),
            9 | 10 | 11 | 12 | 17 | 18 => (5, 1),
            15 => (4, 1),
            _ => return None,
        };
        at += size;
        index += slots;
    }
    let flags = u2(at)?;
    let name_of = |class_index: usize| -> Option<String> {
        utf8.get(class_names.get(&class_index)?).cloned()
    };
    Some(ClassHeader {
        this: name_of(u2(at + 2)?)?,
        superclass: name_of(u2(at + 4)?).unwrap_or_default(),
        // ACC_INTERFACE | ACC_ABSTRACT
        is_abstract: flags & 0x0600 != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmf_uris_name_environment_artifact_and_version() {
        let parsed = CmfUri::parse("cmf://dev/job.jar?version=3")
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                parsed.environment.as_str(),
                parsed.name.as_str(),
                parsed.version
            ),
            ("dev", "job.jar", VersionRef::Number(3))
        );
        let latest = CmfUri::parse("cmf://dev/job").unwrap().unwrap();
        assert_eq!(latest.version, VersionRef::Latest);
        assert!(CmfUri::parse("file:///x.jar").is_none());
        for bad in [
            "cmf://dev",
            "cmf:///job.jar",
            "cmf://dev/a/b.jar",
            "cmf://dev/job.jar?version=0",
            "cmf://dev/job.jar?version=x",
            "cmf://dev/job.jar?v=1",
        ] {
            let err = CmfUri::parse(bad).unwrap().unwrap_err();
            assert!(err.to_string().contains("spec.job.jarURI"), "{bad}: {err}");
        }
    }

    #[test]
    fn version_parameters_are_numbers_or_latest() {
        assert_eq!(
            VersionRef::parse(None, "version").unwrap(),
            VersionRef::Latest
        );
        assert_eq!(
            VersionRef::parse(Some("latest"), "version").unwrap(),
            VersionRef::Latest
        );
        assert_eq!(
            VersionRef::parse(Some("7"), "version").unwrap(),
            VersionRef::Number(7)
        );
        assert!(VersionRef::parse(Some("-1"), "version").is_err());
    }
}
