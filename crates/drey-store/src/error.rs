//! The storage layer's errors. They carry drey's own words, never a driver's
//! types, so nothing above the store depends on which database runs.

use drey_model::ObjectKey;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object to update or delete does not exist.
    #[error("{} '{}' not found", .0.kind, .0.name)]
    NotFound(ObjectKey),
    /// A create found an object with that key.
    #[error("{} '{}' already exists", .0.kind, .0.name)]
    AlreadyExists(ObjectKey),
    /// A user wrote the object since the version the writer read.
    #[error("{} '{}' was changed concurrently: expected resourceVersion {expected}, found {actual}", .key.kind, .key.name)]
    VersionConflict {
        /// The object.
        key: ObjectKey,
        /// What the writer expected.
        expected: i64,
        /// What is stored.
        actual: i64,
    },
    /// A precondition of the write failed: a parent is missing.
    #[error("{} '{}' not found", .0.kind, .0.name)]
    MissingParent(ObjectKey),
    /// A delete was refused because other objects depend on this one.
    #[error("{0}")]
    Blocked(String),
    /// A reconciler write carried a fence that no longer holds: this replica
    /// lost the reconciler lease and must not act.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The database is busy or unreachable; retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// Migrations failed.
    #[error("schema migration failed: {0}")]
    Migrate(String),
    /// A stored row could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Sealing or unsealing secret data failed.
    #[error("secret encryption failed: {0}")]
    Crypto(String),
    /// Reading or writing a file (key file, data dir) failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e.to_string())
    }
}
