//! The one shape every stored object has: metadata, a user-owned `spec` and a
//! system-owned `status`. Dialects render it; the store keeps it.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

/// The organization used when authentication is off.
pub const DEFAULT_ORG: &str = "default";

/// What an object is. The scope it lives in follows from the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// A scope for applications, statements and pools, with their defaults.
    Environment,
    /// A desired Flink job (CMF FlinkApplication, VVP Deployment).
    Application,
    /// One deployed run of an application.
    Instance,
    /// Something that happened to an application.
    Event,
    /// Sensitive connection data, encrypted at rest.
    Secret,
    /// Makes a secret visible in an environment under a connection secret id.
    SecretMapping,
    /// A Flink cluster that runs statements.
    ComputePool,
    /// A Flink SQL statement.
    Statement,
    /// A Kafka catalog that statements can reference.
    Catalog,
    /// A database of a Kafka catalog (scope: the catalog's name): a Kafka
    /// cluster statements see as a database of that catalog.
    KafkaDatabase,
    /// A savepoint: of an application (scope `<env>/<app>`) or detached (global).
    Savepoint,
    /// An API key (root key, service-account key, user token); only its hash is stored.
    ApiKey,
    /// A table, view, function or database a statement created in an
    /// environment's SQL catalog: the DDL that recreates it.
    SqlObject,
    /// A document a dialect keeps in an environment with no runtime meaning
    /// of its own (VVP deployment targets, secret values, defaults); the
    /// name is `<plural>/<name>`.
    Document,
    /// A tenant (kept in the server's own namespace).
    Organization,
    /// A non-human identity of an organization; its keys are API keys.
    ServiceAccount,
    /// A human identity of an organization; its tokens are API keys.
    User,
    /// A place Flink clusters run that an organization registered (LakeSail's
    /// clusters); its credentials are sealed.
    Cluster,
    /// An alert drey raised about an application, statement or cluster
    /// (firing or resolved); the name is the alert's fingerprint.
    Alert,
    /// One alert notification for one receiver, stored before it is sent
    /// and kept with its outcome.
    AlertDelivery,
    /// A Flink cluster drey started as processes on a host (kept in the
    /// server's own namespace): where it runs, its ports and pids; the TLS
    /// identity drey speaks to it with is sealed.
    LocalCluster,
}

/// Where objects of a kind live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeKind {
    /// One namespace per organization.
    Global,
    /// Inside an environment: scope is the environment's name.
    Environment,
    /// Inside an application: scope is `<environment>/<application>`.
    Application,
    /// Inside a catalog: scope is the catalog's name.
    Catalog,
}

impl Kind {
    /// Every kind, for migrations and tests.
    pub const ALL: [Kind; 21] = [
        Kind::Environment,
        Kind::Application,
        Kind::Instance,
        Kind::Event,
        Kind::Secret,
        Kind::SecretMapping,
        Kind::ComputePool,
        Kind::Statement,
        Kind::Catalog,
        Kind::Savepoint,
        Kind::ApiKey,
        Kind::SqlObject,
        Kind::Document,
        Kind::Organization,
        Kind::ServiceAccount,
        Kind::User,
        Kind::Cluster,
        Kind::Alert,
        Kind::AlertDelivery,
        Kind::KafkaDatabase,
        Kind::LocalCluster,
    ];

    /// The stable identifier used in storage. Never change one.
    pub fn storage_id(self) -> &'static str {
        match self {
            Kind::Environment => "environment",
            Kind::Application => "application",
            Kind::Instance => "instance",
            Kind::Event => "event",
            Kind::Secret => "secret",
            Kind::SecretMapping => "secret-mapping",
            Kind::ComputePool => "compute-pool",
            Kind::Statement => "statement",
            Kind::Catalog => "catalog",
            Kind::Savepoint => "savepoint",
            Kind::ApiKey => "api-key",
            Kind::SqlObject => "sql-object",
            Kind::Document => "document",
            Kind::Organization => "organization",
            Kind::ServiceAccount => "service-account",
            Kind::User => "user",
            Kind::Cluster => "cluster",
            Kind::Alert => "alert",
            Kind::AlertDelivery => "alert-delivery",
            Kind::KafkaDatabase => "kafka-database",
            Kind::LocalCluster => "local-cluster",
        }
    }

    /// Inverse of [`Kind::storage_id`].
    pub fn from_storage_id(id: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.storage_id() == id)
    }

    /// The scope objects of this kind live in.
    pub fn scope_kind(self) -> ScopeKind {
        match self {
            Kind::Environment
            | Kind::Secret
            | Kind::Catalog
            | Kind::ApiKey
            | Kind::Organization
            | Kind::ServiceAccount
            | Kind::User
            | Kind::Cluster
            | Kind::Alert
            | Kind::AlertDelivery
            | Kind::LocalCluster => ScopeKind::Global,
            Kind::Application
            | Kind::SecretMapping
            | Kind::ComputePool
            | Kind::Statement
            | Kind::SqlObject
            | Kind::Document => ScopeKind::Environment,
            Kind::Instance | Kind::Event | Kind::Savepoint => ScopeKind::Application,
            Kind::KafkaDatabase => ScopeKind::Catalog,
        }
    }
}

