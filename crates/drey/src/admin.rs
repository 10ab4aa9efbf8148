//! `drey admin backup|restore`: an online copy of the embedded SQLite store
//! and its restore into a data dir no server is using. PostgreSQL stores are
//! backed up with PostgreSQL's own tools (docs/backup.md).

use crate::server::lock_data_dir;
use crate::settings::DatabaseUrl;
use anyhow::{bail, Context};
use drey_store::{sqlite_backup, Sealer};
use std::path::Path;

fn refuse_postgres(database_url: Option<&DatabaseUrl>) -> anyhow::Result<()> {
    if database_url.is_some() {
        bail!(
            "this server keeps its state in PostgreSQL: back it up with pg_dump and restore \
             it with pg_restore (docs/backup.md); drey admin backup|restore is for the \
             embedded SQLite store"
        );
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// `drey admin backup FILE`: a consistent copy of `<data_dir>/drey.db`, taken
/// while the server runs. The secret key is not in it.
pub fn backup(
    data_dir: &Path,
    database_url: Option<&DatabaseUrl>,
    file: &Path,
) -> anyhow::Result<()> {
    refuse_postgres(database_url)?;
    let db = data_dir.join("drey.db");
    let summary = runtime()?
        .block_on(sqlite_backup::backup(&db, file))
        .with_context(|| format!("cannot back up {}", db.display()))?;
    eprintln!(
        "drey: backed up {} objects ({} with sealed secret data, {} bytes) to {}; \
         the secrets need this data dir's secret.key (or --secret-key) to be restored",
        summary.objects,
        summary.sealed,
        summary.bytes,
        file.display()
    );
    Ok(())
}

/// `drey admin restore FILE`: replaces the store of `data_dir` with a backup.
/// Refuses while a server uses the data dir, and when the backup's secrets
/// were sealed with another key than the one the server will use.
pub fn restore(
    data_dir: &Path,
    database_url: Option<&DatabaseUrl>,
    secret_key: Option<&str>,
    file: &Path,
) -> anyhow::Result<()> {
    refuse_postgres(database_url)?;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let _lock = lock_data_dir(data_dir).context("stop the server before restoring")?;
    let sealer = match secret_key {
        Some(key) => Sealer::from_base64(key).context("invalid --secret-key")?,
        None => {
            let path = data_dir.join("secret.key");
            if !path.is_file() {
                bail!(
                    "{} has no secret.key: copy the key of the server the backup was taken \
                     from into it, or pass --secret-key",
                    data_dir.display()
                );
            }
            Sealer::load_or_create(&path).context("cannot load the secret key file")?
        }
    };
    let db = data_dir.join("drey.db");
    let restored = runtime()?
        .block_on(sqlite_backup::restore(file, &db, &sealer))
        .with_context(|| format!("cannot restore {}", file.display()))?;
    eprintln!(
        "drey: restored {} objects from {} into {}",
        restored.summary.objects,
        file.display(),
        db.display()
    );
    if let Some(previous) = restored.previous {
        eprintln!(
            "drey: the store it replaced is kept as {}",
            previous.display()
        );
    }
    Ok(())
}
