//! One row of the `objects` table as both backends store it (text columns,
//! JSON as text), decoded into an [`Object`] in one place.

use crate::{parse_json, parse_string_map, StoreError, Stored};
use drey_model::{Kind, Object, ObjectKey, ObjectMeta, Timestamp};
use uuid::Uuid;

/// The columns [`ObjectRow`] reads, in the order of its fields.
pub(crate) const COLUMNS: &str = "org, kind, scope, name, uid, resource_version, generation, \
                                  spec_version, created_at, updated_at, labels, annotations, \
                                  spec, status";

/// The stored columns of one object, before decoding.
#[derive(sqlx::FromRow)]
pub(crate) struct ObjectRow {
    org: String,
    kind: String,
    scope: String,
    name: String,
    uid: String,
    resource_version: i64,
    generation: i64,
    spec_version: i64,
    created_at: String,
    updated_at: String,
    labels: String,
    annotations: String,
    spec: String,
    status: String,
}

impl ObjectRow {
    /// Decodes the row; a value the store could not have written is `Corrupt`.
    pub(crate) fn decode(self) -> Result<Stored, StoreError> {
        let kind = Kind::from_storage_id(&self.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown kind '{}'", self.kind)))?;
        let time = |t: &str| {
            Timestamp::parse(t).ok_or_else(|| StoreError::Corrupt(format!("bad timestamp '{t}'")))
        };
        let object = Object {
            meta: ObjectMeta {
                name: self.name.clone(),
                uid: Uuid::parse_str(&self.uid).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                resource_version: self.resource_version,
                generation: self.generation,
                creation_timestamp: time(&self.created_at)?,
                update_timestamp: time(&self.updated_at)?,
                labels: parse_string_map("labels", &self.labels)?,
                annotations: parse_string_map("annotations", &self.annotations)?,
            },
            key: ObjectKey {
                org: self.org,
                kind,
                scope: self.scope,
                name: self.name,
            },
            spec: parse_json("spec", &self.spec)?,
            status: parse_json("status", &self.status)?,
        };
        Ok(Stored {
            object,
            spec_version: self.spec_version,
        })
    }
}