impl fmt::Display for Kind {
    /// The user-facing name, as CMF spells it in its messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Environment => "Environment",
            Kind::Application => "FlinkApplication",
            Kind::Instance => "FlinkApplicationInstance",
            Kind::Event => "FlinkApplicationEvent",
            Kind::Secret => "Secret",
            Kind::SecretMapping => "EnvironmentSecretMapping",
            Kind::ComputePool => "ComputePool",
            Kind::Statement => "Statement",
            Kind::Catalog => "KafkaCatalog",
            Kind::Savepoint => "Savepoint",
            Kind::ApiKey => "ApiKey",
            Kind::SqlObject => "SqlObject",
            Kind::Document => "Document",
            Kind::Organization => "Organization",
            Kind::ServiceAccount => "ServiceAccount",
            Kind::User => "User",
            Kind::Cluster => "Cluster",
            Kind::Alert => "Alert",
            Kind::AlertDelivery => "AlertDelivery",
            Kind::KafkaDatabase => "KafkaDatabase",
            Kind::LocalCluster => "LocalCluster",
        })
    }
}

/// Identifies one object: organization, kind, scope and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The owning organization (tenant).
    pub org: String,
    /// The object's kind.
    pub kind: Kind,
    /// `""` for global kinds, the environment name, or `<env>/<app>`.
    pub scope: String,
    /// The object's name, unique within (org, kind, scope).
    pub name: String,
}

impl ObjectKey {
    /// A key for a global object.
    pub fn global(org: &str, kind: Kind, name: &str) -> Self {
        ObjectKey {
            org: org.to_owned(),
            kind,
            scope: String::new(),
            name: name.to_owned(),
        }
    }

    /// A key for an object inside an environment.
    pub fn in_env(org: &str, kind: Kind, env: &str, name: &str) -> Self {
        ObjectKey {
            org: org.to_owned(),
            kind,
            scope: env.to_owned(),
            name: name.to_owned(),
        }
    }

    /// A key for an object inside an application.
    pub fn in_app(org: &str, kind: Kind, env: &str, app: &str, name: &str) -> Self {
        ObjectKey {
            org: org.to_owned(),
            kind,
            scope: app_scope(env, app),
            name: name.to_owned(),
        }
    }
}

/// The scope string of an application's children.
pub fn app_scope(env: &str, app: &str) -> String {
    format!("{env}/{app}")
}

/// The scope of a statement's children (its savepoints): `<env>/statement:<stmt>`.
/// The `:` keeps it apart from every application's scope.
pub fn statement_scope(env: &str, statement: &str) -> String {
    format!("{env}/statement:{statement}")
}

/// Metadata every object carries.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectMeta {
    /// Unique within (org, kind, scope).
    pub name: String,
    /// Globally unique, never reused.
    pub uid: Uuid,
    /// Increases on every write, user or status; used for optimistic concurrency.
    pub resource_version: i64,
    /// Kubernetes `metadata.generation`: 1 on create, +1 on every user write
    /// that changes the spec; status writes never change it.
    pub generation: i64,
    /// When the object was created.
    pub creation_timestamp: Timestamp,
    /// When the object was last written.
    pub update_timestamp: Timestamp,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// User annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A stored object.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// Its identity.
    pub key: ObjectKey,
    /// Its metadata.
    pub meta: ObjectMeta,
    /// What the user asked for, kept as given (unknown fields included).
    pub spec: Value,
    /// What the system observed; `Value::Null` until something is recorded.
    pub status: Value,
}
