//! The one transport-free error of the domain. Each dialect maps it to its own
//! status code and body in `drey-api`; nothing below the API knows HTTP.

use crate::object::Kind;

/// Result alias for domain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request itself is malformed (syntax, types, paging parameters).
    #[error("{0}")]
    BadRequest(String),
    /// The request is well formed but a field's value is not acceptable.
    #[error("{field}: {message}")]
    Invalid {
        /// Dotted path of the offending field, e.g. `spec.job.upgradeMode`.
        field: String,
        /// Why the value is refused.
        message: String,
    },
    /// The object (or its parent) does not exist.
    #[error("{kind} '{name}' not found")]
    NotFound {
        /// Kind of the missing object.
        kind: Kind,
        /// Name (or scoped path) of the missing object.
        name: String,
    },
    /// An object with that name exists already.
    #[error("{kind} '{name}' already exists")]
    AlreadyExists {
        /// Kind of the existing object.
        kind: Kind,
        /// Its name.
        name: String,
    },
    /// The write would take an organization or environment past one of its
    /// limits (see [`crate::quota`]).
    #[error("quota exceeded: {message}")]
    QuotaExceeded {
        /// The limit passed: `clusters`, `taskSlots`, `memoryMb` or `cpu`.
        limit: &'static str,
        /// Whose limit, how much is used and how much more was asked for.
        message: String,
    },
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The write conflicts with the current state (stale version, object in use).
    #[error("{0}")]
    Conflict(String),
    /// The request body is larger than the configured limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Something outside drey (a Flink cluster, the database) does not answer.
    #[error("{0}")]
    Unavailable(String),
    /// What was asked for existed once and is gone for good (a statement's
    /// results after the SQL engine restarted).
    #[error("{0}")]
    Gone(String),
    /// A documented operation drey does not serve (VVP's 501).
    #[error("{0}")]
    NotImplemented(String),
    /// A bug or an unexpected state; the message is safe to show, details go to the log.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(kind: Kind, name: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            name: name.into(),
        }
    }
}
