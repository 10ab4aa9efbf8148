//! Which store a server keeps its state in: PostgreSQL when `--database-url`
//! names one, else SQLite in the data dir. Everything above sees only
//! `Arc<dyn Store>`.

use crate::settings::DatabaseUrl;
use anyhow::Context;
use drey_store::{PostgresStore, Sealer, SqliteStore, Store};
use std::path::Path;
use std::sync::Arc;

/// An open store of either backend.
pub enum Database {
    /// `<data-dir>/drey.db`.
    Sqlite(SqliteStore),
    /// A PostgreSQL database several replicas may share.
    Postgres(PostgresStore),
}

impl Database {
    /// Opens the store `url` names, or the SQLite file in `data_dir`, and
    /// migrates it.
    pub async fn open(
        url: Option<&DatabaseUrl>,
        data_dir: &Path,
        sealer: Sealer,
    ) -> anyhow::Result<Self> {
        match url {
            Some(url) => {
                let store = PostgresStore::connect(url.as_str(), sealer)
                    .await
                    .context("cannot open the PostgreSQL store (--database-url)")?;
                Ok(Database::Postgres(store))
            }
            None => {
                let db = data_dir.join("drey.db");
                let store = SqliteStore::open(&db, sealer)
                    .await
                    .with_context(|| format!("cannot open the store at {}", db.display()))?;
                Ok(Database::Sqlite(store))
            }
        }
    }

    /// The store, for the core.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Database::Sqlite(s) => Arc::new(s.clone()),
            Database::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Where the state is, for the log (no password).
    pub fn describe(&self, data_dir: &Path) -> String {
        match self {
            Database::Sqlite(_) => format!("sqlite {}", data_dir.join("drey.db").display()),
            Database::Postgres(s) => format!("postgres {}", s.location()),
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            Database::Sqlite(s) => s.close().await,
            Database::Postgres(s) => s.close().await,
        }
    }
}
