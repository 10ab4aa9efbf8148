//! drey's durable state. Handlers and reconcilers see only the [`Store`] trait
//! and [`StoreError`]; no SQL dialect or driver type shows above it. SQLite
//! embedded in the process is the default backend; PostgreSQL, behind the same
//! trait, lets several replicas share one database.

pub mod audit;
mod crypto;
mod error;
mod lease;
mod postgres;
mod row;
mod sqlite;
pub mod sqlite_backup;

pub use crypto::{Sealer, SecretData};
pub use error::StoreError;
pub use lease::Fence;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use drey_model::{Kind, Object, ObjectKey, Page, PageRequest};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// How a write treats an existing object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Fail with [`StoreError::AlreadyExists`] when the key is taken.
    Create,
    /// Fail with [`StoreError::NotFound`] when the key is free; optionally
    /// fail with [`StoreError::VersionConflict`] when a user wrote since the
    /// writer read (status writes in between are no conflict).
    Update {
        /// The resourceVersion the writer read, if it wants the check.
        expected_version: Option<i64>,
    },
    /// Create or replace.
    Upsert,
}

/// A write of one object's user-owned parts.
#[derive(Clone, Debug)]
pub struct Write {
    /// The object.
    pub key: ObjectKey,
    /// Create, update or upsert.
    pub mode: WriteMode,
    /// Labels to store.
    pub labels: BTreeMap<String, String>,
    /// Annotations to store.
    pub annotations: BTreeMap<String, String>,
    /// The spec to store.
    pub spec: Value,
    /// The status to store; `None` keeps the existing one (`null` on create).
    pub status: Option<Value>,
    /// Objects this one refers to (replaces the previous set).
    pub refs: Vec<ObjectKey>,
    /// Objects that must exist for the write to happen (checked atomically).
    pub requires: Vec<ObjectKey>,
    /// Secret data to seal; `None` keeps what is stored.
    pub secret: Option<SecretData>,
    /// The lease a reconciler writes under; the write fails with
    /// [`StoreError::Fenced`] unless it still holds.
    pub fence: Option<Fence>,
}

impl Write {
    /// A write with no labels, refs, preconditions or secret.
    pub fn new(key: ObjectKey, mode: WriteMode, spec: Value) -> Self {
        Write {
            key,
            mode,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            spec,
            status: None,
            refs: Vec::new(),
            requires: Vec::new(),
            secret: None,
            fence: None,
        }
    }
}

/// A delete, with what must hold for it to go ahead.
#[derive(Clone, Debug)]
pub struct Delete {
    /// The object.
    pub key: ObjectKey,
    /// Refuse unless these (kind, scope) sets are empty.
    pub must_be_empty: Vec<(Kind, String)>,
    /// Refuse while other objects refer to this one.
    pub refuse_if_referenced: bool,
    /// Delete these (kind, scope) sets together with the object.
    pub cascade: Vec<(Kind, String)>,
    /// Refuse with [`StoreError::VersionConflict`] when a user wrote since
    /// this version was read (the rule of [`WriteMode::Update`]).
    pub expected_version: Option<i64>,
    /// The lease a reconciler deletes under (see [`Write::fence`]).
    pub fence: Option<Fence>,
}

impl Delete {
    /// A plain delete with no guards.
    pub fn new(key: ObjectKey) -> Self {
        Delete {
            key,
            must_be_empty: Vec::new(),
            refuse_if_referenced: false,
            cascade: Vec::new(),
            expected_version: None,
            fence: None,
        }
    }
}

/// An equality filter on a field inside `spec` or `status`.
#[derive(Clone, Debug)]
pub struct FieldFilter {
    /// `["spec", "computePoolName"]`.
    pub path: Vec<String>,
    /// The value it must equal (compared as text).
    pub equals: String,
}

/// What to list.
#[derive(Clone, Debug)]
pub struct ListQuery {
    /// Organization.
    pub org: String,
    /// Kind.
    pub kind: Kind,
    /// Scope; `None` lists across every scope.
    pub scope: Option<String>,
    /// Field filters, all of which must match.
    pub filters: Vec<FieldFilter>,
    /// Page and sort.
    pub page: PageRequest,
}

