//! drey's artifact store: jars uploaded into an environment, kept under
//! `<data-dir>/artifacts/<organization>/<environment>/` and named by
//! `file://` URIs that deployments (`jarUri`), statements (`USING JAR`) and
//! UDF artifacts reference. The reconciler accepts jars from there like
//! from `--jar-dir`. A jar's user-defined function classes are found by
//! reading its class files.

use crate::Core;
use drey_model::{Error, Timestamp};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// An uploaded jar.
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

/// Largest jar accepted.
pub const MAX_ARTIFACT_BYTES: usize = 256 * 1024 * 1024;

fn check_filename(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name.ends_with(".jar")
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
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

impl Core {
    /// The same core, keeping uploaded jars under `dir`.
    pub fn with_artifact_dir(mut self, dir: PathBuf) -> Self {
        self.artifacts = Some(dir);
        self
    }

    /// Where `env`'s jars are kept.
    pub(crate) fn artifact_dir(&self, org: &str, env: &str) -> Result<PathBuf, Error> {
        let root = self
            .artifacts
            .as_ref()
            .ok_or_else(|| Error::Unavailable("this server keeps no artifacts".into()))?;
        // Organization ids and environment names are path-safe by their rules.
        Ok(root.join(org).join(env))
    }

    /// Stores a jar (replacing one of the same name) after checking it is a
    /// zip archive.
    pub async fn store_artifact(
        &self,
        org: &str,
        env: &str,
        filename: &str,
        bytes: &[u8],
    ) -> Result<Artifact, Error> {
        check_filename(filename)?;
        self.require_environment(org, env).await?;
        if zip::ZipArchive::new(std::io::Cursor::new(bytes)).is_err() {
            return Err(Error::invalid("file", format!("'{filename}' is not a jar")));
        }
        let dir = self.artifact_dir(org, env)?;
        std::fs::create_dir_all(&dir).map_err(io_error)?;
        let path = dir.join(filename);
        let part = dir.join(format!(".{filename}.part"));
        std::fs::write(&part, bytes)
            .and_then(|_| std::fs::rename(&part, &path))
            .map_err(io_error)?;
        artifact_at(&path)
    }

    /// The jars of an environment, by name.
    pub async fn list_artifacts(&self, org: &str, env: &str) -> Result<Vec<Artifact>, Error> {
        self.require_environment(org, env).await?;
        let dir = self.artifact_dir(org, env)?;
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if check_filename(&name).is_ok() {
                out.push(artifact_at(&entry.path())?);
            }
        }
        out.sort_by(|a, b| a.filename.cmp(&b.filename));
        Ok(out)
    }

    /// One jar of an environment.
    pub async fn get_artifact(
        &self,
        org: &str,
        env: &str,
        filename: &str,
    ) -> Result<Artifact, Error> {
        check_filename(filename)?;
        self.require_environment(org, env).await?;
        let path = self.artifact_dir(org, env)?.join(filename);
        if !path.is_file() {
            return Err(Error::NotFound {
                kind: drey_model::Kind::Document,
                name: filename.to_owned(),
            });
        }
        artifact_at(&path)
    }

    /// Deletes a jar.
    pub async fn delete_artifact(&self, org: &str, env: &str, filename: &str) -> Result<(), Error> {
        self.get_artifact(org, env, filename).await?;
        std::fs::remove_file(self.artifact_dir(org, env)?.join(filename)).map_err(io_error)
    }

    /// The stored jar a `file://` URI names, if it is one of this
    /// environment's artifacts.
    pub fn artifact_of_uri(&self, org: &str, env: &str, uri: &str) -> Option<PathBuf> {
        let path = Path::new(uri.strip_prefix("file://")?);
        let dir = self.artifact_dir(org, env).ok()?;
        (path.parent() == Some(dir.as_path()) && path.is_file()).then(|| path.to_owned())
    }
}

fn artifact_at(path: &Path) -> Result<Artifact, Error> {
    let meta = std::fs::metadata(path).map_err(io_error)?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| Timestamp::from_millis(d.as_millis() as i64))
        .unwrap_or_else(Timestamp::now);
    Ok(Artifact {
        filename: path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        uri: format!("file://{}", path.display()),
        size: meta.len(),
        modified,
    })
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
