//! Backup and restore of the embedded SQLite store. A backup is SQLite's
//! `VACUUM INTO`: one read transaction, so the copy is a consistent snapshot
//! taken while a server keeps writing (a file copy of a live WAL database is
//! not: the newest commits sit in `-wal`, and a copy taken mid-checkpoint is
//! torn). A restore checks the file before it replaces anything, keeps the
//! store it replaces, and never leaves the old WAL beside the new file
//! (SQLite would replay it into the restored database).

use crate::{Sealer, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a backup or restore copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    /// Objects in the copy.
    pub objects: u64,
    /// Objects with sealed secret data.
    pub sealed: u64,
    /// Size of the copy in bytes.
    pub bytes: u64,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Io { context, source }
}

async fn connect(path: &Path, read_only: bool) -> Result<SqliteConnection, StoreError> {
    let mut options = SqliteConnectOptions::new()
        .filename(path)
        .busy_timeout(Duration::from_secs(30))
        .read_only(read_only);
    if !read_only {
        options = options.journal_mode(SqliteJournalMode::Delete);
    }
    Ok(options.connect().await?)
}

/// The file `tmp` in the directory of `path`, for a write-then-rename.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("cannot sync {}", dir.display())))
}

/// Writes a consistent copy of the store at `db` to `out` (replacing `out`
/// atomically), while servers may be using the store.
pub async fn backup(db: &Path, out: &Path) -> Result<BackupSummary, StoreError> {
    if !db.is_file() {
        return Err(StoreError::Io {
            context: format!("no store at {}", db.display()),
            source: std::io::ErrorKind::NotFound.into(),
        });
    }
    let tmp = sibling(out, ".partial");
    remove_if_present(&tmp)?;
    let mut source = connect(db, true).await?;
    let copied = sqlx::query("VACUUM INTO ?")
        .bind(tmp.to_string_lossy().into_owned())
        .execute(&mut source)
        .await;
    source.close().await?;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    let summary = match check(&tmp, None).await {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("cannot sync {}", tmp.display())))?;
    std::fs::rename(&tmp, out).map_err(io(format!("cannot write {}", out.display())))?;
    sync_dir(out)?;
    Ok(summary)
}

/// Checks that `file` is an intact drey store (SQLite's integrity check,
/// drey's tables) and, given the `sealer` the restored server will use, that
/// it opens the sealed secret data.
pub async fn check(file: &Path, sealer: Option<&Sealer>) -> Result<BackupSummary, StoreError> {
    let bytes = std::fs::metadata(file)
        .map_err(io(format!("cannot read {}", file.display())))?
        .len();
    let not_a_store =
        |why: String| StoreError::Corrupt(format!("{} is not a drey store: {why}", file.display()));
    let mut conn = connect(file, true)
        .await
        .map_err(|e| not_a_store(e.to_string()))?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| not_a_store(e.to_string()))?;
    if integrity != "ok" {
        return Err(not_a_store(format!("integrity check says {integrity}")));
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('objects', 'refs', '_sqlx_migrations')",
    )
    .fetch_all(&mut conn)
    .await?;
    if tables.len() != 3 {
        return Err(not_a_store(
            "it has no objects, refs or migrations table".into(),
        ));
    }
    let objects: i64 = sqlx::query_scalar("SELECT count(*) FROM objects")
        .fetch_one(&mut conn)
        .await?;
    let sealed: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT uid, sealed FROM objects WHERE sealed IS NOT NULL")
            .fetch_all(&mut conn)
            .await?;
    conn.close().await?;
    if let Some(sealer) = sealer {
        for (uid, data) in &sealed {
            sealer.unseal(uid, data).map_err(|_| {
                StoreError::Crypto(format!(
                    "{} holds secret data sealed with another key: restore it with the secret key \
                     of the server it was taken from (its data dir's secret.key or --secret-key)",
                    file.display()
                ))
            })?;
        }
    }
    Ok(BackupSummary {
        objects: objects.max(0) as u64,
        sealed: sealed.len() as u64,
        bytes,
    })
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Io {
            context: format!("cannot remove {}", path.display()),
            source: e,
        }),
    }
}

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The restored store.
    pub summary: BackupSummary,
    /// Where the store it replaced was kept, if there was one.
    pub previous: Option<PathBuf>,
}