/// The storage contract every backend implements.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads one object.
    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError>;
    /// Lists a page of objects with the total count.
    async fn list(&self, query: &ListQuery) -> Result<Page<Object>, StoreError>;
    /// Writes an object's user-owned parts; bumps its resourceVersion, and
    /// its generation when the spec changes.
    async fn write(&self, write: Write) -> Result<Object, StoreError>;
    /// Replaces an object's status, bumping its resourceVersion, never its
    /// generation: under `fence` (if any) when a reconciler writes, and
    /// only if `check` (if any) of the version its writer read holds. The
    /// one status write each backend implements; the others say which.
    async fn put_status(
        &self,
        key: &ObjectKey,
        check: Option<VersionCheck>,
        status: Value,
        fence: Option<&Fence>,
    ) -> Result<Object, StoreError>;
    /// Replaces an object's status. With `expected_version` it fails only
    /// when a user wrote since that version, never because of another
    /// status write.
    async fn write_status(
        &self,
        key: &ObjectKey,
        expected_version: Option<i64>,
        status: Value,
    ) -> Result<Object, StoreError> {
        let check = expected_version.map(VersionCheck::NoUserWriteSince);
        self.put_status(key, check, status, None).await
    }
    /// Replaces an object's status only if nothing at all (a user's write or
    /// another status write) was written since `version`: for a status with
    /// more than one writer, where a write over a stale read would drop
    /// what the other one recorded.
    async fn replace_status(
        &self,
        key: &ObjectKey,
        version: i64,
        status: Value,
    ) -> Result<Object, StoreError> {
        let check = Some(VersionCheck::NoWriteSince(version));
        self.put_status(key, check, status, None).await
    }
    /// [`Store::write_status`] under a reconciler's fence.
    async fn write_status_fenced(
        &self,
        key: &ObjectKey,
        expected_version: Option<i64>,
        status: Value,
        fence: &Fence,
    ) -> Result<Object, StoreError> {
        let check = expected_version.map(VersionCheck::NoUserWriteSince);
        self.put_status(key, check, status, Some(fence)).await
    }
    /// Deletes an object if its guards allow; returns what was deleted, or
    /// `None` when nothing was there.
    async fn delete(&self, delete: Delete) -> Result<Option<Object>, StoreError>;
    /// Keys of the objects of `from` kind that refer to `target`.
    async fn referrers(&self, target: &ObjectKey, from: Kind)
        -> Result<Vec<ObjectKey>, StoreError>;
    /// Keys of every object of a kind, in every organization (reconcilers).
    async fn keys(&self, kind: Kind) -> Result<Vec<ObjectKey>, StoreError>;
    /// The unsealed secret data of an object, for the code that hands it to Flink.
    async fn secret_data(&self, key: &ObjectKey) -> Result<Option<SecretData>, StoreError>;
    /// Takes or renews lease `name` for `holder` for `ttl`; the epoch when
    /// `holder` has it now, `None` while another holder's lease runs.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<i64>, StoreError>;
    /// Gives lease `name` up if `holder` has it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
    /// Writes made by other processes on the same database, as they commit
    /// (`None`: no other process can write, as with SQLite).
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }
    /// Whether other processes (replicas) may write to the same database,
    /// so that what one process serializes in memory is not serialized.
    fn shared(&self) -> bool {
        false
    }
}

/// A write another process made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// This object was written or deleted.
    Object(ObjectKey),
    /// Changes may have been missed (the connection that hears them was
    /// lost): anything may have changed.
    Unknown,
}

/// A lease's length in ms, as the database compares it.
pub(crate) fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

/// What a status write checks of the version its writer read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionCheck {
    /// No user write since (see [`Stored::check_version`]).
    NoUserWriteSince(i64),
    /// No write of any kind since.
    NoWriteSince(i64),
}

/// An object as a backend reads it back, with what the version rule needs.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    pub(crate) object: Object,
    /// The resourceVersion the last user write ([`Store::write`]) produced.
    pub(crate) spec_version: i64,
}

impl Stored {
    /// The version rule: a writer that read version `expected` may write
    /// unless a user wrote after it, i.e. iff
    /// `spec_version <= expected <= resource_version`. Status writes in
    /// between are no conflict, so the reconciler's status writes never make
    /// a user's update fail, and a user's update makes the reconciler re-read.
    pub(crate) fn check_version(&self, expected: Option<i64>) -> Result<(), StoreError> {
        match expected {
            Some(v) => self.check(VersionCheck::NoUserWriteSince(v)),
            None => Ok(()),
        }
    }

    /// Fails with [`StoreError::VersionConflict`] unless `check` holds.
    pub(crate) fn check(&self, check: VersionCheck) -> Result<(), StoreError> {
        let actual = self.object.meta.resource_version;
        let (expected, holds) = match check {
            VersionCheck::NoUserWriteSince(v) => (v, (self.spec_version..=actual).contains(&v)),
            VersionCheck::NoWriteSince(v) => (v, v == actual),
        };
        if holds {
            Ok(())
        } else {
            Err(StoreError::VersionConflict {
                key: self.object.key.clone(),
                expected,
                actual,
            })
        }
    }

    /// The generation after a user write of `spec`: +1 when the spec changes.
    pub(crate) fn next_generation(&self, spec: &Value) -> i64 {
        if self.object.spec == *spec {
            self.object.meta.generation
        } else {
            self.object.meta.generation + 1
        }
    }
}

/// Builds an object's JSON map from parts; shared by backends' row decoding.
pub(crate) fn parse_json(column: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// Decodes a string map column.
pub(crate) fn parse_string_map(
    column: &str,
    text: &str,
) -> Result<BTreeMap<String, String>, StoreError> {
    let map: Map<String, Value> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))?;
    Ok(map
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect())
}