/// Replaces the store at `db` with the backup `file`. The caller makes sure
/// no server uses `db` (it holds the data dir's lock). The replaced store is
/// kept, as a consistent copy, beside it.
pub async fn restore(file: &Path, db: &Path, sealer: &Sealer) -> Result<Restored, StoreError> {
    let summary = check(file, Some(sealer)).await?;
    let previous = if db.is_file() {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let kept = sibling(db, &format!(".before-restore-{stamp}"));
        // Through SQLite, so commits still in the old WAL are kept too.
        backup(db, &kept).await?;
        Some(kept)
    } else {
        None
    };
    let tmp = sibling(db, ".restoring");
    remove_if_present(&tmp)?;
    std::fs::copy(file, &tmp).map_err(io(format!(
        "cannot copy {} to {}",
        file.display(),
        tmp.display()
    )))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("cannot sync {}", tmp.display())))?;
    for stale in [sibling(db, "-wal"), sibling(db, "-shm")] {
        remove_if_present(&stale)?;
    }
    std::fs::rename(&tmp, db).map_err(io(format!("cannot write {}", db.display())))?;
    sync_dir(db)?;
    Ok(Restored { summary, previous })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SecretData, SqliteStore, Store, Write, WriteMode};
    use drey_model::{Kind, ObjectKey};
    use serde_json::json;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::global("default", Kind::Environment, name)
    }

    #[tokio::test]
    async fn backup_then_restore_brings_back_objects_and_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("drey.db");
        let sealer = Sealer::from_key(&[7; 32]);
        let store = SqliteStore::open(&db, sealer.clone()).await.unwrap();
        let mut w = Write::new(key("a"), WriteMode::Create, json!({"n": 1}));
        w.secret = Some(SecretData([("k".to_owned(), "v".to_owned())].into()));
        store.write(w).await.unwrap();
        let out = dir.path().join("backup.db");
        let summary = backup(&db, &out).await.unwrap();
        assert_eq!((summary.objects, summary.sealed), (1, 1));

        // Written after the backup: gone after the restore.
        store
            .write(Write::new(key("b"), WriteMode::Create, json!({})))
            .await
            .unwrap();
        store.close().await;

        let restored = restore(&out, &db, &sealer).await.unwrap();
        assert_eq!(restored.summary.objects, 1);
        let kept = restored.previous.unwrap();
        assert_eq!(check(&kept, None).await.unwrap().objects, 2);

        let store = SqliteStore::open(&db, sealer).await.unwrap();
        assert!(store.get(&key("a")).await.unwrap().is_some());
        assert!(store.get(&key("b")).await.unwrap().is_none());
        let data = store.secret_data(&key("a")).await.unwrap().unwrap();
        assert_eq!(data.0.get("k").map(String::as_str), Some("v"));
    }

    #[tokio::test]
    async fn restore_refuses_a_file_that_is_not_a_store_or_another_key() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("drey.db");
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"not sqlite at all, just some bytes").unwrap();
        let sealer = Sealer::from_key(&[1; 32]);
        let err = restore(&junk, &db, &sealer).await.unwrap_err();
        assert!(err.to_string().contains("is not a drey store"), "{err}");
        assert!(!db.exists(), "nothing replaced");

        let other = dir.path().join("other.db");
        let store = SqliteStore::open(&other, Sealer::from_key(&[2; 32]))
            .await
            .unwrap();
        let mut w = Write::new(key("s"), WriteMode::Create, json!({}));
        w.secret = Some(SecretData([("k".to_owned(), "v".to_owned())].into()));
        store.write(w).await.unwrap();
        store.close().await;
        let err = restore(&other, &db, &sealer).await.unwrap_err();
        assert!(err.to_string().contains("sealed with another key"), "{err}");
        assert!(!db.exists(), "nothing replaced");
    }
}
